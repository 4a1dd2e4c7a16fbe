//! What an agent needs to know before writing a program for this host, as
//! data (bpftrace's `--info`, for a client): the kernel, which probe kinds
//! attach, whether the native engine runs, the bpftrace used for fallbacks,
//! privileges, policy, limits and auditing.

use std::{path::Path, process::Command};

use schemars::JsonSchema;
use serde::Serialize;

use super::{audit::AuditStatus, privileges};
use crate::{
    check::Host,
    host::features::Support,
    lang::ast::ProbeKind,
    lower,
    native::AheadStatus,
    policy::{MIN_TIMEOUT, Policy},
};

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct HostSummary {
    /// The kernel release (`uname -r`).
    pub kernel: String,
    /// Whether the kernel's BTF is readable (typed `args` of kfunc probes).
    pub btf: bool,
    /// Each probe kind: whether it attaches here, and if not, why.
    pub probe_kinds: Vec<KindSupport>,
    /// Whether this kernel runs the native engine (`bpf_loop`, ring buffers).
    pub native_engine: Availability,
    /// The bpftrace binary used for programs outside the native subset.
    pub bpftrace: Bpftrace,
    /// Whether this server may load and attach programs.
    pub privileges: Availability,
    /// bpftrace's unsafe functions (`system`, `signal`, `override`) allowed.
    pub allow_unsafe: bool,
    /// None of the policy's sensitive denials is left: cat() reads any
    /// file, uprobes may attach to credential handlers and TLS plaintext.
    pub allow_sensitive: bool,
    pub limits: Limits,
    /// Whether programs, stops and ends are written to an audit log, and where.
    pub audit: AuditStatus,
    /// The native session a server keeps loaded ahead of its executions
    /// (maps created, the first slot program of each common kind verified,
    /// attached nowhere); absent outside a server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_ahead: Option<AheadStatus>,
    /// The server's overhead guard; absent outside a server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overhead_guard: Option<OverheadGuard>,
    /// The effective policy, as `mcptrace policy` prints it: probe kinds,
    /// user-probe binaries and functions, cat() paths, unsafe functions and
    /// limits.
    pub policy: Policy,
}

/// Executions whose probes take more than `budget_cpu_percent` of one CPU,
/// averaged since their start, are stopped with `overhead_budget`.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct OverheadGuard {
    pub budget_cpu_percent: f64,
    /// Whether the kernel counts the programs' run time (BPF_ENABLE_STATS);
    /// without it every cost reads as zero and nothing is stopped.
    pub measuring: Availability,
}

impl OverheadGuard {
    pub fn new(statistics: &Result<(), String>, policy: &Policy) -> Self {
        let measuring = match statistics {
            Ok(()) => Support::Yes,
            Err(e) => Support::No(format!("BPF run-time statistics are off: {e}")),
        };
        let budget_cpu_percent = policy.limits.max_probe_cpu_percent;
        Self { budget_cpu_percent, measuring: measuring.into() }
    }
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct KindSupport {
    pub kind: &'static str,
    pub attaches: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether mcptrace runs this kind natively (where it attaches).
    pub native: bool,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Availability {
    pub available: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<Support> for Availability {
    fn from(s: Support) -> Self {
        match s {
            Support::Yes => Self { available: true, reason: None },
            Support::No(why) => Self { available: false, reason: Some(why) },
        }
    }
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Bpftrace {
    pub path: String,
    /// `bpftrace --version`'s answer, when it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Why it does not run, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Limits {
    pub concurrent_executions: usize,
    pub default_timeout_seconds: f64,
    pub min_timeout_seconds: f64,
    pub max_timeout_seconds: f64,
    pub max_output_lines: usize,
    pub max_program_bytes: usize,
}

/// Gathers the summary; `bpftrace` is the binary the executor falls back to.
pub fn gather(
    host: &dyn Host,
    bpftrace: &Path,
    policy: &Policy,
    audit: AuditStatus,
) -> HostSummary {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let probe_kinds = ProbeKind::ALL
        .iter()
        .map(|&kind| {
            let support = Availability::from(host.support(kind));
            KindSupport {
                kind: kind.name(),
                attaches: support.available,
                reason: support.reason,
                native: lower::is_native_kind(kind),
            }
        })
        .collect();
    HostSummary {
        kernel,
        btf: Path::new("/sys/kernel/btf/vmlinux").exists(),
        probe_kinds,
        native_engine: host.native_engine().into(),
        bpftrace: version_of(bpftrace),
        privileges: match privileges::check() {
            Ok(()) => Support::Yes,
            Err(missing) => Support::No(missing.to_string()),
        }
        .into(),
        allow_unsafe: policy.allow_unsafe,
        allow_sensitive: policy.allows_sensitive(),
        limits: Limits {
            concurrent_executions: policy.limits.max_concurrent_executions,
            default_timeout_seconds: policy.timeout(None),
            min_timeout_seconds: MIN_TIMEOUT,
            max_timeout_seconds: policy.limits.max_execution_seconds,
            max_output_lines: policy.limits.max_output_lines,
            max_program_bytes: policy.limits.max_program_bytes,
        },
        audit,
        session_ahead: None,
        overhead_guard: None,
        policy: policy.clone(),
    }
}

fn version_of(bpftrace: &Path) -> Bpftrace {
    let path = bpftrace.display().to_string();
    match Command::new(bpftrace).arg("--version").output() {
        Ok(out) if out.status.success() => Bpftrace {
            path,
            version: Some(String::from_utf8_lossy(&out.stdout).trim().to_string()),
            error: None,
        },
        Ok(out) => Bpftrace {
            path,
            version: None,
            error: Some(format!("`--version` failed: {}", out.status)),
        },
        Err(e) => Bpftrace { path, version: None, error: Some(e.to_string()) },
    }
}
