//! The expression machine: a stack machine over captured values that
//! evaluates predicates (so events that fail them never leave the kernel)
//! and the operands of map updates.
//!
//! Each operation runs in a `bpf_loop` callback (kernel 5.17+): the verifier
//! checks one step once instead of every path through every unrolled
//! iteration, which exceeds its one-million-instruction budget.

use core::ffi::c_void;

use mcptrace_common::{
    SlotConfig,
    limits::{MAX_CONST_STRINGS, MAX_OPS, MAX_STRINGS, MAX_VALUES, OP_STACK, STR_LEN},
    slot::{bswap, op},
};

use aya_ebpf::helpers::{bpf_probe_read_kernel, bpf_probe_read_user};

use crate::{
    maps::{SLOTS, Scratch, scratch},
    slot::Hit,
    steps,
};

/// What the callback needs; scalars only, so nothing here is a pointer the
/// verifier must track across the call.
#[repr(C)]
struct Step {
    slot: u32,
    /// The hit's scratch level.
    level: u32,
    /// The first operation; the loop index is added to it.
    start: u32,
    /// Set when an operation is malformed: the result is then void.
    bad: u32,
}

/// Runs ops `start..start + len` of the hit's slot and returns the value
/// left on top of the stack, or None when an operation is malformed.
///
/// `scratch` (the hit's) is a raw pointer on purpose: the callback reaches
/// the same memory through its own map lookup, so no `&mut` may be live
/// across the `bpf_loop` call, or the compiler may assume the stack is
/// unchanged.
#[inline(always)]
pub fn eval(hit: Hit, start: u32, len: u32, scratch: *mut Scratch) -> Option<u64> {
    // SAFETY: valid map memory; no reference to it is live here.
    unsafe { (*scratch).sp = 0 };
    let mut step = Step { slot: hit.slot, level: hit.level, start, bad: 0 };
    let n = len.min(MAX_OPS as u32);
    steps::repeat(n, run_op, (&raw mut step).cast());
    // SAFETY: as above.
    (step.bad == 0).then(|| unsafe { (*scratch).stack[top((*scratch).sp)] })
}

#[inline(always)]
fn top(sp: u64) -> usize {
    (sp as usize).wrapping_sub(1) & (OP_STACK - 1)
}

/// Runs operation `i`; returns 0 to go on, 1 to stop the loop.
#[inline(never)]
extern "C" fn run_op(i: u64, ctx: *mut c_void) -> i64 {
    // SAFETY: `ctx` is the `Step` passed by `eval`.
    let step = unsafe { &mut *ctx.cast::<Step>() };
    let (Some(config), Some(scratch)) = (SLOTS.get(step.slot), scratch(step.level)) else {
        step.bad = 1;
        return 1;
    };
    // SAFETY: the hit's scratch level, exclusive to it while it runs.
    let scratch = unsafe { &mut *scratch };
    if apply(config, scratch, (step.start as usize + i as usize) & (MAX_OPS - 1)) {
        0
    } else {
        step.bad = 1;
        1
    }
}

/// Applies one operation to the stack; false for an unknown operation.
#[inline(always)]
fn apply(config: &SlotConfig, scratch: &mut Scratch, i: usize) -> bool {
    let o = &config.ops[i];
    let sp = scratch.sp;
    let push = |scratch: &mut Scratch, v: u64| {
        scratch.stack[sp as usize & (OP_STACK - 1)] = v;
        scratch.sp = sp + 1;
    };
    match o.code {
        op::VALUE => push(scratch, scratch.event.values[o.arg as usize & (MAX_VALUES - 1)]),
        op::IMM => push(scratch, o.imm),
        op::STR_EQ => push(scratch, str_eq(config, scratch, o.arg, o.imm) as u64),
        op::LNOT | op::NOT | op::NEG | op::IN_NR_SET | op::BSWAP | op::LOAD => {
            let t = top(sp);
            let b = scratch.stack[t];
            scratch.stack[t] = match o.code {
                op::LNOT => (b == 0) as u64,
                op::NOT => !b,
                op::NEG => b.wrapping_neg(),
                op::BSWAP => bswap(b, o.arg),
                op::LOAD => load(
                    b.wrapping_add(o.imm),
                    o.arg & op::LOAD_SIZE,
                    o.arg & op::LOAD_SIGNED != 0,
                    o.arg & op::LOAD_USER != 0,
                ),
                _ => in_nr_set(config, b) as u64,
            };
        }
        code => {
            let t = top(sp);
            let below = top(sp.wrapping_sub(1));
            let (a, b) = (scratch.stack[below], scratch.stack[t]);
            let Some(v) = binary(code, a, b) else {
                return false;
            };
            scratch.stack[below] = v;
            scratch.sp = sp.wrapping_sub(1);
        }
    }
    true
}

