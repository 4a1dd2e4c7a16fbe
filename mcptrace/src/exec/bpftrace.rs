//! The bpftrace backend: the `bpftrace` binary as a child process in its own
//! process group, dying with us (parent-death signal), stopped with SIGINT
//! so END runs and maps print, killed if it does not go. It runs in JSON
//! mode: its records reach the sink as data, and every front end renders
//! them with the one renderer the native backend uses too.

use std::{
    io::{BufRead, BufReader, Read, Write},
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc::{self, RecvTimeoutError},
    time::{Duration, Instant},
};

use super::{StopReason, stop::StopSignal};
use crate::{
    check::Checked,
    host::{
        attached,
        bpf_stats::{self, CostWatch},
    },
    lang::ast::ProbeKind,
    output::{Record, RecordSink, from_json},
};

/// How long bpftrace gets to finish after SIGINT before SIGKILL.
const GRACE: Duration = Duration::from_secs(5);
/// How long to wait for bpftrace's probes to be in place after it says it
/// is attaching, should the kernel not report one of them.
const ATTACH_WAIT: Duration = Duration::from_secs(5);
/// How often SIGINT is repeated until bpftrace ends.
const REPEAT_INTERRUPT: Duration = Duration::from_millis(250);
/// How often the child's state, the time limit and the stop signal are
/// looked at while no output arrives.
const TICK: Duration = Duration::from_millis(10);

/// A harmless complaint bpftrace 0.17 prints in containers on every run.
const MEMLOCK_NOISE: &str = "couldn't set RLIMIT_MEMLOCK";

#[derive(Debug, thiserror::Error)]
pub enum BpftraceError {
    #[error("cannot run bpftrace ({}): {source}", path.display())]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// bpftrace ended with a failure; `stderr` says why, when it said.
    #[error("{}", if stderr.is_empty() { format!("bpftrace failed: {status}") } else { stderr.clone() })]
    Failed { status: ExitStatus, stderr: String },
}

/// One bpftrace run: which binary, with which rights, on what program.
pub struct BpftraceRun<'a> {
    pub binary: &'a Path,
    /// Pass `--unsafe` (the operator allowed unsafe functions).
    pub allow_unsafe: bool,
    /// The program, in the dialect this bpftrace reads.
    pub text: String,
    /// Environment variables for the child: the program's settings in the
    /// form this bpftrace reads them.
    pub env: Vec<(&'static str, String)>,
    /// Probes whose attachment the kernel reports (see [`awaited_probes`]).
    pub awaited: usize,
    pub timeout: Option<Duration>,
}

