//! Every library program held to its stated truth, through a real MCP
//! client over stdio: found with find_programs, rendered through
//! prompts/get with arguments aimed at a workload process, run with
//! exec_program while the workload does known operations, and its output
//! read back with get_result. A program the host cannot run must be
//! refused by exec_program with the reason find_programs gave: none is
//! skipped silently.

use std::path::{Path, PathBuf};

use mcptrace_tests::{
    HeldWorkload,
    mcp::{Client, lines},
    require_root, target_bin, unique_path,
};
use rmcp::model::{ContentBlock, GetPromptRequestParams};
use serde_json::{Value, json};

/// How many of each operation a workload does: small, so each program runs
/// in about a second, but more than a stray event could fake.
const N: u64 = 8;

/// Paths one run of the test uses.
struct Scratch {
    /// A path nothing opens and that does not exist.
    missing: PathBuf,
    /// A file the workload creates on a block device, then removes.
    direct: PathBuf,
    workload: PathBuf,
}

/// One program's truth: what the workload does, the prompt arguments aimed
/// at it, and whether the output shows what the catalog states.
struct Truth {
    program: &'static str,
    ops: fn(&Scratch) -> Vec<String>,
    args: fn(&Scratch, u32) -> Value,
    holds: fn(&Scratch, u32, &Output) -> bool,
}

fn ops(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}
fn n() -> String {
    N.to_string()
}
fn getpids(_: &Scratch) -> Vec<String> {
    ops(&["getpid", &n()])
}
fn missing_opens(s: &Scratch) -> Vec<String> {
    ops(&["open", s.missing.to_str().unwrap(), &n()])
}
fn sleeps(_: &Scratch) -> Vec<String> {
    ops(&["usleep", &n(), "2000"])
}
fn children(_: &Scratch) -> Vec<String> {
    ops(&["children", &n(), "3"])
}
fn signals(_: &Scratch) -> Vec<String> {
    ops(&["signal", &n()])
}
fn mallocs(_: &Scratch) -> Vec<String> {
    ops(&["malloc", &n(), "12345"])
}
fn calls(_: &Scratch) -> Vec<String> {
    ops(&["call", &n()])
}
fn connections(_: &Scratch) -> Vec<String> {
    ops(&["tcp", &n(), "1000"])
}
fn direct_writes(s: &Scratch) -> Vec<String> {
    ops(&["directwrite", s.direct.to_str().unwrap(), &n(), "4096"])
}
fn touches(_: &Scratch) -> Vec<String> {
    ops(&["touch", &n()])
}
fn spin(_: &Scratch) -> Vec<String> {
    ops(&["spin", "300"])
}
fn none(_: &Scratch, _: u32) -> Value {
    json!({})
}
fn pid(_: &Scratch, pid: u32) -> Value {
    json!({ "pid": pid.to_string() })
}
fn comm(_: &Scratch, _: u32) -> Value {
    json!({ "comm": "mcpt-workload" })
}
fn target(s: &Scratch, pid: u32) -> Value {
    json!({ "binary": s.workload, "function": "mcpt_target", "pid": pid.to_string() })
}

