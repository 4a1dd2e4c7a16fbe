//! Per-probe configuration, written by user space into the `SLOTS` array map
//! before the slot's program is attached.
//!
//! One hit runs: copy the context (and optionally what one of its words points
//! to) into the record buffer; run the first `nphase1` captures and the
//! keyed-state lookups; run the predicate, if any; run the remaining
//! captures; apply the map operations; emit the event (last, so that user
//! space acting on it finds the hit's map updates done).

use crate::limits::{
    CAPTURE_SLOTS, MAX_COMPUTES, MAX_CONST_STRINGS, MAX_KEY_PARTS, MAX_KEYS, MAX_LOOKUPS,
    MAX_MAP_OPS, MAX_OPS, MAX_SYSCALL_NR, SLOTS_PER_KIND, STR_LEN,
};

/// Program kinds; slot numbers of kind `k` start at `k * SLOTS_PER_KIND`.
pub mod kind {
    pub const TRACEPOINT: u32 = 0;
    pub const RAW_TRACEPOINT: u32 = 1;
    pub const PERF_EVENT: u32 = 2;
    pub const UPROBE: u32 = 3;
    pub const URETPROBE: u32 = 4;
    pub const KPROBE: u32 = 5;
    pub const KRETPROBE: u32 = 6;
    pub const FENTRY: u32 = 7;
    pub const FEXIT: u32 = 8;
}

/// First slot number of program kind `kind`.
pub const fn first_slot(kind: u32) -> u32 {
    kind * SLOTS_PER_KIND
}

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
    /// An integer at `offset` of the record copy, `size` bytes wide.
    pub const FIELD: u32 = 9;
    /// A NUL-terminated user string whose pointer is at `offset` of the record.
    pub const USER_STR: u32 = 10;
    /// A NUL-terminated kernel string whose pointer is at `offset` of the record.
    pub const KERNEL_STR: u32 = 11;
    /// A string stored in the context itself at `offset` (`char x[N]`).
    pub const CTX_STR: u32 = 12;
    /// A `__data_loc` string: the u32 at `offset` of the context holds the
    /// string's offset (low 16 bits) in the context.
    pub const DATA_LOC_STR: u32 = 13;
    /// The constant `offset`: which probe of the program fired, for map keys
    /// on `probe` when several probes share a map.
    pub const CONST: u32 = 14;
    /// The id of the kernel stack in the `STACKS` map (`u64::MAX` if none).
    pub const KSTACK: u32 = 15;
    /// The id of the user stack in the `STACKS` map (`u64::MAX` if none).
    pub const USTACK: u32 = 16;
    /// A NUL-terminated string whose pointer is at `offset` of the record,
    /// in user or kernel memory (BTF does not say which): read as a user
    /// string, and where that faults, as a kernel one.
    pub const ANY_STR: u32 = 17;
    /// An integer of `size` bytes in user memory, at the address held in
    /// the 8 bytes at `offset` of the record plus `displacement` (a USDT
    /// argument such as `8@-80(%rbx)`); 0 where the read faults.
    pub const USER_INT: u32 = 18;
    /// `buf()`: the bytes (not a string: NULs included) whose pointer is at
    /// `offset` of the record, in user memory, into a string slot: `size`
    /// of them, or with `flags::LEN_VALUE`, at most `size` and at most
    /// `Event::values[arg]`.
    pub const USER_BUF: u32 = 19;
    /// As `USER_BUF`, in kernel memory.
    pub const KERNEL_BUF: u32 = 20;
    /// `curtask`: the address of the current task's `task_struct`.
    pub const CURTASK: u32 = 21;
}

pub fn is_string_source(src: u32) -> bool {
    matches!(
        src,
        source::COMM
            | source::USER_STR
            | source::KERNEL_STR
            | source::CTX_STR
            | source::DATA_LOC_STR
            | source::ANY_STR
            | source::USER_BUF
            | source::KERNEL_BUF
    )
}

