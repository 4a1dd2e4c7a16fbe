//! A small library of vetted one-liners with parameters. Arguments are
//! checked before they reach the program text (a pid is digits, a process
//! name is a short plain word), so a rendered program is always one of the
//! programs below with safe values filled in. Each runs natively; the tests
//! plan and run every one.

use std::collections::BTreeMap;

use crate::host::processes;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// A process id.
    Pid,
    /// A process name as `comm` holds it: at most 15 of `[A-Za-z0-9_.-]`.
    Comm,
    /// A sampling frequency in Hz, 1 to 999.
    Hz,
}

/// Frequencies offered for completion: just under round numbers, so that
/// sampling does not run in lockstep with periodic work.
const COMMON_HZ: &[&str] = &["49", "99", "199", "499", "999"];

#[derive(Clone, Copy, Debug)]
pub struct Argument {
    pub name: &'static str,
    pub description: &'static str,
    pub kind: ArgKind,
    /// Used when the argument is left out; `None` makes it required.
    pub default: Option<&'static str>,
}

#[derive(Clone, Copy, Debug)]
pub struct OneLiner {
    pub name: &'static str,
    pub description: &'static str,
    pub arguments: &'static [Argument],
    /// The program, with `{argument}` where each argument goes.
    pub template: &'static str,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("no one-liner named `{0}`")]
    Unknown(String),
    #[error("argument `{0}` is required")]
    Missing(&'static str),
    #[error("argument `{name}` = `{value}` is not {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
    #[error("unknown argument `{0}`")]
    Unexpected(String),
}

const PID: Argument = Argument {
    name: "pid",
    description: "The process id to trace.",
    kind: ArgKind::Pid,
    default: None,
};

pub const LIBRARY: &[OneLiner] = &[
    OneLiner {
        name: "syscall_counts_by_process",
        description: "Count system calls by process name, system-wide.",
        arguments: &[],
        template: "tracepoint:raw_syscalls:sys_enter { @syscalls[comm] = count(); }",
    },
    OneLiner {
        name: "file_opens_by_pid",
        description: "Print each file a process opens, with the flags.",
        arguments: &[PID],
        template: "tracepoint:syscalls:sys_enter_openat /pid == {pid}/ \
                   { printf(\"%s %s flags=%d\\n\", comm, str(args.filename), args.flags); }",
    },
    OneLiner {
        name: "read_size_histogram",
        description: "Histogram of the bytes each successful read() returns, for processes \
                      with a given name.",
        arguments: &[Argument {
            name: "comm",
            description: "The process name (as `ps -o comm` shows it, at most 15 characters).",
            kind: ArgKind::Comm,
            default: None,
        }],
        template: "tracepoint:syscalls:sys_exit_read /comm == \"{comm}\" && args.ret > 0/ \
                   { @bytes = hist(args.ret); }",
    },
    OneLiner {
        name: "syscall_latency_by_pid",
        description: "Latency histograms in microseconds of a process's system calls, by \
                      system call number.",
        arguments: &[PID],
        template: "tracepoint:raw_syscalls:sys_enter /pid == {pid}/ { @start[tid] = nsecs; } \
                   tracepoint:raw_syscalls:sys_exit /pid == {pid} && @start[tid]/ \
                   { @usecs[args.id] = hist((nsecs - @start[tid]) / 1000); delete(@start[tid]); }",
    },
    OneLiner {
        name: "cpu_profile_of_pid",
        description: "Sample a process's user and kernel stacks on every CPU and count them.",
        arguments: &[
            PID,
            Argument {
                name: "hz",
                description: "Samples per second per CPU (default 99).",
                kind: ArgKind::Hz,
                default: Some("99"),
            },
        ],
        template: "profile:hz:{hz} /pid == {pid}/ { @stacks[ustack, kstack] = count(); }",
    },
];

pub fn find(name: &str) -> Result<&'static OneLiner, RenderError> {
    LIBRARY.iter().find(|o| o.name == name).ok_or_else(|| RenderError::Unknown(name.to_string()))
}

