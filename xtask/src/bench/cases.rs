//! The cases: each runs one program on one backend once and returns its
//! figures. The runner alternates backends and repeats.

use std::{
    path::PathBuf,
    process::Command,
    rc::Rc,
    thread,
    time::{Duration, Instant},
};

use super::{
    mcp::Server,
    measure::{Counted, Held, Tracer, Trigger, ms_between, time_workload},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Native,
    Bpftrace,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Native => "native",
            Backend::Bpftrace => "bpftrace",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Lower,
    Higher,
    /// A reference figure (the untraced workload): no ratio.
    Neither,
}

/// One figure a case yields per run.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    pub label: &'static str,
    pub unit: &'static str,
    pub better: Better,
    /// Drawn in the chart (figures derived from another one are not).
    pub chart: bool,
}

const fn metric(label: &'static str, unit: &'static str, better: Better) -> Metric {
    Metric { label, unit, better, chart: !matches!(better, Better::Neither) }
}

pub const MS: Metric = metric("", "ms", Better::Lower);
/// Native's own phases (`mcptrace run --timings`): where its time goes, with
/// no bpftrace counterpart.
pub const LOAD: Metric = metric("native: object and maps loaded", "ms", Better::Neither);
pub const ATTACH: Metric =
    metric("native: probes attached (verifier included)", "ms", Better::Neither);
pub const DETACH: Metric = metric("native: probes detached", "ms", Better::Neither);
pub const ANSWERED: Metric = metric("exec_program answered (attached)", "ms", Better::Lower);

/// What `mcptrace run --timings` said of a native run; not-a-number for
/// bpftrace, which says nothing of the kind.
struct Timings {
    load: f64,
    attach: f64,
    detach: f64,
}

impl Timings {
    fn of(backend: Backend, stderr: &str) -> Result<Timings, String> {
        if backend == Backend::Bpftrace {
            return Ok(Timings { load: f64::NAN, attach: f64::NAN, detach: f64::NAN });
        }
        let line = stderr
            .lines()
            .find_map(|l| l.strip_prefix("mcptrace: timings: "))
            .ok_or_else(|| format!("no timings from mcptrace run: {stderr}"))?;
        let phase = |name: &str| -> Result<f64, String> {
            line.split(", ")
                .find_map(|p| p.strip_prefix(name)?.strip_prefix(' ')?.strip_suffix(" ms"))
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("no {name} in timings: {line}"))
        };
        Ok(Timings { load: phase("load")?, attach: phase("attach")?, detach: phase("detach")? })
    }
}

pub struct Case {
    pub name: String,
    /// Why this kernel cannot run the case (a probe kind it lacks), if so.
    pub unavailable: Option<String>,
    pub metrics: Vec<Metric>,
    /// One run on one backend: a figure per metric.
    pub run: Box<dyn FnMut(Backend) -> Result<Vec<f64>, String>>,
}

/// What the cases run and how big the workloads are.
pub struct Env {
    pub mcptrace: PathBuf,
    pub workload: PathBuf,
    /// getpid() calls of the overhead case.
    pub calls: u64,
    /// Events of the throughput case.
    pub events: u64,
    /// Time limit of the shut-down case, in seconds.
    pub limit_s: f64,
}

impl Env {
    /// The tracer running `program`: `mcptrace run --backend native`, or
    /// the bpftrace CLI itself (the reference mcptrace is measured against).
    /// A time limit is native's own; for bpftrace the case interrupts it.
    fn tracer(&self, backend: Backend, program: &str, limit: Option<f64>) -> Command {
        match backend {
            Backend::Native => {
                let mut c = Command::new(&self.mcptrace);
                // Timings go to stderr, for the figures of native's phases.
                c.args(["run", "--backend", "native", "--timings"]);
                if let Some(s) = limit {
                    c.args(["--timeout", &s.to_string()]);
                }
                c.args(["-e", program]);
                c
            }
            Backend::Bpftrace => {
                let mut c = Command::new("bpftrace");
                c.args(["-e", program]);
                c
            }
        }
    }
}

