//! [`google_config!`]: what both Google configs share beyond their credentials
//! ([`auth::config`](crate::auth::config)), written once: where requests may go, the overlap of
//! incremental windows, and the [`ConnectorConfig`](connector_core::ConnectorConfig) impl
//! around each source's own checks.
//!
//! Every endpoint a Google config holds is the tenant's to write: `token_uri`, the
//! `token_uri` inside a service-account key or OAuth token, `directory_base_url` and the API
//! hosts. So both sources hold every request (token fetches included) and every redirect to
//! one policy: public addresses plus the config's `allowed_hosts`, or the host's policy when
//! it set one ([`NetworkPolicy::for_tenant`](connector_core::net::NetworkPolicy::for_tenant)).
//! Google's own endpoints are public, so a config that names none of its own needs no
//! `allowed_hosts`. Drive and Gmail differ here only in their default overlap and their own
//! checks.

/// `true`, for `#[serde(default = ...)]`.
pub(crate) fn yes() -> bool {
    true
}

/// The checkpoint of a source that follows a change feed besides its time window.
pub(crate) trait FeedCheckpoint: Sized {
    /// The checkpoint of a first run that takes each feed's position before its listings.
    fn tracking() -> Self;
    /// What the next run starts from after a run that ended here: the feeds' positions.
    fn carried(&self) -> Self;
}

/// The docs (and schema description) of both configs' `allowed_hosts`.
macro_rules! allowed_hosts_doc {
    () => {
        "Hosts this connector may reach although they are not public addresses: host names \
         (`proxy.corp.example`), domains (`*.corp.example`), addresses (`10.1.2.3`) or networks \
         (`10.20.0.0/16`). Every endpoint is the config's to set (`token_uri`, the `token_uri` \
         inside the key or token, `directory_base_url`, the API hosts), so private, loopback \
         and link-local addresses (the cloud metadata service at 169.254.169.254) are denied \
         otherwise, for token fetches and on every redirect too. Google's own endpoints are \
         public and need nothing here. A host that runs connectors for others can rule this \
         field out (`Registry::set_network_policy`)."
    };
}

/// Writes a Google config's endpoint and network methods (`with_base_url`,
/// `with_network_policy`, `with_allowed_hosts`, `network_policy`), `overlap` and its
/// `ConnectorConfig` impl, for a config type with `credentials: GoogleCredentialsConfig`,
/// `token_uri`, `directory_base_url` and the API hosts named (each an `Option<Url>`),
/// `allowed_hosts: Vec<String>`, `host_network: Option<NetworkPolicy>`,
/// `time_buffer_seconds: Option<u64>`, `new(GoogleCredentialsConfig)` and
/// `check_source(&self, &mut Vec<FieldError>)` (its own problems, pushed after those of the
/// credentials and `allowed_hosts`).
///
/// ```text
/// google_config!(
///     GmailConfig,
///     overlap: DEFAULT_GMAIL_OVERLAP_SECS,
///     api_hosts: [gmail_base_url],
/// );
/// ```
macro_rules! google_config {
    ($config:ident, overlap: $overlap:expr, api_hosts: [$($api:ident),+ $(,)?] $(,)?) => {
        impl $config {
            #[doc = concat!(
                "Sends every request to `base` (the token endpoint `{base}/token`, the directory, ",
                $("`", stringify!($api), "`, ",)+
                "for tests and proxies. A `base` on a private address needs ",
                "[`with_allowed_hosts`](Self::with_allowed_hosts) too."
            )]
            #[must_use]
            pub fn with_base_url(mut self, base: &url::Url) -> Self {
                self.token_uri = crate::endpoint(base, "token").ok();
                self.directory_base_url = Some(base.clone());
                $(self.$api = Some(base.clone());)+
                self
            }

            /// This config with the host's network policy, in place of the connector's own
            /// (public addresses plus `allowed_hosts`). A
            /// [`Registry`](connector_core::Registry) does this itself when the host set a
            /// policy ([`ConnectorConfig::set_network_policy`](connector_core::ConnectorConfig::set_network_policy)).
            ///
            /// ```
            #[doc = concat!("use connector_google::{GoogleCredentialsConfig, ", stringify!($config), "};")]
            /// use connector_core::net::NetworkPolicy;
            /// let token = r#"{"refresh_token": "r", "client_id": "c", "client_secret": "s"}"#;
            #[doc = concat!("let config = ", stringify!($config), "::new(GoogleCredentialsConfig::new(token))")]
            ///     .with_allowed_hosts(["10.1.2.3"]);
            /// let own = config.network_policy()?;
            /// assert!(own.permits("proxy", "10.1.2.3".parse().unwrap()));
            /// assert!(!own.permits("proxy", "169.254.169.254".parse().unwrap()));
            /// // A host's policy that does not accept config hosts rules `allowed_hosts` out.
            /// let hosts = config.with_network_policy(NetworkPolicy::public_only());
            /// assert!(!hosts.network_policy()?.permits("proxy", "10.1.2.3".parse().unwrap()));
            /// # Ok::<(), connector_core::Error>(())
            /// ```
            #[must_use]
            pub fn with_network_policy(
                mut self,
                policy: connector_core::net::NetworkPolicy,
            ) -> Self {
                self.host_network = Some(policy);
                self
            }

            /// May also reach `hosts` although they are not public addresses (see
            /// [`allowed_hosts`](Self::allowed_hosts)): a proxy or an endpoint on an
            /// intranet.
            #[must_use]
            pub fn with_allowed_hosts<I, S>(mut self, hosts: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.allowed_hosts.extend(hosts.into_iter().map(Into::into));
                self
            }

            /// The policy every request of this connector goes through, token fetches and
            /// redirects included: the host's, if it set one (widened by `allowed_hosts` only
            /// where it [accepts them](connector_core::net::NetworkPolicy::with_config_hosts)),
            /// else public addresses plus `allowed_hosts`.
            ///
            /// # Errors
            /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) naming an
            /// `allowed_hosts` entry that is not a host, domain, address or network.
            pub fn network_policy(
                &self,
            ) -> connector_core::Result<connector_core::net::NetworkPolicy> {
                connector_core::net::NetworkPolicy::for_tenant(
                    self.host_network.as_ref(),
                    &self.allowed_hosts,
                )
            }

            /// The overlap incremental runs need (see
            /// [`time_buffer_seconds`](Self::time_buffer_seconds)).
            pub fn overlap(&self) -> std::time::Duration {
                std::time::Duration::from_secs(self.time_buffer_seconds.unwrap_or($overlap))
            }
        }

        impl connector_core::ConnectorConfig for $config {
            const IGNORED: &'static [connector_core::config::IgnoredField] =
                &[crate::auth::config::AUTHENTICATION_METHOD];

            fn set_network_policy(&mut self, policy: &connector_core::net::NetworkPolicy) -> bool {
                self.host_network = Some(policy.clone());
                true
            }

            fn validate(&self) -> Vec<connector_core::FieldError> {
                let mut out = self.credentials.validate();
                out.extend(connector_core::net::NetworkPolicy::check_allowed_hosts(
                    "allowed_hosts",
                    &self.allowed_hosts,
                ));
                self.check_source(&mut out);
                out
            }
        }
    };
}

pub(crate) use {allowed_hosts_doc, google_config};
