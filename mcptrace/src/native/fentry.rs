//! Loads an fentry or fexit slot program for one kernel function and
//! attaches it. The object's slot programs name no function (see
//! `mcptrace-ebpf/src/fentry.rs`): the kernel takes the target, the
//! function's BTF id, when the program is loaded, so a loaded slot program
//! serves that one function.

use std::io;

use aya::{
    Ebpf,
    programs::{Program, ProgramError, fentry::FEntryLink, fexit::FExitLink},
};

use crate::host::btf::{self, BtfError};

/// Lines kept from the end of the verifier's log, where it says why.
const VERIFIER_TAIL: usize = 6;

#[derive(Debug, thiserror::Error)]
pub enum FentryError {
    #[error(transparent)]
    Btf(#[from] BtfError),
    #[error("eBPF program {0} is missing from the embedded object")]
    MissingProgram(String),
    #[error("eBPF program {0} is not an fentry or fexit program")]
    NotTracing(String),
    #[error(
        "the kernel refused to load {probe}: {errno}{}",
        if verifier_tail.is_empty() { String::new() } else {
            format!("; verifier: {}", verifier_tail.join(" / "))
        }
    )]
    Load { probe: String, errno: io::Error, verifier_tail: Vec<String> },
    #[error("the kernel refused to attach {probe}: {source}")]
    Attach {
        probe: String,
        #[source]
        source: ProgramError,
    },
    #[error("{probe}: {source}")]
    Program {
        probe: String,
        #[source]
        source: ProgramError,
    },
}

/// An attached fentry or fexit program; dropping it detaches the program.
#[derive(Debug)]
pub enum TracingLink {
    Entry(FEntryLink),
    Exit(FExitLink),
}

/// Loads slot program `program` (an fentry or fexit slot of `ebpf`) for
/// kernel function `function` and attaches it.
pub fn attach(ebpf: &mut Ebpf, program: &str, function: &str) -> Result<TracingLink, FentryError> {
    let kernel = btf::kernel()?;
    // Named errors for an unknown function, before aya's generic one.
    kernel.function(function)?;
    let target = kernel.aya()?;
    let prog =
        ebpf.program_mut(program).ok_or_else(|| FentryError::MissingProgram(program.into()))?;
    match prog {
        Program::FEntry(p) => {
            let probe = format!("fentry:{function}");
            p.load(function, target).map_err(|e| refused(&probe, e))?;
            let id = p
                .attach()
                .map_err(|source| FentryError::Attach { probe: probe.clone(), source })?;
            let link = p.take_link(id).map_err(|source| FentryError::Program { probe, source })?;
            Ok(TracingLink::Entry(link))
        }
        Program::FExit(p) => {
            let probe = format!("fexit:{function}");
            p.load(function, target).map_err(|e| refused(&probe, e))?;
            let id = p
                .attach()
                .map_err(|source| FentryError::Attach { probe: probe.clone(), source })?;
            let link = p.take_link(id).map_err(|source| FentryError::Program { probe, source })?;
            Ok(TracingLink::Exit(link))
        }
        _ => Err(FentryError::NotTracing(program.into())),
    }
}

/// A load failure, with the kernel's errno and the verifier's last lines
/// when the kernel refused the program.
fn refused(probe: &str, e: ProgramError) -> FentryError {
    match e {
        ProgramError::LoadError { io_error, verifier_log } => {
            let log = verifier_log.to_string();
            let lines: Vec<&str> = log.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            let tail = lines[lines.len().saturating_sub(VERIFIER_TAIL)..].iter();
            FentryError::Load {
                probe: probe.to_owned(),
                errno: io_error,
                verifier_tail: tail.map(|l| l.to_string()).collect(),
            }
        }
        source => FentryError::Program { probe: probe.to_owned(), source },
    }
}
