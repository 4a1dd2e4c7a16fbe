//! buf() and join(): memory that a probe's pointer points to, which the
//! kernel reads into the event — a buffer into a string slot, an array of
//! strings into the event's join area.

use mcptrace_common::{limits::STR_LEN, slot::source};

use super::{
    NotNative, Unsupported,
    expr::{Exprs, Leaf, Ty, cx_field_offset, is_args},
    site::Site,
};
use crate::{
    ir,
    lang::ast::{Expr, ExprKind, Span},
};

fn unsupported(span: Span, what: impl Into<String>) -> Unsupported {
    Unsupported::new(span, NotNative::Expression, what.into())
}

impl Exprs<'_> {
    /// `buf(ptr, len)`: at most `STR_LEN` bytes, as bpftrace 0.17 caps them
    /// (its `strlen`). The length is a constant or a value the kernel
    /// captures as it is, which it reads before the bytes.
    pub(super) fn buffer(
        &mut self,
        args: &[Expr],
        span: Span,
    ) -> Result<(ir::Expr, Ty), Unsupported> {
        let [ptr, len] = args else {
            return Err(unsupported(
                span,
                "buf() without a length (of an array) is not native yet",
            ));
        };
        let (size, captured, len_expr) = match &len.kind {
            ExprKind::Int(n) => {
                let n = (*n).min(STR_LEN as u64);
                (n as u32, None, ir::Expr::Int { bits: n, signed: false })
            }
            _ => match self.leaf(len)? {
                Some(Leaf::Int(v, signed))
                    if self.cx(span, "buf")?.builder.capture_of(v).is_some() =>
                {
                    (STR_LEN as u32, Some(v), ir::Expr::Captured { at: v, signed })
                }
                _ => {
                    return Err(unsupported(
                        len.span,
                        "buf() with a computed length: the kernel reads a length it captures \
                         as it is (a field or an argument)",
                    ));
                }
            },
        };
        let (offset, user) = self.pointer(ptr, "buf()", false)?;
        let src = if user { source::USER_BUF } else { source::KERNEL_BUF };
        let bytes = self.cx(span, "buf")?.buffer(src, offset, size, captured, span)?;
        Ok((ir::Expr::Buf { bytes, len: Box::new(len_expr) }, Ty::Buf))
    }

    /// `join(array [, delim])`: the kernel reads the array's strings after
    /// the captures; one array per probe, which every join() there prints.
    pub(super) fn join(&mut self, args: &[Expr], span: Span) -> Result<ir::Stmt, Unsupported> {
        let (array, delim) = match args {
            [a] => (a, b" ".to_vec()),
            [a, Expr { kind: ExprKind::Str(d), .. }] => (a, d.as_bytes().to_vec()),
            _ => return Err(unsupported(span, "join() with a computed delimiter")),
        };
        let (offset, user) = self.pointer(array, "join()", true)?;
        let cx = self.cx(span, "join")?;
        if cx.builder.joined_offset().is_some_and(|at| at != offset) {
            return Err(Unsupported::new(
                span,
                NotNative::SlotFull,
                "a join() of a second array in one probe: a slot reads one".to_string(),
            ));
        }
        cx.builder.join(if user { source::USER_STR } else { source::KERNEL_STR }, offset);
        Ok(ir::Stmt::Join { delim })
    }

    /// Where pointer `e` is in the record, and whether it points to user
    /// memory: a tracepoint's pointer field (for join(), a `char **`), or a
    /// uprobe's (user) or kprobe's (kernel, as bpftrace 0.17 reads it)
    /// argument. `what` names the call in fallback reasons.
    fn pointer(&mut self, e: &Expr, what: &str, strings: bool) -> Result<(u32, bool), Unsupported> {
        let span = e.span;
        match &e.kind {
            ExprKind::Field { expr, field, .. } if is_args(expr) => {
                let (offset, user, f) = self.cx(span, "args")?.arg_pointer(field, what, span)?;
                let fits = match strings {
                    true => f.is_char_pointer() && f.c_type.matches('*').count() == 2,
                    false => f.is_pointer() && f.array_len.is_none() && !f.data_loc,
                };
                if !fits {
                    let wanted = if strings { "a `char **`" } else { "a pointer" };
                    return Err(unsupported(
                        span,
                        format!("{what} of args->{field}, a `{}`, not {wanted}", f.c_type),
                    ));
                }
                Ok((offset, user))
            }
            ExprKind::Ident(n) if n.starts_with("arg") => {
                let Site::Function { kernel, .. } = self.cx(span, n)?.site else {
                    return Err(unsupported(
                        span,
                        format!("{what} of {n} outside uprobes and kprobes"),
                    ));
                };
                let Some(Leaf::Int(v, _)) = self.leaf(e)? else {
                    return Err(unsupported(span, format!("{what} of {n}")));
                };
                Ok((cx_field_offset(self.cx(span, n)?, v), !kernel))
            }
            _ => Err(unsupported(
                span,
                format!(
                    "{what} of this expression: the kernel reads through a tracepoint's pointer \
                     field or a uprobe or kprobe argument"
                ),
            )),
        }
    }
}
