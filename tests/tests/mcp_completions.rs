//! completion/complete through a real MCP client over stdio: the prompts'
//! arguments complete to this host's processes, the execution template's
//! `id` to the executions, and what has no values gets none.

use mcptrace_tests::{mcp::Client, require_root};
use rmcp::model::{CompletionInfo, ProtocolVersion};

#[tokio::test(flavor = "multi_thread")]
async fn prompt_arguments_complete_to_this_hosts_processes() {
    require_root();
    let c = Client::start().await;
    let complete = |prompt: &'static str, argument: &'static str, typed: String| {
        let peer = c.service.peer().clone();
        async move { peer.complete_prompt_argument(prompt, argument, typed, None).await.unwrap() }
    };

    // This test process is one of the server's host's processes.
    let own = std::process::id().to_string();
    let pids = complete("file_opens_by_pid", "pid", own.clone()).await;
    assert!(pids.values.contains(&own), "{pids:?}");
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap().trim_end().to_string();
    let comms = complete("read_size_histogram", "comm", comm.clone()).await;
    assert!(comms.values.contains(&comm), "{comms:?}");
    assert!(comms.values.iter().all(|v| v.starts_with(&comm)), "{comms:?}");
    let hz = complete("cpu_profile_of_pid", "hz", "9".into()).await;
    assert_eq!(hz.values, ["99", "999"]);

    // Nothing typed: every process, capped at 100 with the count.
    let all = complete("cpu_profile_of_pid", "pid", String::new()).await;
    let total = all.total.expect("a total") as usize;
    assert!(total > 1, "{all:?}");
    assert_eq!(all.values.len(), total.min(CompletionInfo::MAX_VALUES));
    assert_eq!(all.has_more, Some(total > CompletionInfo::MAX_VALUES));

    // An argument without values, or one the prompt lacks: an empty list.
    for (prompt, argument) in [("file_opens_by_pid", "nope"), ("syscall_counts_by_process", "pid")]
    {
        let none = complete(prompt, argument, String::new()).await;
        assert!(none.values.is_empty(), "{none:?}");
        assert_eq!((none.total, none.has_more), (Some(0), Some(false)));
    }
    // An unknown prompt is an invalid request.
    let err =
        c.service.peer().complete_prompt_argument("nope", "pid", "1", None).await.unwrap_err();
    assert!(err.to_string().contains("no library program named `nope`"), "{err}");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn execution_ids_complete_in_the_resource_template_in_each_revision() {
    require_root();
    for version in [
        ProtocolVersion::V_2025_06_18,
        ProtocolVersion::V_2025_11_25,
        ProtocolVersion::V_2026_07_28,
    ] {
        let c = Client::start_speaking(version.clone()).await;
        let templates = c.service.list_all_resource_templates().await.unwrap();
        let [template] = &templates[..] else { panic!("{templates:?}") };
        assert_eq!(template.uri_template, "mcptrace://executions/{id}");

        let id = c.exec("BEGIN { exit(); }", 5.0).await;
        let peer = c.service.peer();
        let ids = peer
            .complete_resource_argument(&template.uri_template, "id", &id[..4], None)
            .await
            .unwrap();
        assert_eq!(ids.values, [id], "{version}");
        let none = peer
            .complete_resource_argument(&template.uri_template, "other", "", None)
            .await
            .unwrap();
        assert!(none.values.is_empty(), "{version}: {none:?}");
        let err = peer
            .complete_resource_argument("mcptrace://nope/{x}", "x", "", None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no resource template"), "{version}: {err}");
        c.close().await;
    }
}
