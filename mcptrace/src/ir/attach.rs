//! Where a slot program attaches, in kernel terms: the lowering decides it,
//! the native runtime makes the calls. CPUs and file offsets (of uprobe
//! addresses) are resolved at attach time, not here.

use std::path::PathBuf;

use mcptrace_common::slot::kind;

use crate::probe::{Software, UserLocation};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachPoint {
    Tracepoint {
        category: String,
        name: String,
    },
    RawTracepoint {
        name: String,
    },
    /// A software perf event, sampled on every online CPU, or with
    /// `every_cpu` false on the first one only (interval timers fire once).
    PerfEvent {
        event: Software,
        sample: Sample,
        every_cpu: bool,
    },
    Uprobe {
        binary: PathBuf,
        location: UserLocation,
        ret: bool,
        pid: Option<u32>,
    },
    /// A kernel function's entry (plus `offset` bytes), or with `ret` its
    /// return.
    Kprobe {
        function: String,
        offset: u64,
        ret: bool,
    },
    /// A kernel function's entry through fentry, or with `ret` its return
    /// through fexit, by BTF id.
    Fentry {
        function: String,
        ret: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sample {
    /// Events per second.
    Frequency(u64),
    /// Nanoseconds between events (or, for counting events, events between
    /// samples).
    Period(u64),
}

impl AttachPoint {
    /// The slot program kind (`mcptrace_common::slot::kind`) that serves it.
    pub fn kind(&self) -> u32 {
        match self {
            AttachPoint::Tracepoint { .. } => kind::TRACEPOINT,
            AttachPoint::RawTracepoint { .. } => kind::RAW_TRACEPOINT,
            AttachPoint::PerfEvent { .. } => kind::PERF_EVENT,
            AttachPoint::Uprobe { ret: false, .. } => kind::UPROBE,
            AttachPoint::Uprobe { ret: true, .. } => kind::URETPROBE,
            AttachPoint::Kprobe { ret: false, .. } => kind::KPROBE,
            AttachPoint::Kprobe { ret: true, .. } => kind::KRETPROBE,
            AttachPoint::Fentry { ret: false, .. } => kind::FENTRY,
            AttachPoint::Fentry { ret: true, .. } => kind::FEXIT,
        }
    }

    /// The slot kind's name, for messages.
    pub fn kind_name(&self) -> &'static str {
        kind_name(self.kind())
    }
}

/// What slot kind `k` serves, in words.
pub fn kind_name(k: u32) -> &'static str {
    match k {
        kind::TRACEPOINT => "tracepoint",
        kind::RAW_TRACEPOINT => "raw tracepoint",
        kind::PERF_EVENT => "perf event",
        kind::UPROBE => "uprobe",
        kind::URETPROBE => "uretprobe",
        kind::KPROBE => "kprobe",
        kind::KRETPROBE => "kretprobe",
        kind::FENTRY => "fentry",
        kind::FEXIT => "fexit",
        _ => "unknown",
    }
}
