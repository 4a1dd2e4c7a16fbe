//! Lowers a checked program to the native backend's IR ([`NativeProgram`]),
//! or names the first construct that keeps it on bpftrace, with its position.
//!
//! One kernel probe per attach point, except that several syscall
//! tracepoints of one probe become a single raw syscall tracepoint with a
//! syscall-number set: hundreds of perf-event tracepoints take ~70 ms each to
//! detach, a raw tracepoint ~0.1 ms.

mod expr;
mod maps;
pub mod resolved;
mod site;
mod stmt;

use std::{collections::HashMap, fmt};

use mcptrace_common::slot::op;

use self::{
    expr::Exprs,
    maps::MapTable,
    resolved::Resolved,
    site::{ProbeCx, Site},
};
use crate::{
    lang::ast::{self, Span},
    native::{
        AttachPoint, Sample, Software, UprobeLocation,
        ir::{KernelProbe, KeyKind, NativeProgram, ProbeName},
        slot_builder::op as mk,
    },
};

/// Catalog names (builtins and functions) the lowering runs natively; the
/// tests lower a program using each, so the list stays true to the code.
pub const NATIVE_HELPERS: &[&str] = &[
    "pid", "tid", "uid", "gid", "cpu", "nsecs", "elapsed", "comm", "kstack", "ustack", "argN",
    "retval", "func", "probe", "cgroup", "args", "printf", "print", "time", "exit", "str", "count",
    "sum", "avg", "min", "max", "stats", "hist", "lhist", "delete", "clear", "zero", "ksym",
    "usym", "reg", "username",
];

/// Whether the native backend runs catalog entry `name`.
pub fn is_native(name: &str) -> bool {
    NATIVE_HELPERS.contains(&name)
}

/// Why a program cannot run natively: the construct and where it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct Unsupported {
    pub span: Span,
    pub reason: String,
}

impl Unsupported {
    pub fn new(span: Span, reason: String) -> Self {
        Self { span, reason }
    }
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at {})", self.reason, self.span)
    }
}

/// Lowers `program`, whose probes' attach points expand to `resolved`
/// (one list per probe, in order).
pub fn lower(
    program: &ast::Program,
    resolved: &[Vec<Resolved>],
) -> Result<NativeProgram, Unsupported> {
    if let Some(p) = program.preamble.iter().find(|p| !p.text.trim_start().starts_with("#include"))
    {
        return Err(Unsupported::new(p.span, "C definitions are not native yet".into()));
    }
    let mut maps = MapTable::default();
    let mut native = NativeProgram {
        attach_count: resolved.iter().map(Vec::len).sum(),
        begin: Vec::new(),
        probes: Vec::new(),
        end: Vec::new(),
        maps: Vec::new(),
    };
    let cpus = online_cpus();
    // The source probe of each kernel probe, for errors about it.
    let mut spans = Vec::new();
    for (probe, points) in program.probes.iter().zip(resolved) {
        if points.iter().all(|p| *p == Resolved::Begin)
            || points.iter().all(|p| *p == Resolved::End)
        {
            let mut ex = Exprs::new(None, &mut maps);
            if let Some(pred) = &probe.predicate {
                return Err(Unsupported::new(pred.span, "a predicate on BEGIN or END".into()));
            }
            let block = ex.block(&probe.body)?;
            if points.first() == Some(&Resolved::Begin) {
                native.begin.push(block);
            } else {
                native.end.push(block);
            }
            continue;
        }
        if let Some((enter, formats, nrs)) = syscall_group(points) {
            let index = native.probes.len() as u16;
            let prefix =
                format!("tracepoint:syscalls:sys_{}_", if enter { "enter" } else { "exit" });
            let name = |nr| ProbeName::Syscall { prefix: prefix.clone(), nr };
            let point = AttachPoint::RawTracepoint {
                name: if enter { "sys_enter" } else { "sys_exit" }.into(),
            };
            let site = Site::RawSyscall { enter, formats };
            native.probes.push(kernel_probe(
                site,
                name,
                point,
                probe,
                index,
                &mut maps,
                Some(&nrs),
            )?);
            continue;
        }
        for point in points {
            let index = native.probes.len() as u16;
            let fixed = point.name();
            let (site, attach) = site_of(point, &cpus, probe.span)?;
            let name = |_| ProbeName::Fixed(fixed.clone());
            native.probes.push(kernel_probe(site, name, attach, probe, index, &mut maps, None)?);
            spans.push(probe.span);
        }
    }
    check_slots(&native.probes, &spans)?;
    native.maps = maps.finish()?;
    let names: Vec<String> = native
        .probes
        .iter()
        .map(|p| match &p.name {
            ProbeName::Fixed(n) => n.clone(),
            ProbeName::Syscall { prefix, .. } => prefix.clone(),
        })
        .collect();
    for info in &mut native.maps {
        for k in &mut info.key {
            if let KeyKind::Probe { names: n } = k {
                n.clone_from(&names);
            }
        }
    }
    Ok(native)
}

