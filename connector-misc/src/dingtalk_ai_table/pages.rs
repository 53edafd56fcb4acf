//! The listing: sheets, then each sheet's record pages as checkpointed batches; the
//! client-side window; refetch by record id; the id listing for prune.

use std::collections::BTreeMap;
use std::sync::Arc;

use connector_core::pages::{PendingItem, fetch_items, read_ahead};
use connector_core::window::Zone;
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::value::RawValue;

use super::SOURCE;
use super::checkpoint::DingtalkAiTableCheckpoint;
use super::client::{Client, PAGE_SIZE};
use super::convert::{SheetView, instant, record_document, record_id, record_version};
use super::model::{Record, Sheet, listed_id};

/// Pages of one sheet read at most, as a guard against a `nextToken` that loops.
const MAX_PAGES: usize = 1_000_000;

/// What the listing needs besides the client; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    pub(crate) base: String,
    /// Only these sheets (ids or names); empty: all.
    pub(crate) only: Vec<String>,
    pub(crate) groups: Vec<String>,
    /// The zone date fields are written in (`time_zone`); `None`: UTC instants.
    pub(crate) zone: Option<Zone>,
}

/// A page of records as listed, with its sheet and the checkpoint after it; or a sheet that
/// could not be read (its failure).
struct RawPage {
    view: Arc<SheetView>,
    records: Vec<Box<RawValue>>,
    failure: Option<Failure>,
    checkpoint: DingtalkAiTableCheckpoint,
}

/// A listed record before its conversion.
enum Item {
    Record(Arc<SheetView>, Box<Record>, String),
    Failed(Failure),
}

