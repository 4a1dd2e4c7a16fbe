//! Grammar tests: every construct, precedence, error paths, round trips.

use super::{
    ast::{BinaryOp, Else, Expr, ExprKind, ForIter, ProbeKind, StmtKind, UnaryOp},
    parse, pretty,
};

/// Parses, prints, parses again, and checks both trees are equal; returns the tree.
fn round_trip(src: &str) -> super::ast::Program {
    let program = parse(src).unwrap_or_else(|e| panic!("{src}: {}", e.render(src, "stdin")));
    let printed = pretty::program(&program);
    let again =
        parse(&printed).unwrap_or_else(|e| panic!("{printed}: {}", e.render(&printed, "p")));
    assert_eq!(program, again, "round trip changed the tree:\n{printed}");
    program
}

/// The expression of `BEGIN { @x = <expr> }`.
fn expr_of(text: &str) -> Expr {
    let src = format!("BEGIN {{ @x = {text}; }}");
    let program = round_trip(&src);
    match &program.probes[0].body.stmts[0].kind {
        StmtKind::Assign { value, .. } => value.clone(),
        other => panic!("not an assignment: {other:?}"),
    }
}

/// A compact rendering of the tree shape: binary operators fully parenthesized.
fn shape(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Binary { op, lhs, rhs } => {
            format!("({} {} {})", shape(lhs), op.symbol(), shape(rhs))
        }
        ExprKind::Unary { op, expr } => format!("{}{}", op.symbol(), shape(expr)),
        ExprKind::Ternary { cond, then, otherwise } => {
            format!("({} ? {} : {})", shape(cond), shape(then), shape(otherwise))
        }
        _ => pretty::expr(e),
    }
}

fn error_of(src: &str) -> (String, u32, u32) {
    let err = parse(src).expect_err(src);
    (err.kind.to_string(), err.span.line, err.span.col)
}

#[test]
fn precedence_follows_c() {
    let cases = [
        ("1 + 2 * 3", "(1 + (2 * 3))"),
        ("1 * 2 + 3", "((1 * 2) + 3)"),
        ("1 - 2 - 3", "((1 - 2) - 3)"),
        ("8 / 2 / 2", "((8 / 2) / 2)"),
        ("1 << 2 + 3", "(1 << (2 + 3))"),
        ("1 < 2 == 3 > 4", "((1 < 2) == (3 > 4))"),
        ("1 & 2 ^ 3 | 4", "(((1 & 2) ^ 3) | 4)"),
        ("1 | 2 && 3 | 4", "((1 | 2) && (3 | 4))"),
        ("1 || 2 && 3", "(1 || (2 && 3))"),
        ("1 == 2 & 3", "((1 == 2) & 3)"),
        ("1 ? 2 : 3 ? 4 : 5", "(1 ? 2 : (3 ? 4 : 5))"),
        ("1 || 2 ? 3 : 4", "((1 || 2) ? 3 : 4)"),
        ("-1 + 2", "(-1 + 2)"),
        ("!1 && ~2", "(!1 && ~2)"),
        ("(1 + 2) * 3", "((1 + 2) * 3)"),
        ("1 % 2 * 3", "((1 % 2) * 3)"),
        ("1 >> 2 <= 3", "((1 >> 2) <= 3)"),
        ("1 != 2 || 3 >= 4", "((1 != 2) || (3 >= 4))"),
    ];
    for (text, expected) in cases {
        assert_eq!(shape(&expr_of(text)), expected, "{text}");
    }
}

