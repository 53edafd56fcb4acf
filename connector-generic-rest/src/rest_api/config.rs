//! [`RestApiConfig`]: RAGFlow's `rest_api` config fields, value shapes included, plus ours.

use std::collections::BTreeMap;
use std::fmt;

use connector_core::config::{Ignored, IgnoredField, join_path};
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, StringList};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use url::Url;

use super::auth::{AuthConfig, AuthType, Credentials};
use super::model::{FieldPath, ItemsPath};

mod pagination;
mod values;

pub use pagination::{HttpMethod, PaginationConfig, PaginationType};
pub(crate) use values::is_secret_header;
pub use values::{ErrorPath, KeyValues, SinceConfig, SinceFormat, TypeHint};

/// The configuration of the `rest_api` connector.
///
/// Field names, value shapes and defaults are RAGFlow's (`RestAPIConnectorConfig` and its web
/// form), so a config RAGFlow stored is accepted as it is and selects the same items: blank
/// fields are absent, numbers may come as text, and the fields RAGFlow's form or sync loop
/// send that this connector has no use for are accepted and reported as ignored
/// ([`ConnectorConfig::IGNORED`]: `show_advanced`, `batch_size`, and the generic knobs of
/// [`GENERIC_IGNORED`](connector_core::config::GENERIC_IGNORED)), as are the credentials
/// `auth_type` leaves unused ([`ConnectorConfig::unused`]: a token next to `auth_type: none`,
/// `auth_config.token` next to the `credentials.token` that wins). Unlike RAGFlow, which drops
/// any key it does not know, an unknown field is an error, with a "did you mean" hint.
///
/// Ours on top: `link_header` and `next_url_path` pagination, pagination parameters in a POST
/// body (`pagination_config.params_in_body`), a server-side `since` filter for incremental
/// syncs, `title_field`, `link_field`, `max_retries` and `timeout_secs`.
///
/// Where the defaults differ from RAGFlow's, on purpose: `request_delay` is 0 rather than 0.5
/// seconds (RAGFlow's web form sends 0.5 explicitly, which is then used; the HTTP layer waits
/// out 429 and `Retry-After` instead), and the page size asked for where a size parameter is
/// named without a size is 100 rather than RAGFlow's `batch_size` of 2.
///
/// It serialises (for [`Registry::effective_config`](connector_core::Registry::effective_config))
/// with every credential, header value and query parameter value shown as `***`.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestApiConfig {
    /// The endpoint. Its query string is merged under `query_params`; `{name}` placeholders in
    /// its path are filled from the merged parameters (and those are then not sent as query).
    #[serde(serialize_with = "url_without_values")]
    pub url: Url,
    /// `GET` (default) or `POST`.
    #[serde(default)]
    pub method: HttpMethod,
    /// Extra headers: an object, a JSON object string, or `key=value` lines (`#` comments).
    #[serde(default)]
    pub headers: KeyValues,
    /// Query parameters, in the same shapes as `headers`.
    #[serde(default)]
    pub query_params: KeyValues,
    /// How requests authenticate.
    #[serde(default)]
    pub auth_type: AuthType,
    /// `header_name`, `api_key_value`/`api_key`, `token`, `username`, `password`.
    #[serde(default)]
    pub auth_config: AuthConfig,
    /// `api_key`, `token`, `username`, `password`; they take precedence over `auth_config`.
    #[serde(default)]
    pub credentials: Credentials,
    /// JSONPath (RFC 9535) to the item list, e.g. `$.data.items`. Without it the list is
    /// found: the root if it is a list, else `items`, `results`, `data`, `records`, else the
    /// first list-valued key. A path that leads to empty lists, to an empty object or to
    /// `null` where the list stands matches an empty page, as do a filter that drops every
    /// member of an object of objects (records keyed by id) and a `$..[?…]` filter over a body
    /// holding a list where the run's items sat; anything else fails the page (a name the
    /// body lacks or holds as `null`, a descendant name found nowhere, a non-empty object a
    /// wildcard or filter drops whole, a scalar where a list is needed), as does a page with
    /// no items whose root holds a non-empty `errors` or a set `error` (see `error_path`),
    /// because an error body answered with status 200 must not end the listing. A `page` or
    /// `offset` walk measures a page by the entries the server paged: the path up to its
    /// first segment that selects many, a filter there read as `[*]`
    /// (`$.data[?@.status == 'published']` and `$.data[*].versions[?@.latest]`: every entry
    /// of `data`), so a page the filter empties or leaves short does not end the walk; a page
    /// whose entries under the last filter are empty does (see `listing_path`). A path ending
    /// in a name after its filter (`$.result[?@.name == 'docs'].items`) picks one list, whose
    /// entries are the items.
    #[serde(default)]
    pub items_path: Option<String>,
    /// JSONPath whose matches are a page's entries, for a `page` or `offset` walk: how many
    /// there are is the page's length (the empty, short and `total` ends, how far an offset
    /// moves) and their ids are its repeat guard, in place of what `items_path` implies. Set
    /// it where that guess is wrong: `$.results[0].hits[*]` for
    /// `$.results[*].hits[?@.public]`, `$.data[*]` for `$.data[*].versions[?@.latest]` when
    /// an entry's versions may all be missing. Required for an `offset` walk whose
    /// `items_path` picks a list after its filter (`$.groups[?@.open].items`): `$.groups[*]`
    /// where the server's offset counts groups, `$.groups[?@.open].items[*]` where it counts
    /// their items.
    #[serde(default)]
    pub listing_path: Option<String>,
    /// Where a response says it failed: a JSONPath, and a page where it matches a set value
    /// (not `null`, `false`, `0`, `""`, an empty list, nor an object with nothing set or a
    /// `code` of 0 or 200) fails, naming the value. `false` turns the check off. Without it, a
    /// page with no items whose root (or the object `items_path` reached) holds a set `error`
    /// or a non-empty `errors` fails, unless the run's pages with items carried the same
    /// member (the same value, or an object with the same keys and `code`).
    #[serde(default)]
    pub error_path: Option<ErrorPath>,
    /// Field path of each item's id (dot notation, `[n]`, `[*]`). Without it, the id is a hash
    /// of the item's canonical JSON: content-derived, so an edited item becomes a new document.
    #[serde(default)]
    pub id_field: Option<String>,
    /// Field paths whose values make the text (a list or a comma-separated string). At least
    /// one is needed unless `content_template` is given.
    #[serde(default)]
    pub content_fields: StringList,
    /// Field paths copied into the document's metadata.
    #[serde(default)]
    pub metadata_fields: StringList,
    /// `none`, `page`, `offset`, `cursor`, `link_header` or `next_url_path`.
    #[serde(default)]
    pub pagination_type: PaginationType,
    /// The pagination parameters.
    #[serde(default)]
    pub pagination_config: PaginationConfig,
    /// Field path of each item's modification time (ISO 8601, `YYYY-MM-DD`, or epoch seconds or
    /// milliseconds): an incremental sync keeps the items whose time lies in its window. With
    /// neither this nor `since`, an incremental sync reads every item, as RAGFlow means to,
    /// and only new and changed ones reach the host (see the connector's docs for the cost).
    #[serde(default)]
    pub poll_timestamp_field: Option<String>,
    /// JSON body of `POST` requests (falls back to `pagination_config.request_body`): a JSON
    /// value, or JSON text, which is how RAGFlow's web form stores what its textarea holds.
    #[serde(default, deserialize_with = "json_or_text")]
    pub request_body: Option<Value>,
    /// `{path: "string" | "number" | "date"}` conversions applied to field values.
    #[serde(default)]
    pub field_type_hints: BTreeMap<String, TypeHint>,
    /// `{path: value}` used when a path is missing from an item.
    #[serde(default)]
    pub field_default_values: BTreeMap<String, Value>,
    /// A template such as `"{title}\n\n{body}"`: names are field paths with `[n]`/`[*]`
    /// removed and `.` replaced by `_`; a missing name renders as nothing.
    #[serde(default)]
    pub content_template: Option<String>,
    /// Pages fetched per run at most (default 1000, as RAGFlow's). A load stops there, as
    /// RAGFlow's does; a full listing for prune that would need more fails instead of pruning
    /// from a partial list.
    #[serde(default = "default_max_pages")]
    #[schemars(range(max = connector_core::config::limits::MAX_COUNT))]
    pub max_pages: u64,
    /// Seconds to wait before every page after the first (default 0; RAGFlow's default is 0.5,
    /// which its web form sends).
    #[serde(default)]
    pub request_delay: f64,
    /// Server-side filter for incremental syncs: the window start sent as a parameter.
    #[serde(default)]
    pub since: Option<SinceConfig>,
    /// Field path of the title (default: the first content field, else the document id).
    #[serde(default)]
    pub title_field: Option<String>,
    /// Field path of a URL where a person can open the item.
    #[serde(default)]
    pub link_field: Option<String>,
    /// Retries of a failed request (default 5).
    #[serde(default)]
    #[schemars(range(max = connector_core::config::limits::MAX_RETRIES))]
    pub max_retries: Option<u32>,
    /// Request timeout in seconds (default 60).
    #[serde(default)]
    #[schemars(range(max = connector_core::config::limits::MAX_SECONDS))]
    pub timeout_secs: Option<u64>,
    /// Hosts this connector may reach although they are not public addresses: host names
    /// (`wiki.corp.example`), domains (`*.corp.example`), addresses (`10.1.2.3`) or networks
    /// (`10.20.0.0/16`). Private, loopback and link-local addresses (the cloud metadata
    /// service at 169.254.169.254) are denied otherwise, on every redirect and next-page URL
    /// too. A host that runs connectors for others can rule this field out
    /// (`Registry::set_network_policy`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own: set by a
    /// [`Registry`](connector_core::Registry) ([`ConnectorConfig::set_network_policy`]) or
    /// [`with_network_policy`](Self::with_network_policy), never by the tenant's JSON.
    #[serde(skip)]
    #[schemars(skip)]
    host_network: Option<NetworkPolicy>,
}

