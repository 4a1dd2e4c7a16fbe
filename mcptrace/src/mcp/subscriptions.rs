//! Subscriptions to executions' output: a subscriber to
//! `mcptrace://executions/<id>` hears `notifications/resources/updated` when
//! lines are added (at most every [`EVERY`]) and once when it ends, then
//! nothing more. Sessions on revisions before 2026-07-28 subscribe with
//! resources/subscribe and unsubscribe; 2026-07-28 ones open a
//! subscriptions/listen stream, which ends once every execution it follows
//! has ended. Each subscription is one task, ended by unsubscribing, by the
//! stream's cancellation, or by the session going away.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use rmcp::{
    ErrorData, Peer, RoleServer,
    model::{ResourceUpdatedNotificationParam, SubscriptionFilter},
    service::{SubscriptionContext, SubscriptionSink},
};
use tokio::task::{AbortHandle, JoinSet};

use super::Server;
use crate::exec::Execution;

/// The shortest time between two notifications about one execution.
const EVERY: Duration = Duration::from_millis(150);

/// Where a subscription's notifications go.
enum Target {
    /// The session (resources/subscribe).
    Session(Peer<RoleServer>),
    /// A subscriptions/listen stream, which tags them with its id.
    Stream(SubscriptionSink),
}

impl Target {
    /// Says that `uri` changed; false once nobody can hear it.
    async fn updated(&self, uri: &str) -> bool {
        match self {
            Target::Session(peer) => peer
                .notify_resource_updated(ResourceUpdatedNotificationParam::new(uri))
                .await
                .is_ok(),
            Target::Stream(sink) => sink.notify_resource_updated(uri).await.is_ok(),
        }
    }
}

/// Tells `target` about `exec`'s growth until it has ended (the last
/// notification), or until the target is gone.
async fn follow(exec: Arc<Execution>, uri: String, target: Target) {
    // Watch first: an end between the check and the watch would be missed.
    let mut changes = exec.watch();
    if !exec.is_running() {
        return;
    }
    // The sender lives in `exec`, which this task holds: no closed channel.
    while changes.changed().await.is_ok() {
        let running = exec.is_running();
        if !target.updated(&uri).await || !running {
            return;
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// One session's resources/subscribe subscriptions, by URI: each a task,
/// aborted by unsubscribing or when the session's server is dropped.
#[derive(Default)]
pub struct Subscriptions {
    followers: Mutex<HashMap<String, AbortHandle>>,
}

impl Subscriptions {
    fn followers(&self) -> std::sync::MutexGuard<'_, HashMap<String, AbortHandle>> {
        self.followers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `follower` for `uri`, unless `uri` is already followed.
    fn add(&self, uri: String, follower: impl Future<Output = ()> + Send + 'static) {
        let mut followers = self.followers();
        // Followers of ended executions have returned: forget them.
        followers.retain(|_, f| !f.is_finished());
        followers.entry(uri).or_insert_with(|| tokio::spawn(follower).abort_handle());
    }

    fn remove(&self, uri: &str) {
        if let Some(f) = self.followers().remove(uri) {
            f.abort();
        }
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        for f in self.followers().values() {
            f.abort();
        }
    }
}

impl Server {
    /// resources/subscribe: `uri` must name an execution this server knows.
    pub(super) fn subscribe_to(
        &self,
        uri: String,
        peer: Peer<RoleServer>,
    ) -> Result<(), ErrorData> {
        let exec = self.execution_at(&uri)?;
        self.subscriptions.add(uri.clone(), follow(exec, uri, Target::Session(peer)));
        Ok(())
    }

    /// resources/unsubscribe; unknown URIs are already unsubscribed.
    pub(super) fn unsubscribe_from(&self, uri: &str) {
        self.subscriptions.remove(uri);
    }

    /// What a subscriptions/listen stream may follow: the executions this
    /// server knows among those asked for. List changes are not offered.
    pub(super) fn listenable(&self, requested: &SubscriptionFilter) -> SubscriptionFilter {
        let known = requested.resource_subscriptions.iter().flatten();
        let uris = known.filter(|uri| self.execution_at(uri).is_ok());
        SubscriptionFilter::builder().resource_subscriptions(uris.cloned()).build()
    }

    /// Serves one subscriptions/listen stream until the client cancels it or
    /// every execution it follows has ended.
    pub(super) async fn listen_to(&self, context: SubscriptionContext) {
        let mut followers = JoinSet::new();
        for uri in context.accepted().resource_subscriptions.iter().flatten() {
            if let Ok(exec) = self.execution_at(uri) {
                let target = Target::Stream(context.sink().clone());
                followers.spawn(follow(exec, uri.clone(), target));
            }
        }
        tokio::select! {
            _ = context.cancelled() => {}
            _ = async { while followers.join_next().await.is_some() {} } => {}
        }
        // Dropping `followers` aborts those still running.
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;

    /// A follower that never returns, and a receiver that hears when the
    /// follower is dropped (its task aborted).
    fn pending() -> (impl Future<Output = ()> + Send + 'static, oneshot::Receiver<()>) {
        let (alive, dropped) = oneshot::channel::<()>();
        (
            async move {
                let _alive = alive;
                std::future::pending::<()>().await
            },
            dropped,
        )
    }

    #[tokio::test]
    async fn unsubscribing_and_dropping_end_the_followers() {
        let subs = Subscriptions::default();
        let (a, a_dropped) = pending();
        let (b, b_dropped) = pending();
        let (again, again_dropped) = pending();
        subs.add("a".into(), a);
        subs.add("b".into(), b);
        // Already followed: the second follower never runs.
        subs.add("a".into(), again);
        assert!(again_dropped.await.is_err());
        subs.remove("a");
        assert!(a_dropped.await.is_err());
        subs.remove("unknown");
        drop(subs);
        assert!(b_dropped.await.is_err());
    }
}
