//! Token signing keys: RSA-2048, each with a self-signed certificate so that the JWKS can
//! publish `x5c` and `x5t` as Entra does. `kid` = `x5t` = base64url(SHA-1(certificate DER)).

use std::collections::HashMap;

use aws_lc_rs::digest::{SHA1_FOR_LEGACY_USE_ONLY, digest};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use openmde_model::Timestamp;
use openmde_store::SigningKeyRecord;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot create a signing key: {0}")]
    Generate(String),
    #[error("stored signing key {kid} is unusable: {reason}")]
    Unusable { kid: String, reason: String },
}

/// A signing key as stored: PKCS#8 PEM private key and its certificate.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub private_key_pem: String,
    pub certificate_der: Vec<u8>,
    pub created: Timestamp,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl From<SigningKeyRecord> for SigningKey {
    fn from(stored: SigningKeyRecord) -> Self {
        SigningKey {
            kid: stored.kid,
            private_key_pem: stored.private_key_pem,
            certificate_der: stored.certificate_der,
            created: stored.created,
        }
    }
}

impl From<SigningKey> for SigningKeyRecord {
    fn from(key: SigningKey) -> Self {
        SigningKeyRecord {
            kid: key.kid,
            private_key_pem: key.private_key_pem,
            certificate_der: key.certificate_der,
            created: key.created,
        }
    }
}

impl SigningKey {
    pub fn generate() -> Result<Self, KeyError> {
        let fail = |e: rcgen::Error| KeyError::Generate(e.to_string());
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(fail)?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(fail)?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "openmde token signing");
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(3650);
        let certificate = params.self_signed(&key_pair).map_err(fail)?;
        let certificate_der = certificate.der().to_vec();
        Ok(SigningKey {
            kid: kid_of(&certificate_der),
            private_key_pem: key_pair.serialize_pem(),
            certificate_der,
            created: Timestamp::now(),
        })
    }
}

fn kid_of(certificate_der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, certificate_der))
}

struct PublishedKey {
    kid: String,
    modulus: String,
    exponent: String,
    certificate_b64: String,
    decoding: DecodingKey,
}

/// The keys in use: all are published and verify; one signs.
pub struct Keyring {
    signing_kid: String,
    encoding: EncodingKey,
    published: Vec<PublishedKey>,
    by_kid: HashMap<String, usize>,
}

impl Keyring {
    /// `keys` oldest first; the last one signs. Fails on an empty list or an unreadable key.
    pub fn new(keys: &[SigningKey]) -> Result<Self, KeyError> {
        let newest = keys.last().ok_or_else(|| KeyError::Generate("no signing key".into()))?;
        Self::signed_by(keys, newest)
    }

    /// `keys` oldest first; the newest key created at least `activation_delay_seconds` before
    /// `now` signs (or the oldest, if none is that old), so that a new key is published for that
    /// long before any token carries its `kid`.
    pub fn at(keys: &[SigningKey], now: Timestamp, activation_delay_seconds: i64) -> Result<Self, KeyError> {
        let active_before = now.plus_seconds(-activation_delay_seconds);
        let signer = keys
            .iter()
            .rev()
            .find(|k| k.created <= active_before)
            .or_else(|| keys.first())
            .ok_or_else(|| KeyError::Generate("no signing key".into()))?;
        Self::signed_by(keys, signer)
    }

    fn signed_by(keys: &[SigningKey], signer: &SigningKey) -> Result<Self, KeyError> {
        let unusable = |key: &SigningKey, e: jsonwebtoken::errors::Error| KeyError::Unusable {
            kid: key.kid.clone(),
            reason: e.to_string(),
        };
        let mut published = Vec::with_capacity(keys.len());
        let mut encoding = None;
        for key in keys {
            let encoding_key =
                EncodingKey::from_rsa_pem(key.private_key_pem.as_bytes()).map_err(|e| unusable(key, e))?;
            let jwk = Jwk::from_encoding_key(&encoding_key, Algorithm::RS256).map_err(|e| unusable(key, e))?;
            let AlgorithmParameters::RSA(rsa) = jwk.algorithm else {
                return Err(KeyError::Unusable {
                    kid: key.kid.clone(),
                    reason: "not an RSA key".into(),
                });
            };
            let decoding = DecodingKey::from_rsa_components(&rsa.n, &rsa.e).map_err(|e| unusable(key, e))?;
            published.push(PublishedKey {
                kid: key.kid.clone(),
                modulus: rsa.n,
                exponent: rsa.e,
                certificate_b64: STANDARD.encode(&key.certificate_der),
                decoding,
            });
            if key.kid == signer.kid {
                encoding = Some(encoding_key);
            }
        }
        let by_kid = published.iter().enumerate().map(|(i, k)| (k.kid.clone(), i)).collect();
        Ok(Keyring {
            signing_kid: signer.kid.clone(),
            encoding: encoding.ok_or_else(|| KeyError::Generate("no signing key".into()))?,
            published,
            by_kid,
        })
    }

    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    pub(crate) fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.by_kid.get(kid).map(|&i| &self.published[i].decoding)
    }

    /// The JWKS document; `issuer` is written into each key as Entra's v2 key set does.
    pub fn jwks(&self, issuer: &str) -> Value {
        let keys: Vec<Value> = self
            .published
            .iter()
            .rev()
            .map(|k| {
                json!({"kty": "RSA", "use": "sig", "kid": k.kid, "x5t": k.kid, "n": k.modulus, "e": k.exponent,
                       "x5c": [k.certificate_b64], "issuer": issuer})
            })
            .collect();
        json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_published_before_it_signs() {
        let mut old = SigningKey::generate().unwrap();
        let new = SigningKey::generate().unwrap();
        let now = new.created;
        old.created = now.plus_seconds(-86_400);
        let keys = [old.clone(), new.clone()];
        let ring = Keyring::at(&keys, now, 3600).unwrap();
        assert_eq!(ring.signing_kid(), old.kid);
        let published: Vec<&str> = ring.published.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(published, [old.kid.as_str(), new.kid.as_str()]);
        assert_eq!(
            Keyring::at(&keys, now.plus_seconds(3600), 3600).unwrap().signing_kid(),
            new.kid
        );
        // A first key signs at once.
        assert_eq!(
            Keyring::at(std::slice::from_ref(&new), now, 3600)
                .unwrap()
                .signing_kid(),
            new.kid
        );
    }
}
