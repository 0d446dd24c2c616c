//! Access tokens shaped like the v1.0 tokens Entra issues for the WindowsDefenderATP resource
//! (claims per the Entra digest §4): `iss` = `https://sts.windows.net/{tid}/`, `aud` = the
//! resource identifier as requested, `roles` for applications.

use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};

use crate::keys::Keyring;

/// Seconds from issue to expiry. Entra backdates `iat`/`nbf` by five minutes on top.
pub const TOKEN_LIFETIME_SECONDS: i64 = 3600;
const BACKDATE_SECONDS: i64 = 300;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aio: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_displayname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appidacr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rh: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_region_scope: Option<String>,
    pub tid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<String>,
}

/// The v1 issuer of a tenant's tokens.
pub fn issuer_v1(tenant_id: &str) -> String {
    format!("https://sts.windows.net/{tenant_id}/")
}

/// Who a client-credentials token is for.
pub struct AppTokenSubject<'a> {
    pub tenant_id: &'a str,
    pub client_id: &'a str,
    pub object_id: &'a str,
    pub app_name: &'a str,
    pub roles: &'a [String],
    pub audience: &'a str,
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: String,
    pub not_before: i64,
    pub expires_on: i64,
    /// Seconds left at issue, as Entra counts them (3599 for a fresh token).
    pub expires_in: i64,
}

fn opaque_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

pub fn issue_app_token(
    keys: &Keyring,
    subject: &AppTokenSubject<'_>,
    now_unix: i64,
) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
    let iss = issuer_v1(subject.tenant_id);
    let claims = AccessClaims {
        aud: subject.audience.to_string(),
        iss: iss.clone(),
        iat: now_unix - BACKDATE_SECONDS,
        nbf: now_unix - BACKDATE_SECONDS,
        exp: now_unix + TOKEN_LIFETIME_SECONDS,
        aio: Some(opaque_id()),
        app_displayname: Some(subject.app_name.to_string()),
        appid: Some(subject.client_id.to_string()),
        appidacr: Some("1".into()),
        idp: Some(iss),
        oid: Some(subject.object_id.to_string()),
        rh: Some(format!("0.{}.", opaque_id())),
        roles: subject.roles.to_vec(),
        scp: None,
        sub: Some(subject.object_id.to_string()),
        tenant_region_scope: Some("NA".into()),
        tid: subject.tenant_id.to_string(),
        upn: None,
        uti: Some(opaque_id()),
        ver: Some("1.0".into()),
    };
    sign(keys, &claims).map(|access_token| IssuedToken {
        access_token,
        not_before: claims.nbf,
        expires_on: claims.exp,
        expires_in: claims.exp - now_unix - 1,
    })
}

/// Signs any claims with the current key, with the header Entra writes.
pub fn sign(keys: &Keyring, claims: &AccessClaims) -> Result<String, jsonwebtoken::errors::Error> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(keys.signing_kid().to_string());
    header.x5t = Some(keys.signing_kid().to_string());
    jsonwebtoken::encode(&header, claims, keys.encoding_key())
}
