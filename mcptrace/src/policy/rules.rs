//! The policy's judgments: each says yes, or which rule denies and what the
//! operator would change to allow it. They run before planning, so both
//! backends obey them and nothing is loaded for a denied program.

use std::path::Path;

use super::Policy;
use crate::lang::{
    ast::{Expr, ExprKind, ProbeKind},
    printf::{Conversion, FormatString},
};

/// /proc entries that lead into a process's files, memory or secrets:
/// reading through them escapes the directories cat() may read.
const PROC_ESCAPES: &[&str] =
    &["root", "cwd", "exe", "fd", "map_files", "environ", "mem", "kcore", "kmem"];

/// A rule of the policy, by its key in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    ProbeKinds,
    AllowBinaries,
    DenyBinaries,
    DenyFunctions,
    CatPaths,
    AllowUnsafe,
    MaxProgramBytes,
    MaxConcurrentExecutions,
}

impl Rule {
    /// Where the rule sits in the policy file.
    pub fn key(self) -> &'static str {
        match self {
            Self::ProbeKinds => "probes.kinds",
            Self::AllowBinaries => "user_probes.allow_binaries",
            Self::DenyBinaries => "user_probes.deny_binaries",
            Self::DenyFunctions => "user_probes.deny_functions",
            Self::CatPaths => "cat.paths",
            Self::AllowUnsafe => "allow_unsafe",
            Self::MaxProgramBytes => "limits.max_program_bytes",
            Self::MaxConcurrentExecutions => "limits.max_concurrent_executions",
        }
    }

    /// The diagnostic code a denial carries: what clients and the audit log
    /// match on. Rules that guard secrets share `sensitive`, as before the
    /// policy file existed.
    pub fn code(self) -> &'static str {
        match self {
            Self::ProbeKinds | Self::AllowBinaries => "policy",
            Self::DenyBinaries | Self::DenyFunctions | Self::CatPaths => "sensitive",
            Self::AllowUnsafe => "unsafe",
            Self::MaxProgramBytes => "too_large",
            Self::MaxConcurrentExecutions => "too_many",
        }
    }
}

/// Why the policy refuses something, and how the operator would allow it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("policy: {what} (rule {})", rule.key())]
pub struct Denial {
    pub rule: Rule,
    pub what: String,
    /// What to change, naming the policy file when there is one.
    pub remedy: String,
}

impl Policy {
    /// A denial by `rule`; `subject` is what the remedy adds or removes,
    /// for the rules that list things.
    fn deny(&self, rule: Rule, what: String, subject: &str) -> Denial {
        let file = match &self.file {
            Some(path) => path.display().to_string(),
            None => "a policy file given with --policy".into(),
        };
        let key = rule.key();
        let remedy = match rule {
            Rule::ProbeKinds | Rule::AllowBinaries => {
                format!("add \"{subject}\" to {key} in {file}")
            }
            Rule::DenyBinaries | Rule::DenyFunctions => format!(
                "remove \"{subject}\" from {key} in {file}, or start mcptrace with --allow-sensitive"
            ),
            Rule::CatPaths => format!(
                "widen {key} in {file} (\"/\" reads any file), or start mcptrace with \
                 --allow-sensitive"
            ),
            Rule::AllowUnsafe => {
                format!("set {key} = true in {file}, or start mcptrace with --allow-unsafe")
            }
            Rule::MaxProgramBytes => format!("raise {key} in {file}"),
            Rule::MaxConcurrentExecutions => {
                format!("stop one or wait for one to end, or raise {key} in {file}")
            }
        };
        Denial { rule, what, remedy }
    }

    /// Whether probes of `kind` may attach.
    pub fn probe_kind(&self, kind: ProbeKind) -> Result<(), Denial> {
        if self.probes.kinds.contains(kind) {
            return Ok(());
        }
        let name = kind.name();
        Err(self.deny(Rule::ProbeKinds, format!("probe kind {name} is not allowed"), name))
    }

