//! Bad input, faults, load and privilege: each gives a specific answer, the
//! server keeps serving, and nothing is left behind: no child process and no
//! BPF program once an execution or the server ends.
//!
//! The tests here compare the host's BPF programs before and after, so they
//! run one at a time.

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader, Write},
    process::Stdio,
    time::{Duration, Instant},
};

use mcptrace_tests::{
    differential::{self, Backend, Case},
    mcp::{Client, children_of, host_programs, lines},
    mcptrace, require_root, target_bin,
};
use serde_json::{Value, json};
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
}

/// Waits until none of `pids` lives and no BPF program beyond `before` is
/// loaded, failing with what is left after ten seconds.
fn assert_nothing_left(pids: &[u32], before: &BTreeSet<u64>) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let procs: Vec<u32> = pids.iter().copied().filter(|p| alive(*p)).collect();
        let progs: Vec<u64> = host_programs().difference(before).copied().collect();
        if procs.is_empty() && progs.is_empty() {
            return;
        }
        assert!(Instant::now() < end, "left behind: processes {procs:?}, BPF programs {progs:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A native and a bpftrace execution, both long-running, on `c`; returns
/// the server's children (bpftrace) once both are attached.
async fn two_long_executions(c: &Client) -> Vec<u32> {
    c.exec("tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }", 30.0).await;
    c.exec_on("bpftrace", "interval:ms:100 { printf(\"tick\\n\"); }", 30.0).await;
    let children = children_of(c.server_pid);
    assert!(!children.is_empty(), "bpftrace is not a child of the server");
    children
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_arguments_get_specific_errors_and_the_server_serves_on() {
    require_root();
    let _one = ONE_AT_A_TIME.lock().await;
    let c = Client::start().await;
    let id = c.exec("BEGIN { printf(\"a\\nb\\n\"); exit(); }", 2.0).await;
    c.finished(&id).await;
    let huge = "BEGIN { printf(\"x\"); }\n".repeat(48 * 1024);
    // (tool, arguments, what the error must say)
    let table: Vec<(&'static str, Value, &str)> = vec![
        ("exec_program", json!({}), "missing field `program`"),
        ("exec_program", json!({"program": 5}), "invalid type"),
        ("exec_program", json!({"program": "BEGIN { }", "bogus": 1}), "unknown field `bogus`"),
        ("exec_program", json!({"program": "BEGIN { }", "timeout": "x"}), "invalid type"),
        ("exec_program", json!({"program": ""}), "expecting a probe"),
        ("exec_program", json!({"program": huge}), "the limit is 65536"),
        ("exec_program", json!({"program": "BEGIN { exit(); }", "timeout": -5}), "positive"),
        ("exec_program", json!({"program": "BEGIN { exit(); }", "timeout": 0}), "positive"),
        ("exec_program", json!({"program": "tracepoint:nosuch:probe { }"}), "nosuch"),
        ("exec_program", json!({"program": "uprobe:/etc/passwd:f { }"}), "not an ELF object"),
        ("exec_program", json!({"program": "uprobe:/no/such/bin:f { }"}), "/no/such/bin"),
        ("exec_program", json!({"program": "BEGIN { @x = 1; @x = \"s\"; }"}), "@x"),
        ("get_result", json!({"execution_id": "not-ours"}), "unknown execution id `not-ours`"),
        ("get_result", json!({}), "missing field `execution_id`"),
        ("get_result", json!({"execution_id": id, "offset": -1}), "invalid value"),
        ("get_result", json!({"execution_id": id, "offset": 1_u64 << 40}), "past the end"),
        ("get_result", json!({"execution_id": id, "limit": 0}), "at least 1"),
        ("get_result", json!({"execution_id": id, "limit": 1.5}), "invalid type"),
        ("get_result", json!({"execution_id": id, "extra": true}), "unknown field `extra`"),
        ("stop_execution", json!({"execution_id": 7}), "invalid type"),
        ("stop_execution", json!({"execution_id": "gone"}), "unknown execution id"),
        ("list_probes", json!({"limit": -3}), "invalid value"),
        ("list_probes", json!({"filter": ["x"]}), "invalid type"),
        ("validate_program", json!({}), "missing field `program`"),
        ("validate_program", json!({"program": "BEGIN { }", "x": 1}), "unknown field `x`"),
        ("probe_info", json!({"probe": 3}), "invalid type"),
        ("probe_info", json!({"probe": "tracepoint:nosuch:probe"}), "nosuch"),
        ("probe_info", json!({"probe": "uprobe:/etc/passwd"}), "not an ELF object"),
    ];
    for (tool, args, expected) in table {
        let shown = args.to_string().chars().take(80).collect::<String>();
        let message = match c.call(tool, args).await {
            Err(e) => e,
            Ok(r) if r["status"] == "error" => r["message"].as_str().unwrap().to_string(),
            Ok(r) => panic!("{tool} {shown}: accepted: {r}"),
        };
        assert!(message.contains(expected), "{tool} {shown}: `{message}` lacks `{expected}`");
    }
    // Limits beyond the cap read as the cap; the server still serves.
    let page = c.call("get_result", json!({"execution_id": id, "limit": 1_u64 << 40})).await;
    assert_eq!(lines(&page.unwrap())[..3], ["Attaching 1 probe...", "a", "b"]);
    let id = c.exec("BEGIN { printf(\"still here\\n\"); exit(); }", 2.0).await;
    assert!(lines(&c.finished(&id).await).contains(&"still here".to_string()));
    c.close().await;
}

/// Raw protocol garbage (broken JSON, invalid UTF-8, unknown methods) gets
/// JSON-RPC errors or is dropped; the next well-formed request is answered.
/// Loads nothing, so it runs without root too.
#[test]
fn malformed_protocol_messages_do_not_stop_the_server() {
    let mut server = mcptrace()
        .arg("serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mcptrace serve");
    let mut input = server.stdin.take().unwrap();
    let mut output = BufReader::new(server.stdout.take().unwrap());
    let mut send = |bytes: &[u8]| {
        input.write_all(bytes).and_then(|()| input.write_all(b"\n")).expect("write to server");
    };
    send(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#);
    send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    send(b"{this is not json");
    send(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"exec_program\",\"arguments\":{\"program\":\"BEGIN \xff\xfe\"}}}");
    send(br#"{"jsonrpc":"2.0","id":3,"method":"no/such/method"}"#);
    send(br#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"list_helpers","arguments":{}}}"#);
    let mut answered = Vec::new();
    let mut line = String::new();
    while !answered.contains(&4) {
        line.clear();
        let n = output.read_line(&mut line).expect("read from server");
        assert!(n > 0, "the server closed its output; answered so far: {answered:?}");
        let msg: Value = serde_json::from_str(&line).expect("the server writes JSON");
        if let Some(id) = msg["id"].as_u64() {
            if id == 3 {
                assert!(msg["error"]["code"].is_i64(), "unknown method: {msg}");
            }
            answered.push(id);
        }
    }
    let _ = server.kill();
    let _ = server.wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn unsafe_functions_need_allow_unsafe() {
    require_root();
    let _one = ONE_AT_A_TIME.lock().await;
    let program = "BEGIN { system(\"echo from-system\"); exit(); }";
    let c = Client::start().await;
    let exec = c.tools().await.into_iter().find(|t| t["name"] == "exec_program").unwrap();
    assert_eq!(exec["annotations"]["destructiveHint"], false, "{exec}");
    let message = c.call("exec_program", json!({"program": program})).await.unwrap_err();
    assert!(message.contains("system() is an unsafe function"), "{message}");
    assert!(message.contains("--allow-unsafe"), "{message}");
    c.close().await;

    let c = Client::start_with(&["--allow-unsafe"], None).await;
    let exec = c.tools().await.into_iter().find(|t| t["name"] == "exec_program").unwrap();
    assert_eq!(exec["annotations"]["destructiveHint"], true, "{exec}");
    let id = c.exec(program, 5.0).await;
    let r = c.finished(&id).await;
    assert_eq!(r["backend"], "bpftrace", "{r}");
    assert!(lines(&r).contains(&"from-system".to_string()), "{r}");
    c.close().await;

    let refused = mcptrace().args(["run", "-e", program]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--allow-unsafe"));
}

/// By default a client reads kernel state, not the host's files or the
/// secrets passing through credential handlers and TLS libraries; the
/// operator's --allow-sensitive lifts that. Both backends obey: the check
/// comes before either runs.
#[tokio::test(flavor = "multi_thread")]
async fn sensitive_reads_need_allow_sensitive() {
    require_root();
    let _one = ONE_AT_A_TIME.lock().await;
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap();
    let read_hostname = "BEGIN { cat(\"/etc/hostname\"); exit(); }";
    let libssl = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
    // A credential handler, by name: the workload binary under sshd's name
    // (this host has no sshd), with the function it defines.
    let sshd = mcptrace_tests::unique_path("sensitive").join("sshd");
    std::fs::create_dir_all(sshd.parent().unwrap()).unwrap();
    std::fs::copy(target_bin("mcpt-workload"), &sshd).unwrap();
    let c = Client::start().await;
    for (program, says) in [
        ("BEGIN { cat(\"/etc/shadow\"); exit(); }", "outside /proc and /sys"),
        ("BEGIN { cat(\"/proc/1/root/etc/shadow\"); exit(); }", "leads out of /proc and /sys"),
        (read_hostname, "outside /proc and /sys"),
        (
            &format!("uprobe:{libssl}:SSL_write {{ printf(\"%s\\n\", str(arg1)); }}"),
            "TLS plaintext",
        ),
        (
            &format!("uprobe:{}:mcpt_target {{ printf(\"hit\\n\"); }}", sshd.display()),
            "rule user_probes.deny_binaries",
        ),
    ] {
        let message = c.call("exec_program", json!({"program": program})).await.unwrap_err();
        assert!(message.contains(says) && message.contains("--allow-sensitive"), "{message}");
    }
    let id = c.exec("BEGIN { cat(\"/proc/sys/kernel/ostype\"); exit(); }", 5.0).await;
    assert!(lines(&c.finished(&id).await).contains(&"Linux".to_string()));
    c.close().await;

    let c = Client::start_with(&["--allow-sensitive"], None).await;
    let id = c.exec(read_hostname, 5.0).await;
    let r = c.finished(&id).await;
    assert!(lines(&r).contains(&hostname.trim().to_string()), "{r}");
    c.close().await;

    let refused = mcptrace().args(["run", "-e", read_hostname]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--allow-sensitive"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_executions_and_leaves_nothing() {
    require_root();
    let _one = ONE_AT_A_TIME.lock().await;
    let before = host_programs();
    let c = Client::start().await;
    let children = two_long_executions(&c).await;
    let server = c.server_pid;
    // SAFETY: signalling the server this test started.
    unsafe { libc::kill(server as i32, libc::SIGTERM) };
    let mut all = children;
    all.push(server);
    assert_nothing_left(&all, &before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_goes_away_leaves_nothing() {
    require_root();
    let _one = ONE_AT_A_TIME.lock().await;
    let before = host_programs();
    let c = Client::start().await;
    let mut all = two_long_executions(&c).await;
    all.push(c.server_pid);
    c.close().await;
    assert_nothing_left(&all, &before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashing_bpftrace_fails_its_execution_and_keeps_its_output() {
    require_root();
    let _one = ONE_AT_A_TIME.lock().await;
    let before = host_programs();
    let c = Client::start().await;
    let id = c.exec_on("bpftrace", "interval:ms:50 { printf(\"tick\\n\"); }", 30.0).await;
    let ticks = |r: &Value| lines(r).iter().filter(|l| *l == "tick").count();
    let mut seen = 0;
    for _ in 0..100 {
        let r = c.call("get_result", json!({"execution_id": id})).await.unwrap();
        seen = ticks(&r);
        if seen >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen >= 3, "bpftrace printed {seen} ticks");
    let children = children_of(c.server_pid);
    for pid in &children {
        // SAFETY: killing the server's bpftrace child, as a crash would.
        unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
    }
    let r = c.finished(&id).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert!(r["error"].as_str().unwrap().contains("signal: 9"), "{r}");
    assert!(ticks(&r) >= seen, "output was lost: {r}");
    let again = c.exec("BEGIN { exit(); }", 2.0).await;
    assert_eq!(c.finished(&again).await["status"], "completed");
    c.close().await;
    assert_nothing_left(&children, &before);
}

/// Every event is either delivered or counted as lost, on both native
/// transports, when a workload outruns the reader and the trace is stopped
/// as soon as the workload ends. bpftrace itself is not held to this: the
/// kernel reports a perf buffer's losses only with the next record written
/// to it, so losses at the end of a burst stay unreported (measured: 3 to
/// 24 of a million); the native perf-buffer transport counts them in the
/// kernel instead.
#[test]
fn events_are_delivered_or_reported_lost_never_dropped_silently() {
    require_root();
    let _one = ONE_AT_A_TIME.blocking_lock();
    const EVENTS: u64 = 1_000_000;
    let case: Case = toml::from_str(&format!(
        r#"
        description = "a printf per getpid"
        program = 'tracepoint:syscalls:sys_enter_getpid /pid == {{pid}}/ {{ printf("e %s\n", comm); }}'
        workload = ["getpid", "{EVENTS}"]
        "#
    ))
    .unwrap();
    for backend in [Backend::Native, Backend::NativePerfBuffer] {
        let run = differential::run(&case, backend, "text", "/");
        let delivered = run.stdout.lines().filter(|l| *l == "e mcpt-workload").count() as u64;
        let lost: u64 = run
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("Lost ")?.strip_suffix(" events")?.parse::<u64>().ok())
            .sum();
        eprintln!("{backend:?}: {delivered} delivered, {lost} lost of {EVENTS}");
        assert_eq!(delivered + lost, EVENTS, "{backend:?}: events vanished: {}", run.stderr);
    }
}

/// Hundreds of executions through one server: finished ones are evicted
/// (each kept one holds its stop signal's descriptor until then), so past
/// the retention cap descriptors and memory stay flat.
#[tokio::test(flavor = "multi_thread")]
async fn many_executions_keep_memory_and_descriptors_bounded() {
    require_root();
    let _one = ONE_AT_A_TIME.lock().await;
    let c = Client::start().await;
    let fds = || std::fs::read_dir(format!("/proc/{}/fd", c.server_pid)).unwrap().count();
    let rss_kib = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", c.server_pid)).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap().to_string();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap()
    };
    let run = |n: usize| {
        let c = &c;
        async move {
            for _ in 0..n {
                let id = c.exec("BEGIN { printf(\"%d\\n\", pid); exit(); }", 2.0).await;
                assert_eq!(c.finished(&id).await["status"], "completed");
            }
        }
    };
    let list_ms = || async {
        let t = Instant::now();
        c.call("list_executions", json!({})).await.unwrap();
        t.elapsed().as_secs_f64() * 1e3
    };
    run(70).await;
    let (fds0, rss0, list0) = (fds(), rss_kib(), list_ms().await);
    run(130).await;
    let (fds1, rss1, list1) = (fds(), rss_kib(), list_ms().await);
    eprintln!(
        "after 70: {fds0} fds, {rss0} KiB, list {list0:.2} ms; after 200: {fds1} fds, {rss1} KiB, list {list1:.2} ms"
    );
    // The session kept ahead may still be verifying its slot programs (one
    // descriptor each, up to 7) when the first count is taken.
    assert!(fds1 <= fds0 + 9, "descriptors grew from {fds0} to {fds1}");
    assert!(rss1 <= rss0 + 16 * 1024, "memory grew from {rss0} KiB to {rss1} KiB");
    let listed = c.call("list_executions", json!({})).await.unwrap();
    let kept = listed["executions"].as_array().unwrap().len();
    assert!(kept <= 64, "{kept} finished executions kept");
    c.close().await;
}

/// The command line's bad inputs: each exits non-zero at once with a
/// message naming the problem, and never panics. Each is refused before
/// anything loads, so it runs without root too.
#[test]
fn bad_command_lines_get_specific_errors() {
    let dir = std::env::temp_dir().join(format!("mcptrace-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_utf8 = dir.join("not-utf8.bt");
    std::fs::write(&not_utf8, b"BEGIN { printf(\"\xff\xfe\"); exit(); }").unwrap();
    let huge = dir.join("huge.bt");
    std::fs::write(&huge, "BEGIN { printf(\"x\"); }\n".repeat(48 * 1024)).unwrap();
    let (not_utf8, huge) = (not_utf8.to_str().unwrap(), huge.to_str().unwrap());
    let table: &[(&[&str], &str)] = &[
        (&["run"], "give a program with -e PROGRAM or a FILE"),
        (&["run", "/no/such/file.bt"], "/no/such/file.bt"),
        (&["run", not_utf8], "valid UTF-8"),
        (&["run", huge], "the limit is 65536"),
        (&["run", "--timeout", "-1", "-e", "BEGIN { }"], "positive number of seconds"),
        (&["run", "--timeout", "0", "-e", "BEGIN { }"], "positive number of seconds"),
        (&["run", "--backend", "bogus", "-e", "BEGIN { }"], "invalid value 'bogus'"),
        (&["run", "-f", "xml", "-e", "BEGIN { }"], "invalid value 'xml'"),
        (&["run", "-e", "BEGIN { printf(\"%d\\n\") }"], "conversion"),
        (&["run", "-e", "tracepoint:nosuch:probe { }"], "nosuch"),
        (&["run", "-e", "uprobe:/etc/passwd:f { }"], "not an ELF object"),
        (&["run", "-e", "BEGIN { system(\"true\") }"], "--allow-unsafe"),
        (&["run", "--backend", "native", "-e", "BEGIN { print(sizeof(int)); }"], "cannot run"),
        (&["plan"], "required arguments"),
        (&["plan", "/no/such"], "/no/such"),
        (&["serve", "--http", "not-an-address"], "invalid socket address"),
        (&["serve", "--policy", "/no/such.toml"], "cannot read the policy file /no/such.toml"),
        (&["run", "--policy", "/no/such.toml", "-e", "BEGIN { }"], "/no/such.toml"),
        (&["plan", "--policy", not_utf8, "-e", "BEGIN { }"], "policy file"),
        (&["bogus"], "unrecognized subcommand"),
    ];
    for (args, expected) in table {
        let out = mcptrace().args(*args).stdin(Stdio::null()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert_ne!(out.status.code(), Some(101), "{args:?} panicked: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: `{stderr}` lacks `{expected}`");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Programs reach bpftrace on its stdin, never through a shell: shell
/// syntax in a program is just text, on both backends.
#[tokio::test(flavor = "multi_thread")]
async fn programs_never_pass_through_a_shell() {
    require_root();
    let _one = ONE_AT_A_TIME.lock().await;
    // bpftrace takes string literals of up to 64 bytes.
    let marker = std::path::PathBuf::from(format!("/tmp/m{}", std::process::id()));
    let text = format!("$(touch {0});`touch {0}`", marker.display());
    let c = Client::start().await;
    for backend in ["native", "bpftrace"] {
        let program = format!("BEGIN {{ printf(\"%s\\n\", \"{text}\"); exit(); }}");
        let id = c.exec_on(backend, &program, 5.0).await;
        let r = c.finished(&id).await;
        assert!(lines(&r).contains(&text), "{r}");
    }
    assert!(!marker.exists(), "a shell ran the program's text");
    c.close().await;
}

/// The program text stays out of bpftrace's command line, which every user
/// of the host can read in /proc.
#[tokio::test(flavor = "multi_thread")]
async fn program_text_is_not_on_a_command_line() {
    require_root();
    let _one = ONE_AT_A_TIME.lock().await;
    let c = Client::start().await;
    let program = "interval:ms:100 { printf(\"kept-private\\n\"); }";
    let id = c.exec_on("bpftrace", program, 30.0).await;
    let children = children_of(c.server_pid);
    assert!(!children.is_empty(), "bpftrace is not a child of the server");
    for pid in children {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(cmdline.contains("bpftrace"), "{cmdline}");
        assert!(!cmdline.contains("kept-private"), "the program is in argv: {cmdline}");
    }
    c.call("stop_execution", json!({ "execution_id": id })).await.unwrap();
    let r = c.finished(&id).await;
    assert_eq!(r["backend"], "bpftrace", "{r}");
    c.close().await;
}
