//! Kprobe and kretprobe slots. The context is the kernel's `pt_regs`, laid
//! out as for uprobes, so captures read arguments and return values alike.

use aya_ebpf::programs::{ProbeContext, RetProbeContext};
use mcptrace_common::slot::kind;

crate::slots!(kprobe, ProbeContext, kind::KPROBE, [
    kp_0 = 0, kp_1 = 1, kp_2 = 2, kp_3 = 3, kp_4 = 4, kp_5 = 5, kp_6 = 6, kp_7 = 7,
    kp_8 = 8, kp_9 = 9, kp_10 = 10, kp_11 = 11, kp_12 = 12, kp_13 = 13, kp_14 = 14, kp_15 = 15,
]);

crate::slots!(kretprobe, RetProbeContext, kind::KRETPROBE, [
    krp_0 = 0, krp_1 = 1, krp_2 = 2, krp_3 = 3, krp_4 = 4, krp_5 = 5, krp_6 = 6, krp_7 = 7,
    krp_8 = 8, krp_9 = 9, krp_10 = 10, krp_11 = 11, krp_12 = 12, krp_13 = 13, krp_14 = 14,
    krp_15 = 15,
]);
