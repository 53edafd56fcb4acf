//! [`SharepointConfig`]: which tenant, which sites, and what of them.

use std::num::NonZeroU64;

use connector_core::config::StringList;
use connector_core::{FieldError, Secret};

use crate::graph::{graph_config, graph_credentials};
use url::Url;

/// Files larger than this are reported as failures unless configured otherwise: 20 MiB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 20 * 1024 * 1024;

graph_credentials! {
    /// The credentials and the site, as RAGFlow names them: an app registration with the
    /// application permission `Sites.Read.All` (and `Files.Read.All`), admin-consented.
    pub struct SharepointCredentials {
        /// The site to read (RAGFlow's field), its full URL; a list or a comma list reads
        /// several. Empty or absent (with no `sites`): every site of the tenant
        /// (`GET /sites/getAllSites`), OneDrive personal sites left out.
        #[serde(default, skip_serializing_if = "StringList::is_empty")]
        #[schemars(example = &"https://contoso.sharepoint.com/sites/Engineering")]
        pub site_url: StringList,
    }
    tenant_example = "contoso.onmicrosoft.com";
}

graph_config! {
    /// The configuration of the SharePoint connector (source `"sharepoint"`).
    ///
    /// ```
    /// use connector_misc::sharepoint::SharepointConfig;
    ///
    /// // RAGFlow's shape: everything under `credentials`.
    /// let config: SharepointConfig = connector_core::config::from_json(serde_json::json!({
    ///     "credentials": {"tenant_id": "contoso.onmicrosoft.com", "client_id": "app",
    ///                     "client_secret": "s", "site_url": "https://contoso.sharepoint.com/sites/Eng"},
    ///     "batch_size": 2,
    /// }))?;
    /// assert_eq!(config.site_urls().len(), 1);
    /// # Ok::<(), connector_core::Error>(())
    /// ```
    pub struct SharepointConfig {
        /// The app registration and RAGFlow's `site_url`.
        pub credentials: SharepointCredentials,
        /// More sites by full URL, beside `credentials.site_url` (Onyx's name); each site is a
        /// partition (a job with its own checkpoint) when there are several.
        #[serde(default, skip_serializing_if = "StringList::is_empty")]
        #[schemars(
            example = "https://contoso.sharepoint.com/sites/HR, https://contoso.sharepoint.com"
        )]
        pub sites: StringList,
        /// Read the files of the sites' document libraries (default true).
        #[serde(default = "yes")]
        pub include_site_documents: bool,
        /// Read the sites' modern pages (`SitePages/*.aspx`) as Markdown (default true).
        #[serde(default = "yes")]
        pub include_site_pages: bool,
        /// Read the items of the sites' lists that are not libraries (custom lists,
        /// announcements, issue trackers, tasks, contacts; default false, as RAGFlow and Onyx
        /// read none): one Markdown document per item, its columns as front matter, each
        /// item's own permissions as access.
        #[serde(default)]
        pub include_lists: bool,
        /// Read the subsites of each site too (`GET sites/{id}/sites`, down the tree; default
        /// true): `getAllSites` lists site collections and a named URL is one site, so without
        /// this a classic subsite (`/sites/Eng/Team`) is read by nobody unless named.
        #[serde(default = "yes")]
        pub include_subsites: bool,
        /// Read image files too (default false, as RAGFlow's other file sources).
        #[serde(default)]
        pub allow_images: bool,
        /// Set each document's `access` from the file's permissions (default true; one JSON
        /// batch per 20 files of a page); a page's from its own file in the Site Pages library.
        /// False leaves `access` unset.
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

impl SharepointConfig {
    /// Every site of the tenant of this app, every other setting at its default.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        Self {
            credentials: SharepointCredentials {
                tenant_id: tenant_id.into(),
                client_id: client_id.into(),
                client_secret: client_secret.into(),
                client_certificate_key: None,
                client_certificate_password: None,
                client_certificate_thumbprint: None,
                site_url: StringList::default(),
            },
            sites: StringList::default(),
            include_site_documents: true,
            include_site_pages: true,
            include_lists: false,
            include_subsites: true,
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

    /// The configured site URLs (`credentials.site_url`, then `sites`), trimmed, without
    /// repeats; empty: every site.
    pub fn site_urls(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for s in self.credentials.site_url.iter().chain(self.sites.iter()) {
            let s = s.trim().trim_end_matches('/').to_owned();
            if !s.is_empty() && !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }
}

/// A site URL as Graph addresses it: `(hostname, server-relative path)`
/// (`("contoso.sharepoint.com", "/sites/Eng")`; the root site's path is empty).
pub(crate) fn site_address(url: &str) -> Option<(String, String)> {
    let parsed = Url::parse(url.trim()).ok()?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return None;
    }
    let host = parsed.host_str()?.to_owned();
    let path = percent_encoding::percent_decode_str(parsed.path())
        .decode_utf8_lossy()
        .trim_end_matches('/')
        .to_owned();
    Some((host, path))
}

impl SharepointConfig {
    /// The problems of this source's own fields (see `graph_config!`).
    fn own_problems(&self, problems: &mut Vec<FieldError>) {
        problems.extend(crate::graph::per_second_problem(self.requests_per_second));
        let named = self
            .credentials
            .site_url
            .iter()
            .enumerate()
            .map(|(n, s)| (format!("credentials.site_url[{n}]"), s))
            .chain(
                self.sites
                    .iter()
                    .enumerate()
                    .map(|(n, s)| (format!("sites[{n}]"), s)),
            );
        for (field, url) in named {
            if site_address(url).is_none() {
                problems.push(FieldError::new(
                    field,
                    "is a site's full URL (https://contoso.sharepoint.com/sites/Engineering)",
                ));
            }
        }
        if !self.include_site_documents && !self.include_site_pages && !self.include_lists {
            problems.push(FieldError::new(
                "include_site_documents",
                "and include_site_pages are both false (and include_lists too): nothing would be read",
            ));
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
        let config: SharepointConfig = serde_json::from_value(serde_json::json!({
            "credentials": {"tenant_id": "contoso/x", "client_id": "c", "client_secret": "s",
                            "site_url": "https://contoso.sharepoint.com/sites/Eng"},
            "sites": ["not a url"],
            "include_site_documents": false,
            "include_site_pages": false,
        }))
        .unwrap();
        let fields: Vec<String> = config.validate().into_iter().map(|p| p.path).collect();
        assert_eq!(
            fields,
            [
                "credentials.tenant_id",
                "sites[0]",
                "include_site_documents"
            ]
        );
        assert!(!format!("{config:?}").contains("\"s\""));
    }

    #[test]
    fn site_urls_are_addressed_by_host_and_path() {
        assert_eq!(
            site_address("https://contoso.sharepoint.com/sites/Team%20A/"),
            Some(("contoso.sharepoint.com".into(), "/sites/Team A".into()))
        );
        assert_eq!(
            site_address("https://contoso.sharepoint.com"),
            Some(("contoso.sharepoint.com".into(), String::new()))
        );
        assert_eq!(site_address("ftp://x/y"), None);
    }
}
