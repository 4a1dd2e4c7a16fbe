//! The command line: a thin dispatcher over one module per subcommand.

mod plan;
mod run;
mod serve;
mod signals;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::check::Policy;

#[derive(Debug, Parser)]
#[command(
    name = "mcptrace",
    version,
    about = "Trace Linux with bpftrace programs, natively or through bpftrace"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse, check and plan a program; print which backend would run it and why.
    Plan(plan::PlanArgs),
    /// Run a program; write exactly what bpftrace would write.
    Run(run::RunArgs),
    /// Serve MCP on stdin/stdout.
    Serve(serve::ServeArgs),
}

/// The operator's policy, shared by every subcommand that checks programs.
#[derive(Debug, Args)]
struct PolicyArgs {
    /// Allow bpftrace's unsafe functions (system, signal, override, ...);
    /// such programs run through `bpftrace --unsafe`.
    #[arg(long)]
    allow_unsafe: bool,
    /// Allow reads the default refuses: cat() of files outside /proc and
    /// /sys, uprobes on credential handlers (sshd, sudo, su, ...) and on
    /// TLS libraries' read/write functions.
    #[arg(long)]
    allow_sensitive: bool,
}

impl PolicyArgs {
    fn policy(&self) -> Policy {
        Policy { allow_unsafe: self.allow_unsafe, allow_sensitive: self.allow_sensitive }
    }
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Plan(args) => plan::run(args),
        Command::Run(args) => run::run(args),
        Command::Serve(args) => serve::run(args),
    }
}
