//! Who makes a call: a name for the audit log, a role that says whether it
//! may start and stop tracing, and a scope of its own. Over stdio the
//! caller is the operator's own process; over HTTP, the bearer token's
//! holder (see `http::tokens`).

use std::sync::Arc;

use rmcp::{RoleServer, service::RequestContext};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scope::Scope;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads and checks: every tool and resource but those that start or
    /// stop tracing.
    Observe,
    /// Also exec_program, stop_execution and tasks/cancel.
    Trace,
}

#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct Caller {
    /// As the audit log's `client`: `stdio`, `http` (a loopback server
    /// without tokens), or a token's name.
    pub name: String,
    pub role: Role,
    /// Confines this caller's executions, on top of the server's scope.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub scope: Option<Scope>,
}

impl Caller {
    /// A caller the operator vouches for by how it reaches the server.
    pub fn trusted(name: &str) -> Arc<Self> {
        Arc::new(Self { name: name.into(), role: Role::Trace, scope: None })
    }

    /// The caller of the request behind `context`: the one the HTTP layer
    /// found for it, else `default` (the transport's).
    pub fn of(context: &RequestContext<RoleServer>, default: &Arc<Self>) -> Arc<Self> {
        context
            .extensions
            .get::<hyper::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Arc<Self>>())
            .unwrap_or(default)
            .clone()
    }

    /// Ok if this caller may run `tool`, which starts or stops tracing;
    /// else what it would need.
    pub fn may_trace(&self, tool: &str) -> Result<(), String> {
        match self.role {
            Role::Trace => Ok(()),
            Role::Observe => Err(format!(
                "token `{}` has role observe, which reads and checks but does not start or stop \
                 tracing; {tool} needs role trace (role = \"trace\" for it in the server's \
                 tokens file)",
                self.name
            )),
        }
    }
}
