//! MCP over streamable HTTP: rmcp's service, served by hyper at `/mcp`.
//! Loopback addresses by default; any other address needs a bearer token,
//! which every request must then carry. The token is never logged.

use std::{convert::Infallible, io, net::SocketAddr, sync::Arc};

use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{
    Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header,
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use rmcp::transport::{
    StreamableHttpServerConfig, StreamableHttpService,
    streamable_http_server::session::local::LocalSessionManager,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use super::{Server, shutdown, stop_signal};
use crate::exec::Executor;

/// The endpoint's path.
pub const PATH: &str = "/mcp";

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(
        "{0} is not a loopback address: set MCPTRACE_TOKEN to a bearer token, which clients \
         must then send as `Authorization: Bearer TOKEN`"
    )]
    TokenRequired(SocketAddr),
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error(transparent)]
    Io(#[from] io::Error),
}

type Body = BoxBody<Bytes, Infallible>;

/// Serves MCP over HTTP on `addr` until SIGTERM/SIGINT; running executions
/// are then stopped. With `token`, requests without it are refused.
pub async fn serve(
    executor: Arc<Executor>,
    addr: SocketAddr,
    token: Option<String>,
) -> Result<(), HttpError> {
    let loopback = addr.ip().is_loopback();
    if token.is_none() && !loopback {
        return Err(HttpError::TokenRequired(addr));
    }
    let listener =
        TcpListener::bind(addr).await.map_err(|source| HttpError::Bind { addr, source })?;
    // The bound address, which differs from `addr` for port 0.
    eprintln!("mcptrace: serving MCP at http://{}{PATH}", listener.local_addr()?);
    let cancel = CancellationToken::new();
    let mut config = StreamableHttpServerConfig::default();
    config.cancellation_token = cancel.child_token();
    if !loopback {
        // Host-header checks guard loopback servers against DNS rebinding;
        // elsewhere the bearer token is the guard.
        config = config.disable_allowed_hosts();
    }
    let sessions = Arc::new(LocalSessionManager::default());
    let server_executor = executor.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(Server::new(server_executor.clone(), "http")),
        sessions,
        config,
    );
    let expected: Option<Arc<[u8]>> = token.map(|t| t.into_bytes().into());
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted?.0,
            _ = &mut stop => break,
        };
        let (mcp, expected) = (mcp.clone(), expected.clone());
        let handler = service_fn(move |req: Request<Incoming>| {
            let mut mcp = mcp.clone();
            let refusal = refuse(&req, expected.as_deref());
            async move {
                match refusal {
                    Some(response) => Ok::<_, Infallible>(response),
                    None => mcp.call(req).await,
                }
            }
        });
        let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), handler);
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = connection => {}
                _ = cancel.cancelled() => {}
            }
        });
    }
    cancel.cancel();
    shutdown(&executor).await;
    Ok(())
}

/// The response refusing `req`, if it must be: another path, or a missing
/// or wrong bearer token.
fn refuse(req: &Request<Incoming>, expected: Option<&[u8]>) -> Option<Response<Body>> {
    if req.uri().path() != PATH {
        return Some(plain(StatusCode::NOT_FOUND, format!("the MCP endpoint is {PATH}")));
    }
    let expected = expected?;
    let given = req.headers().get(header::AUTHORIZATION).map(|v| v.as_bytes()).unwrap_or_default();
    if bearer(given).is_some_and(|token| same(token, expected)) {
        return None;
    }
    let mut response = plain(StatusCode::UNAUTHORIZED, "a bearer token is required".into());
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    Some(response)
}

fn plain(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(text)).boxed());
    *response.status_mut() = status;
    response
}

/// The token of an `Authorization: Bearer TOKEN` value (the scheme is
/// case-insensitive, RFC 7235).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, token) = value.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case(b"bearer ").then_some(token)
}

/// Compares without stopping at the first difference, so the time taken
/// does not tell how much of a guessed token was right.
fn same(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given.iter().zip(expected).fold(0, |d, (a, b)| d | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::{bearer, same};

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abcdef"), None);
        assert_eq!(bearer(b"Bear"), None);
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"Bearer abc", b"Bearer abc"));
        assert!(!same(b"Bearer abd", b"Bearer abc"));
        assert!(!same(b"Bearer ab", b"Bearer abc"));
        assert!(!same(b"", b"Bearer abc"));
    }
}
