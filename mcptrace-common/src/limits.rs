//! Fixed sizes of the prebuilt programs. Changing one changes the object's
//! layout, so user space and kernel always read them from here.

/// Probe slots per program kind (copies of each generic program).
pub const SLOTS_PER_KIND: u32 = 16;
/// Program kinds with slots: tracepoint, raw tracepoint, perf event, uprobe,
/// uretprobe, kprobe, kretprobe, fentry, fexit (see `slot::kind`).
pub const KINDS: u32 = 9;
/// Total slots in the configuration map, across all kinds.
pub const MAX_SLOTS: u32 = SLOTS_PER_KIND * KINDS;
/// Integer values one probe hit can capture.
pub const MAX_VALUES: usize = 8;
/// Strings one probe hit can capture (comm counts as one).
pub const MAX_STRINGS: usize = 4;
/// Bytes per captured string, NUL included: bpftrace's default `strlen`.
pub const STR_LEN: usize = 64;
/// join(): array elements read, and bytes kept of each (NUL included), as
/// bpftrace 0.17 reads them (`join_argnum_`, `join_argsize_`), so the same
/// arguments print. Only the events of a slot that joins carry them (see
/// `event::JOIN_BYTES`); the scratch memory of a hit holds them at every
/// level (per-CPU array values may be 32 KiB).
pub const JOIN_ARGS: usize = 16;
pub const JOIN_STR_LEN: usize = 1024;
/// Captures (values and strings) per slot.
pub const MAX_CAPTURES: usize = MAX_VALUES + MAX_STRINGS;
/// The capture table's size: a power of two, so a capture index is masked,
/// not clamped (see the note at the end of this file).
pub const CAPTURE_SLOTS: usize = MAX_CAPTURES.next_power_of_two();
/// Bytes of the context copied in one read, and where the copy of the
/// memory that context word `deref_offset` points to begins.
pub const CTX_COPY: usize = 256;
/// Total bytes of the per-hit record copy: context, then one dereference.
pub const MAX_RECORD: usize = 2 * CTX_COPY;
/// Operations of a slot's expression program (predicate and map values; a
/// power of two).
pub const MAX_OPS: usize = 32;
/// Depth of the expression evaluation stack (a power of two).
pub const OP_STACK: usize = 8;
/// String constants the expression program can compare against.
pub const MAX_CONST_STRINGS: usize = 2;
/// Map updates one probe hit can make.
pub const MAX_MAP_OPS: usize = 8;
/// Map keys a slot can build (for updates and for reading keyed state).
pub const MAX_KEYS: usize = 8;
/// Values computed by expression per hit (computed map keys, BTF-typed
/// reads user space prints).
pub const MAX_COMPUTES: usize = 8;
/// Keyed-state reads one probe hit can make.
pub const MAX_LOOKUPS: usize = 4;
/// Parts (values or strings) of one map key.
pub const MAX_KEY_PARTS: usize = 4;
/// 8-byte words of a map key's data: two full strings and four integers.
pub const KEY_WORDS: usize = 2 * (STR_LEN / 8) + 4;
/// A key word index is masked with `KEY_WORD_MASK`: the kernel side writes
/// key words through a pointer into its scratch memory, which extends at
/// least this far past the key's first word (asserted there).
pub const KEY_WORD_MASK: usize = KEY_WORDS.next_power_of_two() - 1;
/// Key widths (in words) of the map tiers. A key lives in the narrowest tier
/// that holds it: the kernel hashes and compares the whole key on every
/// update, so `@[comm]` in a 160-byte key cost ~50 ns more per event.
/// The last tier is `KEY_WORDS`.
pub const KEY_TIERS: [usize; 4] = [2, 4, STR_LEN / 8 + 2, KEY_WORDS];
/// Entries of the aggregation and keyed-state maps, over all user maps.
pub const MAP_ENTRIES: u32 = 65536;
/// Syscall numbers a slot's number set can hold.
pub const MAX_SYSCALL_NR: usize = 512;
/// Ring buffer size in bytes (a power of two, a multiple of the page size).
pub const RING_BYTES: u32 = 1 << 22;
/// Distinct stacks the stack map holds.
pub const STACK_ENTRIES: u32 = 16384;

// Every index the eBPF programs take from configuration is masked with one
// of these, never clamped with `min`: a clamp compiles to a compare with a
// constant held in a register, which verifiers before ~6.8 cannot decide, so
// they walk an impossible branch, lose the index's bounds, and refuse the
// access (seen on Debian's 6.1: `R6 invalid mem access 'scalar'`). A mask
// leaves no branch to walk. So each of these must be a power of two.
const _: () = {
    assert!(CTX_COPY.is_power_of_two() && MAX_RECORD.is_power_of_two());
    assert!(MAX_VALUES.is_power_of_two() && MAX_STRINGS.is_power_of_two());
    assert!(CAPTURE_SLOTS.is_power_of_two() && CAPTURE_SLOTS >= MAX_CAPTURES);
    assert!(MAX_OPS.is_power_of_two() && OP_STACK.is_power_of_two());
    assert!(MAX_CONST_STRINGS.is_power_of_two() && MAX_MAP_OPS.is_power_of_two());
    assert!(MAX_KEYS.is_power_of_two() && MAX_LOOKUPS.is_power_of_two());
    assert!(MAX_KEY_PARTS.is_power_of_two() && KEY_TIERS.len().is_power_of_two());
    assert!(MAX_COMPUTES.is_power_of_two());
    assert!(JOIN_ARGS.is_power_of_two() && JOIN_STR_LEN.is_power_of_two());
    assert!(KEY_WORDS == KEY_TIERS[KEY_TIERS.len() - 1]);
    assert!((MAX_SYSCALL_NR / 64).is_power_of_two());
};
