//! The layout of the C structs and unions a program defines before its
//! probes, for `sizeof`: each member's size and alignment, padding as clang
//! lays them out on LP64 targets (x86-64, arm64), which bpftrace 0.17 has
//! compile the definitions. Understood: the integer, floating and `_Bool`
//! types, pointers, arrays of constant length, structs and unions defined
//! earlier (or nested, anonymous ones included), `const`/`volatile`, and
//! types the program does not define, looked up elsewhere (the kernel's
//! `u64` or `struct task_struct`). Not understood, so left to bpftrace:
//! bit-fields, function pointers, attributes, enum and typedef definitions.

use std::collections::HashMap;

/// A type's size and alignment, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub size: u64,
    pub align: u64,
}

/// A type's layout with, for a struct or union, its members, as C names
/// them: the members of an anonymous member are the record's own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shape {
    pub layout: Layout,
    pub members: Vec<Member>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    /// None for a bit-field, which has no `sizeof`.
    pub layout: Option<Layout>,
}

impl Shape {
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }
}

/// The records a program defines, by C name (`struct Foo`).
#[derive(Debug, Default)]
pub struct Definitions(HashMap<String, Shape>);

impl Definitions {
    /// The definitions of preamble items `items`, types they use without
    /// defining looked up in `known` (`u64`, `struct file`, `enum x`); None
    /// unless every item is a struct or union definition understood here.
    pub fn parse<'a>(
        items: impl IntoIterator<Item = &'a str>,
        known: &dyn Fn(&str) -> Option<Layout>,
    ) -> Option<Definitions> {
        let mut defs = Definitions::default();
        for item in items {
            let tokens = tokens(item)?;
            let [
                Token::Word(keyword @ ("struct" | "union")),
                Token::Word(_),
                Token::Punct('{'),
                ..,
            ] = tokens[..]
            else {
                return None;
            };
            let mut p = Parser { tokens: &tokens[1..], at: 0, defs: &mut defs, known };
            p.record(keyword)?;
            p.eat(Token::Punct(';'));
            if p.at != p.tokens.len() {
                return None;
            }
        }
        Some(defs)
    }

    /// The record C calls `name` (`struct Foo`, `union U`), if defined here.
    pub fn get(&self, name: &str) -> Option<&Shape> {
        self.0.get(name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    Int(u64),
    Punct(char),
}

/// The tokens of `text`, comments dropped; None at anything else.
fn tokens(text: &str) -> Option<Vec<Token<'_>>> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
            continue;
        }
        if let Some(after) = rest.strip_prefix("/*") {
            rest = &after[after.find("*/")? + 2..];
            continue;
        }
        let Some(c) = rest.chars().next() else { return Some(out) };
        let word_len =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if c.is_ascii_digit() {
            let digits = &rest[..word_len];
            let n = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16).ok()?,
                None => digits.parse().ok()?,
            };
            out.push(Token::Int(n));
            rest = &rest[word_len..];
        } else if word_len > 0 {
            out.push(Token::Word(&rest[..word_len]));
            rest = &rest[word_len..];
        } else if "{};*[],:()".contains(c) {
            out.push(Token::Punct(c));
            rest = &rest[1..];
        } else {
            return None;
        }
    }
}

/// What a type specifier names.
enum Base {
    Complete(Shape),
    /// `void`, or a struct or union declared but not defined: only
    /// pointers to it have a size.
    Incomplete,
}

/// The words of C's arithmetic type names.
const ARITHMETIC: &[&str] =
    &["signed", "unsigned", "char", "short", "int", "long", "float", "double", "_Bool", "void"];

struct Parser<'t, 'd> {
    tokens: &'t [Token<'t>],
    at: usize,
    defs: &'d mut Definitions,
    known: &'d dyn Fn(&str) -> Option<Layout>,
}