#[test]
fn primaries_and_postfix() {
    assert_eq!(expr_of("42").kind, ExprKind::Int(42));
    assert_eq!(expr_of("\"a\\n\"").kind, ExprKind::Str("a\n".into()));
    assert_eq!(expr_of("pid").kind, ExprKind::Ident("pid".into()));
    assert_eq!(expr_of("$1").kind, ExprKind::Positional(1));
    assert_eq!(expr_of("$#").kind, ExprKind::PositionalCount);
    assert_eq!(expr_of("$v").kind, ExprKind::Var("v".into()));
    assert!(
        matches!(expr_of("@").kind, ExprKind::Map { ref name, ref keys } if name.is_empty() && keys.is_empty())
    );
    assert!(
        matches!(expr_of("@m[1, comm]").kind, ExprKind::Map { ref keys, .. } if keys.len() == 2)
    );
    assert!(matches!(expr_of("count()").kind, ExprKind::Call { ref args, .. } if args.is_empty()));
    assert!(
        matches!(expr_of("lhist(1, 0, 10, 1)").kind, ExprKind::Call { ref args, .. } if args.len() == 4)
    );
    assert!(matches!(expr_of("(1, \"a\", pid)").kind, ExprKind::Tuple(ref t) if t.len() == 3));
    assert!(matches!(expr_of("args->filename").kind, ExprKind::Field { arrow: true, .. }));
    assert!(matches!(expr_of("args.filename").kind, ExprKind::Field { arrow: false, .. }));
    assert!(matches!(expr_of("$t.1").kind, ExprKind::Field { ref field, .. } if field == "1"));
    assert!(
        matches!(expr_of("curtask->mm->owner").kind, ExprKind::Field { ref expr, .. } if matches!(expr.kind, ExprKind::Field { .. }))
    );
    assert!(matches!(expr_of("$a[2]").kind, ExprKind::Index { .. }));
    assert!(matches!(expr_of("*arg0").kind, ExprKind::Unary { op: UnaryOp::Deref, .. }));
    assert!(matches!(expr_of("&$x").kind, ExprKind::Unary { op: UnaryOp::AddrOf, .. }));
    assert!(matches!(expr_of("$x++").kind, ExprKind::Step { increment: true, prefix: false, .. }));
    assert!(matches!(expr_of("--$x").kind, ExprKind::Step { increment: false, prefix: true, .. }));
    assert!(matches!(expr_of("sizeof(struct task_struct)").kind, ExprKind::SizeofType(_)));
    assert!(
        matches!(expr_of("sizeof($x)").kind, ExprKind::Call { ref name, .. } if name == "sizeof")
    );
    assert_eq!(expr_of("nsecs()").kind, ExprKind::Ident("nsecs".into()));
}

#[test]
fn casts_and_parentheses() {
    let ExprKind::Cast { ty, .. } = expr_of("(struct task_struct **)curtask").kind else {
        panic!("not a cast")
    };
    assert_eq!((ty.name.as_str(), ty.pointers), ("struct task_struct", 2));
    assert!(matches!(expr_of("(uint8)arg0").kind, ExprKind::Cast { .. }));
    assert!(matches!(expr_of("(unsigned int)arg0").kind, ExprKind::Cast { .. }));
    assert!(matches!(expr_of("(sk_buff *)arg0").kind, ExprKind::Cast { .. }));
    // A parenthesized name is an expression, not a cast.
    assert!(matches!(expr_of("(pid) + 1").kind, ExprKind::Binary { op: BinaryOp::Add, .. }));
    assert!(matches!(expr_of("(pid)").kind, ExprKind::Ident(_)));
}

#[test]
fn statements() {
    let p = round_trip(
        "BEGIN { $a = 1; @b[1] += 2; @c <<= 3; @d--; ++$a; print(@b); \
         if ($a) { exit() } else if ($a > 2) { $a = 3 } else { $a = 4 } \
         unroll (2) { $a++ } while ($a < 10) { if ($a == 5) { break } continue; } return }",
    );
    let kinds: Vec<_> = p.probes[0].body.stmts.iter().map(|s| &s.kind).collect();
    assert!(matches!(kinds[0], StmtKind::Assign { op: None, .. }));
    assert!(matches!(kinds[1], StmtKind::Assign { op: Some(BinaryOp::Add), .. }));
    assert!(matches!(kinds[2], StmtKind::Assign { op: Some(BinaryOp::Shl), .. }));
    assert!(matches!(kinds[3], StmtKind::Expr(_)));
    let StmtKind::If { otherwise: Some(Else::If(nested)), .. } = kinds[6] else {
        panic!("else if")
    };
    assert!(matches!(nested.kind, StmtKind::If { otherwise: Some(Else::Block(_)), .. }));
    assert!(matches!(kinds[7], StmtKind::Unroll { .. }));
    assert!(matches!(kinds[8], StmtKind::While { .. }));
    assert!(matches!(kinds[9], StmtKind::Return));
    for op in ["-=", "*=", "/=", "%=", "&=", "|=", "^=", ">>="] {
        round_trip(&format!("BEGIN {{ $x {op} 2 }}"));
    }
}

