//! `validate_program`: the front end's verdict on a program, without running it.

use rmcp::{
    RoleServer,
    handler::server::wrapper::{Json, Parameters},
    service::RequestContext,
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::Deserialize;

use super::Server;
use crate::{
    check::SystemHost,
    validate::{self, Validation},
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateParams {
    /// The bpftrace program.
    pub program: String,
}

#[tool_router(router = validate_router, vis = "pub(super)")]
impl Server {
    #[tool(
        description = "Check a bpftrace program without running it: parse, check against this kernel, and plan. Returns `valid`, errors with line, column and a caret excerpt, warnings (such as an unfiltered high-rate probe that prints on every event), the backend that would run it (native or bpftrace) and why, and the probes it would attach after wildcard expansion with their count.",
        annotations(title = "Check a program", read_only_hint = true, open_world_hint = false)
    )]
    async fn validate_program(
        &self,
        Parameters(p): Parameters<ValidateParams>,
        context: RequestContext<RoleServer>,
    ) -> Json<Validation> {
        let scope = self.caller(&context).scope.clone();
        let policy = self.executor.policy();
        Json(validate::validate(&p.program, SystemHost::shared(), policy, scope.as_ref()))
    }
}
