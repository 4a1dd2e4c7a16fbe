//! The official MCP Python SDK as the client: tests/python/sdk_client.py
//! lists, validates, runs with progress and a subscription, reads
//! structured results, resource links, resources and prompts, completes
//! a prompt argument, and (as a 2026-07-28 client declaring the tasks
//! extension) polls an exec_program task to its result and cancels
//! another, from `mcptrace serve`, over stdio and over HTTP with a bearer
//! token. The SDK is installed from PyPI into a virtualenv under target/ on
//! first use.

use std::{path::Path, process::Command};

use mcptrace_tests::{http::HttpServer, require_root, target_bin};

/// The SDK version the script is written against.
const SDK: &str = "mcp==2.3.0";

fn run(cmd: &mut Command, what: &str) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A virtualenv holding the SDK, made once per target dir; the tests of this
/// file share one set-up.
fn sdk_python() -> std::path::PathBuf {
    static PYTHON: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    PYTHON.get_or_init(install_sdk).clone()
}

fn install_sdk() -> std::path::PathBuf {
    let mcptrace = target_bin("mcptrace");
    let target = mcptrace.parent().and_then(Path::parent).expect("target dir");
    let venv = target.join("python-sdk");
    let python = venv.join("bin/python");
    if !python.is_file() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv");
    }
    let installed = Command::new(&python)
        .args(["-c", "import importlib.metadata as m; print(m.version('mcp'))"])
        .output()
        .is_ok_and(|o| {
            o.status.success() && SDK.ends_with(String::from_utf8_lossy(&o.stdout).trim())
        });
    if !installed {
        run(Command::new(&python).args(["-m", "pip", "install", "--quiet", SDK]), "pip install");
    }
    python
}

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/sdk_client.py")
}

#[test]
fn the_python_sdk_over_stdio_lists_validates_runs_and_reads() {
    require_root();
    let python = sdk_python();
    let out = run(
        Command::new(python).arg(script()).arg("stdio").arg(target_bin("mcptrace")),
        "the Python SDK client over stdio",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
}

#[test]
fn the_python_sdk_over_http_with_a_token_lists_validates_runs_and_reads() {
    require_root();
    let python = sdk_python();
    let token = "python-sdk-token";
    let server = HttpServer::start(Some(token));
    let out = run(
        Command::new(python).arg(script()).args(["http", &server.url, token]),
        "the Python SDK client over HTTP",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    let (status, stderr) = server.stop();
    assert!(status.success(), "{status}: {stderr}");
}
