//! Wire → [`Document`]: pages and blog posts (with their comments) as Markdown, attachments as
//! bytes; the rules for which attachments to take; version tokens for fingerprints; the user
//! names and included pages rendering looks up.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use connector_core::{Document, ErrorKind, Failure, Result};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

use super::SOURCE;
use super::access::{Permissions, RESTRICTIONS_EXPAND};
use super::client::Client;
use super::comments::{self, Placed};
use super::model::Content;
use super::storage::{self, Node, PageRef, Refs, Resolver, UserRef};

/// Attachment extensions indexed (lower case, without the dot): documents a host can parse.
///
/// Every extension RAGFlow's Confluence connectors take (Python's `is_accepted_file_ext` and
/// Go's WebDAV lists agree): text `txt md mdx conf log json csv tsv xml yml yaml sql`,
/// documents `pdf docx pptx xlsx eml epub html`; and this connector's own additions, older
/// and open office formats and spellings a host's parsers read too: `doc xls ppt odt ods odp
/// rtf markdown htm msg`.
pub const ACCEPTED_EXTENSIONS: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "odp", "rtf", "txt", "md",
    "mdx", "markdown", "conf", "log", "csv", "tsv", "json", "xml", "yml", "yaml", "sql", "html",
    "htm", "eml", "msg", "epub",
];

/// Image extensions, indexed only with `include_images`.
pub const IMAGE_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff"];

/// `include` macros are followed this many levels deep.
const INCLUDE_DEPTH: usize = 3;

/// Lookups in flight at once for one page being rendered.
const LOOKUP_CONCURRENCY: usize = 4;

/// Values fetched once per key. Pages of a search page render concurrently, so two of them
/// may ask for the same user at once: the second waits for the first's request instead of
/// sending its own. A failed fetch is not kept; the next asker tries again.
#[derive(Debug)]
pub(crate) struct Memo<K, V>(Mutex<HashMap<K, Arc<OnceCell<V>>>>);

impl<K: Eq + Hash + Clone, V: Clone> Memo<K, V> {
    pub(crate) fn new() -> Self {
        Self(Mutex::new(HashMap::new()))
    }

    fn cell(&self, key: &K) -> Arc<OnceCell<V>> {
        // The lock is never held across an await, and a panic while holding it cannot leave
        // the map half-written, so a poisoned lock is still good to use.
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(map.entry(key.clone()).or_default())
    }

    /// The value of `key` if it has been fetched.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        let map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(key).and_then(|cell| cell.get().cloned())
    }

    /// The value of `key`, fetched with `fetch` unless it was (or is being) fetched already.
    pub(crate) async fn get_or_fetch<F, Fut>(&self, key: &K, fetch: F) -> Result<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V>>,
    {
        self.cell(key).get_or_try_init(fetch).await.cloned()
    }
}

/// An included page as this run found it.
#[derive(Debug)]
struct Included {
    nodes: Arc<Vec<Node>>,
    /// Whether neither it nor any ancestor has a read restriction (known to be so; with
    /// `include_permissions` only, else `true`).
    open: bool,
}

/// What the lookups of this run found: user names and included pages, each asked once.
#[derive(Debug)]
pub(crate) struct Lookups {
    users: Memo<UserRef, Option<String>>,
    includes: Memo<PageRef, Option<Arc<Included>>>,
    client: Client,
    /// With `include_permissions`: decides which included pages may be inlined.
    permissions: Option<Arc<Permissions>>,
}

impl Lookups {
    pub(crate) fn new(client: Client, permissions: Option<Arc<Permissions>>) -> Self {
        Self {
            users: Memo::new(),
            includes: Memo::new(),
            client,
            permissions,
        }
    }

