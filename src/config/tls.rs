//! `tls_server_config`: HTTPS on the listener, and client certificates if asked, in the
//! shape of Prometheus's web configuration file (`--web.config.file`), so that the same
//! files and the same words serve both.
//!
//! In: the section as written. Out: a rustls server configuration (TLS 1.2 and 1.3, the
//! aws-lc-rs provider), or problems naming the field, the file and what is wrong with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// The server's certificate chain (PEM), leaf first.
    pub cert_file: PathBuf,
    /// Its private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// Whether clients present certificates, and whether they must.
    #[serde(default)]
    pub client_auth_type: ClientAuthType,
    /// The CAs (PEM) that client certificates must chain to.
    pub client_ca_file: Option<PathBuf>,
}

/// Prometheus's names. Its `RequestClientCert` and `RequireAnyClientCert` accept
/// certificates nobody verified, which authenticate no one: they are refused.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub enum ClientAuthType {
    #[default]
    NoClientCert,
    /// A client may present a certificate; one that does must chain to `client_ca_file`.
    VerifyClientCertIfGiven,
    /// Every client presents a certificate that chains to `client_ca_file` (mTLS).
    RequireAndVerifyClientCert,
}

impl TlsServerConfig {
    /// The rustls configuration, or None with the problems pushed.
    pub fn load(&self, problems: &mut Vec<String>) -> Option<Arc<rustls::ServerConfig>> {
        let found = problems.len();
        let chain = certificates("cert_file", &self.cert_file, problems);
        let key = PrivateKeyDer::from_pem_file(&self.key_file)
            .map_err(|e| problem("key_file", &self.key_file, e, problems))
            .ok();
        let verifier = match (self.client_auth_type, &self.client_ca_file) {
            (ClientAuthType::NoClientCert, None) => None,
            (ClientAuthType::NoClientCert, Some(_)) => {
                problems.push(
                    "tls_server_config.client_ca_file: set, but client_auth_type is NoClientCert: \
                     choose VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                        .to_owned(),
                );
                None
            }
            (_, None) => {
                problems.push(format!(
                    "tls_server_config.client_auth_type {:?} needs client_ca_file, the CAs client certificates must chain to",
                    self.client_auth_type
                ));
                None
            }
            (kind, Some(path)) => self.verifier(kind, path, problems),
        };
        if problems.len() > found {
            return None;
        }
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the provider supports the default versions");
        let builder = match verifier {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(chain?, key?)
            .map_err(|e| {
                problems.push(format!(
                    "tls_server_config: {} and {} do not make a usable certificate: {e}",
                    self.cert_file.display(),
                    self.key_file.display()
                ))
            })
            .ok()?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Some(Arc::new(config))
    }

    fn verifier(
        &self,
        kind: ClientAuthType,
        path: &Path,
        problems: &mut Vec<String>,
    ) -> Option<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
        let cas = certificates("client_ca_file", path, problems)?;
        let mut roots = rustls::RootCertStore::empty();
        for ca in cas {
            if let Err(e) = roots.add(ca) {
                problem("client_ca_file", path, e, problems);
                return None;
            }
        }
        let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
        let builder = match kind {
            ClientAuthType::VerifyClientCertIfGiven => builder.allow_unauthenticated(),
            _ => builder,
        };
        builder
            .build()
            .map_err(|e| problem("client_ca_file", path, e, problems))
            .ok()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Every certificate in a PEM file; at least one.
fn certificates(
    field: &str,
    path: &Path,
    problems: &mut Vec<String>,
) -> Option<Vec<CertificateDer<'static>>> {
    let items: Result<Vec<_>, _> =
        CertificateDer::pem_file_iter(path).and_then(|items| items.collect());
    match items {
        Ok(items) if items.is_empty() => {
            problems.push(format!(
                "tls_server_config.{field}: {} holds no PEM certificate",
                path.display()
            ));
            None
        }
        Ok(items) => Some(items),
        Err(e) => {
            problem(field, path, e, problems);
            None
        }
    }
}

fn problem(field: &str, path: &Path, e: impl std::fmt::Display, problems: &mut Vec<String>) {
    problems.push(format!(
        "tls_server_config.{field}: {}: {e}",
        path.display()
    ));
}
