//! Expressions, with C precedence: ternary, binary operators by level, unary
//! operators and casts, postfix access, primaries.

use nom::{Parser, combinator::opt, multi::separated_list0};

use super::{
    ast::{BinaryOp, Expr, ExprKind, TypeName, UnaryOp},
    lexical::{
        Input, Nesting, PResult, Reason, expect, fail, fatal, integer, name, number, punct,
        raw_name, require, skip, span, string, sym,
    },
};

/// Words that start statements and so can never be an expression.
const RESERVED: [&str; 9] =
    ["if", "else", "while", "for", "unroll", "break", "continue", "return", "sizeof"];

/// A full expression.
pub fn expr(input: Input) -> PResult<Expr> {
    ternary(input, false)
}

/// An expression in a predicate `/ ... /`: a top-level `/` ends the predicate,
/// so division there needs parentheses, as in bpftrace.
pub fn predicate(input: Input) -> PResult<Expr> {
    ternary(input, true)
}

fn boxed(e: Expr) -> Box<Expr> {
    Box::new(e)
}

fn ternary(input: Input, no_div: bool) -> PResult<Expr> {
    // A whole expression level runs through every precedence function: the
    // deepest stack per level of nesting, so it counts double.
    let _level = Nesting::enter_weighted(&input, 2)?;
    let (rest, cond) = binary(input, 1, no_div)?;
    let Ok((rest, _)) = punct("?", "").parse(rest) else { return Ok((rest, cond)) };
    let (rest, then) = require("an expression", |i| ternary(i, no_div)).parse(rest)?;
    let (rest, _) = require("`:`", sym(':')).parse(rest)?;
    let (rest, otherwise) = require("an expression", |i| ternary(i, no_div)).parse(rest)?;
    let span = cond.span.to(otherwise.span);
    let kind =
        ExprKind::Ternary { cond: boxed(cond), then: boxed(then), otherwise: boxed(otherwise) };
    Ok((rest, Expr { kind, span }))
}

/// Precedence climbing over the binary operators of [`BinaryOp::precedence`].
fn binary(input: Input, min_prec: u8, no_div: bool) -> PResult<Expr> {
    let (mut rest, mut lhs) = unary(input)?;
    let mut chain = Vec::new();
    while let Ok((after, op)) = binary_op(rest, no_div) {
        if op.precedence() < min_prec {
            break;
        }
        chain.push(Nesting::enter(&rest)?);
        let (after, rhs) =
            require("an expression", |i| binary(i, op.precedence() + 1, no_div)).parse(after)?;
        let span = lhs.span.to(rhs.span);
        lhs = Expr { kind: ExprKind::Binary { op, lhs: boxed(lhs), rhs: boxed(rhs) }, span };
        rest = after;
    }
    Ok((rest, lhs))
}

fn binary_op(input: Input, no_div: bool) -> PResult<BinaryOp> {
    use BinaryOp::*;
    // Longest first; `not_before` keeps `+` from matching `+=` or `++`.
    const OPS: [(&str, &str, BinaryOp); 18] = [
        ("||", "", Or),
        ("&&", "", And),
        ("<<", "=", Shl),
        (">>", "=", Shr),
        ("<=", "", Le),
        (">=", "", Ge),
        ("==", "", Eq),
        ("!=", "", Ne),
        ("|", "=", BitOr),
        ("^", "=", BitXor),
        ("&", "=", BitAnd),
        ("<", "<", Lt),
        (">", ">", Gt),
        ("+", "=+", Add),
        ("-", "=-", Sub),
        ("*", "=", Mul),
        ("/", "=", Div),
        ("%", "=", Mod),
    ];
    for (text, not_before, op) in OPS {
        if no_div && op == Div {
            continue;
        }
        if let Ok((rest, _)) = punct(text, not_before).parse(input) {
            return Ok((rest, op));
        }
    }
    fail(input, Reason::Expected("an operator"))
}

/// A unary expression: operators, casts, postfix access and primaries, no
/// binary operators (the ends of a `for` range).
pub fn unary(input: Input) -> PResult<Expr> {
    let (start, _) = skip(input)?;
    for (text, increment) in [("++", true), ("--", false)] {
        if let Ok((rest, _)) = punct(text, "").parse(start) {
            let _level = Nesting::enter(&start)?;
            let (rest, target) = require("an expression", unary).parse(rest)?;
            let kind = ExprKind::Step { increment, prefix: true, target: boxed(target) };
            return Ok((rest, Expr { kind, span: span(&start, &rest) }));
        }
    }
    const OPS: [(&str, &str, UnaryOp); 5] = [
        ("!", "=", UnaryOp::Not),
        ("~", "", UnaryOp::BitNot),
        ("-", "=>", UnaryOp::Neg),
        ("*", "=", UnaryOp::Deref),
        ("&", "&=", UnaryOp::AddrOf),
    ];
    for (text, not_before, op) in OPS {
        if let Ok((rest, _)) = punct(text, not_before).parse(start) {
            let _level = Nesting::enter(&start)?;
            let (rest, operand) = require("an expression", unary).parse(rest)?;
            let kind = ExprKind::Unary { op, expr: boxed(operand) };
            return Ok((rest, Expr { kind, span: span(&start, &rest) }));
        }
    }
    if let Ok((rest, ty)) = parenthesized_type(start) {
        let _level = Nesting::enter(&start)?;
        let (rest, operand) = require("an expression", unary).parse(rest)?;
        let kind = ExprKind::Cast { ty, expr: boxed(operand) };
        return Ok((rest, Expr { kind, span: span(&start, &rest) }));
    }
    postfix(start)
}

