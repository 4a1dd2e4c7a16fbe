//! Executions: start a program on the backend the planner chose, keep its
//! output, enforce the limits, stop it, and forget it after a while. Nothing
//! here knows MCP; the server is a thin layer over [`Executor`].

pub mod bpftrace;
pub mod execution;
pub mod host_summary;
pub mod launch;
pub mod privileges;
pub mod stop;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::oneshot;

pub use execution::{Execution, MAX_LINES, Status, StopReason};
pub use stop::StopSignal;

use self::{
    execution::ExecutionSink,
    launch::{Choice, LaunchError, Request, Started},
};
use crate::{
    check::{Policy, SystemHost},
    diagnostic::Diagnostic,
    frontend,
    native::Transport,
};

/// Executions running at once.
pub const MAX_RUNNING: usize = 5;
/// Time limits, in seconds.
pub const DEFAULT_TIMEOUT: f64 = 10.0;
pub const MAX_TIMEOUT: f64 = 60.0;
pub const MIN_TIMEOUT: f64 = 1.0;
/// Finished executions kept for get_result, and for how long.
const KEEP_FINISHED: usize = 64;
const KEEP_FOR: Duration = Duration::from_secs(30 * 60);
/// How long a program may take to attach.
const ATTACH_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Syntax or semantic errors, rendered with line, column and caret.
    #[error("{rendered}")]
    Program { errors: Vec<Diagnostic>, rendered: String },
    #[error("timeout must be a positive number of seconds, not {0}")]
    BadTimeout(f64),
    #[error("{MAX_RUNNING} executions are already running; stop one or wait for one to end")]
    TooMany,
    #[error(transparent)]
    Privileges(#[from] privileges::MissingPrivileges),
    #[error("attaching failed: {0}")]
    Attach(#[source] LaunchError),
    #[error("the tracer ended before attaching{}", .0.as_ref().map(|e| format!(": {e}")).unwrap_or_default())]
    EndedBeforeAttaching(Option<String>),
    #[error("not attached after {} s", .0.as_secs())]
    AttachTimeout(Duration),
    #[error("creating the stop signal: {0}")]
    Io(#[from] std::io::Error),
}

pub struct Executor {
    bpftrace: PathBuf,
    policy: Policy,
    executions: Mutex<HashMap<String, Arc<Execution>>>,
}

impl Executor {
    pub fn new(bpftrace: PathBuf, policy: Policy) -> Self {
        Self { bpftrace, policy, executions: Mutex::new(HashMap::new()) }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Execution>>> {
        self.executions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks, plans and starts `program`; returns once it is attached.
    pub async fn start(
        &self,
        program: &str,
        timeout: Option<f64>,
    ) -> Result<Arc<Execution>, ExecError> {
        if let Some(t) = timeout.filter(|t| !(t.is_finite() && *t > 0.0)) {
            return Err(ExecError::BadTimeout(t));
        }
        let (checked, plan) =
            frontend::prepare_with(program, &[], SystemHost::shared(), self.policy).map_err(
                |e| ExecError::Program {
                    errors: e.diagnostics(),
                    rendered: e.render(program, "stdin"),
                },
            )?;
        privileges::check()?;
        let timeout = Duration::from_secs_f64(clamp_timeout(timeout));
        let planned = Started { backend: plan.backend, reason: plan.backend_reason() };
        let exec = {
            let mut table = self.table();
            evict(&mut table);
            if table.values().filter(|e| e.is_running()).count() >= MAX_RUNNING {
                return Err(ExecError::TooMany);
            }
            let id = uuid::Uuid::new_v4().to_string();
            let exec = Execution::new(
                id.clone(),
                program.to_string(),
                planned,
                timeout,
                StopSignal::new()?,
            );
            table.insert(id, exec.clone());
            exec
        };
        let (tx, rx) = oneshot::channel();
        let request = Request {
            checked,
            plan,
            choice: Choice::Auto,
            timeout: Some(timeout),
            bpftrace: self.bpftrace.clone(),
            policy: self.policy,
            transport: Transport::RingBuffer,
        };
        run(exec.clone(), request, tx);
        let outcome = tokio::time::timeout(ATTACH_LIMIT, rx).await;
        let failure = match outcome {
            Ok(Ok(Ok(()))) => return Ok(exec),
            Ok(Ok(Err(e))) => ExecError::Attach(e),
            Ok(Err(_)) => ExecError::EndedBeforeAttaching(exec.state().error.clone()),
            Err(_) => {
                exec.stop.stop();
                ExecError::AttachTimeout(ATTACH_LIMIT)
            }
        };
        self.table().remove(&exec.id);
        Err(failure)
    }

    /// The policy programs are checked under.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// This host as an agent needs to know it, with this executor's
    /// bpftrace and policy.
    pub fn host_summary(&self) -> host_summary::HostSummary {
        host_summary::gather(SystemHost::shared(), &self.bpftrace, self.policy)
    }

    pub fn get(&self, id: &str) -> Option<Arc<Execution>> {
        self.table().get(id).cloned()
    }

    /// Every execution still known, oldest first.
    pub fn list(&self) -> Vec<Arc<Execution>> {
        let mut all: Vec<_> = self.table().values().cloned().collect();
        all.sort_by_key(|e| e.started);
        all
    }

    /// Asks every running execution to stop (server shutdown).
    pub fn stop_all(&self) {
        for e in self.table().values() {
            e.stop.stop();
        }
    }
}

/// Runs `request` for `exec` on a thread of its own; `attached` hears once
/// it is attached, or why it could not attach.
fn run(exec: Arc<Execution>, request: Request, attached: oneshot::Sender<Result<(), LaunchError>>) {
    std::thread::spawn(move || {
        let mut attached = Some(attached);
        let mut sink = ExecutionSink::new(exec.clone());
        let mut on_started = |started: &Started| {
            exec.attached(started);
            if let Some(tx) = attached.take() {
                let _ = tx.send(Ok(()));
            }
        };
        let stop = exec.stop.clone();
        match launch::run(request, &mut sink, &stop, &mut on_started) {
            Ok(ended) => {
                exec.finish(Status::Completed, ended.reason, None);
                drop(ended.teardown);
            }
            Err(e) => {
                exec.finish(Status::Failed, StopReason::Error, Some(e.to_string()));
                if let Some(tx) = attached.take() {
                    let _ = tx.send(Err(e));
                }
            }
        }
    });
}

/// The time limit in seconds: default 10, clamped to 1..=60.
pub fn clamp_timeout(timeout: Option<f64>) -> f64 {
    match timeout {
        Some(t) if t.is_finite() => t.clamp(MIN_TIMEOUT, MAX_TIMEOUT),
        _ => DEFAULT_TIMEOUT,
    }
}

/// Drops finished executions past their retention time, and the oldest
/// finished ones beyond the count kept, less one: room for the execution
/// about to start, so that once it ends no more than the count are kept.
fn evict(table: &mut HashMap<String, Arc<Execution>>) {
    table.retain(|_, e| e.state().ended.is_none_or(|t| t.elapsed() < KEEP_FOR));
    let mut finished: Vec<_> =
        table.values().filter_map(|e| e.state().ended.map(|t| (t, e.id.clone()))).collect();
    let keep = KEEP_FINISHED - 1;
    if finished.len() > keep {
        finished.sort();
        for (_, id) in &finished[..finished.len() - keep] {
            table.remove(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::clamp_timeout;

    #[test]
    fn timeouts_are_clamped() {
        assert_eq!(clamp_timeout(None), 10.0);
        assert_eq!(clamp_timeout(Some(0.0)), 1.0);
        assert_eq!(clamp_timeout(Some(-5.0)), 1.0);
        assert_eq!(clamp_timeout(Some(3.5)), 3.5);
        assert_eq!(clamp_timeout(Some(600.0)), 60.0);
        assert_eq!(clamp_timeout(Some(f64::NAN)), 10.0);
    }
}
