//! validate_program through a real MCP client over stdio, against the real
//! kernel: verdicts, positions, warnings, and agreement with `mcptrace plan`.

use mcptrace_tests::{
    mcp::{Client, attachments_of},
    require_root, target_bin,
};
use serde_json::{Value, json};

async fn validate(c: &Client, program: &str) -> Value {
    c.call("validate_program", json!({ "program": program })).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_program_reports_backend_and_expanded_probes_and_runs_nothing() {
    require_root();
    let c = Client::start().await;
    let program = "tracepoint:syscalls:sys_enter_open* { @[comm] = count(); }";
    let v = validate(&c, program).await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["errors"], json!([]));
    assert_eq!(v["warnings"], json!([]), "{v}");
    assert_eq!(v["backend"], "native");
    assert_eq!(v["backend_reason"], "every construct runs natively");
    let probes: Vec<&str> =
        v["probes"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert!(probes.contains(&"tracepoint:syscalls:sys_enter_openat"), "{v}");
    assert!(probes.iter().all(|p| p.starts_with("tracepoint:syscalls:sys_enter_open")), "{v}");
    assert_eq!(v["probe_count"], probes.len());
    assert!(probes.len() >= 2, "{v}");
    assert_eq!(attachments_of(c.server_pid), 0, "validation attached programs");

    // The same verdict `mcptrace plan` prints: one piece of code serves both.
    let out = std::process::Command::new(target_bin("mcptrace"))
        .args(["plan", "--json", "-e", program])
        .output()
        .unwrap();
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["backend"], v["backend"]);
    assert_eq!(plan["attach_points"], v["probes"]);
    assert_eq!(plan["attach_count"], v["probe_count"]);
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_carry_line_column_and_a_caret_excerpt() {
    require_root();
    let c = Client::start().await;
    let syntax = validate(&c, "BEGIN { printf(\"x\" }").await;
    assert_eq!(syntax["valid"], false);
    assert!(syntax.get("backend").is_none(), "{syntax}");
    let e = &syntax["errors"][0];
    assert_eq!((e["line"].as_u64(), e["column"].as_u64()), (Some(1), Some(20)), "{syntax}");
    assert!(e["message"].as_str().unwrap().contains("syntax error"), "{e}");
    assert_eq!(e["excerpt"], "BEGIN { printf(\"x\" }\n                   ^");

    let semantic = validate(
        &c,
        "BEGIN { @n = 1; }\ntracepoint:syscalls:sys_enter_openat { printf(\"%s\\n\", str(args->nosuch)); }",
    )
    .await;
    assert_eq!(semantic["valid"], false);
    let e = &semantic["errors"][0];
    assert_eq!(e["line"], 2, "{semantic}");
    assert!(e["message"].as_str().unwrap().contains("no field `nosuch`"), "{e}");
    let excerpt = e["excerpt"].as_str().unwrap();
    let (line, caret) = excerpt.split_once('\n').unwrap();
    assert!(line.starts_with("tracepoint:syscalls:sys_enter_openat"), "{excerpt}");
    let col = e["column"].as_u64().unwrap() as usize;
    assert_eq!(caret.find('^'), Some(col - 1), "{excerpt}");
    assert!(line[col - 1..].starts_with("args"), "{excerpt}");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unfiltered_high_rate_probes_that_print_are_warned_about() {
    require_root();
    let c = Client::start().await;
    let raw = validate(&c, "tracepoint:raw_syscalls:sys_enter { printf(\"%d\\n\", pid); }").await;
    assert_eq!(raw["valid"], true, "{raw}");
    let w = &raw["warnings"][0];
    assert!(w["message"].as_str().unwrap().contains("without a predicate"), "{raw}");
    assert_eq!((w["line"].as_u64(), w["column"].as_u64()), (Some(1), Some(1)));

    let wide = validate(&c, "t:syscalls:sys_enter_* { printf(\"%s\\n\", comm); }").await;
    let message = wide["warnings"][0]["message"].as_str().unwrap();
    assert!(message.contains(&format!("stands for {} probes", wide["probe_count"])), "{wide}");

    // A predicate, or an aggregation instead of printing, is fine.
    for quiet in [
        "tracepoint:raw_syscalls:sys_enter /pid == 1/ { printf(\"%d\\n\", pid); }",
        "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }",
    ] {
        assert_eq!(validate(&c, quiet).await["warnings"], json!([]), "{quiet}");
    }
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fallback_names_bpftrace_and_the_construct() {
    require_root();
    let c = Client::start().await;
    let v = validate(&c, "BEGIN { print(curtask->pid); }").await;
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["backend"], "bpftrace");
    assert!(v["backend_reason"].as_str().unwrap().contains("`curtask` in BEGIN"), "{v}");
    assert_eq!(v["probes"], json!(["BEGIN"]));
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_policy_and_size_limit_apply() {
    require_root();
    let c = Client::start().await;
    let v = validate(&c, "BEGIN { system(\"id\"); }").await;
    assert_eq!(v["valid"], false, "{v}");
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("unsafe"), "{v}");
    let huge = format!("BEGIN {{ {} }}", "$x = 1; ".repeat(10_000));
    let v = validate(&c, &huge).await;
    assert_eq!(v["valid"], false, "{v}");
    assert!(v["errors"][0]["message"].as_str().unwrap().contains("the limit is 65536"), "{v}");
    c.close().await;
    let unsafe_ok = Client::start_with(&["--allow-unsafe"], None).await;
    assert_eq!(validate(&unsafe_ok, "BEGIN { system(\"id\"); }").await["valid"], true);
    unsafe_ok.close().await;
}
