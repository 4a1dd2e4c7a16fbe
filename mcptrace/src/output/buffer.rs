//! `buf()` values as bpftrace 0.17 writes them (`hex_format_buffer`): for
//! printf's `%r`, `%rx`, `%rh` and for print().

use crate::lang::printf::BufStyle;

/// `bytes` written in `style`.
pub fn escape(bytes: &[u8], style: BufStyle) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 4);
    for (i, &b) in bytes.iter().enumerate() {
        match style {
            // bpftrace tests a signed char against 32..=126, so bytes of
            // 0x80 and up are escaped too.
            BufStyle::Text if (32..=126).contains(&b) => out.push(b),
            BufStyle::Text | BufStyle::Hex => {
                out.extend_from_slice(format!("\\x{b:02x}").as_bytes())
            }
            BufStyle::Spaced => {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(format!("{b:02x}").as_bytes());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of a write(2) that bpftrace 0.17 printed with each style.
    #[test]
    fn bpftrace_escapes() {
        let bytes = b"ab\x00c\x7f\x80\xff \"\\\n\tz";
        let text = |style| String::from_utf8(escape(bytes, style)).unwrap();
        assert_eq!(text(BufStyle::Text), r#"ab\x00c\x7f\x80\xff "\\x0a\x09z"#);
        assert_eq!(text(BufStyle::Hex), r"\x61\x62\x00\x63\x7f\x80\xff\x20\x22\x5c\x0a\x09\x7a");
        assert_eq!(text(BufStyle::Spaced), "61 62 00 63 7f 80 ff 20 22 5c 0a 09 7a");
        assert!(escape(b"", BufStyle::Spaced).is_empty());
    }
}
