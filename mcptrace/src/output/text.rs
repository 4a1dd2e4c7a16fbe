//! bpftrace's text mode.

use super::{
    buffer::escape,
    record::{MapDump, MapKind, MapValue, Record, Value, average},
};
use crate::lang::printf::BufStyle;

pub fn render(record: &Record, out: &mut Vec<u8>) {
    match record {
        Record::AttachedProbes(n) => {
            let plural = if *n == 1 { "" } else { "s" };
            out.extend_from_slice(format!("Attaching {n} probe{plural}...\n").as_bytes());
        }
        Record::Printf(bytes) | Record::Time(bytes) | Record::Cat(bytes) | Record::Text(bytes) => {
            out.extend_from_slice(bytes)
        }
        Record::Value(v) => {
            value(v, out);
            out.push(b'\n');
        }
        Record::Join(bytes) => {
            out.extend_from_slice(bytes);
            out.push(b'\n');
        }
        Record::LostEvents(n) => out.extend_from_slice(format!("Lost {n} events\n").as_bytes()),
        Record::EndOfEvents => out.extend_from_slice(b"\n\n"),
        Record::Map(dump) => map(dump, out),
    }
}

/// A value as bpftrace prints it: integers in decimal by signedness, strings
/// raw, tuples as `(a, b)`.
pub fn value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Int { bits, signed: true } => {
            out.extend_from_slice((*bits as i64).to_string().as_bytes())
        }
        Value::Int { bits, signed: false } => out.extend_from_slice(bits.to_string().as_bytes()),
        Value::Str(s) => out.extend_from_slice(s),
        Value::Buf(b) => out.extend_from_slice(&escape(b, BufStyle::Text)),
        Value::Tuple(items) => {
            out.push(b'(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                value(item, out);
            }
            out.push(b')');
        }
    }
}

/// A map as bpftrace's text mode prints it at exit and by `print(@m)`.
pub fn map(dump: &MapDump, out: &mut Vec<u8>) {
    if dump.entries.is_empty() {
        let blank: &[u8] =
            if matches!(dump.kind, MapKind::Avg | MapKind::Stats) { b"\n\n" } else { b"\n" };
        return out.extend_from_slice(blank);
    }
    for (key, entry) in dump.sorted() {
        out.extend_from_slice(dump.name.as_bytes());
        if !key.is_empty() {
            out.push(b'[');
            for (i, k) in key.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                value(k, out);
            }
            out.push(b']');
        }
        out.extend_from_slice(b": ");
        match entry {
            MapValue::Scalar(v) => value(v, out),
            MapValue::Average { count, total } => {
                let avg = average(*count, *total);
                if dump.kind == MapKind::Stats {
                    out.extend_from_slice(
                        format!("count {count}, average {avg}, total {total}").as_bytes(),
                    );
                } else {
                    out.extend_from_slice(avg.to_string().as_bytes());
                }
            }
            MapValue::Buckets(buckets) => {
                out.push(b'\n');
                buckets_of(dump, buckets, out);
            }
        }
        out.push(b'\n');
    }
    if matches!(dump.kind, MapKind::Avg | MapKind::Stats) {
        out.push(b'\n');
    }
}

/// Bucket lines from the lowest to the highest non-empty bucket.
fn buckets_of(dump: &MapDump, buckets: &[(u32, u64)], out: &mut Vec<u8>) {
    let (Some(lo), Some(hi)) = (
        buckets.iter().filter(|b| b.1 > 0).map(|b| b.0).min(),
        buckets.iter().filter(|b| b.1 > 0).map(|b| b.0).max(),
    ) else {
        return;
    };
    let max = buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    for index in lo..=hi {
        let count = buckets.iter().find(|b| b.0 == index).map_or(0, |b| b.1);
        let bar = (count as f32 / max as f32 * 52.0) as usize;
        let line = format!("{:<16}{count:>8} |{:<52}|\n", label(dump, index), "@".repeat(bar));
        out.extend_from_slice(line.as_bytes());
    }
}

fn label(dump: &MapDump, index: u32) -> String {
    match dump.kind {
        MapKind::Lhist { min, max, step } => {
            let overflow = 1 + ((max - min) as u64 / step.max(1)) as u32;
            if index == 0 {
                format!("(..., {})", lhist_number(min))
            } else if index >= overflow {
                format!("[{}, ...)", lhist_number(max))
            } else {
                let lo = min + (index as i64 - 1) * step as i64;
                format!("[{}, {})", lhist_number(lo), lhist_number(lo + step as i64))
            }
        }
        _ => match index {
            0 => "(..., 0)".into(),
            1 => "[0]".into(),
            2 => "[1]".into(),
            i => format!("[{}, {})", power_of_two(i - 2), power_of_two(i - 1)),
        },
    }
}

/// `2^p` with bpftrace's K/M/G/T/P/E suffixes.
pub(super) fn power_of_two(p: u32) -> String {
    const SUFFIXES: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    format!("{}{}", 1u64 << (p % 10), SUFFIXES[(p / 10) as usize])
}

/// lhist bound: in M or K when a non-zero exact multiple, else decimal.
pub(super) fn lhist_number(n: i64) -> String {
    if n != 0 && n % 1_048_576 == 0 {
        format!("{}M", n / 1_048_576)
    } else if n != 0 && n % 1024 == 0 {
        format!("{}K", n / 1024)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: Record) -> String {
        let mut out = Vec::new();
        render(&r, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn attaching_line_is_singular_for_one_probe() {
        assert_eq!(text(Record::AttachedProbes(1)), "Attaching 1 probe...\n");
        assert_eq!(text(Record::AttachedProbes(7)), "Attaching 7 probes...\n");
    }

    #[test]
    fn values_print_by_signedness_and_tuples_with_commas() {
        assert_eq!(text(Record::Value(Value::int(-1))), "-1\n");
        assert_eq!(text(Record::Value(Value::uint(u64::MAX))), "18446744073709551615\n");
        let t = Value::Tuple(vec![Value::int(1), Value::Str(b"a".to_vec()), Value::int(-2)]);
        assert_eq!(text(Record::Value(t)), "(1, a, -2)\n");
        assert_eq!(text(Record::EndOfEvents), "\n\n");
    }
}
