//! Tool parameters and results, with their JSON schemas.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    exec::{Execution, Status, StopReason, launch::Choice},
    plan::Backend,
};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListProbesParams {
    /// bpftrace-style glob, e.g. `tracepoint:syscalls:sys_enter_open*`.
    pub filter: Option<String>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
    /// Add tracepoint arguments.
    pub verbose: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecParams {
    /// The bpftrace program.
    pub program: String,
    /// Time limit in seconds (default 10; positive, read as 1..60).
    pub timeout: Option<f64>,
    /// "auto" (default): natively where the program and kernel allow, else
    /// through bpftrace; "native": natively or an error saying why not;
    /// "bpftrace": through bpftrace (to compare the two).
    pub backend: Option<Choice>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultParams {
    pub execution_id: String,
    /// First line to return (default 0).
    pub offset: Option<u64>,
    /// Lines to return at most (default 1000, at least 1; more than 10,000
    /// is read as 10,000).
    pub limit: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdParams {
    pub execution_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Helper {
    pub name: String,
    /// builtin_variable, function or map_function.
    pub kind: String,
    pub signature: String,
    pub description: String,
    /// The kind of value it gives: integer, string, stack, aggregation,
    /// nothing (an action) or other (depends on the program).
    pub value: String,
    /// Probe kinds it is valid in, or "all".
    pub valid_in: serde_json::Value,
    /// Changes the system rather than observing it (refused).
    #[serde(rename = "unsafe")]
    pub is_unsafe: bool,
    /// Whether the native backend runs it.
    pub native: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HelpersResponse {
    pub helpers: Vec<Helper>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExecResponse {
    /// "success" or "error". (A task's result is get_result's first page,
    /// whose status is the execution's, with its summary as `message`.)
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
    /// Why this backend runs it (for bpftrace: the construct not native yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_reason: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ResultResponse {
    pub execution_id: String,
    pub status: Status,
    pub lines_total: usize,
    pub lines_returned: usize,
    pub offset: usize,
    pub output: Vec<String>,
    pub has_more: bool,
    /// Maps, histograms, stats and print() values as data: bpftrace's
    /// `-f json` records (`{"type": "map"|"hist"|"stats"|"value", "data":
    /// ...}`), from either backend; all of them, whatever the page.
    pub records: Vec<serde_json::Value>,
    pub backend: Backend,
    pub backend_reason: String,
    /// Why it ended, once it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason>,
    pub lost_events: u64,
    /// Output stopped at the line cap (the policy's `limits.max_output_lines`).
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub elapsed_seconds: f64,
    /// The share of one CPU its probes' BPF programs took, in percent,
    /// averaged since the start, as measured about every second (both
    /// backends); absent before the first measure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_cpu_percent: Option<f64>,
}

impl ResultResponse {
    pub fn page(e: &Execution, offset: usize, limit: usize) -> Self {
        let s = e.state();
        let output: Vec<String> = s.lines.iter().skip(offset).take(limit).cloned().collect();
        let elapsed = s.ended.unwrap_or_else(std::time::Instant::now).duration_since(e.started);
        Self {
            execution_id: e.id.clone(),
            status: s.status,
            lines_total: s.lines.len(),
            lines_returned: output.len(),
            offset,
            has_more: offset.saturating_add(output.len()) < s.lines.len(),
            output,
            records: s.records.clone(),
            backend: e.backend(),
            backend_reason: e.backend_reason().to_string(),
            stop_reason: s.stop_reason,
            lost_events: s.lost_events,
            truncated: s.truncated,
            error: s.error.clone(),
            elapsed_seconds: elapsed.as_secs_f64(),
            probe_cpu_percent: s.probe_cpu_share.map(|share| (share * 1e4).round() / 100.0),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Summary {
    pub execution_id: String,
    pub status: Status,
    pub backend: Backend,
    pub program: String,
    pub lines_total: usize,
}

impl Summary {
    pub fn of(e: &Execution) -> Self {
        let s = e.state();
        Self {
            execution_id: e.id.clone(),
            status: s.status,
            backend: e.backend(),
            program: e.program.clone(),
            lines_total: s.lines.len(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExecutionsResponse {
    pub executions: Vec<Summary>,
}