/// The integer of `size` bytes at `at` in user or kernel memory,
/// sign-extended where `signed`; 0 where the read faults. One read of a
/// fixed size per width: no size from configuration reaches the helper.
#[inline(always)]
pub fn load(at: u64, size: u16, signed: bool, user: bool) -> u64 {
    macro_rules! read {
        ($t:ty) => {
            // SAFETY: the helpers fault safely on any address.
            unsafe {
                if user {
                    bpf_probe_read_user(at as *const $t)
                } else {
                    bpf_probe_read_kernel(at as *const $t)
                }
            }
        };
    }
    match (size, signed) {
        (1, true) => read!(i8).map_or(0, |v| v as i64 as u64),
        (1, false) => read!(u8).map_or(0, u64::from),
        (2, true) => read!(i16).map_or(0, |v| v as i64 as u64),
        (2, false) => read!(u16).map_or(0, u64::from),
        (4, true) => read!(i32).map_or(0, |v| v as i64 as u64),
        (4, false) => read!(u32).map_or(0, u64::from),
        _ => read!(u64).unwrap_or(0),
    }
}

#[inline(always)]
fn binary(code: u16, a: u64, b: u64) -> Option<u64> {
    Some(match code {
        op::EQ => (a == b) as u64,
        op::NE => (a != b) as u64,
        op::LT => ((a as i64) < (b as i64)) as u64,
        op::LE => ((a as i64) <= (b as i64)) as u64,
        op::GT => ((a as i64) > (b as i64)) as u64,
        op::GE => ((a as i64) >= (b as i64)) as u64,
        op::ULT => (a < b) as u64,
        op::ULE => (a <= b) as u64,
        op::UGT => (a > b) as u64,
        op::UGE => (a >= b) as u64,
        op::LAND => (a != 0 && b != 0) as u64,
        op::LOR => (a != 0 || b != 0) as u64,
        op::ADD => a.wrapping_add(b),
        op::SUB => a.wrapping_sub(b),
        op::MUL => a.wrapping_mul(b),
        op::DIV => a.checked_div(b).unwrap_or(0),
        op::MOD => a.checked_rem(b).unwrap_or(0),
        op::SDIV => signed_div(a as i64, b as i64).0,
        op::SMOD => signed_div(a as i64, b as i64).1,
        op::SAR => (a as i64).wrapping_shr(b as u32) as u64,
        op::AND => a & b,
        op::OR => a | b,
        op::XOR => a ^ b,
        op::SHL => a.wrapping_shl(b as u32),
        op::SHR => a.wrapping_shr(b as u32),
        _ => return None,
    })
}

/// C's truncating signed quotient and remainder from unsigned division: the
/// BPF instruction set before v4 has no signed division. x / 0 is 0.
#[inline(always)]
fn signed_div(a: i64, b: i64) -> (u64, u64) {
    let (ua, ub) = (a.unsigned_abs(), b.unsigned_abs());
    if ub == 0 {
        return (0, 0);
    }
    let (q, r) = (ua / ub, ua % ub);
    let q = if (a < 0) != (b < 0) { q.wrapping_neg() } else { q };
    let r = if a < 0 { r.wrapping_neg() } else { r };
    (q, r)
}

#[inline(always)]
fn in_nr_set(config: &SlotConfig, nr: u64) -> bool {
    let words = config.nr_set.len() as u64;
    let word = nr / 64;
    // Out-of-range numbers are not in the set; the mask keeps the index
    // provably in bounds for the verifier.
    word < words && config.nr_set[(word & (words - 1)) as usize] & (1 << (nr % 64)) != 0
}

/// Compares captured string `s` with constant `c` word by word over
/// the constant's mask (its characters and terminating NUL).
#[inline(always)]
fn str_eq(config: &SlotConfig, scratch: &Scratch, s: u16, c: u64) -> bool {
    let s = &scratch.event.strings[s as usize & (MAX_STRINGS - 1)];
    let c = &config.consts[c as usize & (MAX_CONST_STRINGS - 1)];
    let words = s.as_ptr() as *const u64;
    let mut diff = 0u64;
    for w in 0..STR_LEN / 8 {
        // SAFETY: in bounds and 8-aligned (see slot::clear_string).
        let sw = unsafe { words.add(w).read() };
        diff |= (sw ^ c.words[w]) & c.mask[w];
    }
    diff == 0
}