// RAGFlow's default (`rest_api_connector.py`: `_DEFAULT_MAX_PAGES`); `pagination_config`'s
// are in `config/pagination.rs`.
fn default_max_pages() -> u64 {
    1000
}

/// A JSON value, or JSON text read as the value it writes: RAGFlow's web form stores the
/// request body its textarea holds as text, and a body sent as one JSON string is never meant.
fn json_or_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        Some(Value::String(text)) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| serde::de::Error::custom(format!("is text that is not JSON: {e}"))),
        other => Ok(other),
    }
}

/// The URL with the value of each query parameter shown as `***` and no user name or
/// password: URLs often carry an API key in their query.
fn url_without_values<S: Serializer>(url: &Url, serializer: S) -> Result<S::Ok, S::Error> {
    let mut shown = url.clone();
    // Both calls fail only for URLs that cannot carry credentials in the first place.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if url.query().is_some() {
        let keys: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
        shown
            .query_pairs_mut()
            .clear()
            .extend_pairs(keys.iter().map(|k| (k.as_str(), "***")));
    }
    serializer.serialize_str(shown.as_str())
}

impl RestApiConfig {
    /// This config with the host's network policy, in place of the connector's own (public
    /// addresses plus `allowed_hosts`): every request, the next-page URLs a response names
    /// (`next_url_path`, `link_header`) and every redirect are checked against it. A
    /// [`Registry`](connector_core::Registry) does this itself when the host set a policy.
    ///
    /// ```
    /// use connector_core::net::NetworkPolicy;
    /// use connector_generic_rest::rest_api::RestApiConfig;
    /// let config: RestApiConfig = connector_core::config::from_json(serde_json::json!({
    ///     "url": "https://api.example.com/items", "content_fields": "title",
    ///     "allowed_hosts": ["10.1.2.3"],
    /// }))?;
    /// let own = config.network_policy()?;
    /// assert!(own.permits("api", "10.1.2.3".parse().unwrap()));
    /// assert!(!own.permits("api", "169.254.169.254".parse().unwrap()));
    /// // A host's policy that does not accept config hosts rules `allowed_hosts` out.
    /// let hosts = config.with_network_policy(NetworkPolicy::public_only());
    /// assert!(!hosts.network_policy()?.permits("api", "10.1.2.3".parse().unwrap()));
    /// # Ok::<(), connector_core::Error>(())
    /// ```
    #[must_use]
    pub fn with_network_policy(mut self, policy: NetworkPolicy) -> Self {
        self.host_network = Some(policy);
        self
    }

