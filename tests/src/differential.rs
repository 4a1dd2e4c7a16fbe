//! The differential runner: one case file per program (tests/cases/*.toml),
//! each run natively and through bpftrace against the same deterministic
//! workload, outputs compared and checked against the truth the case states.

use std::{
    io::{BufRead, BufReader, Read},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

use serde::Deserialize;

use mcptrace::host::{features, fentry};

use crate::{HeldWorkload, mcptrace, unique_path};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub description: String,
    /// The program; `{path}` is a path unique to this run, `{pid}` the
    /// workload's pid, `{workload}` the workload binary.
    pub program: String,
    /// Positional parameters given to the program ($1, $2, ...).
    #[serde(default)]
    pub params: Vec<String>,
    /// Workload operations, run once the trace is attached.
    #[serde(default)]
    pub workload: Vec<String>,
    /// Lines each backend's text output must contain (`{path}` and `{pid}`
    /// stand for the run's path and the workload's pid); a line listed N
    /// times must appear at least N times.
    #[serde(default)]
    pub expect: Vec<String>,
    /// Lines each backend's JSON output must contain, counted as in `expect`.
    #[serde(default)]
    pub expect_json: Vec<String>,
    /// Regexes each backend's output must match on some line, in every mode
    /// the case runs (`{path}` and `{pid}` as in `expect`).
    #[serde(default)]
    pub expect_match: Vec<String>,
    /// Lines neither output may contain.
    #[serde(default)]
    pub reject: Vec<String>,
    /// Run bpftrace too (default); off where bpftrace alone would take too
    /// long (attaching every syscall tracepoint takes it ~26 s here).
    #[serde(default = "yes")]
    pub bpftrace: bool,
    /// Hand the program to bpftrace through mcptrace's bpftrace backend
    /// (`mcptrace run --backend bpftrace`), which rewrites it into the
    /// installed bpftrace's dialect: for programs in syntax bpftrace 0.17
    /// does not read (`args.f`, `begin`, `interval:1s`, `delete(@m, k)`).
    /// That backend also renders bpftrace's output, so the comparison holds
    /// the data, not bpftrace's own printing, to native's.
    #[serde(default)]
    pub dialect_rewrite: bool,
    /// Run mcptrace with `--allow-unsafe` (and bpftrace with `--unsafe`):
    /// for what only the operator can vouch for, such as uprobes at an
    /// offset into a function.
    #[serde(default)]
    pub allow_unsafe: bool,
    /// Compare the two outputs (default); off for outputs that differ by
    /// nature (sampling, timing).
    #[serde(default = "yes")]
    pub compare: bool,
    /// Regexes whose matches are replaced by `_` in both outputs first.
    #[serde(default)]
    pub normalize: Vec<String>,
    /// Output formats to run: "text", "json".
    #[serde(default = "both_modes")]
    pub modes: Vec<String>,
    /// The program ends by itself (exit()); otherwise it is interrupted
    /// after the workload.
    #[serde(default)]
    pub exits: bool,
    /// Text the program prints in BEGIN. Both backends run BEGIN once every
    /// probe is attached, so the workload starts when a line holding it
    /// appears: the readiness signal for probes that `bpftool perf list`
    /// does not show (profile, software) and for BEGIN output that must come
    /// before the events.
    #[serde(default)]
    pub ready: Option<String>,
    /// Kernel-function probe kinds the case needs (`kprobe`, `fentry`);
    /// where the kernel cannot attach one, the case is skipped, and says so.
    #[serde(default)]
    pub requires: Vec<String>,
}

impl Case {
    /// The required probe kinds this kernel lacks.
    pub fn missing(&self) -> Vec<&str> {
        self.requires
            .iter()
            .map(String::as_str)
            .filter(|r| match *r {
                "kprobe" => !features::get().kprobe.is_yes(),
                "fentry" => !fentry::support().is_yes(),
                other => panic!("unknown requirement `{other}` (kprobe, fentry)"),
            })
            .collect()
    }
}

