//! Per-probe configuration, written by user space into the `SLOTS` array map
//! before the slot's program is attached.

use crate::limits::MAX_CAPTURES;

/// Where a captured value comes from.
pub mod source {
    pub const NONE: u32 = 0;
    pub const PID: u32 = 1;
    pub const TID: u32 = 2;
    pub const UID: u32 = 3;
    pub const GID: u32 = 4;
    pub const CPU: u32 = 5;
    pub const NSECS: u32 = 6;
    pub const CGROUP: u32 = 7;
    /// `comm` into a string slot.
    pub const COMM: u32 = 8;
    /// An integer field of the tracepoint record at `offset`, `size` bytes.
    pub const FIELD: u32 = 9;
    /// A NUL-terminated user string whose pointer is the field at `offset`.
    pub const FIELD_USER_STR: u32 = 10;
    /// A NUL-terminated kernel string whose pointer is the field at `offset`.
    pub const FIELD_KERNEL_STR: u32 = 11;
}

/// `Capture::flags` bits.
pub mod flags {
    /// Sign-extend an integer field narrower than 64 bits.
    pub const SIGNED: u16 = 1;
}

/// One value to capture per hit.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capture {
    /// One of [`source`].
    pub source: u32,
    /// Byte offset in the tracepoint record, for field sources.
    pub offset: u16,
    /// Field width in bytes (1, 2, 4 or 8) for integer fields; string bytes
    /// to read (at most `STR_LEN`) for string sources.
    pub size: u16,
    /// [`flags`] bits.
    pub flags: u16,
    /// Index into `Event::values` or, for string sources, `Event::strings`.
    pub dest: u16,
}

/// Configuration of one probe slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotConfig {
    /// Captures in use, at most `MAX_CAPTURES`.
    pub ncaptures: u32,
    /// Bytes of the tracepoint record to copy before extracting fields.
    pub record_len: u32,
    pub captures: [Capture; MAX_CAPTURES],
}

impl Default for SlotConfig {
    fn default() -> Self {
        Self { ncaptures: 0, record_len: 0, captures: [Capture::default(); MAX_CAPTURES] }
    }
}

#[cfg(feature = "user")]
unsafe impl aya::Pod for SlotConfig {}
