//! host_info (and the resource mcptrace://host) through a real MCP client
//! over stdio, checked against what the kernel and bpftrace say when asked
//! by other means.

use std::{path::Path, process::Command};

use mcptrace::host::features;
use mcptrace_tests::{mcp::Client, require_root};
use rmcp::model::{ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};

fn kind<'a>(info: &'a Value, name: &str) -> &'a Value {
    info["probe_kinds"].as_array().unwrap().iter().find(|k| k["kind"] == name).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn host_info_says_what_the_kernel_and_bpftrace_say() {
    require_root();
    let c = Client::start().await;
    let info = c.call("host_info", json!({})).await.unwrap();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(info["kernel"], release.trim(), "{info}");
    assert_eq!(info["btf"], Path::new("/sys/kernel/btf/vmlinux").exists(), "{info}");
    assert_eq!(kind(&info, "tracepoint")["attaches"], true, "{info}");
    assert_eq!(kind(&info, "tracepoint")["native"], true, "{info}");
    assert_eq!(kind(&info, "usdt")["native"], true, "{info}");
    assert_eq!(kind(&info, "watchpoint")["native"], false, "{info}");
    // kprobes as the kprobe PMU or tracefs say, with the reason when not.
    let kprobe = kind(&info, "kprobe");
    assert_eq!(kprobe["attaches"], features::get().kprobe.is_yes(), "{kprobe}");
    assert_eq!(kprobe["reason"].is_string(), !features::get().kprobe.is_yes(), "{kprobe}");
    assert_eq!(info["native_engine"]["available"], true, "{info}");
    assert_eq!(info["privileges"]["available"], true, "{info}");
    let version = Command::new("bpftrace").arg("--version").output().unwrap();
    assert_eq!(info["bpftrace"]["version"], String::from_utf8_lossy(&version.stdout).trim());
    assert_eq!(info["limits"]["concurrent_executions"], 5, "{info}");
    assert_eq!(info["limits"]["max_output_lines"], 10_000, "{info}");
    assert_eq!(info["allow_unsafe"], false, "{info}");

    // The same as a resource, listed first.
    let listed = c.service.list_all_resources().await.unwrap();
    assert_eq!(listed[0].uri, "mcptrace://host");
    let read =
        c.service.read_resource(ReadResourceRequestParams::new("mcptrace://host")).await.unwrap();
    let [ResourceContents::TextResourceContents { text, .. }] = &read.contents[..] else {
        panic!("{read:?}")
    };
    let resource: Value = serde_json::from_str(text).unwrap();
    assert_eq!(resource["kernel"], info["kernel"]);
    assert_eq!(resource["probe_kinds"], info["probe_kinds"]);
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_bpftrace_and_missing_privileges_are_named() {
    require_root();
    let c = Client::start_with(&["--bpftrace", "/nonexistent/bpftrace"], Some(65534)).await;
    let info = c.call("host_info", json!({})).await.unwrap();
    assert_eq!(info["bpftrace"]["path"], "/nonexistent/bpftrace", "{info}");
    assert!(info["bpftrace"]["error"].as_str().unwrap().contains("No such file"), "{info}");
    let privileges = &info["privileges"];
    assert_eq!(privileges["available"], false, "{info}");
    assert!(privileges["reason"].as_str().unwrap().contains("CAP_BPF"), "{info}");
    c.close().await;
}
