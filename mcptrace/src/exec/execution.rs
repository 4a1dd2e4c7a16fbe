//! One execution: its identity, what it is running, and its output buffer,
//! shared between the thread that runs it and the requests that read it.

use std::{
    sync::{Arc, Mutex, MutexGuard, OnceLock},
    time::{Duration, Instant, SystemTime},
};

use serde::Serialize;
use tokio::sync::watch;

use super::{launch::Started, stop::StopSignal};
use crate::{
    native::run::EndReason,
    output::{Format, Record, RecordSink},
    plan::Backend,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Running,
    Completed,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The program called exit().
    Exit,
    /// The time limit passed.
    TimeLimit,
    /// stop_execution, or the server shutting down.
    Stopped,
    /// The output buffer filled (the policy's `limits.max_output_lines`).
    BufferFull,
    /// The probes cost more than the overhead budget (a share of one CPU).
    OverheadBudget,
    /// It failed; see the error.
    Error,
}

impl From<EndReason> for StopReason {
    fn from(r: EndReason) -> Self {
        match r {
            EndReason::Exit => StopReason::Exit,
            EndReason::TimeLimit => StopReason::TimeLimit,
            EndReason::Stopped => StopReason::Stopped,
            EndReason::OutputFull => StopReason::BufferFull,
            EndReason::OverBudget => StopReason::OverheadBudget,
        }
    }
}

/// What an execution has produced so far.
#[derive(Debug)]
pub struct State {
    pub status: Status,
    pub lines: Vec<String>,
    /// Maps, histograms, stats and print() values as bpftrace's `-f json`
    /// records, at most the execution's `max_lines`.
    pub records: Vec<serde_json::Value>,
    /// Bytes after the last newline.
    partial: Vec<u8>,
    pub truncated: bool,
    pub lost_events: u64,
    pub stop_reason: Option<StopReason>,
    pub error: Option<String>,
    pub ended: Option<Instant>,
    /// The share of one CPU its probes' programs took, averaged since the
    /// start, as last measured.
    pub probe_cpu_share: Option<f64>,
}

#[derive(Debug)]
pub struct Execution {
    pub id: String,
    pub program: String,
    /// Who started it, as the audit log names clients.
    pub client: String,
    /// The backend the plan chose, and why.
    planned: Started,
    /// The backend that attached, once one has: the kernel may refuse the
    /// planned native programs.
    attached: OnceLock<Started>,
    pub timeout: Duration,
    /// Lines it keeps; past this it stops and says so.
    pub max_lines: usize,
    pub started: Instant,
    pub started_at: SystemTime,
    pub stop: StopSignal,
    state: Mutex<State>,
    /// Ticks when lines are added and when it ends, for whoever follows the
    /// output (the MCP layer's subscriptions) without polling or knowing MCP.
    changes: watch::Sender<()>,
}

impl Execution {
    pub fn new(
        id: String,
        program: String,
        client: String,
        planned: Started,
        timeout: Duration,
        max_lines: usize,
        stop: StopSignal,
    ) -> Arc<Self> {
        Arc::new(Self {
            id,
            program,
            client,
            planned,
            attached: OnceLock::new(),
            timeout,
            max_lines,
            started: Instant::now(),
            started_at: SystemTime::now(),
            stop,
            state: Mutex::new(State {
                status: Status::Running,
                lines: Vec::new(),
                records: Vec::new(),
                partial: Vec::new(),
                truncated: false,
                lost_events: 0,
                stop_reason: None,
                error: None,
                ended: None,
                probe_cpu_share: None,
            }),
            changes: watch::Sender::new(()),
        })
    }

    /// Records what its probes cost (see `overhead`).
    pub fn cost(&self, share: f64) {
        self.state().probe_cpu_share = Some(share);
    }

    /// Records which backend attached.
    pub fn attached(&self, started: &Started) {
        let _ = self.attached.set(started.clone());
    }

    /// The backend running this execution (the planned one until attached).
    pub fn backend(&self) -> Backend {
        self.attached.get().unwrap_or(&self.planned).backend
    }

