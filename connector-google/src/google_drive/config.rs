//! [`GoogleDriveConfig`]: which drives, which credentials. Field names are RAGFlow's, so a
//! RAGFlow Google Drive connector config is accepted as it is.

use std::fmt;

use connector_core::net::NetworkPolicy;
use connector_core::{FieldError, StringList};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::auth::GoogleCredentialsConfig;
use crate::auth::config::check_addresses;

/// Files larger than this are not downloaded unless configured otherwise: 10 MiB, as in RAGFlow.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

/// Google's API host for Drive v3.
pub const DEFAULT_DRIVE_BASE_URL: &str = "https://www.googleapis.com";

/// Google's API host for Sheets v4.
pub const DEFAULT_SHEETS_BASE_URL: &str = "https://sheets.googleapis.com";

/// The overlap between incremental windows without `time_buffer_seconds`: five minutes.
pub const DEFAULT_DRIVE_OVERLAP_SECS: u64 = 300;

/// How Google Docs are exported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocsFormat {
    /// `text/markdown` (headings, lists, tables, links kept).
    #[default]
    Markdown,
    /// `text/plain`.
    Text,
}

/// How Google Sheets are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SheetsFormat {
    /// Text: every tab as a Markdown table under its name, read with the Sheets API
    /// (`spreadsheets.get`, `values.batchGet`, formatted values; the Drive scope suffices).
    /// Where the Sheets API is not enabled in the Cloud project, the xlsx export instead.
    #[default]
    Markdown,
    /// The xlsx export, as bytes for the host's own parser.
    Xlsx,
}

