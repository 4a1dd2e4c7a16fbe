//! Executions: start a program on the backend the planner chose, keep its
//! output, enforce the limits, stop it, record it in the audit log, and
//! forget it after a while. Nothing here knows MCP; the server is a thin
//! layer over [`Executor`].

pub mod audit;
pub mod bpftrace;
pub mod execution;
pub mod host_summary;
pub mod launch;
pub mod overhead;
pub mod privileges;
pub mod stop;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::sync::oneshot;

pub use execution::{Execution, Status, StopReason};
pub use stop::StopSignal;

use self::{
    audit::{AuditError, AuditLog, AuditStatus, Event},
    execution::ExecutionSink,
    launch::{Choice, LaunchError, Request, Started},
};
use crate::{
    check::SystemHost,
    diagnostic::Diagnostic,
    frontend,
    host::bpf_stats::{self, CostWatch},
    native::{Sessions, Transport},
    policy::{Denial, Policy},
    scope::Scope,
};

/// Finished executions kept for get_result, and for how long.
const KEEP_FINISHED: usize = 64;
pub const KEEP_FOR: Duration = Duration::from_secs(30 * 60);
/// How long a program may take to attach.
const ATTACH_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Syntax or semantic errors, rendered with line, column and caret.
    #[error("{rendered}")]
    Program { errors: Vec<Diagnostic>, rendered: String },
    #[error("timeout must be a positive number of seconds, not {0}")]
    BadTimeout(f64),
    /// The policy's cap on concurrent executions.
    #[error("{}; {}", .0, .0.remedy)]
    TooMany(Denial),
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
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The client may not start programs (an HTTP token's role).
    #[error("{0}")]
    NotAllowed(String),
}

impl ExecError {
    /// The kind's stable name, for the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Program { .. } => "program",
            Self::BadTimeout(_) => "bad_timeout",
            Self::TooMany(_) => "too_many",
            Self::Privileges(_) => "privileges",
            Self::Attach(_) => "attach",
            Self::EndedBeforeAttaching(_) => "ended_before_attaching",
            Self::AttachTimeout(_) => "attach_timeout",
            Self::Io(_) => "io",
            Self::Audit(_) => "audit",
            Self::NotAllowed(_) => "role",
        }
    }
}

pub struct Executor {
    bpftrace: PathBuf,
    policy: Policy,
    /// Shared with the threads that record executions' ends.
    audit: Option<Arc<AuditLog>>,
    executions: Mutex<HashMap<String, Arc<Execution>>>,
    /// A native session kept loaded ahead, so executions start at once.
    sessions: Sessions,
    /// Whether the kernel counts programs' run time for the overhead guard.
    cost_statistics: Result<(), String>,
}

