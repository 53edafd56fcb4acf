//! [`OutlookConfig`]: which tenant, which users' mailboxes, which of their folders, and how
//! large an attachment may be.

use std::num::NonZeroU64;

use connector_core::config::StringList;
use connector_core::{FieldError, Secret};

use crate::graph::{graph_config, graph_credentials};

/// Attachments larger than this are reported as failures unless configured otherwise: 20 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

/// The folders left out when `exclude_folders` is not given: junk mail, deleted items and
/// drafts (Outlook saves a draft every few seconds while it is written, each save a new
/// version of its document to convert and embed again, of mail nobody has sent yet).
pub const DEFAULT_EXCLUDED: [&str; 3] = ["junkemail", "deleteditems", "drafts"];

/// Graph's well-known mail folder names (`GET users/{id}/mailFolders/{name}`), which a folder
/// entry may use whatever the mailbox's language calls the folder.
pub const WELL_KNOWN_FOLDERS: [&str; 16] = [
    "archive",
    "clutter",
    "conflicts",
    "conversationhistory",
    "deleteditems",
    "drafts",
    "inbox",
    "junkemail",
    "localfailures",
    "msgfolderroot",
    "outbox",
    "recoverableitemsdeletions",
    "scheduled",
    "searchfolders",
    "sentitems",
    "serverfailures",
];

graph_credentials! {
    /// The credentials: an app registration with the application permission `Mail.Read`
    /// (`User.Read.All` too, to list every user), as RAGFlow names them.
    pub struct OutlookCredentials {}
    tenant_example = "contoso.onmicrosoft.com";
}

graph_config! {
    /// The configuration of the Outlook connector (source `"outlook"`).
    ///
    /// ```
    /// use connector_misc::outlook::OutlookConfig;
    ///
    /// // RAGFlow's shape: the app's credentials, a folder and a comma list of mailboxes.
    /// let config: OutlookConfig = connector_core::config::from_json(serde_json::json!({
    ///     "credentials": {"tenant_id": "contoso.onmicrosoft.com", "client_id": "app", "client_secret": "s"},
    ///     "folder": "inbox",
    ///     "user_ids": "support@contoso.com, sales@contoso.com",
    ///     "batch_size": 2,
    /// }))?;
    /// assert_eq!(config.included_folders(), ["inbox"]);
    /// assert_eq!(config.excluded_folders(), ["junkemail", "deleteditems", "drafts"]);
    /// # Ok::<(), connector_core::Error>(())
    /// ```
    pub struct OutlookConfig {
        /// The app registration.
        pub credentials: OutlookCredentials,
        /// RAGFlow's one mail folder (its form's default is `inbox`): a well-known name
        /// (`inbox`, `sentitems`, `archive` …), a folder path by display name (`Inbox/Projects`)
        /// or a folder id. Read with its child folders; the same as one entry of
        /// `include_folders`. Absent with no `include_folders`: every folder of the mailbox.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(example = &"inbox")]
        pub folder: Option<String>,
        /// The mailboxes read, by user principal name, e-mail address or object id, as a list or
        /// a comma list; each is a partition (a job with its own checkpoint). Empty: every
        /// enabled member of the tenant that has a mailbox, each its own partition where the host
        /// discovers partitions (the sync service), else one job.
        #[serde(default, skip_serializing_if = "StringList::is_empty")]
        #[schemars(example = "support@contoso.com, sales@contoso.com")]
        pub user_ids: StringList,
        /// With every user's mailbox (no `user_ids`), list guests too (default false: enabled
        /// members only; a guest's mailbox is in its home tenant, so a guest here usually has
        /// none and is passed over). Disabled accounts: `include_disabled`.
        #[serde(default)]
        #[schemars(example = &false)]
        pub include_guests: bool,
        /// With every user's mailbox (no `user_ids`), list disabled accounts too (default false).
        /// Shared, room and equipment mailboxes are users whose sign-in is blocked (Microsoft's
        /// advice, and the default for new shared mailboxes), so they are read only with this or
        /// by naming them in `user_ids`; so are the mailboxes of people who left.
        #[serde(default)]
        #[schemars(example = &true)]
        pub include_disabled: bool,
        /// More folders to read beside `folder` (each with its child folders), named as `folder`
        /// is. Empty, and no `folder`: every folder.
        #[serde(default, skip_serializing_if = "StringList::is_empty")]
        #[schemars(example = "inbox, sentitems, Inbox/Projects")]
        pub include_folders: StringList,
        /// Folders left out with their child folders, named as `folder` is; it wins over the
        /// included ones. Absent: `junkemail`, `deleteditems` and `drafts` (Junk Email, Deleted
        /// Items, Drafts: a draft is saved again every few seconds while it is written), less
        /// any of them `folder` or `include_folders` names; an empty list leaves nothing out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(example = "junkemail, deleteditems, Inbox/Newsletters")]
        pub exclude_folders: Option<StringList>,
        /// Read each message's attachments as documents of their own (default true). Inline
        /// pictures (images in the body) are not read either way.
        #[serde(default = "yes")]
        pub include_attachments: bool,
        /// List the attachments of every message, not only of those Graph marks
        /// `hasAttachments` (default false). Graph says a message has none when all of them
        /// are inline, and Apple Mail (iPhone, macOS) sends attached files inline: a message
        /// whose only attachment is such a PDF is otherwise never asked for it. Costs one
        /// request per message listed (most mail has inline pictures, so the body is no
        /// cheaper sign).
        #[serde(default)]
        pub list_every_messages_attachments: bool,
        /// Largest attachment downloaded, in bytes, checked on the size Graph lists before any
        /// download; a larger one becomes a failure naming it and the sync goes on.
        #[serde(default = "default_max_file_size")]
        #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
        pub max_file_size: NonZeroU64,
    }
}