/// The Google Drive connector's config.
///
/// Scope, as RAGFlow reads it (its `GoogleDriveConnector`, Python and Go alike):
/// - **Named things** first: `my_drive_emails` (these users' My Drives), `shared_folder_urls`
///   (these folders and everything below them) and `shared_drive_urls` (these shared drives).
///   When any of the three is given, the `include_*` switches are ignored: RAGFlow's web form
///   always sends `include_my_drives: true` next to the e-mails and folder URLs it requires,
///   and indexes only what they name.
/// - Otherwise the **switches**: `include_my_drives` (every user's My Drive),
///   `include_shared_drives` (every shared drive) and `include_files_shared_with_me`. With a
///   service account, `include_my_drives` brings each user's files shared with them too (RAGFlow
///   turns `include_files_shared_with_me` on for a service account).
/// - Nothing named and no switch on is refused ("nothing to index"), as in RAGFlow.
///
/// `specific_user_emails` limits the users a service account impersonates (else every user of
/// the primary admin's domain). With an OAuth user token there is one user, the token's.
///
/// It serialises as it is read: the switches as they apply (off next to a list, shared with
/// me on with a service account's My Drives) and `max_file_size` as the cap in effect, so a
/// host (and [`Registry::effective_config`]) sees what the config means.
///
/// [`Registry::effective_config`]: connector_core::Registry
#[derive(Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct GoogleDriveConfig {
    /// The key or token, and the admin to impersonate.
    pub credentials: GoogleCredentialsConfig,
    /// Index every user's My Drive (ignored when a list names what to index).
    ///
    /// Absent means `false`, RAGFlow's backend default (`conf.get("include_my_drives",
    /// False)`); its web form defaults the checkbox to `true` and always sends the field.
    #[serde(default)]
    pub include_my_drives: bool,
    /// Index every shared drive (ignored when a list names what to index).
    #[serde(default)]
    pub include_shared_drives: bool,
    /// Index the files shared with each user (ignored when a list names what to index; always
    /// on with `include_my_drives` and a service account).
    #[serde(default)]
    pub include_files_shared_with_me: bool,
    /// Index the My Drives of these users. With an OAuth user token, the token's own My Drive
    /// (as RAGFlow's Go syncer reads it; its Python connector then indexes no My Drive).
    #[serde(default)]
    pub my_drive_emails: StringList,
    /// Index these folders and their subfolders (`https://drive.google.com/drive/folders/ID`).
    #[serde(default)]
    pub shared_folder_urls: StringList,
    /// Index these shared drives (`https://drive.google.com/drive/folders/DRIVE_ID`).
    #[serde(default)]
    pub shared_drive_urls: StringList,
    /// Impersonate only these users (service account).
    #[serde(default)]
    pub specific_user_emails: StringList,
    /// Index images too.
    #[serde(default)]
    pub allow_images: bool,
    /// Files larger than this (bytes) are reported as failures without being downloaded
    /// (default 10 MiB, RAGFlow's `GOOGLE_DRIVE_CONNECTOR_SIZE_THRESHOLD`). Also read as
    /// `size_threshold`, the name RAGFlow's Go syncer reads.
    #[serde(default)]
    #[schemars(extend("x-aliases" = ["size_threshold"]))]
    #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
    pub max_file_size: Option<u64>,
    /// How Google Docs are exported (default Markdown).
    #[serde(default)]
    pub docs_format: DocsFormat,
    /// How Google Sheets are read (default every tab as a Markdown table; `xlsx`: the xlsx
    /// export, as before). Drive's text export of a spreadsheet holds its first tab only.
    #[serde(default)]
    pub sheets_format: SheetsFormat,
    /// Set each document's `access` from the file's Drive permissions: users and groups by
    /// e-mail, a domain as the group `domain:{domain}`, `anyone` as public (see the
    /// connector's docs). Not in RAGFlow (Onyx has it in its enterprise edition). Costs one
    /// `permissions.list` request per shared drive file delivered (Drive lists no
    /// permissions for shared drive items), none for My Drive files.
    #[serde(default)]
    pub include_permissions: bool,
    /// How long before the previous window's end an incremental run starts, in seconds
    /// (RAGFlow's `time_buffer_seconds`; `0`: no overlap). Default 300 (five minutes).
    ///
    /// Why: an incremental run asks `files.list` for `modifiedTime` in its window, and that
    /// query is answered from Drive's search index, which promises no read-after-write; a file
    /// saved just before a run's end can reach the index after the run listed, with a time
    /// inside the window the run closed. The lag is seconds, at worst minutes; five minutes
    /// covers it and the skew between this host's clock (the window end) and Google's (the
    /// time stamped on the file). What the overlap lists again costs a listing only, since
    /// unchanged files are skipped by version before any download. RAGFlow's default is a day
    /// (`GOOGLE_DRIVE_SYNC_TIME_BUFFER_SECONDS`), which is safe but re-lists a day of changes
    /// on every run; no overlap catches a file whose `modifiedTime` a client set in the past
    /// (an upload that keeps the local time): a reconciling or full run does. The sync's own
    /// `SyncOptions::overlap` applies when it is longer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = connector_core::config::limits::MAX_SECONDS))]
    pub time_buffer_seconds: Option<u64>,
    /// Follow Drive's changes feeds (default true): `changes.list` per user, shared drive and
    /// shared-folder reader, from the page tokens the last finished run carried over. An
    /// incremental run selects files by `modifiedTime`, which a move into a crawled folder, a
    /// new share or a permission change does not bump; the feeds deliver those files too.
    /// Costs one `changes/startPageToken` request per feed per full run and the feed's pages
    /// (usually one) per incremental run. A file the feed reports trashed, or removed and
    /// gone for its reader, is deleted from the index in that run; what it cannot tell (a
    /// removal where another listing may still hold the file) is left to prune.
    #[serde(default = "crate::config::yes")]
    pub follow_changes: bool,
    /// The OAuth token endpoint (default: the key's `token_uri`, else Google's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_uri: Option<Url>,
    /// The Admin SDK host (default `https://admin.googleapis.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_base_url: Option<Url>,
    /// The Drive API host (default `https://www.googleapis.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drive_base_url: Option<Url>,
    /// The Sheets API host (default `https://sheets.googleapis.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sheets_base_url: Option<Url>,
    #[doc = crate::config::allowed_hosts_doc!()]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_hosts: Vec<String>,
    /// The host's network policy, which replaces the connector's own; never the tenant's.
    #[serde(skip)]
    #[schemars(skip)]
    host_network: Option<NetworkPolicy>,
}