    /// An included page with what decides whether it may be inlined.
    async fn fetch_include(&self, page: &PageRef) -> Result<Option<Arc<Included>>> {
        let expand = match self.permissions {
            // The ancestors' restrictions are not expanded (Cloud refuses the whole request
            // when one ancestor is unreadable, CONFCLOUD-77618): `Permissions` reads each
            // ancestor's once per run.
            Some(_) => format!("body.storage,version,space,ancestors,{RESTRICTIONS_EXPAND}"),
            None => "body.storage".to_owned(),
        };
        let Some(content) = self.client.page_named(page, &expand).await? else {
            return Ok(None);
        };
        let Some(nodes) = content.storage().and_then(|s| storage::parse(s).ok()) else {
            return Ok(None);
        };
        let open = match &self.permissions {
            Some(permissions) => permissions.unrestricted(&content).await?,
            None => true,
        };
        Ok(Some(Arc::new(Included {
            nodes: Arc::new(nodes),
            open,
        })))
    }

    /// Looks up the users and included pages `refs` names, and what the included pages name
    /// in turn, `INCLUDE_DEPTH` levels deep; whatever this run has asked before is not asked
    /// again. A user or page that is missing or hidden resolves to nothing.
    ///
    /// # Errors
    /// A lookup's error other than "missing or hidden" (credentials, an unreachable site).
    pub(crate) async fn resolve(&self, mut refs: Refs) -> Result<()> {
        for _ in 0..INCLUDE_DEPTH {
            if refs.includes.is_empty() {
                break;
            }
            let pages = std::mem::take(&mut refs.includes);
            let found: Vec<(PageRef, Option<Arc<Included>>)> = futures::stream::iter(pages)
                .map(|page| async move {
                    let nodes = self
                        .includes
                        .get_or_fetch(&page, || self.fetch_include(&page))
                        .await?;
                    Ok::<_, connector_core::Error>((page, nodes))
                })
                .buffer_unordered(LOOKUP_CONCURRENCY)
                .try_collect()
                .await?;
            // Also for a page fetched before: its users must be resolved before this render.
            for (page, included) in found {
                if let Some(included) = included {
                    storage::collect_refs(&included.nodes, &page.space, &mut refs);
                }
            }
        }
        futures::stream::iter(refs.users)
            .map(|user| async move {
                self.users
                    .get_or_fetch(&user, || self.client.user_name(&user))
                    .await
            })
            .buffer_unordered(LOOKUP_CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }
}

impl Resolver for Lookups {
    fn user(&self, user: &UserRef) -> Option<String> {
        self.users.get(user).flatten()
    }

    fn include(&self, page: &PageRef) -> Option<Arc<Vec<Node>>> {
        self.includes
            .get(page)
            .flatten()
            .map(|i| Arc::clone(&i.nodes))
    }

    fn may_inline(&self, page: &PageRef, includer_space: &str) -> bool {
        if self.permissions.is_none() {
            return true;
        }
        // Same space and no restriction on it or its ancestors: its readers are the space's
        // viewers, who may all read the includer's space too. Each level of a nested include
        // is checked against the level that includes it, so all share the page's space.
        page.space == includer_space && self.includes.get(page).flatten().is_some_and(|i| i.open)
    }

    fn page_url(&self, page: &PageRef) -> Option<String> {
        self.client.page_url(page)
    }

    fn attachment_url(&self, page_id: &str, filename: &str) -> Option<String> {
        self.client.attachment_url(page_id, filename)
    }

    fn jira_site(&self) -> Option<String> {
        self.client.jira_site()
    }
}

/// The version token of a page with its comments: a new page version or any comment added,
/// edited or removed changes it.
pub(crate) fn page_token<'a>(
    page: &Content,
    comments: impl IntoIterator<Item = &'a Content>,
) -> String {
    let mut token = format!("{}:{}:v{}", page.kind, page.id, page.version_number());
    for c in comments {
        let _ = write!(token, ";{}.{}", c.id, c.version_number());
    }
    token
}

