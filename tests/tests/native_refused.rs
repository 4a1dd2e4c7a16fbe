//! When the kernel refuses the native programs (a verifier, a missing helper
//! or map type on an older kernel), `auto` runs the program through bpftrace
//! and says why; `--backend native` fails with the kernel's reason. The
//! refusal is forced here, for real: debug builds take
//! MCPTRACE_TEST_EMPTY_MAP=NAME and ask the kernel for that map with no
//! entries, which it refuses to create (EINVAL).

use std::process::Output;

use mcptrace_tests::{
    mcp::{Client, lines},
    mcptrace, require_root,
};
use serde_json::json;

const REFUSE: (&str, &str) = ("MCPTRACE_TEST_EMPTY_MAP", "SLOTS");
const PROGRAM: &str = r#"BEGIN { printf("begun\n"); } interval:ms:200 { exit(); }"#;

fn run(backend: &str) -> Output {
    mcptrace()
        .args(["run", "--backend", backend, "-e", PROGRAM])
        .env(REFUSE.0, REFUSE.1)
        .output()
        .expect("run mcptrace")
}

#[test]
fn the_command_line_falls_back_to_bpftrace_with_the_kernels_reason() {
    require_root();
    let native = run("native");
    let stderr = String::from_utf8_lossy(&native.stderr);
    assert_eq!(native.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("the kernel refused the native programs"), "{stderr}");
    assert!(stderr.contains("`SLOTS`: Invalid argument"), "the kernel's errno: {stderr}");

    let auto = run("auto");
    let stderr = String::from_utf8_lossy(&auto.stderr);
    let stdout = String::from_utf8_lossy(&auto.stdout);
    assert!(auto.status.success(), "{stderr}");
    assert!(
        stderr.contains("running with bpftrace: the kernel refused the native programs"),
        "{stderr}"
    );
    assert!(stdout.starts_with("Attaching 2 probes...\nbegun\n"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_falls_back_to_bpftrace_with_the_kernels_reason() {
    require_root();
    let c = Client::start_env(&[], None, &[REFUSE]).await;
    let r = c.call("exec_program", json!({"program": PROGRAM, "timeout": 10})).await.unwrap();
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["backend"], "bpftrace", "{r}");
    let reason = r["backend_reason"].as_str().unwrap();
    assert!(reason.contains("the kernel refused the native programs"), "{r}");
    assert!(reason.contains("Invalid argument"), "{r}");
    let out = c.finished(r["execution_id"].as_str().unwrap()).await;
    assert_eq!(out["status"], "completed", "{out}");
    assert_eq!(out["backend"], "bpftrace", "{out}");
    assert!(lines(&out).contains(&"begun".to_string()), "{out}");
    c.close().await;
}
