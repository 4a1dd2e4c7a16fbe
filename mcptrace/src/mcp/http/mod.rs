//! MCP over streamable HTTP: rmcp's service, served by hyper at `/mcp`,
//! over TLS when given a certificate. Before rmcp sees a request, a gate
//! checks in turn its path, its Origin (`origin`), its bearer token
//! (`tokens`), its token's request rate and its size (`limits`), and tags
//! it with the caller, whom the tools read back through rmcp's request
//! context to enforce the token's role and scope. Loopback addresses need
//! no token; any other address does. Tokens are never logged.

pub mod limits;
pub mod origin;
mod private;
pub mod tls;
pub mod tokens;

use std::{convert::Infallible, io, net::SocketAddr, sync::Arc, time::Duration};

use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{
    Request, Response, StatusCode,
    body::{Bytes, Incoming},
    header::{self, HeaderValue},
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use rmcp::transport::{
    StreamableHttpServerConfig, StreamableHttpService,
    streamable_http_server::session::local::LocalSessionManager,
};
use schemars::JsonSchema;
use serde::Serialize;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpListener,
};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use self::{
    limits::{Limits, Rates},
    origin::{Origin, Origins},
    tokens::Tokens,
};
use super::{Server, caller::Caller, shutdown, stop_signal};
use crate::exec::Executor;

/// The endpoint's path.
pub const PATH: &str = "/mcp";
/// The caller's name on a loopback server without tokens.
const ANONYMOUS: &str = "http";
/// How long a client may take over the TLS handshake.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error(
        "{0} is not a loopback address: give bearer tokens with --tokens FILE (or one in \
         MCPTRACE_TOKEN), which clients must then send as `Authorization: Bearer TOKEN`"
    )]
    TokenRequired(SocketAddr),
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// How the transport is set up.
pub struct Options {
    pub addr: SocketAddr,
    /// None: no token asked for (loopback only).
    pub tokens: Option<Tokens>,
    pub tls: Option<TlsAcceptor>,
    pub allowed_origins: Vec<Origin>,
    pub limits: Limits,
}

/// The transport's settings as host_info shows them.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct HttpInfo {
    pub tls: bool,
    /// Whether requests need a bearer token.
    pub tokens: bool,
    /// Origins whose browser pages may call (requests without an Origin
    /// header always may).
    pub allowed_origins: Vec<String>,
    #[serde(flatten)]
    pub limits: Limits,
}

type Body = BoxBody<Bytes, Infallible>;

/// Serves MCP over HTTP(S) until SIGTERM/SIGINT; running executions are
/// then stopped.
pub async fn serve(executor: Arc<Executor>, options: Options) -> Result<(), HttpError> {
    let Options { addr, tokens, tls, allowed_origins, limits } = options;
    let loopback = addr.ip().is_loopback();
    if tokens.is_none() && !loopback {
        return Err(HttpError::TokenRequired(addr));
    }
    let listener =
        TcpListener::bind(addr).await.map_err(|source| HttpError::Bind { addr, source })?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    // The bound address, which differs from `addr` for port 0.
    eprintln!("mcptrace: serving MCP at {scheme}://{}{PATH}", listener.local_addr()?);
    let origins = Origins::new(allowed_origins, loopback);
    let info = Arc::new(HttpInfo {
        tls: tls.is_some(),
        tokens: tokens.is_some(),
        allowed_origins: origins.shown(),
        limits: limits.clone(),
    });
    let cancel = CancellationToken::new();
    let mut config = StreamableHttpServerConfig::default();
    config.cancellation_token = cancel.child_token();
    // The gate refuses by Content-Length; rmcp's own limit catches bodies
    // sent without one (chunked).
    config.max_request_body_bytes = usize::try_from(limits.max_request_bytes).unwrap_or(usize::MAX);
    if !loopback {
        // Host-header checks guard loopback servers against DNS rebinding;
        // elsewhere the bearer token and the Origin check are the guard.
        config = config.disable_allowed_hosts();
    }
    let anonymous = Caller::trusted(ANONYMOUS);
    let sessions = Arc::new(LocalSessionManager::default());
    let server_executor = executor.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(Server::new(server_executor.clone(), anonymous.clone()).over_http(info.clone())),
        sessions,
        config,
    );
    let gate = Arc::new(Gate { tokens, origins, rates: Rates::new(limits) });
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted?.0,
            _ = &mut stop => break,
        };
        let (mcp, gate) = (mcp.clone(), gate.clone());
        let handler = service_fn(move |mut req: Request<Incoming>| {
            let mut mcp = mcp.clone();
            let refusal = gate.admit(&mut req).err();
            async move {
                match refusal {
                    Some(refusal) => Ok::<_, Infallible>(refusal.response()),
                    None => mcp.call(req).await,
                }
            }
        });
        let (tls, cancel) = (tls.clone(), cancel.clone());
        tokio::spawn(async move {
            match tls {
                None => connection(stream, handler, cancel).await,
                Some(tls) => {
                    // A failed or stalled handshake ends the connection alone.
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE_LIMIT, tls.accept(stream)).await
                    {
                        connection(stream, handler, cancel).await
                    }
                }
            }
        });
    }
    cancel.cancel();
    shutdown(&executor).await;
    Ok(())
}

