//! Maps are used consistently across the program: one number of keys, and
//! one kind of value (a given aggregation, an integer, or a string).
//! `$variables` keep one kind of value within their probe.

use std::collections::{HashMap, hash_map::Entry};

use super::error::{CheckError, CheckErrorKind};
use crate::lang::{
    ast::{self, Expr, ExprKind, ForIter, Program, Span, StmtKind},
    catalog::{self, Yields},
};

/// What a map holds, as far as assignments show it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Value {
    Aggregation(String),
    Integer,
    String,
    Stack,
}

impl Value {
    fn describe(&self) -> String {
        match self {
            Value::Aggregation(f) => format!("{f}()"),
            Value::Integer => "integer".into(),
            Value::String => "string".into(),
            Value::Stack => "stack".into(),
        }
    }
}

/// Map functions that act on a whole map and take it without keys.
const WHOLE_MAP_FUNCTIONS: [&str; 3] = ["clear", "zero", "print"];

/// The value kind of an assigned expression, when it is certain.
fn value_of(e: &Expr) -> Option<Value> {
    let known = |y| match y {
        Some(Yields::Integer) => Some(Value::Integer),
        Some(Yields::String) => Some(Value::String),
        Some(Yields::Stack) => Some(Value::Stack),
        _ => None,
    };
    match &e.kind {
        ExprKind::Call { name, .. } if catalog::is_aggregation(name) => {
            Some(Value::Aggregation(name.clone()))
        }
        ExprKind::Call { name, .. } => known(catalog::yields(name, true)),
        ExprKind::Ident(name) => known(catalog::yields(name, false)),
        ExprKind::Str(_) => Some(Value::String),
        ExprKind::Int(_) | ExprKind::Binary { .. } => Some(Value::Integer),
        _ => None,
    }
}

#[derive(Default)]
struct MapUse {
    keys: Option<usize>,
    value: Option<Value>,
}

pub fn check(program: &Program, errors: &mut Vec<CheckError>) {
    let mut maps: HashMap<String, MapUse> = HashMap::new();
    for probe in &program.probes {
        if let Some(pred) = &probe.predicate {
            uses(pred, &mut maps, errors);
        }
        let mut vars: HashMap<String, MapUse> = HashMap::new();
        let mut stmts = Vec::new();
        probe.body.each_stmt(&mut |stmt| stmts.push(stmt));
        for stmt in stmts {
            // The map a `for` walks is used whole, not as an element.
            let walked = match &stmt.kind {
                StmtKind::For { iter: ForIter::Map(map), .. } => Some(map.span.offset),
                _ => None,
            };
            for e in stmt.exprs().into_iter().filter(|e| Some(e.span.offset) != walked) {
                uses(e, &mut maps, errors);
            }
            match &stmt.kind {
                StmtKind::Assign { target, op, value } => {
                    let slot = match &target.kind {
                        ExprKind::Map { name, .. } => {
                            (format!("@{name}"), maps.entry(name.clone()))
                        }
                        ExprKind::Var(name) => (format!("${name}"), vars.entry(name.clone())),
                        _ => continue,
                    };
                    assignment(slot, target.span, op.is_some(), value, errors);
                }
                StmtKind::Let { var, value: Some(value), .. } => {
                    let slot = (format!("${var}"), vars.entry(var.clone()));
                    assignment(slot, stmt.span, false, value, errors);
                }
                _ => {}
            }
        }
    }
}

/// Key counts of every map in `root`, and `++`/`--` on aggregations.
fn uses(root: &Expr, maps: &mut HashMap<String, MapUse>, errors: &mut Vec<CheckError>) {
    // Map arguments that are not an element as written: whole maps, and the
    // map of `delete(@m, key)`, whose element is counted at the call.
    let mut not_elements = Vec::new();
    root.each(&mut |e| match &e.kind {
        ExprKind::Call { name, args } if WHOLE_MAP_FUNCTIONS.contains(&name.as_str()) => {
            not_elements.extend(args.first().map(|a| a.span.offset));
        }
        ExprKind::Call { name, args }
            if matches!(name.as_str(), "delete" | "has_key") && args.len() == 2 =>
        {
            if let Some(Expr { kind: ExprKind::Map { name, keys }, span }) = ast::map_element(args)
            {
                not_elements.push(args[0].span.offset);
                key_count(maps, errors, &name, keys.len(), span);
            }
        }
        ExprKind::Map { name, keys } if !not_elements.contains(&e.span.offset) => {
            key_count(maps, errors, name, keys.len(), e.span)
        }
        ExprKind::Step { target, .. } => {
            if let ExprKind::Map { name, .. } = &target.kind
                && let Some(Value::Aggregation(f)) = maps.get(name).and_then(|m| m.value.clone())
            {
                let kind = CheckErrorKind::AggregationUpdate { name: name.clone(), function: f };
                errors.push(CheckError { kind, span: e.span });
            }
        }
        _ => {}
    });
}

/// Map `name` used with `got` keys at `span`: the same count as before, if any.
fn key_count(
    maps: &mut HashMap<String, MapUse>,
    errors: &mut Vec<CheckError>,
    name: &str,
    got: usize,
    span: Span,
) {
    let entry = maps.entry(name.to_string()).or_default();
    match entry.keys {
        None => entry.keys = Some(got),
        Some(expected) if expected != got => {
            let kind = CheckErrorKind::MapKeys { name: name.to_string(), expected, got };
            errors.push(CheckError { kind, span });
        }
        Some(_) => {}
    }
}

/// One value kind per map or variable; `slot` is its name (with sigil) and entry.
fn assignment(
    (name, entry): (String, Entry<'_, String, MapUse>),
    target: Span,
    compound: bool,
    value: &Expr,
    errors: &mut Vec<CheckError>,
) {
    let entry = entry.or_default();
    if let (true, Some(Value::Aggregation(f))) = (compound, &entry.value) {
        let name = name.trim_start_matches('@').to_string();
        let kind = CheckErrorKind::AggregationUpdate { name, function: f.clone() };
        errors.push(CheckError { kind, span: target });
        return;
    }
    let Some(new) = value_of(value) else { return };
    match &entry.value {
        None => entry.value = Some(new),
        Some(existing) if *existing != new => {
            let kind = CheckErrorKind::ValueKind {
                name,
                existing: existing.describe(),
                new: new.describe(),
            };
            errors.push(CheckError { kind, span: value.span });
        }
        Some(_) => {}
    }
}
