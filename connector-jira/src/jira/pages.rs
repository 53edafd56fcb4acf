//! The page walk: search pages as checkpointed batches, the slim id listing and the refetch of
//! named issues.
//!
//! A search page's issues are parsed and filtered here (labels to skip, the exact window); each
//! issue, and each attachment it indexes, then becomes a [`PendingItem`] with the version the
//! search shows (`fields.updated`; the attachment's id and size), and core's [`fetch_items`]
//! does the rest: one fingerprint lookup per page, unchanged items reported without a request,
//! the others fetched a few at a time in page order (an issue pages its further comments, an
//! attachment is downloaded), and every error sorted by the one policy
//! ([`ErrorKind::ends_sync`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use connector_core::ids::hash128;
use connector_core::pages::{Page, PageLimit, PendingItem, fetch_items, paginate, read_ahead};
use connector_core::{
    Batch, CheckpointedBatch, Document, ErrorKind, Failure, NoFingerprints, Result, SlimDocument,
    SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use url::Url;

use super::access::{Permissions, Principals};
use super::checkpoint::{Cursor, JiraCheckpoint};
use super::client::{JiraClient, is_refused_token};
use super::convert::{self, Options, parse_time};
use super::ids::DocIds;
use super::media;
use super::model::{Attachment, Comment, ISSUE_FIELDS, Issue};
use super::restricted::{
    comment_doc_id, comment_document, comment_documents_of, indexes_attachment_shown_by,
    restricted_attachments,
};

/// Items of a page fetched at the same time (an issue may page its comments, an attachment is
/// a download).
const ITEM_CONCURRENCY: usize = 4;

/// Comment pages of one issue (100 comments each) past which the issue fails rather than loops.
const MAX_COMMENT_PAGES: u64 = 10_000;

/// The fields a search asks for: what the documents show and nothing else. Comments also
/// say which attachments only restricted comments show.
pub(super) fn search_fields(options: &Options) -> Vec<&'static str> {
    let mut fields = ISSUE_FIELDS.to_vec();
    fields.push("attachment");
    if options.include_comments || options.include_attachments {
        fields.push("comment");
    }
    fields
}

/// The fields the slim listing asks for: the ids' parts and what decides which attachments
/// and restricted comments have documents.
fn slim_fields(options: &Options) -> Vec<&'static str> {
    let mut fields = vec!["labels", "attachment", "updated", "security"];
    if options.include_attachments {
        fields.extend(["comment", "description"]);
    } else if options.include_permissions && options.include_comments {
        fields.push("comment");
    }
    fields
}

/// What a page walk works with: the client, the options and, with `include_permissions`,
/// what this run has learnt of Jira's permissions.
struct Walk {
    client: JiraClient,
    options: Arc<Options>,
    permissions: Option<Permissions>,
}

impl Walk {
    fn new(client: JiraClient, options: Arc<Options>) -> Self {
        let permissions = options
            .include_permissions
            .then(|| Permissions::new(client.clone()));
        Self {
            client,
            options,
            permissions,
        }
    }

    /// Who may read `issue`, when known (always `None` without `include_permissions`).
    async fn issue_access(&self, issue: &Issue) -> Result<Option<Principals>> {
        match &self.permissions {
            Some(p) => p.issue(issue).await.map(Some),
            None => Ok(None),
        }
    }

    /// Who may read an attachment of `issue`: the issue's readers, or those of the restricted
    /// comment that alone shows it (`shown_by`).
    async fn attachment_access(
        &self,
        issue: &Issue,
        shown_by: Option<&Comment>,
    ) -> Result<Option<Principals>> {
        let access = self.issue_access(issue).await?;
        match (
            &self.permissions,
            shown_by.and_then(|c| c.visibility.as_ref()),
        ) {
            (Some(permissions), Some(visibility)) => Ok(Some(
                permissions
                    .comment(issue, access.as_ref(), visibility)
                    .await?,
            )),
            _ => Ok(access),
        }
    }

