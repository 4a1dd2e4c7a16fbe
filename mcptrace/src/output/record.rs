//! What a running program produces, before it is rendered as text or JSON.
//! Backends emit records; one renderer per format turns them into bytes.

use std::cmp::Ordering;

/// A value a program prints (`print(expr)`) or stores.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Int {
        bits: u64,
        signed: bool,
    },
    Str(Vec<u8>),
    Tuple(Vec<Value>),
    /// `buf()`: bytes, NULs included, printed escaped (see `buffer`).
    Buf(Vec<u8>),
}

impl Value {
    pub fn int(v: i64) -> Self {
        Value::Int { bits: v as u64, signed: true }
    }
    pub fn uint(v: u64) -> Self {
        Value::Int { bits: v, signed: false }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// `Attaching N probes...`: N after wildcard expansion, BEGIN/END included.
    AttachedProbes(usize),
    /// The formatted bytes of one printf call.
    Printf(Vec<u8>),
    /// `print(expr)` of a non-map value.
    Value(Value),
    /// The strings of one join() call, joined by its delimiter (a line in
    /// text mode).
    Join(Vec<u8>),
    /// The formatted bytes of one time() call.
    Time(Vec<u8>),
    /// A file's bytes as cat() read them, written as they are.
    Cat(Vec<u8>),
    /// Events the kernel dropped because user space fell behind.
    LostEvents(u64),
    /// The two newlines bpftrace writes after END and before the maps, in
    /// every mode (a 0.17 quirk kept for byte compatibility).
    EndOfEvents,
    /// A map, at exit or by `print(@m)`.
    Map(MapDump),
    /// A line a tracer wrote outside its records (bpftrace's warnings on
    /// stdout), newline included, passed on as written.
    Text(Vec<u8>),
}

impl Record {
    /// Maps and print() values: what a client computes on, kept as data
    /// beside the text.
    pub fn is_data(&self) -> bool {
        matches!(self, Record::Map(_) | Record::Value(_))
    }
}

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
    /// stable (bpftrace leaves ties unordered). Maps of strings go by key
    /// alone, integers as unsigned (bpftrace's sort_by_key: `@a[2]` before
    /// `@a[-3]`).
    pub(super) fn sorted(&self) -> Vec<&(Vec<Value>, MapValue)> {
        let mut entries: Vec<_> = self.entries.iter().collect();
        if entries.iter().all(|(_, v)| matches!(v, MapValue::Scalar(Value::Str(_)))) {
            entries.sort_by(|a, b| cmp_keys(&a.0, &b.0, false));
            return entries;
        }
        entries.sort_by(|a, b| {
            sort_value(&a.1).cmp(&sort_value(&b.1)).then_with(|| cmp_keys(&a.0, &b.0, true))
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
}

/// avg = total / count in C's int64 division, truncating toward zero.
pub(super) fn average(count: u64, total: i64) -> i64 {
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

/// Keys part by part; integers in their signedness where `signed`, else
/// all as unsigned.
fn cmp_keys(a: &[Value], b: &[Value], signed: bool) -> Ordering {
    let key = |v: &Value| match v {
        Value::Int { bits, signed: true } if signed => (0, *bits as i64 as i128, Vec::new()),
        Value::Int { bits, .. } => (0, *bits as i128, Vec::new()),
        Value::Str(s) | Value::Buf(s) => (1, 0, s.clone()),
        Value::Tuple(_) => (2, 0, Vec::new()),
    };
    a.iter().map(key).cmp(b.iter().map(key))
}
