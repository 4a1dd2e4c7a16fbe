//! Functions that make or compare strings: `strncmp`, `strcontains`,
//! `strftime`, `ntop`, `strerror`, `cgroup_path`. In user space each
//! evaluates on the event's values; `strncmp` of a captured string and a
//! constant also runs in the kernel, as a string comparison over the
//! constant's first n bytes.

use mcptrace_common::slot::op;

use super::{
    NotNative, Unsupported,
    expr::{Exprs, Leaf, Ty},
};
use crate::{
    ir::{
        self,
        slot::{Ops, op as mk},
    },
    lang::ast::{Expr, ExprKind, Span},
};

fn unsupported(span: Span, kind: NotNative, what: impl Into<String>) -> Unsupported {
    Unsupported::new(span, kind, what.into())
}

/// Whether `name` is one of this module's functions.
pub fn is_string_function(name: &str) -> bool {
    matches!(name, "strncmp" | "strcontains" | "strftime" | "ntop" | "strerror" | "cgroup_path")
}

/// The hierarchy filter of `cgroup_path(id [, filter])`: a string literal,
/// every hierarchy (`*`) when not given, as bpftrace.
pub fn cgroup_filter(filter: Option<&Expr>) -> Result<String, Unsupported> {
    match filter {
        None => Ok("*".into()),
        Some(Expr { kind: ExprKind::Str(filter), .. }) => Ok(filter.clone()),
        Some(other) => Err(unsupported(
            other.span,
            NotNative::Expression,
            "cgroup_path() with a filter that is not a string literal",
        )),
    }
}

/// The constant length of `strncmp(a, b, n)`.
fn length(n: &Expr) -> Result<u64, Unsupported> {
    match n.kind {
        ExprKind::Int(n) => Ok(n),
        _ => Err(unsupported(n.span, NotNative::Expression, "strncmp() with a computed length")),
    }
}

impl Exprs<'_> {
    /// `name(args)` for user space, when it is one of this module's.
    pub fn string_call(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
    ) -> Result<(ir::Expr, Ty), Unsupported> {
        let flag = Ty::Int { signed: false };
        match (name, args) {
            ("strncmp", [a, b, n]) => {
                let n = length(n)?;
                let (a, b) = (self.string_arg(a)?, self.string_arg(b)?);
                Ok((ir::Expr::StrNcmp(Box::new(a), Box::new(b), n), flag))
            }
            ("strcontains", [haystack, needle]) => {
                let (h, n) = (self.string_arg(haystack)?, self.string_arg(needle)?);
                Ok((ir::Expr::StrContains(Box::new(h), Box::new(n)), flag))
            }
            ("strftime", [format, nsecs]) => {
                let ExprKind::Str(format) = &format.kind else {
                    return Err(unsupported(
                        format.span,
                        NotNative::Expression,
                        "strftime() with a computed format",
                    ));
                };
                let (nsecs, Ty::Int { .. }) = self.user(nsecs)? else {
                    return Err(unsupported(
                        nsecs.span,
                        NotNative::Types,
                        "strftime() of a string",
                    ));
                };
                let format = format.clone();
                Ok((ir::Expr::Strftime { format, nsecs: Box::new(nsecs) }, Ty::Str))
            }
            ("strerror", [errno]) => match self.user(errno)? {
                (errno, Ty::Int { .. }) => Ok((ir::Expr::Strerror(Box::new(errno)), Ty::Str)),
                _ => Err(unsupported(errno.span, NotNative::Types, "strerror() of a string")),
            },
            ("cgroup_path", [id, filter @ ..]) if filter.len() <= 1 => {
                let filter = cgroup_filter(filter.first())?;
                let (id, Ty::Int { .. }) = self.user(id)? else {
                    return Err(unsupported(
                        id.span,
                        NotNative::Types,
                        "cgroup_path() of a string",
                    ));
                };
                Ok((ir::Expr::CgroupPath { id: Box::new(id), filter }, Ty::Str))
            }
            ("ntop", [addr]) => match self.user(addr)? {
                (addr, Ty::Int { .. }) => Ok((ir::Expr::Ntop(Box::new(addr)), Ty::Str)),
                _ => Err(unsupported(
                    addr.span,
                    NotNative::Types,
                    "ntop() of an address array (IPv6, char[4]) is not native yet: captures \
                     hold integers and NUL-terminated strings",
                )),
            },
            _ => Err(unsupported(
                span,
                NotNative::Function,
                format!("{name}() with {} arguments is not native yet", args.len()),
            )),
        }
    }

    fn string_arg(&mut self, e: &Expr) -> Result<ir::Expr, Unsupported> {
        match self.user(e)? {
            (e, Ty::Str) => Ok(e),
            _ => Err(unsupported(e.span, NotNative::Types, "a string function of a non-string")),
        }
    }

    /// `strncmp(s, "c", n)` (either order) in the kernel: whether the
    /// captured string and the constant differ in their first n bytes.
    /// None when it is not of that shape.
    pub fn kernel_strncmp(
        &mut self,
        args: &[Expr],
        span: Span,
        ops: &mut Ops,
    ) -> Result<Option<Ty>, Unsupported> {
        let [a, b, n] = args else { return Ok(None) };
        let n = length(n)?;
        let (Some(a), Some(b)) = (self.leaf_if_string(a)?, self.leaf_if_string(b)?) else {
            return Ok(None);
        };
        let (s, c) = match (a, b) {
            (Leaf::Str(s), Leaf::ConstStr(c)) | (Leaf::ConstStr(c), Leaf::Str(s)) => (s, c),
            _ => return Ok(None),
        };
        let cx = self.cx(span, "strncmp")?;
        let Ok(idx) = cx.builder.const_prefix(&c, n as usize) else { return Ok(None) };
        ops.extend([mk(op::STR_EQ, s.0, idx), mk(op::LNOT, 0, 0)]);
        Ok(Some(Ty::Int { signed: false }))
    }
}