    /// An issue's version token (see [`convert::issue_version`]), its access computed from
    /// the lookups the fetch makes anyway; when that fails, a token that matches nothing
    /// stored, so the fetch runs and fails the item by the one policy (or ends the sync).
    async fn issue_version(&self, issue: &Issue) -> Result<String> {
        let options = &*self.options;
        match self.issue_access(issue).await {
            Ok(access) => Ok(convert::issue_version(
                issue,
                options,
                Some(access.as_ref()),
            )),
            Err(e) if e.kind().ends_sync() => Err(e),
            Err(_) => Ok(convert::issue_version(issue, options, None)),
        }
    }

    /// An attachment's version token. With `include_permissions` it holds a hash of the
    /// attachment's access, computed here from the lookups the fetch makes anyway (cached
    /// per project, role and level); when that fails, a token that matches nothing stored,
    /// so the fetch runs and fails the item by the one policy (or ends the sync).
    async fn attachment_version(
        &self,
        issue: &Issue,
        a: &Attachment,
        shown_by: Option<&Comment>,
    ) -> Result<String> {
        let options = &*self.options;
        if self.permissions.is_none() {
            return Ok(convert::attachment_version(a, options, None));
        }
        match self.attachment_access(issue, shown_by).await {
            Ok(access) => Ok(convert::attachment_version(
                a,
                options,
                Some(access.as_ref()),
            )),
            Err(e) if e.kind().ends_sync() => Err(e),
            Err(_) => Ok(convert::attachment_version(a, options, None)),
        }
    }
}

