//! Builtins in BEGIN and END, which run in the tracing process: they read
//! that process (thread, CPU, clock), as bpftrace's BEGIN reads bpftrace.

use crate::{ir::TracerBuiltin, output::Value};

pub fn value(builtin: TracerBuiltin) -> Value {
    // SAFETY (each libc call): no arguments but a buffer of the size the
    // call documents; none can fail in a way that matters here.
    match builtin {
        TracerBuiltin::Pid => Value::uint(u64::from(std::process::id())),
        TracerBuiltin::Tid => Value::uint(unsafe { libc::gettid() } as u64),
        TracerBuiltin::Uid => Value::uint(u64::from(unsafe { libc::getuid() })),
        TracerBuiltin::Gid => Value::uint(u64::from(unsafe { libc::getgid() })),
        TracerBuiltin::Cpu => Value::uint(unsafe { libc::sched_getcpu() }.max(0) as u64),
        TracerBuiltin::Nsecs => Value::uint(monotonic_ns()),
        TracerBuiltin::Comm => {
            // The thread's name, at most 16 bytes with its NUL.
            let mut name = [0u8; 16];
            unsafe { libc::prctl(libc::PR_GET_NAME, name.as_mut_ptr()) };
            let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            Value::Str(name[..len].to_vec())
        }
    }
}

/// CLOCK_MONOTONIC, the clock of `bpf_ktime_get_ns` and so of `nsecs`.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