#[test]
fn probes_and_attach_points() {
    let p = round_trip(
        "#include <linux/sched.h>\n\
         struct foo { int a; };\n\
         BEGIN { } END { }\n\
         t:syscalls:sys_enter_*,tracepoint:syscalls:sys_exit_read /pid == $1/ { @[probe] = count() }\n\
         uprobe:/bin/bash:readline, uretprobe:\"/usr/lib/with space\":f+4 { }\n\
         profile:hz:99 { } interval:s:1 { } i:ms:100 { } software:cpu-clock:1000 { }\n\
         kprobe:vfs_read { } kretprobe:vfs_read { } fentry:vfs_read { } usdt:/bin/x:p:n { }\n\
         rawtracepoint:sched_switch { } watchpoint:0x1000:8:rw { } hardware:cache-misses:1000000 { }",
    );
    assert_eq!(p.preamble.len(), 2);
    // bpftrace reads a struct through its closing brace, `;` or not; a
    // typedef runs to its `;`.
    let defs = round_trip(
        "struct a { int x; }\nstruct b { struct { int y; } z; } ;\ntypedef struct { int w; } c_t;\n\
         BEGIN { }",
    );
    // A script's `#!` line is no part of the program; a `#` line is.
    let script = round_trip("#!/usr/bin/env bpftrace\n#include <linux/fs.h>\nBEGIN { }");
    let texts: Vec<&str> = script.preamble.iter().map(|d| d.text.as_str()).collect();
    assert_eq!(texts, ["#include <linux/fs.h>"]);
    let texts: Vec<&str> = defs.preamble.iter().map(|d| d.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "struct a { int x; }",
            "struct b { struct { int y; } z; } ;",
            "typedef struct { int w; } c_t;"
        ]
    );
    let kinds: Vec<ProbeKind> =
        p.probes.iter().flat_map(|pr| pr.attach_points.iter().map(|a| a.kind)).collect();
    use ProbeKind::*;
    assert_eq!(
        kinds,
        [
            Begin,
            End,
            Tracepoint,
            Tracepoint,
            Uprobe,
            Uretprobe,
            Profile,
            Interval,
            Interval,
            Software,
            Kprobe,
            Kretprobe,
            Kfunc,
            Usdt,
            RawTracepoint,
            Watchpoint,
            Hardware
        ]
    );
    let ap = &p.probes[2].attach_points[0];
    assert_eq!(ap.parts, ["syscalls", "sys_enter_*"]);
    assert_eq!(ap.text(), "t:syscalls:sys_enter_*");
    assert_eq!(p.probes[3].attach_points[1].parts[0], "/usr/lib/with space");
    assert!(p.probes[2].predicate.is_some());
}

#[test]
fn predicates_end_at_a_bare_slash() {
    let p = round_trip("BEGIN /(8 / 2) == 4/ { }");
    assert!(matches!(
        p.probes[0].predicate.as_ref().unwrap().kind,
        ExprKind::Binary { op: BinaryOp::Eq, .. }
    ));
    // A printed division inside a predicate gets its parentheses back.
    let printed = pretty::program(&p);
    assert!(printed.contains("/(8 / 2) == 4/"), "{printed}");
}

