//! Progress of a running execution, for clients that passed a progress
//! token with exec_program: about once a second, the elapsed seconds as the
//! progress value and the lines buffered and events lost as the message,
//! until the execution ends (the last notification says how it ended).

use std::{sync::Arc, time::Duration};

use rmcp::{
    Peer, RoleServer,
    model::{ProgressNotificationParam, ProgressToken},
};

use crate::exec::{Execution, Status};

const EVERY: Duration = Duration::from_secs(1);

/// Reports on `exec` to `peer` under `token` from a task of its own.
pub fn spawn(exec: Arc<Execution>, peer: Peer<RoleServer>, token: ProgressToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.tick().await;
        loop {
            tick.tick().await;
            let (progress, message, running) = snapshot(&exec);
            let note =
                ProgressNotificationParam::new(token.clone(), progress).with_message(message);
            // A client that went away ends the reports; the execution runs on.
            if peer.notify_progress(note).await.is_err() || !running {
                break;
            }
        }
    });
}

/// Elapsed seconds, the message, and whether it still runs.
fn snapshot(exec: &Execution) -> (f64, String, bool) {
    let message = message(exec);
    let s = exec.state();
    let elapsed = s.ended.unwrap_or_else(std::time::Instant::now).duration_since(exec.started);
    (elapsed.as_secs_f64(), message, s.status == Status::Running)
}

/// Lines buffered and events lost, and once it has ended, how: the progress
/// message, and a task's status message.
pub(super) fn message(exec: &Execution) -> String {
    let s = exec.state();
    let mut message = format!(
        "{} lines buffered, {} events lost ({} backend)",
        s.lines.len(),
        s.lost_events,
        exec.backend()
    );
    if s.status != Status::Running {
        let status = serde_json::to_value(s.status).unwrap_or_default();
        let reason = serde_json::to_value(s.stop_reason).unwrap_or_default();
        message.push_str(&format!(
            "; {} ({})",
            status.as_str().unwrap_or("ended"),
            reason.as_str().unwrap_or("unknown")
        ));
    }
    message
}