const TRUTHS: &[Truth] = &[
    Truth {
        program: "syscall_counts_by_process",
        ops: getpids,
        args: none,
        holds: |_, _, out| out.value("@syscalls[mcpt-workload]") >= N,
    },
    Truth {
        program: "syscall_counts_of_pid",
        ops: getpids,
        args: pid,
        holds: |_, _, out| out.value(&format!("@calls[{}]", libc::SYS_getpid)) == N,
    },
    Truth {
        program: "syscall_latency_by_pid",
        ops: getpids,
        args: pid,
        holds: |_, _, out| out.hist_total(&format!("@usecs[{}]", libc::SYS_getpid)) == N,
    },
    Truth {
        program: "failed_syscalls_of_pid",
        ops: missing_opens,
        args: pid,
        holds: |_, _, out| out.value(&format!("@errors[{}, 2]", libc::SYS_openat)) == N,
    },
    Truth {
        program: "syscall_rate_of_comm",
        ops: getpids,
        args: |_, _| json!({ "comm": "mcpt-workload", "period_ms": "100" }),
        holds: |_, _, out| out.total("@calls") >= N,
    },
    Truth {
        program: "sleep_latency_of_pid",
        ops: sleeps,
        args: pid,
        holds: |_, _, out| {
            out.hist_total("@sleep_us") == N && out.hist_total_below("@sleep_us", 1024) == 0
        },
    },
    Truth {
        program: "file_opens_by_pid",
        ops: missing_opens,
        args: pid,
        holds: |s, _, out| {
            out.count(&format!("mcpt-workload {} flags=0", s.missing.display())) == N as usize
        },
    },
    Truth {
        program: "opens_by_path_of_comm",
        ops: missing_opens,
        args: comm,
        holds: |s, _, out| out.value(&format!("@opens[{}]", s.missing.display())) == N,
    },
    Truth {
        program: "openers_of_path",
        ops: missing_opens,
        args: |s, _| json!({ "path": s.missing }),
        holds: |_, pid, out| out.value(&format!("@openers[mcpt-workload, {pid}]")) == N,
    },
    Truth {
        program: "failed_opens_by_process",
        ops: missing_opens,
        args: none,
        holds: |_, _, out| out.value("@failed[mcpt-workload, 2]") >= N,
    },
    Truth {
        program: "read_size_histogram",
        ops: |_| ops(&["read", &n(), "4096"]),
        args: comm,
        holds: |_, _, out| out.bucket("@bytes", "[4K, 8K)") >= N,
    },
    Truth {
        program: "write_size_histogram",
        ops: |_| ops(&["write", &n(), "512"]),
        args: comm,
        holds: |_, _, out| out.bucket("@bytes", "[512, 1K)") >= N,
    },
    Truth {
        program: "write_bytes_by_fd_of_pid",
        ops: |_| ops(&["write", &n(), "512"]),
        args: pid,
        holds: |_, _, out| out.total("@bytes") == N * 512,
    },
    Truth {
        program: "process_execs",
        ops: |_| ops(&["exec", &n()]),
        args: none,
        holds: |s, _, out| {
            out.count_containing(&format!(" {}", s.workload.display())) >= N as usize
        },
    },
    Truth {
        program: "process_exit_codes",
        ops: children,
        args: none,
        holds: |_, _, out| out.count_containing(" mcpt-workload code=3") >= N as usize,
    },
    Truth {
        program: "failing_exits_by_name",
        ops: children,
        args: none,
        holds: |_, _, out| out.value("@failures[mcpt-workload, 3]") >= N,
    },
    Truth {
        program: "forks_of_pid",
        ops: children,
        args: pid,
        holds: |_, _, out| out.value("@children") == N,
    },
    Truth {
        program: "child_lifetimes_of_pid",
        ops: children,
        args: pid,
        holds: |_, _, out| out.hist_total("@lifetime_us") == N,
    },
    Truth {
        program: "signals_sent_by_pid",
        ops: signals,
        args: pid,
        holds: |_, pid, out| out.value(&format!("@sent[10, {pid}]")) == N,
    },
    Truth {
        program: "signals_delivered_to_pid",
        ops: signals,
        args: pid,
        holds: |_, _, out| out.value("@delivered[10]") == N,
    },
    Truth {
        program: "kill_calls",
        ops: signals,
        args: none,
        holds: |_, pid, out| {
            out.count(&format!("mcpt-workload pid={pid} sends signal 10 to {pid}")) == N as usize
        },
    },
    Truth {
        program: "context_switches_of_pid",
        ops: sleeps,
        args: pid,
        holds: |_, _, out| out.value("@switches[1]") >= N,
    },
    Truth {
        program: "run_queue_latency_of_pid",
        ops: sleeps,
        args: pid,
        holds: |_, _, out| out.hist_total("@runq_us") >= N,
    },
    Truth {
        program: "off_cpu_time_of_pid",
        ops: sleeps,
        args: pid,
        holds: |_, _, out| out.value("@off_cpu_us") >= N * 2000,
    },
    Truth {
        program: "off_cpu_stacks_of_pid",
        ops: sleeps,
        args: pid,
        holds: |_, _, out| out.total("@blocked") >= N && out.count_containing("nanosleep") > 0,
    },
    Truth {
        program: "cpu_profile_of_pid",
        ops: spin,
        args: |_, pid| json!({ "pid": pid, "hz": "199" }),
        holds: |_, _, out| out.total("@stacks") >= 1,
    },
    Truth {
        program: "cpu_samples_by_process",
        ops: spin,
        args: |_, _| json!({ "hz": "99" }),
        holds: |_, _, out| out.value("@samples[mcpt-workload]") >= 10,
    },
    Truth {
        program: "page_faults_by_process",
        ops: touches,
        args: none,
        holds: |_, pid, out| out.value(&format!("@faults[mcpt-workload, {pid}]")) >= N,
    },
    Truth {
        program: "page_fault_stacks_of_pid",
        ops: touches,
        args: pid,
        holds: |_, _, out| out.total("@faults") >= N,
    },
    Truth {
        program: "malloc_sizes_of_pid",
        ops: mallocs,
        args: pid,
        holds: |_, _, out| out.value("@requests[12345]") == N,
    },
    Truth {
        program: "malloc_bytes_by_stack_of_pid",
        ops: mallocs,
        args: pid,
        holds: |_, _, out| out.total("@bytes") >= N * 12345,
    },
    Truth {
        program: "oom_kills",
        ops: getpids,
        args: none,
        holds: |_, _, out| out.count_containing("oom victim") == 0,
    },
    Truth {
        program: "function_calls",
        ops: calls,
        args: |s, _| json!({ "binary": s.workload, "function": "mcpt_target" }),
        holds: |_, pid, out| out.value(&format!("@calls[mcpt-workload, {pid}]")) == N,
    },
    Truth {
        program: "function_latency_of_pid",
        ops: calls,
        args: target,
        holds: |_, _, out| out.hist_total("@ns") == N,
    },
    Truth {
        program: "function_returns_of_pid",
        ops: calls,
        args: target,
        holds: |_, _, out| {
            let line = out.line("@returned").unwrap_or_default();
            line.starts_with(&format!("count {N},"))
                && line.ends_with(&format!("total {}", N * (N + 1)))
        },
    },
    Truth {
        program: "tcp_connects_by_process",
        ops: connections,
        args: none,
        holds: |_, pid, out| out.value(&format!("@connects[mcpt-workload, {pid}]")) == N,
    },
    Truth {
        program: "tcp_state_changes",
        ops: connections,
        args: none,
        holds: |_, _, out| {
            out.value("@transitions[7, 2]") >= N && out.value("@transitions[2, 1]") >= N
        },
    },
    Truth {
        program: "connect_latency_of_pid",
        ops: connections,
        args: pid,
        holds: |_, _, out| out.hist_total("@connect_us") == N,
    },
    Truth {
        program: "tcp_send_sizes",
        ops: connections,
        args: none,
        holds: |_, _, out| out.bucket("@send_bytes[mcpt-workload]", "[512, 1K)") >= N,
    },
    Truth {
        program: "block_io_latency",
        ops: direct_writes,
        args: none,
        holds: |_, _, out| out.hist_total("@io_us") >= N,
    },
    Truth {
        program: "block_bytes_by_process",
        ops: direct_writes,
        args: none,
        holds: |_, _, out| out.value("@bytes[mcpt-workload]") >= N * 4096,
    },
    Truth {
        program: "vfs_calls_by_process",
        ops: |_| ops(&["read", &n(), "64"]),
        args: none,
        holds: |_, _, out| out.value("@calls[vfs_read, mcpt-workload]") >= N,
    },
];

