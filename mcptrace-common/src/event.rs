//! The record one probe hit sends to user space through the ring buffer.

use crate::limits::{MAX_STRINGS, MAX_VALUES, STR_LEN};

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Event {
    /// The slot whose program produced this record.
    pub slot: u32,
    pub _pad: u32,
    pub values: [u64; MAX_VALUES],
    /// NUL-terminated unless the string filled the buffer.
    pub strings: [[u8; STR_LEN]; MAX_STRINGS],
}

#[cfg(feature = "user")]
unsafe impl aya::Pod for Event {}
