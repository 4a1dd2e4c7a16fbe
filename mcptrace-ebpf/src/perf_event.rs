//! Perf event slots (profile, interval, software events). The context the
//! program sees is rewritten by the verifier and cannot be copied whole, so
//! these slots capture builtins only (user space sets no context copy).

use aya_ebpf::programs::PerfEventContext;
use mcptrace_common::slot::kind;

crate::slots!(perf_event, PerfEventContext, kind::PERF_EVENT, [
    pe_0 = 0, pe_1 = 1, pe_2 = 2, pe_3 = 3, pe_4 = 4, pe_5 = 5, pe_6 = 6, pe_7 = 7,
    pe_8 = 8, pe_9 = 9, pe_10 = 10, pe_11 = 11, pe_12 = 12, pe_13 = 13, pe_14 = 14, pe_15 = 15,
]);