fn yes() -> bool {
    true
}

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

impl OutlookConfig {
    /// Every user's mailbox in the tenant of this app, every other setting at its default.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        Self {
            credentials: OutlookCredentials {
                tenant_id: tenant_id.into(),
                client_id: client_id.into(),
                client_secret: client_secret.into(),
                client_certificate_key: None,
                client_certificate_password: None,
                client_certificate_thumbprint: None,
            },
            folder: None,
            user_ids: StringList::default(),
            include_guests: false,
            include_disabled: false,
            include_folders: StringList::default(),
            exclude_folders: None,
            include_attachments: true,
            list_every_messages_attachments: false,
            max_file_size: default_max_file_size(),
            authority_host: None,
            graph_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// `folder` and `include_folders`, trimmed, without empty entries: what is read (with
    /// child folders); empty for every folder.
    pub fn included_folders(&self) -> Vec<String> {
        self.folder
            .iter()
            .chain(self.include_folders.iter())
            .map(|f| normalise(f))
            .filter(|f| !f.is_empty())
            .collect()
    }

    /// `exclude_folders`, or when it is absent junk mail, deleted items and drafts, less those
    /// `folder` or `include_folders` names (`folder: drafts` reads the drafts).
    pub fn excluded_folders(&self) -> Vec<String> {
        match &self.exclude_folders {
            Some(list) => list
                .iter()
                .map(|f| normalise(f))
                .filter(|f| !f.is_empty())
                .collect(),
            None => {
                let included = self.included_folders();
                DEFAULT_EXCLUDED
                    .iter()
                    .filter(|d| !included.iter().any(|i| i == *d))
                    .map(|s| (*s).to_owned())
                    .collect()
            }
        }
    }
}

/// A folder entry as compared: trimmed, without a leading or trailing `/`; a well-known name
/// in lower case (Graph's names are case-insensitive).
fn normalise(entry: &str) -> String {
    let e = entry.trim().trim_matches('/').trim();
    if WELL_KNOWN_FOLDERS.iter().any(|w| w.eq_ignore_ascii_case(e)) {
        e.to_ascii_lowercase()
    } else {
        e.to_owned()
    }
}

impl OutlookConfig {
    /// The problems of this source's own fields (see `graph_config!`).
    fn own_problems(&self, problems: &mut Vec<FieldError>) {
        for (n, user) in self.user_ids.iter().enumerate() {
            if user.trim().is_empty() || user.contains('/') {
                problems.push(FieldError::new(
                    format!("user_ids[{n}]"),
                    "is a user principal name (ada@contoso.com), e-mail address or object id",
                ));
            }
        }
        if self
            .folder
            .as_deref()
            .is_some_and(|f| f.trim().trim_matches('/').is_empty() && !f.is_empty())
        {
            problems.push(FieldError::new(
                "folder",
                "names no folder; leave it out to read every folder",
            ));
        }
        for (field, list) in [
            ("include_folders", Some(&self.include_folders)),
            ("exclude_folders", self.exclude_folders.as_ref()),
        ] {
            for (n, entry) in list.into_iter().flat_map(|l| l.iter()).enumerate() {
                if entry.trim().trim_matches('/').is_empty() {
                    problems.push(FieldError::new(
                        format!("{field}[{n}]"),
                        "is a well-known folder name (inbox), a folder path (Inbox/Projects) or a folder id",
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use connector_core::ConnectorConfig;

    #[test]
    fn problems_name_their_fields() {
        let config: OutlookConfig = serde_json::from_value(serde_json::json!({
            "credentials": {"tenant_id": "contoso/x", "client_id": "c", "client_secret": "s"},
            "user_ids": "ada@contoso.com, a/b",
            "folder": " / ",
            "exclude_folders": ["junkemail", "/"],
        }))
        .unwrap();
        let fields: Vec<String> = config.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            fields,
            [
                "credentials.tenant_id",
                "user_ids[1]",
                "folder",
                "exclude_folders[1]"
            ]
        );
        assert!(!format!("{config:?}").contains("\"s\""));
    }

    #[test]
    fn folders_default_to_everything_but_junk_deleted_items_and_drafts() {
        let mut config = OutlookConfig::new("t", "c", "s");
        assert!(config.included_folders().is_empty());
        assert_eq!(
            config.excluded_folders(),
            ["junkemail", "deleteditems", "drafts"]
        );
        // A default exclusion the config names as read is read.
        config.folder = Some("Drafts".into());
        assert_eq!(config.excluded_folders(), ["junkemail", "deleteditems"]);
        config.folder = Some("Inbox".into());
        config.include_folders = vec!["/Archive/2025/ ".to_owned()].into();
        config.exclude_folders = Some(StringList::default());
        assert_eq!(config.included_folders(), ["inbox", "Archive/2025"]);
        assert!(config.excluded_folders().is_empty());
    }
}
