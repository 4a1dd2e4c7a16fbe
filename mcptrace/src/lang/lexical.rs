//! Lexical pieces shared by the grammar: input and error types, whitespace and
//! comments, names, numbers, string literals, punctuation.

use nom::{
    IResult, Input as _, Parser,
    branch::alt,
    bytes::complete::{tag, take_till, take_until, take_while, take_while1},
    character::complete::{char, satisfy},
    combinator::{not, peek, recognize},
    error::ErrorKind,
    multi::many0_count,
    sequence::pair,
};
use nom_locate::LocatedSpan;

use super::ast::Span;

pub type Input<'a> = LocatedSpan<&'a str>;
pub type PResult<'a, O> = IResult<Input<'a>, O, SyntaxError>;

/// Why a parse failed, and where. Alternatives keep the failure that got
/// furthest into the input, which is the one worth reporting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub offset: usize,
    pub line: u32,
    pub col: u32,
    pub reason: Reason,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Something else was expected here.
    Expected(&'static str),
    /// A token that is malformed in itself.
    Invalid(String),
    /// nom failed without saying what it wanted.
    Unspecified,
}

impl SyntaxError {
    pub fn at(input: &Input, reason: Reason) -> Self {
        Self {
            offset: input.location_offset(),
            line: input.location_line(),
            col: input.get_utf8_column() as u32,
            reason,
        }
    }
}

impl<'a> nom::error::ParseError<Input<'a>> for SyntaxError {
    fn from_error_kind(input: Input<'a>, _: ErrorKind) -> Self {
        Self::at(&input, Reason::Unspecified)
    }
    fn append(_: Input<'a>, _: ErrorKind, other: Self) -> Self {
        other
    }
    fn or(self, other: Self) -> Self {
        let informative = |e: &Self| !matches!(e.reason, Reason::Unspecified);
        if other.offset > self.offset
            || (other.offset == self.offset && informative(&other) && !informative(&self))
        {
            other
        } else {
            self
        }
    }
}

/// A recoverable error at `input`.
pub fn fail<O>(input: Input, reason: Reason) -> PResult<O> {
    Err(nom::Err::Error(SyntaxError::at(&input, reason)))
}

/// An error that stops the parse: the input is wrong here, whatever else could follow.
pub fn fatal<O>(input: Input, reason: Reason) -> PResult<O> {
    Err(nom::Err::Failure(SyntaxError::at(&input, reason)))
}

/// Runs `p`; when it fails right at its start, says that `what` was expected.
/// Failures further in keep their own, more precise reason.
pub fn expect<'a, O>(
    what: &'static str,
    mut p: impl Parser<Input<'a>, Output = O, Error = SyntaxError>,
) -> impl FnMut(Input<'a>) -> PResult<'a, O> {
    move |input: Input<'a>| {
        let start = skip(input)?.0.location_offset();
        p.parse(input).map_err(|e| match e {
            nom::Err::Error(err) if err.offset <= start => {
                let at = skip(input).map(|(i, _)| i).unwrap_or(input);
                nom::Err::Error(SyntaxError::at(&at, Reason::Expected(what)))
            }
            other => other,
        })
    }
}

