//! The listing: record pages as checkpointed batches (each record a document, its attachments
//! downloaded a few at a time), the window's formula, and the id listing for prune.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use connector_core::http::is_body_too_large;
use connector_core::jsonref::JsonRef;
use connector_core::pages::{Outcome, PendingItem, fetch_items, item_failure, read_ahead};
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::value::RawValue;

use super::checkpoint::AirtableCheckpoint;
use super::client::{Client, ListQuery, PAGE_SIZE, offset_gone};
use super::config::is_id;
use super::convert::{
    TableView, attachment_document, attachment_id, attachment_version, record_document, record_id,
    record_version,
};
use super::model::{Attachment, Record, Table};
use super::{OFFSET_TRUST, SOURCE};

/// Attachments downloaded at the same time within a page.
const CONCURRENCY: usize = 4;
/// Times one run restarts a listing whose offset Airtable no longer knows.
const MAX_RESTARTS: u32 = 3;
/// Records asked for by one refetch listing: fewer than a page, and a formula far shorter
/// than the URL's limit.
const REFETCH_CHUNK: usize = 50;
/// Pages of one listing read at most, as a guard against an offset that loops.
const MAX_PAGES: usize = 1_000_000;

/// What the listing needs besides the client; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    pub(crate) base: String,
    pub(crate) table: String,
    pub(crate) view: Option<String>,
    pub(crate) modified_field: Option<String>,
    pub(crate) all_metadata: bool,
    pub(crate) attachments: bool,
    pub(crate) max: u64,
}

/// A page of records read into the items to fetch (records taken apart, their versions and
/// attachments known), with the checkpoint after it.
struct RawPage {
    pending: Vec<PendingItem<Item>>,
    checkpoint: AirtableCheckpoint,
}

/// One item of a page before its fetch.
enum Item {
    Record(Arc<TableView>, Arc<Record>, String),
    Attachment(Arc<TableView>, Arc<Record>, String, Box<Attachment>),
    Failed(Failure),
}

/// The record of an item: moved out when no attachment item shares it, else a copy.
fn owned(record: Arc<Record>) -> Record {
    Arc::try_unwrap(record).unwrap_or_else(|shared| (*shared).clone())
}

/// `t` as Airtable's formulas read a date: ISO 8601, UTC, milliseconds.
fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `text` without the attachment URL `url` (as given, and as errors print it).
fn without_url(text: &str, url: &str) -> String {
    const HIDDEN: &str = "<the attachment's signed URL>";
    let mut text = text.replace(url, HIDDEN);
    if let Ok(parsed) = url::Url::parse(url) {
        for form in [
            parsed.to_string(),
            connector_core::error::redact_url(&parsed),
        ] {
            text = text.replace(&form, HIDDEN);
        }
        if parsed.path().len() > 1 {
            text = text.replace(parsed.path(), "/…");
        }
    }
    text
}

/// `{name}` for a formula, `}` and `\` escaped.
fn field_ref(name: &str) -> String {
    format!("{{{}}}", name.replace('\\', "\\\\").replace('}', "\\}"))
}

/// The formula of a window over the last-modified time: `field`'s value (its record's
/// creation while it is empty), else `LAST_MODIFIED_TIME()`. The bounds are widened by a
/// second on each side (whole seconds; `IS_AFTER`/`IS_BEFORE` are strict), and what comes
/// back is filtered exactly by the field where it holds an instant.
pub(crate) fn window_formula(field: Option<&str>, w: &TimeWindow) -> String {
    let time = match field {
        Some(f) => {
            let f = field_ref(f);
            format!("IF({f}, {f}, CREATED_TIME())")
        }
        None => "LAST_MODIFIED_TIME()".to_owned(),
    };
    let lo = w.start.trunc_subsecs(0) - TimeDelta::seconds(1);
    let hi = w.end.trunc_subsecs(0) + TimeDelta::seconds(2);
    // The bounds are parsed explicitly (ISO 8601 with `Z`: UTC), not left to the implicit
    // conversion of a text to a date, which reads a zone-less text in the base's zone.
    format!(
        "AND(IS_AFTER({time}, DATETIME_PARSE('{}')), IS_BEFORE({time}, DATETIME_PARSE('{}')))",
        stamp(lo),
        stamp(hi)
    )
}

