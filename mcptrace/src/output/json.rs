//! bpftrace's JSON mode (`-f json`): one `{"type": ..., "data": ...}` object
//! per line.

use super::record::{Record, Value};

pub fn render(record: &Record, out: &mut Vec<u8>) {
    let (kind, data) = match record {
        Record::AttachedProbes(n) => ("attached_probes", format!("{{\"probes\": {n}}}")),
        Record::Printf(bytes) => ("printf", string(bytes)),
        Record::Time(bytes) => ("time", string(bytes)),
        Record::Value(v) => ("value", value(v)),
        Record::LostEvents(n) => ("lost_events", format!("{{\"events\": {n}}}")),
        // Written to stdout in JSON mode too (bpftrace 0.17).
        Record::EndOfEvents => return out.extend_from_slice(b"\n\n"),
        Record::Text(bytes) => return out.extend_from_slice(bytes),
        Record::Map(map) => return map.render_json(out),
    };
    out.extend_from_slice(format!("{{\"type\": \"{kind}\", \"data\": {data}}}\n").as_bytes());
}

/// A value: integers bare, strings quoted, tuples as arrays without spaces.
pub fn value(v: &Value) -> String {
    match v {
        Value::Int { bits, signed: true } => (*bits as i64).to_string(),
        Value::Int { bits, signed: false } => bits.to_string(),
        Value::Str(s) => string(s),
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
