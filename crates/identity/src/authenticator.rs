//! From a bearer token to the [`Caller`] it stands for.
//!
//! A token's signature is checked once; the verified caller is then kept in memory, keyed by
//! the token text, until the token expires. Later calls with the same token re-check only its
//! lifetime, which keeps RSA verification off the hot path.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use openmde_store::{Store, StoreError, TenantKey};

use crate::external::TrustedIssuer;
use crate::key_source::KeySource;
use crate::verify::{Principal, TokenError, Verifier};

/// Verified tokens kept at most; past that the cache starts over.
const MAX_CACHED_TOKENS: usize = 10_000;

/// A verified caller of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    pub tenant: TenantKey,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct Authenticator {
    store: Arc<dyn Store>,
    keys: Arc<KeySource>,
    verifier: Verifier,
    trusted: Vec<Arc<TrustedIssuer>>,
    verified: RwLock<HashMap<Box<str>, Arc<Caller>>>,
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, keys: Arc<KeySource>, trusted: Vec<Arc<TrustedIssuer>>) -> Self {
        Authenticator {
            store,
            keys,
            trusted,
            verifier: Verifier::default(),
            verified: RwLock::default(),
        }
    }

    pub async fn authenticate(&self, token: &str, now_unix: i64) -> Result<Arc<Caller>, AuthError> {
        let cached = self
            .verified
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(token)
            .cloned();
        if let Some(caller) = cached {
            return if caller.principal.is_current(now_unix) {
                Ok(caller)
            } else {
                self.forget(token);
                Err(TokenError::Expired.into())
            };
        }
        let issuer = crate::external::unverified_issuer(token);
        let principal = match self.trusted.iter().find(|t| Some(&t.issuer) == issuer.as_ref()) {
            Some(trusted) => trusted.verify(token)?,
            None => self.verifier.verify(&self.keys.current(), token)?,
        };
        let tenant = self
            .store
            .tenant(&principal.tenant_id)
            .await?
            .ok_or(TokenError::UnknownTenant)?;
        let caller = Arc::new(Caller {
            principal,
            tenant: tenant.key,
        });
        let mut verified = self.verified.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.len() >= MAX_CACHED_TOKENS {
            verified.clear();
        }
        verified.insert(token.into(), Arc::clone(&caller));
        Ok(caller)
    }

    fn forget(&self, token: &str) {
        self.verified
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(token);
    }
}