    /// Why that backend.
    pub fn backend_reason(&self) -> &str {
        &self.attached.get().unwrap_or(&self.planned).reason
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent data: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends output bytes, line by line. Returns false once the buffer is
    /// full: the caller stops the program.
    pub fn push(&self, bytes: &[u8]) -> bool {
        let mut s = self.state();
        let before = s.lines.len();
        let accepted = Self::append(&mut s, bytes, self.max_lines);
        let grew = s.lines.len() > before;
        drop(s);
        if grew {
            self.changes.send_replace(());
        }
        accepted
    }

    /// [`Execution::push`] on the locked state.
    fn append(s: &mut State, bytes: &[u8], max_lines: usize) -> bool {
        if s.truncated {
            return false;
        }
        for &b in bytes {
            if b != b'\n' {
                s.partial.push(b);
                continue;
            }
            if s.lines.len() >= max_lines {
                s.truncated = true;
                s.partial.clear();
                return false;
            }
            let line = String::from_utf8_lossy(&s.partial).into_owned();
            s.lines.push(line);
            s.partial.clear();
        }
        true
    }

    /// Keeps one data record (see [`State::records`]).
    pub fn push_record(&self, record: serde_json::Value) {
        let mut s = self.state();
        if s.records.len() < self.max_lines {
            s.records.push(record);
        }
    }

    /// Ends the execution; the first end wins, and gets the final state
    /// still locked: whoever waits for the end also waits for what the
    /// winner does with it (the audit log's line).
    pub fn finish(
        &self,
        status: Status,
        reason: StopReason,
        error: Option<String>,
    ) -> Option<MutexGuard<'_, State>> {
        let mut s = self.state();
        if s.status != Status::Running {
            return None;
        }
        if !s.partial.is_empty() && s.lines.len() < self.max_lines {
            let line = String::from_utf8_lossy(&s.partial).into_owned();
            s.lines.push(line);
            s.partial.clear();
        }
        s.status = status;
        s.stop_reason = Some(if s.truncated { StopReason::BufferFull } else { reason });
        s.error = error;
        s.ended = Some(Instant::now());
        self.changes.send_replace(());
        Some(s)
    }

    pub fn is_running(&self) -> bool {
        self.state().status == Status::Running
    }

    /// A receiver that wakes when lines are added or the execution ends;
    /// changes before this call count as seen.
    pub fn watch(&self) -> watch::Receiver<()> {
        self.changes.subscribe()
    }
}

/// An execution's buffer as a record sink: each record as text lines, maps
/// and values also as JSON data, lost events counted.
pub struct ExecutionSink {
    exec: Arc<Execution>,
    buf: Vec<u8>,
}

impl ExecutionSink {
    pub fn new(exec: Arc<Execution>) -> Self {
        Self { exec, buf: Vec::new() }
    }
}

impl RecordSink for ExecutionSink {
    fn record(&mut self, record: Record) -> bool {
        if let Record::LostEvents(n) = record {
            self.exec.state().lost_events += n;
        }
        if record.is_data() {
            self.buf.clear();
            Format::Json.render(&record, &mut self.buf);
            // Empty maps render as nothing.
            if let Ok(json) = serde_json::from_slice(&self.buf) {
                self.exec.push_record(json);
            }
        }
        self.buf.clear();
        Format::Text.render(&record, &mut self.buf);
        self.exec.push(&self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX_LINES: usize = 10;

    fn exec() -> Arc<Execution> {
        let stop = StopSignal::new().unwrap();
        let planned = Started { backend: Backend::Native, reason: String::new() };
        Execution::new(
            "x".into(),
            "BEGIN{}".into(),
            "stdio".into(),
            planned,
            Duration::from_secs(1),
            MAX_LINES,
            stop,
        )
    }

    #[test]
    fn splits_lines_across_pushes_and_keeps_the_tail() {
        let e = exec();
        assert!(e.push(b"Attaching 1 probe...\nhel"));
        assert!(e.push(b"lo\n\nno newline"));
        e.finish(Status::Completed, StopReason::Exit, None);
        let s = e.state();
        assert_eq!(s.lines, ["Attaching 1 probe...", "hello", "", "no newline"]);
        assert_eq!(s.stop_reason, Some(StopReason::Exit));
    }

    #[test]
    fn caps_the_buffer_and_says_so() {
        let e = exec();
        let mut accepted = 0;
        while e.push(b"line\n") {
            accepted += 1;
            assert!(accepted <= MAX_LINES);
        }
        e.finish(Status::Completed, StopReason::Stopped, None);
        let s = e.state();
        assert_eq!(s.lines.len(), MAX_LINES);
        assert!(s.truncated);
        assert_eq!(s.stop_reason, Some(StopReason::BufferFull));
    }

    #[test]
    fn watchers_wake_on_whole_lines_and_on_the_end() {
        let e = exec();
        let mut rx = e.watch();
        e.push(b"no newline yet");
        assert!(!rx.has_changed().unwrap());
        e.push(b"\n");
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        e.finish(Status::Completed, StopReason::Exit, None);
        assert!(rx.has_changed().unwrap());
    }

    #[test]
    fn the_first_end_wins() {
        let e = exec();
        assert!(e.finish(Status::Failed, StopReason::Error, Some("boom".into())).is_some());
        assert!(e.finish(Status::Completed, StopReason::Exit, None).is_none());
        assert_eq!(e.state().status, Status::Failed);
    }
}
