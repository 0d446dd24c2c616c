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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rh: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    /// Group object ids; this issuer does not emit them (Entra's default), other issuers may.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_region_scope: Option<String>,
    pub tid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_name: Option<String>,
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
    /// How the client authenticated: "1" a secret, "2" a certificate.
    pub appidacr: &'static str,
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

/// The claims every access token carries, for `audience` in `tenant_id`, issued to `client_id`.
fn access_claims(tenant_id: &str, audience: &str, (client_id, app_name): (&str, &str), now_unix: i64) -> AccessClaims {
    let iss = issuer_v1(tenant_id);
    AccessClaims {
        aud: audience.to_string(),
        iss: iss.clone(),
        iat: now_unix - BACKDATE_SECONDS,
        nbf: now_unix - BACKDATE_SECONDS,
        exp: now_unix + TOKEN_LIFETIME_SECONDS,
        aio: Some(opaque_id()),
        app_displayname: Some(app_name.to_string()),
        appid: Some(client_id.to_string()),
        appidacr: None,
        amr: Vec::new(),
        idp: Some(iss),
        name: None,
        oid: None,
        rh: Some(format!("0.{}.", opaque_id())),
        roles: Vec::new(),
        scp: None,
        groups: Vec::new(),
        sub: None,
        tenant_region_scope: Some("NA".into()),
        tid: tenant_id.to_string(),
        unique_name: None,
        upn: None,
        uti: Some(opaque_id()),
        ver: Some("1.0".into()),
    }
}

pub fn issue_app_token(
    keys: &Keyring,
    subject: &AppTokenSubject<'_>,
    now_unix: i64,
) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
    let app = (subject.client_id, subject.app_name);
    let claims = AccessClaims {
        appidacr: Some(subject.appidacr.into()),
        oid: Some(subject.object_id.to_string()),
        roles: subject.roles.to_vec(),
        sub: Some(subject.object_id.to_string()),
        ..access_claims(subject.tenant_id, subject.audience, app, now_unix)
    };
    sign(keys, &claims).map(|access_token| IssuedToken {
        access_token,
        not_before: claims.nbf,
        expires_on: claims.exp,
        expires_in: claims.exp - now_unix - 1,
    })
}

/// How long a refresh token lasts (Entra: 90 days).
pub const REFRESH_LIFETIME_SECONDS: i64 = 90 * 86_400;

/// Who a delegated (user) token is for.
pub struct UserTokenSubject<'a> {
    pub tenant_id: &'a str,
    pub client_id: &'a str,
    pub app_name: &'a str,
    /// The user's object id.
    pub object_id: &'a str,
    pub upn: &'a str,
    pub display_name: &'a str,
    /// Granted delegated permissions.
    pub permissions: &'a [&'static str],
    pub audience: &'a str,
    /// How the client authenticated: "0" not at all (a public client), "1" a secret, "2" a
    /// certificate.
    pub appidacr: &'static str,
}

/// The tokens of a user flow.
#[derive(Debug, Clone)]
pub struct UserTokens {
    pub access: IssuedToken,
    pub id_token: String,
    pub refresh_token: String,
    /// base64url of `{"uid","utid"}`: msal's account id.
    pub client_info: String,
}

/// What a refresh token carries: enough to issue the same grant again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshClaims {
    pub iss: String,
    /// The client the token was issued to.
    pub aud: String,
    pub sub: String,
    pub tid: String,
    pub iat: i64,
    pub exp: i64,
    /// The audience of the access tokens it gives.
    pub resource: String,
    pub scp: String,
    pub token_use: String,
}

const REFRESH_USE: &str = "refresh";

#[derive(Serialize)]
struct IdClaims<'a> {
    aud: &'a str,
    iss: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    name: &'a str,
    oid: &'a str,
    preferred_username: &'a str,
    sub: &'a str,
    tid: &'a str,
    ver: &'static str,
}

/// An access token with `scp`, an id token for `issuer_origin`'s v2 issuer, and a refresh token.
pub fn issue_user_tokens(
    keys: &Keyring,
    subject: &UserTokenSubject<'_>,
    issuer_origin: &str,
    now_unix: i64,
) -> Result<UserTokens, jsonwebtoken::errors::Error> {
    let scp = subject.permissions.join(" ");
    let app = (subject.client_id, subject.app_name);
    let claims = AccessClaims {
        appidacr: Some(subject.appidacr.into()),
        amr: vec!["pwd".into()],
        name: Some(subject.display_name.to_string()),
        oid: Some(subject.object_id.to_string()),
        scp: Some(scp.clone()),
        // Entra's `sub` is pairwise: one value per user and application.
        sub: Some(pairwise_subject(subject.object_id, subject.client_id)),
        unique_name: Some(subject.upn.to_string()),
        upn: Some(subject.upn.to_string()),
        ..access_claims(subject.tenant_id, subject.audience, app, now_unix)
    };
    let access_token = sign(keys, &claims)?;
    let id = IdClaims {
        aud: subject.client_id,
        iss: format!("{issuer_origin}/{}/v2.0", subject.tenant_id),
        iat: now_unix,
        nbf: now_unix,
        exp: now_unix + TOKEN_LIFETIME_SECONDS,
        name: subject.display_name,
        oid: subject.object_id,
        preferred_username: subject.upn,
        sub: &pairwise_subject(subject.object_id, subject.client_id),
        tid: subject.tenant_id,
        ver: "2.0",
    };
    let refresh = RefreshClaims {
        iss: claims.iss.clone(),
        aud: subject.client_id.to_string(),
        sub: subject.object_id.to_string(),
        tid: subject.tenant_id.to_string(),
        iat: now_unix,
        exp: now_unix + REFRESH_LIFETIME_SECONDS,
        resource: subject.audience.to_string(),
        scp,
        token_use: REFRESH_USE.into(),
    };
    use base64::Engine;
    let client_info = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::json!({"uid": subject.object_id, "utid": subject.tenant_id}).to_string());
    Ok(UserTokens {
        access: IssuedToken {
            access_token,
            not_before: claims.nbf,
            expires_on: claims.exp,
            expires_in: claims.exp - now_unix - 1,
        },
        id_token: sign(keys, &id)?,
        refresh_token: sign(keys, &refresh)?,
        client_info,
    })
}

fn pairwise_subject(object_id: &str, client_id: &str) -> String {
    use base64::Engine;
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{object_id}|{client_id}").as_bytes(),
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.as_ref()[..24])
}

/// The claims of a refresh token this issuer wrote for `client_id`, if it is one and current.
pub fn read_refresh_token(keys: &Keyring, token: &str, client_id: &str) -> Option<RefreshClaims> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.alg != Algorithm::RS256 {
        return None;
    }
    let key = keys.decoding_key(header.kid.as_deref()?)?;
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.set_audience(&[client_id]);
    validation.leeway = 0;
    let claims = jsonwebtoken::decode::<RefreshClaims>(token, key, &validation)
        .ok()?
        .claims;
    (claims.token_use == REFRESH_USE && claims.iss == issuer_v1(&claims.tid)).then_some(claims)
}

/// Signs any claims with the current key, with the header Entra writes.
pub fn sign(keys: &Keyring, claims: &impl Serialize) -> Result<String, jsonwebtoken::errors::Error> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(keys.signing_kid().to_string());
    header.x5t = Some(keys.signing_kid().to_string());
    jsonwebtoken::encode(&header, claims, keys.encoding_key())
}
