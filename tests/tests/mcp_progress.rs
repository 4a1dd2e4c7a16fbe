//! Progress notifications for running executions, and finished executions
//! as MCP resources, through a real MCP client over stdio.

use std::time::Duration;

use mcptrace_tests::{
    mcp::{Client, lines},
    require_root,
};
use rmcp::model::{ReadResourceRequestParams, ResourceContents};

#[tokio::test(flavor = "multi_thread")]
async fn progress_reports_follow_an_execution_until_it_ends() {
    require_root();
    let c = Client::start().await;
    // The rmcp client puts a progress token on every request it sends.
    let id =
        c.exec("interval:ms:100 { printf(\"tick\\n\"); } interval:s:3 { exit(); }", 10.0).await;
    let r = c.finished(&id).await;
    assert_eq!(r["stop_reason"], "exit", "{r}");
    let mut reports = c.progress();
    for _ in 0..100 {
        if reports
            .last()
            .and_then(|p| p.message.as_deref())
            .is_some_and(|m| m.contains("completed"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        reports = c.progress();
    }
    let last = reports.last().expect("no progress notification arrived");
    assert_eq!(
        last.message.as_deref().unwrap(),
        format!(
            "{} lines buffered, 0 events lost (native backend); completed (exit)",
            r["lines_total"]
        )
    );
    assert_eq!(last.progress, r["elapsed_seconds"].as_f64().unwrap());
    assert!(reports.iter().all(|p| p.progress_token == last.progress_token));
    assert!(reports.windows(2).all(|w| w[0].progress < w[1].progress), "{reports:?}");
    let shape =
        regex::Regex::new(r"^\d+ lines buffered, \d+ events lost \(native backend\)$").unwrap();
    let running: Vec<_> = reports[..reports.len() - 1].iter().collect();
    assert!(!running.is_empty(), "only the final report came: {reports:?}");
    assert!(running.iter().all(|p| shape.is_match(p.message.as_deref().unwrap())), "{reports:?}");
    // Nothing more once it has ended.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(c.progress().len(), reports.len());
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn finished_executions_are_resources_with_their_output() {
    require_root();
    let c = Client::start().await;
    let id = c.exec("BEGIN { printf(\"a\\nb\\n\"); exit(); }", 5.0).await;
    let r = c.finished(&id).await;
    let uri = format!("mcptrace://executions/{id}");
    let listed = c.service.list_all_resources().await.unwrap();
    let resource = listed.iter().find(|res| res.uri == uri).expect("execution not listed");
    assert_eq!(resource.mime_type.as_deref(), Some("text/plain"));
    let read = c.service.read_resource(ReadResourceRequestParams::new(&uri)).await.unwrap();
    let [ResourceContents::TextResourceContents { text, uri: got, .. }] = &read.contents[..] else {
        panic!("{read:?}")
    };
    assert_eq!(got, &uri);
    assert_eq!(text, &lines(&r).join("\n"));
    assert!(text.starts_with("Attaching 1 probe...\na\nb\n"), "{text}");

    // Unknown executions are not resources (running ones are: see
    // mcp_resources.rs).
    let err =
        c.service.read_resource(ReadResourceRequestParams::new("mcptrace://executions/nope")).await;
    assert!(err.unwrap_err().to_string().contains("no such execution"));
    c.close().await;
}
