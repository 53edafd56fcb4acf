//! [`MoodleConfig`]: which Moodle site, the web service token that reads it, and what to read.

use std::fmt;
use std::num::{NonZeroU32, NonZeroU64};

use connector_core::config::{IgnoredField, StringList};
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError, Secret};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// Requests per minute unless configured otherwise. Moodle documents no rate limit of its
/// own; this keeps a sync from loading a small site.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 600;

/// The largest file downloaded unless configured otherwise (10 MiB).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

/// The config field of the token, named by authentication errors.
pub(crate) const TOKEN_FIELD: &str = "credentials.moodle_token";

/// The credentials: a web service token (Site administration → Server → Web services →
/// Manage tokens, or the user's security keys).
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MoodleCredentials {
    /// A Moodle web service token (RAGFlow's `moodle_token`). It is sent in the body of each
    /// web service call (`wstoken`) and, for file downloads only, as the `token` parameter of
    /// the request itself; it is never logged nor written into a document. Surrounding
    /// whitespace is dropped.
    pub moodle_token: Secret,
}

impl fmt::Debug for MoodleCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MoodleCredentials")
            .field("moodle_token", &"***")
            .finish()
    }
}

/// The configuration of the Moodle connector (source `"moodle"`).
///
/// ```
/// use connector_misc::moodle::MoodleConfig;
///
/// // RAGFlow's shape: the site URL and the token, nothing else.
/// let config: MoodleConfig = connector_core::config::from_json(serde_json::json!({
///     "moodle_url": "https://moodle.example.edu/",
///     "credentials": {"moodle_token": "0123456789abcdef0123456789abcdef"},
/// }))?;
/// assert_eq!(config.site_url()?.as_str(), "https://moodle.example.edu/");
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct MoodleConfig {
    /// The token.
    pub credentials: MoodleCredentials,
    /// The site's address, as in the browser (a site under a path, `https://host/moodle`,
    /// works too). Web service calls go to `{moodle_url}/webservice/rest/server.php`.
    #[schemars(example = &"https://moodle.example.edu")]
    pub moodle_url: String,
    /// Course ids to read, a list or comma-separated text; empty: every course the token's
    /// user is enrolled in (`core_enrol_get_users_courses`).
    #[serde(default)]
    #[schemars(example = &"12, 15")]
    pub course_ids: StringList,
    /// Read forums: one document per discussion with all its posts. Default on.
    #[serde(default = "default_true")]
    pub include_forums: bool,
    /// Download files: resources' main files, assignments' attachments, books' chapters.
    /// Default on.
    #[serde(default = "default_true")]
    pub include_files: bool,
    /// Read a course although Moodle tells none of its modules' restrictions
    /// (`availability`), which it tells only a user who may see hidden activities (a teacher,
    /// a manager) on a site with restrictions on. Off (default): such a course is a failure
    /// naming this field, since the restrictions a student's token meets are invisible and
    /// its restricted items would go to the whole course. Turn on for a site with
    /// restrictions (`enableavailability`) off.
    #[serde(default)]
    #[schemars(example = &false)]
    pub allow_unseen_restrictions: bool,
    /// The largest file downloaded, in bytes (default 10 MiB, at most 4 GiB): a larger one,
    /// by its listed `filesize` or while downloading, is a failure naming it.
    #[serde(default = "default_max_file_size")]
    #[schemars(range(min = 1, max = 4_294_967_296_u64), example = &10_485_760)]
    pub max_file_size: NonZeroU64,
    /// Files larger than this many bytes (by their listed `filesize`) are downloaded into
    /// the sync's spool folder and delivered as spooled bytes, never whole in memory; unset:
    /// every file is read into memory (up to `max_file_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES), example = &16_777_216)]
    pub spool_above: Option<NonZeroU64>,
    /// Requests per minute (at most 100,000; default 600), shared with other processes
    /// through the host's rate gate.
    #[serde(default = "default_requests_per_minute")]
    #[schemars(range(min = 1, max = 100_000), example = &600)]
    pub requests_per_minute: NonZeroU32,
    /// Hosts this connector may reach although they are not public (an intranet Moodle, a
    /// test server).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(example = &["moodle.intranet"])]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    pub(crate) host_network: Option<NetworkPolicy>,
}

fn default_true() -> bool {
    true
}

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

fn default_requests_per_minute() -> NonZeroU32 {
    NonZeroU32::new(DEFAULT_REQUESTS_PER_MINUTE).unwrap_or(NonZeroU32::MIN)
}

