//! Maps as bpftrace prints them at exit and by `print(@m)`: one renderer for
//! both backends' data, in text and JSON, with bpftrace's sorting rules.

use std::cmp::Ordering;

use super::{json, record::Value, text};

/// What a map aggregates, which decides how it sorts and prints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// count(), sum(), min(), max() and plain integer assignment.
    Scalar,
    Avg,
    Stats,
    /// hist(): log2 buckets.
    Hist,
    /// lhist(v, min, max, step).
    Lhist {
        min: i64,
        max: i64,
        step: u64,
    },
}

/// One key's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MapValue {
    Scalar(Value),
    /// avg() and stats(): the running count and total.
    Average {
        count: u64,
        total: i64,
    },
    /// Bucket index → count, for hist and lhist.
    Buckets(Vec<(u32, u64)>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDump {
    /// With the `@`.
    pub name: String,
    pub kind: MapKind,
    /// Key parts (empty for a key-less map) and value.
    pub entries: Vec<(Vec<Value>, MapValue)>,
}

impl MapDump {
    /// Entries in bpftrace's order: ascending by value (by average for
    /// avg/stats, by total count for histograms), ties by key so output is
    /// stable (bpftrace leaves ties unordered).
    fn sorted(&self) -> Vec<&(Vec<Value>, MapValue)> {
        let mut entries: Vec<_> = self.entries.iter().collect();
        entries.sort_by(|a, b| {
            sort_value(&a.1).cmp(&sort_value(&b.1)).then_with(|| cmp_keys(&a.0, &b.0))
        });
        entries
    }

    /// `print(@m, top, div)`: only the last `top` entries (0: all), values
    /// divided by `div` (not lhist counts, as in bpftrace 0.17).
    pub fn top_div(mut self, top: usize, div: u64) -> Self {
        let sorted: Vec<_> = self.sorted().into_iter().cloned().collect();
        let skip = if top == 0 { 0 } else { sorted.len().saturating_sub(top) };
        self.entries = sorted.into_iter().skip(skip).collect();
        if div > 1 {
            let hist = matches!(self.kind, MapKind::Hist);
            for (_, v) in &mut self.entries {
                match v {
                    MapValue::Scalar(Value::Int { bits, signed }) => {
                        *bits =
                            if *signed { (*bits as i64 / div as i64) as u64 } else { *bits / div }
                    }
                    MapValue::Buckets(b) if hist => b.iter_mut().for_each(|(_, c)| *c /= div),
                    _ => {}
                }
            }
        }
        self
    }

    pub fn render_text(&self, out: &mut Vec<u8>) {
        if self.entries.is_empty() {
            let blank: &[u8] =
                if matches!(self.kind, MapKind::Avg | MapKind::Stats) { b"\n\n" } else { b"\n" };
            return out.extend_from_slice(blank);
        }
        for (key, value) in self.sorted() {
            out.extend_from_slice(self.name.as_bytes());
            if !key.is_empty() {
                out.push(b'[');
                for (i, k) in key.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    text::value(k, out);
                }
                out.push(b']');
            }
            out.extend_from_slice(b": ");
            match value {
                MapValue::Scalar(v) => text::value(v, out),
                MapValue::Average { count, total } => {
                    let avg = average(*count, *total);
                    if self.kind == MapKind::Stats {
                        out.extend_from_slice(
                            format!("count {count}, average {avg}, total {total}").as_bytes(),
                        );
                    } else {
                        out.extend_from_slice(avg.to_string().as_bytes());
                    }
                }
                MapValue::Buckets(buckets) => {
                    out.push(b'\n');
                    self.render_buckets(buckets, out);
                }
            }
            out.push(b'\n');
        }
        if matches!(self.kind, MapKind::Avg | MapKind::Stats) {
            out.push(b'\n');
        }
    }

    /// Bucket lines from the lowest to the highest non-empty bucket.
    fn render_buckets(&self, buckets: &[(u32, u64)], out: &mut Vec<u8>) {
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
            let line = format!("{:<16}{count:>8} |{:<52}|\n", self.label(index), "@".repeat(bar));
            out.extend_from_slice(line.as_bytes());
        }
    }

    fn label(&self, index: u32) -> String {
        match self.kind {
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

    /// One `{"type": ..., "data": ...}` line; nothing for an empty map.
    pub fn render_json(&self, out: &mut Vec<u8>) {
        if self.entries.is_empty() {
            return;
        }
        let kind = match self.kind {
            MapKind::Scalar => "map",
            MapKind::Avg | MapKind::Stats => "stats",
            MapKind::Hist | MapKind::Lhist { .. } => "hist",
        };
        let values: Vec<(String, String)> = self
            .sorted()
            .into_iter()
            .map(|(key, value)| {
                let key = key.iter().map(json_key).collect::<Vec<_>>().join(",");
                (key, self.json_value(value))
            })
            .collect();
        let data = match values.as_slice() {
            [(key, v)] if key.is_empty() => v.clone(),
            _ => {
                let pairs: Vec<String> = values
                    .iter()
                    .map(|(k, v)| format!("{}: {v}", json::string(k.as_bytes())))
                    .collect();
                format!("{{{}}}", pairs.join(", "))
            }
        };
        let name = json::string(self.name.as_bytes());
        out.extend_from_slice(
            format!("{{\"type\": \"{kind}\", \"data\": {{{name}: {data}}}}}\n").as_bytes(),
        );
    }

    fn json_value(&self, value: &MapValue) -> String {
        match value {
            MapValue::Scalar(v) => json::value(v),
            MapValue::Average { count, total } if self.kind == MapKind::Stats => format!(
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
                        format!("{{{}\"count\": {count}}}", self.json_range(i))
                    })
                    .collect();
                format!("[{}]", items.join(", "))
            }
        }
    }

    /// `"min": a, "max": b, ` for bucket `i` (either end left out when open).
    fn json_range(&self, i: u32) -> String {
        let (min, max): (Option<i64>, Option<i64>) = match self.kind {
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
}

/// avg = total / count in C's int64 division, truncating toward zero.
fn average(count: u64, total: i64) -> i64 {
    if count == 0 { 0 } else { total / count as i64 }
}

/// The sort key of a value: scalars by value in their signedness, averages
/// by average, histograms by their total count.
fn sort_value(v: &MapValue) -> i128 {
    match v {
        MapValue::Scalar(Value::Int { bits, signed: true }) => *bits as i64 as i128,
        MapValue::Scalar(Value::Int { bits, signed: false }) => *bits as i128,
        MapValue::Scalar(_) => 0,
        MapValue::Average { count, total } => average(*count, *total) as i128,
        MapValue::Buckets(b) => b.iter().map(|(_, c)| *c as i128).sum(),
    }
}

fn cmp_keys(a: &[Value], b: &[Value]) -> Ordering {
    let key = |v: &Value| match v {
        Value::Int { bits, signed: true } => (0, *bits as i64 as i128, Vec::new()),
        Value::Int { bits, .. } => (0, *bits as i128, Vec::new()),
        Value::Str(s) => (1, 0, s.clone()),
        Value::Tuple(_) => (2, 0, Vec::new()),
    };
    a.iter().map(key).cmp(b.iter().map(key))
}

fn json_key(v: &Value) -> String {
    let mut out = Vec::new();
    text::value(v, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// `2^p` with bpftrace's K/M/G/T/P/E suffixes.
fn power_of_two(p: u32) -> String {
    const SUFFIXES: [&str; 7] = ["", "K", "M", "G", "T", "P", "E"];
    format!("{}{}", 1u64 << (p % 10), SUFFIXES[(p / 10) as usize])
}

/// lhist bound: in M or K when a non-zero exact multiple, else decimal.
fn lhist_number(n: i64) -> String {
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

    fn dump(name: &str, kind: MapKind, entries: Vec<(Vec<Value>, MapValue)>) -> MapDump {
        MapDump { name: name.into(), kind, entries }
    }
    fn text_of(d: &MapDump) -> String {
        let mut out = Vec::new();
        d.render_text(&mut out);
        String::from_utf8(out).unwrap()
    }
    fn json_of(d: &MapDump) -> String {
        let mut out = Vec::new();
        d.render_json(&mut out);
        String::from_utf8(out).unwrap()
    }
    fn int(v: i64) -> Value {
        Value::int(v)
    }
    fn scalar(v: i64) -> MapValue {
        MapValue::Scalar(Value::int(v))
    }

    #[test]
    fn scalars_sort_ascending_by_value_with_signed_keys() {
        let d = dump(
            "@a",
            MapKind::Scalar,
            vec![(vec![int(1)], scalar(2)), (vec![int(-3)], scalar(1)), (vec![int(2)], scalar(1))],
        );
        assert_eq!(text_of(&d), "@a[-3]: 1\n@a[2]: 1\n@a[1]: 2\n");
        assert_eq!(
            json_of(&d),
            "{\"type\": \"map\", \"data\": {\"@a\": {\"-3\": 1, \"2\": 1, \"1\": 2}}}\n"
        );
        let keyless = dump("@c", MapKind::Scalar, vec![(vec![], scalar(0))]);
        assert_eq!(text_of(&keyless), "@c: 0\n");
        assert_eq!(json_of(&keyless), "{\"type\": \"map\", \"data\": {\"@c\": 0}}\n");
        let multi =
            dump("@c", MapKind::Scalar, vec![(vec![int(1), Value::Str(b"x".to_vec())], scalar(1))]);
        assert_eq!(text_of(&multi), "@c[1, x]: 1\n");
        assert_eq!(json_of(&multi), "{\"type\": \"map\", \"data\": {\"@c\": {\"1,x\": 1}}}\n");
    }

    #[test]
    fn avg_and_stats_truncate_toward_zero_and_end_with_a_blank_line() {
        let avg = dump(
            "@a",
            MapKind::Avg,
            vec![
                (vec![int(1)], MapValue::Average { count: 2, total: 15 }),
                (vec![int(2)], MapValue::Average { count: 2, total: -15 }),
            ],
        );
        assert_eq!(text_of(&avg), "@a[2]: -7\n@a[1]: 7\n\n");
        let stats =
            dump("@st", MapKind::Stats, vec![(vec![], MapValue::Average { count: 2, total: 30 })]);
        assert_eq!(text_of(&stats), "@st: count 2, average 15, total 30\n\n");
        assert_eq!(
            json_of(&stats),
            "{\"type\": \"stats\", \"data\": {\"@st\": {\"count\": 2, \"average\": 15, \"total\": 30}}}\n"
        );
        assert_eq!(text_of(&dump("@e", MapKind::Avg, vec![])), "\n\n");
        assert_eq!(text_of(&dump("@e", MapKind::Scalar, vec![])), "\n");
        assert_eq!(json_of(&dump("@e", MapKind::Scalar, vec![])), "");
    }

    #[test]
    fn log2_histogram_lines_and_labels() {
        // -1, 0, 1, 1, 2, 3, 5, 6, and 1024: buckets 0,1,2,3,4 and 12.
        let buckets = vec![(0, 1), (1, 1), (2, 2), (3, 2), (4, 2), (12, 1)];
        let d = dump("@h", MapKind::Hist, vec![(vec![], MapValue::Buckets(buckets))]);
        let t = text_of(&d);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "@h: ");
        assert_eq!(lines[1], format!("(..., 0)               1 |{:<52}|", "@".repeat(26)));
        assert_eq!(lines[3], format!("[1]                    2 |{}|", "@".repeat(52)));
        assert_eq!(lines[4], format!("[2, 4)                 2 |{}|", "@".repeat(52)));
        assert_eq!(lines[6], format!("[8, 16)                0 |{:52}|", ""));
        assert_eq!(lines[13], format!("[1K, 2K)               1 |{:<52}|", "@".repeat(26)));
        assert_eq!(lines.len(), 15, "header, 13 buckets, blank line");
        assert!(t.ends_with("|\n\n"), "a blank line after each key");
        assert_eq!(power_of_two(20), "1M");
        assert_eq!(power_of_two(33), "8G");
        let j = json_of(&dump(
            "@h",
            MapKind::Hist,
            vec![(vec![], MapValue::Buckets(vec![(0, 1), (1, 1), (2, 1), (4, 1)]))],
        ));
        assert_eq!(
            j,
            "{\"type\": \"hist\", \"data\": {\"@h\": [{\"max\": -1, \"count\": 1}, {\"min\": 0, \"max\": 0, \"count\": 1}, {\"min\": 1, \"max\": 1, \"count\": 1}, {\"min\": 2, \"max\": 3, \"count\": 0}, {\"min\": 4, \"max\": 7, \"count\": 1}]}}\n"
        );
    }

    #[test]
    fn linear_histogram_labels_and_overflow() {
        let kind = MapKind::Lhist { min: 0, max: 100, step: 10 };
        let d = dump(
            "@l",
            kind,
            vec![(vec![], MapValue::Buckets(vec![(0, 1), (1, 1), (2, 2), (11, 2)]))],
        );
        let t = text_of(&d);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[1].starts_with("(..., 0)  "));
        assert!(lines[2].starts_with("[0, 10)   "));
        assert!(lines[3].starts_with("[10, 20)  "));
        assert!(lines[11].starts_with("[90, 100) "));
        assert!(lines[12].starts_with("[100, ...)"));
        assert_eq!(lhist_number(2048), "2K");
        assert_eq!(lhist_number(3 * 1_048_576), "3M");
        assert_eq!(lhist_number(1000), "1000");
        let j = json_of(&d);
        assert!(
            j.contains("{\"max\": -1, \"count\": 1}, {\"min\": 0, \"max\": 9, \"count\": 1}"),
            "{j}"
        );
        assert!(j.contains("{\"min\": 100, \"count\": 2}]"), "{j}");
    }

    #[test]
    fn histogram_keys_sort_by_total_and_print_top_and_div() {
        let h = |c| MapValue::Buckets(vec![(2, c)]);
        let d = dump(
            "@hk",
            MapKind::Hist,
            vec![(vec![Value::Str(b"b".to_vec())], h(2)), (vec![Value::Str(b"a".to_vec())], h(1))],
        );
        let t = text_of(&d);
        assert!(t.find("@hk[a]: \n").unwrap() < t.find("@hk[b]: \n").unwrap());
        let top = dump(
            "@x",
            MapKind::Scalar,
            vec![(vec![int(1)], scalar(2000)), (vec![int(2)], scalar(10))],
        )
        .top_div(1, 1000);
        assert_eq!(text_of(&top), "@x[1]: 2\n");
    }
}
