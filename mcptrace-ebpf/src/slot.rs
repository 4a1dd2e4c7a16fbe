//! One probe hit: copy the record, capture, filter, update maps, emit.

use aya_ebpf::helpers::{
    bpf_get_current_cgroup_id, bpf_get_current_pid_tgid, bpf_get_current_uid_gid,
    bpf_get_smp_processor_id, bpf_ktime_get_ns, bpf_probe_read_kernel, bpf_probe_read_kernel_buf,
    bpf_probe_read_kernel_str_bytes, bpf_probe_read_user, bpf_probe_read_user_buf,
    bpf_probe_read_user_str_bytes, generated,
};
use mcptrace_common::{
    Capture, Event, SlotConfig,
    limits::{
        CAPTURE_SLOTS, CTX_COPY, JOIN_ARGS, MAX_CAPTURES, MAX_COMPUTES, MAX_RECORD, MAX_STRINGS,
        MAX_VALUES, STR_LEN,
    },
    slot::{action, flags, source},
};

use core::ffi::c_void;

use aya_ebpf::{
    bindings::{BPF_F_CURRENT_CPU, BPF_F_USER_STACK},
    helpers::bpf_get_stackid,
};

use crate::{
    aggregate, level,
    maps::{EVENTS, LOST, PERF_EVENTS, SLOTS, STACKS, Scratch, TRANSPORT, bump, scratch},
    steps, vm,
};

/// Runs slot `slot` for one hit with context `ctx`, in a scratch memory of
/// its own (see `level`).
#[inline(always)]
pub fn run(slot: u32, ctx: *const u8) {
    let Some(config) = SLOTS.get(slot) else {
        return;
    };
    let Some((level, ptr)) = level::claim() else {
        return;
    };
    hit(config, Hit { slot, level, ctx }, ptr);
    level::release(ptr);
}

/// What every step of a hit needs to find its configuration and memory.
/// `ctx` stays a context pointer for the verifier through the spill to the
/// stack slot a `bpf_loop` callback reads it from.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Hit {
    pub slot: u32,
    /// The scratch level (see `level`).
    pub level: u32,
    pub ctx: *const u8,
}

/// The hit's pipeline: copy the record, capture, filter, update maps, emit.
#[inline(always)]
fn hit(config: &SlotConfig, hit: Hit, ptr: *mut Scratch) {
    // SAFETY (each `&mut *ptr` below): this hit's scratch level, exclusive
    // to it while it runs; each reference ends before the next step, and
    // none is live while a callback reaches the same memory.
    if copy_record(config, unsafe { &mut *ptr }, hit.ctx).is_err() {
        return;
    }
    let phase1 = config.nphase1;
    unsafe { (*ptr).event.slot = hit.slot };
    captures(hit, 0, phase1);
    if config.nlookups != 0 {
        aggregate::lookups(hit, config.nlookups);
    }
    if config.npred != 0 && vm::eval(hit, 0, config.npred, ptr).is_none_or(|v| v == 0) {
        return;
    }
    captures(hit, phase1, config.ncaptures);
    if config.join.source != source::NONE {
        join(hit);
    }
    // Computed values serve map updates and user space (BTF-typed reads
    // it prints).
    if config.ncomputes != 0 {
        compute(config, hit, ptr);
    }
    if config.nmap_ops != 0 {
        aggregate::update(hit, config.nmap_ops);
    }
    // Last, as in the program's source order: user space acting on the
    // event (exit(), printing a map) finds this hit's updates in the maps.
    if config.action & action::EMIT != 0 {
        emit(hit.ctx, ptr, config.event_len);
    }
}

/// Copies the context, and what its word at `deref_offset` points to, in one
/// read each: field captures then cost no helper call.
#[inline(always)]
fn copy_record(config: &SlotConfig, scratch: &mut Scratch, ctx: *const u8) -> Result<(), i64> {
    let len = (config.ctx_len as usize).min(CTX_COPY);
    if len != 0 {
        // SAFETY: the helper faults safely; `len` is bounded by the buffer.
        unsafe { bpf_probe_read_kernel_buf(ctx, &mut scratch.record[..len]) }?;
    }
    let len = (config.deref_len as usize).min(CTX_COPY);
    if len != 0 {
        let ptr = field(scratch, config.deref_offset as u16, 8, 0) as *const u8;
        // SAFETY: as above.
        unsafe { bpf_probe_read_kernel_buf(ptr, &mut scratch.record[CTX_COPY..CTX_COPY + len]) }?;
    }
    Ok(())
}

