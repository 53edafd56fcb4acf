//! The SharePoint connector (source `"sharepoint"`): the files of SharePoint sites' document
//! libraries and the sites' pages, over Microsoft Graph with an app registration's client
//! credentials (application permission `Sites.Read.All`; `Sites.FullControl.All` for every
//! sharing change, see below).
//!
//! - **Sites** (RAGFlow's `credentials.site_url`, plus `sites`): each by its URL (`GET
//!   sites/{hostname}:/{server-relative path}`); with none, every site of the tenant (`GET
//!   sites/getAllSites`, the enumeration Microsoft documents for scanning apps, rather than
//!   `sites?search=*`, which goes through the search index: ranked, trimmed and behind new
//!   sites), OneDrive personal sites left to the `onedrive` source. A named site that cannot
//!   be read is a failure naming it (`sharepoint:site:{url}`), the others are read. Each site
//!   is a **partition** (`site:{url}`) when several are named, and every site of the tenant is
//!   one through [`Connector::discover_partitions`]. With `include_subsites` (default) each
//!   site's subsites are read with it (`GET sites/{id}/sites`, down the tree; one request per
//!   site a run), and a discovered site below another is no partition of its own.
//! - **Document libraries**: `GET sites/{id}/drives` but the system ones (Site Pages, read
//!   as pages; the Preservation Hold Library, whose copies of deleted documents would come
//!   back; the Style Library; Form Templates), each read by the drive walk OneDrive
//!   uses ([`crate::graph`]): a delta round per library whose `@odata.deltaLink` is the
//!   checkpoint and the next incremental run's start; `410 Gone` lists it again (unchanged
//!   files cost no download); downloads through the content redirect, without the token,
//!   under `max_file_size`; the `eTag` plus who may read it as the version; a library Graph
//!   will not read is its own failure (`sharepoint:drive:{id}`); with `spool_above`, a larger
//!   file goes to the sync's spool folder, never whole in memory. Ids:
//!   `sharepoint:{drive id}:{item id}`.
//! - **Site pages**: `GET sites/{id}/pages/microsoft.graph.sitePage?$expand=canvasLayout`
//!   (Graph v1.0), one Markdown document each: the title, the description, the text web
//!   parts' `innerHtml` through core's HTML conversion, the standard web parts' titles and
//!   searchable texts. Where Graph refuses to expand canvases on the listing (`400`), each
//!   page is asked for with its own. Version: the `eTag` (else `lastModifiedDateTime`); link:
//!   the page's `webUrl` (relative to the site, made absolute). Pages have no delta query:
//!   each run lists them, a windowed run keeps those changed in the window and those whose
//!   file in the Site Pages library changed since the window's start (one delta round from
//!   Graph's timestamp token, sharing changes included: a page shared or unshared reaches
//!   the next windowed run though its own time did not move), and unchanged versions cost
//!   nothing more. Ids: `sharepoint:page:{site id}:{page id}`.
//! - **Lists** (with `include_lists`; off by default, as RAGFlow and Onyx read none): the
//!   items of each site's lists that are not libraries (`GET sites/{id}/lists`, hidden lists
//!   and library templates left out; `GET …/lists/{list}/items?expand=fields`), one Markdown
//!   document each: its columns as front matter, its title as a heading, rich-text columns
//!   (an announcement's body) as sections; link: the item's `webUrl`; version: its `eTag`;
//!   access: the item's own permissions (`…/items/{item}/permissions`, JSON batches). A
//!   windowed run keeps items changed in the window; an item whose permissions alone changed
//!   waits for a run without a window (Graph's list item delta takes no timestamp token and
//!   documents no sharing changes: see the `lists` module); deleted items are left to prune. Ids:
//!   `sharepoint:list:{site id}:{list id}:{item id}`.
//! - **Access** (unless `include_permissions: false`): a file's permissions (users by e-mail,
//!   Entra groups `aad-group:{object id}` (also when SharePoint names one by its claims
//!   login), SharePoint groups `sp-group:{site collection id}:{group id}` (ids, never names: a
//!   rename changes a name and two groups may share one; documents keyed by a group's name by
//!   the release before are delivered once again under its id),
//!   organisation links, "Everyone except external users" and "Everyone" (`c:0(.s|true`,
//!   guests included, who are accounts of the tenant too) `tenant:{tenant id}` (the
//!   directory's GUID, from the token, whichever name `tenant_id` gives; Onyx makes both
//!   "Everyone" claims public, which would open them to every user of the host), anonymous
//!   links public only with `anonymous_links_public`), read in JSON batches; a file whose permissions cannot be read is
//!   readable by nobody until a later run reads them (fail closed). A page gets the
//!   permissions of its own file in the site's Site Pages library (`GET sites/{id}/lists`, the
//!   `webPageLibrary` list's drive, then `root:/{page}:/permissions` in JSON batches), so a
//!   page shared with fewer people than the site is read by those alone; a site whose Site
//!   Pages library cannot be read has its pages readable by nobody. A folder shared or unshared has its files'
//!   permissions read again; Graph reports every sharing change only to an app holding
//!   `Sites.FullControl.All`, and with `Sites.Read.All` leaves out changes it judges
//!   irrelevant to the caller, which then reach the documents when the file changes.
//! - **Deletions**: items of a library's delta round with a `deleted` facet are reported in
//!   their page's [`Batch::deleted`] and deleted from the sink in stream order. Pages have
//!   no delta query: the ids each site's last whole page listing returned are carried in the
//!   checkpoint (`pages_known`), and a page listed then and not by this run's whole listing
//!   is reported deleted when that listing ends (a listing that fails or answers 404 deletes
//!   nothing and keeps the ids); past 16 sites the ids are packed (16 bytes a page GUID, 8 a
//!   site) and the sites read in the order of their ids ([`SharepointCheckpoint`]). A deleted folder's files the round does not list and a
//!   whole site gone are left to prune ([`SlimConnector`], a fresh listing), which is
//!   refused when a site or library cannot be listed.
//! - **Limits**: `requests_per_second` (default 6, under the resource units a minute
//!   SharePoint grants an app in the smallest tenants; raise it for larger ones, 0 for none);
//!   Graph's 429 and 503 with `Retry-After` are waited out (core's client), and so is the
//!   minute's budget when SharePoint's `RateLimit-Remaining` says it is nearly spent (its
//!   `RateLimit-Reset`); a 403 names the application permission to grant.
//! - **Credentials**: a client secret, or a certificate (`client_certificate_key`, a PEM or a
//!   base64 PFX with `client_certificate_password`, and `client_certificate_thumbprint`
//!   unless the certificate is beside the key: each token request carries a client assertion
//!   signed with its key, as MSAL sends it), which tenants that forbid secrets for apps with
//!   `Sites.Read.All` require.

