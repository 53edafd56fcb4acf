//! The walks: Help Center article pages (the cursor-paged list for full loads, the
//! incremental article export for polls) and the incremental ticket export, each page a
//! checkpointed batch on core's [`fetch_items`]; the id listing; the refetch of named items.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use connector_core::http::is_body_too_large;
use connector_core::pages::{KnownFingerprints, Outcome, PendingItem, fetch_items, item_failure};
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use url::Url;

use super::SOURCE;
use super::checkpoint::ZendeskCheckpoint;
use super::client::Client;
use super::config::{ContentType, TOKEN_FIELD};
use super::convert::{self, AttachmentParent, Guide, People, TicketAccess};
use super::model::{Article, Attachment, Brand, Item, Organization, Ticket, TicketExport, User};

/// Comment listings at the same time within a ticket page.
const CONCURRENCY: usize = 4;

/// Articles per page of the incremental article export (Zendesk's fixed page).
const ARTICLE_EXPORT_PAGE: usize = 1000;

/// Authors kept between pages of one run before the cache starts again.
const MAX_AUTHORS: usize = 50_000;

/// What the walks need besides the client.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    pub(crate) content: ContentType,
    /// Lower-case labels whose articles are left out.
    pub(crate) skip_labels: Vec<String>,
    /// Lower-case ticket statuses read; empty: all.
    pub(crate) statuses: Vec<String>,
    pub(crate) internal: bool,
    /// Set once a run has been refused a user segment: the agent is not a Help Center
    /// manager, and asking for each further segment would cost a request apiece.
    pub(crate) segments_refused: Arc<AtomicBool>,
    /// The Help Center requires sign-in: unrestricted articles are for signed-in users.
    pub(crate) sign_in: bool,
    /// Lower-case brands (subdomains or names, or `*`) whose Help Centers are read; empty:
    /// the account URL's.
    pub(crate) brands: Vec<String>,
    /// Read tickets' and articles' attachments.
    pub(crate) attachments: bool,
    /// The largest attachment downloaded, in bytes.
    pub(crate) max_file_size: u64,
    /// The changed users whose tickets one incremental run searches at most.
    pub(crate) user_searches: usize,
}

/// An attachment to read: its document id, the file, and its parent.
struct FileItem<'a> {
    id: String,
    att: Attachment,
    parent: AttachmentParent<'a>,
}

/// A Help Center read: the account's, or a brand's.
#[derive(Debug, Clone)]
struct HelpCenter {
    /// The brand's id; none: the Help Center at the account's URL.
    id: Option<u64>,
    base: Url,
    brand: Option<String>,
    agents_only: bool,
}

/// A listed ticket to fetch (its comments) and convert.
enum PendingTicket {
    Ticket {
        ticket: Box<Ticket>,
        people: Arc<People>,
        /// Who may read it, from the listing's people (its version's).
        access: Box<TicketAccess>,
        version: String,
    },
    Failed(Failure),
}

/// A listed article to convert.
enum PendingArticle {
    Article(Box<Article>),
    Failed(Failure),
}

/// A listed item read as `T`, or the failure naming it.
fn read<T>(
    item: Item<T>,
    id_of: fn(u64) -> String,
    what: &str,
) -> std::result::Result<T, Box<Failure>> {
    match item {
        Item::Read(t) => Ok(*t),
        Item::Malformed { id, error } => {
            let doc = id.map(id_of);
            let shown = doc.clone().unwrap_or_else(|| format!("a {what}"));
            Err(Box::new(Failure::new(
                doc,
                ErrorKind::InvalidData,
                format!("{shown}: Zendesk sent a {what} that cannot be read: {error}"),
            )))
        }
    }
}

fn repeated(what: &str) -> Error {
    Error::invalid_data(format!(
        "Zendesk sent the same cursor twice for the {what}; the listing would never end"
    ))
    .with_connector(SOURCE)
}

impl Walk {
    /// This walk for one run: requests counted into `ctx`, segments not refused yet.
    fn for_run(&self, ctx: &SyncContext) -> Self {
        Self {
            client: self.client.with_context(ctx),
            segments_refused: Arc::new(AtomicBool::new(false)),
            ..self.clone()
        }
    }

    /// Whether the article is a document: published, in the locale, without a skipped label.
    fn keeps_article(&self, a: &Article, exported: bool) -> bool {
        self.in_locale(a, exported) && !self.withdrawn(a)
    }

    /// Whether the article is a draft or carries a skipped label: one published before is
    /// deleted when seen so.
    fn withdrawn(&self, a: &Article) -> bool {
        a.draft
            || a.label_names
                .iter()
                .any(|l| self.skip_labels.contains(&l.to_lowercase()))
    }

    /// Whether the article is in the locale read. The export lists every translation; the
    /// list only the locale asked.
    fn in_locale(&self, a: &Article, exported: bool) -> bool {
        if exported {
            let want = self.client.locale.as_deref().or(a.source_locale.as_deref());
            if let (Some(want), Some(have)) = (want, a.locale.as_deref())
                && !want.eq_ignore_ascii_case(have)
            {
                return false;
            }
        }
        true
    }

    /// Whether the ticket is a document: not deleted, of a status read.
    fn keeps_ticket(&self, t: &Ticket) -> bool {
        t.status != "deleted"
            && (self.statuses.is_empty() || self.statuses.contains(&t.status.to_lowercase()))
    }

