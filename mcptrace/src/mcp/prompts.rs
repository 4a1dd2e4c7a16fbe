//! The one-liner library as MCP prompts: each renders to a message holding
//! the program with its arguments filled in, and how to run it.

use std::collections::BTreeMap;

use rmcp::{
    ErrorData,
    model::{
        GetPromptRequestParams, GetPromptResult, ListPromptsResult, Prompt, PromptArgument,
        PromptMessage, Role,
    },
};
use serde_json::Value;

use crate::oneliners::{self, LIBRARY, OneLiner};

pub fn list() -> ListPromptsResult {
    ListPromptsResult::with_all_items(LIBRARY.iter().map(prompt).collect())
}

fn prompt(o: &OneLiner) -> Prompt {
    let arguments = o
        .arguments
        .iter()
        .map(|a| {
            PromptArgument::new(a.name)
                .with_description(a.description)
                .with_required(a.default.is_none())
        })
        .collect();
    Prompt::new(o.name, Some(o.description), Some(arguments))
}

pub fn get(request: &GetPromptRequestParams) -> Result<GetPromptResult, ErrorData> {
    let invalid = |e: oneliners::RenderError| ErrorData::invalid_params(e.to_string(), None);
    let o = oneliners::find(&request.name).map_err(invalid)?;
    // Prompt arguments are strings; numbers are taken as written.
    let args: BTreeMap<String, String> = request
        .arguments
        .iter()
        .flatten()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect();
    let program = o.render(&args).map_err(invalid)?;
    let text = format!(
        "{}\n\nRun this bpftrace program with exec_program (it runs natively; pass a `timeout` \
         in seconds, default 10), then read its output with get_result:\n\n```\n{program}\n```",
        o.description
    );
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
        .with_description(o.description))
}
