//! The audit log (`serve --audit FILE`): one JSON line for every
//! exec_program, run or refused, every stop_execution, and every
//! execution's end, appended to a file the operator names.
//!
//! Each line reaches the kernel in one write before the action it records
//! goes on, so a crash of the server loses nothing written (a power loss may
//! lose what the kernel had not written back: no fsync per line). After the
//! first failed write nothing more is written, since the log now has a hole;
//! the error goes to stderr once, host_info shows it, and the executor
//! refuses programs until the server restarts with a writable log.

use std::{
    fs::{File, OpenOptions},
    io::{self, Write},
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard},
};

use chrono::{SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use super::{ExecError, Execution, Status, StopReason, execution::State};
use crate::plan::Backend;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot open the audit log {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "the audit log {} cannot be written ({reason}); programs are refused until the server \
         restarts with a writable audit log",
        path.display()
    )]
    Unwritable { path: PathBuf, reason: String },
}

pub struct AuditLog {
    path: PathBuf,
    /// The file while every line so far was written; then the first error.
    file: Mutex<Result<File, String>>,
}

impl AuditLog {
    /// Opens `path` for appending, creating it readable by its owner only:
    /// lines hold program text.
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(|source| AuditError::Open { path: path.into(), source })?;
        Ok(Self { path: path.into(), file: Mutex::new(Ok(file)) })
    }

    /// Ok while every line so far was written.
    pub fn check(&self) -> Result<(), AuditError> {
        self.lock().as_ref().map(drop).map_err(|reason| self.unwritable(reason))
    }

    /// Appends `event` as a line, said to come from `client`.
    pub fn write(&self, client: &str, event: &Event<'_>) -> Result<(), AuditError> {
        let mut file = self.lock();
        let open = match file.as_mut() {
            Ok(open) => open,
            Err(reason) => return Err(self.unwritable(reason)),
        };
        let line =
            Line { time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true), client, event };
        let written = serde_json::to_vec(&line).map_err(io::Error::from).and_then(|mut bytes| {
            bytes.push(b'\n');
            open.write_all(&bytes)
        });
        match written {
            Ok(()) => Ok(()),
            Err(e) => {
                let error = self.unwritable(&e.to_string());
                eprintln!("mcptrace: {error}");
                *file = Err(e.to_string());
                Err(error)
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Result<File, String>> {
        self.file.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn unwritable(&self, reason: &str) -> AuditError {
        AuditError::Unwritable { path: self.path.clone(), reason: reason.to_string() }
    }
}

/// One line: when, who, what.
#[derive(Serialize)]
struct Line<'a> {
    /// RFC 3339, UTC.
    time: String,
    client: &'a str,
    #[serde(flatten)]
    event: &'a Event<'a>,
}

/// What a line records.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    /// A program passed every check and limit; written before it attaches.
    Exec {
        execution_id: &'a str,
        program: &'a str,
        outcome: &'static str,
        /// The backend planned; the end line says which one attached.
        #[serde(flatten)]
        backend: BackendUsed<'a>,
    },
    /// A program refused before it ran.
    Refused {
        program: &'a str,
        /// The kind of refusal (`program`, `too_many`, `privileges`, ...).
        outcome: &'static str,
        /// For program errors, each error's code (`sensitive`, `unsafe`, ...).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        codes: Vec<&'static str>,
        error: String,
    },
    Stop {
        execution_id: &'a str,
        outcome: StopOutcome,
    },
    End {
        execution_id: &'a str,
        outcome: Status,
        #[serde(flatten)]
        backend: BackendUsed<'a>,
        exit_reason: Option<StopReason>,
        lines: usize,
        lost_events: u64,
        duration_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
    },
}

#[derive(Debug, Serialize)]
pub struct BackendUsed<'a> {
    backend: Backend,
    /// Why bpftrace rather than the native engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback_reason: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopOutcome {
    /// Asked to stop.
    Stopping,
    AlreadyEnded,
    UnknownExecution,
}

impl<'a> Event<'a> {
    pub fn exec(exec: &'a Execution) -> Self {
        Self::Exec {
            execution_id: &exec.id,
            program: &exec.program,
            outcome: "accepted",
            backend: BackendUsed::of(exec),
        }
    }

    pub fn refused(program: &'a str, error: &ExecError) -> Self {
        let codes = match error {
            ExecError::Program { errors, .. } => errors.iter().map(|d| d.code).collect(),
            _ => Vec::new(),
        };
        Self::Refused { program, outcome: error.code(), codes, error: error.to_string() }
    }

    /// A stop of `id`, which names `exec` if it is one of ours.
    pub fn stop(id: &'a str, exec: Option<&Execution>) -> Self {
        let outcome = match exec {
            None => StopOutcome::UnknownExecution,
            Some(e) if e.is_running() => StopOutcome::Stopping,
            Some(_) => StopOutcome::AlreadyEnded,
        };
        Self::Stop { execution_id: id, outcome }
    }

