//! Statements: map updates become kernel map operations; everything else
//! becomes user-space statements run on the event (or in BEGIN/END).

use mcptrace_common::slot::{map_op, op};

use super::{
    NotNative, Unsupported,
    expr::{Exprs, Guard, Ty, VarWidth, map_name, not_native},
};
use crate::{
    ir::{
        self, MapAgg,
        slot::{Ops, op as mk},
    },
    lang::ast::{self, BinaryOp, Block, Else, Expr, ExprKind, Span, Stmt, StmtKind, TypeName},
    lang::{
        int_type::IntType,
        pretty,
        printf::{Conversion, FormatString},
    },
};

fn unsupported(span: Span, kind: NotNative, what: impl Into<String>) -> Unsupported {
    Unsupported::new(span, kind, what.into())
}

/// The aggregating functions, which a map is assigned (`@m = count()`).
const AGGREGATIONS: &[&str] = &["count", "sum", "avg", "stats", "min", "max", "hist", "lhist"];

fn compound_on_map(op: BinaryOp, span: Span) -> Unsupported {
    unsupported(span, NotNative::Map, format!("`{}=` on a map is not native yet", op.symbol()))
}

/// Whether keyed state is signed: bpftrace types a map that `+=`/`-=`
/// writes as unsigned and one that `++`/`--` writes as signed, whatever
/// the operand.
fn written_signed(how: Written, operand_signed: bool) -> bool {
    match how {
        Written::Assign => operand_signed,
        Written::Compound => false,
        Written::Step => true,
    }
}

/// The map operation and aggregation of `f(args)`, one of
/// `AGGREGATIONS` (an operand signed as `signed` says).
fn aggregation(
    f: &str,
    args: &[Expr],
    signed: Option<bool>,
    span: Span,
) -> Result<(u16, MapAgg), Unsupported> {
    Ok(match (f, args.len()) {
        ("count", 0) => (map_op::COUNT, MapAgg::Count),
        ("sum", 1) => (map_op::SUM, MapAgg::Sum { signed: signed.unwrap_or(false) }),
        ("avg", 1) => (map_op::SUM, MapAgg::Avg),
        ("stats", 1) => (map_op::SUM, MapAgg::Stats),
        ("min", 1) => (map_op::MIN, MapAgg::Min),
        ("max", 1) => (map_op::MAX, MapAgg::Max),
        ("hist", 1) => (map_op::HIST, MapAgg::Hist),
        ("lhist", 4) => {
            let int = |e: &Expr| match e.kind {
                ExprKind::Int(v) => Ok(v as i64),
                _ => Err(unsupported(
                    e.span,
                    NotNative::Expression,
                    "lhist() bounds must be constants",
                )),
            };
            let (min, max, step) = (int(&args[1])?, int(&args[2])?, int(&args[3])?);
            if step <= 0 || max <= min {
                return Err(unsupported(span, NotNative::Expression, "lhist() with these bounds"));
            }
            (map_op::LHIST, MapAgg::Lhist { min, max, step: step as u64 })
        }
        _ => {
            let what = format!("{f}() with these arguments");
            return Err(unsupported(span, NotNative::Expression, what));
        }
    })
}

/// `@name[keys] = value`, or with `op`, `@name[keys] op= value`, at `span`.
#[derive(Clone, Copy)]
struct MapWrite<'a> {
    name: &'a str,
    keys: &'a [Expr],
    op: Option<BinaryOp>,
    value: &'a Expr,
    how: Written,
    span: Span,
}

/// How a statement writes a map: `=`, `op=`, or `++`/`--`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Written {
    Assign,
    Compound,
    Step,
}

