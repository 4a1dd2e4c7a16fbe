//! Runs a native program: attach every probe, then BEGIN, events, END, in
//! bpftrace's order, handing records to a sink as they are produced.

use std::{
    collections::HashMap,
    os::fd::{AsFd, FromRawFd, OwnedFd},
    sync::Arc,
    time::{Duration, Instant},
};

use mcptrace_common::{Event, limits::MAX_SLOTS};

use super::{
    NativeError, Session,
    eval::{Control, Frame, truthy},
    ir::{KernelProbe, NativeProgram, ProbeName},
};
use crate::output::Record;

/// Receives records; returns false when it can take no more (output cap).
pub trait RecordSink {
    fn record(&mut self, record: Record) -> bool;
}

impl<F: FnMut(Record) -> bool> RecordSink for F {
    fn record(&mut self, record: Record) -> bool {
        self(record)
    }
}

/// Asks a running program to stop as if interrupted: END runs, maps print.
/// Cheap to clone; usable from any thread.
#[derive(Clone, Debug)]
pub struct StopSignal(Arc<OwnedFd>);

impl StopSignal {
    pub fn new() -> std::io::Result<Self> {
        // SAFETY: eventfd returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor we own.
        Ok(Self(Arc::new(unsafe { OwnedFd::from_raw_fd(fd) })))
    }

    pub fn stop(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
        unsafe {
            libc::write(std::os::fd::AsRawFd::as_raw_fd(&*self.0), (&raw const one).cast(), 8)
        };
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The program called exit().
    Exit,
    /// The time limit passed.
    TimeLimit,
    /// Stopped from outside (stop request, Ctrl-C).
    Stopped,
    /// The output sink took no more.
    OutputFull,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub reason: EndReason,
    pub lost_events: u64,
}

/// A program whose probes are all attached and whose BEGIN has not run yet.
pub struct Attached {
    session: Session,
    program: NativeProgram,
    /// Probe index by slot number.
    by_slot: Vec<Option<usize>>,
}

/// Holds the kernel objects after a run; dropping it detaches them. Kept
/// apart so the caller can publish the result first: detaching perf-event
/// tracepoints takes ~70 ms each.
pub struct Teardown {
    _session: Session,
}

/// Loads the object and attaches every probe, in program order. On error
/// nothing stays attached.
pub fn attach(program: NativeProgram) -> Result<Attached, NativeError> {
    let mut session = Session::load()?;
    let mut by_slot = vec![None; MAX_SLOTS as usize];
    for (i, probe) in program.probes.iter().enumerate() {
        let slot = session.attach(&probe.point, &probe.config)?;
        by_slot[slot as usize] = Some(i);
    }
    Ok(Attached { session, program, by_slot })
}

impl Attached {
    /// Runs BEGIN, then events until exit(), `timeout`, `stop` or a full
    /// sink, then END and the end-of-events marker.
    pub fn run(
        mut self,
        timeout: Duration,
        sink: &mut dyn RecordSink,
        stop: &StopSignal,
    ) -> Result<(Outcome, Teardown), NativeError> {
        let start_ns = monotonic_ns();
        let deadline = Instant::now() + timeout;
        let mut out = Emitter { sink, open: true };
        out.emit(Record::AttachedProbes(self.program.attach_count));

        let mut reason = None;
        for block in &self.program.begin {
            if Frame::new(None, "BEGIN", start_ns).run(block, &mut |r| out.emit(r)) == Control::Exit
            {
                reason = Some(EndReason::Exit);
                break;
            }
        }
        let mut names = Names::default();
        while reason.is_none() {
            if !out.open {
                reason = Some(EndReason::OutputFull);
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                reason = Some(EndReason::TimeLimit);
                break;
            }
            let woken = self.session.wait(Some(stop.0.as_fd()), Some(deadline - now))?;
            let program = &self.program;
            let by_slot = &self.by_slot;
            self.session.drain(|event| {
                let Some(probe) = by_slot.get(event.slot as usize).copied().flatten() else {
                    return true;
                };
                let probe = &program.probes[probe];
                let name = names.of(probe, event);
                if on_event(probe, event, name, start_ns, &mut |r| out.emit(r)) == Control::Exit {
                    reason = Some(EndReason::Exit);
                }
                reason.is_none() && out.open
            });
            if woken && reason.is_none() {
                reason = Some(EndReason::Stopped);
            }
        }
        let lost_events = self.session.lost_events();
        if lost_events > 0 {
            out.emit(Record::LostEvents(lost_events));
        }
        for block in &self.program.end {
            if Frame::new(None, "END", start_ns).run(block, &mut |r| out.emit(r)) == Control::Exit {
                break;
            }
        }
        out.emit(Record::EndOfEvents);
        let reason =
            if out.open { reason.unwrap_or(EndReason::Stopped) } else { EndReason::OutputFull };
        Ok((Outcome { reason, lost_events }, Teardown { _session: self.session }))
    }
}

/// Forwards records until the sink refuses one, then drops the rest.
struct Emitter<'a> {
    sink: &'a mut dyn RecordSink,
    open: bool,
}

impl Emitter<'_> {
    fn emit(&mut self, record: Record) {
        if self.open {
            self.open = self.sink.record(record);
        }
    }
}

fn on_event(
    probe: &KernelProbe,
    event: &Event,
    name: &str,
    start_ns: u64,
    emit: &mut dyn FnMut(Record),
) -> Control {
    let mut frame = Frame::new(Some(event), name, start_ns);
    if let Some(pred) = &probe.predicate
        && !truthy(&frame.eval(pred))
    {
        return Control::Continue;
    }
    frame.run(&probe.body, emit)
}

/// Probe names, resolved once per syscall number.
#[derive(Default)]
struct Names {
    syscalls: HashMap<(String, u64), String>,
}

impl Names {
    fn of<'a>(&'a mut self, probe: &'a KernelProbe, event: &Event) -> &'a str {
        match &probe.name {
            ProbeName::Fixed(name) => name,
            ProbeName::Syscall { prefix, nr } => {
                let nr = event.values[nr.0 as usize];
                self.syscalls.entry((prefix.clone(), nr)).or_insert_with(|| {
                    let name = syscalls::Sysno::new(nr as usize).map_or("unknown", |s| s.name());
                    format!("{prefix}{name}")
                })
            }
        }
    }
}

/// CLOCK_MONOTONIC, the clock of `bpf_ktime_get_ns` and so of `nsecs`.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
