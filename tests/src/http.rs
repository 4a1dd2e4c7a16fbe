//! `mcptrace serve --http` as a child process, for the HTTP transport tests.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, ChildStderr, Command, ExitStatus, Stdio},
};

use mcptrace::mcp::http::PATH;
use serde_json::{Value, json};

use crate::target_bin;

/// A client's first message.
pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;

pub struct HttpServer {
    child: Child,
    stderr: BufReader<ChildStderr>,
    /// `http://127.0.0.1:PORT/mcp`
    pub url: String,
}

impl HttpServer {
    /// Starts the server on a free loopback port, with `token` in
    /// MCPTRACE_TOKEN when given, and waits until it listens.
    pub fn start(token: Option<&str>) -> HttpServer {
        Self::start_with(token, &[])
    }

    /// As [`HttpServer::start`], with `args` added to `mcptrace serve`'s.
    pub fn start_with(token: Option<&str>, args: &[&str]) -> HttpServer {
        let mut cmd = Command::new(target_bin("mcptrace"));
        cmd.args(["serve", "--http", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::piped());
        match token {
            Some(t) => cmd.env("MCPTRACE_TOKEN", t),
            None => cmd.env_remove("MCPTRACE_TOKEN"),
        };
        let mut child = cmd.spawn().expect("spawn mcptrace serve --http");
        let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
        let mut first = String::new();
        stderr.read_line(&mut first).expect("read the server's first line");
        let url = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in the server's first line: {first}"))
            .to_string();
        HttpServer { child, stderr, url }
    }

    /// `host:port` of the server.
    pub fn authority(&self) -> &str {
        let rest = self.url.trim_start_matches("http://");
        rest.split('/').next().unwrap_or(rest)
    }

    /// Sends one raw HTTP/1.1 POST of `body` to `path` with `headers`;
    /// returns the status code.
    pub fn post(&self, path: &str, headers: &[&str], body: &str) -> u16 {
        let mut stream = self.send(path, headers, body);
        let mut status = [0u8; 12];
        stream.read_exact(&mut status).expect("read the status line");
        String::from_utf8_lossy(&status[9..12]).parse().expect("a status code")
    }

    /// As [`HttpServer::post`], returning the whole response, head and body.
    pub fn exchange(&self, headers: &[&str], body: &str) -> String {
        let mut response = String::new();
        self.send(PATH, headers, body).read_to_string(&mut response).expect("read the response");
        response
    }

    /// Opens an MCP session (initialize, then the initialized
    /// notification); returns its id.
    pub fn open_session(&self) -> String {
        let response = self.exchange(&[], INITIALIZE);
        let session = response
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase().strip_prefix("mcp-session-id:").map(str::to_string)
            })
            .unwrap_or_else(|| panic!("no session id in {response}"));
        let session = session.trim().to_string();
        let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        self.exchange(&[&format!("Mcp-Session-Id: {session}")], initialized);
        session
    }

    /// Calls tool `name` in `session`; returns the JSON-RPC result.
    pub fn call_tool(&self, session: &str, name: &str, arguments: Value) -> Value {
        let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                          "params": {"name": name, "arguments": arguments}});
        let header = format!("Mcp-Session-Id: {session}");
        let response = self.exchange(&[&header], &call.to_string());
        // The answer is one server-sent event among priming ones.
        let data = response.lines().filter_map(|l| l.strip_prefix("data: "));
        let mut messages = data.filter_map(|d| serde_json::from_str::<Value>(d).ok());
        let answer = messages.find(|m| m["id"] == 2).unwrap_or_else(|| panic!("{response}"));
        answer["result"].clone()
    }

    /// Writes a POST of `body` to `path` with `headers`, asking the server
    /// to close the connection after its response.
    fn send(&self, path: &str, headers: &[&str], body: &str) -> TcpStream {
        let mut stream = TcpStream::connect(self.authority()).expect("connect");
        let mut request = format!("POST {path} HTTP/1.1\r\nHost: {}\r\n", self.authority());
        for h in headers {
            request.push_str(&format!("{h}\r\n"));
        }
        request.push_str(&format!(
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        stream.write_all(request.as_bytes()).expect("send");
        stream
    }

    /// Stops the server with SIGTERM; returns its exit status and the rest
    /// of what it wrote to stderr.
    pub fn stop(mut self) -> (ExitStatus, String) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().expect("wait for the server");
        let mut rest = String::new();
        self.stderr.read_to_string(&mut rest).expect("read stderr");
        (status, rest)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
