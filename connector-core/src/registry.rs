//! [`Registry`]: from `source` + JSON config to a boxed connector.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::config::{ConnectorConfig, from_json, schema_of};
use crate::connector::DynConnector;
use crate::error::{Error, ErrorKind, Result};

type Builder = Box<dyn Fn(Value) -> Result<DynConnector> + Send + Sync>;

struct Entry {
    description: &'static str,
    schema: fn() -> Value,
    build: Builder,
}

/// The connectors compiled into this program, by source key.
///
/// Each family crate exposes `register(&mut Registry)`; nothing registers itself at import time.
///
/// ```
/// use connector_core::Registry;
/// let registry = Registry::new();
/// assert!(registry.sources().is_empty());
/// let err = registry.build("nope", serde_json::json!({})).unwrap_err();
/// assert_eq!(err.kind(), connector_core::ErrorKind::Config);
/// ```
#[derive(Default)]
pub struct Registry {
    entries: BTreeMap<&'static str, Entry>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `source` with its config type `C` and a function that builds the connector
    /// from a parsed, validated config. Registering a source twice replaces the first.
    pub fn register<C, F>(&mut self, source: &'static str, description: &'static str, build: F)
    where
        C: ConnectorConfig + 'static,
        F: Fn(C) -> Result<DynConnector> + Send + Sync + 'static,
    {
        let builder: Builder = Box::new(move |json| {
            let config = from_json::<C>(json).map_err(|e| e.with_connector(source))?;
            build(config).map_err(|e| {
                if e.connector().is_none() {
                    e.with_connector(source)
                } else {
                    e
                }
            })
        });
        self.entries.insert(
            source,
            Entry {
                description,
                schema: schema_of::<C>,
                build: builder,
            },
        );
    }

    /// Builds the connector for `source` from its JSON config.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an unknown source (naming the known ones) or an invalid config
    /// (listing every problem by field path); whatever the connector's constructor returns.
    pub fn build(&self, source: &str, config: Value) -> Result<DynConnector> {
        (self.entry(source)?.build)(config)
    }

    /// The JSON Schema of `source`'s config.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an unknown source.
    pub fn schema(&self, source: &str) -> Result<Value> {
        Ok((self.entry(source)?.schema)())
    }

    /// One line describing `source`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an unknown source.
    pub fn description(&self, source: &str) -> Result<&'static str> {
        Ok(self.entry(source)?.description)
    }

    /// The registered source keys, sorted.
    pub fn sources(&self) -> Vec<&'static str> {
        self.entries.keys().copied().collect()
    }

    fn entry(&self, source: &str) -> Result<&Entry> {
        self.entries.get(source).ok_or_else(|| {
            let known = self.sources().join(", ");
            Error::new(
                ErrorKind::Config,
                format!("unknown source `{source}`; compiled in: {known}"),
            )
            .with_field("source")
        })
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("sources", &self.sources())
            .finish()
    }
}
