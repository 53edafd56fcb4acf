//! [`SqlCredentialStore`]: core's [`CredentialStore`] over the connector records, so a
//! credential that rotates while a job runs is written back, sealed, before it is used.

use std::fmt;

use async_trait::async_trait;
use connector_core::{CredentialStore, Error, ErrorKind, Result, Secret};

use crate::connectors::ConnectorStore;

/// Persists the credentials a connector receives while it runs (OAuth refresh tokens that
/// the service rotates: Google, Box, Confluence OAuth) into that connector's stored config,
/// sealed with the store's [`Sealer`](crate::Sealer).
///
/// One store per connector id: core's contract hands `save` the source and the config field
/// only. The workers give each job one ([`Connector::set_credential_store`]), so the next run,
/// on any worker, reads the new token; a host running connectors itself does the same.
///
/// [`Connector::set_credential_store`]: connector_core::Connector::set_credential_store
///
/// ```
/// use std::sync::Arc;
/// use connector_core::{CredentialStore, Registry, Secret};
/// use connector_sync::{ConnectorStore, NewConnector, Sealer, SqlCredentialStore, SyncDb};
///
/// # connector_core::testkit::block_on(async {
/// let mut registry = Registry::new();
/// connector_example_notes::register(&mut registry);
/// let db = SyncDb::connect("sqlite::memory:").await?;
/// let sealer = Sealer::from_base64(&Sealer::generate_key(), "an example key")?;
/// let store = ConnectorStore::new(db, Arc::new(registry)).with_sealer(sealer);
/// let config = serde_json::json!({
///     "base_url": "https://notes.example.com/api/",
///     "credentials": { "token": "old-t0ken" },
/// });
/// let created = store.create(NewConnector::new("notes", "notes", config)).await?;
///
/// let credentials = SqlCredentialStore::new(store.clone(), &created.id);
/// credentials.save("notes", "credentials.token", &Secret::new("new-t0ken")).await?;
/// assert_eq!(store.config(&created.id).await?["credentials"]["token"], "new-t0ken");
/// // What another job of the connector reads back after a refused refresh token.
/// let loaded = credentials.load("notes", "credentials.token").await?;
/// assert_eq!(loaded.as_ref().map(Secret::expose), Some("new-t0ken"));
/// # Ok::<(), connector_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SqlCredentialStore {
    store: ConnectorStore,
    connector_id: String,
}

impl SqlCredentialStore {
    /// The credentials of connector `connector_id` in `store`.
    pub fn new(store: ConnectorStore, connector_id: impl Into<String>) -> Self {
        Self {
            store,
            connector_id: connector_id.into(),
        }
    }

    /// The connector whose config it writes.
    pub fn connector_id(&self) -> &str {
        &self.connector_id
    }
}

impl fmt::Debug for SqlCredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlCredentialStore")
            .field("connector_id", &self.connector_id)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl CredentialStore for SqlCredentialStore {
    async fn save(&self, source: &str, key: &str, value: &Secret) -> Result<()> {
        let record = self.store.get(&self.connector_id).await?.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!(
                    "connector `{}` was deleted while it ran: its rotated credential `{key}` \
                     has nowhere to go",
                    self.connector_id
                ),
            )
        })?;
        if record.source != source {
            return Err(Error::internal(format!(
                "a `{source}` connector handed a credential to the store of connector `{}`, \
                 a `{}` connector",
                self.connector_id, record.source
            )));
        }
        self.store
            .set_secret_field(&self.connector_id, key, value)
            .await?;
        tracing::info!(
            connector = %self.connector_id,
            source,
            field = key,
            "stored a rotated credential"
        );
        Ok(())
    }

    /// The field's current value in the connector's stored config, unsealed: what another job
    /// of the same connector saved (a string as it is, an object or array as its JSON text).
    async fn load(&self, _source: &str, key: &str) -> Result<Option<Secret>> {
        let config = match self.store.config(&self.connector_id).await {
            Ok(config) => config,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let value = key
            .split('.')
            .try_fold(&config, |v, segment| v.get(segment));
        Ok(match value {
            Some(serde_json::Value::String(s)) => Some(Secret::new(s.clone())),
            Some(v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
                Some(Secret::new(v.to_string()))
            }
            _ => None,
        })
    }
}
