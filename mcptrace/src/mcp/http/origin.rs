//! The `Origin` check the MCP transport asks of servers against DNS
//! rebinding: a browser page of another site must not reach the server
//! through the browser. Requests without an Origin (clients that are not
//! browsers) pass; one with an Origin passes when the operator allowed it
//! (`--allow-origin`), or when both it and the server are on loopback.

use std::{fmt, net::IpAddr, str::FromStr};

/// `scheme://host[:port]`, as browsers send it; the port filled in from
/// the scheme when absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("an origin is http://HOST[:PORT] or https://HOST[:PORT], not `{0}`")]
pub struct OriginSyntax(String);

impl FromStr for Origin {
    type Err = OriginSyntax;

    fn from_str(text: &str) -> Result<Self, OriginSyntax> {
        let bad = || OriginSyntax(text.to_string());
        let (scheme, rest) = text.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(bad()),
        };
        // `[v6]:port`, `host:port` or a bare host.
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                (host, port.parse().ok().filter(|p| *p > 0).ok_or_else(bad)?)
            }
            _ => (rest, default_port),
        };
        if host.is_empty() || host.contains(['/', '?', '#', '@']) {
            return Err(bad());
        }
        Ok(Self { scheme, host: host.to_ascii_lowercase(), port })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl Origin {
    fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

#[derive(Debug)]
pub struct Origins {
    allowed: Vec<Origin>,
    /// Loopback origins pass too: the server listens on loopback.
    loopback: bool,
}

impl Origins {
    pub fn new(allowed: Vec<Origin>, loopback_server: bool) -> Self {
        Self { allowed, loopback: loopback_server }
    }

    /// Ok for a request whose Origin header is `origin`; else why not and
    /// how to allow it.
    pub fn check(&self, origin: Option<&[u8]>) -> Result<(), String> {
        let Some(raw) = origin else { return Ok(()) };
        let text = String::from_utf8_lossy(raw);
        let parsed = text.parse::<Origin>().ok();
        let allowed = parsed
            .as_ref()
            .is_some_and(|o| self.allowed.contains(o) || (self.loopback && o.is_loopback()));
        if allowed {
            return Ok(());
        }
        Err(format!(
            "origin `{text}` is not allowed to call this server (a page of another site must not \
             reach it through a browser); to allow it, start mcptrace with --allow-origin {text}"
        ))
    }

    /// The origins allowed besides requests without one, for host_info.
    pub fn shown(&self) -> Vec<String> {
        let mut shown: Vec<String> = self.allowed.iter().map(Origin::to_string).collect();
        if self.loopback {
            shown.push("any loopback origin (the server is on loopback)".into());
        }
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_by_scheme_host_and_port() {
        let allowed = vec!["https://App.example".parse().unwrap()];
        let remote = Origins::new(allowed.clone(), false);
        assert_eq!(remote.check(None), Ok(()));
        assert_eq!(remote.check(Some(b"https://app.example:443")), Ok(()));
        for refused in
            ["http://app.example", "https://app.example:8443", "null", "http://localhost"]
        {
            let err = remote.check(Some(refused.as_bytes())).unwrap_err();
            assert!(err.contains(&format!("--allow-origin {refused}")), "{err}");
        }
        let local = Origins::new(allowed, true);
        for ok in ["http://localhost:3000", "http://127.0.0.1", "http://[::1]:8080"] {
            assert_eq!(local.check(Some(ok.as_bytes())), Ok(()), "{ok}");
        }
        assert!(local.check(Some(b"http://evil.example")).is_err());
    }

    #[test]
    fn allowed_origins_must_be_origins() {
        for bad in ["app.example", "ftp://x", "https://", "https://x/path", "https://x:0"] {
            assert_eq!(bad.parse::<Origin>(), Err(OriginSyntax(bad.into())), "{bad}");
        }
    }
}
