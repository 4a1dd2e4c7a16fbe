//! Integer macros of C headers, for the names a program takes from its
//! `#include`s (`MAP_SHARED` after `#include <linux/mman.h>`), as bpftrace
//! 0.17 has clang expand them. Read: the program's own `#define` lines and
//! the named headers with the headers they include, in order, up to
//! [`MAX_FILES`]; object-like `#define NAME value` whose value is an integer
//! expression (literals, other such macros, parentheses, unary `- ~ !` and
//! the binary operators of C). Left out: function-like macros, casts and
//! `sizeof` in values, string and floating-point macros; conditionals are
//! not evaluated — every branch is read and the first definition of a name
//! wins, which suits the `#ifndef NAME` guards headers override defaults by.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
};

/// Headers read for one program at most, nested includes counted (each
/// once: the include guards conditionals would evaluate make a second read
/// add nothing). `<errno.h>` reaches its numbers after 30-odd.
const MAX_FILES: usize = 256;
/// Bytes read of one header at most.
const MAX_BYTES: u64 = 1 << 20;
/// How deep one macro may refer to others (and where a cycle stops).
const MAX_DEPTH: usize = 32;

/// The directories `#include <…>` searches on this host, in clang's order.
pub fn system_dirs() -> Vec<PathBuf> {
    let multiarch = format!("/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    ["/usr/local/include", &multiarch, "/usr/include"].iter().map(PathBuf::from).collect()
}

/// The macros of a program's preamble and the headers it includes.
#[derive(Debug, Default)]
pub struct Macros {
    /// Each macro's value as written, comments and continuations removed.
    defines: HashMap<String, String>,
    /// The headers the program names, as written (`linux/mman.h`).
    pub included: Vec<String>,
    /// How many header files were read, nested ones included.
    pub files: usize,
    /// The header files read so far.
    read: HashSet<PathBuf>,
    /// Headers the program names that are not in any include directory.
    pub missing: Vec<String>,
}

impl Macros {
    /// The macros of preamble lines `lines` (`#include <…>`, `#define`;
    /// others are passed over), headers looked up in `dirs`.
    pub fn read<'a>(lines: impl IntoIterator<Item = &'a str>, dirs: &[PathBuf]) -> Macros {
        let mut macros = Macros::default();
        for line in lines {
            match included(line) {
                Some(name) => {
                    macros.included.push(name.to_owned());
                    if !macros.include(name, None, dirs) {
                        macros.missing.push(name.to_owned());
                    }
                }
                None => logical_lines(line).iter().for_each(|l| macros.scan(l)),
            }
        }
        macros
    }

    /// Reads header `name` (and what it includes); false when it is not
    /// found. `from` is the directory of the including header, searched
    /// first for `"…"` includes.
    fn include(&mut self, name: &str, from: Option<&Path>, dirs: &[PathBuf]) -> bool {
        let Some(path) =
            from.into_iter().map(Path::to_path_buf).chain(dirs.iter().cloned()).find_map(|d| {
                let p = d.join(name);
                p.is_file().then_some(p)
            })
        else {
            return false;
        };
        if self.files >= MAX_FILES || !self.read.insert(path.clone()) {
            return true;
        }
        self.files += 1;
        let Some(text) = read_bounded(&path) else { return true };
        let here = path.parent().map(Path::to_path_buf);
        for line in logical_lines(&text) {
            match included(&line) {
                Some(nested) => {
                    self.include(nested, here.as_deref(), dirs);
                }
                None => self.scan(&line),
            }
        }
        true
    }

    /// Keeps the definition `line` makes, if it is an object-like `#define`
    /// not seen before.
    fn scan(&mut self, line: &str) {
        let Some(rest) = directive(line, "define") else { return };
        let end =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let (name, value) = rest.split_at(end);
        // `NAME(` with no space is a function-like macro.
        if name.is_empty() || value.starts_with('(') {
            return;
        }
        self.defines.entry(name.to_owned()).or_insert_with(|| value.trim().to_owned());
    }

    /// The value of integer macro `name`, where it is one.
    pub fn value(&self, name: &str) -> Option<i128> {
        self.value_at(name, 0)
    }

    fn value_at(&self, name: &str, depth: usize) -> Option<i128> {
        if depth > MAX_DEPTH {
            return None;
        }
        let text = self.defines.get(name)?;
        let tokens = tokens(text)?;
        let mut p = Parser { tokens: &tokens, at: 0, macros: self, depth };
        let v = p.binary(0)?;
        (p.at == tokens.len()).then_some(v)
    }
}

