//! Facts about the running kernel and binaries: tracefs and tracepoint
//! formats, kernel symbols, ELF symbols, user names, cgroup hierarchies,
//! running processes, and which probe kinds attach here.

pub mod attached;
pub mod bpf_stats;
mod bpf_syscall;
pub mod btf;
pub mod cgroups;
pub mod elf;
pub mod features;
pub mod fentry;
pub mod headers;
pub mod kallsyms;
pub mod native_support;
pub mod processes;
pub mod symbolize;
pub mod syscalls;
pub mod traceable;
pub mod tracefs;
pub mod users;
