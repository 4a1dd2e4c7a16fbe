//! Map updates (count, sum, min, max, hist, lhist, keyed state) and keyed-state
//! reads, done in the kernel so nothing is copied out until a map is printed.
//!
//! Like the expression machine, each map operation runs in a `bpf_loop`
//! callback so the verifier checks it once, whatever the number of operations.

use core::{ffi::c_void, mem::offset_of};

use mcptrace_common::{
    Agg, SlotConfig,
    limits::{
        KEY_TIERS, KEY_WORD_MASK, KEY_WORDS, MAX_KEY_PARTS, MAX_KEYS, MAX_LOOKUPS, MAX_MAP_OPS,
        MAX_STRINGS, MAX_VALUES, STR_LEN,
    },
    map::bucket,
    slot::map_op,
};

use crate::{
    maps::{MAP_FULL, SLOTS, Scratch, bump, scratch},
    slot::Hit,
    steps,
    tier::{Tier, by_tier},
    vm,
};

/// Runs the slot's keyed-state lookups into the event's values.
#[inline(always)]
pub fn lookups(hit: Hit, n: u32) {
    let mut hit = hit;
    steps::repeat(n.min(MAX_LOOKUPS as u32), run_lookup, (&raw mut hit).cast());
}

/// Applies the slot's map operations.
#[inline(always)]
pub fn update(hit: Hit, n: u32) {
    let mut hit = hit;
    steps::repeat(n.min(MAX_MAP_OPS as u32), run_map_op, (&raw mut hit).cast());
}

/// The hit, its slot's configuration and its scratch memory, from inside a
/// callback.
#[inline(always)]
fn context(ctx: *mut c_void) -> Option<(Hit, &'static SlotConfig, *mut Scratch)> {
    // SAFETY: `ctx` is the `Hit` passed to `steps::repeat`.
    let hit = unsafe { *ctx.cast::<Hit>() };
    Some((hit, SLOTS.get(hit.slot)?, scratch(hit.level)?))
}

#[inline(never)]
extern "C" fn run_lookup(i: u64, ctx: *mut c_void) -> i64 {
    let Some((_, config, scratch)) = context(ctx) else {
        return 1;
    };
    let lookup = &config.lookups[i as usize & (MAX_LOOKUPS - 1)];
    // SAFETY: the hit's scratch level, exclusive to it while it runs.
    let scratch = unsafe { &mut *scratch };
    let tier = build_key(config, scratch, lookup.key);
    let value = match lookup.presence {
        0 => by_tier!(tier, read(scratch)),
        _ => by_tier!(tier, present(scratch)),
    };
    scratch.event.values[lookup.dest as usize & (MAX_VALUES - 1)] = value;
    0
}

/// The keyed state under the scratch key, 0 when absent.
#[inline(always)]
fn read<T: Tier>(scratch: &Scratch) -> u64 {
    // SAFETY: the value is a plain u64 in a map we own.
    unsafe { T::state().get(T::key(&scratch.key)) }.copied().unwrap_or(0)
}

/// 1 when the scratch key has keyed state, whatever its value; else 0.
#[inline(always)]
fn present<T: Tier>(scratch: &Scratch) -> u64 {
    // SAFETY: as in `read`; only whether the entry exists is looked at.
    unsafe { T::state().get(T::key(&scratch.key)) }.is_some() as u64
}

#[inline(never)]
extern "C" fn run_map_op(i: u64, ctx: *mut c_void) -> i64 {
    let Some((hit, config, scratch_ptr)) = context(ctx) else {
        return 1;
    };
    let m = &config.map_ops[i as usize & (MAX_MAP_OPS - 1)];
    if m.guard_len != 0
        && vm::eval(hit, m.guard_start as u32, m.guard_len as u32, scratch_ptr)
            .is_none_or(|g| g == 0)
    {
        return 0;
    }
    let value = if m.value_len == 0 {
        0
    } else {
        match vm::eval(hit, m.value_start as u32, m.value_len as u32, scratch_ptr) {
            Some(v) => v,
            None => return 0,
        }
    };
    // SAFETY: per-CPU memory; the expression machine is done with it.
    let scratch = unsafe { &mut *scratch_ptr };
    let tier = build_key(config, scratch, m.key);
    scratch.key.bucket = bucket(m.kind, value, m.min, m.max, m.step);
    if !by_tier!(tier, apply(m.kind, scratch, value)) {
        bump(&MAP_FULL);
    }
    0
}

