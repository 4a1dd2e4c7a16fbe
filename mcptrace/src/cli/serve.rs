//! `mcptrace serve`: the MCP server, on stdio (stdout is the protocol
//! channel; every diagnostic goes to stderr) or on streamable HTTP.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use clap::Args;

use crate::{
    exec::{Executor, audit::AuditLog},
    mcp,
};

/// The environment variable holding the HTTP bearer token; an argument would
/// show in `ps`.
const TOKEN_VAR: &str = "MCPTRACE_TOKEN";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The bpftrace binary for programs that do not run natively.
    #[arg(long, default_value = "bpftrace")]
    bpftrace: PathBuf,
    /// Serve streamable HTTP at ADDR (e.g. 127.0.0.1:8765) instead of stdio,
    /// at the path /mcp. An address other than loopback needs a bearer token
    /// in MCPTRACE_TOKEN; when set, every request must carry it.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Append one JSON line per exec_program (run or refused), stop_execution
    /// and execution end to FILE, created readable by its owner only. Once a
    /// line cannot be written, programs are refused until a restart.
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    #[command(flatten)]
    policy: super::PolicyArgs,
}

pub fn run(args: ServeArgs) -> ExitCode {
    let Some(policy) = args.policy.policy_or_report() else { return ExitCode::FAILURE };
    // Asked for, auditing is not skipped: a log that cannot be opened stops
    // the start.
    let audit = match args.audit.as_deref().map(AuditLog::open).transpose() {
        Ok(audit) => audit,
        Err(e) => {
            eprintln!("mcptrace: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("mcptrace: {e}");
                return ExitCode::FAILURE;
            }
        };
    let executor = Arc::new(Executor::new(args.bpftrace, policy, audit));
    let outcome = match args.http {
        None => runtime.block_on(mcp::serve(executor)),
        Some(addr) => {
            let token = std::env::var(TOKEN_VAR).ok().filter(|t| !t.is_empty());
            runtime.block_on(mcp::http::serve(executor, addr, token)).map_err(Into::into)
        }
    };
    // The stdin reader blocks in a thread of its own while the client holds
    // the pipe open (as after a SIGTERM); dropping the runtime would wait for
    // it forever.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcptrace: {e}");
            ExitCode::FAILURE
        }
    }
}
