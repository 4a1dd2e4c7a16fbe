//! Arbitrary tool calls and raw protocol lines through the MCP server, in
//! process over an in-memory pipe: nothing may panic or hang, and after each
//! input the server must still answer a ping.
//!
//! The fuzzer drops to an unprivileged user first, so exec_program parses,
//! checks and plans but never loads a BPF program.

#![no_main]

use std::{
    path::PathBuf,
    sync::{Arc, OnceLock},
    time::Duration,
};

use libfuzzer_sys::fuzz_target;
use mcptrace::{
    exec::Executor,
    mcp::{Server, caller::Caller},
    policy::Policy,
};
use rmcp::ServiceExt;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    runtime::Runtime,
};

/// Tools the first input byte picks from.
const TOOLS: [&str; 9] = [
    "list_probes",
    "list_helpers",
    "exec_program",
    "get_result",
    "stop_execution",
    "list_executions",
    "validate_program",
    "probe_info",
    "host_info",
];

struct World {
    runtime: Runtime,
    executor: Arc<Executor>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        // SAFETY: plain syscalls, made before any other thread exists.
        unsafe {
            if libc::geteuid() == 0 {
                assert_eq!(libc::setgroups(0, std::ptr::null()), 0, "dropping groups");
                assert_eq!(libc::setgid(65534), 0, "dropping to gid 65534");
                assert_eq!(libc::setuid(65534), 0, "dropping to uid 65534");
            }
            assert_ne!(libc::geteuid(), 0, "the MCP fuzzer must not run as root");
        }
        World {
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime"),
            executor: Arc::new(Executor::new(PathBuf::from("bpftrace"), Policy::default(), None)),
        }
    })
}

/// The input as one line: a tools/call whose arguments are the input's
/// text after the first byte, or, for a first byte past the tools, the
/// text itself as a raw line.
fn message(data: &[u8]) -> Vec<u8> {
    let (&pick, rest) = data.split_first().unwrap_or((&0, &[]));
    let rest: Vec<u8> = rest.iter().map(|&b| if b == b'\n' { b' ' } else { b }).collect();
    match TOOLS.get(pick as usize % (TOOLS.len() + 1)) {
        Some(tool) => {
            let mut line = format!(
                r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"{tool}","arguments":"#
            )
            .into_bytes();
            line.extend_from_slice(&rest);
            line.extend_from_slice(b"}}");
            line
        }
        None => rest,
    }
}

async fn exchange(executor: Arc<Executor>, line: Vec<u8>) {
    let (client, server) = tokio::io::duplex(1 << 16);
    let serving = tokio::spawn(async move {
        if let Ok(running) = Server::new(executor, Caller::trusted("stdio")).serve(tokio::io::split(server)).await {
            let _ = running.waiting().await;
        }
    });
    let (read, mut write) = tokio::io::split(client);
    let mut lines = BufReader::new(read).lines();
    let mut send = async |bytes: &[u8]| {
        write.write_all(bytes).await.expect("write");
        write.write_all(b"\n").await.expect("write");
    };
    send(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"fuzz","version":"0"}}}"#).await;
    send(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).await;
    send(&line).await;
    send(br#"{"jsonrpc":"2.0","id":99,"method":"ping"}"#).await;
    loop {
        let next = lines.next_line().await.expect("read");
        let reply = next.expect("the server closed the connection");
        let reply: serde_json::Value =
            serde_json::from_str(&reply).expect("the server writes JSON");
        if reply["id"] == 99 {
            break;
        }
    }
    drop(send);
    drop(lines);
    serving.abort();
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let line = message(data);
    w.runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), exchange(w.executor.clone(), line))
            .await
            .expect("the server answered within 10 s");
    });
});
