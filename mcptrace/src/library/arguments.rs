//! The typed arguments of library programs and the checks that keep them
//! from changing a program's meaning: a value is substituted only in the
//! canonical form its kind accepts, so no quote, brace, slash-predicate or
//! operator the caller writes ever reaches the program text.

use serde::Serialize;

use crate::host::processes;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArgKind {
    /// A process id: a decimal integer from 1 to 4194304 (the kernel's
    /// PID_MAX_LIMIT). It need not belong to a live process: pids are
    /// reused and a check would race the process anyway, so a pid that
    /// matches nothing simply yields empty output.
    Pid,
    /// A process name as `comm` holds it: 1 to 15 of `[A-Za-z0-9_.:/-]`,
    /// placed inside a string literal (so never a quote or backslash).
    Comm,
    /// A sampling frequency in Hz, 1 to 999.
    Hz,
    /// A period in milliseconds, 1 to 60000.
    Millis,
    /// An absolute file path compared with `str()`: at most 63 bytes (what
    /// `str()` keeps) of `[A-Za-z0-9/_.+-]`, starting with `/`.
    Path,
    /// The binary or library of a uprobe: an absolute path of
    /// `[A-Za-z0-9/_.-]` (up to 255 bytes) or a library name such as `libc`.
    /// No `:` (it separates the probe's parts) and no wildcards.
    Binary,
    /// A function name: a C identifier of up to 128 characters, no
    /// wildcards, so one argument attaches one function.
    Symbol,
}

/// Frequencies offered for completion: just under round numbers, so that
/// sampling does not run in lockstep with periodic work.
const COMMON_HZ: &[&str] = &["49", "99", "199", "499", "999"];
const COMMON_MILLIS: &[&str] = &["100", "250", "500", "1000", "5000"];
const COMMON_LIBRARIES: &[&str] = &["libc", "libpthread", "libssl", "libcrypto"];

/// `/proc/sys/kernel/pid_max` can be raised no higher.
const PID_MAX_LIMIT: u64 = 4_194_304;

#[derive(Clone, Copy, Debug)]
pub struct Argument {
    pub name: &'static str,
    pub description: &'static str,
    pub kind: ArgKind,
    /// Used when the argument is left out; `None` makes it required.
    pub default: Option<&'static str>,
    /// A value the program is planned with when listed, so its probe kinds
    /// and backend here can be told without the caller's values.
    pub example: &'static str,
}

/// Why a value was refused: what its kind accepts.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub expected: &'static str,
}

impl ArgKind {
    /// `value` as it goes into the program, or why it may not.
    pub fn canonical(self, value: &str) -> Result<String, Refused> {
        let number = |max: u64| {
            // Digits only: `parse` alone would take a leading `+`.
            let digits = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
            let n = value.parse::<u64>().ok().filter(|n| digits && (1..=max).contains(n));
            n.map(|n| n.to_string())
        };
        let chars = |max: usize, allowed: &[u8]| {
            (1..=max).contains(&value.len())
                && value.bytes().all(|b| b.is_ascii_alphanumeric() || allowed.contains(&b))
        };
        let (accepted, expected) = match self {
            Self::Pid => (number(PID_MAX_LIMIT), "a process id from 1 to 4194304"),
            Self::Hz => (number(999), "a frequency from 1 to 999 Hz"),
            Self::Millis => (number(60_000), "a period from 1 to 60000 ms"),
            Self::Comm => (
                chars(15, b"_.:/-").then(|| value.to_string()),
                "a process name of at most 15 letters, digits, `_`, `.`, `:`, `/` or `-`",
            ),
            Self::Path => (
                (value.starts_with('/') && chars(63, b"/_.+-")).then(|| value.to_string()),
                "an absolute path of at most 63 letters, digits, `/`, `_`, `.`, `+` or `-`",
            ),
            Self::Binary => {
                let path = value.starts_with('/') && chars(255, b"/_.-");
                let library =
                    value.starts_with(|c: char| c.is_ascii_alphabetic()) && chars(64, b"_.-");
                (
                    (path || library).then(|| value.to_string()),
                    "an absolute path of letters, digits, `/`, `_`, `.` or `-`, or a library \
                     name such as `libc`",
                )
            }
            Self::Symbol => (
                (value.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && chars(128, b"_"))
                .then(|| value.to_string()),
                "a function name (a C identifier)",
            ),
        };
        accepted.ok_or(Refused { expected })
    }
}

