//! Lowers a checked program to the native backend's IR ([`NativeProgram`]),
//! or names the first construct that keeps it on bpftrace, with its position.
//!
//! One kernel probe per attach point, except that several syscall
//! tracepoints of one probe become a single raw syscall tracepoint with a
//! syscall-number set: hundreds of perf-event tracepoints take ~70 ms each to
//! detach, a raw tracepoint ~0.1 ms.

mod bswap;
mod btf_access;
mod buffers;
mod expr;
mod inline;
mod loops;
mod map_table;
mod site;
mod sizeof;
mod stmt;
mod strings;

use std::{collections::HashMap, fmt, sync::Arc};

use mcptrace_common::{limits::SLOTS_PER_KIND, slot::op};

use self::{
    expr::{Exprs, Guard},
    map_table::MapTable,
    site::{ProbeCx, Site},
};
use crate::{
    check::Checked,
    host::tracefs::Format,
    ir::{
        AttachPoint, KernelProbe, KeyKind, NativeProgram, ProbeName, Sample,
        attach::kind_name,
        slot::{ValueRef, op as mk},
    },
    lang::{
        ast::{self, Span},
        config::{self, Setting},
    },
    probe::{Probe, RateUnit, Software, UserLocation},
};

/// Catalog names (builtins and functions) the lowering runs natively; the
/// tests lower a program using each, so the list stays true to the code.
pub const NATIVE_HELPERS: &[&str] = &[
    "pid",
    "tid",
    "uid",
    "gid",
    "cpu",
    "nsecs",
    "elapsed",
    "comm",
    "kstack",
    "ustack",
    "argN",
    "retval",
    "func",
    "probe",
    "cgroup",
    "args",
    "printf",
    "print",
    "time",
    "exit",
    "str",
    "buf",
    "join",
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "stats",
    "hist",
    "lhist",
    "delete",
    "has_key",
    "clear",
    "zero",
    "ksym",
    "usym",
    "reg",
    "username",
    "strncmp",
    "strcontains",
    "strftime",
    "ntop",
    "strerror",
    "cgroup_path",
    "curtask",
    "bswap",
    "cat",
    "sizeof",
];

/// Whether the native backend runs catalog entry `name`.
pub fn is_native(name: &str) -> bool {
    NATIVE_HELPERS.contains(&name)
}

/// Whether the native backend attaches probes of `kind` (in their common
/// forms: `site_of` says which forms fall back). Exhaustive, so a new kind
/// needs a decision here.
pub fn is_native_kind(kind: ast::ProbeKind) -> bool {
    use ast::ProbeKind as K;
    match kind {
        K::Begin
        | K::End
        | K::Tracepoint
        | K::RawTracepoint
        | K::Kprobe
        | K::Kretprobe
        | K::Uprobe
        | K::Uretprobe
        | K::Usdt
        | K::Profile
        | K::Interval
        | K::Software
        | K::Kfunc
        | K::Kretfunc => true,
        K::Hardware | K::Watchpoint | K::AsyncWatchpoint | K::Iter => false,
    }
}

/// Why a program cannot run natively: the construct, what kind of
/// construct it is, and where it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Unsupported {
    pub span: Span,
    pub kind: NotNative,
    pub reason: String,
}

impl Unsupported {
    pub fn new(span: Span, kind: NotNative, reason: String) -> Self {
        Self { span, kind, reason }
    }
}

/// What kind of construct keeps a program off the native backend, so a
/// client tells a loop from too many probes without reading the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotNative {
    /// A probe kind or attach form the native backend does not attach
    /// (kfunc, usdt with a semaphore, hardware events, ...).
    ProbeKind,
    /// More probes of one kind than the kind has slots.
    TooManyProbes,
    /// A probe needs more values, strings, operations or keys than a slot
    /// holds.
    SlotFull,
    /// Enum and typedef definitions, casts to other than fixed-width
    /// integers, BTF-typed field access, indexing, `sizeof` of a type not
    /// sized when checked.
    Types,
    /// `unroll`, and what a loop or `return` cannot take (map
    /// updates in a pass or after a return, a map walked in a kernel probe).
    Loop,
    /// A builtin or function the native backend does not run.
    Function,
    /// A map use the kernel side does not take (string values, a read after
    /// an update in the same probe, keys or values that change shape).
    Map,
    /// Any other expression or statement in a form not native yet.
    Expression,
    /// A config block setting the native engine does not honor.
    Config,
}

