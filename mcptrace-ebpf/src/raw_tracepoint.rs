//! Raw tracepoint slots. The context is the tracepoint's argument array; for
//! `raw_syscalls:*` the first argument points to the syscall's `pt_regs`,
//! which user space asks to be copied too. Detaching a raw tracepoint costs
//! ~0.1 ms against ~70 ms for a perf-event tracepoint, so syscall probes go
//! through here.

use aya_ebpf::programs::RawTracePointContext;
use mcptrace_common::slot::kind;

crate::slots!(raw_tracepoint, RawTracePointContext, kind::RAW_TRACEPOINT, [
    rtp_0 = 0, rtp_1 = 1, rtp_2 = 2, rtp_3 = 3, rtp_4 = 4, rtp_5 = 5, rtp_6 = 6, rtp_7 = 7,
    rtp_8 = 8, rtp_9 = 9, rtp_10 = 10, rtp_11 = 11, rtp_12 = 12, rtp_13 = 13, rtp_14 = 14,
    rtp_15 = 15,
]);
