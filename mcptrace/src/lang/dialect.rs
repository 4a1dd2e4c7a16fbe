//! Rewrites of a parsed program: to the syntax the installed bpftrace accepts
//! (for the fallback backend), with positional parameters filled in, and
//! with constants resolved.

use std::collections::HashMap;

use super::{
    ast::{
        self, AttachPoint, Block, Else, Expr, ExprKind, ForIter, ProbeKind, Program, Span, Stmt,
        StmtKind, TypeName, UnaryOp,
    },
    config::{self, Setting},
    int_type::IntType,
};
use crate::probe::Rate;

/// The program as bpftrace 0.17 accepts it. Newer syntax (bpftrace 0.21+)
/// becomes its 0.17 form: `args.field` → `args->field`, `delete(@m, key)` →
/// `delete(@m[key])`, `begin`/`end` → `BEGIN`/`END`, `interval:1s` →
/// `interval:s:1`, `let $x: uint8 = v` → `$x = (uint8)v` (see
/// [`declarations_017`]). (`true`/`false`, `1e6` and a comma ending the attach
/// points need nothing: the tree holds them as integers and a list, and
/// prints them so.) A config block goes: its settings reach 0.17 as
/// environment variables ([`env_017`]). Print the result with
/// [`super::pretty::program`].
pub fn for_bpftrace_017(program: &Program) -> Program {
    let mut out = rewrite(program, &mut |e| match &mut e.kind {
        ExprKind::Field { expr: base, arrow, field } => {
            // `args.0` is a tuple index, which has no `->` form.
            let named = !field.starts_with(|c: char| c.is_ascii_digit());
            if named && matches!(&base.kind, ExprKind::Ident(n) if n == "args") {
                *arrow = true;
            }
        }
        ExprKind::Call { name, args } if name == "delete" && args.len() == 2 => {
            if let Some(element) = ast::map_element(args) {
                *args = vec![element];
            }
        }
        _ => {}
    });
    for ap in out.probes.iter_mut().flat_map(|p| &mut p.attach_points) {
        attach_point_017(ap);
    }
    for probe in &mut out.probes {
        let typed = int_typed(&probe.body);
        declarations_017(&mut probe.body, &typed);
    }
    out.config.clear();
    out
}

/// The environment variables that give bpftrace 0.17 the settings of the
/// program's config block (those [`beyond_017`] lets through).
pub fn env_017(program: &Program) -> Vec<(&'static str, String)> {
    program.config.iter().filter_map(|e| Setting::of(e).ok()?.for_017().ok().flatten()).collect()
}

/// The variables a `let` declares with a fixed-width integer type.
fn int_typed(b: &Block) -> HashMap<String, TypeName> {
    let mut typed = HashMap::new();
    b.each_stmt(&mut |s| {
        if let StmtKind::Let { var, ty: Some(ty), .. } = &s.kind
            && IntType::of(ty).is_some()
        {
            typed.insert(var.clone(), ty.clone());
        }
    });
    typed
}

/// `let` declarations (bpftrace 0.22+) as 0.17 assignments: `let $x = v`
/// → `$x = v`; a fixed-width integer type becomes a cast, `let $x: uint8 =
/// v` → `$x = (uint8)v`, and with no value the zero it starts as
/// (`$x = (uint8)0`); `let $s: string` → `$s = ""`. An untyped (or
/// otherwise typed) declaration with no value is dropped: 0.17 types the
/// variable at its assignments, and reads it as zero before them.
///
/// A later assignment to an integer-typed variable (`typed`) is cast too,
/// `$x += 1` → `$x = (uint8)($x + 1)`: 0.17 mishandles a narrow variable
/// given a 64-bit value (`$x = (uint8)300; $x = $x + 1` leaves 44).
fn declarations_017(b: &mut Block, typed: &HashMap<String, TypeName>) {
    b.stmts.retain_mut(|s| {
        let span = s.span;
        if let StmtKind::Assign { target, op, value } = &mut s.kind
            && let ExprKind::Var(name) = &target.kind
            && let Some(ty) = typed.get(name)
        {
            let at = |kind| Expr { kind, span };
            let rhs = Box::new(std::mem::replace(value, at(ExprKind::Int(0))));
            let full = match op.take() {
                Some(op) => at(ExprKind::Binary { op, lhs: Box::new(target.clone()), rhs }),
                None => *rhs,
            };
            *value = at(ExprKind::Cast { ty: ty.clone(), expr: Box::new(full) });
            return true;
        }
        let StmtKind::Let { var, ty, value } = &mut s.kind else {
            for inner in nested_blocks(s) {
                declarations_017(inner, typed);
            }
            return true;
        };
        let at = |kind| Expr { kind, span };
        let int = ty.as_ref().and_then(IntType::of);
        let value = match (value.take(), int, ty) {
            (Some(v), Some(_), Some(ty)) => {
                at(ExprKind::Cast { ty: ty.clone(), expr: Box::new(v) })
            }
            (Some(v), ..) => v,
            (None, Some(_), Some(ty)) => {
                at(ExprKind::Cast { ty: ty.clone(), expr: Box::new(at(ExprKind::Int(0))) })
            }
            (None, None, Some(ty)) if ty.name == "string" && ty.pointers == 0 => {
                at(ExprKind::Str(String::new()))
            }
            (None, ..) => return false,
        };
        let target = at(ExprKind::Var(std::mem::take(var)));
        s.kind = StmtKind::Assign { target, op: None, value };
        true
    });
}

