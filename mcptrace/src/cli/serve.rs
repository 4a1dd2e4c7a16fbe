//! `mcptrace serve`: the MCP server on stdio. stdout is the protocol
//! channel; every diagnostic goes to stderr.

use std::{path::PathBuf, process::ExitCode, sync::Arc};

use clap::Args;

use crate::{exec::Executor, mcp};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The bpftrace binary for programs that do not run natively.
    #[arg(long, default_value = "bpftrace")]
    bpftrace: PathBuf,
    #[command(flatten)]
    policy: super::PolicyArgs,
}

pub fn run(args: ServeArgs) -> ExitCode {
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("mcptrace: {e}");
                return ExitCode::FAILURE;
            }
        };
    let executor = Arc::new(Executor::new(args.bpftrace, args.policy.policy()));
    let outcome = runtime.block_on(mcp::serve(executor));
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
