//! HTTP for real deployments: named tokens with roles and scopes from an
//! owner-only file, TLS, the Origin check, and per-token body and rate
//! limits, each through the real server and a raw HTTP client.

use std::{
    io::Write,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use mcptrace_tests::{
    HeldWorkload,
    http::{HttpServer, INITIALIZE, header_of, status_of},
    require_root, unique_path,
};
use serde_json::{Value, json};

const OBSERVER: &str = "observer-secret-0123456789";
const TRACER: &str = "tracer-secret-9876543210";

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = unique_path(tag);
        std::fs::create_dir(&dir).unwrap();
        Self(dir)
    }

    /// Writes `text` to `name` with `mode`; returns its path.
    fn file(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What `printf %s SECRET | sha256sum` prints, as the README says to make
/// a token's hash.
fn sha256sum(secret: &str) -> String {
    let mut child =
        Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(secret.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

fn bearer(secret: &str) -> String {
    format!("Authorization: Bearer {secret}")
}

/// The observer by its hash, the tracer by its secret in clear, and
/// `extra` entries after them.
fn tokens_file(extra: &str) -> String {
    format!(
        "[[token]]\nname = \"observer\"\nsha256 = \"{}\"\nrole = \"observe\"\n\n\
         [[token]]\nname = \"tracer\"\nsecret = \"{TRACER}\"\nrole = \"trace\"\n{extra}",
        sha256sum(OBSERVER)
    )
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"].as_str().unwrap_or_default().to_string()
}

fn read_log(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn tokens_have_roles_and_the_audit_log_names_them() {
    require_root();
    let dir = Scratch::new("http-roles");
    let tokens = dir.file("tokens.toml", &tokens_file(""), 0o600);
    let audit = dir.0.join("audit.jsonl");
    let server = HttpServer::start_with(
        None,
        &["--tokens", tokens.to_str().unwrap(), "--audit", audit.to_str().unwrap()],
    );
    assert_eq!(server.post("/mcp", &[], INITIALIZE), 401);
    assert_eq!(server.post("/mcp", &[&bearer("wrong")], INITIALIZE), 401);
    // The file's hash is not a secret that opens the door.
    assert_eq!(server.post("/mcp", &[&bearer(&sha256sum(OBSERVER))], INITIALIZE), 401);

    let observer = bearer(OBSERVER);
    let session = server.open_session(&[&observer]);
    let probes = server.call_tool(
        &[&observer],
        &session,
        "list_probes",
        json!({ "filter": "syscalls:sys_enter_getpid" }),
    );
    assert_ne!(probes["isError"], true, "{probes}");
    assert!(probes.to_string().contains("sys_enter_getpid"), "{probes}");
    let info = server.call_tool(&[&observer], &session, "host_info", json!({}));
    let info = &info["structuredContent"];
    assert_eq!(info["caller"], json!({ "name": "observer", "role": "observe" }), "{info}");
    assert_eq!(info["http"]["tokens"], true, "{info}");
    let program = r#"BEGIN { printf("by observer\n"); exit(); }"#;
    let refused =
        server.call_tool(&[&observer], &session, "exec_program", json!({ "program": program }));
    assert_eq!(refused["isError"], true, "{refused}");
    let why = text_of(&refused);
    assert!(why.contains("role observe") && why.contains("exec_program needs role trace"), "{why}");
    let stop =
        server.call_tool(&[&observer], &session, "stop_execution", json!({ "execution_id": "x" }));
    assert_eq!(stop["isError"], true, "{stop}");
    assert!(text_of(&stop).contains("stop_execution needs role trace"), "{stop}");
    // A client of the tasks extension may cancel tasks, given the role.
    let tasks = INITIALIZE.replace(
        r#""capabilities":{}"#,
        r#""capabilities":{"extensions":{"io.modelcontextprotocol/tasks":{}}}"#,
    );
    let session = server.open_session_with(&[&observer], &tasks);
    let cancel = server.rpc(&[&observer], &session, "tasks/cancel", json!({ "taskId": "x" }));
    let message = cancel["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("tasks/cancel needs role trace"), "{cancel}");

    let tracer = bearer(TRACER);
    let session = server.open_session(&[&tracer]);
    let program = r#"BEGIN { printf("by tracer\n"); exit(); }"#;
    let ran = server.call_tool(&[&tracer], &session, "exec_program", json!({ "program": program }));
    assert_ne!(ran["isError"], true, "{ran}");
    let id = ran["structuredContent"]["execution_id"].as_str().unwrap().to_string();
    let (status, stderr) = server.stop();
    assert!(status.success(), "{status}: {stderr}");
    for secret in [OBSERVER, TRACER] {
        assert!(!stderr.contains(secret), "a token was logged: {stderr}");
    }

    let log = read_log(&audit);
    let refusal =
        log.iter().find(|l| l["event"] == "refused").unwrap_or_else(|| panic!("{log:#?}"));
    assert_eq!((&refusal["client"], &refusal["outcome"]), (&json!("observer"), &json!("role")));
    let exec = log.iter().find(|l| l["event"] == "exec").unwrap_or_else(|| panic!("{log:#?}"));
    assert_eq!((&exec["client"], &exec["execution_id"]), (&json!("tracer"), &json!(id)));
    assert!(log.iter().all(|l| l["client"] == "observer" || l["client"] == "tracer"), "{log:#?}");
}

#[test]
fn a_tokens_file_others_could_read_or_with_a_typo_stops_the_start() {
    require_root();
    let dir = Scratch::new("http-tokens-file");
    let open = dir.file("open.toml", &tokens_file(""), 0o644);
    let err = HttpServer::try_start(None, &["--tokens", open.to_str().unwrap()]).err().unwrap();
    let path = open.display();
    assert!(err.contains("mode 0644") && err.contains(&format!("chmod 600 {path}")), "{err}");

    let typo = dir.file("typo.toml", &tokens_file("scop = \"pid=1\"\n"), 0o600);
    let err = HttpServer::try_start(None, &["--tokens", typo.to_str().unwrap()]).err().unwrap();
    assert!(err.contains("line 10") && err.contains("scop"), "{err}");

    let good = dir.file("good.toml", &tokens_file(""), 0o600);
    let err = HttpServer::try_start(Some("also"), &["--tokens", good.to_str().unwrap()]);
    let err = err.err().unwrap();
    assert!(err.contains("--tokens or MCPTRACE_TOKEN, not both"), "{err}");
}

#[test]
fn the_environment_token_is_named_env_with_role_trace() {
    require_root();
    let server = HttpServer::start(Some(TRACER));
    let auth = bearer(TRACER);
    let session = server.open_session(&[&auth]);
    let info = server.call_tool(&[&auth], &session, "host_info", json!({}));
    let caller = &info["structuredContent"]["caller"];
    assert_eq!(caller, &json!({ "name": "env", "role": "trace" }), "{info}");
}

#[test]
fn a_token_scoped_to_a_process_sees_that_process_alone() {
    require_root();
    const CALLS: usize = 20;
    let calls = CALLS.to_string();
    let inside = HeldWorkload::spawn(&["getpid", &calls]);
    let outside = HeldWorkload::spawn(&["getpid", &calls]);
    let pid = inside.pid();
    let dir = Scratch::new("http-scope");
    let scoped = format!(
        "\n[[token]]\nname = \"scoped\"\nsecret = \"scoped-secret-42\"\nrole = \"trace\"\n\
         scope = \"pid={pid}\"\n"
    );
    let tokens = dir.file("tokens.toml", &tokens_file(&scoped), 0o600);
    let server = HttpServer::start_with(None, &["--tokens", tokens.to_str().unwrap()]);
    let auth = bearer("scoped-secret-42");
    let session = server.open_session(&[&auth]);
    let info = server.call_tool(&[&auth], &session, "host_info", json!({}));
    assert_eq!(info["structuredContent"]["caller"]["scope"], format!("pid={pid}"), "{info}");
    // validate_program checks what the token's runs would be: the scope's
    // predicate quiets the warning about printing on every context switch.
    let hot = json!({ "program": r#"tracepoint:sched:sched_switch { printf("x\n"); }"# });
    let scoped = server.call_tool(&[&auth], &session, "validate_program", hot.clone());
    assert_eq!(scoped["structuredContent"]["warnings"], json!([]), "{scoped}");
    let tracer = bearer(TRACER);
    let unscoped_session = server.open_session(&[&tracer]);
    let unscoped = server.call_tool(&[&tracer], &unscoped_session, "validate_program", hot);
    let warnings = unscoped["structuredContent"]["warnings"].to_string();
    assert!(warnings.contains("without a predicate"), "{unscoped}");

    let program = r#"tracepoint:syscalls:sys_enter_getpid { printf("%d\n", pid); }"#;
    let args = json!({ "program": program, "timeout": 60 });
    let ran = server.call_tool(&[&auth], &session, "exec_program", args);
    assert_ne!(ran["isError"], true, "{ran}");
    let id = ran["structuredContent"]["execution_id"].as_str().unwrap().to_string();
    inside.go();
    outside.go();
    let stopped =
        server.call_tool(&[&auth], &session, "stop_execution", json!({ "execution_id": id }));
    let page = &stopped["structuredContent"];
    assert_ne!(page["status"], "running", "{stopped}");
    let pids: Vec<u32> = page["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l.as_str()?.trim().parse().ok())
        .collect();
    assert_eq!(pids, vec![pid; CALLS], "{stopped}");
}

#[test]
fn https_serves_tls_clients_and_refuses_plain_http() {
    require_root();
    let dir = Scratch::new("http-tls");
    let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let tls = ["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = HttpServer::try_start(None, &tls).err().unwrap();
    assert!(err.contains("mode 0640") && err.contains("chmod 600"), "{err}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

    let plain = HttpServer::start_with(Some(TRACER), &tls);
    assert!(plain.url.starts_with("https://127.0.0.1:"), "{}", plain.url);
    // Plain HTTP to the TLS port gets no HTTP answer: an alert or a reset.
    let answer = plain.try_exchange(&[], INITIALIZE);
    assert!(answer.as_ref().map_or(true, |a| status_of(a).is_none()), "{answer:?}");
    let server = plain.trusting(&cert);
    let auth = bearer(TRACER);
    let response = server.exchange(&[&auth], INITIALIZE);
    assert_eq!(status_of(&response), Some(200), "{response}");
    assert!(response.contains("\"serverInfo\""), "{response}");
    let session = server.open_session(&[&auth]);
    let info = server.call_tool(&[&auth], &session, "host_info", json!({}));
    assert_eq!(info["structuredContent"]["http"]["tls"], true, "{info}");
    let (status, stderr) = server.stop();
    assert!(status.success(), "{status}: {stderr}");
}

#[test]
fn foreign_origins_are_refused_and_allowed_ones_pass() {
    require_root();
    let server = HttpServer::start_with(None, &["--allow-origin", "https://app.example"]);
    let evil = server.exchange(&["Origin: https://evil.example"], INITIALIZE);
    assert_eq!(status_of(&evil), Some(403), "{evil}");
    assert!(evil.contains("--allow-origin https://evil.example"), "{evil}");
    for allowed in ["https://app.example", "http://localhost:5173"] {
        let response = server.exchange(&[&format!("Origin: {allowed}")], INITIALIZE);
        assert_eq!(status_of(&response), Some(200), "{allowed}: {response}");
    }
    assert_eq!(server.post("/mcp", &[], INITIALIZE), 200, "no Origin: not a browser");
}

#[test]
fn oversized_bodies_get_413_and_a_burst_past_the_rate_429() {
    require_root();
    let server = HttpServer::start_with(
        Some(TRACER),
        &["--max-request-bytes", "1000", "--requests-per-second", "1", "--request-burst", "3"],
    );
    let auth = bearer(TRACER);
    let big = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","pad":"{}"}}"#, "x".repeat(2000));
    let response = server.exchange(&[&auth], &big);
    assert_eq!(status_of(&response), Some(413), "{response}");
    assert!(response.contains("at most 1000"), "{response}");

    // The oversized request took one of the burst's three; at one request
    // a second, a tight loop runs out long before the bucket refills.
    let mut statuses = Vec::new();
    let limited = (0..30).find_map(|_| {
        let response = server.exchange(&[&auth], INITIALIZE);
        statuses.push(status_of(&response));
        (status_of(&response) == Some(429)).then_some(response)
    });
    let limited = limited.unwrap_or_else(|| panic!("never limited: {statuses:?}"));
    assert_eq!(statuses[..2], [Some(200), Some(200)], "{statuses:?}");
    let retry: u64 = header_of(&limited, "retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1, "{limited}");
    assert!(limited.contains("token `env`"), "{limited}");
    // Another token's bucket is its own: a wrong token is still told 401.
    assert_eq!(server.post("/mcp", &[&bearer("wrong")], INITIALIZE), 401);
}