/// What a capture step needs.
#[repr(C)]
struct CaptureStep {
    hit: Hit,
    start: u32,
}

/// Runs captures `start..end`, one `bpf_loop` step each: the verifier then
/// checks one capture once instead of every unrolled iteration.
#[inline(always)]
fn captures(hit: Hit, start: u32, end: u32) {
    if end <= start {
        return;
    }
    let mut step = CaptureStep { hit, start };
    let n = (end - start).min(MAX_CAPTURES as u32);
    steps::repeat(n, run_capture, (&raw mut step).cast());
}

#[inline(never)]
extern "C" fn run_capture(i: u64, step: *mut c_void) -> i64 {
    // SAFETY: `step` is the CaptureStep passed by `captures`.
    let step = unsafe { &*step.cast::<CaptureStep>() };
    let (Some(config), Some(scratch)) = (SLOTS.get(step.hit.slot), scratch(step.hit.level)) else {
        return 1;
    };
    // SAFETY: this hit's scratch level, exclusive to it while it runs.
    let scratch = unsafe { &mut *scratch };
    let i = (step.start as usize + i as usize) & (CAPTURE_SLOTS - 1);
    capture(&config.captures[i], scratch, step.hit.ctx);
    0
}

/// Runs one capture.
#[inline(always)]
fn capture(c: &Capture, scratch: &mut Scratch, ctx: *const u8) {
    {
        match c.source {
            source::COMM => {
                // Not cleared first: the helper pads the 16 bytes with NULs,
                // and nothing reads a comm beyond them.
                let s = string(scratch, c.dest);
                // Straight into the event: the safe wrapper zeroes and copies
                // a stack buffer through byte-wise memset/memcpy calls.
                // SAFETY: `s` has room for TASK_COMM_LEN (16) bytes.
                unsafe { generated::bpf_get_current_comm(s.as_mut_ptr().cast(), 16) };
            }
            source::USER_STR
            | source::KERNEL_STR
            | source::CTX_STR
            | source::DATA_LOC_STR
            | source::ANY_STR => {
                let ptr = match c.source {
                    source::CTX_STR => ctx.wrapping_add(c.offset as usize),
                    source::DATA_LOC_STR => {
                        let loc = field(scratch, c.offset, 4, 0);
                        ctx.wrapping_add((loc & 0xffff) as usize)
                    }
                    _ if c.flags & flags::FROM_VALUE != 0 => {
                        scratch.event.values[c.offset as usize & (MAX_VALUES - 1)] as *const u8
                    }
                    _ => field(scratch, c.offset, 8, 0) as *const u8,
                };
                let n = (c.size as usize).clamp(1, STR_LEN);
                let s = clear_string(scratch, c.dest);
                // SAFETY: the helpers fault safely and stop at the buffer's end.
                let _ = unsafe {
                    match c.source {
                        source::USER_STR => bpf_probe_read_user_str_bytes(ptr, &mut s[..n]),
                        source::ANY_STR => {
                            if bpf_probe_read_user_str_bytes(ptr, &mut s[..n]).is_ok() {
                                Ok(&s[..0])
                            } else {
                                bpf_probe_read_kernel_str_bytes(ptr, &mut s[..n])
                            }
                        }
                        _ => bpf_probe_read_kernel_str_bytes(ptr, &mut s[..n]),
                    }
                };
            }
            source::USER_BUF | source::KERNEL_BUF => {
                let ptr = field(scratch, c.offset, 8, 0) as *const u8;
                let mut n = c.size as u64;
                if c.flags & flags::LEN_VALUE != 0 {
                    n = n.min(scratch.event.values[c.arg as usize & (MAX_VALUES - 1)]);
                }
                let s = clear_string(scratch, c.dest);
                // A whole slot, or a masked length below it: a size the
                // verifier bounds without following the comparison.
                let dst = if n >= STR_LEN as u64 { &mut s[..] } else { &mut s[..n as usize & (STR_LEN - 1)] };
                // SAFETY: the helpers fault safely and write `dst` only; on
                // a fault they zero it, as bpftrace's read does.
                let _ = unsafe {
                    match c.source {
                        source::USER_BUF => bpf_probe_read_user_buf(ptr, dst),
                        _ => bpf_probe_read_kernel_buf(ptr, dst),
                    }
                };
            }
            src => {
                let v = match src {
                    source::PID => bpf_get_current_pid_tgid() >> 32,
                    source::TID => bpf_get_current_pid_tgid() & 0xffff_ffff,
                    source::UID => bpf_get_current_uid_gid() & 0xffff_ffff,
                    source::GID => bpf_get_current_uid_gid() >> 32,
                    // SAFETY: these helpers have no preconditions.
                    source::CPU => (unsafe { bpf_get_smp_processor_id() }) as u64,
                    source::NSECS => unsafe { bpf_ktime_get_ns() },
                    source::CGROUP => unsafe { bpf_get_current_cgroup_id() },
                    source::CURTASK => unsafe { generated::bpf_get_current_task() },
                    source::FIELD => field(scratch, c.offset, c.size, c.flags),
                    source::USER_INT => user_int(scratch, c),
                    source::CONST => c.offset as u64,
                    source::KSTACK | source::USTACK => stack_id(ctx, src == source::USTACK),
                    _ => 0,
                };
                scratch.event.values[c.dest as usize & (MAX_VALUES - 1)] = v;
            }
        }
    }
}

