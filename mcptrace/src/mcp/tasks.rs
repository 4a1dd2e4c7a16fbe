//! Tasks (the `io.modelcontextprotocol/tasks` extension, SEP-2663) for
//! exec_program: a client that declares the extension in its request's
//! capabilities gets a task instead of the plain result. The task's id is
//! the execution id, so a task is only another view of an execution:
//! tasks/get reads its state (lines buffered and events lost as the status
//! message; once it has ended, the final get_result page as the result),
//! and tasks/cancel is stop_execution. Nothing is stored beside the
//! executor, so get_result, stop_execution and the execution resource work
//! on a task's id as on any other.
//!
//! The 2025-11-25 revision's experimental tasks (a `task` request parameter,
//! tasks/result, tasks/list) are a different protocol that rmcp does not
//! speak; clients of it get the plain result.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, SecondsFormat, Utc};
use rmcp::{
    ErrorData, RoleServer,
    handler::server::tool::IntoCallToolResult,
    model::{
        CallToolResponse, CreateTaskResult, DetailedTask, JsonObject, Task, TaskPayload, TaskStatus,
    },
    service::RequestContext,
};

use super::{
    compact::{self, Page},
    links::Linked,
    progress,
    types::ResultResponse,
};
use crate::exec::{Execution, KEEP_FOR, Status, StopReason};

/// How often a client is asked to poll: output grows about as fast as
/// progress notifications report it.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// Lines of output a finished task's result holds: get_result's default
/// page; get_result with the task's id reads on.
const RESULT_LINES: usize = 1000;

/// Whether the client behind `context` takes a task for this request: it
/// declares the extension in the request's own capabilities, which exist
/// from 2026-07-28 on. Clients of earlier revisions may declare it in
/// `initialize` and still read any tools/call answer as a plain result (the
/// MCP Inspector 2.12 does), so those capabilities do not count.
pub fn wanted(context: &RequestContext<RoleServer>) -> bool {
    context.meta.client_capabilities().is_some_and(|c| c.supports_tasks())
}

/// A tool's answer: its result now, or a task for it.
pub enum OrTask<T> {
    Now(T),
    Task(CreateTaskResult),
}

impl<T> OrTask<T> {
    /// The task for `e`, which has just attached, and may have ended already.
    pub fn task(e: &Execution) -> Self {
        let status = {
            let s = e.state();
            task_status(s.status, s.stop_reason)
        };
        Self::Task(CreateTaskResult::new(task(e, status)))
    }
}

impl<T: IntoCallToolResult> IntoCallToolResult for OrTask<T> {
    fn into_call_tool_result(self) -> Result<CallToolResponse, ErrorData> {
        match self {
            Self::Now(result) => result.into_call_tool_result(),
            Self::Task(task) => Ok(CallToolResponse::Task(task)),
        }
    }
}

/// tasks/get's answer for `e`. The result of a completed task is what
/// get_result would answer `context` for its first page.
pub fn detailed(
    e: &Execution,
    context: &RequestContext<RoleServer>,
) -> Result<DetailedTask, ErrorData> {
    let (status, error) = {
        let s = e.state();
        (task_status(s.status, s.stop_reason), s.error.clone())
    };
    let payload = match status {
        TaskStatus::Completed => TaskPayload::Completed { result: final_result(e, context)? },
        // A program that failed after attaching failed the request; the
        // output it left travels with the error.
        TaskStatus::Failed => {
            let page = serde_json::to_value(ResultResponse::page(e, 0, RESULT_LINES)).ok();
            let message = error.unwrap_or_else(|| "the program failed".into());
            TaskPayload::Failed { error: object(ErrorData::internal_error(message, page)) }
        }
        TaskStatus::Cancelled => TaskPayload::Cancelled,
        // Working: no task here ever waits for input.
        _ => TaskPayload::Working,
    };
    Ok(DetailedTask::new(task(e, status), payload))
}

/// The task status of an execution in `status` that stopped for `reason`.
fn task_status(status: Status, reason: Option<StopReason>) -> TaskStatus {
    match (status, reason) {
        (Status::Running, _) => TaskStatus::Working,
        // Stopped on request: tasks/cancel, stop_execution or the server's
        // shutdown. END ran; its output is get_result's.
        (Status::Completed, Some(StopReason::Stopped)) => TaskStatus::Cancelled,
        (Status::Completed, _) => TaskStatus::Completed,
        (Status::Failed, _) => TaskStatus::Failed,
    }
}

/// The task fields every answer about `e` carries.
fn task(e: &Execution, status: TaskStatus) -> Task {
    let ended = e.state().ended.map(|t| e.started_at + t.duration_since(e.started));
    // A finished execution is kept for KEEP_FOR (fewer when many finish), so
    // its time limit plus that is how long the id is worth polling.
    let ttl = e.timeout + KEEP_FOR;
    Task::new(
        e.id.clone(),
        status,
        timestamp(e.started_at),
        timestamp(ended.unwrap_or_else(SystemTime::now)),
    )
    .with_status_message(progress::message(e))
    .with_ttl_ms(ttl.as_millis() as u64)
    .with_poll_interval_ms(POLL_EVERY.as_millis() as u64)
}

/// get_result's first page, with the page's summary as `message`: the
/// result answers exec_program, whose output schema requires one, and
/// clients check results against it.
fn final_result(
    e: &Execution,
    context: &RequestContext<RoleServer>,
) -> Result<JsonObject, ErrorData> {
    let page = ResultResponse::page(e, 0, RESULT_LINES);
    let message = compact::summary(&page);
    match Linked::new(Page::new(page, context), e, context).into_call_tool_result()? {
        CallToolResponse::Complete(mut result) => {
            if let Some(serde_json::Value::Object(content)) = &mut result.structured_content {
                content.insert("message".into(), message.into());
            }
            Ok(object(result))
        }
        _ => Err(ErrorData::internal_error("a page of output is not a complete result", None)),
    }
}

fn object(value: impl serde::Serialize) -> JsonObject {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => JsonObject::new(),
    }
}

fn timestamp(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execution_stopped_on_request_is_a_cancelled_task() {
        assert_eq!(task_status(Status::Running, None), TaskStatus::Working);
        assert_eq!(
            task_status(Status::Completed, Some(StopReason::Stopped)),
            TaskStatus::Cancelled
        );
        for reason in [StopReason::Exit, StopReason::TimeLimit, StopReason::BufferFull] {
            assert_eq!(task_status(Status::Completed, Some(reason)), TaskStatus::Completed);
        }
        assert_eq!(task_status(Status::Failed, Some(StopReason::Error)), TaskStatus::Failed);
    }
}