/// Whether bpftrace runs beside the native backend. In an emulated guest
/// bpftrace takes about a minute to start, so `cargo xtask vmtest` sets
/// MCPTRACE_NATIVE_ONLY and the cases are held to their stated truths alone.
fn with_bpftrace(case: &Case) -> bool {
    case.bpftrace && !crate::native_only()
}

fn yes() -> bool {
    true
}

fn both_modes() -> Vec<String> {
    vec!["text".into(), "json".into()]
}

impl Case {
    pub fn load(path: &Path) -> Case {
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Native,
    /// Native, with events through per-CPU perf buffers, not the ring buffer.
    NativePerfBuffer,
    Bpftrace,
    /// bpftrace run by mcptrace's bpftrace backend, on the program rewritten
    /// for its dialect.
    BpftraceRewritten,
}

impl Backend {
    /// The bpftrace a case compares native with.
    fn reference(case: &Case) -> Backend {
        if case.dialect_rewrite { Backend::BpftraceRewritten } else { Backend::Bpftrace }
    }
}

/// One run's result.
pub struct Run {
    /// With the workload's pid written `{pid}`.
    pub stdout: String,
    pub stderr: String,
    pub status: Option<i32>,
}

/// Runs `case` with `backend` in `mode`: start the tracer, wait for it to
/// attach, run the workload, then interrupt it (unless it exits itself).
pub fn run(case: &Case, backend: Backend, mode: &str, path: &str) -> Run {
    let ops: Vec<String> = case.workload.iter().map(|o| o.replace("{path}", path)).collect();
    let ops: Vec<&str> = ops.iter().map(String::as_str).collect();
    let held = HeldWorkload::spawn(&ops);
    let held_pid = held.pid();
    let program = substitute(&case.program, path, held_pid);
    let mut cmd = match backend {
        Backend::Native | Backend::NativePerfBuffer => {
            let mut c = mcptrace();
            c.args(["run", "--backend", "native", "--timeout", "20", "-f", mode]);
            c.args(case.allow_unsafe.then_some("--allow-unsafe"));
            if backend == Backend::NativePerfBuffer {
                c.args(["--transport", "perf-buffer"]);
            }
            c.args(["-e", &program]).args(&case.params);
            c
        }
        Backend::Bpftrace => {
            let mut c = Command::new("bpftrace");
            c.args(case.allow_unsafe.then_some("--unsafe"));
            c.args(["-f", mode, "-e", &program]).args(&case.params);
            c
        }
        Backend::BpftraceRewritten => {
            let mut c = mcptrace();
            c.args(["run", "--backend", "bpftrace", "--timeout", "20", "-f", mode]);
            c.args(case.allow_unsafe.then_some("--allow-unsafe"));
            c.args(["-e", &program]).args(&case.params);
            c
        }
    };
    let mut child =
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn tracer");
    let (lines, read, stdout) = reader(child.stdout.take().unwrap(), case.ready.clone());
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr = thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr_pipe.read_to_string(&mut s);
        s
    });
    // mcptrace prints its attach line once attached (whichever backend it
    // runs); bpftrace before it attaches, so wait until that process holds
    // a perf event or BPF link per probe (or for the case's BEGIN marker,
    // which both print after).
    let attached = lines.recv_timeout(Duration::from_secs(60)).is_ok()
        && (backend != Backend::Bpftrace
            || case.ready.is_some()
            || wait_attached(child.id(), perf_probes(&program), Duration::from_secs(60)));
    if attached {
        held.go();
        if !case.exits {
            // The workload has exited, so its events are all in the buffers:
            // stop the trace as Ctrl-C would. mcptrace handles everything
            // buffered before END; bpftrace 0.17 does not read its perf
            // buffers after an interrupt, so it first gets to read until
            // its output goes quiet.
            if matches!(backend, Backend::Bpftrace | Backend::BpftraceRewritten) {
                wait_quiet(&read, Duration::from_millis(300), Duration::from_secs(20));
            }
            interrupt(&child);
        }
    } else {
        interrupt(&child);
        drop(held);
    }
    let status = wait(&mut child, Duration::from_secs(30));
    // The workload's pid as `{pid}`, so outputs of two runs compare and
    // expectations can name it.
    let pid = regex::Regex::new(&format!(r"\b{}\b", held_pid)).expect("a valid regex");
    let stdout = pid.replace_all(&stdout.join().unwrap(), "{pid}").into_owned();
    Run { stdout, stderr: stderr.join().unwrap(), status }
}

