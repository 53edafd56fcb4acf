//! The listing: each object's records by `SystemModstamp` and `Id` (keyset), a batch per
//! result page, the deleted records of a poll's window, ids for prune, and refetch by id.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use connector_core::Access;
use connector_core::pages::{PendingItem, fetch_items};
use connector_core::{
    Batch, CheckpointedBatch, Document, Error, ErrorKind, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::SOURCE;
use super::client::{Client, Session};
use super::convert::{
    CHILD_LIMIT, ChildView, FILL_CHUNK, Fields, ObjectView, is_record_id, json_str, keys,
    record_document, record_id, record_version, soql_time, unreadable,
};
use super::records::Records;

/// The id of a listed record, when it reads and has one that reads as a record id.
fn raw_id(record: std::result::Result<Fields<'_>, &str>) -> Option<String> {
    raw_ref(record, "Id")
}

/// The field `name` of a listed record, when the record reads and the field is a record id.
fn raw_ref(record: std::result::Result<Fields<'_>, &str>, name: &str) -> Option<String> {
    let id = record.ok()?.get(name).and_then(json_str)?;
    is_record_id(&id).then(|| id.into_owned())
}

/// How far back Salesforce lists deleted records (its limit is 30 days, and the recycle bin
/// keeps them 15): an older window start leaves deletions to prune.
const DELETED_REACH: TimeDelta = TimeDelta::days(29);
/// Pages of one query read at most, as a guard against a `nextRecordsUrl` that loops.
const MAX_PAGES: usize = 1_000_000;
/// Ids asked for by one refetch query.
const REFETCH_CHUNK: usize = 100;
/// Ids one prune query asks for before the next is asked from the last id (its pages come
/// 2,000 a time by `nextRecordsUrl`).
const ID_QUERY_LIMIT: usize = 50_000;

/// Where a resumed Salesforce sync starts: the object being read and the last record
/// delivered of it, by `(SystemModstamp, Id)`, the order the queries read in.
///
/// The next query asks for `SystemModstamp > t OR (SystemModstamp = t AND Id > id)`, so a
/// resume neither skips nor repeats a record, and no query locator (which expires after 15
/// minutes) is ever kept.
///
/// JSON: `{"object": "Contact", "after": {"modstamp": "2025-03-01T10:20:00Z", "id":
/// "003…"}}`; `{"done": true}` once every object is read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SalesforceCheckpoint {
    /// The object being read; none: the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The last record of `object` delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Cursor>,
    /// Whether every object is read.
    #[serde(default)]
    pub done: bool,
}

/// A position in an object's `(SystemModstamp, Id)` order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The record's `SystemModstamp`.
    pub modstamp: DateTime<Utc>,
    /// The record's id.
    pub id: String,
}

impl SalesforceCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }
}

/// What the listing needs; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    pub(crate) objects: Vec<String>,
    /// Whether `objects` is the default list (an object the org lacks is passed over).
    pub(crate) defaults: bool,
    /// The child relationships merged, by object (`child_relationships`).
    pub(crate) children: BTreeMap<String, Vec<String>>,
    pub(crate) org_access: bool,
    pub(crate) limit: usize,
}

/// The `WHERE` of an object's query: the window, the keyset position, published articles.
pub(crate) fn conditions(
    view: &ObjectView,
    window: Option<&TimeWindow>,
    after: Option<&Cursor>,
) -> Vec<String> {
    let mut terms = Vec::new();
    if let Some(w) = window {
        terms.extend(window_terms(w));
    }
    if let Some(c) = after {
        terms.push(keyset_term(c));
    }
    // Knowledge article versions: the published ones (Salesforce refuses a query of them
    // without a `PublishStatus`).
    if view.name.ends_with("__kav") && view.has("PublishStatus") {
        terms.push("PublishStatus = 'Online'".to_owned());
    }
    terms
}

/// `SystemModstamp` within the window `w`.
fn window_terms(w: &TimeWindow) -> [String; 2] {
    // Salesforce stamps in milliseconds: the end is rounded up to one (the records between it
    // and the end proper are filtered out exactly as they are read).
    let end = w
        .end
        .duration_round_up(TimeDelta::milliseconds(1))
        .unwrap_or(w.end);
    [
        format!("SystemModstamp >= {}", soql_time(w.start)),
        format!("SystemModstamp < {}", soql_time(end)),
    ]
}

