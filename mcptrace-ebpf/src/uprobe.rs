//! Uprobe and uretprobe slots. The context is the task's `pt_regs`: arguments
//! and the return value are fields of its copy.

use aya_ebpf::programs::{ProbeContext, RetProbeContext};
use mcptrace_common::slot::kind;

crate::slots!(uprobe, ProbeContext, kind::UPROBE, [
    up_0 = 0, up_1 = 1, up_2 = 2, up_3 = 3, up_4 = 4, up_5 = 5, up_6 = 6, up_7 = 7,
    up_8 = 8, up_9 = 9, up_10 = 10, up_11 = 11, up_12 = 12, up_13 = 13, up_14 = 14, up_15 = 15,
]);

crate::slots!(uretprobe, RetProbeContext, kind::URETPROBE, [
    urp_0 = 0, urp_1 = 1, urp_2 = 2, urp_3 = 3, urp_4 = 4, urp_5 = 5, urp_6 = 6, urp_7 = 7,
    urp_8 = 8, urp_9 = 9, urp_10 = 10, urp_11 = 11, urp_12 = 12, urp_13 = 13, urp_14 = 14,
    urp_15 = 15,
]);
