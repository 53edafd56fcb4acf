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

/// Pages a load (no window) asks of one keyset query: its rows are cut into pages of
/// `page_size` as they arrive and each is handed on, with the checkpoint after its last row,
/// before the rows after it are read, so memory is the read-ahead's pages as before, not the
/// query's. Each keyset query can only be sent once the page before it has been read (it starts
/// after that page's last key), so with one page a query the server and the reading task took
/// turns: with nothing converted, 300 queries of 1,000 rows took 1.3-2.9x the wall time of
/// one ordered query, 19 of 16,000 0.8-1.2x (`rdbms` bench, `raw_keyset`, 300k rows, load
/// average 3.5-4.6, session 56). The load's wall time, against one page a query, with 8 pages
/// a query: 0.88x (PostgreSQL), 0.95x (MariaDB); with 16: 0.85x, 0.91x (medians of 10-12
/// alternating rounds), peak RSS 15-16 MiB either way (the read-ahead's pages, now always
/// full).
///
/// Why not one query for the whole table: a statement lives until its last row is read, and
/// past what the socket buffers and the read-ahead hold ([`PAGES_AHEAD`] pages, the page being
/// read, the caller's page) the rows are read only as fast as the caller takes pages. A long
/// statement holds PostgreSQL's snapshot (vacuum waits on it) and counts against
/// `statement_timeout` while the server is blocked writing to a slow reader; on MySQL and
/// MariaDB it holds an InnoDB read view, and the server gives up a write blocked past
/// `net_write_timeout` (60 s by default; a write waits for the caller's time over about one
/// page, since each page the caller takes lets a page's rows be read). A bound of
/// `LOAD_PAGES_A_QUERY` pages (at most [`LOAD_ROWS_A_QUERY`] rows) keeps a statement within
/// the caller's time for about `LOAD_PAGES_A_QUERY - PAGES_AHEAD - 2` pages (ten), less what
/// the socket buffers hold (on loopback with small rows they hold a whole query, and the
/// statement ends at once: the bench shows nothing of statement life), and
/// [`SLOW_HAND_OFF`] leaves the query at the first page a slow caller keeps waiting. A window's pages stay one a query: their ends are chosen by their
/// cursors ([`window_after`]) and a page may need the connection (the key row's look-up)
/// before the next.
const LOAD_PAGES_A_QUERY: u32 = 16;

/// How long a page of a load's query may wait for the caller to take it before the walk
/// treats the caller as slow (review73 M1). The query is then left (the driver reads its
/// rest before the next) and the rest of the table is read one page a query, as before
/// session 56, so that a statement is not kept open for a slow sink (PostgreSQL's
/// `statement_timeout` and a replica's recovery conflicts, MySQL's `max_execution_time`
/// count the time the server waits on its reader). Should the one wait have tripped such a
/// limit, the error shows when the rest is read and that query is run once more, from the
/// last page handed on. A fast caller never waits this long; a sink that embeds or throttles
/// does.
const SLOW_HAND_OFF: std::time::Duration = std::time::Duration::from_secs(1);

/// Rows a load asks of one query at most: fewer pages a query when pages are large (one page a
/// query from this many rows a page, as before), so that a statement's life stays bounded by
/// rows, not only by pages ([`LOAD_PAGES_A_QUERY`]).
const LOAD_ROWS_A_QUERY: u32 = 16_000;

/// Logs that a load's query of `pages` pages failed after the caller was slow to take one
/// ([`SLOW_HAND_OFF`]), and that the walk reads on after its last page handed on.
fn slow_query_failed(source: &str, e: &Error) {
    tracing::warn!(
        connector = source,
        "a load's query of several pages failed while the sink was slow to take a page (a server limit on a statement's time, such as `statement_timeout`, counts that wait): reading on after the last page handed on, one page a query: {e}"
    );
}

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

