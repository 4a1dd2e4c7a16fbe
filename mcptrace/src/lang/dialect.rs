//! Rewrites of a parsed program: to the syntax the installed bpftrace accepts
//! (for the fallback backend), and with positional parameters filled in.

use super::ast::{Block, Else, Expr, ExprKind, Program, Stmt, StmtKind, UnaryOp};

/// The program as bpftrace 0.17 accepts it: `args.field` (bpftrace 0.21+)
/// becomes `args->field`. Print the result with [`super::pretty::program`].
pub fn for_bpftrace_017(program: &Program) -> Program {
    rewrite(program, &mut |e| {
        if let ExprKind::Field { expr: base, arrow, field } = &mut e.kind {
            // `args.0` is a tuple index, which has no `->` form.
            let named = !field.starts_with(|c: char| c.is_ascii_digit());
            if named && matches!(&base.kind, ExprKind::Ident(n) if n == "args") {
                *arrow = true;
            }
        }
    })
}

/// The program with positional parameters (`$1`, `$#`) replaced by the
/// given values, as bpftrace substitutes them: a parameter that is a number
/// becomes an integer, any other a string; one not given is 0.
pub fn with_parameters(program: &Program, params: &[String]) -> Program {
    rewrite(program, &mut |e| {
        let span = e.span;
        e.kind = match &e.kind {
            ExprKind::PositionalCount => ExprKind::Int(params.len() as u64),
            ExprKind::Positional(n) => match params.get((*n as usize).wrapping_sub(1)) {
                None => ExprKind::Int(0),
                Some(p) => match p.parse::<i64>() {
                    Ok(v) if v < 0 => ExprKind::Unary {
                        op: UnaryOp::Neg,
                        expr: Box::new(Expr { kind: ExprKind::Int(v.unsigned_abs()), span }),
                    },
                    Ok(v) => ExprKind::Int(v as u64),
                    Err(_) => ExprKind::Str(p.clone()),
                },
            },
            _ => return,
        };
    })
}

/// A copy of `program` with `f` applied to every expression, outermost first.
fn rewrite(program: &Program, f: &mut dyn FnMut(&mut Expr)) -> Program {
    let mut out = program.clone();
    for probe in &mut out.probes {
        if let Some(pred) = &mut probe.predicate {
            expr(pred, f);
        }
        block(&mut probe.body, f);
    }
    out
}

fn block(b: &mut Block, f: &mut dyn FnMut(&mut Expr)) {
    for s in &mut b.stmts {
        stmt(s, f);
    }
}

fn stmt(s: &mut Stmt, f: &mut dyn FnMut(&mut Expr)) {
    match &mut s.kind {
        StmtKind::Expr(e) => expr(e, f),
        StmtKind::Assign { target, value, .. } => {
            expr(target, f);
            expr(value, f);
        }
        StmtKind::If { cond, then, otherwise } => {
            expr(cond, f);
            block(then, f);
            match otherwise {
                Some(Else::Block(b)) => block(b, f),
                Some(Else::If(nested)) => stmt(nested, f),
                None => {}
            }
        }
        StmtKind::While { cond: e, body } | StmtKind::Unroll { count: e, body } => {
            expr(e, f);
            block(body, f);
        }
        StmtKind::Break | StmtKind::Continue | StmtKind::Return => {}
    }
}

fn expr(e: &mut Expr, f: &mut dyn FnMut(&mut Expr)) {
    f(e);
    for child in e.children_mut() {
        expr(child, f);
    }
}

#[cfg(test)]
mod tests {
    use super::{for_bpftrace_017, with_parameters};
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

    #[test]
    fn positional_parameters_become_literals() {
        let p = parse(r#"BEGIN { printf("%d %s %d %d\n", $1, str($2), $3, $#); }"#).unwrap();
        let text = pretty::program(&with_parameters(&p, &["-5".into(), "bash".into()]));
        assert!(text.contains(r#"-5, str("bash"), 0, 2"#), "{text}");
        assert_eq!(parse(&text).unwrap(), with_parameters(&p, &["-5".into(), "bash".into()]));
    }
}
