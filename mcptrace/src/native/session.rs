//! One loaded copy of the eBPF object: its maps, the slot programs attached so
//! far, and the ring buffer they write to. Dropping it detaches everything.

use std::{os::fd::BorrowedFd, path::Path, time::Duration};

use super::transport::{Events, Received, Transport};

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, MapData, PerCpuArray, StackTraceMap},
    programs::{
        Program,
        perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent},
        uprobe::{UProbeAttachLocation, UProbeScope},
    },
};
use mcptrace_common::{
    SlotConfig,
    limits::{KINDS, SLOTS_PER_KIND},
    slot::{action, first_slot, kind, source},
};

use super::{
    NativeError,
    fentry::{self, TracingLink},
    keyed_maps::KeyedMaps,
    object::OBJECT,
    wait,
};
use crate::{
    host::elf,
    ir::{AttachPoint, NativeProgram, Sample, UserLocation},
    probe::Software,
};

/// The perf event a software probe counts.
fn software_config(event: Software) -> PerfEventConfig {
    PerfEventConfig::Software(match event {
        Software::CpuClock => SoftwareEvent::CpuClock,
        Software::TaskClock => SoftwareEvent::TaskClock,
        Software::PageFaults => SoftwareEvent::PageFaults,
        Software::ContextSwitches => SoftwareEvent::ContextSwitches,
        Software::CpuMigrations => SoftwareEvent::CpuMigrations,
        Software::MinorFaults => SoftwareEvent::PageFaultsMin,
        Software::MajorFaults => SoftwareEvent::PageFaultsMaj,
        Software::AlignmentFaults => SoftwareEvent::AlignmentFaults,
        Software::EmulationFaults => SoftwareEvent::EmulationFaults,
        Software::Dummy => SoftwareEvent::Dummy,
        Software::BpfOutput => SoftwareEvent::BpfOutput,
    })
}

/// Program name of slot `n` of kind `k` in the object.
pub(super) fn program_name(k: u32, n: u32) -> String {
    let prefix = match k {
        kind::TRACEPOINT => "tp",
        kind::RAW_TRACEPOINT => "rtp",
        kind::PERF_EVENT => "pe",
        kind::UPROBE => "up",
        kind::URETPROBE => "urp",
        kind::KPROBE => "kp",
        kind::KRETPROBE => "krp",
        kind::FENTRY => "fe",
        _ => "fx",
    };
    format!("{prefix}_{n}")
}

pub struct Session {
    ebpf: Ebpf,
    slots: Array<MapData, SlotConfig>,
    events: Events,
    lost: PerCpuArray<MapData, u64>,
    dropped_hits: PerCpuArray<MapData, u64>,
    map_full: PerCpuArray<MapData, u64>,
    keyed: KeyedMaps,
    stacks: StackTraceMap<MapData>,
    /// Slots handed out so far, per kind.
    used: [u32; KINDS as usize],
    /// Attached fentry and fexit programs: their links detach on drop.
    tracing: Vec<TracingLink>,
}

impl Session {
    /// Loads the object's maps; programs are loaded into the kernel only when
    /// a slot is attached, so unused copies cost nothing.
    pub fn load(transport: Transport) -> Result<Self, NativeError> {
        Self::load_with(transport, true, true)
    }

    /// Loads the object's maps for `program` alone: without stacks to keep,
    /// the stack map (16 MiB of kernel memory, preallocated) has one entry;
    /// without user maps, so has each keyed map (whose bucket arrays the
    /// kernel would allocate and zero).
    pub fn load_for(transport: Transport, program: &NativeProgram) -> Result<Self, NativeError> {
        Self::load_with(transport, takes_stacks(program), !program.maps.is_empty())
    }

    fn load_with(transport: Transport, stacks: bool, keyed: bool) -> Result<Self, NativeError> {
        // The object has no CO-RE relocations: skip parsing kernel BTF.
        let global = transport.global();
        let mut loader = EbpfLoader::new();
        loader.btf(None).override_global("TRANSPORT", &global, true);
        if !stacks {
            loader.map_max_entries("STACKS", 1);
        }
        if !keyed {
            for name in KeyedMaps::NAMES {
                loader.map_max_entries(name, 1);
            }
        }
        // A seam for the tests of what follows a kernel refusal: in debug
        // builds, MCPTRACE_TEST_EMPTY_MAP=NAME asks for that map with no
        // entries, which the kernel refuses to create.
        #[cfg(debug_assertions)]
        let empty = std::env::var("MCPTRACE_TEST_EMPTY_MAP").ok();
        #[cfg(debug_assertions)]
        if let Some(name) = &empty {
            loader.map_max_entries(name, 0);
        }
        let mut ebpf = loader.load(OBJECT).map_err(NativeError::Load)?;
        let slots = take_map(&mut ebpf, "SLOTS")?;
        let events = Events::open(&mut ebpf, transport)?;
        let lost = take_map(&mut ebpf, "LOST")?;
        let dropped_hits = take_map(&mut ebpf, "DROPPED_HITS")?;
        let map_full = take_map(&mut ebpf, "MAP_FULL")?;
        let keyed = KeyedMaps::take(&mut ebpf)?;
        let stacks = take_map(&mut ebpf, "STACKS")?;
        Ok(Self {
            ebpf,
            slots,
            events,
            lost,
            dropped_hits,
            map_full,
            keyed,
            stacks,
            used: [0; KINDS as usize],
            tracing: Vec::new(),
        })
    }

