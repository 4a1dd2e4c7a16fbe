//! Cache hints (revision 2026-07-28): what is fixed for the server's life
//! (tools, prompts, resource templates) may be kept an hour by anyone; the
//! list of executions is stale at once and private. Older revisions get no
//! hints.

use mcptrace_tests::mcp::Client;
use rmcp::model::{CacheScope, ProtocolVersion};

const HOUR_MS: u64 = 3_600_000;

#[tokio::test(flavor = "multi_thread")]
async fn fixed_lists_carry_cache_hints_from_2026_07_28_on() {
    for (version, hinted) in
        [(ProtocolVersion::V_2025_11_25, false), (ProtocolVersion::V_2026_07_28, true)]
    {
        let c = Client::start_speaking(version.clone()).await;
        let peer = c.service.peer();
        let tools = peer.list_tools(None).await.unwrap();
        let prompts = peer.list_prompts(None).await.unwrap();
        let templates = peer.list_resource_templates(None).await.unwrap();
        let resources = peer.list_resources(None).await.unwrap();
        let fixed = hinted.then_some((HOUR_MS, CacheScope::Public));
        let pair = |ttl: Option<u64>, scope: Option<CacheScope>| ttl.zip(scope);
        assert_eq!(pair(tools.ttl_ms, tools.cache_scope), fixed, "{version} tools");
        assert_eq!(pair(prompts.ttl_ms, prompts.cache_scope), fixed, "{version} prompts");
        assert_eq!(pair(templates.ttl_ms, templates.cache_scope), fixed, "{version} templates");
        let changing = hinted.then_some((0, CacheScope::Private));
        assert_eq!(pair(resources.ttl_ms, resources.cache_scope), changing, "{version} resources");
        c.close().await;
    }
}
