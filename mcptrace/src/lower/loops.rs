//! Loops: `for` over a range or a map, `while`, `unroll`, and the jumps out
//! of them. Every pass runs in user space — in BEGIN and END, and in a kernel
//! probe on the values the probe captured, which the passes cannot change. So
//! a body may print and assign variables; a map update in it would happen
//! once in the kernel, not once per pass, and falls back (the slot programs
//! have no loop of map operations) — except in `unroll`, whose count is a
//! constant, so its body is repeated in the slot instead.

use super::{
    NotNative, Unsupported,
    expr::{Exprs, Ty, map_name},
};
use crate::{
    ir::{self, KeyKind, MapAgg},
    lang::ast::{Block, Expr, ExprKind, ForIter, Span},
};

fn unsupported(span: Span, kind: NotNative, what: impl Into<String>) -> Unsupported {
    Unsupported::new(span, kind, what.into())
}

impl Exprs<'_> {
    /// `for ($var : iter) body` at `span`.
    pub fn for_loop(
        &mut self,
        var: &str,
        iter: &ForIter,
        body: &Block,
        span: Span,
    ) -> Result<ir::Stmt, Unsupported> {
        let stmt = match iter {
            ForIter::Range { start, end } => {
                let (start, ty @ Ty::Int { .. }) = self.user(start)? else {
                    return Err(unsupported(
                        start.span,
                        NotNative::Types,
                        "a range of non-integers",
                    ));
                };
                let (end, Ty::Int { .. }) = self.user(end)? else {
                    return Err(unsupported(end.span, NotNative::Types, "a range of non-integers"));
                };
                let var = self.bind(var, ty);
                let body = self.loop_body(body, span)?;
                ir::Stmt::ForRange { var, start, end, body }
            }
            ForIter::Map(map) => {
                let ExprKind::Map { name, .. } = &map.kind else {
                    return Err(unsupported(map.span, NotNative::Map, "a for loop over this"));
                };
                if self.cx.is_some() {
                    return Err(unsupported(
                        span,
                        NotNative::Loop,
                        "`for` over a map in a kernel probe is not native yet: the slot \
                         programs cannot walk a map while the probe runs (only BEGIN, END \
                         and the events' user-space statements can)",
                    ));
                }
                let full = map_name(name);
                let element = self.element_ty(&full, span)?;
                let map = self.maps.touch(&full, None, span);
                let var = self.bind(var, element);
                let body = self.loop_body(body, span)?;
                ir::Stmt::ForMap { var, map, body }
            }
        };
        Ok(stmt)
    }

    /// `while (cond) body` at `span`.
    pub fn while_loop(
        &mut self,
        cond: &Expr,
        body: &Block,
        span: Span,
    ) -> Result<ir::Stmt, Unsupported> {
        let (cond, _) = self.user(cond)?;
        let body = self.loop_body(body, span)?;
        Ok(ir::Stmt::While { cond, body })
    }

    /// `unroll (N) body` at `span`, N a literal in 1..=100 (the checker
    /// saw to it). A body that updates maps in the kernel is lowered N
    /// times over, as bpftrace's code generation unrolls it (the slot's
    /// map updates bound how far that goes); any other body runs its N
    /// passes in user space.
    pub fn unroll(
        &mut self,
        count: &Expr,
        body: &Block,
        span: Span,
    ) -> Result<Option<ir::Stmt>, Unsupported> {
        let ExprKind::Int(count) = count.kind else {
            return Err(unsupported(span, NotNative::Loop, "`unroll` of a computed count"));
        };
        let map_ops = |ex: &Self| ex.cx.as_ref().map_or(0, |cx| cx.builder.map_op_count());
        let before = map_ops(self);
        let once = self.block(body)?;
        if map_ops(self) == before {
            return Ok(Some(ir::Stmt::Unroll { count, body: once }));
        }
        let mut repeated = once;
        // A repeated read comes after the first pass's updates, whatever
        // its position in the source.
        self.updated.values_mut().for_each(|at| *at = 0);
        for _ in 1..count {
            repeated.extend(self.block(body)?);
        }
        Ok(Some(ir::Stmt::Unroll { count: 1, body: repeated }))
    }

    /// `break` or `continue`, which must sit in a loop.
    pub fn jump(&mut self, stmt: ir::Stmt, span: Span) -> Result<ir::Stmt, Unsupported> {
        if self.loop_at.is_none() {
            return Err(unsupported(span, NotNative::Loop, "`break`/`continue` outside a loop"));
        }
        Ok(stmt)
    }

    /// The variable `$var` as a slot of type `ty`, from here on.
    fn bind(&mut self, var: &str, ty: Ty) -> usize {
        self.var_widths.remove(var);
        let slot = self.vars.get(var).map_or(self.vars.len(), |(slot, _)| *slot);
        self.vars.insert(var.to_string(), (slot, ty));
        slot
    }

    /// A loop body, with the loop at `span` as the innermost one.
    fn loop_body(&mut self, body: &Block, span: Span) -> Result<ir::Block, Unsupported> {
        let outer = self.loop_at.replace(span);
        let lowered = self.block(body);
        self.loop_at = outer;
        lowered
    }

    /// The type of `(key, value)` for map `name` (with `@`), from the
    /// shape its writes gave it.
    fn element_ty(&mut self, name: &str, span: Span) -> Result<Ty, Unsupported> {
        let Some((agg, key)) = self.maps.shape_of(name) else {
            return Err(unsupported(
                span,
                NotNative::Map,
                format!(
                    "`for` over {name} before any probe (in program order) writes it is not \
                     native yet"
                ),
            ));
        };
        let value = match agg {
            MapAgg::Count => Ty::Int { signed: false },
            MapAgg::Sum { signed } | MapAgg::Value { signed } => Ty::Int { signed: *signed },
            MapAgg::Min | MapAgg::Max => Ty::Int { signed: true },
            MapAgg::Text => Ty::Str,
            MapAgg::Avg | MapAgg::Stats | MapAgg::Hist | MapAgg::Lhist { .. } => {
                return Err(unsupported(
                    span,
                    NotNative::Map,
                    format!("`for` over {name}, an avg/stats/hist map, is not native yet"),
                ));
            }
        };
        let parts: Vec<Ty> = key.iter().map(key_ty).collect();
        let key = match parts[..] {
            [one] => one,
            _ => self.tuple(parts),
        };
        Ok(self.tuple(vec![key, value]))
    }

    fn tuple(&mut self, types: Vec<Ty>) -> Ty {
        self.tuples.push(types);
        Ty::Tuple(self.tuples.len() - 1)
    }
}

/// How a key part reads in the program: integers as integers, everything
/// else (strings, probe names, symbols, stacks) as the text print shows.
fn key_ty(k: &KeyKind) -> Ty {
    match k {
        KeyKind::Int { signed } => Ty::Int { signed: *signed },
        _ => Ty::Str,
    }
}