/// The blocks directly inside statement `s`.
fn nested_blocks(s: &mut Stmt) -> Vec<&mut Block> {
    match &mut s.kind {
        StmtKind::If { then, otherwise, .. } => {
            let mut out = vec![then];
            match otherwise {
                Some(Else::Block(b)) => out.push(b),
                Some(Else::If(nested)) => out.extend(nested_blocks(nested)),
                None => {}
            }
            out
        }
        StmtKind::While { body, .. }
        | StmtKind::Unroll { body, .. }
        | StmtKind::For { body, .. } => {
            vec![body]
        }
        _ => Vec::new(),
    }
}

/// A construct bpftrace 0.17 has no form for, where it is, and the bpftrace
/// release that first reads it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{construct} at {span} needs bpftrace ≥ {since}; bpftrace 0.17 has no form for it")]
pub struct Beyond017 {
    /// Boxed to keep the errors that carry it small.
    pub construct: Box<str>,
    pub span: Span,
    pub since: &'static str,
}

/// Calls newer than bpftrace 0.17 that [`for_bpftrace_017`] cannot rewrite,
/// with the release that added each (bpftrace's CHANGELOG).
const NEWER_CALLS: [(&str, &str, &str); 1] = [("has_key", "`has_key()`", "0.22.0")];

/// Statements newer than bpftrace 0.17, with the release that added each
/// (bpftrace's CHANGELOG: map loops in 0.21.0, ranges in 0.24.0).
fn newer_stmt(kind: &StmtKind) -> Option<(&'static str, &'static str)> {
    match kind {
        StmtKind::For { iter: ForIter::Map(_), .. } => Some(("`for` over a map", "0.21.0")),
        StmtKind::For { iter: ForIter::Range { .. }, .. } => Some(("`for` over a range", "0.24.0")),
        _ => None,
    }
}

/// The first construct of `program` that no rewrite makes bpftrace 0.17
/// read, if any: such a program runs natively or not at all.
pub fn beyond_017(program: &Program) -> Option<Beyond017> {
    let mut found: Option<Beyond017> = None;
    let mut keep = |construct: Box<str>, span: Span, since| {
        if found.as_ref().is_none_or(|f| span.offset < f.span.offset) {
            found = Some(Beyond017 { construct, span, since });
        }
    };
    for entry in &program.config {
        if let Some(Err(since)) = Setting::of(entry).ok().map(|s| s.for_017()) {
            keep(format!("config `{}`", config::written(entry)).into(), entry.span, since);
        }
    }
    let visit = |e: &Expr, keep: &mut dyn FnMut(Box<str>, Span, &'static str)| {
        e.each(&mut |e| {
            let ExprKind::Call { name, .. } = &e.kind else { return };
            if let Some(&(_, construct, since)) = NEWER_CALLS.iter().find(|(n, ..)| n == name) {
                keep(construct.into(), e.span, since);
            }
        })
    };
    for probe in &program.probes {
        if let Some(pred) = &probe.predicate {
            visit(pred, &mut keep);
        }
        probe.body.each_stmt(&mut |s| {
            if let Some((construct, since)) = newer_stmt(&s.kind) {
                keep(construct.into(), s.span, since);
            }
            s.exprs().into_iter().for_each(|e| visit(e, &mut keep));
        });
    }
    found
}