/// Failures (`nom::Err::Failure`) pass through: they already say what is wrong.
///
/// Like [`expect`], and a failure stops the parse: used after the point where
/// the construct is certain (after `if`, after `(`).
pub fn require<'a, O>(
    what: &'static str,
    p: impl Parser<Input<'a>, Output = O, Error = SyntaxError>,
) -> impl FnMut(Input<'a>) -> PResult<'a, O> {
    let mut p = expect(what, p);
    move |input| {
        p(input).map_err(|e| match e {
            nom::Err::Error(err) => nom::Err::Failure(err),
            other => other,
        })
    }
}

/// The deepest nesting of expressions and blocks a program may have. Every
/// later stage walks the tree recursively, so this bounds their stack use too;
/// real programs stay far below it.
pub const MAX_NESTING: usize = 100;

thread_local! {
    static NESTING: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// One level of tree depth, held while a nested construct is parsed (or, for
/// operator chains, while the chain grows).
pub struct Nesting(usize);

impl Nesting {
    pub fn enter(at: &Input) -> Result<Self, nom::Err<SyntaxError>> {
        Self::enter_weighted(at, 1)
    }

    /// `weight` levels at once, for constructs whose recursion costs more stack.
    pub fn enter_weighted(at: &Input, weight: usize) -> Result<Self, nom::Err<SyntaxError>> {
        let depth = NESTING.with(|n| n.get()) + weight;
        if depth > MAX_NESTING {
            let reason =
                Reason::Invalid(format!("program nested more than {MAX_NESTING} levels deep"));
            return Err(nom::Err::Failure(SyntaxError::at(at, reason)));
        }
        NESTING.with(|n| n.set(depth));
        Ok(Self(weight))
    }
}

impl Drop for Nesting {
    fn drop(&mut self) {
        NESTING.with(|n| n.set(n.get() - self.0));
    }
}

fn line_comment(input: Input) -> PResult<Input> {
    recognize(pair(tag("//"), take_till(|c| c == '\n'))).parse(input)
}

fn block_comment(input: Input) -> PResult<Input> {
    let (rest, _) = tag("/*").parse(input)?;
    match take_until::<_, _, SyntaxError>("*/").parse(rest) {
        Ok((rest, _)) => recognize(tag("*/")).parse(rest).map(|(r, _)| (r, input)),
        Err(_) => fatal(input, Reason::Invalid("unterminated comment".into())),
    }
}

/// Skips whitespace and comments.
pub fn skip(input: Input) -> PResult<()> {
    let (rest, _) =
        many0_count(alt((take_while1(|c: char| c.is_whitespace()), line_comment, block_comment)))
            .parse(input)?;
    Ok((rest, ()))
}

/// The span from `start` (already past whitespace) to `end`.
pub fn span(start: &Input, end: &Input) -> Span {
    Span {
        line: start.location_line(),
        col: start.get_utf8_column() as u32,
        offset: start.location_offset() as u32,
        len: (end.location_offset() - start.location_offset()) as u32,
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// An identifier, without leading whitespace.
pub fn raw_name<'a>(input: Input<'a>) -> PResult<'a, &'a str> {
    recognize(pair(satisfy(|c| c.is_ascii_alphabetic() || c == '_'), take_while(is_name_char)))
        .parse(input)
        .map(|(rest, name)| (rest, *name.fragment()))
}

/// An identifier after whitespace.
pub fn name<'a>(input: Input<'a>) -> PResult<'a, &'a str> {
    let (input, _) = skip(input)?;
    raw_name(input)
}

/// The keyword `word`, not followed by more name characters.
pub fn keyword<'a>(word: &'static str) -> impl FnMut(Input<'a>) -> PResult<'a, Input<'a>> {
    move |input| {
        let (input, _) = skip(input)?;
        let (rest, k) = tag(word).parse(input)?;
        not(satisfy(is_name_char)).parse(rest)?;
        Ok((rest, k))
    }
}

/// The punctuation `p` after whitespace, not followed by any of `not_before`
/// (so `&` does not match the start of `&&`).
pub fn punct<'a>(
    p: &'static str,
    not_before: &'static str,
) -> impl FnMut(Input<'a>) -> PResult<'a, Input<'a>> {
    move |input| {
        let (input, _) = skip(input)?;
        let (rest, t) = tag(p).parse(input)?;
        not(satisfy(|c| not_before.contains(c))).parse(rest)?;
        Ok((rest, t))
    }
}

/// A single punctuation character after whitespace.
pub fn sym<'a>(c: char) -> impl FnMut(Input<'a>) -> PResult<'a, char> {
    move |input| {
        let (input, _) = skip(input)?;
        char(c).parse(input)
    }
}

/// An integer literal (decimal, `0x` hex, `0` octal, `1e6` scientific),
/// without leading whitespace.
pub fn integer(input: Input) -> PResult<u64> {
    let (rest, digits) = recognize(pair(
        satisfy(|c| c.is_ascii_digit()),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))
    .parse(input)?;
    let text = digits.fragment().replace('_', "");
    let parsed = if let Some(hex) = text.strip_prefix("0x").or(text.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).map_err(|e| e.to_string())
    } else if let Some((mantissa, exponent)) = scientific(&text) {
        scaled(mantissa, exponent)
    } else if text.len() > 1 && text.starts_with('0') {
        u64::from_str_radix(&text[1..], 8).map_err(|e| e.to_string())
    } else {
        text.parse().map_err(|e: std::num::ParseIntError| e.to_string())
    };
    match parsed {
        Ok(value) => Ok((rest, value)),
        Err(e) => fatal(input, Reason::Invalid(format!("invalid integer `{digits}`: {e}"))),
    }
}

/// `MeN` split into its digit strings: scientific notation, which bpftrace
/// takes for integers only (`1e6` is 1000000).
fn scientific(text: &str) -> Option<(&str, &str)> {
    let (mantissa, exponent) = text.split_once(['e', 'E'])?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(mantissa) && digits(exponent)).then_some((mantissa, exponent))
}

