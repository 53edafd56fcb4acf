//! The walks: keyset pages of each table (or of the query) as checkpointed batches, the id
//! listing for prune, and the refetch of rows by id.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use connector_core::pages::read_ahead_by;
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::checkpoint::{RdbmsCheckpoint, RowKey};
use super::convert::{convert, cursor, key};
use super::page::Rows;
use super::plan::{Plan, Shared, Table};
use super::value::Key;

/// Ids asked per refetch query.
const REFETCH_CHUNK: usize = 500;

/// Pages read and waiting for conversion at most (besides the one being read and the one
/// being converted): with one, the reading task blocked on every page and the load cost more
/// client CPU (`rdbms` bench, 300k rows, PostgreSQL: 0.37-0.41 s against 0.30-0.32 s with
/// four, wall 0.66 -> 0.48 s median at load average 5-6; MariaDB 0.50 -> 0.48 s, wall 0.92 ->
/// 0.85 s). Two did about as well, eight no better; peak RSS stayed 11-13 MiB.
const PAGES_AHEAD: NonZeroUsize = NonZeroUsize::new(4).unwrap();

fn listing_error(plan: &Plan, message: String) -> Error {
    Error::new(ErrorKind::InvalidData, message)
        .with_connector(plan.source)
        .with_field("id_column")
}

/// Where the page of a window that follows `rows` starts: after the last row, or, where its
/// cursor is no time (a date the server holds that has none: MariaDB's `2025-01-00`;
/// review16 F1), after the last row whose cursor reads, rather than the walk stopping there
/// on every run. With that row's index: the next page reads the rows after it again, so a
/// full page hands on only the rows up to it (review19 R5: no document comes twice). `None`:
/// no row of the page has a readable cursor (nor any row at all).
///
/// # Errors
/// The key of the row cannot be read.
fn window_after(plan: &Plan, rows: &Rows) -> Result<Option<(usize, RowKey)>> {
    for i in (0..rows.len()).rev() {
        let Some(row) = rows.row(i) else { continue };
        if let Some(t) = cursor(plan, &row).ok().flatten() {
            let id = key(plan, &row).map_err(|m| listing_error(plan, m))?;
            return Ok(Some((i, RowKey::new(id, Some(t)))));
        }
    }
    Ok(None)
}

/// A full page of a window none of whose rows has a readable `timestamp_column`: the next
/// page has nowhere to start.
fn cursor_error(plan: &Plan, rows: usize) -> Error {
    let name = plan.cursor.as_ref().map_or("", |c| c.name.as_str());
    Error::new(
        ErrorKind::InvalidData,
        format!(
            "none of the {rows} rows of a page has a readable `{name}` (a date the server holds that names no day, like `2025-01-00`), so the next page has nowhere to start: raise `page_size` or correct the values"
        ),
    )
    .with_connector(plan.source)
    .with_field("timestamp_column")
}

/// A table that cannot be read as configured is a failure of its own when there are several
/// (the others are still read); a query, or a connector-wide error, ends the walk.
fn table_failure(shared: &Shared, table: Option<&Table>, e: Error) -> Result<Failure> {
    match table {
        Some(t)
            if shared.query.is_none()
                && !matches!(
                    e.kind(),
                    ErrorKind::Unauthenticated
                        | ErrorKind::Unavailable
                        | ErrorKind::Cancelled
                        | ErrorKind::Timeout
                ) =>
        {
            Ok(Failure::new(
                None,
                e.kind(),
                format!("table `{}` cannot be read: {}", t.label(), e.message()),
            ))
        }
        _ => Err(e),
    }
}

/// One page as the server sent it, before conversion.
enum RawPage {
    /// The rows of a page of `plan`'s source, the key of its last row, and whether it was
    /// the source's last page.
    Rows {
        plan: Arc<Plan>,
        rows: Rows,
        after: Option<RowKey>,
        done: bool,
    },
    /// A table that cannot be read as configured.
    Failed {
        table: Option<String>,
        failure: Failure,
    },
}

