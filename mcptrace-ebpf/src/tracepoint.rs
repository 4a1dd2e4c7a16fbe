//! Tracepoint slots. The context is the tracepoint's record.

use aya_ebpf::programs::TracePointContext;
use mcptrace_common::slot::kind;

crate::slots!(tracepoint, TracePointContext, kind::TRACEPOINT, [
    tp_0 = 0, tp_1 = 1, tp_2 = 2, tp_3 = 3, tp_4 = 4, tp_5 = 5, tp_6 = 6, tp_7 = 7,
    tp_8 = 8, tp_9 = 9, tp_10 = 10, tp_11 = 11, tp_12 = 12, tp_13 = 13, tp_14 = 14, tp_15 = 15,
]);