/// Applies an operation of `kind` under the scratch key in tier `T`; false
/// when the map is full. Only the map accesses depend on the tier, and each
/// is written once: the verifier walks this once per tier.
#[inline(always)]
fn apply<T: Tier>(kind: u16, scratch: &Scratch, value: u64) -> bool {
    let key = T::key(&scratch.key);
    match kind {
        map_op::ASSIGN => T::state().insert(key, value, 0).is_ok(),
        // The key is in one of the two maps (aggregates without buckets).
        map_op::DELETE => {
            let _ = T::state().remove(key);
            let _ = T::agg().remove(key);
            true
        }
        // Read-modify-write, as bpftrace does for `@x++` on a hash map: the
        // BPF target offers Rust no atomic add.
        map_op::ADD => match T::state().get_ptr_mut(key) {
            Some(p) => {
                // SAFETY: a u64 value in map memory.
                unsafe { *p = (*p).wrapping_add(value) };
                true
            }
            None => T::state().insert(key, value, 0).is_ok(),
        },
        // This CPU's aggregate, created when absent.
        _ => match T::agg().get_ptr_mut(key) {
            Some(a) => {
                // SAFETY: this CPU's value; per-CPU maps need no atomics.
                unsafe { &mut *a }.fold(kind, value);
                true
            }
            None => {
                let mut a = Agg::default();
                a.fold(kind, value);
                T::agg().insert(key, a, 0).is_ok()
            }
        },
    }
}

/// Writes key spec `spec` into the scratch key: the map id, then each part's
/// value or string words, packed; the rest of its tier's width zero.
/// Returns the tier.
#[inline(always)]
fn build_key(config: &SlotConfig, scratch: &mut Scratch, spec: u16) -> u8 {
    let spec = &config.keys[spec as usize & (MAX_KEYS - 1)];
    let width = KEY_TIERS[spec.tier as usize & (KEY_TIERS.len() - 1)];
    for w in 0..KEY_WORDS {
        if w >= width {
            break;
        }
        // Volatile: a plain loop becomes a byte-wise memset.
        key_word(scratch, w).write_volatile(0);
    }
    scratch.key.map = spec.map;
    scratch.key.bucket = 0;
    for p in 0..MAX_KEY_PARTS {
        if p >= spec.nparts as usize {
            break;
        }
        let part = spec.parts[p];
        let at = part.at as usize;
        if part.words == 0 {
            let v = scratch.event.values[part.index as usize & (MAX_VALUES - 1)];
            key_word(scratch, at).write(v);
            continue;
        }
        let s =
            scratch.event.strings[part.index as usize & (MAX_STRINGS - 1)].as_ptr() as *const u64;
        for j in 0..STR_LEN / 8 {
            if j < part.words as usize {
                // SAFETY: j < STR_LEN / 8 words of an 8-aligned string buffer.
                let v = unsafe { s.add(j).read() };
                key_word(scratch, at + j).write(v);
            }
        }
    }
    spec.tier
}

/// Word `index` of the scratch key, masked rather than clamped (see
/// `limits`): user space keeps every part within `KEY_WORDS`, and the mask
/// keeps even a wrong index inside the scratch memory, which is what the
/// verifier checks.
#[inline(always)]
fn key_word(scratch: &mut Scratch, index: usize) -> KeyWord {
    let base = (scratch as *mut Scratch).cast::<u8>();
    let offset = offset_of!(Scratch, key.words) + (index & KEY_WORD_MASK) * 8;
    // SAFETY: in bounds of `Scratch` by the assertion below.
    KeyWord(unsafe { base.add(offset) }.cast())
}

const _: () =
    assert!(offset_of!(Scratch, key.words) + (KEY_WORD_MASK + 1) * 8 <= size_of::<Scratch>());

/// A word of the scratch key.
struct KeyWord(*mut u64);

impl KeyWord {
    #[inline(always)]
    fn write(self, v: u64) {
        // SAFETY: points into per-CPU scratch memory (see `key_word`), 8-aligned.
        unsafe { self.0.write(v) }
    }

    #[inline(always)]
    fn write_volatile(self, v: u64) {
        // SAFETY: as for `write`.
        unsafe { self.0.write_volatile(v) }
    }
}