/// The rows with `id`, as [`Plan::key_row`] reads them: the cursor cell of each, as a page
/// reads it and as the server's text, each distinct pair once and two at most.
///
/// # Errors
/// The server's.
async fn key_rows(conn: &mut Connection, plan: &Plan, id: &Key) -> Result<Rows> {
    let mut rows = Rows::new(plan.zone);
    if let Some((sql, params, types)) = plan.key_row(id) {
        conn.fetch_rows(sql, &params, &types, &mut rows).await?;
    }
    Ok(rows)
}

/// The server's text of the cursor cell of the one row [`key_rows`] read, when no page can
/// read that cell as a time: a date that names none (MariaDB's `2025-01-00`), MySQL's zero
/// date (a NULL to the driver: rdbms53 F5), a PostgreSQL time past chrono's years (review31
/// G3). `None` for a readable time, a NULL, or two rows.
fn stored_text(rows: &Rows) -> Option<String> {
    if rows.len() != 1 {
        return None;
    }
    let row = rows.row(0)?;
    let readable =
        matches!(row.get(0), Some(Ok(v)) if !matches!(v, ValueRef::Text(_) | ValueRef::Null));
    match row.get(1) {
        Some(Ok(ValueRef::Text(t))) if !readable => Some(t.to_owned()),
        _ => None,
    }
}

/// The server's text of the cursor cell of a page's last row that the page read no text of
/// (`null`: it read a NULL, MySQL's zero date; else a cell it could not read, a PostgreSQL
/// time past chrono's years), from the look-up of that row right after the page ([`key_rows`],
/// as [`stored_text`] reads it).
///
/// # Errors
/// What the row [`lost`] when the looked-up cell is not of the kind the page read: the row was
/// edited between the page and the look-up, and its new text (a date that names no day)
/// taken as the page's would skip the rows between (review38 R2). No row or two rows are left
/// to the next page's check, which tells them apart.
fn text_as_the_page_read(rows: &Rows, null: bool) -> Result<Option<String>, &'static str> {
    if rows.len() == 1 {
        let cell = rows.row(0).and_then(|r| r.get(0));
        let same = match cell {
            Some(Ok(ValueRef::Null)) => null,
            Some(Err(_)) => !null,
            _ => false,
        };
        if !same {
            return Err("was changed meanwhile");
        }
    }
    Ok(stored_text(rows))
}

/// Why the row a page started after by its stored cursor (a key without one) no longer
/// holds what the page started after, or `None` when it does. `rows`: the rows with its id
/// ([`key_rows`]); `kept`: the server's text of the cell the page before saw (after a
/// resume, the checkpoint's `after_text`; `None`: unknown, as after an older checkpoint).
/// Deleted, the server's `(SELECT c … WHERE id = ? LIMIT 1)` was NULL and the page empty;
/// edited (review24 F3: to another date that names no day too; review31 G3: from one
/// PostgreSQL time past chrono's years to another), the page started after its new value;
/// another row with the same id and another cursor (review24 F4; review31 G3: two such
/// PostgreSQL times, once equal as "undecodable"), the subquery may have read either. Each
/// would end the table silently or skip rows, so the page is not handed on. Rows that share
/// the id and hold the same cell (a row hash's duplicate rows, a one-to-many join's rows:
/// review28 F1) are one row of `rows`, and the page skips just their `(c, id)` tie, as a
/// page after a readable cursor does: they hold. A NULL holds no place to start after.
fn lost(rows: &Rows, kept: Option<&str>, row_hash: bool) -> Option<&'static str> {
    if rows.len() == 0 {
        return Some(if row_hash {
            "was deleted or changed meanwhile"
        } else {
            "was deleted meanwhile"
        });
    }
    if rows.len() > 1 {
        return Some(if row_hash {
            "shares its row hash with another row that differs in that column"
        } else {
            "is not the only row with that id, and the rows differ in that column (`id_column` must name a unique column)"
        });
    }
    let null = rows
        .row(0)
        .is_some_and(|r| matches!(r.get(1), Some(Ok(ValueRef::Null))));
    match stored_text(rows) {
        Some(now) if kept.is_none_or(|k| k == now) => None,
        None if null => Some("holds NULL there, which no page can start after"),
        _ => Some("was changed meanwhile"),
    }
}

