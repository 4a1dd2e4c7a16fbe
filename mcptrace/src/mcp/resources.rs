//! Executions as MCP resources, `mcptrace://executions/<id>`: their output
//! so far as text, with the status in `_meta`. Running ones are readable
//! too, so that tool results can link to them and subscribers can re-read
//! them when told they grew.

use std::sync::Arc;

use rmcp::{
    ErrorData,
    model::{
        ListResourceTemplatesResult, ListResourcesResult, MetaObject, ReadResourceResult, Resource,
        ResourceContents, ResourceTemplate,
    },
};
use serde_json::json;

use super::Server;
use crate::exec::Execution;

const PREFIX: &str = "mcptrace://executions/";
pub(super) const TEMPLATE: &str = "mcptrace://executions/{id}";
/// The template's one variable, which completion offers execution ids for.
pub(super) const TEMPLATE_ARGUMENT: &str = "id";

/// The URI of execution `id`.
pub(super) fn uri(id: &str) -> String {
    format!("{PREFIX}{id}")
}

/// The execution id `uri` names, if it names one.
pub(super) fn execution_id(uri: &str) -> Option<&str> {
    uri.strip_prefix(PREFIX).filter(|id| !id.is_empty())
}

/// `e` as a resource: what resources/list shows and tool results link to.
pub(super) fn resource(e: &Execution) -> Resource {
    Resource::new(uri(&e.id), format!("execution {}", e.id))
        .with_description(format!("Output of: {}", e.program))
        .with_mime_type("text/plain")
}

/// The one template: an execution by id.
pub(super) fn templates() -> ListResourceTemplatesResult {
    let template = ResourceTemplate::new(TEMPLATE, "execution")
        .with_title("Execution output")
        .with_description(
            "An execution's output so far, as text; `_meta` holds its status. \
             Subscribe to hear when it grows and when it ends.",
        )
        .with_mime_type("text/plain");
    ListResourceTemplatesResult::with_all_items(vec![template])
}

impl Server {
    /// Every execution still kept, oldest first.
    pub(super) fn execution_resources(&self) -> ListResourcesResult {
        let resources = self.executor.list().iter().map(|e| resource(e)).collect();
        ListResourcesResult::with_all_items(resources)
    }

    /// The output so far of the execution `uri` names.
    pub(super) fn read_execution(&self, uri: &str) -> Result<ReadResourceResult, ErrorData> {
        let e = self.execution_at(uri)?;
        let s = e.state();
        let meta = serde_json::Map::from_iter([
            ("status".to_string(), json!(s.status)),
            ("stop_reason".to_string(), json!(s.stop_reason)),
            ("lines_total".to_string(), json!(s.lines.len())),
            ("truncated".to_string(), json!(s.truncated)),
        ]);
        let text = ResourceContents::text(s.lines.join("\n"), uri).with_meta(MetaObject(meta));
        Ok(ReadResourceResult::new(vec![text]))
    }

    /// The execution `uri` names, or a resource-not-found error saying why.
    pub(super) fn execution_at(&self, uri: &str) -> Result<Arc<Execution>, ErrorData> {
        let not_found = |why: &str| ErrorData::resource_not_found(format!("{uri}: {why}"), None);
        let id = execution_id(uri)
            .ok_or_else(|| not_found("not an execution (mcptrace://executions/<id>)"))?;
        self.executor.get(id).ok_or_else(|| {
            not_found("no such execution (finished executions are kept for 30 minutes)")
        })
    }
}