/// The search pages of `window`'s query from `from` on, each with the checkpoint valid after it.
/// `client` already counts into `ctx`'s stats.
pub(super) fn load(
    client: JiraClient,
    options: Arc<Options>,
    from: JiraCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<JiraCheckpoint>>> {
    let fields = search_fields(&options);
    let walk = Walk::new(client, options);
    async_stream::try_stream! {
        let jql = walk.client.jql(window);
        let query = hash128(&jql);
        if let Some(start) = from.cursor_for(&query, window) {
            let mut secured = Secured::default();
            // The next search page does not depend on this one's conversion: fetch it meanwhile.
            let mut pages = read_ahead(search_pages(&walk.client, jql, start, fields));
            while let Some(page) = pages.next().await {
                ctx.cancellation().check()?;
                let page = page?;
                let batch = convert_page(&walk, &ctx, page.items, window, None, &mut secured).await?;
                let checkpoint = JiraCheckpoint::after(&query, window, page.next.as_ref());
                yield CheckpointedBatch::new(batch, checkpoint);
            }
            secured.report();
        }
    }
    .boxed()
}

/// Every issue the query finds (labels to skip left out) and every attachment it indexes: the
/// ids a full load yields, one search page at a time.
pub(super) fn list_ids(
    client: JiraClient,
    options: Arc<Options>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    async_stream::try_stream! {
        let jql = client.jql(None);
        let fields = slim_fields(&options);
        let mut pages = read_ahead(search_pages(&client, jql, Cursor::Start, fields));
        let mut secured = Secured::default();
        while let Some(page) = pages.next().await {
            ctx.cancellation().check()?;
            yield slim_page(&client, page?.items, &options, &mut secured).await?;
        }
    }
    .boxed()
}

/// Fetches each issue named by an id (`{base_url}/browse/KEY` or `KEY::attachment::ID`) with
/// `/issue/{key}`, always in full (no fingerprint skips); an issue that no longer exists yields
/// nothing. An issue that cannot be read fails its ids by the one policy.
pub(super) fn refetch(
    client: JiraClient,
    options: Arc<Options>,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    // The host asked for these items by name: fetch them whatever the store holds.
    let ctx = ctx.with_fingerprints(Arc::new(NoFingerprints));
    let fields = search_fields(&options);
    let keys = issue_keys(&ids, &options.ids);
    let wanted: HashSet<String> = ids.into_iter().collect();
    let walk = Walk::new(client, options);
    async_stream::try_stream! {
        for (key, ids) in keys {
            ctx.cancellation().check()?;
            match walk.client.issue(&key, &fields).await {
                Ok(Some(raw)) => {
                    let mut secured = Secured::default();
                    yield convert_page(&walk, &ctx, vec![raw], None, Some(&wanted), &mut secured).await?;
                    secured.report();
                }
                Ok(None) => {}
                // The one policy, for every id that named the issue.
                Err(e) if e.kind().ends_sync() => Err::<(), _>(e)?,
                Err(e) => {
                    let failures = ids.iter().map(|id| Failure::of_item(id.as_str(), &e)).collect();
                    yield Batch::with_parts(Vec::new(), failures, Vec::new());
                }
            }
        }
    }
    .boxed()
}

/// The search pages of `jql` from `start`, each with `fields`.
fn search_pages(
    client: &JiraClient,
    jql: String,
    start: Cursor,
    fields: Vec<&'static str>,
) -> BoxStream<'static, Result<Page<Vec<Value>, Cursor>>> {
    let client = client.clone();
    let page_size = client.config().page_size();
    let jql: Arc<str> = jql.into();
    let fields: Arc<[&'static str]> = fields.into();
    // One restart per stream: a service that refuses every token must not loop for ever.
    let restarted = Arc::new(AtomicBool::new(false));
    paginate(start, PageLimit::unbounded(), move |cursor| {
        let client = client.clone();
        let jql = Arc::clone(&jql);
        let fields = Arc::clone(&fields);
        let restarted = Arc::clone(&restarted);
        async move { search_page(&client, &jql, cursor, &fields, page_size, &restarted).await }
    })
}

/// One search page, past two ways real sites fail a page that should succeed:
///
/// - a Cloud `nextPageToken` that has expired (a checkpoint resumed days later) is refused
///   with 400 and a message saying so: the search starts again from its first page
///   (documents already delivered come again, with the same ids) rather than fail every
///   resume after; once per stream (`restarted`), so a service that refuses every token
///   fails the sync instead of looping, and only on that message, so a query Jira rejects
///   is an error at once;
/// - a page of large issues that keeps timing out (5xx after core's retries) is asked again
///   with half as many issues, down to one, as Onyx does with its bulk fetches; so is a page
///   larger than core's body cap, which would otherwise fail every run at the same place.
async fn search_page(
    client: &JiraClient,
    jql: &str,
    cursor: Cursor,
    fields: &[&str],
    page_size: u32,
    restarted: &AtomicBool,
) -> Result<Page<Vec<Value>, Cursor>> {
    let mut size = page_size;
    let mut cursor = cursor;
    // A Server walk finds its place by overlapping pages, which one issue cannot.
    let floor = if client.is_cloud().await? { 1 } else { 2 };
    loop {
        match client.search(jql, cursor.clone(), fields, size).await {
            Err(e) if is_refused_token(&e) && !restarted.swap(true, Ordering::Relaxed) => {
                tracing::warn!(error = %e, "Jira refused the stored page token; searching again from the first page");
                cursor = Cursor::Start;
            }
            Err(e) if size > floor && (is_transient(&e) || is_too_large(&e)) => {
                size = size.div_ceil(2).min(size - 1);
                tracing::warn!(error = %e, size, "a search page keeps failing; asking for fewer issues");
            }
            other => return other,
        }
    }
}

/// A failure that a page of fewer issues may not have: 5xx or timeouts after core's retries.
fn is_transient(e: &connector_core::Error) -> bool {
    matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Timeout)
}

/// Core's body cap refusing the page (64 MiB: a page of issues with long descriptions and
/// many comments), which fewer issues per page fit under.
fn is_too_large(e: &connector_core::Error) -> bool {
    connector_core::http::is_body_too_large(e)
}

/// The issues `ids` name (by key or numeric id, as `/issue/{idOrKey}` takes them), each once
/// with the ids that named it, in the order of `ids`.
fn issue_keys(ids: &[String], doc_ids: &DocIds) -> Vec<(String, Vec<String>)> {
    let mut keys: Vec<(String, Vec<String>)> = Vec::new();
    for id in ids {
        let Some(issue) = doc_ids.issue_of(id) else {
            continue;
        };
        match keys.iter_mut().find(|(k, _)| *k == issue.0) {
            Some((_, named)) => named.push(id.clone()),
            None => keys.push((issue.0, vec![id.clone()])),
        }
    }
    keys
}

