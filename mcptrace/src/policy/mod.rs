//! The operator's policy: what a client's programs may do on this host.
//! The caller is an agent, not the root user at a terminal, so the default
//! keeps secrets out of reach: every probe kind attaches, but no user probe
//! on credential handlers and no uprobe on TLS plaintext, cat() of /proc
//! and /sys only, no unsafe functions, and bounded time, output,
//! concurrency and program size.
//!
//! An operator widens or narrows it with a TOML file (`--policy FILE`, see
//! `file`); the `--allow-unsafe` and `--allow-sensitive` flags apply on top.
//! The value here is the one source of truth: the checker and the executor
//! ask it (`rules`), `mcptrace policy` and `host_info` show it.

pub mod file;
mod kinds;
pub mod rules;

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, de::Error as _};

pub use file::PolicyFileError;

use crate::scope::Scope;
pub use kinds::ProbeKinds;
pub use rules::{Denial, Rule};

/// The shortest time limit an execution gets, in seconds.
pub const MIN_TIMEOUT: f64 = 1.0;
/// The time limit when a client names none, unless the policy's maximum is lower.
pub const DEFAULT_TIMEOUT: f64 = 10.0;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// bpftrace's unsafe functions (`system`, `signal`, `override`, …),
    /// run through `bpftrace --unsafe` when allowed.
    pub allow_unsafe: bool,
    pub probes: Probes,
    pub user_probes: UserProbes,
    pub cat: Cat,
    pub limits: Limits,
    /// Every probe sees only this process's or cgroup's events (`pid=PID`
    /// or `cgroup=PATH`; see `scope`); none: the whole host.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub scope: Option<Scope>,
    /// The file this was read from, named in denials so the operator knows
    /// what to edit; not part of the policy itself.
    #[serde(skip)]
    #[schemars(skip)]
    pub file: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Probes {
    /// The probe kinds that may attach (long names; aliases such as
    /// `fentry` are read too). BEGIN and END are always allowed.
    pub kinds: ProbeKinds,
}

/// Uprobes, uretprobes and usdt probes. A binary entry with a `/` is a
/// path; one without names the file in any directory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UserProbes {
    /// The only binaries they may attach to; absent, any binary not denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_binaries: Option<Vec<String>>,
    /// Binaries they may not attach to: by default the programs whose
    /// memory holds what users type to authenticate.
    pub deny_binaries: Vec<String>,
    /// Functions uprobes may not attach to, in any binary: by default those
    /// through which TLS libraries pass plaintext.
    pub deny_functions: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Cat {
    /// Absolute directories cat() may read files under. `"/"` reads any
    /// file; under the others, paths are literal, without `..`, and do not
    /// pass through /proc entries that lead into a process's files, memory
    /// or environment (`root`, `cwd`, `fd`, `environ`, `mem`, …).
    #[serde(deserialize_with = "absolute_paths")]
    pub paths: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// The longest time limit a client may ask for; longer ones are cut to it.
    #[serde(deserialize_with = "seconds")]
    pub max_execution_seconds: f64,
    /// Output lines one execution keeps; past this it stops and says `truncated`.
    #[serde(deserialize_with = "positive")]
    pub max_output_lines: usize,
    #[serde(deserialize_with = "positive")]
    pub max_concurrent_executions: usize,
    #[serde(deserialize_with = "positive")]
    pub max_program_bytes: usize,
    /// The share of one CPU, in percent, an execution's probes may take
    /// (averaged since its start) before it is stopped with
    /// `overhead_budget`; enforced by the server.
    #[serde(deserialize_with = "percent")]
    pub max_probe_cpu_percent: f64,
}

