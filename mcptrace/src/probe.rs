//! Concrete probes: what an attach point stands for once the checker has
//! expanded its wildcards against the host, typed and parsed once. Lowering,
//! the bpftrace backend, validation and the probe listing all read these;
//! `Display` writes a probe's full name (what the `probe` builtin prints),
//! and is the one place that does.

use std::{fmt, path::PathBuf};

use crate::{host::syscalls, lang::ast::ProbeKind};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    Begin,
    End,
    Tracepoint {
        category: String,
        name: String,
    },
    RawTracepoint {
        name: String,
    },
    /// `kprobe:FUNCTION[+OFFSET]`, or with `ret`, `kretprobe:FUNCTION`.
    Kprobe {
        function: String,
        offset: u64,
        ret: bool,
    },
    /// `kfunc:FUNCTION` (fentry), or with `ret`, `kretfunc:FUNCTION` (fexit).
    Kfunc {
        function: String,
        ret: bool,
    },
    /// `uprobe:BINARY:LOCATION`, or with `ret`, `uretprobe:…`.
    Uprobe {
        binary: PathBuf,
        location: UserLocation,
        ret: bool,
    },
    /// `usdt:BINARY:[PROVIDER:]NAME`: one location of a USDT probe.
    Usdt(Usdt),
    Profile(Rate),
    Interval(Rate),
    /// `software:EVENT[:COUNT]`; `name` is the event as written (an alias
    /// such as `cs` prints as written).
    Software {
        event: Software,
        name: String,
        count: Option<u64>,
    },
    Hardware {
        event: String,
        count: Option<u64>,
    },
    /// Watchpoints and iterators: passed to bpftrace as written.
    Other {
        kind: ProbeKind,
        text: String,
    },
}

/// A USDT probe's location, from its note in `binary`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usdt {
    pub binary: PathBuf,
    pub provider: String,
    pub name: String,
    /// The probe site's virtual address.
    pub address: u64,
    /// The is-enabled semaphore's virtual address; 0 when there is none.
    pub semaphore: u64,
    /// The argument specs as the note has them (see `ir::usdt_args`).
    pub args: String,
}

/// Where in a binary a uprobe sits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserLocation {
    /// A function, and bytes into it.
    Symbol { name: String, offset: u64 },
    /// A virtual address in the binary.
    Address(u64),
}

/// How often a timer probe fires: `COUNT` per second (`hz`), or every
/// `COUNT` seconds, milliseconds or microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub unit: RateUnit,
    pub count: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateUnit {
    Hz,
    S,
    Ms,
    Us,
}

impl RateUnit {
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "hz" => Self::Hz,
            "s" => Self::S,
            "ms" => Self::Ms,
            "us" => Self::Us,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Hz => "hz",
            Self::S => "s",
            Self::Ms => "ms",
            Self::Us => "us",
        }
    }
}

/// Why a timer probe's parts name no rate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    #[error("expected a unit and a count (interval:s:1) or a time (interval:1s)")]
    Shape,
    #[error("unknown unit `{unit}` ({known})")]
    Unit { unit: String, known: &'static str },
    #[error("`{0}` is not a positive count")]
    Count(String),
    #[error("`{0}` is not a whole number of microseconds, the finest period a timer takes")]
    TooFine(String),
}

impl Rate {
    /// The rate the parts of a `profile` or `interval` attach point name:
    /// `UNIT:COUNT`, or one part: a time (`1s`, `100ms`; bpftrace 0.21+,
    /// where a bare number is nanoseconds), except that a bare number in a
    /// `profile` probe is a frequency in hz.
    pub fn from_parts(kind: ProbeKind, parts: &[String]) -> Result<Rate, RateError> {
        let (unit, count) = match parts {
            [count] if kind == ProbeKind::Profile && count.bytes().all(|b| b.is_ascii_digit()) => {
                (RateUnit::Hz, count)
            }
            [time] => return Self::from_time(time),
            [unit, count] => match RateUnit::from_name(unit) {
                Some(unit) => (unit, count),
                None => {
                    let (unit, known) = (unit.clone(), "hz, s, ms, us");
                    return Err(RateError::Unit { unit, known });
                }
            },
            _ => return Err(RateError::Shape),
        };
        match count.parse::<u64>() {
            Ok(count) if count > 0 => Ok(Rate { unit, count }),
            _ => Err(RateError::Count(count.clone())),
        }
    }

