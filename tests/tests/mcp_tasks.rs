//! Tasks (the `io.modelcontextprotocol/tasks` extension) for exec_program,
//! through a real MCP client over stdio: a client that declares the
//! extension gets a task whose id is the execution id, polls it, reads its
//! result or cancels it; one that does not gets the plain result.

use std::time::Duration;

use mcptrace_tests::{
    mcp::{Client, lines},
    require_root,
};
use rmcp::model::{ProtocolVersion, TASKS_EXTENSION_ID};
use serde_json::{Value, json};

/// The line count a status message starts with.
fn lines_buffered(task: &Value) -> u64 {
    let message = task["statusMessage"].as_str().unwrap();
    let count = message.split(' ').next().unwrap();
    count.parse().unwrap_or_else(|_| panic!("no line count in {message:?}"))
}

/// tasks/get until the task is no longer working, with every answer.
async fn poll_until_done(c: &Client, id: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    for _ in 0..200 {
        let task = c.get_task(id).await.unwrap();
        let working = task["status"] == "working";
        seen.push(task);
        if !working {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("task {id} still working after 20 s: {:?}", seen.last());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_reports_its_output_then_holds_the_final_result() {
    require_root();
    let c = Client::start_with_tasks(ProtocolVersion::V_2026_07_28).await;
    let caps = &c.service.peer_info().expect("server info").capabilities;
    assert!(caps.extensions.as_ref().is_some_and(|e| e.contains_key(TASKS_EXTENSION_ID)));

    let program = "interval:ms:100 { printf(\"tick\\n\"); } interval:s:3 { exit(); }";
    let created = c.call_once("exec_program", json!({"program": program, "timeout": 10})).await;
    assert_eq!(created["resultType"], "task", "{created}");
    assert_eq!(created["status"], "working", "{created}");
    assert_eq!(created["pollIntervalMs"], 1000, "{created}");
    assert!(created["ttlMs"].as_u64().unwrap() >= 10_000, "{created}");
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'), "{created}");
    let id = created["taskId"].as_str().unwrap().to_string();
    // The task's id is the execution's: get_result reads it too.
    let page = c.call("get_result", json!({"execution_id": id})).await.unwrap();
    assert_eq!(page["execution_id"], id.as_str());

    let seen = poll_until_done(&c, &id).await;
    let (done, working) = seen.split_last().unwrap();
    let shape =
        regex::Regex::new(r"^\d+ lines buffered, 0 events lost \(native backend\)$").unwrap();
    assert!(working.iter().all(|t| shape.is_match(t["statusMessage"].as_str().unwrap())));
    let counts: Vec<u64> = working.iter().map(lines_buffered).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
    assert!(counts.first() < counts.last(), "the line count did not grow: {counts:?}");

    assert_eq!(done["status"], "completed", "{done}");
    let result = &done["result"];
    let last = c.finished(&id).await;
    assert_eq!(result["structuredContent"]["status"], "completed", "{result}");
    assert_eq!(result["structuredContent"]["stop_reason"], "exit", "{result}");
    assert_eq!(result["structuredContent"]["output"], last["output"], "{result}");
    assert_ne!(result["isError"], true, "{result}");
    let text = result["content"][0]["text"].as_str().unwrap();
    let total = last["lines_total"].as_u64().unwrap();
    assert!(text.starts_with(&format!("completed (native); lines 0..{total} of {total}")));
    assert_eq!(result["content"][1]["type"], "resource_link", "{result}");
    assert_eq!(
        done["statusMessage"],
        format!("{total} lines buffered, 0 events lost (native backend); completed (exit)")
    );
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_a_task_stops_it_gracefully() {
    require_root();
    let c = Client::start_with_tasks(ProtocolVersion::V_2026_07_28).await;
    let program = "interval:ms:50 { @ticks = count(); } END { printf(\"END ran\\n\"); }";
    let created = c.call_once("exec_program", json!({"program": program, "timeout": 30})).await;
    assert_eq!(created["resultType"], "task", "{created}");
    let id = created["taskId"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(500)).await;
    c.cancel_task(&id).await.unwrap();

    let seen = poll_until_done(&c, &id).await;
    let done = seen.last().unwrap();
    assert_eq!(done["status"], "cancelled", "{done}");
    assert!(done.get("result").is_none(), "{done}");
    assert!(done["statusMessage"].as_str().unwrap().ends_with("; completed (stopped)"), "{done}");
    // Stopped as stop_execution stops: END ran and the map was printed.
    let r = c.finished(&id).await;
    assert_eq!(r["stop_reason"], "stopped", "{r}");
    let output = lines(&r);
    assert!(output.iter().any(|l| l == "END ran"), "{output:?}");
    assert!(output.iter().any(|l| l.starts_with("@ticks: ")), "{output:?}");

    let unknown = c.get_task("no-such-task").await.unwrap_err();
    assert!(unknown.contains("unknown execution id"), "{unknown}");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn other_clients_get_the_plain_result() {
    require_root();
    // Without the extension; and with it declared in `initialize` only,
    // before requests carried capabilities, as the MCP Inspector does while
    // reading any tools/call answer as a plain result.
    for (version, tasks) in [
        (ProtocolVersion::V_2025_11_25, false),
        (ProtocolVersion::V_2025_11_25, true),
        (ProtocolVersion::V_2026_07_28, false),
    ] {
        let c = if tasks {
            Client::start_with_tasks(version.clone()).await
        } else {
            Client::start_speaking(version.clone()).await
        };
        let program = "BEGIN { printf(\"hi\\n\"); exit(); }";
        let r = c.call_once("exec_program", json!({"program": program, "timeout": 5})).await;
        assert_ne!(r["resultType"], "task", "{version}: {r}");
        assert_eq!(r["structuredContent"]["status"], "success", "{version}: {r}");
        let id = r["structuredContent"]["execution_id"].as_str().unwrap().to_string();
        assert!(lines(&c.finished(&id).await).contains(&"hi".to_string()));
        if !tasks {
            // Task methods are for clients that declared the extension.
            let refused = c.get_task(&id).await.unwrap_err();
            assert!(refused.to_lowercase().contains("capabilit"), "{version}: {refused}");
        }
        c.close().await;
    }
}