/// `Capture::flags` bits.
pub mod flags {
    /// Sign-extend an integer field narrower than 64 bits.
    pub const SIGNED: u16 = 1;
    /// A buffer's length is `Event::values[Capture::arg]` (at most `size`).
    pub const LEN_VALUE: u16 = 2;
    /// A string source (`USER_STR`, `KERNEL_STR`, `ANY_STR`) whose pointer
    /// is `Event::values[offset]`, a keyed-state read (`str(@m[k])`), rather
    /// than 8 bytes of the record. Such a capture runs after the lookups.
    pub const FROM_VALUE: u16 = 4;
}

/// One value to capture per hit.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capture {
    /// One of [`source`].
    pub source: u32,
    /// Byte offset in the record copy (or the context, for context strings).
    pub offset: u16,
    /// Integer width in bytes (1, 2, 4 or 8); for strings, bytes to keep
    /// (at most `STR_LEN`, NUL included).
    pub size: u16,
    /// [`flags`] bits.
    pub flags: u16,
    /// Index into `Event::values` or, for string sources, `Event::strings`.
    pub dest: u16,
    /// Added to the address a `source::USER_INT` capture reads at.
    pub displacement: i32,
    /// A second operand: for a buffer with `flags::LEN_VALUE`, the index in
    /// `Event::values` of its length, captured before it.
    pub arg: u16,
    pub _pad: u16,
}

/// Expression operations: a stack machine over 64-bit values.
pub mod op {
    pub const END: u16 = 0;
    /// Push `Event::values[arg]`.
    pub const VALUE: u16 = 1;
    /// Push `imm`.
    pub const IMM: u16 = 2;
    // Binary operations pop b, then a, and push a OP b.
    pub const EQ: u16 = 3;
    pub const NE: u16 = 4;
    pub const LT: u16 = 5;
    pub const LE: u16 = 6;
    pub const GT: u16 = 7;
    pub const GE: u16 = 8;
    pub const ULT: u16 = 9;
    pub const ULE: u16 = 10;
    pub const UGT: u16 = 11;
    pub const UGE: u16 = 12;
    pub const LAND: u16 = 13;
    pub const LOR: u16 = 14;
    pub const ADD: u16 = 15;
    pub const SUB: u16 = 16;
    pub const MUL: u16 = 17;
    /// Unsigned division and remainder; x / 0 is 0, as in BPF.
    pub const DIV: u16 = 18;
    pub const MOD: u16 = 19;
    pub const AND: u16 = 20;
    pub const OR: u16 = 21;
    pub const XOR: u16 = 22;
    pub const SHL: u16 = 23;
    pub const SHR: u16 = 24;
    // Unary operations replace the top of the stack.
    pub const LNOT: u16 = 25;
    pub const NOT: u16 = 26;
    pub const NEG: u16 = 27;
    /// Replace the top with whether it is in `SlotConfig::nr_set`.
    pub const IN_NR_SET: u16 = 28;
    /// Push whether `Event::strings[arg]` equals constant string `imm`.
    pub const STR_EQ: u16 = 29;
    /// Signed division and remainder (truncating, as in C).
    pub const SDIV: u16 = 30;
    pub const SMOD: u16 = 31;
    /// Arithmetic shift right.
    pub const SAR: u16 = 32;
    /// Replace the top with its low `arg` bytes (1, 2, 4 or 8) in reverse
    /// order: see [`super::bswap`].
    pub const BSWAP: u16 = 33;
    /// Replace the top, an address, with the integer of `arg & LOAD_SIZE`
    /// bytes (1, 2, 4 or 8) at it plus `imm`, sign-extended with
    /// `LOAD_SIGNED`, from user memory with `LOAD_USER` (else kernel); 0
    /// where the read faults. BTF-typed access: `curtask->real_parent->pid`.
    pub const LOAD: u16 = 34;
    pub const LOAD_SIZE: u16 = 0xf;
    pub const LOAD_SIGNED: u16 = 0x10;
    pub const LOAD_USER: u16 = 0x20;
}

