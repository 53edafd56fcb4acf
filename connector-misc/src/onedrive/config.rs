//! [`OnedriveConfig`]: which tenant, which users' (or which) drives, and which of their files.

use std::num::NonZeroU64;

use connector_core::config::StringList;
use connector_core::{FieldError, Secret};

use crate::graph::{graph_config, graph_credentials};

/// Files larger than this are reported as failures unless configured otherwise: 20 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

graph_credentials! {
    /// The credentials: an app registration with the application permission `Files.Read.All`
    /// (`User.Read.All` too, to list every user's drive), as RAGFlow names them.
    pub struct OnedriveCredentials {}
    tenant_example = "contoso.onmicrosoft.com";
}

graph_config! {
    /// The configuration of the OneDrive connector (source `"onedrive"`).
    ///
    /// ```
    /// use connector_misc::onedrive::OnedriveConfig;
    ///
    /// // RAGFlow's shape: the app's credentials and a folder.
    /// let config: OnedriveConfig = connector_core::config::from_json(serde_json::json!({
    ///     "credentials": {"tenant_id": "contoso.onmicrosoft.com", "client_id": "app", "client_secret": "s"},
    ///     "folder_path": "/Shared/Handbook",
    ///     "batch_size": 2,
    /// }))?;
    /// assert_eq!(config.folder_path.as_deref(), Some("/Shared/Handbook"));
    /// # Ok::<(), connector_core::Error>(())
    /// ```
    pub struct OnedriveConfig {
        /// The app registration.
        pub credentials: OnedriveCredentials,
        /// The folder to read in each drive (`/Shared/Handbook`); empty or absent: the whole
        /// drive. A drive without it is a failure naming it, and the others are read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(example = &"/Shared/Handbook")]
        pub folder_path: Option<String>,
        /// The users whose OneDrive is read, by user principal name or object id, as a list or a
        /// comma list; each is a partition (a job with its own checkpoint). Empty with no
        /// `drive_ids`: every enabled user of the tenant that has a OneDrive, each its own
        /// partition where the host discovers partitions (the sync service), else one job.
        #[serde(default, skip_serializing_if = "StringList::is_empty")]
        #[schemars(example = "ada@contoso.com, bob@contoso.com")]
        pub user_ids: StringList,
        /// Drives read by id (`b!…`) beside `user_ids`: a shared library, a drive RAGFlow listed
        /// through `GET /drives`.
        #[serde(default, skip_serializing_if = "StringList::is_empty")]
        pub drive_ids: StringList,
        /// With every user's OneDrive (no `user_ids`, no `drive_ids`), read guests' too (default
        /// false: enabled members only; a guest's OneDrive, where it has one, is its home
        /// tenant's business). Disabled accounts are never listed.
        #[serde(default)]
        #[schemars(example = &false)]
        pub include_guests: bool,
        /// Read image files too (default false, as RAGFlow).
        #[serde(default)]
        pub allow_images: bool,
        /// Set each document's `access` from the file's permissions (default true; one JSON
        /// batch per 20 files of a page). False leaves `access` unset.
        #[serde(default = "yes")]
        pub include_permissions: bool,
        /// Make a file shared by an anonymous ("anyone with the link") link readable by everyone
        /// the host serves (`access.public`; default false: such a link adds nobody, and the file
        /// is read by those its other permissions name). An anonymous link is a capability held
        /// by whoever received it, not a grant to every user of the host.
        #[serde(default)]
        pub anonymous_links_public: bool,
        /// Requests a second to Microsoft Graph (default 6; 0: no limit of the connector's own,
        /// only Graph's 429s are waited out). SharePoint budgets an app's calls per tenant in
        /// resource units a minute by the tenant's licences, from 1,250 (fewer than 1,000) to
        /// 6,250 (more than 50,000); a download or delta page costs 1, a permissions read more.
        /// The default keeps the smallest tenant under its budget: raise it with the tenant's
        /// size (about 30 for the largest). A JSON batch counts each of its requests.
        #[serde(default = "crate::graph::files_requests_per_second")]
        #[schemars(range(min = 0, max = 1000), example = &20)]
        pub requests_per_second: u32,
        /// Largest file downloaded, in bytes; a larger one becomes a failure and the sync goes on.
        #[serde(default = "default_max_file_size")]
        #[schemars(range(max = connector_core::config::limits::MAX_BYTES))]
        pub max_file_size: NonZeroU64,
        /// Files larger than this many bytes (up to `max_file_size`) are downloaded chunk by chunk
        /// into the sync's spool folder and delivered as spooled bytes, never whole in memory
        /// (text files too, as `text/plain` bytes). Absent (default): every body in memory. Only
        /// sinks that take spooled bodies (directory, memory, NDJSON) accept such a document;
        /// for any other it is a failure naming it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(range(max = connector_core::config::limits::MAX_BYTES), example = &16_777_216)]
        pub spool_above: Option<NonZeroU64>,
    }
}

