//! `bswap(x)`: the bytes of integer `x` in reverse order, as many bytes as
//! bpftrace 0.17 types `x` with, in the kernel's expression machine and in
//! user space alike (`mcptrace_common::slot::bswap`).

use mcptrace_common::slot::{op, source};

use super::{
    NotNative, Unsupported,
    expr::{Exprs, Leaf, Ty, is_args},
};
use crate::{
    ir::{self, UnOp, slot::Ops, slot::op as mk},
    lang::{
        ast::{Expr, ExprKind, UnaryOp},
        int_type::IntType,
    },
};

/// bpftrace's integers are 64 bits wide unless typed narrower.
const WIDEST: u16 = 8;

/// Whether `e` is a call of `bswap`.
pub fn is_bswap(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Call { name, .. } if name == "bswap")
}

impl Exprs<'_> {
    /// The width in bytes bpftrace 0.17 gives integer `e`: a cast's type;
    /// an `args` field's (see `ProbeCx::arg_bytes`) or a captured
    /// function argument's size; a variable's last value's; `-`, `~` and
    /// `bswap` keep their operand's. Literals, builtins, registers,
    /// arithmetic and map values are 64 bits.
    pub(super) fn int_bytes(&mut self, e: &Expr) -> Result<u16, Unsupported> {
        Ok(match &e.kind {
            ExprKind::Cast { ty, .. } => IntType::of(ty).map_or(WIDEST, |t| u16::from(t.bits / 8)),
            ExprKind::Unary { op: UnaryOp::Neg | UnaryOp::BitNot, expr } => self.int_bytes(expr)?,
            ExprKind::Call { name, args } if name == "bswap" && args.len() == 1 => {
                self.int_bytes(&args[0])?
            }
            ExprKind::Var(name) => self.var_widths.get(name).map_or(WIDEST, |w| w.bytes),
            ExprKind::Field { expr, field, .. } if is_args(expr) => {
                self.cx(e.span, "args")?.arg_bytes(field, e.span)?
            }
            ExprKind::Ident(_) => match self.leaf(e)? {
                Some(Leaf::Int(v, _)) => self
                    .cx
                    .as_ref()
                    .and_then(|cx| cx.builder.capture_of(v))
                    .filter(|c| c.source == source::FIELD)
                    .map_or(WIDEST, |c| c.size),
                _ => WIDEST,
            },
            _ => WIDEST,
        })
    }

    /// `bswap(arg)` for user space.
    pub(super) fn user_bswap(&mut self, e: &Expr) -> Result<(ir::Expr, Ty), Unsupported> {
        let arg = only_arg(e)?;
        let (a, Ty::Int { .. }) = self.user(arg)? else { return Err(not_integer(e)) };
        let bytes = self.int_bytes(arg)?;
        Ok((ir::Expr::Unary(UnOp::Bswap(bytes), Box::new(a)), Ty::Int { signed: false }))
    }

    /// `bswap(arg)` for the expression machine, or None where `arg` is not
    /// evaluated in the kernel.
    pub(super) fn kernel_bswap(
        &mut self,
        e: &Expr,
        ops: &mut Ops,
    ) -> Result<Option<Ty>, Unsupported> {
        let arg = only_arg(e)?;
        let Some(Ty::Int { .. }) = self.kernel_into(arg, ops)? else { return Ok(None) };
        ops.push(mk(op::BSWAP, self.int_bytes(arg)?, 0));
        Ok(Some(Ty::Int { signed: false }))
    }
}

fn only_arg(e: &Expr) -> Result<&Expr, Unsupported> {
    match &e.kind {
        ExprKind::Call { args, .. } if args.len() == 1 => Ok(&args[0]),
        _ => Err(not_integer(e)),
    }
}

fn not_integer(e: &Expr) -> Unsupported {
    Unsupported::new(e.span, NotNative::Expression, "bswap() of a non-integer".into())
}
