//! The audit log (`serve --audit FILE`) through a real MCP client: a run to
//! its end, a refusal and a stop each leave their JSON lines, with the
//! program text only where it belongs; a log that cannot be written refuses
//! programs but not stops; one that cannot be opened stops the start. HTTP
//! clients of a server without tokens are named `http`; with tokens, by the
//! token's name (mcp_http_auth).

use std::{os::unix::fs::PermissionsExt, path::Path};

use mcptrace_tests::{http::HttpServer, mcp::Client, mcptrace, require_root, unique_path};
use regex::Regex;
use serde_json::{Value, json};

fn read_log(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// The backend fields of an end line are those get_result reports.
fn assert_backend(line: &Value, result: &Value) {
    assert_eq!(line["backend"], result["backend"], "{line}");
    match result["backend"].as_str() {
        Some("bpftrace") => assert_eq!(line["fallback_reason"], result["backend_reason"], "{line}"),
        _ => assert!(line.get("fallback_reason").is_none(), "{line}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_refusals_and_stops_are_recorded_one_json_line_each() {
    require_root();
    let dir = unique_path("audit");
    std::fs::create_dir(&dir).unwrap();
    let path = dir.join("audit.jsonl");
    let c = Client::start_with(&["--audit", path.to_str().unwrap()], None).await;

    let accepted = r#"BEGIN { printf("audited\n"); exit(); }"#;
    let ran = c.exec(accepted, 10.0).await;
    let ran_result = c.finished(&ran).await;

    let refused = r#"BEGIN { cat("/etc/shadow"); exit(); }"#;
    let error = c.call("exec_program", json!({ "program": refused })).await.unwrap_err();
    assert!(error.contains("--allow-sensitive"), "{error}");

    let long = "interval:ms:100 { @ticks = count(); }";
    let stopped = c.exec(long, 30.0).await;
    c.call("stop_execution", json!({ "execution_id": stopped })).await.unwrap();
    let stopped_result = c.finished(&stopped).await;

    let info = c.call("host_info", json!({})).await.unwrap();
    c.close().await;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    let log = read_log(&path);
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(info["audit"], json!({ "enabled": true, "path": path }), "{info}");
    assert_eq!(mode & 0o777, 0o600);
    let order: Vec<_> =
        log.iter().map(|l| (l["event"].as_str().unwrap(), l["execution_id"].as_str())).collect();
    assert_eq!(
        order,
        [
            ("exec", Some(ran.as_str())),
            ("end", Some(ran.as_str())),
            ("refused", None),
            ("exec", Some(stopped.as_str())),
            ("stop", Some(stopped.as_str())),
            ("end", Some(stopped.as_str())),
        ],
        "{log:#?}"
    );
    let rfc3339_utc = Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").unwrap();
    for line in &log {
        assert!(rfc3339_utc.is_match(line["time"].as_str().unwrap()), "{line}");
        assert_eq!(line["client"], "stdio", "{line}");
    }
    let [exec, end, refusal, long_exec, stop, long_end] = &log[..] else { unreachable!() };

    assert_eq!(exec["program"], accepted, "{exec}");
    assert_eq!(exec["outcome"], "accepted", "{exec}");
    assert!(matches!(exec["backend"].as_str(), Some("native" | "bpftrace")), "{exec}");
    assert_eq!(end["outcome"], "completed", "{end}");
    assert_eq!(end["exit_reason"], "exit", "{end}");
    assert_eq!(end["lines"], ran_result["lines_total"], "{end}");
    assert_eq!(end["lost_events"], 0, "{end}");
    assert!(end["duration_ms"].is_u64(), "{end}");
    assert_backend(end, &ran_result);

    assert_eq!(refusal["program"], refused, "{refusal}");
    assert_eq!(refusal["outcome"], "program", "{refusal}");
    assert_eq!(refusal["codes"], json!(["sensitive"]), "{refusal}");
    assert_eq!(refusal["error"], error, "{refusal}");

    assert_eq!(long_exec["program"], long, "{long_exec}");
    assert_eq!(stop["outcome"], "stopping", "{stop}");
    assert_eq!(long_end["outcome"], "completed", "{long_end}");
    assert_eq!(long_end["exit_reason"], "stopped", "{long_end}");
    assert_eq!(long_end["lines"], stopped_result["lines_total"], "{long_end}");
    assert_backend(long_end, &stopped_result);

    // Program text is in exec and refused lines only.
    for line in [end, stop, long_end] {
        assert!(line.get("program").is_none(), "{line}");
    }
}

#[test]
fn http_clients_without_tokens_are_named_http() {
    require_root();
    let path = unique_path("audit-http");
    let server = HttpServer::start_with(None, &["--audit", path.to_str().unwrap()]);
    let session = server.open_session(&[]);
    let refused = r#"BEGIN { cat("/etc/shadow"); }"#;
    let result = server.call_tool(&[], &session, "exec_program", json!({ "program": refused }));
    assert_eq!(result["isError"], true, "{result}");
    let (status, stderr) = server.stop();
    assert!(status.success(), "{status}: {stderr}");
    let log = read_log(&path);
    std::fs::remove_file(&path).unwrap();
    let [line] = &log[..] else { panic!("{log:#?}") };
    assert_eq!((&line["event"], &line["client"]), (&json!("refused"), &json!("http")), "{line}");
    assert_eq!(line["program"], refused, "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_that_cannot_be_written_refuses_programs_but_not_stops() {
    require_root();
    // Every write to /dev/full fails (ENOSPC).
    let c = Client::start_with(&["--audit", "/dev/full"], None).await;
    let program = json!({ "program": "BEGIN { exit(); }" });
    let first = c.call("exec_program", program.clone()).await.unwrap_err();
    assert!(first.contains("the audit log /dev/full cannot be written"), "{first}");
    assert!(first.contains("programs are refused"), "{first}");
    let second = c.call("exec_program", program).await.unwrap_err();
    assert_eq!(second, first);
    let executions = c.call("list_executions", json!({})).await.unwrap();
    assert_eq!(executions["executions"], json!([]), "nothing ran: {executions}");
    // A stop is still answered.
    let stop = c.call("stop_execution", json!({ "execution_id": "none" })).await.unwrap_err();
    assert!(stop.contains("unknown execution id"), "{stop}");
    let info = c.call("host_info", json!({})).await.unwrap();
    assert_eq!(info["audit"]["enabled"], true, "{info}");
    assert_eq!(info["audit"]["path"], "/dev/full", "{info}");
    assert!(info["audit"]["error"].as_str().unwrap().contains("No space left"), "{info}");
    c.close().await;
}

#[test]
fn a_log_that_cannot_be_opened_stops_the_start() {
    require_root();
    let out = mcptrace()
        .args(["serve", "--audit", "/nonexistent/audit.jsonl"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open the audit log /nonexistent/audit.jsonl"), "{stderr}");
}