    /// The Help Centers read: the account URL's, or those of the brands configured, in
    /// brand id order.
    ///
    /// # Errors
    /// `NotFound` naming `brands` when one configured names no brand with a Help Center.
    async fn help_centers(&self) -> Result<Vec<HelpCenter>> {
        if self.brands.is_empty() {
            return Ok(vec![HelpCenter {
                id: None,
                base: self.client.base.clone(),
                brand: None,
                agents_only: false,
            }]);
        }
        let all = self.brands.iter().any(|b| b == "*");
        let mut brands = self.client.brands().await?;
        brands.sort_by_key(|b| b.id);
        let named = |b: &Brand, want: &str| {
            b.subdomain.eq_ignore_ascii_case(want) || b.name.eq_ignore_ascii_case(want)
        };
        let mut out = Vec::new();
        for b in &brands {
            let on = b.active
                && !b.is_deleted
                && b.has_help_center
                && b.help_center_state.as_deref() != Some("disabled");
            if !on || !(all || self.brands.iter().any(|w| named(b, w.as_str()))) {
                continue;
            }
            let Some(base) = b.brand_url.as_deref().and_then(|u| Url::parse(u).ok()) else {
                tracing::warn!(connector = SOURCE, brand = %b.name, "a brand without a usable brand_url is left out");
                continue;
            };
            out.push(HelpCenter {
                id: Some(b.id),
                base,
                brand: Some(b.name.clone()),
                agents_only: b.help_center_state.as_deref() == Some("restricted"),
            });
        }
        let missing: Vec<&str> = self
            .brands
            .iter()
            .filter(|w| w.as_str() != "*")
            .filter(|w| {
                !out.iter().any(|c| {
                    brands
                        .iter()
                        .any(|b| Some(b.id) == c.id && named(b, w.as_str()))
                })
            })
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!(
                    "no active brand with its Help Center on is named {}",
                    missing.join(", ")
                ),
            )
            .with_connector(SOURCE)
            .with_field("brands"));
        }
        Ok(out)
    }

    /// This walk on the Help Center `hc`.
    fn on(&self, hc: &HelpCenter) -> Self {
        Self {
            client: self.client.on(hc.base.clone()),
            ..self.clone()
        }
    }

    /// The Help Center's sections and categories, for the articles' metadata.
    async fn guide(&self, hc: &HelpCenter) -> Result<Guide> {
        let sections = self.client.sections("sections").await?;
        let categories = self.client.sections("categories").await?;
        Ok(Guide {
            agents_only: hc.agents_only,
            brand: hc.brand.clone(),
            sign_in: self.sign_in,
            sections: sections.into_iter().map(|s| (s.id, s)).collect(),
            categories: categories.into_iter().map(|s| (s.id, s)).collect(),
            segments: HashMap::new(),
        })
    }

    /// Reads into `guide` the user segments of `articles` it does not know yet. A refusal
    /// (the agent is no Help Center manager) leaves them as ids, warned about once a run.
    async fn add_segments(&self, guide: &mut Guide, articles: &[&Article]) -> Result<()> {
        let wanted: Vec<u64> = articles
            .iter()
            .flat_map(|a| a.segments())
            .filter(|id| !guide.segments.contains_key(id))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for id in wanted {
            if self.segments_refused.load(Ordering::Relaxed) {
                guide.segments.insert(id, None);
                continue;
            }
            match self.client.user_segment(id).await {
                Ok(seg) => {
                    guide.segments.insert(id, Some(seg));
                }
                Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) => {
                    if e.kind() == ErrorKind::PermissionDenied
                        && !self.segments_refused.swap(true, Ordering::Relaxed)
                    {
                        tracing::warn!(
                            connector = SOURCE,
                            "user segments cannot be read (the token's agent is not a Help Center manager); restricted articles go to `zendesk-segment:{{id}}` groups only: {e}"
                        );
                    }
                    guide.segments.insert(id, None);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Whether a user segment was edited since the window's start: all segments are read
    /// (`GET help_center/user_segments`), into `guide` as well. Zendesk touches no article
    /// when a segment's audience changes, so the export cannot tell. Refused (the agent is
    /// no Help Center manager): no, warned once, as segments stay ids then anyway.
    async fn segments_edited(&self, window: &TimeWindow, guide: &mut Arc<Guide>) -> Result<bool> {
        if self.segments_refused.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let segments = match self.client.user_segments().await {
            Ok(s) => s,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                if !self.segments_refused.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        connector = SOURCE,
                        "user segments cannot be listed (the token's agent is not a Help Center manager); an edited segment's articles keep their access until a full run: {e}"
                    );
                }
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        let edited = segments
            .iter()
            .any(|s| s.updated_at.is_some_and(|u| u >= window.start));
        let guide = Arc::make_mut(guide);
        for seg in segments {
            guide.segments.insert(seg.id, Some(seg));
        }
        Ok(edited)
    }

    /// Reads into `authors` the authors of `articles` it does not know yet (one `show_many`).
    async fn add_authors(
        &self,
        authors: &mut HashMap<u64, User>,
        articles: &[&Article],
    ) -> Result<()> {
        if authors.len() > MAX_AUTHORS {
            authors.clear();
        }
        let mut wanted: Vec<u64> = articles
            .iter()
            .filter_map(|a| a.author_id)
            .filter(|id| !authors.contains_key(id))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(());
        }
        for user in self.client.users(&wanted).await? {
            authors.insert(user.id, user);
        }
        Ok(())
    }

    /// The batch of one page of articles: those in `window` (all without one), converted;
    /// the drafts and skipped ones in the locale as deletions.
    async fn article_batch(
        &self,
        ctx: &SyncContext,
        values: Vec<Item<Article>>,
        window: Option<&TimeWindow>,
        exported: bool,
        guide: &mut Arc<Guide>,
        authors: &mut HashMap<u64, User>,
    ) -> Result<Batch> {
        let mut items = Vec::new();
        let mut gone = Vec::new();
        // With a locale set, the export's rows of other locales: the source article (or
        // another translation) changed, and with it, perhaps, what every translation
        // carries (labels, section, segments, draft).
        let mut elsewhere = Vec::new();
        let mut here = HashSet::new();
        for value in values {
            match read::<Article>(value, convert::article_id, "article") {
                Ok(a) if exported && self.client.locale.is_some() && !self.in_locale(&a, true) => {
                    elsewhere.push(a.id);
                }
                Ok(a) => {
                    here.insert(a.id);
                    // Unpublished or newly labelled to skip: its document (if any) goes, so
                    // a withdrawn article's text is no longer found; whatever the window,
                    // deleting twice being harmless.
                    if self.in_locale(&a, exported) && self.withdrawn(&a) {
                        gone.push(convert::article_id(a.id));
                        continue;
                    }
                    if !self.keeps_article(&a, exported)
                        || window.is_some_and(|w| !w.contains(a.updated_at))
                    {
                        continue;
                    }
                    items.push(PendingArticle::Article(Box::new(a)));
                }
                Err(f) => items.push(PendingArticle::Failed(*f)),
            }
        }
        elsewhere.sort_unstable();
        elsewhere.dedup();
        for id in elsewhere.into_iter().filter(|id| !here.contains(id)) {
            // The translation read, whatever its own `updated_at` (its version tells
            // whether anything it holds changed); none in the locale: nothing to keep.
            ctx.cancellation().check()?;
            let Some(value) = self.client.article(id).await? else {
                gone.push(convert::article_id(id));
                continue;
            };
            match read::<Article>(value, convert::article_id, "article") {
                Ok(a) if self.withdrawn(&a) => gone.push(convert::article_id(a.id)),
                Ok(a) => items.push(PendingArticle::Article(Box::new(a))),
                Err(f) => items.push(PendingArticle::Failed(*f)),
            }
        }
        let listed: Vec<&Article> = items
            .iter()
            .filter_map(|i| match i {
                PendingArticle::Article(a) => Some(a.as_ref()),
                PendingArticle::Failed(_) => None,
            })
            .collect();
        if listed.is_empty() && items.is_empty() {
            return Ok(Batch::default().with_deleted(gone));
        }
        self.add_segments(Arc::make_mut(guide), &listed).await?;
        self.add_authors(authors, &listed).await?;
        let page_guide = guide.clone();
        let page_authors: Arc<HashMap<u64, User>> = Arc::new(
            listed
                .iter()
                .filter_map(|a| a.author_id)
                .filter_map(|id| authors.get(&id).map(|u| (id, u.clone())))
                .collect(),
        );
        let pending = items.into_iter().map(|item| match item {
            PendingArticle::Article(a) => {
                let access = convert::article_access(&a, &page_guide);
                let version = convert::article_version(&a, &access);
                PendingItem::new(convert::article_id(a.id), PendingArticle::Article(a))
                    .with_version(&version)
            }
            PendingArticle::Failed(f) => {
                PendingItem::new(f.id.clone().unwrap_or_default(), PendingArticle::Failed(f))
            }
        });
        let pending: Vec<_> = pending.collect();
        let walk = self.clone();
        let file_ctx = ctx.clone();
        fetch_items(ctx, pending, 1, move |item| {
            let (walk, ctx) = (walk.clone(), file_ctx.clone());
            let (guide, authors) = (page_guide.clone(), page_authors.clone());
            async move { walk.article_outcomes(&ctx, item, &guide, &authors).await }
        })
        .await
        .map(|b| b.with_deleted(gone))
    }

    /// An article's document and, with attachments on, its files'.
    async fn article_outcomes(
        &self,
        ctx: &SyncContext,
        item: PendingArticle,
        guide: &Guide,
        authors: &HashMap<u64, User>,
    ) -> Result<Vec<Outcome>> {
        let a = match item {
            PendingArticle::Failed(f) => return Ok(vec![f.into()]),
            PendingArticle::Article(a) => a,
        };
        let access = convert::article_access(&a, guide);
        let author = a.author_id.and_then(|id| authors.get(&id));
        let doc = convert::article_document(&a, guide, author, access.clone());
        if !self.attachments {
            return Ok(vec![doc.into()]);
        }
        let listed = self.client.article_attachments(a.id).await.map_err(|e| {
            Error::new(
                e.kind(),
                format!("the attachments of article {} cannot be read: {e}", a.id),
            )
            .with_connector(SOURCE)
        });
        let listed = match listed {
            Ok(l) => l,
            Err(e) => return Ok(vec![item_failure(convert::article_id(a.id), e)?.into()]),
        };
        let link = a.html_url.as_deref().and_then(|u| Url::parse(u).ok());
        let files = listed
            .into_iter()
            .map(|att| FileItem {
                id: convert::article_attachment_id(a.id, att.id),
                att,
                parent: AttachmentParent {
                    id: convert::article_id(a.id),
                    title: &doc.title,
                    updated_at: a.updated_at,
                    link: link.clone(),
                    access: access.clone(),
                },
            })
            .collect();
        let mut out = self.read_files(ctx, files).await?;
        out.insert(0, doc.into());
        Ok(out)
    }

    /// The articles, page by page, from `from`: the list (oldest change first) for a full
    /// load, the incremental article export from the window's start for a poll (then the
    /// list again when a user segment was edited); each Help Center read in turn.
    fn articles(
        &self,
        from: ZendeskCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<ZendeskCheckpoint>>> {
        let walk = self.for_run(&ctx);
        async_stream::try_stream! {
            let mut cp = from;
            if cp.done {
                return;
            }
            let centers = walk.help_centers().await?;
            // Resumed: from the brand it was walking (or the next, if that one is gone).
            let mut at = match cp.brand_id {
                Some(id) => centers.iter().position(|c| c.id.is_some_and(|b| b >= id)).unwrap_or(centers.len()),
                None => 0,
            };
            if at >= centers.len() {
                cp.done = true;
                yield CheckpointedBatch::new(Batch::default(), cp.clone());
                return;
            }
            if centers[at].id != cp.brand_id {
                cp.brand_id = centers[at].id;
                cp.cursor = None;
                cp.start_time = None;
                cp.relist = false;
            }
            let mut hc = walk.on(&centers[at]);
            let mut guide = Arc::new(hc.guide(&centers[at]).await?);
            let mut authors = HashMap::new();
            let mut seen = HashSet::new();
            loop {
                ctx.cancellation().check()?;
                let mut finished = false;
                let batch = match window.as_ref().filter(|_| !cp.relist) {
                    None => {
                        let page = hc.client.article_page(cp.cursor.as_deref()).await?;
                        let batch = hc
                            .article_batch(&ctx, page.items, None, false, &mut guide, &mut authors)
                            .await?;
                        match page.meta.after_cursor.filter(|_| page.meta.has_more) {
                            Some(next) if seen.insert(next.clone()) => cp.cursor = Some(next),
                            Some(_) => Err(repeated("articles"))?,
                            None => {
                                cp.cursor = None;
                                finished = true;
                            }
                        }
                        batch
                    }
                    Some(w) => {
                        let start = cp.start_time.unwrap_or_else(|| w.start.timestamp().max(0));
                        let page = hc.client.article_export(start).await?;
                        let full = page.items.len() >= ARTICLE_EXPORT_PAGE;
                        let batch = hc
                            .article_batch(&ctx, page.items, Some(w), true, &mut guide, &mut authors)
                            .await?;
                        match page.end_time.filter(|_| full && page.next_page.is_some()) {
                            Some(end) if end > start => cp.start_time = Some(end),
                            Some(_) => {
                                // A full page of one second: moving on would skip the rest
                                // of that second, staying would never end.
                                Err(Error::invalid_data(format!(
                                    "Zendesk's article export sent a full page ending at its own start time ({start}); more than 1,000 articles changed within one second"
                                )).with_connector(SOURCE))?;
                            }
                            None => {
                                cp.start_time = None;
                                // A segment edited in the window changes the access of
                                // articles the export does not list again.
                                if hc.segments_edited(w, &mut guide).await? {
                                    cp.relist = true;
                                    cp.cursor = None;
                                } else {
                                    finished = true;
                                }
                            }
                        }
                        batch
                    }
                };
                let mut next_center = false;
                if finished {
                    cp.relist = false;
                    match centers.get(at + 1) {
                        Some(next) => {
                            at += 1;
                            cp.brand_id = next.id;
                            next_center = true;
                        }
                        None => cp.done = true,
                    }
                }
                let done = cp.done;
                yield CheckpointedBatch::new(batch, cp.clone());
                if done {
                    break;
                }
                if next_center {
                    hc = walk.on(&centers[at]);
                    guide = Arc::new(hc.guide(&centers[at]).await?);
                    seen.clear();
                }
            }
        }
        .boxed()
    }

    /// The outcomes of `files`: unchanged (the store holds their version: no download),
    /// too large (by the listed size, or while downloading), their documents, or failures.
    async fn read_files(
        &self,
        ctx: &SyncContext,
        files: Vec<FileItem<'_>>,
    ) -> Result<Vec<Outcome>> {
        let files: Vec<FileItem<'_>> = files
            .into_iter()
            .filter(|f| !f.att.deleted && f.att.content_url.is_some())
            .collect();
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = files.iter().map(|f| f.id.clone()).collect();
        let known = KnownFingerprints::lookup(ctx, &ids).await?;
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            ctx.cancellation().check()?;
            if known.has_version(
                &f.id,
                &convert::attachment_version(&f.att, &f.parent.access),
            ) {
                out.push(Outcome::Unchanged(f.id));
                continue;
            }
            let too_large = || {
                Failure::new(
                    Some(f.id.clone()),
                    ErrorKind::Unsupported,
                    format!(
                        "{} of {}: the file is larger than max_file_size ({} bytes)",
                        f.att.file_name.as_deref().unwrap_or("an attachment"),
                        f.parent.title,
                        self.max_file_size
                    ),
                )
            };
            if f.att.size.is_some_and(|s| s > self.max_file_size) {
                out.push(too_large().into());
                continue;
            }
            let url = f.att.content_url.as_deref().unwrap_or_default();
            match self.client.download(url, self.max_file_size).await {
                Ok(data) => {
                    out.push(convert::attachment_document(f.id, &f.att, data, f.parent).into())
                }
                Err(e) if is_body_too_large(&e) => out.push(too_large().into()),
                Err(e) => out.push(item_failure(f.id, e)?.into()),
            }
        }
        Ok(out)
    }

    /// One ticket's outcomes: its documents with every comment, or its failure.
    async fn fetch_ticket(self, ctx: SyncContext, item: PendingTicket) -> Result<Vec<Outcome>> {
        let (ticket, people, access, version) = match item {
            PendingTicket::Failed(f) => return Ok(vec![f.into()]),
            PendingTicket::Ticket {
                ticket,
                people,
                access,
                version,
            } => (ticket, people, *access, version),
        };
        let (comments, users) = self.client.comments(ticket.id).await.map_err(|e| {
            let text = format!("the comments of ticket #{} cannot be read: {e}", ticket.id);
            Error::new(e.kind(), text).with_connector(SOURCE)
        })?;
        // Access from the listing's people alone, as the version token the listing gave
        // was; the comments' authors only name the comments.
        let people = if users.iter().all(|u| people.users.contains_key(&u.id)) {
            people
        } else {
            let mut more = (*people).clone();
            more.add_users(users);
            Arc::new(more)
        };
        // The files' parent title (the documents write their own).
        let title = if self.attachments {
            convert::ticket_title(&ticket)
        } else {
            String::new()
        };
        let files = if self.attachments {
            // Each file goes to the audience of the comment it came with.
            let (id, updated) = (ticket.id, ticket.updated_at);
            let link = self
                .client
                .ticket_links
                .as_ref()
                .and_then(|prefix| convert::ticket_link(prefix, id));
            let mut files = Vec::new();
            for c in comments.iter().filter(|c| c.public || self.internal) {
                let (parent, audience) = if c.public {
                    (convert::ticket_id(id), &access.public)
                } else {
                    (convert::internal_id(id), &access.agents)
                };
                for att in &c.attachments {
                    files.push(FileItem {
                        id: convert::ticket_attachment_id(id, att.id),
                        att: att.clone(),
                        parent: AttachmentParent {
                            id: parent.clone(),
                            title: &title,
                            updated_at: c.created_at.unwrap_or(updated),
                            link: link.clone(),
                            access: audience.clone(),
                        },
                    });
                }
            }
            files
        } else {
            Vec::new()
        };
        let files = self.read_files(&ctx, files).await?;
        let mut out: Vec<Outcome> = convert::ticket_documents(
            self.client.ticket_links.as_ref(),
            &ticket,
            &comments,
            &people,
            access,
            &version,
            self.internal,
        )
        .into_iter()
        .map(Outcome::from)
        .collect();
        out.extend(files);
        Ok(out)
    }

    /// `people` with the requesters, assignees and people copied on `tickets` that the
    /// sideload left out (`users/show_many`), since they decide who may read the documents: a
    /// CC or an assignee missing from the sideload would lose a ticket they can read in
    /// Zendesk.
    async fn complete_people(
        &self,
        mut people: People,
        tickets: &[Item<Ticket>],
    ) -> Result<People> {
        // A ticket that cannot be read is a failure: whom it names decides no access.
        let read = || {
            tickets.iter().filter_map(|t| match t {
                Item::Read(t) => Some(t.as_ref()),
                Item::Malformed { .. } => None,
            })
        };
        let mut missing: Vec<u64> = read()
            .flat_map(|t| {
                [t.requester_id, t.assignee_id]
                    .into_iter()
                    .flatten()
                    .chain(t.email_cc_ids.iter().copied())
                    .chain(t.collaborator_ids.iter().copied())
            })
            .filter(|id| !people.users.contains_key(id))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            people.add_users(self.client.users(&missing).await?);
        }
        // A ticket search sideloads nothing: an organization left out would lose its
        // members' access (when it shares its tickets).
        let mut orgs: Vec<u64> = read()
            .filter_map(|t| t.organization_id)
            .filter(|id| !people.orgs.contains_key(id))
            .collect();
        orgs.sort_unstable();
        orgs.dedup();
        if !orgs.is_empty() {
            people.add_orgs(self.client.organizations(&orgs).await?);
        }
        Ok(people)
    }

    /// The page items of a ticket page: tickets kept and in `window`, malformed ones as
    /// failures; the document ids of tickets that are deleted, or of a status no longer read,
    /// whatever their `updated_at` (the source's own deletions, handed on as
    /// [`Batch::deleted`]). Also says
    /// whether a ticket changed at or after the window's end was listed.
    fn ticket_items(
        &self,
        values: Vec<Item<Ticket>>,
        people: &Arc<People>,
        window: Option<&TimeWindow>,
    ) -> (Vec<PendingItem<PendingTicket>>, Vec<String>, bool) {
        let mut out = Vec::new();
        let mut gone = Vec::new();
        let mut later = false;
        for value in values {
            match read::<Ticket>(value, convert::ticket_id, "ticket") {
                Ok(t) => {
                    // A deletion whatever the window: the export selects by
                    // `generated_timestamp`, which a deletion or a scrub moves without moving
                    // `updated_at`, and deleting twice is harmless.
                    if !self.keeps_ticket(&t) {
                        gone.push(convert::ticket_id(t.id));
                        gone.push(convert::internal_id(t.id));
                        continue;
                    }
                    if let Some(w) = window {
                        if t.updated_at >= w.end {
                            later = true;
                            continue;
                        }
                        if t.updated_at < w.start {
                            continue;
                        }
                    }
                    let access = convert::ticket_access(&t, people);
                    let version = convert::ticket_version(&t, &access);
                    let id = convert::ticket_id(t.id);
                    let item = PendingTicket::Ticket {
                        ticket: Box::new(t),
                        people: people.clone(),
                        access: Box::new(access),
                        version: version.clone(),
                    };
                    out.push(PendingItem::new(id, item).with_version(&version));
                }
                Err(f) => out.push(PendingItem::new(
                    f.id.clone().unwrap_or_default(),
                    PendingTicket::Failed(*f),
                )),
            }
        }
        (out, gone, later)
    }

    /// The batch of a page of tickets: one fingerprint lookup for both documents of each
    /// ticket; an unchanged ticket reports both unchanged without a comment request (the
    /// internal notes' one when the store holds its version), the others are read.
    async fn ticket_batch(
        &self,
        ctx: &SyncContext,
        items: Vec<PendingItem<PendingTicket>>,
    ) -> Result<Batch> {
        let mut ids = Vec::with_capacity(items.len() * 2);
        for item in &items {
            if item.fingerprint.is_some() {
                ids.push(item.id.clone());
                ids.push(format!("{}:internal", item.id));
            }
        }
        let known = KnownFingerprints::lookup(ctx, &ids).await?;
        let mut unchanged = Vec::new();
        let mut rest = Vec::with_capacity(items.len());
        for item in items {
            match (&item.fingerprint, &item.value) {
                (Some(fp), PendingTicket::Ticket { version, .. })
                    if known.is_unchanged(&item.id, fp) =>
                {
                    let internal = format!("{}:internal", item.id);
                    unchanged.push(item.id);
                    if known.has_version(&internal, &format!("{version}|internal")) {
                        unchanged.push(internal);
                    }
                }
                _ => rest.push(PendingItem::new(item.id, item.value)),
            }
        }
        let fetch_walk = self.clone();
        let fetch_ctx = ctx.clone();
        let mut batch = fetch_items(ctx, rest, CONCURRENCY, move |item| {
            fetch_walk.clone().fetch_ticket(fetch_ctx.clone(), item)
        })
        .await?;
        batch.unchanged.extend(unchanged);
        Ok(batch)
    }

    /// One page of a ticket list listed again (an organization's tickets, or a ticket
    /// search): its batch, leaving out the tickets this run listed again already (`listed`),
    /// and the next page's URL. `orgs`: organizations known fresher than any sideload.
    async fn relisted_page(
        &self,
        ctx: &SyncContext,
        url: &str,
        orgs: &[Organization],
        listed: &mut HashSet<u64>,
        links: &mut HashSet<String>,
    ) -> Result<(Batch, Option<String>)> {
        let page = self.client.ticket_page(url).await?;
        let mut people = People::default();
        people.add_users(page.users);
        people.add_orgs(page.organizations);
        people.add_orgs(orgs.iter().cloned());
        let tickets: Vec<Item<Ticket>> = page
            .items
            .into_iter()
            .filter(|t| t.id().is_none_or(|id| listed.insert(id)))
            .collect();
        let people = Arc::new(self.complete_people(people, &tickets).await?);
        let (items, gone, _) = self.ticket_items(tickets, &people, None);
        let batch = self.ticket_batch(ctx, items).await?.with_deleted(gone);
        let next = match page.links.next {
            Some(n) if page.meta.has_more && !links.insert(n.clone()) => {
                return Err(repeated("ticket list"));
            }
            Some(n) if page.meta.has_more => Some(n),
            _ => None,
        };
        Ok((batch, next))
    }

    /// The tickets, page by page, from `from`: the incremental ticket export from its cursor,
    /// or from the window's start (the beginning for a full load), until `end_of_stream`;
    /// then, in an incremental run, the tickets of the organizations changed since the
    /// window's start (their sharing may have changed), listed again.
    fn tickets(
        &self,
        from: ZendeskCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<ZendeskCheckpoint>>> {
        let walk = self.for_run(&ctx);
        async_stream::try_stream! {
            let mut cp = from;
            if cp.done {
                return;
            }
            let start = window.as_ref().map_or(DateTime::<Utc>::UNIX_EPOCH, |w| w.start);
            let mut seen = HashSet::new();
            // The next export page, read while this page's comments were (its cursor).
            let mut ahead: Option<(String, Result<TicketExport>)> = None;
            while cp.orgs_from.is_none() && cp.users_from.is_none() && cp.users_pending.is_empty() {
                ctx.cancellation().check()?;
                let page = match ahead.take() {
                    Some((cursor, got)) if cp.cursor.as_ref() == Some(&cursor) => got?,
                    _ => walk.client.ticket_export(cp.cursor.as_deref(), start).await?,
                };
                let mut people = People::default();
                people.add_users(page.users);
                people.add_orgs(page.organizations);
                let people = Arc::new(walk.complete_people(people, &page.items).await?);
                let (items, gone, later) = walk.ticket_items(page.items, &people, window.as_ref());
                let next = page.after_cursor.clone().filter(|_| !page.end_of_stream);
                let read_next = async {
                    match &next {
                        Some(cursor) => Some(walk.client.ticket_export(Some(cursor), start).await),
                        None => None,
                    }
                };
                let (batch, read) = futures::join!(walk.ticket_batch(&ctx, items), read_next);
                let batch = batch?.with_deleted(gone);
                if let (Some(cursor), Some(read)) = (next, read) {
                    ahead = Some((cursor, read));
                }
                // The next incremental run lists again from the first page holding a ticket
                // changed after this window (it is left out here), else from the end.
                if later && !cp.held {
                    cp.held = true;
                    cp.carry = cp.cursor.clone();
                }
                match page.after_cursor {
                    Some(next) if !page.end_of_stream && !seen.insert(next.clone()) => {
                        Err(repeated("ticket export"))?;
                    }
                    Some(next) => {
                        if !cp.held {
                            cp.carry = Some(next.clone());
                        }
                        cp.cursor = Some(next);
                    }
                    None if page.end_of_stream => {}
                    None => Err(Error::invalid_data(
                        "Zendesk's ticket export sent no `after_cursor` before the end of its stream",
                    )
                    .with_connector(SOURCE))?,
                }
                // A window from the beginning listed every ticket already.
                if page.end_of_stream {
                    match &window {
                        Some(w) if w.start > DateTime::<Utc>::UNIX_EPOCH => {
                            cp.orgs_from = Some(w.start.timestamp());
                        }
                        _ => cp.done = true,
                    }
                }
                let done = cp.done;
                yield CheckpointedBatch::new(batch, cp.clone());
                if done {
                    return;
                }
            }
            let Some(w) = window else {
                return;
            };
            let mut starts = HashSet::new();
            let mut listed = HashSet::new();
            while let Some(from) = cp.orgs_from {
                ctx.cancellation().check()?;
                let page = walk.client.organization_export(from).await?;
                for org in page.organizations {
                    if org.updated_at.is_some_and(|u| u < w.start) {
                        continue;
                    }
                    // Its tickets, then its archived ones (closed over 120 days ago), which
                    // only the search lists.
                    let urls = [
                        walk.client.organization_tickets_url(org.id)?.to_string(),
                        walk.client
                            .ticket_search_url(&format!("organization:{} status:closed", org.id))?
                            .to_string(),
                    ];
                    for first in urls {
                        let mut url = Some(first);
                        let mut links = HashSet::new();
                        while let Some(next) = url.take() {
                            ctx.cancellation().check()?;
                            let orgs = [org.clone()];
                            let (batch, n) = walk
                                .relisted_page(&ctx, &next, &orgs, &mut listed, &mut links)
                                .await?;
                            url = n;
                            yield CheckpointedBatch::new(batch, cp.clone());
                        }
                    }
                }
                match page.end_time {
                    Some(end) if !page.end_of_stream => {
                        if end <= from && !starts.insert(end) {
                            Err(repeated("organization export"))?;
                        }
                        cp.orgs_from = Some(end);
                    }
                    _ => {
                        let ws = w.start.timestamp();
                        cp.orgs_from = None;
                        cp.users_from = Some(cp.users_backlog.map_or(ws, |b| b.min(ws)));
                        // The users a capped run left, first.
                        cp.users_pending = std::mem::take(&mut cp.users_owed);
                    }
                }
                yield CheckpointedBatch::new(Batch::default(), cp.clone());
            }
            // The users changed since the window's start (an e-mail changed): the tickets
            // they requested, are copied on or are assigned, archived ones too, listed again;
            // at most `user_searches` users a run, the rest carried to the next one.
            let since = cp.users_backlog.map_or(w.start.timestamp(), |b| b.min(w.start.timestamp()));
            let mut starts = HashSet::new();
            let mut budget = walk.user_searches;
            loop {
                ctx.cancellation().check()?;
                if let Some(&user) = cp.users_pending.first() {
                    if budget == 0 {
                        // Over the cap: the rest (these users and the export after them) is
                        // the next run's; a resume of this run stops here too.
                        cp.users_owed = std::mem::take(&mut cp.users_pending);
                        cp.users_backlog = cp.users_from.take();
                        cp.done = true;
                        yield CheckpointedBatch::new(Batch::default(), cp.clone());
                        return;
                    }
                    budget -= 1;
                    for role in ["requester", "cc", "assignee"] {
                        let mut url =
                            Some(walk.client.ticket_search_url(&format!("{role}:{user}"))?.to_string());
                        let mut links = HashSet::new();
                        while let Some(next) = url.take() {
                            ctx.cancellation().check()?;
                            let (batch, n) = walk
                                .relisted_page(&ctx, &next, &[], &mut listed, &mut links)
                                .await?;
                            url = n;
                            yield CheckpointedBatch::new(batch, cp.clone());
                        }
                    }
                    cp.users_pending.remove(0);
                    yield CheckpointedBatch::new(Batch::default(), cp.clone());
                    continue;
                }
                let Some(from) = cp.users_from else {
                    break;
                };
                let page = walk.client.user_export(from).await?;
                for user in page.users {
                    let before = user.updated_at.is_some_and(|u| u.timestamp() < since);
                    if !before && !cp.users_pending.contains(&user.id) {
                        cp.users_pending.push(user.id);
                    }
                }
                match page.end_time {
                    Some(end) if !page.end_of_stream => {
                        if end <= from && !starts.insert(end) {
                            Err(repeated("user export"))?;
                        }
                        cp.users_from = Some(end);
                    }
                    _ => cp.users_from = None,
                }
                yield CheckpointedBatch::new(Batch::default(), cp.clone());
            }
            cp.users_backlog = None;
            cp.done = true;
            yield CheckpointedBatch::new(Batch::default(), cp.clone());
        }
        .boxed()
    }

    /// The walk of the configured content from `from`.
    pub(crate) fn checkpointed(
        &self,
        from: ZendeskCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<ZendeskCheckpoint>>> {
        match self.content {
            ContentType::Articles => self.articles(from, window, ctx),
            ContentType::Tickets => self.tickets(from, window, ctx),
        }
    }

    /// Every id of the content: articles by the list, tickets by the export from the
    /// beginning (which, unlike `GET /tickets`, also holds archived tickets); fails, rather
    /// than come back short, when a page cannot be listed.
    pub(crate) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let top = self.for_run(&ctx);
        async_stream::try_stream! {
            let centers = match top.content {
                ContentType::Articles => top.help_centers().await?,
                ContentType::Tickets => Vec::new(),
            };
            let mut walk = match centers.first() {
                Some(hc) => top.on(hc),
                None if top.content == ContentType::Articles => return,
                None => top.clone(),
            };
            let mut at = 0;
            let mut cursor: Option<String> = None;
            let mut seen = HashSet::new();
            loop {
                ctx.cancellation().check()?;
                let mut ids = Vec::new();
                let (next, done) = match walk.content {
                    ContentType::Articles => {
                        let page = walk.client.article_page(cursor.as_deref()).await?;
                        for v in page.items {
                            // One that cannot be read still exists: its id is kept.
                            match v {
                                Item::Read(a) if !walk.keeps_article(&a, false) => {}
                                Item::Read(a) => {
                                    ids.push(convert::article_id(a.id));
                                    if walk.attachments {
                                        for att in walk.client.article_attachments(a.id).await? {
                                            if !att.deleted && att.content_url.is_some() {
                                                ids.push(convert::article_attachment_id(a.id, att.id));
                                            }
                                        }
                                    }
                                }
                                Item::Malformed { id, .. } => ids.extend(id.map(convert::article_id)),
                            }
                        }
                        let more = page.meta.has_more;
                        (page.meta.after_cursor.filter(|_| more), !more)
                    }
                    ContentType::Tickets => {
                        let page = walk.client.ticket_export(cursor.as_deref(), DateTime::<Utc>::UNIX_EPOCH).await?;
                        for v in page.items {
                            match v {
                                Item::Read(t) if !walk.keeps_ticket(&t) => {}
                                Item::Read(t) => {
                                    ids.push(convert::ticket_id(t.id));
                                    if walk.internal {
                                        ids.push(convert::internal_id(t.id));
                                    }
                                    if walk.attachments {
                                        let (comments, _) = walk.client.comments(t.id).await?;
                                        for c in comments.iter().filter(|c| c.public || walk.internal) {
                                            for att in &c.attachments {
                                                if !att.deleted && att.content_url.is_some() {
                                                    ids.push(convert::ticket_attachment_id(t.id, att.id));
                                                }
                                            }
                                        }
                                    }
                                }
                                Item::Malformed { id, .. } => {
                                    if let Some(id) = id {
                                        ids.push(convert::ticket_id(id));
                                        if walk.internal {
                                            ids.push(convert::internal_id(id));
                                        }
                                    }
                                }
                            }
                        }
                        (page.after_cursor, page.end_of_stream)
                    }
                };
                if !ids.is_empty() {
                    yield ids.into_iter().map(SlimDocument::new).collect::<Vec<_>>();
                }
                if done {
                    // The next brand's Help Center, if any.
                    at += 1;
                    match centers.get(at) {
                        Some(hc) => {
                            walk = top.on(hc);
                            cursor = None;
                            seen.clear();
                            continue;
                        }
                        None => break,
                    }
                }
                match next {
                    Some(n) if seen.insert(n.clone()) => cursor = Some(n),
                    _ => Err(repeated("id listing"))?,
                }
            }
        }
        .boxed()
    }

    /// These items again: articles by `GET …/articles/{id}`, tickets by `show_many` and their
    /// comments; one that is gone, not this content's or no longer kept yields nothing.
    pub(crate) fn refetch(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = self.for_run(&ctx);
        async_stream::try_stream! {
            match walk.content {
                ContentType::Articles => {
                    let wanted: Vec<u64> = ids
                        .iter()
                        .filter_map(|id| convert::parse_article_id(id))
                        .collect();
                    let mut wanted = wanted;
                    wanted.sort_unstable();
                    wanted.dedup();
                    if wanted.is_empty() {
                        return;
                    }
                    // Each Help Center in turn, asked for the ids no earlier one had.
                    for hc in walk.help_centers().await? {
                        if wanted.is_empty() {
                            break;
                        }
                        let on = walk.on(&hc);
                        let mut guide = Arc::new(on.guide(&hc).await?);
                        let mut authors = HashMap::new();
                        let mut missing = Vec::new();
                        for chunk in wanted.chunks(50) {
                            let mut values = Vec::new();
                            for id in chunk {
                                ctx.cancellation().check()?;
                                match on.client.article(*id).await? {
                                    Some(v) => values.push(v),
                                    None => missing.push(*id),
                                }
                            }
                            let batch = on
                                .article_batch(&ctx, values, None, false, &mut guide, &mut authors)
                                .await?;
                            if !batch.is_empty() {
                                yield batch;
                            }
                        }
                        wanted = missing;
                    }
                }
                ContentType::Tickets => {
                    let mut wanted: Vec<u64> = ids.iter().filter_map(|id| convert::parse_ticket_id(id)).collect();
                    wanted.sort_unstable();
                    wanted.dedup();
                    for chunk in wanted.chunks(100) {
                        ctx.cancellation().check()?;
                        let answer = walk.client.tickets(chunk).await?;
                        let mut people = People::default();
                        people.add_users(answer.users);
                        people.add_orgs(answer.organizations);
                        let people = Arc::new(walk.complete_people(people, &answer.items).await?);
                        let (items, _, _) = walk.ticket_items(answer.items, &people, None);
                        let batch = walk.ticket_batch(&ctx, items).await?;
                        if !batch.is_empty() {
                            yield batch;
                        }
                    }
                }
            }
        }
        .boxed()
    }

    /// The checks of `check()`: the credentials are taken (Zendesk answers an anonymous
    /// caller with an end user without an id rather than 401), then the content is readable.
    pub(crate) async fn check(&self) -> Result<()> {
        let me = self.client.me().await?;
        if me.user.id.is_none() {
            return Err(Error::new(
                ErrorKind::Unauthenticated,
                "Zendesk did not take the e-mail and API token (it answered as an anonymous user): check credentials.zendesk_email and the token, and that token access is on",
            )
            .with_connector(SOURCE)
            .with_field(TOKEN_FIELD));
        }
        match self.content {
            ContentType::Tickets => {
                if me.user.role.as_deref() != Some("admin") {
                    return Err(Error::new(
                        ErrorKind::PermissionDenied,
                        format!(
                            "the incremental ticket export is for admins, and credentials.zendesk_email is an {}",
                            me.user.role.as_deref().unwrap_or("unknown role")
                        ),
                    )
                    .with_connector(SOURCE)
                    .with_field("credentials.zendesk_email"));
                }
                Ok(())
            }
            ContentType::Articles => {
                for hc in self.help_centers().await? {
                    self.on(&hc).probe(&hc).await?;
                }
                Ok(())
            }
        }
    }

    /// One article of the Help Center `hc`: it is on, in the locale, readable.
    async fn probe(&self, hc: &HelpCenter) -> Result<()> {
        self.client
            .probe_articles()
            .await
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => {
                    let (field, what) = match &self.client.locale {
                        Some(l) => ("locale", format!("the Help Center has no locale {l}")),
                        None => match &hc.brand {
                            Some(b) => ("brands", format!("brand {b} has no Help Center")),
                            None => (
                                "credentials.zendesk_subdomain",
                                "the account has no Help Center turned on".to_owned(),
                            ),
                        },
                    };
                    Error::new(ErrorKind::NotFound, what)
                        .with_connector(SOURCE)
                        .with_field(field)
                        .with_cause(e)
                }
                _ => e,
            })
    }
}
