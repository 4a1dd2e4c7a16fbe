//! Fixed sizes of the prebuilt programs. Changing one changes the object's
//! layout, so user space and kernel always read them from here.

/// Probe slots per program kind (copies of each generic program).
pub const SLOTS_PER_KIND: u32 = 16;
/// Total slots in the configuration map, across all kinds.
pub const MAX_SLOTS: u32 = SLOTS_PER_KIND * 4;
/// Integer values one probe hit can capture.
pub const MAX_VALUES: usize = 8;
/// Strings one probe hit can capture (comm counts as one).
pub const MAX_STRINGS: usize = 3;
/// Bytes per captured string, NUL included: bpftrace's default `strlen`.
pub const STR_LEN: usize = 64;
/// Captures (values and strings) per slot.
pub const MAX_CAPTURES: usize = MAX_VALUES + MAX_STRINGS;
/// Bytes of a tracepoint record copied out in one read; fields must lie below.
pub const MAX_RECORD: usize = 256;
/// Ring buffer size in bytes (a power of two, a multiple of the page size).
pub const RING_BYTES: u32 = 1 << 22;
