//! Scope: the operator confines every program to one cgroup (a container
//! or a service, with every process it starts) or one process. The scope is
//! a predicate joined to each event probe's own before the program is
//! checked, so both backends run it as any predicate: natively in the
//! kernel, before anything is captured or sent (events outside the scope
//! never reach user space), and through bpftrace as part of the program it
//! compiles.

use std::{
    fmt,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
    str::FromStr,
};

use crate::{
    host::cgroups,
    lang::ast::{BinaryOp, Expr, ExprKind, Probe, ProbeKind, Program},
};

/// cgroup v2's usual mount point; hybrid hosts mount it elsewhere (as
/// /sys/fs/cgroup/unified), found among the mounts.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// statfs's f_type of a cgroup v2 file system.
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// One process (every thread of it); not the processes it starts.
    Pid(u32),
    /// A cgroup v2 directory, by its path and the id the kernel gives it
    /// (its inode number, which `bpf_get_current_cgroup_id` returns).
    Cgroup { path: PathBuf, id: u64 },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScopeError {
    #[error("a scope is pid=PID or cgroup=PATH, not `{0}`")]
    Syntax(String),
    #[error("scope pid={0}: no such process")]
    NoProcess(u32),
    #[error("scope cgroup={}: {reason}", path.display())]
    Cgroup { path: PathBuf, reason: String },
}

impl FromStr for Scope {
    type Err = ScopeError;

    fn from_str(text: &str) -> Result<Self, ScopeError> {
        let syntax = || ScopeError::Syntax(text.to_string());
        match text.split_once('=').ok_or_else(syntax)? {
            ("pid", pid) => {
                let pid: u32 = pid.parse().ok().filter(|p| *p > 0).ok_or_else(syntax)?;
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    return Err(ScopeError::NoProcess(pid));
                }
                Ok(Scope::Pid(pid))
            }
            ("cgroup", path) if !path.is_empty() => cgroup(path),
            _ => Err(syntax()),
        }
    }
}

/// Where cgroup v2 is mounted here.
pub fn cgroup2_root() -> PathBuf {
    let mounts = cgroups::hierarchies().unwrap_or_default();
    mounts
        .into_iter()
        .find_map(|h| h.v2.then_some(h.root))
        .unwrap_or_else(|| PathBuf::from(CGROUP_ROOT))
}

/// The cgroup at `path`: absolute, or relative to cgroup v2's mount point.
fn cgroup(path: &str) -> Result<Scope, ScopeError> {
    let root = cgroup2_root();
    let path = root.join(path);
    let fail = |reason: String| ScopeError::Cgroup { path: path.clone(), reason };
    let meta = std::fs::metadata(&path).map_err(|e| fail(e.to_string()))?;
    if !meta.is_dir() {
        return Err(fail("not a directory".into()));
    }
    if !is_cgroup2(&path) {
        let root = root.display();
        return Err(fail(format!("not a directory of the cgroup v2 hierarchy ({root})")));
    }
    Ok(Scope::Cgroup { id: meta.ino(), path })
}

fn is_cgroup2(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: a zeroed statfs is valid for the call to fill.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `fs` a valid out-pointer.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut fs) };
    rc == 0 && fs.f_type as i64 == CGROUP2_SUPER_MAGIC
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Pid(pid) => write!(f, "pid={pid}"),
            Scope::Cgroup { path, .. } => write!(f, "cgroup={}", path.display()),
        }
    }
}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Scope {
    /// Joins the scope's test to the predicate of every probe that fires
    /// in a task's context. BEGIN, END and interval run outside any traced
    /// task and are left alone.
    pub fn confine(&self, mut program: Program) -> Program {
        for probe in program.probes.iter_mut().filter(|p| fires_in_tasks(p)) {
            let test = self.test(probe);
            probe.predicate = Some(match probe.predicate.take() {
                None => test,
                Some(own) => binary(BinaryOp::And, test, own),
            });
        }
        program
    }

    /// `pid == N` or `cgroup == ID`, placed at the probe's position.
    fn test(&self, probe: &Probe) -> Expr {
        let at = |kind| Expr { kind, span: probe.span };
        let (builtin, value) = match self {
            Scope::Pid(pid) => ("pid", u64::from(*pid)),
            Scope::Cgroup { id, .. } => ("cgroup", *id),
        };
        binary(BinaryOp::Eq, at(ExprKind::Ident(builtin.into())), at(ExprKind::Int(value)))
    }
}

fn fires_in_tasks(probe: &Probe) -> bool {
    probe
        .attach_points
        .iter()
        .any(|ap| !matches!(ap.kind, ProbeKind::Begin | ProbeKind::End | ProbeKind::Interval))
}

fn binary(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    let span = lhs.span;
    Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{self, pretty};

    fn confined(scope: &Scope, source: &str) -> String {
        pretty::program(&scope.confine(lang::parse(source).unwrap()))
    }

    #[test]
    fn event_probes_get_the_test_and_keep_their_own_predicate() {
        let text = confined(
            &Scope::Pid(42),
            "BEGIN { @s = 1; } tracepoint:syscalls:sys_enter_getpid /comm == \"a\" || tid == 1/ { @n = count(); } \
             profile:hz:99 { @p = count(); } interval:s:1 { exit(); } END { clear(@s); }",
        );
        assert!(
            text.contains("sys_enter_getpid /pid == 42 && (comm == \"a\" || tid == 1)/"),
            "{text}"
        );
        assert!(text.contains("profile:hz:99 /pid == 42/"), "{text}");
        assert_eq!(text.matches("pid == 42").count(), 2, "BEGIN, END, interval untouched: {text}");
    }

    #[test]
    fn a_cgroup_scope_tests_the_cgroup_id() {
        let scope = Scope::Cgroup { path: "/sys/fs/cgroup/x".into(), id: 77 };
        let text = confined(&scope, "uprobe:/bin/sh:main { printf(\"x\\n\"); }");
        assert!(text.contains("/cgroup == 77/"), "{text}");
    }

    #[test]
    fn scopes_parse_or_say_what_is_wrong() {
        let me = std::process::id();
        assert_eq!(format!("pid={me}").parse(), Ok(Scope::Pid(me)));
        for bad in ["pid", "pid=", "pid=0", "pid=x", "uid=0", "cgroup=", "=1"] {
            assert_eq!(bad.parse::<Scope>(), Err(ScopeError::Syntax(bad.into())), "{bad}");
        }
        assert_eq!("pid=4194304".parse::<Scope>(), Err(ScopeError::NoProcess(4_194_304)));
        let err = "cgroup=/proc".parse::<Scope>().unwrap_err();
        assert!(err.to_string().contains("not a directory of the cgroup v2"), "{err}");
        let root = cgroup2_root();
        let err = "cgroup=no/such/group".parse::<Scope>().unwrap_err();
        assert!(err.to_string().contains(&format!("{}/no/such/group", root.display())), "{err}");
        if is_cgroup2(&root) {
            let Ok(Scope::Cgroup { path, id }) = format!("cgroup={}", root.display()).parse()
            else {
                panic!("the cgroup root is a scope");
            };
            assert_eq!((path, id), (root, 1), "the root's id is 1");
        }
    }
}