/// Every row after `from`, in pages of `page_size`, each with the checkpoint after it.
///
/// The queries run in a task of their own up to [`PAGES_AHEAD`] pages ahead
/// ([`read_ahead_by`]): the server prepares and sends the next pages while this one is
/// converted.
pub(crate) fn checkpointed(
    shared: Arc<Shared>,
    from: RdbmsCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<RdbmsCheckpoint>>> {
    let pages = read_ahead_by(raw_pages(shared, from, window, ctx), PAGES_AHEAD);
    pages
        .map(|page| {
            let page = page?;
            match page {
                RawPage::Failed { table, failure } => {
                    let mut batch = Batch::default();
                    batch.failures.push(failure);
                    Ok(CheckpointedBatch::new(
                        batch,
                        RdbmsCheckpoint {
                            table,
                            after: None,
                            done: true,
                        },
                    ))
                }
                RawPage::Rows {
                    plan,
                    rows,
                    after,
                    done,
                } => {
                    let mut batch = Batch::default();
                    // Room for the page's documents at once, not doubled up to it.
                    batch.documents.reserve_exact(rows.len());
                    for row in rows.iter() {
                        convert(&plan, &row, &mut batch).map_err(|m| listing_error(&plan, m))?;
                    }
                    Ok(CheckpointedBatch::new(
                        batch,
                        RdbmsCheckpoint {
                            table: plan.label.clone(),
                            after,
                            done,
                        },
                    ))
                }
            }
        })
        .boxed()
}

/// The pages of [`checkpointed`] as the server sends them.
fn raw_pages(
    shared: Arc<Shared>,
    from: RdbmsCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<RawPage>> {
    async_stream::try_stream! {
        if window.is_some_and(|w| w.is_empty()) {
            return;
        }
        if window.is_some() && shared.config.timestamp_column.is_none() {
            Err(Error::new(ErrorKind::Unsupported, "a time window needs `timestamp_column`")
                .with_connector(shared.source)
                .with_field("timestamp_column"))?;
        }
        if from.done && from.table.is_none() && shared.query.is_some() {
            return;
        }
        let limit = shared.config.page_size.get();
        let mut conn = shared.connect().await?;
        // The zone-less cursor's warning is given once a run, not once a table.
        let mut zone_warned = false;
        for table in shared.sources(&mut conn).await? {
            let label = table.as_ref().map(Table::label);
            let mut after = None;
            // The cells and text bytes of the last page: the next page's room, with an eighth
            // more so that a page a little larger does not double its buffers.
            let mut room = (0, 0);
            if let (Some(at), Some(l)) = (&from.table, &label) {
                if l < at || (l == at && from.done) {
                    continue;
                }
                if l == at {
                    after.clone_from(&from.after);
                }
            } else if label.is_none() {
                after.clone_from(&from.after);
            }
            let plan = match shared.plan(&mut conn, table.as_ref()).await {
                Ok(p) => Arc::new(p),
                Err(e) => {
                    let failure = table_failure(&shared, table.as_ref(), e)?;
                    yield RawPage::Failed { table: label, failure };
                    continue;
                }
            };
            if !zone_warned && let Some(w) = shared.zone_warning(&mut conn, &plan).await {
                zone_warned = true;
                tracing::warn!(connector = shared.source, "{w}");
            }
            if plan.row_hash {
                tracing::warn!(
                    connector = shared.source,
                    "the query has no `id_column`: each row's document id is a hash of its values, so an edited row is a new document and its old one goes at the next prune; name a unique column in `id_column` to keep ids stable"
                );
            }
            loop {
                ctx.cancellation().check()?;
                let (sql, params) = plan.page(window.as_ref(), after.as_ref(), limit, false)?;
                // Room for a page like the last one (the first is sized as it comes).
                let (cells, text) = room;
                let mut rows = Rows::with_capacity(
                    plan.zone,
                    limit.min(10_000) as usize,
                    cells + cells / 8,
                    text + text / 8,
                );
                conn.fetch_rows(sql, &params, &plan.types, &mut rows).await?;
                room = rows.size();
                let done = (rows.len() as u64) < u64::from(limit);
                // The next page starts after this one's last row.
                if window.is_none() {
                    if let Some(last) = rows.last() {
                        let id = key(&plan, &last).map_err(|m| listing_error(&plan, m))?;
                        after = Some(RowKey::new(id, None));
                    }
                } else if let Some((i, at)) = window_after(&plan, &rows)? {
                    if !done {
                        // The next page reads the rest.
                        rows.truncate(i + 1);
                    }
                    after = Some(at);
                } else if !done {
                    // A failure of this table (held back to be tried again by the next
                    // window, review19 R2); the next table is still read. A query has
                    // nothing else to read: its walk ends here.
                    let failure =
                        table_failure(&shared, table.as_ref(), cursor_error(&plan, rows.len()))?;
                    yield RawPage::Failed { table: label, failure };
                    break;
                }
                yield RawPage::Rows { plan: Arc::clone(&plan), rows, after: after.clone(), done };
                if done {
                    break;
                }
            }
        }
        conn.close().await;
    }
    .boxed()
}

/// Every document id, table by table, page by page; fails rather than come back short.
pub(crate) fn list_ids(
    shared: Arc<Shared>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    async_stream::try_stream! {
        let limit = shared.config.page_size.get().max(1000);
        let mut conn = shared.connect().await?;
        for table in shared.sources(&mut conn).await? {
            let plan = shared.plan(&mut conn, table.as_ref()).await?;
            // The id is the only column selected.
            let one = plan.id_only();
            let mut after: Option<RowKey> = None;
            loop {
                ctx.cancellation().check()?;
                let (sql, params) = plan.page(None, after.as_ref(), limit, true)?;
                let mut rows = Rows::new(plan.zone);
                // The id alone, never a date or time.
                conn.fetch_rows(sql, &params, &[], &mut rows).await?;
                let mut ids = Vec::with_capacity(rows.len());
                let mut last = None;
                for row in rows.iter() {
                    let k = key(&one, &row).map_err(|m| listing_error(&plan, m))?;
                    ids.push(SlimDocument { id: plan.doc_id(&k) });
                    last = Some(k);
                }
                let done = ids.len() < limit as usize;
                if !ids.is_empty() {
                    yield ids;
                }
                match last {
                    Some(id) if !done => after = Some(RowKey::new(id, None)),
                    _ => break,
                }
            }
        }
        conn.close().await;
    }
    .boxed()
}

/// The rows named by `ids`, source by source; an id that names no row (or another
/// connector's) yields nothing.
pub(crate) fn refetch(
    shared: Arc<Shared>,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Batch>> {
    async_stream::try_stream! {
        let mut wanted: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
        for id in &ids {
            if let Some((label, key)) = shared.split_id(id) {
                wanted.entry(label).or_default().push(key.to_owned());
            }
        }
        if wanted.is_empty() {
            return;
        }
        let mut conn = shared.connect().await?;
        for (label, keys) in wanted {
            ctx.cancellation().check()?;
            let table = label.as_deref().map(Table::parse);
            let plan = match shared.plan(&mut conn, table.as_ref()).await {
                Ok(p) => p,
                // A table that is gone: its ids yield nothing.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => {
                    let failure = table_failure(&shared, table.as_ref(), e)?;
                    let mut batch = Batch::default();
                    batch.failures.push(failure);
                    yield batch;
                    continue;
                }
            };
            let keys: Vec<Key> = keys.iter().filter_map(|k| plan.id_kind.parse(k)).collect();
            for chunk in keys.chunks(REFETCH_CHUNK) {
                let (sql, params) = plan.by_ids(chunk);
                let mut rows = Rows::new(plan.zone);
                conn.fetch_rows(sql, &params, &plan.types, &mut rows).await?;
                let mut batch = Batch::default();
                for row in rows.iter() {
                    convert(&plan, &row, &mut batch).map_err(|m| listing_error(&plan, m))?;
                }
                yield batch;
            }
        }
        conn.close().await;
    }
    .boxed()
}