/// The failure of a table (or of the query) whose page started after a row by its stored
/// cursor, when that row `lost` what the page started after ([`lost`]). It holds no
/// id, so the next incremental window starts where this one did and reads the rows again;
/// the walk goes on with the next table.
fn key_row_failure(plan: &Plan, at: &RowKey, lost: &str) -> Failure {
    let name = plan.cursor.as_ref().map_or("", |c| c.name.as_str());
    let what = plan
        .label
        .as_ref()
        .map_or_else(|| "the query".to_owned(), |l| format!("table `{l}`"));
    Failure::new(
        None,
        ErrorKind::InvalidData,
        format!(
            "{what} cannot be read: the page went on after the row with id `{}` by its stored `{name}` (which names no day, or cannot be read), and that row {lost}, so the page may have skipped rows: the next run reads the window again",
            at.id
        ),
    )
}

/// The zone-less cursors already warned of in this process, by source, host, port, database
/// and column (review22 F5; the port since review24 F7: two servers on one host may have
/// different zones): connector-sync runs each named table as its own job every cycle, and a
/// warning per job per cycle was thousands a day.
static ZONE_WARNED: OnceLock<Mutex<HashSet<ZoneWarned>>> = OnceLock::new();

/// A zone warning's source, host, port (as configured), database and column.
type ZoneWarned = (String, String, Option<u16>, String, String);

