//! What the front end knows about a program without running it: its errors
//! with positions, warnings, the backend that would run it and why, and the
//! probes it would attach. `mcptrace plan` and the MCP `validate_program`
//! tool both report this, so they cannot disagree.

mod warnings;

use schemars::JsonSchema;
use serde::Serialize;

pub use crate::diagnostic::Located;
use crate::{
    check::{Checked, Host},
    frontend,
    plan::{Backend, Plan},
    policy::Policy,
    scope::Scope,
};

/// What a program that passed the checks would do.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Report {
    pub backend: Backend,
    pub backend_reason: String,
    /// The concrete probes, after wildcard expansion.
    pub probes: Vec<String>,
    pub warnings: Vec<Located>,
}

impl Report {
    pub fn of(checked: &Checked, plan: &Plan, source: &str) -> Self {
        Self {
            backend: plan.backend,
            backend_reason: plan.backend_reason(),
            probes: checked.all_probes().map(ToString::to_string).collect(),
            warnings: warnings::of(checked).iter().map(|w| w.located(source)).collect(),
        }
    }
}

/// The answer to "would this program run, and how".
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Validation {
    pub valid: bool,
    /// Syntax and semantic errors, in source order; empty when valid.
    pub errors: Vec<Located>,
    pub warnings: Vec<Located>,
    /// The backend that would run it; absent when invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_reason: Option<String>,
    /// The probes it would attach, after wildcard expansion.
    pub probes: Vec<String>,
    pub probe_count: usize,
}

/// Parses, checks against `host` under `policy` and plans `source`, without
/// running it, confined to `client_scope` too as the client's runs would be.
pub fn validate(
    source: &str,
    host: &dyn Host,
    policy: &Policy,
    client_scope: Option<&Scope>,
) -> Validation {
    match frontend::prepare_confined(source, &[], host, policy, client_scope) {
        Ok((checked, plan)) => {
            let r = Report::of(&checked, &plan, source);
            Validation {
                valid: true,
                errors: Vec::new(),
                warnings: r.warnings,
                backend: Some(r.backend),
                backend_reason: Some(r.backend_reason),
                probe_count: r.probes.len(),
                probes: r.probes,
            }
        }
        Err(e) => Validation {
            valid: false,
            errors: e.diagnostics().iter().map(|d| d.located(source)).collect(),
            warnings: Vec::new(),
            backend: None,
            backend_reason: None,
            probes: Vec::new(),
            probe_count: 0,
        },
    }
}