#[test]
fn prefix_operators_print_without_merging() {
    let p = round_trip(
        "BEGIN { @a = - -1; @b = -(1 + 2); @c = !!1; @d = (uint8)-1; @e = -- --@f; @g = - --@h; @i = (int8)(uint8)1; @j = @k++ ++ }",
    );
    let printed = pretty::program(&p);
    assert!(printed.contains("@a = - -1;"), "{printed}");
    assert!(printed.contains("@e = -- --@f;"), "{printed}");
}

#[test]
fn comments_and_layout() {
    round_trip("// leading\nBEGIN /* inline */ {\n  // inside\n  printf(\"x\"); /* after */\n}\n");
    round_trip("BEGIN{printf(\"%d\\n\",1);exit();}");
}

#[test]
fn spans_point_at_the_source() {
    let src = "BEGIN {\n  @x = pid;\n}";
    let p = parse(src).unwrap();
    let stmt = &p.probes[0].body.stmts[0];
    assert_eq!((stmt.span.line, stmt.span.col), (2, 3));
    let StmtKind::Assign { value, .. } = &stmt.kind else { panic!() };
    assert_eq!((value.span.line, value.span.col, value.span.len), (2, 8, 3));
    assert_eq!(&src[value.span.offset as usize..][..3], "pid");
    let ap = &p.probes[0].attach_points[0];
    assert_eq!((ap.span.offset, ap.span.len), (0, 5));
}

