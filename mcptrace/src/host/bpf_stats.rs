//! What BPF programs cost: the kernel counts each program's run time only
//! while a process holds a BPF_ENABLE_STATS descriptor (it costs two clock
//! reads per program run, host-wide). The server holds one for its life, so
//! it can say what each execution's probes cost and stop one that costs
//! more than the operator allows.

use std::{
    io,
    os::fd::OwnedFd,
    sync::OnceLock,
    time::{Duration, Instant},
};

/// Turns run-time statistics on for this process's life; once.
pub fn enable() -> Result<(), String> {
    static HELD: OnceLock<Result<OwnedFd, String>> = OnceLock::new();
    HELD.get_or_init(|| aya::sys::enable_stats(aya::sys::Stats::RunTime).map_err(|e| e.to_string()))
        .as_ref()
        .map(drop)
        .map_err(Clone::clone)
}

/// The run time of every BPF program process `pid` holds, from the kernel's
/// statistics in its descriptors' fdinfo (zero while statistics are off).
pub fn run_time_of(pid: u32) -> io::Result<Duration> {
    let mut ns = 0u64;
    for entry in std::fs::read_dir(format!("/proc/{pid}/fdinfo"))? {
        let Ok(info) = std::fs::read_to_string(entry?.path()) else { continue };
        if !info.contains("prog_id:") {
            continue;
        }
        let run_time = info.lines().find_map(|l| l.strip_prefix("run_time_ns:"));
        ns += run_time.and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
    }
    Ok(Duration::from_nanos(ns))
}

/// Who hears what a run's programs have cost so far, at a steady period,
/// and says whether the run must stop.
pub struct CostWatch<'a> {
    judge: Option<Judge<'a>>,
}

struct Judge<'a> {
    every: Duration,
    next: Instant,
    says: &'a mut dyn FnMut(Duration) -> bool,
}

impl<'a> CostWatch<'a> {
    /// Hears nothing and never stops a run.
    pub fn none() -> Self {
        Self { judge: None }
    }

    /// Calls `says` with the programs' run time every `every`.
    pub fn every(every: Duration, says: &'a mut dyn FnMut(Duration) -> bool) -> Self {
        Self { judge: Some(Judge { every, next: Instant::now() + every, says }) }
    }

    /// When it next wants to hear, if ever.
    pub fn due(&self) -> Option<Instant> {
        self.judge.as_ref().map(|j| j.next)
    }

    /// If a measure is due, takes one from `measure` and says whether the
    /// run must stop.
    pub fn hear(&mut self, measure: impl FnOnce() -> Duration) -> bool {
        match &mut self.judge {
            Some(j) if Instant::now() >= j.next => {
                j.next += j.every;
                (j.says)(measure())
            }
            _ => false,
        }
    }
}
