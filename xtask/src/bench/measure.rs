//! Running a tracer and timing what it writes: every stdout line is stamped
//! the moment the harness reads it, and the process's exit the moment it is
//! reaped. Plus the event triggers and the workload the cases drive.

use std::{
    io::{BufRead, BufReader, Read, Write},
    path::Path,
    process::{Child, ChildStdin, Command, ExitStatus, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc::{self, Receiver, RecvTimeoutError},
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

/// Longest wait for anything a tracer should print; bpftrace attaching a
/// wildcard takes seconds, so this is generous.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// Lines starting with this are counted, not kept (high-rate output).
pub struct Counted {
    prefix: &'static str,
    state: Mutex<(u64, Option<Instant>)>,
}

impl Counted {
    pub fn new(prefix: &'static str) -> Arc<Counted> {
        Arc::new(Counted { prefix, state: Mutex::new((0, None)) })
    }

    /// Lines counted so far, and when the last one was read.
    pub fn get(&self) -> (u64, Option<Instant>) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running tracer (or server) with its output being read.
pub struct Tracer {
    pub pid: u32,
    pub spawned: Instant,
    lines: Receiver<(Instant, String)>,
    exited: Receiver<(Instant, std::io::Result<ExitStatus>)>,
    stderr: Option<JoinHandle<String>>,
    /// Reaped: its pid may belong to another process now.
    reaped: bool,
    what: String,
}

/// What a tracer wrote after the lines the case waited for, and when it
/// ended.
pub struct Finished {
    pub lines: Vec<(Instant, String)>,
    pub exited: Instant,
    pub stderr: String,
}

impl Tracer {
    pub fn spawn(cmd: &mut Command, counted: Option<Arc<Counted>>) -> Result<Tracer, String> {
        let what = format!("{cmd:?}");
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let spawned = Instant::now();
        let mut child = cmd.spawn().map_err(|e| format!("{what}: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            let mut r = BufReader::with_capacity(1 << 16, stdout);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                let now = Instant::now();
                let text = line.trim_end_matches('\n');
                match &counted {
                    Some(c) if text.starts_with(c.prefix) => {
                        let mut state = c.state.lock().unwrap_or_else(|e| e.into_inner());
                        *state = (state.0 + 1, Some(now));
                    }
                    _ => {
                        if tx.send((now, text.to_string())).is_err() {
                            break;
                        }
                    }
                }
                line.clear();
            }
        });
        let stderr = thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let pid = child.id();
        let exited = reap(child);
        Ok(Tracer { pid, spawned, lines, exited, stderr: Some(stderr), reaped: false, what })
    }

    /// Waits for a line `want` accepts; returns when it was read.
    pub fn wait_for(&self, want: impl Fn(&str) -> bool) -> Result<Instant, String> {
        let end = Instant::now() + PATIENCE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((at, line)) if want(&line) => return Ok(at),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{}: no expected line after {PATIENCE:?}", self.what));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{}: ended early", self.what));
                }
            }
        }
    }

    /// Waits for the `go` line the cases' BEGIN prints: BEGIN runs once every
    /// probe is attached, in bpftrace as natively.
    pub fn wait_go(&self) -> Result<Instant, String> {
        self.wait_for(|l| l == "go")
    }

    /// SIGINT, as Ctrl-C or a time limit would send.
    pub fn interrupt(&self) {
        interrupt(self.pid);
    }

    /// Waits for the tracer to end; interrupts it first unless it ends by
    /// itself. Fails (with its stderr) if it did not exit successfully.
    pub fn finish(mut self, interrupt_first: bool) -> Result<Finished, String> {
        if interrupt_first {
            self.interrupt();
        }
        let (exited, status) = match self.exited.recv_timeout(PATIENCE) {
            Ok(done) => done,
            Err(_) => {
                // Where it is stuck, for the report; Drop then kills it.
                let wchan = std::fs::read_to_string(format!("/proc/{}/wchan", self.pid));
                return Err(format!(
                    "{}: did not end (waiting in {}); killed",
                    self.what,
                    wchan.unwrap_or_default()
                ));
            }
        };
        self.reaped = true;
        let lines = self.lines.iter().collect();
        let stderr = self.stderr.take().and_then(|t| t.join().ok()).unwrap_or_default();
        match status {
            Ok(s) if s.success() => Ok(Finished { lines, exited, stderr }),
            Ok(s) => Err(format!("{}: {s}\n{}", self.what, noise_free(&stderr))),
            Err(e) => Err(format!("{}: {e}", self.what)),
        }
    }
}

