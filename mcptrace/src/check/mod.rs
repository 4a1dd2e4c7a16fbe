//! Semantic checks of a parsed program against the running kernel: probes
//! exist and attach here (wildcards expanded), tracepoint fields exist,
//! builtins and calls fit their probes, formats match their arguments.

mod attach;
mod body;
pub mod constants;
pub mod error;
pub mod facts;
#[cfg(test)]
pub(crate) mod fake_host;
mod map_use;

use std::{
    collections::{BTreeMap, HashSet},
    path::Path,
    sync::Arc,
};

pub use attach::{glob, tracepoint_instead};
pub use error::{CheckError, CheckErrorKind, CheckErrors};
pub use facts::{Host, HostError, SystemHost};

use self::constants::Constants;

use crate::{
    host::{
        btf::{BtfError, Function},
        tracefs::Format,
    },
    lang::{
        ast::{ExprKind, ProbeKind, Program, Span, StmtKind},
        config::Setting,
        dialect::with_constants,
    },
    policy::{Denial, Policy},
    probe::{Probe, Usdt, UserLocation},
};

/// A program that passed the checks, with what checking learned about it.
#[derive(Clone, Debug)]
pub struct Checked {
    pub program: Program,
    /// One entry per probe of `program`, in order.
    pub probes: Vec<CheckedProbe>,
    /// The formats of the tracepoints whose fields the program reads, by
    /// `category:name`.
    pub formats: BTreeMap<String, Arc<Format>>,
    /// The BTF prototypes of the functions fentry probes attach to, or why
    /// there is none (then the probe cannot run natively).
    pub prototypes: BTreeMap<String, Result<Arc<Function>, BtfError>>,
}

#[derive(Clone, Debug)]
pub struct CheckedProbe {
    /// For each attach point, the concrete probes it expands to.
    pub attach_points: Vec<Vec<Probe>>,
}

impl CheckedProbe {
    /// Every concrete probe, attach point after attach point.
    pub fn probes(&self) -> impl Iterator<Item = &Probe> {
        self.attach_points.iter().flatten()
    }
}

impl Checked {
    /// How many probes attach: bpftrace's "Attaching N probes" number.
    pub fn attach_count(&self) -> usize {
        self.all_probes().count()
    }

    /// Every concrete probe of the program, in order.
    pub fn all_probes(&self) -> impl Iterator<Item = &Probe> {
        self.probes.iter().flat_map(CheckedProbe::probes)
    }
}

