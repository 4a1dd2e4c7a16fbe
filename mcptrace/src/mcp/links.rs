//! Tool results that link to the execution they are about: a
//! `resource_link` content item after the structured content and its text,
//! which stay as they are. Links exist from protocol revision 2025-06-18
//! on; older clients do not get one, as they may refuse the unknown type.

use rmcp::{
    ErrorData, RoleServer,
    handler::server::tool::IntoCallToolResult,
    model::{CallToolResponse, ContentBlock, ProtocolVersion, Resource},
    service::RequestContext,
};

use super::resources;
use crate::exec::Execution;

pub struct Linked<T> {
    result: T,
    link: Option<Resource>,
}

impl<T> Linked<T> {
    /// `result`, linked to `e` when the client's revision has links.
    pub fn new(result: T, e: &Execution, context: &RequestContext<RoleServer>) -> Self {
        let link =
            has_structured_content(context.protocol_version()).then(|| resources::resource(e));
        Self { result, link }
    }
}

/// Whether a client speaking `version` knows resource links and structured
/// tool results (both came with 2025-06-18); an unknown version is taken as
/// a current one.
pub(super) fn has_structured_content(version: Option<ProtocolVersion>) -> bool {
    version.is_none_or(|v| v.as_str() >= ProtocolVersion::V_2025_06_18.as_str())
}

impl<T: IntoCallToolResult> IntoCallToolResult for Linked<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, ErrorData> {
        let mut response = self.result.into_call_tool_result()?;
        if let (CallToolResponse::Complete(result), Some(link)) = (&mut response, self.link) {
            result.content.push(ContentBlock::resource_link(link));
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_start_with_the_2025_06_18_revision() {
        assert!(!has_structured_content(Some(ProtocolVersion::V_2024_11_05)));
        assert!(!has_structured_content(Some(ProtocolVersion::V_2025_03_26)));
        assert!(has_structured_content(Some(ProtocolVersion::V_2025_06_18)));
        assert!(has_structured_content(Some(ProtocolVersion::V_2025_11_25)));
        assert!(has_structured_content(Some(ProtocolVersion::V_2026_07_28)));
        assert!(has_structured_content(None));
    }
}
