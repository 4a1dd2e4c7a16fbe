//! bpftrace's printf format grammar (0.17's `format_string.cpp`): a
//! conversion is `%`, an optional `-`, digits, an optional `.digits`
//! precision, a length (`hh h l ll j z t`) and a type from bpftrace's table
//! (`d u o x X p c s r rx rh`); anything else is literal text, never an
//! error. The checker, the lowering and the renderer all read formats
//! through this one parser.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    Str,
    Char,
    Signed,
    Unsigned,
    Octal,
    Hex,
    HexUpper,
    Pointer,
    /// `%r`, `%rx`, `%rh`: `buf()` values.
    Buffer(BufStyle),
}

/// How a buffer's bytes are written (bpftrace 0.17's `hex_format_buffer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufStyle {
    /// `%r`, and print(): printable ASCII as is, other bytes as `\xNN`.
    Text,
    /// `%rx`: every byte as `\xNN`.
    Hex,
    /// `%rh`: every byte as two hex digits, with a space between bytes.
    Spaced,
}

impl Conversion {
    /// Whether the argument must be a string (or buffer) rather than an integer.
    pub fn takes_string(self) -> bool {
        matches!(self, Conversion::Str | Conversion::Buffer(_))
    }
}

/// How many low bits of the argument a conversion reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Width {
    W8,
    W16,
    W32,
    W64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    pub(crate) left: bool,
    pub(crate) zero: bool,
    pub(crate) width: usize,
    pub(crate) precision: Option<usize>,
    pub(crate) bits: Width,
    pub(crate) conversion: Conversion,
}

/// A piece: literal text (with `%%` still doubled) and one conversion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Piece {
    pub(crate) text: String,
    pub(crate) spec: Spec,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatString {
    pub(crate) pieces: Vec<Piece>,
    /// Text after the last conversion, written verbatim.
    pub(crate) tail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrintfError {
    #[error("printf: expected {expected} arguments for the format, got {got}")]
    ArgCount { expected: usize, got: usize },
    #[error("printf: argument {index} is {found} but %{conversion} needs {needed}")]
    ArgType { index: usize, conversion: String, found: &'static str, needed: &'static str },
}

impl FormatString {
    /// Splits `fmt` as bpftrace does. Anything that is not a conversion stays
    /// literal text.
    pub fn parse(fmt: &str) -> Self {
        let mut pieces = Vec::new();
        let mut start = 0;
        let mut i = 0;
        let bytes = fmt.as_bytes();
        while i < bytes.len() {
            if bytes[i] == b'%'
                && let Some((spec, len)) = parse_spec(&fmt[i + 1..])
            {
                pieces.push(Piece { text: fmt[start..i].to_string(), spec });
                i += 1 + len;
                start = i;
                continue;
            }
            i += 1;
        }
        Self { pieces, tail: fmt[start..].to_string() }
    }

    /// The conversions, in order: one argument each.
    pub fn conversions(&self) -> impl Iterator<Item = Conversion> + '_ {
        self.pieces.iter().map(|p| p.spec.conversion)
    }

    pub fn arg_count(&self) -> usize {
        self.pieces.len()
    }

    /// Checks argument kinds; `is_string[i]` says whether argument i is a string.
    pub fn check(&self, is_string: &[bool]) -> Result<(), PrintfError> {
        if is_string.len() != self.pieces.len() {
            return Err(PrintfError::ArgCount {
                expected: self.pieces.len(),
                got: is_string.len(),
            });
        }
        for (i, (piece, &s)) in self.pieces.iter().zip(is_string).enumerate() {
            let wants = piece.spec.conversion.takes_string();
            if wants != s {
                return Err(PrintfError::ArgType {
                    index: i + 1,
                    conversion: piece.spec.to_string(),
                    found: if s { "a string" } else { "an integer" },
                    needed: if wants { "a string" } else { "an integer" },
                });
            }
        }
        Ok(())
    }
}

/// Parses `-?[0-9]*(\.[0-9]+)?(length)?(type)` after a `%`; returns the spec
/// and the number of bytes it spans.
pub(crate) fn parse_spec(s: &str) -> Option<(Spec, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    let left = b.first() == Some(&b'-');
    if left {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let from = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        &s[from..*i]
    };
    let width_text = digits(&mut i);
    let zero = width_text.starts_with('0');
    let width = if width_text.is_empty() { 0 } else { width_text.parse().ok()? };
    let mut precision = None;
    if b.get(i) == Some(&b'.') {
        let mut j = i + 1;
        let p = digits(&mut j);
        if !p.is_empty() {
            precision = Some(p.parse().ok()?);
            i = j;
        }
    }
    let rest = &s[i..];
    let (bits, len) = [
        ("hh", Width::W8),
        ("h", Width::W16),
        ("ll", Width::W64),
        ("l", Width::W64),
        ("j", Width::W64),
        ("z", Width::W64),
        ("t", Width::W64),
    ]
    .into_iter()
    .find(|(m, _)| rest.starts_with(m))
    .map_or((Width::W32, 0), |(m, w)| (w, m.len()));
    let rest = &rest[len..];
    let (conversion, tlen) = if len == 0 && rest.starts_with("rx") {
        (Conversion::Buffer(BufStyle::Hex), 2)
    } else if len == 0 && rest.starts_with("rh") {
        (Conversion::Buffer(BufStyle::Spaced), 2)
    } else {
        let c = match rest.as_bytes().first()? {
            b's' if len == 0 => Conversion::Str,
            b'r' if len == 0 => Conversion::Buffer(BufStyle::Text),
            b'c' => Conversion::Char,
            b'd' => Conversion::Signed,
            b'u' => Conversion::Unsigned,
            b'o' => Conversion::Octal,
            b'x' => Conversion::Hex,
            b'X' => Conversion::HexUpper,
            b'p' => Conversion::Pointer,
            _ => return None,
        };
        (c, 1)
    };
    Some((Spec { left, zero, width, precision, bits, conversion }, i + len + tlen))
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = match self.conversion {
            Conversion::Str => "s",
            Conversion::Char => "c",
            Conversion::Signed => "d",
            Conversion::Unsigned => "u",
            Conversion::Octal => "o",
            Conversion::Hex => "x",
            Conversion::HexUpper => "X",
            Conversion::Pointer => "p",
            Conversion::Buffer(BufStyle::Text) => "r",
            Conversion::Buffer(BufStyle::Hex) => "rx",
            Conversion::Buffer(BufStyle::Spaced) => "rh",
        };
        f.write_str(c)
    }
}
