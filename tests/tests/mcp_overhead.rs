//! The overhead guard: an execution whose probes cost more than the budget
//! (5 % of one CPU) is stopped gracefully with `overhead_budget`, its maps
//! printed and nothing left attached; a cheap one runs on, its cost shown.

use mcptrace_tests::{
    mcp::{Client, attachments_of, children_of, lines, settle},
    native_only, require_root, workload,
};
use serde_json::json;

/// Runs `program` on a hot probe while a process makes getpid() calls as
/// fast as it can: the guard must stop it.
async fn flood_is_stopped(c: &Client, program: &str, backend: &str) {
    let mut flood = workload().args(["getpid", "1000000000"]).spawn().expect("spawn the workload");
    let id = c.exec_on(backend, program, 30.0).await;
    let r = c.finished(&id).await;
    let _ = flood.kill();
    let _ = flood.wait();
    assert_eq!(r["backend"], backend, "{r}");
    assert_eq!(r["stop_reason"], "overhead_budget", "{r}");
    assert!(r["probe_cpu_percent"].as_f64().unwrap() > 5.0, "{r}");
    assert!(r["elapsed_seconds"].as_f64().unwrap() < 20.0, "stopped late: {r}");
    assert!(lines(&r).iter().any(|l| l.starts_with("@[")), "maps printed: {r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_on_a_hot_probe_is_stopped_at_the_budget() {
    require_root();
    let c = Client::start().await;
    let info = c.call("host_info", json!({})).await.unwrap();
    assert_eq!(info["overhead_guard"]["budget_cpu_percent"], 5.0, "{info}");
    assert_eq!(info["overhead_guard"]["measuring"]["available"], true, "{info}");
    flood_is_stopped(&c, "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }", "native")
        .await;
    if !native_only() {
        let program = "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }";
        flood_is_stopped(&c, program, "bpftrace").await;
    }
    settle(c.server_pid).await;
    assert_eq!(attachments_of(c.server_pid), 0, "an attachment was left");
    assert!(children_of(c.server_pid).is_empty(), "bpftrace was left running");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cheap_program_runs_on_with_its_cost_shown() {
    require_root();
    let c = Client::start().await;
    // Not getpid: the flood of the other test would make it expensive.
    let id = c.exec("tracepoint:syscalls:sys_enter_execve { @n = count(); }", 3.0).await;
    let r = c.finished(&id).await;
    assert_eq!(r["stop_reason"], "time_limit", "{r}");
    let cost = r["probe_cpu_percent"].as_f64().expect("a measured cost");
    assert!((0.0..5.0).contains(&cost), "{r}");
    c.close().await;
}