    /// Whether uprobes, uretprobes and usdt probes may attach to `binary`.
    /// Its canonical path counts too, so a link to a denied binary is
    /// denied and a listed link is allowed.
    pub fn user_binary(&self, binary: &Path) -> Result<(), Denial> {
        let rules = &self.user_probes;
        let canonical = std::fs::canonicalize(binary).ok();
        let names: Vec<&Path> = std::iter::once(binary).chain(canonical.as_deref()).collect();
        let matches = |entry: &String| names.iter().any(|name| names_binary(entry, name));
        let shown = binary.display().to_string();
        if let Some(denied) = rules.deny_binaries.iter().find(|e| matches(e)) {
            let what = format!(
                "{shown} is denied to uprobes and usdt: it may hold secrets (the defaults list \
                 credential handlers, whose memory holds what users type to them)"
            );
            return Err(self.deny(Rule::DenyBinaries, what, denied));
        }
        if let Some(allowed) = &rules.allow_binaries
            && !allowed.iter().any(matches)
        {
            let what = format!("{shown} is not among the binaries uprobes and usdt may attach to");
            let subject = canonical.as_deref().unwrap_or(binary).display().to_string();
            return Err(self.deny(Rule::AllowBinaries, what, &subject));
        }
        Ok(())
    }

    /// Whether uprobes may attach to `function`, in any binary. (A uprobe
    /// at an address is not matched to a function.)
    pub fn user_function(&self, function: &str) -> Result<(), Denial> {
        if !self.user_probes.deny_functions.iter().any(|d| d == function) {
            return Ok(());
        }
        let what = format!(
            "{function} is denied to uprobes: it may pass secrets (the defaults list functions \
             that pass TLS plaintext)"
        );
        Err(self.deny(Rule::DenyFunctions, what, function))
    }

    /// Whether `cat(path)` may read.
    pub fn cat(&self, path: &Expr) -> Result<(), Denial> {
        let deny = |what: String| Err(self.deny(Rule::CatPaths, what, ""));
        if self.cat.reads_anything() {
            return Ok(());
        }
        let ExprKind::Str(path) = &path.kind else {
            return deny("cat() reads a path given as a string literal".into());
        };
        let roots = &self.cat.paths;
        let readable = english_list(roots);
        if !roots
            .iter()
            .any(|root| path.strip_prefix(root.as_str()).is_some_and(|r| r.starts_with('/')))
        {
            return deny(match roots.len() {
                0 => format!("cat(\"{path}\"): cat() may read no files"),
                _ => format!("cat(\"{path}\") reads outside {readable}"),
            });
        }
        // An integer conversion (`/proc/%d/status`) puts digits alone into
        // the path; a string or character one could put `/` or `..`.
        let integers_only = FormatString::parse(path).conversions().all(|c| {
            matches!(
                c,
                Conversion::Signed
                    | Conversion::Unsigned
                    | Conversion::Hex
                    | Conversion::HexUpper
                    | Conversion::Octal
            )
        });
        let escapes =
            path.split('/').any(|p| p == ".." || PROC_ESCAPES.contains(&p)) || !integers_only;
        if escapes {
            return deny(format!(
                "cat(\"{path}\") leads out of {readable} (through `..`, a format of other than \
                 integers, or a /proc entry into a process's files, memory or environment)"
            ));
        }
        Ok(())
    }

    /// Whether `name`, a function the catalog marks unsafe, may be called.
    pub fn unsafe_function(&self, name: &str) -> Result<(), Denial> {
        if self.allow_unsafe {
            return Ok(());
        }
        let what = format!("{name}() is an unsafe function");
        Err(self.deny(Rule::AllowUnsafe, what, name))
    }

    /// Whether a program of `bytes` bytes is accepted.
    pub fn program_size(&self, bytes: usize) -> Result<(), Denial> {
        let limit = self.limits.max_program_bytes;
        if bytes <= limit {
            return Ok(());
        }
        let what = format!("the program is {bytes} bytes; the limit is {limit}");
        Err(self.deny(Rule::MaxProgramBytes, what, ""))
    }

    /// Whether another execution may start while `running` run.
    pub fn another_execution(&self, running: usize) -> Result<(), Denial> {
        let limit = self.limits.max_concurrent_executions;
        if running < limit {
            return Ok(());
        }
        let what = format!("{running} executions are already running, the most allowed");
        Err(self.deny(Rule::MaxConcurrentExecutions, what, ""))
    }
}

/// Whether a binary entry of the policy names `path`: an entry with a `/`
/// is a whole path, one without is a file name in any directory.
fn names_binary(entry: &str, path: &Path) -> bool {
    if entry.contains('/') {
        Path::new(entry) == path
    } else {
        path.file_name().is_some_and(|n| n == entry)
    }
}

/// `a`, `a and b`, `a, b and c`.
fn english_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
