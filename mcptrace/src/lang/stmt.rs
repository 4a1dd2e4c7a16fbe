//! Statements and blocks: assignments, if/else, loops, jumps, expression statements.

use nom::Parser;

use super::{
    ast::{BinaryOp, Block, Else, Expr, ExprKind, ForIter, Stmt, StmtKind, TypeName},
    expr::{expr, type_name, unary},
    lexical::{
        Input, Nesting, PResult, Reason, SyntaxError, expect, keyword, name, peek_char, punct,
        raw_name, require, skip, span, sym,
    },
};

/// `{ statements }`, where statements are separated by `;`. Statements that
/// end in a block (if, while, unroll) need no `;`.
pub fn block(input: Input) -> PResult<Block> {
    let (start, _) = skip(input)?;
    let (mut rest, _) = sym('{').parse(start)?;
    // block → statement → if/while → block: a deep path, counted double.
    let _level = Nesting::enter_weighted(&start, 2)?;
    let mut stmts = Vec::new();
    loop {
        if let Ok((after, _)) = sym('}').parse(rest) {
            return Ok((after, Block { stmts, span: span(&start, &after) }));
        }
        let (after, stmt) = require("a statement or `}`", statement).parse(rest)?;
        let ends_in_block = matches!(
            stmt.kind,
            StmtKind::If { .. }
                | StmtKind::While { .. }
                | StmtKind::Unroll { .. }
                | StmtKind::For { .. }
        );
        stmts.push(stmt);
        rest = match sym(';').parse(after) {
            Ok((after, _)) => after,
            Err(_) if ends_in_block || peek_char('}').parse(after).is_ok() => after,
            Err(_) => {
                let (at, _) = skip(after)?;
                return Err(nom::Err::Failure(SyntaxError::at(
                    &at,
                    Reason::Expected("`;` or `}`"),
                )));
            }
        };
    }
}

fn statement<'a>(input: Input<'a>) -> PResult<'a, Stmt> {
    let (start, _) = skip(input)?;
    let done = |rest: Input<'a>, kind| -> PResult<'a, Stmt> {
        Ok((rest, Stmt { kind, span: span(&start, &rest) }))
    };
    if let Ok((rest, _)) = keyword("if").parse(start) {
        return if_statement(start, rest);
    }
    if let Ok((rest, _)) = keyword("let").parse(start) {
        let (rest, kind) = declaration(rest)?;
        return done(rest, kind);
    }
    if let Ok((rest, _)) = keyword("while").parse(start) {
        let (rest, cond) = condition(rest)?;
        let (rest, body) = require("`{`", block).parse(rest)?;
        return done(rest, StmtKind::While { cond, body });
    }
    if let Ok((rest, _)) = keyword("for").parse(start) {
        let (rest, (var, iter)) = for_header(rest)?;
        let (rest, body) = require("`{`", block).parse(rest)?;
        return done(rest, StmtKind::For { var, iter, body });
    }
    if let Ok((rest, _)) = keyword("unroll").parse(start) {
        let (rest, count) = condition(rest)?;
        let (rest, body) = require("`{`", block).parse(rest)?;
        return done(rest, StmtKind::Unroll { count, body });
    }
    for (word, kind) in
        [("break", StmtKind::Break), ("continue", StmtKind::Continue), ("return", StmtKind::Return)]
    {
        if let Ok((rest, _)) = keyword(word).parse(start) {
            return done(rest, kind);
        }
    }
    let (rest, target) = expect("a statement", expr).parse(start)?;
    let Ok((rest, op)) = assign_op(rest) else { return done(rest, StmtKind::Expr(target)) };
    if !matches!(target.kind, ExprKind::Map { .. } | ExprKind::Var(_)) {
        return Err(nom::Err::Failure(SyntaxError::at(
            &start,
            Reason::Invalid("only maps and $variables can be assigned to".into()),
        )));
    }
    let (rest, value) = require("an expression", expr).parse(rest)?;
    done(rest, StmtKind::Assign { target, op, value })
}