    /// The end of `exec`, whose final state is `state`.
    pub fn end(exec: &'a Execution, state: &'a State) -> Self {
        let duration = state.ended.map(|t| t.duration_since(exec.started)).unwrap_or_default();
        Self::End {
            execution_id: &exec.id,
            outcome: state.status,
            backend: BackendUsed::of(exec),
            exit_reason: state.stop_reason,
            lines: state.lines.len(),
            lost_events: state.lost_events,
            duration_ms: duration.as_millis().try_into().unwrap_or(u64::MAX),
            error: state.error.as_deref(),
        }
    }
}

impl<'a> BackendUsed<'a> {
    fn of(exec: &'a Execution) -> Self {
        let backend = exec.backend();
        let fallback_reason = (backend == Backend::Bpftrace).then(|| exec.backend_reason());
        Self { backend, fallback_reason }
    }
}

/// Whether auditing is on, for host_info.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct AuditStatus {
    /// Every exec_program, stop and end is recorded (`serve --audit FILE`).
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Why the log cannot be written, once a write failed: programs are
    /// then refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl AuditStatus {
    pub fn of(log: Option<&AuditLog>) -> Self {
        let Some(log) = log else { return Self { enabled: false, path: None, error: None } };
        Self {
            enabled: true,
            path: Some(log.path.display().to_string()),
            error: log.lock().as_ref().err().cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::Value;

    use super::*;
    use crate::exec::{launch::Started, stop::StopSignal};

    fn exec(backend: Backend) -> std::sync::Arc<Execution> {
        let planned = Started { backend, reason: "printf with %r".into() };
        let stop = StopSignal::new().unwrap();
        Execution::new(
            "id-1".into(),
            "BEGIN { exit(); }".into(),
            "stdio".into(),
            planned,
            Duration::from_secs(1),
            100,
            stop,
        )
    }

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("mcptrace-audit-{name}-{}", std::process::id()))
    }

    fn lines(path: &Path) -> Vec<Value> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[test]
    fn lines_are_appended_to_an_owner_only_file() {
        use std::os::unix::fs::PermissionsExt;
        let path = scratch("lines");
        let _ = std::fs::remove_file(&path);
        let log = AuditLog::open(&path).unwrap();
        let native = exec(Backend::Native);
        log.write("stdio", &Event::exec(&native)).unwrap();
        let fallback = exec(Backend::Bpftrace);
        let state = fallback.finish(Status::Completed, StopReason::Exit, None).unwrap();
        log.write("http", &Event::end(&fallback, &state)).unwrap();
        drop(state);
        drop(log);
        // Reopened, it appends.
        AuditLog::open(&path).unwrap().write("stdio", &Event::stop("gone", None)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        let [exec, end, stop] = &lines(&path)[..] else { panic!("{:?}", lines(&path)) };
        std::fs::remove_file(&path).unwrap();

        assert_eq!(mode & 0o777, 0o600);
        assert!(exec["time"].as_str().unwrap().ends_with('Z'), "{exec}");
        assert_eq!(exec["event"], "exec");
        assert_eq!(exec["client"], "stdio");
        assert_eq!(exec["program"], "BEGIN { exit(); }");
        assert_eq!(exec["backend"], "native");
        assert!(exec.get("fallback_reason").is_none(), "{exec}");
        assert_eq!(end["event"], "end");
        assert_eq!(end["client"], "http");
        assert_eq!(end["outcome"], "completed");
        assert_eq!(end["exit_reason"], "exit");
        assert_eq!(end["fallback_reason"], "printf with %r");
        assert_eq!((end["lines"].as_u64(), end["lost_events"].as_u64()), (Some(0), Some(0)));
        assert!(end["duration_ms"].is_u64() && end.get("program").is_none(), "{end}");
        assert_eq!(stop["outcome"], "unknown_execution");
    }

    #[test]
    fn after_a_failed_write_nothing_is_written_and_the_failure_stays() {
        // Writes to /dev/full fail with ENOSPC.
        let log = AuditLog::open(Path::new("/dev/full")).unwrap();
        assert!(log.check().is_ok());
        let event = Event::stop("x", None);
        let first = log.write("stdio", &event).unwrap_err().to_string();
        assert!(first.contains("/dev/full") && first.contains("refused"), "{first}");
        assert_eq!(log.write("stdio", &event).unwrap_err().to_string(), first);
        assert_eq!(log.check().unwrap_err().to_string(), first);
        let status = AuditStatus::of(Some(&log));
        assert!(status.enabled && status.error.is_some(), "{status:?}");
    }
}
