//! printf-style format strings: how many values a format consumes.

use super::error::CheckErrorKind;

/// The number of conversions in `format` (`%%` excluded), or the first
/// conversion bpftrace would reject.
pub fn conversions(format: &str) -> Result<usize, CheckErrorKind> {
    let mut count = 0;
    let mut chars = format.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c != '%' {
            continue;
        }
        if chars.next_if(|(_, c)| *c == '%').is_some() {
            continue;
        }
        while chars.next_if(|(_, c)| "-+ #0".contains(*c)).is_some() {}
        while chars.next_if(|(_, c)| c.is_ascii_digit()).is_some() {}
        if chars.next_if(|(_, c)| *c == '.').is_some() {
            while chars.next_if(|(_, c)| c.is_ascii_digit()).is_some() {}
        }
        while chars.next_if(|(_, c)| "hlzjt".contains(*c)).is_some() {}
        match chars.next() {
            Some((_, c)) if "diouxXcspfeEgGrRk".contains(c) => count += 1,
            other => {
                let end = other.map_or(format.len(), |(i, c)| i + c.len_utf8());
                return Err(CheckErrorKind::BadConversion(format[start..end].to_string()));
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_conversions() {
        assert_eq!(conversions("plain"), Ok(0));
        assert_eq!(conversions("%d %s\n"), Ok(2));
        assert_eq!(conversions("100%% %-16s %8llu %5.2d %x %p"), Ok(5));
        assert_eq!(conversions("%lu%lld%hhx"), Ok(3));
    }

    #[test]
    fn rejects_unknown_and_dangling_conversions() {
        assert_eq!(conversions("%q"), Err(CheckErrorKind::BadConversion("%q".into())));
        assert_eq!(conversions("50%"), Err(CheckErrorKind::BadConversion("%".into())));
        assert_eq!(conversions("%-5"), Err(CheckErrorKind::BadConversion("%-5".into())));
    }
}