impl Default for UserProbes {
    fn default() -> Self {
        Self {
            allow_binaries: None,
            deny_binaries: strings(&[
                "sshd",
                "sshd-session",
                "sshd-auth",
                "sudo",
                "su",
                "passwd",
                "login",
                "gpg-agent",
                "ssh-agent",
            ]),
            deny_functions: strings(&[
                "SSL_read",
                "SSL_read_ex",
                "SSL_write",
                "SSL_write_ex",
                "SSL_peek",
                "gnutls_record_recv",
                "gnutls_record_send",
                "PR_Read",
                "PR_Write",
                "PR_Recv",
                "PR_Send",
                "mbedtls_ssl_read",
                "mbedtls_ssl_write",
                "wolfSSL_read",
                "wolfSSL_write",
            ]),
        }
    }
}

impl Default for Cat {
    fn default() -> Self {
        Self { paths: strings(&["/proc", "/sys"]) }
    }
}

impl Default for Limits {
    /// Far beyond what tracing a host for an agent takes, and small enough
    /// that a misbehaving client cannot pin the host or the server's memory.
    fn default() -> Self {
        Self {
            max_execution_seconds: 60.0,
            max_output_lines: 10_000,
            max_concurrent_executions: 5,
            max_program_bytes: 64 * 1024,
            max_probe_cpu_percent: 5.0,
        }
    }
}

impl Policy {
    /// `--allow-sensitive`: drops the denials that keep secrets out of
    /// reach (credential handlers, TLS plaintext, files outside cat.paths);
    /// the operator's own allow list and probe kinds stay.
    pub fn allowing_sensitive(mut self) -> Self {
        self.user_probes.deny_binaries.clear();
        self.user_probes.deny_functions.clear();
        self.cat.paths = vec!["/".into()];
        self
    }

    /// Whether none of the sensitive denials is left (host_info's flag).
    pub fn allows_sensitive(&self) -> bool {
        self.user_probes.deny_binaries.is_empty()
            && self.user_probes.deny_functions.is_empty()
            && self.cat.reads_anything()
    }

    /// The time limit in seconds for a client's request: the default when
    /// none (or no number) is given, else clamped to 1..=the maximum.
    pub fn timeout(&self, requested: Option<f64>) -> f64 {
        let max = self.limits.max_execution_seconds;
        match requested {
            Some(t) if t.is_finite() => t.clamp(MIN_TIMEOUT, max),
            _ => DEFAULT_TIMEOUT.min(max),
        }
    }
}

impl Cat {
    fn reads_anything(&self) -> bool {
        self.paths.iter().any(|p| p == "/")
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A time limit the executor can honour: at least [`MIN_TIMEOUT`], and
/// within what a `Duration` holds (u32::MAX seconds stands for no limit).
fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let s = f64::deserialize(d)?;
    let max = f64::from(u32::MAX);
    if (MIN_TIMEOUT..max).contains(&s) {
        Ok(s)
    } else {
        Err(D::Error::custom(format!("expected {MIN_TIMEOUT} to {max} seconds, got {s}")))
    }
}

/// Above 0 (which would stop everything) and at most the CPUs of a large host.
fn percent<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let p = f64::deserialize(d)?;
    if p > 0.0 && p <= 100_000.0 {
        Ok(p)
    } else {
        Err(D::Error::custom(format!("expected a share of one CPU in percent, above 0, got {p}")))
    }
}

/// A limit of zero would refuse everything; that is a typo, not a policy.
fn positive<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    match usize::deserialize(d)? {
        0 => Err(D::Error::custom("expected a positive number, got 0")),
        n => Ok(n),
    }
}

/// Directories cat() may read under: absolute, kept without a trailing `/`
/// (except `/` itself) so that matching is by whole path components.
fn absolute_paths<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Vec::<String>::deserialize(d)?
        .into_iter()
        .map(|p| match p.trim_end_matches('/') {
            _ if !p.starts_with('/') => {
                Err(D::Error::custom(format!("`{p}` is not an absolute path")))
            }
            "" => Ok("/".to_string()),
            trimmed => Ok(trimmed.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests;
