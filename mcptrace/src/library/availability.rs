//! Whether a library program runs on this host, and how: planned, not
//! written down, by the same path `validate_program` takes, so the listing
//! and what exec_program does cannot disagree.

use schemars::JsonSchema;
use serde::Serialize;

use super::Program;
use crate::{check::Host, plan::Backend, policy::Policy, validate};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Runs {
    /// By mcptrace's own eBPF programs.
    Native,
    /// Through the bpftrace binary.
    Bpftrace,
    /// Not at all: the checks refuse it here (e.g. kprobes on a kernel
    /// without them).
    Refused,
}

impl Availability {
    /// As a sentence after "On this host it": "runs natively", ...
    pub fn sentence(&self) -> String {
        match self.runs {
            Runs::Native => "runs natively".to_string(),
            Runs::Bpftrace => format!("runs through bpftrace: {}", self.reason),
            Runs::Refused => format!("is refused: {}", self.reason),
        }
    }
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Availability {
    pub runs: Runs,
    /// Why that backend, or why it is refused.
    pub reason: String,
}

/// How `program`, filled with its example arguments, would run on `host`
/// under `policy`. A caller's own binary or function for a uprobe can
/// change the answer; [`of_rendered`] tells for a given rendering.
pub fn on(program: &Program, host: &dyn Host, policy: &Policy) -> Availability {
    of_rendered(&program.example(), host, policy)
}

/// How a rendered library program would run on `host` under `policy`.
pub fn of_rendered(source: &str, host: &dyn Host, policy: &Policy) -> Availability {
    let v = validate::validate(source, host, policy, None);
    match v.backend {
        Some(backend) => Availability {
            runs: match backend {
                Backend::Native => Runs::Native,
                Backend::Bpftrace => Runs::Bpftrace,
            },
            reason: v.backend_reason.unwrap_or_default(),
        },
        None => Availability {
            runs: Runs::Refused,
            reason: v.errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join("; "),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{check::fake_host::FakeHost, library::find};

    #[test]
    fn a_probe_the_host_lacks_is_refused_with_its_reason() {
        let a = on(find("vfs_calls_by_process").unwrap(), &FakeHost, &Policy::default());
        assert_eq!(a.runs, Runs::Refused, "{a:?}");
        assert!(a.reason.contains("no kprobes here"), "{a:?}");
        let a = on(find("file_opens_by_pid").unwrap(), &FakeHost, &Policy::default());
        assert_eq!((a.runs, a.reason.as_str()), (Runs::Native, "every construct runs natively"));
    }
}
