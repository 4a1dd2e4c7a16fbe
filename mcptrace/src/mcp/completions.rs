//! completion/complete: values for the prompts' arguments (process ids and
//! thread names running here, common frequencies) and for the execution
//! resource template's `id`. The protocol completes prompt and
//! resource-template arguments only, not tool arguments: probe names for
//! probe_info or list_probes cannot be offered this way.

use rmcp::{
    ErrorData,
    model::{CompleteRequestParams, CompleteResult, CompletionInfo, Reference},
};

use super::{Server, resources};
use crate::library;

impl Server {
    /// The values for the argument `request` names that start with what is
    /// typed so far. An argument without values gets none; an unknown
    /// prompt or template is an invalid request.
    pub(super) fn complete_argument(
        &self,
        request: &CompleteRequestParams,
    ) -> Result<CompleteResult, ErrorData> {
        let invalid = |message: String| ErrorData::invalid_params(message, None);
        let (name, typed) = (&request.argument.name, &request.argument.value);
        let values = match &request.r#ref {
            Reference::Prompt(prompt) => {
                let p = library::find(&prompt.name).map_err(|e| invalid(e.to_string()))?;
                let argument = p.arguments.iter().find(|a| a.name == name);
                argument.map(|a| a.suggestions(typed)).unwrap_or_default()
            }
            Reference::Resource(template) if template.uri == resources::TEMPLATE => {
                if name != resources::TEMPLATE_ARGUMENT {
                    Vec::new()
                } else {
                    let ids = self.executor.list().into_iter().map(|e| e.id.clone());
                    ids.filter(|id| id.starts_with(typed.as_str())).collect()
                }
            }
            Reference::Resource(template) => {
                return Err(invalid(format!("no resource template `{}`", template.uri)));
            }
            other => return Err(invalid(format!("cannot complete a {}", other.reference_type()))),
        };
        capped(values).map(CompleteResult::new)
    }
}

/// The first [`CompletionInfo::MAX_VALUES`] of `values`, with how many
/// there are and whether more were left out.
fn capped(mut values: Vec<String>) -> Result<CompletionInfo, ErrorData> {
    let total = values.len();
    values.truncate(CompletionInfo::MAX_VALUES);
    let has_more = total > values.len();
    let total = u32::try_from(total).unwrap_or(u32::MAX);
    CompletionInfo::with_pagination(values, Some(total), has_more)
        .map_err(|e| ErrorData::internal_error(e, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_at_a_hundred_and_says_how_many() {
        let info = capped((0..250).map(|i| i.to_string()).collect()).unwrap();
        assert_eq!(info.values.len(), 100);
        assert_eq!((info.total, info.has_more), (Some(250), Some(true)));
        let info = capped(vec!["a".into()]).unwrap();
        assert_eq!((info.values.len(), info.total, info.has_more), (1, Some(1), Some(false)));
    }
}
