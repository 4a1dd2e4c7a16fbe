//! Executions as resources through a real MCP client over stdio: tool
//! results link to them, and subscribers hear when one grows and when it
//! ends, through resources/subscribe (up to 2025-11-25) and through
//! subscriptions/listen (2026-07-28).

use std::time::Duration;

use mcptrace_tests::{mcp::Client, require_root};
use rmcp::{
    model::{
        ProtocolVersion, ReadResourceRequestParams, ResourceContents, ServerNotification,
        SubscriptionFilter,
    },
    service::SubscriptionEnd,
};
use serde_json::{Value, json};

const TICKS: &str = "interval:ms:50 { printf(\"tick\\n\"); }";
/// Notifications about one execution are at least this far apart.
const EVERY: Duration = Duration::from_millis(150);

fn uri(id: &str) -> String {
    format!("mcptrace://executions/{id}")
}

/// The resource links among a tool result's content items.
fn links(result: &Value) -> Vec<Value> {
    let content = result["content"].as_array().unwrap();
    content.iter().filter(|c| c["type"] == "resource_link").cloned().collect()
}

/// A resource's text and its `_meta`.
async fn read(c: &Client, uri: &str) -> (String, Value) {
    let read = c.service.read_resource(ReadResourceRequestParams::new(uri)).await.unwrap();
    let [ResourceContents::TextResourceContents { text, meta, .. }] = &read.contents[..] else {
        panic!("{read:?}")
    };
    (text.clone(), serde_json::to_value(meta).unwrap())
}