/// Reads join()'s array and its strings into the join area, one `bpf_loop`
/// step per element.
#[inline(always)]
fn join(hit: Hit) {
    let mut step = hit;
    steps::repeat(JOIN_ARGS as u32, join_element, (&raw mut step).cast());
}

/// Element `i`: its pointer, then its string. An unreadable pointer, NULL,
/// or an empty string ends the list (bpftrace 0.17 prints up to the first
/// empty element), so the element is left empty and the loop stops.
#[inline(never)]
extern "C" fn join_element(i: u64, step: *mut c_void) -> i64 {
    // SAFETY: `step` is the Hit passed by `join`.
    let hit = unsafe { &*step.cast::<Hit>() };
    let (Some(config), Some(scratch)) = (SLOTS.get(hit.slot), scratch(hit.level)) else {
        return 1;
    };
    // SAFETY: this hit's scratch level, exclusive to it while it runs.
    let scratch = unsafe { &mut *scratch };
    let i = i as usize & (JOIN_ARGS - 1);
    let at = field(scratch, config.join.offset, 8, 0).wrapping_add(8 * i as u64) as *const u64;
    let user = config.join.source == source::USER_STR;
    let s = &mut scratch.join[i];
    // SAFETY: the helpers fault safely and stop at the buffer's end.
    let read = unsafe {
        let ptr = if user { bpf_probe_read_user(at) } else { bpf_probe_read_kernel(at) };
        match ptr {
            Ok(p) if p != 0 => {
                let p = p as *const u8;
                if user {
                    bpf_probe_read_user_str_bytes(p, &mut s[..]).map(|b| b.len())
                } else {
                    bpf_probe_read_kernel_str_bytes(p, &mut s[..]).map(|b| b.len())
                }
            }
            _ => Err(0),
        }
    };
    match read {
        Ok(n) if n != 0 => 0,
        _ => {
            s[0] = 0;
            1
        }
    }
}

/// Computes the values map keys are built from, into the event.
#[inline(always)]
fn compute(config: &SlotConfig, hit: Hit, ptr: *mut Scratch) {
    for i in 0..MAX_COMPUTES {
        if i >= config.ncomputes as usize {
            break;
        }
        let c = &config.computes[i];
        let v = vm::eval(hit, c.start as u32, c.len as u32, ptr).unwrap_or(0);
        // SAFETY: this hit's scratch; the expression machine is done with it.
        unsafe { (*ptr).event.values[c.dest as usize & (MAX_VALUES - 1)] = v };
    }
}

