//! Evaluates a slot's captures into the per-CPU scratch event and sends it.

use aya_ebpf::helpers::{
    bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
    bpf_get_current_uid_gid, bpf_get_smp_processor_id, bpf_ktime_get_ns, bpf_probe_read_kernel_buf,
    bpf_probe_read_kernel_str_bytes, bpf_probe_read_user_str_bytes,
};
use mcptrace_common::{
    Event,
    limits::{MAX_CAPTURES, MAX_RECORD, MAX_STRINGS, MAX_VALUES, STR_LEN},
    slot::{flags, source},
};

use crate::maps::{EVENTS, LOST, SCRATCH, SLOTS, Scratch};

/// Runs slot `slot` for one hit whose tracepoint record (if any) is at `record`.
#[inline(always)]
pub fn run(slot: u32, record: *const u8) {
    let Some(config) = SLOTS.get(slot) else {
        return;
    };
    let Some(scratch) = SCRATCH.get_ptr_mut(0) else {
        return;
    };
    // SAFETY: per-CPU map memory, exclusive to this CPU while the program runs.
    let scratch: &mut Scratch = unsafe { &mut *scratch };

    if config.record_len != 0 && !record.is_null() {
        let len = (config.record_len as usize).min(MAX_RECORD);
        // SAFETY: the helper faults safely; `len` is bounded by the buffer.
        if unsafe { bpf_probe_read_kernel_buf(record, &mut scratch.record[..len]) }.is_err() {
            return;
        }
    }

    scratch.event.slot = slot;
    let n = config.ncaptures as usize;
    for i in 0..MAX_CAPTURES {
        if i >= n {
            break;
        }
        let c = &config.captures[i];
        match c.source {
            source::COMM => {
                let s = string_slot(scratch, c.dest);
                if let Ok(comm) = bpf_get_current_comm() {
                    s[..comm.len()].copy_from_slice(&comm);
                }
            }
            source::FIELD_USER_STR | source::FIELD_KERNEL_STR => {
                let ptr = field(scratch, c.offset, 8, 0) as *const u8;
                let s = string_slot(scratch, c.dest);
                s[0] = 0;
                // SAFETY: the helpers fault safely and stop at the buffer's end.
                let _ = unsafe {
                    if c.source == source::FIELD_USER_STR {
                        bpf_probe_read_user_str_bytes(ptr, s)
                    } else {
                        bpf_probe_read_kernel_str_bytes(ptr, s)
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
                    _ => 0,
                };
                scratch.event.values[c.dest as usize & (MAX_VALUES - 1)] = v;
            }
        }
    }

    if EVENTS.output::<Event>(&scratch.event, 0).is_err()
        && let Some(lost) = LOST.get_ptr_mut(0)
    {
        // SAFETY: per-CPU counter.
        unsafe { *lost += 1 };
    }
}

/// The string buffer `dest`, masked so the verifier sees it in bounds.
#[inline(always)]
fn string_slot(scratch: &mut Scratch, dest: u16) -> &mut [u8; STR_LEN] {
    // MAX_STRINGS is not a power of two: clamp instead of masking.
    let i = (dest as usize).min(MAX_STRINGS - 1);
    &mut scratch.event.strings[i]
}

/// Reads an integer field of `size` bytes at `offset` of the copied record.
#[inline(always)]
fn field(scratch: &Scratch, offset: u16, size: u16, flags_: u16) -> u64 {
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
