//! `--scope`: every probe sees only the events of one process or cgroup, on
//! both backends; a process outside the scope, doing the same calls at the
//! same time, never shows up.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use mcptrace_tests::{HeldWorkload, mcptrace, native_only, require_root};

const CALLS: usize = 50;

/// Runs a printf per getpid() under `scope` while `inside` and `outside`
/// each make CALLS calls, one after the other; returns the pids printed.
fn pids_seen(scope: &str, backend: &str, inside: HeldWorkload, outside: HeldWorkload) -> Vec<u32> {
    let mut child = mcptrace()
        .args(["run", "--backend", backend, "--scope", scope, "-e"])
        .arg(r#"tracepoint:syscalls:sys_enter_getpid { printf("%d\n", pid); }"#)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mcptrace run");
    let (tx, lines) = mpsc::channel();
    let out = BufReader::new(child.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        for line in out.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = lines.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
    if !first.starts_with("Attaching") {
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        panic!("{backend} under {scope} did not attach: {first}{err}");
    }
    inside.go();
    outside.go();
    // Natively a stop reads everything buffered; bpftrace 0.17 reads no more
    // after an interrupt, so it first prints until its output goes quiet.
    let mut seen = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_millis(500)) {
        seen.push(line);
    }
    // SAFETY: interrupting our own child, as Ctrl-C would.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait().unwrap();
    reader.join().unwrap();
    seen.extend(lines.try_iter());
    seen.iter().filter_map(|l| l.trim().parse().ok()).collect()
}

fn backends() -> Vec<&'static str> {
    if native_only() { vec!["native"] } else { vec!["native", "bpftrace"] }
}

#[test]
fn a_pid_scope_sees_that_process_alone() {
    require_root();
    let calls = CALLS.to_string();
    for backend in backends() {
        let inside = HeldWorkload::spawn(&["getpid", &calls]);
        let outside = HeldWorkload::spawn(&["getpid", &calls]);
        let pid = inside.pid();
        let seen = pids_seen(&format!("pid={pid}"), backend, inside, outside);
        assert_eq!(seen, vec![pid; CALLS], "{backend}");
    }
}

/// A cgroup made for the test, removed when dropped.
struct TestCgroup(std::path::PathBuf);

impl TestCgroup {
    fn new() -> Self {
        let root = mcptrace::scope::cgroup2_root();
        let path = root.join(format!("mcptrace-scope-test-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create a cgroup in the cgroup v2 hierarchy");
        TestCgroup(path)
    }

    fn admit(&self, pid: u32) {
        std::fs::write(self.0.join("cgroup.procs"), pid.to_string()).expect("move into the cgroup");
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Its processes have exited by now; an empty cgroup is removed with rmdir.
        let _ = Command::new("rmdir").arg(&self.0).status();
    }
}

#[test]
fn a_cgroup_scope_sees_its_members_alone() {
    require_root();
    let calls = CALLS.to_string();
    for backend in backends() {
        let group = TestCgroup::new();
        let inside = HeldWorkload::spawn(&["getpid", &calls]);
        let outside = HeldWorkload::spawn(&["getpid", &calls]);
        let pid = inside.pid();
        group.admit(pid);
        let scope = format!("cgroup={}", group.0.display());
        let seen = pids_seen(&scope, backend, inside, outside);
        assert_eq!(seen, vec![pid; CALLS], "{backend}");
    }
}

#[test]
fn a_bad_scope_is_refused_before_anything_runs() {
    for (scope, says) in [
        ("pid=0", "a scope is pid=PID or cgroup=PATH"),
        ("pid=4194304", "no such process"),
        ("cgroup=/proc", "not a directory of the cgroup v2 hierarchy"),
    ] {
        let out = mcptrace()
            .args(["run", "--scope", scope, "-e", "BEGIN { exit(); }"])
            .output()
            .expect("run mcptrace");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{scope}: {err}");
    }
}

/// `cgroupid(path)` is the cgroup's id, resolved before the program runs,
/// and the workload's `cgroup` in that cgroup matches it, on either backend.
#[test]
fn cgroupid_names_the_cgroup_its_members_report() {
    require_root();
    let group = TestCgroup::new();
    let path = group.0.display().to_string();
    let program = format!(
        "BEGIN {{ printf(\"id %d\\n\", cgroupid(\"{path}\")); }} \
         tracepoint:syscalls:sys_enter_getpid /cgroup == cgroupid(\"{path}\")/ \
         {{ printf(\"member\\n\"); exit(); }}"
    );
    let id = std::fs::metadata(&group.0).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    for backend in backends() {
        let held = HeldWorkload::spawn(&["getpid", "1"]);
        group.admit(held.pid());
        let mut child = mcptrace()
            .args(["run", "--backend", backend, "--timeout", "20", "-e", &program])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run mcptrace");
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while std::io::BufRead::read_line(&mut out, &mut line).unwrap() > 0 && !line.contains("id ")
        {
            line.clear();
        }
        assert_eq!(line.trim(), format!("id {id}"), "{backend}");
        held.go();
        let rest = std::io::read_to_string(out).unwrap();
        assert!(child.wait().unwrap().success(), "{backend}");
        assert!(rest.contains("member"), "{backend}: {rest}");
    }
}
