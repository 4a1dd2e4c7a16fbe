//! What one probe offers, for a client about to write a program: a
//! tracepoint's fields, a binary's functions and USDT probes, or whether a
//! kernel function can be traced here and what to use instead.

use schemars::JsonSchema;
use serde::Serialize;

use crate::{
    check::{Host, HostError, glob, tracepoint_instead},
    host::{
        elf::{self, ElfError},
        features::Support,
        traceable::Traceability,
    },
    lang::ast::ProbeKind,
};

/// Functions one answer lists at most; `functions_total` counts them all.
const MAX_FUNCTIONS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum InfoError {
    #[error(
        "probe_info describes tracepoints (`tracepoint:CATEGORY:NAME`), binaries \
         (`uprobe:BINARY[:PATTERN]`) and kernel functions (`kprobe:NAME`, `kfunc:NAME`); \
         got `{0}`"
    )]
    Unsupported(String),
    #[error("`{0}` has a wildcard; probe_info describes one probe (list_probes expands patterns)")]
    Wildcard(String),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Elf(#[from] ElfError),
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ProbeInfo {
    /// The probe as asked for.
    pub probe: String,
    /// `tracepoint`, `uprobe` or `kernel_function`: which section follows.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracepoint: Option<TracepointInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uprobe: Option<UprobeInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_function: Option<KernelFunctionInfo>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TracepointInfo {
    /// The tracepoint's id in tracefs.
    pub id: u32,
    /// Every field of its record, in order; programs read the ones that are
    /// not `common` as `args.NAME`.
    pub fields: Vec<FieldInfo>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FieldInfo {
    pub name: String,
    /// The C type as declared, array length included (`char[16]`).
    pub c_type: String,
    /// Bytes in the record.
    pub size: u32,
    /// Bytes from the record's start.
    pub offset: u32,
    /// Whether the value reads as signed. The C type decides: syscall
    /// formats state `signed:0` even for `int` arguments.
    pub signed: bool,
    /// Part of every tracepoint's header (`common_pid`, ...).
    pub common: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UprobeInfo {
    /// The binary's resolved path.
    pub binary: String,
    pub pattern: String,
    /// Function symbols matching `pattern`, sorted, at most 1000.
    pub functions: Vec<String>,
    pub functions_total: usize,
    /// USDT probes from its `.note.stapsdt` notes, for `usdt:BINARY:PROVIDER:NAME`.
    pub usdt: Vec<UsdtInfo>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UsdtInfo {
    pub provider: String,
    pub name: String,
    pub address: u64,
    /// Whether the probe has an is-enabled semaphore.
    pub has_semaphore: bool,
    /// Argument specs as the assembler wrote them (`8@%rbx -4@%eax`).
    pub args: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct KernelFunctionInfo {
    pub function: String,
    /// Whether /proc/kallsyms lists it as a function.
    pub exists: bool,
    pub kprobe: Availability,
    /// fentry/fexit (`kfunc:`/`kretfunc:`).
    pub fentry: Availability,
    /// Tracepoints that observe the same thing (on entry, then on return).
    pub suggested: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Availability {
    pub available: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<Support> for Availability {
    fn from(s: Support) -> Self {
        match s {
            Support::Yes => Self { available: true, reason: None },
            Support::No(reason) => Self { available: false, reason: Some(reason) },
        }
    }
}

/// Describes `probe`, read from `host`.
pub fn describe(host: &dyn Host, probe: &str) -> Result<ProbeInfo, InfoError> {
    let probe = probe.trim();
    let unsupported = || InfoError::Unsupported(probe.to_string());
    let (kind, rest) = probe.split_once(':').ok_or_else(unsupported)?;
    let mut info = ProbeInfo {
        probe: probe.to_string(),
        kind: String::new(),
        tracepoint: None,
        uprobe: None,
        kernel_function: None,
    };
    match ProbeKind::from_name(kind).ok_or_else(unsupported)? {
        ProbeKind::Tracepoint => {
            let (category, name) = rest.split_once(':').ok_or_else(unsupported)?;
            if rest.contains('*') {
                return Err(InfoError::Wildcard(probe.to_string()));
            }
            info.kind = "tracepoint".into();
            info.tracepoint = Some(tracepoint(host, category, name)?);
        }
        ProbeKind::Uprobe | ProbeKind::Uretprobe | ProbeKind::Usdt => {
            let (binary, pattern) = match rest.split_once(':') {
                Some((binary, pattern)) => (binary, pattern),
                None => (rest, "*"),
            };
            info.kind = "uprobe".into();
            info.uprobe = Some(uprobe(host, binary, pattern)?);
        }
        ProbeKind::Kprobe | ProbeKind::Kretprobe | ProbeKind::Kfunc | ProbeKind::Kretfunc => {
            let function = rest.split('+').next().unwrap_or(rest);
            if function.contains('*') {
                return Err(InfoError::Wildcard(probe.to_string()));
            }
            info.kind = "kernel_function".into();
            info.kernel_function = Some(kernel_function(host, function)?);
        }
        _ => return Err(unsupported()),
    }
    Ok(info)
}

fn tracepoint(host: &dyn Host, category: &str, name: &str) -> Result<TracepointInfo, InfoError> {
    let format = host.tracepoint_format(category, name)?;
    let fields = format
        .fields
        .iter()
        .map(|f| FieldInfo {
            name: f.name.clone(),
            c_type: f.c_type.clone(),
            size: f.size,
            offset: f.offset,
            signed: f.signed,
            common: f.is_common(),
        })
        .collect();
    Ok(TracepointInfo { id: format.id, fields })
}

fn uprobe(host: &dyn Host, binary: &str, pattern: &str) -> Result<UprobeInfo, InfoError> {
    let (path, functions) = host.user_functions(binary)?;
    let matching: Vec<&String> = functions.iter().filter(|f| glob(pattern, f)).collect();
    let usdt = elf::usdt_notes(&path)?
        .into_iter()
        .map(|n| UsdtInfo {
            provider: n.provider,
            name: n.name,
            address: n.address,
            has_semaphore: n.semaphore != 0,
            args: n.args,
        })
        .collect();
    Ok(UprobeInfo {
        binary: path.display().to_string(),
        pattern: pattern.to_string(),
        functions_total: matching.len(),
        functions: matching.into_iter().take(MAX_FUNCTIONS).cloned().collect(),
        usdt,
    })
}

fn kernel_function(host: &dyn Host, function: &str) -> Result<KernelFunctionInfo, InfoError> {
    let exists = host.kernel_functions()?.traceability(function) != Traceability::Missing;
    let mut suggested: Vec<String> = [false, true]
        .into_iter()
        .filter_map(|ret| tracepoint_instead(host, function, ret))
        .collect();
    suggested.dedup();
    Ok(KernelFunctionInfo {
        function: function.to_string(),
        exists,
        kprobe: host.support(ProbeKind::Kprobe).into(),
        fentry: host.support(ProbeKind::Kfunc).into(),
        suggested,
    })
}