crate::config::google_config!(
    GoogleDriveConfig,
    overlap: DEFAULT_DRIVE_OVERLAP_SECS,
    api_hosts: [drive_base_url, sheets_base_url],
);

impl GoogleDriveConfig {
    /// A config over `credentials` with nothing selected yet: set a switch or a list before
    /// building a connector (a config that selects nothing is refused, as in RAGFlow).
    pub fn new(credentials: GoogleCredentialsConfig) -> Self {
        Self {
            credentials,
            include_my_drives: false,
            include_shared_drives: false,
            include_files_shared_with_me: false,
            my_drive_emails: StringList::default(),
            shared_folder_urls: StringList::default(),
            shared_drive_urls: StringList::default(),
            specific_user_emails: StringList::default(),
            allow_images: false,
            max_file_size: None,
            docs_format: DocsFormat::Markdown,
            sheets_format: SheetsFormat::Markdown,
            include_permissions: false,
            time_buffer_seconds: None,
            follow_changes: true,
            token_uri: None,
            directory_base_url: None,
            drive_base_url: None,
            sheets_base_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// The size cap.
    pub fn max_file_size(&self) -> u64 {
        self.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE)
    }

    /// Whether a list names what to index, which turns the `include_*` switches off.
    pub(crate) fn names_what_to_index(&self) -> bool {
        !self.my_drive_emails.is_empty()
            || !self.shared_folder_urls.is_empty()
            || !self.shared_drive_urls.is_empty()
    }

    /// Whether the config selects nothing at all.
    fn selects_nothing(&self) -> bool {
        !self.names_what_to_index()
            && !self.include_my_drives
            && !self.include_shared_drives
            && !self.include_files_shared_with_me
    }

    /// Whether every user's My Drive is indexed.
    pub(crate) fn all_my_drives(&self) -> bool {
        self.include_my_drives && !self.names_what_to_index()
    }

    /// Whether every shared drive is indexed.
    pub(crate) fn all_shared_drives(&self) -> bool {
        self.include_shared_drives && !self.names_what_to_index()
    }

    /// Whether each user's files shared with them are indexed; `service_account` says whether
    /// the credentials impersonate users (then My Drives bring them, as in RAGFlow).
    pub(crate) fn shared_with_me(&self, service_account: bool) -> bool {
        !self.names_what_to_index()
            && (self.include_files_shared_with_me || (service_account && self.include_my_drives))
    }
}

/// The folder or drive id in a Drive URL (`.../folders/ID`, `...?id=ID`), or the text itself
/// when it is a bare id.
pub(crate) fn id_from_url(text: &str) -> Option<String> {
    let text = text.trim();
    let valid = |id: &str| {
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if valid(text) {
        return Some(text.to_owned());
    }
    let url = Url::parse(text).ok()?;
    if let Some((_, id)) = url.query_pairs().find(|(k, _)| k == "id") {
        return valid(&id).then(|| id.into_owned());
    }
    let mut segments = url.path_segments()?;
    segments.find(|s| *s == "folders" || *s == "d")?;
    let id = segments.next()?;
    valid(id).then(|| id.to_owned())
}

impl GoogleDriveConfig {
    /// This source's own problems (see
    /// [`ConnectorConfig::validate`](connector_core::ConnectorConfig::validate)).
    fn check_source(&self, out: &mut Vec<FieldError>) {
        for (field, list) in [
            ("shared_folder_urls", &self.shared_folder_urls),
            ("shared_drive_urls", &self.shared_drive_urls),
        ] {
            for (i, url) in list.as_slice().iter().enumerate() {
                // Two URLs run together (pasted on one line with a space, or with nothing
                // between them) would otherwise be read as the first one alone when its tail
                // lands in a query (`?usp=sharinghttps://...`).
                let message = if url.matches("://").count() > 1 {
                    "holds two URLs run together: put one per line or separate them with commas"
                } else if id_from_url(url).is_none() {
                    "is not a Drive folder URL (https://drive.google.com/drive/folders/ID) or id"
                } else {
                    continue;
                };
                out.push(FieldError::new(format!("{field}[{i}]"), message));
            }
        }
        check_addresses("my_drive_emails", &self.my_drive_emails, out);
        check_addresses("specific_user_emails", &self.specific_user_emails, out);
        if self.selects_nothing() {
            out.push(FieldError::new(
                "include_my_drives",
                "nothing to index: turn on include_my_drives, include_shared_drives or include_files_shared_with_me, or list my_drive_emails, shared_folder_urls or shared_drive_urls",
            ));
        }
        if self.max_file_size == Some(0) {
            out.push(FieldError::new("max_file_size", "must be larger than 0"));
        }
    }
}

impl Serialize for GoogleDriveConfig {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The config as it is read; borrowed, so nothing is copied.
        #[derive(Serialize)]
        struct Effective<'a> {
            credentials: &'a GoogleCredentialsConfig,
            include_my_drives: bool,
            include_shared_drives: bool,
            include_files_shared_with_me: bool,
            my_drive_emails: &'a StringList,
            shared_folder_urls: &'a StringList,
            shared_drive_urls: &'a StringList,
            specific_user_emails: &'a StringList,
            allow_images: bool,
            max_file_size: u64,
            docs_format: DocsFormat,
            sheets_format: SheetsFormat,
            include_permissions: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            time_buffer_seconds: Option<u64>,
            follow_changes: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            token_uri: Option<&'a Url>,
            #[serde(skip_serializing_if = "Option::is_none")]
            directory_base_url: Option<&'a Url>,
            #[serde(skip_serializing_if = "Option::is_none")]
            drive_base_url: Option<&'a Url>,
            #[serde(skip_serializing_if = "Option::is_none")]
            sheets_base_url: Option<&'a Url>,
            #[serde(skip_serializing_if = "<[String]>::is_empty")]
            allowed_hosts: &'a [String],
        }
        // Every field named, so a new one cannot be left out of the serialised form.
        let Self {
            credentials,
            include_my_drives: _,
            include_shared_drives: _,
            include_files_shared_with_me: _,
            my_drive_emails,
            shared_folder_urls,
            shared_drive_urls,
            specific_user_emails,
            allow_images,
            max_file_size: _,
            docs_format,
            sheets_format,
            include_permissions,
            time_buffer_seconds,
            follow_changes,
            token_uri,
            directory_base_url,
            drive_base_url,
            sheets_base_url,
            allowed_hosts,
            host_network: _,
        } = self;
        Effective {
            credentials,
            include_my_drives: self.all_my_drives(),
            include_shared_drives: self.all_shared_drives(),
            include_files_shared_with_me: self.shared_with_me(credentials.is_service_account()),
            my_drive_emails,
            shared_folder_urls,
            shared_drive_urls,
            specific_user_emails,
            allow_images: *allow_images,
            max_file_size: self.max_file_size(),
            docs_format: *docs_format,
            sheets_format: *sheets_format,
            include_permissions: *include_permissions,
            time_buffer_seconds: *time_buffer_seconds,
            follow_changes: *follow_changes,
            token_uri: token_uri.as_ref(),
            directory_base_url: directory_base_url.as_ref(),
            drive_base_url: drive_base_url.as_ref(),
            sheets_base_url: sheets_base_url.as_ref(),
            allowed_hosts,
        }
        .serialize(serializer)
    }
}

