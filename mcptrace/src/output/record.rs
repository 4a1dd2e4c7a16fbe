//! What a running program produces, before it is rendered as text or JSON.
//! Backends emit records; one renderer per format turns them into bytes.

use super::maps::MapDump;

/// A value a program prints (`print(expr)`) or stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int { bits: u64, signed: bool },
    Str(Vec<u8>),
    Tuple(Vec<Value>),
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
    /// The formatted bytes of one time() call.
    Time(Vec<u8>),
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
