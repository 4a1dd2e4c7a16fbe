//! The command line: a thin dispatcher over one module per subcommand.

mod plan;
mod policy;
mod run;
mod serve;
mod signals;

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand};

use crate::{
    policy::{Policy, PolicyFileError},
    scope::Scope,
};

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
    /// Print the effective policy as TOML, a file `--policy` reads back.
    Policy(PolicyArgs),
}

/// The operator's policy, shared by every subcommand that checks programs.
#[derive(Debug, Args)]
struct PolicyArgs {
    /// The policy, a TOML file (`mcptrace policy` prints the default);
    /// without it, the default policy. The flags below apply on top.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Allow bpftrace's unsafe functions (system, signal, override, ...);
    /// such programs run through `bpftrace --unsafe`.
    #[arg(long)]
    allow_unsafe: bool,
    /// Drop the denials that keep secrets out of reach: cat() of files
    /// outside the policy's paths (/proc and /sys by default), uprobes on
    /// credential handlers (sshd, sudo, su, ...) and on TLS libraries'
    /// read/write functions.
    #[arg(long)]
    allow_sensitive: bool,
    /// Confine every probe to one process (pid=PID) or one cgroup v2
    /// (cgroup=PATH, absolute or under /sys/fs/cgroup): events of anything
    /// else are filtered out in the kernel.
    #[arg(long, value_name = "pid=PID|cgroup=PATH")]
    scope: Option<Scope>,
}

impl PolicyArgs {
    /// The file's policy (or the default), with the flags applied.
    fn policy(&self) -> Result<Policy, PolicyFileError> {
        let mut policy = match &self.policy {
            Some(path) => Policy::load(path)?,
            None => Policy::default(),
        };
        policy.allow_unsafe |= self.allow_unsafe;
        if let Some(scope) = &self.scope {
            policy.scope = Some(scope.clone());
        }
        Ok(if self.allow_sensitive { policy.allowing_sensitive() } else { policy })
    }

    /// [`PolicyArgs::policy`], or the error said on stderr.
    fn policy_or_report(&self) -> Option<Policy> {
        self.policy().inspect_err(|e| eprintln!("mcptrace: {e}")).ok()
    }
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Plan(args) => plan::run(args),
        Command::Run(args) => run::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Policy(args) => policy::run(args),
    }
}