/// A raw issue's `id` (a string, or a number on some versions) and `key`.
fn raw_id_and_key(raw: &Value) -> (Option<String>, Option<&str>) {
    let id = raw.get("id").and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    (id, raw.get("key").and_then(Value::as_str))
}

/// Issues under a security level left out of a stream (see [`Options::skip_secured`]).
#[derive(Default)]
struct Secured(u64);

impl Secured {
    /// Whether `issue` is left out for its security level; counts it when it is.
    fn skips(&mut self, issue: &Issue, options: &Options) -> bool {
        let skip = options.skip_secured && issue.fields.security.is_some();
        if skip {
            self.0 += 1;
            tracing::debug!(key = %issue.key, "issue under a security level left out");
        }
        skip
    }

    /// One log line for the stream, when it left any issue out.
    fn report(&self) {
        if self.0 > 0 {
            tracing::info!(
                skipped = self.0,
                "Jira issues under a security level were left out: without `include_permissions` their documents would carry no access; set `include_secured_issues` to index them anyway"
            );
        }
    }
}

fn has_skipped_label(labels: &[String], skip: &[String]) -> bool {
    labels
        .iter()
        .any(|l| skip.iter().any(|s| s.eq_ignore_ascii_case(l)))
}

/// The ids of a slim search page: each issue's, its indexed attachments' and, with
/// `include_permissions`, its restricted comments' (paging the comments the search did not
/// embed). An issue that does not parse is listed by its id alone, so that prune never
/// deletes what might exist.
async fn slim_page(
    client: &JiraClient,
    issues: Vec<Value>,
    options: &Options,
    secured: &mut Secured,
) -> Result<Vec<SlimDocument>> {
    let skip = client.config().labels_to_skip.as_slice();
    let mut ids = Vec::with_capacity(issues.len());
    for raw in issues {
        let (raw_id, key) = raw_id_and_key(&raw);
        let Some(id) = options.ids.issue_from(raw_id.as_deref(), key) else {
            continue;
        };
        let issue: Issue = match serde_json::from_value(raw) {
            Ok(issue) => issue,
            Err(_) => {
                ids.push(SlimDocument::new(id));
                continue;
            }
        };
        if has_skipped_label(&issue.fields.labels, skip) || secured.skips(&issue, options) {
            continue;
        }
        ids.push(SlimDocument::new(id));
        let hidden = restricted_attachments(&issue);
        for a in issue
            .fields
            .attachment
            .iter()
            .filter(|a| options.indexes(a))
        {
            if indexes_attachment_shown_by(hidden.get(&a.id).copied(), options) {
                ids.push(SlimDocument::new(
                    options.ids.attachment(&issue.id, &issue.key, &a.id),
                ));
            }
        }
        if options.include_permissions && options.include_comments {
            let comments = all_comments(client, &issue, options).await?;
            for c in comment_documents_of(&comments, options) {
                if let Some(id) = comment_doc_id(&issue, c, options) {
                    ids.push(SlimDocument::new(id));
                }
            }
        }
    }
    Ok(ids)
}

/// What fetching one pending item takes.
enum Fetch {
    /// An issue: its further comments, then its document.
    Issue {
        issue: Arc<Issue>,
        updated: DateTime<Utc>,
    },
    /// One attachment of `issue`: its bytes.
    Attachment {
        issue: Arc<Issue>,
        // Boxed: an attachment is several times the size of the issue variant.
        attachment: Box<Attachment>,
        /// The restricted comment that alone shows it, whose access it takes.
        shown_by: Option<Box<Comment>>,
    },
}

