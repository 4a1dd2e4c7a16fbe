//! The text part of a page of output (get_result, stop_execution). Clients
//! of revisions with structured content (2025-06-18 on) get the page as data
//! there, and repeating the same JSON as text would double what a model's
//! context pays for a large page: their text part is the output itself
//! under a one-line summary. Older clients, which read only the text, keep
//! the JSON.

use rmcp::{
    ErrorData, RoleServer,
    handler::server::{tool::IntoCallToolResult, wrapper::Json},
    model::{CallToolResponse, ContentBlock},
    service::RequestContext,
};

use super::{links::has_structured_content, types::ResultResponse};

pub struct Page {
    page: ResultResponse,
    compact: bool,
}

impl Page {
    pub fn new(page: ResultResponse, context: &RequestContext<RoleServer>) -> Self {
        Self { page, compact: has_structured_content(context.protocol_version()) }
    }
}

impl IntoCallToolResult for Page {
    fn into_call_tool_result(self) -> Result<CallToolResponse, ErrorData> {
        let text = self.compact.then(|| text(&self.page));
        let mut response = Json(self.page).into_call_tool_result()?;
        if let (CallToolResponse::Complete(result), Some(text)) = (&mut response, text) {
            result.content = vec![ContentBlock::text(text)];
        }
        Ok(response)
    }
}

/// A summary line, then the page's lines as the program printed them.
fn text(page: &ResultResponse) -> String {
    let mut text = summary(page);
    for line in &page.output {
        text.push('\n');
        text.push_str(line);
    }
    text
}

/// The page in one line: status, backend, which lines, how it ended, what
/// was lost or cut.
pub fn summary(page: &ResultResponse) -> String {
    let name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let mut summary = format!(
        "{} ({}); lines {}..{} of {}",
        name(serde_json::json!(page.status)),
        page.backend,
        page.offset,
        page.offset + page.lines_returned,
        page.lines_total
    );
    if page.has_more {
        summary.push_str(", more after");
    }
    if let Some(reason) = page.stop_reason {
        summary.push_str(&format!("; ended: {}", name(serde_json::json!(reason))));
    }
    if page.lost_events > 0 {
        summary.push_str(&format!("; {} events lost", page.lost_events));
    }
    if page.truncated {
        summary.push_str("; truncated at the line cap");
    }
    if !page.records.is_empty() {
        summary.push_str(&format!("; {} records in structured content", page.records.len()));
    }
    if let Some(error) = &page.error {
        summary.push_str(&format!("; error: {error}"));
    }
    summary
}
