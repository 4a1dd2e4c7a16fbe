//! The native backend: prebuilt eBPF programs from `mcptrace-ebpf`, configured
//! per probe slot, with events read from a ring buffer.

mod error;
mod object;
mod session;

pub use error::NativeError;
pub use session::Session;
