//! `--trust-issuer FILE`: an external issuer whose tokens the API accepts (see
//! `openmde_identity::external`). The file is JSON:
//!
//! ```json
//! {"issuer": "https://login.microsoftonline.com/{tid}/v2.0",
//!  "jwks": "https://login.microsoftonline.com/{tid}/discovery/v2.0/keys",
//!  "audiences": ["https://api.securitycenter.microsoft.com"],
//!  "tenant": "contoso.onmicrosoft.com"}
//! ```
//!
//! `jwks` is a URL (read at start and every hour after) or a file path (relative to the
//! configuration file); `tenant` is the openmde tenant the tokens are for.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use openmde_identity::TrustedIssuer;
use openmde_store::Store;
use serde::Deserialize;

/// How often a JWKS given by URL is read again.
const JWKS_REFRESH: Duration = Duration::from_secs(3600);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustedIssuerFile {
    issuer: String,
    jwks: String,
    audiences: Vec<String>,
    tenant: String,
}

async fn read_jwks(source: &str, base: &Path) -> anyhow::Result<String> {
    if source.starts_with("https://") || source.starts_with("http://") {
        let response = reqwest::get(source)
            .await
            .with_context(|| format!("cannot fetch {source}"))?;
        anyhow::ensure!(
            response.status().is_success(),
            "{source} answered {}",
            response.status()
        );
        return Ok(response.text().await?);
    }
    let path = base.join(source);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

pub async fn load(store: &dyn Store, file: &Path) -> anyhow::Result<Arc<TrustedIssuer>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let config: TrustedIssuerFile =
        serde_json::from_str(&text).with_context(|| format!("{}: not a trusted-issuer file", file.display()))?;
    anyhow::ensure!(!config.audiences.is_empty(), "{}: audiences is empty", file.display());
    let tenant = store
        .tenant(&config.tenant)
        .await?
        .with_context(|| format!("{}: no tenant '{}' in this store", file.display(), config.tenant))?;
    let base = file.parent().unwrap_or(Path::new(".")).to_path_buf();
    let jwks = read_jwks(&config.jwks, &base).await?;
    let trusted = Arc::new(TrustedIssuer::new(&config.issuer, config.audiences, &tenant.id, &jwks)?);
    if config.jwks.contains("://") {
        let (weak, source) = (Arc::downgrade(&trusted), config.jwks);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(JWKS_REFRESH).await;
                let Some(trusted) = weak.upgrade() else { return };
                let refreshed = read_jwks(&source, &base)
                    .await
                    .and_then(|jwks| Ok(trusted.replace_keys(&jwks)?));
                if let Err(error) = refreshed {
                    tracing::warn!(issuer = %trusted.issuer, %error, "cannot refresh the JWKS; keeping the keys in use");
                }
            }
        });
    }
    tracing::info!(issuer = %config.issuer, tenant = %tenant.domain, "trusting tokens of an external issuer");
    Ok(trusted)
}
