//! [`google_connector!`]: the connector type both Google sources declare. Drive and Gmail
//! differ in their client and their walk, not in how a connector holds them: both validate
//! the config, hold a client, hand a rotated refresh token to a credential store, show their
//! identity, and run one [`Walk`](crate::walk::Walk) for `check`, checkpointed loads and
//! prune's id listing. The macro writes that once; each source's `mod.rs` keeps its docs.

/// Declares a Google source's public connector type and its roles.
///
/// ```text
/// google_connector! {
///     /// The type's docs.
///     pub struct GmailConnector {
///         source: SOURCE,            // the registry key
///         config: GmailConfig,       // ConnectorConfig, with `credentials`
///         client: GmailClient,       // `new(config)`, `api`, `config`
///         checkpoint: GmailCheckpoint,
///         walker: Walker,            // `new(&client, Mode, SyncContext)`, `check()`, a `Walk`
///     }
///     /// The docs of `Connector::check`.
///     check;
///     /// The docs of `SlimConnector::list_ids`.
///     list_ids;
/// }
/// ```
macro_rules! google_connector {
    (
        $(#[$doc:meta])*
        pub struct $name:ident {
            source: $source:ident,
            config: $config:ty,
            client: $client:ty,
            checkpoint: $checkpoint:ty,
            walker: $walker:ident $(,)?
        }
        $(#[$check_doc:meta])*
        check;
        $(#[$ids_doc:meta])*
        list_ids;
    ) => {
        $(#[$doc])*
        pub struct $name {
            client: $client,
        }

        impl $name {
            /// A connector over `config`.
            ///
            /// # Errors
            /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) when the config is
            /// invalid (every problem by field path);
            /// [`ErrorKind::Internal`](connector_core::ErrorKind::Internal) when the HTTP client
            /// cannot start.
            pub fn new(config: $config) -> connector_core::Result<Self> {
                let problems = connector_core::ConnectorConfig::validate(&config);
                if !problems.is_empty() {
                    return Err(connector_core::Error::config(problems).with_connector($source));
                }
                Ok(Self {
                    client: <$client>::new(config)?,
                })
            }

            /// Hands a refresh token that Google rotates to `store` before it is used (DESIGN
            /// §7).
            #[must_use]
            pub fn with_credential_store(
                self,
                store: std::sync::Arc<dyn connector_core::CredentialStore>,
            ) -> Self {
                self.client.api.set_credential_store(store);
                self
            }

            /// The config.
            pub fn config(&self) -> &$config {
                &self.client.config
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("config", &self.client.config)
                    .field("api", &self.client.api)
                    .finish_non_exhaustive()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}:{}", $source, self.client.config.credentials.identity())
            }
        }

        #[async_trait::async_trait]
        impl connector_core::Connector for $name {
            fn source(&self) -> &'static str {
                $source
            }

            fn roles(&self) -> connector_core::Roles<'_> {
                connector_core::Roles::of(self)
                    .checkpointed()
                    .slim()
                    .fingerprint_skip()
                    .into()
            }

            /// The config's `time_buffer_seconds`, else the source's default: its incremental
            /// listing is a search whose index lags writes.
            fn min_overlap(&self) -> std::time::Duration {
                self.client.config.overlap()
            }

            $(#[$check_doc])*
            async fn check(&self) -> connector_core::Result<()> {
                $walker::new(
                    &self.client,
                    $crate::walk::Mode::Slim,
                    connector_core::SyncContext::new(),
                )
                .check()
                .await
            }

            /// Only an OAuth user token rotates; a service-account key never does.
            fn set_credential_store(
                &self,
                store: std::sync::Arc<dyn connector_core::CredentialStore>,
            ) -> bool {
                self.client.api.set_credential_store(store)
            }
        }

        impl connector_core::CheckpointedConnector for $name {
            type Checkpoint = $checkpoint;

            /// With `follow_changes` (the default), a run that takes each feed's position
            /// before its listings.
            fn initial_checkpoint(&self) -> $checkpoint {
                if self.client.config.follow_changes {
                    <$checkpoint as $crate::config::FeedCheckpoint>::tracking()
                } else {
                    <$checkpoint>::default()
                }
            }

            /// With `follow_changes`, the feeds' positions the run took before it listed,
            /// for the next incremental run to read the feeds from.
            fn carry_over(&self, last: &$checkpoint) -> Option<$checkpoint> {
                self.client
                    .config
                    .follow_changes
                    .then(|| $crate::config::FeedCheckpoint::carried(last))
            }

            fn load_from_checkpoint(
                &self,
                from: $checkpoint,
                window: Option<connector_core::TimeWindow>,
                ctx: connector_core::SyncContext,
            ) -> futures::stream::BoxStream<
                'static,
                connector_core::Result<connector_core::CheckpointedBatch<$checkpoint>>,
            > {
                $crate::walk::pages(
                    $walker::new(&self.client, $crate::walk::Mode::Load(window), ctx),
                    from,
                )
            }
        }

        impl connector_core::SlimConnector for $name {
            $(#[$ids_doc])*
            fn list_ids(
                &self,
                ctx: connector_core::SyncContext,
            ) -> futures::stream::BoxStream<
                'static,
                connector_core::Result<Vec<connector_core::SlimDocument>>,
            > {
                $crate::walk::ids($walker::new(&self.client, $crate::walk::Mode::Slim, ctx))
            }
        }
    };
}

pub(crate) use google_connector;
