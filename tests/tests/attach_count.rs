//! mcptrace's attach count (after wildcard expansion) against the number
//! bpftrace prints in "Attaching N probes..." when it really runs the program.

use std::process::{Command, Stdio};

use mcptrace::{check::SystemHost, frontend};

/// Runs `program` under bpftrace (it must exit by itself) and returns N from
/// its "Attaching N probe(s)..." line.
fn bpftrace_attach_count(program: &str) -> usize {
    let out = Command::new("bpftrace")
        .args(["-e", program])
        .stdin(Stdio::null())
        .output()
        .expect("bpftrace is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix("Attaching ")).unwrap_or_else(|| {
        panic!(
            "no Attaching line for {program}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    line.split(' ').next().and_then(|n| n.parse().ok()).expect("a count")
}

#[test]
fn attach_counts_match_bpftrace() {
    mcptrace_tests::require_root();
    for program in [
        "BEGIN { exit() }",
        "tracepoint:syscalls:sys_enter_open* { @ = count() } BEGIN { exit() }",
        "tracepoint:sched:sched_process_e* { @ = count() } BEGIN { exit() } END { }",
        "uprobe:/bin/bash:readline* { @ = count() } BEGIN { exit() }",
        "profile:hz:99 { @ = count() } software:cpu-clock:100000 { @s = count() } BEGIN { exit() }",
        "tracepoint:syscalls:sys_enter_read, tracepoint:syscalls:sys_enter_write { @ = count() } interval:ms:10 { exit() }",
    ] {
        let (_, plan) = frontend::prepare(program, SystemHost::shared())
            .unwrap_or_else(|e| panic!("{}", e.render(program, "stdin")));
        assert_eq!(plan.attach_count, bpftrace_attach_count(program), "{program}");
    }
}
