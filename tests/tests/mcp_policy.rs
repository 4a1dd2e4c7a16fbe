//! The operator's policy file through a real MCP client over stdio: what it
//! denies is refused at once with the rule, the place and the remedy, and
//! nothing is loaded; what it allows runs within its limits; host_info
//! shows it; `mcptrace policy` prints a file that reads back the same.

use std::path::PathBuf;

use mcptrace_tests::{
    mcp::{Client, attachments_of, children_of, lines},
    mcptrace, require_root, unique_path,
};
use serde_json::json;

/// Writes `text` to a fresh file and returns its path.
fn policy_file(tag: &str, text: &str) -> PathBuf {
    let path = unique_path(tag).with_extension("toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// What exec_program said, when it refused.
async fn refusal(c: &Client, program: &str) -> String {
    c.call("exec_program", json!({"program": program})).await.unwrap_err()
}

/// Tracepoints denied; one execution at a time, five lines each, at most 15 s.
const NO_TRACEPOINTS: &str = r#"
[probes]
kinds = ["rawtracepoint", "kprobe", "kretprobe", "kfunc", "kretfunc", "uprobe", "uretprobe",
         "usdt", "profile", "interval", "software", "hardware", "watchpoint"]

[limits]
max_concurrent_executions = 1
max_output_lines = 5
max_execution_seconds = 15
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_file_denies_caps_and_shows_itself() {
    require_root();
    let file = policy_file("policy", NO_TRACEPOINTS);
    let c = Client::start_with(&["--policy", file.to_str().unwrap()], None).await;

    // Denied at once, at its place, with the rule and the remedy; nothing
    // attached, no bpftrace started. (The server holds the programs of the
    // session it keeps loaded ahead, attached nowhere, whatever is asked.)
    let program = "BEGIN { }\ntracepoint:syscalls:sys_enter_openat { printf(\"x\\n\"); }";
    let message = refusal(&c, program).await;
    for says in [
        "stdin:2:1-",
        "policy: probe kind tracepoint is not allowed (rule probes.kinds)",
        &format!("add \"tracepoint\" to probes.kinds in {}", file.display()),
    ] {
        assert!(message.contains(says), "`{message}` lacks `{says}`");
    }
    assert_eq!(attachments_of(c.server_pid), 0, "a denied program attached");
    assert!(children_of(c.server_pid).is_empty(), "a denied program started bpftrace");
    let listed = c.call("list_executions", json!({})).await.unwrap();
    assert_eq!(listed["executions"], json!([]), "{listed}");
    // validate_program asks the same policy.
    let v = c.call("validate_program", json!({"program": program})).await.unwrap();
    assert_eq!(v["errors"][0]["code"], "policy", "{v}");
    assert_eq!(v["errors"][0]["line"], 2, "{v}");

    // An allowed program runs, its time limit cut to the policy's; while it
    // runs (about 2 s, to its fifth line), a second one is refused with the cap.
    let program = "interval:ms:500 { printf(\"tick\\n\"); }";
    let started = c.call("exec_program", json!({"program": program, "timeout": 60})).await;
    let started = started.unwrap();
    assert!(started["message"].as_str().unwrap().contains("for at most 15 s"), "{started}");
    let id = started["execution_id"].as_str().unwrap().to_string();
    let message = refusal(&c, "BEGIN { exit(); }").await;
    assert!(message.contains("1 executions are already running"), "{message}");
    assert!(message.contains("rule limits.max_concurrent_executions"), "{message}");
    // The line cap ends it.
    let r = c.finished(&id).await;
    assert_eq!(r["stop_reason"], "buffer_full", "{r}");
    assert_eq!(r["truncated"], true, "{r}");
    assert_eq!(lines(&r).len(), 5, "{r}");
    // Its end frees the slot.
    let id = c.exec("BEGIN { printf(\"next\\n\"); exit(); }", 5.0).await;
    assert!(lines(&c.finished(&id).await).contains(&"next".to_string()));

    // host_info shows the policy as data, and the limits it sets.
    let info = c.call("host_info", json!({})).await.unwrap();
    let policy = &info["policy"];
    let kinds = policy["probes"]["kinds"].as_array().unwrap();
    assert!(kinds.contains(&json!("interval")) && !kinds.contains(&json!("tracepoint")), "{info}");
    assert_eq!(policy["limits"]["max_output_lines"], 5, "{info}");
    assert_eq!(policy["cat"]["paths"], json!(["/proc", "/sys"]), "{info}");
    assert_eq!(info["limits"]["concurrent_executions"], 1, "{info}");
    assert_eq!(info["limits"]["max_output_lines"], 5, "{info}");
    assert_eq!(info["limits"]["max_timeout_seconds"], 15.0, "{info}");
    c.close().await;
    std::fs::remove_file(file).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_policy_keeps_files_out_of_reach() {
    require_root();
    let c = Client::start().await;
    let message = refusal(&c, "BEGIN { cat(\"/etc/shadow\"); exit(); }").await;
    for says in ["stdin:1:13-", "outside /proc and /sys (rule cat.paths)", "--allow-sensitive"] {
        assert!(message.contains(says), "`{message}` lacks `{says}`");
    }
    assert_eq!(attachments_of(c.server_pid), 0, "a denied program attached");
    let info = c.call("host_info", json!({})).await.unwrap();
    let deny = &info["policy"]["user_probes"]["deny_binaries"];
    assert!(deny.as_array().unwrap().contains(&json!("sshd")), "{info}");
    assert_eq!(info["policy"]["limits"]["max_concurrent_executions"], 5, "{info}");
    c.close().await;
}

/// `mcptrace policy` prints what `--policy` reads back to the same policy,
/// flags included; a file with a typo stops the server's start with the
/// key and its line. Loads nothing, so it runs without root too.
#[test]
fn the_printed_policy_reads_back_and_typos_stop_the_start() {
    let print = |args: &[&str]| {
        let out = mcptrace().arg("policy").args(args).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let file = policy_file("policy-in", NO_TRACEPOINTS);
    let first = print(&["--policy", file.to_str().unwrap(), "--allow-sensitive"]);
    assert!(first.contains("paths = [\"/\"]"), "{first}");
    let printed = policy_file("policy-printed", &first);
    assert_eq!(print(&["--policy", printed.to_str().unwrap()]), first);
    let empty = policy_file("policy-empty", "");
    assert_eq!(print(&[]), print(&["--policy", empty.to_str().unwrap()]));

    let typo = policy_file("policy-typo", "[limits]\nmax_concurent_executions = 1\n");
    let out = mcptrace().args(["serve", "--policy", typo.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("line 2") && stderr.contains("max_concurent_executions"), "{stderr}");
    for f in [file, printed, empty, typo] {
        std::fs::remove_file(f).unwrap();
    }
}