impl Env {
    /// Why `program` cannot run natively here, as `mcptrace plan` says: it
    /// refuses it (a probe kind this kernel lacks) or falls back. None when
    /// it runs natively, the only way both backends can be measured.
    fn not_native(&self, program: &str) -> Option<String> {
        let out = Command::new(&self.mcptrace).args(["plan", "-e", program]).output();
        match out {
            Ok(o) if o.status.success() => {
                let text = String::from_utf8_lossy(&o.stdout);
                text.lines().find_map(|l| l.strip_prefix("fallback: ")).map(str::to_string)
            }
            Ok(o) => {
                let text = String::from_utf8_lossy(&o.stderr);
                Some(text.lines().find(|l| !l.trim().is_empty()).unwrap_or("refused").into())
            }
            Err(e) => Some(format!("cannot run {}: {e}", self.mcptrace.display())),
        }
    }
}

/// x86-64's and arm64's getpid syscall number, for raw_syscalls filters.
#[cfg(target_arch = "aarch64")]
const SYS_GETPID: u32 = 172;
#[cfg(not(target_arch = "aarch64"))]
const SYS_GETPID: u32 = 39;

pub fn all(env: Rc<Env>) -> Vec<Case> {
    let me = std::process::id();
    let workload = env.workload.display().to_string();
    vec![
        start_up(&env, "BEGIN only", r#"BEGIN { printf("hit\n"); exit(); }"#.into(), None),
        start_up(
            &env,
            "one tracepoint (sys_enter_openat)",
            format!(
                r#"tracepoint:syscalls:sys_enter_openat /pid == {me}/ {{ printf("hit\n"); exit(); }}"#
            ),
            Some(|_: &Env| Trigger::opens()),
        ),
        start_up(
            &env,
            "wildcard sys_enter_open*",
            format!(
                r#"tracepoint:syscalls:sys_enter_open* /pid == {me}/ {{ printf("hit\n"); exit(); }}"#
            ),
            Some(|_: &Env| Trigger::opens()),
        ),
        start_up(
            &env,
            "uprobe",
            format!(r#"uprobe:{workload}:mcpt_target {{ printf("hit\n"); exit(); }}"#),
            Some(|env: &Env| Trigger::uprobe_calls(&env.workload)),
        ),
        exit_to_exit(&env, me, "tracepoint:syscalls:sys_enter_openat"),
        exit_to_exit(&env, me, "tracepoint:raw_syscalls:sys_enter"),
        limit_to_results(&env, me),
        whole_run(&env, "BEGIN printf exit", r#"BEGIN { printf("hi\n"); exit(); }"#.into(), None),
        whole_run(
            &env,
            "100 ms @[comm] = count()",
            "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); } interval:ms:100 { exit(); }"
                .into(),
            None,
        ),
        // bpftrace attaches the 360 tracepoints in ~0.1 s but takes ~27 s to
        // detach them; natively they share raw_syscalls.
        whole_run(
            &env,
            "every sys_enter_* tracepoint, exit() at the first event",
            format!("tracepoint:syscalls:sys_enter_* /pid == {me}/ {{ exit(); }}"),
            Some(|_: &Env| Trigger::opens()),
        ),
        // A syscall tracepoint attaches as a perf-event tracepoint natively;
        // raw_syscalls as the raw tracepoint it is built on.
        overhead(&env, "tracepoint:syscalls:sys_enter_getpid"),
        overhead(&env, "tracepoint:raw_syscalls:sys_enter"),
        // __do_sys_getpid, not the __x64_sys_ wrapper: Debian's kernels have
        // no BTF for the wrappers, so fentry could not attach there.
        overhead(&env, "kprobe:__do_sys_getpid"),
        overhead(&env, "kfunc:__do_sys_getpid"),
        throughput(&env),
        mcp_round_trip(&env),
        mcp_first_event(
            &env,
            "tracepoint",
            format!(
                r#"tracepoint:syscalls:sys_enter_openat /pid == {me}/ {{ printf("hit\n"); exit(); }}"#
            ),
            |_| Trigger::opens(),
        ),
        mcp_first_event(
            &env,
            "uprobe",
            format!(r#"uprobe:{workload}:mcpt_target {{ printf("hit\n"); exit(); }}"#),
            |env| Trigger::uprobe_calls(&env.workload),
        ),
    ]
}

/// Starts the events a case waits for, if it does not cause them itself.
type MakeTrigger = fn(&Env) -> Trigger;

/// Spawn to the first event's line, the harness causing the event over and
/// over (unless BEGIN is the event).
fn start_up(env: &Rc<Env>, what: &str, program: String, trigger: Option<MakeTrigger>) -> Case {
    let env = env.clone();
    Case {
        unavailable: None,
        name: format!("start-up: {what}, to first event"),
        metrics: vec![MS, LOAD, ATTACH],
        run: Box::new(move |backend| {
            let _trigger = trigger.map(|t| t(&env));
            let tracer = Tracer::spawn(&mut env.tracer(backend, &program, None), None)?;
            let hit = tracer.wait_for(|l| l == "hit")?;
            let spawned = tracer.spawned;
            let done = tracer.finish(false)?;
            let phases = Timings::of(backend, &done.stderr)?;
            Ok(vec![ms_between(spawned, hit), phases.load, phases.attach])
        }),
    }
}

/// From the line printed with exit() to the process's end: maps printed,
/// probes detached. `probe` fires on the harness's opens.
fn exit_to_exit(env: &Rc<Env>, me: u32, probe: &str) -> Case {
    let env = env.clone();
    let program = format!(r#"{probe} /pid == {me}/ {{ @n = count(); printf("hit\n"); exit(); }}"#);
    Case {
        unavailable: None,
        name: format!("shut-down: exit() to process exit ({probe})"),
        metrics: vec![MS, DETACH],
        run: Box::new(move |backend| {
            let _trigger = Trigger::opens();
            let tracer = Tracer::spawn(&mut env.tracer(backend, &program, None), None)?;
            let hit = tracer.wait_for(|l| l == "hit")?;
            let done = tracer.finish(false)?;
            let phases = Timings::of(backend, &done.stderr)?;
            Ok(vec![ms_between(hit, done.exited), phases.detach])
        }),
    }
}

/// From the time limit to the line of results (the map). Natively the limit
/// is `--timeout`; bpftrace has none, so the harness interrupts it once it
/// is ready and the limit has passed, as mcptrace does for bpftrace.
fn limit_to_results(env: &Rc<Env>, me: u32) -> Case {
    let env = env.clone();
    let program = format!(
        r#"tracepoint:syscalls:sys_enter_openat /pid == {me}/ {{ @n = count(); }} BEGIN {{ printf("go\n"); }}"#
    );
    Case {
        unavailable: None,
        name: format!("shut-down: {} s time limit to results printed", env.limit_s),
        metrics: vec![MS],
        run: Box::new(move |backend| {
            let _trigger = Trigger::opens();
            let limit = env.limit_s;
            let native = backend == Backend::Native;
            let tracer =
                Tracer::spawn(&mut env.tracer(backend, &program, native.then_some(limit)), None)?;
            // Native starts its clock as it writes the attach line: counting
            // from that line's arrival makes the pipe's delay cancel out, as
            // the map's line comes through the same pipe.
            let attached = tracer.wait_for(|l| l.starts_with("Attaching"))?;
            let go = tracer.wait_go()?;
            let due = if native { attached } else { go } + Duration::from_secs_f64(limit);
            if !native {
                thread::sleep(due.saturating_duration_since(Instant::now()));
            }
            let done = tracer.finish(!native)?;
            let last = done.lines.iter().rev().find(|(_, l)| l.starts_with("@n:"));
            let (at, _) = last.ok_or("no map printed at the time limit")?;
            Ok(vec![ms_between(due, *at)])
        }),
    }
}

/// Spawn to exit, under /usr/bin/time for the peak RSS; the program ends
/// itself.
fn whole_run(env: &Rc<Env>, what: &str, program: String, trigger: Option<MakeTrigger>) -> Case {
    let env = env.clone();
    Case {
        unavailable: None,
        name: format!("whole run: {what}"),
        metrics: vec![MS, metric("peak RSS", "MiB", Better::Lower)],
        run: Box::new(move |backend| {
            let _trigger = trigger.map(|t| t(&env));
            let inner = env.tracer(backend, &program, None);
            let mut cmd = Command::new("/usr/bin/time");
            cmd.args(["-f", "mcptrace-bench-rss %M"])
                .arg(inner.get_program())
                .args(inner.get_args());
            let tracer = Tracer::spawn(&mut cmd, None)?;
            let spawned = tracer.spawned;
            let done = tracer.finish(false)?;
            let rss_kib: f64 = done
                .stderr
                .lines()
                .find_map(|l| l.strip_prefix("mcptrace-bench-rss "))
                .and_then(|v| v.trim().parse().ok())
                .ok_or("no peak RSS from /usr/bin/time")?;
            Ok(vec![ms_between(spawned, done.exited), rss_kib / 1024.0])
        }),
    }
}

/// The same getpid() loop alone and under the tracer on `probe`, back to
/// back: the cost per event of a probe kind.
fn overhead(env: &Rc<Env>, probe: &str) -> Case {
    let env = env.clone();
    let name = format!("overhead: {} getpid() under {probe} @[comm] = count()", short(env.calls));
    let program = format!(r#"{probe} {{ @[comm] = count(); }} BEGIN {{ printf("go\n"); }}"#);
    Case {
        name,
        unavailable: env.not_native(&program),
        metrics: vec![
            metric("untraced", "ms", Better::Neither),
            metric("traced", "ms", Better::Lower),
            Metric { chart: false, ..metric("slowdown", "×", Better::Lower) },
            metric("added per call", "ns", Better::Lower),
        ],
        run: Box::new(move |backend| {
            let calls = env.calls.to_string();
            let ops = ["getpid", calls.as_str()];
            let alone = time_workload(&env.workload, &ops)?;
            let tracer = Tracer::spawn(&mut env.tracer(backend, &program, None), None)?;
            tracer.wait_go()?;
            let traced = time_workload(&env.workload, &ops);
            tracer.finish(true)?;
            let traced = traced?;
            let added_ns = (traced - alone) * 1e6 / env.calls as f64;
            Ok(vec![alone, traced, traced / alone, added_ns])
        }),
    }
}

/// printf per getpid() of a held workload: events delivered per second
/// (from the workload's start to the last event line read), the share of
/// the workload's events delivered, and the losses the tracer reported.
fn throughput(env: &Rc<Env>) -> Case {
    let env = env.clone();
    Case {
        unavailable: None,
        name: format!("throughput: printf per event, {} getpid()", short(env.events)),
        metrics: vec![
            metric("delivered", "events/s", Better::Higher),
            metric("delivered share", "%", Better::Higher),
            // Often none on one side: no ratio then, and the share is charted.
            Metric { chart: false, ..metric("lost", "events", Better::Lower) },
        ],
        run: Box::new(move |backend| {
            let events = env.events.to_string();
            let held = Held::spawn(&env.workload, &["getpid", &events])?;
            let program = format!(
                r#"tracepoint:raw_syscalls:sys_enter /pid == {} && args->id == {SYS_GETPID}/ {{ printf("e %d\n", args->id); }} BEGIN {{ printf("go\n"); }}"#,
                held.pid()
            );
            let counted = Counted::new("e ");
            let tracer =
                Tracer::spawn(&mut env.tracer(backend, &program, None), Some(counted.clone()))?;
            tracer.wait_go()?;
            let (start, _) = held.run()?;
            // Until every event is in, or none came for a second (lost).
            let mut seen = counted.get().0;
            while seen < env.events {
                thread::sleep(Duration::from_secs(1));
                let now = counted.get().0;
                if now == seen {
                    break;
                }
                seen = now;
            }
            let done = tracer.finish(true)?;
            let (delivered, last) = counted.get();
            let lost: u64 = done
                .lines
                .iter()
                .filter_map(|(_, l)| {
                    l.strip_prefix("Lost ")?.strip_suffix(" events")?.parse::<u64>().ok()
                })
                .sum();
            let secs = last.map_or(f64::NAN, |l| ms_between(start, l) / 1000.0);
            let share = delivered as f64 * 100.0 / env.events as f64;
            Ok(vec![delivered as f64 / secs, share, lost as f64])
        }),
    }
}

/// exec_program, then get_result until completed with the output, through
/// one `mcptrace serve` per backend (exec_program's `backend` chooses it;
/// the server's answer is checked to name it).
fn mcp_round_trip(env: &Rc<Env>) -> Case {
    let env = env.clone();
    let mut servers = Servers::default();
    Case {
        unavailable: None,
        name: "MCP: exec_program → get_result with output (BEGIN printf exit)".into(),
        metrics: vec![MS],
        run: Box::new(move |backend| {
            let server = servers.of(backend, &env)?;
            let start = Instant::now();
            let output =
                server.exec_and_wait(r#"BEGIN { printf("hi\n"); exit(); }"#, backend.name())?;
            let elapsed = start.elapsed();
            if !output.iter().any(|l| l == "hi") {
                return Err(format!("MCP {}: output without `hi`: {output:?}", backend.name()));
            }
            Ok(vec![super::measure::ms(elapsed)])
        }),
    }
}

/// exec_program of `program` → its first event's line in get_result,
/// through one `mcptrace serve` per backend: natively from the session the
/// server keeps loaded ahead (waited for before the clock starts), through
/// bpftrace from its cold start.
fn mcp_first_event(env: &Rc<Env>, what: &str, program: String, trigger: MakeTrigger) -> Case {
    let env = env.clone();
    let mut servers = Servers::default();
    Case {
        unavailable: None,
        name: format!("MCP: exec_program → first event in get_result ({what})"),
        metrics: vec![MS, ANSWERED],
        run: Box::new(move |backend| {
            // The other backend's last execution may still be detaching:
            // the kernel's tracepoint lock would make this attach wait.
            servers.wait_quiet()?;
            let server = servers.of(backend, &env)?;
            if backend == Backend::Native {
                server.wait_session_ahead()?;
            }
            let _trigger = trigger(&env);
            let start = Instant::now();
            let answered = server.exec_until_line(&program, backend.name(), "hit")?;
            Ok(vec![super::measure::ms(start.elapsed()), ms_between(start, answered)])
        }),
    }
}

/// One `mcptrace serve` per backend, started at its first use and kept
/// for the case's runs.
#[derive(Default)]
struct Servers([Option<Server>; 2]);

impl Servers {
    /// Waits until no execution of either server holds the kernel.
    fn wait_quiet(&self) -> Result<(), String> {
        self.0.iter().flatten().try_for_each(Server::wait_quiet)
    }

    fn of(&mut self, backend: Backend, env: &Env) -> Result<&mut Server, String> {
        let slot = &mut self.0[backend as usize];
        if slot.is_none() {
            *slot = Some(Server::start(&env.mcptrace)?);
        }
        Ok(slot.as_mut().expect("started above"))
    }
}

/// 10000000 as "10M", 200000 as "200k".
pub fn short(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1000 && n % 1000 == 0 => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}
