//! Maps shared by every program kind.

use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    macros::map,
    maps::{Array, HashMap, PerCpuArray, PerCpuHashMap, PerfEventArray, RingBuf, StackTrace},
};
use mcptrace_common::{
    Agg, Event, JoinArea, MapKey, MediumKey, NarrowKey, SlotConfig, SmallKey,
    limits::{MAP_ENTRIES, MAX_RECORD, MAX_SLOTS, OP_STACK, RING_BYTES, STACK_ENTRIES},
};

#[map]
pub static SLOTS: Array<SlotConfig> = Array::with_max_entries(MAX_SLOTS, 0);

#[map]
pub static EVENTS: RingBuf = RingBuf::with_byte_size(RING_BYTES, 0);

/// The per-CPU perf buffers: the event transport for kernels without ring
/// buffers, chosen by user space through `TRANSPORT`.
#[map]
pub static PERF_EVENTS: PerfEventArray<Event> = PerfEventArray::new(0);

/// 0: events go through `EVENTS`; 1: through `PERF_EVENTS`. Set at load
/// time, so the verifier prunes the other path.
#[unsafe(no_mangle)]
pub static TRANSPORT: u32 = 0;

/// Events the transport (ring or perf buffer) had no room for, per CPU.
#[map]
pub static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Declares the aggregation map and the keyed-state map of one key width.
macro_rules! tier_maps {
    ($($agg:ident, $state:ident: $key:ty;)*) => {$(
        #[map]
        pub static $agg: PerCpuHashMap<$key, Agg> =
            PerCpuHashMap::with_max_entries(MAP_ENTRIES, BPF_F_NO_PREALLOC);
        #[map]
        pub static $state: HashMap<$key, u64> =
            HashMap::with_max_entries(MAP_ENTRIES, BPF_F_NO_PREALLOC);
    )*};
}

// Aggregations of every user map (count, sum, min, max, avg, stats, hist,
// lhist) are per CPU so updates never contend; user space merges on read.
// Keyed state (`@start[tid] = nsecs`) is read back by later probe hits. One
// pair per key width (see `tier`). Not preallocated: a preallocated per-CPU
// hash this size costs ~7 ms to load.
tier_maps! {
    AGG_NARROW, STATE_NARROW: NarrowKey;
    AGG_SMALL, STATE_SMALL: SmallKey;
    AGG_MEDIUM, STATE_MEDIUM: MediumKey;
    AGG_WIDE, STATE_WIDE: MapKey;
}

/// Kernel and user stacks, by the id `bpf_get_stackid` returns.
#[map]
pub static STACKS: StackTrace = StackTrace::with_max_entries(STACK_ENTRIES, 0);

/// Map updates that failed because a map was full, per CPU.
#[map]
pub static MAP_FULL: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Hits dropped because every scratch level of their CPU was taken (see
/// `level`), per CPU.
#[map]
pub static DROPPED_HITS: PerCpuArray<u64> = PerCpuArray::with_max_entries(1, 0);

/// Working memory of one hit: the 512-byte stack cannot hold an event.
#[repr(C)]
pub struct Scratch {
    /// Set while a hit uses this memory (see `level`).
    pub busy: u64,
    /// The context copy, then the dereferenced copy; 8 spare bytes keep
    /// every masked read in bounds.
    pub record: [u8; MAX_RECORD + 8],
    pub stack: [u64; OP_STACK],
    /// The expression stack pointer, kept here across `bpf_loop` steps.
    pub sp: u64,
    pub key: MapKey,
    pub event: Event,
    /// join()'s strings: right after the event, so that an event of a slot
    /// that joins is sent as one range of bytes with them.
    pub join: JoinArea,
}

const _: () = assert!(
    core::mem::offset_of!(Scratch, join) == core::mem::offset_of!(Scratch, event) + size_of::<Event>()
);

/// Scratch memories per CPU: how many slot programs can be mid-run on one
/// CPU at once (see `level`). A power of two: a level index is masked.
pub const LEVELS: u32 = 4;

const _: () = assert!(LEVELS.is_power_of_two());

#[map]
pub static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(LEVELS, 0);

/// The scratch memory of `level`, from inside a `bpf_loop` callback.
#[inline(always)]
pub fn scratch(level: u32) -> Option<*mut Scratch> {
    SCRATCH.get_ptr_mut(level & (LEVELS - 1))
}

/// Adds one to a per-CPU counter map.
#[inline(always)]
pub fn bump(counter: &PerCpuArray<u64>) {
    if let Some(n) = counter.get_ptr_mut(0) {
        // SAFETY: per-CPU memory, exclusive to this CPU while the program runs.
        unsafe { *n += 1 };
    }
}
