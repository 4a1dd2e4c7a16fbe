//! Types shared by the eBPF programs and user space.
//!
//! Everything here is `#[repr(C)]` plain old data with one definition on both
//! sides of the map / ring-buffer boundary.
#![no_std]

pub mod event;
pub mod limits;
pub mod map;
pub mod slot;

pub use event::{Event, JoinArea};
pub use map::{Agg, MapKey, MediumKey, NarrowKey, SmallKey, TierKey, tier_of};
pub use slot::{Capture, SlotConfig};
