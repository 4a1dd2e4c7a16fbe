//! Shared pieces of the integration tests.

pub mod differential;
pub mod http;
pub mod mcp;

use std::{
    io::Write,
    path::PathBuf,
    process::{Child, Command, Stdio},
};

/// Fails the calling test with a clear message unless running as root:
/// these tests load BPF programs and must not pass silently without them.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test loads BPF programs and needs root (or CAP_BPF + CAP_PERFMON); \
         run `cargo xtask test` as root"
    );
}

/// The workload helper, whose comm is `mcpt-workload`.
pub fn workload() -> Command {
    Command::new(target_bin("mcpt-workload"))
}

/// A workload started but held before its first operation, so a test can
/// scope probes to its pid. `go` releases it and waits for it to finish.
pub struct HeldWorkload {
    child: Child,
}

impl HeldWorkload {
    pub fn spawn(ops: &[&str]) -> Self {
        let child = workload()
            .arg("wait")
            .args(ops)
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn mcpt-workload");
        Self { child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Releases the workload from its current `wait` and lets it run on.
    pub fn step(&mut self) {
        let stdin = self.child.stdin.as_mut().expect("piped stdin");
        stdin.write_all(b"go\n").expect("release the workload");
        stdin.flush().expect("release the workload");
    }

    /// Releases the workload and waits for it to finish.
    pub fn go(mut self) {
        self.step();
        drop(self.child.stdin.take());
        let status = self.child.wait().expect("wait for the workload");
        assert!(status.success(), "the workload failed: {status}");
    }
}

/// The `mcptrace` binary (`cargo xtask test` builds it before the tests).
pub fn mcptrace() -> Command {
    Command::new(target_bin("mcptrace"))
}

impl Drop for HeldWorkload {
    /// A workload never released is killed, not left waiting or unreaped.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A binary of this workspace, built beside the running test: tests run from
/// `target/<profile>/deps/`, binaries live in `target/<profile>/`.
pub fn target_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target dir");
    let bin = profile_dir.join(name);
    assert!(
        bin.is_file(),
        "{} is not built; run the tests with `cargo xtask test`, which builds it first",
        bin.display()
    );
    bin
}

/// Whether tests leave bpftrace out and hold the native backend to its
/// stated truths alone: `cargo xtask vmtest` sets MCPTRACE_NATIVE_ONLY=1 in
/// emulated guests, where bpftrace takes about a minute to start.
pub fn native_only() -> bool {
    std::env::var("MCPTRACE_NATIVE_ONLY").is_ok_and(|v| v == "1")
}

/// The comm the kernel reports for the workload helper.
pub const WORKLOAD_COMM: &str = "mcpt-workload";

/// A path no other process on the machine will open.
pub fn unique_path(tag: &str) -> PathBuf {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    std::env::temp_dir().join(format!("mcptrace-{tag}-{}-{nanos}", std::process::id()))
}
