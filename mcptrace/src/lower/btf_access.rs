//! BTF-typed access in the kernel: `curtask->real_parent->pid`,
//! `((struct sock *)arg0)->__sk_common.skc_family`, `args->rqtp->tv_sec`.
//! Each `->` loads through a pointer (`op::LOAD`), each `.` moves within a
//! record; the kernel's BTF says where each member is and what it holds.
//! Only integers (and pointers, as integers) come out: a string or array
//! member read through a pointer is not native yet.

use mcptrace_common::slot::{op, source};

use super::{
    NotNative, Unsupported,
    expr::{Exprs, is_args},
    site::{Site, slot_full},
};
use crate::{
    host::btf::{self, Type},
    ir::slot::{Ops, op as mk},
    lang::ast::{Expr, ExprKind, Span},
};

/// A typed value the kernel computes: the ops leaving it on the stack, its
/// type, and whether what it points to is user memory.
pub struct Typed {
    pub ops: Ops,
    pub ty: Type,
    user: bool,
}

/// A member in memory, not read yet: the ops leaving its record's address,
/// its offset from there, its type, and which memory.
struct Place {
    ops: Ops,
    offset: u64,
    ty: Type,
    user: bool,
}

fn not_native(span: Span, what: String) -> Unsupported {
    Unsupported::new(span, NotNative::Types, what)
}

/// Whether `e` is BTF-typed access (rather than a tracepoint's `args->f`).
pub fn is_typed_access(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Ident(n) => n == "curtask",
        // Not a tuple's element (`$t.0`).
        ExprKind::Field { expr, field, .. } => {
            !is_args(expr) && !field.bytes().all(|b| b.is_ascii_digit())
        }
        ExprKind::Cast { ty, .. } => ty.pointers > 0 && record_name(&ty.name).is_some(),
        _ => false,
    }
}

/// `struct NAME` or `union NAME` as (NAME, union?).
fn record_name(c_name: &str) -> Option<(&str, bool)> {
    let c_name = c_name.trim().trim_start_matches("const ").trim();
    if let Some(name) = c_name.strip_prefix("struct ") {
        return Some((name.trim(), false));
    }
    c_name.strip_prefix("union ").map(|name| (name.trim(), true))
}

