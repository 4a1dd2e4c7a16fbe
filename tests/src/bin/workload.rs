//! A deterministic workload: does exactly the operations it is told to, so
//! tests can assert exact counts of what a trace sees.
//!
//! usage: mcpt-workload OP... where OP is one of
//!   open PATH N     open PATH (read-only, may not exist) N times
//!   getpid N        call getpid N times
//!   read N SIZE     read SIZE bytes from /dev/zero N times
//!   write N SIZE    write SIZE bytes to /dev/null N times
//!   writehex HEX    write the bytes HEX spells (two digits each) to
//!                   /dev/null once
//!   usleep N US     sleep US microseconds, N times
//!   call N          call `mcpt_target(i)` for i in 1..=N (a uprobe target
//!                   that returns i * 2)
//!   calloffset N    call `mcpt_offset_target(i)` for i in 1..=N (x86-64: a
//!                   target for uprobes at an offset; returns i * 3)
//!   usdt N          fire USDT probes `mcpt:tick` and `mcpt:name` for i in
//!                   1..=N (x86-64; no semaphores; arguments in `usdt_tick`
//!                   and `usdt_name`)
//!   spin MS         keep a CPU busy for MS milliseconds of CPU time
//!   execv PATH ARG... become PATH run with ARGs (argv[0] is PATH), in
//!                   this process, so its pid stays; takes every operation
//!                   left as an argument. An ARG `N*C` stands for N times
//!                   the character C.
//!   exec N          run this program with no operations N times, one
//!                   after the other (fork and exec, then wait)
//!   children N CODE fork N children one after the other, each exiting at
//!                   once with CODE through exit_group()
//!   signal N        send itself SIGUSR1 N times, each handled
//!   touch N         write to N fresh anonymous pages (no huge pages)
//!   malloc N SIZE   call libc malloc(SIZE) N times, freeing each
//!   tcp N SIZE      make N loopback TCP connections, each sending SIZE
//!                   bytes that the accepting side reads
//!   directwrite PATH N SIZE  write SIZE bytes N times to PATH with
//!                   O_DIRECT (SIZE a multiple of 4096), sync, remove PATH
//!   sleep MS        sleep MS milliseconds
//!   rename NAME     rename the calling thread NAME (its comm; 15 bytes at most)
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

/// A USDT probe site as `sys/sdt.h` lays it out: a `nop` where the probe
/// goes, and a `stapsdt` note (type 3) giving its address, the address of
/// the `.stapsdt.base` section (which tells tools whether the file was
/// moved since it was linked), no semaphore, then provider, name and the
/// argument specs. The specs name the registers the arguments are in, as
/// the register allocator chose them. `.stapsdt.base` is one byte in a
/// group section, so every probe of the program shares it, kept (`R`)
/// although only the non-loaded notes refer to it: the linker's garbage
/// collection would drop it, and the notes' base would then be 0.
#[cfg(target_arch = "x86_64")]
macro_rules! usdt_site {
    ($provider:literal, $name:literal, $args:literal, $($operands:tt)*) => {
        // SAFETY: a `nop`, and notes in sections of their own.
        unsafe {
            std::arch::asm!(
                "990: nop",
                ".pushsection .note.stapsdt,\"\",\"note\"",
                ".balign 4",
                ".4byte 992f-991f, 994f-993f, 3",
                "991: .asciz \"stapsdt\"",
                "992: .balign 4",
                "993: .8byte 990b, _.stapsdt.base, 0",
                concat!(".asciz \"", $provider, "\""),
                concat!(".asciz \"", $name, "\""),
                concat!(".asciz \"", $args, "\""),
                "994: .balign 4",
                ".popsection",
                ".ifndef _.stapsdt.base",
                ".pushsection .stapsdt.base,\"aGR\",\"progbits\",.stapsdt.base,comdat",
                ".weak _.stapsdt.base",
                ".hidden _.stapsdt.base",
                "_.stapsdt.base: .space 1",
                ".size _.stapsdt.base, 1",
                ".popsection",
                ".endif",
                $($operands)*
                // Not `nomem`: the probe's readers may look at memory the
                // arguments point to, which must be written by then.
                options(att_syntax, nostack, preserves_flags),
            )
        }
    };
}