/// `mantissa * 10^exponent`, if it fits 64 bits.
fn scaled(mantissa: &str, exponent: &str) -> Result<u64, String> {
    let too_large = || "number too large to fit in target type".to_string();
    let mantissa: u64 = mantissa.parse().map_err(|_| too_large())?;
    let exponent: u32 = exponent.parse().map_err(|_| too_large())?;
    10u64.checked_pow(exponent).and_then(|p| mantissa.checked_mul(p)).ok_or_else(too_large)
}

/// A number where an expression starts: an [`integer`], with the
/// non-integral forms people write (`1.5`, `2.5e3`, `1e-3`) refused by
/// name, since bpftrace has no floating point.
pub fn number(input: Input) -> PResult<u64> {
    let text = *input.fragment();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let word = text.find(|c| !is_word(c)).unwrap_or(text.len());
    let after = &text[word..];
    let hex = text.starts_with("0x") || text.starts_with("0X");
    let fraction = after.starts_with('.') && after[1..].starts_with(|c: char| c.is_ascii_digit());
    let signed_exponent =
        !hex && text[..word].ends_with(['e', 'E']) && after.starts_with(['-', '+']);
    if !(fraction || signed_exponent) {
        return integer(input);
    }
    let tail = after[1..].find(|c| !is_word(c)).unwrap_or(after.len() - 1);
    let literal = &text[..word + 1 + tail];
    fatal(
        input,
        Reason::Invalid(format!(
            "`{literal}` is not an integer: bpftrace has no floating-point numbers \
             (scientific notation such as 1e6 is for integers)"
        )),
    )
}

/// A string literal, decoded, without leading whitespace. Escapes: `\n \t \r
/// \" \\`, octal `\NNN` and hex `\xHH` up to 0x7f.
pub fn string(input: Input) -> PResult<String> {
    let (mut rest, _) = char('"').parse(input)?;
    let mut value = String::new();
    loop {
        let Some(c) = rest.fragment().chars().next() else {
            return fatal(input, Reason::Invalid("unterminated string".into()));
        };
        match c {
            '"' => return Ok((rest.take_from(1), value)),
            '\n' => return fatal(input, Reason::Invalid("unterminated string".into())),
            '\\' => {
                let (after, decoded) = escape(rest)?;
                value.push(decoded);
                rest = after;
            }
            _ => {
                value.push(c);
                rest = rest.take_from(c.len_utf8());
            }
        }
    }
}

/// One escape sequence starting at the backslash.
fn escape(input: Input) -> PResult<char> {
    let body = &input.fragment()[1..];
    let simple = match body.chars().next() {
        Some('n') => Some('\n'),
        Some('t') => Some('\t'),
        Some('r') => Some('\r'),
        Some('"') => Some('"'),
        Some('\\') => Some('\\'),
        _ => None,
    };
    if let Some(c) = simple {
        return Ok((input.take_from(2), c));
    }
    let (radix, digits) = if let Some(hex) = body.strip_prefix('x') {
        let n = hex.chars().take(2).take_while(char::is_ascii_hexdigit).count();
        (16, &hex[..n])
    } else {
        let n = body.chars().take(3).take_while(|c| ('0'..='7').contains(c)).count();
        (8, &body[..n])
    };
    let consumed = 1 + usize::from(radix == 16) + digits.len();
    match u8::from_str_radix(digits, radix) {
        Ok(byte) if byte.is_ascii() => Ok((input.take_from(consumed), char::from(byte))),
        Ok(_) => fatal(
            input,
            Reason::Invalid(format!(
                "escape `{}` is above \\x7f; only ASCII escapes are supported",
                &input.fragment()[..consumed]
            )),
        ),
        Err(_) => {
            let shown: String = input.fragment().chars().take(2).collect();
            fatal(input, Reason::Invalid(format!("invalid escape character `{shown}`")))
        }
    }
}

/// Succeeds without consuming when the next non-blank input starts with `c`.
pub fn peek_char<'a>(c: char) -> impl FnMut(Input<'a>) -> PResult<'a, char> {
    move |input| {
        let (input, _) = skip(input)?;
        peek(char(c)).parse(input)
    }
}

/// The end of the input, after trailing whitespace and comments.
pub fn end(input: Input) -> PResult<()> {
    let (input, _) = skip(input)?;
    if input.fragment().is_empty() { Ok((input, ())) } else { fail(input, Reason::Unspecified) }
}

