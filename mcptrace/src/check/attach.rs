//! Attach points against the host: does the probe kind attach here, does the
//! target exist, and which concrete probes does a wildcard stand for.

use super::{
    error::{CheckError, CheckErrorKind},
    host::Host,
};
use crate::{
    host::features::Support,
    lang::ast::{AttachPoint, ProbeKind},
};

/// The concrete probes one attach point stands for, as full probe names
/// (`tracepoint:syscalls:sys_enter_openat`).
pub fn expand(host: &dyn Host, ap: &AttachPoint) -> Result<Vec<String>, CheckError> {
    let err = |kind| CheckError { kind, span: ap.span };
    if let Support::No(reason) = host.support(ap.kind) {
        let suggestion = suggest(host, ap);
        return Err(err(CheckErrorKind::Unsupported { kind: ap.kind.name(), reason, suggestion }));
    }
    let parts: Vec<&str> = ap.parts.iter().map(String::as_str).collect();
    let bad = |what: &str| err(CheckErrorKind::BadAttachPoint(format!("{}: {what}", ap.text())));
    let host_err = |e: super::host::HostError| {
        err(CheckErrorKind::Host { target: ap.text(), reason: e.to_string() })
    };
    let no_match =
        |kind: &'static str, pattern: String| err(CheckErrorKind::NoMatch { kind, pattern });
    let name = ap.kind.name();
    match ap.kind {
        ProbeKind::Begin | ProbeKind::End => Ok(vec![name.to_string()]),
        ProbeKind::Tracepoint => {
            let [category, event] = parts[..] else {
                return Err(bad("expected tracepoint:category:name"));
            };
            let pattern = format!("{category}:{event}");
            let matches: Vec<String> = host
                .tracepoints()
                .map_err(host_err)?
                .iter()
                .filter(|tp| glob(&pattern, tp))
                .map(|tp| format!("{name}:{tp}"))
                .collect();
            if matches.is_empty() {
                return Err(no_match("tracepoint", pattern));
            }
            Ok(matches)
        }
        ProbeKind::RawTracepoint => {
            let [event] = parts[..] else { return Err(bad("expected rawtracepoint:name")) };
            let mut matches: Vec<String> = host
                .tracepoints()
                .map_err(host_err)?
                .iter()
                .filter_map(|tp| tp.split_once(':').map(|(_, n)| n))
                .filter(|n| glob(event, n))
                .map(|n| format!("{name}:{n}"))
                .collect();
            matches.sort();
            matches.dedup();
            if matches.is_empty() {
                return Err(no_match("raw tracepoint", event.to_string()));
            }
            Ok(matches)
        }
        ProbeKind::Kprobe | ProbeKind::Kretprobe | ProbeKind::Kfunc | ProbeKind::Kretfunc => {
            let [function] = parts[..] else { return Err(bad("expected a kernel function")) };
            let function = function.split('+').next().unwrap_or(function);
            let matches: Vec<String> = host
                .kernel_functions()
                .map_err(host_err)?
                .iter()
                .filter(|f| glob(function, f))
                .map(|f| format!("{name}:{f}"))
                .collect();
            if matches.is_empty() {
                return Err(no_match("kernel function", function.to_string()));
            }
            Ok(matches)
        }
        ProbeKind::Uprobe | ProbeKind::Uretprobe => {
            let [binary, function] = parts[..] else {
                return Err(bad("expected uprobe:binary:function"));
            };
            let (path, functions) = host.user_functions(binary).map_err(host_err)?;
            if function.starts_with("0x") || function.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(vec![format!("{name}:{}:{function}", path.display())]);
            }
            let symbol = function.split('+').next().unwrap_or(function);
            let matches: Vec<String> = functions
                .iter()
                .filter(|f| glob(symbol, f))
                .map(|f| format!("{name}:{}:{f}", path.display()))
                .collect();
            if matches.is_empty() {
                return Err(no_match("function", format!("{}:{symbol}", path.display())));
            }
            Ok(matches)
        }
        ProbeKind::Profile | ProbeKind::Interval => {
            let (unit, count) = match parts[..] {
                [count] if ap.kind == ProbeKind::Profile => ("hz", count),
                [unit, count] => (unit, count),
                _ => return Err(bad("expected a unit and a count, as in interval:s:1")),
            };
            if !["hz", "s", "ms", "us"].contains(&unit) {
                return Err(bad(&format!("unknown unit `{unit}` (hz, s, ms, us)")));
            }
            if count.parse::<u64>().map_or(true, |n| n == 0) {
                return Err(bad(&format!("`{count}` is not a positive count")));
            }
            Ok(vec![format!("{name}:{unit}:{count}")])
        }
        ProbeKind::Software | ProbeKind::Hardware => {
            let (event, events) = match (ap.kind, parts.first()) {
                (ProbeKind::Software, Some(e)) => (*e, SOFTWARE_EVENTS),
                (_, Some(e)) => (*e, HARDWARE_EVENTS),
                (_, None) => return Err(bad("expected an event name")),
            };
            if !events.contains(&event) {
                return Err(bad(&format!("unknown event `{event}` ({})", events.join(", "))));
            }
            if parts.len() > 2 || parts.get(1).is_some_and(|c| c.parse::<u64>().is_err()) {
                return Err(bad("expected event[:count]"));
            }
            Ok(vec![ap.text()])
        }
        ProbeKind::Usdt | ProbeKind::Watchpoint | ProbeKind::AsyncWatchpoint | ProbeKind::Iter => {
            Ok(vec![ap.text()])
        }
    }
}

