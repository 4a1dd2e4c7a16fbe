//! Which scratch memory a hit uses: each slot program mid-run on a CPU needs
//! its own, because slot programs can run inside one another there.
//!
//! What can start on a CPU while a slot program is mid-way on it (kernel
//! sources as of 6.1):
//! - interrupts, softirqs and NMIs, in which tracepoint, raw tracepoint,
//!   kprobe and perf-event slots fire (a hardware perf event is an NMI);
//! - tracepoints hit inside the helpers the program calls;
//! - on a preemptible kernel, another task: uprobe programs run with only
//!   migration disabled (`bpf_prog_run_array_uprobe`, since 6.0), so a task
//!   can be preempted inside one and the next task run slots on that CPU.
//!
//! The kernel's `bpf_prog_active` keeps tracepoint, kprobe and perf-event
//! programs out of each other (`trace_call_bpf`, `bpf_overflow_handler`),
//! but a raw tracepoint program only refuses to re-enter itself
//! (`__bpf_trace_run`) and a uprobe program takes neither guard. So slots
//! nest, and through preemption not in last-in-first-out order: a depth
//! counter would hand out a level that a preempted program still uses. Each
//! level has a busy flag instead, taken by an atomic exchange, which no
//! interleaving can split. A hit that finds every level taken is counted in
//! `DROPPED_HITS` and dropped.

use crate::maps::{DROPPED_HITS, LEVELS, SCRATCH, Scratch, bump};

/// Takes the first free scratch level of this CPU: its index and memory.
#[inline(always)]
pub fn claim() -> Option<(u32, *mut Scratch)> {
    for level in 0..LEVELS {
        let Some(scratch) = SCRATCH.get_ptr_mut(level) else {
            break;
        };
        // SAFETY: map memory of this CPU; the flag is only ever exchanged
        // or written by its holder.
        if unsafe { take(&raw mut (*scratch).busy) } {
            return Some((level, scratch));
        }
    }
    bump(&DROPPED_HITS);
    None
}

/// Hands a level taken by `claim` back, after every access to its memory:
/// the store is written out because the BPF backend has no compiler fence,
/// and a statement of assembly is one the compiler moves no memory access
/// across.
#[inline(always)]
pub fn release(scratch: *mut Scratch) {
    // SAFETY: the holder's own flag, in map memory.
    unsafe {
        core::arch::asm!(
            "*(u64 *)({flag} + 0) = {zero}",
            flag = in(reg) &raw mut (*scratch).busy,
            zero = in(reg) 0u64,
            options(nostack),
        )
    };
}

/// Sets `*flag` to 1 in one atomic exchange; true when it was 0.
///
/// # Safety
/// `flag` points to a u64 in map memory.
#[inline(always)]
unsafe fn take(flag: *mut u64) -> bool {
    let mut old: u64 = 1;
    // Rust offers the BPF target no atomic read-modify-write (its atomics
    // lower to plain loads and stores), so the instruction is written out.
    // SAFETY: BPF_XCHG on a valid map value pointer (kernel 5.12+).
    unsafe {
        core::arch::asm!(
            "{old} = xchg_64({flag} + 0, {old})",
            flag = in(reg) flag,
            old = inout(reg) old,
            options(nostack),
        )
    };
    old == 0
}
