//! The record one probe hit sends to user space through the ring buffer.

use crate::limits::{JOIN_ARGS, JOIN_STR_LEN, MAX_STRINGS, MAX_VALUES, STR_LEN};

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

/// The strings join() read: element i of the array in `[i]`, each
/// NUL-terminated; an empty one ends the list. In the kernel it follows the
/// event in memory, and an event of a slot that joins is sent with it.
pub type JoinArea = [[u8; JOIN_STR_LEN]; JOIN_ARGS];

/// Bytes of a join area.
pub const JOIN_BYTES: usize = JOIN_ARGS * JOIN_STR_LEN;

impl Event {
    /// The bytes of an event that uses `values` integers and `strings`
    /// strings: the record is sent cut there, so that a small event takes a
    /// small share of the ring buffer (a whole one is 264 bytes).
    pub const fn len_for(values: usize, strings: usize) -> u32 {
        let ints = 8 + 8 * values;
        let len = if strings == 0 { ints } else { 8 + 8 * MAX_VALUES + STR_LEN * strings };
        len as u32
    }

    /// The bytes of an event sent with its join area.
    pub const JOINED_LEN: u32 = (size_of::<Event>() + JOIN_BYTES) as u32;
}