/// A search page's issues as documents, failures and unchanged ids, in page order (an issue
/// and its restricted comments, then its attachments). `only` keeps just these ids (refetch).
async fn convert_page(
    walk: &Walk,
    ctx: &SyncContext,
    issues: Vec<Value>,
    window: Option<TimeWindow>,
    only: Option<&HashSet<String>>,
    secured: &mut Secured,
) -> Result<Batch> {
    let options = &*walk.options;
    let skip = walk.client.config().labels_to_skip.as_slice();
    let wanted = |id: &str| only.is_none_or(|o| o.contains(id));
    let mut batch = Batch::default();
    let mut pending = Vec::new();
    for raw in issues {
        let Some((issue, updated)) = parse(raw, &options.ids, &mut batch.failures) else {
            continue;
        };
        if has_skipped_label(&issue.fields.labels, skip) {
            continue;
        }
        // JQL has minute precision: the exact, half-open window is applied here.
        if window.is_some_and(|w| !w.contains(updated)) || secured.skips(&issue, options) {
            continue;
        }
        let issue = Arc::new(issue);
        let id = options.ids.issue(&issue.id, &issue.key);
        // A restricted comment's document comes with its issue's.
        let of_issue = only.is_some_and(|o| o.iter().any(|w| options.ids.is_comment_of(w, &id)));
        if wanted(&id) || of_issue {
            let version = walk.issue_version(&issue).await?;
            let fetch = Fetch::Issue {
                issue: Arc::clone(&issue),
                updated,
            };
            pending.push(PendingItem::new(id, fetch).with_version(&version));
        }
        let hidden = restricted_attachments(&issue);
        for a in issue
            .fields
            .attachment
            .iter()
            .filter(|a| options.indexes(a))
        {
            let shown_by = hidden.get(&a.id).map(|c| Box::new((*c).clone()));
            if !indexes_attachment_shown_by(shown_by.as_deref(), options) {
                continue;
            }
            let id = options.ids.attachment(&issue.id, &issue.key, &a.id);
            if wanted(&id) {
                let version = walk
                    .attachment_version(&issue, a, shown_by.as_deref())
                    .await?;
                let fetch = Fetch::Attachment {
                    issue: Arc::clone(&issue),
                    attachment: Box::new(a.clone()),
                    shown_by,
                };
                pending.push(PendingItem::new(id, fetch).with_version(&version));
            }
        }
    }
    let fetched = fetch_items(ctx, pending, ITEM_CONCURRENCY, |item| fetch(walk, item)).await?;
    batch.append(fetched);
    Ok(batch)
}

/// One pending item as its documents: an issue's and its restricted comments', or an
/// attachment's.
async fn fetch(walk: &Walk, item: Fetch) -> Result<Vec<Document>> {
    let options = &*walk.options;
    match item {
        Fetch::Issue { issue, updated } => {
            let comments = all_comments(&walk.client, &issue, options).await?;
            let access = walk.issue_access(&issue).await?;
            let media = media::names(&walk.client, &issue, &comments, options).await;
            let mut docs = vec![convert::issue_document(
                &issue,
                &comments,
                &media,
                updated,
                options,
                access.as_ref(),
            )];
            if let Some(permissions) = &walk.permissions {
                for c in comment_documents_of(&comments, options) {
                    let Some(visibility) = &c.visibility else {
                        continue;
                    };
                    let readers = permissions
                        .comment(&issue, access.as_ref(), visibility)
                        .await?;
                    docs.extend(comment_document(&issue, c, &media, options, &readers));
                }
            }
            Ok(docs)
        }
        Fetch::Attachment {
            issue,
            attachment,
            shown_by,
        } => {
            let access = walk.attachment_access(&issue, shown_by.as_deref()).await?;
            let data = walk
                .client
                .download(&attachment, options.attachment_limit)
                .await?;
            Ok(vec![convert::attachment_document(
                &issue,
                &attachment,
                data,
                options,
                access.as_ref(),
            )])
        }
    }
}

