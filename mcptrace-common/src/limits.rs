//! Fixed sizes of the prebuilt programs. Changing one changes the object's
//! layout, so user space and kernel always read them from here.

/// Probe slots per program kind (copies of each generic program).
pub const SLOTS_PER_KIND: u32 = 16;
/// Program kinds with slots: tracepoint, raw tracepoint, perf event, uprobe,
/// uretprobe (see `slot::kind`).
pub const KINDS: u32 = 5;
/// Total slots in the configuration map, across all kinds.
pub const MAX_SLOTS: u32 = SLOTS_PER_KIND * KINDS;
/// Integer values one probe hit can capture.
pub const MAX_VALUES: usize = 8;
/// Strings one probe hit can capture (comm counts as one).
pub const MAX_STRINGS: usize = 3;
/// Bytes per captured string, NUL included: bpftrace's default `strlen`.
pub const STR_LEN: usize = 64;
/// Captures (values and strings) per slot.
pub const MAX_CAPTURES: usize = MAX_VALUES + MAX_STRINGS;
/// Bytes of the context copied in one read, and where the copy of the
/// memory that context word `deref_offset` points to begins.
pub const CTX_COPY: usize = 256;
/// Total bytes of the per-hit record copy: context, then one dereference.
pub const MAX_RECORD: usize = 2 * CTX_COPY;
/// Operations of an in-kernel predicate.
pub const MAX_FILTER_OPS: usize = 16;
/// Depth of the predicate's evaluation stack (a power of two).
pub const FILTER_STACK: usize = 8;
/// String constants a predicate can compare against.
pub const MAX_FILTER_STRINGS: usize = 2;
/// Syscall numbers a slot's number set can hold.
pub const MAX_SYSCALL_NR: usize = 512;
/// Ring buffer size in bytes (a power of two, a multiple of the page size).
pub const RING_BYTES: u32 = 1 << 22;