impl<'t> Parser<'t, '_> {
    fn peek(&self) -> Option<Token<'t>> {
        self.tokens.get(self.at).copied()
    }

    fn eat(&mut self, t: Token) -> bool {
        let found = self.peek() == Some(t);
        self.at += usize::from(found);
        found
    }

    fn word(&mut self) -> Option<&'t str> {
        let Some(Token::Word(w)) = self.peek() else { return None };
        self.at += 1;
        Some(w)
    }

    fn qualifiers(&mut self) {
        while self.eat(Token::Word("const")) || self.eat(Token::Word("volatile")) {}
    }

    /// A type specifier, and whether it is an untagged struct or union
    /// definition (which, without a declarator, is an anonymous member).
    fn type_spec(&mut self) -> Option<(Base, bool)> {
        self.qualifiers();
        let first = self.word()?;
        let spec = match first {
            "struct" | "union" => self.record(first)?,
            "enum" => {
                let tag = self.word()?;
                (Base::Complete(scalar((self.known)(&format!("enum {tag}"))?)), false)
            }
            w if ARITHMETIC.contains(&w) => {
                let mut words = vec![w];
                while let Some(Token::Word(w)) = self.peek()
                    && (ARITHMETIC.contains(&w) || w == "const" || w == "volatile")
                {
                    words.push(w);
                    self.at += 1;
                }
                words.retain(|w| ARITHMETIC.contains(w));
                match words.as_slice() {
                    ["void"] => (Base::Incomplete, false),
                    _ => (Base::Complete(scalar(arithmetic(&words)?)), false),
                }
            }
            typedef => (Base::Complete(scalar((self.known)(typedef)?)), false),
        };
        self.qualifiers();
        Some(spec)
    }

    /// After `struct` or `union` (`keyword`): a tag, a braced definition,
    /// or both.
    fn record(&mut self, keyword: &str) -> Option<(Base, bool)> {
        let tag = self.word().map(|t| format!("{keyword} {t}"));
        if !self.eat(Token::Punct('{')) {
            let name = tag?;
            return Some(match self.defs.get(&name) {
                Some(shape) => (Base::Complete(shape.clone()), false),
                None => (
                    (self.known)(&name).map_or(Base::Incomplete, |l| Base::Complete(scalar(l))),
                    false,
                ),
            });
        }
        let mut fields = Vec::new();
        let mut members = Vec::new();
        while !self.eat(Token::Punct('}')) {
            self.declaration(&mut fields, &mut members)?;
        }
        let shape = Shape { layout: combine(&fields, keyword == "union"), members };
        let untagged = tag.is_none();
        if let Some(name) = tag {
            // A second definition is clang's error to report.
            if self.defs.0.insert(name, shape.clone()).is_some() {
                return None;
            }
        }
        Some((Base::Complete(shape), untagged))
    }

    /// One member declaration, through its `;`: the layouts it adds to
    /// `fields` and the names to `members`.
    fn declaration(&mut self, fields: &mut Vec<Layout>, members: &mut Vec<Member>) -> Option<()> {
        let (base, untagged) = self.type_spec()?;
        if self.eat(Token::Punct(';')) {
            // `struct { ... };` is an anonymous member; `struct T { ... };`
            // only defines its tag.
            if let (Base::Complete(shape), true) = (base, untagged) {
                fields.push(shape.layout);
                members.extend(shape.members);
            }
            return Some(());
        }
        loop {
            let mut pointers = 0u32;
            while self.eat(Token::Punct('*')) {
                pointers += 1;
                self.qualifiers();
            }
            let name = self.word()?.to_owned();
            let mut count = 1u64;
            while self.eat(Token::Punct('[')) {
                // `[]`, a flexible array member, has no size of its own.
                let len = match self.peek()? {
                    Token::Int(n) => {
                        self.at += 1;
                        n
                    }
                    _ => 0,
                };
                count = count.checked_mul(len)?;
                self.eat(Token::Punct(']')).then_some(())?;
            }
            let one = match (&base, pointers) {
                (_, 1..) => Layout { size: 8, align: 8 },
                (Base::Complete(shape), 0) => shape.layout,
                (Base::Incomplete, 0) => return None,
            };
            let layout = Layout { size: one.size.checked_mul(count)?, align: one.align };
            fields.push(layout);
            members.push(Member { name, layout: Some(layout) });
            // A bit-field's `:` or a function pointer's `(` ends it here.
            match self.peek()? {
                Token::Punct(',') => self.at += 1,
                Token::Punct(';') => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

fn scalar(layout: Layout) -> Shape {
    Shape { layout, members: Vec::new() }
}

/// The layout of an arithmetic type named by `words` (`unsigned long int`),
/// in any order C allows; None for a combination it does not.
fn arithmetic(words: &[&str]) -> Option<Layout> {
    let count = |w: &str| words.iter().filter(|x| **x == w).count();
    let (signs, longs, ints) = (count("signed") + count("unsigned"), count("long"), count("int"));
    let bases: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !["signed", "unsigned", "long", "int"].contains(w))
        .collect();
    // `int` may follow `short` and `long`, and nothing else.
    let int_fits = ints == 0 || (ints == 1 && matches!(bases[..], [] | ["short"]));
    if signs > 1 || longs > 2 || bases.len() > 1 || !int_fits {
        return None;
    }
    let size = match (bases.first().copied(), longs) {
        (None, 0) => 4,
        (None, _) => 8,
        (Some("char"), 0) => 1,
        (Some("short"), 0) => 2,
        (Some("_Bool"), 0) if signs == 0 => 1,
        (Some("float"), 0) if signs == 0 => 4,
        (Some("double"), 0) if signs == 0 => 8,
        (Some("double"), 1) if signs == 0 => 16,
        _ => return None,
    };
    Some(Layout { size, align: size })
}

/// A struct's (or a union's) layout from its members': each at the next
/// offset its alignment allows, the whole padded to the largest alignment.
fn combine(fields: &[Layout], union: bool) -> Layout {
    let align = fields.iter().map(|f| f.align).max().unwrap_or(1);
    let end = fields.iter().fold(0, |offset, f| match union {
        true => offset.max(f.size),
        false => offset.next_multiple_of(f.align) + f.size,
    });
    Layout { size: end.next_multiple_of(align), align }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel types the tests use.
    fn kernel(name: &str) -> Option<Layout> {
        match name {
            "u64" => Some(Layout { size: 8, align: 8 }),
            "struct task_struct" => Some(Layout { size: 3264, align: 8 }),
            "enum pid_type" => Some(Layout { size: 4, align: 4 }),
            _ => None,
        }
    }

    fn size(preamble: &[&str], name: &str) -> Option<u64> {
        Definitions::parse(preamble.iter().copied(), &kernel)?.get(name).map(|s| s.layout.size)
    }

    #[test]
    fn padding_and_alignment_follow_c() {
        assert_eq!(size(&["struct Foo { int x; char c; }"], "struct Foo"), Some(8));
        assert_eq!(size(&["struct A { char c; long l; short s; };"], "struct A"), Some(24));
        assert_eq!(size(&["struct A { char a; char b[3]; }"], "struct A"), Some(4));
        assert_eq!(size(&["struct A { char c; int m[2][3]; }"], "struct A"), Some(28));
        assert_eq!(size(&["struct E { }"], "struct E"), Some(0));
        assert_eq!(size(&["struct F { int n; char data[]; }"], "struct F"), Some(4));
    }

    #[test]
    fn arithmetic_names_in_any_spelling() {
        let s = "struct A { unsigned char a; unsigned long long b; unsigned short s; \
                 long int li; short int si; unsigned u; signed char sc; }";
        assert_eq!(size(&[s], "struct A"), Some(48));
        let s = "struct B { const volatile int x; long double d; _Bool b; float f; double g; }";
        assert_eq!(size(&[s], "struct B"), Some(48));
        assert_eq!(
            arithmetic(&["long", "unsigned", "long", "int"]),
            Some(Layout { size: 8, align: 8 })
        );
        assert_eq!(arithmetic(&["char", "long"]), None);
        assert_eq!(arithmetic(&["char", "int"]), None);
        assert_eq!(arithmetic(&["unsigned", "float"]), None);
    }

    #[test]
    fn pointers_are_eight_bytes_whatever_they_point_to() {
        let s =
            "struct N { char c; struct N *next; struct undefined *u; void *v; char * const *pp; }";
        assert_eq!(size(&[s], "struct N"), Some(40));
    }

    #[test]
    fn earlier_nested_and_kernel_records() {
        let defs = [
            "struct Foo { int x; char c; }",
            "struct Bar { struct Foo f[3]; long l; short s; }",
            "union U { int x; char c[5]; }",
        ];
        assert_eq!(size(&defs, "struct Bar"), Some(40));
        assert_eq!(size(&defs, "union U"), Some(8));
        let s = "struct A { struct task_struct t; char c; u64 v; enum pid_type p; }";
        assert_eq!(size(&[s], "struct A"), Some(3288));
        // A struct used by value must be defined.
        assert_eq!(size(&["struct A { struct undefined u; }"], "struct A"), None);
    }

    #[test]
    fn anonymous_members_lend_their_names() {
        let defs = Definitions::parse(
            ["struct Foo { int x; union { char a; long b; }; struct { char p, q; } in; }"],
            &kernel,
        )
        .unwrap();
        let foo = defs.get("struct Foo").unwrap();
        assert_eq!(foo.layout, Layout { size: 24, align: 8 });
        let sizes: Vec<(&str, u64)> =
            foo.members.iter().map(|m| (m.name.as_str(), m.layout.unwrap().size)).collect();
        assert_eq!(sizes, [("x", 4), ("a", 1), ("b", 8), ("in", 2)]);
        assert_eq!(foo.member("q"), None);
    }

    #[test]
    fn what_is_not_understood_leaves_the_preamble_to_bpftrace() {
        for preamble in [
            "struct A { int f:3; }",
            "struct A { int (*f)(int); }",
            "struct A { uint16 x; }",
            "struct A { int x; } __attribute__((packed))",
            "typedef int myint;",
            "enum E { ONE, TWO }",
            "struct A;",
            "#include <linux/sched.h>",
            "struct A { int x; } struct A { int y; }",
        ] {
            assert!(Definitions::parse([preamble], &kernel).is_none(), "{preamble}");
        }
        assert!(
            Definitions::parse(["struct A { int x; }", "struct A { int y; }"], &kernel).is_none()
        );
    }
}