    /// Verifies the first slot program of each of `kinds` now, so that
    /// attaching it later costs no verification. A program the kernel
    /// refuses stays unloaded: attaching it says why.
    pub fn preload(&mut self, kinds: &[u32]) {
        for &k in kinds {
            if let Some(program) = self.ebpf.program_mut(&program_name(k, 0)) {
                let _ = load(program);
            }
        }
    }

    /// The kernel time this session's programs have run, as far as the
    /// kernel counts it (see `host::bpf_stats`).
    pub fn run_time(&self) -> Duration {
        let info = |p: &Program| p.info().map(|i| i.run_time()).unwrap_or_default();
        self.ebpf.programs().filter(|(_, p)| p.fd().is_ok()).map(|(_, p)| info(p)).sum()
    }

    /// Slot programs loaded into the kernel so far.
    pub fn loaded_programs(&self) -> usize {
        self.ebpf.programs().filter(|(_, p)| p.fd().is_ok()).count()
    }

    /// Takes the next free slot of the points' kind, writes its
    /// configuration and attaches it at every one of `points` (all of one
    /// kind). Returns the slot number events will carry.
    pub fn attach(
        &mut self,
        points: &[AttachPoint],
        config: &SlotConfig,
    ) -> Result<u32, NativeError> {
        let Some(first) = points.first() else {
            return Err(NativeError::NoAttachPoint);
        };
        let k = first.kind();
        let n = self.used[k as usize];
        if n >= SLOTS_PER_KIND {
            let kind = first.kind_name();
            return Err(NativeError::NoSlot { kind, max: SLOTS_PER_KIND });
        }
        let slot = first_slot(k) + n;
        self.slots
            .set(slot, config, 0)
            .map_err(|source| NativeError::Map { what: "writing slot configuration", source })?;
        let name = program_name(k, n);
        if let AttachPoint::Fentry { function, .. } = first {
            // Taken even if loading fails: a program loaded for one function
            // cannot be loaded again for another.
            self.used[k as usize] += 1;
            self.tracing.push(fentry::attach(&mut self.ebpf, &name, function)?);
            return Ok(slot);
        }
        let program = self
            .ebpf
            .program_mut(&name)
            .ok_or_else(|| NativeError::MissingProgram { program: name.clone() })?;
        // Taken once anything may be attached: what is, goes with the
        // session's teardown.
        self.used[k as usize] += 1;
        for point in points {
            attach_program(program, point).map_err(NativeError::Program)?;
        }
        Ok(slot)
    }

    /// Makes slot `slot`, configured with `config`, emit nothing and update
    /// no map from its next hit on, while it stays attached: a stop takes
    /// effect at once, and what is buffered then is all there is to read.
    /// Only those two fields change, so a hit that reads the configuration
    /// while it is rewritten sees each field old or new, never a torn mix
    /// that would misread the rest.
    pub fn quiesce(&mut self, slot: u32, config: &SlotConfig) -> Result<(), NativeError> {
        let mut quiet = *config;
        quiet.action &= !action::EMIT;
        quiet.nmap_ops = 0;
        self.slots
            .set(slot, quiet, 0)
            .map_err(|source| NativeError::Map { what: "quiescing a slot", source })
    }

    /// Waits until events are ready, `wake` becomes readable, or `timeout`
    /// passes. Returns whether `wake` fired.
    pub fn wait(
        &self,
        wake: Option<BorrowedFd<'_>>,
        timeout: Option<Duration>,
    ) -> Result<bool, NativeError> {
        wait::readable(&self.events.fds(), wake, timeout)
    }

    /// Hands events to `f` until it returns false or none are left; returns
    /// how many were handed over.
    pub fn drain(&mut self, mut f: impl FnMut(Received) -> bool) -> usize {
        self.events.drain(&mut f)
    }

    /// Events dropped because the transport was full, and probe hits
    /// dropped because slot programs nested too deep on a CPU (each may have
    /// produced an event), over all CPUs.
    pub fn lost_events(&self) -> u64 {
        sum_counter(&self.lost) + sum_counter(&self.dropped_hits)
    }

    /// Map updates dropped because a map was full, over all CPUs.
    pub fn dropped_updates(&self) -> u64 {
        sum_counter(&self.map_full)
    }