impl Executor {
    pub fn new(bpftrace: PathBuf, policy: Policy, audit: Option<AuditLog>) -> Self {
        let audit = audit.map(Arc::new);
        let sessions = Sessions::kept_ahead(Transport::RingBuffer);
        // Without statistics (no privilege) every cost reads as zero, and
        // host_info says why.
        let cost_statistics = bpf_stats::enable();
        let executions = Mutex::new(HashMap::new());
        Self { bpftrace, policy, audit, executions, sessions, cost_statistics }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Execution>>> {
        self.executions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Checks, plans and starts `program` for `client`, confined to
    /// `client_scope` too when the client has one; returns once it is
    /// attached. The audit log gets a refusal, or the execution's start
    /// before it attaches and its end (also when attaching fails).
    pub async fn start(
        &self,
        program: &str,
        timeout: Option<f64>,
        choice: Choice,
        client: &str,
        client_scope: Option<&Scope>,
    ) -> Result<Arc<Execution>, ExecError> {
        // Nothing runs unrecorded once the log has a hole.
        if let Some(log) = &self.audit {
            log.check()?;
        }
        let (exec, request) = self
            .admit(program, timeout, choice, client, client_scope)
            .map_err(|e| self.refuse(program, client, e))?;
        self.launch(exec, request).await
    }

    /// Records that `program` was refused to `client`, by the checks here
    /// or before it reached them (an HTTP token's role), and gives the
    /// refusal back.
    pub fn refuse(&self, program: &str, client: &str, refusal: ExecError) -> ExecError {
        // A failed write was reported; the refusal stands either way.
        let _ = self.record(client, &Event::refused(program, &refusal));
        refusal
    }

    /// Checks `program` against the policy and the limits, registers its
    /// execution and records its start.
    fn admit(
        &self,
        program: &str,
        timeout: Option<f64>,
        choice: Choice,
        client: &str,
        client_scope: Option<&Scope>,
    ) -> Result<(Arc<Execution>, Request), ExecError> {
        if let Some(t) = timeout.filter(|t| !(t.is_finite() && *t > 0.0)) {
            return Err(ExecError::BadTimeout(t));
        }
        let (checked, plan) = frontend::prepare_confined(
            program,
            &[],
            SystemHost::shared(),
            &self.policy,
            client_scope,
        )
        .map_err(|e| ExecError::Program {
            errors: e.diagnostics(),
            rendered: e.render(program, "stdin"),
        })?;
        privileges::check()?;
        let timeout = Duration::from_secs_f64(self.policy.timeout(timeout));
        let planned = Started { backend: plan.backend, reason: plan.backend_reason() };
        let exec = {
            let mut table = self.table();
            evict(&mut table);
            let running = table.values().filter(|e| e.is_running()).count();
            self.policy.another_execution(running).map_err(ExecError::TooMany)?;
            let id = uuid::Uuid::new_v4().to_string();
            let exec = Execution::new(
                id.clone(),
                program.to_string(),
                client.to_string(),
                planned,
                timeout,
                self.policy.limits.max_output_lines,
                StopSignal::new()?,
            );
            table.insert(id, exec.clone());
            exec
        };
        if let Err(e) = self.record(client, &Event::exec(&exec)) {
            self.table().remove(&exec.id);
            return Err(e.into());
        }
        let request = Request {
            checked,
            plan,
            choice,
            timeout: Some(timeout),
            bpftrace: self.bpftrace.clone(),
            allow_unsafe: self.policy.allow_unsafe,
            sessions: self.sessions.clone(),
        };
        Ok((exec, request))
    }

    /// Runs an admitted execution; returns once it is attached.
    async fn launch(
        &self,
        exec: Arc<Execution>,
        request: Request,
    ) -> Result<Arc<Execution>, ExecError> {
        let (tx, rx) = oneshot::channel();
        let budget = self.policy.limits.max_probe_cpu_percent;
        run(exec.clone(), request, budget, tx, self.audit.clone());
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
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// This host as an agent needs to know it, with this executor's
    /// bpftrace, policy and audit log.
    pub fn host_summary(&self) -> host_summary::HostSummary {
        let audit = AuditStatus::of(self.audit.as_deref());
        let summary =
            host_summary::gather(SystemHost::shared(), &self.bpftrace, &self.policy, audit);
        host_summary::HostSummary {
            session_ahead: self.sessions.ahead_status(),
            overhead_guard: Some(host_summary::OverheadGuard::new(
                &self.cost_statistics,
                &self.policy,
            )),
            ..summary
        }
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

    /// Asks execution `id` to stop for `client` (stop_execution), and
    /// records that it was asked. Never refused, not even when the audit
    /// log cannot be written: that would keep a tracer running.
    pub fn stop(&self, id: &str, client: &str) -> Option<Arc<Execution>> {
        let exec = self.get(id);
        let _ = self.record(client, &Event::stop(id, exec.as_deref()));
        if let Some(e) = &exec {
            e.stop.stop();
        }
        exec
    }

    /// Appends `event` to the audit log, when there is one.
    fn record(&self, client: &str, event: &Event<'_>) -> Result<(), AuditError> {
        self.audit.as_ref().map_or(Ok(()), |log| log.write(client, event))
    }

    /// Asks every running execution to stop (server shutdown).
    pub fn stop_all(&self) {
        for e in self.table().values() {
            e.stop.stop();
        }
    }
}

/// Runs `request` for `exec` on a thread of its own, stopped if its probes
/// take more than `budget_percent` of one CPU; `attached` hears once it is
/// attached, or why it could not attach. Its end goes to `audit`.
fn run(
    exec: Arc<Execution>,
    request: Request,
    budget_percent: f64,
    attached: oneshot::Sender<Result<(), LaunchError>>,
    audit: Option<Arc<AuditLog>>,
) {
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
        let guard = overhead::Guard::new(budget_percent);
        let mut judge = |run_time| {
            let (share, over) = guard.judge(run_time);
            exec.cost(share);
            over
        };
        let cost = CostWatch::every(overhead::EVERY, &mut judge);
        match launch::run(request, &mut sink, &stop, &mut on_started, cost) {
            Ok(ended) => {
                end(&exec, audit.as_deref(), Status::Completed, ended.reason, None);
                drop(ended.teardown);
            }
            Err(e) => {
                let error = Some(e.to_string());
                end(&exec, audit.as_deref(), Status::Failed, StopReason::Error, error);
                if let Some(tx) = attached.take() {
                    let _ = tx.send(Err(e));
                }
            }
        }
    });
}

/// Ends `exec` and records its end, before anyone waiting sees it ended.
fn end(
    exec: &Execution,
    audit: Option<&AuditLog>,
    status: Status,
    reason: StopReason,
    error: Option<String>,
) {
    let (Some(state), Some(log)) = (exec.finish(status, reason, error), audit) else { return };
    // A failed write was reported, and refuses the next program.
    let _ = log.write(&exec.client, &Event::end(exec, &state));
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
