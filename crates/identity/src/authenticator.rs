//! From a bearer token to the [`Caller`] it stands for.
//!
//! A token's signature is checked once; the verified caller is then kept in memory, keyed by
//! the token text, until the token expires. Later calls with the same token re-check only its
//! lifetime, which keeps RSA verification off the hot path, and, every
//! [`REGISTRATION_RECHECK_SECONDS`], that the application of a token this issuer signed is still
//! registered: an application deleted through any replica is refused by every replica within
//! that time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use openmde_store::{Store, StoreError, TenantKey};

use crate::external::TrustedIssuer;
use crate::key_source::KeySource;
use crate::verify::{Principal, TokenError, Verifier};

/// Verified tokens kept at most; past that the cache starts over.
const MAX_CACHED_TOKENS: usize = 10_000;

/// How often a cached token's application is looked up again.
pub const REGISTRATION_RECHECK_SECONDS: i64 = 10;

/// A verified token: its caller, and when its application was last found registered (`None`
/// for tokens of trusted external issuers, whose applications openmde does not register).
struct Verified {
    caller: Arc<Caller>,
    registration_checked: Option<i64>,
}

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
    verified: RwLock<HashMap<Box<str>, Verified>>,
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
            .map(|v| (Arc::clone(&v.caller), v.registration_checked));
        if let Some((caller, checked)) = cached {
            if !caller.principal.is_current(now_unix) {
                self.forget(token);
                return Err(TokenError::Expired.into());
            }
            if let Some(checked) = checked.filter(|at| now_unix - at >= REGISTRATION_RECHECK_SECONDS) {
                if let Err(error) = self.check_registration(&caller).await {
                    self.forget(token);
                    return Err(error);
                }
                self.checked(token, checked, now_unix);
            }
            return Ok(caller);
        }
        let issuer = crate::external::unverified_issuer(token);
        let (principal, own) = match self.trusted.iter().find(|t| Some(&t.issuer) == issuer.as_ref()) {
            Some(trusted) => (trusted.verify(token)?, false),
            None => (self.verifier.verify(&self.keys.current(), token)?, true),
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
        if own {
            self.check_registration(&caller).await?;
        }
        let mut verified = self.verified.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if verified.len() >= MAX_CACHED_TOKENS {
            verified.clear();
        }
        let entry = Verified {
            caller: Arc::clone(&caller),
            registration_checked: own.then_some(now_unix),
        };
        verified.insert(token.into(), entry);
        Ok(caller)
    }

    /// The caller's application is registered in the caller's tenant.
    async fn check_registration(&self, caller: &Caller) -> Result<(), AuthError> {
        match self.store.app(&caller.principal.client_id).await? {
            Some(app) if app.tenant == caller.tenant => Ok(()),
            _ => Err(TokenError::UnknownApplication.into()),
        }
    }

    /// Records that the registration was found at `now` (unless another call did since `seen`).
    fn checked(&self, token: &str, seen: i64, now_unix: i64) {
        let mut verified = self.verified.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = verified.get_mut(token).filter(|e| e.registration_checked == Some(seen)) {
            entry.registration_checked = Some(now_unix);
        }
    }

    fn forget(&self, token: &str) {
        self.verified
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(token);
    }
}
