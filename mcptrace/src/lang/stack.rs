//! Stack builtins and their arguments: `kstack`, `ustack`, and the calls
//! `kstack(5)`, `ustack(perf, 3)`, `kstack(bpftrace)`: an optional mode,
//! then an optional frame limit, as bpftrace takes them. The checker and
//! the lowering both read a stack here.

use super::ast::{Expr, ExprKind};

/// Frames a stack keeps unless a limit says otherwise: bpftrace's default,
/// and the kernel's default `perf_event_max_stack`.
pub const DEFAULT_LIMIT: usize = 127;
/// The largest limit bpftrace takes.
pub const MAX_LIMIT: u64 = 1024;

/// How frames print: `bpftrace` (indented symbols) or `perf` (tab, address,
/// symbol, as `perf script` writes them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackMode {
    Bpftrace,
    Perf,
}

impl StackMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Bpftrace => "bpftrace",
            Self::Perf => "perf",
        }
    }
}

/// A stack expression: whose stack, how it prints, how many frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stack {
    pub user: bool,
    pub mode: StackMode,
    pub limit: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StackArgError {
    #[error("unknown stack mode `{0}` (bpftrace, perf)")]
    Mode(String),
    #[error("the limit must be an integer literal")]
    Limit,
    #[error("the limit must be from 1 to {MAX_LIMIT}, not {0}")]
    LimitRange(u64),
    #[error("the arguments are a mode and a limit, as in ustack(perf, 5)")]
    Shape,
}

/// The stack `e` takes, when `e` is `kstack`/`ustack`, bare or called.
pub fn stack_of(e: &Expr) -> Option<Result<Stack, StackArgError>> {
    match &e.kind {
        ExprKind::Ident(name) => stack_call(name, &[]),
        ExprKind::Call { name, args } => stack_call(name, args),
        _ => None,
    }
}

/// The stack a call of `name` with `args` takes, when `name` is a stack builtin.
pub fn stack_call(name: &str, args: &[Expr]) -> Option<Result<Stack, StackArgError>> {
    let user = match name {
        "kstack" => false,
        "ustack" => true,
        _ => return None,
    };
    Some(arguments(args).map(|(mode, limit)| Stack { user, mode, limit }))
}

/// `[mode,] [limit]`.
fn arguments(args: &[Expr]) -> Result<(StackMode, usize), StackArgError> {
    let (mode, limit) = match args {
        [] => (None, None),
        [e @ Expr { kind: ExprKind::Ident(_), .. }] => (Some(e), None),
        [limit] => (None, Some(limit)),
        [mode, limit] => (Some(mode), Some(limit)),
        _ => return Err(StackArgError::Shape),
    };
    let mode = match mode.map(|e| &e.kind) {
        None => StackMode::Bpftrace,
        Some(ExprKind::Ident(m)) if m == "bpftrace" => StackMode::Bpftrace,
        Some(ExprKind::Ident(m)) if m == "perf" => StackMode::Perf,
        Some(ExprKind::Ident(m)) => return Err(StackArgError::Mode(m.clone())),
        Some(_) => return Err(StackArgError::Shape),
    };
    let limit = match limit.map(|e| &e.kind) {
        None => DEFAULT_LIMIT,
        Some(&ExprKind::Int(n)) if (1..=MAX_LIMIT).contains(&n) => n as usize,
        Some(&ExprKind::Int(n)) => return Err(StackArgError::LimitRange(n)),
        Some(_) => return Err(StackArgError::Limit),
    };
    Ok((mode, limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{ast::StmtKind, parse};

    fn stack(text: &str) -> Option<Result<Stack, StackArgError>> {
        let program = parse(&format!("BEGIN {{ {text}; }}")).unwrap();
        let StmtKind::Expr(e) = &program.probes[0].body.stmts[0].kind else { panic!("{text}") };
        stack_of(e)
    }

    #[test]
    fn modes_and_limits() {
        let s = |user, mode, limit| Some(Ok(Stack { user, mode, limit }));
        use StackMode::{Bpftrace, Perf};
        assert_eq!(stack("kstack"), s(false, Bpftrace, DEFAULT_LIMIT));
        assert_eq!(stack("ustack"), s(true, Bpftrace, DEFAULT_LIMIT));
        assert_eq!(stack("kstack()"), s(false, Bpftrace, DEFAULT_LIMIT));
        assert_eq!(stack("kstack(5)"), s(false, Bpftrace, 5));
        assert_eq!(stack("ustack(perf, 3)"), s(true, Perf, 3));
        assert_eq!(stack("ustack(perf)"), s(true, Perf, DEFAULT_LIMIT));
        assert_eq!(stack("kstack(bpftrace)"), s(false, Bpftrace, DEFAULT_LIMIT));
        assert_eq!(stack("kstack(1e3)"), s(false, Bpftrace, 1000));
        assert_eq!(stack("pid"), None);
        assert_eq!(stack("str(arg0)"), None);
    }

    #[test]
    fn bad_arguments_say_which() {
        assert_eq!(stack("kstack(raw)"), Some(Err(StackArgError::Mode("raw".into()))));
        assert_eq!(stack("kstack(0)"), Some(Err(StackArgError::LimitRange(0))));
        assert_eq!(stack("kstack(1025)"), Some(Err(StackArgError::LimitRange(1025))));
        assert_eq!(stack("kstack(pid + 1)"), Some(Err(StackArgError::Limit)));
        assert_eq!(stack("kstack(5, perf)"), Some(Err(StackArgError::Shape)));
        assert_eq!(stack("kstack(perf, 1, 2)"), Some(Err(StackArgError::Shape)));
    }
}
