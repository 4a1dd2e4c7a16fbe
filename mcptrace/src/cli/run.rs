//! `mcptrace run`: run a program and write exactly what bpftrace would write.

use std::{
    io::Write,
    process::{Command, ExitCode},
    time::Duration,
};

use clap::{Args, ValueEnum};

use super::signals;
use crate::{
    check::{Policy, SystemHost},
    frontend,
    native::{
        Transport,
        run::{self as native_run, RecordSink},
    },
    output::{Format, Record},
};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Which backend runs the program; `auto` runs natively when it can.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    backend: BackendChoice,
    /// Stop after this many seconds (END runs and maps print).
    #[arg(long, value_parser = positive_seconds)]
    timeout: Option<f64>,
    /// Output format, as bpftrace's `-f`.
    #[arg(short = 'f', value_enum, default_value_t = OutputArg::Text)]
    format: OutputArg,
    /// How native events travel from the kernel.
    #[arg(long, value_enum, default_value_t = Transport::RingBuffer)]
    transport: Transport,
    #[command(flatten)]
    policy: super::PolicyArgs,
    /// The program text.
    #[arg(short = 'e')]
    program: Option<String>,
    /// FILE holding the program (unless -e), then the program's positional
    /// parameters ($1, $2, ...).
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    args: Vec<String>,
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(s),
        Ok(_) => Err("a time limit is a positive number of seconds".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendChoice {
    Auto,
    Native,
    Bpftrace,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutputArg {
    Text,
    Json,
}

/// A stop signal that SIGINT and SIGTERM raise; None (reported) if the
/// system refuses one.
fn stop_on_signals() -> Option<native_run::StopSignal> {
    match native_run::StopSignal::new() {
        Ok(stop) => {
            signals::stop_on_signals(&stop);
            Some(stop)
        }
        Err(e) => {
            eprintln!("mcptrace: {e}");
            None
        }
    }
}

/// bpftrace's exit status when attaching fails.
const ATTACH_FAILED: u8 = 255;

pub fn run(args: RunArgs) -> ExitCode {
    let (source, origin, params) = match (&args.program, args.args.split_first()) {
        (Some(p), _) => (p.clone(), "stdin".to_string(), args.args.clone()),
        (None, Some((file, params))) => match std::fs::read_to_string(file) {
            Ok(s) => (s, file.clone(), params.to_vec()),
            Err(e) => {
                eprintln!("mcptrace: {file}: {e}");
                return ExitCode::FAILURE;
            }
        },
        (None, None) => {
            eprintln!("mcptrace: give a program with -e PROGRAM or a FILE");
            return ExitCode::from(2);
        }
    };
    let policy = args.policy.policy();
    let (_checked, plan) =
        match frontend::prepare_with(&source, &params, SystemHost::shared(), policy) {
            Ok(p) => p,
            Err(e) => {
                eprint!("{}", e.render(&source, &origin));
                return ExitCode::FAILURE;
            }
        };
    let format = match args.format {
        OutputArg::Text => Format::Text,
        OutputArg::Json => Format::Json,
    };
    let timeout = args.timeout.map(Duration::from_secs_f64);
    match (args.backend, plan.native, plan.fallback) {
        (BackendChoice::Bpftrace, ..) => bpftrace(&source, &params, args.format, timeout, policy),
        (_, Some(program), _) => {
            native(std::sync::Arc::unwrap_or_clone(program.0), format, timeout, args.transport)
        }
        (BackendChoice::Native, _, why) => {
            let why = why.map(|w| w.to_string()).unwrap_or_default();
            eprintln!("mcptrace: the native backend cannot run this program: {why}");
            ExitCode::from(2)
        }
        (BackendChoice::Auto, _, why) => {
            let why = why.map(|w| w.to_string()).unwrap_or_default();
            eprintln!("mcptrace: running with bpftrace: {why}");
            bpftrace(&source, &params, args.format, timeout, policy)
        }
    }
}

fn native(
    program: crate::ir::NativeProgram,
    format: Format,
    timeout: Option<Duration>,
    transport: Transport,
) -> ExitCode {
    let Some(stop) = stop_on_signals() else {
        return ExitCode::FAILURE;
    };
    let attached = match native_run::attach(program, transport) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("mcptrace: {e}");
            return ExitCode::from(ATTACH_FAILED);
        }
    };
    let mut sink = Stdout { out: std::io::stdout().lock(), buf: Vec::new(), format };
    // No time limit: until exit() or a signal.
    let limit = timeout.unwrap_or(Duration::from_secs(u32::MAX as u64));
    match attached.run(limit, &mut sink, &stop) {
        Ok((_outcome, teardown)) => {
            drop(teardown);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mcptrace: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Records to stdout, written once per batch of events (and whenever a
/// batch grows large) rather than once per record: a write per event caps
/// the event rate a run keeps up with.
struct Stdout {
    out: std::io::StdoutLock<'static>,
    buf: Vec<u8>,
    format: Format,
}

impl RecordSink for Stdout {
    fn record(&mut self, record: Record) -> bool {
        self.format.render(&record, &mut self.buf);
        self.buf.len() < 1 << 16 || self.flush()
    }

    fn flush(&mut self) -> bool {
        let ok = self.out.write_all(&self.buf).and_then(|()| self.out.flush()).is_ok();
        self.buf.clear();
        ok
    }
}

/// Runs the program through the `bpftrace` binary, with our stdio. Its
/// process group is ours, so a terminal's Ctrl-C reaches it too; the time
/// limit is an interrupt, so END runs as bpftrace runs it.
fn bpftrace(
    source: &str,
    params: &[String],
    format: OutputArg,
    timeout: Option<Duration>,
    policy: Policy,
) -> ExitCode {
    let f = match format {
        OutputArg::Text => "text",
        OutputArg::Json => "json",
    };
    let mut cmd = Command::new("bpftrace");
    cmd.args(policy.allow_unsafe.then_some("--unsafe")).args(["-f", f, "-e", source]).args(params);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mcptrace: cannot run bpftrace: {e} (install it, or use --backend native)");
            return ExitCode::FAILURE;
        }
    };
    let Some(stop) = stop_on_signals() else {
        return ExitCode::FAILURE;
    };
    let pid = child.id() as i32;
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    let mut interrupted = false;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return ExitCode::from(status.code().unwrap_or(1) as u8);
        }
        let due = deadline.is_some_and(|d| std::time::Instant::now() >= d);
        if !interrupted && (due || stop.is_set()) {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(pid, libc::SIGINT) };
            interrupted = true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