impl NotNative {
    /// The kind's stable name (as serialized).
    pub fn code(self) -> &'static str {
        match self {
            Self::ProbeKind => "probe_kind",
            Self::TooManyProbes => "too_many_probes",
            Self::SlotFull => "slot_full",
            Self::Types => "types",
            Self::Loop => "loop",
            Self::Function => "function",
            Self::Map => "map",
            Self::Expression => "expression",
            Self::Config => "config",
        }
    }
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at {})", self.reason, self.span)
    }
}

/// Lowers a checked program: each of its probes with the concrete probes
/// its attach points expand to.
pub fn lower(checked: &Checked) -> Result<NativeProgram, Unsupported> {
    let program = &checked.program;
    // `#include`, `#define` and struct and union definitions only supply
    // constants and sizes, which the checker has put in place of their
    // names and `sizeof`s; whatever else uses such types (a cast, a field)
    // is not native by itself. An enum's values would not be the kernel's
    // the checker takes, a typedef could rename an integer type.
    let supplies_constants = |p: &&ast::Preamble| {
        ["#include", "#define", "struct", "union"].iter().any(|d| p.text.starts_with(d))
    };
    if let Some(p) = program.preamble.iter().find(|p| !supplies_constants(p)) {
        return Err(Unsupported::new(
            p.span,
            NotNative::Types,
            "C definitions other than structs and unions (enums, typedefs, preprocessor \
             conditionals) are not native yet"
                .into(),
        ));
    }
    for entry in &program.config {
        if let Ok(setting) = Setting::of(entry) {
            setting.native().map_err(|why| Unsupported::new(entry.span, NotNative::Config, why))?;
        }
    }
    let mut maps = MapTable::default();
    let mut native = NativeProgram {
        attach_count: checked.attach_count(),
        begin: Vec::new(),
        probes: Vec::new(),
        end: Vec::new(),
        maps: Vec::new(),
        print_maps_on_exit: config::prints_maps_on_exit(&program.config),
    };
    // The source probe of each kernel probe, for errors about it.
    let mut spans = Vec::new();
    'probes: for (probe, expanded) in program.probes.iter().zip(&checked.probes) {
        let points: Vec<&Probe> = expanded.probes().collect();
        let only = |p: &Probe| points.iter().all(|q| *q == p);
        if only(&Probe::Begin) || only(&Probe::End) {
            let mut ex = Exprs::new(None, &mut maps);
            if let Some(pred) = &probe.predicate {
                return Err(Unsupported::new(
                    pred.span,
                    NotNative::Expression,
                    "a predicate on BEGIN or END".into(),
                ));
            }
            let block = ex.block(&probe.body)?;
            match points.first() {
                Some(Probe::Begin) => native.begin.push(block),
                _ => native.end.push(block),
            }
            continue;
        }
        // A slot shared by several probes; where the program tells them
        // apart or reads a field they disagree on, few enough take a slot
        // each, as below.
        let each_fits = points.len() as u32 <= SLOTS_PER_KIND;
        for group in shared_groups(checked, &points) {
            let index = native.probes.len() as u16;
            let before = maps.clone();
            let nrs = group.nrs.as_deref();
            let lowered =
                kernel_probe(group.site, &group.name, group.attach, probe, index, &mut maps, nrs);
            if let Some(shared) = shared_slot(lowered, before, &mut maps, each_fits)? {
                native.probes.push(shared);
                spans.push(probe.span);
                continue 'probes;
            }
        }
        for point in points {
            // Probes of one name (the locations of one USDT probe) share
            // the first one's index, so a `probe` key holds one value for
            // them, as bpftrace's holds one name.
            let fixed = point.to_string();
            let index = native
                .probes
                .iter()
                .position(|p| matches!(&p.name, ProbeName::Fixed(n) if *n == fixed))
                .unwrap_or(native.probes.len()) as u16;
            let (site, attach) = site_of(checked, point, probe.span)?;
            let name = |_| ProbeName::Fixed(fixed.clone());
            let lowered = kernel_probe(site, name, vec![attach], probe, index, &mut maps, None)?;
            native.probes.push(lowered);
            spans.push(probe.span);
        }
    }
    check_slots(&native.probes, &spans)?;
    native.maps = maps.finish()?;
    // `probe` and `func` keys hold the index of the kernel probe that fired
    // (the first of its name).
    let names: Arc<[String]> = native.probes.iter().map(|p| p.name.to_string()).collect();
    let functions: Arc<[String]> =
        native.probes.iter().map(|p| function_of(&p.points[0])).collect();
    for info in &mut native.maps {
        for k in &mut info.key {
            match k {
                KeyKind::Probe { names: n } => *n = names.to_vec(),
                KeyKind::Func { names: n } => *n = functions.to_vec(),
                _ => {}
            }
        }
    }
    Ok(native)
}