/// The header an `#include <name>` or `#include "name"` line names.
fn included(line: &str) -> Option<&str> {
    let rest = directive(line, "include")?.trim();
    let (open, close) = match rest.chars().next()? {
        '<' => ('<', '>'),
        '"' => ('"', '"'),
        _ => return None,
    };
    let inner = rest.strip_prefix(open)?;
    Some(&inner[..inner.find(close)?])
}

/// What follows `#word` on a preprocessor line (spaces allowed after `#`).
fn directive<'a>(line: &'a str, word: &str) -> Option<&'a str> {
    let rest = line.trim_start().strip_prefix('#')?.trim_start().strip_prefix(word)?;
    rest.starts_with(char::is_whitespace).then(|| rest.trim_start())
}

fn read_bounded(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path).ok()?.take(MAX_BYTES).read_to_string(&mut text).ok()?;
    Some(text)
}

/// Lines with `\`-continuations joined and comments removed.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    let mut in_comment = false;
    for raw in text.lines() {
        let mut rest = raw;
        while !rest.is_empty() {
            if in_comment {
                match rest.find("*/") {
                    Some(i) => {
                        rest = &rest[i + 2..];
                        in_comment = false;
                        line.push(' ');
                    }
                    None => rest = "",
                }
            } else {
                match (rest.find("/*"), rest.find("//")) {
                    (Some(b), l) if l.is_none_or(|l| b < l) => {
                        line.push_str(&rest[..b]);
                        rest = &rest[b + 2..];
                        in_comment = true;
                    }
                    (_, Some(l)) => {
                        line.push_str(&rest[..l]);
                        rest = "";
                    }
                    _ => {
                        line.push_str(rest);
                        rest = "";
                    }
                }
            }
        }
        match line.strip_suffix('\\') {
            Some(joined) => line = joined.to_owned(),
            None if in_comment => {}
            None => out.push(std::mem::take(&mut line)),
        }
    }
    out.push(line);
    out
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Int(i128),
    Name(String),
    Op(&'static str),
}

const OPS: [&str; 20] = [
    "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "(", ")", "+", "-", "*", "/", "%", "&", "|",
    "^", "~", "!",
];

/// The tokens of a macro value; None for anything else (strings, floats,
/// `<`/`>`, `?:`).
fn tokens(text: &str) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let c = rest.chars().next()?;
        if c.is_whitespace() {
            rest = rest.trim_start();
        } else if c.is_ascii_digit() {
            let end = rest.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(rest.len());
            out.push(Token::Int(integer(&rest[..end])?));
            rest = &rest[end..];
        } else if c.is_ascii_alphabetic() || c == '_' {
            let end =
                rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            out.push(Token::Name(rest[..end].to_owned()));
            rest = &rest[end..];
        } else {
            let op = OPS.iter().find(|op| rest.starts_with(**op))?;
            out.push(Token::Op(op));
            rest = &rest[op.len()..];
        }
    }
    Some(out)
}

/// A C integer literal: decimal, `0x` hex, `0` octal, `0b` binary, with
/// `u`/`l` suffixes.
fn integer(text: &str) -> Option<i128> {
    let digits = text.trim_end_matches(['u', 'U', 'l', 'L']);
    let (radix, body) = if let Some(h) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        (16, h)
    } else if let Some(b) = digits.strip_prefix("0b").or(digits.strip_prefix("0B")) {
        (2, b)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    u64::from_str_radix(body, radix).ok().map(i128::from)
}

/// C precedence of the binary operators, loosest first.
const LEVELS: [&[&str]; 10] = [
    &["||"],
    &["&&"],
    &["|"],
    &["^"],
    &["&"],
    &["==", "!="],
    &["<=", ">="],
    &["<<", ">>"],
    &["+", "-"],
    &["*", "/", "%"],
];

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
    macros: &'a Macros,
    depth: usize,
}