/// A search result as an issue and its parsed `updated` time, or `None` with the failure
/// naming it pushed to `failures`.
///
/// A malformed issue never reaches a fetch, so it is always the item's failure (invalid data),
/// linked to the issue when its key is readable.
fn parse(raw: Value, ids: &DocIds, failures: &mut Vec<Failure>) -> Option<(Issue, DateTime<Utc>)> {
    let (raw_id, key) = raw_id_and_key(&raw);
    let id = ids.issue_from(raw_id.as_deref(), key);
    let link = key.and_then(|k| Url::parse(&ids.browse(k)).ok());
    let mut malformed = |id: Option<String>, message: String| {
        let failure = Failure::new(id, ErrorKind::InvalidData, message);
        failures.push(match link.clone() {
            Some(l) => failure.with_link(l),
            None => failure,
        });
        None
    };
    let issue: Issue = match serde_json::from_value(raw) {
        Ok(issue) => issue,
        Err(e) => {
            let name = id.as_deref().unwrap_or("an issue without a key");
            let message = format!("Jira issue `{name}` is malformed: {e}");
            return malformed(id, message);
        }
    };
    let Some(updated) = parse_time(&issue.fields.updated) else {
        let id = ids.issue(&issue.id, &issue.key);
        let message = format!(
            "Jira issue `{id}` has an unreadable `updated` time {:?}",
            issue.fields.updated
        );
        return malformed(Some(id), message);
    };
    Some((issue, updated))
}

