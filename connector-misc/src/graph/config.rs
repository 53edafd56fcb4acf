//! What every Microsoft Graph source's config holds beside its own settings, written once: the
//! app's `credentials` block, the cloud's hosts (`authority_host`, `graph_url`), the test
//! hosts (`allowed_hosts`) and the host's network policy, with their docs, their `Debug`
//! (the secret left out), their validation and the [`GraphApp`](super::GraphApp) and
//! [`GraphClient`](super::GraphClient) they make.
//!
//! Macros, not a shared struct: serde cannot `flatten` fields into a struct that denies
//! unknown fields, and a shared credentials type would rename each source's JSON Schema
//! definition and lose the permissions its doc names. Each source still declares its own
//! types, with its own names and docs, so its config JSON and JSON Schema stay its own.

/// Declares a source's credentials struct: `tenant_id`, `client_id` and `client_secret` (as
/// RAGFlow names them) with their docs and schema examples, then the source's own fields; and
/// its `Debug`, which prints `***` for the secret.
///
/// `tenant_example` is the schema's example for `tenant_id`; `secret_example`, if given, the
/// one for `client_secret`.
macro_rules! graph_credentials {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )*
        }
        tenant_example = $tenant:literal;
        $(secret_example = $secret:literal;)?
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        #[non_exhaustive]
        pub struct $name {
            /// The directory (tenant) id, or a verified domain.
            #[schemars(example = &$tenant)]
            pub tenant_id: String,
            /// The application (client) id.
            #[schemars(example = &"6731de76-14a6-49ae-97bc-6eba6914391e")]
            pub client_id: String,
            /// The client secret's value (not its id). Leave it out with certificate
            /// credentials (`client_certificate_key`).
            #[serde(default = "crate::graph::no_secret", skip_serializing_if = "connector_core::Secret::is_empty")]
            $(#[schemars(example = &$secret)])?
            pub client_secret: connector_core::Secret,
            /// Certificate credentials instead of `client_secret` (tenants that forbid
            /// secrets for apps with tenant-wide permissions require them): the private key,
            /// in plain PEM (`BEGIN PRIVATE KEY` or `BEGIN RSA PRIVATE KEY`, the certificate
            /// may be in the same text), or the certificate's PFX (PKCS#12) file in base64
            /// (`base64 -w0 app.pfx`) with `client_certificate_password`, of a certificate
            /// uploaded to the app registration. Each token request is signed with it (a
            /// client assertion, as MSAL sends it).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(example = &"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC…\n-----END PRIVATE KEY-----\n")]
            pub client_certificate_key: Option<connector_core::Secret>,
            /// That certificate's thumbprint, in hex as the app registration's Certificates &
            /// secrets page shows it (40 characters, SHA-1; or 64, SHA-256). May be left out
            /// when `client_certificate_key` holds the certificate too (its SHA-256 is sent).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(example = &"3F2504E04F8911D39A0C0305E82C3301AB12CD34")]
            pub client_certificate_thumbprint: Option<String>,
            /// The password of the PFX given as `client_certificate_key` (leave it out for a
            /// PFX exported without one, and for a PEM).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(example = &"pfx-export-password")]
            pub client_certificate_password: Option<connector_core::Secret>,
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("tenant_id", &self.tenant_id)
                    .field("client_id", &self.client_id)
                    .field("client_secret", &"***")
                    .field(
                        "client_certificate_key",
                        &self.client_certificate_key.as_ref().map(|_| "***"),
                    )
                    .field(
                        "client_certificate_thumbprint",
                        &self.client_certificate_thumbprint,
                    )
                    .field(
                        "client_certificate_password",
                        &self.client_certificate_password.as_ref().map(|_| "***"),
                    )
                    $(.field(stringify!($field), &self.$field))*
                    .finish()
            }
        }
    };
}