/// The function a kernel probe sits in, as `func` prints it (empty where
/// none is known: lowering refuses `func` there).
fn function_of(point: &AttachPoint) -> String {
    match point {
        AttachPoint::Kprobe { function, .. } | AttachPoint::Fentry { function, .. } => {
            function.clone()
        }
        AttachPoint::Uprobe { location, .. } => symbol_of(location).unwrap_or_default(),
        _ => String::new(),
    }
}

/// The function a uprobe sits in; none for a raw address.
fn symbol_of(location: &UserLocation) -> Option<String> {
    match location {
        UserLocation::Symbol { name, .. } => Some(name.clone()),
        UserLocation::Address(_) => None,
    }
}

/// Every kernel probe needs a slot of its program kind; say so at plan time
/// rather than fail at attach time. `spans[i]` is where probe i was written.
fn check_slots(probes: &[KernelProbe], spans: &[Span]) -> Result<(), Unsupported> {
    let mut counts: HashMap<u32, u32> = HashMap::new();
    for (p, span) in probes.iter().zip(spans) {
        let n = counts.entry(p.points[0].kind()).or_default();
        *n += 1;
        if *n > SLOTS_PER_KIND {
            let kind = kind_name(p.points[0].kind());
            return Err(Unsupported::new(
                *span,
                NotNative::TooManyProbes,
                format!("more than {SLOTS_PER_KIND} {kind} probes after wildcard expansion"),
            ));
        }
    }
    Ok(())
}

/// Lowers one kernel probe, one slot attached at `points`. `name` builds
/// the probe name from the capture that tells which point fired (see
/// `ProbeCx::which`) or ignores it.
fn kernel_probe(
    site: Site,
    name: impl Fn(ValueRef) -> ProbeName,
    points: Vec<AttachPoint>,
    probe: &ast::Probe,
    index: u16,
    maps: &mut MapTable,
    nrs: Option<&[u32]>,
) -> Result<KernelProbe, Unsupported> {
    let mut cx = ProbeCx::new(site, ProbeName::Fixed(String::new()), index);
    cx.name = name(cx.which.unwrap_or(ValueRef(0)));
    let mut pred_ops = Vec::new();
    if let (Some(nrs), Some(nr)) = (nrs, cx.which) {
        for n in nrs {
            cx.builder.add_syscall_nr(*n);
        }
        pred_ops.extend([mk(op::VALUE, nr.0, 0), mk(op::IN_NR_SET, 0, 0)]);
    }
    let mut ex = Exprs::new(Some(&mut cx), maps);
    let mut user_predicate = None;
    if let Some(p) = &probe.predicate {
        ex.in_predicate = true;
        let kernel = ex.kernel(p)?;
        ex.in_predicate = false;
        match kernel {
            Some((ops, _)) => {
                let and = !pred_ops.is_empty();
                pred_ops.extend(ops);
                if and {
                    pred_ops.push(mk(op::LAND, 0, 0));
                }
            }
            // Then user space decides whether the body runs, and so updates
            // the body's maps.
            None => {
                user_predicate = Some(ex.user(p)?.0);
                ex.guard = Guard::User(p.span);
            }
        }
    }
    let body = ex.block(&probe.body)?;
    drop(ex);
    cx.builder.predicate(pred_ops);
    cx.builder.emit(!body.is_empty() || user_predicate.is_some());
    let config = cx.builder.build().map_err(site::slot_full(probe.span))?;
    Ok(KernelProbe { points, config, name: cx.name, predicate: user_predicate, body })
}

/// Attach points that one slot may serve, with how a hit names its probe
/// (from the capture that tells the points apart) and, for a raw syscall
/// tracepoint, the syscall numbers it admits.
struct SharedGroup {
    site: Site,
    attach: Vec<AttachPoint>,
    name: Box<dyn Fn(ValueRef) -> ProbeName>,
    nrs: Option<Vec<u32>>,
}

