//! Runs a native program: attach every probe, then BEGIN, events, END, in
//! bpftrace's order, handing records to a sink as they are produced.

use std::{
    collections::HashMap,
    os::fd::BorrowedFd,
    time::{Duration, Instant},
};

use mcptrace_common::{Event, limits::MAX_SLOTS};

use super::{
    NativeError, Session, Sessions,
    eval::{Control, Effects, Frame, truthy},
    keyed_maps::KeyedMaps,
    map_read, map_write,
    tracer::monotonic_ns,
    transport::Received,
    user_maps::UserMaps,
    wait,
};
use crate::{
    host::{
        bpf_stats::CostWatch,
        symbolize::{self, StackFrame, UserSymbols},
        syscalls,
    },
    ir::{KernelProbe, MapAgg, MapInfo, NativeProgram, ProbeName},
    output::{MapDump, MapValue, Record, RecordSink, Value},
};

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
    /// The probes cost more than the operator's budget.
    OverBudget,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub reason: EndReason,
    pub lost_events: u64,
}

/// A program whose probes are all attached and whose BEGIN has not run yet.
/// A program that needs no kernel objects (BEGIN and END alone) has no
/// session.
pub struct Attached {
    session: Option<Session>,
    program: NativeProgram,
    /// Probe index by slot number.
    by_slot: Vec<Option<usize>>,
    phases: Phases,
}

/// Where a run's start-up went, for `mcptrace run --timings` and the bench.
#[derive(Clone, Copy, Debug, Default)]
pub struct Phases {
    /// Getting a session: the object parsed and its maps created, unless
    /// one was loaded ahead.
    pub load: Duration,
    /// Attaching every probe, verification of slot programs included.
    pub attach: Duration,
}

/// Holds the kernel objects after a run; dropping it detaches them. Kept
/// apart so the caller can publish the result first: detaching perf-event
/// tracepoints takes ~70 ms each.
pub struct Teardown {
    _session: Option<Session>,
    pub phases: Phases,
}

/// Attaches every probe of `program`, in program order, in a session from
/// `sessions`; a program of BEGIN and END alone takes none. On error
/// nothing stays attached.
pub fn attach(program: NativeProgram, sessions: &Sessions) -> Result<Attached, NativeError> {
    let mut by_slot = vec![None; MAX_SLOTS as usize];
    let mut session = None;
    let mut phases = Phases::default();
    if program.needs_kernel() {
        let start = Instant::now();
        let session = session.insert(sessions.take(&program)?);
        phases.load = start.elapsed();
        for (i, probe) in program.probes.iter().enumerate() {
            let slot = session.attach(&probe.points, &probe.config).map_err(|source| {
                NativeError::Attach { probe: probe.name.to_string(), source: Box::new(source) }
            })?;
            by_slot[slot as usize] = Some(i);
        }
        phases.attach = start.elapsed() - phases.load;
    }
    Ok(Attached { session, program, by_slot, phases })
}