/// Integer type names a cast may use without a `*`.
const SCALAR_TYPES: [&str; 13] = [
    "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "char", "short",
    "int", "long", "bool",
];

/// A C type: `uint32`, `struct task_struct *`, `void *`. A plain name that is
/// not a scalar type is only a type when a `*` follows, so `(pid)` stays an
/// expression.
pub fn type_name(input: Input) -> PResult<TypeName> {
    let (rest, first) = name(input)?;
    let (rest, name, needs_pointer) = if matches!(first, "struct" | "union" | "enum") {
        let (rest, tag) = require("a type name", name).parse(rest)?;
        (rest, format!("{first} {tag}"), false)
    } else if first == "unsigned" || first == "signed" {
        let (rest, base) = opt(name).parse(rest)?;
        (rest, base.map_or(first.to_string(), |b| format!("{first} {b}")), false)
    } else {
        (rest, first.to_string(), !SCALAR_TYPES.contains(&first))
    };
    let mut rest = rest;
    let mut pointers = 0u8;
    while let Ok((after, _)) = sym('*').parse(rest) {
        pointers = pointers.saturating_add(1);
        rest = after;
    }
    if needs_pointer && pointers == 0 {
        return fail(input, Reason::Expected("a type"));
    }
    Ok((rest, TypeName { name, pointers }))
}

fn parenthesized_type(input: Input) -> PResult<TypeName> {
    let (rest, _) = sym('(').parse(input)?;
    let (rest, ty) = type_name(rest)?;
    let (rest, _) = sym(')').parse(rest)?;
    Ok((rest, ty))
}

fn postfix(input: Input) -> PResult<Expr> {
    let (start, _) = skip(input)?;
    let (mut rest, mut e) = primary(start)?;
    let mut chain = Vec::new();
    loop {
        let kind = if let Ok((after, _)) = punct("->", "").parse(rest) {
            let (after, field) = require("a field name", name).parse(after)?;
            rest = after;
            ExprKind::Field { expr: boxed(e), field: field.into(), arrow: true }
        // Not `..`, which ends the start of a `for` range.
        } else if let Ok((after, _)) = punct(".", ".").parse(rest) {
            let (after, field) = require("a field name", field_name).parse(after)?;
            rest = after;
            ExprKind::Field { expr: boxed(e), field, arrow: false }
        } else if let Ok((after, _)) = sym('[').parse(rest) {
            let (after, index) = require("an expression", expr).parse(after)?;
            let (after, _) = require("`]`", sym(']')).parse(after)?;
            rest = after;
            ExprKind::Index { expr: boxed(e), index: boxed(index) }
        } else if let Ok((after, increment)) = step_suffix(rest) {
            rest = after;
            ExprKind::Step { increment, prefix: false, target: boxed(e) }
        } else {
            return Ok((rest, e));
        };
        chain.push(Nesting::enter(&rest)?);
        e = Expr { kind, span: span(&start, &rest) };
    }
}

fn step_suffix(input: Input) -> PResult<bool> {
    if let Ok((rest, _)) = punct("++", "").parse(input) {
        return Ok((rest, true));
    }
    punct("--", "").parse(input).map(|(rest, _)| (rest, false))
}

/// A struct field name or a tuple index.
fn field_name(input: Input) -> PResult<String> {
    let (input, _) = skip(input)?;
    if let Ok((rest, n)) = raw_name(input) {
        return Ok((rest, n.to_string()));
    }
    integer(input).map(|(rest, n)| (rest, n.to_string()))
}

