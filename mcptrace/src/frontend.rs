//! The front end as one step: parse → check → plan, for the CLI, the MCP
//! server and the executors.

use crate::{
    check::{self, CheckErrors, Checked, Host},
    diagnostic::{Diagnostic, Severity},
    lang::{
        self, ParseError,
        ast::Span,
        dialect::{self, Beyond017},
    },
    plan::{self, Fallback, Plan},
    policy::{Denial, Policy},
    scope::Scope,
};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrontendError {
    /// Over the policy's size limit, which keeps parsing and keeping a
    /// program cheap.
    #[error("{}; {}", .0, .0.remedy)]
    TooLarge(Denial),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Check(#[from] CheckErrors),
    /// Neither backend runs the program: bpftrace 0.17 lacks a construct,
    /// and the native backend cannot take another (or the same).
    #[error("{beyond}, and the native backend cannot run the program: {fallback}")]
    NoBackend { beyond: Beyond017, fallback: Fallback },
}

impl FrontendError {
    /// bpftrace-style messages for a program read from `origin` (`stdin` or a file name).
    pub fn render(&self, source: &str, origin: &str) -> String {
        match self {
            Self::TooLarge(_) | Self::NoBackend { .. } => format!("{origin}: ERROR: {self}\n"),
            Self::Parse(e) => e.render(source, origin),
            Self::Check(e) => e.render(source, origin),
        }
    }

    /// Each error, in source order.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::TooLarge(denial) => {
                let message = denial.to_string();
                let code = denial.rule.code();
                vec![
                    Diagnostic::new(Severity::Error, code, Span::default(), message)
                        .with_hint(Some(denial.remedy.clone())),
                ]
            }
            Self::NoBackend { beyond, .. } => vec![Diagnostic::new(
                Severity::Error,
                "needs_newer_bpftrace",
                beyond.span,
                self.to_string(),
            )],
            Self::Parse(e) => vec![e.diagnostic()],
            Self::Check(e) => e.0.iter().map(|e| e.diagnostic()).collect(),
        }
    }
}

/// Parses, checks against `host` under the default (safe) policy, and plans `source`.
pub fn prepare(source: &str, host: &dyn Host) -> Result<(Checked, Plan), FrontendError> {
    prepare_with(source, &[], host, &Policy::default())
}

/// As [`prepare`], with positional parameters (`$1`, `$#`) filled in from
/// `params`, as `bpftrace PROGRAM ARGS...` does, under `policy`.
pub fn prepare_with(
    source: &str,
    params: &[String],
    host: &dyn Host,
    policy: &Policy,
) -> Result<(Checked, Plan), FrontendError> {
    prepare_confined(source, params, host, policy, None)
}

/// As [`prepare_with`], confined to `client_scope` (an HTTP token's) as
/// well as to the policy's scope: both tests are joined.
pub fn prepare_confined(
    source: &str,
    params: &[String],
    host: &dyn Host,
    policy: &Policy,
    client_scope: Option<&Scope>,
) -> Result<(Checked, Plan), FrontendError> {
    policy.program_size(source.len()).map_err(FrontendError::TooLarge)?;
    let program = lang::dialect::with_parameters(&lang::parse(source)?, params);
    let program = policy.scope.iter().chain(client_scope).fold(program, |p, s| s.confine(p));
    let checked = check::check(program, host, policy)?;
    let plan = plan::plan(&checked, source, host);
    // A program bpftrace 0.17 cannot read is refused here, before anything
    // runs, unless it runs natively.
    if let (Some(fallback), Some(beyond)) = (&plan.fallback, dialect::beyond_017(&checked.program))
    {
        return Err(FrontendError::NoBackend { beyond, fallback: fallback.clone() });
    }
    Ok((checked, plan))
}