/// Checks `program` against `host` under `policy`, reporting every error found.
pub fn check(program: Program, host: &dyn Host, policy: &Policy) -> Result<Checked, CheckErrors> {
    let mut errors = Vec::new();
    let mut formats = BTreeMap::new();
    let mut prototypes = BTreeMap::new();
    let assigned_maps = assigned_maps(&program);
    let mut constants = Constants::new(host, &program.preamble);
    for entry in &program.config {
        if let Err(e) = Setting::of(entry) {
            errors.push(CheckError { kind: CheckErrorKind::Config(e), span: entry.span });
        }
    }
    let mut probes = Vec::with_capacity(program.probes.len());
    for probe in &program.probes {
        let mut expanded = Vec::with_capacity(probe.attach_points.len());
        for ap in &probe.attach_points {
            // A denied kind is not looked up: the denial is the answer.
            if let Err(denial) = policy.probe_kind(ap.kind) {
                errors.push(CheckError::policy(denial, ap.span));
                expanded.push(Vec::new());
                continue;
            }
            // A usdt probe's binary is read for its notes: not a denied one.
            if ap.kind == ProbeKind::Usdt
                && let Some(Err(denial)) =
                    ap.parts.first().map(|b| policy.user_binary(Path::new(b)))
            {
                errors.push(CheckError::policy(denial, ap.span));
                expanded.push(Vec::new());
                continue;
            }
            match attach::expand(host, ap) {
                Ok(targets) => {
                    let denials = user_probe_denials(policy, &targets);
                    errors.extend(denials.into_iter().map(|d| CheckError::policy(d, ap.span)));
                    if !policy.allow_unsafe {
                        errors.extend(targets.iter().filter_map(|t| unchecked_uprobe(t, ap.span)));
                    }
                    expanded.push(targets)
                }
                Err(e) => {
                    errors.push(e);
                    expanded.push(Vec::new());
                }
            }
        }
        let tracepoints = expanded
            .iter()
            .flatten()
            .filter_map(|probe| match probe {
                Probe::Tracepoint { category, name } => Some((category.clone(), name.clone())),
                _ => None,
            })
            .collect();
        let mut kinds: Vec<ProbeKind> = probe.attach_points.iter().map(|a| a.kind).collect();
        kinds.dedup();
        let mut checker = body::BodyChecker {
            host,
            policy,
            kinds,
            tracepoints,
            assigned_maps: &assigned_maps,
            formats: &mut formats,
            errors: &mut errors,
            vars: HashSet::new(),
            constants: &mut constants,
        };
        if let Some(pred) = &probe.predicate {
            checker.expr(pred);
        }
        checker.block(&probe.body);
        for probe in expanded.iter().flatten() {
            if let Probe::Kfunc { function, .. } = probe {
                prototypes
                    .entry(function.clone())
                    .or_insert_with(|| host.kernel_prototype(function));
            }
        }
        probes.push(CheckedProbe { attach_points: expanded });
    }
    map_use::check(&program, &mut errors);
    let found = constants.found;
    if errors.is_empty() {
        // Constants become the integers they stand for, for both backends.
        let program = if found.is_empty() { program } else { with_constants(&program, &found) };
        Ok(Checked { program, probes, formats, prototypes })
    } else {
        errors.sort_by_key(|e| e.span.offset);
        Err(CheckErrors(errors))
    }
}

/// The policy's denials of an attach point in a user binary: its binary
/// once, as resolved (one attach point names one binary), then each
/// function a uprobe expanded to.
fn user_probe_denials(policy: &Policy, targets: &[Probe]) -> Vec<Denial> {
    let binary = match targets.first() {
        Some(Probe::Uprobe { binary, .. } | Probe::Usdt(Usdt { binary, .. })) => {
            Some(binary.as_path())
        }
        _ => None,
    };
    let Some(binary) = binary else { return Vec::new() };
    if let Err(denial) = policy.user_binary(binary) {
        return vec![denial];
    }
    targets
        .iter()
        .filter_map(|t| match t {
            Probe::Uprobe { location: UserLocation::Symbol { name, .. }, .. } => {
                policy.user_function(name).err()
            }
            _ => None,
        })
        .collect()
}

/// The refusal of a uprobe inside a function or at an address: bpftrace
/// checks such a location with a disassembler where it was built with one
/// (0.17 as packaged was not); mcptrace has none, so it is the operator's
/// call, as with bpftrace's `--unsafe`.
fn unchecked_uprobe(probe: &Probe, span: Span) -> Option<CheckError> {
    match probe {
        Probe::Uprobe { location: UserLocation::Symbol { offset: 0, .. }, .. } => None,
        Probe::Uprobe { .. } => {
            Some(CheckError { kind: CheckErrorKind::UncheckedUprobe(probe.to_string()), span })
        }
        _ => None,
    }
}

/// Names of the maps the program writes: assignment targets and `++`/`--` targets.
fn assigned_maps(program: &Program) -> HashSet<String> {
    let mut maps = HashSet::new();
    for probe in &program.probes {
        probe.body.each_stmt(&mut |stmt| {
            if let StmtKind::Assign { target, .. } = &stmt.kind
                && let ExprKind::Map { name, .. } = &target.kind
            {
                maps.insert(name.clone());
            }
            for e in stmt.exprs() {
                e.each(&mut |e| {
                    if let ExprKind::Step { target, .. } = &e.kind
                        && let ExprKind::Map { name, .. } = &target.kind
                    {
                        maps.insert(name.clone());
                    }
                });
            }
        });
    }
    maps
}

#[cfg(test)]
mod tests;
