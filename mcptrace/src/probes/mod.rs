//! Probe listing, read by mcptrace itself (never `bpftrace -l`): tracepoints
//! and raw tracepoints from tracefs, kernel functions from kallsyms, software
//! events, timers, BEGIN/END, and a binary's functions for uprobes.

pub mod info;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{
    check::{Host, HostError, glob},
    host::features::{self, Support},
    lang::ast::ProbeKind,
    probe::Software,
};

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ProbePage {
    /// Probe names, as a program writes them.
    pub probes: Vec<String>,
    /// Tracepoint arguments by probe name (`verbose`): `type name`, as
    /// `bpftrace -lv` prints them.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, Vec<String>>,
    /// Matching probes in all.
    pub total: usize,
    pub offset: usize,
    pub has_more: bool,
    /// What the listing left out and why (kernel functions that cannot be
    /// traced on this host).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Probes matching `filter` (a bpftrace-style glob; all when absent),
/// `limit` of them from `offset`.
pub fn list(
    host: &dyn Host,
    filter: Option<&str>,
    offset: usize,
    limit: usize,
    verbose: bool,
) -> Result<ProbePage, HostError> {
    let filter = filter.map(str::trim).filter(|f| !f.is_empty());
    let matches = |name: &str| match filter {
        None => true,
        Some(f) => glob(f, name) || name.split_once(':').is_some_and(|(_, rest)| glob(f, rest)),
    };
    let mut names: Vec<String> = Vec::new();
    let mut notes = Vec::new();
    // A filter that names a probe kind (`tracepoint:...`, `t:...`) lists that
    // kind only; any other filter may match the part after the kind.
    let named = filter
        .filter(|f| f.contains(':'))
        .and_then(|f| f.split(':').next())
        .and_then(ProbeKind::from_name);
    let wants = |kind: ProbeKind| named.is_none_or(|k| k == kind);

    for fixed in ["BEGIN", "END", "interval:s:1", "interval:ms:100", "profile:hz:99"] {
        names.push(fixed.to_string());
    }
    names.extend(Software::NAMES.iter().map(|(s, _)| format!("software:{s}:")));
    let tracepoints = host.tracepoints()?;
    if wants(ProbeKind::Tracepoint) {
        names.extend(tracepoints.iter().map(|tp| format!("tracepoint:{tp}")));
    }
    if wants(ProbeKind::RawTracepoint) {
        let mut raw: Vec<&str> =
            tracepoints.iter().filter_map(|tp| tp.split_once(':')).map(|(_, n)| n).collect();
        raw.sort_unstable();
        raw.dedup();
        names.extend(raw.into_iter().map(|n| format!("rawtracepoint:{n}")));
    }
    // Kernel functions: listed under the probe kind that attaches here; on a
    // host with neither, only when asked for, with the reason.
    let feats = features::get();
    let kernel_kind = if feats.kprobe.is_yes() { Some("kprobe") } else { None };
    let asked_for_kernel = matches!(
        named,
        Some(ProbeKind::Kprobe | ProbeKind::Kretprobe | ProbeKind::Kfunc | ProbeKind::Kretfunc)
    );
    if kernel_kind.is_some() || asked_for_kernel {
        let kind = kernel_kind.unwrap_or("kprobe");
        if let Support::No(reason) = &feats.kprobe {
            notes.push(format!("kernel functions are listed, but cannot be traced here: {reason}"));
        }
        names.extend(host.kernel_functions()?.traceable().map(|f| format!("{kind}:{f}")));
    }
    // A binary's functions, when the filter names one.
    if let Some(f) = filter
        && let Some((kind @ ("uprobe" | "uretprobe"), rest)) = f.split_once(':')
        && let Some((binary, _)) = rest.rsplit_once(':')
        && !binary.contains('*')
    {
        let (path, functions) = host.user_functions(binary)?;
        names.extend(functions.iter().map(|func| format!("{kind}:{}:{func}", path.display())));
    }

    names.retain(|n| matches(n));
    names.sort();
    names.dedup();
    let total = names.len();
    let page: Vec<String> = names.into_iter().skip(offset).take(limit).collect();
    let details = match verbose {
        true => page.iter().filter_map(|n| Some((n.clone(), tracepoint_args(host, n)?))).collect(),
        false => BTreeMap::new(),
    };
    let has_more = offset.saturating_add(page.len()) < total;
    Ok(ProbePage { probes: page, details, total, offset, has_more, notes })
}

/// `type name` of each argument of a tracepoint, from its format file.
fn tracepoint_args(host: &dyn Host, name: &str) -> Option<Vec<String>> {
    let (category, event) = name.strip_prefix("tracepoint:")?.split_once(':')?;
    let format = host.tracepoint_format(category, event).ok()?;
    Some(format.args().map(|f| format!("{} {}", f.c_type, f.name)).collect())
}
