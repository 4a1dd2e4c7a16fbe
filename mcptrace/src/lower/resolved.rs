//! Attach points after wildcard expansion, with what lowering needs to know
//! about each: the input the checker hands to lowering.

use std::path::PathBuf;

use crate::{
    check::Checked,
    host::tracefs::Format,
    lang::ast::ProbeKind,
    native::{Sample, Software},
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    Begin,
    End,
    Tracepoint {
        category: String,
        name: String,
        format: Format,
    },
    RawTracepoint {
        name: String,
    },
    Uprobe {
        binary: PathBuf,
        symbol: String,
        ret: bool,
    },
    Kprobe {
        function: String,
        ret: bool,
    },
    /// `profile:*`: sampled on every CPU; `text` as written.
    Profile {
        sample: Sample,
        text: String,
    },
    /// `interval:*`: one timer, on one CPU; `text` as written.
    Interval {
        period_ns: u64,
        text: String,
    },
    /// `software:EVENT:COUNT`: one sample every COUNT events, on every CPU.
    Software {
        event: Software,
        count: u64,
        text: String,
    },
    /// A probe kind the native backend does not attach.
    Other {
        kind: ProbeKind,
        text: String,
    },
}

impl Resolved {
    /// The probe's full name, as the `probe` builtin prints it.
    pub fn name(&self) -> String {
        match self {
            Resolved::Begin => "BEGIN".into(),
            Resolved::End => "END".into(),
            Resolved::Tracepoint { category, name, .. } => format!("tracepoint:{category}:{name}"),
            Resolved::RawTracepoint { name } => format!("rawtracepoint:{name}"),
            Resolved::Uprobe { binary, symbol, ret } => {
                let kind = if *ret { "uretprobe" } else { "uprobe" };
                format!("{kind}:{}:{symbol}", binary.display())
            }
            Resolved::Kprobe { function, ret } => {
                format!("{}:{function}", if *ret { "kretprobe" } else { "kprobe" })
            }
            Resolved::Profile { text, .. }
            | Resolved::Interval { text, .. }
            | Resolved::Software { text, .. }
            | Resolved::Other { text, .. } => text.clone(),
        }
    }
}

/// The resolved attach points of every probe of a checked program, in order:
/// each probe's attach points' expansions, concatenated.
pub fn from_checked(checked: &Checked) -> Vec<Vec<Resolved>> {
    checked
        .probes
        .iter()
        .map(|p| p.attach_points.iter().flatten().map(|name| parse(name, checked)).collect())
        .collect()
}

/// One concrete probe name (as the checker expands them) to what lowering
/// needs to know about it.
fn parse(full: &str, checked: &Checked) -> Resolved {
    let other = |kind| Resolved::Other { kind, text: full.to_string() };
    let (kind, rest) = full.split_once(':').unwrap_or((full, ""));
    let Some(kind) = ProbeKind::from_name(kind) else {
        return other(ProbeKind::Begin);
    };
    match kind {
        ProbeKind::Begin => Resolved::Begin,
        ProbeKind::End => Resolved::End,
        ProbeKind::Tracepoint => match rest.split_once(':') {
            Some((category, name)) => Resolved::Tracepoint {
                category: category.into(),
                name: name.into(),
                // Formats are kept for the tracepoints whose fields are read.
                format: checked
                    .formats
                    .get(rest)
                    .map_or_else(|| Format { id: 0, fields: Vec::new() }, |f| (**f).clone()),
            },
            None => other(kind),
        },
        ProbeKind::RawTracepoint => Resolved::RawTracepoint { name: rest.into() },
        ProbeKind::Uprobe | ProbeKind::Uretprobe => match rest.rsplit_once(':') {
            // Offsets (`0x...`) and `func+off` locations are not native yet.
            Some((binary, symbol))
                if !symbol.starts_with("0x") && !symbol.contains('+') && !symbol.is_empty() =>
            {
                Resolved::Uprobe {
                    binary: PathBuf::from(binary),
                    symbol: symbol.into(),
                    ret: kind == ProbeKind::Uretprobe,
                }
            }
            _ => other(kind),
        },
        // `func+off` locations are not native yet.
        ProbeKind::Kprobe | ProbeKind::Kretprobe if !rest.is_empty() && !rest.contains('+') => {
            Resolved::Kprobe { function: rest.into(), ret: kind == ProbeKind::Kretprobe }
        }
        ProbeKind::Profile | ProbeKind::Interval => {
            let (unit, count) = rest.split_once(':').unwrap_or(("hz", rest));
            let Ok(count) = count.parse::<u64>() else { return other(kind) };
            let period_ns = match unit {
                "s" => count.saturating_mul(1_000_000_000),
                "ms" => count.saturating_mul(1_000_000),
                "us" => count.saturating_mul(1000),
                "hz" if count > 0 => 1_000_000_000 / count,
                _ => return other(kind),
            };
            let text = full.to_string();
            if kind == ProbeKind::Interval {
                Resolved::Interval { period_ns, text }
            } else if unit == "hz" {
                Resolved::Profile { sample: Sample::Frequency(count), text }
            } else {
                Resolved::Profile { sample: Sample::Period(period_ns), text }
            }
        }
        ProbeKind::Software => {
            let mut parts = rest.split(':');
            let event = parts.next().and_then(Software::from_name);
            // Without a count bpftrace picks a per-event default: not native yet.
            let count = parts.next().and_then(|c| c.parse::<u64>().ok()).filter(|c| *c > 0);
            match (event, count) {
                (Some(event), Some(count)) => {
                    Resolved::Software { event, count, text: full.to_string() }
                }
                _ => other(kind),
            }
        }
        _ => other(kind),
    }
}