/// The ways `points` can share one slot, cheapest first: a raw syscall
/// tracepoint, the tracepoints themselves, a kprobe wildcard's functions.
fn shared_groups(checked: &Checked, points: &[&Probe]) -> Vec<SharedGroup> {
    let mut groups = Vec::new();
    if points.len() < 2 {
        return groups;
    }
    let (first, more) = (points[0].to_string(), points.len() - 1);
    if let Some((enter, nrs)) = syscall_group(points) {
        let prefix = format!("tracepoint:syscalls:sys_{}_", if enter { "enter" } else { "exit" });
        let formats = points.iter().map(|p| format_of(checked, p)).collect();
        groups.push(SharedGroup {
            site: Site::RawSyscall { enter, formats, every: false },
            attach: vec![AttachPoint::RawTracepoint {
                name: if enter { "sys_enter" } else { "sys_exit" }.into(),
            }],
            name: Box::new(move |nr| ProbeName::Syscall { prefix: prefix.clone(), nr }),
            nrs: Some(nrs),
        });
    }
    if let Some((site, attach)) = tracepoint_group(checked, points) {
        let first = first.clone();
        let name = Box::new(move |_| ProbeName::Shared { first: first.clone(), more });
        groups.push(SharedGroup { site, attach, name, nrs: None });
    }
    if let Some((site, attach)) = kprobe_group(points) {
        let name = Box::new(move |ip| ProbeName::Functions { ip, first: first.clone(), more });
        groups.push(SharedGroup { site, attach, name, nrs: None });
    }
    groups
}

