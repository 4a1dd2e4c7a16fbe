//! bpftrace's printf rendering: the format is cut after each conversion and
//! every piece goes through C `snprintf` with one 64-bit argument (bpftrace
//! 0.17, format_string.cpp). Reproduced here byte for byte, quirks included:
//! `%d`/`%u`/`%x`/`%o`/`%c` without `l` read the low 32 bits, `%%` becomes
//! `%` only in pieces that end in a conversion, and `%p` of 0 is `(nil)`.
//! The grammar is `lang::printf`'s.

use super::buffer;
use crate::lang::printf::{BufStyle, Conversion, FormatString, Spec, Width};
#[cfg(test)]
use crate::lang::printf::{PrintfError, parse_spec};

/// One printf argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arg {
    /// Any integer, as its 64-bit pattern.
    Int(u64),
    /// String bytes up to (not including) the first NUL; for `%r`, a
    /// buffer's bytes, NULs included.
    Str(Vec<u8>),
}

impl FormatString {
    /// Formats `args`; missing arguments format as 0 or "", extra ones are
    /// ignored (the checker rejects both before a program runs).
    pub fn render(&self, args: &[Arg], out: &mut Vec<u8>) {
        for (i, piece) in self.pieces.iter().enumerate() {
            out.extend_from_slice(piece.text.replace("%%", "%").as_bytes());
            let arg = args.get(i).cloned().unwrap_or(Arg::Int(0));
            piece.spec.render(&arg, out);
        }
        out.extend_from_slice(self.tail.as_bytes());
    }
}

impl Spec {
    fn render(&self, arg: &Arg, out: &mut Vec<u8>) {
        let body: Vec<u8> = match (self.conversion, arg) {
            (Conversion::Str, Arg::Str(s)) => {
                s[..self.precision.map_or(s.len(), |p| p.min(s.len()))].to_vec()
            }
            // bpftrace turns only a bare `%r`, `%rx`, `%rh` into `%s`; with
            // a flag, width or precision the C library meets an unknown
            // conversion and writes it as it stands.
            (Conversion::Buffer(style), _)
                if self.left || self.zero || self.width > 0 || self.precision.is_some() =>
            {
                return out.extend_from_slice(self.buffer_text(style).as_bytes());
            }
            (Conversion::Buffer(style), Arg::Str(s)) => buffer::escape(s, style),
            (Conversion::Str | Conversion::Buffer(_), Arg::Int(v)) => v.to_string().into_bytes(),
            (conversion, arg) => {
                let v = match arg {
                    Arg::Int(v) => *v,
                    Arg::Str(_) => 0,
                };
                return self.render_int(conversion, v, out);
            }
        };
        self.pad(&body, out);
    }

    /// A buffer conversion as written in the format.
    fn buffer_text(&self, style: BufStyle) -> String {
        let width = match (self.zero, self.width) {
            (true, 0) => "0".to_string(),
            (true, w) => format!("0{w}"),
            (false, 0) => String::new(),
            (false, w) => w.to_string(),
        };
        let precision = self.precision.map(|p| format!(".{p}")).unwrap_or_default();
        let suffix = match style {
            BufStyle::Text => "",
            BufStyle::Hex => "x",
            BufStyle::Spaced => "h",
        };
        format!("%{}{width}{precision}r{suffix}", if self.left { "-" } else { "" })
    }

    fn render_int(&self, conversion: Conversion, v: u64, out: &mut Vec<u8>) {
        let unsigned = match self.bits {
            Width::W8 => v & 0xff,
            Width::W16 => v & 0xffff,
            Width::W32 => v & 0xffff_ffff,
            Width::W64 => v,
        };
        let signed = match self.bits {
            Width::W8 => v as u8 as i8 as i64,
            Width::W16 => v as u16 as i16 as i64,
            Width::W32 => v as u32 as i32 as i64,
            Width::W64 => v as i64,
        };
        let (sign, digits) = match conversion {
            Conversion::Char => return self.pad(&[v as u8], out),
            Conversion::Pointer if v == 0 => return self.pad(b"(nil)", out),
            Conversion::Pointer => ("", format!("0x{v:x}")),
            Conversion::Signed if signed < 0 => ("-", signed.unsigned_abs().to_string()),
            Conversion::Signed => ("", signed.to_string()),
            Conversion::Unsigned => ("", unsigned.to_string()),
            Conversion::Octal => ("", format!("{unsigned:o}")),
            Conversion::Hex => ("", format!("{unsigned:x}")),
            _ => ("", format!("{unsigned:X}")),
        };
        // C: a precision is the minimum number of digits; 0 with .0 is empty.
        let digits = match self.precision {
            Some(0) if digits == "0" => String::new(),
            Some(p) if digits.len() < p => format!("{}{digits}", "0".repeat(p - digits.len())),
            _ => digits,
        };
        let mut body = sign.as_bytes().to_vec();
        body.extend_from_slice(digits.as_bytes());
        // `0` pads between sign and digits unless left-justified or a
        // precision is given.
        let zero = self.zero && !self.left && self.precision.is_none();
        if zero && body.len() < self.width {
            let fill = self.width - body.len();
            out.extend_from_slice(sign.as_bytes());
            out.extend(std::iter::repeat_n(b'0', fill));
            out.extend_from_slice(digits.as_bytes());
        } else {
            self.pad(&body, out);
        }
    }