/// Every kernel probe needs a slot of its program kind; say so at plan time
/// rather than fail at attach time.
fn check_slots(probes: &[KernelProbe], spans: &[Span]) -> Result<(), Unsupported> {
    use mcptrace_common::limits::SLOTS_PER_KIND;
    let kind = |p: &AttachPoint| match p {
        AttachPoint::Tracepoint { .. } => "tracepoint",
        AttachPoint::RawTracepoint { .. } => "raw tracepoint",
        AttachPoint::PerfEvent { .. } => "perf event",
        AttachPoint::Uprobe { ret: false, .. } => "uprobe",
        AttachPoint::Uprobe { ret: true, .. } => "uretprobe",
        AttachPoint::Kprobe { ret: false, .. } => "kprobe",
        AttachPoint::Kprobe { ret: true, .. } => "kretprobe",
    };
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for (p, span) in probes.iter().zip(spans) {
        let n = counts.entry(kind(&p.point)).or_default();
        *n += 1;
        if *n > SLOTS_PER_KIND {
            return Err(Unsupported::new(
                *span,
                format!(
                    "more than {SLOTS_PER_KIND} {} probes after wildcard expansion",
                    kind(&p.point)
                ),
            ));
        }
    }
    Ok(())
}

/// Lowers one kernel probe. `name` builds the probe name from the syscall
/// number capture (raw syscall sites) or ignores it.
fn kernel_probe(
    site: Site,
    name: impl Fn(crate::native::slot_builder::ValueRef) -> ProbeName,
    point: AttachPoint,
    probe: &ast::Probe,
    index: u16,
    maps: &mut MapTable,
    nrs: Option<&[u32]>,
) -> Result<KernelProbe, Unsupported> {
    let mut cx = ProbeCx::new(site, ProbeName::Fixed(String::new()), index);
    cx.name = name(cx.nr.unwrap_or(crate::native::slot_builder::ValueRef(0)));
    let mut pred_ops = Vec::new();
    if let (Some(nrs), Some(nr)) = (nrs, cx.nr) {
        for n in nrs {
            cx.builder.add_syscall_nr(*n);
        }
        pred_ops.extend([mk(op::VALUE, nr.0, 0), mk(op::IN_NR_SET, 0, 0)]);
    }
    let mut ex = Exprs::new(Some(&mut cx), maps);
    let mut user_predicate = None;
    if let Some(p) = &probe.predicate {
        match ex.kernel(p)? {
            Some((ops, _)) => {
                let and = !pred_ops.is_empty();
                pred_ops.extend(ops);
                if and {
                    pred_ops.push(mk(op::LAND, 0, 0));
                }
            }
            None => user_predicate = Some(ex.user(p)?.0),
        }
    }
    let body = ex.block(&probe.body)?;
    drop(ex);
    let built = cx.builder.build().map_err(site::slot_full(probe.span))?;
    if user_predicate.is_some() && built.nmap_ops > 0 {
        let span = probe.predicate.as_ref().map_or(probe.span, |p| p.span);
        return Err(Unsupported::new(
            span,
            "a predicate evaluated in user space guarding map updates is not native yet".into(),
        ));
    }
    cx.builder.predicate(pred_ops);
    cx.builder.emit(!body.is_empty() || user_predicate.is_some());
    let config = cx.builder.build().map_err(site::slot_full(probe.span))?;
    Ok(KernelProbe { point, config, name: cx.name, predicate: user_predicate, body })
}

