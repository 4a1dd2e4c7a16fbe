//! Kernel-function probes (kprobe, kretprobe, kfunc, kretfunc) are chosen by
//! what this kernel supports, found at run time: where a kind cannot attach,
//! every backend refuses the program at once, naming the missing feature and
//! a tracepoint that covers the same ground; where it can, the program runs
//! (kprobes natively too, fentry through bpftrace).

use std::process::Output;

use mcptrace::host::{features, fentry};
use mcptrace_tests::{mcptrace, require_root};

fn run(backend: &str, program: &str) -> Output {
    mcptrace()
        .args(["run", "--backend", backend, "--timeout", "2", "-e", program])
        .output()
        .expect("run mcptrace")
}

#[test]
fn kernel_function_probes_follow_what_the_kernel_supports() {
    require_root();
    let kprobe = features::get().kprobe.clone();
    let fentry = fentry::support();
    let cases = [
        ("kprobe:do_sys_openat2 { exit(); }", &kprobe, "sys_enter_openat2"),
        ("kretprobe:do_sys_openat2 { exit(); }", &kprobe, "sys_exit_openat2"),
        ("kfunc:do_sys_openat2 { exit(); }", &fentry, "sys_enter_openat2"),
        ("kretfunc:vfs_read { exit(); }", &fentry, "sys_exit_read"),
    ];
    for (program, support, tracepoint) in cases {
        for backend in ["auto", "bpftrace", "native"] {
            let out = run(backend, program);
            let stderr = String::from_utf8_lossy(&out.stderr);
            match support {
                features::Support::No(why) => {
                    assert!(!out.status.success(), "{backend}: {program} ran");
                    assert!(stderr.contains(why.as_str()), "{backend}: {program}: {stderr}");
                    let suggestion = format!("use `tracepoint:syscalls:{tracepoint}` instead");
                    assert!(stderr.contains(&suggestion), "{backend}: {program}: {stderr}");
                }
                // Supported here: kprobes run natively too; fentry only
                // through bpftrace.
                features::Support::Yes if backend == "native" && program.contains("func:") => {
                    assert_eq!(out.status.code(), Some(2), "{program}: {stderr}");
                }
                features::Support::Yes => {
                    assert!(out.status.success(), "{backend}: {program}: {stderr}");
                }
            }
        }
    }
}
