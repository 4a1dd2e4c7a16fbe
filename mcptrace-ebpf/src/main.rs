//! Generic, data-driven eBPF programs. Nothing here knows a user program: each
//! probe slot reads its configuration from the `SLOTS` map, captures what it
//! says, filters, updates maps and emits an `Event` for user space.
//!
//! One file per program kind; `slot` holds the logic they share.
#![no_std]
#![no_main]
// For `asm!`: the one atomic exchange in `level` (aya-ebpf does the same).
#![feature(asm_experimental_arch)]

mod aggregate;
mod fentry;
mod kprobe;
mod level;
mod maps;
mod perf_event;
mod raw_tracepoint;
mod slot;
mod steps;
mod tier;
mod tracepoint;
mod uprobe;
mod vm;

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// Defines one program copy per slot of a kind: `$attr` is the aya macro,
/// `$ctx` the context type, and each `name = n` becomes slot `first + n`.
macro_rules! slots {
    ($attr:ident, $ctx:ty, $kind:expr, [$($name:ident = $n:literal),* $(,)?]) => {$(
        #[aya_ebpf::macros::$attr]
        pub fn $name(ctx: $ctx) -> u32 {
            use aya_ebpf::EbpfContext as _;
            let first = mcptrace_common::slot::first_slot($kind);
            crate::slot::run(first + $n, ctx.as_ptr() as *const u8);
            0
        }
    )*};
}
pub(crate) use slots;
