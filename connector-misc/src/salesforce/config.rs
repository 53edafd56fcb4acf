//! [`SalesforceConfig`]: which org (and the app that reads it), which objects, which API
//! version, and how fast.

use std::collections::BTreeMap;
use std::fmt;
use std::num::{NonZeroU32, NonZeroUsize};

use connector_core::config::{IgnoredField, StringList};
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// The API version unless configured otherwise (Winter '25).
pub const DEFAULT_API_VERSION: &str = "v62.0";

/// The objects read unless configured otherwise: RAGFlow's list. `Knowledge__kav` exists only
/// in orgs with Salesforce Knowledge and is passed over where it does not.
pub const DEFAULT_OBJECTS: [&str; 5] = [
    "Account",
    "Contact",
    "Opportunity",
    "Case",
    "Knowledge__kav",
];

/// Requests per second unless configured otherwise. Salesforce counts API requests per 24
/// hours per org (`Sforce-Limit-Info: api-usage=…`), not per second: this only spreads them.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 10;

/// Records per SOQL query (its `LIMIT`) unless configured otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 2000;

/// Child relationships one object may merge: Salesforce takes at most 20 subqueries in a
/// query.
pub const MAX_CHILD_RELATIONSHIPS: usize = 20;

/// The config field of the client secret (named by refusals of the token endpoint).
pub(crate) const SECRET_FIELD: &str = "credentials.client_secret";
/// The config field of the password, for the username-password flow.
pub(crate) const PASSWORD_FIELD: &str = "credentials.password";

/// The connected app's credentials, and optionally a user's (the username-password flow).
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SalesforceCredentials {
    /// The org's My Domain URL (or `https://login.salesforce.com`,
    /// `https://test.salesforce.com` for the username-password flow): where the token is asked
    /// for. Every later request goes to the `instance_url` the token endpoint returns.
    #[schemars(example = &"https://acme.my.salesforce.com")]
    pub instance_url: Url,
    /// The connected app's consumer key.
    #[schemars(example = &"3MVG9rZjd7MXFdLhVx0cBZ9OSnOP0RxeyKZdL_pdtEwiY1xY7o1eA9A9aIw5")]
    pub client_id: String,
    /// The connected app's consumer secret.
    #[schemars(example = &"F4D1E0C9B8A7F6E5D4C3B2A1")]
    pub client_secret: Secret,
    /// A user's name, for the username-password flow (`grant_type=password`); none: the
    /// client credentials flow, as the app's run-as user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"integration@acme.com")]
    pub username: Option<String>,
    /// The user's password (username-password flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"correct-horse")]
    pub password: Option<Secret>,
    /// The user's security token, appended to the password (username-password flow, from an
    /// address outside the org's trusted IP ranges).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(example = &"AbCdEf123456")]
    pub security_token: Option<Secret>,
}

impl fmt::Debug for SalesforceCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SalesforceCredentials")
            .field("instance_url", &self.instance_url.as_str())
            .field("client_id", &self.client_id)
            .field("client_secret", &"***")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

