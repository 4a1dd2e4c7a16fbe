//! `cargo xtask setup|build|test|run|bench|vmtest`: the project's own commands.

mod bench;
mod kernels;
mod setup;
mod shell;
mod vmtest;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  setup              install what builds and tests need (idempotent)
  build              setup, then build mcptrace (release)
  test [ARGS...]     setup, then run every test (ARGS go to cargo test)
  run [-- ARGS...]   setup, then build and run mcptrace with ARGS
  bench [--runs N] [--quick] [--only SUBSTR] [--calls N] [--write-readme]
        [--no-build] [--out DIR]
                     setup, then measure native runs against bpftrace: N runs
                     each (5; --quick: 1, small workloads), cases whose name
                     holds SUBSTR, N getpid() calls in the overhead cases
                     (10M); results in target/bench/ (or DIR), --write-readme
                     puts the table in README.md and the chart in
                     docs/bench.svg; --no-build skips setup and the build
  vmtest [--kernel 6.1|6.12|all] [--list] [--bench] [-- ARGS...]
                     setup (with qemu, virtme-ng and Debian's newest 6.1 and
                     6.12 kernels), then run the kernel-dependent tests in one
                     guest per kernel (all), ARGS going to each test binary;
                     logs in target/vmtest/<kernel>/; --list: which tests
                     run in guests and why; --bench: run the bench in each
                     guest instead, ARGS going to it (default: the per-event
                     overhead cases, one run, 1M calls)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        "setup" => setup::run(),
        "build" => {
            setup::run().and_then(|()| shell::cargo(&["build", "--release", "-p", "mcptrace"]))
        }
        "test" => setup::run().and_then(|()| test(rest)),
        "run" => setup::run().and_then(|()| run(rest)),
        "bench" => bench::run(rest),
        "vmtest" => vmtest::run(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn test(args: &[String]) -> Result<(), String> {
    // Integration tests run the `mcptrace` binary, which `cargo test` does
    // not build for another package's tests.
    shell::cargo(&["build", "-p", "mcptrace", "--bins"])?;
    let mut cmd = vec!["test", "--workspace"];
    cmd.extend(args.iter().map(String::as_str));
    shell::cargo(&cmd)
}

fn run(args: &[String]) -> Result<(), String> {
    let args = match args.first().map(String::as_str) {
        Some("--") => &args[1..],
        _ => args,
    };
    let mut cmd = vec!["run", "--quiet", "--release", "-p", "mcptrace", "--"];
    cmd.extend(args.iter().map(String::as_str));
    shell::cargo(&cmd)
}