fn yes() -> bool {
    true
}

fn default_max_file_size() -> NonZeroU64 {
    NonZeroU64::new(DEFAULT_MAX_FILE_SIZE).unwrap_or(NonZeroU64::MIN)
}

impl OnedriveConfig {
    /// Every user's OneDrive in the tenant of this app, every other setting at its default.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        Self {
            credentials: OnedriveCredentials {
                tenant_id: tenant_id.into(),
                client_id: client_id.into(),
                client_secret: client_secret.into(),
                client_certificate_key: None,
                client_certificate_password: None,
                client_certificate_thumbprint: None,
            },
            folder_path: None,
            user_ids: StringList::default(),
            drive_ids: StringList::default(),
            include_guests: false,
            allow_images: false,
            include_permissions: true,
            anonymous_links_public: false,
            requests_per_second: crate::graph::FILES_REQUESTS_PER_SECOND,
            max_file_size: default_max_file_size(),
            spool_above: None,
            authority_host: None,
            graph_url: None,
            allowed_hosts: Vec::new(),
            host_network: None,
        }
    }

    /// `folder_path` as segments (`["Shared", "Handbook"]`); empty for the whole drive.
    pub(crate) fn folder_segments(&self) -> Vec<&str> {
        self.folder_path
            .as_deref()
            .unwrap_or_default()
            .split('/')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// The problems of this source's own fields (see `graph_config!`).
    fn own_problems(&self, problems: &mut Vec<FieldError>) {
        problems.extend(crate::graph::per_second_problem(self.requests_per_second));
        if self
            .folder_segments()
            .iter()
            .any(|s| *s == "." || *s == "..")
        {
            problems.push(FieldError::new(
                "folder_path",
                "must not contain `.` or `..` segments",
            ));
        }
        for (n, user) in self.user_ids.iter().enumerate() {
            if user.trim().is_empty() || user.contains('/') {
                problems.push(FieldError::new(
                    format!("user_ids[{n}]"),
                    "is a user principal name (ada@contoso.com) or object id",
                ));
            }
        }
        for (n, drive) in self.drive_ids.iter().enumerate() {
            if drive.trim().is_empty() || drive.contains('/') {
                problems.push(FieldError::new(
                    format!("drive_ids[{n}]"),
                    "is a drive id (b!…)",
                ));
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
        // `from_json` would refuse it with these problems; read it as it is to list them.
        let config: OnedriveConfig = serde_json::from_value(serde_json::json!({
            "credentials": {"tenant_id": "contoso/x", "client_id": "c", "client_secret": "s"},
            "folder_path": "/a/../b",
            "user_ids": "ada@contoso.com, a/b",
        }))
        .unwrap();
        let fields: Vec<String> = config.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            fields,
            ["credentials.tenant_id", "folder_path", "user_ids[1]"]
        );
        assert!(!format!("{config:?}").contains("\"s\""));
    }
}