impl Attached {
    /// Runs BEGIN, then events until exit(), `timeout`, `stop` becoming
    /// readable or a full sink, then END, the end-of-events marker and every
    /// map by name.
    pub fn run(
        self,
        timeout: Duration,
        sink: &mut dyn RecordSink,
        stop: BorrowedFd<'_>,
        mut cost: CostWatch<'_>,
    ) -> Result<(Outcome, Teardown), NativeError> {
        let Attached { mut session, program, by_slot, phases } = self;
        let start_ns = monotonic_ns();
        let deadline = Instant::now() + timeout;
        let symbols = UserSymbols::default();
        let mut fx = World {
            sink,
            open: true,
            session: session.as_mut(),
            maps: &program.maps,
            user_maps: UserMaps::default(),
            symbols: &symbols,
            error: None,
        };
        fx.emit(Record::AttachedProbes(program.attach_count));

        let mut reason = None;
        for block in &program.begin {
            if Frame::new(None, "BEGIN", start_ns).run(block, &mut fx) == Control::Exit {
                reason = Some(EndReason::Exit);
                break;
            }
        }
        fx.flush();
        let mut names = Names::default();
        let mut batch = Vec::new();
        // Handles up to BATCH events; returns how many it took and whether
        // one of them called exit().
        let mut round = |fx: &mut World| {
            // Events are copied out first: statements may read maps.
            batch.clear();
            if let Some(session) = fx.session.as_deref_mut() {
                session.drain(|received| {
                    batch.push(received);
                    batch.len() < BATCH
                });
            }
            let mut exit = false;
            for received in &batch {
                let event = &received.event;
                let Some(probe) = by_slot.get(event.slot as usize).copied().flatten() else {
                    continue;
                };
                let probe = &program.probes[probe];
                let name = names.of(probe, event);
                exit = on_event(probe, received, name, start_ns, fx) == Control::Exit;
                if exit || !fx.open {
                    break;
                }
            }
            fx.flush();
            (batch.len(), exit)
        };
        while reason.is_none() {
            if !fx.open {
                reason = Some(EndReason::OutputFull);
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                reason = Some(EndReason::TimeLimit);
                break;
            }
            let until = cost.due().map_or(deadline, |due| due.min(deadline));
            let timeout = Some(until.saturating_duration_since(now));
            let woken = match fx.session.as_deref() {
                Some(session) => session.wait(Some(stop), timeout)?,
                None => wait::readable(&[], Some(stop), timeout)?,
            };
            if round(&mut fx).1 {
                reason = Some(EndReason::Exit);
            } else if woken {
                reason = Some(EndReason::Stopped);
            } else if cost.hear(|| fx.session.as_deref().map(Session::run_time).unwrap_or_default())
            {
                reason = Some(EndReason::OverBudget);
            }
        }
        // A stop or the time limit ends the trace after the events already
        // buffered: the probes stop emitting and updating maps at once, and
        // everything they emitted before is read to the end and handled
        // before END; what the buffers could not take is counted as lost.
        if matches!(reason, Some(EndReason::Stopped | EndReason::TimeLimit | EndReason::OverBudget))
        {
            let quiet = by_slot
                .iter()
                .enumerate()
                .filter_map(|(slot, probe)| Some((slot as u32, &program.probes[(*probe)?].config)));
            let mut quiesced = Ok(());
            if let Some(session) = fx.session.as_deref_mut() {
                for (slot, config) in quiet {
                    quiesced = quiesced.and(session.quiesce(slot, config));
                }
            }
            // Unquiesced probes could outrun the reader forever: then one
            // round is read, and the run ends with the error.
            let to_the_end = quiesced.is_ok();
            fx.keep(quiesced);
            while fx.open {
                let (n, exit) = round(&mut fx);
                if exit {
                    reason = Some(EndReason::Exit);
                }
                if exit || n == 0 || !to_the_end {
                    break;
                }
            }
        }
        let lost_events = fx.session.as_deref().map_or(0, Session::lost_events);
        if lost_events > 0 {
            fx.emit(Record::LostEvents(lost_events));
        }
        let dropped = fx.session.as_deref().map_or(0, Session::dropped_updates);
        if dropped > 0 {
            fx.emit(Record::Text(dropped_updates_warning(dropped).into_bytes()));
        }
        for block in &program.end {
            if Frame::new(None, "END", start_ns).run(block, &mut fx) == Control::Exit {
                break;
            }
        }
        fx.emit(Record::EndOfEvents);
        let mut maps: Vec<&MapInfo> =
            program.maps.iter().filter(|_| program.print_maps_on_exit).collect();
        maps.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        for info in maps {
            fx.print_map(info.id, 0, 1);
        }
        fx.flush();
        if let Some(e) = fx.error.take() {
            return Err(e);
        }
        let reason =
            if fx.open { reason.unwrap_or(EndReason::Stopped) } else { EndReason::OutputFull };
        Ok((Outcome { reason, lost_events }, Teardown { _session: session, phases }))
    }
}

