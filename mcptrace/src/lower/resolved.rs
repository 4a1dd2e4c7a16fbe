//! Attach points after wildcard expansion, with what lowering needs to know
//! about each: the input the checker hands to lowering.

use std::path::PathBuf;

use crate::{host::tracefs::Format, lang::ast::ProbeKind, native::Sample};

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
            Resolved::Profile { text, .. }
            | Resolved::Interval { text, .. }
            | Resolved::Other { text, .. } => text.clone(),
        }
    }
}
