//! bpftrace's JSON mode (`-f json`): one `{"type": ..., "data": ...}` object
//! per line.

use super::{
    buffer::escape,
    record::{MapDump, MapKind, MapValue, Record, Value, average},
};
use crate::lang::printf::BufStyle;

pub fn render(record: &Record, out: &mut Vec<u8>) {
    let (kind, data) = match record {
        Record::AttachedProbes(n) => ("attached_probes", format!("{{\"probes\": {n}}}")),
        Record::Printf(bytes) => ("printf", string(bytes)),
        Record::Join(bytes) => ("join", string(bytes)),
        Record::Time(bytes) => ("time", string(bytes)),
        Record::Cat(bytes) => ("cat", string(bytes)),
        Record::Value(v) => ("value", value(v)),
        Record::LostEvents(n) => ("lost_events", format!("{{\"events\": {n}}}")),
        // Written to stdout in JSON mode too (bpftrace 0.17).
        Record::EndOfEvents => return out.extend_from_slice(b"\n\n"),
        Record::Text(bytes) => return out.extend_from_slice(bytes),
        Record::Map(dump) => return map(dump, out),
    };
    out.extend_from_slice(format!("{{\"type\": \"{kind}\", \"data\": {data}}}\n").as_bytes());
}

/// A value: integers bare, strings quoted, tuples as arrays without spaces.
pub fn value(v: &Value) -> String {
    match v {
        Value::Int { bits, signed: true } => (*bits as i64).to_string(),
        Value::Int { bits, signed: false } => bits.to_string(),
        Value::Str(s) => string(s),
        Value::Buf(b) => string(&escape(b, BufStyle::Text)),
        Value::Tuple(items) => {
            format!("[{}]", items.iter().map(value).collect::<Vec<_>>().join(","))
        }
    }
}

/// A JSON string with bpftrace's escapes. Bytes that are not UTF-8 are
/// escaped one by one (bpftrace 0.17 wrote invalid JSON for them).
pub fn string(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => s.push_str("\\\""),
                '\\' => s.push_str("\\\\"),
                '\n' => s.push_str("\\n"),
                '\r' => s.push_str("\\r"),
                '\t' => s.push_str("\\t"),
                c if (c as u32) < 0x20 => s.push_str(&format!("\\u{:04x}", c as u32)),
                c => s.push(c),
            }
        }
        for b in chunk.invalid() {
            s.push_str(&format!("\\u{:04x}", b));
        }
    }
    s.push('"');
    s
}

/// A map as one `{"type": ..., "data": ...}` line; nothing for an empty map.
pub fn map(dump: &MapDump, out: &mut Vec<u8>) {
    if dump.entries.is_empty() {
        return;
    }
    let kind = match dump.kind {
        MapKind::Scalar => "map",
        MapKind::Avg | MapKind::Stats => "stats",
        MapKind::Hist | MapKind::Lhist { .. } => "hist",
    };
    let values: Vec<(String, String)> = dump
        .sorted()
        .into_iter()
        .map(|(key, value)| {
            let key = key.iter().map(key_text).collect::<Vec<_>>().join(",");
            (key, map_value(dump, value))
        })
        .collect();
    let data = match values.as_slice() {
        [(key, v)] if key.is_empty() => v.clone(),
        _ => {
            let pairs: Vec<String> =
                values.iter().map(|(k, v)| format!("{}: {v}", string(k.as_bytes()))).collect();
            format!("{{{}}}", pairs.join(", "))
        }
    };
    let name = string(dump.name.as_bytes());
    out.extend_from_slice(
        format!("{{\"type\": \"{kind}\", \"data\": {{{name}: {data}}}}}\n").as_bytes(),
    );
}

fn map_value(dump: &MapDump, mv: &MapValue) -> String {
    match mv {
        MapValue::Scalar(v) => value(v),
        MapValue::Average { count, total } if dump.kind == MapKind::Stats => format!(
            "{{\"count\": {count}, \"average\": {}, \"total\": {total}}}",
            average(*count, *total)
        ),
        MapValue::Average { count, total } => average(*count, *total).to_string(),
        MapValue::Buckets(buckets) => {
            let (Some(lo), Some(hi)) = (
                buckets.iter().filter(|b| b.1 > 0).map(|b| b.0).min(),
                buckets.iter().filter(|b| b.1 > 0).map(|b| b.0).max(),
            ) else {
                return "[]".into();
            };
            let items: Vec<String> = (lo..=hi)
                .map(|i| {
                    let count = buckets.iter().find(|b| b.0 == i).map_or(0, |b| b.1);
                    format!("{{{}\"count\": {count}}}", range(dump, i))
                })
                .collect();
            format!("[{}]", items.join(", "))
        }
    }
}

/// `"min": a, "max": b, ` for bucket `i` (either end left out when open).
fn range(dump: &MapDump, i: u32) -> String {
    let (min, max): (Option<i64>, Option<i64>) = match dump.kind {
        MapKind::Lhist { min, max, step } => {
            let overflow = 1 + ((max - min) as u64 / step.max(1)) as u32;
            if i == 0 {
                (None, Some(min - 1))
            } else if i >= overflow {
                (Some(max), None)
            } else {
                let lo = min + (i as i64 - 1) * step as i64;
                (Some(lo), Some(lo + step as i64 - 1))
            }
        }
        _ => match i {
            0 => (None, Some(-1)),
            1 => (Some(0), Some(0)),
            i => {
                let lo = 1i128 << (i - 2);
                (
                    Some(lo.min(i64::MAX as i128) as i64),
                    Some(((lo << 1) - 1).min(i64::MAX as i128) as i64),
                )
            }
        },
    };
    let mut s = String::new();
    if let Some(min) = min {
        s.push_str(&format!("\"min\": {min}, "));
    }
    if let Some(max) = max {
        s.push_str(&format!("\"max\": {max}, "));
    }
    s
}

fn key_text(v: &Value) -> String {
    let mut out = Vec::new();
    super::text::value(v, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(r: Record) -> String {
        let mut out = Vec::new();
        render(&r, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn records_match_bpftrace() {
        assert_eq!(
            json(Record::AttachedProbes(1)),
            "{\"type\": \"attached_probes\", \"data\": {\"probes\": 1}}\n"
        );
        assert_eq!(
            json(Record::Printf(b"hello \"q\" 5\n".to_vec())),
            "{\"type\": \"printf\", \"data\": \"hello \\\"q\\\" 5\\n\"}\n"
        );
        assert_eq!(json(Record::Value(Value::int(123))), "{\"type\": \"value\", \"data\": 123}\n");
        let t = Value::Tuple(vec![Value::int(1), Value::Str(b"a".to_vec()), Value::int(-2)]);
        assert_eq!(json(Record::Value(t)), "{\"type\": \"value\", \"data\": [1,\"a\",-2]}\n");
        assert_eq!(
            json(Record::LostEvents(3)),
            "{\"type\": \"lost_events\", \"data\": {\"events\": 3}}\n"
        );
    }

    #[test]
    fn escapes_control_bytes_and_keeps_output_valid_json() {
        assert_eq!(string(b"x\ty\x01z\n"), "\"x\\ty\\u0001z\\n\"");
        assert_eq!(string("café".as_bytes()), "\"café\"");
        let s = string(b"bad\xff");
        assert_eq!(s, "\"bad\\u00ff\"");
        assert!(serde_json::from_str::<String>(&s).is_ok());
    }
}
