//! probe_info through a real MCP client over stdio, checked against what the
//! kernel and the binaries say when read by other means.

use std::process::Command;

use mcptrace_tests::{mcp::Client, require_root, target_bin};
use serde_json::{Value, json};

async fn info(c: &Client, probe: &str) -> Result<Value, String> {
    c.call("probe_info", json!({ "probe": probe })).await
}

#[tokio::test(flavor = "multi_thread")]
async fn tracepoint_fields_match_the_format_file() {
    require_root();
    let c = Client::start().await;
    let r = info(&c, "tracepoint:syscalls:sys_enter_openat").await.unwrap();
    assert_eq!(r["kind"], "tracepoint");
    let fields = r["tracepoint"]["fields"].as_array().unwrap();
    let format =
        std::fs::read_to_string("/sys/kernel/tracing/events/syscalls/sys_enter_openat/format")
            .unwrap();
    let declared: Vec<&str> =
        format.lines().map(str::trim).filter(|l| l.starts_with("field:")).collect();
    assert_eq!(fields.len(), declared.len(), "{r}");
    for (field, line) in fields.iter().zip(&declared) {
        let expect = format!("offset:{};\tsize:{};", field["offset"], field["size"]);
        assert!(line.contains(&expect), "{line} vs {field}");
        assert!(line.contains(field["name"].as_str().unwrap()), "{line} vs {field}");
    }
    let filename = fields.iter().find(|f| f["name"] == "filename").unwrap();
    assert_eq!(filename["c_type"], "const char *");
    assert_eq!((&filename["common"], &filename["signed"]), (&json!(false), &json!(false)));
    // The format states `signed:0` for every syscall argument; the C type decides.
    let dfd = fields.iter().find(|f| f["name"] == "dfd").unwrap();
    assert_eq!((&dfd["c_type"], &dfd["signed"]), (&json!("int"), &json!(true)));
    let pid = fields.iter().find(|f| f["name"] == "common_pid").unwrap();
    assert_eq!(
        (&pid["c_type"], &pid["signed"], &pid["common"]),
        (&json!("int"), &json!(true), &json!(true))
    );
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_binary_lists_matching_functions_and_its_usdt_probes() {
    require_root();
    let c = Client::start().await;
    let workload = target_bin("mcpt-workload");
    let r = info(&c, &format!("uprobe:{}:mai*", workload.display())).await.unwrap();
    assert_eq!(r["kind"], "uprobe");
    let u = &r["uprobe"];
    assert!(u["functions"].as_array().unwrap().contains(&json!("main")), "{r}");
    assert!(
        u["functions"].as_array().unwrap().iter().all(|f| f.as_str().unwrap().starts_with("mai"))
    );
    assert_eq!(u["functions_total"], u["functions"].as_array().unwrap().len());
    // The workload's own USDT probes (see its `usdt` operation).
    let probes: Vec<(&str, &str, bool)> = u["usdt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let text = |k: &str| p[k].as_str().unwrap();
            (text("provider"), text("name"), p["has_semaphore"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(probes, [("mcpt", "name", false), ("mcpt", "tick", false)], "{r}");

    // python3 carries USDT notes; readelf counts them independently.
    let readelf = Command::new("readelf").args(["-n", "/usr/bin/python3"]).output().unwrap();
    let text = String::from_utf8_lossy(&readelf.stdout);
    let expected = text.lines().filter(|l| l.trim_start().starts_with("Provider:")).count();
    assert!(expected > 0, "python3 here has no USDT notes: {text}");
    let py = info(&c, "uprobe:/usr/bin/python3").await.unwrap();
    let usdt = py["uprobe"]["usdt"].as_array().unwrap();
    assert_eq!(usdt.len(), expected, "{py}");
    assert!(
        usdt.iter().any(|p| p["provider"] == "python" && p["name"] == "function__entry"),
        "{py}"
    );
    assert!(py["uprobe"]["binary"].as_str().unwrap().starts_with('/'));
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kernel_function_says_whether_it_attaches_and_what_to_use_instead() {
    require_root();
    let c = Client::start().await;
    let r = info(&c, "kprobe:do_sys_openat2").await.unwrap();
    let k = &r["kernel_function"];
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let listed = kallsyms.lines().any(|l| l.split_whitespace().nth(2) == Some("do_sys_openat2"));
    assert_eq!(k["exists"], listed, "{r}");
    let kprobes_here = std::path::Path::new("/sys/bus/event_source/devices/kprobe").exists()
        || std::path::Path::new("/sys/kernel/tracing/kprobe_events").exists();
    assert_eq!(k["kprobe"]["available"], kprobes_here, "{r}");
    assert_eq!(k["kprobe"].get("reason").is_some(), !kprobes_here, "{r}");
    assert_eq!(
        k["suggested"],
        json!(["tracepoint:syscalls:sys_enter_openat2", "tracepoint:syscalls:sys_exit_openat2"])
    );
    let missing = info(&c, "kfunc:no_such_function_xyz").await.unwrap();
    assert_eq!(missing["kernel_function"]["exists"], false);
    // fentry availability is the checker's own answer: a kfunc program on an
    // existing function passes the checks exactly when it says available.
    let fentry = &missing["kernel_function"]["fentry"];
    let planned = Command::new(target_bin("mcptrace"))
        .args(["plan", "-e", "kfunc:vfs_read { }"])
        .output()
        .unwrap();
    assert_eq!(fentry["available"], planned.status.success(), "{missing}");
    assert_eq!(fentry.get("reason").is_some(), !planned.status.success(), "{missing}");
    c.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_or_wildcard_probes_are_errors() {
    require_root();
    let c = Client::start().await;
    assert!(info(&c, "tracepoint:nosuch:thing").await.unwrap_err().contains("nosuch"));
    assert!(info(&c, "tracepoint:syscalls:*").await.unwrap_err().contains("wildcard"));
    assert!(info(&c, "interval:s:1").await.unwrap_err().contains("probe_info describes"));
    assert!(info(&c, "uprobe:/no/such/binary").await.is_err());
    c.close().await;
}
