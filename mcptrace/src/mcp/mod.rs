//! The MCP server: a thin layer that maps tools onto the executor, the probe
//! listing and the catalog. No tracing logic lives here.

mod cache;
pub mod caller;
mod compact;
mod completions;
mod host_info;
pub mod http;
mod library;
mod links;
mod probe_info;
mod progress;
mod prompts;
mod resources;
mod subscriptions;
mod tasks;
mod types;
mod validate;

use std::{sync::Arc, time::Duration};

use rmcp::{
    ErrorData, RoleServer, ServerHandler, ServiceExt,
    handler::server::{
        router::tool::ToolRouter,
        wrapper::{Json, Parameters},
    },
    model::{
        CancelTaskParams, CompleteRequestParams, CompleteResult, GetPromptRequestParams,
        GetPromptResponse, GetTaskParams, GetTaskResult, Implementation, ListPromptsResult,
        ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
        ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities, ServerConfig,
        SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams, UpdateTaskParams,
    },
    service::{RequestContext, SubscriptionContext},
    tool, tool_handler, tool_router,
};

use self::{
    cache::Cacheable, caller::Caller, compact::Page, http::HttpInfo, links::Linked,
    subscriptions::Subscriptions, tasks::OrTask, types::*,
};
use crate::{
    check::SystemHost,
    exec::{ExecError, Executor},
    lang::catalog,
    lower, probes,
};

/// Probes one list_probes page holds at most.
const MAX_PAGE: usize = 5000;

#[derive(Clone)]
pub struct Server {
    executor: Arc<Executor>,
    /// Who makes the calls when the request names no one: `stdio`, or on
    /// HTTP without tokens, `http`. The HTTP gate names a token's holder.
    caller: Arc<Caller>,
    /// The HTTP transport's settings, for host_info; none on stdio.
    http: Option<Arc<HttpInfo>>,
    /// Built once; the handler routes calls through it.
    tool_router: ToolRouter<Self>,
    /// This session's resources/subscribe subscriptions; they end with it.
    subscriptions: Arc<Subscriptions>,
}

#[tool_router]
impl Server {
    pub fn new(executor: Arc<Executor>, caller: Arc<Caller>) -> Self {
        Self {
            tool_router: finish_tools(
                Self::tool_router()
                    + Self::validate_router()
                    + Self::probe_info_router()
                    + Self::host_info_router()
                    + Self::library_router(),
                executor.policy().allow_unsafe,
            ),
            executor,
            caller,
            http: None,
            subscriptions: Arc::default(),
        }
    }

    pub fn over_http(self, info: Arc<HttpInfo>) -> Self {
        Self { http: Some(info), ..self }
    }

