//! TLS for the HTTPS listener: a local CA made on first start (kept in `tls/` of the data
//! directory, `ca.pem` for users to trust) and a server certificate issued from it at every
//! start for the names clients use, or the user's own certificate and key.

use std::path::Path;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

use crate::bootstrap::write_private;

/// Names the server certificate always covers: loopback, and the hosts real MDE clients call,
/// so that a hosts-file override works without code changes.
pub const DEFAULT_NAMES: [&str; 22] = [
    "localhost",
    "127.0.0.1",
    "::1",
    "login.microsoftonline.com",
    "login.windows.net",
    "sts.windows.net",
    "api.securitycenter.microsoft.com",
    "api.security.microsoft.com",
    "api.securitycenter.windows.com",
    "us.api.security.microsoft.com",
    "eu.api.security.microsoft.com",
    "uk.api.security.microsoft.com",
    "au.api.security.microsoft.com",
    "swa.api.security.microsoft.com",
    "ina.api.security.microsoft.com",
    "api-us.securitycenter.microsoft.com",
    "api-eu.securitycenter.microsoft.com",
    "api-uk.securitycenter.microsoft.com",
    "api-au.securitycenter.microsoft.com",
    "api-eu.securitycenter.windows.com",
    "api-gcc.securitycenter.microsoft.us",
    "api-gov.securitycenter.microsoft.us",
];

/// A certificate chain and its private key, both PEM.
pub struct TlsMaterial {
    pub chain_pem: String,
    pub key_pem: String,
}

/// The CA's identity; rebuilt the same way each start so leaves chain to the stored `ca.pem`.
fn ca_params() -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, "openmde local CA");
    params.distinguished_name.push(DnType::OrganizationName, "openmde");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(params)
}

/// Loads the local CA from `tls_dir`, creating it first if absent. Returns its key.
fn local_ca(tls_dir: &Path) -> anyhow::Result<KeyPair> {
    let key_path = tls_dir.join("ca-key.pem");
    let cert_path = tls_dir.join("ca.pem");
    if key_path.exists() && cert_path.exists() {
        let pem = std::fs::read_to_string(&key_path).with_context(|| format!("cannot read {}", key_path.display()))?;
        return KeyPair::from_pem(&pem).with_context(|| format!("{} is not a private key", key_path.display()));
    }
    std::fs::create_dir_all(tls_dir).with_context(|| format!("cannot create {}", tls_dir.display()))?;
    let key = KeyPair::generate()?;
    let mut params = ca_params()?;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(3650);
    let certificate = params.self_signed(&key)?;
    write_private(&key_path, &key.serialize_pem())?;
    std::fs::write(&cert_path, certificate.pem()).with_context(|| format!("cannot write {}", cert_path.display()))?;
    Ok(key)
}

/// A server certificate for the default names plus `extra_names`, issued by the local CA.
pub fn issue_from_local_ca(tls_dir: &Path, extra_names: &[String]) -> anyhow::Result<TlsMaterial> {
    let ca_key = local_ca(tls_dir)?;
    let issuer = Issuer::new(ca_params()?, &ca_key);
    let mut names: Vec<String> = DEFAULT_NAMES.iter().map(|n| n.to_string()).collect();
    names.extend(
        extra_names
            .iter()
            .filter(|n| !DEFAULT_NAMES.contains(&n.as_str()))
            .cloned(),
    );
    let mut params = CertificateParams::new(names)?;
    params.distinguished_name.push(DnType::CommonName, "openmde");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(397);
    let key = KeyPair::generate()?;
    let certificate = params.signed_by(&key, &issuer)?;
    let ca_pem = std::fs::read_to_string(tls_dir.join("ca.pem"))?;
    Ok(TlsMaterial {
        chain_pem: format!("{}{ca_pem}", certificate.pem()),
        key_pem: key.serialize_pem(),
    })
}

/// The user's own certificate chain and key, as PEM files.
pub fn from_files(cert: &Path, key: &Path) -> anyhow::Result<TlsMaterial> {
    Ok(TlsMaterial {
        chain_pem: std::fs::read_to_string(cert).with_context(|| format!("cannot read {}", cert.display()))?,
        key_pem: std::fs::read_to_string(key).with_context(|| format!("cannot read {}", key.display()))?,
    })
}

/// The DER bytes of the first `CERTIFICATE` block of a PEM text.
pub fn first_certificate_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let body = pem
        .split("-----BEGIN CERTIFICATE-----")
        .nth(1)?
        .split("-----END CERTIFICATE-----")
        .next()?;
    let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(base64).ok()
}