impl Parser<'_> {
    fn op(&mut self, ops: &[&str]) -> Option<&'static str> {
        match self.tokens.get(self.at) {
            Some(Token::Op(op)) if ops.contains(op) => {
                self.at += 1;
                Some(op)
            }
            _ => None,
        }
    }

    /// Operators of precedence `level` and tighter, left-associative,
    /// evaluated exactly (in i128, which holds every 64-bit value C has).
    fn binary(&mut self, level: usize) -> Option<i128> {
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut a = self.binary(level + 1)?;
        while let Some(op) = self.op(LEVELS[level]) {
            let b = self.binary(level + 1)?;
            let truth = |t: bool| i128::from(t);
            a = match op {
                "||" => truth(a != 0 || b != 0),
                "&&" => truth(a != 0 && b != 0),
                "|" => a | b,
                "^" => a ^ b,
                "&" => a & b,
                "==" => truth(a == b),
                "!=" => truth(a != b),
                "<=" => truth(a <= b),
                ">=" => truth(a >= b),
                "<<" => a.checked_shl(u32::try_from(b).ok().filter(|b| *b < 64)?)?,
                ">>" => a.checked_shr(u32::try_from(b).ok().filter(|b| *b < 64)?)?,
                "+" => a.checked_add(b)?,
                "-" => a.checked_sub(b)?,
                "*" => a.checked_mul(b)?,
                "/" => a.checked_div(b)?,
                _ => a.checked_rem(b)?,
            };
        }
        Some(a)
    }

    fn unary(&mut self) -> Option<i128> {
        match self.op(&["-", "+", "~", "!"]) {
            Some("-") => Some(-self.unary()?),
            Some("+") => self.unary(),
            Some("~") => Some(!self.unary()?),
            Some(_) => Some(i128::from(self.unary()? == 0)),
            None => self.primary(),
        }
    }

    fn primary(&mut self) -> Option<i128> {
        let token = self.tokens.get(self.at)?.clone();
        self.at += 1;
        match token {
            Token::Int(v) => Some(v),
            Token::Name(name) => self.macros.value_at(&name, self.depth + 1),
            Token::Op("(") => {
                let v = self.binary(0)?;
                self.op(&[")"])?;
                Some(v)
            }
            Token::Op(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program_macros(lines: &[&str]) -> Macros {
        Macros::read(lines.iter().copied(), &[])
    }

    #[test]
    fn integer_macros_evaluate_through_each_other() {
        let m = program_macros(&[
            "#define A 0x10",
            "#define B (A << 2) /* shifted */",
            "#define C (A | B | 1U)",
            "#define D -1",
            "#define E ~0",
            "#define F 010",
            "#define G(x) ((x) + 1)",
            "#define H \"red\"",
            "#define I J",
            "#define J I",
            "#define K 18446744073709551615UL",
        ]);
        assert_eq!(m.value("A"), Some(16));
        assert_eq!(m.value("B"), Some(64));
        assert_eq!(m.value("C"), Some(81));
        assert_eq!(m.value("D"), Some(-1));
        assert_eq!(m.value("E"), Some(-1));
        assert_eq!(m.value("F"), Some(8));
        assert_eq!(m.value("G"), None, "function-like");
        assert_eq!(m.value("H"), None, "a string");
        assert_eq!(m.value("I"), None, "a cycle");
        assert_eq!(m.value("K"), Some(i128::from(u64::MAX)));
        assert_eq!(m.value("Z"), None);
    }

    #[test]
    fn headers_are_read_with_what_they_include() {
        let dir = std::env::temp_dir().join(format!("mcptrace-headers-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("linux")).unwrap();
        std::fs::write(
            dir.join("linux/a.h"),
            "#ifndef A_H\n#define A_H\n#include \"b.h\"\n#define MAP_SHARED\t0x01\t\t/* Share */\n\
             #define BIG (1 << \\\n  4)\n#ifndef MAP_X\n#define MAP_X 9\n#endif\n#include <linux/b.h>\n#endif\n",
        )
        .unwrap();
        // Included twice, read once.
        std::fs::write(dir.join("linux/b.h"), "#define MAP_X 3\n").unwrap();
        let m =
            Macros::read(["#include <linux/a.h>", "#include <nope.h>"], std::slice::from_ref(&dir));
        assert_eq!(m.value("MAP_SHARED"), Some(1));
        assert_eq!(m.value("BIG"), Some(16));
        assert_eq!(m.value("MAP_X"), Some(3), "the first definition wins");
        assert_eq!((m.files, m.included.len()), (2, 2));
        assert_eq!(m.missing, ["nope.h"]);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
