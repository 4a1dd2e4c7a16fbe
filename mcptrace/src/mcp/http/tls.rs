//! HTTPS: rustls with the ring provider, from a PEM certificate chain and
//! key (`--tls-cert`, `--tls-key`). The key must be private to the
//! operator, as the tokens file is.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
};
use tokio_rustls::TlsAcceptor;

use super::private::{self, PrivateFileError};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate {}: {source}", path.display())]
    ReadCert { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Key(#[from] PrivateFileError),
    #[error("{}: no PEM {what} in it ({source})", path.display())]
    Pem { path: PathBuf, what: &'static str, source: rustls::pki_types::pem::Error },
    #[error("TLS certificate {} and key {}: {source}", cert.display(), key.display())]
    Config { cert: PathBuf, key: PathBuf, source: rustls::Error },
}

/// The acceptor for the certificate chain in `cert` and the key in `key`.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let pem = |path: &Path, what, source| TlsError::Pem { path: path.into(), what, source };
    let chain_pem =
        std::fs::read(cert).map_err(|source| TlsError::ReadCert { path: cert.into(), source })?;
    let chain = CertificateDer::pem_slice_iter(&chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .and_then(|c| {
            if c.is_empty() { Err(rustls::pki_types::pem::Error::NoItemsFound) } else { Ok(c) }
        })
        .map_err(|e| pem(cert, "certificate", e))?;
    let key_der = PrivateKeyDer::from_pem_slice(&private::read(key)?)
        .map_err(|e| pem(key, "private key", e))?;
    let config = |source| TlsError::Config { cert: cert.into(), key: key.into(), source };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(config)?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(config)?;
    // hyper serves HTTP/1.1 only.
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(server)))
}