/// A finished execution's output lines, read the way bpftrace prints maps.
struct Output(Vec<String>);

impl Output {
    /// The text after `{key}: ` on the line printing it.
    fn line(&self, key: &str) -> Option<&str> {
        let prefix = format!("{key}: ");
        self.0.iter().find_map(|l| l.strip_prefix(&prefix))
    }

    /// The integer `key` holds; 0 when it is not printed (as bpftrace
    /// leaves out keys never counted).
    fn value(&self, key: &str) -> u64 {
        self.line(key).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    }

    /// Every integer value printed for map `name` added up, whatever the
    /// keys (stack keys span lines and end with `]: N`), and every print
    /// of it (an interval may print it many times).
    fn total(&self, name: &str) -> u64 {
        let mut in_map = false;
        let mut total = 0;
        for l in &self.0 {
            if l.starts_with('@') {
                in_map = l.starts_with(&format!("{name}[")) || l.starts_with(&format!("{name}:"));
            }
            let value = l.rsplit_once(": ").and_then(|(_, v)| v.trim().parse::<u64>().ok());
            if let (true, Some(v)) = (in_map, value) {
                total += v;
            }
        }
        total
    }

    /// The histogram printed under `key`, as (bucket label, count).
    fn hist(&self, key: &str) -> Vec<(String, u64)> {
        let header = format!("{key}:");
        let bucket = regex::Regex::new(r"^(\[[^\]\)]*[\]\)])\s+(\d+) \|").unwrap();
        let start = self.0.iter().position(|l| l.trim_end() == header);
        let rows = start.map(|i| &self.0[i + 1..]).unwrap_or_default();
        rows.iter()
            .map_while(|l| bucket.captures(l))
            .map(|c| (c[1].to_string(), c[2].parse().unwrap()))
            .collect()
    }

