//! Verifying bearer tokens for the MDE API.
//!
//! Checked: the header names RS256 (nothing else is accepted, so neither `none` nor an HMAC
//! keyed with our public key gets through) and a `kid` we published; the signature; `aud` is a
//! WindowsDefenderATP identifier; `iss` is the v1 issuer of the token's own `tid`; `exp` and
//! `nbf` with a small leeway. Whether the tenant exists is the caller's check.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};

use crate::keys::Keyring;
use crate::resource::MDE_RESOURCES;
use crate::token::{AccessClaims, issuer_v1};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("tokens signed with {0} are not accepted")]
    UnsupportedAlgorithm(String),
    #[error("the token's signing key is unknown")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's audience is not this API")]
    WrongAudience,
    #[error("the token's issuer does not match its tenant")]
    WrongIssuer,
    #[error("the token's tenant is unknown")]
    UnknownTenant,
    #[error("the token's application is not registered (any more)")]
    UnknownApplication,
    #[error("the token lacks claim '{0}'")]
    MissingClaim(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// Client credentials: application permissions from `roles`.
    Application { roles: Vec<String> },
    /// A user through an application: delegated permissions from `scp`.
    Delegated {
        scopes: Vec<String>,
        user_object_id: String,
        upn: Option<String>,
        /// Group object ids from the `groups` claim (Entra emits it when configured to).
        groups: Vec<String>,
    },
}

/// The caller a verified token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: String,
    pub client_id: String,
    pub kind: PrincipalKind,
    pub not_before: i64,
    pub expires_at: i64,
}

impl Principal {
    /// Whether the token grants one of `application` (for app tokens) or `delegated` (for
    /// user tokens) permissions.
    pub fn has_permission(&self, application: &[&str], delegated: &[&str]) -> bool {
        match &self.kind {
            PrincipalKind::Application { roles } => roles.iter().any(|r| application.contains(&r.as_str())),
            PrincipalKind::Delegated { scopes, .. } => scopes.iter().any(|s| delegated.contains(&s.as_str())),
        }
    }

    /// Whether the token is inside its lifetime at `now_unix`, with the leeway.
    pub fn is_current(&self, now_unix: i64) -> bool {
        let leeway = LEEWAY_SECONDS as i64;
        now_unix < self.expires_at + leeway && now_unix + leeway >= self.not_before
    }
}

pub struct Verifier {
    validation: Validation,
}

impl Default for Verifier {
    fn default() -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&MDE_RESOURCES);
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        Verifier { validation }
    }
}

impl Verifier {
    pub fn verify(&self, keys: &Keyring, token: &str) -> Result<Principal, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::RS256 {
            return Err(TokenError::UnsupportedAlgorithm(format!("{:?}", header.alg)));
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| keys.decoding_key(kid))
            .ok_or(TokenError::UnknownKey)?;
        let claims = jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidAudience => TokenError::WrongAudience,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm => TokenError::UnsupportedAlgorithm(format!("{:?}", header.alg)),
                ErrorKind::MissingRequiredClaim(_) => TokenError::MissingClaim("exp, nbf, aud or iss"),
                _ => TokenError::Malformed,
            })?
            .claims;
        if claims.iss != issuer_v1(&claims.tid) {
            return Err(TokenError::WrongIssuer);
        }
        let client_id = claims.appid.ok_or(TokenError::MissingClaim("appid"))?;
        let kind = match claims.scp.filter(|s| !s.trim().is_empty()) {
            Some(scp) => PrincipalKind::Delegated {
                scopes: scp.split_whitespace().map(str::to_string).collect(),
                user_object_id: claims.oid.ok_or(TokenError::MissingClaim("oid"))?,
                upn: claims.upn,
                groups: claims.groups,
            },
            None => PrincipalKind::Application { roles: claims.roles },
        };
        Ok(Principal {
            tenant_id: claims.tid,
            client_id,
            kind,
            not_before: claims.nbf,
            expires_at: claims.exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SigningKey;
    use crate::token::{AppTokenSubject, issue_app_token, sign};
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use std::sync::LazyLock;

    const TENANT: &str = "6f1c3b7e-0d7a-4c55-9b8e-2d5f0a9c1e11";
    static KEYS: LazyLock<Keyring> = LazyLock::new(|| Keyring::new(&[SigningKey::generate().unwrap()]).unwrap());

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    fn app_token(audience: &str) -> String {
        let roles = vec!["Machine.Read.All".to_string()];
        let subject = AppTokenSubject {
            tenant_id: TENANT,
            client_id: "c1",
            object_id: "o1",
            app_name: "test",
            roles: &roles,
            audience,
            appidacr: "1",
        };
        issue_app_token(&KEYS, &subject, now()).unwrap().access_token
    }

    fn claims_of(token: &str) -> AccessClaims {
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    #[test]
    fn accepts_own_app_tokens_for_each_resource_alias() {
        for audience in MDE_RESOURCES {
            let principal = Verifier::default().verify(&KEYS, &app_token(audience)).unwrap();
            assert_eq!(principal.tenant_id, TENANT);
            assert!(principal.has_permission(&["Machine.Read.All"], &[]));
            assert!(!principal.has_permission(&["Alert.Read.All"], &["Machine.Read"]));
        }
    }

    #[test]
    fn refuses_tampered_and_mistimed_tokens() {
        let verifier = Verifier::default();
        let good = app_token(MDE_RESOURCES[0]);
        let resign = |edit: &dyn Fn(&mut AccessClaims)| {
            let mut claims = claims_of(&good);
            edit(&mut claims);
            sign(&KEYS, &claims).unwrap()
        };
        let cases: Vec<(String, TokenError)> = vec![
            (resign(&|c| c.exp = now() - 3600), TokenError::Expired),
            (resign(&|c| c.nbf = now() + 3600), TokenError::NotYetValid),
            (
                resign(&|c| c.aud = "https://graph.microsoft.com".into()),
                TokenError::WrongAudience,
            ),
            (
                resign(&|c| c.iss = "https://sts.windows.net/00000000-0000-0000-0000-000000000000/".into()),
                TokenError::WrongIssuer,
            ),
            (resign(&|c| c.appid = None), TokenError::MissingClaim("appid")),
            ("not.a.jwt".into(), TokenError::Malformed),
        ];
        for (token, expected) in cases {
            assert_eq!(verifier.verify(&KEYS, &token), Err(expected));
        }
        // A payload edited after signing.
        let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
        let mut claims = claims_of(&good);
        claims.roles = vec!["Machine.ReadWrite.All".into()];
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
        assert_eq!(verifier.verify(&KEYS, &parts.join(".")), Err(TokenError::BadSignature));
        // Signed by a key we never published.
        let other = Keyring::new(&[SigningKey::generate().unwrap()]).unwrap();
        assert_eq!(
            verifier.verify(&KEYS, &sign(&other, &claims_of(&good)).unwrap()),
            Err(TokenError::UnknownKey)
        );
    }
}
