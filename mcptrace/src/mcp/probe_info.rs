//! `probe_info`: what one probe offers a program.

use rmcp::{
    handler::server::wrapper::{Json, Parameters},
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::Deserialize;

use super::Server;
use crate::{
    check::SystemHost,
    probes::info::{self, ProbeInfo},
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeInfoParams {
    /// `tracepoint:CATEGORY:NAME`, `uprobe:BINARY[:PATTERN]`, or
    /// `kprobe:FUNCTION` / `kfunc:FUNCTION`.
    pub probe: String,
}

#[tool_router(router = probe_info_router, vis = "pub(super)")]
impl Server {
    #[tool(
        description = "Describe one probe. `tracepoint:CATEGORY:NAME`: its fields with C type, size, offset and signedness (read them as `args.NAME`). `uprobe:BINARY[:PATTERN]`: the binary's function symbols matching the glob, and its USDT probes. `kprobe:NAME` or `kfunc:NAME`: whether the kernel function exists, whether kprobes and fentry attach on this host (and why not), and tracepoints to use instead.",
        annotations(title = "Describe a probe", read_only_hint = true, open_world_hint = false)
    )]
    async fn probe_info(
        &self,
        Parameters(p): Parameters<ProbeInfoParams>,
    ) -> Result<Json<ProbeInfo>, String> {
        info::describe(SystemHost::shared(), &p.probe).map(Json).map_err(|e| e.to_string())
    }
}
