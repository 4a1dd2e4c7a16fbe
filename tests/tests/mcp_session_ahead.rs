//! The server keeps a native session loaded ahead of its executions: its
//! programs are the server's, attached nowhere, and go when the server goes;
//! executions that run at once never see each other's events or maps.

use std::{collections::BTreeSet, time::Duration};

use mcptrace_tests::{
    HeldWorkload,
    mcp::{Client, attachments_of, bpf_programs_of, host_programs, lines},
    require_root,
};
use serde_json::{Value, json};

/// The server's session kept ahead, once one is ready.
async fn ready_ahead(c: &Client) -> Value {
    for _ in 0..300 {
        let info = c.call("host_info", json!({})).await.unwrap();
        if info["session_ahead"]["ready"] == true {
            return info["session_ahead"].clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no session loaded ahead after 30 s");
}

/// Kernel ids of the BPF programs process `pid` holds (from fdinfo).
fn program_ids_of(pid: u32) -> BTreeSet<u64> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fdinfo")).expect("the server's fdinfo");
    dir.filter_map(Result::ok)
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter_map(|info| {
            info.lines().find_map(|l| l.strip_prefix("prog_id:")?.trim().parse().ok())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_session_ahead_is_attached_nowhere_and_goes_with_the_server() {
    require_root();
    let c = Client::start().await;
    let server = c.server_pid;
    let ahead = ready_ahead(&c).await;
    let preloaded = ahead["programs"].as_u64().unwrap() as usize;
    assert!(preloaded >= 1, "no program verified ahead: {ahead}");
    assert_eq!(bpf_programs_of(server), preloaded, "{ahead}");
    assert_eq!(attachments_of(server), 0, "a program of the session ahead is attached");

    // An execution takes it; once it ends nothing of it stays attached and
    // the next session is loaded ahead.
    let id = c
        .exec("tracepoint:raw_syscalls:sys_enter { @n = count(); } interval:ms:50 { exit(); }", 5.0)
        .await;
    let r = c.finished(&id).await;
    assert_eq!(r["backend"], "native", "{r}");
    assert!(lines(&r).iter().any(|l| l.starts_with("@n: ")), "{r}");
    ready_ahead(&c).await;
    for _ in 0..100 {
        if attachments_of(server) == 0 && bpf_programs_of(server) == preloaded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(attachments_of(server), 0, "the execution left an attachment");
    assert_eq!(bpf_programs_of(server), preloaded, "the execution left programs");

    let held = program_ids_of(server);
    assert_eq!(held.len(), preloaded);
    c.close().await;
    for _ in 0..100 {
        if held.is_disjoint(&host_programs()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let left: Vec<_> = held.intersection(&host_programs()).copied().collect();
    panic!("programs of the session ahead outlived the server: {left:?}");
}

/// Five executions of one program text but each scoped to its own
/// workload: every one counts exactly its workload's calls and prints only
/// its pid, whichever session each got (the one ahead or a fresh one).
#[tokio::test(flavor = "multi_thread")]
async fn five_executions_at_once_never_see_each_other() {
    require_root();
    let c = Client::start().await;
    ready_ahead(&c).await;
    let mut runs = Vec::new();
    for i in 1..=5u32 {
        let calls = (100 * i).to_string();
        let held = HeldWorkload::spawn(&["getpid", &calls]);
        let pid = held.pid();
        let program = format!(
            "tracepoint:syscalls:sys_enter_getpid /pid == {pid}/ {{ @n = count(); @pids[pid] = count(); }} \
             tracepoint:syscalls:sys_exit_getpid /pid == {pid}/ {{ @last = pid; }}"
        );
        let id = c.exec(&program, 30.0).await;
        runs.push((id, held, pid, 100 * i));
    }
    let mut expected = Vec::new();
    for (id, held, pid, calls) in runs {
        held.go();
        expected.push((id, pid, calls));
    }
    for (id, pid, calls) in expected {
        let r = c.call("stop_execution", json!({"execution_id": id})).await.unwrap();
        assert_eq!(r["backend"], "native", "{r}");
        let out = lines(&r);
        assert!(out.contains(&format!("@n: {calls}")), "{pid}: {out:?}");
        assert!(out.contains(&format!("@last: {pid}")), "{pid}: {out:?}");
        let pids: Vec<&String> = out.iter().filter(|l| l.starts_with("@pids[")).collect();
        assert_eq!(pids, [&format!("@pids[{pid}]: {calls}")], "{pid}: {out:?}");
    }
    c.close().await;
}