impl Exprs<'_> {
    /// Lowers a probe body, or a branch of one under `self.guard`.
    pub fn block(&mut self, block: &Block) -> Result<ir::Block, Unsupported> {
        let mut out = Vec::new();
        for s in &block.stmts {
            if let Some(stmt) = self.stmt(s)? {
                out.push(stmt);
            }
        }
        Ok(out)
    }

    fn stmt(&mut self, s: &Stmt) -> Result<Option<ir::Stmt>, Unsupported> {
        let span = s.span;
        Ok(Some(match &s.kind {
            StmtKind::Expr(e) => return self.call_stmt(e),
            StmtKind::Assign { target, op, value } => match &target.kind {
                ExprKind::Var(name) => {
                    let mut value = match op {
                        None => value.clone(),
                        Some(op) => Expr {
                            kind: ExprKind::Binary {
                                op: *op,
                                lhs: Box::new(target.clone()),
                                rhs: Box::new(value.clone()),
                            },
                            span,
                        },
                    };
                    // A variable declared with an integer type keeps it.
                    if let Some(ty) = self.int_vars.get(name) {
                        let kind = ExprKind::Cast { ty: ty.clone(), expr: Box::new(value) };
                        value = Expr { kind, span };
                    }
                    if !self.var_widths.contains_key(name) {
                        let width =
                            VarWidth { size: self.size_of(&value), bytes: self.int_bytes(&value)? };
                        self.var_widths.insert(name.clone(), width);
                    }
                    let (e, ty) = self.user(&value)?;
                    let next = self.vars.len();
                    let slot = match self.vars.get(name) {
                        Some((slot, _)) => *slot,
                        None => next,
                    };
                    self.vars.insert(name.clone(), (slot, ty));
                    self.define(name, &value);
                    ir::Stmt::Assign { var: slot, value: e }
                }
                ExprKind::Map { name, keys } => {
                    let how = if op.is_some() { Written::Compound } else { Written::Assign };
                    return self.map_write(MapWrite { name, keys, op: *op, value, how, span });
                }
                _ => {
                    return Err(unsupported(
                        span,
                        NotNative::Expression,
                        "assignment to this target",
                    ));
                }
            },
            StmtKind::Let { var, ty, value } => {
                return self.declaration(var, ty.as_ref(), value.as_ref(), span);
            }
            StmtKind::If { cond: c, then, otherwise } => {
                let (cond, _) = self.user(c)?;
                // Map updates in the branches run in the kernel, guarded by
                // the condition when the expression machine can evaluate it.
                let kernel = self.kernel(c)?.map(|(ops, _)| ops);
                let outer = self.guard.clone();
                let defs = self.defs.clone();
                self.guard = outer.and(kernel.as_ref(), false, c.span);
                let then = self.block(then);
                self.guard = outer.and(kernel.as_ref(), true, c.span);
                self.defs = defs.clone();
                let otherwise = match otherwise {
                    None => Ok(Vec::new()),
                    Some(Else::Block(b)) => self.block(b),
                    Some(Else::If(stmt)) => self.stmt(stmt).map(|s| s.into_iter().collect()),
                };
                self.guard = outer;
                self.defs = defs;
                self.forget_assigned(s);
                ir::Stmt::If { cond, then: then?, otherwise: otherwise? }
            }
            // A loop's passes change what they assign.
            StmtKind::Unroll { .. } | StmtKind::While { .. } | StmtKind::For { .. } => {
                self.forget_assigned(s);
                let lowered = match &s.kind {
                    StmtKind::Unroll { count, body } => self.unroll(count, body, span)?,
                    StmtKind::While { cond, body } => Some(self.while_loop(cond, body, span)?),
                    StmtKind::For { var, iter, body } => {
                        Some(self.for_loop(var, iter, body, span)?)
                    }
                    _ => unreachable!("matched above"),
                };
                self.forget_assigned(s);
                return Ok(lowered);
            }
            StmtKind::Break => self.jump(ir::Stmt::Break, span)?,
            StmtKind::Continue => self.jump(ir::Stmt::Continue, span)?,
            StmtKind::Return => {
                self.returned.get_or_insert(span);
                ir::Stmt::Return
            }
        }))
    }

    /// `let $var[: ty][ = value]`: an assignment of the value, or of the
    /// zero a typed variable starts as; an untyped declaration alone does
    /// nothing until the variable is assigned.
    fn declaration(
        &mut self,
        var: &str,
        ty: Option<&TypeName>,
        value: Option<&Expr>,
        span: Span,
    ) -> Result<Option<ir::Stmt>, Unsupported> {
        let at = |kind| Expr { kind, span };
        let zero = match ty {
            None => None,
            Some(t) if IntType::of(t).is_some() => {
                self.int_vars.insert(var.to_string(), t.clone());
                Some(at(ExprKind::Int(0)))
            }
            Some(t) if t.name == "string" && t.pointers == 0 => {
                Some(at(ExprKind::Str(String::new())))
            }
            Some(t) => {
                return Err(unsupported(
                    span,
                    NotNative::Types,
                    format!("a declaration of type `{}` is not native yet", pretty::type_name(t)),
                ));
            }
        };
        let Some(value) = value.cloned().or(zero) else { return Ok(None) };
        let target = at(ExprKind::Var(var.to_string()));
        self.stmt(&Stmt { kind: StmtKind::Assign { target, op: None, value }, span })
    }

    /// A call (or `@x++`) in statement position.
    fn call_stmt(&mut self, e: &Expr) -> Result<Option<ir::Stmt>, Unsupported> {
        let span = e.span;
        let (name, args) = match &e.kind {
            ExprKind::Call { name, args } => (name.as_str(), args.as_slice()),
            ExprKind::Step { increment, target, .. } => {
                let one = Expr { kind: ExprKind::Int(1), span };
                let op = if *increment { BinaryOp::Add } else { BinaryOp::Sub };
                if let ExprKind::Map { name, keys } = &target.kind {
                    let how = Written::Step;
                    let w = MapWrite { name, keys, op: Some(op), value: &one, how, span };
                    return self.map_write(w);
                }
                let assign = Stmt {
                    kind: StmtKind::Assign { target: (**target).clone(), op: Some(op), value: one },
                    span,
                };
                return self.stmt(&assign);
            }
            // `c ? f() : g();` runs one of its calls, as `if` would.
            ExprKind::Ternary { cond, then, otherwise } => {
                let branch = |e: &Expr| Block {
                    stmts: vec![Stmt { kind: StmtKind::Expr(e.clone()), span: e.span }],
                    span: e.span,
                };
                let kind = StmtKind::If {
                    cond: (**cond).clone(),
                    then: branch(then),
                    otherwise: Some(Else::Block(branch(otherwise))),
                };
                return self.stmt(&Stmt { kind, span });
            }
            _ => {
                return Err(unsupported(
                    span,
                    NotNative::Expression,
                    "an expression statement with no effect",
                ));
            }
        };
        Ok(Some(match name {
            "printf" => {
                let (format, args) = self.formatted(name, args, span)?;
                ir::Stmt::Printf { format, args }
            }
            "cat" => {
                let (format, args) = self.formatted(name, args, span)?;
                ir::Stmt::Cat { format, args }
            }
            "print" => match args {
                [Expr { kind: ExprKind::Map { name, keys }, .. }, rest @ ..] if keys.is_empty() => {
                    let int = |i: usize| match rest.get(i) {
                        None => Ok(0),
                        Some(Expr { kind: ExprKind::Int(v), .. }) => Ok(*v),
                        Some(o) => Err(unsupported(
                            o.span,
                            NotNative::Expression,
                            "print() with computed arguments",
                        )),
                    };
                    let (top, div) = (int(0)?, int(1)?.max(1));
                    ir::Stmt::PrintMap { map: self.map_ref(name, span)?, top, div }
                }
                [value] => ir::Stmt::Print(self.user(value)?.0),
                _ => {
                    return Err(unsupported(
                        span,
                        NotNative::Expression,
                        "this form of print() is not native yet",
                    ));
                }
            },
            "time" => {
                let fmt = match args.first() {
                    None => "%H:%M:%S\n".to_string(),
                    Some(Expr { kind: ExprKind::Str(s), .. }) => s.clone(),
                    Some(o) => {
                        return Err(unsupported(
                            o.span,
                            NotNative::Expression,
                            "time() with a computed format",
                        ));
                    }
                };
                ir::Stmt::Time(fmt)
            }
            "exit" if args.is_empty() => ir::Stmt::Exit,
            "join" => self.join(args, span)?,
            "clear" | "zero" => {
                let [Expr { kind: ExprKind::Map { name: m, keys }, .. }] = args else {
                    return Err(unsupported(
                        span,
                        NotNative::Expression,
                        format!("{name}() of this argument"),
                    ));
                };
                if !keys.is_empty() {
                    return Err(unsupported(
                        span,
                        NotNative::Expression,
                        format!("{name}() of a map element"),
                    ));
                }
                let id = self.map_ref(m, span)?;
                if name == "clear" { ir::Stmt::Clear(id) } else { ir::Stmt::Zero(id) }
            }
            "delete" => {
                let Some(Expr { kind: ExprKind::Map { name: m, keys }, .. }) =
                    ast::map_element(args)
                else {
                    return Err(unsupported(
                        span,
                        NotNative::Expression,
                        "delete() of this argument",
                    ));
                };
                if self.in_user_space_here(&m, keys.iter()) {
                    let (key, kinds) = self.user_key(&keys)?;
                    let map = self.maps.touch(&map_name(&m), Some(kinds), span);
                    if self.cx.is_some() {
                        self.maps.update_in_user_space(&map_name(&m), span);
                    }
                    ir::Stmt::MapDelete { map, key }
                } else {
                    self.kernel_map_op(&m, &keys, map_op::DELETE, Vec::new(), None, span)?;
                    return Ok(None);
                }
            }
            other => {
                let call = Expr { kind: ExprKind::Call { name: other.into(), args: vec![] }, span };
                return Err(not_native(&call, None));
            }
        }))
    }

    /// A literal format and its arguments (printf, cat), for user space.
    fn formatted(
        &mut self,
        name: &str,
        args: &[Expr],
        span: Span,
    ) -> Result<(FormatString, Vec<ir::Expr>), Unsupported> {
        let Some(Expr { kind: ExprKind::Str(fmt), .. }) = args.first() else {
            let what = format!("{name} needs a literal format");
            return Err(unsupported(span, NotNative::Expression, what));
        };
        let format = FormatString::parse(fmt);
        let mut lowered = Vec::new();
        let mut types = Vec::new();
        for a in &args[1..] {
            let (e, ty) = self.user(a)?;
            types.push(ty);
            lowered.push(e);
        }
        let strings: Vec<bool> =
            types.iter().map(|t| matches!(t, Ty::Str | Ty::Stack | Ty::Buf)).collect();
        format
            .check(&strings)
            .map_err(|e| unsupported(span, NotNative::Expression, e.to_string()))?;
        // bpftrace refuses %r of anything but buf() and buf() with any other
        // conversion: it reports that.
        let buffers = format.conversions().map(|c| matches!(c, Conversion::Buffer(_)));
        if buffers.zip(&types).any(|(buffer, ty)| buffer != (*ty == Ty::Buf)) {
            let what = format!("{name} of buf() other than with %r, or %r of another value");
            return Err(unsupported(span, NotNative::Expression, what));
        }
        Ok((format, lowered))
    }

    /// The id of a map used whole (print, clear, zero).
    fn map_ref(&mut self, name: &str, span: Span) -> Result<u16, Unsupported> {
        Ok(self.maps.touch(&map_name(name), None, span))
    }

    /// `@m[keys] = value` or `@m[keys] op= value`: kernel map operations
    /// in a probe, a statement where user space writes the map.
    fn map_write(&mut self, w: MapWrite<'_>) -> Result<Option<ir::Stmt>, Unsupported> {
        let MapWrite { name, keys, op, value, .. } = w;
        if op.is_none() && self.is_string_valued(value) {
            return self.text_map_write(w).map(Some);
        }
        if self.in_user_space_here(name, keys.iter().chain([value])) {
            return self.user_map_write(w).map(Some);
        }
        self.kernel_map_write(w).map(|()| None)
    }

    /// Whether user space updates map `name` here, with key parts and
    /// operand `exprs`: in BEGIN and END; on an event where only user space
    /// knows whether the statement runs (under a condition it evaluates, in
    /// a loop, after a `return`) or what it writes (a read of a map it
    /// keeps); and wherever it keeps the map.
    fn in_user_space_here<'e>(
        &self,
        name: &str,
        mut exprs: impl Iterator<Item = &'e Expr>,
    ) -> bool {
        self.cx.is_none()
            || matches!(self.guard, Guard::User(_))
            || self.loop_at.is_some()
            || self.returned.is_some()
            || self.maps.is_in_user_space(&map_name(name))
            || exprs.any(|e| self.reads_user_space_map(e))
    }

    /// A map written by user space. In BEGIN and END plain values go to
    /// the kernel's keyed state (the probes are not attached), and on the
    /// events, or for aggregations, the map is kept in user space.
    fn user_map_write(&mut self, w: MapWrite<'_>) -> Result<ir::Stmt, Unsupported> {
        let MapWrite { name, keys, op, value, how, span } = w;
        let full = map_name(name);
        let (key, kinds) = self.user_key(keys)?;
        let (agg, value, add) = match (op, &value.kind) {
            (None, ExprKind::Call { name: f, args }) if AGGREGATIONS.contains(&f.as_str()) => {
                let operand = args.first().map(|a| self.user(a)).transpose()?;
                let signed = match &operand {
                    None => None,
                    Some((_, Ty::Int { signed })) => Some(*signed),
                    Some(_) => return Err(not_native(&args[0], Some("map value"))),
                };
                let (_, agg) = aggregation(f, args, signed, span)?;
                let count = ir::Expr::Int { bits: 1, signed: false };
                self.maps.update_in_user_space(&full, span);
                (agg, operand.map_or(count, |(e, _)| e), false)
            }
            _ => {
                let (mut e, ty) = self.user(value)?;
                let Ty::Int { signed } = ty else {
                    return Err(unsupported(
                        span,
                        NotNative::Map,
                        "maps of strings are not native yet",
                    ));
                };
                let add = match op {
                    None => false,
                    Some(BinaryOp::Add) => true,
                    Some(BinaryOp::Sub) => {
                        e = ir::Expr::Unary(ir::UnOp::Neg, Box::new(e));
                        true
                    }
                    Some(other) => return Err(compound_on_map(other, span)),
                };
                if self.cx.is_some() {
                    self.maps.update_in_user_space(&full, span);
                }
                (MapAgg::Value { signed: written_signed(how, signed) }, e, add)
            }
        };
        let map = self.maps.write(&full, agg, kinds, span)?;
        Ok(ir::Stmt::MapStore { map, key, value, add })
    }

    /// A string stored in a map: user space keeps such maps, so it is
    /// written there, in a probe as in BEGIN and END.
    fn text_map_write(&mut self, w: MapWrite<'_>) -> Result<ir::Stmt, Unsupported> {
        let MapWrite { name, keys, value, span, .. } = w;
        let (value, _) = self.user(value)?;
        let (key, kinds) = self.user_key(keys)?;
        let map = self.maps.write(&map_name(name), MapAgg::Text, kinds, span)?;
        Ok(ir::Stmt::MapStore { map, key, value, add: false })
    }

    /// A map written in a kernel probe: aggregations, keyed state.
    fn kernel_map_write(&mut self, w: MapWrite<'_>) -> Result<(), Unsupported> {
        let MapWrite { name, keys, op, value, how, span } = w;
        if let (None, ExprKind::Call { name: f, args }) = (op, &value.kind)
            && AGGREGATIONS.contains(&f.as_str())
        {
            let operand = args.first().map(|a| self.kernel_operand(a)).transpose()?;
            let signed = operand.as_ref().map(|(_, ty)| matches!(ty, Ty::Int { signed: true }));
            let (kind, agg) = aggregation(f, args, signed, span)?;
            let ops = operand.map(|(ops, _)| ops).unwrap_or_default();
            return self.kernel_map_op(name, keys, kind, ops, Some(agg), span);
        }
        // Keyed state: `@m[k] = v`, `@m[k] += v`, `@m[k]++`.
        let (kind, operand) = match op {
            None => (map_op::ASSIGN, self.kernel_operand(value)?),
            Some(BinaryOp::Add) => (map_op::ADD, self.kernel_operand(value)?),
            Some(BinaryOp::Sub) => {
                let (mut ops, ty) = self.kernel_operand(value)?;
                ops.push(mk(op::NEG, 0, 0));
                (map_op::ADD, (ops, ty))
            }
            Some(other) => return Err(compound_on_map(other, span)),
        };
        let (ops, ty) = operand;
        let Ty::Int { signed } = ty else {
            return Err(unsupported(span, NotNative::Map, "maps of strings are not native yet"));
        };
        let agg = MapAgg::Value { signed: written_signed(how, signed) };
        self.kernel_map_op(name, keys, kind, ops, Some(agg), span)
    }

    /// A map operand the kernel computes.
    fn kernel_operand(&mut self, e: &Expr) -> Result<(Ops, Ty), Unsupported> {
        match self.kernel(e)? {
            Some((ops, ty @ Ty::Int { .. })) => Ok((ops, ty)),
            _ => Err(not_native(e, Some("map value"))),
        }
    }

    /// A map update of `kind` with operand `ops`, under the current guard.
    fn kernel_map_op(
        &mut self,
        name: &str,
        keys: &[Expr],
        kind: u16,
        ops: Ops,
        agg: Option<MapAgg>,
        span: Span,
    ) -> Result<(), Unsupported> {
        let guard = match &self.guard {
            Guard::Always => Vec::new(),
            Guard::Kernel(ops) => ops.clone(),
            Guard::User(_) => unreachable!("in_user_space_here sends these to user space"),
        };
        let (parts, kinds) = self.key(keys, span)?;
        let full = map_name(name);
        self.maps.use_in_kernel(&full, span);
        let id = match agg {
            Some(agg) => self.maps.write(&full, agg, kinds, span)?,
            None => self.maps.touch(&full, Some(kinds), span),
        };
        let lhist = self.maps.agg_of(&full);
        let cx = self.cx(span, "a kernel map operation")?;
        let full_err = super::site::slot_full(span);
        let key = cx.builder.key(id, &parts).map_err(&full_err)?;
        let m = cx.builder.map_op(kind, key, ops, guard).map_err(&full_err)?;
        if let Some(MapAgg::Lhist { min, max, step }) = lhist {
            (m.min, m.max, m.step) = (min, max, step);
        }
        self.updated.entry(full).or_insert(span.offset);
        Ok(())
    }
}