impl Exprs<'_> {
    /// `e`, a BTF-typed access, as a value the kernel computes.
    pub(super) fn typed_value(&mut self, e: &Expr) -> Result<Typed, Unsupported> {
        let span = e.span;
        match &e.kind {
            ExprKind::Ident(n) if n == "curtask" => {
                let v = self.cx(span, "curtask")?.builtin(source::CURTASK, span)?;
                let ty = pointer_to("task_struct", false);
                Ok(Typed { ops: vec![mk(op::VALUE, v.0, 0)], ty, user: false })
            }
            ExprKind::Cast { ty, expr } if ty.pointers == 1 => {
                let Some((name, union)) = record_name(&ty.name) else {
                    return Err(not_native(span, format!("a cast to `{}`", ty.name)));
                };
                let mut ops = Vec::new();
                if self.kernel_into(expr, &mut ops)?.is_none() {
                    return Err(not_native(expr.span, "a cast of this expression".into()));
                }
                // A uprobe's pointers are the process's.
                let user = matches!(
                    self.cx(span, "a cast")?.site,
                    Site::Function { kernel: false, .. } | Site::Usdt { .. }
                );
                Ok(Typed { ops, ty: pointer_to(name, union), user })
            }
            ExprKind::Field { expr, field, .. } if is_args(expr) => self.pointer_field(field, span),
            ExprKind::Field { .. } => {
                let place = self.place(e)?;
                self.load(place, span)
            }
            _ => Err(not_native(span, "BTF-typed access to this expression".into())),
        }
    }

    /// A tracepoint field declared as a pointer to a struct or union.
    fn pointer_field(&mut self, field: &str, span: Span) -> Result<Typed, Unsupported> {
        let cx = self.cx(span, "args")?;
        let (_, user, f) = cx.arg_pointer(field, "`->`", span)?;
        let pointee = f.c_type.trim().strip_suffix('*').and_then(record_name);
        let Some((name, union)) = pointee else {
            let what = format!("args->{field} (`{}`) is not a pointer to a struct", f.c_type);
            return Err(not_native(span, what));
        };
        let ty = pointer_to(name, union);
        let (v, _) = cx.arg_field(field, span)?;
        Ok(Typed { ops: vec![mk(op::VALUE, v.0, 0)], ty, user })
    }

    /// The member `e` (`base->f` or `base.f`) names.
    fn place(&mut self, e: &Expr) -> Result<Place, Unsupported> {
        let span = e.span;
        let ExprKind::Field { expr: base, field, arrow } = &e.kind else {
            return Err(not_native(span, "BTF-typed access to this expression".into()));
        };
        let (ops, offset, record, user) = if *arrow {
            let base = self.typed_value(base)?;
            let Type::Pointer(to) = base.ty else {
                return Err(not_native(
                    span,
                    format!("`->{field}` on a value that is not a pointer"),
                ));
            };
            (base.ops, 0, *to, base.user)
        } else if is_typed_access(base) && !matches!(base.kind, ExprKind::Cast { .. }) {
            let place = self.place(base)?;
            (place.ops, place.offset, place.ty, place.user)
        } else {
            return Err(not_native(span, format!("`.{field}` on this expression")));
        };
        let Type::Record { name, union, .. } = &record else {
            return Err(not_native(span, format!("`{field}` of a value that is not a struct")));
        };
        let member = btf::kernel()
            .and_then(|b| b.member(name, *union, field))
            .map_err(|e| not_native(span, format!("`{field}`: {e}")))?;
        let Some(member) = member else {
            let kind = if *union { "union" } else { "struct" };
            return Err(not_native(
                span,
                format!("{kind} {name} has no member `{field}` in the kernel's BTF"),
            ));
        };
        Ok(Place { ops, offset: offset + u64::from(member.offset), ty: member.ty, user })
    }

    /// The integer (or pointer) in memory at `place`.
    fn load(&mut self, place: Place, span: Span) -> Result<Typed, Unsupported> {
        let Some(scalar) = place.ty.scalar() else {
            let what = match place.ty {
                Type::Array { .. } => "an array member read through a pointer (a string, say)",
                _ => "a member that is not an integer or a pointer",
            };
            return Err(not_native(span, format!("{what} is not native yet")));
        };
        let mut arg = u16::from(scalar.size);
        if scalar.signed {
            arg |= op::LOAD_SIGNED;
        }
        if place.user {
            arg |= op::LOAD_USER;
        }
        let mut ops = place.ops;
        ops.push(mk(op::LOAD, arg, place.offset));
        // Through a user pointer, what a pointer member points to is user
        // memory too.
        Ok(Typed { ops, ty: place.ty, user: place.user })
    }

    /// A typed access the kernel computes, captured for user space (a
    /// printf argument): computed after the captures, before the event is
    /// sent.
    pub(super) fn typed_for_user(
        &mut self,
        e: &Expr,
    ) -> Result<(crate::ir::Expr, bool), Unsupported> {
        let typed = self.typed_value(&self.inlined(e))?;
        let Some(scalar) = typed.ty.scalar() else {
            return Err(not_native(e.span, "a struct or array as a value".into()));
        };
        let cx = self.cx(e.span, "BTF-typed access")?;
        let at = cx.builder.compute(typed.ops).map_err(slot_full(e.span))?;
        Ok((crate::ir::Expr::Captured { at, signed: scalar.signed }, scalar.signed))
    }
}

fn pointer_to(name: &str, union: bool) -> Type {
    Type::Pointer(Box::new(Type::Record { union, name: name.to_string(), size: None }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names_come_from_c_spellings() {
        assert_eq!(record_name("struct task_struct"), Some(("task_struct", false)));
        assert_eq!(
            record_name("const struct __kernel_timespec "),
            Some(("__kernel_timespec", false))
        );
        assert_eq!(record_name("union bpf_attr"), Some(("bpf_attr", true)));
        assert_eq!(record_name("unsigned long"), None);
    }
}