/// A short token of where `page` is and how it is labelled: its space, its ancestors (ids
/// and titles, Cloud folders among them) and its labels. Confluence bumps no version when a
/// page is moved or labelled, nor when an ancestor is renamed, so these go into the version
/// tokens: a reconciliation run (core's `SyncMode::Reconcile`) then delivers such a page
/// again with its new metadata (and, with permissions, its new inherited access), and skips
/// the rest.
pub(crate) fn placement_token(page: &Content) -> String {
    let mut text = page.space.as_ref().map_or(String::new(), |s| s.key.clone());
    for a in &page.ancestors {
        let _ = write!(text, "/{}:{}", a.id, a.title);
    }
    let mut labels: Vec<&str> = page
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
        .map(|l| l.results.iter().map(|l| l.name.as_str()).collect())
        .unwrap_or_default();
    labels.sort_unstable();
    let _ = write!(text, "#{}", labels.join(","));
    format!(";at:{}", &connector_core::ids::hash128(&text)[..16])
}

/// The version token of an attachment.
pub(crate) fn attachment_token(att: &Content) -> String {
    format!(
        "attachment:{}:v{}:{}",
        att.id,
        att.version_number(),
        att.extensions
            .as_ref()
            .and_then(|e| e.file_size)
            .unwrap_or(0)
    )
}

/// Which attachments are taken.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttachmentRules {
    pub(crate) size_limit: u64,
    pub(crate) include_images: bool,
}

pub(crate) fn extension(title: &str) -> Option<String> {
    let (_, ext) = title.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase()).filter(|e| !e.is_empty() && e.len() <= 10)
}

impl AttachmentRules {
    /// Whether `att` is taken: an accepted extension (an image only with `include_images`)
    /// within `attachment_size_limit`, known from `extensions.fileSize` before any download.
    pub(crate) fn takes(&self, att: &Content) -> bool {
        let ext = extension(&att.title).unwrap_or_default();
        let media = att
            .extensions
            .as_ref()
            .and_then(|e| e.media_type.as_deref())
            .unwrap_or("");
        let image = IMAGE_EXTENSIONS.contains(&ext.as_str()) || media.starts_with("image/");
        let wanted = if image {
            self.include_images
        } else {
            ACCEPTED_EXTENSIONS.contains(&ext.as_str())
        };
        if !wanted {
            return false;
        }
        match att.extensions.as_ref().and_then(|e| e.file_size) {
            Some(size) if size > self.size_limit => {
                tracing::info!(connector = SOURCE, attachment = %att.title, size, limit = self.size_limit, "skipping an attachment over attachment_size_limit");
                false
            }
            _ => true,
        }
    }
}