/// bpftrace's `bswap()`: the low `bytes` bytes of `value` in reverse order,
/// for an integer of that width (one byte comes back as it is). Kernel and
/// user space share it so that both swap alike.
#[inline(always)]
pub fn bswap(value: u64, bytes: u16) -> u64 {
    match bytes {
        2 => u64::from((value as u16).swap_bytes()),
        4 => u64::from((value as u32).swap_bytes()),
        8 => value.swap_bytes(),
        _ => value & 0xff,
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Op {
    /// One of [`op`].
    pub code: u16,
    pub arg: u16,
    pub _pad: u32,
    pub imm: u64,
}

/// A string constant for `op::STR_EQ`: its bytes and a mask over the bytes
/// that take part (the characters and the terminating NUL).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConstString {
    pub words: [u64; STR_LEN / 8],
    pub mask: [u64; STR_LEN / 8],
}

impl ConstString {
    /// `s` must be shorter than `STR_LEN`; longer constants are cut.
    pub fn new(s: &[u8]) -> Self {
        let mut bytes = [0u8; STR_LEN];
        let mut mask = [0u8; STR_LEN];
        let n = s.len().min(STR_LEN - 1);
        bytes[..n].copy_from_slice(&s[..n]);
        mask[..=n].fill(0xff);
        let word = |b: &[u8; STR_LEN], i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_ne_bytes(w)
        };
        let mut out = Self::default();
        for i in 0..STR_LEN / 8 {
            out.words[i] = word(&bytes, i);
            out.mask[i] = word(&mask, i);
        }
        out
    }
}

impl Default for ConstString {
    fn default() -> Self {
        Self { words: [0; STR_LEN / 8], mask: [0; STR_LEN / 8] }
    }
}

/// What a hit that passes the predicate does besides map operations.
pub mod action {
    /// Send the event to user space.
    pub const EMIT: u32 = 1;
}

/// One part of a map key, copied from the captured event.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyPart {
    /// `Event::values[index]` when `words` is 0; else the first `words`
    /// 8-byte words of `Event::strings[index]`.
    pub index: u8,
    pub words: u8,
    /// Where the part starts in `MapKey::words`: computed in user space so
    /// the kernel tracks no running position (which multiplies verifier
    /// states per path).
    pub at: u8,
}

/// How to build one map key: the user map's id, then its parts in order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeySpec {
    pub map: u16,
    pub nparts: u8,
    /// Which map tier holds the key (see `limits::KEY_TIERS`).
    pub tier: u8,
    pub parts: [KeyPart; MAX_KEY_PARTS],
}

/// Map operation kinds.
pub mod map_op {
    pub const NONE: u16 = 0;
    /// count(): the aggregate's count grows by one.
    pub const COUNT: u16 = 1;
    /// sum(v), avg(v), stats(v): sum and count grow.
    pub const SUM: u16 = 2;
    pub const MIN: u16 = 3;
    pub const MAX: u16 = 4;
    /// hist(v): the count of v's log2 bucket grows.
    pub const HIST: u16 = 5;
    /// lhist(v, min, max, step).
    pub const LHIST: u16 = 6;
    /// `@m[k] = v` in the keyed-state map.
    pub const ASSIGN: u16 = 7;
    /// `delete(@m[k])` from the keyed-state map.
    pub const DELETE: u16 = 8;
    /// `@m[k] += v`, `@m[k]++` in the keyed-state map, by read-modify-write
    /// as bpftrace does (two CPUs adding at once may lose an update).
    pub const ADD: u16 = 9;
}

/// Reads keyed state: `Event::values[dest]` = the value under key spec `key`
/// (0 when absent), or with `presence` set, 1 if the key is there and 0 if
/// not (`has_key`: a stored 0 is there). Lookups run after the first-phase
/// captures, before the predicate.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lookup {
    pub key: u16,
    pub dest: u16,
    pub presence: u16,
    pub _pad: u16,
}

