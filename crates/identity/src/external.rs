//! Trusting another issuer: tokens from a real Entra tenant, Keycloak or any OIDC provider,
//! verified against that issuer's JWKS, so that openmde serves as the API only. Each trusted
//! issuer names its audiences and the openmde tenant its tokens land in.
//!
//! Read from the token: `roles` (application permissions), `scp` or `scope` (delegated,
//! space-separated), the client from `appid`, `azp` or `client_id`, the user from `oid` or `sub`
//! and `upn` or `preferred_username`. RS256 only, as for openmde's own tokens.

use std::collections::HashMap;
use std::sync::RwLock;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::verify::{LEEWAY_SECONDS, Principal, PrincipalKind, TokenError};

pub struct TrustedIssuer {
    pub issuer: String,
    audiences: Vec<String>,
    /// The openmde tenant (GUID) its tokens are for.
    tenant_id: String,
    keys: RwLock<HashMap<String, DecodingKey>>,
}

#[derive(Debug, thiserror::Error)]
#[error("the JWKS of {issuer} is unusable: {reason}")]
pub struct JwksError {
    issuer: String,
    reason: String,
}

fn decoding_keys(issuer: &str, jwks: &str) -> Result<HashMap<String, DecodingKey>, JwksError> {
    let fail = |reason: String| JwksError {
        issuer: issuer.to_string(),
        reason,
    };
    let set: JwkSet = serde_json::from_str(jwks).map_err(|e| fail(e.to_string()))?;
    let keys: HashMap<String, DecodingKey> = set
        .keys
        .iter()
        .filter_map(|jwk| Some((jwk.common.key_id.clone()?, DecodingKey::from_jwk(jwk).ok()?)))
        .collect();
    if keys.is_empty() {
        return Err(fail("no key with a kid".into()));
    }
    Ok(keys)
}

impl TrustedIssuer {
    pub fn new(issuer: &str, audiences: Vec<String>, tenant_id: &str, jwks: &str) -> Result<Self, JwksError> {
        Ok(TrustedIssuer {
            issuer: issuer.to_string(),
            audiences,
            tenant_id: tenant_id.to_string(),
            keys: RwLock::new(decoding_keys(issuer, jwks)?),
        })
    }

    /// Replaces the keys (the issuer rotated its own); a bad document keeps the old ones.
    pub fn replace_keys(&self, jwks: &str) -> Result<(), JwksError> {
        let keys = decoding_keys(&self.issuer, jwks)?;
        *self.keys.write().unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
        Ok(())
    }

    pub fn verify(&self, token: &str) -> Result<Principal, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&self.audiences);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let claims = {
            let keys = self.keys.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let key = keys.get(&kid).ok_or(TokenError::UnknownKey)?;
            jsonwebtoken::decode::<Value>(token, key, &validation)
                .map_err(|e| match e.kind() {
                    ErrorKind::ExpiredSignature => TokenError::Expired,
                    ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                    ErrorKind::InvalidAudience => TokenError::WrongAudience,
                    ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
                    ErrorKind::InvalidSignature => TokenError::BadSignature,
                    _ => TokenError::Malformed,
                })?
                .claims
        };
        let text = |name: &str| claims[name].as_str().filter(|s| !s.is_empty()).map(str::to_string);
        let client_id = text("appid")
            .or_else(|| text("azp"))
            .or_else(|| text("client_id"))
            .ok_or(TokenError::MissingClaim("appid, azp or client_id"))?;
        let strings = |name: &str| -> Vec<String> {
            claims[name]
                .as_array()
                .map(|items| items.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default()
        };
        let scopes = text("scp").or_else(|| text("scope"));
        let kind = match scopes {
            Some(scopes) => PrincipalKind::Delegated {
                scopes: scopes.split_whitespace().map(str::to_string).collect(),
                user_object_id: text("oid")
                    .or_else(|| text("sub"))
                    .ok_or(TokenError::MissingClaim("oid or sub"))?,
                upn: text("upn").or_else(|| text("preferred_username")),
                groups: strings("groups"),
            },
            None => PrincipalKind::Application {
                roles: strings("roles"),
            },
        };
        let time = |name: &str| claims[name].as_f64().map(|t| t as i64);
        Ok(Principal {
            tenant_id: self.tenant_id.clone(),
            client_id,
            kind,
            not_before: time("nbf").unwrap_or(i64::MIN / 2),
            expires_at: time("exp").ok_or(TokenError::MissingClaim("exp"))?,
        })
    }
}

/// The `iss` of a token, read without verifying it: only to pick who verifies it.
pub fn unverified_issuer(token: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims["iss"].as_str().map(str::to_string)
}
