//! Parse errors, and the bpftrace-style rendering every front-end error
//! uses: `stdin:1:14-15: ERROR: ...`, the source line, and a caret under the
//! offending text.

use super::{
    ast::Span,
    lexical::{Reason, SyntaxError, token_at},
};
use crate::diagnostic::{Diagnostic, Severity};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("syntax error, unexpected {found}, expecting {expected}")]
    Unexpected { found: String, expected: &'static str },
    #[error("syntax error, unexpected {found}")]
    UnexpectedToken { found: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {kind}", self.span)]
pub struct ParseError {
    pub kind: ParseErrorKind,
    /// The offending token.
    pub span: Span,
}

impl ParseError {
    pub(super) fn new(source: &str, err: SyntaxError) -> Self {
        // Errors found before skipping blanks point at the next token instead.
        let start = err.offset.min(source.len());
        let blanks = source[start..].len() - source[start..].trim_start().len();
        let offset = start + blanks;
        let rest = &source[offset..];
        let token = token_at(rest);
        let found = if rest.is_empty() { token.to_string() } else { format!("`{token}`") };
        let kind = match err.reason {
            Reason::Expected(expected) => ParseErrorKind::Unexpected { found, expected },
            Reason::Unspecified => ParseErrorKind::UnexpectedToken { found },
            Reason::Invalid(message) => ParseErrorKind::Invalid(message),
        };
        let len = if rest.is_empty() { 1 } else { token.len() as u32 };
        let before = &source[..offset];
        let line = before.matches('\n').count() as u32 + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
        let span = Span { line, col, offset: offset as u32, len };
        Self { kind, span }
    }

    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic::new(Severity::Error, "syntax", self.span, self.kind.to_string())
    }

    /// The message as bpftrace prints it, for a program read from `origin`
    /// (`stdin` for `-e`, or a file name).
    pub fn render(&self, source: &str, origin: &str) -> String {
        self.diagnostic().render(source, origin)
    }
}

/// `origin:line:col-endcol: ERROR: message`, the source line, and `^~~~` under the span.
pub fn render(source: &str, origin: &str, span: Span, message: &str) -> String {
    let (start_col, width) = columns(source, span);
    format!(
        "{origin}:{}:{}-{}: ERROR: {message}\n{}",
        span.line,
        start_col,
        start_col + width,
        excerpt(source, span)
    )
}

/// The source line `span` starts on, and `^~~~` under the span.
pub fn excerpt(source: &str, span: Span) -> String {
    let line_text = source.lines().nth(span.line.saturating_sub(1) as usize).unwrap_or("");
    let (start_col, width) = columns(source, span);
    let indent: String =
        line_text.chars().take(start_col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
    format!("{line_text}\n{indent}^{}", "~".repeat(width - 1))
}

/// The first column of `span` (1-based) and how many columns of its line it covers.
fn columns(source: &str, span: Span) -> (usize, usize) {
    let line_text = source.lines().nth(span.line.saturating_sub(1) as usize).unwrap_or("");
    let start_col = span.col.max(1) as usize;
    let chars_in_line = line_text.chars().count();
    let width = source
        .get(span.offset as usize..(span.offset + span.len) as usize)
        .map_or(1, |t| t.chars().take_while(|c| *c != '\n').count())
        .clamp(1, (chars_in_line + 1).saturating_sub(start_col).max(1));
    (start_col, width)
}