/// Sends the event (and, for a slot that joins, the join area after it)
/// through the transport user space chose.
#[inline(always)]
fn emit(ctx: *const u8, ptr: *const Scratch, len: u32) {
    // SAFETY: this hit's scratch memory; the join area follows the event
    // (asserted with `Scratch`), so `JOINED_LEN` bytes from the event are in
    // it.
    let event = unsafe { (&raw const (*ptr).event).cast::<u8>() };
    let joined = len > size_of::<Event>() as u32;
    // SAFETY: a global set once at load time.
    if unsafe { core::ptr::read_volatile(&raw const TRANSPORT) } == 1 {
        // Two constant sizes, which any verifier bounds.
        let size = if joined { Event::JOINED_LEN } else { size_of::<Event>() as u32 };
        // Counted here, not from the buffer's in-band loss records: the
        // kernel writes one only before the next record that fits, so the
        // losses after the last never reach user space.
        // SAFETY: `ctx` is this program's context; the map pointer is the
        // perf array's definition, as the helper expects; `size` bytes from
        // the event are in the scratch memory.
        let rc = unsafe {
            generated::bpf_perf_event_output(
                ctx as *mut c_void,
                (&raw const PERF_EVENTS) as *mut c_void,
                BPF_F_CURRENT_CPU as u64,
                event.cast_mut().cast(),
                size as u64,
            )
        };
        if rc != 0 {
            bump(&LOST);
        }
        return;
    }
    // Only the bytes in use: a ring buffer holds many more small events.
    let len = (len as usize).min(Event::JOINED_LEN as usize);
    // SAFETY: `len` bytes from the event, in the scratch memory (above).
    let bytes = unsafe { core::slice::from_raw_parts(event, len) };
    if EVENTS.output::<[u8]>(bytes, 0).is_err() {
        bump(&LOST);
    }
}

/// The stack's id in `STACKS`, or `u64::MAX` when it could not be taken.
#[inline(always)]
fn stack_id(ctx: *const u8, user: bool) -> u64 {
    let flags = if user { BPF_F_USER_STACK as u64 } else { 0 };
    // SAFETY: `ctx` is this program's context; the map pointer is the stack
    // map's definition, as the helper expects.
    let id =
        unsafe { bpf_get_stackid(ctx as *mut c_void, (&raw const STACKS) as *mut c_void, flags) };
    if id < 0 { u64::MAX } else { id as u64 }
}

/// String buffer `dest`.
#[inline(always)]
fn string(scratch: &mut Scratch, dest: u16) -> &mut [u8; STR_LEN] {
    &mut scratch.event.strings[dest as usize & (MAX_STRINGS - 1)]
}

/// String buffer `dest`, zeroed word by word so no stale byte survives.
#[inline(always)]
fn clear_string(scratch: &mut Scratch, dest: u16) -> &mut [u8; STR_LEN] {
    let s = string(scratch, dest);
    let words = s.as_mut_ptr() as *mut u64;
    for w in 0..STR_LEN / 8 {
        // SAFETY: in bounds, and 8-aligned: strings follow u64 values in Event.
        // Volatile: a plain loop becomes a call to a byte-wise memset.
        unsafe { words.add(w).write_volatile(0) };
    }
    s
}

/// Reads an integer of `c.size` bytes in user memory at the address at
/// `c.offset` of the record copy plus `c.displacement`; 0 where that faults.
#[inline(always)]
fn user_int(scratch: &Scratch, c: &Capture) -> u64 {
    let at = field(scratch, c.offset, 8, 0).wrapping_add(c.displacement as i64 as u64);
    vm::load(at, c.size, c.flags & flags::SIGNED != 0, true)
}

/// Reads an integer of `size` bytes at `offset` of the record copy.
#[inline(always)]
pub fn field(scratch: &Scratch, offset: u16, size: u16, flags_: u16) -> u64 {
    let off = offset as usize & (MAX_RECORD - 1);
    let p = scratch.record.as_ptr().wrapping_add(off);
    // SAFETY: `off < MAX_RECORD` and the record has 8 spare bytes; user space
    // only configures naturally aligned fields.
    unsafe {
        let signed = flags_ & flags::SIGNED != 0;
        match size {
            1 if signed => *(p as *const i8) as i64 as u64,
            1 => *p as u64,
            2 if signed => *(p as *const i16) as i64 as u64,
            2 => *(p as *const u16) as u64,
            4 if signed => *(p as *const i32) as i64 as u64,
            4 => *(p as *const u32) as u64,
            _ => *(p as *const u64),
        }
    }
}