impl Walk {
    /// The walk of one run: its requests counted into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            client: self.client.with_context(ctx),
            ..self.clone()
        }
    }

    /// The base's sheets, in the API's order, narrowed to `sheets` when configured.
    ///
    /// # Errors
    /// `NotFound` naming `sheets` when a configured sheet is not in the base; the request's.
    pub(crate) async fn sheets(&self) -> Result<Vec<Sheet>> {
        let all = self.client.sheets().await?.value;
        if self.only.is_empty() {
            return Ok(all);
        }
        for wanted in &self.only {
            if !all.iter().any(|s| s.id == *wanted || s.name == *wanted) {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "the base {} has no sheet {wanted:?} (by id or name)",
                        self.base
                    ),
                )
                .with_connector(SOURCE)
                .with_field("sheets"));
            }
        }
        Ok(all
            .into_iter()
            .filter(|s| self.only.iter().any(|w| *w == s.id || *w == s.name))
            .collect())
    }

    /// The sheet with its fields' types; a field list DingTalk refuses (403) leaves the
    /// values typed by their shape.
    pub(crate) async fn view(&self, sheet: Sheet) -> Result<SheetView> {
        let fields = match self.client.fields(&sheet.id).await {
            Ok(f) => f.value,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                tracing::warn!(connector = SOURCE, sheet = %sheet.id, "the sheet's fields cannot be read; values are rendered by their shape: {e}");
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        Ok(SheetView::new(
            &self.base,
            sheet,
            fields,
            self.groups.clone(),
            self.zone,
        ))
    }

    /// The listing from `from` on, each page with the checkpoint after it; with `window`,
    /// only records last modified within it (the API cannot filter on the modified time, so
    /// every record is listed and the window applied here). The next page is asked for while
    /// this one is converted ([`read_ahead`]).
    pub(crate) fn checkpointed(
        &self,
        from: DingtalkAiTableCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<DingtalkAiTableCheckpoint>>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            if from.done {
                return;
            }
            if let Some(w) = &window && w.is_empty() {
                yield CheckpointedBatch::new(Batch::default(), DingtalkAiTableCheckpoint::finished());
                return;
            }
            let mut pages = read_ahead(walk.raw_pages(from, ctx.clone()));
            while let Some(page) = pages.next().await {
                let page = page?;
                ctx.cancellation().check()?;
                let mut pending = Vec::with_capacity(page.records.len());
                for value in page.records {
                    admit(&page.view, value, window.as_ref(), &mut pending);
                }
                let batch = fetch_items(&ctx, pending, 1, |item| {
                    std::future::ready(Ok::<connector_core::pages::Outcome, Error>(match item {
                        Item::Record(view, record, version) => record_document(&view, *record, &version).into(),
                        Item::Failed(f) => f.into(),
                    }))
                })
                .await?;
                let mut batch = batch;
                batch.failures.extend(page.failure);
                yield CheckpointedBatch::new(batch, page.checkpoint);
            }
        }
        .boxed()
    }

    /// The record pages from `from` on as listed, each with the checkpoint after it.
    fn raw_pages(
        self,
        from: DingtalkAiTableCheckpoint,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<RawPage>> {
        let walk = self;
        async_stream::try_stream! {
            let sheets = walk.sheets().await?;
            let (first, mut token) = match &from.sheet {
                None => (0, None),
                Some(id) => match sheets.iter().position(|s| s.id == *id) {
                    Some(i) => (i, from.next_token.clone()),
                    None => {
                        tracing::info!(connector = SOURCE, sheet = %id, "the checkpoint's sheet is gone; the listing starts over");
                        (0, None)
                    }
                },
            };
            if first >= sheets.len() {
                let view = Arc::new(SheetView::new(&walk.base, Sheet { id: String::new(), name: String::new() }, Vec::new(), Vec::new(), None));
                yield RawPage { view, records: Vec::new(), failure: None, checkpoint: DingtalkAiTableCheckpoint::finished() };
                return;
            }
            for i in first..sheets.len() {
                let view = Arc::new(walk.view(sheets[i].clone()).await?);
                let mut next = token.take();
                let mut restarted = false;
                let after = match sheets.get(i + 1) {
                    Some(s) => DingtalkAiTableCheckpoint { sheet: Some(s.id.clone()), next_token: None, done: false },
                    None => DingtalkAiTableCheckpoint::finished(),
                };
                for _ in 0..MAX_PAGES {
                    ctx.cancellation().check()?;
                    let list = match walk.client.records(&view.sheet.id, next.as_deref(), PAGE_SIZE, true).await {
                        Ok(list) => list,
                        // A sheet `operator_id` may not read (advanced permissions) fails alone;
                        // prune's id listing still fails on it, so nothing of it is deleted.
                        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                            tracing::warn!(connector = SOURCE, sheet = %view.sheet.id, "the sheet's records cannot be read; it is passed over: {e}");
                            let mut failure = Failure::of_item(view.sheet_doc_id(), &e);
                            if let Some(link) = view.link() {
                                failure = failure.with_link(link);
                            }
                            yield RawPage { view: view.clone(), records: Vec::new(), failure: Some(failure), checkpoint: after.clone() };
                            break;
                        }
                        // A resumed `nextToken` DingTalk no longer takes: the sheet starts over.
                        Err(e) if e.kind() == ErrorKind::InvalidData && next.is_some() && !restarted => {
                            tracing::warn!(connector = SOURCE, sheet = %view.sheet.id, "DingTalk refused the listing's nextToken; the sheet starts over: {e}");
                            restarted = true;
                            next = None;
                            continue;
                        }
                        Err(e) => Err(e)?,
                    };
                    let more = following(&view.sheet.id, list.has_more, list.next_token, next.as_deref())?;
                    let checkpoint = match &more {
                        Some(t) => DingtalkAiTableCheckpoint { sheet: Some(view.sheet.id.clone()), next_token: Some(t.clone()), done: false },
                        None => after.clone(),
                    };
                    yield RawPage { view: view.clone(), records: list.records, failure: None, checkpoint };
                    match more {
                        Some(t) => next = Some(t),
                        None => break,
                    }
                }
            }
        }
        .boxed()
    }

    /// The documents with these ids again, one GetRecord each; a record deleted meanwhile
    /// yields nothing (prune deals with it). Ids of other bases or sheets outside `sheets`
    /// are passed over, so a refetch never widens the scope.
    pub(crate) fn refetch(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let prefix = format!("{SOURCE}:{}:", walk.base);
            let mut by_sheet: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for id in &ids {
                if let Some((sheet, record)) = id.strip_prefix(&prefix).and_then(|r| r.split_once(':'))
                    && !record.is_empty() && !record.contains(':')
                {
                    by_sheet.entry(sheet.to_owned()).or_default().push(record.to_owned());
                }
            }
            if by_sheet.is_empty() {
                return;
            }
            let sheets = walk.sheets().await?;
            for (sheet, records) in by_sheet {
                let Some(sheet) = sheets.iter().find(|s| s.id == sheet) else {
                    continue;
                };
                let view = Arc::new(walk.view(sheet.clone()).await?);
                let mut batch = Batch::default();
                for rec in records {
                    ctx.cancellation().check()?;
                    let id = record_id(&walk.base, &view.sheet.id, &rec);
                    match walk.client.record(&view.sheet.id, &rec).await {
                        Ok(Some(record)) => {
                            let version = record_version(&view, &record);
                            batch.documents.push(record_document(&view, record, &version));
                        }
                        Ok(None) => {}
                        Err(e) if !e.kind().is_retryable() && e.kind() != ErrorKind::Unauthenticated => {
                            batch.failures.push(Failure::of_item(id, &e));
                        }
                        Err(e) => Err(e)?,
                    }
                }
                yield batch;
            }
        }
        .boxed()
    }

    /// Every record id of every sheet, a page at a time; fails rather than come back short.
    pub(crate) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            for sheet in walk.sheets().await? {
                let mut next: Option<String> = None;
                for _ in 0..MAX_PAGES {
                    ctx.cancellation().check()?;
                    let list = walk.client.records(&sheet.id, next.as_deref(), PAGE_SIZE, false).await?;
                    let mut ids = Vec::with_capacity(list.records.len());
                    for raw in &list.records {
                        let Some(rec) = listed_id(raw) else {
                            Err(Error::new(ErrorKind::InvalidData, "a listed record has no id").with_connector(SOURCE))?;
                            continue;
                        };
                        ids.push(SlimDocument::new(record_id(&walk.base, &sheet.id, &rec)));
                    }
                    yield ids;
                    match following(&sheet.id, list.has_more, list.next_token, next.as_deref())? {
                        Some(t) => next = Some(t),
                        None => break,
                    }
                }
            }
        }
        .boxed()
    }
    /// Of `ids` (held but not listed), those DingTalk confirms are gone: an id of another
    /// base or of a sheet no longer listed (deleted, or left out of `sheets`) at once; a
    /// record of a listed sheet only when GetRecord says it does not exist. Whether a
    /// `nextToken` is a cursor or an offset is not documented: were it an offset, a record
    /// deleted while the ids are listed would shift a live record past the next page, which
    /// the listing then misses; asked by id, it stays.
    pub(crate) async fn confirm_gone(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> Result<Vec<String>> {
        let walk = self.with_context(&ctx);
        let prefix = format!("{SOURCE}:{}:", walk.base);
        let mut sheets: Option<Vec<Sheet>> = None;
        let mut gone = Vec::with_capacity(ids.len());
        for id in ids {
            ctx.cancellation().check()?;
            let Some((sheet, rec)) = id
                .strip_prefix(&prefix)
                .and_then(|r| r.split_once(':'))
                .filter(|(s, r)| !s.is_empty() && !r.is_empty() && !r.contains(':'))
            else {
                gone.push(id);
                continue;
            };
            let listed = match &sheets {
                Some(all) => all,
                None => sheets.insert(walk.sheets().await?),
            };
            if !listed.iter().any(|s| s.id == sheet) {
                gone.push(id);
                continue;
            }
            let exists = match walk.client.record(sheet, rec).await {
                Ok(found) => found.is_some(),
                // There, if not readable: not gone.
                Err(e) if e.kind() == ErrorKind::InvalidData => true,
                Err(e) => return Err(e),
            };
            if exists {
                tracing::warn!(
                    connector = SOURCE,
                    sheet,
                    record = rec,
                    "a record the id listing missed still exists (edits during the listing?); it is kept"
                );
            } else {
                gone.push(id);
            }
        }
        Ok(gone)
    }
}

