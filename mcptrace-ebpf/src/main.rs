//! Generic, data-driven eBPF programs. Nothing here knows a user program: each
//! probe slot reads its configuration from the `SLOTS` map and captures what it
//! says into an `Event` for user space.
#![no_std]
#![no_main]

mod capture;
mod maps;
mod tracepoint;

#[unsafe(no_mangle)]
#[unsafe(link_section = "license")]
pub static LICENSE: [u8; 4] = *b"GPL\0";

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}
