//! The programs of the README's example exchanges, through a server under
//! the default policy: each one the README shows as valid runs (the policy
//! denies none), and each one it shows failing fails for its own mistake,
//! not for a rule.

use mcptrace_tests::{
    mcp::{Client, settle},
    require_root,
};
use regex::Regex;
use serde_json::{Value, json};

/// Every `"program": "…"` string of the README, unescaped.
fn readme_programs() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    let field = Regex::new(r#""program": ("(?:[^"\\]|\\.)*")"#).unwrap();
    field
        .captures_iter(&readme)
        .map(|c| serde_json::from_str::<String>(&c[1]).expect("a JSON string"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_examples_run_under_the_default_policy() {
    require_root();
    let programs = readme_programs();
    assert!(programs.len() >= 4, "the README's examples: {programs:?}");
    let c = Client::start().await;
    let mut ran = 0;
    for program in &programs {
        let verdict = c.call("validate_program", json!({ "program": program })).await.unwrap();
        if verdict["valid"] != true {
            let errors = verdict["errors"].to_string();
            assert!(!errors.contains("policy:"), "a rule refused {program}: {errors}");
            continue;
        }
        let r = c.call("exec_program", json!({ "program": program, "timeout": 1 })).await;
        let r: Value = r.unwrap_or_else(|e| panic!("{program}: {e}"));
        assert_eq!(r["status"], "success", "{program}: {r}");
        let id = r["execution_id"].as_str().unwrap();
        c.call("stop_execution", json!({ "execution_id": id })).await.unwrap();
        ran += 1;
    }
    assert!(ran >= 2, "the README's valid examples ran: {ran}");
    settle(c.server_pid).await;
    c.close().await;
}
