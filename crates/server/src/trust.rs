//! `openmde trust`: what a machine needs for unmodified MDE clients to reach openmde instead
//! of Microsoft (transparent mode): the local CA trusted by the system, the Microsoft host
//! names pointed at loopback in the hosts file, and the server listening on port 443.

use std::path::Path;
use std::process::Command;

use anyhow::Context;

use crate::tls::DEFAULT_NAMES;

/// The names of the hosts file line: every certificate name but the loopback ones.
pub fn host_names() -> Vec<&'static str> {
    DEFAULT_NAMES
        .iter()
        .copied()
        .filter(|n| !matches!(*n, "localhost" | "127.0.0.1" | "::1"))
        .collect()
}

/// The steps, for the CA at `ca`.
pub fn instructions(ca: &Path, data_dir: &Path) -> String {
    let ca = ca.display();
    let data_dir = data_dir.display();
    format!(
        "Transparent mode: unmodified MDE clients reach openmde through these three steps.

1. Trust the local CA ({ca}):
     openmde --data-dir {data_dir} trust --install     (Debian/Ubuntu, RHEL/Fedora; as root)
   or by hand: macOS `security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain {ca}`,
   Windows `certutil -addstore Root {ca}`.
   Python's requests and aiohttp use their own bundles: point REQUESTS_CA_BUNDLE and SSL_CERT_FILE
   at the system bundle afterwards (Debian: /etc/ssl/certs/ca-certificates.crt).

2. Add this line to the hosts file (/etc/hosts, C:\\Windows\\System32\\drivers\\etc\\hosts):
127.0.0.1 {}

3. Serve on port 443 (root, or CAP_NET_BIND_SERVICE):
     openmde --data-dir {data_dir} serve --listen 127.0.0.1:443

Keep MSAL_FORCE_REGION and AZURE_REGIONAL_AUTHORITY_NAME unset: regional login hosts are not
covered. Remove the hosts line to reach Microsoft again.
",
        host_names().join(" ")
    )
}

/// Where the system trust store takes extra CAs, and the command that rebuilds it.
const SYSTEM_STORES: [(&str, &str, &[&str]); 2] = [
    (
        "/usr/local/share/ca-certificates",
        "openmde-local-ca.crt",
        &["update-ca-certificates"],
    ),
    (
        "/etc/pki/ca-trust/source/anchors",
        "openmde-local-ca.pem",
        &["update-ca-trust", "extract"],
    ),
];

/// Adds the CA to the system trust store; says where.
pub fn install(ca: &Path) -> anyhow::Result<String> {
    let pem =
        std::fs::read(ca).with_context(|| format!("cannot read {}: start `openmde serve` once first", ca.display()))?;
    let (dir, file, rebuild) = SYSTEM_STORES
        .iter()
        .find(|(dir, _, _)| Path::new(dir).is_dir())
        .context("no system trust store found (looked for Debian's and RHEL's); add the CA by hand")?;
    let target = Path::new(dir).join(file);
    std::fs::write(&target, pem).with_context(|| format!("cannot write {} (run as root)", target.display()))?;
    let status = Command::new(rebuild[0])
        .args(&rebuild[1..])
        .status()
        .with_context(|| format!("cannot run {}", rebuild[0]))?;
    anyhow::ensure!(status.success(), "{} failed ({status})", rebuild.join(" "));
    Ok(format!(
        "installed {} as {} and ran {}",
        ca.display(),
        target.display(),
        rebuild.join(" ")
    ))
}
