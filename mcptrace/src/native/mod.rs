//! The native backend: prebuilt eBPF programs from `mcptrace-ebpf`, configured
//! per probe slot, with events read from a ring buffer.

mod error;
pub mod eval;
pub mod ir;
mod keyed_maps;
pub mod maps;
mod object;
pub mod regs;
pub mod run;
mod session;
pub mod slot_builder;
pub mod transport;

pub use error::NativeError;
pub use keyed_maps::KeyedMaps;
pub use session::{AttachPoint, Sample, Session, Software, UprobeLocation};
pub use transport::Transport;
