//! mcptrace: run bpftrace programs natively with prebuilt eBPF programs, or
//! through the bpftrace binary, behind an MCP server.

pub mod check;
pub mod cli;
pub mod frontend;
pub mod host;
pub mod lang;
pub mod native;
pub mod plan;