    fn hist_total(&self, key: &str) -> u64 {
        self.hist(key).iter().map(|(_, n)| n).sum()
    }

    /// Samples in buckets wholly below `limit` (bpftrace's power-of-two
    /// labels: `[512, 1K)` is below 1024).
    fn hist_total_below(&self, key: &str, limit: u64) -> u64 {
        let upper = |label: &str| -> u64 {
            let end = label.trim_start_matches('[').trim_end_matches([')', ']']);
            let text = end.rsplit(", ").next().unwrap_or(end);
            let (digits, scale) = match text.strip_suffix('K') {
                Some(d) => (d, 1024),
                None => match text.strip_suffix('M') {
                    Some(d) => (d, 1024 * 1024),
                    None => (text, 1),
                },
            };
            digits.parse::<u64>().map_or(u64::MAX, |d| d * scale)
        };
        self.hist(key).iter().filter(|(label, _)| upper(label) <= limit).map(|(_, n)| n).sum()
    }

    fn bucket(&self, key: &str, label: &str) -> u64 {
        self.hist(key).into_iter().find(|(l, _)| l == label).map_or(0, |(_, n)| n)
    }

    fn count(&self, line: &str) -> usize {
        self.0.iter().filter(|l| *l == line).count()
    }

    fn count_containing(&self, part: &str) -> usize {
        self.0.iter().filter(|l| l.contains(part)).count()
    }
}

/// A rendered prompt's text: what the program does, how it runs here, and
/// the program in a fenced block.
async fn render(c: &Client, name: &str, args: Value) -> Result<String, String> {
    let Value::Object(args) = args else { panic!("arguments must be an object") };
    let mut request = GetPromptRequestParams::new(name);
    request.arguments = Some(args);
    let result = c.service.get_prompt(request).await.map_err(|e| e.to_string())?;
    let [message] = &result.messages[..] else { panic!("{result:?}") };
    let ContentBlock::Text(text) = &message.content else { panic!("{message:?}") };
    Ok(text.text.clone())
}

/// The program in a rendered prompt's fenced block.
fn fenced(text: &str) -> &str {
    let (_, rest) = text.split_once("```\n").expect("a fenced program");
    rest.split_once("\n```").expect("a closed fence").0
}

/// Runs one listed program against its workload; what went wrong, if
/// anything.
async fn check(c: &Client, listed: &Value, truth: &Truth, scratch: &Scratch) -> Result<(), String> {
    let runs = listed["here"]["runs"].as_str().unwrap();
    let ops = (truth.ops)(scratch);
    let workload = HeldWorkload::spawn(&ops.iter().map(String::as_str).collect::<Vec<_>>());
    let pid = workload.pid();
    let text = render(c, truth.program, (truth.args)(scratch, pid)).await?;
    let program = fenced(&text);
    let said = match runs {
        "native" => "On this host it runs natively.",
        "bpftrace" => "On this host it runs through bpftrace: ",
        _ => "On this host it is refused: ",
    };
    if !text.contains(said) {
        return Err(format!("listed as {runs}, but the prompt says otherwise: {text}"));
    }
    if runs == "refused" {
        let reason = listed["here"]["reason"].as_str().unwrap();
        let first = reason.split("; ").next().unwrap();
        return match c.call("exec_program", json!({ "program": program, "timeout": 5 })).await {
            Err(message) if message.contains(first) => Ok(()),
            other => Err(format!("listed as refused ({reason}) but exec_program gave {other:?}")),
        };
    }
    let id = c.exec(program, 30.0).await;
    workload.go();
    c.call("stop_execution", json!({ "execution_id": id })).await?;
    let r = c.finished(&id).await;
    if (r["status"].as_str(), r["backend"].as_str()) != (Some("completed"), Some(runs)) {
        return Err(format!("listed as {runs}, ended {r}"));
    }
    let out = Output(lines(&r));
    if (truth.holds)(scratch, pid, &out) {
        Ok(())
    } else {
        Err(format!("its truth does not hold:\n{program}\n{}", out.0.join("\n")))
    }
}