    #[tool(
        description = "List probes that can be traced here, read from tracefs, /proc/kallsyms and ELF symbols. `filter` is a bpftrace-style glob (e.g. `syscalls:*open*`, `tracepoint:sched:*`, `uprobe:/bin/bash:read*`); pages with `offset`/`limit` (default 1000); `verbose` adds each tracepoint's arguments under `details`.",
        annotations(title = "List probes", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_probes(
        &self,
        Parameters(p): Parameters<ListProbesParams>,
    ) -> Result<Json<probes::ProbePage>, String> {
        let limit = p.limit.map_or(1000, |l| (l as usize).min(MAX_PAGE));
        let offset = p.offset.unwrap_or(0) as usize;
        probes::list(
            SystemHost::shared(),
            p.filter.as_deref(),
            offset,
            limit,
            p.verbose.unwrap_or(false),
        )
        .map(Json)
        .map_err(|e| e.to_string())
    }

    #[tool(
        description = "Every bpftrace builtin variable, function and map function, with its signature, a one-line description, the kind of value it gives, where it is valid, and whether mcptrace runs it natively.",
        annotations(title = "List helpers", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_helpers(&self) -> Json<HelpersResponse> {
        Json(HelpersResponse {
            helpers: catalog::CATALOG
                .iter()
                .map(|e| Helper {
                    name: e.name.to_string(),
                    kind: snake_case(e.kind),
                    signature: e.signature.to_string(),
                    description: e.description.to_string(),
                    value: snake_case(e.value),
                    valid_in: serde_json::to_value(e.valid_in).unwrap_or_default(),
                    is_unsafe: e.is_unsafe,
                    native: lower::is_native(e.name),
                })
                .collect(),
        })
    }

    #[tool(
        description = "Start a bpftrace program. Returns once its probes are attached, with an execution id for get_result; or an error at once (syntax/semantic errors with line and column, unknown probes, what the operator's policy denies and its rule, missing privileges, too many executions). `timeout` is in seconds (default 10, 1 to 60 unless the policy says otherwise: see host_info's limits); `backend` is auto (default), native (an error says why a program cannot run natively) or bpftrace; at the time limit the program stops gracefully: END runs and maps are printed. With a progress token in `_meta`, progress notifications follow about every second until it ends (elapsed seconds; lines buffered and events lost). Its output is also the resource mcptrace://executions/<id> (linked from the result), which can be subscribed to: updates follow as it grows and when it ends. A client that declares the tasks extension gets a task instead, whose id is the execution id: tasks/get reports lines buffered and events lost, then the final get_result page; tasks/cancel is stop_execution.",
        output_schema = rmcp::handler::server::tool::schema_for_output::<ExecResponse>(),
        annotations(
            title = "Run a bpftrace program",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn exec_program(
        &self,
        Parameters(p): Parameters<ExecParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<OrTask<Linked<Json<ExecResponse>>>, Json<ExecResponse>> {
        let caller = self.caller(&context);
        let refused = |message: String| {
            Json(ExecResponse {
                status: "error".into(),
                execution_id: None,
                message,
                backend: None,
                backend_reason: None,
            })
        };
        if let Err(why) = caller.may_trace("exec_program") {
            let refusal =
                self.executor.refuse(&p.program, &caller.name, ExecError::NotAllowed(why));
            return Err(refused(refusal.to_string()));
        }
        let choice = p.backend.unwrap_or_default();
        let started =
            self.executor.start(&p.program, p.timeout, choice, &caller.name, caller.scope.as_ref());
        match started.await {
            Ok(e) => {
                if let Some(token) = context.meta.get_progress_token() {
                    progress::spawn(e.clone(), context.peer.clone(), token);
                }
                if tasks::wanted(&context) {
                    return Ok(OrTask::task(&e));
                }
                let response = Json(ExecResponse {
                    status: "success".into(),
                    execution_id: Some(e.id.clone()),
                    message: format!(
                        "attached; running with the {} backend for at most {} s",
                        e.backend(),
                        e.timeout.as_secs_f64()
                    ),
                    backend: Some(e.backend()),
                    backend_reason: Some(e.backend_reason().to_string()),
                });
                Ok(OrTask::Now(Linked::new(response, &e, &context)))
            }
            // A tool error (`isError`), with the design's fields inside.
            Err(err) => Err(refused(err.to_string())),
        }
    }

    #[tool(
        description = "Output of an execution, paged: `offset` (default 0) and `limit` (default 1000) lines. Says whether it is running, completed or failed, which backend ran and why, why it ended, lost events, and whether output was truncated at the line cap (10,000 unless the policy says otherwise).",
        annotations(
            title = "Read an execution's output",
            read_only_hint = true,
            open_world_hint = false
        ),
        output_schema = rmcp::handler::server::tool::schema_for_output::<ResultResponse>()
    )]
    async fn get_result(
        &self,
        Parameters(p): Parameters<ResultParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Linked<Page>, String> {
        let e = self.find(&p.execution_id)?;
        let limit = match p.limit {
            None => 1000,
            Some(0) => return Err("limit must be at least 1".into()),
            Some(l) => l.min(e.max_lines as u64) as usize,
        };
        let offset = p.offset.unwrap_or(0);
        let total = e.state().lines.len() as u64;
        if offset > total {
            return Err(format!(
                "offset {offset} is past the end of the output ({total} lines so far)"
            ));
        }
        let page = Page::new(ResultResponse::page(&e, offset as usize, limit), &context);
        Ok(Linked::new(page, &e, &context))
    }

    #[tool(
        description = "Stop a running execution gracefully: END runs and maps are printed. Returns its result so far.",
        annotations(
            title = "Stop an execution",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn stop_execution(
        &self,
        Parameters(p): Parameters<IdParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<Page, String> {
        let caller = self.caller(&context);
        caller.may_trace("stop_execution")?;
        let id = &p.execution_id;
        let e = self.executor.stop(id, &caller.name).ok_or_else(|| unknown(id))?;
        // Wait briefly for END and the maps, so the answer holds them.
        for _ in 0..200 {
            if !e.is_running() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Ok(Page::new(ResultResponse::page(&e, 0, 1000), &context))
    }

    #[tool(
        description = "Executions the server knows: running ones and recently finished ones.",
        annotations(title = "List executions", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_executions(&self) -> Json<ExecutionsResponse> {
        Json(ExecutionsResponse {
            executions: self.executor.list().iter().map(|e| Summary::of(e)).collect(),
        })
    }
}

impl Server {
    /// Who makes the request behind `context`.
    fn caller(&self, context: &RequestContext<RoleServer>) -> Arc<Caller> {
        Caller::of(context, &self.caller)
    }

    fn find(&self, id: &str) -> Result<Arc<crate::exec::Execution>, String> {
        self.executor.get(id).ok_or_else(|| unknown(id))
    }
}

fn unknown(id: &str) -> String {
    format!("unknown execution id `{id}` (finished executions are kept for 30 minutes)")
}

/// A task id that names no execution: invalid params, as the tasks
/// extension asks.
fn unknown_task(id: &str) -> ErrorData {
    ErrorData::invalid_params(unknown(id), None)
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_resources_subscribe()
                .enable_prompts()
                .enable_completions()
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new("mcptrace", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Trace this Linux host with bpftrace programs. Use host_info to see what this \
                 host offers, list_probes to find probes \
                 and probe_info to see what one offers, validate_program to check a program \
                 without running it, exec_program to start it (it returns once attached), and \
                 get_result to read its output; executions are also resources, which can be \
                 subscribed to. find_programs searches a library of vetted programs (also \
                 served as prompts) by keyword. Common programs run natively; others through \
                 bpftrace.",
        )
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        let e =
            self.executor.get(&request.task_id).ok_or_else(|| unknown_task(&request.task_id))?;
        tasks::detailed(&e, &context).map(GetTaskResult::new)
    }

    /// Graceful, like stop_execution: END runs and maps are printed; the
    /// task reads cancelled once they have been.
    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = self.caller(&context);
        caller.may_trace("tasks/cancel").map_err(|m| ErrorData::invalid_request(m, None))?;
        let id = &request.task_id;
        self.executor.stop(id, &caller.name).map(drop).ok_or_else(|| unknown_task(id))
    }

    /// No task asks the client for input, so there is never a response to
    /// take: the extension has unknown keys ignored.
    async fn update_task(
        &self,
        request: UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let id = &request.task_id;
        self.executor.get(id).map(drop).ok_or_else(|| unknown_task(id))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let mut listed = self.execution_resources();
        listed.resources.insert(0, Self::host_resource());
        Ok(listed)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        match request.uri.as_str() {
            host_info::URI => self.read_host(&context),
            uri => self.read_execution(uri),
        }
        .map(Into::into)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(resources::templates().fixed_for(&context))
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.subscribe_to(request.uri, context.peer)
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.unsubscribe_from(&request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(self.listenable(requested))
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        self.listen_to(context).await;
        Ok(())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        self.complete_argument(&request)
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Ok(prompts::list().fixed_for(&context))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tool_router.list_all()).fixed_for(&context))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        prompts::get(&request, self.executor.policy()).map(Into::into)
    }
}

/// Serves MCP on stdin/stdout until the client goes away or a SIGTERM/SIGINT
/// arrives; running executions are then stopped.
pub async fn serve(executor: Arc<Executor>) -> Result<(), Box<dyn std::error::Error>> {
    let service = Server::new(executor.clone(), Caller::trusted("stdio"))
        .serve(rmcp::transport::stdio())
        .await?;
    tokio::select! {
        r = service.waiting() => { r?; }
        _ = stop_signal() => {}
    }
    shutdown(&executor).await;
    Ok(())
}

/// Resolves at the first SIGTERM or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Stops every execution and gives them a moment to run END and release
/// their probes.
async fn shutdown(executor: &Executor) {
    executor.stop_all();
    for _ in 0..100 {
        if executor.list().iter().all(|e| !e.is_running()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A unit enum's serde name (`builtin_variable`, `integer`).
fn snake_case(value: impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default()
}

/// Each tool's title is its annotations' title; with `--allow-unsafe`, a
/// program may change the host (`system`, `signal`, `override`), so
/// exec_program says so to clients that decide approval from annotations.
fn finish_tools(mut router: ToolRouter<Server>, allow_unsafe: bool) -> ToolRouter<Server> {
    for (name, route) in router.map.iter_mut() {
        let Some(annotations) = route.attr.annotations.as_mut() else { continue };
        if allow_unsafe && name == "exec_program" {
            annotations.destructive_hint = Some(true);
        }
        route.attr.title = annotations.title.clone();
    }
    router
}
