//! `mcptrace serve --http` as a child process, for the HTTP transport tests.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, ChildStderr, Command, ExitStatus, Stdio},
};

use crate::target_bin;

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
        let mut cmd = Command::new(target_bin("mcptrace"));
        cmd.args(["serve", "--http", "127.0.0.1:0"]).stdin(Stdio::null()).stderr(Stdio::piped());
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
        let mut status = [0u8; 12];
        stream.read_exact(&mut status).expect("read the status line");
        String::from_utf8_lossy(&status[9..12]).parse().expect("a status code")
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