/// Syscall tracepoints of one direction that can share a raw syscall
/// tracepoint: (entry?, their formats, their numbers).
fn syscall_group(
    points: &[Resolved],
) -> Option<(bool, Vec<crate::host::tracefs::Format>, Vec<u32>)> {
    if points.len() < 2 {
        return None;
    }
    let mut enter = None;
    let mut formats = Vec::new();
    let mut nrs = Vec::new();
    for p in points {
        let Resolved::Tracepoint { category, name, format } = p else { return None };
        if category != "syscalls" {
            return None;
        }
        let (dir, syscall) = if let Some(s) = name.strip_prefix("sys_enter_") {
            (true, s)
        } else {
            (false, name.strip_prefix("sys_exit_")?)
        };
        if *enter.get_or_insert(dir) != dir {
            return None;
        }
        let nr = syscall_number(syscall)?;
        nrs.push(nr);
        formats.push(format.clone());
    }
    Some((enter?, formats, nrs))
}

/// The number of the syscall a syscall tracepoint is named for. A few
/// tracepoints carry the kernel's SYSCALL_DEFINE name, not the syscall's.
fn syscall_number(tracepoint_name: &str) -> Option<u32> {
    let name = match tracepoint_name {
        "newfstat" => "fstat",
        "newlstat" => "lstat",
        "newstat" => "stat",
        "newuname" => "uname",
        "sendfile64" => "sendfile",
        "umount" => "umount2",
        other => other,
    };
    Some(name.parse::<syscalls::Sysno>().ok()?.id() as u32)
}

/// The site and attach point of one resolved probe.
fn site_of(point: &Resolved, cpus: &[u32], span: Span) -> Result<(Site, AttachPoint), Unsupported> {
    let clock =
        |sample, cpus: Vec<u32>| AttachPoint::PerfEvent { event: Software::CpuClock, sample, cpus };
    Ok(match point {
        Resolved::Tracepoint { category, name, format } => (
            Site::Tracepoint { format: format.clone(), syscall: category == "syscalls" },
            AttachPoint::Tracepoint { category: category.clone(), name: name.clone() },
        ),
        Resolved::RawTracepoint { name } => {
            (Site::RawTracepoint, AttachPoint::RawTracepoint { name: name.clone() })
        }
        Resolved::Uprobe { binary, symbol, ret } => (
            Site::Function { ret: *ret, symbol: symbol.clone(), kernel: false },
            AttachPoint::Uprobe {
                binary: binary.clone(),
                location: UprobeLocation::Symbol(symbol.clone()),
                ret: *ret,
                pid: None,
            },
        ),
        Resolved::Kprobe { function, ret } => (
            Site::Function { ret: *ret, symbol: function.clone(), kernel: true },
            AttachPoint::Kprobe { function: function.clone(), ret: *ret },
        ),
        Resolved::Profile { sample, .. } => (Site::Perf, clock(*sample, cpus.to_vec())),
        Resolved::Software { event, count, .. } => (
            Site::Perf,
            AttachPoint::PerfEvent {
                event: *event,
                sample: Sample::Period(*count),
                cpus: cpus.to_vec(),
            },
        ),
        Resolved::Interval { period_ns, .. } => {
            (Site::Perf, clock(Sample::Period(*period_ns), cpus.iter().take(1).copied().collect()))
        }
        Resolved::Other { kind, .. } => {
            return Err(Unsupported::new(
                span,
                format!("{} probes are not native yet", kind.name()),
            ));
        }
        Resolved::Begin | Resolved::End => {
            return Err(Unsupported::new(
                span,
                "BEGIN/END mixed with other probes in one attach list".into(),
            ));
        }
    })
}

fn online_cpus() -> Vec<u32> {
    aya::util::online_cpus().unwrap_or_else(|_| vec![0])
}

#[cfg(test)]
mod tests;
