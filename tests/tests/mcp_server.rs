//! The MCP server driven by a real MCP client over stdio, against the real
//! kernel and the real bpftrace: every tool, the limits, the error paths,
//! graceful stops, and nothing left behind.

use mcptrace::host::features;
use mcptrace_tests::{
    HeldWorkload,
    mcp::{Client, attachments_of, children_of, lines, settle},
    require_root,
};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn tools_and_a_first_native_trace() {
    require_root();
    let c = Client::start().await;
    let mut names = c.tool_names().await;
    names.sort();
    assert_eq!(
        names,
        [
            "exec_program",
            "find_programs",
            "get_result",
            "host_info",
            "list_executions",
            "list_helpers",
            "list_probes",
            "probe_info",
            "stop_execution",
            "validate_program"
        ]
    );
    // Titles and hints: what clients decide auto-approval from.
    let tools = c.tools().await;
    let tool = |n: &str| tools.iter().find(|t| t["name"] == n).unwrap().clone();
    for name in names {
        let t = tool(&name);
        assert!(t["title"].as_str().is_some_and(|s| !s.is_empty()), "{t}");
        assert_eq!(t["annotations"]["title"], t["title"], "{t}");
        assert_eq!(t["annotations"]["openWorldHint"], false, "{t}");
        let read_only = !["exec_program", "stop_execution"].contains(&name.as_str());
        assert_eq!(t["annotations"]["readOnlyHint"], read_only, "{t}");
    }
    assert_eq!(tool("exec_program")["annotations"]["destructiveHint"], false);
    assert_eq!(tool("stop_execution")["annotations"]["idempotentHint"], true);
    let id = c.exec(r#"BEGIN { printf("hello %d\n", 42); exit(); }"#, 5.0).await;
    let r = c.finished(&id).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["backend"], "native");
    assert_eq!(r["stop_reason"], "exit");
    assert_eq!(lines(&r)[..2], ["Attaching 1 probe...", "hello 42"]);
    let listed = c.call("list_executions", json!({})).await.unwrap();
    assert!(listed["executions"].as_array().unwrap().iter().any(|e| e["execution_id"] == id));
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_come_back_at_once_with_positions() {
    require_root();
    let c = Client::start().await;
    // A refused program is a tool error (`isError`) that keeps the design's
    // `status` and `message`.
    let syntax =
        c.call_result("exec_program", json!({"program": "BEGIN { printf(\"x\" }"})).await.unwrap();
    assert_eq!(syntax["isError"], true, "{syntax}");
    assert_eq!(syntax["structuredContent"]["status"], "error", "{syntax}");
    let message = syntax["structuredContent"]["message"].as_str().unwrap();
    assert!(message.contains("stdin:1:") && message.contains('^'), "{message}");
    let unknown = c
        .call("exec_program", json!({"program": "tracepoint:nosuch:probe { }"}))
        .await
        .unwrap_err();
    assert!(unknown.contains("nosuch"), "{unknown}");
    // A probe kind the kernel lacks is refused at once with an equivalent.
    if !features::get().kprobe.is_yes() {
        let kprobe = c
            .call("exec_program", json!({"program": "kprobe:do_sys_openat2 { }"}))
            .await
            .unwrap_err();
        assert!(kprobe.contains("tracepoint:syscalls:sys_enter_openat"), "{kprobe}");
    }
    // Unknown ids and arguments that do not fit the tool's schema are tool
    // errors too (rmcp reports the latter so); the server lives on.
    for (args, says) in [
        (json!({"execution_id": "nope"}), "unknown execution id"),
        (json!({"offset": 3}), "missing field `execution_id`"),
        (json!({"execution_id": 5}), "invalid type"),
    ] {
        let r = c.call_result("get_result", args).await.unwrap();
        assert_eq!(r["isError"], true, "{r}");
        assert!(r["content"][0]["text"].as_str().unwrap().contains(says), "{r}");
    }
    let id = c.exec("BEGIN { exit(); }", 2.0).await;
    assert_eq!(c.finished(&id).await["status"], "completed");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn time_limits_end_gracefully_with_maps_and_clamp() {
    require_root();
    let c = Client::start().await;
    let held = HeldWorkload::spawn(&["getpid", "7"]);
    let program = format!(
        "tracepoint:syscalls:sys_enter_getpid /pid == {}/ {{ @calls = count(); }}",
        held.pid()
    );
    // 0.2 s clamps to the 1 s minimum.
    let id = c.exec(&program, 0.2).await;
    held.go();
    let r = c.finished(&id).await;
    assert_eq!(r["stop_reason"], "time_limit", "{r}");
    assert!(lines(&r).contains(&"@calls: 7".to_string()), "{r}");
    assert!(r["elapsed_seconds"].as_f64().unwrap() >= 1.0, "{r}");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fallback_runs_bpftrace_and_says_why() {
    require_root();
    let c = Client::start().await;
    let r = c
        .call(
            "exec_program",
            json!({"program": "BEGIN { $x = 7; printf(\"%d\\n\", $x); @p = curtask->pid; exit(); }"}),
        )
        .await
        .unwrap();
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["backend"], "bpftrace");
    assert!(r["backend_reason"].as_str().unwrap().contains("`curtask` in BEGIN or END"), "{r}");
    let out = c.finished(r["execution_id"].as_str().unwrap()).await;
    assert_eq!(out["status"], "completed", "{out}");
    assert!(lines(&out).contains(&"7".to_string()), "{out}");
    c.close().await;
}

/// `backend` in exec_program: bpftrace on request for a program that would
/// run natively; native on request, or an error with the reason it cannot.
#[tokio::test(flavor = "multi_thread")]
async fn the_caller_may_choose_the_backend() {
    require_root();
    let c = Client::start().await;
    let native = r#"BEGIN { printf("hi\n"); exit(); }"#;
    let mut outputs = Vec::new();
    for backend in ["bpftrace", "native", "auto"] {
        let r =
            c.call("exec_program", json!({"program": native, "backend": backend})).await.unwrap();
        let ran = if backend == "bpftrace" { "bpftrace" } else { "native" };
        assert_eq!(r["backend"], ran, "{backend}: {r}");
        let out = c.finished(r["execution_id"].as_str().unwrap()).await;
        assert!(lines(&out).contains(&"hi".to_string()), "{backend}: {out}");
        outputs.push(lines(&out));
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]), "one output whatever runs it: {outputs:?}");
    let not_native = "BEGIN { print(curtask->pid); exit(); }";
    let refused = c
        .call("exec_program", json!({"program": not_native, "backend": "native"}))
        .await
        .unwrap_err();
    assert!(refused.contains("curtask"), "the reason it cannot run natively: {refused}");
    let bad = c.call("exec_program", json!({"program": native, "backend": "fast"})).await;
    assert!(bad.unwrap_err().contains("fast"), "an unknown backend is named");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_offsets_and_the_line_cap() {
    require_root();
    let c = Client::start().await;
    let held = HeldWorkload::spawn(&["getpid", "12000"]);
    let program = format!(
        "tracepoint:syscalls:sys_enter_getpid /pid == {}/ {{ printf(\"%d\\n\", nsecs); }}",
        held.pid()
    );
    let id = c.exec(&program, 30.0).await;
    held.go();
    let r = c.finished(&id).await;
    assert_eq!(r["truncated"], true, "{}", r["stop_reason"]);
    assert_eq!(r["stop_reason"], "buffer_full");
    assert_eq!(r["lines_total"], 10_000);
    let page = c
        .call("get_result", json!({"execution_id": id, "offset": 9990, "limit": 50}))
        .await
        .unwrap();
    assert_eq!(
        (page["lines_returned"].clone(), page["has_more"].clone()),
        (json!(10), json!(false))
    );
    let past = c.call("get_result", json!({"execution_id": id, "offset": 1_000_000})).await;
    assert!(past.unwrap_err().contains("past the end of the output (10000 lines"));
    let first = c.call("get_result", json!({"execution_id": id, "limit": 3})).await.unwrap();
    assert_eq!(
        (first["lines_returned"].clone(), first["has_more"].clone()),
        (json!(3), json!(true))
    );
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn five_run_at_once_and_stop_is_graceful_and_leaves_nothing() {
    require_root();
    let c = Client::start().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        // Natively and through bpftrace.
        let program =
            "tracepoint:syscalls:sys_enter_getpid { @n = count(); } END { printf(\"end\\n\"); }";
        let backend = if i % 2 == 0 { "native" } else { "bpftrace" };
        ids.push(c.exec_on(backend, program, 60.0).await);
    }
    let sixth = c.call("exec_program", json!({"program": "BEGIN { exit(); }"})).await.unwrap_err();
    assert!(sixth.contains("already running"), "{sixth}");
    assert!(attachments_of(c.server_pid) > 0, "native executions hold attachments");
    for id in &ids {
        let r = c.call("stop_execution", json!({"execution_id": id})).await.unwrap();
        assert_eq!(r["status"], "completed", "{r}");
        assert_eq!(r["stop_reason"], "stopped");
        let out = lines(&r);
        assert!(out.contains(&"end".to_string()), "END ran: {out:?}");
        assert!(out.iter().any(|l| l.starts_with("@n: ")), "maps printed: {out:?}");
    }
    settle(c.server_pid).await;
    assert_eq!(attachments_of(c.server_pid), 0, "no BPF program left attached");
    assert_eq!(children_of(c.server_pid), Vec::<u32>::new(), "no bpftrace left running");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_and_helpers() {
    require_root();
    let c = Client::start().await;
    let page = c.call("list_probes", json!({"filter": "syscalls:sys_enter_open*"})).await.unwrap();
    // The design's shape: `probes` is a list of names.
    let names: Vec<&str> =
        page["probes"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(page.get("details").is_none(), "details only when verbose: {page}");
    assert!(names.contains(&"tracepoint:syscalls:sys_enter_openat"), "{names:?}");
    assert!(names.iter().all(|n| n.contains("sys_enter_open")), "{names:?}");
    let verbose = c
        .call(
            "list_probes",
            json!({"filter": "tracepoint:syscalls:sys_enter_openat", "verbose": true}),
        )
        .await
        .unwrap();
    assert_eq!(verbose["probes"], json!(["tracepoint:syscalls:sys_enter_openat"]));
    let args = verbose["details"]["tracepoint:syscalls:sys_enter_openat"].as_array().unwrap();
    assert!(args.iter().any(|a| a == "const char * filename"), "{args:?}");
    let all = c.call("list_probes", json!({"limit": 10})).await.unwrap();
    assert_eq!(all["probes"].as_array().unwrap().len(), 10);
    assert_eq!(all["has_more"], true);
    assert!(all["total"].as_u64().unwrap() > 1000);
    let bin = c.call("list_probes", json!({"filter": "uprobe:/bin/bash:readline*"})).await.unwrap();
    assert!(
        bin["probes"].as_array().unwrap().iter().any(|p| p == "uprobe:/bin/bash:readline"),
        "{bin}"
    );
    let kernel = c.call("list_probes", json!({"filter": "kprobe:vfs_read"})).await.unwrap();
    assert_eq!(kernel["probes"][0], "kprobe:vfs_read", "{kernel}");
    // Where kprobes cannot attach, the listing says so.
    let notes = kernel["notes"].as_array().map_or(0, Vec::len);
    assert_eq!(notes > 0, !features::get().kprobe.is_yes(), "{kernel}");
    let helpers = c.call("list_helpers", json!({})).await.unwrap();
    let helpers = helpers["helpers"].as_array().unwrap();
    let find = |n: &str| helpers.iter().find(|h| h["name"] == n).unwrap_or_else(|| panic!("{n}"));
    assert_eq!(find("count")["native"], true);
    assert_eq!(find("system")["native"], false);
    assert_eq!(find("system")["unsafe"], true);
    assert_eq!(find("comm")["value"], "string");
    assert_eq!(find("hist")["value"], "aggregation");
    assert_eq!(find("printf")["value"], "nothing");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_privileges_the_server_answers_and_names_what_is_missing() {
    require_root();
    let c = Client::start_with(&[], Some(65534)).await;
    let helpers = c.call("list_helpers", json!({})).await.unwrap();
    assert!(!helpers["helpers"].as_array().unwrap().is_empty());
    let message =
        c.call("exec_program", json!({"program": "BEGIN { exit(); }"})).await.unwrap_err();
    assert!(message.contains("CAP_BPF") && message.contains("CAP_PERFMON"), "{message}");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bpftrace_is_a_clear_error_and_native_runs_on() {
    require_root();
    let c = Client::start_with(&["--bpftrace", "/nonexistent/bpftrace"], None).await;
    let message = c
        .call("exec_program", json!({"program": "BEGIN { exit(); }", "backend": "bpftrace"}))
        .await
        .unwrap_err();
    assert!(message.contains("cannot run bpftrace (/nonexistent/bpftrace)"), "{message}");
    let id = c.exec("BEGIN { exit(); }", 2.0).await;
    assert_eq!(c.finished(&id).await["status"], "completed");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bpftrace_run_stopped_at_once_still_ends_gracefully() {
    require_root();
    let c = Client::start().await;
    // bpftrace 0.17 ignores a SIGINT that comes right after it says it is
    // attaching; the stop must still end it gracefully, with END run.
    let program = "interval:s:30 { } END { $x = 1; $x++; $x++; printf(\"end %d\\n\", $x); }";
    let id = c.exec_on("bpftrace", program, 30.0).await;
    let r = c.call("stop_execution", json!({"execution_id": id})).await.unwrap();
    let r = if r["status"] == "running" { c.finished(&id).await } else { r };
    assert_eq!((&r["backend"], &r["status"]), (&json!("bpftrace"), &json!("completed")), "{r}");
    assert_eq!(r["stop_reason"], "stopped", "{r}");
    assert!(lines(&r).contains(&"end 3".to_string()), "{r}");
    c.close().await;
}
