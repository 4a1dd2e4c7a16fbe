//! bpftrace's text mode.

use super::record::{Record, Value};

pub fn render(record: &Record, out: &mut Vec<u8>) {
    match record {
        Record::AttachedProbes(n) => {
            let plural = if *n == 1 { "" } else { "s" };
            out.extend_from_slice(format!("Attaching {n} probe{plural}...\n").as_bytes());
        }
        Record::Printf(bytes) | Record::Time(bytes) | Record::Text(bytes) => {
            out.extend_from_slice(bytes)
        }
        Record::Value(v) => {
            value(v, out);
            out.push(b'\n');
        }
        Record::LostEvents(n) => out.extend_from_slice(format!("Lost {n} events\n").as_bytes()),
        Record::EndOfEvents => out.extend_from_slice(b"\n\n"),
        Record::Map(map) => map.render_text(out),
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