impl MoodleConfig {
    /// Every course of the token's user on the site at `moodle_url`; every other setting at
    /// its default.
    pub fn new(moodle_url: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            credentials: MoodleCredentials {
                moodle_token: Secret::new(token),
            },
            moodle_url: moodle_url.into(),
            course_ids: StringList::default(),
            include_forums: true,
            include_files: true,
            allow_unseen_restrictions: false,
            max_file_size: default_max_file_size(),
            spool_above: None,
            requests_per_minute: default_requests_per_minute(),
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The site's root URL, ending with `/`.
    ///
    /// # Errors
    /// `Config` naming `moodle_url` when it is not an `http(s)` URL, or carries a login
    /// (`user:password@`): as the crate's other site URLs, it would end up in the rate
    /// limit's key, the documents' links and logs (review68 L4); the token authenticates.
    pub fn site_url(&self) -> connector_core::Result<Url> {
        let raw = self.moodle_url.trim();
        let mut url = Url::parse(raw)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .ok_or_else(|| {
                connector_core::Error::config(vec![FieldError::new(
                    "moodle_url",
                    "must be the site's http(s) address, as https://moodle.example.edu",
                )])
            })?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(connector_core::Error::config(vec![FieldError::new(
                "moodle_url",
                "must not carry a login; use credentials.moodle_token",
            )]));
        }
        url.set_query(None);
        url.set_fragment(None);
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(url)
    }

    /// The course ids to read (empty: every course of the token's user).
    pub fn courses(&self) -> Vec<i64> {
        self.course_ids
            .iter()
            .filter_map(|c| c.parse().ok())
            .collect()
    }

    /// The policy every request of the connector follows: the host's if it set one, else
    /// public addresses plus `allowed_hosts`.
    ///
    /// # Errors
    /// An `allowed_hosts` entry that names no host.
    pub fn network_policy(&self) -> connector_core::Result<NetworkPolicy> {
        NetworkPolicy::for_tenant(self.host_network.as_ref(), &self.allowed_hosts)
    }
}

impl fmt::Debug for MoodleConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MoodleConfig")
            .field("credentials", &self.credentials)
            // A login in it is refused by `site_url`, but a refused config can be printed too.
            .field(
                "moodle_url",
                &url::Url::parse(self.moodle_url.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .map_or_else(
                        || "<not an http(s) URL>".to_owned(),
                        |u| connector_core::error::redact_url(&u),
                    ),
            )
            .field("course_ids", &self.course_ids.as_slice())
            .field("include_forums", &self.include_forums)
            .field("include_files", &self.include_files)
            .field("allow_unseen_restrictions", &self.allow_unseen_restrictions)
            .field("max_file_size", &self.max_file_size)
            .field("spool_above", &self.spool_above)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

impl ConnectorConfig for MoodleConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "name",
        "RAGFlow may put the connection's name inside the config; it names nothing here",
    )];

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if let Err(e) = self.site_url() {
            problems.extend(e.problems().iter().cloned());
        }
        for id in self
            .course_ids
            .iter()
            .filter(|c| c.parse::<i64>().map_or(true, |n| n <= 0))
        {
            problems.push(FieldError::new(
                "course_ids",
                format!("`{id}` is not a course id (a positive number)"),
            ));
        }
        if self.credentials.moodle_token.expose().trim().is_empty() {
            problems.push(FieldError::new(TOKEN_FIELD, "is required"));
        }
        if self.max_file_size.get() > connector_core::config::limits::MAX_BYTES {
            problems.push(FieldError::new(
                "max_file_size",
                format!(
                    "must be at most {} bytes",
                    connector_core::config::limits::MAX_BYTES
                ),
            ));
        }
        if self
            .spool_above
            .is_some_and(|s| s.get() > connector_core::config::limits::MAX_BYTES)
        {
            problems.push(FieldError::new(
                "spool_above",
                format!(
                    "must be at most {} bytes",
                    connector_core::config::limits::MAX_BYTES
                ),
            ));
        }
        if self.requests_per_minute.get() > 100_000 {
            problems.push(FieldError::new(
                "requests_per_minute",
                "must be at most 100000",
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
    use super::MoodleConfig;

    /// A login in `moodle_url` is refused, but a refused config can still be printed: its
    /// `Debug` shows the site without the login (review70 L3).
    #[test]
    fn debug_leaves_out_a_login_in_the_site_url() {
        let c = MoodleConfig::new("https://sync:pa55@moodle.example.edu/m?wstoken=x", "tok-9f");
        let shown = format!("{c:?}");
        assert!(shown.contains("https://moodle.example.edu/m"), "{shown}");
        for secret in ["pa55", "sync", "wstoken", "tok-9f"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        // Without a scheme, `sync:pa55@host` parses as a URL of scheme `sync` (review71 L7).
        for odd in ["not a url", "sync:pa55@moodle.example.edu"] {
            let shown = format!("{:?}", MoodleConfig::new(odd, "t"));
            assert!(shown.contains("<not an http(s) URL>"), "{shown}");
            assert!(!shown.contains("pa55"), "{shown}");
        }
    }
}