/// Said after the events when the kernel refused map updates. Maps are not
/// preallocated (see mcptrace-ebpf's maps.rs), so a new key can also fail
/// where the kernel's allocator cannot refill, as with interrupts off in
/// sched_switch: then about one new key per probe hit gets in.
fn dropped_updates_warning(n: u64) -> String {
    format!(
        "WARNING: {n} map updates were dropped: a map was full, or the kernel had no memory \
         for a new key in the probe's context\n"
    )
}

/// Events taken from the ring buffer per round.
const BATCH: usize = 4096;

/// What statements act on: the sink (until it refuses a record, after which
/// records are dropped) and the kernel maps, if the program has any. The
/// first map error is kept and ends the run with it.
struct World<'a> {
    sink: &'a mut dyn RecordSink,
    open: bool,
    session: Option<&'a mut Session>,
    maps: &'a [MapInfo],
    /// The maps user space keeps.
    user_maps: UserMaps,
    symbols: &'a UserSymbols,
    error: Option<NativeError>,
}

impl World<'_> {
    /// User map `map` read whole from the kernel; None when the program has
    /// no such map (maps exist only in a session: see attach).
    fn dump(&self, map: u16) -> Option<Result<MapDump, NativeError>> {
        let info = self.maps.iter().find(|m| m.id == map)?;
        if info.in_user_space {
            return Some(Ok(self.user_maps.dump(info)));
        }
        Some(map_read::dump(self.session.as_deref()?, self.symbols, info))
    }

    /// Map `map`'s shape and the kernel maps holding it.
    fn keyed(&self, map: u16) -> Option<(&MapInfo, &KeyedMaps)> {
        let info = self.maps.iter().find(|m| m.id == map)?;
        Some((info, self.session.as_deref()?.keyed()))
    }

    fn keyed_mut(&mut self, map: u16) -> Option<(&MapInfo, &mut KeyedMaps)> {
        let info = self.maps.iter().find(|m| m.id == map)?;
        Some((info, self.session.as_deref_mut()?.keyed_mut()))
    }

    fn keep(&mut self, result: Result<(), NativeError>) {
        if let Err(e) = result {
            self.error.get_or_insert(e);
        }
    }

    /// Lets a batching sink deliver what it holds, as emit() hands it on.
    fn flush(&mut self) {
        if self.open {
            self.open = self.sink.flush();
        }
    }
}

