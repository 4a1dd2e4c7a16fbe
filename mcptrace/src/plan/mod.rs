//! Planning: which backend runs a checked program, and why not native.
//!
//! The decision is the lowering itself: a program runs natively exactly when
//! it lowers to the native IR, and otherwise the lowering names the first
//! construct it could not take, with its position. One piece of logic, so
//! `mcptrace plan`, `list_helpers` and what actually runs cannot disagree.

use std::{fmt, sync::Arc};

use serde::Serialize;

use crate::{
    check::{Checked, Host},
    diagnostic::{Diagnostic, Severity},
    host::features::Support,
    ir::NativeProgram,
    lang::ast::Span,
    lower::{self, NotNative},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Native,
    Bpftrace,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub backend: Backend,
    /// Why the program does not run natively; `None` when it does.
    pub fallback: Option<Fallback>,
    /// bpftrace's "Attaching N probes" number.
    pub attach_count: usize,
    /// The lowered program, when native.
    #[serde(skip)]
    pub native: Option<Lowered>,
}

impl Plan {
    /// Why this backend runs the program, as one sentence.
    pub fn backend_reason(&self) -> String {
        match &self.fallback {
            None => "every construct runs natively".to_string(),
            Some(why) => why.to_string(),
        }
    }
}

/// A lowered program, shared; plans compare equal by identity.
#[derive(Clone, Debug)]
pub struct Lowered(pub Arc<NativeProgram>);

impl PartialEq for Lowered {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}
impl Eq for Lowered {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fallback {
    /// A construct the native backend does not run yet.
    #[error("{construct} at {span}: {why}")]
    Unsupported { construct: String, span: Span, code: NotNative, why: String },
    /// The program lowers, but this kernel cannot run the native engine.
    #[error("this kernel cannot run the native engine: {why}")]
    Kernel { why: String },
}

/// Plans `checked`, whose text is `source` (for naming the construct), for
/// `host`'s kernel.
pub fn plan(checked: &Checked, source: &str, host: &dyn Host) -> Plan {
    let attach_count = checked.attach_count();
    let lowered = lower::lower(checked);
    if let (Ok(_), Support::No(why)) = (&lowered, host.native_engine()) {
        return Plan {
            backend: Backend::Bpftrace,
            fallback: Some(Fallback::Kernel { why }),
            attach_count,
            native: None,
        };
    }
    match lowered {
        Ok(program) => Plan {
            backend: Backend::Native,
            fallback: None,
            attach_count,
            native: Some(Lowered(Arc::new(program))),
        },
        Err(u) => Plan {
            backend: Backend::Bpftrace,
            fallback: Some(Fallback::Unsupported {
                construct: construct(source, u.span),
                span: u.span,
                code: u.kind,
                why: u.reason,
            }),
            attach_count,
            native: None,
        },
    }
}

/// The source text at `span`, first line only and shortened, in backticks.
fn construct(source: &str, span: Span) -> String {
    let start = (span.offset as usize).min(source.len());
    let end = (start + span.len as usize).min(source.len());
    let text = source.get(start..end).unwrap_or_default();
    let first = text.lines().next().unwrap_or_default().trim();
    let short: String = first.chars().take(60).collect();
    let ellipsis = if short.len() < first.len() || text.contains('\n') { "…" } else { "" };
    format!("`{short}{ellipsis}`")
}

impl Fallback {
    /// As a note on the program: it runs, through bpftrace, because of this.
    pub fn diagnostic(&self) -> Diagnostic {
        match self {
            Fallback::Unsupported { span, code, why, .. } => {
                Diagnostic::new(Severity::Note, code.code(), *span, why.clone())
            }
            Fallback::Kernel { .. } => {
                Diagnostic::new(Severity::Note, "kernel", Span::default(), self.to_string())
            }
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Native => "native",
            Backend::Bpftrace => "bpftrace",
        })
    }
}

#[cfg(test)]
mod tests;