impl Walk {
    /// The walk of one run: its requests counted into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            client: self.client.with_context(ctx),
            ..self.clone()
        }
    }

    /// The table's schema, indexed. A token without `schema.bases:read` (403) reads the
    /// records all the same, their fields typed by their values.
    ///
    /// # Errors
    /// `NotFound` naming `table_name_or_id` or `modified_time_field` when the schema does not
    /// list it; the schema request's other errors.
    pub(crate) async fn table_view(&self) -> Result<TableView> {
        let table = match self.client.tables().await {
            Ok(tables) => tables
                .tables
                .into_iter()
                .find(|t| t.id == self.table || t.name == self.table)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::NotFound,
                        format!(
                            "the base {} has no table {:?} (by id or name)",
                            self.base, self.table
                        ),
                    )
                    .with_connector(SOURCE)
                    .with_field("table_name_or_id")
                })?,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                tracing::warn!(
                    connector = SOURCE,
                    "the base's schema cannot be read (the token lacks schema.bases:read?); fields are typed by their values: {e}"
                );
                Table {
                    id: self.table.clone(),
                    name: self.table.clone(),
                    primary_field_id: String::new(),
                    fields: Vec::new(),
                }
            }
            Err(e) => return Err(e),
        };
        let modified = match &self.modified_field {
            Some(wanted) if table.fields.is_empty() => Some(wanted.clone()),
            Some(wanted) => Some(
                table
                    .fields
                    .iter()
                    .find(|f| f.id == *wanted || f.name == *wanted)
                    .map(|f| f.name.clone())
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::NotFound,
                            format!("the table {} has no field {wanted:?}", table.name),
                        )
                        .with_connector(SOURCE)
                        .with_field("modified_time_field")
                    })?,
            ),
            None => table
                .fields
                .iter()
                .find(|f| f.watches_everything())
                .map(|f| f.name.clone()),
        };
        Ok(TableView::new(
            &self.base,
            table,
            modified,
            self.all_metadata,
        ))
    }

    /// The listing from `from` on, each page with the checkpoint after it. The next page is
    /// asked for, and its records taken apart, while this one is converted and its
    /// attachments downloaded ([`read_ahead`]).
    pub(crate) fn checkpointed(
        &self,
        from: AirtableCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<AirtableCheckpoint>>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            if from.is_done() {
                return;
            }
            if let Some(w) = &window && w.is_empty() {
                yield CheckpointedBatch::new(Default::default(), AirtableCheckpoint { started: true, ..Default::default() });
                return;
            }
            let mut pages = read_ahead(walk.clone().raw_pages(from, window, ctx.clone()));
            while let Some(page) = pages.next().await {
                let RawPage { pending, checkpoint } = page?;
                // A record is converted at once (no request); only attachments are fetched.
                let batch = fetch_items(&ctx, pending, CONCURRENCY, |item| match item {
                    Item::Record(view, record, version) => futures::future::Either::Left(
                        std::future::ready(Ok(record_document(&view, owned(record), &version).into())),
                    ),
                    other => {
                        let walk = walk.clone();
                        futures::future::Either::Right(Box::pin(async move { walk.fetch(other).await }))
                    }
                })
                .await?;
                let done = checkpoint.is_done();
                yield CheckpointedBatch::new(batch, checkpoint);
                if done {
                    break;
                }
            }
        }
        .boxed()
    }

    /// The record pages from `from` on, each read into its items ([`admit`](Self::admit))
    /// with the checkpoint after it; an offset Airtable no longer knows starts the listing
    /// over (a few times at most). Reading the records here, in the task that lists ahead,
    /// takes that work off the conversion's path.
    fn raw_pages(
        self,
        from: AirtableCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<RawPage>> {
        let walk = self;
        async_stream::try_stream! {
            let mut cp = from;
            // An offset Airtable may have dropped is not followed: the listing starts over.
            let fresh = cp.offset_at.is_some_and(|at| Utc::now() - at < OFFSET_TRUST);
            if cp.offset.is_some() && !fresh {
                tracing::info!(connector = SOURCE, "the checkpoint's offset is older than {}s; the listing starts over", OFFSET_TRUST.num_seconds());
                cp = AirtableCheckpoint::start();
            }
            let view = Arc::new(walk.table_view().await?);
            let query = ListQuery {
                view: walk.view.clone(),
                formula: window.as_ref().map(|w| window_formula(view.modified.as_deref(), w)),
                fields: None,
                page_size: PAGE_SIZE,
            };
            let mut restarts = 0;
            for _ in 0..MAX_PAGES {
                ctx.cancellation().check()?;
                let list = match walk.client.list(&view.table.id, &query, cp.offset.as_deref()).await {
                    Ok(list) => list,
                    Err(e) if offset_gone(&e) && cp.offset.is_some() && restarts < MAX_RESTARTS => {
                        restarts += 1;
                        tracing::warn!(connector = SOURCE, "Airtable no longer knows the listing's offset; it starts over (what was delivered is unchanged by fingerprint): {e}");
                        cp = AirtableCheckpoint::start();
                        continue;
                    }
                    Err(e) => Err(e)?,
                };
                let at = Utc::now();
                let next = list.offset.filter(|n| cp.offset.as_deref() != Some(n.as_str()));
                cp = AirtableCheckpoint {
                    offset_at: next.as_ref().map(|_| at),
                    offset: next,
                    started: true,
                };
                let done = cp.is_done();
                let mut pending = Vec::with_capacity(list.records.len());
                for value in list.records {
                    walk.admit(&view, value, window.as_ref(), &mut pending);
                }
                yield RawPage { pending, checkpoint: cp.clone() };
                if done {
                    break;
                }
            }
        }
        .boxed()
    }

    /// A listed record as items to fetch: the record, then its attachments; none when it is
    /// outside the window; a failure when it does not read.
    fn admit(
        &self,
        view: &Arc<TableView>,
        raw: Box<RawValue>,
        window: Option<&TimeWindow>,
        out: &mut Vec<PendingItem<Item>>,
    ) {
        // The window, the version and the attachments from the fields as listed, read in the
        // same pass as the record's id.
        let read = Record::take_with(raw, |id, created, fields| {
            // Exact filter of the widened query, where the record shows its time.
            if let (Some(w), Some(t)) = (window, view.updated_from(created, fields))
                && !w.contains(t)
            {
                return None;
            }
            let version = record_version(view, id, fields);
            let attachments = if self.attachments {
                view.attachments(fields)
            } else {
                Vec::new()
            };
            Some((version, attachments))
        });
        let (record, (version, attachments)) = match read {
            Ok((record, Some(admitted))) => (record, admitted),
            Ok((_, None)) => return,
            Err((listed_id, e)) => {
                let Some(id) = listed_id else {
                    tracing::warn!(
                        connector = SOURCE,
                        "a listed record without an id is left out: {e}"
                    );
                    return;
                };
                let failure = Failure::new(
                    Some(record_id(&id)),
                    ErrorKind::InvalidData,
                    format!("the record {id} cannot be read: {e}"),
                );
                let failure = match url::Url::parse(&view.record_url(&id)) {
                    Ok(link) => failure.with_link(link),
                    Err(_) => failure,
                };
                out.push(PendingItem::new(record_id(&id), Item::Failed(failure)));
                return;
            }
        };
        let id = record_id(&record.id);
        let record = Arc::new(record);
        out.push(
            PendingItem::new(
                id,
                Item::Record(view.clone(), record.clone(), version.clone()),
            )
            .with_version(&version),
        );
        for (field, a) in attachments {
            let token = attachment_version(&record.id, &a);
            out.push(
                PendingItem::new(
                    attachment_id(&record.id, &a.id),
                    Item::Attachment(view.clone(), record.clone(), field, Box::new(a)),
                )
                .with_version(&token),
            );
        }
    }

    /// An item's outcome: a record converted, an attachment downloaded (now, while its URL
    /// is valid) under the size cap, or a failure.
    async fn fetch(&self, item: Item) -> Result<Outcome> {
        match item {
            Item::Failed(f) => Ok(f.into()),
            Item::Record(view, record, version) => {
                Ok(record_document(&view, owned(record), &version).into())
            }
            Item::Attachment(view, record, field, a) => {
                let id = attachment_id(&record.id, &a.id);
                let name = if a.filename.is_empty() {
                    &a.id
                } else {
                    &a.filename
                };
                if let Some(size) = a.size
                    && size > self.max
                {
                    return Ok(self
                        .too_large(&view, &record.id, id, name, Some(size))
                        .into());
                }
                let Some(url) = a.url.as_deref().filter(|u| !u.is_empty()) else {
                    return Ok(Failure::new(
                        Some(id),
                        ErrorKind::InvalidData,
                        format!(
                            "the attachment {name} of the record {} holds no URL",
                            record.id
                        ),
                    )
                    .into());
                };
                match self.client.download(url, self.max).await {
                    Ok(data) => Ok(attachment_document(&view, &record, &field, &a, data).into()),
                    Err(e) if is_body_too_large(&e) => {
                        Ok(self.too_large(&view, &record.id, id, name, None).into())
                    }
                    Err(e) => {
                        // The signed URL opens the file to anyone for two hours: it stays out of
                        // the failure, which hosts store and show; the record's link stands in.
                        let mut failure = item_failure(id, e)?;
                        failure.message = format!(
                            "the attachment {name} of the record {} could not be downloaded: {}",
                            record.id,
                            without_url(&failure.message, url)
                        );
                        if let Ok(link) = url::Url::parse(&view.record_url(&record.id)) {
                            failure = failure.with_link(link);
                        }
                        Ok(failure.into())
                    }
                }
            }
        }
    }

    fn too_large(
        &self,
        view: &TableView,
        record: &str,
        id: String,
        name: &str,
        size: Option<u64>,
    ) -> Failure {
        let listed = size.map_or_else(String::new, |s| format!(" ({s} bytes)"));
        let failure = Failure::new(
            Some(id),
            ErrorKind::Unsupported,
            format!(
                "the attachment {name}{listed} of the record {record} is larger than max_attachment_size ({} bytes)",
                self.max
            ),
        );
        match url::Url::parse(&view.record_url(record)) {
            Ok(link) => failure.with_link(link),
            Err(_) => failure,
        }
    }

    /// The documents with these ids again (records and attachments of this table), listed
    /// by `RECORD_ID()` a few dozen records a request, with `view`: a record the view now
    /// hides, or one deleted, yields nothing (prune deals with it), so a refetch never widens
    /// the scope. Ids of other connectors are passed over.
    pub(crate) fn refetch(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let wanted: HashSet<String> = ids.into_iter().collect();
            let mut records: Vec<&str> = wanted
                .iter()
                .filter_map(|id| id.strip_prefix("airtable:"))
                .map(|rest| rest.split_once(':').map_or(rest, |(rec, _)| rec))
                .filter(|rec| is_id(rec, "rec"))
                .collect();
            records.sort_unstable();
            records.dedup();
            if records.is_empty() {
                return;
            }
            let view = Arc::new(walk.table_view().await?);
            for chunk in records.chunks(REFETCH_CHUNK) {
                ctx.cancellation().check()?;
                let terms: Vec<String> = chunk.iter().map(|r| format!("RECORD_ID()='{r}'")).collect();
                let query = ListQuery {
                    view: walk.view.clone(),
                    formula: Some(format!("OR({})", terms.join(", "))),
                    fields: None,
                    page_size: PAGE_SIZE,
                };
                let list = walk.client.list(&view.table.id, &query, None).await?;
                let mut pending = Vec::new();
                for value in list.records {
                    walk.admit(&view, value, None, &mut pending);
                }
                pending.retain(|p| wanted.contains(&p.id));
                let batch = fetch_items(&ctx, pending, CONCURRENCY, |item| {
                    let walk = walk.clone();
                    async move { walk.fetch(item).await }
                })
                .await?;
                yield batch;
            }
        }
        .boxed()
    }

    /// Every record id and, with attachments, every attachment id, a page at a time: the
    /// listing asks only for the primary and attachment fields. Fails rather than come back
    /// short (an offset that expires fails it).
    pub(crate) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let view = walk.table_view().await?;
            let fields: Vec<String> = view
                .table
                .fields
                .iter()
                .filter(|f| f.id == view.table.primary_field_id || (walk.attachments && f.kind == "multipleAttachments"))
                .map(|f| f.name.clone())
                .collect();
            let query = ListQuery {
                view: walk.view.clone(),
                formula: None,
                fields: (!fields.is_empty()).then_some(fields),
                page_size: PAGE_SIZE,
            };
            let mut offset: Option<String> = None;
            for _ in 0..MAX_PAGES {
                ctx.cancellation().check()?;
                let list = walk.client.list(&view.table.id, &query, offset.as_deref()).await?;
                let mut ids = Vec::new();
                for raw in list.records {
                    // Only the primary and attachment fields are listed: read whole.
                    let value: JsonRef<'_> = serde_json::from_str(raw.get()).unwrap_or(JsonRef::Null);
                    let Some(rec) = value.get("id").and_then(JsonRef::as_str) else {
                        Err(Error::new(ErrorKind::InvalidData, "a listed record has no id").with_connector(SOURCE))?;
                        continue;
                    };
                    ids.push(SlimDocument::new(record_id(rec)));
                    if !walk.attachments {
                        continue;
                    }
                    for (name, v) in value.get("fields").and_then(JsonRef::as_object).unwrap_or_default() {
                        if !view.is_attachments(name, v) {
                            continue;
                        }
                        for a in v.as_array().unwrap_or_default() {
                            if let Some(att) = a.get("id").and_then(JsonRef::as_str) {
                                ids.push(SlimDocument::new(attachment_id(rec, att)));
                            }
                        }
                    }
                }
                yield ids;
                match list.offset {
                    Some(n) if offset.as_deref() != Some(n.as_str()) => offset = Some(n),
                    _ => break,
                }
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_bounds_are_utc_instants_parsed_explicitly() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap_or_else(|e| panic!("{e}"));
        let w = TimeWindow::new(
            at("2025-03-01T10:20:00.400+02:00"),
            at("2025-03-01T10:40:00Z"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            window_formula(Some("Last {modified}"), &w),
            "AND(IS_AFTER(IF({Last {modified\\}}, {Last {modified\\}}, CREATED_TIME()), DATETIME_PARSE('2025-03-01T08:19:59.000Z')), IS_BEFORE(IF({Last {modified\\}}, {Last {modified\\}}, CREATED_TIME()), DATETIME_PARSE('2025-03-01T10:40:02.000Z')))"
        );
    }
}
