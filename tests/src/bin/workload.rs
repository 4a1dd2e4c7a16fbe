//! A deterministic workload: does exactly the operations it is told to, so
//! tests can assert exact counts of what a trace sees.
//!
//! usage: mcpt-workload OP... where OP is one of
//!   open PATH N     open PATH (read-only, may not exist) N times
//!   getpid N        call getpid N times

use std::{ffi::CString, process::ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(op) = it.next() {
        let mut arg = || it.next().cloned().unwrap_or_default();
        match op.as_str() {
            "open" => {
                let path = CString::new(arg()).expect("path without NUL");
                for _ in 0..count(&arg()) {
                    // SAFETY: valid C string; a returned fd is closed at once.
                    unsafe {
                        let fd = libc::openat(libc::AT_FDCWD, path.as_ptr(), libc::O_RDONLY);
                        if fd >= 0 {
                            libc::close(fd);
                        }
                    }
                }
            }
            "getpid" => {
                for _ in 0..count(&arg()) {
                    // SAFETY: no preconditions; the raw syscall defeats caching.
                    unsafe { libc::syscall(libc::SYS_getpid) };
                }
            }
            other => {
                eprintln!("mcpt-workload: unknown operation `{other}`");
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

fn count(s: &str) -> u64 {
    s.parse().unwrap_or_else(|_| panic!("not a count: `{s}`"))
}
