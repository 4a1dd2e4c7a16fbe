//! The native run loop end to end on a hand-built program: BEGIN, per-event
//! printf, in-kernel aggregation, exit(), END and the map dump, in bpftrace's
//! order and format.

use std::{
    io::{BufRead, BufReader, Read},
    os::fd::AsFd,
    process::Stdio,
    time::Duration,
};

use mcptrace::{
    exec::StopSignal,
    host::bpf_stats::CostWatch,
    ir::{
        AttachPoint, BinOp, Expr, KernelProbe, MapAgg, MapInfo, NativeProgram, ProbeName, Stmt,
        UserLocation, regs,
        slot::{SlotBuilder, op},
    },
    lang::printf::FormatString,
    native::{
        Sessions, Transport,
        run::{EndReason, attach},
    },
    output::{Format, Record},
};
use mcptrace_common::slot::{map_op, op};
use mcptrace_tests::{
    HeldWorkload,
    mcp::{attachments_of, bpf_maps_of, bpf_programs_of},
    mcptrace, require_root, target_bin,
};
use regex::Regex;

fn render(records: &[Record]) -> String {
    let mut out = Vec::new();
    for r in records {
        Format::Text.render(r, &mut out);
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn begin_events_exit_end_and_maps_in_order() {
    require_root();
    let held = HeldWorkload::spawn(&["call", "20"]);
    // uprobe:mcpt_target /arg0 > 5/ { @n = count(); @h = hist(arg0);
    //   printf("%d %s\n", arg0, probe); if (arg0 == 20) { exit(); } }
    let mut b = SlotBuilder::new();
    let a = b.field(regs::CALL_ARGS[0], 8, true).unwrap();
    b.predicate([op(op::VALUE, a.0, 0), op(op::IMM, 0, 5), op(op::GT, 0, 0)]);
    let n = b.key(0, &[]).unwrap();
    b.map_op(map_op::COUNT, n, vec![], vec![]).unwrap();
    let h = b.key(1, &[]).unwrap();
    b.map_op(map_op::HIST, h, vec![op(op::VALUE, a.0, 0)], vec![]).unwrap();
    let arg0 = Expr::Captured { at: a, signed: true };
    let program = NativeProgram {
        attach_count: 3,
        begin: vec![vec![Stmt::Printf { format: FormatString::parse("begin\n"), args: vec![] }]],
        probes: vec![KernelProbe {
            points: vec![AttachPoint::Uprobe {
                binary: target_bin("mcpt-workload"),
                location: UserLocation::Symbol { name: "mcpt_target".into(), offset: 0 },
                ret: false,
                pid: Some(held.pid()),
            }],
            config: b.build().unwrap(),
            name: ProbeName::Fixed("uprobe:mcpt-workload:mcpt_target".into()),
            predicate: None,
            body: vec![
                Stmt::Printf {
                    format: FormatString::parse("%d %s\n"),
                    args: vec![arg0.clone(), Expr::Probe],
                },
                Stmt::If {
                    cond: Expr::Binary(
                        BinOp::Eq,
                        Box::new(arg0),
                        Box::new(Expr::Int { bits: 20, signed: true }),
                    ),
                    then: vec![Stmt::Exit],
                    otherwise: vec![],
                },
            ],
        }],
        end: vec![vec![Stmt::Printf { format: FormatString::parse("end\n"), args: vec![] }]],
        maps: vec![
            MapInfo {
                id: 1,
                name: "@h".into(),
                agg: MapAgg::Hist,
                key: vec![],
                in_user_space: false,
            },
            MapInfo {
                id: 0,
                name: "@n".into(),
                agg: MapAgg::Count,
                key: vec![],
                in_user_space: false,
            },
        ],
        print_maps_on_exit: true,
    };

    let attached = attach(program, &Sessions::on_demand(Transport::RingBuffer)).unwrap();
    let stop = StopSignal::new().unwrap();
    let worker = std::thread::spawn(move || {
        let mut records = Vec::new();
        let mut sink = |r: Record| {
            records.push(r);
            true
        };
        let (outcome, teardown) = attached
            .run(Duration::from_secs(10), &mut sink, stop.as_fd(), CostWatch::none())
            .unwrap();
        drop(teardown);
        (outcome, records)
    });
    held.go();
    let (outcome, records) = worker.join().unwrap();
    assert_eq!(outcome.reason, EndReason::Exit);
    let text = render(&records);
    // exit() comes with the last call, and the kernel makes a hit's map
    // updates before its event is visible: all 15 hits above 5 are counted,
    // the exiting one included, however soon user space acts on its event.
    let events: String =
        (6..=20).map(|i| format!("{i} uprobe:mcpt-workload:mcpt_target\n")).collect();
    let hist = [("[4, 8)", 2), ("[8, 16)", 8), ("[16, 32)", 5)]
        .iter()
        .map(|(label, n)| format!("{label:<16}{n:>8} |{:<52}|\n", "@".repeat(n * 52 / 8)))
        .collect::<String>();
    let want = format!("Attaching 3 probes...\nbegin\n{events}end\n\n\n@h: \n{hist}\n@n: 15\n");
    assert_eq!(text, want);
}

/// Every map update of a probe lands or is counted in a warning, never lost
/// silently: in sched_switch (interrupts off) the kernel may have no memory
/// for a new key, and four keyless counts of one probe then come out short.
#[test]
fn map_updates_land_or_are_reported() {
    require_root();
    let held = HeldWorkload::spawn(&["usleep", "40", "1000"]);
    let program = format!(
        "tracepoint:sched:sched_switch /pid == {}/ {{ @a = count(); @b = count(); @c = count(); \
         @d = count(); }}",
        held.pid()
    );
    let mut run = mcptrace()
        .args(["run", "--backend", "native", "-e", &program])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(run.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(first.starts_with("Attaching"), "{first}");
    held.go();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(run.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(run.wait().unwrap().success(), "{rest}");
    let count = |map: &str| -> u64 {
        let line = rest.lines().find(|l| l.starts_with(&format!("@{map}: "))).unwrap_or("0");
        line.rsplit(' ').next().unwrap().parse().unwrap_or(0)
    };
    let counts = ["a", "b", "c", "d"].map(count);
    let most = *counts.iter().max().unwrap();
    assert!(most >= 40, "the workload slept 40 times: {rest}");
    let missing: u64 = counts.iter().map(|c| most - c).sum();
    let dropped = Regex::new(r"WARNING: (\d+) map updates were dropped").unwrap();
    let reported = dropped.captures(&rest).map_or(0, |c| c[1].parse::<u64>().unwrap());
    // A hit whose four updates all failed shortens even the fullest map, so
    // the count may exceed the visible shortfall; it never falls below it.
    assert!(reported >= missing, "{missing} updates missing, {reported} reported: {rest}");
}

/// A program of BEGIN and END alone runs in user space: while it runs, the
/// process holds no BPF map, program or attachment (loading the object
/// would cost it most of its start-up), and it prints what bpftrace does.
#[test]
fn begin_and_end_alone_load_nothing_into_the_kernel() {
    require_root();
    let mut run = mcptrace()
        .args([
            "run",
            "--backend",
            "native",
            "--timings",
            "-e",
            r#"BEGIN { printf("ready\n"); } END { printf("bye\n"); }"#,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(run.stdout.take().unwrap());
    let mut head = String::new();
    for _ in 0..2 {
        stdout.read_line(&mut head).unwrap();
    }
    assert_eq!(head, "Attaching 2 probes...\nready\n");
    let pid = run.id();
    let held = (bpf_maps_of(pid), bpf_programs_of(pid), attachments_of(pid));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    run.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(run.wait().unwrap().success(), "{rest}");
    assert_eq!(held, (0, 0, 0), "BPF maps, programs and attachments held by the run");
    assert_eq!(rest, "bye\n\n\n");
    assert!(
        stderr.starts_with("mcptrace: timings: load 0.0 ms, attach 0.0 ms, detach "),
        "nothing to load or attach: {stderr}"
    );
}
