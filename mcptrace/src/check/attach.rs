//! Attach points against the host: does the probe kind attach here, does the
//! target exist, and which concrete probes does a wildcard stand for.

use super::{
    error::{CheckError, CheckErrorKind},
    facts::Host,
};
use crate::{
    host::{features::Support, traceable::Traceability},
    lang::ast::{AttachPoint, ProbeKind},
    probe::{HARDWARE_EVENTS, Probe, Rate, Software, Usdt, UserLocation},
};

/// The concrete probes one attach point stands for.
pub fn expand(host: &dyn Host, ap: &AttachPoint) -> Result<Vec<Probe>, CheckError> {
    let err = |kind| CheckError { kind, span: ap.span };
    if let Support::No(reason) = host.support(ap.kind) {
        let suggestion = suggest(host, ap);
        return Err(err(CheckErrorKind::Unsupported { kind: ap.kind.name(), reason, suggestion }));
    }
    let parts: Vec<&str> = ap.parts.iter().map(String::as_str).collect();
    let bad = |what: &str| err(CheckErrorKind::BadAttachPoint(format!("{}: {what}", ap.text())));
    let host_err = |e: super::facts::HostError| {
        err(CheckErrorKind::Host { target: ap.text(), reason: e.to_string() })
    };
    let no_match =
        |kind: &'static str, pattern: String| err(CheckErrorKind::NoMatch { kind, pattern });
    let ret = matches!(ap.kind, ProbeKind::Kretprobe | ProbeKind::Kretfunc | ProbeKind::Uretprobe);
    match ap.kind {
        ProbeKind::Begin => Ok(vec![Probe::Begin]),
        ProbeKind::End => Ok(vec![Probe::End]),
        ProbeKind::Tracepoint => {
            let [category, event] = parts[..] else {
                return Err(bad("expected tracepoint:category:name"));
            };
            let pattern = format!("{category}:{event}");
            let matches: Vec<Probe> = host
                .tracepoints()
                .map_err(host_err)?
                .iter()
                .filter(|tp| glob(&pattern, tp))
                .filter_map(|tp| tp.split_once(':'))
                .map(|(c, n)| Probe::Tracepoint { category: c.into(), name: n.into() })
                .collect();
            if matches.is_empty() {
                return Err(no_match("tracepoint", pattern));
            }
            Ok(matches)
        }
        ProbeKind::RawTracepoint => {
            let [event] = parts[..] else { return Err(bad("expected rawtracepoint:name")) };
            let tracepoints = host.tracepoints().map_err(host_err)?;
            let mut names: Vec<&str> = tracepoints
                .iter()
                .filter_map(|tp| tp.split_once(':').map(|(_, n)| n))
                .filter(|n| glob(event, n))
                .collect();
            names.sort_unstable();
            names.dedup();
            if names.is_empty() {
                return Err(no_match("raw tracepoint", event.to_string()));
            }
            Ok(names.into_iter().map(|n| Probe::RawTracepoint { name: n.into() }).collect())
        }
        ProbeKind::Kprobe | ProbeKind::Kretprobe | ProbeKind::Kfunc | ProbeKind::Kretfunc => {
            let [function] = parts[..] else { return Err(bad("expected a kernel function")) };
            let (function, offset) = split_offset(function).ok_or_else(|| bad("bad offset"))?;
            if offset != 0 && ap.kind != ProbeKind::Kprobe {
                return Err(bad("only kprobes take an offset"));
            }
            let fentry = matches!(ap.kind, ProbeKind::Kfunc | ProbeKind::Kretfunc);
            let probe = |f: &str| match fentry {
                true => Probe::Kfunc { function: f.into(), ret },
                false => Probe::Kprobe { function: f.into(), offset, ret },
            };
            let functions = host.kernel_functions().map_err(host_err)?;
            if !function.contains('*') {
                return match functions.traceability(function) {
                    Traceability::Traceable => Ok(vec![probe(function)]),
                    Traceability::Missing => {
                        Err(err(CheckErrorKind::NoKernelFunction { function: function.into() }))
                    }
                    Traceability::Blacklisted => {
                        Err(err(CheckErrorKind::Blacklisted { function: function.into() }))
                    }
                };
            }
            let matches: Vec<Probe> =
                functions.traceable().filter(|f| glob(function, f)).map(|f| probe(f)).collect();
            if matches.is_empty() {
                return Err(no_match("traceable kernel function", function.to_string()));
            }
            Ok(matches)
        }
        ProbeKind::Uprobe | ProbeKind::Uretprobe => {
            let [binary, function] = parts[..] else {
                return Err(bad("expected uprobe:binary:function"));
            };
            let (path, functions) = host.user_functions(binary).map_err(host_err)?;
            let probe = |location| Probe::Uprobe { binary: path.clone(), location, ret };
            if function.starts_with("0x") || function.bytes().all(|b| b.is_ascii_digit()) {
                let address = parse_number(function).ok_or_else(|| bad("bad address"))?;
                return Ok(vec![probe(UserLocation::Address(address))]);
            }
            let (symbol, offset) = split_offset(function).ok_or_else(|| bad("bad offset"))?;
            if offset != 0 && ret {
                return Err(bad("only uprobes take an offset"));
            }
            let matches: Vec<Probe> = functions
                .iter()
                .filter(|f| glob(symbol, f))
                .map(|f| probe(UserLocation::Symbol { name: f.clone(), offset }))
                .collect();
            if matches.is_empty() {
                return Err(no_match("function", format!("{}:{symbol}", path.display())));
            }
            Ok(matches)
        }
        ProbeKind::Profile | ProbeKind::Interval => {
            let rate = Rate::from_parts(ap.kind, &ap.parts).map_err(|e| bad(&e.to_string()))?;
            Ok(vec![match ap.kind {
                ProbeKind::Profile => Probe::Profile(rate),
                _ => Probe::Interval(rate),
            }])
        }
        ProbeKind::Software | ProbeKind::Hardware => {
            let Some(&name) = parts.first() else { return Err(bad("expected an event name")) };
            let count = match parts[1..] {
                [] => None,
                [c] => Some(c.parse::<u64>().map_err(|_| bad("expected event[:count]"))?),
                _ => return Err(bad("expected event[:count]")),
            };
            if ap.kind == ProbeKind::Hardware {
                if !HARDWARE_EVENTS.contains(&name) {
                    let known = HARDWARE_EVENTS.join(", ");
                    return Err(bad(&format!("unknown event `{name}` ({known})")));
                }
                return Ok(vec![Probe::Hardware { event: name.into(), count }]);
            }
            let Some(event) = Software::from_name(name) else {
                let known: Vec<&str> = Software::NAMES.iter().map(|(n, _)| *n).collect();
                return Err(bad(&format!("unknown event `{name}` ({})", known.join(", "))));
            };
            Ok(vec![Probe::Software { event, name: name.into(), count }])
        }
        ProbeKind::Usdt => {
            let (binary, provider, name) = match parts[..] {
                [binary, provider, name] => (binary, provider, name),
                [binary, name] => (binary, "*", name),
                _ => return Err(bad("expected usdt:binary:[provider:]name")),
            };
            let (path, notes) = host.usdt_notes(binary).map_err(host_err)?;
            // Each location of a probe (a probe's macro used in several
            // places, or inlined) is a site of its own.
            let matches: Vec<Probe> = notes
                .iter()
                .filter(|n| glob(provider, &n.provider) && glob(name, &n.name))
                .map(|n| {
                    Probe::Usdt(Usdt {
                        binary: path.clone(),
                        provider: n.provider.clone(),
                        name: n.name.clone(),
                        address: n.address,
                        semaphore: n.semaphore,
                        args: n.args.clone(),
                    })
                })
                .collect();
            if matches.is_empty() {
                return Err(no_match(
                    "usdt probe",
                    format!("{}:{provider}:{name}", path.display()),
                ));
            }
            Ok(matches)
        }
        ProbeKind::Watchpoint | ProbeKind::AsyncWatchpoint | ProbeKind::Iter => {
            Ok(vec![Probe::Other { kind: ap.kind, text: ap.text() }])
        }
    }
}

/// `name+offset` (decimal or 0x hex) or `name`: the name and the offset.
fn split_offset(text: &str) -> Option<(&str, u64)> {
    match text.split_once('+') {
        None => Some((text, 0)),
        Some((name, offset)) => Some((name, parse_number(offset)?)),
    }
}

fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

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