/// The records after `c` in `(SystemModstamp, Id)` order.
fn keyset_term(c: &Cursor) -> String {
    // The id was checked (letters and digits) before it was saved and when it is read.
    let t = soql_time(c.modstamp);
    format!(
        "(SystemModstamp > {t} OR (SystemModstamp = {t} AND Id > '{}'))",
        c.id
    )
}

/// The key of the last record of a page that has readable keys.
fn last_cursor(records: &Records) -> Option<Cursor> {
    records.iter().rev().find_map(|r| {
        let (id, modstamp) = keys(&r.ok()?).ok()?;
        Some(Cursor { modstamp, id })
    })
}

/// The id of the last record of a page that has one.
fn last_id(records: &Records) -> Option<String> {
    records.iter().rev().find_map(raw_id)
}

/// Record `i` of `records` written again from `record`, after it was changed as a map.
fn replace(records: &mut Records, i: usize, record: &Map<String, Value>) -> Result<()> {
    records.replace(i, record).map_err(|e| {
        Error::internal("a record could not be written as JSON")
            .with_connector(SOURCE)
            .with_cause(e)
    })
}

/// Which REST resource a keyset query goes to.
#[derive(Clone, Copy)]
enum Resource {
    /// `query`: live records.
    Query,
    /// `queryAll`: the recycle bin's records too.
    QueryAll,
}

/// The records of `view` with these ids (letters and digits, checked), from the id `after`
/// on, in id order.
fn by_ids(view: &ObjectView, ids: &[String], after: Option<&String>) -> String {
    let list: Vec<String> = ids.iter().map(|i| format!("'{i}'")).collect();
    let mut terms = conditions(view, None, None);
    terms.push(format!("Id IN ({})", list.join(", ")));
    if let Some(a) = after {
        terms.push(format!("Id > '{a}'"));
    }
    format!(
        "SELECT {} FROM {} WHERE {} ORDER BY Id ASC LIMIT {}",
        view.select_list(),
        view.name,
        terms.join(" AND "),
        ids.len()
    )
}

/// The keyset query of an object.
pub(crate) fn soql(
    view: &ObjectView,
    window: Option<&TimeWindow>,
    after: Option<&Cursor>,
    limit: usize,
) -> String {
    let terms = conditions(view, window, after);
    let mut q = format!("SELECT {} FROM {}", view.select_list(), view.name);
    if !terms.is_empty() {
        q.push_str(" WHERE ");
        q.push_str(&terms.join(" AND "));
    }
    q.push_str(&format!(
        " ORDER BY SystemModstamp ASC, Id ASC LIMIT {limit}"
    ));
    q
}

