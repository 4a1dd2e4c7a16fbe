//! Finished executions as MCP resources, `mcptrace://executions/<id>`: their
//! whole output as text, for clients that read results as resources.

use rmcp::{
    ErrorData,
    model::{ListResourcesResult, ReadResourceResult, Resource, ResourceContents},
};

use super::Server;

const PREFIX: &str = "mcptrace://executions/";

impl Server {
    /// Every finished execution still kept, oldest first.
    pub(super) fn execution_resources(&self) -> ListResourcesResult {
        let resources = self
            .executor
            .list()
            .into_iter()
            .filter(|e| !e.is_running())
            .map(|e| {
                Resource::new(format!("{PREFIX}{}", e.id), format!("execution {}", e.id))
                    .with_description(format!("Output of: {}", e.program))
                    .with_mime_type("text/plain")
            })
            .collect();
        ListResourcesResult::with_all_items(resources)
    }

    /// The output of the finished execution `uri` names.
    pub(super) fn read_execution(&self, uri: &str) -> Result<ReadResourceResult, ErrorData> {
        let not_found = |why: &str| ErrorData::resource_not_found(format!("{uri}: {why}"), None);
        let id = uri.strip_prefix(PREFIX).ok_or_else(|| not_found("not an mcptrace resource"))?;
        let e = self.executor.get(id).ok_or_else(|| {
            not_found("no such execution (finished executions are kept for 30 minutes)")
        })?;
        if e.is_running() {
            return Err(not_found("still running; read it with get_result, or once it ends"));
        }
        let text = e.state().lines.join("\n");
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri)]))
    }
}
