//! get_result returns maps, histograms and stats as data — bpftrace's
//! `-f json` records — from both backends alike, through a real MCP client
//! over stdio; the bpftrace backend's text is rendered from its records.

use mcptrace_tests::{HeldWorkload, WORKLOAD_COMM, mcp::Client, require_root};
use serde_json::{Value, json};

/// Runs `program` (with `{pid}` filled in) while a workload calls getpid 10
/// times; returns the backend, the output lines and the records.
async fn run(c: &Client, program: &str, backend: &str) -> (Value, Vec<Value>, Vec<Value>) {
    let held = HeldWorkload::spawn(&["getpid", "10"]);
    let program = program.replace("{pid}", &held.pid().to_string());
    let id = c.exec_on(backend, &program, 30.0).await;
    held.go();
    c.call("stop_execution", json!({ "execution_id": id })).await.unwrap();
    let r = c.finished(&id).await;
    assert_eq!(r["status"], "completed", "{r}");
    let mut records = r["records"].as_array().unwrap().clone();
    records.sort_by_key(Value::to_string);
    (r["backend"].clone(), r["output"].as_array().unwrap().clone(), records)
}

#[tokio::test(flavor = "multi_thread")]
async fn both_backends_return_the_same_records_and_text() {
    require_root();
    let c = Client::start().await;
    let enter = "tracepoint:syscalls:sys_enter_getpid /pid == {pid}/ { @calls[comm] = count(); \
                 @h = hist(7); @l = lhist(3, 0, 10, 2); @s = stats(5);";
    let exit = "tracepoint:syscalls:sys_exit_getpid /pid == {pid}/ { @a = avg(4); }";
    let program = format!("{enter} }} {exit}");
    let (native_backend, native_text, native_records) = run(&c, &program, "native").await;
    let (fallback_backend, fallback_text, fallback_records) = run(&c, &program, "bpftrace").await;
    assert_eq!((native_backend, fallback_backend), (json!("native"), json!("bpftrace")));

    let mut expected = vec![
        json!({"type": "map", "data": {"@calls": {WORKLOAD_COMM: 10}}}),
        json!({"type": "hist", "data": {"@h": [{"min": 4, "max": 7, "count": 10}]}}),
        json!({"type": "hist", "data": {"@l": [{"min": 2, "max": 3, "count": 10}]}}),
        json!({"type": "stats", "data": {"@s": {"count": 10, "average": 5, "total": 50}}}),
        json!({"type": "stats", "data": {"@a": 4}}),
    ];
    expected.sort_by_key(Value::to_string);
    assert_eq!(native_records, expected);
    assert_eq!(fallback_records, expected, "{fallback_text:?}");
    assert_eq!(native_text, fallback_text);
    assert!(native_text.contains(&json!("@s: count 10, average 5, total 50")), "{native_text:?}");
    c.close().await;
}