fn attach_point_017(ap: &mut AttachPoint) {
    match ap.kind {
        ProbeKind::Begin | ProbeKind::End => ap.kind_text = ap.kind.name().into(),
        // 0.17 knows only `UNIT:COUNT`.
        ProbeKind::Interval | ProbeKind::Profile if ap.parts.len() == 1 => {
            if let Ok(rate) = Rate::from_parts(ap.kind, &ap.parts) {
                ap.parts = vec![rate.unit.name().into(), rate.count.to_string()];
            }
        }
        _ => {}
    }
}

/// The program with positional parameters (`$1`, `$#`) replaced by the
/// given values, as bpftrace substitutes them: a parameter that is a number
/// becomes an integer, any other a string; one not given is 0, or in
/// `str()` the empty string.
pub fn with_parameters(program: &Program, params: &[String]) -> Program {
    let missing = |n: u32| params.get((n as usize).wrapping_sub(1)).is_none();
    rewrite(program, &mut |e| {
        let span = e.span;
        if let ExprKind::Call { name, args } = &mut e.kind
            && name == "str"
            && let Some(arg) = args.first_mut()
            && matches!(arg.kind, ExprKind::Positional(n) if missing(n))
        {
            arg.kind = ExprKind::Str(String::new());
            return;
        }
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

/// The program with the names the checker resolved as constants (enum
/// values, macros, `cgroupid(path)`, the `sizeof` of a struct or union or
/// their members; `values` by the offset each is written at) replaced by
/// the integers they stand for, so that no later stage and neither backend
/// looks them up again.
pub fn with_constants(program: &Program, values: &HashMap<u32, i128>) -> Program {
    rewrite(program, &mut |e| {
        let size = match &e.kind {
            ExprKind::Ident(_) => false,
            ExprKind::Call { name, .. } if name == "cgroupid" => false,
            ExprKind::Call { name, .. } if name == "sizeof" => true,
            ExprKind::SizeofType(_) => true,
            _ => return,
        };
        let Some(&value) = values.get(&e.span.offset) else { return };
        let span = e.span;
        let magnitude = ExprKind::Int(value.unsigned_abs() as u64);
        e.kind = if size {
            // bpftrace's sizes are uint64, a literal int64.
            let ty = TypeName { name: "uint64".into(), pointers: 0 };
            ExprKind::Cast { ty, expr: Box::new(Expr { kind: magnitude, span }) }
        } else if value < 0 {
            ExprKind::Unary { op: UnaryOp::Neg, expr: Box::new(Expr { kind: magnitude, span }) }
        } else {
            magnitude
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
        StmtKind::Let { value, .. } => {
            if let Some(value) = value {
                expr(value, f);
            }
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
        StmtKind::For { iter, body, .. } => {
            match iter {
                ForIter::Map(map) => expr(map, f),
                ForIter::Range { start, end } => {
                    expr(start, f);
                    expr(end, f);
                }
            }
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
    use super::{beyond_017, for_bpftrace_017, with_parameters};
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
    fn newer_syntax_becomes_017() {
        let p = parse(
            "begin { @m[1, 2] = 1; @n[3] = 1; delete(@m, (1, 2)); delete(@n, 3); delete(@n[3]) }
             interval:1s, interval:100ms, i:5us, interval:ms:7, profile:99, { @t = true; }
             end { @c = 1e6 + false; }",
        )
        .unwrap();
        let text = pretty::program(&for_bpftrace_017(&p));
        for want in [
            "BEGIN {",
            "END {",
            "delete(@m[1, 2])",
            "delete(@n[3])",
            "interval:s:1,\ninterval:ms:100,\ni:us:5,\ninterval:ms:7,\nprofile:hz:99 {",
            "@t = 1",
            "@c = 1000000 + 0",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        assert!(!text.contains("begin") && !text.contains("end {"), "{text}");
        let again = parse(&text).unwrap();
        assert_eq!(for_bpftrace_017(&again), again, "the rewrite is done in one pass");
    }

    #[test]
    fn declarations_become_017_assignments() {
        let p = parse(
            "BEGIN { let $a: uint8 = 300; let $b = 2; let $s: string; let $z: int16; let $t; \
             let $p: struct task_struct * = curtask; if ($b) { let $c: uint32 = $b; $t = 1 } \
             $a += 1; $a = 7; $b = 3 }",
        )
        .unwrap();
        let text = pretty::program(&for_bpftrace_017(&p));
        for want in [
            "$a = (uint8)300;",
            "$b = 2;",
            "$s = \"\";",
            "$z = (int16)0;",
            "$p = curtask;",
            "$c = (uint32)$b;",
            "$t = 1",
            "$a = (uint8)($a + 1);",
            "$a = (uint8)7;",
            "$b = 3",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        assert!(!text.contains("let") && !text.contains("$t;"), "{text}");
        let again = parse(&text).unwrap();
        assert_eq!(for_bpftrace_017(&again), again, "the rewrite is done in one pass");
    }

    #[test]
    fn constructs_beyond_017_are_found_first_in_the_source() {
        let p = parse(
            "BEGIN { @m[1] = 1; } END {\n  if (has_key(@m, 1)) { print(1) } }\n\
             tracepoint:a:b /has_key(@m, 2)/ { }",
        )
        .unwrap();
        let found = beyond_017(&p).expect("has_key");
        assert_eq!((&*found.construct, found.since), ("`has_key()`", "0.22.0"));
        assert_eq!((found.span.line, found.span.col), (2, 7));
        assert_eq!(
            found.to_string(),
            "`has_key()` at 2:7 needs bpftrace ≥ 0.22.0; bpftrace 0.17 has no form for it"
        );
        assert_eq!(beyond_017(&parse("BEGIN { let $x: uint8 = 1; delete(@m, 1) }").unwrap()), None);
    }

    #[test]
    fn for_loops_are_beyond_017_with_the_release_of_each_form() {
        let p = parse("BEGIN {\n  for ($i : 0..2) { }\n}\nEND { for ($kv : @m) { } }").unwrap();
        let found = beyond_017(&p).expect("a range loop");
        assert_eq!((&*found.construct, found.since), ("`for` over a range", "0.24.0"));
        assert_eq!((found.span.line, found.span.col), (2, 3));
        let p = parse("END { if (1) { for ($kv : @m) { } } }").unwrap();
        let found = beyond_017(&p).expect("a map loop, nested");
        assert_eq!(
            (&*found.construct, found.since, found.span.col),
            ("`for` over a map", "0.21.0", 16)
        );
    }

    /// A config block reaches bpftrace 0.17 as environment variables, or
    /// the program is refused with the key, where it is and the release.
    #[test]
    fn config_becomes_017_environment_or_is_beyond_it() {
        use super::env_017;
        let p = parse(
            "config = { max_strlen = 128; BPFTRACE_MAP_KEYS_MAX = 100; license = \"GPL\" }\n\
             BEGIN { }",
        )
        .unwrap();
        let text = pretty::program(&for_bpftrace_017(&p));
        assert!(!text.contains("config"), "{text}");
        assert_eq!(
            env_017(&p),
            [("BPFTRACE_STRLEN", "128".into()), ("BPFTRACE_MAP_KEYS_MAX", "100".into())]
        );
        assert_eq!(beyond_017(&p), None);
        let p =
            parse("config = {\n  max_map_keys = 1;\n  stack_mode = perf\n}\nBEGIN { }").unwrap();
        let found = beyond_017(&p).expect("stack_mode");
        assert_eq!(
            found.to_string(),
            "config `stack_mode = perf` at 3:3 needs bpftrace ≥ 0.18.0; bpftrace 0.17 has no form \
             for it"
        );
    }

    #[test]
    fn positional_parameters_become_literals() {
        let p = parse(r#"BEGIN { printf("%d %s %d %d\n", $1, str($2), $3, $#); }"#).unwrap();
        let text = pretty::program(&with_parameters(&p, &["-5".into(), "bash".into()]));
        assert!(text.contains(r#"-5, str("bash"), 0, 2"#), "{text}");
        assert_eq!(parse(&text).unwrap(), with_parameters(&p, &["-5".into(), "bash".into()]));
    }
}
