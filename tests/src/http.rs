//! `mcptrace serve --http` as a child process, for the HTTP transport tests:
//! raw HTTP/1.1 requests, over TLS when the server serves HTTPS.

use std::{
    io::{self, BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::Path,
    process::{Child, ChildStderr, Command, ExitStatus, Stdio},
    sync::Arc,
};

use mcptrace::mcp::http::PATH;
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, StreamOwned,
    pki_types::{CertificateDer, ServerName, pem::PemObject},
};
use serde_json::{Value, json};

use crate::target_bin;

/// A client's first message.
pub const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;

pub struct HttpServer {
    child: Child,
    stderr: BufReader<ChildStderr>,
    /// `http://127.0.0.1:PORT/mcp` (or `https://`)
    pub url: String,
    /// How to reach an HTTPS server; None for plain HTTP.
    tls: Option<Arc<ClientConfig>>,
}

/// What requests travel over: a TCP stream, or TLS on one.
trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

impl HttpServer {
    /// Starts the server on a free loopback port, with `token` in
    /// MCPTRACE_TOKEN when given, and waits until it listens.
    pub fn start(token: Option<&str>) -> HttpServer {
        Self::start_with(token, &[])
    }

    /// As [`HttpServer::start`], with `args` added to `mcptrace serve`'s.
    pub fn start_with(token: Option<&str>, args: &[&str]) -> HttpServer {
        Self::try_start(token, args).unwrap_or_else(|stderr| panic!("not listening: {stderr}"))
    }

    /// As [`HttpServer::start_with`]; Err with what the server wrote if it
    /// ends instead of listening.
    pub fn try_start(token: Option<&str>, args: &[&str]) -> Result<HttpServer, String> {
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
        let Some(url) = first.split_whitespace().find(|w| w.starts_with("http")) else {
            stderr.read_to_string(&mut first).expect("read stderr");
            let status = child.wait().expect("wait for the server");
            return Err(format!("{status}: {first}"));
        };
        let url = url.to_string();
        Ok(HttpServer { child, stderr, url, tls: None })
    }

    /// Speaks TLS to the server, trusting the PEM certificate `cert`.
    pub fn trusting(mut self, cert: &Path) -> HttpServer {
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from_pem_file(cert).expect("a PEM certificate")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        self.tls = Some(Arc::new(config));
        self
    }

    /// `host:port` of the server.
    pub fn authority(&self) -> &str {
        let rest = self.url.split_once("://").map_or(&self.url[..], |(_, rest)| rest);
        rest.split('/').next().unwrap_or(rest)
    }

    /// Sends one raw HTTP/1.1 POST of `body` to `path` with `headers`;
    /// returns the status code.
    pub fn post(&self, path: &str, headers: &[&str], body: &str) -> u16 {
        let response = self.request(path, headers, body).expect("an exchange");
        status_of(&response).unwrap_or_else(|| panic!("no status line in {response:?}"))
    }

    /// As [`HttpServer::post`] to the MCP path, returning the whole
    /// response, head and body.
    pub fn exchange(&self, headers: &[&str], body: &str) -> String {
        self.try_exchange(headers, body).expect("an exchange")
    }

    /// As [`HttpServer::exchange`], with the failure to connect, send or
    /// read.
    pub fn try_exchange(&self, headers: &[&str], body: &str) -> io::Result<String> {
        self.request(PATH, headers, body)
    }

    /// As [`HttpServer::exchange`], in `session`.
    fn exchange_in(&self, auth: &[&str], session: &str, body: &str) -> String {
        let header = format!("Mcp-Session-Id: {session}");
        let headers: Vec<&str> = auth.iter().copied().chain([header.as_str()]).collect();
        self.exchange(&headers, body)
    }

    /// Opens an MCP session (initialize, then the initialized
    /// notification) with `auth` headers; returns its id.
    pub fn open_session(&self, auth: &[&str]) -> String {
        self.open_session_with(auth, INITIALIZE)
    }

    /// As [`HttpServer::open_session`], with `initialize` as the first
    /// message.
    pub fn open_session_with(&self, auth: &[&str], initialize: &str) -> String {
        let response = self.exchange(auth, initialize);
        let session = header_of(&response, "mcp-session-id")
            .unwrap_or_else(|| panic!("no session id in {response}"));
        let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        self.exchange_in(auth, &session, initialized);
        session
    }

    /// Calls tool `name` in `session` with `auth` headers; returns the
    /// JSON-RPC result.
    pub fn call_tool(&self, auth: &[&str], session: &str, name: &str, arguments: Value) -> Value {
        let params = json!({"name": name, "arguments": arguments});
        self.rpc(auth, session, "tools/call", params)["result"].clone()
    }

    /// Sends request `method` in `session` with `auth` headers; returns the
    /// JSON-RPC answer, with its result or error.
    pub fn rpc(&self, auth: &[&str], session: &str, method: &str, params: Value) -> Value {
        let call = json!({"jsonrpc": "2.0", "id": 2, "method": method, "params": params});
        let response = self.exchange_in(auth, session, &call.to_string());
        // The answer is one server-sent event among priming ones.
        let data = response.lines().filter_map(|l| l.strip_prefix("data: "));
        let mut messages = data.filter_map(|d| serde_json::from_str::<Value>(d).ok());
        messages.find(|m| m["id"] == 2).unwrap_or_else(|| panic!("{response}"))
    }

    /// POSTs `body` to `path` with `headers`, asking the server to close
    /// the connection after its response; returns the response.
    fn request(&self, path: &str, headers: &[&str], body: &str) -> io::Result<String> {
        let mut stream = self.connect()?;
        let mut request = format!("POST {path} HTTP/1.1\r\nHost: {}\r\n", self.authority());
        for h in headers {
            request.push_str(&format!("{h}\r\n"));
        }
        request.push_str(&format!(
            "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        stream.write_all(request.as_bytes())?;
        stream.flush()?;
        read_all(&mut stream)
    }

    fn connect(&self) -> io::Result<Box<dyn Stream>> {
        let tcp = TcpStream::connect(self.authority())?;
        let Some(config) = &self.tls else { return Ok(Box::new(tcp)) };
        let host = self.authority().rsplit_once(':').map_or(self.authority(), |(h, _)| h);
        let name = ServerName::try_from(host.to_string()).expect("a server name");
        let tls = ClientConnection::new(config.clone(), name).expect("a TLS client");
        Ok(Box::new(StreamOwned::new(tls, tcp)))
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

/// Everything until the server closes. A peer that closes without a TLS
/// close_notify ends the response too: each request asks for the close.
fn read_all(stream: &mut dyn Stream) -> io::Result<String> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The status code of a raw response.
pub fn status_of(response: &str) -> Option<u16> {
    response.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// A header's value in a raw response (names are case-insensitive).
pub fn header_of(response: &str, name: &str) -> Option<String> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
    })
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