mod checkpoint;
mod config;
mod lists;
mod load;
mod pages;
mod sites;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::http::HttpClientBuilder;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, DynConnector, Error, ErrorKind,
    Result, Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::{KnownPages, ListsCursor, PagesCursor, SharepointCheckpoint};
pub use config::{DEFAULT_MAX_FILE_SIZE, SharepointConfig, SharepointCredentials};

use crate::graph::{self, drive_walk::DriveWalk};

/// The registry key of the SharePoint connector.
pub const SOURCE: &str = "sharepoint";

/// The application permissions a 403 asks for.
const PERMISSIONS: &str = "Sites.Read.All, or Sites.Selected with the read role granted on each configured site (Sites.FullControl.All to see every sharing change; Files.Read.All for files)";

/// Sites `check()` tries when every site is read.
const CHECK_SAMPLE: usize = 5;

/// Reads SharePoint sites. Built from a [`SharepointConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::sharepoint::{SharepointConfig, SharepointConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let config = SharepointConfig::new("contoso.onmicrosoft.com", "app-id", "secret");
/// let connector = SharepointConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SharepointConnector {
    config: SharepointConfig,
    reader: load::Reader,
    /// The host's adjustment of the HTTP client, kept for the connectors of partitions.
    customise: Customise,
}

/// How a host adjusts the HTTP client ([`SharepointConnector::with_http`]).
type CustomiseFn = dyn Fn(HttpClientBuilder) -> HttpClientBuilder + Send + Sync;

/// A host's adjustment of the HTTP client, or none.
#[derive(Clone, Default)]
struct Customise(Option<Arc<CustomiseFn>>);

impl fmt::Debug for Customise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Customised"
        } else {
            "Default"
        })
    }
}

impl SharepointConnector {
    /// A connector for `config`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] listing every problem of `config`.
    pub fn new(config: SharepointConfig) -> Result<Self> {
        Self::build(config, Customise::default())
    }

    /// As [`new`](Self::new), with the HTTP client (token requests included) adjusted by
    /// `customise` after the connector's own settings: a DNS override for split DNS, or for a
    /// test of a national cloud's hosts (`authority_host`, `graph_url`) on a local server.
    /// The connectors of its partitions are adjusted the same way.
    ///
    /// # Errors
    /// As [`new`](Self::new); [`ErrorKind::Internal`] when the HTTP client cannot be built.
    pub fn with_http(
        config: SharepointConfig,
        customise: impl Fn(HttpClientBuilder) -> HttpClientBuilder + Send + Sync + 'static,
    ) -> Result<Self> {
        Self::build(config, Customise(Some(Arc::new(customise))))
    }

