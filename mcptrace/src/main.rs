use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    mcptrace::cli::run(mcptrace::cli::Cli::parse())
}
