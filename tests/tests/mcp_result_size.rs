//! What a large get_result costs a client's context, in bytes of the whole
//! result, for a client without structured content (2025-03-26: the text
//! is the page as JSON, the only copy) and one with it (2025-06-18 on: the
//! text is the output under a summary line, the records only in structured
//! content). The sizes are printed for the closing notes.

use mcptrace_tests::{
    HeldWorkload,
    mcp::{Client, lines},
    require_root,
};
use regex::Regex;
use rmcp::model::ProtocolVersion;
use serde_json::{Value, json};

/// A program's text for a workload's pid.
type Program = dyn Fn(u32) -> String;

/// The first page of the output of `program` (made for a workload's pid;
/// the workload does 9,000 short sleeps once the program is attached, and
/// the execution is stopped once it is done) as a client of `version` reads
/// it: the bytes of the whole tools/call result and of its text part, and
/// its structured content. The overhead guard is set out of the way: the
/// run time the kernel counts is the clock's time from a program's start to
/// its end, interrupts (and preemption, where the program can be
/// preempted) included, so on a busy machine 9,000 hits in well under a
/// second can pass the default budget and be stopped part-way, which is not
/// what this test measures.
async fn sizes(program: &Program, page: u64, version: ProtocolVersion) -> (usize, usize, Value) {
    let policy = mcptrace_tests::unique_path("result-size-policy");
    std::fs::write(&policy, "[limits]\nmax_probe_cpu_percent = 100.0\n").unwrap();
    let c = Client::start_speaking_with(version, &["--policy", policy.to_str().unwrap()]).await;
    let held = HeldWorkload::spawn(&["usleep", "9000", "20"]);
    let id = c.exec(&program(held.pid()), 30.0).await;
    held.go();
    c.call("stop_execution", json!({"execution_id": id})).await.unwrap();
    c.finished(&id).await;
    let r = c.call_result("get_result", json!({"execution_id": id, "limit": page})).await.unwrap();
    c.close().await;
    let text = r["content"][0]["text"].as_str().unwrap().len();
    (serde_json::to_string(&r).unwrap().len(), text, r["structuredContent"].clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_page_costs_less_where_the_client_takes_structured_content() {
    require_root();
    let page = |_| {
        "BEGIN { for ($i : 0..1000) { printf(\"line %d of a page of output\\n\", $i); } exit(); }"
            .to_string()
    };
    let map = |pid| {
        format!(
            "tracepoint:syscalls:sys_enter_clock_nanosleep /pid == {pid}/ {{ @[nsecs] = count(); }}"
        )
    };
    let dropped = Regex::new(r"^WARNING: (\d+) map updates were dropped").unwrap();
    let cases: [(&str, &Program, u64); 2] =
        [("1000-line page", &page, 1000), ("9,000-key map", &map, 10_000)];
    let mut report = Vec::new();
    for (what, program, limit) in cases {
        let (json_total, json_text, full) =
            sizes(program, limit, ProtocolVersion::V_2025_03_26).await;
        let (compact_total, compact_text, structured) =
            sizes(program, limit, ProtocolVersion::V_2025_06_18).await;
        assert!(lines(&full).len() >= 1000, "{what}: a large page: {} lines", lines(&full).len());
        if what.contains("map") {
            // A new key the kernel had no memory for is reported, not lost
            // (see the README's note on maps that are not preallocated).
            for r in [&full, &structured] {
                let (keys, other): (Vec<_>, Vec<_>) =
                    lines(r).into_iter().partition(|l| l.starts_with("@["));
                let reported: usize = other
                    .iter()
                    .filter_map(|l| dropped.captures(l).map(|c| c[1].parse::<usize>().unwrap()))
                    .sum();
                let brief = (
                    &r["stop_reason"],
                    &r["truncated"],
                    &r["lines_total"],
                    &r["lost_events"],
                    r["records"].as_array().map(|a| a.len()),
                );
                assert_eq!(
                    keys.len() + reported,
                    9000,
                    "{what}: a line per sleep: {other:?} {brief:?}"
                );
            }
        } else {
            assert_eq!(full["output"], structured["output"], "{what}: the same output");
        }
        // Output lines cost the same either way but for JSON's quoting; a
        // map's records are in the JSON text too, and in the compact text
        // only as the output lines that print them.
        let most = if what.contains("map") { json_text * 6 / 10 } else { json_text - 1 };
        assert!(
            compact_text <= most,
            "{what}: compact text {compact_text} B against JSON text {json_text} B"
        );
        report.push(format!(
            "{what}: 2025-03-26 result {json_total} B (text {json_text} B); \
             2025-06-18 result {compact_total} B (text {compact_text} B)"
        ));
    }
    eprintln!("{}", report.join("\n"));
}
