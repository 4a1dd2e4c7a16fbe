//! Kernel-function probes (kprobe, kretprobe, kfunc, kretfunc) follow what
//! this kernel supports, found at run time: where a kind cannot attach,
//! every backend refuses the program at once, naming the missing feature and
//! a tracepoint that covers the same ground; where it can, the program runs
//! on every backend.

use std::{
    process::{Output, Stdio},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use mcptrace::host::{features, fentry};
use mcptrace_tests::{mcptrace, native_only, require_root, unique_path};

/// Runs `program` (which exits at its first event) while this process
/// opens and reads a file every 20 ms, so the probed functions are called.
/// The time limit is generous: bpftrace takes a minute to start in an
/// emulated guest.
fn run(backend: &str, program: &str) -> Output {
    let child = mcptrace()
        .args(["run", "--backend", backend, "--timeout", "120", "-e", program])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run mcptrace");
    let done = AtomicBool::new(false);
    let path = unique_path("kfn");
    std::fs::write(&path, b"x").unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let _ = std::fs::read(&path);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let out = child.wait_with_output().expect("wait for mcptrace");
        done.store(true, Ordering::Relaxed);
        let _ = std::fs::remove_file(&path);
        out
    })
}

#[test]
fn kernel_function_probes_follow_what_the_kernel_supports() {
    require_root();
    let kprobe = features::get().kprobe.clone();
    let fentry = fentry::support();
    // (program, what it needs, the tracepoint suggested without it, whether
    // bpftrace is tried too: one per kind, as it is slow in an emulator).
    let cases = [
        ("kprobe:do_sys_openat2 { exit(); }", &kprobe, "sys_enter_openat2", true),
        ("kretprobe:do_sys_openat2 { exit(); }", &kprobe, "sys_exit_openat2", false),
        ("kfunc:do_sys_openat2 { exit(); }", &fentry, "sys_enter_openat2", true),
        ("kretfunc:vfs_read { exit(); }", &fentry, "sys_exit_read", false),
    ];
    for (program, support, tracepoint, with_bpftrace) in cases {
        let backends: &[&str] = if with_bpftrace && !native_only() {
            &["auto", "native", "bpftrace"]
        } else {
            &["auto", "native"]
        };
        for backend in backends {
            let out = run(backend, program);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            match support {
                features::Support::No(why) => {
                    assert!(!out.status.success(), "{backend}: {program} ran");
                    assert!(stderr.contains(why.as_str()), "{backend}: {program}: {stderr}");
                    let suggestion = format!("use `tracepoint:syscalls:{tracepoint}` instead");
                    assert!(stderr.contains(&suggestion), "{backend}: {program}: {stderr}");
                }
                features::Support::Yes => {
                    assert!(out.status.success(), "{backend}: {program}: {stderr}");
                    assert!(stdout.starts_with("Attaching 1 probe...\n"), "{backend}: {stdout}");
                    // Natively unless bpftrace was asked for: no fallback.
                    assert!(!stderr.contains("running with bpftrace"), "{backend}: {stderr}");
                }
            }
        }
    }
}