impl Walk {
    fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            client: self.client.with_context(ctx),
            ..self.clone()
        }
    }

    /// The describes of the objects, in order; an object the org lacks is passed over when it
    /// is one of the defaults, else an error naming it.
    pub(crate) async fn views(&self) -> Result<Vec<Arc<ObjectView>>> {
        let mut out = Vec::new();
        for name in &self.objects {
            match self.client.describe(name).await {
                Ok(d) if !d.queryable => {
                    return Err(Error::new(
                        ErrorKind::InvalidData,
                        format!("the object {name} cannot be queried"),
                    )
                    .with_connector(SOURCE)
                    .with_field("objects"));
                }
                Ok(d) => {
                    let children = self.child_views(&d).await?;
                    let view = ObjectView::with_children(d, children);
                    if !view.has("SystemModstamp") {
                        return Err(Error::new(
                            ErrorKind::InvalidData,
                            format!(
                                "the object {name} has no SystemModstamp the run-as user may read"
                            ),
                        )
                        .with_connector(SOURCE)
                        .with_field("objects"));
                    }
                    out.push(Arc::new(view));
                }
                Err(e) if e.kind() == ErrorKind::NotFound && self.defaults => {
                    tracing::info!(connector = SOURCE, object = %name, "the org has no such object; it is passed over: {e}");
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        format!("Salesforce has no object {name} the run-as user may read: {e}"),
                    )
                    .with_connector(SOURCE)
                    .with_field("objects"));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The child relationships configured for the object `d` describes, each with its child
    /// object's describe.
    async fn child_views(&self, d: &super::client::Describe) -> Result<Vec<ChildView>> {
        let Some(wanted) = self
            .children
            .iter()
            .find(|(o, _)| o.eq_ignore_ascii_case(&d.name))
            .map(|(_, r)| r)
        else {
            return Ok(Vec::new());
        };
        let field = || format!("child_relationships.{}", d.name);
        let mut out = Vec::with_capacity(wanted.len());
        for name in wanted {
            let Some(rel) = d.child_relationships.iter().find(|r| {
                r.relationship_name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            }) else {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("the object {} has no child relationship {name}", d.name),
                )
                .with_connector(SOURCE)
                .with_field(field()));
            };
            let child = self.client.describe(&rel.child_object).await.map_err(|e| {
                if e.kind() == ErrorKind::NotFound {
                    Error::new(
                        ErrorKind::NotFound,
                        format!(
                            "the run-as user may not read {}, the object of {}'s {name}: {e}",
                            rel.child_object, d.name
                        ),
                    )
                    .with_connector(SOURCE)
                    .with_field(field())
                } else {
                    e
                }
            })?;
            if !child.fields.iter().any(|f| f.name == "SystemModstamp") {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "{} (of {}'s {name}) has no SystemModstamp the run-as user may read: its changes could not be found",
                        rel.child_object, d.name
                    ),
                )
                .with_connector(SOURCE)
                .with_field(field()));
            }
            let relationship = rel.relationship_name.clone().unwrap_or_default();
            out.push(ChildView::new(rel, &relationship, child));
        }
        Ok(out)
    }

    fn access(&self, session: &Session) -> Access {
        match (&session.org, self.org_access) {
            (Some(org), true) => {
                Access::restricted(Vec::new(), vec![format!("{SOURCE}:org:{org}")])
            }
            // Salesforce's sharing is not exposed per record: nobody, unless opted in.
            _ => Access::default(),
        }
    }

    /// A page of records as a batch: the documents, failures of records that do not read, and
    /// (fingerprint) unchanged ids.
    async fn page_batch(
        &self,
        ctx: &SyncContext,
        view: &Arc<ObjectView>,
        records: Records,
        window: Option<&TimeWindow>,
        wanted: Option<&HashSet<String>>,
    ) -> Result<Batch> {
        let mut records = records;
        if !view.more_fields().is_empty() {
            self.fill(view, &mut records).await?;
        }
        if !view.children.is_empty() {
            self.more_children(view, &mut records).await?;
        }
        let session = self.client.session().await?;
        let access = Arc::new(self.access(&session));
        let instance = Arc::new(session.instance.clone());
        let mut pending = Vec::new();
        for fields in records.iter() {
            // Taken apart with the page, without a JSON tree: the keys, the version and the
            // document read the same fields, borrowed from the page's text.
            let fields = match fields {
                Ok(f) => f,
                Err(why) => {
                    let id = format!("{SOURCE}:{}:unreadable", view.name);
                    pending.push(PendingItem::new(id, Err(why.to_owned())));
                    continue;
                }
            };
            match keys(&fields) {
                Err(why) => {
                    let id = fields.get("Id").and_then(json_str).map_or_else(
                        || format!("{SOURCE}:{}:unreadable", view.name),
                        |i| record_id(&i),
                    );
                    pending.push(PendingItem::new(id, Ok((fields, Err(why), String::new()))));
                }
                Ok((id, at)) => {
                    if window.is_some_and(|w| !w.contains(at)) {
                        continue;
                    }
                    let doc_id = record_id(&id);
                    if wanted.is_some_and(|w| !w.contains(&doc_id)) {
                        continue;
                    }
                    let version = record_version(view, &fields);
                    let fingerprint = Document::version_fingerprint(&version);
                    // Computed once, as the keys were: the conversion reuses them, and the
                    // version moves in.
                    let item = PendingItem::new(doc_id, Ok((fields, Ok((id, at)), version)));
                    pending.push(item.with_fingerprint(fingerprint));
                }
            }
        }
        let batch = fetch_items(ctx, pending, 1, |item| {
            let out = match item {
                Ok((fields, keys, version)) => {
                    record_document(view, &fields, keys, &version, &instance, &access)
                }
                Err(why) => unreadable(view, None, &why, &instance),
            };
            std::future::ready(Ok(out))
        })
        .await?;
        Ok(batch)
    }

    /// The rest of each record's children where the subquery's answer held only the first
    /// of them (`done` false): its `nextRecordsUrl` pages, appended to the record's.
    async fn more_children(&self, view: &ObjectView, records: &mut Records) -> Result<()> {
        for i in 0..records.len() {
            if !records.value_holds(i, "\"nextRecordsUrl\"") {
                continue;
            }
            // A record whose fields read but whose values do not all read as JSON (a number
            // past f64, say) fails alone as unreadable, as one the page's read refused does,
            // rather than going on with only the first page of its children.
            let Some(mut record) = records.to_map(i) else {
                if records.fields(i).is_ok() {
                    records.fail(i, "a value of it does not read as JSON");
                }
                continue;
            };
            let mut unread_row = None;
            for c in &view.children {
                let Some(Value::Object(rel)) = record.get_mut(&c.relationship) else {
                    continue;
                };
                for _ in 0..=CHILD_LIMIT {
                    let next = match (rel.get("done"), rel.get("nextRecordsUrl")) {
                        (Some(Value::Bool(false)), Some(Value::String(next))) => next.clone(),
                        _ => break,
                    };
                    let Some(page) = self.client.next_page(&next).await? else {
                        return Err(Error::new(
                            ErrorKind::Unavailable,
                            format!(
                                "Salesforce dropped the cursor of the {} of a {}",
                                c.relationship, view.name
                            ),
                        )
                        .with_connector(SOURCE));
                    };
                    if let Some(Value::Array(rows)) = rel.get_mut("records") {
                        for r in 0..page.records.len() {
                            match page.records.to_map(r) {
                                Some(row) => rows.push(Value::Object(row)),
                                // A child row that does not read would lose the whole
                                // relationship (its rows no longer read as records): the
                                // parent fails instead, naming the relationship.
                                None => {
                                    unread_row.get_or_insert_with(|| c.relationship.clone());
                                }
                            }
                        }
                    }
                    rel.insert("done".to_owned(), Value::Bool(page.done));
                    match page.next_records_url.filter(|_| !page.done) {
                        Some(n) => rel.insert("nextRecordsUrl".to_owned(), Value::String(n)),
                        None => rel.remove("nextRecordsUrl"),
                    };
                }
            }
            match unread_row {
                Some(relationship) => records.fail(
                    i,
                    &format!("a further page of its {relationship} holds a row that does not read"),
                ),
                None => replace(records, i, &record)?,
            }
        }
        Ok(())
    }

    /// Reads the fields of `view` the listing's query had no room for
    /// ([`ObjectView::more_fields`]) for `records`, by id, and adds them to each record. A
    /// record gone meanwhile keeps the fields it was listed with.
    async fn fill(&self, view: &ObjectView, raws: &mut Records) -> Result<()> {
        // Taken apart as maps: the widest objects only.
        let mut records: Vec<Value> = (0..raws.len())
            .map(|i| raws.to_map(i).map_or(Value::Null, Value::Object))
            .collect();
        let mut at: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for (i, r) in records.iter().enumerate() {
            if let Some(id) = r
                .get("Id")
                .and_then(Value::as_str)
                .filter(|i| is_record_id(i))
            {
                at.insert(id.to_owned(), i);
            }
        }
        let mut ids: Vec<&str> = at.keys().map(String::as_str).collect();
        ids.sort_unstable();
        for select in view.more_fields() {
            for chunk in ids.chunks(FILL_CHUNK) {
                // The ids were checked as letters and digits.
                let list: Vec<String> = chunk.iter().map(|i| format!("'{i}'")).collect();
                let q = format!(
                    "SELECT {select} FROM {} WHERE Id IN ({})",
                    view.name,
                    list.join(", ")
                );
                let mut page = self.client.query(&q).await?;
                for _ in 0..MAX_PAGES {
                    let listed = std::mem::take(&mut page.records);
                    for more in 0..listed.len() {
                        let Some(more) = listed.to_map(more) else {
                            continue;
                        };
                        let target = more
                            .get("Id")
                            .and_then(Value::as_str)
                            .and_then(|id| at.get(id))
                            .and_then(|i| records.get_mut(*i))
                            .and_then(Value::as_object_mut);
                        let Some(target) = target else { continue };
                        for (k, v) in more {
                            if k != "Id" && k != "attributes" {
                                target.insert(k, v);
                            }
                        }
                    }
                    match page.next_records_url.take().filter(|_| !page.done) {
                        Some(next) => {
                            match self.client.next_page(&next).await? {
                                Some(p) => page = p,
                                None => {
                                    return Err(Error::new(
                                    ErrorKind::Unavailable,
                                    format!("Salesforce dropped the cursor of the further fields of {}", view.name),
                                )
                                .with_connector(SOURCE));
                                }
                            }
                        }
                        None => break,
                    }
                }
            }
        }
        for (i, record) in records.iter().enumerate() {
            if let Value::Object(record) = record {
                replace(raws, i, record)?;
            }
        }
        Ok(())
    }

    /// The ids of the Knowledge article versions of `view` archived within `w` (a newer
    /// version was published, or the article archived): Salesforce does not list them as
    /// deleted, and the listing reads `Online` versions only, so without this the old version
    /// stays indexed beside the new one until prune. By `ArchivedDate` where the run-as user
    /// may read it, else by `SystemModstamp`.
    async fn archived(&self, view: &ObjectView, w: &TimeWindow) -> Result<Vec<String>> {
        if !(view.name.ends_with("__kav") && view.has("PublishStatus")) {
            return Ok(Vec::new());
        }
        let stamp = if view.has("ArchivedDate") {
            "ArchivedDate"
        } else {
            "SystemModstamp"
        };
        let end = w
            .end
            .duration_round_up(TimeDelta::milliseconds(1))
            .unwrap_or(w.end);
        let q = format!(
            "SELECT Id FROM {} WHERE PublishStatus = 'Archived' AND {stamp} >= {} AND {stamp} < {}",
            view.name,
            soql_time(w.start),
            soql_time(end)
        );
        let mut out = Vec::new();
        let mut page = self.client.query(&q).await?;
        for _ in 0..MAX_PAGES {
            out.extend(
                page.records
                    .iter()
                    .filter_map(raw_id)
                    .map(|i| record_id(&i)),
            );
            match page.next_records_url.take().filter(|_| !page.done) {
                // A lost cursor: the rest are archived again by the next poll's overlap, or
                // by prune.
                Some(next) => match self.client.next_page(&next).await? {
                    Some(p) => page = p,
                    None => break,
                },
                None => break,
            }
        }
        Ok(out)
    }

    /// The records of a keyset query, a result page at a time, each with the key of the last
    /// record read so far: `query(after)` from `from`, then asked again from the last key when
    /// Salesforce no longer holds the query's cursor (`INVALID_QUERY_LOCATOR`: 15 idle
    /// minutes, or the user's eleventh cursor) or the query came back full (`limit` records:
    /// there may be more). Every round reads a page first, so this ends.
    /// Not read ahead: on the loopback bench (two busy cores, batches of 2,000 records) a
    /// read-ahead task made the load 5-10% slower, not faster; measured again with the page
    /// read in one pass (session 44), it took 1-4% off the converting thread's CPU and added
    /// 15% to the process's.
    fn keyset<K, Q>(
        self,
        ctx: SyncContext,
        resource: Resource,
        limit: usize,
        from: Option<K>,
        query: Q,
        key: fn(&Records) -> Option<K>,
    ) -> BoxStream<'static, Result<(Records, Option<K>)>>
    where
        K: Clone + Send + 'static,
        Q: Fn(Option<&K>) -> String + Send + 'static,
    {
        let walk = self;
        let resource = match resource {
            Resource::Query => "query",
            Resource::QueryAll => "queryAll",
        };
        async_stream::try_stream! {
            let mut after = from;
            loop {
                ctx.cancellation().check()?;
                let q = query(after.as_ref());
                let mut page = walk.client.query_at(resource, &q).await?;
                let mut got = 0usize;
                let mut lost = false;
                for _ in 0..MAX_PAGES {
                    let records = std::mem::take(&mut page.records);
                    got += records.len();
                    if let Some(k) = key(&records) {
                        after = Some(k);
                    }
                    yield (records, after.clone());
                    match page.next_records_url.take().filter(|_| !page.done) {
                        Some(next) => {
                            ctx.cancellation().check()?;
                            match walk.client.next_page(&next).await? {
                                Some(p) => page = p,
                                None => {
                                    lost = true;
                                    break;
                                }
                            }
                        }
                        None => break,
                    }
                }
                if !lost && got < limit {
                    break;
                }
            }
        }
        .boxed()
    }

    /// The ids of the parents (of `view`) whose children of `child` were stamped within `w`:
    /// changed, added, or deleted (`queryAll` returns the recycle bin's records, and a
    /// deletion stamps the record).
    async fn changed_parents(
        &self,
        ctx: &SyncContext,
        view: &ObjectView,
        child: &ChildView,
        w: &TimeWindow,
        into: &mut BTreeSet<String>,
    ) -> Result<()> {
        let [start, end] = window_terms(w);
        let (object, field) = (child.object.clone(), child.field.clone());
        let query = move |after: Option<&Cursor>| {
            let mut q = format!(
                "SELECT Id, SystemModstamp, {field} FROM {object} WHERE {start} AND {end} AND {field} != null"
            );
            if let Some(c) = after {
                q.push_str(" AND ");
                q.push_str(&keyset_term(c));
            }
            q.push_str(&format!(
                " ORDER BY SystemModstamp ASC, Id ASC LIMIT {ID_QUERY_LIMIT}"
            ));
            q
        };
        let mut pages = self.clone().keyset(
            ctx.clone(),
            Resource::QueryAll,
            ID_QUERY_LIMIT,
            None,
            query,
            last_cursor,
        );
        while let Some(page) = pages.next().await {
            let (records, _) = page?;
            into.extend(records.iter().filter_map(|r| raw_ref(r, &child.field)));
        }
        tracing::debug!(connector = SOURCE, object = %view.name, relationship = %child.relationship, parents = into.len(), "parents of changed children");
        Ok(())
    }

    /// The listing from `from` on, a batch per result page with the checkpoint after it.
    pub(crate) fn checkpointed(
        &self,
        from: SalesforceCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<SalesforceCheckpoint>>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            if from.done {
                return;
            }
            if let Some(w) = &window && w.is_empty() {
                yield CheckpointedBatch::new(Batch::default(), SalesforceCheckpoint { done: true, ..Default::default() });
                return;
            }
            let views = walk.views().await?;
            let first = match &from.object {
                Some(name) => views.iter().position(|v| &v.name == name).unwrap_or_else(|| {
                    tracing::info!(connector = SOURCE, object = %name, "the checkpoint's object is no longer configured; the listing starts over");
                    0
                }),
                None => 0,
            };
            let resumed = from.object.is_some() && views.get(first).is_some_and(|v| Some(&v.name) == from.object.as_ref());
            for (i, view) in views.iter().enumerate().skip(first) {
                let mut after = if resumed && i == first { from.after.clone().filter(|c| is_record_id(&c.id)) } else { None };
                // The parents a poll lists itself: their children are read with them.
                let mut listed: HashSet<String> = HashSet::new();
                let poll_children = window.is_some() && !view.children.is_empty();
                let (q_view, q_window, limit) = (Arc::clone(view), window, walk.limit);
                let query = move |after: Option<&Cursor>| soql(&q_view, q_window.as_ref(), after, limit);
                let mut pages = walk.clone().keyset(ctx.clone(), Resource::Query, limit, after.clone(), query, last_cursor);
                while let Some(page) = pages.next().await {
                    let (records, last) = page?;
                    after = last;
                    if poll_children {
                        listed.extend(records.iter().filter_map(raw_id));
                    }
                    let batch = walk.page_batch(&ctx, view, records, window.as_ref(), None).await?;
                    yield CheckpointedBatch::new(batch, SalesforceCheckpoint { object: Some(view.name.clone()), after: after.clone(), done: false });
                }
                if let Some(w) = window.as_ref().filter(|_| poll_children) {
                    // Parents whose children changed in the window, sent again with them (a
                    // resume lists from `after`, then asks for these again).
                    let mut parents = BTreeSet::new();
                    for child in &view.children {
                        walk.changed_parents(&ctx, view, child, w, &mut parents).await?;
                    }
                    let parents: Vec<String> = parents.into_iter().filter(|p| !listed.contains(p)).collect();
                    for chunk in parents.chunks(REFETCH_CHUNK) {
                        let (q_view, ids) = (Arc::clone(view), chunk.to_vec());
                        let query = move |after: Option<&String>| by_ids(&q_view, &ids, after);
                        // Its `LIMIT` holds every id asked for: asked again only for a lost cursor.
                        let mut pages = walk.clone().keyset(ctx.clone(), Resource::Query, chunk.len() + 1, None, query, last_id);
                        while let Some(page) = pages.next().await {
                            let (records, _) = page?;
                            let batch = walk.page_batch(&ctx, view, records, None, None).await?;
                            yield CheckpointedBatch::new(batch, SalesforceCheckpoint { object: Some(view.name.clone()), after: after.clone(), done: false });
                        }
                    }
                }
                let mut end = Batch::default();
                if let Some(w) = &window {
                    let mut gone = walk.deleted(view, w).await?;
                    gone.extend(walk.archived(view, w).await?);
                    end = end.with_deleted(gone);
                }
                let next = views.get(i + 1).map(|v| v.name.clone());
                let done = next.is_none();
                yield CheckpointedBatch::new(end, SalesforceCheckpoint { object: next, after: None, done });
            }
            if views.is_empty() {
                yield CheckpointedBatch::new(Batch::default(), SalesforceCheckpoint { done: true, ..Default::default() });
            }
        }
        .boxed()
    }

    /// The ids of the records of `view` deleted within `w`, as document ids; none when the
    /// window starts before what Salesforce still lists (prune finds those).
    async fn deleted(&self, view: &ObjectView, w: &TimeWindow) -> Result<Vec<String>> {
        let now = Utc::now();
        if now - w.start > DELETED_REACH {
            tracing::info!(connector = SOURCE, object = %view.name, "the window starts more than 29 days ago; deletions are left to prune");
            return Ok(Vec::new());
        }
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        // Salesforce reads whole minutes; the end is kept in the past (it must not be after now).
        let end = w.end.min(now) + TimeDelta::minutes(1);
        match self
            .client
            .deleted(
                &view.name,
                &fmt(w.start - TimeDelta::minutes(1)),
                &fmt(end.min(now)),
            )
            .await
        {
            Ok(list) => Ok(list
                .deleted_records
                .into_iter()
                .filter(|d| is_record_id(&d.id))
                .map(|d| record_id(&d.id))
                .collect()),
            Err(e) if matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::NotFound) => {
                tracing::warn!(connector = SOURCE, object = %view.name, "Salesforce does not list this object's deletions here; they are left to prune: {e}");
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    /// Every record id of every object, a result page at a time; fails rather than come
    /// back short.
    pub(crate) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let views = walk.views().await?;
            for view in views {
                // A keyset by id: a query locator lost midway (15 idle minutes, or the
                // user's eleventh cursor) is met by asking again from the last id.
                let q_view = Arc::clone(&view);
                let query = move |after: Option<&String>| {
                    let mut terms = conditions(&q_view, None, None);
                    if let Some(a) = after {
                        // Checked as letters and digits when it was read.
                        terms.push(format!("Id > '{a}'"));
                    }
                    let mut q = format!("SELECT Id FROM {}", q_view.name);
                    if !terms.is_empty() {
                        q.push_str(" WHERE ");
                        q.push_str(&terms.join(" AND "));
                    }
                    q.push_str(&format!(" ORDER BY Id ASC LIMIT {ID_QUERY_LIMIT}"));
                    q
                };
                let mut pages = walk.clone().keyset(ctx.clone(), Resource::Query, ID_QUERY_LIMIT, None, query, last_id);
                while let Some(page) = pages.next().await {
                    let (records, _) = page?;
                    let mut ids = Vec::with_capacity(records.len());
                    for r in records.iter() {
                        let Some(id) = raw_id(r) else {
                            Err(Error::new(ErrorKind::InvalidData, format!("a listed record of {} has no id", view.name)).with_connector(SOURCE))?;
                            continue;
                        };
                        ids.push(SlimDocument::new(record_id(&id)));
                    }
                    yield ids;
                }
            }
        }
        .boxed()
    }

    /// The records with these document ids again: each id's object by its key prefix, then
    /// `WHERE Id IN (…)` a hundred at a time. A record deleted meanwhile yields nothing.
    pub(crate) fn refetch(
        &self,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = self.with_context(&ctx);
        async_stream::try_stream! {
            let wanted: HashSet<String> = ids.into_iter().filter(|i| i.strip_prefix("salesforce:").is_some_and(is_record_id)).collect();
            if wanted.is_empty() {
                return;
            }
            let views = walk.views().await?;
            for view in views {
                let Some(prefix) = view.key_prefix.as_deref() else { continue };
                let mut mine: Vec<&str> = wanted.iter().filter_map(|i| i.strip_prefix("salesforce:")).filter(|i| i.starts_with(prefix)).collect();
                mine.sort_unstable();
                for chunk in mine.chunks(REFETCH_CHUNK) {
                    ctx.cancellation().check()?;
                    let list: Vec<String> = chunk.iter().map(|i| format!("'{i}'")).collect();
                    let mut terms = conditions(&view, None, None);
                    terms.push(format!("Id IN ({})", list.join(", ")));
                    let q = format!("SELECT {} FROM {} WHERE {}", view.select_list(), view.name, terms.join(" AND "));
                    let mut page = walk.client.query(&q).await?;
                    for _ in 0..MAX_PAGES {
                        let records = std::mem::take(&mut page.records);
                        let batch = walk.page_batch(&ctx, &view, records, None, Some(&wanted)).await?;
                        yield batch;
                        match page.next_records_url.take().filter(|_| !page.done) {
                            Some(next) => match walk.client.next_page(&next).await? {
                                Some(p) => page = p,
                                // Failed items come back on a later refetch.
                                None => break,
                            },
                            None => break,
                        }
                    }
                }
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::super::client::Describe;
    use super::*;

    #[test]
    fn the_query_is_a_keyset_over_modstamp_and_id_within_the_window() {
        let d: Describe = serde_json::from_value(serde_json::json!({
            "name": "Knowledge__kav", "keyPrefix": "ka0",
            "fields": [{"name": "Id", "type": "id"}, {"name": "Title", "type": "string", "nameField": true},
                {"name": "PublishStatus", "type": "picklist"}, {"name": "SystemModstamp", "type": "datetime"}]
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let view = ObjectView::new(d);
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap_or_else(|e| panic!("{e}"));
        let w = TimeWindow::new(at("2025-03-01T10:00:00Z"), at("2025-03-01T11:00:00Z"))
            .unwrap_or_else(|e| panic!("{e}"));
        let c = Cursor {
            modstamp: at("2025-03-01T10:20:00.5Z"),
            id: "ka0000000000001AAA".to_owned(),
        };
        assert_eq!(
            soql(&view, Some(&w), Some(&c), 2000),
            "SELECT Id, SystemModstamp, Title, PublishStatus FROM Knowledge__kav WHERE SystemModstamp >= 2025-03-01T10:00:00.000Z AND SystemModstamp < 2025-03-01T11:00:00.000Z AND (SystemModstamp > 2025-03-01T10:20:00.500Z OR (SystemModstamp = 2025-03-01T10:20:00.500Z AND Id > 'ka0000000000001AAA')) AND PublishStatus = 'Online' ORDER BY SystemModstamp ASC, Id ASC LIMIT 2000"
        );
    }
}
