//! [`Registry`]: from `source` + JSON config to a shared connector ([`DynConnector`]).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use serde::Serialize;

use crate::config::{ConnectorConfig, Ignored, declaration_problems, parse, parse_with, schema_of};
use crate::connector::{Connector, DynConnector};
use crate::error::{Error, ErrorKind, Result};
use crate::net::NetworkPolicy;

/// Builds the connector from its JSON config, given the config type's schema.
type Builder = Box<dyn Fn(Value, &Value, &Host) -> Result<Built> + Send + Sync>;

/// What the host set for every connector it builds.
#[derive(Debug, Clone, Default)]
struct Host {
    network: Option<NetworkPolicy>,
    ragflow_ids: bool,
}

struct Entry {
    description: &'static str,
    schema: fn() -> Value,
    /// `schema()`, made at its first use: a `sync` reads it to check and to build its config,
    /// and making it (schemars, then the lenient reading's additions) is most of what building
    /// a connector costs at start-up.
    made_schema: OnceLock<Value>,
    effective: fn(Value, bool) -> Result<Value>,
    declaration_problems: fn() -> Vec<String>,
    build: Builder,
}

impl Entry {
    /// The source's config schema, made once.
    fn schema(&self) -> &Value {
        self.made_schema.get_or_init(self.schema)
    }
}

/// A connector built by [`Registry::build_with_notes`], with the config fields it was given
/// and ignores.
#[derive(Clone)]
#[non_exhaustive]
pub struct Built {
    /// The connector.
    pub connector: DynConnector,
    /// Fields of the config that are accepted for RAGFlow compatibility and not used, for the
    /// host to show (`connectors check` prints one line for each).
    pub ignored: Vec<Ignored>,
}

impl fmt::Debug for Built {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Built")
            .field("connector", &self.connector.to_string())
            .field("ignored", &self.ignored)
            .finish()
    }
}