fn substitute(text: &str, path: &str, pid: u32) -> String {
    text.replace("{path}", path)
        .replace("{pid}", &pid.to_string())
        .replace("{workload}", crate::target_bin("mcpt-workload").to_str().unwrap())
}

/// Reads stdout whole, counting the bytes read; signals once the first
/// line is in, or the first line holding `ready` when given.
fn reader(
    out: impl Read + Send + 'static,
    ready: Option<String>,
) -> (mpsc::Receiver<()>, Arc<AtomicUsize>, thread::JoinHandle<String>) {
    let (tx, rx) = mpsc::channel();
    let read = Arc::new(AtomicUsize::new(0));
    let counter = read.clone();
    let handle = thread::spawn(move || {
        let mut all = String::new();
        let mut r = BufReader::new(out);
        let mut line = String::new();
        let mut signalled = false;
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            all.push_str(&line);
            counter.store(all.len(), Ordering::Relaxed);
            if !signalled && ready.as_ref().is_none_or(|m| line.contains(m.as_str())) {
                let _ = tx.send(());
                signalled = true;
            }
            line.clear();
        }
        all
    });
    (rx, read, handle)
}

/// Waits until `read` has not grown for `quiet`, or `limit` has passed.
fn wait_quiet(read: &AtomicUsize, quiet: Duration, limit: Duration) {
    let end = Instant::now() + limit;
    let mut last = (read.load(Ordering::Relaxed), Instant::now());
    while Instant::now() < end {
        thread::sleep(Duration::from_millis(20));
        let now = read.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() >= quiet {
            return;
        }
    }
}

/// How many perf-event attachments (tracepoints, uprobes, usdt probes) the
/// program makes, from `mcptrace plan`'s expansion of its attach points.
fn perf_probes(program: &str) -> usize {
    let out = mcptrace().args(["plan", "--json", "-e", program]).output().expect("mcptrace plan");
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    plan["attach_points"]
        .as_array()
        .map(|points| {
            points
                .iter()
                .filter_map(|p| p.as_str())
                .filter(|p| {
                    ["tracepoint:", "uprobe:", "uretprobe:", "usdt:"]
                        .iter()
                        .any(|k| p.starts_with(k))
                })
                .count()
        })
        .unwrap_or(0)
}

