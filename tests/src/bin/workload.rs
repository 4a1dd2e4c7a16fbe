//! A deterministic workload: does exactly the operations it is told to, so
//! tests can assert exact counts of what a trace sees.
//!
//! usage: mcpt-workload OP... where OP is one of
//!   open PATH N     open PATH (read-only, may not exist) N times
//!   getpid N        call getpid N times
//!   read N SIZE     read SIZE bytes from /dev/zero N times
//!   write N SIZE    write SIZE bytes to /dev/null N times
//!   usleep N US     sleep US microseconds, N times
//!   call N          call `mcpt_target(i)` for i in 1..=N (a uprobe target
//!                   that returns i * 2)
//!   calloffset N    call `mcpt_offset_target(i)` for i in 1..=N (x86-64: a
//!                   target for uprobes at an offset; returns i * 3)
//!   spin MS         keep a CPU busy for MS milliseconds of CPU time
//!   sleep MS        sleep MS milliseconds
//!   wait            read a line from stdin first (so a test can learn the
//!                   pid and scope its probes before anything happens)

use std::{ffi::CString, process::ExitCode, time::Duration};

/// The uprobe target: a real, unmangled, never-inlined function.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn mcpt_target(x: u64) -> u64 {
    std::hint::black_box(x) * 2
}

/// A uprobe target whose instructions are known, for probes at an offset
/// into a function: a one-byte `nop`, so `+1` starts an instruction and
/// `arg0` there is still the argument.
#[cfg(target_arch = "x86_64")]
#[unsafe(no_mangle)]
#[unsafe(naked)]
pub extern "C" fn mcpt_offset_target(x: u64) -> u64 {
    std::arch::naked_asm!("nop", "lea rax, [rdi + rdi * 2]", "ret")
}

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
            "read" | "write" => {
                let (n, size) = (count(&arg()), count(&arg()) as usize);
                let (path, flags) = if op == "read" {
                    (c"/dev/zero", libc::O_RDONLY)
                } else {
                    (c"/dev/null", libc::O_WRONLY)
                };
                let mut buf = vec![0u8; size];
                // SAFETY: valid path; `buf` holds `size` bytes; the fd is closed.
                unsafe {
                    let fd = libc::open(path.as_ptr(), flags);
                    for _ in 0..n {
                        if op == "read" {
                            libc::read(fd, buf.as_mut_ptr().cast(), size);
                        } else {
                            libc::write(fd, buf.as_ptr().cast(), size);
                        }
                    }
                    libc::close(fd);
                }
            }
            "usleep" => {
                let (n, us) = (count(&arg()), count(&arg()));
                for _ in 0..n {
                    std::thread::sleep(Duration::from_micros(us));
                }
            }
            "call" => {
                let mut sum = 0u64;
                for i in 1..=count(&arg()) {
                    sum = sum.wrapping_add(mcpt_target(std::hint::black_box(i)));
                }
                std::hint::black_box(sum);
            }
            #[cfg(target_arch = "x86_64")]
            "calloffset" => {
                let mut sum = 0u64;
                for i in 1..=count(&arg()) {
                    sum = sum.wrapping_add(mcpt_offset_target(std::hint::black_box(i)));
                }
                std::hint::black_box(sum);
            }
            // CPU time, not wall time: a sampling profiler then sees the
            // same number of samples however loaded the machine is.
            "spin" => {
                let end = cpu_time() + Duration::from_millis(count(&arg()));
                while cpu_time() < end {
                    std::hint::spin_loop();
                }
            }
            "sleep" => std::thread::sleep(Duration::from_millis(count(&arg()))),
            "wait" => {
                let mut line = String::new();
                let _ = std::io::stdin().read_line(&mut line);
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

/// CPU time this process has used.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
