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
use crate::{
    check::{Checked, Policy},
    host::attached,
    output::{Format, Record, from_json},
};

/// How long bpftrace gets to finish after SIGINT before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);
/// How long to wait for bpftrace's probes to be in place after it says it
/// is attaching, should the kernel not report one of them.
const ATTACH_WAIT: Duration = Duration::from_secs(5);
/// How often SIGINT is repeated until bpftrace ends.
const REPEAT_INTERRUPT: Duration = Duration::from_millis(250);

/// A harmless complaint bpftrace 0.17 prints in containers on every run.
const MEMLOCK_NOISE: &str = "couldn't set RLIMIT_MEMLOCK";

/// The probes of `checked` whose attachment the kernel reports per
/// descriptor (tracepoints, kprobes, uprobes): what [`start`] waits for.
/// Timers, software events and BEGIN/END are not reported, and not awaited.
pub fn awaited_probes(checked: &Checked) -> usize {
    use crate::lang::ast::ProbeKind as K;
    let reported = |kind| {
        matches!(
            kind,
            K::Tracepoint
                | K::RawTracepoint
                | K::Kprobe
                | K::Kretprobe
                | K::Uprobe
                | K::Uretprobe
                | K::Usdt
        )
    };
    checked.all_probes().filter(|p| reported(p.kind())).count()
}

/// Starts `program` under bpftrace; `attached` hears once bpftrace has
/// attached `awaited` probes (see [`awaited_probes`]), or of its failure.
pub fn start(
    exec: Arc<Execution>,
    bpftrace: &Path,
    policy: Policy,
    program: String,
    awaited: usize,
    attached: oneshot::Sender<Result<(), String>>,
) {
    let mut cmd = Command::new(bpftrace);
    // JSON mode: records are kept as data, and rendered as text here.
    cmd.args(policy.allow_unsafe.then_some("--unsafe"))
        .args(["-f", "json", "-e", &program])
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
        let mut text = Vec::new();
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(mut line) = line else { break };
            let json = serde_json::from_slice(&line).ok();
            let record = json.as_ref().and_then(from_json::record);
            let full = match record {
                Some(record) => {
                    // bpftrace 0.17 says it is attaching before it attaches: the
                    // report waits until its probes are in place.
                    if let Record::AttachedProbes(_) = record
                        && let Some(tx) = attached.take()
                    {
                        wait_attached(pid, awaited);
                        let _ = tx.send(Ok(()));
                    }
                    if let Record::LostEvents(n) = record {
                        out_exec.state().lost_events += n;
                    }
                    if let Some(json) = json.filter(|_| record.is_data()) {
                        out_exec.push_record(json);
                    }
                    text.clear();
                    Format::Text.render(&record, &mut text);
                    !out_exec.push(&text)
                }
                // Blank lines, and anything bpftrace writes outside JSON.
                None => {
                    line.push(b'\n');
                    !out_exec.push(&line)
                }
            };
            if full {
                out_exec.stop.stop();
            }
        }
        attached
    });
    std::thread::spawn(move || {
        let deadline = Instant::now() + exec.timeout;
        let mut interrupted: Option<Instant> = None;
        let mut last_interrupt = Instant::now();
        let status = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break status;
            }
            let now = Instant::now();
            // SAFETY (both kills): signalling the child's own process group.
            match interrupted {
                None if now >= deadline || exec.stop.is_set() => {
                    unsafe { libc::kill(-pid, libc::SIGINT) };
                    interrupted = Some(now);
                    last_interrupt = now;
                }
                Some(at) if now.duration_since(at) > GRACE => {
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
                // bpftrace 0.17 prints "Attaching" before it handles SIGINT,
                // and ignores one that comes earlier: say it again until it
                // goes (a repeat once it handles them changes nothing).
                Some(_) if now.duration_since(last_interrupt) >= REPEAT_INTERRUPT => {
                    unsafe { libc::kill(-pid, libc::SIGINT) };
                    last_interrupt = now;
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

/// Waits until process `pid` has `probes` BPF programs attached, it has
/// gone, or [`ATTACH_WAIT`] has passed.
fn wait_attached(pid: i32, probes: usize) {
    let give_up = Instant::now() + ATTACH_WAIT;
    while Instant::now() < give_up {
        match attached::count(pid as u32) {
            Ok(n) if n < probes => std::thread::sleep(Duration::from_millis(5)),
            _ => return,
        }
    }
}