/// Declares a source's config struct: its own fields (the first, `credentials`, a struct of
/// `graph_credentials!`), then `authority_host`, `graph_url`, `allowed_hosts` and the
/// host's network policy, with their docs; and its `Debug` (every own field, then
/// `graph_url` and `allowed_hosts`), `app()`, `network_policy()`, `client()` and
/// `ConnectorConfig`, whose `validate()` lists the app's problems, then those of the
/// source's own `own_problems(&self, &mut Vec<FieldError>)`, then `allowed_hosts`'.
///
/// `allowed_hosts_example`, if given, is the schema's example for `allowed_hosts`.
macro_rules! graph_config {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty, )*
        }
        $(allowed_hosts_example = [$($example:tt)*];)?
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        #[non_exhaustive]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            /// The Microsoft Entra ID authority (default `https://login.microsoftonline.com`;
            /// `https://login.microsoftonline.us` for US Government clouds).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(example = "https://login.microsoftonline.us")]
            pub authority_host: Option<url::Url>,
            /// Microsoft Graph (default `https://graph.microsoft.com`; `https://graph.microsoft.us`,
            /// `https://microsoftgraph.chinacloudapi.cn`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(example = "https://graph.microsoft.us")]
            pub graph_url: Option<url::Url>,
            /// Hosts this connector may reach although they are not public (a test server).
            #[serde(default, skip_serializing_if = "Vec::is_empty")]
            $(#[schemars(example = &[$($example)*])])?
            pub allowed_hosts: Vec<String>,
            /// The host's network policy, which replaces the connector's own; never the tenant's.
            #[serde(skip)]
            #[schemars(skip)]
            pub(crate) host_network: Option<connector_core::net::NetworkPolicy>,
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    $(.field(stringify!($field), &self.$field))*
                    .field("graph_url", &self.graph_url.as_ref().map(url::Url::as_str))
                    .field("allowed_hosts", &self.allowed_hosts)
                    .finish_non_exhaustive()
            }
        }

        impl $name {
            /// The app registration these settings describe.
            pub fn app(&self) -> $crate::graph::GraphApp {
                let c = &self.credentials;
                let mut app =
                    $crate::graph::GraphApp::new(&c.tenant_id, &c.client_id, c.client_secret.clone());
                app.certificate_key.clone_from(&c.client_certificate_key);
                app.certificate_thumbprint.clone_from(&c.client_certificate_thumbprint);
                app.certificate_password.clone_from(&c.client_certificate_password);
                app.authority_host.clone_from(&self.authority_host);
                app.graph_url.clone_from(&self.graph_url);
                app
            }

            /// The policy every request follows: the host's if it set one, else public addresses
            /// plus `allowed_hosts`.
            ///
            /// # Errors
            /// An `allowed_hosts` entry that names no host.
            pub fn network_policy(
                &self,
            ) -> connector_core::Result<connector_core::net::NetworkPolicy> {
                connector_core::net::NetworkPolicy::for_tenant(
                    self.host_network.as_ref(),
                    &self.allowed_hosts,
                )
            }

            /// The client of `source` for these settings, once they are valid.
            ///
            /// # Errors
            /// `ErrorKind::Config` listing every problem of these settings, or an error of
            /// `GraphClient::new`.
            pub(crate) fn client(
                &self,
                source: &'static str,
                permission_hint: &'static str,
                tune: impl FnOnce(
                    connector_core::http::HttpClientBuilder,
                ) -> connector_core::http::HttpClientBuilder,
            ) -> connector_core::Result<$crate::graph::GraphClient> {
                let problems = connector_core::ConnectorConfig::validate(self);
                if !problems.is_empty() {
                    return Err(connector_core::Error::config(problems).with_connector(source));
                }
                $crate::graph::GraphClient::new(
                    source,
                    &self.app(),
                    self.network_policy()?,
                    permission_hint,
                    tune,
                )
            }
        }

        impl connector_core::ConnectorConfig for $name {
            fn validate(&self) -> Vec<connector_core::FieldError> {
                let mut problems = self.app().problems();
                self.own_problems(&mut problems);
                problems.extend(connector_core::net::NetworkPolicy::check_allowed_hosts(
                    "allowed_hosts",
                    &self.allowed_hosts,
                ));
                problems
            }

            fn set_network_policy(&mut self, policy: &connector_core::net::NetworkPolicy) -> bool {
                self.host_network = Some(policy.clone());
                true
            }
        }
    };
}

pub(crate) use {graph_config, graph_credentials};

/// An absent `client_secret` (certificate credentials): the empty secret.
pub(crate) fn no_secret() -> connector_core::Secret {
    connector_core::Secret::new("")
}