/// `Event::values[dest]` = the result of ops `start..start+len`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compute {
    pub start: u16,
    pub len: u16,
    pub dest: u16,
    pub _pad: u16,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapOp {
    /// One of [`map_op`].
    pub kind: u16,
    /// Key spec index.
    pub key: u16,
    /// The operand is the result of ops `value_start..value_start+value_len`
    /// (0 when `value_len` is 0).
    pub value_start: u16,
    pub value_len: u16,
    /// The update runs only when ops `guard_start..guard_start+guard_len`
    /// leave a non-zero value (if/else around it); always when `guard_len`
    /// is 0.
    pub guard_start: u16,
    pub guard_len: u16,
    pub _pad: u32,
    /// lhist bounds.
    pub min: i64,
    pub max: i64,
    pub step: u64,
}

/// Configuration of one probe slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotConfig {
    /// [`action`] bits.
    pub action: u32,
    /// Bytes of the context to copy to the record's start (at most `CTX_COPY`).
    pub ctx_len: u32,
    /// When non-zero, the context word at `deref_offset` is a pointer whose
    /// first `deref_len` bytes are copied to the record at `CTX_COPY`
    /// (raw syscall tracepoints: the `pt_regs` of the syscall).
    pub deref_len: u32,
    pub deref_offset: u32,
    /// Captures in use, at most `MAX_CAPTURES`; the first `nphase1` run
    /// before the predicate.
    pub ncaptures: u32,
    pub nphase1: u32,
    /// The predicate is ops `0..npred`; 0 means every hit passes.
    pub npred: u32,
    pub nmap_ops: u32,
    pub nlookups: u32,
    pub ncomputes: u32,
    /// The bytes of the event sent to user space ([`crate::event::Event::len_for`]).
    pub event_len: u32,
    pub captures: [Capture; CAPTURE_SLOTS],
    /// join(): `source` is `USER_STR` or `KERNEL_STR` (the memory of the
    /// array and of its strings), `offset` the array pointer's place in the
    /// record; `NONE` when the slot does not join. The strings are read into
    /// the join area after the captures, once the predicate passed.
    pub join: Capture,
    pub lookups: [Lookup; MAX_LOOKUPS],
    /// Values computed just before the map operations (computed keys).
    pub computes: [Compute; MAX_COMPUTES],
    pub ops: [Op; MAX_OPS],
    pub consts: [ConstString; MAX_CONST_STRINGS],
    pub keys: [KeySpec; MAX_KEYS],
    pub map_ops: [MapOp; MAX_MAP_OPS],
    /// Syscall numbers for `op::IN_NR_SET`, one bit each.
    pub nr_set: [u64; MAX_SYSCALL_NR / 64],
}

impl SlotConfig {
    /// Adds a syscall number to the set `op::IN_NR_SET` tests.
    pub fn add_nr(&mut self, nr: u32) {
        if (nr as usize) < MAX_SYSCALL_NR {
            self.nr_set[nr as usize / 64] |= 1 << (nr % 64);
        }
    }
}

impl Default for SlotConfig {
    fn default() -> Self {
        Self {
            action: action::EMIT,
            ctx_len: 0,
            deref_len: 0,
            deref_offset: 0,
            ncaptures: 0,
            nphase1: 0,
            npred: 0,
            nmap_ops: 0,
            nlookups: 0,
            ncomputes: 0,
            event_len: size_of::<crate::event::Event>() as u32,
            captures: [Capture::default(); CAPTURE_SLOTS],
            join: Capture::default(),
            lookups: [Lookup::default(); MAX_LOOKUPS],
            computes: [Compute::default(); MAX_COMPUTES],
            ops: [Op::default(); MAX_OPS],
            consts: [ConstString::default(); MAX_CONST_STRINGS],
            keys: [KeySpec::default(); MAX_KEYS],
            map_ops: [MapOp::default(); MAX_MAP_OPS],
            nr_set: [0; MAX_SYSCALL_NR / 64],
        }
    }
}

#[cfg(feature = "user")]
unsafe impl aya::Pod for SlotConfig {}
