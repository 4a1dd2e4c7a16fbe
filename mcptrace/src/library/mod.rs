//! A library of vetted programs with typed parameters, served as MCP
//! prompts and searched with the `find_programs` tool. Arguments are checked
//! before they reach the program text (see [`arguments`]), so a rendered
//! program is always one of the catalog's with safe values filled in.
//! Whether each runs natively here is not written down but planned against
//! the running host (see [`availability`]).

pub mod arguments;
pub mod availability;
mod catalog;
pub mod search;

use std::collections::BTreeMap;

use crate::lang::{self, ast::ProbeKind};

pub use self::{
    arguments::{ArgKind, Argument},
    catalog::PROGRAMS,
};

#[derive(Clone, Copy, Debug)]
pub struct Program {
    pub name: &'static str,
    /// A short human-readable name.
    pub title: &'static str,
    pub description: &'static str,
    /// Words an on-call engineer might search for, beyond the description.
    pub keywords: &'static [&'static str],
    pub arguments: &'static [Argument],
    /// The program, with `{argument}` where each argument goes.
    pub template: &'static str,
    /// What it must show when run against the `mcpt-workload` helper; the
    /// library test holds each program to it.
    pub truth: &'static str,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("no library program named `{0}`")]
    Unknown(String),
    #[error("argument `{0}` is required")]
    Missing(&'static str),
    #[error("argument `{name}` = `{value}` is not {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
    #[error("unknown argument `{0}`")]
    Unexpected(String),
}

pub fn find(name: &str) -> Result<&'static Program, RenderError> {
    PROGRAMS.iter().find(|p| p.name == name).ok_or_else(|| RenderError::Unknown(name.to_string()))
}

impl Program {
    /// The program with `args` filled in, each checked against its kind and
    /// substituted in its canonical form.
    pub fn render(&self, args: &BTreeMap<String, String>) -> Result<String, RenderError> {
        if let Some(extra) = args.keys().find(|k| self.arguments.iter().all(|a| a.name != *k)) {
            return Err(RenderError::Unexpected(extra.clone()));
        }
        self.fill(|arg| match (args.get(arg.name), arg.default) {
            (Some(v), _) => Ok(v.trim()),
            (None, Some(default)) => Ok(default),
            (None, None) => Err(RenderError::Missing(arg.name)),
        })
    }

    /// The program with each argument's example value, for planning it
    /// when the caller has given none.
    pub fn example(&self) -> String {
        self.fill(|arg| Ok(arg.example)).expect("catalog examples are valid values")
    }

    /// The probe kinds it attaches (`tracepoint`, `uprobe`, `profile`, ...),
    /// read from the program itself so they cannot drift from it.
    pub fn probe_kinds(&self) -> Vec<ProbeKind> {
        let parsed = lang::parse(&self.example()).expect("catalog programs parse");
        let mut kinds: Vec<ProbeKind> = Vec::new();
        for ap in parsed.probes.iter().flat_map(|p| &p.attach_points) {
            if !kinds.contains(&ap.kind) {
                kinds.push(ap.kind);
            }
        }
        kinds
    }

    fn fill<'a>(
        &self,
        value_of: impl Fn(&Argument) -> Result<&'a str, RenderError>,
    ) -> Result<String, RenderError> {
        let mut program = self.template.to_string();
        for arg in self.arguments {
            let value = value_of(arg)?;
            let canonical = arg.kind.canonical(value).map_err(|r| RenderError::Invalid {
                name: arg.name,
                value: value.to_string(),
                expected: r.expected,
            })?;
            program = program.replace(&format!("{{{}}}", arg.name), &canonical);
        }
        Ok(program)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn fills_arguments_and_defaults() {
        let p = find("cpu_profile_of_pid").unwrap().render(&args(&[("pid", "42")])).unwrap();
        assert_eq!(p, "profile:hz:99 /pid == 42/ { @stacks[ustack, kstack] = count(); }");
        let p = find("syscall_latency_by_pid").unwrap().render(&args(&[("pid", "007")])).unwrap();
        assert_eq!(p.matches("pid == 7/").count() + p.matches("pid == 7 ").count(), 2, "{p}");
    }

    #[test]
    fn refuses_values_that_would_change_the_program() {
        let opens = find("file_opens_by_pid").unwrap();
        assert_eq!(opens.render(&args(&[])), Err(RenderError::Missing("pid")));
        for bad in ["1/ { system(\"id\"); } /1", "0", "-1", "x", "4294967296"] {
            assert!(matches!(
                opens.render(&args(&[("pid", bad)])),
                Err(RenderError::Invalid { name: "pid", .. })
            ));
        }
        let reads = find("read_size_histogram").unwrap();
        let injection = reads.render(&args(&[("comm", "x\"); system(\"id")]));
        assert!(matches!(injection, Err(RenderError::Invalid { name: "comm", .. })));
        assert!(reads.render(&args(&[("comm", "bash")])).is_ok());
        assert_eq!(
            reads.render(&args(&[("comm", "bash"), ("pid", "1")])),
            Err(RenderError::Unexpected("pid".into()))
        );
        let calls = find("function_calls").unwrap();
        let wildcard = calls.render(&args(&[("binary", "libc"), ("function", "*")]));
        assert!(matches!(wildcard, Err(RenderError::Invalid { name: "function", .. })));
        assert!(matches!(find("nope"), Err(RenderError::Unknown(_))));
    }

    #[test]
    fn probe_kinds_come_from_the_program() {
        let kinds = |name| find(name).unwrap().probe_kinds();
        assert_eq!(kinds("syscall_rate_of_comm"), [ProbeKind::Tracepoint, ProbeKind::Interval]);
        assert_eq!(kinds("function_latency_of_pid"), [ProbeKind::Uprobe, ProbeKind::Uretprobe]);
        assert_eq!(kinds("page_fault_stacks_of_pid"), [ProbeKind::Software]);
    }

    /// Every program, filled with its examples, is a whole program: each
    /// placeholder named by an argument, each argument used, and it parses.
    #[test]
    fn every_program_is_complete_and_parses() {
        assert!(PROGRAMS.len() >= 30);
        for p in PROGRAMS {
            for arg in p.arguments {
                assert!(
                    p.template.contains(&format!("{{{}}}", arg.name)),
                    "{}: {}",
                    p.name,
                    arg.name
                );
            }
            let example = p.example();
            let leftover = example.split('{').skip(1).find_map(|after| {
                let word = after.split('}').next()?;
                let placeholder = !word.is_empty()
                    && word.len() < after.len()
                    && word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
                placeholder.then_some(word)
            });
            assert_eq!(leftover, None, "{}: a placeholder no argument fills", p.name);
            if let Err(e) = lang::parse(&example) {
                panic!("{}: {example}: {e:?}", p.name);
            }
            assert!(!p.probe_kinds().is_empty(), "{}", p.name);
            let same_name = PROGRAMS.iter().filter(|q| q.name == p.name).count();
            assert_eq!(same_name, 1, "{} twice", p.name);
            assert!(!p.keywords.is_empty() && !p.truth.is_empty(), "{}", p.name);
        }
    }
}
