//! One probe hit: copy the record, capture, filter, emit.

use aya_ebpf::helpers::{
    bpf_get_current_cgroup_id, bpf_get_current_pid_tgid, bpf_get_current_uid_gid,
    bpf_get_smp_processor_id, bpf_ktime_get_ns, bpf_probe_read_kernel_buf,
    bpf_probe_read_kernel_str_bytes, bpf_probe_read_user_str_bytes, generated,
};
use mcptrace_common::{
    Capture, Event, SlotConfig,
    limits::{
        CAPTURE_SLOTS, CTX_COPY, MAX_CAPTURES, MAX_COMPUTES, MAX_RECORD, MAX_STRINGS, MAX_VALUES,
        STR_LEN,
    },
    slot::{action, flags, source},
};

use core::ffi::c_void;

use aya_ebpf::{EbpfContext, bindings::BPF_F_USER_STACK, helpers::bpf_get_stackid};

use crate::{
    aggregate,
    maps::{EVENTS, LOST, PERF_EVENTS, SCRATCH, SLOTS, STACKS, Scratch, TRANSPORT, bump},
    steps, vm,
};

/// Runs slot `slot` for one hit with context `ctx`.
#[inline(always)]
pub fn run(slot: u32, ctx: *const u8) {
    let Some(config) = SLOTS.get(slot) else {
        return;
    };
    let Some(ptr) = SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY (each `&mut *ptr` below): per-CPU map memory, exclusive to this
    // CPU while the program runs; each reference ends before the next step,
    // and none is live while the predicate's callback reaches the same memory.
    if copy_record(config, unsafe { &mut *ptr }, ctx).is_err() {
        return;
    }
    let phase1 = config.nphase1;
    unsafe { (*ptr).event.slot = slot };
    captures(slot, ctx, 0, phase1);
    if config.nlookups != 0 {
        aggregate::lookups(slot, config.nlookups);
    }
    if config.npred != 0 && vm::eval(slot, 0, config.npred, ptr).is_none_or(|v| v == 0) {
        return;
    }
    captures(slot, ctx, phase1, config.ncaptures);
    if config.action & action::EMIT != 0 {
        emit(ctx, unsafe { &(*ptr).event }, config.event_len);
    }
    if config.nmap_ops != 0 {
        compute(config, slot, ptr);
        aggregate::update(slot, config.nmap_ops);
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

/// What a capture step needs. `ctx` stays a context pointer for the
/// verifier through the spill to this stack slot.
#[repr(C)]
struct CaptureStep {
    slot: u32,
    start: u32,
    ctx: *const u8,
}

/// Runs captures `start..end`, one `bpf_loop` step each: the verifier then
/// checks one capture once instead of every unrolled iteration.
#[inline(always)]
fn captures(slot: u32, ctx: *const u8, start: u32, end: u32) {
    if end <= start {
        return;
    }
    let mut step = CaptureStep { slot, start, ctx };
    let n = (end - start).min(MAX_CAPTURES as u32);
    steps::repeat(n, run_capture, (&raw mut step).cast());
}

#[inline(never)]
extern "C" fn run_capture(i: u64, step: *mut c_void) -> i64 {
    // SAFETY: `step` is the CaptureStep passed by `captures`.
    let step = unsafe { &*step.cast::<CaptureStep>() };
    let (Some(config), Some(scratch)) = (SLOTS.get(step.slot), SCRATCH.get_ptr_mut(0)) else {
        return 1;
    };
    // SAFETY: per-CPU map memory, exclusive to this CPU while the program runs.
    let scratch = unsafe { &mut *scratch };
    let i = (step.start as usize + i as usize) & (CAPTURE_SLOTS - 1);
    capture(&config.captures[i], scratch, step.ctx);
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
                    source::FIELD => field(scratch, c.offset, c.size, c.flags),
                    source::CONST => c.offset as u64,
                    source::KSTACK | source::USTACK => stack_id(ctx, src == source::USTACK),
                    _ => 0,
                };
                scratch.event.values[c.dest as usize & (MAX_VALUES - 1)] = v;
            }
        }
    }
}

/// Computes the values map keys are built from, into the event.
#[inline(always)]
fn compute(config: &SlotConfig, slot: u32, ptr: *mut Scratch) {
    for i in 0..MAX_COMPUTES {
        if i >= config.ncomputes as usize {
            break;
        }
        let c = &config.computes[i];
        let v = vm::eval(slot, c.start as u32, c.len as u32, ptr).unwrap_or(0);
        // SAFETY: per-CPU memory; the expression machine is done with it.
        unsafe { (*ptr).event.values[c.dest as usize & (MAX_VALUES - 1)] = v };
    }
}

/// Sends the event through the transport user space chose.
#[inline(always)]
fn emit(ctx: *const u8, event: &Event, len: u32) {
    // SAFETY: a global set once at load time.
    if unsafe { core::ptr::read_volatile(&raw const TRANSPORT) } == 1 {
        // Perf buffers count their own losses and report them in-band.
        PERF_EVENTS.output(&RawContext(ctx as *mut c_void), event, 0);
        return;
    }
    // Only the bytes in use: a ring buffer holds many more small events.
    let len = (len as usize).min(size_of::<Event>());
    // SAFETY: `len` bytes of the event, which is `size_of::<Event>()` long.
    let bytes = unsafe { core::slice::from_raw_parts((event as *const Event).cast::<u8>(), len) };
    if EVENTS.output::<[u8]>(bytes, 0).is_err() {
        bump(&LOST);
    }
}

/// A program context by pointer, for helpers that take one.
struct RawContext(*mut c_void);

impl EbpfContext for RawContext {
    fn as_ptr(&self) -> *mut c_void {
        self.0
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
