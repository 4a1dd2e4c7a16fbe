//! Output in bpftrace's formats, shared by every backend that renders it:
//! backends emit [`Record`]s, and one renderer per format writes the bytes.

pub mod buffer;
pub mod from_json;
pub mod json;
#[cfg(test)]
mod map_tests;
pub mod printf;
pub mod record;
pub mod sink;
pub mod text;

pub use record::{MapDump, MapKind, MapValue, Record, Value};
pub use sink::RecordSink;

/// bpftrace's `-f` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Text,
    Json,
}

impl Format {
    pub fn render(self, record: &Record, out: &mut Vec<u8>) {
        match self {
            Format::Text => text::render(record, out),
            Format::Json => json::render(record, out),
        }
    }
}