impl Drop for Tracer {
    /// A case that failed half-way leaves no tracer behind.
    fn drop(&mut self) {
        if !self.reaped && self.exited.try_recv().is_err() {
            kill(self.pid);
        }
    }
}

/// Reaps `child` on a thread and reports the moment it did.
fn reap(mut child: Child) -> Receiver<(Instant, std::io::Result<ExitStatus>)> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send((Instant::now(), status));
    });
    rx
}

/// bpftrace 0.17 complains about RLIMIT_MEMLOCK on every run here.
fn noise_free(stderr: &str) -> String {
    stderr.lines().filter(|l| !l.contains("RLIMIT_MEMLOCK")).collect::<Vec<_>>().join("\n")
}

unsafe extern "C" {
    // From the C library std links anyway; xtask takes no libc crate.
    #[link_name = "kill"]
    fn c_kill(pid: i32, sig: i32) -> i32;
}

const SIGINT: i32 = 2;
const SIGKILL: i32 = 9;

pub fn interrupt(pid: u32) {
    // SAFETY: signalling a child of ours; no memory is involved.
    unsafe { c_kill(pid as i32, SIGINT) };
}

fn kill(pid: u32) {
    // SAFETY: as above.
    unsafe { c_kill(pid as i32, SIGKILL) };
}

/// Causes events on the harness's behalf until dropped, so a start-up
/// measure ends at the first event after the tracer is ready, give or take
/// one period.
pub struct Trigger {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Trigger {
    /// openat() of a missing path every 200 µs, by this process.
    pub fn opens() -> Trigger {
        Self::every(Duration::from_micros(200), || {
            let _ = std::fs::File::open("/nonexistent/mcptrace-bench-trigger");
        })
    }

    /// A call of the workload's uprobe target in a fresh process every 2 ms
    /// (a uprobe fires in whichever process runs the function).
    pub fn uprobe_calls(workload: &Path) -> Trigger {
        let workload = workload.to_path_buf();
        Self::every(Duration::from_millis(2), move || {
            let _ = Command::new(&workload).args(["call", "1"]).status();
        })
    }

    fn every(period: Duration, mut act: impl FnMut() + Send + 'static) -> Trigger {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                act();
                thread::sleep(period);
            }
        });
        Trigger { stop, thread: Some(thread) }
    }
}

impl Drop for Trigger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The workload held before its operations (its `wait` op), so a program
/// can name its pid before anything happens.
pub struct Held {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Held {
    pub fn spawn(workload: &Path, ops: &[&str]) -> Result<Held, String> {
        let mut child = Command::new(workload)
            .arg("wait")
            .args(ops)
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e}", workload.display()))?;
        let stdin = child.stdin.take();
        Ok(Held { child, stdin })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lets it run; returns when it started and when it ended.
    pub fn run(mut self) -> Result<(Instant, Instant), String> {
        let start = Instant::now();
        if let Some(mut s) = self.stdin.take() {
            s.write_all(b"\n").map_err(|e| e.to_string())?;
        }
        let status = self.child.wait().map_err(|e| e.to_string())?;
        let end = Instant::now();
        if status.success() { Ok((start, end)) } else { Err(format!("workload: {status}")) }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        // Closing stdin releases a workload never run; it then just works.
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// Wall time of the workload doing `ops`, in ms.
pub fn time_workload(workload: &Path, ops: &[&str]) -> Result<f64, String> {
    let start = Instant::now();
    let status = Command::new(workload).args(ops).status().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("workload {ops:?}: {status}"));
    }
    Ok(ms(start.elapsed()))
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Milliseconds from `a` to `b` (negative if `b` came first).
pub fn ms_between(a: Instant, b: Instant) -> f64 {
    match b.checked_duration_since(a) {
        Some(d) => ms(d),
        None => -ms(a - b),
    }
}

/// One figure over the runs: median, least, greatest, and each run's.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: Vec<f64>,
}

impl Stats {
    pub fn of(values: &[f64]) -> Stats {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let median = match v.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        Stats {
            median,
            min: v.first().copied().unwrap_or(f64::NAN),
            max: v.last().copied().unwrap_or(f64::NAN),
            runs: values.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Stats;

    #[test]
    fn median_of_odd_and_even_counts() {
        let runs = vec![3.0, 1.0, 2.0];
        assert_eq!(Stats::of(&runs), Stats { median: 2.0, min: 1.0, max: 3.0, runs: runs.clone() });
        assert_eq!(Stats::of(&[4.0, 1.0, 2.0, 3.0]).median, 2.5);
        assert!(Stats::of(&[]).median.is_nan());
    }
}
