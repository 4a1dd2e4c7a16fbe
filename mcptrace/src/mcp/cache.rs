//! Cache hints (revision 2026-07-28) on list results. What is fixed for the
//! server's life — its tools, prompts and resource templates — may be kept
//! for an hour by anyone, as it holds nothing of a user. Lists that change
//! (executions as resources) and reads keep rmcp's default: stale at once,
//! private.

use rmcp::{
    RoleServer,
    model::{
        CacheScope, ListPromptsResult, ListResourceTemplatesResult, ListToolsResult,
        ProtocolVersion,
    },
    service::RequestContext,
};

/// How long a client may keep what does not change while the server runs.
const FIXED_TTL_MS: u64 = 3_600_000;

/// A list result that can carry cache hints.
pub trait Cacheable: Sized {
    fn hinted(self, ttl_ms: u64, scope: CacheScope) -> Self;

    /// `self` with the hints for what is fixed for the server's life, when
    /// the client's revision has cache hints.
    fn fixed_for(self, context: &RequestContext<RoleServer>) -> Self {
        let hints = context
            .protocol_version()
            .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str());
        if hints { self.hinted(FIXED_TTL_MS, CacheScope::Public) } else { self }
    }
}

macro_rules! cacheable {
    ($($t:ty),*) => {$(
        impl Cacheable for $t {
            fn hinted(self, ttl_ms: u64, scope: CacheScope) -> Self {
                self.with_ttl_ms(ttl_ms).with_cache_scope(scope)
            }
        }
    )*};
}

cacheable!(ListToolsResult, ListPromptsResult, ListResourceTemplatesResult);
