use aya::programs::ProgramError;

use crate::host::tracefs::TracefsError;

#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    #[error("loading the eBPF object failed: {}", chain(.0))]
    Load(#[source] aya::EbpfError),
    #[error("eBPF program {program} is missing from the embedded object")]
    MissingProgram { program: String },
    #[error("eBPF map {0} is missing from the embedded object")]
    MissingMap(&'static str),
    #[error("no free {kind} slot (the native backend has {max} per probe kind)")]
    NoSlot { kind: &'static str, max: u32 },
    /// A lowering fault: every kernel probe names where it attaches.
    #[error("a kernel probe with no attach point")]
    NoAttachPoint,
    #[error("{}", refusal(.0))]
    Program(aya::programs::ProgramError),
    /// Attaching one probe of the program failed.
    #[error("{probe}: {source}")]
    Attach {
        probe: String,
        #[source]
        source: Box<NativeError>,
    },
    #[error("{what}: {source}")]
    Map {
        what: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error(transparent)]
    Tracefs(#[from] TracefsError),
    #[error(transparent)]
    Fentry(#[from] super::fentry::FentryError),
    #[error("counting CPUs: {0}")]
    Cpus(#[source] std::io::Error),
    #[error("waiting for events: {0}")]
    Poll(#[source] std::io::Error),
    #[error("opening perf buffers: {0}")]
    PerfBuffer(#[source] aya::maps::perf::PerfBufferError),
}

/// An error and its causes, as one line: aya's errors keep the kernel's
/// errno in their sources.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let next = e.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = e.source();
    }
    let denied = text.contains("Operation not permitted") || text.contains("Permission denied");
    if denied {
        text.push_str(" (loading BPF programs needs root, or CAP_BPF and CAP_PERFMON)");
    }
    text
}

/// What the kernel said about a program it refused, short enough for a
/// reason a client reads: the verifier's last findings, not its whole walk.
fn refusal(error: &ProgramError) -> String {
    let ProgramError::LoadError { io_error, verifier_log } = error else {
        return error.to_string();
    };
    let log = verifier_log.to_string();
    let findings: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_verifier_statistics(l))
        .collect();
    let tail = findings[findings.len().saturating_sub(VERIFIER_LINES)..].join(" / ");
    format!("the kernel refused the program ({io_error}); the verifier said: {tail}")
}

/// Lines of the verifier's log a refusal quotes.
const VERIFIER_LINES: usize = 3;

/// The verifier's closing statistics, which say nothing about the refusal.
fn is_verifier_statistics(line: &str) -> bool {
    ["processed ", "verification time", "stack depth", "max_states_per_insn"]
        .iter()
        .any(|p| line.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_quote_the_verifiers_last_findings() {
        let log = "0: R1=ctx() R10=fp0\n; x = y\n1230: (7b) *(u64 *)(r6 +56) = r4\n\
                   R6 invalid mem access 'scalar'\nverification time 343361 usec\n\
                   stack depth 40+8\nprocessed 1557 insns (limit 1000000)\n";
        let error = ProgramError::LoadError {
            io_error: std::io::Error::from_raw_os_error(libc::EACCES),
            verifier_log: aya_obj::VerifierLog::new(log.into()),
        };
        let reason = NativeError::Program(error).to_string();
        assert!(
            reason.starts_with("the kernel refused the program (Permission denied"),
            "{reason}"
        );
        assert!(
            reason.ends_with(
                "; x = y / 1230: (7b) *(u64 *)(r6 +56) = r4 / R6 invalid mem access 'scalar'"
            ),
            "{reason}"
        );
    }
}
