//! bpftrace's JSON lines (`-f json`) read back into [`Record`]s, so that a
//! bpftrace run yields both the records, as data, and the text, from the
//! same renderer the native backend uses.
//!
//! JSON loses a little: map keys are joined with `,` (a string key holding a
//! comma reads as several keys) and every key reads as a string, which only
//! changes the order of entries with equal values; empty maps are absent.

use serde_json::Value as Json;

use super::record::{MapDump, MapKind, MapValue, Record, Value};

/// The record one line stands for, or `None` for anything else (blank
/// lines, text bpftrace writes outside JSON).
pub fn record(json: &Json) -> Option<Record> {
    let data = json.get("data")?;
    Some(match json.get("type")?.as_str()? {
        "attached_probes" => Record::AttachedProbes(data.get("probes")?.as_u64()? as usize),
        // system() output is written as it comes.
        "printf" | "syscall" => Record::Printf(data.as_str()?.as_bytes().to_vec()),
        "cat" => Record::Cat(data.as_str()?.as_bytes().to_vec()),
        "join" => Record::Join(data.as_str()?.as_bytes().to_vec()),
        "time" => Record::Time(data.as_str()?.as_bytes().to_vec()),
        "value" => Record::Value(value(data)?),
        "lost_events" => Record::LostEvents(data.get("events")?.as_u64()?),
        kind @ ("map" | "hist" | "stats") => Record::Map(map(kind, data)?),
        _ => return None,
    })
}

fn value(json: &Json) -> Option<Value> {
    Some(match json {
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::int(i),
            None => Value::uint(n.as_u64()?),
        },
        Json::String(s) => Value::Str(s.as_bytes().to_vec()),
        Json::Array(items) => Value::Tuple(items.iter().map(value).collect::<Option<_>>()?),
        _ => return None,
    })
}

/// `{"@name": VALUE}` (no keys) or `{"@name": {"k1,k2": VALUE, ...}}`.
fn map(kind: &str, data: &Json) -> Option<MapDump> {
    let (name, body) = data.as_object()?.iter().next()?;
    let keyless = match (kind, body) {
        ("map", Json::Object(_)) | ("hist", Json::Object(_)) => false,
        ("stats", Json::Object(o)) => o.contains_key("count") && o.contains_key("total"),
        _ => true,
    };
    let pairs: Vec<(Vec<Value>, &Json)> = if keyless {
        vec![(Vec::new(), body)]
    } else {
        body.as_object()?
            .iter()
            .map(|(k, v)| (k.split(',').map(|p| Value::Str(p.as_bytes().to_vec())).collect(), v))
            .collect()
    };
    let map_kind = match kind {
        "hist" => hist_kind(pairs.iter().filter_map(|(_, v)| v.as_array()).flatten())?,
        "stats" if pairs.iter().all(|(_, v)| v.is_object()) => MapKind::Stats,
        "stats" => MapKind::Avg,
        _ => MapKind::Scalar,
    };
    let entries = pairs
        .into_iter()
        .map(|(key, v)| {
            let value = match (&map_kind, v) {
                (MapKind::Scalar, v) => MapValue::Scalar(value(v)?),
                (MapKind::Avg, v) => MapValue::Average { count: 1, total: v.as_i64()? },
                (MapKind::Stats, v) => MapValue::Average {
                    count: v.get("count")?.as_u64()?,
                    total: v.get("total")?.as_i64()?,
                },
                (kind, v) => MapValue::Buckets(
                    v.as_array()?
                        .iter()
                        .map(|b| Some((bucket_index(kind, b)?, b.get("count")?.as_u64()?)))
                        .collect::<Option<_>>()?,
                ),
            };
            Some((key, value))
        })
        .collect::<Option<_>>()?;
    Some(MapDump { name: name.clone(), kind: map_kind, entries })
}