/// The probes of `checked` whose attachment the kernel reports per
/// descriptor (tracepoints, kprobes, uprobes): what a run waits for before
/// calling itself attached. Timers, software events and BEGIN/END are not
/// reported, and not awaited.
pub fn awaited_probes(checked: &Checked) -> usize {
    use ProbeKind as K;
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

/// Runs bpftrace until it ends, on this thread, handing its records to
/// `sink`; `attached` is called once its probes are in place. Returns how it
/// ended.
pub fn run(
    job: BpftraceRun<'_>,
    sink: &mut dyn RecordSink,
    stop: &StopSignal,
    attached: &mut dyn FnMut(),
    mut cost: CostWatch<'_>,
) -> Result<StopReason, BpftraceError> {
    let mut cmd = Command::new(job.binary);
    cmd.args(job.allow_unsafe.then_some("--unsafe"))
        // The program goes in on stdin (`-`, which bpftrace names `stdin` in
        // its errors as for `-e`) rather than in argv, where every user of
        // the host could read it in /proc/PID/cmdline.
        .args(["-f", "json", "-"])
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
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
    let mut child = cmd
        .spawn()
        .map_err(|source| BpftraceError::Spawn { path: job.binary.to_path_buf(), source })?;
    let pid = child.id() as i32;
    // bpftrace reads all of stdin before it parses; if it dies first the
    // write fails, and its exit status says why.
    let _ = child.stdin.take().expect("piped").write_all(job.text.as_bytes());
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s.lines().filter(|l| !l.contains(MEMLOCK_NOISE)).collect::<Vec<_>>().join("\n")
    });
    // Lines are read on a thread of their own and handled here, where the
    // sink lives and the time limit is kept.
    let (lines, incoming) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = job.timeout.map(|t| Instant::now() + t);
    let mut interrupted: Option<Instant> = None;
    let mut last_interrupt = Instant::now();
    let mut open = true;
    let mut announced = false;
    // Since when bpftrace has said it is attaching, and that line, held
    // back until its probes are seen in place: mcptrace's attach line says
    // they are.
    let mut attaching: Option<(Instant, Record)> = None;
    let mut pipe_open = true;
    let mut exited: Option<Instant> = None;
    let mut over_budget = false;
    let status = loop {
        match incoming.recv_timeout(TICK) {
            Ok(line) => {
                let record = parse(line);
                // bpftrace 0.17 says it is attaching before it attaches; what
                // it prints next (BEGIN's output, an event) comes once every
                // probe is in place.
                if let Some((_, held)) = attaching.take() {
                    attached();
                    deliver(sink, &mut open, stop, held);
                }
                if let Record::AttachedProbes(_) = record
                    && !announced
                {
                    announced = true;
                    attaching = Some((Instant::now(), record));
                    continue;
                }
                deliver(sink, &mut open, stop, record);
                continue;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => pipe_open = false,
        }
        if let Some((since, _)) = &attaching
            && in_place(&mut child, job.awaited, *since)
            && let Some((_, held)) = attaching.take()
        {
            attached();
            deliver(sink, &mut open, stop, held);
        }
        // Its output is read to the end, unless something it started holds
        // the pipe open past the grace period.
        if let Ok(Some(status)) = child.try_wait() {
            let exited_at = *exited.get_or_insert_with(Instant::now);
            if !pipe_open || exited_at.elapsed() > GRACE {
                break status;
            }
        }
        // Its programs are the descriptors it holds; before it attaches
        // they cost nothing.
        if interrupted.is_none() && announced {
            over_budget = cost.hear(|| bpf_stats::run_time_of(pid as u32).unwrap_or_default());
        }
        let now = Instant::now();
        // SAFETY (both kills): signalling the child's own process group.
        match interrupted {
            None if deadline.is_some_and(|d| now >= d) || stop.is_set() || over_budget => {
                unsafe { libc::kill(-pid, libc::SIGINT) };
                interrupted = Some(now);
                last_interrupt = now;
            }
            Some(at) if now.duration_since(at) > GRACE => {
                unsafe { libc::kill(-pid, libc::SIGKILL) };
            }
            // bpftrace 0.17 ignores a SIGINT that comes early in its start:
            // say it again until it goes. Once it says it is attaching the
            // repeat is SIGTERM: its handler sets the same flag, and unlike
            // SIGINT's it stays in place while the maps are printed, where a
            // second SIGINT would kill bpftrace.
            Some(_) if now.duration_since(last_interrupt) >= REPEAT_INTERRUPT => {
                let again = if announced { libc::SIGTERM } else { libc::SIGINT };
                unsafe { libc::kill(-pid, again) };
                last_interrupt = now;
            }
            _ => {}
        }
        if !pipe_open {
            std::thread::sleep(TICK);
        }
    };
    if !pipe_open {
        let _ = reader.join();
    }
    let stderr = errors.join().unwrap_or_default();
    if !status.success() {
        return Err(BpftraceError::Failed { status, stderr });
    }
    Ok(match interrupted {
        _ if !open => StopReason::BufferFull,
        None => StopReason::Exit,
        Some(_) if over_budget => StopReason::OverheadBudget,
        Some(_) if stop.is_set() => StopReason::Stopped,
        Some(_) => StopReason::TimeLimit,
    })
}

/// One line of bpftrace's JSON output as a record; anything else (blank
/// lines, text bpftrace writes outside JSON) passes as text.
fn parse(mut line: Vec<u8>) -> Record {
    let json = serde_json::from_slice(&line).ok();
    match json.as_ref().and_then(from_json::record) {
        Some(record) => record,
        None => {
            line.push(b'\n');
            Record::Text(line)
        }
    }
}

/// Hands `record` to `sink` while it takes records; once it refuses one,
/// the run is stopped.
fn deliver(sink: &mut dyn RecordSink, open: &mut bool, stop: &StopSignal, record: Record) {
    if *open {
        *open = sink.record(record) && sink.flush();
        if !*open {
            stop.stop();
        }
    }
}

/// Whether `child`, attaching since `since`, is done with it: it holds
/// `probes` attachments, it has ended, or [`ATTACH_WAIT`] has passed. (A
/// program whose first event came at once may have printed it, exited and
/// closed its descriptors between two looks: its output says it attached.)
fn in_place(child: &mut Child, probes: usize, since: Instant) -> bool {
    since.elapsed() > ATTACH_WAIT
        || !matches!(child.try_wait(), Ok(None))
        || attached::count(child.id()).map_or(true, |n| n >= probes)
}