/// `mcpt:tick`: arg0 = i (8 bytes), arg1 = -i (signed 4 bytes), arg2 = the
/// constant -7 (signed 4 bytes), arg3 = 100 * i read from memory 8 bytes
/// past a register's pointer, arg4 = -i (signed 2 bytes). Never inlined:
/// one site, one note.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
fn usdt_tick(i: u64) {
    let cell = std::hint::black_box([0u64, 100 * i]);
    let (neg, short) = ((i as i32).wrapping_neg(), (i as i16).wrapping_neg());
    usdt_site!(
        "mcpt", "tick", "8@{0} -4@{1:e} -4@$-7 8@8({2}) -2@{3:x}",
        in(reg) i, in(reg) neg, in(reg) cell.as_ptr(), in(reg) short,
    );
}

/// `mcpt:name`: arg0 = a pointer to the string "usdt-name", arg1 = i
/// (unsigned 4 bytes).
#[cfg(target_arch = "x86_64")]
#[inline(never)]
fn usdt_name(i: u64) {
    let name = c"usdt-name";
    // Read it first: a probe's read cannot fault a page in, and read-only
    // data the process never touched may not be mapped yet (a guest whose
    // files come over 9p).
    for b in name.to_bytes() {
        // SAFETY: a byte of the string.
        std::hint::black_box(unsafe { std::ptr::read_volatile(b) });
    }
    usdt_site!("mcpt", "name", "8@{0} 4@{1:e}", in(reg) name.as_ptr(), in(reg) i as u32,);
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
            "rename" => {
                let name = CString::new(arg()).expect("a name without NUL");
                // SAFETY: a NUL-terminated name; the kernel copies 16 bytes at most.
                unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) };
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
            #[cfg(target_arch = "x86_64")]
            "usdt" => {
                for i in 1..=count(&arg()) {
                    usdt_tick(i);
                    usdt_name(i);
                }
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
            "writehex" => {
                let hex = arg();
                let bytes: Vec<u8> = (0..hex.len() / 2)
                    .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex digits"))
                    .collect();
                // SAFETY: valid path; `bytes` holds what is written; the fd is closed.
                unsafe {
                    let fd = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
                    libc::write(fd, bytes.as_ptr().cast(), bytes.len());
                    libc::close(fd);
                }
            }
            "execv" => {
                let path = arg();
                let rest: Vec<String> = it.by_ref().map(|a| expand(a)).collect();
                let args: Vec<CString> = std::iter::once(path.clone())
                    .chain(rest)
                    .map(|a| CString::new(a).expect("an argument without NUL"))
                    .collect();
                let mut argv: Vec<*const libc::c_char> = args.iter().map(|a| a.as_ptr()).collect();
                argv.push(std::ptr::null());
                let path = CString::new(path).expect("a path without NUL");
                // SAFETY: NUL-terminated path and arguments, a NULL-ended
                // argv; returns only on failure.
                unsafe { libc::execv(path.as_ptr(), argv.as_ptr()) };
                eprintln!("mcpt-workload: execv: {}", std::io::Error::last_os_error());
                return ExitCode::from(1);
            }
            "exec" => {
                let me = std::env::current_exe().expect("own path");
                for _ in 0..count(&arg()) {
                    let status = std::process::Command::new(&me).status().expect("exec itself");
                    assert!(status.success());
                }
            }
            "children" => {
                let (n, code) = (count(&arg()), count(&arg()) as i32);
                for _ in 0..n {
                    fork_and_wait(code);
                }
            }
            "signal" => signal_self(count(&arg())),
            "touch" => touch_pages(count(&arg()) as usize),
            "malloc" => {
                let (n, size) = (count(&arg()), count(&arg()) as usize);
                for _ in 0..n {
                    // SAFETY: a fresh allocation, written within its size,
                    // freed once; black_box keeps the pair from being elided.
                    unsafe {
                        let p = std::hint::black_box(libc::malloc(size)).cast::<u8>();
                        assert!(!p.is_null());
                        p.write_volatile(1);
                        libc::free(p.cast());
                    }
                }
            }
            "tcp" => tcp_loopback(count(&arg()), count(&arg()) as usize),
            "directwrite" => {
                let path = arg();
                direct_writes(&path, count(&arg()), count(&arg()) as usize);
            }
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

/// Forks a child that exits at once with `code` and reaps it.
fn fork_and_wait(code: i32) {
    // SAFETY: the child only calls the async-signal-safe _exit.
    unsafe {
        let child = libc::fork();
        assert!(child >= 0, "fork failed");
        if child == 0 {
            libc::_exit(code);
        }
        let mut status = 0;
        libc::waitpid(child, &mut status, 0);
    }
}

static HANDLED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

extern "C" fn on_usr1(_: libc::c_int) {
    HANDLED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Sends itself SIGUSR1 `n` times; each is handled before kill() returns,
/// so none coalesce.
fn signal_self(n: u64) {
    // SAFETY: installs a handler that only touches an atomic; kill to self.
    unsafe {
        let handler: extern "C" fn(libc::c_int) = on_usr1;
        libc::signal(libc::SIGUSR1, handler as libc::sighandler_t);
        for _ in 0..n {
            libc::kill(libc::getpid(), libc::SIGUSR1);
        }
    }
    assert_eq!(HANDLED.load(std::sync::atomic::Ordering::Relaxed), n);
}

/// Faults in `n` fresh pages, one write each; huge pages are declined so
/// that each page is one fault.
fn touch_pages(n: usize) {
    const PAGE: usize = 4096;
    // SAFETY: a private anonymous mapping, written within its bounds and
    // unmapped after.
    unsafe {
        let len = n * PAGE;
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        let base = libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0);
        assert_ne!(base, libc::MAP_FAILED);
        libc::madvise(base, len, libc::MADV_NOHUGEPAGE);
        for i in 0..n {
            base.cast::<u8>().add(i * PAGE).write_volatile(1);
        }
        libc::munmap(base, len);
    }
}

fn tcp_loopback(n: u64, size: usize) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen on loopback");
    let address = listener.local_addr().expect("listening address");
    let sent = vec![7u8; size];
    let mut received = vec![0u8; size];
    for _ in 0..n {
        let mut client = std::net::TcpStream::connect(address).expect("connect");
        client.write_all(&sent).expect("send");
        let (mut server, _) = listener.accept().expect("accept");
        server.read_exact(&mut received).expect("receive");
    }
}