fn primary<'a>(start: Input<'a>) -> PResult<'a, Expr> {
    let done = |rest: Input<'a>, kind| -> PResult<'a, Expr> {
        Ok((rest, Expr { kind, span: span(&start, &rest) }))
    };
    let first = start.fragment().chars().next();
    match first {
        Some(c) if c.is_ascii_digit() => {
            let (rest, n) = number(start)?;
            done(rest, ExprKind::Int(n))
        }
        Some('"') => {
            let (rest, s) = string(start)?;
            done(rest, ExprKind::Str(s))
        }
        Some('(') => parenthesized(start),
        Some('@') => {
            let after_at = nom::Input::take_from(&start, 1);
            let (rest, map_name) = opt(raw_name).parse(after_at)?;
            let (rest, keys) = map_keys(rest)?;
            let name = map_name.unwrap_or_default().to_string();
            done(rest, ExprKind::Map { name, keys })
        }
        Some('$') => {
            let after = nom::Input::take_from(&start, 1);
            if let Ok((rest, _)) = nom::character::complete::char::<_, ()>('#').parse(after) {
                return done(rest, ExprKind::PositionalCount);
            }
            if after.fragment().starts_with(|c: char| c.is_ascii_digit()) {
                let (rest, n) = integer(after)?;
                return match u32::try_from(n) {
                    Ok(n) => done(rest, ExprKind::Positional(n)),
                    Err(_) => {
                        fatal(start, Reason::Invalid("positional parameter out of range".into()))
                    }
                };
            }
            let (rest, var) = require("a variable name", raw_name).parse(after)?;
            done(rest, ExprKind::Var(var.into()))
        }
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {
            let (rest, ident) = raw_name(start)?;
            if ident == "sizeof" {
                return sizeof(start, rest);
            }
            if RESERVED.contains(&ident) {
                return fail(start, Reason::Expected("an expression"));
            }
            // Booleans (bpftrace 0.21+; 0.17 reads them as the kernel's enum
            // constants): integers to every later stage.
            if let Some(value) = [("false", 0), ("true", 1)].iter().find(|(w, _)| *w == ident) {
                return done(rest, ExprKind::Int(value.1));
            }
            if let Ok((after, _)) = sym('(').parse(rest) {
                let (after, args) = call_args(after)?;
                // Newer bpftrace writes `nsecs()` for the builtin `nsecs`.
                if ident == "nsecs" && args.is_empty() {
                    return done(after, ExprKind::Ident(ident.into()));
                }
                return done(after, ExprKind::Call { name: ident.into(), args });
            }
            done(rest, ExprKind::Ident(ident.into()))
        }
        _ => fail(start, Reason::Expected("an expression")),
    }
}

/// `( expr )` or a tuple `( expr, expr, ... )`.
fn parenthesized(start: Input) -> PResult<Expr> {
    let (rest, _) = sym('(').parse(start)?;
    let (rest, first) = require("an expression", expr).parse(rest)?;
    if let Ok((rest, _)) = sym(')').parse(rest) {
        return Ok((rest, first));
    }
    let mut items = vec![first];
    let mut rest = rest;
    while let Ok((after, _)) = sym(',').parse(rest) {
        let (after, item) = require("an expression", expr).parse(after)?;
        items.push(item);
        rest = after;
    }
    let (rest, _) =
        require(if items.len() == 1 { "`)`" } else { "`,` or `)`" }, sym(')')).parse(rest)?;
    Ok((rest, Expr { kind: ExprKind::Tuple(items), span: span(&start, &rest) }))
}

/// `[k1, k2]` after a map name, or nothing.
fn map_keys(input: Input) -> PResult<Vec<Expr>> {
    let Ok((rest, _)) = sym('[').parse(input) else { return Ok((input, Vec::new())) };
    let (rest, first) = require("a map key", expr).parse(rest)?;
    let mut keys = vec![first];
    let mut rest = rest;
    while let Ok((after, _)) = sym(',').parse(rest) {
        let (after, key) = require("a map key", expr).parse(after)?;
        keys.push(key);
        rest = after;
    }
    let (rest, _) = require("`,` or `]`", sym(']')).parse(rest)?;
    Ok((rest, keys))
}

/// Arguments after `(`, through the closing `)`.
fn call_args(input: Input) -> PResult<Vec<Expr>> {
    let (rest, args) = separated_list0(sym(','), expect("an argument", expr)).parse(input)?;
    let (rest, _) =
        require(if args.is_empty() { "an argument or `)`" } else { "`,` or `)`" }, sym(')'))
            .parse(rest)?;
    Ok((rest, args))
}

/// `sizeof(TYPE)` or `sizeof(expr)`; `rest` is just past the keyword.
fn sizeof<'a>(start: Input<'a>, rest: Input<'a>) -> PResult<'a, Expr> {
    let (rest, _) = require("`(`", sym('(')).parse(rest)?;
    let typed = type_name(rest).and_then(|(after, ty)| sym(')').parse(after).map(|(a, _)| (a, ty)));
    if let Ok((after, ty)) = typed {
        return Ok((after, Expr { kind: ExprKind::SizeofType(ty), span: span(&start, &after) }));
    }
    let (rest, arg) = require("a type or an expression", expr).parse(rest)?;
    let (rest, _) = require("`)`", sym(')')).parse(rest)?;
    let kind = ExprKind::Call { name: "sizeof".into(), args: vec![arg] };
    Ok((rest, Expr { kind, span: span(&start, &rest) }))
}
