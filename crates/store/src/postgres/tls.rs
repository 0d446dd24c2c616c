//! TLS to PostgreSQL with libpq's `sslmode` meanings, on rustls:
//!
//! | `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | no | — |
//! | `prefer` (default) | if the server offers it | no |
//! | `require` | yes | no (as libpq; with `sslrootcert`, its chain is checked, as libpq does) |
//! | `verify-ca` | yes | chain to `sslrootcert` or the system's roots |
//! | `verify-full` | yes | chain, and the host name the URL connects to |
//!
//! tokio-postgres knows only `disable`, `prefer` and `require`; the stricter modes and
//! `sslrootcert` are taken out of the URL here and become the connector's certificate checks.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::StoreError;

/// What the certificate of the server must prove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    Nothing,
    Chain,
    ChainAndName,
}

/// A URL as tokio-postgres reads it, and the TLS that goes with it.
pub(super) struct Settings {
    pub url: String,
    /// `None`: `sslmode=disable`.
    pub tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

fn invalid(message: String) -> StoreError {
    StoreError::Backend(message)
}

/// `%XX` escapes of a URL parameter's value.
fn decoded(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn settings(url: &str) -> Result<Settings, StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let (mut mode, mut root_certificate) = ("prefer".to_string(), None::<PathBuf>);
    for parameter in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        match key {
            "sslmode" => mode = decoded(value),
            "sslrootcert" => root_certificate = Some(PathBuf::from(decoded(value))),
            _ => kept.push(parameter),
        }
    }
    let (driver_mode, check) = match mode.as_str() {
        "disable" => ("disable", Check::Nothing),
        "prefer" => ("prefer", Check::Nothing),
        "require" if root_certificate.is_some() => ("require", Check::Chain),
        "require" => ("require", Check::Nothing),
        "verify-ca" => ("require", Check::Chain),
        "verify-full" => ("require", Check::ChainAndName),
        other => {
            return Err(invalid(format!(
                "sslmode={other}: use disable, prefer, require, verify-ca or verify-full"
            )));
        }
    };
    let driver_parameter = format!("sslmode={driver_mode}");
    kept.push(&driver_parameter);
    let url = format!("{base}?{}", kept.join("&"));
    let tls = match driver_mode {
        "disable" => None,
        _ => Some(connector(check, root_certificate)?),
    };
    Ok(Settings { url, tls })
}

fn connector(
    check: Check,
    root_certificate: Option<PathBuf>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?;
    let chain = match check {
        Check::Nothing => None,
        Check::Chain | Check::ChainAndName => {
            let roots = Arc::new(roots(root_certificate)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, Arc::clone(&provider))
                .build()
                .map_err(|e| invalid(e.to_string()))?;
            Some(webpki)
        }
    };
    let verifier = CertificateCheck {
        provider,
        chain,
        check_name: check == Check::ChainAndName,
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The certificates of `sslrootcert`, or else the system's.
fn roots(root_certificate: Option<PathBuf>) -> Result<RootCertStore, StoreError> {
    let mut roots = RootCertStore::empty();
    match root_certificate {
        Some(path) => {
            let certificates = CertificateDer::pem_file_iter(&path)
                .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
                .map_err(|e| invalid(format!("sslrootcert {}: {e}", path.display())))?;
            roots.add_parsable_certificates(certificates);
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    if roots.is_empty() {
        return Err(invalid(
            "no root certificate to check the database's certificate with".into(),
        ));
    }
    Ok(roots)
}

/// What the server's certificate must prove: nothing (`prefer`, `require`: encryption without a
/// check, as libpq), its chain to a root (`verify-ca`), or the chain and the host name
/// (`verify-full`). The handshake's signatures are checked against the certificate presented
/// whatever the mode.
#[derive(Debug)]
struct CertificateCheck {
    provider: Arc<rustls::crypto::CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
}

impl ServerCertVerifier for CertificateCheck {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. }))
                if !self.check_name =>
            {
                Ok(ServerCertVerified::assertion())
            }
            outcome => outcome,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_modes_and_root_certificates_leave_the_url_for_the_connector() {
        let parsed = settings("postgres://u@db:5432/x?sslmode=verify-full&sslrootcert=%2Fnone.pem&options=-c%20a%3Db");
        assert!(matches!(parsed, Err(StoreError::Backend(m)) if m.contains("/none.pem")));
        let plain = settings("postgres://u@db/x?sslmode=disable").unwrap();
        assert_eq!(plain.url, "postgres://u@db/x?sslmode=disable");
        assert!(plain.tls.is_none());
        let default = settings("postgres://u@db/x?options=-c%20a%3Db").unwrap();
        assert_eq!(default.url, "postgres://u@db/x?options=-c%20a%3Db&sslmode=prefer");
        assert!(default.tls.is_some());
        assert!(settings("postgres://u@db/x?sslmode=allow").is_err());
    }
}