/// The `nextToken` of the page after one that said `has_more` and handed out `token`, read
/// with `previous`; none after the last page. A page that says there is more but hands out no
/// token, or the token it was read with, is an error: ending the listing there would make it
/// look complete (and prune delete what it did not reach).
fn following(
    sheet: &str,
    has_more: bool,
    token: Option<String>,
    previous: Option<&str>,
) -> Result<Option<String>> {
    if !has_more {
        return Ok(None);
    }
    match token.filter(|t| !t.is_empty()) {
        Some(t) if previous != Some(t.as_str()) => Ok(Some(t)),
        Some(_) => Err(Error::new(
            ErrorKind::InvalidData,
            format!("DingTalk handed out the same nextToken again for the sheet {sheet}"),
        )
        .with_connector(SOURCE)),
        None => Err(Error::new(
            ErrorKind::InvalidData,
            format!("DingTalk said the sheet {sheet} has more records but gave no nextToken"),
        )
        .with_connector(SOURCE)),
    }
}

/// A listed record as an item to convert; none when it is outside the window; a failure when
/// it does not read.
fn admit(
    view: &Arc<SheetView>,
    raw: Box<RawValue>,
    window: Option<&TimeWindow>,
    out: &mut Vec<PendingItem<Item>>,
) {
    let record = match Record::take(raw) {
        Ok(r) => r,
        Err((listed, e)) => {
            let Some(rec) = listed else {
                tracing::warn!(
                    connector = SOURCE,
                    "a listed record without an id is left out: {e}"
                );
                return;
            };
            let id = record_id(&view.base, &view.sheet.id, &rec);
            let mut failure = Failure::new(
                Some(id.clone()),
                ErrorKind::InvalidData,
                format!(
                    "the record {rec} of the sheet {} cannot be read: {e}",
                    view.sheet.name
                ),
            );
            if let Some(link) = view.link() {
                failure = failure.with_link(link);
            }
            out.push(PendingItem::new(id, Item::Failed(failure)));
            return;
        }
    };
    if let Some(w) = window {
        // A record whose modified time does not read is kept: the fingerprint decides.
        if let Some(t) = instant(record.last_modified_time)
            && !w.contains(t)
        {
            return;
        }
    }
    let version = record_version(view, &record);
    let id = record_id(&view.base, &view.sheet.id, &record.id);
    out.push(
        PendingItem::new(
            id,
            Item::Record(view.clone(), Box::new(record), version.clone()),
        )
        .with_version(&version),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_that_cannot_go_on_is_an_error_not_an_end() {
        assert_eq!(
            following("s", false, Some("t".into()), None).ok(),
            Some(None)
        );
        assert_eq!(
            following("s", true, Some("t2".into()), Some("t1")).ok(),
            Some(Some("t2".to_owned()))
        );
        assert!(following("s", true, None, Some("t1")).is_err());
        assert!(following("s", true, Some(String::new()), None).is_err());
        assert!(following("s", true, Some("t1".into()), Some("t1")).is_err());
    }
}
