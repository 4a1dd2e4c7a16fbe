//! The native runtime: loads the prebuilt eBPF programs of `mcptrace-ebpf`,
//! writes each probe's slot configuration (from the IR), attaches, reads
//! events and maps, and runs the user-space part of the program.

mod cat;
mod error;
pub mod eval;
pub mod fentry;
mod keyed_maps;
pub mod map_read;
mod map_write;
mod object;
pub mod run;
mod session;
mod sessions;
mod tracer;
pub mod transport;
mod user_maps;
mod wait;
mod wall_time;

pub use error::NativeError;
pub use keyed_maps::KeyedMaps;
pub use session::Session;
pub use sessions::{AheadStatus, Sessions};
pub use transport::Transport;