    /// The aggregation and keyed-state maps.
    pub fn keyed(&self) -> &KeyedMaps {
        &self.keyed
    }

    pub fn keyed_mut(&mut self) -> &mut KeyedMaps {
        &mut self.keyed
    }

    /// The instruction pointers of stack `id`, innermost first; None when
    /// the id is unknown (the kernel could not take the stack).
    pub fn stack(&self, id: u32) -> Option<Vec<u64>> {
        let stack = self.stacks.get(&id, 0).ok()?;
        Some(stack.frames().iter().map(|f| f.ip).collect())
    }
}

/// Loads `program` into the kernel unless it is already: a slot attached
/// to several points (perf events on every CPU) loads once, and a session
/// kept ahead loads its first slots before any run.
fn load(program: &mut Program) -> Result<(), aya::programs::ProgramError> {
    if program.fd().is_ok() {
        return Ok(());
    }
    match program {
        Program::TracePoint(p) => p.load(),
        Program::RawTracePoint(p) => p.load(),
        Program::PerfEvent(p) => p.load(),
        Program::UProbe(p) => p.load(),
        Program::KProbe(p) => p.load(),
        _ => Err(aya::programs::ProgramError::UnexpectedProgramType),
    }
}

/// The file offset the kernel wants for virtual `address` in `binary`
/// (bpftrace's uprobe addresses are virtual, as `nm` prints them).
fn file_offset(binary: &Path, address: u64) -> Result<u64, aya::programs::ProgramError> {
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let symbols = elf::Symbols::load(binary).map_err(|e| invalid(e.to_string()))?;
    let offset = symbols.offset_of_address(address).ok_or_else(|| {
        invalid(format!("{address:#x} is in no loadable segment of {}", binary.display()))
    })?;
    Ok(offset)
}

/// Loads `program` (first use only) and attaches it to `point`.
fn attach_program(
    program: &mut Program,
    point: &AttachPoint,
) -> Result<(), aya::programs::ProgramError> {
    use aya::programs::ProgramError::UnexpectedProgramType as Wrong;
    load(program)?;
    match (program, point) {
        (Program::TracePoint(p), AttachPoint::Tracepoint { category, name }) => {
            p.attach(category, name).map(drop)
        }
        (Program::RawTracePoint(p), AttachPoint::RawTracepoint { name }) => {
            p.attach(name).map(drop)
        }
        (Program::PerfEvent(p), AttachPoint::PerfEvent { event, sample, every_cpu }) => {
            let config = software_config(*event);
            let online = aya::util::online_cpus()
                .map_err(|(_, error)| aya::programs::ProgramError::IOError(error))?;
            let cpus = if *every_cpu { &online[..] } else { &online[..online.len().min(1)] };
            let policy = match *sample {
                Sample::Frequency(hz) => SamplePolicy::Frequency(hz),
                Sample::Period(ns) => SamplePolicy::Period(ns),
            };
            for &cpu in cpus {
                p.attach(config, PerfEventScope::AllProcessesOneCpu { cpu }, policy, false)?;
            }
            Ok(())
        }
        (Program::UProbe(p), AttachPoint::Uprobe { binary, location, pid, .. }) => {
            let location = match location {
                UserLocation::Symbol { name, offset } => {
                    UProbeAttachLocation::SymbolOffset(name, *offset)
                }
                UserLocation::Address(a) => {
                    UProbeAttachLocation::AbsoluteOffset(file_offset(binary, *a)?)
                }
            };
            let scope = match pid.and_then(std::num::NonZeroU32::new) {
                Some(pid) => UProbeScope::OneProcess(pid),
                None => UProbeScope::AllProcesses,
            };
            p.attach(location, binary, scope).map(drop)
        }
        (Program::KProbe(p), AttachPoint::Kprobe { function, offset, .. }) => {
            p.attach(function.as_str(), *offset).map(drop)
        }
        _ => Err(Wrong),
    }
}

/// Whether any probe of `program` captures a kernel or user stack.
fn takes_stacks(program: &NativeProgram) -> bool {
    program.probes.iter().any(|p| {
        let captures = &p.config.captures[..p.config.ncaptures as usize];
        captures.iter().any(|c| matches!(c.source, source::KSTACK | source::USTACK))
    })
}

fn sum_counter(counter: &PerCpuArray<MapData, u64>) -> u64 {
    counter.get(&0, 0).map(|per_cpu| per_cpu.iter().sum()).unwrap_or(0)
}

pub(super) fn take_map<M>(ebpf: &mut Ebpf, name: &'static str) -> Result<M, NativeError>
where
    M: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf.take_map(name).ok_or(NativeError::MissingMap(name))?;
    M::try_from(map).map_err(|source| NativeError::Map { what: name, source })
}
