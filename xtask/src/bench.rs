//! `cargo xtask bench`: native runs against the bpftrace CLI, measured side
//! by side in one invocation (alternating, after a warm-up), reported as
//! medians, spreads and bpftrace/native ratios. Figures, never pass/fail.

use std::{
    fmt::Write as _,
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::shell::{self, root};

/// One measurement of one run.
#[derive(Clone, Copy)]
struct Sample {
    wall_ms: f64,
    peak_rss_kib: f64,
}

struct Case {
    name: &'static str,
    program: &'static str,
    /// Runs after the tracer attached, timed; None: the run itself is timed.
    workload: Option<&'static [&'static str]>,
}

const CASES: &[Case] = &[
    Case {
        name: "BEGIN printf exit (whole run)",
        program: r#"BEGIN { printf("hi\n"); exit(); }"#,
        workload: None,
    },
    Case {
        name: "100 ms @[comm] = count() (whole run)",
        program: "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); } interval:ms:100 { exit(); }",
        workload: None,
    },
    Case {
        name: "sys_enter_open* wildcard, exit at first (whole run)",
        program: "tracepoint:syscalls:sys_enter_open* { exit(); } interval:ms:50 { exit(); }",
        workload: None,
    },
    Case {
        name: "2M getpid under @[comm] = count() (workload time)",
        program: "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }",
        workload: Some(&["getpid", "2000000"]),
    },
];

pub fn run(args: &[String]) -> Result<(), String> {
    let runs: usize =
        flag(args, "--runs").map_or(Ok(5), |v| v.parse().map_err(|_| "--runs takes a number"))?;
    shell::cargo(&["build", "--release", "-p", "mcptrace", "-p", "mcptrace-tests", "--bins"])?;
    let bin = root().join("target/release/mcptrace");
    let workload = root().join("target/release/mcpt-workload");
    let mut table = String::new();
    let mut json = Vec::new();
    writeln!(
        table,
        "{:<52} {:>22} {:>22} {:>8}",
        "case", "native ms (min-max)", "bpftrace ms (min-max)", "ratio"
    )
    .ok();
    let baseline = |w: &Path| -> Result<f64, String> {
        let mut times: Vec<f64> = (0..runs)
            .map(|_| time_workload(w, &["getpid", "2000000"]))
            .collect::<Result<_, _>>()?;
        Ok(median(&mut times))
    };
    for case in CASES {
        eprintln!("bench: {}", case.name);
        let (mut native, mut reference) = (Vec::new(), Vec::new());
        // One warm-up of each, then alternate so drift hits both alike.
        for i in 0..=runs {
            let n = measure(
                &[bin.to_str().unwrap(), "run", "--backend", "native", "-e", case.program],
                case,
                &workload,
            )?;
            let b = measure(&["bpftrace", "-e", case.program], case, &workload)?;
            if i > 0 {
                native.push(n);
                reference.push(b);
            }
        }
        let mut nw: Vec<f64> = native.iter().map(|s| s.wall_ms).collect();
        let mut bw: Vec<f64> = reference.iter().map(|s| s.wall_ms).collect();
        let (nmin, nmax, bmin, bmax) = (min(&nw), max(&nw), min(&bw), max(&bw));
        let (nm, bm) = (median(&mut nw), median(&mut bw));
        let mut nr: Vec<f64> = native.iter().map(|s| s.peak_rss_kib).collect();
        let mut br: Vec<f64> = reference.iter().map(|s| s.peak_rss_kib).collect();
        let (nrss, brss) = (median(&mut nr), median(&mut br));
        writeln!(
            table,
            "{:<52} {:>22} {:>22} {:>7.1}x",
            case.name,
            format!("{nm:.1} ({nmin:.1}-{nmax:.1})"),
            format!("{bm:.1} ({bmin:.1}-{bmax:.1})"),
            bm / nm
        )
        .ok();
        if case.workload.is_none() {
            writeln!(
                table,
                "{:<52} {:>22} {:>22} {:>7.1}x",
                "  peak RSS MiB",
                format!("{:.1}", nrss / 1024.0),
                format!("{:.1}", brss / 1024.0),
                brss / nrss
            )
            .ok();
        }
        json.push(format!(
            "{{\"case\": {:?}, \"native_ms\": {nm:.3}, \"bpftrace_ms\": {bm:.3}, \"native_rss_kib\": {nrss}, \"bpftrace_rss_kib\": {brss}, \"runs\": {runs}}}",
            case.name
        ));
    }
    let alone = baseline(&workload)?;
    writeln!(table, "{:<52} {:>22}", "2M getpid untraced (workload time)", format!("{alone:.1}"))
        .ok();
    println!("{table}");
    let out = root().join("target/bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let results = format!(
        "{{\"kernel\": {:?}, \"cpus\": {}, \"untraced_getpid_ms\": {alone:.3}, \"cases\": [{}]}}\n",
        shell::output("uname", &["-r"]).unwrap_or_default().trim(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        json.join(", ")
    );
    std::fs::write(out.join("results.json"), results).map_err(|e| e.to_string())?;
    std::fs::write(out.join("results.txt"), &table).map_err(|e| e.to_string())?;
    eprintln!("bench: wrote {}", out.join("results.json").display());
    Ok(())
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1))
}

/// Runs a tracer under /usr/bin/time (for its peak RSS). Whole-run cases
/// time spawn to exit; workload cases time the workload once the tracer is
/// attached, then interrupt the tracer.
fn measure(cmd: &[&str], case: &Case, workload: &Path) -> Result<Sample, String> {
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "mcptrace-bench-rss %M"]).args(cmd).stdout(Stdio::piped()).stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = c.spawn().map_err(|e| format!("{cmd:?}: {e}"))?;
    let wall_ms;
    if let Some(ops) = case.workload {
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).map_err(|e| e.to_string())?;
        // bpftrace prints its attach line before attaching: give it time.
        std::thread::sleep(Duration::from_millis(if cmd[0] == "bpftrace" { 1500 } else { 100 }));
        wall_ms = time_workload(workload, ops)?;
        interrupt_children(child.id());
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    } else {
        let _ = child.wait();
        wall_ms = start.elapsed().as_secs_f64() * 1000.0;
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix("mcptrace-bench-rss "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    Ok(Sample { wall_ms, peak_rss_kib: rss })
}

fn time_workload(workload: &Path, ops: &[&str]) -> Result<f64, String> {
    let start = Instant::now();
    let status = Command::new(workload).args(ops).status().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("workload {ops:?} failed"));
    }
    Ok(start.elapsed().as_secs_f64() * 1000.0)
}

/// SIGINT to the tracer under /usr/bin/time (its child).
fn interrupt_children(time_pid: u32) {
    let children = std::fs::read_to_string(format!("/proc/{time_pid}/task/{time_pid}/children"))
        .unwrap_or_default();
    for pid in children.split_whitespace() {
        let _ = Command::new("kill").args(["-INT", pid]).status();
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}
