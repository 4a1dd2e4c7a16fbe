//! `mcptrace run`: run a program and write exactly what bpftrace would write.

use std::{
    io::Write,
    path::PathBuf,
    process::ExitCode,
    time::{Duration, Instant},
};

use clap::{Args, ValueEnum};

use super::signals;
use crate::{
    check::SystemHost,
    exec::{
        StopSignal,
        bpftrace::BpftraceError,
        launch::{self, Choice, LaunchError, Request, Started},
    },
    frontend,
    host::bpf_stats::CostWatch,
    native::{Sessions, Transport},
    output::{Format, Record, RecordSink},
    plan::Backend,
};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Which backend runs the program; `auto` runs natively when it can.
    #[arg(long, value_enum, default_value_t = Choice::Auto)]
    backend: Choice,
    /// Stop after this many seconds (END runs and maps print).
    #[arg(long, value_parser = positive_seconds)]
    timeout: Option<f64>,
    /// Output format, as bpftrace's `-f`.
    #[arg(short = 'f', value_enum, default_value_t = OutputArg::Text)]
    format: OutputArg,
    /// How native events travel from the kernel.
    #[arg(long, value_enum, default_value_t = Transport::RingBuffer)]
    transport: Transport,
    /// The bpftrace binary for programs that do not run natively.
    #[arg(long, default_value = "bpftrace")]
    bpftrace: PathBuf,
    /// After a native run, say on stderr where its time went: loading the
    /// object and its maps, attaching (verification included), detaching.
    #[arg(long)]
    timings: bool,
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(s),
        Ok(_) => Err("a time limit is a positive number of seconds".into()),
        Err(e) => Err(e.to_string()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutputArg {
    Text,
    Json,
}

/// A stop signal that SIGINT and SIGTERM raise; None (reported) if the
/// system refuses one.
fn stop_on_signals() -> Option<StopSignal> {
    match StopSignal::new() {
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
/// The exit status when `--backend native` cannot run a program natively.
const NOT_NATIVE: u8 = 2;

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
    let Some(policy) = args.policy.policy_or_report() else { return ExitCode::FAILURE };
    let (checked, plan) =
        match frontend::prepare_with(&source, &params, SystemHost::shared(), &policy) {
            Ok(p) => p,
            Err(e) => {
                eprint!("{}", e.render(&source, &origin));
                return ExitCode::FAILURE;
            }
        };
    let Some(stop) = stop_on_signals() else {
        return ExitCode::FAILURE;
    };
    let format = match args.format {
        OutputArg::Text => Format::Text,
        OutputArg::Json => Format::Json,
    };
    let request = Request {
        checked,
        plan,
        choice: args.backend,
        timeout: args.timeout.map(Duration::from_secs_f64),
        bpftrace: args.bpftrace,
        allow_unsafe: policy.allow_unsafe,
        sessions: Sessions::on_demand(args.transport),
    };
    let mut sink = Stdout { out: std::io::stdout().lock(), buf: Vec::new(), format };
    let mut attached = false;
    let mut on_started = |started: &Started| {
        attached = true;
        if started.backend == Backend::Bpftrace && args.backend == Choice::Auto {
            eprintln!("mcptrace: running with bpftrace: {}", started.reason);
        }
    };
    // The person at the terminal watches the cost themselves.
    match launch::run(request, &mut sink, &stop, &mut on_started, CostWatch::none()) {
        Ok(ended) => {
            if let Some(teardown) = ended.teardown {
                let phases = teardown.phases;
                let start = Instant::now();
                drop(teardown);
                if args.timings {
                    eprintln!(
                        "mcptrace: timings: load {:.1} ms, attach {:.1} ms, detach {:.1} ms",
                        ms(phases.load),
                        ms(phases.attach),
                        ms(start.elapsed())
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mcptrace: {e}");
            match e {
                LaunchError::NotNative(_) | LaunchError::NativeRefused(_) => {
                    ExitCode::from(NOT_NATIVE)
                }
                LaunchError::Bpftrace(BpftraceError::Failed { status, .. }) => {
                    ExitCode::from(status.code().unwrap_or(1) as u8)
                }
                _ if !attached => ExitCode::from(ATTACH_FAILED),
                _ => ExitCode::FAILURE,
            }
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
