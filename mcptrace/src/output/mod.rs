//! Output in bpftrace's formats, shared by every backend that renders it.

pub mod printf;
