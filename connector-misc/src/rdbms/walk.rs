//! The walks: keyset pages of each table (or of the query) as checkpointed batches, the id
//! listing for prune, and the refetch of rows by id.

use std::collections::{BTreeMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

use connector_core::pages::read_ahead_by;
use connector_core::rows::ValueRef;
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::checkpoint::{RdbmsCheckpoint, RowKey};
use super::convert::{convert, cursor, key};
use super::db::Connection;
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

/// A full page of the query's rows in a window none of which has a readable
/// `timestamp_column`: the next page has nowhere to start (a table's goes on from the value
/// its last row holds, which a query's rows have no place to be read from again).
fn cursor_error(plan: &Plan, rows: usize) -> Error {
    let name = plan.cursor.as_ref().map_or("", |c| c.name.as_str());
    let rows = match rows {
        1 => "the row of a page has no readable".to_owned(),
        n => format!("none of the {n} rows of a page has a readable"),
    };
    Error::new(
        ErrorKind::InvalidData,
        format!(
            "{rows} `{name}` (a date the server holds that names no day, like `2025-01-00`), so the next page of the query has nowhere to start: raise `page_size`, correct the values, or run a full sync: it reads by id, resolves this failure, and the next window starts after it"
        ),
    )
    .with_connector(plan.source)
    .with_field("timestamp_column")
}

/// Whether the row a page started after by its stored cursor (a key without one) still holds
/// a cursor that names no time: deleted, the server's `(SELECT c … WHERE id = ?)` was NULL
/// and the page empty; edited, the page started after its new value. Either would end the
/// table silently or skip rows, so the page is not handed on.
///
/// # Errors
/// The server's.
async fn key_row_holds(conn: &mut Connection, plan: &Plan, at: &RowKey) -> Result<bool> {
    let (sql, params) = plan.by_ids(std::slice::from_ref(&at.id));
    let mut rows = Rows::new(plan.zone);
    conn.fetch_rows(sql, &params, &plan.types, &mut rows)
        .await?;
    let index = plan.cursor.as_ref().map(|c| c.index);
    Ok(rows.row(0).is_some_and(|row| {
        index.is_some_and(|i| matches!(row.get(i), Some(Ok(ValueRef::Text(_)))))
    }))
}

/// The failure of a table whose page started after a row by its stored cursor, when that
/// row was deleted or changed meanwhile ([`key_row_holds`]).
fn key_row_error(plan: &Plan, at: &RowKey) -> Error {
    let name = plan.cursor.as_ref().map_or("", |c| c.name.as_str());
    Error::new(
        ErrorKind::InvalidData,
        format!(
            "the page went on after the row with id `{}` by its stored `{name}` (which names no day), and that row was deleted or changed meanwhile, so the page may have skipped rows: the next run reads the window again",
            at.id
        ),
    )
    .with_connector(plan.source)
    .with_field("timestamp_column")
}

/// The zone-less cursors already warned of in this process, by source, host, database and
/// column (review22 F5): connector-sync runs each named table as its own job every cycle, and
/// a warning per job per cycle was thousands a day.
static ZONE_WARNED: OnceLock<Mutex<HashSet<ZoneWarned>>> = OnceLock::new();

/// A zone warning's source, host, database and column.
type ZoneWarned = (String, String, String, String);

/// Whether the zone warning for `column` of `database` on `host` has not been given yet in
/// this process (and now is).
fn first_zone_warning(source: &str, host: &str, database: &str, column: &str) -> bool {
    let key = (
        source.to_owned(),
        host.to_owned(),
        database.to_owned(),
        column.to_owned(),
    );
    ZONE_WARNED
        .get_or_init(Mutex::default)
        .lock()
        .map_or(true, |mut warned| warned.insert(key))
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
        // The server's zone answer, asked once a walk (review22 F5).
        let mut zone = None;
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
            if let Some(w) = shared.zone_warning(&mut conn, &plan, &mut zone).await
                && plan.cursor.as_ref().is_some_and(|c| {
                    let at = &shared.config;
                    first_zone_warning(shared.source, &at.host, &at.database, &c.name)
                })
            {
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
                // A page after a row's stored cursor: that row must still be there as it was.
                if let Some(at) = after.as_ref().filter(|a| window.is_some() && a.cursor.is_none())
                    && !key_row_holds(&mut conn, &plan, at).await?
                {
                    let failure =
                        table_failure(&shared, table.as_ref(), key_row_error(&plan, at))?;
                    yield RawPage::Failed { table: label, failure };
                    break;
                }
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
                } else if !done && plan.label.is_some() {
                    // No row's cursor reads: a table's next page starts after the last row
                    // by the value it holds, read by the server (review19 R2.2; once a
                    // failure of the table on every run, which held back every table's
                    // window in one job, review22 F2).
                    if let Some(last) = rows.last() {
                        let id = key(&plan, &last).map_err(|m| listing_error(&plan, m))?;
                        after = Some(RowKey::new(id, None));
                    }
                } else if !done {
                    // A query has nothing to read such a row again from: its walk ends here.
                    Err(cursor_error(&plan, rows.len()))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// review22 F5: the zone warning is given once per process per source, host, database
    /// and column, whatever number of walks (connector-sync's table jobs, every cycle).
    #[test]
    fn the_zone_warning_is_given_once_a_process() {
        let first = |host, column| first_zone_warning("mysql", host, "walk_test_db", column);
        assert!(first("h1", "updated_at"));
        assert!(!first("h1", "updated_at"));
        assert!(!first("h1", "updated_at"));
        assert!(first("h1", "changed"));
        assert!(first("h2", "updated_at"));
        assert!(!first("h2", "updated_at"));
        assert!(first_zone_warning(
            "postgresql",
            "h1",
            "walk_test_db",
            "updated_at"
        ));
    }
}