impl Effects for World<'_> {
    fn stack(&self, id: u64, pid: Option<u32>, depth: usize) -> Option<Vec<StackFrame>> {
        map_read::stack_frames(self.session.as_deref()?, self.symbols, id, pid, depth)
    }

    fn symbol(&self, address: u64, pid: Option<u32>) -> String {
        map_read::symbol(self.symbols, address, pid)
    }

    fn emit(&mut self, record: Record) {
        if self.open {
            self.open = self.sink.record(record);
        }
    }

    fn print_map(&mut self, map: u16, top: u64, div: u64) {
        match self.dump(map) {
            None => {}
            Some(Ok(dump)) => self.emit(Record::Map(dump.top_div(top as usize, div))),
            Some(Err(e)) => self.keep(Err(e)),
        }
    }

    fn clear(&mut self, map: u16) {
        if let Some(info) = user_map(self.maps, map) {
            self.user_maps.clear(info);
        } else if let Some(session) = self.session.as_deref_mut() {
            let r = session.keyed_mut().clear(map);
            self.keep(r);
        }
    }

    fn zero(&mut self, map: u16) {
        if let Some(info) = user_map(self.maps, map) {
            self.user_maps.zero(info);
        } else if let Some(session) = self.session.as_deref_mut() {
            let r = session.keyed_mut().zero(map);
            self.keep(r);
        }
    }

    /// Plain values by their encoded key; aggregates (merged over CPUs
    /// and buckets) from the map read whole, as print reads them.
    fn lookup(&self, map: u16, key: &[Value]) -> Option<MapValue> {
        if let Some(info) = user_map(self.maps, map) {
            return self.user_maps.lookup(info, key);
        }
        if let Some((info, keyed)) = self.keyed(map)
            && let MapAgg::Value { signed } = info.agg
        {
            let (encoded, words) = map_write::encode_key(info, key)?;
            return match keyed.state_at(&encoded, words) {
                Ok(bits) => bits.map(|bits| MapValue::Scalar(Value::Int { bits, signed })),
                // A map that cannot be read has no elements (see Effects).
                Err(_) => None,
            };
        }
        let dump = self.dump(map)?.ok()?;
        dump.entries.into_iter().find(|(stored, _)| same_key(stored, key)).map(|(_, v)| v)
    }

    fn store(&mut self, map: u16, key: &[Value], value: Value, add: bool) {
        if let Some(info) = user_map(self.maps, map) {
            self.user_maps.store(info, key, value, add);
            return;
        }
        let r = self
            .keyed_mut(map)
            .map_or(Ok(()), |(info, keyed)| map_write::store(keyed, info, key, &value, add));
        self.keep(r);
    }

    fn delete(&mut self, map: u16, key: &[Value]) {
        if let Some(info) = user_map(self.maps, map) {
            self.user_maps.delete(info, key);
            return;
        }
        let r =
            self.keyed_mut(map).map_or(Ok(()), |(info, keyed)| map_write::delete(keyed, info, key));
        self.keep(r);
    }

    /// The map as print reads it, in print's order (bpftrace walks the
    /// kernel's hash order, which is no order; this is one of them). Values
    /// are scalars: lowering lets a loop walk only count, sum, min, max and
    /// plain-value maps.
    fn entries(&self, map: u16) -> Vec<(Vec<Value>, Value)> {
        let Some(Ok(dump)) = self.dump(map) else {
            return Vec::new();
        };
        dump.top_div(0, 1)
            .entries
            .into_iter()
            .filter_map(|(key, value)| match value {
                MapValue::Scalar(v) => Some((key, v)),
                _ => None,
            })
            .collect()
    }
}

/// Map `map`'s shape among `maps`, when user space keeps it.
fn user_map(maps: &[MapInfo], map: u16) -> Option<&MapInfo> {
    maps.iter().find(|m| m.id == map && m.in_user_space)
}

/// Whether a stored key (as decoded for printing) is the key asked for:
/// integers by their bits, whatever the signedness each side was typed with.
fn same_key(stored: &[Value], asked: &[Value]) -> bool {
    stored.len() == asked.len()
        && stored.iter().zip(asked).all(|pair| match pair {
            (Value::Int { bits: a, .. }, Value::Int { bits: b, .. }) => a == b,
            (a, b) => a == b,
        })
}

fn on_event(
    probe: &KernelProbe,
    received: &Received,
    name: &str,
    start_ns: u64,
    fx: &mut dyn Effects,
) -> Control {
    let mut frame = Frame::new(Some(&received.event), name, start_ns);
    frame.joined = &received.joined;
    if let Some(pred) = &probe.predicate
        && !truthy(&frame.eval(pred, fx))
    {
        return Control::Continue;
    }
    frame.run(&probe.body, fx)
}

/// Probe names, resolved once per syscall number.
#[derive(Default)]
struct Names {
    syscalls: HashMap<(String, u64), String>,
    /// By instruction pointer, for kprobe slots serving several functions.
    functions: HashMap<u64, String>,
}

impl Names {
    fn of<'a>(&'a mut self, probe: &'a KernelProbe, event: &Event) -> &'a str {
        match &probe.name {
            ProbeName::Fixed(name) => name,
            ProbeName::Syscall { prefix, nr } => {
                let nr = event.values[nr.0 as usize];
                self.syscalls
                    .entry((prefix.clone(), nr))
                    .or_insert_with(|| format!("{prefix}{}", syscalls::tracepoint_name(nr)))
            }
            // Lowering refuses `probe` in a shared tracepoint slot.
            ProbeName::Shared { .. } => "",
            ProbeName::Functions { ip, .. } => {
                let ip = event.values[ip.0 as usize];
                self.functions
                    .entry(ip)
                    .or_insert_with(|| format!("kprobe:{}", symbolize::kernel_name(ip)))
            }
        }
    }
}