impl Argument {
    /// The values it can take here that start with `prefix`, for
    /// completion: running processes' ids or thread names, common
    /// frequencies, periods and libraries; only values its kind accepts.
    pub fn suggestions(&self, prefix: &str) -> Vec<String> {
        let common = |values: &[&str]| values.iter().map(|v| v.to_string()).collect();
        let candidates: Vec<String> = match self.kind {
            ArgKind::Pid => processes::pids().iter().map(u32::to_string).collect(),
            ArgKind::Comm => processes::comms().into_iter().collect(),
            ArgKind::Hz => common(COMMON_HZ),
            ArgKind::Millis => common(COMMON_MILLIS),
            ArgKind::Binary => common(COMMON_LIBRARIES),
            ArgKind::Path | ArgKind::Symbol => Vec::new(),
        };
        candidates
            .into_iter()
            .filter(|v| v.starts_with(prefix) && self.kind.canonical(v).is_ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{ArgKind::*, *};

    fn refused(kind: ArgKind, values: &[&str]) {
        for v in values {
            assert!(kind.canonical(v).is_err(), "{kind:?} took {v:?}");
        }
    }

    #[test]
    fn numbers_are_canonical_and_in_range() {
        assert_eq!(Pid.canonical("007"), Ok("7".into()));
        assert_eq!(Pid.canonical("4194304"), Ok("4194304".into()));
        refused(Pid, &["0", "-1", "+5", "4194305", "18446744073709551616", "1e3", " 1", "0x10"]);
        refused(Pid, &["1/ { system(\"id\"); } /1", "1 || 1", ""]);
        assert_eq!(Hz.canonical("99"), Ok("99".into()));
        refused(Hz, &["0", "1000", "99.5"]);
        assert_eq!(Millis.canonical("1000"), Ok("1000".into()));
        refused(Millis, &["0", "60001", "1s"]);
    }

    #[test]
    fn strings_cannot_leave_their_quotes_or_probe() {
        assert!(Comm.canonical("kworker/u8:2").is_ok());
        refused(Comm, &["x\"); system(\"id", "a\" || 1 == 1", "a\\", "sixteen-chars-xx", ""]);
        refused(Comm, &["a b", "a\nb", "é"]);
        assert!(Path.canonical("/tmp/data-1.log").is_ok());
        refused(Path, &["tmp/x", "/x\"/ { exit(); } /\"", "/a b", &format!("/{}", "a".repeat(63))]);
        assert!(Binary.canonical("libc").is_ok());
        assert!(Binary.canonical("/usr/lib/x86_64-linux-gnu/libc.so.6").is_ok());
        refused(Binary, &["/bin/sh:main", "/bin/*", "1libc", "libc { exit(); }", ""]);
        assert!(Symbol.canonical("_mcpt_target2").is_ok());
        refused(Symbol, &["malloc*", "a:b", "2x", "f { exit(); }", "a+0x10"]);
    }

    #[test]
    fn suggestions_are_values_the_kind_accepts() {
        let arg = |kind| Argument { name: "a", description: "", kind, default: None, example: "" };
        let own = std::process::id().to_string();
        assert!(arg(Pid).suggestions(&own).contains(&own));
        assert!(arg(Pid).suggestions("x").is_empty());
        assert_eq!(arg(Hz).suggestions("9"), ["99", "999"]);
        let names = arg(Comm).suggestions("");
        assert!(!names.is_empty());
        assert!(names.iter().all(|n| Comm.canonical(n).is_ok()), "{names:?}");
        assert_eq!(arg(Binary).suggestions("libc"), ["libc", "libcrypto"]);
    }
}
