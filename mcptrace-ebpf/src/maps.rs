//! Maps shared by every program kind.

use aya_ebpf::{
    macros::map,
    maps::{Array, PerCpuArray, RingBuf},
};
use mcptrace_common::{
    Event, SlotConfig,
    limits::{FILTER_STACK, MAX_RECORD, MAX_SLOTS, RING_BYTES},
};

#[map]
pub static SLOTS: Array<SlotConfig> = Array::with_max_entries(MAX_SLOTS, 0);

#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(RING_BYTES, 0);

/// Records the ring buffer had no room for, per CPU.
#[map]
pub static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Per-CPU working memory: the 512-byte stack cannot hold an event.
#[repr(C)]
pub struct Scratch {
    /// The context copy, then the dereferenced copy; 8 spare bytes keep
    /// every masked read in bounds.
    pub record: [u8; MAX_RECORD + 8],
    pub stack: [u64; FILTER_STACK],
    /// The predicate's stack pointer, kept here across `bpf_loop` steps.
    pub sp: u64,
    pub event: Event,
}

#[map]
pub static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);