/// The text of the token at `input`, for "unexpected X" messages.
pub fn token_at(text: &str) -> &str {
    let Some(c) = text.chars().next() else { return "end of input" };
    let len = if is_name_char(c) {
        text.find(|c| !is_name_char(c)).unwrap_or(text.len())
    } else if c == '"' {
        text[1..].find('"').map_or(1, |i| i + 2)
    } else {
        const PAIRS: [&str; 17] = [
            "<<=", ">>=", "||", "&&", "==", "!=", "<=", ">=", "<<", ">>", "->", "++", "--", "+=",
            "-=", "*=", "/=",
        ];
        PAIRS.iter().find(|p| text.starts_with(*p)).map_or(c.len_utf8(), |p| p.len())
    };
    &text[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<'a, O>(
        mut p: impl FnMut(Input<'a>) -> PResult<'a, O>,
        text: &'a str,
    ) -> Result<O, SyntaxError> {
        p(Input::new(text)).map(|(_, o)| o).map_err(|e| match e {
            nom::Err::Error(e) | nom::Err::Failure(e) => e,
            nom::Err::Incomplete(_) => unreachable!("complete parsers only"),
        })
    }

    #[test]
    fn integers() {
        assert_eq!(run(integer, "42"), Ok(42));
        assert_eq!(run(integer, "0x1F"), Ok(31));
        assert_eq!(run(integer, "010"), Ok(8));
        assert_eq!(run(integer, "1_000"), Ok(1000));
        assert!(matches!(
            run(integer, "99999999999999999999").unwrap_err().reason,
            Reason::Invalid(_)
        ));
        assert!(matches!(run(integer, "12ab").unwrap_err().reason, Reason::Invalid(_)));
    }

    #[test]
    fn scientific_integers() {
        assert_eq!(run(integer, "1e6"), Ok(1_000_000));
        assert_eq!(run(integer, "2E3"), Ok(2000));
        assert_eq!(run(integer, "1_5e2"), Ok(1500));
        assert_eq!(run(integer, "0e9"), Ok(0));
        assert_eq!(run(integer, "1e19"), Ok(10u64.pow(19)));
        assert_eq!(run(integer, "0x1e6"), Ok(0x1e6));
        for bad in ["1e20", "2e19", "1e", "1e5x"] {
            assert!(matches!(run(integer, bad).unwrap_err().reason, Reason::Invalid(_)), "{bad}");
        }
    }

    #[test]
    fn non_integral_numbers_are_refused_by_name() {
        assert_eq!(run(number, "1e6 + 1"), Ok(1_000_000));
        assert_eq!(run(number, "0x1e-3"), Ok(0x1e), "hex digits, then a minus");
        for (text, literal) in
            [("1.5", "1.5"), ("2.5e3)", "2.5e3"), ("1e-3;", "1e-3"), ("1E+3", "1E+3")]
        {
            let Reason::Invalid(message) = run(number, text).unwrap_err().reason else {
                panic!("{text}")
            };
            assert!(message.starts_with(&format!("`{literal}` is not an integer")), "{message}");
        }
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(run(string, r#""a\n\t\r\"\\b""#).unwrap(), "a\n\t\r\"\\b");
        assert_eq!(run(string, r#""\101\x42""#).unwrap(), "AB");
        assert_eq!(run(string, r#""""#).unwrap(), "");
        for bad in [r#""abc"#, "\"a\nb\"", r#""\q""#, r#""\xff""#] {
            assert!(matches!(run(string, bad).unwrap_err().reason, Reason::Invalid(_)), "{bad}");
        }
    }

    #[test]
    fn comments_are_skipped() {
        let (rest, _) = skip(Input::new(" // c\n /* x\n y */ z")).unwrap();
        assert_eq!(*rest.fragment(), "z");
        assert_eq!(rest.location_line(), 3);
        assert!(matches!(
            run(skip, "/* open").unwrap_err().reason,
            Reason::Invalid(ref m) if m == "unterminated comment"
        ));
    }

    #[test]
    fn punctuation_respects_longer_tokens() {
        assert!(run(punct("&", "&="), "&&").is_err());
        assert!(run(punct("&", "&="), "& x").is_ok());
        assert!(run(keyword("if"), "iffy").is_err());
        assert!(run(keyword("if"), " if (").is_ok());
    }

    #[test]
    fn tokens_for_messages() {
        assert_eq!(token_at("foo bar"), "foo");
        assert_eq!(token_at("<<= 1"), "<<=");
        assert_eq!(token_at("}"), "}");
        assert_eq!(token_at(""), "end of input");
        assert_eq!(token_at("\"ab\" x"), "\"ab\"");
    }
}