    /// A period written as a number and a time unit (none: nanoseconds), in
    /// the coarsest unit that holds it exactly.
    fn from_time(text: &str) -> Result<Rate, RateError> {
        const UNITS: [(&str, u64); 8] = [
            ("", 1),
            ("ns", 1),
            ("us", 1_000),
            ("ms", 1_000_000),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
            ("h", 3_600_000_000_000),
            ("d", 86_400_000_000_000),
        ];
        let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        let (number, unit) = text.split_at(digits);
        let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            let (unit, known) = (unit.to_string(), "ns, us, ms, s, m, h, d");
            return Err(RateError::Unit { unit, known });
        };
        let ns = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .filter(|ns| *ns > 0)
            .ok_or_else(|| RateError::Count(text.to_string()))?;
        [(RateUnit::S, 1_000_000_000), (RateUnit::Ms, 1_000_000), (RateUnit::Us, 1_000)]
            .into_iter()
            .find(|(_, per)| ns % per == 0)
            .map(|(unit, per)| Rate { unit, count: ns / per })
            .ok_or_else(|| RateError::TooFine(text.to_string()))
    }

    /// Nanoseconds between two firings.
    pub fn period_ns(self) -> u64 {
        match self.unit {
            RateUnit::Hz => 1_000_000_000 / self.count.max(1),
            RateUnit::S => self.count.saturating_mul(1_000_000_000),
            RateUnit::Ms => self.count.saturating_mul(1_000_000),
            RateUnit::Us => self.count.saturating_mul(1000),
        }
    }
}

/// A syscall tracepoint's direction and syscall number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syscall {
    pub enter: bool,
    pub nr: u32,
}

impl Probe {
    pub fn kind(&self) -> ProbeKind {
        match self {
            Probe::Begin => ProbeKind::Begin,
            Probe::End => ProbeKind::End,
            Probe::Tracepoint { .. } => ProbeKind::Tracepoint,
            Probe::RawTracepoint { .. } => ProbeKind::RawTracepoint,
            Probe::Kprobe { ret: false, .. } => ProbeKind::Kprobe,
            Probe::Kprobe { ret: true, .. } => ProbeKind::Kretprobe,
            Probe::Kfunc { ret: false, .. } => ProbeKind::Kfunc,
            Probe::Kfunc { ret: true, .. } => ProbeKind::Kretfunc,
            Probe::Uprobe { ret: false, .. } => ProbeKind::Uprobe,
            Probe::Uprobe { ret: true, .. } => ProbeKind::Uretprobe,
            Probe::Usdt(_) => ProbeKind::Usdt,
            Probe::Profile(_) => ProbeKind::Profile,
            Probe::Interval(_) => ProbeKind::Interval,
            Probe::Software { .. } => ProbeKind::Software,
            Probe::Hardware { .. } => ProbeKind::Hardware,
            Probe::Other { kind, .. } => *kind,
        }
    }

    /// For `tracepoint:syscalls:sys_{enter,exit}_NAME`, which syscall.
    pub fn syscall(&self) -> Option<Syscall> {
        let Probe::Tracepoint { category, name } = self else { return None };
        if category != "syscalls" {
            return None;
        }
        let (enter, syscall) = match name.strip_prefix("sys_enter_") {
            Some(s) => (true, s),
            None => (false, name.strip_prefix("sys_exit_")?),
        };
        Some(Syscall { enter, nr: syscalls::number(syscall)? })
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind().name();
        match self {
            Probe::Begin | Probe::End => f.write_str(kind),
            Probe::Tracepoint { category, name } => write!(f, "{kind}:{category}:{name}"),
            Probe::RawTracepoint { name } => write!(f, "{kind}:{name}"),
            Probe::Kprobe { function, offset: 0, .. } | Probe::Kfunc { function, .. } => {
                write!(f, "{kind}:{function}")
            }
            Probe::Kprobe { function, offset, .. } => write!(f, "{kind}:{function}+{offset}"),
            Probe::Uprobe { binary, location, .. } => {
                write!(f, "{kind}:{}:{location}", binary.display())
            }
            Probe::Usdt(u) => {
                write!(f, "{kind}:{}:{}:{}", u.binary.display(), u.provider, u.name)
            }
            Probe::Profile(rate) | Probe::Interval(rate) => {
                write!(f, "{kind}:{}:{}", rate.unit.name(), rate.count)
            }
            Probe::Software { name: event, count, .. } | Probe::Hardware { event, count } => {
                write!(f, "{kind}:{event}")?;
                match count {
                    Some(c) => write!(f, ":{c}"),
                    None => Ok(()),
                }
            }
            Probe::Other { text, .. } => f.write_str(text),
        }
    }
}

impl fmt::Display for UserLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UserLocation::Symbol { name, offset: 0 } => f.write_str(name),
            UserLocation::Symbol { name, offset } => write!(f, "{name}+{offset}"),
            UserLocation::Address(a) => write!(f, "{a:#x}"),
        }
    }
}

/// Software perf events, with bpftrace's names and aliases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Software {
    CpuClock,
    TaskClock,
    PageFaults,
    ContextSwitches,
    CpuMigrations,
    MinorFaults,
    MajorFaults,
    AlignmentFaults,
    EmulationFaults,
    Dummy,
    BpfOutput,
}

impl Software {
    /// Every name bpftrace accepts, aliases after the long name.
    pub const NAMES: [(&str, Software); 14] = [
        ("cpu-clock", Software::CpuClock),
        ("cpu", Software::CpuClock),
        ("task-clock", Software::TaskClock),
        ("page-faults", Software::PageFaults),
        ("faults", Software::PageFaults),
        ("context-switches", Software::ContextSwitches),
        ("cs", Software::ContextSwitches),
        ("cpu-migrations", Software::CpuMigrations),
        ("minor-faults", Software::MinorFaults),
        ("major-faults", Software::MajorFaults),
        ("alignment-faults", Software::AlignmentFaults),
        ("emulation-faults", Software::EmulationFaults),
        ("dummy", Software::Dummy),
        ("bpf-output", Software::BpfOutput),
    ];

    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }
}

