//! Probe bodies and predicates: builtins valid for the probe kinds, calls
//! against the catalog, map functions in map assignments, printf formats,
//! variables and maps defined before use, tracepoint fields.

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
};

use super::{
    constants::Constants,
    error::{CheckError, CheckErrorKind},
    facts::Host,
};
use crate::{
    host::tracefs::Format,
    lang::{
        ast::{
            self, Block, Else, Expr, ExprKind, ProbeKind, Span, Stmt, StmtKind, TypeName, UnaryOp,
        },
        catalog::{self, Entry},
        int_type::IntType,
        pretty,
        printf::FormatString,
        stack,
    },
    policy::Policy,
};

/// The bytes of a bpftrace string, NUL included.
const STRING_BYTES: usize = 64;

pub struct BodyChecker<'a, 'b> {
    pub host: &'a dyn Host,
    pub policy: &'a Policy,
    /// The kinds of the probe's attach points.
    pub kinds: Vec<ProbeKind>,
    /// The probe's tracepoints, as `(category, name)`.
    pub tracepoints: Vec<(String, String)>,
    /// Maps assigned anywhere in the program.
    pub assigned_maps: &'a HashSet<String>,
    pub formats: &'a mut BTreeMap<String, Arc<Format>>,
    pub errors: &'a mut Vec<CheckError>,
    /// `$variables` assigned so far in this probe.
    pub vars: HashSet<String>,
    /// Names taken as constants (enum values, macros), resolved here.
    pub constants: &'a mut Constants<'b>,
}

impl BodyChecker<'_, '_> {
    fn error(&mut self, kind: CheckErrorKind, span: Span) {
        self.errors.push(CheckError { kind, span });
    }

    pub fn block(&mut self, block: &Block) {
        for stmt in &block.stmts {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match &stmt.kind {
            StmtKind::Expr(e) => self.expr(e),
            StmtKind::Assign { target, op, value } => {
                match (&value.kind, &target.kind, op) {
                    (ExprKind::Call { name, args }, ExprKind::Map { .. }, None)
                        if catalog::is_aggregation(name) =>
                    {
                        self.call(name, args, value.span, true);
                    }
                    _ => self.expr(value),
                }
                match &target.kind {
                    ExprKind::Var(name) if op.is_none() => {
                        self.vars.insert(name.clone());
                    }
                    _ => self.expr(target),
                }
            }
            StmtKind::Let { var, ty, value } => {
                if let Some(value) = value {
                    self.expr(value);
                    if let Some(ty) = ty {
                        self.literal_fits(value, ty);
                    }
                }
                self.vars.insert(var.clone());
            }
            StmtKind::If { cond, then, otherwise } => {
                self.expr(cond);
                self.block(then);
                match otherwise {
                    Some(Else::Block(b)) => self.block(b),
                    Some(Else::If(nested)) => self.stmt(nested),
                    None => {}
                }
            }
            StmtKind::While { cond, body } => {
                self.expr(cond);
                self.block(body);
            }
            StmtKind::Unroll { count, body } => {
                self.unroll_count(count);
                self.block(body);
            }
            StmtKind::For { var, iter, body } => {
                for e in iter.exprs() {
                    self.expr(e);
                }
                self.vars.insert(var.clone());
                self.block(body);
            }
            StmtKind::Break | StmtKind::Continue | StmtKind::Return => {}
        }
    }

    /// bpftrace repeats an unrolled body in its generated code, so the
    /// count must be a literal (or a positional parameter, which is one by
    /// now) from 1 to 100.
    fn unroll_count(&mut self, count: &Expr) {
        let problem = match &count.kind {
            ExprKind::Int(n) if *n > 100 => "unroll maximum value is 100",
            ExprKind::Int(0) => "unroll minimum value is 1",
            ExprKind::Int(_) => return,
            ExprKind::Unary { op: UnaryOp::Neg, expr } if matches!(expr.kind, ExprKind::Int(_)) => {
                "unroll minimum value is 1"
            }
            _ => "invalid unroll value: it must be an integer literal",
        };
        self.error(CheckErrorKind::Unroll(problem), count.span);
    }

    /// A literal declared into an integer type must fit it unchanged:
    /// bpftrace casts other values silently, but refuses such a literal.
    fn literal_fits(&mut self, value: &Expr, ty: &TypeName) {
        let Some(int) = IntType::of(ty) else { return };
        let literal = match &value.kind {
            ExprKind::Int(v) => i128::from(*v),
            ExprKind::Unary { op: UnaryOp::Neg, expr } => match expr.kind {
                ExprKind::Int(v) => -i128::from(v),
                _ => return,
            },
            _ => return,
        };
        if !int.holds(literal) {
            let kind = CheckErrorKind::LiteralRange {
                literal: literal.to_string(),
                ty: pretty::type_name(ty),
            };
            self.error(kind, value.span);
        }
    }

    pub fn expr(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Ident(name) => match catalog::variable(name) {
                Some(entry) => self.valid_here(name, entry, e.span),
                None => {
                    if let Err(unresolved) = self.constants.resolve(name, e.span) {
                        let kind = CheckErrorKind::UnknownIdentifier {
                            name: name.clone(),
                            unresolved: Box::new(unresolved),
                        };
                        self.error(kind, e.span);
                    }
                }
            },
            ExprKind::Var(name) if !self.vars.contains(name) => {
                self.error(CheckErrorKind::UndefinedVariable(name.clone()), e.span)
            }
            ExprKind::Map { name, .. } if !self.assigned_maps.contains(name) => {
                self.error(CheckErrorKind::UndefinedMap(name.clone()), e.span)
            }
            ExprKind::Call { name, args } => self.call(name, args, e.span, false),
            ExprKind::SizeofType(ty) if ty.pointers == 0 && is_record(&ty.name) => {
                if let Err(kind) = self.constants.record_size(&ty.name, e.span) {
                    self.error(kind, e.span)
                }
            }
            // bpftrace's strings hold 64 bytes with the NUL.
            ExprKind::Str(s) if s.len() >= STRING_BYTES => {
                self.error(CheckErrorKind::StringTooLong(s.clone()), e.span)
            }
            ExprKind::Field { expr: base, field, .. } => {
                if matches!(&base.kind, ExprKind::Ident(n) if n == "args") {
                    self.tracepoint_field(field, e.span);
                }
            }
            ExprKind::Step { target, .. }
                if !matches!(target.kind, ExprKind::Map { .. } | ExprKind::Var(_)) =>
            {
                self.error(CheckErrorKind::NotAssignable, target.span)
            }
            _ => {}
        }
        // Call arguments are checked by `call`, which knows which may be maps.
        if !matches!(e.kind, ExprKind::Call { .. }) {
            for child in e.children() {
                self.expr(child);
            }
        }
    }