    fn pad(&self, body: &[u8], out: &mut Vec<u8>) {
        let fill = self.width.saturating_sub(body.len());
        if !self.left {
            out.extend(std::iter::repeat_n(b' ', fill));
        }
        out.extend_from_slice(body);
        if self.left {
            out.extend(std::iter::repeat_n(b' ', fill));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(f: &str, args: &[Arg]) -> String {
        let mut out = Vec::new();
        FormatString::parse(f).render(args, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn int(v: i64) -> Arg {
        Arg::Int(v as u64)
    }

    fn s(v: &str) -> Arg {
        Arg::Str(v.as_bytes().to_vec())
    }

    #[test]
    fn documented_bpftrace_outputs() {
        assert_eq!(fmt("%d|%ld", &[int(5000000000), int(5000000000)]), "705032704|5000000000");
        assert_eq!(fmt("%u", &[int(-1)]), "4294967295");
        assert_eq!(fmt("%x", &[int(-1)]), "ffffffff");
        assert_eq!(fmt("%lx", &[int(-1)]), "ffffffffffffffff");
        assert_eq!(fmt("%hhd", &[int(300)]), "44");
        assert_eq!(fmt("%hd", &[int(70000)]), "4464");
        assert_eq!(fmt("%p", &[int(4096)]), "0x1000");
        assert_eq!(fmt("C|100%%|%d%%|\n", &[int(7)]), "C|100%|7%%|\n");
        assert_eq!(fmt("D|50%%\n", &[]), "D|50%%\n");
        assert_eq!(fmt("%5d", &[int(42)]), "   42");
        assert_eq!(fmt("%-5d|", &[int(42)]), "42   |");
        assert_eq!(fmt("%05d", &[int(42)]), "00042");
        assert_eq!(fmt("%10s", &[s("right")]), "     right");
        assert_eq!(fmt("%-10s|", &[s("left")]), "left      |");
        assert_eq!(fmt("%.2s", &[s("truncate")]), "tr");
        assert_eq!(fmt("%c", &[int(65)]), "A");
    }

    /// Every integer conversion against the C library's own snprintf, with
    /// the argument passed the way bpftrace passes it (a 64-bit vararg).
    #[test]
    fn integer_conversions_match_libc() {
        let specs = [
            "%d", "%i5d", "%u", "%x", "%X", "%o", "%ld", "%lu", "%lx", "%lld", "%hd", "%hu",
            "%hhd", "%hhu", "%hhx", "%zd", "%jd", "%td", "%8d", "%-8d|", "%08d", "%.3d", "%8.3d",
            "%-8.3x|", "%08lx", "%.0d", "%5.0d|", "%p", "%20p|", "%-20p|", "%c", "%3c|",
        ];
        let values: [i64; 12] =
            [0, 1, -1, 42, -42, 255, 256, 65535, 70000, i32::MAX as i64 + 1, i64::MIN, i64::MAX];
        for spec in specs {
            let Some((parsed, len)) = parse_spec(&spec[1..]) else {
                // `%i5d` is not a conversion for bpftrace: it stays text.
                assert_eq!(fmt(spec, &[int(1)]), spec);
                continue;
            };
            assert!(len > 0, "{spec}: {parsed:?}");
            for v in values {
                let mut buf = [0u8; 128];
                let c_fmt = std::ffi::CString::new(spec).unwrap();
                // SAFETY: a valid format with one conversion and one u64 arg.
                let n = unsafe {
                    libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c_fmt.as_ptr(), v as u64)
                };
                let want = String::from_utf8_lossy(&buf[..n as usize]).into_owned();
                assert_eq!(fmt(spec, &[int(v)]), want, "{spec} of {v}");
            }
        }
    }

    #[test]
    fn counts_and_checks_arguments() {
        let f = FormatString::parse("%s opened %s (%d) 100%% %lu\n");
        assert_eq!(f.arg_count(), 4);
        assert!(f.check(&[true, true, false, false]).is_ok());
        assert_eq!(f.check(&[true]), Err(PrintfError::ArgCount { expected: 4, got: 1 }));
        assert!(matches!(
            f.check(&[false, true, false, false]),
            Err(PrintfError::ArgType { index: 1, .. })
        ));
    }

    /// As bpftrace 0.17 printed a write(2) of `ab\0c` (and `%5r` as is).
    #[test]
    fn buffers_in_each_style_and_with_a_width_as_written() {
        let b = Arg::Str(b"ab\0c".to_vec());
        assert_eq!(fmt("[%r]", std::slice::from_ref(&b)), r"[ab\x00c]");
        assert_eq!(fmt("[%rx]", std::slice::from_ref(&b)), r"[\x61\x62\x00\x63]");
        assert_eq!(fmt("[%rh]", std::slice::from_ref(&b)), "[61 62 00 63]");
        assert_eq!(
            fmt("[%5r] [%-8rx|] [%.2rh]", &[b.clone(), b.clone(), b]),
            "[%5r] [%-8rx|] [%.2rh]"
        );
    }

    #[test]
    fn unknown_conversions_stay_text() {
        assert_eq!(fmt("%f %y %", &[]), "%f %y %");
        assert_eq!(FormatString::parse("%f").arg_count(), 0);
    }
}
