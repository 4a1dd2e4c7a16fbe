//! A bare MCP client: JSON-RPC lines over `mcptrace serve`'s stdio, the way
//! any MCP client talks to it (initialize, initialized, tools/call).

use std::{
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc::{self, Receiver},
    thread,
    time::{Duration, Instant},
};

use super::{
    json::{self, Value, quote},
    measure::PATIENCE,
};

/// How often get_result is asked while the execution runs.
const POLL: Duration = Duration::from_millis(2);

pub struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    next_id: u64,
}

impl Server {
    /// Starts the server and completes the handshake.
    pub fn start(mcptrace: &Path) -> Result<Server, String> {
        let mut child = Command::new(mcptrace)
            .arg("serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("mcptrace serve: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut server = Server { child, stdin, lines, next_id: 1 };
        server.request(
            "initialize",
            r#"{"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "xtask-bench", "version": "0"}}"#,
        )?;
        server.send(r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#)?;
        Ok(server)
    }

    /// Runs `program` and waits for its result; checks the server chose
    /// `backend`. Returns the output lines.
    pub fn exec_and_wait(&mut self, program: &str, backend: &str) -> Result<Vec<String>, String> {
        let id = self.exec(program, backend)?;
        loop {
            let result =
                self.call("get_result", &format!(r#"{{"execution_id": {}}}"#, quote(&id)))?;
            match result.get("status").as_str() {
                Some("running") => thread::sleep(POLL),
                Some("completed") => {
                    let output = result.get("output").as_array().iter();
                    return Ok(output.filter_map(Value::as_str).map(str::to_string).collect());
                }
                _ => return Err(format!("get_result: {result:?}")),
            }
        }
    }

    /// Waits until the previous execution has left the kernel: no bpftrace
    /// child, no attachment (BPF link or perf event) held by the server.
    /// A detach still running would hold the kernel's tracepoint lock and
    /// slow the next attach, which the next run is not to pay for.
    pub fn wait_quiet(&self) -> Result<(), String> {
        let pid = self.child.id();
        for _ in 0..1000 {
            if children(pid).is_empty() && attachments(pid) == 0 {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(10));
        }
        Err("mcptrace serve: the previous execution still holds the kernel after 10 s".into())
    }

    /// Waits until the server has a native session loaded ahead, so the
    /// next native execution starts warm.
    pub fn wait_session_ahead(&mut self) -> Result<(), String> {
        for _ in 0..500 {
            let info = self.call("host_info", "{}")?;
            if info.get("session_ahead").get("ready") == &Value::Bool(true) {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(10));
        }
        Err("mcptrace serve: no session loaded ahead after 5 s".into())
    }

    /// Starts `program` and asks get_result until `line` is in its output;
    /// checks the server chose `backend`. Returns when exec_program
    /// answered, that is, once the program was attached.
    pub fn exec_until_line(
        &mut self,
        program: &str,
        backend: &str,
        line: &str,
    ) -> Result<Instant, String> {
        let id = self.exec(program, backend)?;
        let answered = Instant::now();
        loop {
            let result =
                self.call("get_result", &format!(r#"{{"execution_id": {}}}"#, quote(&id)))?;
            let output = result.get("output").as_array();
            if output.iter().any(|l| l.as_str() == Some(line)) {
                return Ok(answered);
            }
            match result.get("status").as_str() {
                Some("running") => thread::sleep(POLL),
                _ => return Err(format!("get_result without {line:?}: {result:?}")),
            }
        }
    }

    /// exec_program on `backend`; the execution's id, once checked to run
    /// there.
    fn exec(&mut self, program: &str, backend: &str) -> Result<String, String> {
        let arguments = format!(
            r#"{{"program": {}, "timeout": 10, "backend": {}}}"#,
            quote(program),
            quote(backend)
        );
        let started = self.call("exec_program", &arguments)?;
        let Some(id) = started.get("execution_id").as_str().map(str::to_string) else {
            return Err(format!("exec_program: {started:?}"));
        };
        if started.get("backend").as_str() != Some(backend) {
            return Err(format!("exec_program ran {:?}, not {backend}", started.get("backend")));
        }
        Ok(id)
    }

    /// tools/call; the structured result, or the tool's error.
    fn call(&mut self, tool: &str, arguments: &str) -> Result<Value, String> {
        let params = format!(r#"{{"name": {}, "arguments": {arguments}}}"#, quote(tool));
        let result = self.request("tools/call", &params)?;
        if result.get("isError") == &Value::Bool(true) {
            return Err(format!("{tool}: {:?}", result.get("content")));
        }
        Ok(result.get("structuredContent").clone())
    }

    /// A request and its response's result; other messages are skipped.
    fn request(&mut self, method: &str, params: &str) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&format!(
            r#"{{"jsonrpc": "2.0", "id": {id}, "method": {}, "params": {params}}}"#,
            quote(method)
        ))?;
        loop {
            let line = self
                .lines
                .recv_timeout(PATIENCE)
                .map_err(|_| format!("mcptrace serve: no answer to {method}"))?;
            let message = json::parse(&line)?;
            if message.get("id") != &Value::Number(id as f64) {
                continue;
            }
            if message.get("error") != &Value::Null {
                return Err(format!("{method}: {:?}", message.get("error")));
            }
            return Ok(message.get("result").clone());
        }
    }

    fn send(&mut self, message: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("server stdin closed")?;
        writeln!(stdin, "{message}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("mcptrace serve: {e}"))
    }
}

impl Drop for Server {
    /// End of input ends the server.
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// Live children of process `pid`, from each of its threads.
fn children(pid: u32) -> Vec<String> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten();
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| c.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// BPF links and perf events held by process `pid`.
fn attachments(pid: u32) -> usize {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten();
    fds.filter_map(Result::ok)
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|t| {
            let t = t.to_string_lossy();
            t == "anon_inode:bpf_link" || t == "anon_inode:[perf_event]"
        })
        .count()
}
