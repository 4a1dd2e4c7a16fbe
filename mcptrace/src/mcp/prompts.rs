//! The program library as MCP prompts: each renders to a message holding
//! the program with its arguments filled in, how it runs on this host, and
//! how to run it.

use std::collections::BTreeMap;

use rmcp::{
    ErrorData,
    model::{
        GetPromptRequestParams, GetPromptResult, ListPromptsResult, Prompt, PromptArgument,
        PromptMessage, Role,
    },
};
use serde_json::Value;

use crate::{
    check::SystemHost,
    library::{self, PROGRAMS, Program, availability},
    policy::Policy,
};

pub fn list() -> ListPromptsResult {
    ListPromptsResult::with_all_items(PROGRAMS.iter().map(prompt).collect())
}

fn prompt(p: &Program) -> Prompt {
    let arguments = p
        .arguments
        .iter()
        .map(|a| {
            PromptArgument::new(a.name)
                .with_description(a.description)
                .with_required(a.default.is_none())
        })
        .collect();
    Prompt::new(p.name, Some(p.description), Some(arguments)).with_title(p.title)
}

pub fn get(
    request: &GetPromptRequestParams,
    policy: &Policy,
) -> Result<GetPromptResult, ErrorData> {
    let invalid = |e: library::RenderError| ErrorData::invalid_params(e.to_string(), None);
    let p = library::find(&request.name).map_err(invalid)?;
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
    let program = p.render(&args).map_err(invalid)?;
    let here = availability::of_rendered(&program, SystemHost::shared(), policy);
    let text = format!(
        "{}\n\nOn this host it {}. Run this bpftrace program with exec_program (pass a \
         `timeout` in seconds, default 10), then read its output with get_result:\n\n\
         ```\n{program}\n```",
        p.description,
        here.sentence()
    );
    Ok(GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
        .with_description(p.description))
}
