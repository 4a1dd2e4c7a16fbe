//! Rewrites that make a program acceptable to the installed bpftrace, for the
//! fallback backend: mcptrace accepts some newer syntax that bpftrace 0.17 does not.

use super::ast::{Block, Else, Expr, ExprKind, Program, Stmt, StmtKind};

/// The program as bpftrace 0.17 accepts it: `args.field` (bpftrace 0.21+)
/// becomes `args->field`. Print the result with [`super::pretty::program`].
pub fn for_bpftrace_017(program: &Program) -> Program {
    let mut out = program.clone();
    for probe in &mut out.probes {
        if let Some(pred) = &mut probe.predicate {
            arrow_args(pred);
        }
        block(&mut probe.body);
    }
    out
}

fn block(b: &mut Block) {
    for s in &mut b.stmts {
        stmt(s);
    }
}

fn stmt(s: &mut Stmt) {
    match &mut s.kind {
        StmtKind::Expr(e) => arrow_args(e),
        StmtKind::Assign { target, value, .. } => {
            arrow_args(target);
            arrow_args(value);
        }
        StmtKind::If { cond, then, otherwise } => {
            arrow_args(cond);
            block(then);
            match otherwise {
                Some(Else::Block(b)) => block(b),
                Some(Else::If(nested)) => stmt(nested),
                None => {}
            }
        }
        StmtKind::While { cond: e, body } | StmtKind::Unroll { count: e, body } => {
            arrow_args(e);
            block(body);
        }
        StmtKind::Break | StmtKind::Continue | StmtKind::Return => {}
    }
}

fn arrow_args(e: &mut Expr) {
    match &mut e.kind {
        ExprKind::Field { expr: base, arrow, field } => {
            // `args.0` is a tuple index, which has no `->` form.
            let named = !field.starts_with(|c: char| c.is_ascii_digit());
            if named && matches!(&base.kind, ExprKind::Ident(n) if n == "args") {
                *arrow = true;
            }
            arrow_args(base);
        }
        ExprKind::Int(_)
        | ExprKind::Str(_)
        | ExprKind::Ident(_)
        | ExprKind::Positional(_)
        | ExprKind::PositionalCount
        | ExprKind::Var(_)
        | ExprKind::SizeofType(_) => {}
        ExprKind::Map { keys: items, .. }
        | ExprKind::Call { args: items, .. }
        | ExprKind::Tuple(items) => items.iter_mut().for_each(arrow_args),
        ExprKind::Unary { expr: inner, .. }
        | ExprKind::Cast { expr: inner, .. }
        | ExprKind::Step { target: inner, .. } => arrow_args(inner),
        ExprKind::Binary { lhs, rhs, .. } => {
            arrow_args(lhs);
            arrow_args(rhs);
        }
        ExprKind::Index { expr: inner, index } => {
            arrow_args(inner);
            arrow_args(index);
        }
        ExprKind::Ternary { cond, then, otherwise } => {
            arrow_args(cond);
            arrow_args(then);
            arrow_args(otherwise);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::for_bpftrace_017;
    use crate::lang::{parse, pretty};

    #[test]
    fn args_dot_becomes_arrow_everywhere() {
        let p = parse(
            "tracepoint:a:b /args.x > 0/ { @[args.y] = sum(args.z); if (args.w) { $v = (1, args.u).1 } else { print(args->t) } }",
        )
        .unwrap();
        let text = pretty::program(&for_bpftrace_017(&p));
        assert!(!text.contains("args."), "{text}");
        for field in ["x", "y", "z", "w", "u", "t"] {
            assert!(text.contains(&format!("args->{field}")), "{field}: {text}");
        }
        assert!(text.contains(".1"), "tuple access is left alone: {text}");
        // Found by the fuzzer: `args.0` has no `->` form.
        let p = parse("BEGIN { print(args.0) }").unwrap();
        let text = pretty::program(&for_bpftrace_017(&p));
        assert!(text.contains("args.0"), "{text}");
        assert_eq!(parse(&text).unwrap(), p);
    }
}
