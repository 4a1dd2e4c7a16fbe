//! The command line: a thin dispatcher over one module per subcommand.

mod plan;
mod run;
mod serve;
mod signals;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Plan(args) => plan::run(args),
        Command::Run(args) => run::run(args),
        Command::Serve(args) => serve::run(args),
    }
}
