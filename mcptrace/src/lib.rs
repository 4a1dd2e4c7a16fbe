//! mcptrace: run bpftrace programs natively with prebuilt eBPF programs, or
//! through the bpftrace binary, behind an MCP server.
//!
//! The pipeline, one module per pass: `lang` (parse) → `check` (against the
//! running kernel) → `plan` (native or bpftrace, and why) → `lower` (native
//! IR) → `native` (load, attach, run) → `output` (bpftrace's formats).
//! `validate` reports what the first three passes learn without running.

pub mod check;
pub mod cli;
pub mod diagnostic;
pub mod exec;
pub mod frontend;
pub mod host;
pub mod ir;
pub mod lang;
pub mod library;
pub mod lower;
pub mod mcp;
pub mod native;
pub mod output;
pub mod plan;
pub mod policy;
pub mod probe;
pub mod probes;
pub mod scope;
pub mod validate;
