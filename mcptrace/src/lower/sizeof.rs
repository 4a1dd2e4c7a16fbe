//! `sizeof`, a constant: the size bpftrace 0.17 gives the argument's type.
//! Integer arithmetic is 64-bit there; a cast, a declared variable type,
//! `comm` and strings have widths of their own; a variable has the size of
//! the first value assigned to it.

use mcptrace_common::limits::STR_LEN;

use super::expr::Exprs;
use crate::lang::{
    ast::{Expr, ExprKind, TypeName},
    int_type::IntType,
};

/// Builtins that are 64-bit integers.
const INTEGER_BUILTINS: &[&str] =
    &["pid", "tid", "uid", "gid", "cpu", "nsecs", "elapsed", "cgroup", "rand", "numaid"];

/// The size of a type named in `sizeof(TYPE)`; None for a struct, union or
/// enum, whose size only the kernel's BTF knows.
pub fn type_size(ty: &TypeName) -> Option<u64> {
    if ty.pointers > 0 {
        return Some(8);
    }
    IntType::of(ty).map(|int| u64::from(int.bits / 8))
}

impl Exprs<'_> {
    /// The size of `e` as `sizeof(e)` gives it, where it is known here.
    pub(super) fn size_of(&self, e: &Expr) -> Option<u64> {
        match &e.kind {
            ExprKind::Int(_) | ExprKind::Binary { .. } | ExprKind::Unary { .. } => Some(8),
            ExprKind::Ternary { .. } => Some(8),
            ExprKind::Str(s) => Some(s.len() as u64 + 1),
            ExprKind::Ident(n) if n == "comm" => Some(16),
            ExprKind::Ident(n) if INTEGER_BUILTINS.contains(&n.as_str()) => Some(8),
            ExprKind::Ident(n) if n.starts_with("arg") && n[3..].parse::<u8>().is_ok() => Some(8),
            ExprKind::Call { name, .. } if name == "str" => Some(STR_LEN as u64),
            ExprKind::Cast { ty, .. } => type_size(ty),
            ExprKind::Var(name) => match self.int_vars.get(name) {
                Some(ty) => type_size(ty),
                None => self.var_widths.get(name).and_then(|w| w.size),
            },
            _ => None,
        }
    }
}
