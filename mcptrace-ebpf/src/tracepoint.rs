//! Tracepoint slots: one program copy per slot, so a record needs no cookie
//! to say which probe fired.

use aya_ebpf::{macros::tracepoint, programs::TracePointContext, EbpfContext};

use crate::capture;

macro_rules! tracepoint_slots {
    ($($name:ident = $slot:expr),* $(,)?) => {$(
        #[tracepoint]
        pub fn $name(ctx: TracePointContext) -> u32 {
            capture::run($slot, ctx.as_ptr() as *const u8);
            0
        }
    )*};
}

tracepoint_slots!(
    tp_0 = 0, tp_1 = 1, tp_2 = 2, tp_3 = 3, tp_4 = 4, tp_5 = 5, tp_6 = 6, tp_7 = 7,
    tp_8 = 8, tp_9 = 9, tp_10 = 10, tp_11 = 11, tp_12 = 12, tp_13 = 13, tp_14 = 14, tp_15 = 15,
);
