//! The MCP Inspector's command-line mode as the client, over stdio and over
//! HTTP with a bearer token: tools with output schemas, validation, a run,
//! its result as structured content and as a resource, and the prompts. The
//! Inspector is installed from npm under target/ on first use.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use mcptrace_tests::{http::HttpServer, require_root, target_bin};
use serde_json::Value;

/// The Inspector version these tests are written against.
const INSPECTOR: &str = "@modelcontextprotocol/inspector@2.12.0";

fn inspector_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let mcptrace = target_bin("mcptrace");
        let dir = mcptrace.parent().and_then(Path::parent).expect("target dir").join("inspector");
        let manifest = dir.join("node_modules/@modelcontextprotocol/inspector/package.json");
        let version = INSPECTOR.rsplit('@').next().unwrap();
        let installed = std::fs::read_to_string(&manifest)
            .is_ok_and(|m| m.contains(&format!("\"version\": \"{version}\"")));
        if !installed {
            std::fs::create_dir_all(dir.join("home")).unwrap();
            let out = Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(&dir)
                .arg(INSPECTOR)
                .output()
                .expect("npm (apt-get install npm)");
            assert!(out.status.success(), "npm install: {}", String::from_utf8_lossy(&out.stderr));
        }
        dir
    })
}

/// Runs `mcp-inspector --cli ARGS` and returns its JSON answer.
fn inspect(args: &[&str]) -> Value {
    let dir = inspector_dir();
    let out = Command::new(dir.join("node_modules/.bin/mcp-inspector"))
        .arg("--cli")
        .args(args)
        // Its catalog and settings go here, not in the user's home.
        .env("HOME", dir.join("home"))
        .output()
        .expect("run the Inspector");
    assert!(
        out.status.success(),
        "inspector {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("inspector {args:?}: {e}: {}", String::from_utf8_lossy(&out.stdout))
    })
}

#[test]
fn over_stdio_tools_declare_schemas_and_validation_answers() {
    require_root();
    let bin = target_bin("mcptrace");
    let server = [bin.to_str().unwrap(), "serve"];
    let listed = inspect(&[&server[..], &["--method", "tools/list"]].concat());
    let tools = listed["tools"].as_array().unwrap();
    for name in ["validate_program", "probe_info", "exec_program", "get_result", "list_probes"] {
        let tool = tools.iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(tool["outputSchema"]["type"], "object", "{tool}");
    }
    let verdict = inspect(
        &[
            &server[..],
            &[
                "--method",
                "tools/call",
                "--tool-name",
                "validate_program",
                "--tool-arg",
                "program=BEGIN { printf(\"x\" }",
            ],
        ]
        .concat(),
    );
    let v = &verdict["structuredContent"];
    assert_eq!(v["valid"], false, "{verdict}");
    assert_eq!(v["errors"][0]["line"], 1, "{verdict}");
}

#[test]
fn over_http_a_run_reads_back_as_structured_content_and_as_a_resource() {
    require_root();
    let token = "inspector-token";
    let server = HttpServer::start(Some(token));
    let auth = format!("Authorization: Bearer {token}");
    let url = server.url.clone();
    let call = |extra: &[&str]| inspect(&[&[url.as_str(), "--header", &auth][..], extra].concat());

    let started = call(&[
        "--method",
        "tools/call",
        "--tool-name",
        "exec_program",
        "--tool-arg",
        "program=BEGIN { printf(\"hi\\n\"); exit(); }",
        "--tool-arg",
        "timeout=5",
    ]);
    let id = started["structuredContent"]["execution_id"].as_str().expect("an execution id");
    let result = (0..20)
        .map(|_| {
            call(&[
                "--method",
                "tools/call",
                "--tool-name",
                "get_result",
                "--tool-arg",
                &format!("execution_id={id}"),
            ])["structuredContent"]
                .clone()
        })
        .find(|r| r["status"] != "running")
        .expect("the execution never ended");
    assert_eq!(result["status"], "completed", "{result}");
    let output: Vec<&str> =
        result["output"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(output[..2], ["Attaching 1 probe...", "hi"]);

    let uri = format!("mcptrace://executions/{id}");
    let read = call(&["--method", "resources/read", "--uri", &uri]);
    assert_eq!(read["contents"][0]["text"], output.join("\n"), "{read}");

    let prompts = call(&["--method", "prompts/list"]);
    assert!(prompts["prompts"].as_array().unwrap().len() >= 30, "{prompts}");
    let prompt = call(&[
        "--method",
        "prompts/get",
        "--prompt-name",
        "syscall_latency_by_pid",
        "--prompt-args",
        "pid=77",
    ]);
    let text = prompt["messages"][0]["content"]["text"].as_str().unwrap();
    assert!(text.contains("/pid == 77/"), "{text}");
    let (status, stderr) = server.stop();
    assert!(status.success(), "{status}: {stderr}");
}

/// Both protocol eras the Inspector speaks, over stdio: it negotiates
/// 2025-11-25 (legacy) or 2026-07-28 (modern), and exec_program answers
/// each as that revision wants. A modern Inspector declares the tasks
/// extension, so it gets a task, polls it, and checks the final result
/// against exec_program's output schema. (Its CLI mode has no method for
/// completions or subscriptions; the Python SDK and rmcp tests hold those.)
#[test]
fn each_protocol_era_runs_a_program_to_its_result() {
    require_root();
    let bin = target_bin("mcptrace");
    for (era, version) in [("legacy", "2025-11-25"), ("modern", "2026-07-28")] {
        let server = [bin.to_str().unwrap(), "serve", "--protocol-era", era];
        let init = inspect(&[&server[..], &["--method", "initialize"]].concat());
        assert_eq!(init["protocolVersion"], version, "{era}: {init}");
        let answer = inspect(
            &[
                &server[..],
                &[
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "exec_program",
                    "--tool-arg",
                    "program=BEGIN { printf(\"era\\n\"); exit(); }",
                ],
            ]
            .concat(),
        );
        let content = &answer["structuredContent"];
        assert_eq!(answer["isError"], false, "{era}: {answer}");
        assert!(content["message"].is_string(), "{era}: {answer}");
        if era == "modern" {
            // The task's result: get_result's first page.
            assert_eq!(content["status"], "completed", "{answer}");
            assert_eq!(content["output"][1], "era", "{answer}");
        } else {
            assert_eq!(content["status"], "success", "{answer}");
            assert!(content["execution_id"].is_string(), "{answer}");
        }
    }
}