/// A page or blog post, rendered. `body` is its parsed storage format; `comments` its comments
/// in thread order with their parsed bodies (a comment whose body did not parse is left out);
/// `token` its version token ([`page_token`]); `link` its web URL.
pub(crate) fn page_document(
    id: String,
    link: Option<&str>,
    page: &Content,
    body: &[Node],
    comments: &[(Placed<'_>, Vec<Node>)],
    token: &str,
    lookups: &Lookups,
) -> Document {
    let space = page
        .space
        .as_ref()
        .map(|s| s.key.clone())
        .unwrap_or_default();
    let owner = storage::Owner {
        space: &space,
        page_id: Some(page.id.as_str()),
    };
    let mut text = storage::render_for(body, owner, lookups);
    if !comments.is_empty() {
        text.push_str("\n\n## Comments");
        for (placed, nodes) in comments {
            let comment = placed.comment;
            let who = commenter(comment);
            let when = comment
                .when()
                .map(|t| format!(" ({})", t.format("%Y-%m-%d")))
                .unwrap_or_default();
            // A reply names the comment it answers; an inline comment quotes the text it is
            // anchored to.
            let about = match (placed.reply_to, comments::anchor(comment)) {
                (Some(parent), _) => format!(", replying to {}", commenter(parent)),
                (None, Some(anchor)) => format!(", on \u{201c}{}\u{201d}", one_line(anchor)),
                (None, None) => String::new(),
            };
            let rendered = storage::render(nodes, &space, lookups);
            let _ = write!(text, "\n\n**{who}**{when}{about}:\n\n{rendered}");
        }
    }
    let labels: Vec<String> = page
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
        .map(|l| l.results.iter().map(|l| l.name.clone()).collect())
        .unwrap_or_default();
    let ancestors: Vec<String> = page.ancestors.iter().map(|a| a.title.clone()).collect();
    let creator = page.history.as_ref().and_then(|h| h.created_by.as_ref());
    let editor = page.version.as_ref().and_then(|v| v.by.as_ref());
    let mut owners: Vec<String> = Vec::new();
    for user in [creator, editor].into_iter().flatten() {
        let name = user
            .email
            .clone()
            .or_else(|| user.name().map(str::to_owned));
        if let Some(name) = name
            && !owners.contains(&name)
        {
            owners.push(name);
        }
    }
    let mut doc = Document::text_with_version(id, SOURCE, page.title.clone(), text, token)
        .with_metadata("space", space)
        .with_metadata("labels", labels)
        .with_metadata("ancestors", ancestors)
        .with_metadata("version", page.version_number())
        .with_metadata("type", page.kind.clone())
        .with_metadata("content_id", page.id.clone())
        .with_owners(owners);
    if let Some(name) = page.space.as_ref().and_then(|s| s.name.clone()) {
        doc = doc.with_metadata("space_name", name);
    }
    if let Some(author) = creator.and_then(|u| u.name()) {
        doc = doc.with_metadata("author", author.to_owned());
    }
    if let Some(when) = page.when() {
        doc = doc.with_updated_at(when);
    }
    if let Some(link) = link.and_then(|l| url::Url::parse(l).ok()) {
        doc = doc.with_link(link);
    }
    doc
}

/// The name a comment is shown under: its last editor, else its creator.
fn commenter(comment: &Content) -> &str {
    comment
        .version
        .as_ref()
        .and_then(|v| v.by.as_ref())
        .and_then(|u| u.name())
        .or_else(|| {
            comment
                .history
                .as_ref()
                .and_then(|h| h.created_by.as_ref())
                .and_then(|u| u.name())
        })
        .unwrap_or("Unknown")
}

/// `text` on one line, its whitespace runs as single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An attachment as a document of its own, the bytes for the host's parser; `token` its
/// version token ([`attachment_token`]).
pub(crate) fn attachment_document(
    id: String,
    link: Option<&str>,
    att: &Content,
    data: Bytes,
    token: &str,
    parent_id: &str,
    page: &Content,
) -> Document {
    let media = att
        .extensions
        .as_ref()
        .and_then(|e| e.media_type.clone())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let size = data.len() as u64;
    let mut doc = Document::bytes(
        id,
        SOURCE,
        att.title.clone(),
        data,
        media,
        extension(&att.title),
    )
    .with_version(token)
    .with_size(size)
    .with_parent_id(parent_id)
    .with_metadata("type", "attachment")
    .with_metadata("content_id", att.id.clone())
    .with_metadata("version", att.version_number())
    .with_metadata("page_title", page.title.clone());
    if let Some(space) = page.space.as_ref() {
        doc = doc.with_metadata("space", space.key.clone());
    }
    if let Some(when) = att.when() {
        doc = doc.with_updated_at(when);
    }
    if let Some(by) = att
        .version
        .as_ref()
        .and_then(|v| v.by.as_ref())
        .and_then(|u| u.email.clone().or_else(|| u.name().map(str::to_owned)))
    {
        doc = doc.with_owners(vec![by]);
    }
    if let Some(link) = link.and_then(|l| url::Url::parse(l).ok()) {
        doc = doc.with_link(link);
    }
    doc
}

/// A page whose body could not be read.
pub(crate) fn unreadable(
    id: &str,
    link: Option<&str>,
    page: &Content,
    why: &storage::StorageError,
) -> Failure {
    linked(
        Failure::new(
            Some(id.to_owned()),
            ErrorKind::InvalidData,
            format!(
                "page `{}` (id {}, {id}) has a body that cannot be read: {why}",
                page.title, page.id
            ),
        ),
        link,
    )
}

/// `failure` with a link to its item, when it has one.
pub(crate) fn linked(failure: Failure, link: Option<&str>) -> Failure {
    match link.and_then(|l| url::Url::parse(l).ok()) {
        Some(link) => failure.with_link(link),
        None => failure,
    }
}