/// The configuration of the Salesforce connector (source `"salesforce"`).
///
/// ```
/// use connector_misc::salesforce::SalesforceConfig;
///
/// // RAGFlow's form: objects as one string, its API version and batch size.
/// let config: SalesforceConfig = connector_core::config::from_json(serde_json::json!({
///     "objects": "Account, Case",
///     "api_version": "v59.0",
///     "batch_size": 2,
///     "credentials": {
///         "instance_url": "https://acme.my.salesforce.com",
///         "client_id": "3MVG9rZjd7MXFdLhVx0c",
///         "client_secret": "F4D1E0C9B8A7",
///     },
/// }))?;
/// assert_eq!(config.objects.as_slice(), ["Account", "Case"]);
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SalesforceConfig {
    /// The org and the connected app.
    pub credentials: SalesforceCredentials,
    /// The objects (API names) read, in this order, as a list or one comma-separated string;
    /// empty: Account, Contact, Opportunity, Case, Knowledge__kav (passed over where the org
    /// has no Knowledge).
    #[serde(default)]
    #[schemars(example = ["Account", "Contact", "Case"])]
    pub objects: StringList,
    /// First-level children merged into their parent's document, as Onyx does: per object,
    /// the names of its child relationships (as SOQL's relationship subqueries name them:
    /// `Contacts`, `Opportunities`, `Cases` of Account; `CaseComments` of Case; custom ones
    /// end in `__r`). Each child is a section of the parent's Markdown; a poll that sees a
    /// child changed, added or deleted sends its parent again. Empty (default): no children.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(example = example_child_relationships())]
    pub child_relationships: BTreeMap<String, Vec<String>>,
    /// The REST API version, `vNN.N` (default v62.0; RAGFlow's form sends v59.0).
    #[serde(default = "default_api_version")]
    #[schemars(example = &"v62.0")]
    pub api_version: String,
    /// Grant every document to the group `salesforce:org:{orgId}` (the 18-character org id of
    /// the token's identity URL). Off (default): documents carry an empty access list
    /// (nobody), since Salesforce's sharing rules are not exposed per record. Turn it on only
    /// where every user of the org may see every record of these objects; the host then puts
    /// in that group the org's internal users only (Experience Cloud and portal users are
    /// users of the org too).
    #[serde(default)]
    #[schemars(example = false)]
    pub org_access: bool,
    /// Records per SOQL query (its `LIMIT`; Salesforce pages within it by `nextRecordsUrl`).
    #[serde(default = "default_page_size")]
    #[schemars(range(min = 1, max = 50_000), example = 2000)]
    pub page_size: NonZeroUsize,
    /// Requests per second to the org's API.
    #[serde(default = "default_requests_per_second")]
    #[schemars(range(min = 1, max = 10_000), example = 10)]
    pub requests_per_second: NonZeroU32,
    /// Hosts this connector may reach although they are not public (a proxy, a test server);
    /// the returned `instance_url` must be among them when it is not public.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = ["127.0.0.1"])]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

fn example_child_relationships() -> BTreeMap<String, Vec<String>> {
    BTreeMap::from([
        (
            "Account".to_owned(),
            vec!["Contacts".to_owned(), "Opportunities".to_owned()],
        ),
        ("Case".to_owned(), vec!["CaseComments".to_owned()]),
    ])
}

fn default_api_version() -> String {
    DEFAULT_API_VERSION.to_owned()
}

fn default_page_size() -> NonZeroUsize {
    NonZeroUsize::new(DEFAULT_PAGE_SIZE).unwrap_or(NonZeroUsize::MIN)
}

fn default_requests_per_second() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_REQUESTS_PER_SECOND).unwrap_or(NonZeroU32::MIN)
}

impl SalesforceConfig {
    /// The org at `instance_url` read by the app `client_id`/`client_secret` (client
    /// credentials flow), every other setting at its default.
    pub fn new(
        instance_url: Url,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            credentials: SalesforceCredentials {
                instance_url,
                client_id: client_id.into(),
                client_secret: Secret::new(client_secret),
                username: None,
                password: None,
                security_token: None,
            },
            objects: StringList::default(),
            child_relationships: BTreeMap::new(),
            api_version: default_api_version(),
            org_access: false,
            page_size: default_page_size(),
            requests_per_second: default_requests_per_second(),
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The objects read: `objects`, else [`DEFAULT_OBJECTS`].
    pub fn object_names(&self) -> Vec<String> {
        if self.objects.is_empty() {
            DEFAULT_OBJECTS.iter().map(|s| (*s).to_owned()).collect()
        } else {
            self.objects.iter().cloned().collect()
        }
    }

    /// The policy every request follows: the host's if it set one, else public addresses plus
    /// `allowed_hosts`.
    ///
    /// # Errors
    /// An `allowed_hosts` entry that names no host.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }
}

impl fmt::Debug for SalesforceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SalesforceConfig")
            .field("credentials", &self.credentials)
            .field("objects", &self.objects.as_slice())
            .field("child_relationships", &self.child_relationships)
            .field("api_version", &self.api_version)
            .field("org_access", &self.org_access)
            .field("page_size", &self.page_size)
            .field("requests_per_second", &self.requests_per_second)
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

/// Whether `name` is an object or field API name: a letter, then letters, digits and
/// underscores (custom ones end in `__c`, `__kav`…; a namespace adds `ns__`).
pub(crate) fn is_api_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 80
}

/// Whether `v` reads as an API version, `vNN.N`.
pub(crate) fn is_api_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|r| r.split_once('.'))
        .is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        })
}

