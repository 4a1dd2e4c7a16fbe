//! `mcptrace serve`: the MCP server, on stdio (stdout is the protocol
//! channel; every diagnostic goes to stderr) or on streamable HTTP.

use std::{error::Error, net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc};

use clap::Args;

use crate::{
    exec::{Executor, audit::AuditLog},
    mcp::{
        self,
        http::{self, limits::Limits, origin::Origin, tokens::Tokens},
    },
};

/// The environment variable holding one HTTP bearer token (named `env`,
/// role trace); an argument would show in `ps`.
const TOKEN_VAR: &str = "MCPTRACE_TOKEN";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The bpftrace binary for programs that do not run natively.
    #[arg(long, default_value = "bpftrace")]
    bpftrace: PathBuf,
    /// Serve streamable HTTP at ADDR (e.g. 127.0.0.1:8765) instead of stdio,
    /// at the path /mcp. An address other than loopback needs bearer tokens
    /// (--tokens, or one in MCPTRACE_TOKEN); once given, every request must
    /// carry one.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// Named bearer tokens with roles (observe or trace) and scopes, a TOML
    /// file readable by its owner only (root or the server's user).
    #[arg(long, value_name = "FILE", requires = "http")]
    tokens: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "FILE", requires_all = ["http", "tls_key"])]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert, readable by its owner only.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// A browser origin (https://HOST[:PORT]) whose pages may call the
    /// server; repeatable. Requests without an Origin always may, and on a
    /// loopback server so may loopback origins.
    #[arg(long, value_name = "ORIGIN", requires = "http")]
    allow_origin: Vec<Origin>,
    /// The largest request body taken, in bytes (413 past it).
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024, requires = "http",
          value_parser = clap::value_parser!(u64).range(1..))]
    max_request_bytes: u64,
    /// Requests per second each token may make on average (429 past it).
    #[arg(long, value_name = "N", default_value_t = 20, requires = "http",
          value_parser = clap::value_parser!(u32).range(1..))]
    requests_per_second: u32,
    /// Requests each token may make at once after a quiet spell.
    #[arg(long, value_name = "N", default_value_t = 40, requires = "http",
          value_parser = clap::value_parser!(u32).range(1..))]
    request_burst: u32,
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
    let http = match args.http.map(|addr| http_options(&args, addr)).transpose() {
        Ok(http) => http,
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
    let outcome = match http {
        None => runtime.block_on(mcp::serve(executor)),
        Some(options) => runtime.block_on(http::serve(executor, options)).map_err(Into::into),
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

/// The HTTP transport's set-up from the flags and MCPTRACE_TOKEN; every
/// file is read before the server listens, so a mistake stops the start.
fn http_options(args: &ServeArgs, addr: SocketAddr) -> Result<http::Options, Box<dyn Error>> {
    let env_token = std::env::var(TOKEN_VAR).ok().filter(|t| !t.is_empty());
    let tokens = match (&args.tokens, env_token) {
        (Some(_), Some(_)) => {
            return Err(format!("give tokens with --tokens or {TOKEN_VAR}, not both").into());
        }
        (Some(path), None) => Some(Tokens::load(path)?),
        (None, Some(secret)) => Some(Tokens::single(&secret)),
        (None, None) => None,
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(http::tls::acceptor(cert, key)?),
        _ => None,
    };
    Ok(http::Options {
        addr,
        tokens,
        tls,
        allowed_origins: args.allow_origin.clone(),
        limits: Limits {
            max_request_bytes: args.max_request_bytes,
            requests_per_second: args.requests_per_second,
            request_burst: args.request_burst,
        },
    })
}
