//! `mcptrace plan [--json] (-e PROGRAM | FILE)`.

use std::{path::PathBuf, process::ExitCode};

use serde::Serialize;

use crate::{
    check::SystemHost,
    frontend,
    ir::listing::listing,
    plan::Plan,
    validate::{self, Located},
};

#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["program", "file"]))]
pub struct PlanArgs {
    /// Print the decision as JSON.
    #[arg(long)]
    json: bool,
    /// Also print what lowering made of the program: `slots`, each kernel
    /// probe's slot configuration in readable form.
    #[arg(long, value_enum)]
    emit: Option<Emit>,
    /// The program text.
    #[arg(short = 'e', value_name = "PROGRAM")]
    program: Option<String>,
    /// A file holding the program.
    file: Option<PathBuf>,
    #[command(flatten)]
    policy: super::PolicyArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Emit {
    Slots,
}

#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    plan: &'a Plan,
    /// The fallback as one sentence, as the text output shows it.
    reason: Option<String>,
    /// The concrete probes, after wildcard expansion.
    attach_points: Vec<String>,
    warnings: Vec<Located>,
}

pub fn run(args: PlanArgs) -> ExitCode {
    let (source, origin) = match (args.program, args.file.as_ref()) {
        (Some(program), _) => (program, "stdin".to_string()),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(text) => (text, path.display().to_string()),
            Err(e) => {
                eprintln!("mcptrace: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        (None, None) => unreachable!("clap requires a program or a file"),
    };
    let Some(policy) = args.policy.policy_or_report() else { return ExitCode::FAILURE };
    let (checked, plan) = match frontend::prepare_with(&source, &[], SystemHost::shared(), &policy)
    {
        Ok(done) => done,
        Err(e) => {
            eprintln!("{}", e.render(&source, &origin));
            return ExitCode::FAILURE;
        }
    };
    let validated = validate::Report::of(&checked, &plan, &source);
    let report = Report {
        plan: &plan,
        reason: plan.fallback.as_ref().map(ToString::to_string),
        attach_points: validated.probes,
        warnings: validated.warnings,
    };
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("mcptrace: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", text(&report));
    }
    if args.emit == Some(Emit::Slots) {
        match &plan.native {
            Some(lowered) => print!("{}", listing(&lowered.0)),
            None => println!("no slots: the program runs on bpftrace"),
        }
    }
    ExitCode::SUCCESS
}

fn text(report: &Report) -> String {
    let mut out = format!("backend: {}\n", report.plan.backend);
    if let Some(reason) = &report.reason {
        out.push_str(&format!("fallback: {reason}\n"));
    }
    let n = report.plan.attach_count;
    out.push_str(&format!("attaching {n} probe{}:\n", if n == 1 { "" } else { "s" }));
    for ap in &report.attach_points {
        out.push_str(&format!("  {ap}\n"));
    }
    for w in &report.warnings {
        out.push_str(&format!("warning: {}:{}: {}\n{}\n", w.line, w.column, w.message, w.excerpt));
    }
    out
}