/// Most notifications `span` can hold at one per [`EVERY`], with one of
/// slack for an end and one for timing.
fn at_most(span: Duration) -> usize {
    (span.as_millis() / EVERY.as_millis()) as usize + 2
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_results_link_to_their_execution_from_2025_06_18_on() {
    require_root();
    for (version, linked) in [
        (ProtocolVersion::V_2025_03_26, false),
        (ProtocolVersion::V_2025_06_18, true),
        (ProtocolVersion::V_2025_11_25, true),
        (ProtocolVersion::V_2026_07_28, true),
    ] {
        let c = Client::start_speaking(version.clone()).await;
        let program = "BEGIN { printf(\"hi\\n\"); exit(); }";
        let started = c.call_result("exec_program", json!({ "program": program })).await.unwrap();
        let id = started["structuredContent"]["execution_id"].as_str().unwrap().to_string();
        c.finished(&id).await;
        let result = c.call_result("get_result", json!({ "execution_id": id })).await.unwrap();
        // exec_program's text is its structured content as JSON. A page of
        // output is that JSON too for clients without structured content;
        // from 2025-06-18 on it is the output under a summary line.
        let text = started["content"][0]["text"].as_str().unwrap();
        assert_eq!(serde_json::from_str::<Value>(text).unwrap(), started["structuredContent"]);
        let text = result["content"][0]["text"].as_str().unwrap();
        if linked {
            let expected =
                "completed (native); lines 0..4 of 4; ended: exit\nAttaching 1 probe...\nhi\n\n";
            assert_eq!(text, expected, "{version}");
        } else {
            assert_eq!(serde_json::from_str::<Value>(text).unwrap(), result["structuredContent"]);
        }
        for r in [&started, &result] {
            let found = links(r);
            if !linked {
                assert!(found.is_empty(), "{version}: {r}");
                continue;
            }
            let [link] = &found[..] else { panic!("{version}: {r}") };
            assert_eq!(link["uri"], uri(&id), "{version}");
            assert_eq!(link["mimeType"], "text/plain");
            assert_eq!(link["description"], format!("Output of: {program}"));
        }
        // The link's target reads as the output, with the status.
        let (text, meta) = read(&c, &uri(&id)).await;
        assert!(text.starts_with("Attaching 1 probe...\nhi\n"), "{version}: {text}");
        assert_eq!(meta["status"], "completed", "{version}: {meta}");
        c.close().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn running_executions_are_listed_and_readable_so_far() {
    require_root();
    let c = Client::start().await;
    let id = c.exec(TICKS, 30.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let listed = c.service.list_all_resources().await.unwrap();
    assert!(listed.iter().any(|r| r.uri == uri(&id)));
    let (text, meta) = read(&c, &uri(&id)).await;
    assert!(text.starts_with("Attaching 1 probe...\ntick"), "{text}");
    assert_eq!(meta["status"], "running", "{meta}");
    assert_eq!(meta["stop_reason"], Value::Null, "{meta}");
    assert_eq!(meta["lines_total"], text.lines().count(), "{meta}");
    c.call("stop_execution", json!({ "execution_id": id })).await.unwrap();
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribers_hear_growth_at_a_bounded_rate_until_they_unsubscribe() {
    require_root();
    let c = Client::start().await;
    let id = c.exec(TICKS, 30.0).await;
    let uri = uri(&id);
    c.subscribe(&uri).await.unwrap();
    // Twenty lines a second; notifications at most every 150 ms.
    let span = Duration::from_secs(1);
    tokio::time::sleep(span).await;
    let heard = c.updated();
    assert!(heard.len() >= 3 && heard.len() <= at_most(span), "{}: {heard:?}", heard.len());
    assert!(heard.iter().all(|u| *u == uri), "{heard:?}");

    c.unsubscribe(&uri).await.unwrap();
    // One may have been on its way.
    tokio::time::sleep(EVERY * 2).await;
    let after = c.updated().len();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(c.updated().len(), after, "notifications after unsubscribing");
    c.call("stop_execution", json!({ "execution_id": id })).await.unwrap();

    // Only executions this server knows can be subscribed to.
    let err = c.subscribe(&self::uri("nope")).await.unwrap_err();
    assert!(err.contains("no such execution"), "{err}");
    let err = c.subscribe("mcptrace://host").await.unwrap_err();
    assert!(err.contains("not an execution"), "{err}");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribers_hear_once_when_a_silent_execution_ends_then_nothing() {
    require_root();
    let c = Client::start().await;
    let id = c.exec("BEGIN { printf(\"hi\\n\"); }", 30.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.subscribe(&uri(&id)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.updated(), Vec::<String>::new(), "no growth, no notification");

    c.call("stop_execution", json!({ "execution_id": id })).await.unwrap();
    c.finished(&id).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let heard = c.updated();
    // Lines printed while stopping may come first; the end always does.
    assert!((1..=2).contains(&heard.len()), "{heard:?}");
    // Subscribing to an execution that has ended is accepted, and silent.
    c.subscribe(&uri(&id)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(c.updated(), heard);
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_2026_07_28_listen_stream_follows_an_execution_to_its_end() {
    require_root();
    let c = Client::start_speaking(ProtocolVersion::V_2026_07_28).await;
    // resources/subscribe is gone from this revision.
    let id = c.exec(&format!("{TICKS} interval:s:2 {{ exit(); }}"), 10.0).await;
    let err = c.subscribe(&uri(&id)).await.unwrap_err();
    assert!(err.contains("-32601"), "not method-not-found: {err}");

    let filter = SubscriptionFilter::builder()
        .resource_subscription(uri(&id))
        .resource_subscription(uri("nope"))
        .build();
    let mut stream = c.service.peer().listen(filter).await.unwrap();
    // Only the execution the server knows is followed.
    assert_eq!(stream.acknowledged().resource_subscriptions, Some(vec![uri(&id)]));
    let started = std::time::Instant::now();
    let mut heard = 0;
    while let Some(n) = stream.next().await.unwrap() {
        let ServerNotification::ResourceUpdatedNotification(n) = n else { panic!("{n:?}") };
        assert_eq!(n.params.uri, uri(&id));
        heard += 1;
    }
    // The stream ends by itself once the execution has ended.
    assert!(matches!(stream.end(), Some(SubscriptionEnd::Graceful(_))), "{:?}", stream.end());
    let (_, meta) = read(&c, &uri(&id)).await;
    assert_eq!(meta["status"], "completed", "{meta}");
    assert!(heard >= 5 && heard <= at_most(started.elapsed()), "{heard}");
    c.close().await;
}
