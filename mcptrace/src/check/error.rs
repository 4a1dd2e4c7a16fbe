//! Semantic errors, each with the span it is about.

use super::constants::Unresolved;
use crate::{
    diagnostic::{Diagnostic, Severity},
    lang::{ast::Span, config::ConfigError, stack::StackArgError},
    policy::Denial,
};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckErrorKind {
    /// The suggestion is the diagnostic's hint.
    #[error("{kind} probes cannot attach on this host: {reason}")]
    Unsupported { kind: &'static str, reason: String, suggestion: Option<String> },
    #[error("{0}")]
    BadAttachPoint(String),
    #[error("no {kind} matches `{pattern}`")]
    NoMatch { kind: &'static str, pattern: String },
    #[error(
        "kernel function `{function}` does not exist here: it is not in /proc/kallsyms \
         (it may be inlined, or named otherwise in this kernel)"
    )]
    NoKernelFunction { function: String },
    #[error(
        "kernel function `{function}` cannot be probed: it is on the kernel's kprobe \
         blacklist (/sys/kernel/debug/kprobes/blacklist)"
    )]
    Blacklisted { function: String },
    #[error("cannot read what `{target}` needs: {reason}")]
    Host { target: String, reason: String },
    #[error("tracepoint {tracepoint} has no field `{field}`; its fields: {}", .available.join(", "))]
    UnknownField { tracepoint: String, field: String, available: Vec<String> },
    #[error("unknown identifier `{name}`{unresolved}")]
    UnknownIdentifier { name: String, unresolved: Box<Unresolved> },
    #[error("unknown function `{0}`")]
    UnknownFunction(String),
    /// A struct or union that `sizeof` names.
    #[error("unknown type `{0}`: the program defines none such and the kernel's BTF has none")]
    UnknownType(String),
    #[error("`{record}` has no member `{field}`")]
    UnknownMember { record: String, field: String },
    #[error("`{name}` is not valid in {kind} probes (valid in: {valid})")]
    NotValidHere { name: String, kind: &'static str, valid: String },
    #[error("{name}() takes {expected} argument(s), got {got}")]
    ArgumentCount { name: String, expected: String, got: usize },
    /// The remedy is the diagnostic's hint.
    #[error(transparent)]
    Policy(Denial),
    /// The probe as written, with its offset or address.
    #[error(
        "{0}: nothing checks that this falls on an instruction boundary, and a uprobe inside \
         an instruction corrupts the traced process; refused unless mcptrace was started \
         with --allow-unsafe (a bpftrace built without a disassembler refuses it outright)"
    )]
    UncheckedUprobe(String),
    #[error("String is too long (over 64 bytes): {0}")]
    StringTooLong(String),
    #[error("{0}() must be assigned to a map, as in `@m = {0}(...)`")]
    NotAssignedToMap(String),
    #[error("{name}() expects {what}")]
    BadArgument { name: String, what: &'static str },
    #[error("{name}(): {reason}")]
    BadStack { name: String, reason: StackArgError },
    #[error("{name}() format has {conversions} conversion(s) but {args} argument(s) follow")]
    FormatArgs { name: String, conversions: usize, args: usize },
    #[error("only maps and $variables can be incremented or decremented")]
    NotAssignable,
    #[error("@{name} is used with {got} key(s) here but {expected} elsewhere")]
    MapKeys { name: String, expected: usize, got: usize },
    /// `name` is the map or variable with its sigil: `@x`, `$y`.
    #[error("{name} holds {existing} values; it cannot also hold {new} values")]
    ValueKind { name: String, existing: String, new: String },
    #[error("@{name} holds a {function}() aggregation, which only {function}() can update")]
    AggregationUpdate { name: String, function: String },
    /// A literal given to a variable declared with an integer type too
    /// narrow for it, which bpftrace (0.22+, where `let` is) refuses.
    #[error("`{literal}` does not fit in {ty}; write `({ty}){literal}` to truncate it")]
    LiteralRange { literal: String, ty: String },
    #[error("{0}")]
    Unroll(&'static str),
    #[error(transparent)]
    Config(ConfigError),
    #[error("undefined variable ${0}")]
    UndefinedVariable(String),
    #[error("undefined map @{0}: it is read but never assigned")]
    UndefinedMap(String),
}

impl CheckErrorKind {
    /// The kind's stable name.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unsupported { .. } => "unsupported_probe_kind",
            Self::BadAttachPoint(_) => "bad_attach_point",
            Self::NoMatch { .. } => "no_match",
            Self::NoKernelFunction { .. } => "no_kernel_function",
            Self::Blacklisted { .. } => "blacklisted",
            Self::Host { .. } => "host",
            Self::UnknownField { .. } => "unknown_field",
            Self::UnknownIdentifier { .. } => "unknown_identifier",
            Self::UnknownFunction(_) => "unknown_function",
            Self::UnknownType(_) => "unknown_type",
            Self::UnknownMember { .. } => "unknown_member",
            Self::NotValidHere { .. } => "not_valid_here",
            Self::ArgumentCount { .. } => "argument_count",
            Self::Policy(denial) => denial.rule.code(),
            Self::UncheckedUprobe(_) => "unchecked_uprobe",
            Self::StringTooLong(_) => "string_too_long",
            Self::NotAssignedToMap(_) => "not_assigned_to_map",
            Self::BadArgument { .. } => "bad_argument",
            Self::BadStack { .. } => "bad_stack_argument",
            Self::FormatArgs { .. } => "format_arguments",
            Self::NotAssignable => "not_assignable",
            Self::MapKeys { .. } => "map_keys",
            Self::ValueKind { .. } => "value_kind",
            Self::AggregationUpdate { .. } => "aggregation_update",
            Self::LiteralRange { .. } => "literal_out_of_range",
            Self::Unroll(_) => "unroll_count",
            Self::Config(_) => "config",
            Self::UndefinedVariable(_) => "undefined_variable",
            Self::UndefinedMap(_) => "undefined_map",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{span}: {}", self.diagnostic().text())]
pub struct CheckError {
    pub kind: CheckErrorKind,
    pub span: Span,
}

impl CheckError {
    pub fn policy(denial: Denial, span: Span) -> Self {
        Self { kind: CheckErrorKind::Policy(denial), span }
    }

    pub fn diagnostic(&self) -> Diagnostic {
        let hint = match &self.kind {
            CheckErrorKind::Unsupported { suggestion: Some(s), .. } => {
                Some(format!("use `{s}` instead"))
            }
            CheckErrorKind::Policy(denial) => Some(denial.remedy.clone()),
            _ => None,
        };
        Diagnostic::new(Severity::Error, self.kind.code(), self.span, self.kind.to_string())
            .with_hint(hint)
    }
}

/// Every error a check found, in source order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct CheckErrors(pub Vec<CheckError>);

impl CheckErrors {
    /// bpftrace-style messages, one per error, for a program read from `origin`.
    pub fn render(&self, source: &str, origin: &str) -> String {
        self.0.iter().map(|e| e.diagnostic().render(source, origin)).collect::<Vec<_>>().join("\n")
    }
}
