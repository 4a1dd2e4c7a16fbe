//! The streamable-HTTP transport: served on loopback, bearer tokens enforced
//! when set and required off loopback, never logged, graceful stop.

use mcptrace_tests::{
    http::{HttpServer, INITIALIZE},
    require_root, target_bin,
};

#[test]
fn a_token_is_required_on_every_request_once_set_and_never_logged() {
    require_root();
    let token = "t0k3n-that-must-not-leak";
    let server = HttpServer::start(Some(token));
    assert_eq!(server.post("/mcp", &[], INITIALIZE), 401);
    assert_eq!(server.post("/mcp", &["Authorization: Bearer wrong"], INITIALIZE), 401);
    let good = format!("Authorization: Bearer {token}");
    assert_eq!(server.post("/mcp", &[&good], INITIALIZE), 200);
    let lowercase = format!("Authorization: bearer {token}");
    assert_eq!(server.post("/mcp", &[&lowercase], INITIALIZE), 200);
    assert_eq!(server.post("/elsewhere", &[&good], INITIALIZE), 404);
    let (status, stderr) = server.stop();
    assert!(status.success(), "{status}: {stderr}");
    assert!(!stderr.contains(token), "the token was logged: {stderr}");
}

#[test]
fn loopback_needs_no_token() {
    require_root();
    let server = HttpServer::start(None);
    assert!(server.url.starts_with("http://127.0.0.1:"), "{}", server.url);
    assert_eq!(server.post("/mcp", &[], INITIALIZE), 200);
    let (status, stderr) = server.stop();
    assert!(status.success(), "{status}: {stderr}");
}

#[test]
fn other_addresses_refuse_to_start_without_a_token() {
    require_root();
    let out = std::process::Command::new(target_bin("mcptrace"))
        .args(["serve", "--http", "0.0.0.0:0"])
        .env_remove("MCPTRACE_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not a loopback address") && stderr.contains("MCPTRACE_TOKEN"),
        "{stderr}"
    );
}
