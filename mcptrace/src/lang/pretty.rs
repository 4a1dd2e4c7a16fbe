//! Program text from a syntax tree. Parsing the output gives back the same
//! tree: parentheses appear exactly where precedence needs them.

use std::fmt::Write;

use super::{
    ast::{
        AttachPoint, Block, ConfigValue, Else, Expr, ExprKind, ForIter, Program, Stmt, StmtKind,
        TypeName,
    },
    probe::is_part_char,
};

pub fn program(p: &Program) -> String {
    let mut out = String::new();
    for item in &p.preamble {
        out.push_str(&item.text);
        out.push('\n');
    }
    if !p.config.is_empty() {
        if !p.preamble.is_empty() {
            out.push('\n');
        }
        out.push_str("config = {\n");
        for entry in &p.config {
            let _ = writeln!(out, "    {} = {};", entry.key, config_value(&entry.value));
        }
        out.push_str("}\n");
    }
    for (i, probe) in p.probes.iter().enumerate() {
        if i > 0 || !p.preamble.is_empty() || !p.config.is_empty() {
            out.push('\n');
        }
        let points: Vec<String> = probe.attach_points.iter().map(attach_point).collect();
        out.push_str(&points.join(",\n"));
        if let Some(pred) = &probe.predicate {
            let _ = write!(out, " /{}/", expr_in(pred, true));
        }
        out.push(' ');
        block(&mut out, &probe.body, 0);
        out.push('\n');
    }
    out
}

pub fn config_value(v: &ConfigValue) -> String {
    match v {
        ConfigValue::Int(n) => n.to_string(),
        ConfigValue::Str(s) => quote(s),
        ConfigValue::Bool(b) => b.to_string(),
        ConfigValue::Word(w) => w.clone(),
    }
}

pub fn attach_point(ap: &AttachPoint) -> String {
    let mut out = ap.kind_text.clone();
    for part in &ap.parts {
        out.push(':');
        if !part.is_empty() && part.chars().all(is_part_char) {
            out.push_str(part);
        } else {
            out.push_str(&quote(part));
        }
    }
    out
}

fn block(out: &mut String, b: &Block, depth: usize) {
    if b.stmts.is_empty() {
        out.push_str("{ }");
        return;
    }
    out.push_str("{\n");
    for s in &b.stmts {
        out.push_str(&"  ".repeat(depth + 1));
        stmt(out, s, depth + 1);
        if !matches!(
            s.kind,
            StmtKind::If { .. }
                | StmtKind::While { .. }
                | StmtKind::Unroll { .. }
                | StmtKind::For { .. }
        ) {
            out.push(';');
        }
        out.push('\n');
    }
    out.push_str(&"  ".repeat(depth));
    out.push('}');
}

fn stmt(out: &mut String, s: &Stmt, depth: usize) {
    match &s.kind {
        StmtKind::Expr(e) => out.push_str(&expr(e)),
        StmtKind::Assign { target, op, value } => {
            let op = op.map_or("", |op| op.symbol());
            let _ = write!(out, "{} {op}= {}", expr(target), expr(value));
        }
        StmtKind::Let { var, ty, value } => {
            let _ = write!(out, "let ${var}");
            if let Some(ty) = ty {
                let _ = write!(out, ": {}", type_name(ty));
            }
            if let Some(value) = value {
                let _ = write!(out, " = {}", expr(value));
            }
        }
        StmtKind::If { cond, then, otherwise } => {
            let _ = write!(out, "if ({}) ", expr(cond));
            block(out, then, depth);
            match otherwise {
                None => {}
                Some(Else::Block(b)) => {
                    out.push_str(" else ");
                    block(out, b, depth);
                }
                Some(Else::If(nested)) => {
                    out.push_str(" else ");
                    stmt(out, nested, depth);
                }
            }
        }
        StmtKind::While { cond, body } => {
            let _ = write!(out, "while ({}) ", expr(cond));
            block(out, body, depth);
        }
        StmtKind::Unroll { count, body } => {
            let _ = write!(out, "unroll ({}) ", expr(count));
            block(out, body, depth);
        }
        StmtKind::For { var, iter, body } => {
            let _ = match iter {
                ForIter::Map(map) => write!(out, "for (${var} : {}) ", expr(map)),
                ForIter::Range { start, end } => {
                    write!(
                        out,
                        "for (${var} : {}..{}) ",
                        operand(start, 20, false),
                        operand(end, 20, false)
                    )
                }
            };
            block(out, body, depth);
        }
        StmtKind::Break => out.push_str("break"),
        StmtKind::Continue => out.push_str("continue"),
        StmtKind::Return => out.push_str("return"),
    }
}

