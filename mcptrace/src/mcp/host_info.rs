//! `host_info`, and the same as the resource `mcptrace://host`: what this
//! host offers a program, before one is written.

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer,
    handler::server::wrapper::Json,
    model::{ReadResourceResult, Resource, ResourceContents},
    service::RequestContext,
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::Serialize;

use super::{Server, caller::Caller, http::HttpInfo};
use crate::exec::host_summary::HostSummary;

/// The host, and how this caller reaches it.
#[derive(Serialize, JsonSchema)]
pub(super) struct HostInfo {
    #[serde(flatten)]
    host: HostSummary,
    /// Who is asking: the name the audit log gives, the role (observe:
    /// no exec_program or stop_execution; trace: everything), and a scope
    /// of its own on top of the policy's.
    caller: Arc<Caller>,
    /// The HTTP transport's TLS, Origin check and per-token limits; absent
    /// on stdio.
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<Arc<HttpInfo>>,
}

pub(super) const URI: &str = "mcptrace://host";

#[tool_router(router = host_info_router, vis = "pub(super)")]
impl Server {
    #[tool(
        description = "What this host offers a bpftrace program: the kernel release and BTF; each probe kind, whether it attaches here (and why not) and whether mcptrace runs it natively; whether the native engine runs on this kernel; the bpftrace used for fallbacks and its version; privileges; whether unsafe functions are allowed; the limits (concurrent executions, time limit, output lines, program size); the operator's effective policy (probe kinds, user-probe binaries and functions, cat() paths, limits); whether an audit log records programs, and where; who is asking (`caller`: name, role — observe cannot run exec_program or stop_execution — and scope) and, over HTTP, the transport's TLS, allowed origins and per-token limits. Read it before writing a program.",
        annotations(title = "Describe this host", read_only_hint = true, open_world_hint = false)
    )]
    async fn host_info(&self, context: RequestContext<RoleServer>) -> Json<HostInfo> {
        Json(self.host_info_for(&context))
    }
}

impl Server {
    pub(super) fn host_resource() -> Resource {
        Resource::new(URI, "host")
            .with_description("What this host offers a bpftrace program (as the host_info tool)")
            .with_mime_type("application/json")
    }

    fn host_info_for(&self, context: &RequestContext<RoleServer>) -> HostInfo {
        HostInfo {
            host: self.executor.host_summary(),
            caller: self.caller(context),
            http: self.http.clone(),
        }
    }

    pub(super) fn read_host(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<ReadResourceResult, ErrorData> {
        let text = serde_json::to_string_pretty(&self.host_info_for(context))
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, URI)]))
    }
}
