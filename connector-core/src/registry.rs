//! [`Registry`]: from `source` + JSON config to a shared connector ([`DynConnector`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::config::{ConnectorConfig, from_json, schema_of};
use crate::connector::{Connector, DynConnector};
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
/// [`build`](Self::build) hands out a [`DynConnector`] (`Arc<dyn Connector>`), the type
/// [`Syncer::new`](crate::sync::Syncer::new) takes, so a built connector goes straight into a
/// sync and can be shared with other tasks (a `check`, a second sync) without a conversion.
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
    ///
    /// `build` returns the connector boxed (`Ok(Box::new(MyConnector::new(cfg)?))`, which
    /// coerces to `Box<dyn Connector>` where a generic result would not); the registry turns
    /// it into the shared [`DynConnector`] it hands out.
    pub fn register<C, F>(&mut self, source: &'static str, description: &'static str, build: F)
    where
        C: ConnectorConfig + 'static,
        F: Fn(C) -> Result<Box<dyn Connector>> + Send + Sync + 'static,
    {
        let builder: Builder = Box::new(move |json| {
            let config = from_json::<C>(json).map_err(|e| e.with_connector(source))?;
            match build(config) {
                Ok(connector) => Ok(Arc::from(connector)),
                Err(e) if e.connector().is_none() => Err(e.with_connector(source)),
                Err(e) => Err(e),
            }
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

    /// Builds the connector for `source` from its JSON config, ready for
    /// [`Syncer::new`](crate::sync::Syncer::new).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an unknown source (naming the known ones) or an invalid config
    /// (listing every problem by field path, structural and semantic together: see
    /// [`config::from_json`](crate::config::from_json)); whatever the connector's constructor
    /// returns.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldError;
    use crate::sync::{SyncMode, Syncer};
    use crate::testkit::MemoryConnector;
    use schemars::JsonSchema;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct MemoryConfig {
        items: usize,
        #[serde(default)]
        page_size: Option<usize>,
    }

    impl ConnectorConfig for MemoryConfig {
        fn validate(&self) -> Vec<FieldError> {
            if self.page_size == Some(0) {
                vec![FieldError::new("page_size", "must be at least 1")]
            } else {
                Vec::new()
            }
        }
    }

    fn registry() -> Registry {
        let mut registry = Registry::new();
        registry.register::<MemoryConfig, _>("memory", "in memory", |cfg| {
            let start = chrono::DateTime::UNIX_EPOCH;
            let page_size = cfg.page_size.unwrap_or(10);
            Ok(Box::new(MemoryConnector::numbered(
                cfg.items, page_size, start,
            )))
        });
        registry
    }

    #[tokio::test]
    async fn a_built_connector_goes_into_a_syncer_as_it_is() {
        let connector: DynConnector = registry()
            .build("memory", serde_json::json!({ "items": 3 }))
            .unwrap();
        let report = Syncer::new(Arc::clone(&connector))
            .run(SyncMode::Full)
            .await
            .unwrap();
        assert_eq!(report.new, 3);
        assert_eq!(connector.source(), "memory");
    }

    #[test]
    fn build_reports_unknown_fields_and_validate_together() {
        let err = registry()
            .build(
                "memory",
                serde_json::json!({ "items": 3, "page_size": 0, "bogus": 1 }),
            )
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert_eq!(err.connector(), Some("memory"));
        let got: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            ["bogus: unknown field", "page_size: must be at least 1"]
        );
    }
}