/// A string literal that reads back as `s`.
pub fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn type_name(t: &TypeName) -> String {
    if t.pointers == 0 {
        t.name.clone()
    } else {
        format!("{} {}", t.name, "*".repeat(t.pointers as usize))
    }
}

pub fn expr(e: &Expr) -> String {
    expr_in(e, false)
}

/// Binding strength of an expression's outermost operator, C-style.
fn strength(e: &Expr) -> u8 {
    match &e.kind {
        ExprKind::Ternary { .. } => 0,
        ExprKind::Binary { op, .. } => op.precedence(),
        ExprKind::Unary { .. } | ExprKind::Cast { .. } => 20,
        ExprKind::Step { prefix: true, .. } => 20,
        _ => 30,
    }
}

/// `e` printed inside an operator context that needs at least `min` strength.
fn operand(e: &Expr, min: u8, no_div: bool) -> String {
    if strength(e) < min { format!("({})", expr(e)) } else { expr_in(e, no_div) }
}

/// `no_div`: the text sits directly in a predicate, where a bare `/` would end it.
fn expr_in(e: &Expr, no_div: bool) -> String {
    match &e.kind {
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Str(s) => quote(s),
        ExprKind::Ident(name) => name.clone(),
        ExprKind::Positional(n) => format!("${n}"),
        ExprKind::PositionalCount => "$#".into(),
        ExprKind::Var(name) => format!("${name}"),
        ExprKind::Map { name, keys } if keys.is_empty() => format!("@{name}"),
        ExprKind::Map { name, keys } => format!("@{name}[{}]", list(keys)),
        ExprKind::Call { name, args } => format!("{name}({})", list(args)),
        ExprKind::SizeofType(t) => format!("sizeof({})", type_name(t)),
        ExprKind::Tuple(items) => format!("({})", list(items)),
        ExprKind::Unary { op, expr: inner } => format!("{}{}", op.symbol(), prefix_operand(inner)),
        ExprKind::Cast { ty, expr: inner } => {
            format!("({}){}", type_name(ty), prefix_operand(inner))
        }
        ExprKind::Step { increment, prefix, target } => {
            let op = if *increment { "++" } else { "--" };
            if *prefix {
                format!("{op}{}", prefix_operand(target))
            } else {
                format!("{}{op}", operand(target, 30, no_div))
            }
        }
        ExprKind::Field { expr: inner, field, arrow } => {
            format!("{}{}{field}", operand(inner, 30, no_div), if *arrow { "->" } else { "." })
        }
        ExprKind::Index { expr: inner, index } => {
            format!("{}[{}]", operand(inner, 30, no_div), expr(index))
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let p = op.precedence();
            let text = format!(
                "{} {} {}",
                operand(lhs, p, no_div),
                op.symbol(),
                operand(rhs, p + 1, no_div)
            );
            if no_div && *op == super::ast::BinaryOp::Div { format!("({text})") } else { text }
        }
        ExprKind::Ternary { cond, then, otherwise } => format!(
            "{} ? {} : {}",
            operand(cond, 1, no_div),
            expr_in(then, no_div),
            expr_in(otherwise, no_div)
        ),
    }
}

/// The operand of a prefix operator or cast. Another prefix operator follows
/// after a space, so `- -x` never prints as `--x` (and costs no parentheses).
fn prefix_operand(e: &Expr) -> String {
    match strength(e) {
        20 => format!(" {}", expr(e)),
        s if s > 20 => expr(e),
        _ => format!("({})", expr(e)),
    }
}

fn list(items: &[Expr]) -> String {
    items.iter().map(expr).collect::<Vec<_>>().join(", ")
}