/// After `let`: `$name`, then `: TYPE` and `= value`, each optional.
fn declaration(input: Input) -> PResult<StmtKind> {
    let (rest, _) = require("`$` and a variable name", sym('$')).parse(input)?;
    let (rest, var) = require("a variable name", raw_name).parse(rest)?;
    let (rest, ty) = match sym(':').parse(rest) {
        Ok((after, _)) => {
            let (after, ty) = require("a type", declared_type).parse(after)?;
            (after, Some(ty))
        }
        Err(_) => (rest, None),
    };
    let (rest, value) = match punct("=", "=").parse(rest) {
        Ok((after, _)) => {
            let (after, value) = require("an expression", expr).parse(after)?;
            (after, Some(value))
        }
        Err(_) => (rest, None),
    };
    Ok((rest, StmtKind::Let { var: var.into(), ty, value }))
}

/// A declared type: a C type as casts take it, or any bare name (`string`),
/// which after `:` cannot be mistaken for an expression.
fn declared_type(input: Input) -> PResult<TypeName> {
    if let Ok(parsed) = type_name(input) {
        return Ok(parsed);
    }
    let (rest, name) = name(input)?;
    Ok((rest, TypeName { name: name.into(), pointers: 0 }))
}

/// After `for`: `($var : @map)` or `($var : start..end)`.
fn for_header(input: Input) -> PResult<(String, ForIter)> {
    let (rest, _) = require("`(`", sym('(')).parse(input)?;
    let (rest, _) = require("`$` and a variable name", sym('$')).parse(rest)?;
    let (rest, var) = require("a variable name", raw_name).parse(rest)?;
    let (rest, _) = require("`:`", sym(':')).parse(rest)?;
    let (at, _) = skip(rest)?;
    let (rest, first) = require("a map or a range", unary).parse(at)?;
    let (rest, iter) = match punct("..", ".").parse(rest) {
        Ok((after, _)) => {
            let (after, end) = require("the end of the range", unary).parse(after)?;
            (after, ForIter::Range { start: first, end })
        }
        Err(_) if matches!(&first.kind, ExprKind::Map { keys, .. } if keys.is_empty()) => {
            (rest, ForIter::Map(first))
        }
        Err(_) => {
            return Err(nom::Err::Failure(SyntaxError::at(
                &at,
                Reason::Invalid("a for loop walks a whole map (`@m`) or a range (`a..b`)".into()),
            )));
        }
    };
    let (rest, _) = require("`)`", sym(')')).parse(rest)?;
    Ok((rest, (var.into(), iter)))
}

/// `( expr )` after `if`, `while` or `unroll`.
fn condition(input: Input) -> PResult<Expr> {
    let (rest, _) = require("`(`", sym('(')).parse(input)?;
    let (rest, cond) = require("an expression", expr).parse(rest)?;
    let (rest, _) = require("`)`", sym(')')).parse(rest)?;
    Ok((rest, cond))
}

fn if_statement<'a>(start: Input<'a>, rest: Input<'a>) -> PResult<'a, Stmt> {
    let (rest, cond) = condition(rest)?;
    let (rest, then) = require("`{`", block).parse(rest)?;
    let (rest, otherwise) = match keyword("else").parse(rest) {
        Err(_) => (rest, None),
        Ok((after, _)) => {
            let (else_start, _) = skip(after)?;
            if let Ok((after, _)) = keyword("if").parse(else_start) {
                let (after, nested) = if_statement(else_start, after)?;
                (after, Some(Else::If(Box::new(nested))))
            } else {
                let (after, b) = require("`{` or `if`", block).parse(else_start)?;
                (after, Some(Else::Block(b)))
            }
        }
    };
    let kind = StmtKind::If { cond, then, otherwise };
    Ok((rest, Stmt { kind, span: span(&start, &rest) }))
}

/// `=` or a compound assignment operator; `None` for plain `=`.
fn assign_op(input: Input) -> PResult<Option<BinaryOp>> {
    use BinaryOp::*;
    const OPS: [(&str, BinaryOp); 10] = [
        ("<<=", Shl),
        (">>=", Shr),
        ("+=", Add),
        ("-=", Sub),
        ("*=", Mul),
        ("/=", Div),
        ("%=", Mod),
        ("&=", BitAnd),
        ("|=", BitOr),
        ("^=", BitXor),
    ];
    for (text, op) in OPS {
        if let Ok((rest, _)) = punct(text, "").parse(input) {
            return Ok((rest, Some(op)));
        }
    }
    punct("=", "=").parse(input).map(|(rest, _)| (rest, None))
}
