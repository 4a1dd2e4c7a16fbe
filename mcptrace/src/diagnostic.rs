//! One shape for everything the front end says about a place in a program:
//! parse and check errors, warnings, and why a program does not run
//! natively. Each pass keeps its own typed error; this is what they all
//! become at the edge, rendered bpftrace's way for a terminal or placed in
//! the source for a tool's JSON.

use schemars::JsonSchema;
use serde::Serialize;

use crate::lang::{
    ast::Span,
    error::{excerpt, render},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The program does not run.
    Error,
    /// It runs, but probably not as meant.
    Warning,
    /// It runs, and this says how (why bpftrace rather than natively).
    Note,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable name for the kind of finding (`unknown_identifier`,
    /// `no_match`, `loop`, ...): what a client matches on.
    pub code: &'static str,
    pub span: Span,
    pub message: String,
    /// What to do about it, where there is a known remedy.
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(severity: Severity, code: &'static str, span: Span, message: String) -> Self {
        Self { severity, code, span, message, hint: None }
    }

    pub fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    /// The message and its hint, as one sentence.
    pub fn text(&self) -> String {
        match &self.hint {
            Some(hint) => format!("{}; {hint}", self.message),
            None => self.message.clone(),
        }
    }

    /// bpftrace's rendering, for a program read from `origin` (`stdin` or
    /// a file name): `origin:line:col-col: ERROR: ...`, the line, a caret.
    pub fn render(&self, source: &str, origin: &str) -> String {
        let text = match self.severity {
            Severity::Error => self.text(),
            Severity::Warning => format!("WARNING: {}", self.text()),
            Severity::Note => format!("NOTE: {}", self.text()),
        };
        let rendered = render(source, origin, self.span, &text);
        // `render` says ERROR; other severities name themselves instead.
        match self.severity {
            Severity::Error => rendered,
            _ => rendered.replacen("ERROR: ", "", 1),
        }
    }

    /// Placed in `source`, for a tool's result.
    pub fn located(&self, source: &str) -> Located {
        Located {
            severity: self.severity,
            code: self.code,
            message: self.text(),
            hint: self.hint.clone(),
            line: self.span.line,
            column: self.span.col,
            excerpt: excerpt(source, self.span),
        }
    }
}

/// A diagnostic at its place in the program, as tools report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Located {
    pub severity: Severity,
    pub code: &'static str,
    /// The finding, with its hint.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// 1-based.
    pub line: u32,
    /// 1-based, in characters.
    pub column: u32,
    /// The source line and a caret under the offending text.
    pub excerpt: String,
}
