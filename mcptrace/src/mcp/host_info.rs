//! `host_info`, and the same as the resource `mcptrace://host`: what this
//! host offers a program, before one is written.

use rmcp::{
    ErrorData,
    handler::server::wrapper::Json,
    model::{ReadResourceResult, Resource, ResourceContents},
    tool, tool_router,
};

use super::Server;
use crate::exec::host_summary::HostSummary;

pub(super) const URI: &str = "mcptrace://host";

#[tool_router(router = host_info_router, vis = "pub(super)")]
impl Server {
    #[tool(
        description = "What this host offers a bpftrace program: the kernel release and BTF; each probe kind, whether it attaches here (and why not) and whether mcptrace runs it natively; whether the native engine runs on this kernel; the bpftrace used for fallbacks and its version; privileges; whether unsafe functions are allowed; the limits (concurrent executions, time limit, output lines, program size); the operator's effective policy (probe kinds, user-probe binaries and functions, cat() paths, limits); whether an audit log records programs, and where. Read it before writing a program.",
        annotations(title = "Describe this host", read_only_hint = true, open_world_hint = false)
    )]
    async fn host_info(&self) -> Json<HostSummary> {
        Json(self.executor.host_summary())
    }
}

impl Server {
    pub(super) fn host_resource() -> Resource {
        Resource::new(URI, "host")
            .with_description("What this host offers a bpftrace program (as the host_info tool)")
            .with_mime_type("application/json")
    }

    pub(super) fn read_host(&self) -> Result<ReadResourceResult, ErrorData> {
        let text = serde_json::to_string_pretty(&self.executor.host_summary())
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, URI)]))
    }
}