    fn valid_here(&mut self, name: &str, entry: &Entry, span: Span) {
        if let Some(kind) = self.kinds.iter().find(|k| !entry.valid_in.contains(**k)) {
            let valid = entry.valid_in.iter().map(ProbeKind::name).collect::<Vec<_>>().join(", ");
            let kind = kind.name();
            self.error(CheckErrorKind::NotValidHere { name: name.into(), kind, valid }, span);
        }
    }

    fn call(&mut self, name: &str, args: &[Expr], span: Span, in_map_assignment: bool) {
        let stack = stack::stack_call(name, args);
        for (i, arg) in args.iter().enumerate() {
            // printf's format never becomes a BPF string: any length goes.
            if i == 0 && name == "printf" && matches!(arg.kind, ExprKind::Str(_)) {
                continue;
            }
            // A stack mode (`perf`) is a word of the call, not a builtin.
            if stack.is_some() && matches!(arg.kind, ExprKind::Ident(_)) {
                continue;
            }
            self.expr(arg);
        }
        let Some(entry) = catalog::function(name) else {
            return self.error(CheckErrorKind::UnknownFunction(name.into()), span);
        };
        self.valid_here(name, entry, span);
        if entry.is_unsafe
            && let Err(denial) = self.policy.unsafe_function(name)
        {
            self.errors.push(CheckError::policy(denial, span));
        }
        let got = args.len();
        if got < entry.min_args as usize || entry.max_args.is_some_and(|max| got > max as usize) {
            let expected = match entry.max_args {
                Some(max) if max == entry.min_args => max.to_string(),
                Some(max) => format!("{} to {max}", entry.min_args),
                None => format!("at least {}", entry.min_args),
            };
            return self
                .error(CheckErrorKind::ArgumentCount { name: name.into(), expected, got }, span);
        }
        if catalog::is_aggregation(name) && !in_map_assignment {
            return self.error(CheckErrorKind::NotAssignedToMap(name.into()), span);
        }
        if let Some(Err(reason)) = stack {
            return self.error(CheckErrorKind::BadStack { name: name.into(), reason }, span);
        }
        let bad = |what| CheckErrorKind::BadArgument { name: name.into(), what };
        let is_whole_map =
            |e: &Expr| matches!(&e.kind, ExprKind::Map { keys, .. } if keys.is_empty());
        match name {
            "cat" => {
                if let Err(denial) = self.policy.cat(&args[0]) {
                    self.errors.push(CheckError::policy(denial, args[0].span))
                }
                self.format_args(name, args)
            }
            "delete" if ast::map_element(args).is_none() => self.error(
                bad("a map element, as in delete(@m[key]) or delete(@m, key)"),
                args[0].span,
            ),
            "has_key" if ast::map_element(args).is_none() => {
                self.error(bad("a map and a key, as in has_key(@m, key)"), args[0].span)
            }
            "clear" | "zero" if !is_whole_map(&args[0]) => {
                self.error(bad("a whole map, as in clear(@m)"), args[0].span)
            }
            "printf" | "system" | "debugf" => self.format_args(name, args),
            "sizeof" => {
                if let Some((record, field)) = member_of_cast(&args[0])
                    && let Err(kind) = self.constants.member_size(record, field, span)
                {
                    self.error(kind, args[0].span)
                }
            }
            "time" | "strftime"
                if !args.is_empty() && !matches!(args[0].kind, ExprKind::Str(_)) =>
            {
                self.error(bad("a string literal format"), args[0].span)
            }
            "cgroupid" => match &args[0].kind {
                ExprKind::Str(path) => {
                    if let Err(reason) = self.constants.cgroup_id(path, span) {
                        let kind = CheckErrorKind::Host { target: path.clone(), reason };
                        self.error(kind, args[0].span)
                    }
                }
                _ => self.error(bad("a string literal path"), args[0].span),
            },
            _ => {}
        }
    }