/// Hardware perf events, by bpftrace's names.
pub const HARDWARE_EVENTS: [&str; 12] = [
    "cpu-cycles",
    "cycles",
    "instructions",
    "cache-references",
    "cache-misses",
    "branch-instructions",
    "branches",
    "branch-misses",
    "bus-cycles",
    "frontend-stalls",
    "backend-stalls",
    "ref-cycles",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_print_as_bpftrace_prints_them() {
        let cases = [
            (Probe::Begin, "BEGIN"),
            (
                Probe::Tracepoint { category: "sched".into(), name: "sched_switch".into() },
                "tracepoint:sched:sched_switch",
            ),
            (
                Probe::Kprobe { function: "vfs_read".into(), offset: 16, ret: false },
                "kprobe:vfs_read+16",
            ),
            (
                Probe::Kprobe { function: "vfs_read".into(), offset: 0, ret: true },
                "kretprobe:vfs_read",
            ),
            (Probe::Kfunc { function: "vfs_read".into(), ret: true }, "kretfunc:vfs_read"),
            (
                Probe::Uprobe {
                    binary: "/bin/bash".into(),
                    location: UserLocation::Symbol { name: "readline".into(), offset: 4 },
                    ret: false,
                },
                "uprobe:/bin/bash:readline+4",
            ),
            (
                Probe::Usdt(Usdt {
                    binary: "/usr/bin/python3".into(),
                    provider: "python".into(),
                    name: "gc__done".into(),
                    address: 0x42873b,
                    semaphore: 0,
                    args: "-8@%r12".into(),
                }),
                "usdt:/usr/bin/python3:python:gc__done",
            ),
            (Probe::Profile(Rate { unit: RateUnit::Hz, count: 99 }), "profile:hz:99"),
            (
                Probe::Software {
                    event: Software::ContextSwitches,
                    name: "cs".into(),
                    count: Some(1),
                },
                "software:cs:1",
            ),
        ];
        for (probe, name) in cases {
            assert_eq!(probe.to_string(), name);
        }
    }

    #[test]
    fn rates_from_parts_and_times() {
        let rate = |kind, parts: &[&str]| {
            let parts: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
            Rate::from_parts(kind, &parts)
        };
        let ok = |unit, count| Ok(Rate { unit, count });
        let interval = ProbeKind::Interval;
        assert_eq!(rate(interval, &["s", "1"]), ok(RateUnit::S, 1));
        assert_eq!(rate(interval, &["1s"]), ok(RateUnit::S, 1));
        assert_eq!(rate(interval, &["100ms"]), ok(RateUnit::Ms, 100));
        assert_eq!(rate(interval, &["5us"]), ok(RateUnit::Us, 5));
        assert_eq!(rate(interval, &["1500ms"]), ok(RateUnit::Ms, 1500));
        assert_eq!(rate(interval, &["2000ms"]), ok(RateUnit::S, 2));
        assert_eq!(rate(interval, &["1m"]), ok(RateUnit::S, 60));
        assert_eq!(rate(interval, &["1000000"]), ok(RateUnit::Ms, 1), "bare: nanoseconds");
        assert_eq!(rate(ProbeKind::Profile, &["99"]), ok(RateUnit::Hz, 99));
        assert_eq!(rate(ProbeKind::Profile, &["10ms"]), ok(RateUnit::Ms, 10));
        assert_eq!(rate(interval, &["1500ns"]), Err(RateError::TooFine("1500ns".into())));
        assert_eq!(rate(interval, &["0s"]), Err(RateError::Count("0s".into())));
        assert_eq!(rate(interval, &["s", "0"]), Err(RateError::Count("0".into())));
        assert!(matches!(rate(interval, &["1x"]), Err(RateError::Unit { .. })));
        assert!(matches!(rate(interval, &["x", "1"]), Err(RateError::Unit { .. })));
        assert_eq!(rate(interval, &["s", "1", "2"]), Err(RateError::Shape));
    }

    #[test]
    fn syscall_tracepoints_know_their_syscall() {
        let tp = |name: &str| Probe::Tracepoint { category: "syscalls".into(), name: name.into() };
        assert_eq!(tp("sys_exit_newfstat").syscall(), Some(Syscall { enter: false, nr: 5 }));
        assert_eq!(tp("sys_enter_openat").syscall().map(|s| s.enter), Some(true));
        let other = Probe::Tracepoint { category: "sched".into(), name: "sys_enter_x".into() };
        assert_eq!(other.syscall(), None);
    }

    #[test]
    fn rates_become_periods() {
        assert_eq!(Rate { unit: RateUnit::Hz, count: 100 }.period_ns(), 10_000_000);
        assert_eq!(Rate { unit: RateUnit::Ms, count: 100 }.period_ns(), 100_000_000);
    }
}
