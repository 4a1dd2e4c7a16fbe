//! Facts about the running kernel: tracefs, tracepoint formats.

pub mod tracefs;