/// log2 buckets are `[0, 0]`, `[2^k, 2^(k+1) - 1]` and the open `(.., -1]`;
/// anything else is an lhist, whose bounds and step the buckets give.
fn hist_kind<'a>(buckets: impl Iterator<Item = &'a Json> + Clone) -> Option<MapKind> {
    let bounds =
        |b: &Json| (b.get("min").and_then(Json::as_i64), b.get("max").and_then(Json::as_i64));
    let log2 = buckets.clone().all(|b| match bounds(b) {
        (None, Some(-1)) | (Some(0), Some(0)) => true,
        (Some(lo), Some(hi)) => lo > 0 && (lo as u64).is_power_of_two() && hi == 2 * lo - 1,
        _ => false,
    });
    if log2 {
        return Some(MapKind::Hist);
    }
    let (mut min, mut max, mut step) = (None::<i64>, None::<i64>, None::<i64>);
    let (mut lowest, mut highest) = (i64::MAX, i64::MIN);
    for b in buckets {
        match bounds(b) {
            (None, Some(hi)) => min = Some(hi + 1),
            (Some(lo), None) => max = Some(lo),
            (Some(lo), Some(hi)) => {
                step = Some(hi - lo + 1);
                lowest = lowest.min(lo);
                highest = highest.max(hi + 1);
            }
            (None, None) => return None,
        }
    }
    let step = step.unwrap_or(1).max(1);
    let min = min.unwrap_or(if lowest == i64::MAX { 0 } else { lowest });
    let max = max.unwrap_or(if highest == i64::MIN { min + step } else { highest });
    Some(MapKind::Lhist { min, max, step: step as u64 })
}

fn bucket_index(kind: &MapKind, bucket: &Json) -> Option<u32> {
    let lo = bucket.get("min").and_then(Json::as_i64);
    Some(match (kind, lo) {
        (_, None) => 0,
        (MapKind::Lhist { min, max, step }, Some(lo))
            if lo >= *max && bucket.get("max").is_none() =>
        {
            1 + ((max - min) as u64 / step) as u32
        }
        (MapKind::Lhist { min, step, .. }, Some(lo)) => 1 + ((lo - min) as u64 / step) as u32,
        (_, Some(0)) => 1,
        (_, Some(lo)) => (lo as u64).trailing_zeros() + 2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::text;

    /// What bpftrace 0.17 printed with `-f json` and as text, for programs
    /// printing values, a map with string keys, two keys, string values,
    /// hist, lhist with both open ends, stats and avg, cat(), system() and
    /// join() (blank lines left out).
    const JSON: &str = r#"{"type": "attached_probes", "data": {"probes": 1}}
{"type": "value", "data": [1,"a"]}
{"type": "value", "data": 5}
{"type": "printf", "data": "p\n"}
{"type": "cat", "data": "hello-cat\n"}
{"type": "syscall", "data": "from-system\n"}
{"type": "join", "data": "bash -c /bin/true x y"}
{"type": "map", "data": {"@a": {"x": 1, "y": 2}}}
{"type": "hist", "data": {"@h": [{"min": 4, "max": 7, "count": 1}, {"min": 8, "max": 15, "count": 0}, {"min": 16, "max": 31, "count": 0}, {"min": 32, "max": 63, "count": 0}, {"min": 64, "max": 127, "count": 1}]}}
{"type": "map", "data": {"@k": {"1,two": 3}}}
{"type": "hist", "data": {"@l": [{"max": -1, "count": 2}, {"min": 0, "max": 9, "count": 0}, {"min": 10, "max": 19, "count": 1}, {"min": 20, "max": 29, "count": 0}, {"min": 30, "count": 4}]}}
{"type": "stats", "data": {"@s": {"count": 2, "average": 3, "total": 7}}}
{"type": "map", "data": {"@str": {"1": "hello"}}}
{"type": "stats", "data": {"@v": 4}}
"#;

    const TEXT: &str = "Attaching 1 probe...
(1, a)
5
p
hello-cat
from-system
bash -c /bin/true x y
@a[x]: 1
@a[y]: 2
@h: 
[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[8, 16)                0 |                                                    |
[16, 32)               0 |                                                    |
[32, 64)               0 |                                                    |
[64, 128)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|

@k[1, two]: 3
@l: 
(..., 0)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[0, 10)                0 |                                                    |
[10, 20)               1 |@@@@@@@@@@@@@                                       |
[20, 30)               0 |                                                    |
[30, ...)              4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|

@s: count 2, average 3, total 7

@str[1]: hello
@v: 4

";

    #[test]
    fn renders_bpftrace_json_as_bpftrace_text() {
        let mut out = Vec::new();
        for line in JSON.lines() {
            let json: Json = serde_json::from_str(line).unwrap();
            text::render(&record(&json).unwrap_or_else(|| panic!("{line}")), &mut out);
        }
        assert_eq!(String::from_utf8(out).unwrap(), TEXT);
    }
}