/// Whether the zone warning for `column` of `database` on `host:port` has not been given yet
/// in this process (and now is).
fn first_zone_warning(
    source: &str,
    host: &str,
    port: Option<u16>,
    database: &str,
    column: &str,
) -> bool {
    let key = (
        source.to_owned(),
        host.to_owned(),
        port,
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
    /// The rows of a page of `plan`'s source, the key of its last row (with its cursor's
    /// text when the key has no cursor: [`RdbmsCheckpoint::after_text`]), and whether it was
    /// the source's last page.
    Rows {
        plan: Arc<Plan>,
        rows: Rows,
        after: Option<RowKey>,
        after_text: Option<String>,
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
/// converted. A load's query asks for up to [`LOAD_PAGES_A_QUERY`] pages, handed on one by one
/// as their rows arrive; a window's asks for one.
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
                            after_text: None,
                            done: true,
                        },
                    ))
                }
                RawPage::Rows {
                    plan,
                    rows,
                    after,
                    after_text,
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
                            after_text,
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
            // The server's text of the cursor cell of the row `after` names when it has no
            // cursor, as its page saw it ([`lost`]; after a resume, the checkpoint's
            // `after_text`: review28 F3).
            let mut kept: Option<String> = None;
            // The cells and text bytes of the last page: the next page's room, with an eighth
            // more so that a page a little larger does not double its buffers.
            let mut room = (0, 0);
            if let (Some(at), Some(l)) = (&from.table, &label) {
                if l < at || (l == at && from.done) {
                    continue;
                }
                if l == at {
                    after.clone_from(&from.after);
                    kept.clone_from(&from.after_text);
                }
            } else if label.is_none() {
                after.clone_from(&from.after);
                kept.clone_from(&from.after_text);
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
                    first_zone_warning(shared.source, &at.host, at.port, &at.database, &c.name)
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
            if window.is_none() {
                // A load: several pages a query, cut as the rows arrive (LOAD_PAGES_A_QUERY).
                let mut pages = (LOAD_ROWS_A_QUERY / limit).clamp(1, LOAD_PAGES_A_QUERY);
                let page_rows = limit as usize;
                // A query left after a slow hand-off: the driver reads the rest of it before
                // the next query, so a server limit it tripped shows there, read again once.
                let mut abandoned = false;
                'queries: loop {
                    ctx.cancellation().check()?;
                    let (sql, params) = plan.page(None, after.as_ref(), limit * pages, false)?;
                    let mut result = conn.rows(sql, &params, &plan.types);
                    let pages_of_query = pages;
                    for page in 1..=pages_of_query {
                        if page > 1 {
                            ctx.cancellation().check()?;
                        }
                        // Room for a page like the last one (the first is sized as it comes).
                        let (cells, text) = room;
                        let mut rows = Rows::with_capacity(
                            plan.zone,
                            page_rows.min(10_000),
                            cells + cells / 8,
                            text + text / 8,
                        );
                        let read = match result.read(&mut rows, page_rows).await {
                            Ok(read) => read,
                            Err(e) if abandoned => {
                                slow_query_failed(shared.source, &e);
                                abandoned = false;
                                continue 'queries;
                            }
                            Err(e) => Err(e)?,
                        };
                        abandoned = false;
                        room = rows.size();
                        // A page that is not full is the table's last, as when each page
                        // was a query; after a full page a query of `page_size` that finds
                        // no row gave the empty last page, and the next page here does.
                        let done = read < page_rows;
                        if !done && page == pages_of_query {
                            // The query's LIMIT is read: its statement ends now, not while
                            // this page waits for the caller.
                            result.end().await?;
                        }
                        // The next page starts after this one's last row.
                        if let Some(last) = rows.last() {
                            let id = key(&plan, &last).map_err(|m| listing_error(&plan, m))?;
                            after = Some(RowKey::new(id, None));
                        }
                        let handed = std::time::Instant::now();
                        yield RawPage::Rows {
                            plan: Arc::clone(&plan),
                            rows,
                            after: after.clone(),
                            after_text: None,
                            done,
                        };
                        if done {
                            break 'queries;
                        }
                        if pages > 1 && handed.elapsed() >= SLOW_HAND_OFF {
                            // A slow caller: the statement is not kept open for it. The rest
                            // of the table comes one page a query, after this page's last row.
                            pages = 1;
                            abandoned = page < pages_of_query;
                            continue 'queries;
                        }
                    }
                }
                continue;
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
                if let Some(at) = after.as_ref().filter(|a| a.cursor.is_none()) {
                    let held = key_rows(&mut conn, &plan, &at.id).await?;
                    if let Some(lost) = lost(&held, kept.as_deref(), plan.row_hash) {
                        let failure = key_row_failure(&plan, at, lost);
                        yield RawPage::Failed { table: label, failure };
                        break;
                    }
                }
                kept = None;
                // The next page starts after this one's last row whose cursor reads.
                if let Some((i, at)) = window_after(&plan, &rows)? {
                    if !done {
                        // The next page reads the rest.
                        rows.truncate(i + 1);
                    }
                    after = Some(at);
                } else if !done {
                    // No row's cursor reads: the next page starts after the last row by the
                    // value it holds, read by the server from the table or the query
                    // (review19 R2.2; once a failure of the table on every run, which held
                    // back every table's window in one job, review22 F2; a query's too,
                    // review24 F1).
                    // Its cell's text, as the page read it or, where the page read none (a
                    // zero date, a PostgreSQL time past chrono's years), as the server
                    // writes it, asked now (review31 G3, rdbms53 F5): the check of the next
                    // page compares the text with the server's again.
                    // The look-up must find the cell as the page read it (a NULL, or one it
                    // could not read), else the row was edited in between (review38 R2).
                    let last = rows.last().map(|last| {
                        let text = match plan.cursor.as_ref().and_then(|c| last.get(c.index)) {
                            Some(Ok(ValueRef::Text(t))) => Ok(t.to_owned()),
                            Some(Ok(ValueRef::Null)) => Err(true),
                            _ => Err(false),
                        };
                        key(&plan, &last).map(|id| (id, text))
                    });
                    if let Some(last) = last {
                        let (id, text) = last.map_err(|m| listing_error(&plan, m))?;
                        let at = RowKey::new(id, None);
                        kept = match text {
                            Ok(t) => Some(t),
                            Err(null) => {
                                let held = key_rows(&mut conn, &plan, &at.id).await?;
                                match text_as_the_page_read(&held, null) {
                                    Ok(text) => text,
                                    Err(lost) => {
                                        let failure = key_row_failure(&plan, &at, lost);
                                        yield RawPage::Failed { table: label, failure };
                                        break;
                                    }
                                }
                            }
                        };
                        after = Some(at);
                    }
                }
                let after_text = kept.clone();
                yield RawPage::Rows {
                    plan: Arc::clone(&plan),
                    rows,
                    after: after.clone(),
                    after_text,
                    done,
                };
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
        let room = conn.decimal_room(wanted.values().flatten().map(String::as_str)).await;
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
            let keys: Vec<Key> = keys.iter().filter_map(|k| plan.parse_key(k, room)).collect();
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

    /// review24 F3, F4, F5, review28 F1 and review31 G3: the key row a page started after
    /// holds when the rows with its id hold one cell, not a readable time nor NULL, whose
    /// server's text is the one the page before saw (the checkpoint's `after_text` after a
    /// resume; any, when an older checkpoint has none); deleted, edited (to a readable time,
    /// to another date that names no day, or from one undecodable time to another) or sharing
    /// its id with a row that holds another value, it does not. `rows`: each distinct cell as
    /// a page reads it (`now` a readable time, `null`, `err` undecodable, else text) and its
    /// server's text.
    #[test]
    fn the_key_row_holds_only_as_the_page_saw_it() {
        use connector_core::rows::Value;
        let rows = |cells: &[(&str, Option<&str>)]| {
            let mut rows = Rows::new(connector_core::window::Zone::utc());
            for (cell, text) in cells {
                match *cell {
                    "now" => rows.push(Value::Int(1)),
                    "null" => rows.push(Value::Null),
                    "err" => rows.push_error("year 263000".to_owned()),
                    t => rows.push(Value::Text(t.to_owned())),
                }
                rows.push(text.map_or(Value::Null, |t| Value::Text(t.to_owned())));
                rows.end_row();
            }
            rows
        };
        let day0 = "2025-01-00 10:00:00";
        let same = rows(&[(day0, Some(day0))]);
        assert_eq!(stored_text(&same).as_deref(), Some(day0));
        assert_eq!(lost(&same, Some(day0), false), None);
        assert_eq!(lost(&same, None, false), None, "after a resume");
        let other = rows(&[("2025-06-00 00:00:00", Some("2025-06-00 00:00:00"))]);
        assert_eq!(
            lost(&other, Some(day0), false),
            Some("was changed meanwhile")
        );
        assert_eq!(lost(&other, None, false), None, "after a resume: any text");
        let readable = rows(&[("now", Some("2025-01-05 10:00:00"))]);
        assert_eq!(stored_text(&readable), None);
        assert_eq!(lost(&readable, None, false), Some("was changed meanwhile"));
        assert_eq!(lost(&rows(&[]), None, false), Some("was deleted meanwhile"));
        // review31 G3: times past chrono's years compare as the server's text, as MySQL's
        // zero date does (rdbms53 F5: once "changed" on every run); a NULL holds no place.
        let far = "263000-01-01 00:00:00";
        let undecodable = rows(&[("err", Some(far))]);
        assert_eq!(stored_text(&undecodable).as_deref(), Some(far));
        assert_eq!(lost(&undecodable, None, false), None);
        assert_eq!(lost(&undecodable, Some(far), false), None);
        assert_eq!(
            lost(&undecodable, Some("265000-01-01 00:00:00"), false),
            Some("was changed meanwhile")
        );
        let zero = rows(&[("null", Some("0000-00-00 10:00:00"))]);
        assert_eq!(lost(&zero, Some("0000-00-00 10:00:00"), false), None);
        let null = rows(&[("null", None)]);
        assert_eq!(stored_text(&null), None);
        assert!(lost(&null, None, false).is_some_and(|m| m.contains("NULL")));
        // review28 F1: rows that share the id and the cell (duplicates under a row hash, a
        // join's rows) are one distinct row and hold, but not rows that differ in it (review31
        // G3: two undecodable times too), nor ones all edited.
        let apart = rows(&[
            (day0, Some(day0)),
            ("2025-01-00 11:00:00", Some("2025-01-00 11:00:00")),
        ]);
        assert!(lost(&apart, Some(day0), false).is_some_and(|m| m.contains("unique")));
        assert!(lost(&apart, None, false).is_some_and(|m| m.contains("unique")));
        let two_far = rows(&[("err", Some(far)), ("err", Some("270000-01-01 00:00:00"))]);
        assert_eq!(stored_text(&two_far), None);
        assert!(lost(&two_far, None, false).is_some_and(|m| m.contains("unique")));
        // A row hash names no `id_column`; an edited row's hash names no row.
        assert!(lost(&apart, None, true).is_some_and(|m| !m.contains("id_column")));
        assert_eq!(
            lost(&rows(&[]), None, true),
            Some("was deleted or changed meanwhile")
        );
    }

    /// review38 R2: the text looked up right after a page that read no text of its last row's
    /// cursor cell is kept only when the cell is still of the kind the page read: a zero date
    /// (a NULL) edited in that moment to a date that names no day is a change, not the page's
    /// text (the rows between were skipped).
    #[test]
    fn the_text_looked_up_after_a_page_is_of_the_cell_it_read() {
        use connector_core::rows::Value;
        let one = |cell: Value, text: Option<&str>| {
            let mut rows = Rows::new(connector_core::window::Zone::utc());
            rows.push(cell);
            rows.push(text.map_or(Value::Null, |t| Value::Text(t.to_owned())));
            rows.end_row();
            rows
        };
        let zero = "0000-00-00 00:00:00";
        assert_eq!(
            text_as_the_page_read(&one(Value::Null, Some(zero)), true),
            Ok(Some(zero.to_owned()))
        );
        // A real NULL: no text; the next page's check says so.
        assert_eq!(
            text_as_the_page_read(&one(Value::Null, None), true),
            Ok(None)
        );
        let no_day = "2025-01-00 09:00:00";
        let edited = one(Value::Text(no_day.to_owned()), Some(no_day));
        assert_eq!(
            text_as_the_page_read(&edited, true),
            Err("was changed meanwhile")
        );
        assert_eq!(
            text_as_the_page_read(&one(Value::Int(1), Some("2025-01-05 10:00:00")), true),
            Err("was changed meanwhile")
        );
        assert_eq!(
            text_as_the_page_read(&one(Value::Null, Some(zero)), false),
            Err("was changed meanwhile")
        );
        let far = "263000-01-01 00:00:00";
        let mut undecodable = Rows::new(connector_core::window::Zone::utc());
        undecodable.push_error("year 263000".to_owned());
        undecodable.push(Value::Text(far.to_owned()));
        undecodable.end_row();
        assert_eq!(
            text_as_the_page_read(&undecodable, false),
            Ok(Some(far.to_owned()))
        );
        assert_eq!(
            text_as_the_page_read(&undecodable, true),
            Err("was changed meanwhile")
        );
        // Deleted meanwhile: the next page's check says so.
        let none = Rows::new(connector_core::window::Zone::utc());
        assert_eq!(text_as_the_page_read(&none, true), Ok(None));
    }

    /// review22 F5: the zone warning is given once per process per source, host, port,
    /// database and column, whatever number of walks (connector-sync's table jobs, every
    /// cycle); review24 F7: a second server on the same host (another port) is warned of.
    #[test]
    fn the_zone_warning_is_given_once_a_process() {
        let first = |host, column| first_zone_warning("mysql", host, None, "walk_test_db", column);
        assert!(first("h1", "updated_at"));
        assert!(!first("h1", "updated_at"));
        assert!(!first("h1", "updated_at"));
        assert!(first("h1", "changed"));
        assert!(first("h2", "updated_at"));
        assert!(!first("h2", "updated_at"));
        let port = |port| first_zone_warning("mysql", "h1", port, "walk_test_db", "updated_at");
        assert!(port(Some(3307)));
        assert!(!port(Some(3307)));
        assert!(port(Some(3306)), "the default port, named");
        assert!(first_zone_warning(
            "postgresql",
            "h1",
            None,
            "walk_test_db",
            "updated_at"
        ));
    }
}