    fn format_args(&mut self, name: &str, args: &[Expr]) {
        let ExprKind::Str(format) = &args[0].kind else {
            let what = "a string literal format as its first argument";
            return self
                .error(CheckErrorKind::BadArgument { name: name.into(), what }, args[0].span);
        };
        let conversions = FormatString::parse(format).arg_count();
        if conversions != args.len() - 1 {
            let kind =
                CheckErrorKind::FormatArgs { name: name.into(), conversions, args: args.len() - 1 };
            self.error(kind, args[0].span)
        }
    }

    /// `args->field` in a tracepoint probe: the field must exist in every
    /// tracepoint the probe attaches to.
    fn tracepoint_field(&mut self, field: &str, span: Span) {
        for (category, event) in self.tracepoints.clone() {
            let key = format!("{category}:{event}");
            let format = match self.formats.get(&key) {
                Some(f) => f.clone(),
                None => match self.host.tracepoint_format(&category, &event) {
                    Ok(f) => {
                        self.formats.insert(key.clone(), f.clone());
                        f
                    }
                    Err(e) => {
                        let kind = CheckErrorKind::Host { target: key, reason: e.to_string() };
                        return self.error(kind, span);
                    }
                },
            };
            if format.field(field).is_none() {
                let available = format.args().map(|f| f.name.clone()).collect();
                let kind = CheckErrorKind::UnknownField {
                    tracepoint: key,
                    field: field.into(),
                    available,
                };
                return self.error(kind, span);
            }
        }
    }
}

/// Whether C type name `name` is a struct's or a union's.
fn is_record(name: &str) -> bool {
    name.starts_with("struct ") || name.starts_with("union ")
}

/// `((struct Foo *)e)->field`: the record and the field.
fn member_of_cast(e: &Expr) -> Option<(&str, &str)> {
    let ExprKind::Field { expr, field, arrow: true } = &e.kind else { return None };
    let ExprKind::Cast { ty, .. } = &expr.kind else { return None };
    (ty.pointers == 1 && is_record(&ty.name)).then_some((ty.name.as_str(), field.as_str()))
}