/// The embedded comments and, when Jira embedded only the first of them, the rest, paged.
async fn all_comments(
    client: &JiraClient,
    issue: &Issue,
    options: &Options,
) -> Result<Vec<Comment>> {
    if !options.include_comments {
        return Ok(Vec::new());
    }
    let Some(embedded) = &issue.fields.comment else {
        return Ok(Vec::new());
    };
    let mut comments = embedded.comments.clone();
    let total = embedded.total.unwrap_or(0);
    if (comments.len() as u64) < total {
        let from = embedded.start_at.unwrap_or(0) + comments.len() as u64;
        let key = issue.key.clone();
        let c = client.clone();
        let mut rest = paginate(
            from,
            PageLimit::fail_after(MAX_COMMENT_PAGES),
            move |start| {
                let c = c.clone();
                let key = key.clone();
                async move { c.comments(&key, start).await }
            },
        );
        while let Some(page) = rest.try_next().await? {
            comments.extend(page.items.comments);
        }
    }
    Ok(comments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jira::{JiraConfig, JiraConnector};
    use connector_core::{LoadConnector, RefetchConnector};
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn issue(uri: &str, n: u32, attachments: &[u32]) -> Value {
        let attachment: Vec<Value> = attachments
            .iter()
            .map(|a| {
                json!({"id": a.to_string(), "filename": format!("f{a}.txt"), "size": 2,
                       "mimeType": "text/plain",
                       "content": format!("{uri}/secure/attachment/{a}/f{a}.txt")})
            })
            .collect();
        json!({"id": (10000 + n).to_string(), "key": format!("ENG-{n}"), "fields": {
            "summary": format!("Issue {n}"), "updated": "2026-01-15T10:00:00.000+0000",
            "attachment": attachment
        }})
    }

    /// A Server-style Jira with ENG-1 (attachments 1 and 2) and ENG-2 (attachment 3); each
    /// attachment answers with the status given.
    async fn jira(statuses: [u16; 3]) -> (MockServer, JiraConnector) {
        let server = MockServer::start().await;
        let uri = server.uri();
        let issues = [issue(&uri, 1, &[1, 2]), issue(&uri, 2, &[3])];
        Mock::given(method("GET"))
            .and(path("/rest/api/2/search"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "startAt": 0, "maxResults": 100, "total": 2, "issues": issues
            })))
            .mount(&server)
            .await;
        for (a, status) in (1..).zip(statuses) {
            Mock::given(method("GET"))
                .and(path(format!("/secure/attachment/{a}/f{a}.txt")))
                .respond_with(ResponseTemplate::new(status).set_body_string("ok"))
                .mount(&server)
                .await;
        }
        let mut cfg = JiraConfig::new(Url::parse(&uri).unwrap())
            .with_project("ENG")
            .with_token(None, "token")
            .with_allowed_hosts(["127.0.0.1"])
            // These tests read RAGFlow's ids (browse URLs, `KEY::attachment::id`).
            .with_id_scheme(crate::jira::IdScheme::RagflowUrl);
        cfg.include_attachments = true;
        (server, JiraConnector::new(cfg).unwrap())
    }

    async fn load(c: &JiraConnector) -> Result<Batch> {
        let mut stream = c.load(SyncContext::new());
        let mut all = Batch::default();
        while let Some(page) = stream.try_next().await? {
            all.append(page);
        }
        Ok(all)
    }

    #[tokio::test]
    async fn a_forbidden_attachment_is_a_failure_and_the_page_goes_on() {
        let (server, c) = jira([200, 403, 200]).await;
        let all = load(&c).await.unwrap();
        let uri = server.uri();
        let ids: Vec<&str> = all.documents.iter().map(|d| d.id.as_str()).collect();
        let (one, two) = (format!("{uri}/browse/ENG-1"), format!("{uri}/browse/ENG-2"));
        assert_eq!(
            ids,
            [
                one.as_str(),
                "ENG-1::attachment::1",
                two.as_str(),
                "ENG-2::attachment::3"
            ]
        );
        assert_eq!(all.failures.len(), 1, "{:?}", all.failures);
        let failure = &all.failures[0];
        assert_eq!(failure.id.as_deref(), Some("ENG-1::attachment::2"));
        assert_eq!(failure.kind, ErrorKind::PermissionDenied);
        assert!(
            failure.message.contains("ENG-1::attachment::2"),
            "{failure:?}"
        );
    }

    #[tokio::test]
    async fn rejected_credentials_on_an_attachment_end_the_sync() {
        let (_server, c) = jira([200, 401, 200]).await;
        let err = load(&c).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    }

    #[tokio::test]
    async fn refetch_fails_the_ids_of_an_issue_it_may_not_read() {
        let (server, c) = jira([200, 200, 200]).await;
        let uri = server.uri();
        Mock::given(method("GET"))
            .and(path("/rest/api/2/issue/ENG-1"))
            .respond_with(ResponseTemplate::new(403).set_body_json(json!({
                "errorMessages": ["You do not have the permission to see the specified issue."]
            })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/rest/api/2/issue/ENG-2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(issue(&uri, 2, &[3])))
            .mount(&server)
            .await;
        let ids = vec![
            format!("{uri}/browse/ENG-1"),
            "ENG-1::attachment::2".to_owned(),
            "ENG-2::attachment::3".to_owned(),
        ];
        let mut stream = c.fetch(ids.clone(), SyncContext::new());
        let mut all = Batch::default();
        while let Some(page) = stream.try_next().await.unwrap() {
            all.append(page);
        }
        let failed: Vec<&str> = all
            .failures
            .iter()
            .filter_map(|f| f.id.as_deref())
            .collect();
        assert_eq!(failed, [ids[0].as_str(), ids[1].as_str()]);
        assert!(
            all.failures
                .iter()
                .all(|f| f.kind == ErrorKind::PermissionDenied)
        );
        let docs: Vec<&str> = all.documents.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(docs, ["ENG-2::attachment::3"]);
    }

    #[test]
    fn refetch_groups_ids_by_issue_key_in_order() {
        let site = DocIds::new(crate::jira::IdScheme::RagflowUrl, "https://j.local".into());
        let ids = [
            "https://j.local/browse/ENG-2",
            "ENG-1::attachment::7",
            "ENG-2::attachment::9",
            "https://other/browse/X-1",
            "https://j.local/browse/",
            "jira:j.local/issue/10005/attachment/3",
        ]
        .map(str::to_owned);
        let keys = issue_keys(&ids, &site);
        assert_eq!(
            keys,
            [
                ("ENG-2".to_owned(), vec![ids[0].clone(), ids[2].clone()]),
                ("ENG-1".to_owned(), vec![ids[1].clone()]),
                ("10005".to_owned(), vec![ids[5].clone()]),
            ]
        );
    }
}
