//! Planning: which backend runs a checked program, and why not native.
//!
//! One pass over the program in source order finds the first construct
//! outside the native subset ([`subset::NATIVE`]); that construct, with its
//! position, is the fallback reason.

pub mod subset;

use serde::Serialize;

use crate::{
    check::Checked,
    lang::{
        ast::{Block, Else, Expr, ExprKind, Program, Span, Stmt, StmtKind},
        catalog, pretty,
    },
};
use subset::{NATIVE, Subset};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Native,
    Bpftrace,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub backend: Backend,
    /// Why the program does not run natively; `None` when it does.
    pub fallback: Option<Fallback>,
    /// bpftrace's "Attaching N probes" number.
    pub attach_count: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fallback {
    /// A construct outside the native subset.
    #[error("{construct} at {span}: {why}")]
    Unsupported { construct: String, span: Span, why: String },
    /// The program is inside the native subset, but there is no native backend to run it.
    #[error("native backend not available yet")]
    NativeUnavailable,
}

/// Whether the native backend can execute plans. The native backend flips
/// this when it lands; until then every program falls back.
const NATIVE_BACKEND_READY: bool = false;

pub fn plan(checked: &Checked) -> Plan {
    let fallback = match first_outside(&checked.program, &NATIVE) {
        Some(reason) => Some(reason),
        None if NATIVE_BACKEND_READY => None,
        None => Some(Fallback::NativeUnavailable),
    };
    let backend = if fallback.is_some() { Backend::Bpftrace } else { Backend::Native };
    Plan { backend, fallback, attach_count: checked.attach_count() }
}

/// The first construct of `program` outside `subset`, in source order.
pub fn first_outside(program: &Program, subset: &Subset) -> Option<Fallback> {
    let walker = Walker { subset };
    if let Some(item) = program.preamble.first() {
        return Some(walker.reject(
            format!("`{}`", item.text.lines().next().unwrap_or_default()),
            item.span,
            "#include and C definitions are not native yet",
        ));
    }
    program.probes.iter().find_map(|probe| {
        probe
            .attach_points
            .iter()
            .find(|ap| !subset.probe_kinds.contains(&ap.kind))
            .map(|ap| {
                walker.reject(
                    format!("`{}`", ap.text()),
                    ap.span,
                    format!("{} probes are not native yet", ap.kind.name()),
                )
            })
            .or_else(|| probe.predicate.as_ref().and_then(|p| walker.expr(p)))
            .or_else(|| walker.block(&probe.body))
    })
}

struct Walker<'s> {
    subset: &'s Subset,
}

impl Walker<'_> {
    fn reject(&self, construct: String, span: Span, why: impl Into<String>) -> Fallback {
        Fallback::Unsupported { construct, span, why: why.into() }
    }

    fn block(&self, block: &Block) -> Option<Fallback> {
        block.stmts.iter().find_map(|s| self.stmt(s))
    }

    fn stmt(&self, stmt: &Stmt) -> Option<Fallback> {
        match &stmt.kind {
            StmtKind::Expr(e) => self.expr(e),
            StmtKind::Assign { target, op, value } => {
                if !matches!(target.kind, ExprKind::Var(_)) {
                    let why = "maps are not native yet";
                    return Some(self.reject(
                        format!("`{}`", pretty::expr(target)),
                        target.span,
                        why,
                    ));
                }
                if let Some(op) = op {
                    let why = "compound assignment is not native yet";
                    return Some(self.reject(format!("`{}=`", op.symbol()), stmt.span, why));
                }
                self.expr(value)
            }
            StmtKind::If { cond, then, otherwise } => {
                self.expr(cond).or_else(|| self.block(then)).or_else(|| match otherwise {
                    Some(Else::Block(b)) => self.block(b),
                    Some(Else::If(nested)) => self.stmt(nested),
                    None => None,
                })
            }
            StmtKind::While { .. } | StmtKind::Unroll { .. } => {
                Some(self.reject(statement_word(&stmt.kind), stmt.span, "loops are not native yet"))
            }
            StmtKind::Break | StmtKind::Continue | StmtKind::Return => Some(self.reject(
                statement_word(&stmt.kind),
                stmt.span,
                "jump statements are not native yet",
            )),
        }
    }

    fn expr(&self, e: &Expr) -> Option<Fallback> {
        let s = self.subset;
        let text = || format!("`{}`", pretty::expr(e));
        let outside = match &e.kind {
            ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Var(_) => None,
            ExprKind::Ident(name) => self.builtin(name),
            ExprKind::Call { name, .. } if s.functions.contains(&name.as_str()) => None,
            ExprKind::Call { name, .. } => Some(match catalog::function(name).map(|f| f.kind) {
                Some(catalog::EntryKind::MapFunction) => {
                    format!("map function `{name}()` is not native yet")
                }
                _ => format!("`{name}()` is not native yet"),
            }),
            ExprKind::Binary { op, .. } if s.binary_ops.contains(op) => None,
            ExprKind::Binary { op, .. } => {
                Some(format!("operator `{}` is not native yet", op.symbol()))
            }
            ExprKind::Unary { op, .. } if s.unary_ops.contains(op) => None,
            ExprKind::Unary { op, .. } => {
                Some(format!("unary `{}` is not native yet", op.symbol()))
            }
            ExprKind::Field { expr: base, .. } if matches!(&base.kind, ExprKind::Ident(n) if n == "args") =>
            {
                // `args.f` is a tracepoint field capture; `args` itself is fine.
                return None;
            }
            ExprKind::Field { .. } => {
                Some("struct field access needs BTF-typed reads: not native yet".into())
            }
            ExprKind::Map { .. } => Some("maps are not native yet".into()),
            ExprKind::Cast { .. } => Some("casts are not native yet".into()),
            ExprKind::Positional(_) | ExprKind::PositionalCount => {
                Some("positional parameters are not native yet".into())
            }
            ExprKind::Tuple(_) => Some("tuples are not native yet".into()),
            ExprKind::Ternary { .. } => Some("the ternary operator is not native yet".into()),
            ExprKind::Step { .. } => Some("increment and decrement are not native yet".into()),
            ExprKind::Index { .. } => Some("array indexing is not native yet".into()),
            ExprKind::SizeofType(_) => Some("sizeof is not native yet".into()),
        };
        match outside {
            Some(why) => Some(self.reject(text(), e.span, why)),
            None => e.children().into_iter().find_map(|c| self.expr(c)),
        }
    }

    fn builtin(&self, name: &str) -> Option<String> {
        let s = self.subset;
        let family = catalog::variable(name).map_or(name, |entry| entry.name);
        if family == "argN" {
            let index: u32 = name[3..].parse().unwrap_or(u32::MAX);
            return (index > s.max_arg)
                .then(|| format!("arguments above arg{} are not native yet", s.max_arg));
        }
        if s.builtins.contains(&family) {
            return None;
        }
        Some(match s.builtin_reasons.iter().find(|(n, _)| *n == family) {
            Some((_, why)) => why.to_string(),
            None => format!("builtin `{name}` is not native yet"),
        })
    }
}

fn statement_word(kind: &StmtKind) -> String {
    let word = match kind {
        StmtKind::While { .. } => "while",
        StmtKind::Unroll { .. } => "unroll",
        StmtKind::Break => "break",
        StmtKind::Continue => "continue",
        _ => "return",
    };
    format!("`{word}`")
}

#[cfg(test)]
mod tests;
