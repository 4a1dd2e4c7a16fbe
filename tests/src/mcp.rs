//! A real MCP client over stdio for the server tests: spawns `mcptrace
//! serve`, calls its tools, and records the progress and resource-updated
//! notifications it sends.

use std::{
    collections::BTreeSet,
    process::Command,
    sync::{Arc, Mutex},
};

use rmcp::{
    ClientHandler, RoleClient,
    model::{
        CallToolRequestParams, CallToolResponse, CancelTaskParams, ClientConfig, GetTaskParams,
        JsonObject, ProgressNotificationParam, ProtocolVersion, ResourceUpdatedNotificationParam,
        SubscribeRequestParams, TASKS_EXTENSION_ID, UnsubscribeRequestParams,
    },
    service::{ClientLifecycleMode, ClientServiceExt, NotificationContext, RunningService},
    transport::TokioChildProcess,
};
use serde_json::{Value, json};

use crate::target_bin;

pub struct Client {
    pub service: RunningService<RoleClient, Recorder>,
    pub server_pid: u32,
}

/// The client side's handler: keeps every progress notification received,
/// and the URI of every resource-updated one.
#[derive(Clone, Default)]
pub struct Recorder {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    updated: Arc<Mutex<Vec<String>>>,
    /// The revision asked for in `initialize`, when not the SDK's own.
    version: Option<ProtocolVersion>,
    /// Whether it declares the tasks extension.
    tasks: bool,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.updated.lock().unwrap().push(params.uri);
    }

    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        if self.tasks {
            let extensions = info.capabilities.extensions.get_or_insert_default();
            extensions.insert(TASKS_EXTENSION_ID.into(), JsonObject::new());
        }
        match &self.version {
            Some(v) => info.with_protocol_version(v.clone()),
            None => info,
        }
    }
}

impl Client {
    pub async fn start() -> Client {
        Self::start_with(&[], None).await
    }

    /// `mcptrace serve ARGS`, optionally as another user (through setpriv,
    /// with no capabilities).
    pub async fn start_with(args: &[&str], user: Option<u32>) -> Client {
        Self::start_env(args, user, &[]).await
    }

    /// `mcptrace serve` for a client that speaks protocol revision
    /// `version`: through `initialize` up to 2025-11-25, through
    /// `server/discover` and per-request metadata from 2026-07-28 on.
    pub async fn start_speaking(version: ProtocolVersion) -> Client {
        Self::speaking(version, false, &[]).await
    }

    /// As [`Client::start_speaking`], with `mcptrace serve ARGS`.
    pub async fn start_speaking_with(version: ProtocolVersion, args: &[&str]) -> Client {
        Self::speaking(version, false, args).await
    }

    /// As [`Client::start_speaking`], for a client that declares the tasks
    /// extension (`io.modelcontextprotocol/tasks`) in its capabilities.
    pub async fn start_with_tasks(version: ProtocolVersion) -> Client {
        Self::speaking(version, true, &[]).await
    }

    async fn speaking(version: ProtocolVersion, tasks: bool, args: &[&str]) -> Client {
        let lifecycle = if version.has_initialize() {
            ClientLifecycleMode::Initialize
        } else {
            ClientLifecycleMode::Discover { preferred_versions: vec![version.clone()] }
        };
        let recorder = Recorder { version: Some(version), tasks, ..Recorder::default() };
        Self::connect(serve_command(args, None, &[]), recorder, lifecycle).await
    }

    /// As [`Client::start_with`], with `env` added to the server's environment.
    pub async fn start_env(args: &[&str], user: Option<u32>, env: &[(&str, &str)]) -> Client {
        let cmd = serve_command(args, user, env);
        Self::connect(cmd, Recorder::default(), ClientLifecycleMode::Initialize).await
    }