impl ConnectorConfig for SalesforceConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "name",
        "RAGFlow's forms may put the connection's name inside the config; it names nothing here",
    )];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let c = &self.credentials;
        if !matches!(c.instance_url.scheme(), "https" | "http") || c.instance_url.host().is_none() {
            problems.push(FieldError::new(
                "credentials.instance_url",
                "must be the org's https URL, as https://acme.my.salesforce.com",
            ));
        }
        if c.client_id.trim().is_empty() {
            problems.push(FieldError::new(
                "credentials.client_id",
                "is empty: the connected app's consumer key",
            ));
        }
        if c.client_secret.expose().trim().is_empty() {
            problems.push(FieldError::new(
                SECRET_FIELD,
                "is empty: the connected app's consumer secret",
            ));
        }
        let user = c.username.as_deref().is_some_and(|u| !u.trim().is_empty());
        let password = c.password.as_ref().is_some_and(|p| !p.expose().is_empty());
        if user != password {
            problems.push(FieldError::new(
                if user { PASSWORD_FIELD } else { "credentials.username" },
                "the username-password flow needs both credentials.username and credentials.password",
            ));
        }
        for (i, o) in self.objects.iter().enumerate() {
            if !is_api_name(o) {
                problems.push(FieldError::new(
                    format!("objects[{i}]"),
                    format!("{o:?} is not an object API name (letters, digits, underscores)"),
                ));
            }
        }
        let objects = self.object_names();
        for (object, relationships) in &self.child_relationships {
            let field = format!("child_relationships.{object}");
            if !objects.iter().any(|o| o.eq_ignore_ascii_case(object)) {
                problems.push(FieldError::new(
                    field.clone(),
                    format!("{object:?} is not one of the objects read"),
                ));
            }
            if relationships.len() > MAX_CHILD_RELATIONSHIPS {
                problems.push(FieldError::new(
                    field.clone(),
                    format!("at most {MAX_CHILD_RELATIONSHIPS} child relationships an object (Salesforce's limit of subqueries)"),
                ));
            }
            for (i, r) in relationships.iter().enumerate() {
                if !is_api_name(r) {
                    problems.push(FieldError::new(
                        format!("{field}[{i}]"),
                        format!("{r:?} is not a relationship name (letters, digits, underscores)"),
                    ));
                }
            }
        }
        if !is_api_version(&self.api_version) {
            problems.push(FieldError::new(
                "api_version",
                "must read as vNN.N, as v62.0",
            ));
        }
        if self.page_size.get() > 50_000 {
            problems.push(FieldError::new("page_size", "must be at most 50000"));
        }
        if self.requests_per_second.get() > 10_000 {
            problems.push(FieldError::new(
                "requests_per_second",
                "must be at most 10000",
            ));
        }
        problems.extend(NetworkPolicy::check_allowed_hosts(
            "allowed_hosts",
            &self.allowed_hosts,
        ));
        problems
    }

    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.host_network = Some(policy.clone());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_named_by_its_field() {
        let config: SalesforceConfig = serde_json::from_value(serde_json::json!({
            "objects": ["Account", "Case; DELETE"],
            "child_relationships": {"Account": ["Contacts", "Bad Name"], "Lead": ["Tasks"]},
            "api_version": "62",
            "credentials": {"instance_url": "ftp://x", "client_id": " ", "client_secret": "", "username": "a@b.c"},
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let fields: Vec<String> = config.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            fields,
            [
                "credentials.instance_url",
                "credentials.client_id",
                SECRET_FIELD,
                PASSWORD_FIELD,
                "objects[1]",
                "child_relationships.Account[1]",
                "child_relationships.Lead",
                "api_version"
            ]
        );
    }

    #[test]
    fn defaults_and_names() {
        let config = SalesforceConfig::new(
            Url::parse("https://acme.my.salesforce.com").unwrap_or_else(|e| panic!("{e}")),
            "id",
            "topsecret",
        );
        assert_eq!(config.object_names().len(), 5);
        assert!(config.validate().is_empty());
        assert!(!format!("{config:?}").contains("topsecret"));
        assert!(is_api_name("Knowledge__kav") && !is_api_name("1x") && !is_api_name("a b"));
        assert!(is_api_version("v59.0") && !is_api_version("v59") && !is_api_version("59.0"));
    }
}