    fn build(config: SharepointConfig, customise: Customise) -> Result<Self> {
        let per_second = crate::graph::per_second(config.requests_per_second);
        let tune = |b: HttpClientBuilder| match &customise.0 {
            Some(f) => f(per_second(b)),
            None => per_second(b),
        };
        let graph = config.client(SOURCE, PERMISSIONS, tune)?;
        let walk = DriveWalk {
            graph,
            source: SOURCE,
            folder: String::new(),
            pass_over_missing_folder: false,
            max: config.max_file_size.get(),
            allow_images: config.allow_images,
            permissions: config.include_permissions,
            anonymous_public: config.anonymous_links_public,
            tenant: config.credentials.tenant_id.trim().to_owned(),
            spool_above: config.spool_above.map(std::num::NonZeroU64::get),
            spool: None,
        };
        let reader = load::Reader {
            walk,
            urls: Arc::new(config.site_urls()),
            documents: config.include_site_documents,
            pages: config.include_site_pages,
            lists: config.include_lists,
            subsites: config.include_subsites,
        };
        Ok(Self {
            config,
            reader,
            customise,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SharepointConfig {
        &self.config
    }

    /// This connector restricted to the site at `url`.
    fn for_site(&self, url: &str) -> Option<DynConnector> {
        let mut config = self.config.clone();
        config.credentials.site_url = vec![url.to_owned()].into();
        config.sites = Vec::<String>::new().into();
        Some(Arc::new(Self::build(config, self.customise.clone()).ok()?))
    }
}

impl fmt::Display for SharepointConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}:{}", self.config.credentials.tenant_id.trim())
    }
}

#[async_trait]
impl Connector for SharepointConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .refetch()
            .fingerprint_skip()
            .into()
    }

    /// `site:{url}` for each configured site, when there are several.
    fn partitions(&self) -> Vec<String> {
        graph::partitions(self.config.site_urls().iter().map(|u| format!("site:{u}")))
    }

    /// The configured sites' partitions; with no site configured, one per site of the
    /// tenant (`GET sites/getAllSites`, personal sites left out), by its URL.
    async fn discover_partitions(&self) -> Result<Vec<String>> {
        if !self.config.site_urls().is_empty() {
            return Ok(self.partitions());
        }
        let (sites, _) = sites::sites(&self.reader.walk.graph, &[], None).await?;
        let urls: Vec<String> = sites
            .iter()
            .filter_map(|s| s.web_url.as_ref())
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .collect();
        // With subsites, a site below another listed one is read in that one's partition.
        let urls = if self.config.include_subsites {
            sites::outermost(urls)
        } else {
            urls
        };
        Ok(urls.into_iter().map(|u| format!("site:{u}")).collect())
    }

    fn partition(&self, partition: &str) -> Option<DynConnector> {
        let url = partition.strip_prefix("site:")?;
        let listed = self.config.site_urls();
        // A discovered site (every site of the tenant) or one of the configured ones.
        if (listed.is_empty() || listed.iter().any(|u| u == url))
            && config::site_address(url).is_some()
        {
            self.for_site(url)
        } else {
            None
        }
    }

    /// Gets a token, resolves the configured sites (with none, the first few of the tenant)
    /// and lists the first site's libraries and the first page of its first library's delta:
    /// the secret is accepted, the app holds its permissions, the sites exist.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.client_secret`, `PermissionDenied` naming the
    /// application permission, `NotFound` naming `credentials.site_url`, `Unavailable` when
    /// Graph cannot be reached.
    async fn check(&self) -> Result<()> {
        let graph = &self.reader.walk.graph;
        let (found, failures) = sites::sites(graph, &self.reader.urls, Some(CHECK_SAMPLE)).await?;
        graph::first_failure(SOURCE, failures, Some("credentials.site_url"))?;
        if let Some(site) = found.first() {
            let (targets, failures) = sites::libraries(graph, std::slice::from_ref(site)).await?;
            graph::first_failure(SOURCE, failures, None)?;
            if self.reader.documents
                && let Some(t) = targets.first()
            {
                graph.drive_delta(&graph.drive_delta_url(&t.drive)?).await?;
            }
        } else if !self.reader.urls.is_empty() {
            return Err(
                Error::new(ErrorKind::NotFound, "no configured site was found")
                    .with_connector(SOURCE)
                    .with_field("credentials.site_url"),
            );
        }
        Ok(())
    }
}

impl CheckpointedConnector for SharepointConnector {
    type Checkpoint = SharepointCheckpoint;

    fn initial_checkpoint(&self) -> SharepointCheckpoint {
        SharepointCheckpoint::start()
    }

    /// The libraries' delta links the finished run ended on: the next incremental run reads
    /// the changes since.
    fn carry_over(&self, last: &SharepointCheckpoint) -> Option<SharepointCheckpoint> {
        last.carried()
    }

    fn load_from_checkpoint(
        &self,
        from: SharepointCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<SharepointCheckpoint>>> {
        load::checkpointed(&self.reader, from, window, ctx)
    }
}

impl SlimConnector for SharepointConnector {
    /// Every file and page id of a fresh listing of every site; fails rather than come back
    /// short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        load::list_ids(&self.reader, ctx)
    }
}

impl connector_core::RefetchConnector for SharepointConnector {
    /// These files and pages again, by their current state; one that is gone yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        load::refetch(&self.reader, ids, ctx)
    }
}