/// Serves one connection until it closes or the server stops.
async fn connection<I, S>(io: I, handler: S, cancel: CancellationToken)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming, ResBody = Body>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let connection = http1::Builder::new().serve_connection(TokioIo::new(io), handler);
    tokio::select! {
        _ = connection => {}
        _ = cancel.cancelled() => {}
    }
}

struct Gate {
    tokens: Option<Tokens>,
    origins: Origins,
    rates: Rates,
}

impl Gate {
    /// Tags `req` with its caller; or why it is refused.
    fn admit(&self, req: &mut Request<Incoming>) -> Result<(), Refusal> {
        if req.uri().path() != PATH {
            return Err(Refusal::NotFound);
        }
        let headers = req.headers();
        let origin = headers.get(header::ORIGIN).map(HeaderValue::as_bytes);
        self.origins.check(origin).map_err(Refusal::Origin)?;
        let caller = match &self.tokens {
            None => Caller::trusted(ANONYMOUS),
            Some(tokens) => {
                let given = headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
                let found = given.and_then(bearer).and_then(|secret| tokens.find(secret));
                found.cloned().ok_or(Refusal::Unauthorized)?
            }
        };
        let limits = self.rates.limits();
        self.rates.take(&caller.name).map_err(|wait| {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            let text = format!(
                "token `{}` made more than {} requests per second (burst {}); retry in {secs} s",
                caller.name, limits.requests_per_second, limits.request_burst
            );
            Refusal::TooMany { text, secs }
        })?;
        let length =
            headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
        limits.body(length).map_err(Refusal::TooLarge)?;
        req.extensions_mut().insert(caller);
        Ok(())
    }
}

/// Why the gate refuses a request, with what the response says.
enum Refusal {
    NotFound,
    Origin(String),
    Unauthorized,
    TooMany { text: String, secs: u64 },
    TooLarge(String),
}

impl Refusal {
    fn response(self) -> Response<Body> {
        let header = match &self {
            Self::Unauthorized => {
                Some((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")))
            }
            Self::TooMany { secs, .. } => Some((header::RETRY_AFTER, HeaderValue::from(*secs))),
            _ => None,
        };
        let (status, text) = match self {
            Self::NotFound => (StatusCode::NOT_FOUND, format!("the MCP endpoint is {PATH}")),
            Self::Origin(text) => (StatusCode::FORBIDDEN, text),
            Self::Unauthorized => {
                (StatusCode::UNAUTHORIZED, "a valid bearer token is required".into())
            }
            Self::TooMany { text, .. } => (StatusCode::TOO_MANY_REQUESTS, text),
            Self::TooLarge(text) => (StatusCode::PAYLOAD_TOO_LARGE, text),
        };
        let mut response = Response::new(Full::new(Bytes::from(text)).boxed());
        *response.status_mut() = status;
        if let Some((name, value)) = header {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// The token of an `Authorization: Bearer TOKEN` value (the scheme is
/// case-insensitive, RFC 7235).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, token) = value.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case(b"bearer ").then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abcdef"), None);
        assert_eq!(bearer(b"Bear"), None);
    }
}