pub const SOFTWARE_EVENTS: &[&str] = &[
    "cpu-clock",
    "cpu",
    "task-clock",
    "page-faults",
    "faults",
    "context-switches",
    "cs",
    "cpu-migrations",
    "minor-faults",
    "major-faults",
    "alignment-faults",
    "emulation-faults",
    "dummy",
    "bpf-output",
];
const HARDWARE_EVENTS: &[&str] = &[
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

/// `*` matches any run of characters; everything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// A probe that works here and observes the same thing, for a kernel
/// function probe.
fn suggest(host: &dyn Host, ap: &AttachPoint) -> Option<String> {
    let returning = matches!(ap.kind, ProbeKind::Kretprobe | ProbeKind::Kretfunc);
    let function = ap.parts.first()?.split('+').next()?;
    if function.contains('*')
        || !matches!(
            ap.kind,
            ProbeKind::Kprobe | ProbeKind::Kretprobe | ProbeKind::Kfunc | ProbeKind::Kretfunc
        )
    {
        return None;
    }
    tracepoint_instead(host, function, returning)
}

/// The tracepoint to use instead of probing kernel function `function` (on
/// return when `returning`): the syscall tracepoint of the syscall the
/// function implements, else a tracepoint named like the function.
pub fn tracepoint_instead(host: &dyn Host, function: &str, returning: bool) -> Option<String> {
    const PREFIXES: [&str; 8] = [
        "__x64_sys_",
        "__arm64_sys_",
        "__se_sys_",
        "__do_sys_",
        "do_sys_",
        "ksys_",
        "sys_",
        "vfs_",
    ];
    let stem = PREFIXES.iter().find_map(|p| function.strip_prefix(p)).unwrap_or(function);
    let stem = stem.strip_prefix("do_").unwrap_or(stem);
    let tracepoints = host.tracepoints().ok()?;
    let direction = if returning { "sys_exit_" } else { "sys_enter_" };
    let exists = |tp: &str| tracepoints.binary_search_by(|t| t.as_str().cmp(tp)).is_ok();
    let syscall = [stem, stem.trim_end_matches(|c: char| c.is_ascii_digit())]
        .into_iter()
        .map(|s| format!("syscalls:{direction}{s}"))
        .find(|tp| exists(tp));
    let named_like = || {
        tracepoints
            .iter()
            .find(|tp| tp.split_once(':').is_some_and(|(_, n)| n == function))
            .cloned()
    };
    syscall.or_else(named_like).map(|tp| format!("tracepoint:{tp}"))
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_stars() {
        assert!(glob("sys_enter_*", "sys_enter_openat"));
        assert!(glob("*open*", "sys_enter_openat"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(!glob("read", "readv"));
        assert!(glob("read", "read"));
    }
}
