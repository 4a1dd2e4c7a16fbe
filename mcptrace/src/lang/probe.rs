//! The top level: preamble (`#include`, C definitions), the config block,
//! probes with their attach points, predicates and bodies.

use nom::{Input as _, Parser, bytes::complete::take_while1};

use super::{
    ast::{AttachPoint, ConfigEntry, ConfigValue, Preamble, Probe, ProbeKind, Program},
    expr::predicate,
    lexical::{
        Input, PResult, Reason, end, expect, fail, fatal, keyword, number, peek_char, punct,
        raw_name, require, skip, span, string, sym,
    },
    stmt::block,
};

pub fn program(input: Input) -> PResult<Program> {
    let mut preamble = Vec::new();
    // A script's `#!` line says what runs it, and nothing to bpftrace.
    let mut rest = match input.fragment().starts_with("#!") {
        true => input.take_from(input.fragment().find('\n').unwrap_or(input.fragment().len())),
        false => input,
    };
    loop {
        match preamble_item(rest) {
            Ok((after, item)) => {
                preamble.push(item);
                rest = after;
            }
            Err(nom::Err::Error(_)) => break,
            Err(e) => return Err(e),
        }
    }
    let (mut rest, config) = match keyword("config").parse(rest) {
        Ok((after, _)) => config_block(after)?,
        Err(_) => (rest, Vec::new()),
    };
    let mut probes = Vec::new();
    loop {
        if probes.is_empty() || end(rest).is_err() {
            let (after, p) = require("a probe", probe).parse(rest)?;
            probes.push(p);
            rest = after;
        } else {
            let (rest, _) = end(rest)?;
            return Ok((rest, Program { preamble, config, probes }));
        }
    }
}

/// After `config`: `= { key = value; ... }`, the last `;` optional. A
/// value is an integer, a string, `true`/`false` or a bare word.
fn config_block(input: Input) -> PResult<Vec<ConfigEntry>> {
    let (rest, _) = require("`=`", punct("=", "=")).parse(input)?;
    let (mut rest, _) = require("`{`", sym('{')).parse(rest)?;
    let mut entries = Vec::new();
    loop {
        if let Ok((after, _)) = sym('}').parse(rest) {
            return Ok((after, entries));
        }
        let (start, _) = skip(rest)?;
        let (after, key) = require("a config key or `}`", raw_name).parse(start)?;
        let (after, _) = require("`=`", punct("=", "=")).parse(after)?;
        let (at, _) = skip(after)?;
        let (after, value) =
            require("an integer, a string, true, false or a word", config_value).parse(at)?;
        entries.push(ConfigEntry { key: key.into(), value, span: span(&start, &after) });
        rest = match sym(';').parse(after) {
            Ok((after, _)) => after,
            Err(_) => {
                let (after, _) = require("`;` or `}`", peek_char('}')).parse(after)?;
                after
            }
        };
    }
}

fn config_value(input: Input) -> PResult<ConfigValue> {
    if input.fragment().starts_with('"') {
        return string(input).map(|(rest, s)| (rest, ConfigValue::Str(s)));
    }
    if input.fragment().starts_with(|c: char| c.is_ascii_digit()) {
        return number(input).map(|(rest, n)| (rest, ConfigValue::Int(n)));
    }
    let (rest, word) = raw_name(input)?;
    Ok((
        rest,
        match word {
            "true" => ConfigValue::Bool(true),
            "false" => ConfigValue::Bool(false),
            _ => ConfigValue::Word(word.into()),
        },
    ))
}

/// A `#` line, or a C `struct`/`union`/`enum`/`typedef` definition (see
/// [`c_definition_len`]).
fn preamble_item(input: Input) -> PResult<Preamble> {
    let (start, _) = skip(input)?;
    let text = *start.fragment();
    let len = if text.starts_with('#') {
        text.find('\n').unwrap_or(text.len())
    } else if ["struct", "union", "enum", "typedef"].iter().any(|w| {
        text.starts_with(w)
            && !text[w.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
    }) {
        match c_definition_len(text, !text.starts_with("typedef")) {
            Some(len) => len,
            None => {
                return fatal(start, Reason::Invalid("unterminated C definition".into()));
            }
        }
    } else {
        return fail(start, Reason::Unspecified);
    };
    let rest = start.take_from(len);
    Ok((rest, Preamble { text: text[..len].trim_end().to_string(), span: span(&start, &rest) }))
}

/// The length of a C definition: through the `;` that follows its braces,
/// or, for a `struct`/`union`/`enum` (`braced`), through its closing brace
/// and a `;` if one follows, as bpftrace reads them (its scripts often end
/// a struct at the brace).
fn c_definition_len(text: &str, braced: bool) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 && braced {
                    let after = &text[i + 1..];
                    let semicolon = after.trim_start().starts_with(';');
                    let gap = after.len() - after.trim_start().len();
                    return Some(i + 1 + if semicolon { gap + 1 } else { 0 });
                }
            }
            ';' if depth == 0 => return Some(i + 1),
            _ => {}
        }
    }
    None
}

fn probe(input: Input) -> PResult<Probe> {
    let (start, _) = skip(input)?;
    let (mut rest, first) = attach_point(start)?;
    let mut attach_points = vec![first];
    while let Ok((after, _)) = sym(',').parse(rest) {
        rest = after;
        // A comma may end the list, as bpftrace allows: `a:b:c, a:b:d, { ... }`.
        if peek_char('{').parse(after).is_ok() || peek_char('/').parse(after).is_ok() {
            break;
        }
        let (after, ap) = require("an attach point", attach_point).parse(after)?;
        attach_points.push(ap);
        rest = after;
    }
    let (rest, predicate) = match sym('/').parse(rest) {
        Err(_) => (rest, None),
        Ok((after, _)) => {
            let (after, pred) = require("a predicate", predicate).parse(after)?;
            let (after, _) = require("`/`", sym('/')).parse(after)?;
            (after, Some(pred))
        }
    };
    let (rest, body) = require("`{`", block).parse(rest)?;
    Ok((rest, Probe { attach_points, predicate, body, span: span(&start, &rest) }))
}

/// Characters of an unquoted attach point part: paths, wildcards, offsets.
pub fn is_part_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_*?./-+@[]!$".contains(c)
}

fn attach_point(input: Input) -> PResult<AttachPoint> {
    let (start, _) = skip(input)?;
    let (mut rest, kind_text) = expect("a probe type", raw_name).parse(start)?;
    let Some(kind) = ProbeKind::from_name(kind_text) else {
        return fatal(start, Reason::Invalid(format!("unknown probe type `{kind_text}`")));
    };
    let mut parts = Vec::new();
    if !matches!(kind, ProbeKind::Begin | ProbeKind::End) {
        while let Some(after) = rest.fragment().strip_prefix(':').map(|_| rest.take_from(1)) {
            let (after, part) = require("a probe name", part).parse(after)?;
            parts.push(part);
            rest = after;
        }
        if parts.is_empty() {
            return fatal(rest, Reason::Expected("`:` and a probe name"));
        }
    }
    let kind_text = kind_text.to_string();
    Ok((rest, AttachPoint { kind, kind_text, parts, span: span(&start, &rest) }))
}

/// One `:`-separated part: unquoted, or a string literal for paths with odd characters.
fn part(input: Input) -> PResult<String> {
    if input.fragment().starts_with('"') {
        return string(input);
    }
    take_while1(is_part_char).parse(input).map(|(rest, p)| (rest, p.fragment().to_string()))
}