impl OneLiner {
    /// The program with `args` filled in, each checked against its kind.
    pub fn render(&self, args: &BTreeMap<String, String>) -> Result<String, RenderError> {
        if let Some(extra) = args.keys().find(|k| self.arguments.iter().all(|a| a.name != *k)) {
            return Err(RenderError::Unexpected(extra.clone()));
        }
        let mut program = self.template.to_string();
        for arg in self.arguments {
            let value = match (args.get(arg.name), arg.default) {
                (Some(v), _) => v.trim(),
                (None, Some(default)) => default,
                (None, None) => return Err(RenderError::Missing(arg.name)),
            };
            check(arg, value)?;
            program = program.replace(&format!("{{{}}}", arg.name), value);
        }
        Ok(program)
    }
}

impl Argument {
    /// The values it can take here that start with `prefix`, for
    /// completion: running processes' ids or thread names, or common
    /// frequencies; only values that [`OneLiner::render`] accepts.
    pub fn suggestions(&self, prefix: &str) -> Vec<String> {
        let candidates: Vec<String> = match self.kind {
            ArgKind::Pid => processes::pids().iter().map(u32::to_string).collect(),
            ArgKind::Comm => processes::comms().into_iter().collect(),
            ArgKind::Hz => COMMON_HZ.iter().map(|hz| hz.to_string()).collect(),
        };
        candidates.into_iter().filter(|v| v.starts_with(prefix) && check(self, v).is_ok()).collect()
    }
}

fn check(arg: &Argument, value: &str) -> Result<(), RenderError> {
    let number = |max: u64| value.parse::<u64>().ok().filter(|n| (1..=max).contains(n));
    let (ok, expected) = match arg.kind {
        ArgKind::Pid => (number(u64::from(u32::MAX)).is_some(), "a process id"),
        ArgKind::Hz => (number(999).is_some(), "a frequency from 1 to 999 Hz"),
        ArgKind::Comm => (
            (1..=15).contains(&value.len())
                && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)),
            "a process name of at most 15 letters, digits, `_`, `.` or `-`",
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(RenderError::Invalid { name: arg.name, value: value.to_string(), expected })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn fills_arguments_and_defaults() {
        let p = find("cpu_profile_of_pid").unwrap().render(&args(&[("pid", "42")])).unwrap();
        assert_eq!(p, "profile:hz:99 /pid == 42/ { @stacks[ustack, kstack] = count(); }");
        let p = find("syscall_latency_by_pid").unwrap().render(&args(&[("pid", "7")])).unwrap();
        assert_eq!(p.matches("pid == 7").count(), 2);
        assert!(!p.contains("{pid}"), "{p}");
    }

    #[test]
    fn suggestions_are_values_render_accepts() {
        let profile = find("cpu_profile_of_pid").unwrap();
        let [pid, hz] = profile.arguments else { panic!() };
        let own = std::process::id().to_string();
        assert!(pid.suggestions(&own).contains(&own));
        assert!(pid.suggestions("x").is_empty());
        assert_eq!(hz.suggestions("9"), ["99", "999"]);
        let comm = &find("read_size_histogram").unwrap().arguments[0];
        let names = comm.suggestions("");
        assert!(!names.is_empty());
        assert!(names.iter().all(|n| check(comm, n).is_ok()), "{names:?}");
    }

    #[test]
    fn refuses_values_that_would_change_the_program() {
        let opens = find("file_opens_by_pid").unwrap();
        assert_eq!(opens.render(&args(&[])), Err(RenderError::Missing("pid")));
        for bad in ["1/ { system(\"id\"); } /1", "0", "-1", "x"] {
            assert!(matches!(
                opens.render(&args(&[("pid", bad)])),
                Err(RenderError::Invalid { name: "pid", .. })
            ));
        }
        let reads = find("read_size_histogram").unwrap();
        assert!(reads.render(&args(&[("comm", "a\" || 1 == 1")])).is_err());
        assert!(reads.render(&args(&[("comm", "sixteen-chars-xx")])).is_err());
        assert!(reads.render(&args(&[("comm", "bash")])).is_ok());
        assert_eq!(
            reads.render(&args(&[("comm", "bash"), ("pid", "1")])),
            Err(RenderError::Unexpected("pid".into()))
        );
        assert!(matches!(find("nope"), Err(RenderError::Unknown(_))));
    }
}