async fn find_programs(c: &Client, args: Value) -> Vec<Value> {
    let found = c.call("find_programs", args).await.unwrap();
    let programs = found["programs"].as_array().unwrap().clone();
    assert_eq!(found["count"], programs.len(), "{found}");
    programs
}

fn names(programs: &[Value]) -> Vec<&str> {
    programs.iter().map(|p| p["name"].as_str().unwrap()).collect()
}

/// Every listed program against its truth, in one server; failures are
/// collected so one run names them all.
#[tokio::test(flavor = "multi_thread")]
async fn every_program_shows_its_stated_truth_or_is_refused_with_a_reason() {
    require_root();
    let c = Client::start().await;
    let listed = find_programs(&c, json!({})).await;
    assert!(listed.len() >= 30, "{}", listed.len());
    let mut tested: Vec<&str> = TRUTHS.iter().map(|t| t.program).collect();
    tested.sort();
    let mut all = names(&listed);
    all.sort();
    assert_eq!(all, tested, "each library program needs exactly one truth here");

    let scratch = Scratch {
        missing: unique_path("library-missing"),
        direct: Path::new("/var/tmp").join(unique_path("library-direct").file_name().unwrap()),
        workload: target_bin("mcpt-workload"),
    };
    let mut failures = Vec::new();
    let mut native = Vec::new();
    for program in &listed {
        let name = program["name"].as_str().unwrap();
        let truth = TRUTHS.iter().find(|t| t.program == name).unwrap();
        let started = std::time::Instant::now();
        match check(&c, program, truth, &scratch).await {
            Ok(()) => native.extend((program["here"]["runs"] == "native").then_some(name)),
            Err(why) => failures.push(format!("{name}: {why}")),
        }
        eprintln!("{name}: {} in {:?}", program["here"]["runs"], started.elapsed());
    }
    c.close().await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    eprintln!("{} of {} native here: {native:?}", native.len(), listed.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn programs_are_found_by_keyword_and_listed_as_prompts() {
    require_root();
    let c = Client::start().await;
    let tcp = find_programs(&c, json!({ "query": "TCP connect" })).await;
    assert!(names(&tcp).contains(&"tcp_connects_by_process"), "{tcp:?}");
    let uprobes = find_programs(&c, json!({ "query": "malloc", "kind": "uprobe" })).await;
    assert_eq!(names(&uprobes), ["malloc_sizes_of_pid", "malloc_bytes_by_stack_of_pid"]);
    let sizes = &uprobes[0];
    assert_eq!(sizes["probe_kinds"], json!(["uprobe"]));
    assert_eq!(
        sizes["arguments"],
        json!([{ "name": "pid", "description": "The process id to trace.", "kind": "pid",
                 "required": true }])
    );
    assert_eq!(sizes["here"]["runs"], "native", "{sizes}");
    assert!(find_programs(&c, json!({ "query": "no-such-word" })).await.is_empty());
    let kind = c.call("find_programs", json!({ "kind": "kprob" })).await.unwrap_err();
    assert!(kind.contains("unknown probe kind `kprob`"), "{kind}");
    let unknown = c.call("find_programs", json!({ "words": "x" })).await.unwrap_err();
    assert!(unknown.contains("words"), "{unknown}");

    // The same programs are prompts, with titles and arguments.
    let prompts = c.service.list_all_prompts().await.unwrap();
    let all = find_programs(&c, json!({})).await;
    let prompt_names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    let mut listed = names(&all);
    listed.sort();
    let mut sorted = prompt_names.clone();
    sorted.sort();
    assert_eq!(sorted, listed);
    let rate = prompts.iter().find(|p| p.name == "syscall_rate_of_comm").unwrap();
    assert_eq!(rate.title.as_deref(), Some("System calls per period of processes by name"));
    let args: Vec<(&str, Option<bool>)> =
        rate.arguments.iter().flatten().map(|a| (a.name.as_str(), a.required)).collect();
    assert_eq!(args, [("comm", Some(true)), ("period_ms", Some(false))]);
    // Arguments are checked before they reach the program.
    let injection = json!({ "comm": "x\"); system(\"id" });
    let err = render(&c, "syscall_rate_of_comm", injection).await.unwrap_err();
    assert!(err.contains("is not a process name"), "{err}");
    c.close().await;
}