/// The config as the connector reads it: parsed (RAGFlow's shapes read, defaults filled in)
/// and serialised back. Secrets serialise as `***`.
fn effective<C: ConnectorConfig + Serialize>(json: Value, ragflow_ids: bool) -> Result<Value> {
    let mut config = parse::<C>(json)?.config;
    if ragflow_ids {
        config.use_ragflow_ids();
    }
    serde_json::to_value(&config).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("the parsed config does not serialise: {e}"),
        )
    })
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
///
/// Connectors whose URL a tenant sets deny private addresses unless their config's
/// `allowed_hosts` names them. A host that builds connectors from configs other people write
/// (a multi-tenant service) sets its own [`NetworkPolicy`] with
/// [`set_network_policy`](Self::set_network_policy): every connector is then built with it,
/// and a source that cannot honour a guarding policy is not built.
#[derive(Default)]
pub struct Registry {
    entries: BTreeMap<&'static str, Entry>,
    host: Host,
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
    ///
    /// `C` is `Serialize` so that [`effective_config`](Self::effective_config) can show the
    /// config as the connector reads it.
    pub fn register<C, F>(&mut self, source: &'static str, description: &'static str, build: F)
    where
        C: ConnectorConfig + Serialize + 'static,
        F: Fn(C) -> Result<Box<dyn Connector>> + Send + Sync + 'static,
    {
        let builder: Builder = Box::new(move |json, schema, host| {
            let mut parsed = parse_with::<C>(schema, json).map_err(|e| e.with_connector(source))?;
            if host.ragflow_ids {
                parsed.config.use_ragflow_ids();
            }
            if let Some(network) = &host.network
                && !parsed.config.set_network_policy(network)
                && network.is_guarded()
            {
                return Err(Error::new(
                    ErrorKind::PermissionDenied,
                    "this source cannot be held to the host's network policy (public \
                     addresses only), so it is not built here",
                )
                .with_connector(source));
            }
            match build(parsed.config) {
                Ok(connector) => Ok(Built {
                    connector: Arc::from(connector),
                    ignored: parsed.ignored,
                }),
                Err(e) if e.connector().is_none() => Err(e.with_connector(source)),
                Err(e) => Err(e),
            }
        });
        self.entries.insert(
            source,
            Entry {
                description,
                schema: schema_of::<C>,
                made_schema: OnceLock::new(),
                effective: effective::<C>,
                declaration_problems: declaration_problems::<C>,
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
    ///
    /// Config fields accepted for RAGFlow compatibility and ignored are logged (`info`), one
    /// line each; [`build_with_notes`](Self::build_with_notes) returns them instead.
    pub fn build(&self, source: &str, config: Value) -> Result<DynConnector> {
        let built = self.build_with_notes(source, config)?;
        for ignored in &built.ignored {
            tracing::info!(source, field = %ignored.path, "{ignored}");
        }
        Ok(built.connector)
    }

    /// [`build`](Self::build), returning the config fields that were accepted and ignored
    /// with the connector rather than logging them.
    ///
    /// # Errors
    /// As [`build`](Self::build).
    pub fn build_with_notes(&self, source: &str, config: Value) -> Result<Built> {
        let entry = self.entry(source)?;
        (entry.build)(config, entry.schema(), &self.host)
    }

    /// Builds every connector from now on with `policy` in place of its own: with
    /// [`NetworkPolicy::public_only`], no connector reaches loopback, private or link-local
    /// addresses (the cloud metadata service) except what the policy allows (and what a
    /// config's `allowed_hosts` allows, if the policy
    /// [accepts config hosts](NetworkPolicy::with_config_hosts)); a source whose config cannot
    /// honour a guarding policy ([`ConnectorConfig::set_network_policy`]) is refused with
    /// [`ErrorKind::PermissionDenied`]. Without it, each connector keeps its own default.
    ///
    /// ```
    /// use connector_core::Registry;
    /// use connector_core::net::NetworkPolicy;
    /// let mut registry = Registry::new();
    /// registry.set_network_policy(NetworkPolicy::public_only().allow(["wiki.corp.example"])?);
    /// assert!(registry.network_policy().is_some_and(NetworkPolicy::is_guarded));
    /// # Ok::<(), connector_core::Error>(())
    /// ```
    pub fn set_network_policy(&mut self, policy: NetworkPolicy) {
        self.host.network = Some(policy);
    }

    /// The host's policy connectors are built with, if it set one.
    pub fn network_policy(&self) -> Option<&NetworkPolicy> {
        self.host.network.as_ref()
    }

    /// Builds every connector from now on with RAGFlow's document ids where its config does
    /// not choose an id scheme ([`ConnectorConfig::use_ragflow_ids`]): for a host migrating
    /// from RAGFlow, whose stored configs name no scheme and whose indexed documents carry
    /// RAGFlow's ids. Without it, connectors use their own default ids, which survive renames
    /// and moves where the source has such ids (Confluence's content ids, Jira's issue ids),
    /// so a rename is an update and not a new document plus a deletion.
    ///
    /// ```
    /// let mut registry = connector_core::Registry::new();
    /// registry.set_ragflow_ids(true);
    /// assert!(registry.ragflow_ids());
    /// ```
    pub fn set_ragflow_ids(&mut self, ragflow_ids: bool) {
        self.host.ragflow_ids = ragflow_ids;
    }

    /// Whether connectors are built with RAGFlow's ids ([`set_ragflow_ids`](Self::set_ragflow_ids)).
    pub fn ragflow_ids(&self) -> bool {
        self.host.ragflow_ids
    }

    /// The config as `source`'s connector reads it: RAGFlow's shapes read, aliases resolved,
    /// ignored fields removed, every default filled in, secrets shown as `***`. For a host
    /// to show, and for tests that pin what a stored config means.
    ///
    /// # Errors
    /// As [`build`](Self::build), for an unknown source or an invalid config; the connector
    /// is not built.
    pub fn effective_config(&self, source: &str, config: Value) -> Result<Value> {
        let entry = self.entry(source)?;
        let key = self
            .entries
            .get_key_value(source)
            .map_or("", |(key, _)| *key);
        (entry.effective)(config, self.host.ragflow_ids).map_err(|e| e.with_connector(key))
    }

    /// Mistakes in how `source`'s config type declares its RAGFlow compatibility (see
    /// [`config::declaration_problems`](crate::config::declaration_problems)); empty when
    /// sound.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an unknown source.
    pub fn declaration_problems(&self, source: &str) -> Result<Vec<String>> {
        Ok((self.entry(source)?.declaration_problems)())
    }

    /// The JSON Schema of `source`'s config.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an unknown source.
    pub fn schema(&self, source: &str) -> Result<Value> {
        Ok(self.entry(source)?.schema().clone())
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

    #[derive(Debug, Serialize, Deserialize, JsonSchema)]
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

    /// A config whose URL a tenant sets: it keeps the host's policy and its own allow list.
    #[derive(Debug, Serialize, Deserialize, JsonSchema)]
    struct GuardedConfig {
        #[serde(default)]
        allowed_hosts: Vec<String>,
        #[serde(skip)]
        #[schemars(skip)]
        host_network: Option<NetworkPolicy>,
    }

    impl ConnectorConfig for GuardedConfig {
        fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
            self.host_network = Some(policy.clone());
            true
        }
    }

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_hosts_policy_replaces_the_connectors_and_refuses_sources_that_cannot_take_it() {
        let mut registry = registry();
        let seen = Arc::new(std::sync::Mutex::new(None));
        let seen_in = Arc::clone(&seen);
        registry.register::<GuardedConfig, _>("guarded", "keeps the policy", move |cfg| {
            let policy = NetworkPolicy::for_tenant(cfg.host_network.as_ref(), &cfg.allowed_hosts)?;
            *seen_in.lock().unwrap() = Some(policy);
            Ok(Box::new(MemoryConnector::numbered(
                1,
                1,
                chrono::DateTime::UNIX_EPOCH,
            )))
        });
        let tenant = serde_json::json!({ "allowed_hosts": ["10.1.2.3"] });
        let effective = |registry: &Registry| {
            registry.build("guarded", tenant.clone()).unwrap();
            seen.lock().unwrap().take().unwrap()
        };
        // By default the connector denies private addresses except what its config allows,
        // and sources without a policy of their own are built.
        let own = effective(&registry);
        assert!(own.permits("x", ip("10.1.2.3")) && !own.permits("x", ip("169.254.169.254")));
        registry
            .build("memory", serde_json::json!({ "items": 1 }))
            .unwrap();

        // A service's policy: the tenant's allow list no longer counts.
        registry.set_network_policy(
            NetworkPolicy::public_only()
                .allow(["wiki.corp.example"])
                .unwrap(),
        );
        let forced = effective(&registry);
        assert!(!forced.permits("x", ip("10.1.2.3")));
        assert!(forced.permits("wiki.corp.example", ip("10.9.9.9")));
        let err = registry
            .build("memory", serde_json::json!({ "items": 1 }))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        assert_eq!(err.connector(), Some("memory"));
        assert!(err.to_string().contains("network policy"), "{err}");

        // A command line run by the config's author lets the config widen it.
        registry.set_network_policy(NetworkPolicy::public_only().with_config_hosts(true));
        assert!(effective(&registry).permits("x", ip("10.1.2.3")));
    }

    #[test]
    fn ignored_fields_come_back_with_the_connector() {
        let built = registry()
            .build_with_notes(
                "memory",
                serde_json::json!({ "items": "3", "sync_batch_size": "10", "batch_size": "" }),
            )
            .unwrap();
        assert_eq!(built.connector.source(), "memory");
        let paths: Vec<&str> = built.ignored.iter().map(|i| i.path.as_str()).collect();
        // A blank knob was not given at all.
        assert_eq!(paths, ["sync_batch_size"]);
        assert!(
            built.ignored[0].to_string().contains("--batch-size"),
            "{}",
            built.ignored[0]
        );
    }

    #[test]
    fn the_effective_config_shows_what_the_connector_reads() {
        let effective = registry()
            .effective_config(
                "memory",
                serde_json::json!({ "items": " 3 ", "page_size": "", "allow_images": true }),
            )
            .unwrap();
        assert_eq!(
            effective,
            serde_json::json!({ "items": 3, "page_size": null })
        );
        let err = registry()
            .effective_config("memory", serde_json::json!({ "items": "three" }))
            .unwrap_err();
        assert_eq!(err.connector(), Some("memory"));
        assert_eq!(err.problems()[0].path, "items");
    }

    /// A second config type for the cache test: a source registered under a key already used.
    #[derive(Debug, Serialize, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct CountConfig {
        count: usize,
    }

    impl ConnectorConfig for CountConfig {
        fn validate(&self) -> Vec<FieldError> {
            Vec::new()
        }
    }

    /// The schema is made once per source and cached; a source registered after the registry
    /// was first used, or registered again under the same key with another config type, is
    /// served its own schema, and its own type parses.
    #[test]
    fn the_cached_schema_follows_registrations_after_first_use() {
        let mut registry = registry();
        let memory = crate::config::schema_of::<MemoryConfig>();
        assert_eq!(registry.schema("memory").ok(), Some(memory.clone()));
        // Used: the cache is filled.
        assert!(
            registry
                .build("memory", serde_json::json!({"items": 3}))
                .is_ok()
        );
        assert_eq!(registry.schema("memory").ok(), Some(memory.clone()));

        // A new source after first use.
        registry.register::<CountConfig, _>("count", "counted", |cfg| {
            Ok(Box::new(MemoryConnector::numbered(
                cfg.count,
                10,
                chrono::DateTime::UNIX_EPOCH,
            )))
        });
        let count = crate::config::schema_of::<CountConfig>();
        assert_ne!(count, memory);
        assert_eq!(registry.schema("count").ok(), Some(count.clone()));
        assert_eq!(registry.schema("memory").ok(), Some(memory));

        // The same key again, with the other config type: its schema and its type, not the
        // cached ones.
        registry.register::<CountConfig, _>("memory", "counted too", |cfg| {
            Ok(Box::new(MemoryConnector::numbered(
                cfg.count,
                10,
                chrono::DateTime::UNIX_EPOCH,
            )))
        });
        assert_eq!(registry.schema("memory").ok(), Some(count));
        assert!(
            registry
                .build("memory", serde_json::json!({"count": 2}))
                .is_ok()
        );
        assert!(
            registry
                .build("memory", serde_json::json!({"items": 2}))
                .is_err(),
            "the old config type's field is unknown now"
        );
    }
}
