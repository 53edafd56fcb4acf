//! [`CredentialStore`]: where a connector hands credentials that rotated while it ran.
//!
//! Some services rotate OAuth refresh tokens: the token endpoint answers a refresh with a new
//! refresh token and may revoke the old one. A connector that receives one calls
//! [`CredentialStore::save`] *before* it uses the new token, so the host has persisted it (in
//! its config table, a vault, a file) before the old one can stop working. If saving fails the
//! connector stops with that error rather than run on a token nobody kept.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::error::Result;
use crate::secret::Secret;

/// Persists credentials that a connector received from the service while it ran.
///
/// # Contract
/// - `save` returns only once the value is stored durably enough that the next run of the
///   host sees it (the connector uses the new credential right after).
/// - `source` is the connector's registry key (`"google_drive"`), `key` the config field the
///   value replaces (`"credentials.google_tokens"`); the value is the field's new content.
/// - Implementations never log or print the value.
#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    /// Stores `value` as the new content of the config field `key` of the connector `source`.
    ///
    /// # Errors
    /// When the value could not be stored; the connector then stops with this error.
    async fn save(&self, source: &str, key: &str, value: &Secret) -> Result<()>;

    /// The value stored now for `source` and `key`, when the store can read it back.
    ///
    /// A connector asks when the service refused a refresh token it believed current: another
    /// process sharing the credential (a sync and a prune job of one connector, two workers)
    /// may have spent it and saved its successor here. The default reads nothing (`None`),
    /// which leaves the refusal as it was.
    ///
    /// # Errors
    /// When the store could not be read.
    async fn load(&self, source: &str, key: &str) -> Result<Option<Secret>> {
        let _ = (source, key);
        Ok(None)
    }
}

/// A store that keeps nothing and logs a warning: the default when the host gave none, so a
/// rotated token works for this process but is lost when it ends.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardCredentials;

#[async_trait]
impl CredentialStore for DiscardCredentials {
    async fn save(&self, source: &str, key: &str, _value: &Secret) -> Result<()> {
        tracing::warn!(
            source,
            key,
            "a credential rotated but no CredentialStore was configured; it is not persisted"
        );
        Ok(())
    }
}

/// Saved values by `(source, key)`, oldest first.
type Saved = BTreeMap<(String, String), Vec<Secret>>;

/// A store in memory, for tests and for hosts that read the values back themselves.
#[derive(Clone, Default)]
pub struct MemoryCredentials {
    saved: Arc<Mutex<Saved>>,
}

impl MemoryCredentials {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every value saved for `source` and `key`, oldest first.
    pub fn saved(&self, source: &str, key: &str) -> Vec<Secret> {
        self.saved
            .lock()
            .map(|m| {
                m.get(&(source.to_owned(), key.to_owned()))
                    .cloned()
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    }
}

#[async_trait]
impl CredentialStore for MemoryCredentials {
    async fn save(&self, source: &str, key: &str, value: &Secret) -> Result<()> {
        if let Ok(mut m) = self.saved.lock() {
            m.entry((source.to_owned(), key.to_owned()))
                .or_default()
                .push(value.clone());
        }
        Ok(())
    }

    async fn load(&self, source: &str, key: &str) -> Result<Option<Secret>> {
        Ok(self.saved(source, key).pop())
    }
}

impl fmt::Debug for MemoryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<(String, String)> = self
            .saved
            .lock()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("MemoryCredentials")
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_store_keeps_values_in_order_and_never_prints_them() {
        let store = MemoryCredentials::new();
        store.save("s", "k", &Secret::new("one")).await.unwrap();
        store.save("s", "k", &Secret::new("two")).await.unwrap();
        let saved = store.saved("s", "k");
        assert_eq!(saved.len(), 2);
        assert_eq!(saved[1].expose(), "two");
        assert!(!format!("{store:?}").contains("two"));
        let dyn_store: Arc<dyn CredentialStore> = Arc::new(DiscardCredentials);
        dyn_store.save("s", "k", &Secret::new("x")).await.unwrap();
    }
}