/// Waits until bpftrace process `pid` has `n` perf events with programs
/// attached (`bpftool perf list`), then a little longer: without that pause
/// bpftrace was seen to miss events under load (1 of symbols_ksym_printf's
/// 3). Cases whose probes `bpftool perf list` does not show (profile,
/// software) use a `ready` marker instead.
fn wait_attached(pid: u32, n: usize, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    loop {
        let out = Command::new("bpftool").args(["-j", "perf", "list"]).output();
        let list: serde_json::Value =
            out.ok().and_then(|o| serde_json::from_slice(&o.stdout).ok()).unwrap_or_default();
        let held = list
            .as_array()
            .map_or(0, |a| a.iter().filter(|e| e["pid"].as_u64() == Some(pid as u64)).count());
        if held >= n {
            thread::sleep(Duration::from_millis(150));
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn interrupt(child: &Child) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
}

/// Waits for the tracer to exit. bpftrace 0.17 now and then misses an
/// interrupt that arrives while it is busy, so one is sent again every two
/// seconds (it ends at the first it handles).
fn wait(child: &mut Child, limit: Duration) -> Option<i32> {
    let start = Instant::now();
    let mut nudged = start;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return s.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        if nudged.elapsed() > Duration::from_secs(2) {
            interrupt(child);
            nudged = Instant::now();
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A trace's output split at bpftrace's end-of-events marker: event output
/// (order matters) and maps (compared as sets: ties print in any order).
#[derive(Debug, PartialEq, Eq)]
pub struct Shape {
    pub events: Vec<String>,
    pub maps: Vec<String>,
}

pub fn shape(out: &str, mode: &str, normalize: &[regex::Regex]) -> Shape {
    let mut out = out.to_string();
    for re in normalize {
        out = re.replace_all(&out, "_").into_owned();
    }
    let (events, maps) = match out.find("\n\n\n") {
        Some(i) => (out[..i + 1].to_string(), out[i + 3..].to_string()),
        None => (out.clone(), String::new()),
    };
    let events = events.lines().map(str::to_string).collect();
    let mut maps: Vec<String> = if mode == "json" {
        maps.lines().filter(|l| !l.is_empty()).map(canonical_json).collect()
    } else {
        maps.lines().map(str::to_string).collect()
    };
    maps.sort();
    Shape { events, maps }
}

/// JSON with object keys sorted, so equal maps compare equal.
fn canonical_json(line: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(line) {
        Ok(v) => sorted(v).to_string(),
        Err(_) => line.to_string(),
    }
}

fn sorted(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            let mut entries: Vec<_> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        v => v,
    }
}

/// Runs every mode of `case` on both backends and returns the failures.
pub fn check(case: &Case) -> Vec<String> {
    let mut failures = Vec::new();
    let normalize: Vec<regex::Regex> =
        case.normalize.iter().map(|r| regex::Regex::new(r).expect("a valid regex")).collect();
    for mode in &case.modes {
        let path = unique_path("case");
        let path = path.to_str().unwrap();
        let native = run(case, Backend::Native, mode, path);
        let reference =
            with_bpftrace(case).then(|| run(case, Backend::reference(case), mode, path));
        let runs =
            std::iter::once(("native", &native)).chain(reference.as_ref().map(|r| ("bpftrace", r)));
        for (name, r) in runs {
            if r.status != Some(0) {
                failures.push(format!(
                    "[{mode}] {name} exited with {:?}:\n{}\n{}",
                    r.status, r.stdout, r.stderr
                ));
                continue;
            }
            let expected = if mode == "json" { &case.expect_json } else { &case.expect };
            for (want, times) in counted(expected) {
                let want = want.replace("{path}", path);
                let seen = r.stdout.lines().filter(|l| *l == want).count();
                if seen < times {
                    failures.push(format!(
                        "[{mode}] {name} has `{want}` {seen} times, not {times}:\n{}",
                        r.stdout
                    ));
                }
            }
            for pattern in &case.expect_match {
                let pattern = pattern
                    .replace("{path}", &regex::escape(path))
                    .replace("{pid}", &regex::escape("{pid}"));
                let re = regex::Regex::new(&pattern).expect("a valid regex");
                if !r.stdout.lines().any(|l| re.is_match(l)) {
                    failures.push(format!(
                        "[{mode}] {name} has no line matching `{pattern}`:\n{}",
                        r.stdout
                    ));
                }
            }
            for bad in &case.reject {
                if r.stdout.contains(&bad.replace("{path}", path)) {
                    failures.push(format!("[{mode}] {name} has `{bad}`:\n{}", r.stdout));
                }
            }
        }
        if let (true, true, Some(reference)) = (case.compare, failures.is_empty(), &reference) {
            let (a, b) = (
                shape(&native.stdout, mode, &normalize),
                shape(&reference.stdout, mode, &normalize),
            );
            if a != b {
                failures.push(format!(
                    "[{mode}] outputs differ\n--- native\n{}\n--- bpftrace\n{}",
                    native.stdout, reference.stdout
                ));
            }
        }
    }
    failures
}

/// Each distinct line of `lines` with how many times it is listed, in the
/// order of first listing.
fn counted(lines: &[String]) -> Vec<(&str, usize)> {
    let mut out: Vec<(&str, usize)> = Vec::new();
    for line in lines {
        match out.iter_mut().find(|(l, _)| *l == line) {
            Some((_, n)) => *n += 1,
            None => out.push((line, 1)),
        }
    }
    out
}
