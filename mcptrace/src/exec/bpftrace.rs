//! The bpftrace backend: the `bpftrace` binary as a child process in its own
//! process group, dying with the server (parent-death signal), stopped with
//! SIGINT so END runs and maps print, killed if it does not go.

use std::{
    io::{BufRead, BufReader, Read},
    os::unix::process::CommandExt,
    path::Path,
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

use super::execution::{Execution, Status, StopReason};
use crate::check::Policy;

/// How long bpftrace gets to finish after SIGINT before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// A harmless complaint bpftrace 0.17 prints in containers on every run.
const MEMLOCK_NOISE: &str = "couldn't set RLIMIT_MEMLOCK";

pub fn start(
    exec: Arc<Execution>,
    bpftrace: &Path,
    policy: Policy,
    program: String,
    attached: oneshot::Sender<Result<(), String>>,
) {
    let mut cmd = Command::new(bpftrace);
    cmd.args(policy.allow_unsafe.then_some("--unsafe"))
        .args(["-e", &program])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: async-signal-safe calls only, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let message = format!("cannot run bpftrace ({}): {e}", bpftrace.display());
            exec.finish(Status::Failed, StopReason::Error, Some(message.clone()));
            let _ = attached.send(Err(message));
            return;
        }
    };
    let pid = child.id() as i32;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s.lines().filter(|l| !l.contains(MEMLOCK_NOISE)).collect::<Vec<_>>().join("\n")
    });
    let out_exec = exec.clone();
    let reader = std::thread::spawn(move || {
        let mut attached = Some(attached);
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(mut line) = line else { break };
            // bpftrace says it is attaching once its probes are set up.
            if let Some(tx) = attached.take_if(|_| line.starts_with(b"Attaching ")) {
                let _ = tx.send(Ok(()));
            }
            line.push(b'\n');
            if !out_exec.push(&line) {
                out_exec.stop.stop();
            }
        }
        attached
    });
    std::thread::spawn(move || {
        let deadline = Instant::now() + exec.timeout;
        let mut interrupted: Option<Instant> = None;
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break status;
            }
            let now = Instant::now();
            match interrupted {
                None if now >= deadline || exec.stop.is_set() => {
                    // SAFETY: signalling the child's own process group.
                    unsafe { libc::kill(-pid, libc::SIGINT) };
                    interrupted = Some(now);
                }
                Some(at) if now.duration_since(at) > GRACE => {
                    // SAFETY: as above.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let unsent = reader.join().ok().flatten();
        let stderr = errors.join().unwrap_or_default();
        if status.success() {
            let reason = match interrupted {
                None => StopReason::Exit,
                Some(_) if exec.stop.is_set() => StopReason::Stopped,
                Some(_) => StopReason::TimeLimit,
            };
            exec.finish(Status::Completed, reason, None);
        } else {
            let message =
                if stderr.is_empty() { format!("bpftrace failed: {status}") } else { stderr };
            exec.finish(Status::Failed, StopReason::Error, Some(message.clone()));
            if let Some(tx) = unsent {
                let _ = tx.send(Err(message));
            }
        }
    });
}
