//! `find_programs`: the program library searched by keyword, each program
//! with its arguments, probe kinds, stated truth and how it runs here.

use rmcp::{
    handler::server::wrapper::{Json, Parameters},
    tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Server;
use crate::{
    check::SystemHost,
    library::{
        ArgKind, Argument, Program,
        availability::{self, Availability},
        search,
    },
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindProgramsParams {
    /// Words to look for, all of which must match (any case): e.g. `tcp
    /// connect`, `latency pid`, `malloc`. Absent or empty lists every program.
    pub query: Option<String>,
    /// Only programs attaching this probe kind: `tracepoint`, `uprobe`,
    /// `uretprobe`, `profile`, `software`, `interval`, `kprobe` (or an
    /// alias such as `t`); an unknown kind is an error.
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FoundPrograms {
    pub count: usize,
    /// Best matches first.
    pub programs: Vec<FoundProgram>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FoundProgram {
    /// Also its prompt's name: prompts/get renders it with arguments.
    pub name: String,
    pub title: String,
    pub description: String,
    pub keywords: Vec<String>,
    pub arguments: Vec<ArgumentInfo>,
    /// The probe kinds it attaches.
    pub probe_kinds: Vec<String>,
    /// The program, with `{argument}` where each argument goes.
    pub template: String,
    /// What it shows against a known workload; the test suite holds it to this.
    pub truth: String,
    /// How it runs on this host, planned with example arguments.
    pub here: Availability,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ArgumentInfo {
    pub name: String,
    pub description: String,
    /// What values it takes; anything else is refused before it reaches
    /// the program.
    pub kind: ArgKind,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

#[tool_router(router = library_router, vis = "pub(super)")]
impl Server {
    #[tool(
        description = "Search the library of vetted programs by keyword (e.g. `latency`, `tcp connect`, `page fault`) and optionally by probe kind. Each result has its name (also a prompt: prompts/get fills in the arguments after checking them), title, description, typed arguments, probe kinds, the program template, the truth it is tested against, and how it runs on this host: native, through bpftrace, or refused, with the reason.",
        annotations(
            title = "Find library programs",
            read_only_hint = true,
            open_world_hint = false
        )
    )]
    async fn find_programs(
        &self,
        Parameters(p): Parameters<FindProgramsParams>,
    ) -> Result<Json<FoundPrograms>, String> {
        let policy = self.executor.policy();
        let found = search::search(p.query.as_deref().unwrap_or(""), p.kind.as_deref())
            .map_err(|e| e.to_string())?;
        let programs: Vec<FoundProgram> = found
            .into_iter()
            .map(|program| {
                let here = availability::on(program, SystemHost::shared(), policy);
                FoundProgram::of(program, here)
            })
            .collect();
        Ok(Json(FoundPrograms { count: programs.len(), programs }))
    }
}

impl FoundProgram {
    /// What the catalog says of `p`, and how it runs here.
    fn of(p: &Program, here: Availability) -> Self {
        let strings = |words: &[&str]| words.iter().map(|w| w.to_string()).collect();
        Self {
            name: p.name.into(),
            title: p.title.into(),
            description: p.description.into(),
            keywords: strings(p.keywords),
            arguments: p.arguments.iter().map(ArgumentInfo::of).collect(),
            probe_kinds: p.probe_kinds().into_iter().map(|k| k.name().to_string()).collect(),
            template: p.template.into(),
            truth: p.truth.into(),
            here,
        }
    }
}

impl ArgumentInfo {
    fn of(a: &Argument) -> Self {
        Self {
            name: a.name.into(),
            description: a.description.into(),
            kind: a.kind,
            required: a.default.is_none(),
            default: a.default.map(String::from),
        }
    }
}
