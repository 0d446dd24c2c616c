//! The keyring a running server uses, kept in step with the store: keys added by
//! `openmde keys rotate` (or by another replica) are published within one reload interval and
//! sign once their activation delay has passed, so no client sees a `kid` its last JWKS fetch
//! did not hold; tokens signed by an older key stay valid, since every stored key verifies.

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use openmde_model::Timestamp;
use openmde_store::Store;

use crate::keys::{KeyError, Keyring, SigningKey};

#[derive(Debug, thiserror::Error)]
pub enum KeySourceError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] openmde_store::StoreError),
}

pub struct KeySource {
    store: Arc<dyn Store>,
    activation_delay_seconds: i64,
    current: RwLock<Arc<Keyring>>,
}

impl KeySource {
    /// The store's keys now, creating the first one if there is none.
    pub async fn load(store: Arc<dyn Store>, activation_delay_seconds: i64) -> Result<Self, KeySourceError> {
        let keyring = Self::read(store.as_ref(), activation_delay_seconds, true).await?;
        Ok(KeySource {
            store,
            activation_delay_seconds,
            current: RwLock::new(Arc::new(keyring)),
        })
    }

    async fn read(store: &dyn Store, activation_delay_seconds: i64, create: bool) -> Result<Keyring, KeySourceError> {
        let mut keys: Vec<SigningKey> = store.signing_keys().await?.into_iter().map(SigningKey::from).collect();
        if keys.is_empty() && create {
            let key = tokio::task::spawn_blocking(SigningKey::generate)
                .await
                .map_err(|e| KeyError::Generate(e.to_string()))??;
            store.add_signing_key(&key.clone().into()).await?;
            keys.push(key);
        }
        Ok(Keyring::at(&keys, Timestamp::now(), activation_delay_seconds)?)
    }

    pub fn current(&self) -> Arc<Keyring> {
        Arc::clone(&self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Reads the keys again and decides which one signs now.
    pub async fn reload(&self) -> Result<(), KeySourceError> {
        let keyring = Self::read(self.store.as_ref(), self.activation_delay_seconds, false).await?;
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keyring);
        Ok(())
    }

    /// Reloads every `interval` while the source is in use; a failed reload keeps the keys
    /// in use and is logged.
    pub fn reload_every(self: &Arc<Self>, interval: Duration) {
        let source: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(source) = source.upgrade() else { return };
                if let Err(error) = source.reload().await {
                    tracing::warn!(%error, "cannot reload the signing keys; keeping those in use");
                }
            }
        });
    }
}