impl fmt::Debug for GoogleDriveConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleDriveConfig")
            .field("credentials", &self.credentials)
            .field("include_my_drives", &self.include_my_drives)
            .field("include_shared_drives", &self.include_shared_drives)
            .field(
                "include_files_shared_with_me",
                &self.include_files_shared_with_me,
            )
            .field("my_drive_emails", &self.my_drive_emails)
            .field("shared_folder_urls", &self.shared_folder_urls)
            .field("shared_drive_urls", &self.shared_drive_urls)
            .field("specific_user_emails", &self.specific_user_emails)
            .field("allow_images", &self.allow_images)
            .field("max_file_size", &self.max_file_size())
            .field("docs_format", &self.docs_format)
            .field("sheets_format", &self.sheets_format)
            .field("include_permissions", &self.include_permissions)
            .field("time_buffer_seconds", &self.time_buffer_seconds)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("host_network", &self.host_network)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_urls() {
        assert_eq!(
            id_from_url("https://drive.google.com/drive/folders/1AbC-d_9?usp=sharing").as_deref(),
            Some("1AbC-d_9")
        );
        assert_eq!(
            id_from_url("https://drive.google.com/drive/u/0/folders/0AXyz").as_deref(),
            Some("0AXyz")
        );
        assert_eq!(
            id_from_url("https://drive.google.com/open?id=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(id_from_url("0ABCdef").as_deref(), Some("0ABCdef"));
        assert_eq!(id_from_url("https://example.com/nothing"), None);
    }

    /// Problems of a config with `extra` over an OAuth token, as `path: message`.
    fn problems(extra: serde_json::Value) -> Vec<String> {
        let mut config = serde_json::json!({
            "credentials": {
                "google_tokens": {"refresh_token": "r", "client_id": "c", "client_secret": "s"},
            },
        });
        if let (Some(config), serde_json::Value::Object(extra)) = (config.as_object_mut(), extra) {
            config.extend(extra);
        }
        match connector_core::config::parse::<GoogleDriveConfig>(config) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems().iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn an_entry_with_two_urls_or_addresses_run_together_is_refused() {
        // Lines and commas are split by the config layer; what is left glued is refused
        // rather than read as its first URL (a share link's `?usp=sharing` swallowed the rest).
        let got = problems(serde_json::json!({
            "shared_folder_urls": "https://drive.google.com/drive/folders/1AbC?usp=sharinghttps://drive.google.com/drive/folders/2DeF?usp=sharing\nhttps://drive.google.com/drive/folders/3GhI",
            "shared_drive_urls": ["0AbC", "https://drive.google.com/drive/folders/0DeF https://drive.google.com/drive/folders/0GhI"],
            "my_drive_emails": "alice@acme.com bob@acme.com, carol@acme.com",
        }));
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(
            got[0].starts_with("shared_folder_urls[0]: ") && got[0].contains("two URLs"),
            "{got:?}"
        );
        assert!(
            got[1].starts_with("shared_drive_urls[1]: ") && got[1].contains("two URLs"),
            "{got:?}"
        );
        assert!(
            got[2].starts_with("my_drive_emails[0]: ") && got[2].contains("more than one"),
            "{got:?}"
        );
        // One per line, or one per comma, is fine.
        assert!(
            problems(serde_json::json!({
                "shared_folder_urls": "https://drive.google.com/drive/folders/1AbC?usp=sharing\r\nhttps://drive.google.com/drive/folders/2DeF",
                "my_drive_emails": "alice@acme.com\nbob@acme.com",
            }))
            .is_empty()
        );
    }

    #[test]
    fn authentication_method_gets_google_s_reason_and_the_form_s_default_no_note() {
        let read = |method: &str| {
            connector_core::config::parse::<GoogleDriveConfig>(serde_json::json!({
                "credentials": {
                    "google_tokens": {"refresh_token": "r", "client_id": "c", "client_secret": "s"},
                    "authentication_method": method,
                },
                "include_my_drives": true,
            }))
            .unwrap()
            .ignored
        };
        // What RAGFlow's form always sends, and RAGFlow's default: no note.
        assert!(read("uploaded").is_empty());
        let interactive = read("oauth_interactive");
        assert_eq!(interactive.len(), 1);
        assert_eq!(interactive[0].path, "credentials.authentication_method");
        let reason = &interactive[0].reason;
        // Google has two ways (a key, a token): not "one way to authenticate".
        assert!(!reason.contains("tells how to authenticate"), "{reason}");
        assert!(
            reason.contains("client_id") && reason.contains("google_tokens"),
            "{reason}"
        );
    }
}