/// The probe lowered for a shared slot, or None, with the map uses it
/// recorded undone, when it failed and the probes fit a slot each.
fn shared_slot(
    lowered: Result<KernelProbe, Unsupported>,
    before: MapTable,
    maps: &mut MapTable,
    each_fits: bool,
) -> Result<Option<KernelProbe>, Unsupported> {
    match lowered {
        Ok(shared) => Ok(Some(shared)),
        Err(_) if each_fits => {
            *maps = before;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Tracepoints of one wildcard as the site of one slot attached at each.
fn tracepoint_group(checked: &Checked, points: &[&Probe]) -> Option<(Site, Vec<AttachPoint>)> {
    let mut formats = Vec::new();
    let mut attach = Vec::new();
    let mut syscall = true;
    for point in points {
        let Probe::Tracepoint { category, name } = point else {
            return None;
        };
        formats.push(format_of(checked, point));
        attach.push(AttachPoint::Tracepoint { category: category.clone(), name: name.clone() });
        syscall &= category == "syscalls";
    }
    Some((Site::Tracepoint { formats, syscall }, attach))
}

/// The entries of several kernel functions (a kprobe wildcard) as the site
/// of one slot attached at each; a hit tells them apart by its instruction
/// pointer. Not kretprobes: at a return nothing says whose it is.
fn kprobe_group(points: &[&Probe]) -> Option<(Site, Vec<AttachPoint>)> {
    let attach = points
        .iter()
        .map(|p| match p {
            Probe::Kprobe { function, offset: 0, ret: false } => {
                Some(AttachPoint::Kprobe { function: function.clone(), offset: 0, ret: false })
            }
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some((Site::Function { ret: false, symbol: None, kernel: true }, attach))
}

/// Syscall tracepoints of one direction that can share a raw syscall
/// tracepoint: (entry?, their syscall numbers).
fn syscall_group(points: &[&Probe]) -> Option<(bool, Vec<u32>)> {
    let mut enter = None;
    let mut nrs = Vec::new();
    for p in points {
        let syscall = p.syscall()?;
        if *enter.get_or_insert(syscall.enter) != syscall.enter {
            return None;
        }
        nrs.push(syscall.nr);
    }
    Some((enter?, nrs))
}

/// The format of tracepoint `probe`, where the checker read it (it reads
/// the formats of tracepoints whose fields a program uses).
fn format_of(checked: &Checked, probe: &Probe) -> Format {
    let Probe::Tracepoint { category, name } = probe else {
        return Format::default();
    };
    checked.formats.get(&format!("{category}:{name}")).map(|f| (**f).clone()).unwrap_or_default()
}

/// The site and attach point of one concrete probe.
fn site_of(
    checked: &Checked,
    point: &Probe,
    span: Span,
) -> Result<(Site, AttachPoint), Unsupported> {
    let not_yet = |what: String| Err(Unsupported::new(span, NotNative::ProbeKind, what));
    let perf = |event, sample, every_cpu| AttachPoint::PerfEvent { event, sample, every_cpu };
    Ok(match point {
        // Every syscall's entry or exit, from the raw tracepoint the
        // tracepoint itself is built on: no trace record is built per
        // event, and detaching does not wait for an RCU grace period
        // (closing the tracepoint's perf event did, ~60 ms).
        Probe::Tracepoint { category, name }
            if category == "raw_syscalls" && (name == "sys_enter" || name == "sys_exit") =>
        {
            let enter = name == "sys_enter";
            let formats = vec![format_of(checked, point)];
            (
                Site::RawSyscall { enter, formats, every: true },
                AttachPoint::RawTracepoint { name: name.clone() },
            )
        }
        Probe::Tracepoint { category, name } => (
            Site::Tracepoint {
                formats: vec![format_of(checked, point)],
                syscall: category == "syscalls",
            },
            AttachPoint::Tracepoint { category: category.clone(), name: name.clone() },
        ),
        Probe::RawTracepoint { name } => {
            (Site::RawTracepoint, AttachPoint::RawTracepoint { name: name.clone() })
        }
        // The checker let an offset or address through only where the
        // operator allowed what cannot be checked (see check::unchecked).
        Probe::Uprobe { binary, location, ret } => (
            Site::Function { ret: *ret, symbol: symbol_of(location), kernel: false },
            AttachPoint::Uprobe {
                binary: binary.clone(),
                location: location.clone(),
                ret: *ret,
                pid: None,
            },
        ),
        // A semaphore counts the tracers attached, so that the program
        // computes the arguments only then: the kernel keeps that count
        // itself for a uprobe given the semaphore's file offset
        // (ref_ctr_offset), but aya 0.14 passes none, and a probe whose
        // semaphore stays 0 may never fire.
        Probe::Usdt(usdt) if usdt.semaphore != 0 => {
            return not_yet(format!(
                "{point} has a semaphore, which the native backend cannot raise (aya 0.14 \
                 attaches uprobes without the kernel's ref_ctr_offset)"
            ));
        }
        Probe::Usdt(usdt) => (
            Site::Usdt { args: usdt.args.clone() },
            AttachPoint::Uprobe {
                binary: usdt.binary.clone(),
                location: UserLocation::Address(usdt.address),
                ret: false,
                pid: None,
            },
        ),
        // The kernel refuses a kprobe offset that is not an instruction
        // boundary, so offsets are safe to pass on.
        Probe::Kprobe { function, offset, ret } => (
            Site::Function { ret: *ret, symbol: Some(function.clone()), kernel: true },
            AttachPoint::Kprobe { function: function.clone(), offset: *offset, ret: *ret },
        ),
        Probe::Profile(rate) => {
            let sample = match rate.unit {
                RateUnit::Hz => Sample::Frequency(rate.count),
                _ => Sample::Period(rate.period_ns()),
            };
            (Site::Perf, perf(Software::CpuClock, sample, true))
        }
        Probe::Interval(rate) => {
            (Site::Perf, perf(Software::CpuClock, Sample::Period(rate.period_ns()), false))
        }
        Probe::Software { event, count: Some(count), .. } => {
            (Site::Perf, perf(*event, Sample::Period(*count), true))
        }
        Probe::Software { .. } => {
            return not_yet(
                "software probes without a count are not native yet (bpftrace picks one \
                 per event)"
                    .into(),
            );
        }
        Probe::Kfunc { function, ret } => match checked.prototypes.get(function) {
            Some(Ok(prototype)) => (
                Site::Fentry { function: prototype.clone(), ret: *ret },
                AttachPoint::Fentry { function: function.clone(), ret: *ret },
            ),
            Some(Err(e)) => return not_yet(format!("{} needs the function's BTF: {e}", point)),
            None => return not_yet(format!("{} was not checked for its BTF", point)),
        },
        Probe::Hardware { .. } | Probe::Other { .. } => {
            return not_yet(format!("{} probes are not native yet", point.kind().name()));
        }
        Probe::Begin | Probe::End => {
            return not_yet("BEGIN/END mixed with other probes in one attach list".into());
        }
    })
}

#[cfg(test)]
mod tests;