#[test]
fn string_escapes_round_trip() {
    let e = expr_of(r#""tab\there \"q\" back\\ nl\n bell\x07 oct\101""#);
    assert_eq!(e.kind, ExprKind::Str("tab\there \"q\" back\\ nl\n bell\x07 octA".into()));
}

/// `let` declarations (bpftrace 0.22+), typed or not, with or without a value.
#[test]
fn declarations() {
    let p = round_trip(
        "BEGIN { let $a: uint32 = 1; let $s: string; let $b = $a + 1; let $c; \
         let $p: struct task_struct * = curtask; if (1) { let $d: int8 = -1 } }",
    );
    let decl = |i: usize| match &p.probes[0].body.stmts[i].kind {
        StmtKind::Let { var, ty, value } => {
            (var.clone(), ty.as_ref().map(pretty::type_name), value.as_ref().map(pretty::expr))
        }
        other => panic!("not a declaration: {other:?}"),
    };
    let some = |s: &str| Some(s.to_string());
    assert_eq!(decl(0), ("a".into(), some("uint32"), some("1")));
    assert_eq!(decl(1), ("s".into(), some("string"), None));
    assert_eq!(decl(2), ("b".into(), None, some("$a + 1")));
    assert_eq!(decl(3), ("c".into(), None, None));
    assert_eq!(decl(4), ("p".into(), some("struct task_struct *"), some("curtask")));
    assert!(pretty::program(&p).contains("let $a: uint32 = 1;"), "{}", pretty::program(&p));
    let (message, line, col) = error_of("BEGIN { let x = 1; }");
    assert_eq!(
        (message.as_str(), line, col),
        ("syntax error, unexpected `x`, expecting `$` and a variable name", 1, 13)
    );
    let (message, _, col) = error_of("BEGIN { let $x: = 1; }");
    assert_eq!((message.as_str(), col), ("syntax error, unexpected `=`, expecting a type", 17));
}

#[test]
fn syntax_errors_name_the_token_and_what_was_expected() {
    let cases: [(&str, &str, u32, u32); 20] = [
        ("BEGIN { @x = ; }", "syntax error, unexpected `;`, expecting an expression", 1, 14),
        ("BEGIN { 1 + }", "syntax error, unexpected `}`, expecting an expression", 1, 13),
        ("BEGIN { a b }", "syntax error, unexpected `b`, expecting `;` or `}`", 1, 11),
        ("BEGIN", "syntax error, unexpected end of input, expecting `{`", 1, 6),
        ("", "syntax error, unexpected end of input, expecting a probe", 1, 1),
        ("BEGIN { @x[1 }", "syntax error, unexpected `}`, expecting `,` or `]`", 1, 14),
        ("kprobe { }", "syntax error, unexpected `{`, expecting `:` and a probe name", 1, 8),
        ("foo:bar { }", "unknown probe type `foo`", 1, 1),
        ("BEGIN { x = 1 }", "only maps and $variables can be assigned to", 1, 9),
        ("BEGIN { printf(\"x) }", "unterminated string", 1, 16),
        ("BEGIN { \"\\q\" }", "invalid escape character `\\q`", 1, 10),
        (
            "BEGIN {\n\n  @ = 0x; }",
            "invalid integer `0x`: cannot parse integer from empty string",
            3,
            7,
        ),
        ("BEGIN { if 1 { } }", "syntax error, unexpected `1`, expecting `(`", 1, 12),
        ("BEGIN { if (1) }", "syntax error, unexpected `}`, expecting `{`", 1, 16),
        ("BEGIN { f(1 2) }", "syntax error, unexpected `2`, expecting `,` or `)`", 1, 13),
        ("BEGIN { (1, 2 }", "syntax error, unexpected `}`, expecting `,` or `)`", 1, 15),
        ("BEGIN { 1 ? 2 }", "syntax error, unexpected `}`, expecting `:`", 1, 15),
        ("BEGIN /pid { }", "syntax error, unexpected `{`, expecting `/`", 1, 12),
        ("BEGIN { } /* open", "unterminated comment", 1, 11),
        ("struct x { int a;\nBEGIN { }", "unterminated C definition", 1, 1),
    ];
    for (src, message, line, col) in cases {
        assert_eq!(error_of(src), (message.to_string(), line, col), "{src}");
    }
}

#[test]
fn more_error_paths() {
    for src in [
        "BEGIN { $ = 1 }",
        "BEGIN { $99999999999 }",
        "BEGIN { a-> }",
        "BEGIN { a. }",
        "BEGIN { $a[ }",
        "BEGIN { (uint8) }",
        "BEGIN { sizeof 1 }",
        "BEGIN { while (1) 2 }",
        "BEGIN { } else { }",
        "BEGIN { if (1) { } else 3 }",
        "tracepoint:a: { }",
        ", { }",
        "BEGIN, , END { }",
        "BEGIN { @x = \"\\xff\" }",
        "BEGIN { !}",
        "BEGIN { ++ }",
        "BEGIN { if }",
    ] {
        assert!(parse(src).is_err(), "{src} parsed");
    }
}

#[test]
fn rendering_matches_bpftrace_layout() {
    let src = "BEGIN {\n  @x = ;\n}";
    let err = parse(src).unwrap_err();
    assert_eq!(
        err.render(src, "stdin"),
        "stdin:2:8-9: ERROR: syntax error, unexpected `;`, expecting an expression\n  @x = ;\n       ^"
    );
    let src = "BEGIN { nope:x }";
    let err = parse(src).unwrap_err();
    assert!(err.render(src, "prog.bt").starts_with("prog.bt:1:"));
}

#[test]
fn nesting_is_bounded_and_the_limit_fits_a_small_stack() {
    use crate::lang::lexical::MAX_NESTING;
    let nested = |open: &str, close: &str, n: usize| {
        format!("BEGIN {{ @x = {}1{}; }}", open.repeat(n), close.repeat(n))
    };
    let too_deep = [
        nested("(", ")", 5000),
        nested("-", "", 5000),
        nested("", "[1]", 5000),
        format!("BEGIN {{ @x = {} }}", vec!["1"; 5000].join(" + ")),
        format!("BEGIN {{ {}{} }}", "if (1) { ".repeat(5000), "}".repeat(5000)),
    ];
    for src in &too_deep {
        let err = parse(src).unwrap_err();
        assert_eq!(
            err.kind.to_string(),
            format!("program nested more than {MAX_NESTING} levels deep")
        );
    }
    // Just under the limit, parsing, printing and planning all fit in the
    // 2 MiB stack of a test or server thread, in a debug build.
    let deepest = [
        nested("(", ")", MAX_NESTING / 2 - 2),
        nested("-", "", MAX_NESTING - 6),
        nested("- ", "", MAX_NESTING - 6),
        nested("!", "", MAX_NESTING - 6),
        nested("", "[1]", MAX_NESTING - 6),
        nested("(1 ? ", ": 2)", MAX_NESTING / 4 - 2),
        format!(
            "BEGIN {{ {}{} }}",
            "if (1) { ".repeat(MAX_NESTING / 2 - 1),
            "}".repeat(MAX_NESTING / 2 - 1)
        ),
    ];
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for src in &deepest {
                let program = parse(src).unwrap_or_else(|e| panic!("{}", e.render(src, "stdin")));
                let printed = pretty::program(&program);
                assert_eq!(parse(&printed).unwrap(), program);
                let probes = vec![crate::check::CheckedProbe {
                    attach_points: vec![vec![crate::probe::Probe::Begin]],
                }];
                let (formats, prototypes) = Default::default();
                let checked = crate::check::Checked { program, probes, formats, prototypes };
                let _ = crate::lower::lower(&checked);
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

/// bpftrace 0.21+ forms, and 0.17 forms the parser once refused.
#[test]
fn newer_and_looser_syntax() {
    assert_eq!(expr_of("1e6").kind, ExprKind::Int(1_000_000));
    assert_eq!(expr_of("2E3 + 1").kind, expr_of("2000 + 1").kind);
    assert_eq!(expr_of("true").kind, ExprKind::Int(1));
    assert_eq!(expr_of("false || true").kind, expr_of("0 || 1").kind);
    assert!(matches!(expr_of("kstack(5)").kind, ExprKind::Call { name, .. } if name == "kstack"));
    round_trip("BEGIN { print(ustack(perf, 3)); print(kstack(bpftrace)); print(ustack(5)) }");

    let p = round_trip("tracepoint:a:b, tracepoint:a:c, { } t:a:d, /pid/ { }");
    assert_eq!(p.probes[0].attach_points.len(), 2);
    assert_eq!(p.probes[1].attach_points.len(), 1);
    assert!(p.probes[1].predicate.is_some());

    let p = round_trip("begin { } end { } interval:1s { } i:100ms { }");
    let kinds: Vec<ProbeKind> = p.probes.iter().map(|pr| pr.attach_points[0].kind).collect();
    use ProbeKind::*;
    assert_eq!(kinds, [Begin, End, Interval, Interval]);
    assert_eq!(p.probes[0].attach_points[0].kind_text, "begin", "kept as written");
    assert_eq!(p.probes[2].attach_points[0].parts, ["1s"]);

    let p = round_trip("BEGIN { @m[1, 2] = 1; delete(@m, (1, 2)) }");
    let StmtKind::Expr(e) = &p.probes[0].body.stmts[1].kind else { panic!() };
    assert!(
        matches!(&e.kind, ExprKind::Call { name, args } if name == "delete" && args.len() == 2)
    );
}

#[test]
fn non_integral_numbers_are_errors() {
    let floating = "is not an integer: bpftrace has no floating-point numbers";
    for (src, literal, col) in [
        ("BEGIN { @x = 1.5 }", "1.5", 14),
        ("BEGIN { @x = 2.5e3 }", "2.5e3", 14),
        ("BEGIN { @x = 1 + 1e-3 }", "1e-3", 18),
    ] {
        let (message, line, at) = error_of(src);
        assert_eq!((line, at), (1, col), "{src}");
        assert_eq!(
            message,
            format!("`{literal}` {floating} (scientific notation such as 1e6 is for integers)")
        );
    }
    let (message, ..) = error_of("BEGIN { @x = 1e30 }");
    assert!(message.starts_with("invalid integer `1e30`"), "{message}");
    // A tuple of tuples still indexes twice.
    round_trip("BEGIN { $t = ((1, 2), 3); print($t.0.1) }");
}

#[test]
fn for_loops_over_maps_and_ranges() {
    let p = round_trip(
        "END { for ($kv : @m) { printf(\"%d %d\\n\", $kv.0, $kv.1); if ($kv.1 > 2) { break } } \
         for ($i : 0..10) { continue } for ($j : $a..(@n + 1)) { print($j) } }",
    );
    let kinds: Vec<_> = p.probes[0].body.stmts.iter().map(|s| &s.kind).collect();
    let StmtKind::For { var, iter: ForIter::Map(map), body } = kinds[0] else { panic!("map") };
    assert_eq!((var.as_str(), pretty::expr(map).as_str(), body.stmts.len()), ("kv", "@m", 2));
    let StmtKind::For { iter: ForIter::Range { start, end }, .. } = kinds[1] else {
        panic!("range")
    };
    assert_eq!((start.kind.clone(), end.kind.clone()), (ExprKind::Int(0), ExprKind::Int(10)));
    let StmtKind::For { iter: ForIter::Range { end, .. }, .. } = kinds[2] else { panic!("expr") };
    assert!(matches!(end.kind, ExprKind::Binary { op: BinaryOp::Add, .. }));
    // `..` is no tuple index, and the loop needs no `;` after its block.
    round_trip("BEGIN { $t = (1, 2); for ($i : $t.0..$t.1) { } print(1) }");
    // The loop's span starts at `for`.
    let p = parse("BEGIN {\n  for ($i : 1..2) { }\n}").unwrap();
    assert_eq!((p.probes[0].body.stmts[0].span.line, p.probes[0].body.stmts[0].span.col), (2, 3));
}

#[test]
fn for_loops_walk_a_whole_map_or_a_range() {
    let (msg, line, col) = error_of("BEGIN { for ($kv : @m[1]) { } }");
    assert!(msg.contains("a whole map"), "{msg}");
    assert_eq!((line, col), (1, 20));
    let (msg, ..) = error_of("BEGIN { for ($i : 0..) { } }");
    assert!(msg.contains("the end of the range"), "{msg}");
    let (msg, ..) = error_of("BEGIN { for (i : 0..1) { } }");
    assert!(msg.contains('$'), "{msg}");
    assert!(parse("BEGIN { for ($i : 0..1) }").is_err(), "a body is needed");
}

/// `config = { ... }` (bpftrace 0.20+) after the preamble: integers,
/// strings, booleans and words, `;` between, the last optional.
#[test]
fn config_blocks() {
    use super::ast::ConfigValue;
    let p = round_trip(
        "#include <linux/sched.h>\nconfig = {\n  max_strlen = 32;\n  stack_mode = perf;\n  \
         str_trunc_trailer = \"..\"; print_maps_on_exit = false }\nBEGIN { }",
    );
    let got: Vec<(&str, &ConfigValue)> =
        p.config.iter().map(|e| (e.key.as_str(), &e.value)).collect();
    assert_eq!(
        got,
        [
            ("max_strlen", &ConfigValue::Int(32)),
            ("stack_mode", &ConfigValue::Word("perf".into())),
            ("str_trunc_trailer", &ConfigValue::Str("..".into())),
            ("print_maps_on_exit", &ConfigValue::Bool(false)),
        ]
    );
    assert_eq!((p.config[1].span.line, p.config[1].span.col), (4, 3));
    assert!(round_trip("config = { } BEGIN { }").config.is_empty());
    assert!(round_trip("config = { max_map_keys = 1e4; } BEGIN { }").config.len() == 1);
    for (src, want) in [
        ("config = { max_strlen 32 } BEGIN { }", "`=`"),
        ("config = { max_strlen = 32 stack_mode = perf } BEGIN { }", "`;` or `}`"),
        ("config { max_strlen = 32 } BEGIN { }", "`=`"),
    ] {
        let e = parse(src).expect_err(src);
        assert!(e.to_string().contains(want), "{src}: {e}");
    }
}
