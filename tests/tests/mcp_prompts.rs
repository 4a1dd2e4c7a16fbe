//! The one-liner prompts through a real MCP client over stdio: listed with
//! their arguments, rendered, planned to the native backend, and run against
//! a workload whose effect each one must show.

use mcptrace_tests::{
    HeldWorkload, WORKLOAD_COMM,
    mcp::{Client, lines},
    require_root, unique_path,
};
use rmcp::model::{ContentBlock, GetPromptRequestParams};
use serde_json::{Map, Value, json};

/// The program in a rendered prompt's fenced block.
async fn program(c: &Client, name: &str, args: Value) -> String {
    let Value::Object(args) = args else { panic!("arguments must be an object") };
    let mut request = GetPromptRequestParams::new(name);
    request.arguments = Some(args);
    let result = c.service.get_prompt(request).await.expect("prompts/get");
    let [message] = &result.messages[..] else { panic!("{result:?}") };
    let ContentBlock::Text(text) = &message.content else { panic!("{message:?}") };
    let (_, rest) = text.text.split_once("```\n").expect("a fenced program");
    rest.split_once("\n```").expect("a closed fence").0.to_string()
}

/// Validates `program` (it must plan natively), runs it while `workload`
/// does its operations, stops it, and returns its output.
async fn run(c: &Client, program: &str, workload: HeldWorkload) -> Vec<String> {
    let v = c.call("validate_program", json!({ "program": program })).await.unwrap();
    assert_eq!((&v["valid"], &v["backend"]), (&json!(true), &json!("native")), "{program}: {v}");
    let id = c.exec(program, 30.0).await;
    workload.go();
    c.call("stop_execution", json!({ "execution_id": id })).await.unwrap();
    let r = c.finished(&id).await;
    assert_eq!((&r["status"], &r["backend"]), (&json!("completed"), &json!("native")), "{r}");
    lines(&r)
}

#[tokio::test(flavor = "multi_thread")]
async fn prompts_are_listed_with_their_arguments() {
    require_root();
    let c = Client::start().await;
    let prompts = c.service.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "syscall_counts_by_process",
            "file_opens_by_pid",
            "read_size_histogram",
            "syscall_latency_by_pid",
            "cpu_profile_of_pid"
        ]
    );
    let profile = prompts.iter().find(|p| p.name == "cpu_profile_of_pid").unwrap();
    let args: Vec<(&str, Option<bool>)> =
        profile.arguments.iter().flatten().map(|a| (a.name.as_str(), a.required)).collect();
    assert_eq!(args, [("pid", Some(true)), ("hz", Some(false))]);
    // Arguments are checked before they reach the program.
    let mut bad = GetPromptRequestParams::new("file_opens_by_pid");
    bad.arguments = Some(Map::from_iter([("pid".to_string(), json!("1/ { exit(); } /1"))]));
    let err = c.service.get_prompt(bad).await.unwrap_err().to_string();
    assert!(err.contains("is not a process id"), "{err}");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_prompt_runs_natively_and_sees_its_workload() {
    require_root();
    let c = Client::start().await;

    let counts = program(&c, "syscall_counts_by_process", json!({})).await;
    let out = run(&c, &counts, HeldWorkload::spawn(&["getpid", "500"])).await;
    let line = out.iter().find(|l| l.starts_with(&format!("@syscalls[{WORKLOAD_COMM}]: ")));
    let n: u64 =
        line.expect("no count for the workload").rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 500, "{out:?}");

    let path = unique_path("prompt-open");
    let w = HeldWorkload::spawn(&["open", path.to_str().unwrap(), "3"]);
    let opens = program(&c, "file_opens_by_pid", json!({ "pid": w.pid().to_string() })).await;
    let out = run(&c, &opens, w).await;
    let expected = format!("{WORKLOAD_COMM} {} flags=0", path.display());
    assert_eq!(out.iter().filter(|l| **l == expected).count(), 3, "{out:?}");

    let reads = program(&c, "read_size_histogram", json!({ "comm": WORKLOAD_COMM })).await;
    let out = run(&c, &reads, HeldWorkload::spawn(&["read", "5", "4096"])).await;
    let bucket = regex::Regex::new(r"^\[4K, 8K\)\s+5 \|@+\|$").unwrap();
    assert!(out.iter().any(|l| bucket.is_match(l)), "{out:?}");

    let w = HeldWorkload::spawn(&["getpid", "20"]);
    let latency = program(&c, "syscall_latency_by_pid", json!({ "pid": w.pid() })).await;
    let out = run(&c, &latency, w).await;
    assert!(out.contains(&format!("@usecs[{}]: ", libc::SYS_getpid)), "{out:?}");

    let w = HeldWorkload::spawn(&["spin", "300"]);
    let profile = program(&c, "cpu_profile_of_pid", json!({ "pid": w.pid(), "hz": "199" })).await;
    assert!(profile.starts_with("profile:hz:199 "), "{profile}");
    let out = run(&c, &profile, w).await;
    assert!(out.iter().any(|l| l.starts_with("@stacks[")), "{out:?}");
    c.close().await;
}