/// `n` O_DIRECT writes of `size` bytes to `path`, so each one reaches the
/// block device from this process, then a sync; `path` is removed after.
fn direct_writes(path: &str, n: u64, size: usize) {
    let layout = std::alloc::Layout::from_size_align(size, 4096).expect("aligned layout");
    let c_path = CString::new(path).expect("path without NUL");
    // SAFETY: an aligned buffer of `size` bytes, written from and freed;
    // the fd is closed.
    unsafe {
        let buf = std::alloc::alloc_zeroed(layout);
        assert!(!buf.is_null());
        let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC | libc::O_DIRECT;
        let fd = libc::open(c_path.as_ptr(), flags, 0o600);
        assert!(fd >= 0, "open {path} with O_DIRECT: {}", std::io::Error::last_os_error());
        for i in 0..n {
            let offset = (i as usize * size) as libc::off_t;
            let written = libc::pwrite(fd, buf.cast(), size, offset);
            assert_eq!(written, size as isize, "{}", std::io::Error::last_os_error());
        }
        libc::fdatasync(fd);
        libc::close(fd);
        libc::unlink(c_path.as_ptr());
        std::alloc::dealloc(buf, layout);
    }
}

/// `N*C` as N times the character C; any other argument as it is.
fn expand(arg: &str) -> String {
    let repeated = arg.split_once('*').and_then(|(n, c)| {
        let mut chars = c.chars();
        let (Ok(n), Some(c), None) = (n.parse::<usize>(), chars.next(), chars.next()) else {
            return None;
        };
        Some(c.to_string().repeat(n))
    });
    repeated.unwrap_or_else(|| arg.to_string())
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
