//! `cargo xtask bench`: native runs against the bpftrace CLI, measured side
//! by side in one invocation (alternating, after a warm-up), reported as
//! medians, spreads and ratios, written to target/bench/ (results.json,
//! results.csv, bench.svg), and with `--write-readme` into README.md's
//! figures block and docs/bench.svg. Figures, never pass/fail.

mod cases;
mod goals;
pub mod json;
mod mcp;
mod measure;
mod report;
mod svg;

use std::{
    path::{Path, PathBuf},
    rc::Rc,
};

use self::{
    cases::{Backend, Case, Env},
    measure::Stats,
    report::{Machine, Row},
};
use crate::{
    setup,
    shell::{self, root},
};

struct Options {
    runs: usize,
    quick: bool,
    only: Option<String>,
    calls: Option<u64>,
    write_readme: bool,
    /// Use the release binaries as they are (in a VM guest, which cannot build).
    no_build: bool,
    /// Where results go (default target/bench).
    out: Option<PathBuf>,
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        runs: 5,
        quick: false,
        only: None,
        calls: None,
        write_readme: false,
        no_build: false,
        out: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} takes a value"));
        match a.as_str() {
            "--runs" => o.runs = value()?.parse().map_err(|_| "--runs takes a number")?,
            "--calls" => o.calls = Some(value()?.parse().map_err(|_| "--calls takes a number")?),
            "--only" => o.only = Some(value()?.clone()),
            "--quick" => o.quick = true,
            "--write-readme" => o.write_readme = true,
            "--no-build" => o.no_build = true,
            "--out" => o.out = Some(PathBuf::from(value()?)),
            other => {
                return Err(format!("bench: unknown argument `{other}` (see cargo xtask help)"));
            }
        }
    }
    if o.quick {
        o.runs = 1;
    }
    if o.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    Ok(o)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let o = options(args)?;
    if !is_root() {
        return Err("bench loads and attaches BPF programs: run it as root".into());
    }
    if !o.no_build {
        setup::run()?;
        build()?;
    }
    let release = root().join("target/release");
    let env = Rc::new(Env {
        mcptrace: release.join("mcptrace"),
        workload: release.join("mcpt-workload"),
        calls: o.calls.unwrap_or(if o.quick { 200_000 } else { 10_000_000 }),
        events: if o.quick { 100_000 } else { 1_000_000 },
        limit_s: 1.0,
    });
    let selected: Vec<Case> = cases::all(env)
        .into_iter()
        .filter(|c| o.only.as_ref().is_none_or(|s| c.name.contains(s.as_str())))
        .collect();
    if selected.is_empty() {
        return Err("bench: no case matches --only".into());
    }
    let machine = Machine::probe(o.runs);
    let (mut rows, mut failures, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    for case in selected {
        if let Some(why) = &case.unavailable {
            eprintln!("bench: {}: skipped, this kernel refuses it: {why}", case.name);
            skipped.push(case.name.clone());
            continue;
        }
        eprintln!("bench: {}", case.name);
        match measure_case(case, o.runs, !o.quick) {
            Ok(r) => rows.extend(r),
            Err(e) => {
                eprintln!("bench: failed: {e}");
                failures.push(e);
            }
        }
    }
    println!("{}", report::text(&rows, &machine));
    for name in &skipped {
        println!("skipped (this kernel lacks the probe kind): {name}");
    }
    write_results(&rows, &machine, &o.out.unwrap_or_else(|| root().join("target/bench")))?;
    if !failures.is_empty() {
        return Err(format!("{} case(s) failed; README left alone", failures.len()));
    }
    if o.write_readme {
        if o.only.is_some() || o.quick {
            return Err("--write-readme takes every case at full size: drop --only/--quick".into());
        }
        let readme = root().join("README.md");
        let text = read(&readme)?;
        write(&readme, &report::replace_block(&text, &report::markdown(&rows, &machine))?)?;
        write(&root().join("docs/bench.svg"), &svg::chart(&rows, &machine))?;
        eprintln!("bench: wrote README.md's figures and docs/bench.svg");
    }
    Ok(())
}

/// The release binaries the cases run.
pub fn build() -> Result<(), String> {
    shell::cargo(&["build", "--release", "-p", "mcptrace", "-p", "mcptrace-tests", "--bins"])
}

/// Runs a case `runs` times per backend (after a warm-up of each), the
/// backends alternating and taking turns going first, so drift and caching
/// hit both alike.
fn measure_case(mut case: Case, runs: usize, warm_up: bool) -> Result<Vec<Row>, String> {
    let mut samples: [Vec<Vec<f64>>; 2] = [Vec::new(), Vec::new()];
    let first = usize::from(!warm_up);
    for i in first..=runs {
        let order = if i % 2 == 0 {
            [Backend::Native, Backend::Bpftrace]
        } else {
            [Backend::Bpftrace, Backend::Native]
        };
        for backend in order {
            // One retry: bpftrace 0.17 now and then does not end on SIGINT,
            // which should not cost the whole case; the retry is said.
            let figures = (case.run)(backend)
                .or_else(|e| {
                    eprintln!("bench: {} run failed, once more: {e}", backend.name());
                    (case.run)(backend)
                })
                .map_err(|e| format!("{} ({}): {e}", case.name, backend.name()))?;
            if i > 0 {
                samples[backend as usize].push(figures);
            }
        }
    }
    let column = |b: Backend, j: usize| -> Vec<f64> {
        samples[b as usize].iter().map(|figures| figures[j]).collect()
    };
    Ok(case
        .metrics
        .iter()
        .enumerate()
        .map(|(j, &metric)| Row {
            case: case.name.clone(),
            metric,
            native: Stats::of(&column(Backend::Native, j)),
            bpftrace: Stats::of(&column(Backend::Bpftrace, j)),
        })
        .collect())
}

/// target/bench/results.{json,csv} and, for a look before committing,
/// target/bench/bench.svg.
fn write_results(rows: &[Row], machine: &Machine, out: &Path) -> Result<(), String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    write(&out.join("results.json"), &report::json(rows, machine))?;
    write(&out.join("results.csv"), &report::csv(rows, machine))?;
    write(&out.join("bench.svg"), &svg::chart(rows, machine))?;
    eprintln!("bench: wrote {}/results.{{json,csv}} and bench.svg", out.display());
    Ok(())
}

/// Effective uid 0, from /proc (xtask takes no libc crate).
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .is_some_and(|euid| euid == "0")
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::{cases::short, options};

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags() {
        let o = options(&args(&["--runs", "3", "--only", "MCP", "--calls", "1000"])).unwrap();
        assert_eq!((o.runs, o.only.as_deref(), o.calls), (3, Some("MCP"), Some(1000)));
        assert!(!o.quick && !o.write_readme);
        let o = options(&args(&["--runs", "9", "--quick", "--write-readme"])).unwrap();
        assert_eq!(o.runs, 1);
        assert!(o.quick && o.write_readme);
        assert!(options(&args(&["--runs", "0"])).is_err());
        assert!(options(&args(&["--runs"])).is_err());
        assert!(options(&args(&["--fast"])).is_err());
    }

    #[test]
    fn short_counts() {
        assert_eq!(short(10_000_000), "10M");
        assert_eq!(short(200_000), "200k");
        assert_eq!(short(1234), "1234");
    }
}
