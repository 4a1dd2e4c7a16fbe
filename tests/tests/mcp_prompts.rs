//! The library's prompts through a real MCP client over stdio: listed with
//! their arguments, and their arguments checked. Each program's run against
//! the workload is in library_programs.rs.

use mcptrace_tests::{mcp::Client, require_root};
use rmcp::model::GetPromptRequestParams;
use serde_json::{Map, json};

#[tokio::test(flavor = "multi_thread")]
async fn prompts_are_listed_with_their_arguments() {
    require_root();
    let c = Client::start().await;
    let prompts = c.service.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    // The first five prompts keep their names as the library grows.
    for first in [
        "syscall_counts_by_process",
        "file_opens_by_pid",
        "read_size_histogram",
        "syscall_latency_by_pid",
        "cpu_profile_of_pid",
    ] {
        assert!(names.contains(&first), "{first} is gone: {names:?}");
    }
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