    /// The policy the connector's requests are held to: the host's, if it set one (widened
    /// by `allowed_hosts` only where it [accepts them](NetworkPolicy::with_config_hosts)),
    /// else public addresses plus `allowed_hosts`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) naming an `allowed_hosts`
    /// entry that is no host, domain, address or network.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }

    /// The POST body: `request_body`, else `pagination_config.request_body`.
    pub(crate) fn body(&self) -> Option<&Value> {
        self.request_body
            .as_ref()
            .or(self.pagination_config.request_body.as_ref())
    }

    /// The next-URL path for `next_url_path` pagination.
    pub(crate) fn next_url_path(&self) -> Option<&str> {
        self.pagination_config.next_url_path.as_deref()
    }
}

impl ConnectorConfig for RestApiConfig {
    const IGNORED: &'static [IgnoredField] = &[
        IgnoredField::new(
            "show_advanced",
            "a switch of RAGFlow's web form that only shows or hides its advanced fields",
        ),
        IgnoredField::new(
            "batch_size",
            "documents reach the host in the batches the sync is run with \
             (`SyncOptions::batch_docs`, `connectors sync --batch-size`); the page size RAGFlow \
             also took from it is `pagination_config.page_size` here (default 100)",
        ),
        IgnoredField::new(
            "credentials.authentication_method",
            "`auth_type` chooses how requests authenticate",
        ),
    ];

    fn unused(&self) -> Vec<Ignored> {
        self.unused_credentials()
    }

    /// Honoured: the connector's one HTTP client is built with it (there is no separate
    /// token endpoint; every `auth_type` sends its credentials with the requests).
    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.host_network = Some(policy.clone());
        true
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut out = Vec::new();
        if !matches!(self.url.scheme(), "http" | "https") {
            out.push(FieldError::new("url", "must be an http or https URL"));
        }
        for (field, kv) in [
            ("headers", &self.headers),
            ("query_params", &self.query_params),
        ] {
            if let Err(e) = kv.pairs() {
                out.push(FieldError::new(field, e));
            }
        }
        out.extend(NetworkPolicy::check_allowed_hosts(
            "allowed_hosts",
            &self.allowed_hosts,
        ));
        if self.content_fields.is_empty() && self.content_template.is_none() {
            out.push(FieldError::new("content_fields", "name at least one field"));
        }
        let paths = [
            ("id_field", self.id_field.as_deref()),
            ("poll_timestamp_field", self.poll_timestamp_field.as_deref()),
            ("title_field", self.title_field.as_deref()),
            ("link_field", self.link_field.as_deref()),
            (
                "pagination_config.next_cursor_field",
                self.pagination_config.next_cursor_field.as_deref(),
            ),
        ];
        for (field, path) in paths {
            if let Some(p) = path
                && let Err(e) = FieldPath::parse(p)
            {
                out.push(FieldError::new(field, e));
            }
        }
        for (field, list) in [
            ("content_fields", &self.content_fields),
            ("metadata_fields", &self.metadata_fields),
        ] {
            for (i, p) in list.iter().enumerate() {
                if let Err(e) = FieldPath::parse(p) {
                    out.push(FieldError::new(format!("{field}[{i}]"), e));
                }
            }
        }
        for (p, _) in self.field_type_hints.iter() {
            if let Err(e) = FieldPath::parse(p) {
                out.push(FieldError::new(join_path("field_type_hints", p), e));
            }
        }
        match &self.error_path {
            Some(e) if e.switch() == Some(true) => out.push(FieldError::new(
                "error_path",
                "is a JSONPath, or `false` to read no member as an error (`true` is not a \
                 setting: the `error`/`errors` check is on without `error_path`)",
            )),
            Some(e @ ErrorPath::Path(p)) if e.switch().is_none() => {
                if let Err(e) = ItemsPath::parse(p) {
                    out.push(FieldError::new("error_path", e));
                }
            }
            _ => {}
        }
        for (field, path) in [
            ("items_path", self.items_path.as_deref()),
            ("listing_path", self.listing_path.as_deref()),
            (
                "pagination_config.next_cursor_path",
                self.pagination_config.next_cursor_path.as_deref(),
            ),
            (
                "pagination_config.next_url_path",
                self.pagination_config.next_url_path.as_deref(),
            ),
        ] {
            if let Some(p) = path
                && let Err(e) = ItemsPath::parse(p)
            {
                out.push(FieldError::new(field, e));
            }
        }
        // An offset walk moves by what a page lists, and a path that picks a list after its
        // filter cannot say whether the server counts that list's entries or the level the
        // filter chose among: one guess skips entries, the other repeats them (review15 N2).
        if self.pagination_type == PaginationType::Offset
            && self.listing_path.is_none()
            && let Some(p) = self
                .items_path
                .as_deref()
                .and_then(|p| ItemsPath::parse(p).ok())
            && p.one_list()
        {
            // A search has no level to name, and a match may be an object (JSON:API's
            // `attributes`), whose `[*]` is its values (review18 R5).
            let level = match p.listing_text() {
                Some(l) => format!("`{l}` (the level the filter chose among)"),
                None => "the list the server pages (e.g. `$.data[*]`)".to_owned(),
            };
            out.push(FieldError::new(
                "listing_path",
                format!(
                    "is required for an `offset` walk whose `items_path` picks a list after its \
                     filter (`{}`): the entries the server's offset counts, {level}, or `{}[*]` \
                     if each match is the list of those entries",
                    p.as_str(),
                    p.as_str(),
                ),
            ));
        }
        match self.auth_type {
            AuthType::None => {}
            AuthType::ApiKeyHeader => {
                if self.api_key().is_none() {
                    out.push(FieldError::new(
                        "credentials.api_key",
                        "is required for auth_type `api_key_header`",
                    ));
                }
            }
            AuthType::Bearer => {
                if self.token().is_none() {
                    out.push(FieldError::new(
                        "credentials.token",
                        "is required for auth_type `bearer`",
                    ));
                }
            }
            AuthType::Basic => {
                if self.basic().is_none() {
                    out.push(FieldError::new(
                        "credentials.username",
                        "is required for auth_type `basic`",
                    ));
                }
            }
        }
        let pc = &self.pagination_config;
        match self.pagination_type {
            PaginationType::Cursor
                if pc.next_cursor_path.is_none() && pc.next_cursor_field.is_none() =>
            {
                out.push(FieldError::new(
                    "pagination_config.next_cursor_field",
                    "cursor pagination needs `next_cursor_field` or `next_cursor_path`",
                ));
            }
            PaginationType::NextUrlPath if pc.next_url_path.is_none() => {
                out.push(FieldError::new(
                    "pagination_config.next_url_path",
                    "is required for `next_url_path` pagination",
                ));
            }
            _ => {}
        }
        if pc.page_size == Some(0) {
            out.push(FieldError::new(
                "pagination_config.page_size",
                "must be at least 1",
            ));
        }
        if pc.limit == Some(0) {
            out.push(FieldError::new(
                "pagination_config.limit",
                "must be at least 1",
            ));
        }
        if self.max_pages == 0 {
            out.push(FieldError::new("max_pages", "must be at least 1"));
        }
        if !(0.0..=3600.0).contains(&self.request_delay) {
            out.push(FieldError::new(
                "request_delay",
                "must be between 0 and 3600 seconds",
            ));
        }
        if self.method == HttpMethod::GET
            && (pc.params_in_body || self.since.as_ref().is_some_and(|s| s.in_body))
        {
            out.push(FieldError::new(
                "method",
                "parameters in the body need `POST`",
            ));
        }
        if let Some(body) = self.body()
            && self.method == HttpMethod::POST
            && (pc.params_in_body || self.since.as_ref().is_some_and(|s| s.in_body))
            && !body.is_object()
        {
            out.push(FieldError::new(
                "request_body",
                "must be a JSON object to carry parameters",
            ));
        }
        out
    }
}

impl fmt::Debug for RestApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header and query values may hold keys; only their names are shown.
        let names = |kv: &KeyValues| {
            kv.pairs()
                .map(|p| p.into_iter().map(|(k, _)| k).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        f.debug_struct("RestApiConfig")
            .field("url", &connector_core::error::redact_url(&self.url))
            .field("method", &self.method)
            .field("headers", &names(&self.headers))
            .field("query_params", &names(&self.query_params))
            .field("auth_type", &self.auth_type)
            .field("items_path", &self.items_path)
            .field("listing_path", &self.listing_path)
            .field("error_path", &self.error_path)
            .field("id_field", &self.id_field)
            .field("content_fields", &self.content_fields)
            .field("pagination_type", &self.pagination_type)
            .field("poll_timestamp_field", &self.poll_timestamp_field)
            .field("since", &self.since)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("host_network", &self.host_network)
            .finish_non_exhaustive()
    }
}
