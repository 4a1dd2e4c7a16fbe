//! How many BPF programs another process has attached: its file descriptors
//! that the kernel reports (BPF_TASK_FD_QUERY) as a perf event or raw
//! tracepoint with a BPF program on it. bpftrace says it is attaching
//! before it attaches; this says when it has.

use std::io;

use super::bpf_syscall;

const BPF_TASK_FD_QUERY: libc::c_long = 20;

/// `union bpf_attr` as BPF_TASK_FD_QUERY reads and writes it.
#[repr(C)]
#[derive(Default)]
struct TaskFdQuery {
    pid: u32,
    fd: u32,
    flags: u32,
    buf_len: u32,
    buf: u64,
    prog_id: u32,
    fd_type: u32,
    probe_offset: u64,
    probe_addr: u64,
}

/// Descriptors of process `pid` with a BPF program attached to them.
pub fn count(pid: u32) -> io::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        let Some(fd) = entry?.file_name().to_str().and_then(|f| f.parse::<u32>().ok()) else {
            continue;
        };
        let mut attr = TaskFdQuery { pid, fd, ..TaskFdQuery::default() };
        // SAFETY: BPF_TASK_FD_QUERY's bpf_attr, with no pointers set.
        if unsafe { bpf_syscall::call(BPF_TASK_FD_QUERY, &mut attr) }.is_ok() {
            n += 1;
        }
    }
    Ok(n)
}
