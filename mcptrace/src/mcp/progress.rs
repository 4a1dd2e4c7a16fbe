//! Progress of a running execution, for clients that passed a progress
//! token with exec_program: about once a second, the elapsed seconds as the
//! progress value and the lines buffered and events lost as the message,
//! and once more as soon as the execution ends, saying how.

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
        let mut changes = exec.watch();
        let mut tick = tokio::time::interval(EVERY);
        tick.tick().await;
        loop {
            // The task lets go of the execution when it ends, not a tick
            // later: an evicted execution's descriptors then close at once.
            tokio::select! {
                _ = tick.tick() => {}
                _ = ended(&exec, &mut changes) => {}
            }
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

/// Returns once `exec` has ended (or can no longer change).
async fn ended(exec: &Execution, changes: &mut tokio::sync::watch::Receiver<()>) {
    while exec.is_running() {
        if changes.changed().await.is_err() {
            return;
        }
    }
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
