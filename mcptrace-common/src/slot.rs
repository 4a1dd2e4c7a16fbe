//! Per-probe configuration, written by user space into the `SLOTS` array map
//! before the slot's program is attached.
//!
//! One hit runs: copy the context (and optionally what one of its words points
//! to) into the record buffer; run the first `nphase1` captures; run the
//! predicate, if any; run the remaining captures; emit the event.

use crate::limits::{
    CTX_COPY, MAX_CAPTURES, MAX_FILTER_OPS, MAX_FILTER_STRINGS, MAX_SYSCALL_NR, SLOTS_PER_KIND,
    STR_LEN,
};

/// Program kinds; slot numbers of kind `k` start at `k * SLOTS_PER_KIND`.
pub mod kind {
    pub const TRACEPOINT: u32 = 0;
    pub const RAW_TRACEPOINT: u32 = 1;
    pub const PERF_EVENT: u32 = 2;
    pub const UPROBE: u32 = 3;
    pub const URETPROBE: u32 = 4;
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
    /// Byte offset in the record copy (or the context, for context strings).
    pub offset: u16,
    /// Integer width in bytes (1, 2, 4 or 8); for strings, bytes to keep
    /// (at most `STR_LEN`, NUL included).
    pub size: u16,
    /// [`flags`] bits.
    pub flags: u16,
    /// Index into `Event::values` or, for string sources, `Event::strings`.
    pub dest: u16,
}

/// Predicate operations: a stack machine over 64-bit values.
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
    /// Push whether `Event::strings[arg]` equals filter string `imm`.
    pub const STR_EQ: u16 = 29;
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilterOp {
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
pub struct FilterString {
    pub words: [u64; STR_LEN / 8],
    pub mask: [u64; STR_LEN / 8],
}

impl FilterString {
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
        let mut out = Self { words: [0; STR_LEN / 8], mask: [0; STR_LEN / 8] };
        for i in 0..STR_LEN / 8 {
            out.words[i] = word(&bytes, i);
            out.mask[i] = word(&mask, i);
        }
        out
    }
}

impl Default for FilterString {
    fn default() -> Self {
        Self { words: [0; STR_LEN / 8], mask: [0; STR_LEN / 8] }
    }
}

/// What a hit that passes the predicate does.
pub mod action {
    /// Send the event to user space.
    pub const EMIT: u32 = 1;
}

/// Configuration of one probe slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotConfig {
    /// One of [`action`].
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
    /// Predicate operations in use; 0 means every hit passes.
    pub nfilter: u32,
    pub _pad: u32,
    pub captures: [Capture; MAX_CAPTURES],
    pub filter: [FilterOp; MAX_FILTER_OPS],
    pub filter_strings: [FilterString; MAX_FILTER_STRINGS],
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
            nfilter: 0,
            _pad: 0,
            captures: [Capture::default(); MAX_CAPTURES],
            filter: [FilterOp::default(); MAX_FILTER_OPS],
            filter_strings: [FilterString::default(); MAX_FILTER_STRINGS],
            nr_set: [0; MAX_SYSCALL_NR / 64],
        }
    }
}

const _: () = assert!(CTX_COPY.is_power_of_two());

#[cfg(feature = "user")]
unsafe impl aya::Pod for SlotConfig {}
