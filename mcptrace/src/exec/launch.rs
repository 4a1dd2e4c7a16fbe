//! Runs a planned program on a backend, for every front end: the server's
//! executions and `mcptrace run` both come through here. The native backend
//! runs what lowers to the IR; everything else, and under `auto` also a
//! program the kernel refuses to load or attach natively, runs through
//! bpftrace in the dialect it reads, with the reason said.

use std::{os::fd::AsFd, path::PathBuf, time::Duration};

use super::{
    StopReason,
    bpftrace::{self, BpftraceError, BpftraceRun},
    stop::StopSignal,
};
use crate::{
    check::Checked,
    host::bpf_stats::CostWatch,
    lang::{
        dialect::{self, Beyond017},
        pretty,
    },
    native::{
        NativeError, Sessions,
        run::{self as native_run, Teardown},
    },
    output::RecordSink,
    plan::{Backend, Fallback, Plan},
};

/// The backend a caller asks for.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    /// Native where the program lowers and the kernel takes it; else bpftrace.
    #[default]
    Auto,
    Native,
    Bpftrace,
}

/// Everything one run needs.
pub struct Request {
    pub checked: Checked,
    pub plan: Plan,
    pub choice: Choice,
    /// None: until exit() or a stop.
    pub timeout: Option<Duration>,
    /// The bpftrace binary for fallbacks.
    pub bpftrace: PathBuf,
    /// Whether bpftrace runs with `--unsafe` (the checker allowed unsafe functions).
    pub allow_unsafe: bool,
    /// Where native runs get their loaded object.
    pub sessions: Sessions,
}

/// Which backend attached, and why that one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    pub backend: Backend,
    pub reason: String,
}

/// How a run ended. Dropping `teardown` detaches what the native backend
/// attached: it can take ~70 ms per tracepoint, so callers publish the
/// result first.
pub struct Ended {
    pub reason: StopReason,
    pub teardown: Option<Teardown>,
}

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("the native backend cannot run this program: {0}")]
    NotNative(Fallback),
    /// The kernel refused the native programs and the caller asked for
    /// native only.
    #[error("the kernel refused the native programs: {0}")]
    NativeRefused(#[source] NativeError),
    #[error(transparent)]
    Native(NativeError),
    #[error(transparent)]
    Bpftrace(#[from] BpftraceError),
    /// The program was to run on bpftrace (asked for, or after the kernel
    /// refused the native programs), which cannot read it.
    #[error("bpftrace cannot run this program ({reason}): {beyond}")]
    Beyond017 { reason: String, beyond: Beyond017 },
}

/// Runs `request` to its end on this thread, records into `sink`; `cost`
/// hears what its programs cost and may stop it.
/// `on_started` hears once the probes are attached, before BEGIN output
/// reaches the sink (bpftrace's BEGIN may run first); an error before it was
/// called means nothing attached.
pub fn run(
    request: Request,
    sink: &mut dyn RecordSink,
    stop: &StopSignal,
    on_started: &mut dyn FnMut(&Started),
    cost: CostWatch<'_>,
) -> Result<Ended, LaunchError> {
    let native = match (request.choice, &request.plan.native) {
        (Choice::Bpftrace, _) => None,
        (_, Some(lowered)) => Some(lowered.0.as_ref().clone()),
        (Choice::Native, None) => {
            let why = request.plan.fallback.clone().expect("a plan without IR says why");
            return Err(LaunchError::NotNative(why));
        }
        (Choice::Auto, None) => None,
    };
    let reason = match native {
        None if request.choice == Choice::Bpftrace => "bpftrace was asked for".to_string(),
        None => request.plan.backend_reason(),
        Some(program) => match native_run::attach(program, &request.sessions) {
            Ok(attached) => {
                let reason = request.plan.backend_reason();
                on_started(&Started { backend: Backend::Native, reason });
                let limit = request.timeout.unwrap_or(Duration::from_secs(u32::MAX.into()));
                let (outcome, teardown) =
                    attached.run(limit, sink, stop.as_fd(), cost).map_err(LaunchError::Native)?;
                return Ok(Ended { reason: outcome.reason.into(), teardown: Some(teardown) });
            }
            Err(e) if request.choice == Choice::Native => {
                return Err(LaunchError::NativeRefused(e));
            }
            Err(e) => format!("the kernel refused the native programs: {e}"),
        },
    };
    if let Some(beyond) = dialect::beyond_017(&request.checked.program) {
        return Err(LaunchError::Beyond017 { reason, beyond });
    }
    let job = BpftraceRun {
        binary: &request.bpftrace,
        allow_unsafe: request.allow_unsafe,
        // bpftrace 0.17 reads `args->f`, not the newer `args.f`, and its
        // settings from the environment, not a config block.
        text: pretty::program(&dialect::for_bpftrace_017(&request.checked.program)),
        env: dialect::env_017(&request.checked.program),
        awaited: bpftrace::awaited_probes(&request.checked),
        timeout: request.timeout,
    };
    let started = Started { backend: Backend::Bpftrace, reason };
    let reason = bpftrace::run(job, sink, stop, &mut || on_started(&started), cost)?;
    Ok(Ended { reason, teardown: None })
}