    async fn connect(
        cmd: tokio::process::Command,
        recorder: Recorder,
        lifecycle: ClientLifecycleMode,
    ) -> Client {
        let transport = TokioChildProcess::new(cmd).expect("spawn mcptrace serve");
        let server_pid = transport.id().expect("server pid");
        let service =
            recorder.serve_with_lifecycle(transport, lifecycle).await.expect("MCP handshake");
        Client { service, server_pid }
    }

    pub async fn tool_names(&self) -> Vec<String> {
        self.tools().await.iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
    }

    /// tools/list, each tool as the JSON the server sent.
    pub async fn tools(&self) -> Vec<Value> {
        let tools = self.service.list_all_tools().await.expect("tools/list");
        tools.iter().map(|t| serde_json::to_value(t).unwrap()).collect()
    }

    /// Calls `name` and returns the whole tool result as JSON (`isError`,
    /// `structuredContent`, `content`), or the MCP error.
    pub async fn call_result(&self, name: &'static str, args: Value) -> Result<Value, String> {
        let Value::Object(args) = args else { panic!("arguments must be an object") };
        let result = self
            .service
            .call_tool(CallToolRequestParams::new(name).with_arguments(args))
            .await
            .map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(result).unwrap())
    }

    /// Calls `name` and returns its structured content, or the error: an MCP
    /// error, or the message of a tool result marked as one.
    pub async fn call(&self, name: &'static str, args: Value) -> Result<Value, String> {
        let result = self.call_result(name, args).await?;
        if result["isError"] == true {
            return Err(match result["structuredContent"]["message"].as_str() {
                Some(message) => message.to_string(),
                None => result["content"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["text"].as_str())
                    .collect::<Vec<_>>()
                    .join("\n"),
            });
        }
        Ok(result["structuredContent"].clone())
    }

    /// exec_program, expecting success; returns the execution id.
    pub async fn exec(&self, program: &str, timeout: f64) -> String {
        self.exec_on("auto", program, timeout).await
    }

    /// exec_program on `backend` (auto, native or bpftrace), expecting
    /// success there; returns the execution id.
    pub async fn exec_on(&self, backend: &str, program: &str, timeout: f64) -> String {
        let args = json!({"program": program, "timeout": timeout, "backend": backend});
        let r = self.call("exec_program", args).await.unwrap();
        assert_eq!(r["status"], "success", "{r}");
        if backend != "auto" {
            assert_eq!(r["backend"], backend, "{r}");
        }
        r["execution_id"].as_str().unwrap().to_string()
    }

    /// One tools/call as sent, without the SDK driving what follows: the
    /// plain result or a task handle, as JSON (`resultType` tells which).
    pub async fn call_once(&self, name: &'static str, args: Value) -> Value {
        let Value::Object(args) = args else { panic!("arguments must be an object") };
        let params = CallToolRequestParams::new(name).with_arguments(args);
        match self.service.call_tool_once(params).await.expect("tools/call") {
            CallToolResponse::Complete(r) => serde_json::to_value(r).unwrap(),
            CallToolResponse::Task(t) => serde_json::to_value(t).unwrap(),
            other => panic!("neither a result nor a task: {other:?}"),
        }
    }

    /// tasks/get, the answer as JSON, or the MCP error.
    pub async fn get_task(&self, id: &str) -> Result<Value, String> {
        let r = self.service.get_task(GetTaskParams::new(id)).await.map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(r).unwrap())
    }

    /// tasks/cancel, or the MCP error.
    pub async fn cancel_task(&self, id: &str) -> Result<(), String> {
        self.service.cancel_task(CancelTaskParams::new(id)).await.map_err(|e| e.to_string())
    }

    /// get_result, polled until the execution is no longer running.
    pub async fn finished(&self, id: &str) -> Value {
        for _ in 0..400 {
            let r = self
                .call("get_result", json!({"execution_id": id, "limit": 100000}))
                .await
                .unwrap();
            if r["status"] != "running" {
                return r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("execution {id} still running after 20 s");
    }

    /// Progress notifications received so far, in arrival order.
    pub fn progress(&self) -> Vec<ProgressNotificationParam> {
        self.service.service().progress.lock().unwrap().clone()
    }

    /// URIs of the resource-updated notifications received so far, in
    /// arrival order.
    pub fn updated(&self) -> Vec<String> {
        self.service.service().updated.lock().unwrap().clone()
    }

    /// resources/subscribe, as clients before 2026-07-28 subscribe (rmcp
    /// marks it deprecated for the revision after).
    #[allow(deprecated)]
    pub async fn subscribe(&self, uri: &str) -> Result<(), String> {
        self.service.subscribe(SubscribeRequestParams::new(uri)).await.map_err(|e| e.to_string())
    }

    /// resources/unsubscribe (see [`Client::subscribe`]).
    #[allow(deprecated)]
    pub async fn unsubscribe(&self, uri: &str) -> Result<(), String> {
        let request = UnsubscribeRequestParams::new(uri);
        self.service.unsubscribe(request).await.map_err(|e| e.to_string())
    }

    pub async fn close(self) {
        let _ = self.service.cancel().await;
    }
}

/// `mcptrace serve ARGS` with `env`, optionally as another user (through
/// setpriv, with no capabilities).
fn serve_command(
    args: &[&str],
    user: Option<u32>,
    env: &[(&str, &str)],
) -> tokio::process::Command {
    let bin = target_bin("mcptrace");
    let mut cmd = match user {
        None => tokio::process::Command::new(&bin),
        Some(uid) => {
            let mut c = tokio::process::Command::new("setpriv");
            c.args([format!("--reuid={uid}"), format!("--regid={uid}"), "--clear-groups".into()])
                .args(["--inh-caps=-all", "--bounding-set=-all"])
                .arg(&bin);
            c
        }
    };
    cmd.arg("serve").args(args).envs(env.iter().copied());
    cmd
}

/// Lines of a result's output.
pub fn lines(result: &Value) -> Vec<String> {
    result["output"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect()
}

/// BPF programs held by process `pid`: its file descriptors that are BPF
/// programs (Debian's bpftool shows no owning pids). A server holds those
/// of the session it keeps loaded ahead, attached nowhere.
pub fn bpf_programs_of(pid: u32) -> usize {
    descriptors_of(pid, |target| target == "anon_inode:bpf-prog")
}

/// BPF maps held by process `pid`.
pub fn bpf_maps_of(pid: u32) -> usize {
    descriptors_of(pid, |target| target == "anon_inode:bpf-map")
}

/// Attachments held by process `pid`: BPF links and perf events (what
/// attaches a program to a tracepoint, probe or CPU, by kernel version).
pub fn attachments_of(pid: u32) -> usize {
    descriptors_of(pid, |target| {
        target == "anon_inode:bpf_link" || target == "anon_inode:[perf_event]"
    })
}

fn descriptors_of(pid: u32, which: impl Fn(&str) -> bool) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter(|t| which(&t.to_string_lossy()))
                .count()
        })
        .unwrap_or(0)
}

/// Ids of every BPF program loaded on the host.
pub fn host_programs() -> BTreeSet<u64> {
    let out = Command::new("bpftool").args(["-j", "prog", "show"]).output().expect("bpftool");
    let list: Value = serde_json::from_slice(&out.stdout).expect("bpftool -j prog show");
    list.as_array().unwrap().iter().filter_map(|p| p["id"].as_u64()).collect()
}

/// Waits up to five seconds until server `pid` holds no attachment and no
/// child: teardown follows an execution's result.
pub async fn settle(pid: u32) {
    for _ in 0..100 {
        if attachments_of(pid) == 0 && children_of(pid).is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Children of process `pid` still alive, whichever of its threads
/// started them (each thread lists its own).
pub fn children_of(pid: u32) -> Vec<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten();
    tasks
        .filter_map(Result::ok)
        .flat_map(|task| {
            std::fs::read_to_string(task.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}
