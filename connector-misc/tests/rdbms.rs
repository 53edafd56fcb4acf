//! The `postgresql` and `mysql` connectors against real servers (PostgreSQL and MariaDB,
//! started by `rdbms_common`): the keyset walk with equal timestamps across pages, an edit
//! found by the next window, a deletion found by the id listing, `check()` telling errors
//! apart, type conversion per dialect, a query with refetch.

#![cfg(all(feature = "postgresql", feature = "mysql"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rdbms_common;

use std::num::NonZeroU32;

use chrono::{DateTime, TimeZone, Utc};
use connector_core::testkit::{collect_checkpointed, collect_load};
use connector_core::{Connector, Document, ErrorKind, SyncContext, TimeWindow};
use connector_misc::rdbms::RdbmsConfig;
use futures::StreamExt;
use rdbms_common as common;

#[derive(Clone, Copy, Debug)]
enum Db {
    Pg,
    My,
}

impl Db {
    fn port(self) -> u16 {
        match self {
            Db::Pg => common::postgres().port,
            Db::My => common::mariadb().port,
        }
    }
    async fn database(self, statements: &[&str]) -> String {
        match self {
            Db::Pg => common::pg_database(statements).await,
            Db::My => common::my_database(statements).await,
        }
    }
    async fn exec(self, db: &str, statements: &[&str]) {
        match self {
            Db::Pg => common::pg_exec(Some(db), statements).await,
            Db::My => common::my_exec(Some(db), statements).await,
        }
    }
    fn connector(self, config: RdbmsConfig) -> Box<dyn Connector> {
        match self {
            Db::Pg => Box::new(connector_misc::postgresql::connector(config).unwrap()),
            Db::My => Box::new(connector_misc::mysql::connector(config).unwrap()),
        }
    }
    fn config(self, db: &str) -> RdbmsConfig {
        common::config(self.port(), db)
    }
    /// A timestamp column type with microseconds and no zone.
    fn ts(self) -> &'static str {
        match self {
            Db::Pg => "timestamp(6)",
            Db::My => "datetime(6)",
        }
    }
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, h, m, 0).unwrap()
}

async fn poll(c: &dyn Connector, w: TimeWindow) -> Vec<Document> {
    let mut out = Vec::new();
    let mut s = c.as_poll().expect("polls").poll(w, SyncContext::new());
    while let Some(b) = s.next().await {
        let b = b.unwrap();
        assert!(b.failures.is_empty(), "{:?}", b.failures);
        out.extend(b.documents);
    }
    out
}

fn items_table(db: Db) -> String {
    format!(
        "CREATE TABLE items (id INT PRIMARY KEY, title VARCHAR(100), body TEXT, updated_at {} NOT NULL)",
        db.ts()
    )
}

async fn ties_across_pages(db: Db) {
    let mut rows = vec![items_table(db)];
    // Nine rows share 10:00 (more than four pages of two), one before, one after.
    for id in 1..=9 {
        rows.push(format!(
            "INSERT INTO items VALUES ({id}, 'T{id}', 'body {id}', '2025-03-01 10:00:00')"
        ));
    }
    rows.push("INSERT INTO items VALUES (10, 'early', 'e', '2025-03-01 09:00:00')".into());
    rows.push("INSERT INTO items VALUES (11, 'late', 'l', '2025-03-01 11:00:00')".into());
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    let name = db.database(&refs).await;
    let mut config = db.config(&name);
    config.timestamp_column = Some("updated_at".into());
    config.title_column = Some("title".into());
    config.page_size = NonZeroU32::new(2).unwrap();
    let c = db.connector(config);
    let docs = poll(&*c, TimeWindow::new(at(10, 0), at(11, 0)).unwrap()).await;
    let titles: Vec<&str> = docs.iter().map(|d| d.title.as_str()).collect();
    assert_eq!(
        titles,
        ["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9"]
    );
    assert!(docs.iter().all(|d| d.updated_at == Some(at(10, 0))));
    // Resuming from every checkpoint of the window gives exactly the rest.
    let cp = c.as_checkpointed().unwrap();
    let w = TimeWindow::new(at(10, 0), at(11, 0)).unwrap();
    let mut pages = Vec::new();
    let mut s = cp.load_from_checkpoint_json(
        cp.initial_checkpoint_json().unwrap(),
        Some(w),
        SyncContext::new(),
    );
    while let Some(p) = s.next().await {
        let p = p.unwrap();
        pages.push((
            p.batch
                .documents
                .iter()
                .map(|d| d.id.clone())
                .collect::<Vec<_>>(),
            p.checkpoint,
        ));
    }
    assert!(pages.len() >= 5, "{} pages", pages.len());
    for k in 0..pages.len() {
        let rest: Vec<String> = pages[k + 1..]
            .iter()
            .flat_map(|(ids, _)| ids.clone())
            .collect();
        let mut again = Vec::new();
        let mut s = cp.load_from_checkpoint_json(pages[k].1.clone(), Some(w), SyncContext::new());
        while let Some(p) = s.next().await {
            again.extend(p.unwrap().batch.documents.into_iter().map(|d| d.id));
        }
        assert_eq!(again, rest, "resume after page {k}");
    }
}

#[tokio::test]
async fn postgresql_keyset_ties_across_pages() {
    ties_across_pages(Db::Pg).await;
}

#[tokio::test]
async fn mysql_keyset_ties_across_pages() {
    ties_across_pages(Db::My).await;
}

async fn edit_and_delete(db: Db) {
    let name = db
        .database(&[
            &items_table(db),
            "INSERT INTO items VALUES (1, 'a', 'first', '2025-03-01 10:00:00')",
            "INSERT INTO items VALUES (2, 'b', 'second', '2025-03-01 10:05:00')",
            "INSERT INTO items VALUES (3, 'c', 'third', '2025-03-01 10:10:00')",
        ])
        .await;
    let mut config = db.config(&name);
    config.timestamp_column = Some("updated_at".into());
    config.content_columns = vec!["body".to_owned()].into();
    let c = db.connector(config);
    let first = poll(&*c, TimeWindow::new(at(9, 0), at(11, 0)).unwrap()).await;
    assert_eq!(first.len(), 3);
    // Row 2 is edited after the first run: the next window holds it alone, new text and time.
    db.exec(&name, &["UPDATE items SET body = 'second, edited', updated_at = '2025-03-01 11:30:00' WHERE id = 2"])
        .await;
    let next = poll(&*c, TimeWindow::new(at(11, 0), at(12, 0)).unwrap()).await;
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].id, first[1].id, "the same document id");
    assert_eq!(next[0].updated_at, Some(at(11, 30)));
    assert!(
        next[0]
            .content
            .as_text()
            .unwrap()
            .contains("second, edited")
    );
    assert_ne!(next[0].fingerprint, first[1].fingerprint);
    // Row 3 is deleted: the id listing (prune's) no longer holds it.
    db.exec(&name, &["DELETE FROM items WHERE id = 3"]).await;
    let mut ids = Vec::new();
    let mut s = c.as_slim().unwrap().list_ids(SyncContext::new());
    while let Some(p) = s.next().await {
        ids.extend(p.unwrap().into_iter().map(|d| d.id));
    }
    assert_eq!(ids, [first[0].id.clone(), first[1].id.clone()]);
    let source = c.source();
    assert_eq!(ids[0], format!("{source}:{name}:items:1"));
}

#[tokio::test]
async fn postgresql_edit_found_and_delete_pruned() {
    edit_and_delete(Db::Pg).await;
}

#[tokio::test]
async fn mysql_edit_found_and_delete_pruned() {
    edit_and_delete(Db::My).await;
}

async fn check_tells_errors_apart(db: Db) {
    let name = db.database(&[&items_table(db)]).await;
    let mut good = db.config(&name);
    good.tables = vec!["items".to_owned()].into();
    good.timestamp_column = Some("updated_at".into());
    db.connector(good.clone()).check().await.unwrap();

    let mut bad = good.clone();
    bad.credentials.password = "Wr0ng-s3cr3t".into();
    let bad = db.connector(bad);
    let e = bad.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    // The password given is in neither the error nor the connector's Debug.
    assert!(!format!("{e:?} {e}").contains("Wr0ng"), "{e:?}");
    assert!(!format!("{bad:?}").contains("Wr0ng"));

    let mut closed = good.clone();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    closed.port = Some(port);
    let e = db.connector(closed).check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");

    let mut missing = good.clone();
    missing.tables = vec!["nope".to_owned()].into();
    let e = db.connector(missing).check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");

    let mut no_db = good.clone();
    no_db.database = "no_such_db".into();
    let e = db.connector(no_db).check().await.unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied),
        "{e}"
    );

    let mut column = good;
    column.metadata_columns = vec!["colour".to_owned()].into();
    let e = db.connector(column).check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert_eq!(
        e.problems().first().map(|p| p.path.as_str()).or(e.field()),
        Some("metadata_columns")
    );
}

#[tokio::test]
async fn postgresql_check_tells_errors_apart() {
    check_tells_errors_apart(Db::Pg).await;
}

#[tokio::test]
async fn mysql_check_tells_errors_apart() {
    check_tells_errors_apart(Db::My).await;
}

/// A converted row as a snapshot shows it (the database's random name left out).
fn row_view(d: &Document, database: &str) -> serde_json::Value {
    serde_json::json!({
        "id": d.id.replace(database, "{database}"),
        "source": d.source,
        "title": d.title,
        "content": d.content.as_text(),
        "metadata": d.metadata,
        "updated_at": d.updated_at,
        "fingerprint": d.fingerprint,
    })
}

fn doc<'a>(docs: &'a [Document], id_end: &str) -> &'a Document {
    docs.iter().find(|d| d.id.ends_with(id_end)).expect(id_end)
}

#[tokio::test]
async fn postgresql_types_convert() {
    let name = Db::Pg
        .database(&[
            "CREATE TABLE t (id UUID PRIMARY KEY, n INT, big BIGINT, price NUMERIC(10,2), ok BOOLEAN, \
             d DATE, at TIMESTAMPTZ, naive TIMESTAMP, doc JSONB, raw BYTEA, note TEXT, f DOUBLE PRECISION, r REAL)",
            "INSERT INTO t VALUES ('7f1c5b6e-0000-4000-8000-000000000001', 42, 9007199254740993, 12.50, true, \
             '2025-03-01', '2025-03-01 10:00:00+02', '2025-03-01 10:00:00', '{\"k\": [1, 2]}', '\\x010203', 'line one\nline two', 1.5, 0.1)",
            "INSERT INTO t (id) VALUES ('7f1c5b6e-0000-4000-8000-000000000002')",
        ])
        .await;
    let mut config = Db::Pg.config(&name);
    config.metadata_columns = vec!["n", "big", "price", "ok", "d", "at", "naive", "doc"]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into();
    config.timestamp_column = Some("at".into());
    let c = Db::Pg.connector(config);
    let (docs, failures) = collect_load(&*c).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(docs.len(), 2);
    let d = doc(&docs, "0001");
    let m = &d.metadata;
    assert_eq!(m["n"], 42);
    assert_eq!(m["big"], 9_007_199_254_740_993_i64);
    assert_eq!(m["price"], "12.50");
    assert_eq!(m["ok"], true);
    assert_eq!(m["d"], "2025-03-01");
    assert_eq!(m["at"], "2025-03-01T08:00:00Z", "timestamptz is an instant");
    assert_eq!(
        m["naive"], "2025-03-01T10:00:00Z",
        "timestamp is read as UTC"
    );
    assert_eq!(m["doc"], serde_json::json!({"k": [1, 2]}));
    assert_eq!(d.updated_at, Some(at(8, 0)));
    let text = d.content.as_text().unwrap();
    assert!(text.contains("**raw:** (binary data, 3 bytes)"), "{text}");
    assert!(text.contains("## note\n\nline one\nline two"), "{text}");
    assert!(text.contains("```json"), "{text}");
    assert!(text.contains("**f:** 1.5"), "{text}");
    assert!(
        text.contains("**r:** 0.1") && !text.contains("0.1000"),
        "a real is its shortest text: {text}"
    );
    insta::assert_json_snapshot!("postgresql_row", row_view(d, &name));
    // NULLs are left out; the row with only an id has no updated_at.
    let empty = doc(&docs, "0002");
    assert_eq!(empty.content.as_text(), Some(""));
    assert!(empty.metadata.keys().all(|k| k == "table"));
    assert_eq!(empty.updated_at, None);
    // Refetch by the UUID id (bound as text and cast back).
    let mut s = c
        .as_refetch()
        .unwrap()
        .fetch(vec![d.id.clone()], SyncContext::new());
    let again = s.next().await.unwrap().unwrap();
    assert_eq!(again.documents, vec![d.clone()]);
}

#[tokio::test]
async fn mysql_types_convert() {
    let name = Db::My
        .database(&[
            "CREATE TABLE t (id BIGINT UNSIGNED PRIMARY KEY, n INT, price DECIMAL(10,2), ok BOOLEAN, \
             d DATE, at TIMESTAMP(6) NULL, naive DATETIME(6), doc JSON, raw BLOB, note TEXT, f DOUBLE, tm TIME)",
            "SET time_zone = '+02:00'",
            "INSERT INTO t VALUES (18446744073709551615, 42, 12.50, true, '2025-03-01', '2025-03-01 10:00:00', \
             '2025-03-01 10:00:00', '{\"k\": [1, 2]}', X'010203', 'line one\nline two', 1.5, '36:00:00')",
            "INSERT INTO t (id) VALUES (1)",
        ])
        .await;
    let mut config = Db::My.config(&name);
    config.metadata_columns = vec!["n", "price", "ok", "d", "at", "naive", "doc"]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into();
    config.timestamp_column = Some("at".into());
    let c = Db::My.connector(config);
    let (docs, failures) = collect_load(&*c).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(docs.len(), 2);
    let d = doc(&docs, ":18446744073709551615");
    let m = &d.metadata;
    assert_eq!(m["n"], 42);
    assert_eq!(m["price"], "12.50");
    assert_eq!(m["ok"], true);
    assert_eq!(m["d"], "2025-03-01");
    assert_eq!(m["at"], "2025-03-01T08:00:00Z", "TIMESTAMP is an instant");
    assert_eq!(
        m["naive"], "2025-03-01T10:00:00Z",
        "DATETIME is read as UTC"
    );
    // MariaDB's JSON is LONGTEXT (MySQL's, a JSON value).
    assert!(
        m["doc"] == serde_json::json!({"k": [1, 2]}) || m["doc"] == "{\"k\": [1, 2]}",
        "{}",
        m["doc"]
    );
    assert_eq!(d.updated_at, Some(at(8, 0)));
    let text = d.content.as_text().unwrap();
    assert!(text.contains("**raw:** (binary data, 3 bytes)"), "{text}");
    assert!(text.contains("## note\n\nline one\nline two"), "{text}");
    assert!(text.contains("**tm:** 36:00:00"), "{text}");
    insta::assert_json_snapshot!("mysql_row", row_view(d, &name));
    let empty = doc(&docs, ":1");
    assert_eq!(empty.content.as_text(), Some(""));
    // Refetch by the unsigned id.
    let mut s = c
        .as_refetch()
        .unwrap()
        .fetch(vec![d.id.clone()], SyncContext::new());
    let again = s.next().await.unwrap().unwrap();
    assert_eq!(again.documents, vec![d.clone()]);
}

/// MySQL dates and times are selected as their text and read back (sqlx-mysql's binary read
/// of them is slow): every fraction, the zero date (a NULL to the driver) and a date that
/// does not exist read as the driver's binary read gave them, values and failures alike
/// (this test passed on the binary read before).
#[tokio::test]
async fn mysql_dates_read_as_the_driver_read_them() {
    let name = Db::My
        .database(&[
            "CREATE TABLE t (id INT PRIMARY KEY, d DATE, at TIMESTAMP(6) NULL, naive DATETIME(3), \
             whole DATETIME, note TEXT)",
            "SET sql_mode = 'ALLOW_INVALID_DATES'",
            "INSERT INTO t VALUES (1, '2025-03-01', '2025-03-01 10:00:00.000001', \
             '2025-03-01 10:00:00.5', '2025-03-01 10:00:00', 'fine')",
            "INSERT INTO t VALUES (2, '2025-02-30', NULL, NULL, NULL, 'no such day')",
            "INSERT INTO t VALUES (3, NULL, NULL, '2025-02-30 10:00:00', NULL, 'no such day')",
            "SET sql_mode = ''",
            "INSERT INTO t VALUES (4, '0000-00-00', NULL, NULL, '0000-00-00 00:00:00', 'zero')",
            "INSERT INTO t VALUES (5, NULL, '0000-00-00 00:00:00', NULL, NULL, 'zero')",
        ])
        .await;
    let mut config = Db::My.config(&name);
    config.metadata_columns = vec!["d", "at", "naive", "whole"]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into();
    let c = Db::My.connector(config);
    let (docs, failures) = collect_load(&*c).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(docs.len(), 5);
    let m = &doc(&docs, ":1").metadata;
    assert_eq!(m["d"], "2025-03-01");
    assert_eq!(m["at"], "2025-03-01T10:00:00.000001Z");
    assert_eq!(m["naive"], "2025-03-01T10:00:00.500Z");
    assert_eq!(m["whole"], "2025-03-01T10:00:00Z");
    // Zero dates read as the NULLs next to them.
    let m = &doc(&docs, ":4").metadata;
    assert_eq!((m.get("d"), m.get("whole")), (m.get("at"), m.get("naive")));
    let m = &doc(&docs, ":5").metadata;
    assert_eq!(m.get("at"), m.get("d"));
    // A day the calendar has not (sqlx's "server returned invalid date: 2025/2/30", which
    // failed the row until review16 F1): the server's text.
    assert_eq!(doc(&docs, ":2").metadata["d"], "2025-02-30");
    assert_eq!(
        doc(&docs, ":3").metadata["naive"],
        "2025-02-30 10:00:00.000"
    );
    let text = doc(&docs, ":3").content.as_text().unwrap();
    assert!(
        text.contains("**naive:** 2025-02-30 10:00:00.000"),
        "{text}"
    );
}

/// review16 F1: MariaDB's default `sql_mode` takes a day 0 (`2025-01-00`) without a warning,
/// `ALLOW_INVALID_DATES` a 30 February and an empty mode a zero date with a time: dates the
/// server holds that name no day. Content and metadata keep the server's text; as the cursor
/// such a value is no time (the document comes without `updated_at`); a page of a window
/// whose last row holds one goes on from the last row whose cursor reads (once the whole
/// poll failed there, on every run); a page with no such row says `timestamp_column`.
#[tokio::test]
async fn mysql_dates_without_a_day_keep_their_text() {
    let name = Db::My
        .database(&[
            "CREATE TABLE w (id INT PRIMARY KEY, body TEXT, d DATE, updated_at DATETIME NOT NULL, \
             KEY (updated_at, id))",
            // MariaDB 10.11's default.
            "SET sql_mode = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,\
             NO_ENGINE_SUBSTITUTION'",
            "INSERT INTO w VALUES (1, 'a', '2025-01-05', '2024-12-31 23:00:00'), \
             (2, 'legacy', '2025-01-00', '2025-01-00 10:00:00'), \
             (3, 'c', '2025-01-06', '2025-01-01 01:00:00'), (4, 'd', NULL, '2025-01-01 02:00:00')",
            "SET sql_mode = 'ALLOW_INVALID_DATES'",
            "INSERT INTO w VALUES (5, 'e', '2025-02-30', '2025-02-30 10:00:00'), \
             (6, 'f', '2025-02-28', '2025-02-28 12:00:00')",
            "SET sql_mode = ''",
            "INSERT INTO w VALUES (7, 'g', '0000-00-00', '0000-00-00 10:00:00')",
            "CREATE TABLE x (id INT PRIMARY KEY, body TEXT, d DATE, updated_at DATETIME NOT NULL)",
            "INSERT INTO x VALUES (1, 'x', NULL, '2025-01-01 00:30:00')",
        ])
        .await;
    let mut config = Db::My.config(&name);
    config.tables = vec!["w".to_owned()].into();
    config.timestamp_column = Some("updated_at".into());
    config.metadata_columns = vec!["d".to_owned(), "updated_at".to_owned()].into();
    config.page_size = NonZeroU32::new(2).unwrap();
    let c = Db::My.connector(config.clone());
    let (docs, failures) = collect_load(&*c).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(docs.len(), 7);
    let legacy = doc(&docs, ":2");
    assert_eq!(legacy.metadata["d"], "2025-01-00");
    assert_eq!(legacy.metadata["updated_at"], "2025-01-00 10:00:00");
    assert_eq!(legacy.updated_at, None);
    let text = legacy.content.as_text().unwrap();
    assert!(text.contains("**d:** 2025-01-00"), "{text}");
    assert_eq!(doc(&docs, ":5").metadata["d"], "2025-02-30");
    assert_eq!(doc(&docs, ":5").updated_at, None);
    let zero = doc(&docs, ":7");
    assert_eq!(
        zero.metadata.get("d"),
        None,
        "the zero date is a NULL, as before"
    );
    assert_eq!(zero.metadata["updated_at"], "0000-00-00 10:00:00");
    assert_eq!(zero.updated_at, None);
    assert_eq!(
        doc(&docs, ":3").updated_at,
        Some(Utc.with_ymd_and_hms(2025, 1, 1, 1, 0, 0).unwrap())
    );
    // The server orders `2025-01-00 10:00` between the last day of 2024 and 2025-01-01: the
    // last row of the first page, whose cursor does not read. The next page starts after
    // row 1 and reads row 2 again.
    let ids = |docs: &[Document]| {
        let mut ids: Vec<String> = docs
            .iter()
            .map(|d| d.id.rsplit(':').next().unwrap_or_default().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let day = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
    let w = TimeWindow::new(day(2024, 12, 31), day(2025, 1, 2)).unwrap();
    // The first page hands on row 1 alone (review19 R5: once rows 1 and 2, then 2 again).
    assert_eq!(ids(&poll(&*c, w).await), ["1", "2", "3", "4"]);
    // 30 February falls after 28 February, the last row of a page again; the page after
    // row 6 is the window's last.
    let w = TimeWindow::new(day(2025, 2, 28), day(2025, 3, 2)).unwrap();
    assert_eq!(ids(&poll(&*c, w).await), ["5", "6"]);
    // Pages of one: the page of row 2 alone has no cursor to go on from. The next page
    // starts after the value row 2 holds, read by the server (review19 R2.2, review22 F2:
    // once a failure of table `w` on every run, which in one job held back every table's
    // window for good), and table `x` after it is read too.
    config.page_size = NonZeroU32::new(1).unwrap();
    config.tables = vec!["w".to_owned(), "x".to_owned()].into();
    let c = Db::My.connector(config.clone());
    let w = TimeWindow::new(day(2024, 12, 31), day(2025, 1, 2)).unwrap();
    let start = start_of(&*c);
    let pages = pages_of(&*c, start, Some(w)).await;
    let walked: Vec<String> = pages.iter().flat_map(|(ids, _)| ids.clone()).collect();
    let short: Vec<&str> = walked.iter().map(|id| &id[id.len() - 3..]).collect();
    assert_eq!(short, ["w:1", "w:2", "w:3", "w:4", "x:1"], "{walked:?}");
    // The checkpoint after row 2 has no cursor, but the text row 2 held (review28 F3); a
    // resume from it reads on after row 2.
    assert_eq!(
        pages[1].1.state,
        serde_json::json!({"table": "w", "after": {"id": {"int": 2}},
            "after_text": "2025-01-00 10:00:00"})
    );
    let resumed = ids_of(pages_of(&*c, pages[1].1.clone(), Some(w)).await);
    assert_eq!(resumed.len(), 3, "{resumed:?}");
    assert!(resumed[0].ends_with(":w:3"), "{resumed:?}");
    // review28 F3: row 2 edited to another date that names no day before the resume. The
    // resumed page starts after `2025-06-00`, past rows 3 and 4 (once skipped silently: the
    // check knew no text after a resume); the checkpoint's text shows the edit.
    Db::My
        .exec(
            &name,
            &[
                "SET sql_mode = ''",
                "UPDATE w SET updated_at = '2025-06-00 00:00:00' WHERE id = 2",
            ],
        )
        .await;
    let cp = c.as_checkpointed().unwrap();
    let mut s = cp.load_from_checkpoint_json(pages[1].1.clone(), Some(w), SyncContext::new());
    let mut failures = Vec::new();
    while let Some(p) = s.next().await {
        failures.extend(p.expect("a table's failure").batch.failures);
    }
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0]
            .message
            .contains("that row was changed meanwhile"),
        "{failures:?}"
    );
    // An older checkpoint (no text) takes any value, as before.
    let mut old = pages[1].1.clone();
    old.state
        .as_object_mut()
        .unwrap()
        .remove("after_text")
        .unwrap();
    let skipped = ids_of(pages_of(&*c, old, Some(w)).await);
    assert!(skipped.iter().all(|id| id.contains(":x:")), "{skipped:?}");
    Db::My
        .exec(
            &name,
            &[
                "SET sql_mode = ''",
                "UPDATE w SET updated_at = '2025-01-00 10:00:00' WHERE id = 2",
            ],
        )
        .await;
    // Row 2 deleted (or edited) between pages: the server's `(SELECT updated_at … WHERE id =
    // 2)` is NULL and the page empty. That is a failure of `w`, never its silent end; `x` is
    // still read.
    Db::My.exec(&name, &["DELETE FROM w WHERE id = 2"]).await;
    let cp = c.as_checkpointed().unwrap();
    let mut s = cp.load_from_checkpoint_json(pages[1].1.clone(), Some(w), SyncContext::new());
    let (mut docs, mut failures) = (Vec::new(), Vec::new());
    while let Some(p) = s.next().await {
        let p = p.expect("a table's failure does not end the poll");
        docs.extend(p.batch.documents);
        failures.extend(p.batch.failures);
    }
    assert_eq!(failures.len(), 1, "{failures:?}");
    let f = &failures[0];
    assert_eq!(
        (f.kind, f.id.as_deref()),
        (ErrorKind::InvalidData, None),
        "{f:?}"
    );
    assert!(f.message.contains("table `w`"), "{f:?}");
    assert!(f.message.contains("id `2`"), "{f:?}");
    assert!(
        f.message.contains("that row was deleted meanwhile"),
        "{f:?}"
    );
    let read: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert!(read.iter().all(|id| id.contains(":x:")), "{read:?}");
    assert_eq!(read.len(), 1, "{read:?}");
    // A query's rows are read again from the query (review24 F1: once an error of the poll
    // on every run, "a query's rows have no place to be read from again"): in pages of one,
    // rows 8 and 2's successor go on after their stored values as a table's do.
    Db::My
        .exec(
            &name,
            &["INSERT INTO w VALUES (8, 'h', NULL, '2025-01-00 11:00:00')"],
        )
        .await;
    config.tables = Vec::new().into();
    config.query = Some("SELECT id, body, updated_at FROM w".into());
    config.id_column = Some("id".into());
    config.metadata_columns = Vec::new().into();
    let c = Db::My.connector(config.clone());
    assert_eq!(ids(&poll(&*c, w).await), ["1", "3", "4", "8"]);
    let start = start_of(&*c);
    let pages = pages_of(&*c, start, Some(w)).await;
    assert_eq!(
        pages[1].1.state,
        serde_json::json!({"after": {"id": {"int": 8}}, "after_text": "2025-01-00 11:00:00"})
    );
    // Row 8 deleted before a resume after it: a failure of the query without an id (its
    // window is read again next run), not an error every resume repeats.
    Db::My.exec(&name, &["DELETE FROM w WHERE id = 8"]).await;
    let cp = c.as_checkpointed().unwrap();
    let mut s = cp.load_from_checkpoint_json(pages[1].1.clone(), Some(w), SyncContext::new());
    let mut failures = Vec::new();
    let mut last = None;
    while let Some(p) = s.next().await {
        let p = p.expect("the key row's failure does not end the poll");
        failures.extend(p.batch.failures);
        last = Some(p.checkpoint);
    }
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].id, None, "{failures:?}");
    assert!(
        failures[0]
            .message
            .contains("the query cannot be read: the page went on after the row with id `8`"),
        "{failures:?}"
    );
    assert_eq!(last.unwrap().state, serde_json::json!({"done": true}));
    Db::My
        .exec(
            &name,
            &["INSERT INTO w VALUES (8, 'h', NULL, '2025-01-00 11:00:00')"],
        )
        .await;
    // With the same rows and no `id_column`, the row hash keys the query's rows again.
    config.id_column = None;
    let hashed = Db::My.connector(config.clone());
    assert_eq!(poll(&*hashed, w).await.len(), 4);
    // review24 F4: an `id_column` that is not unique (against the docs), on the row a page
    // goes on from by its stored value: once the server's "Subquery returns more than 1 row",
    // which ended the walk (table `x` unread) on every resume; now a failure of that table.
    Db::My
        .exec(
            &name,
            &[
                "CREATE TABLE u (id INT, body TEXT, updated_at DATETIME NOT NULL)",
                "SET sql_mode = ''",
                "INSERT INTO u VALUES (1, 'a', '2024-12-31 23:00:00'), \
                 (2, 'b', '2025-01-00 10:00:00'), (2, 'c', '2025-01-00 11:00:00'), \
                 (3, 'd', '2025-01-01 01:00:00')",
            ],
        )
        .await;
    config.query = None;
    config.tables = vec!["u".to_owned(), "x".to_owned()].into();
    config.id_column = Some("id".into());
    let c = Db::My.connector(config.clone());
    let mut s = c.as_poll().unwrap().poll(w, SyncContext::new());
    let (mut read, mut failures) = (Vec::new(), Vec::new());
    while let Some(b) = s.next().await {
        let b = b.expect("a table's failure does not end the poll");
        read.extend(b.documents.into_iter().map(|d| d.id));
        failures.extend(b.failures);
    }
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].message.contains("table `u`"), "{failures:?}");
    assert!(
        failures[0]
            .message
            .contains("not the only row with that id"),
        "{failures:?}"
    );
    assert!(read.iter().any(|id| id.ends_with(":x:1")), "{read:?}");
    // review28 F1: rows that share the id and the date that names no day (a duplicate row,
    // a one-to-many join's rows) give the subquery one value: the page after one of them
    // skips their tie, as after a readable time (once "not the only row with that id" on
    // every run, which held the window for good). The same under a row hash.
    Db::My
        .exec(
            &name,
            &[
                "CREATE TABLE v (id INT, body TEXT, updated_at DATETIME NOT NULL)",
                "SET sql_mode = ''",
                "INSERT INTO v VALUES (1, 'a', '2024-12-31 23:00:00'), \
                 (2, 'b', '2025-01-00 10:00:00'), (2, 'b', '2025-01-00 10:00:00'), \
                 (3, 'd', '2025-01-01 01:00:00')",
            ],
        )
        .await;
    config.tables = vec!["v".to_owned(), "x".to_owned()].into();
    let c = Db::My.connector(config.clone());
    let start = start_of(&*c);
    let walked = ids_of(pages_of(&*c, start, Some(w)).await);
    let short: Vec<&str> = walked.iter().map(|id| &id[id.len() - 3..]).collect();
    assert_eq!(short, ["v:1", "v:2", "v:3", "x:1"], "{walked:?}");
    let mut hashed = config.clone();
    hashed.tables = Vec::new().into();
    hashed.id_column = None;
    hashed.query = Some("SELECT body, updated_at FROM v".into());
    let c = Db::My.connector(hashed);
    let start = start_of(&*c);
    let pages = pages_of(&*c, start, Some(w)).await;
    assert_eq!(
        pages.iter().map(|(ids, _)| ids.len()).sum::<usize>(),
        3,
        "{pages:?}"
    );
    // review24 F9: two rows with the same date that names no day, across pages of one: the
    // `c > (S) OR id > ?` branch takes the tie with the larger id, once.
    Db::My
        .exec(
            &name,
            &[
                "CREATE TABLE tie (id INT PRIMARY KEY, body TEXT, updated_at DATETIME NOT NULL)",
                "SET sql_mode = ''",
                "INSERT INTO tie VALUES (1, 'a', '2024-12-31 23:00:00'), \
                 (2, 'b', '2025-01-00 10:00:00'), (9, 'c', '2025-01-00 10:00:00'), \
                 (3, 'd', '2025-01-01 01:00:00')",
            ],
        )
        .await;
    config.tables = vec!["tie".to_owned()].into();
    let c = Db::My.connector(config);
    let start = start_of(&*c);
    let walked = ids_of(pages_of(&*c, start, Some(w)).await);
    let short: Vec<&str> = walked.iter().map(|id| &id[id.len() - 5..]).collect();
    assert_eq!(short, ["tie:1", "tie:2", "tie:9", "tie:3"], "{walked:?}");
}

/// review22 F6: what a run does with a table's failure in one job (the CLI's): the next
/// incremental window starts where the failed one did, for every table (the end moves on);
/// a full run reads by id, resolves the failure, and the next window starts after it (the
/// remedy the failure messages give).
#[tokio::test]
async fn a_table_failure_holds_the_window_until_a_full_run() {
    use connector_core::sink::MemorySink;
    use connector_core::state::MemoryStateStore;
    use connector_core::sync::{SyncMode, Syncer};
    use std::sync::Arc;
    let name = Db::My
        .database(&[
            "CREATE TABLE a (id INT PRIMARY KEY, body TEXT, updated_at DATETIME NOT NULL)",
            "INSERT INTO a VALUES (1, 'a', '2025-03-01 10:00:00')",
            "CREATE TABLE b (id INT PRIMARY KEY, body TEXT, updated_at DATETIME NOT NULL)",
            "INSERT INTO b VALUES (1, 'b', '2025-03-01 10:00:00')",
        ])
        .await;
    let mut config = Db::My.config(&name);
    config.tables = vec!["a".to_owned(), "b".to_owned()].into();
    config.timestamp_column = Some("updated_at".into());
    config.timezone = Some("UTC".into());
    let c: Arc<dyn Connector> = Arc::from(Db::My.connector(config));
    let (state, sink) = (MemoryStateStore::new(), MemorySink::new());
    let run = |mode, now| {
        let syncer = Syncer::new(Arc::clone(&c))
            .sink(sink.clone())
            .state(state.clone())
            .at(now);
        async move { syncer.run(mode).await }
    };
    let overlap = chrono::TimeDelta::seconds(300);
    let full = run(SyncMode::Full, at(11, 0)).await.unwrap();
    assert_eq!((full.new, full.failed), (2, 0), "{full:?}");
    // Table `a` cannot be read for a while: a failure of `a`; `b` is still read.
    Db::My.exec(&name, &["RENAME TABLE a TO a_away"]).await;
    let first = run(SyncMode::Incremental, at(12, 0)).await.unwrap();
    assert_eq!(first.failed, 1, "{first:?}");
    assert!(first.failures[0].message.contains("table `a`"), "{first:?}");
    assert_eq!(
        first.window,
        Some(TimeWindow::new(at(11, 0) - overlap, at(12, 0)).unwrap())
    );
    // The next window starts where the failed one did: `b`'s edits of 11:55 are read again.
    let second = run(SyncMode::Incremental, at(13, 0)).await.unwrap();
    assert_eq!(second.failed, 1, "{second:?}");
    assert_eq!(
        second.window,
        Some(TimeWindow::new(at(11, 0) - overlap, at(13, 0)).unwrap())
    );
    // A full run reads every table by id and resolves the failure.
    Db::My.exec(&name, &["RENAME TABLE a_away TO a"]).await;
    let full = run(SyncMode::Full, at(14, 0)).await.unwrap();
    assert_eq!(full.failed, 0, "{full:?}");
    let after = run(SyncMode::Incremental, at(15, 0)).await.unwrap();
    assert_eq!(after.failed, 0, "{after:?}");
    assert_eq!(
        after.window,
        Some(TimeWindow::new(at(14, 0) - overlap, at(15, 0)).unwrap())
    );
}

/// review19 R5/R6: a window page whose tail is two rows without a cursor, after a fallback
/// row that ties with the row before it: each row is handed on once, and a resume from the
/// checkpoint of the page that fell back reads the tail (and nothing before it) again.
#[tokio::test]
async fn mysql_window_fallback_hands_each_row_on_once() {
    let name = Db::My
        .database(&[
            "CREATE TABLE t (id INT PRIMARY KEY, body TEXT, updated_at DATETIME NOT NULL, \
             KEY (updated_at, id))",
            "INSERT INTO t VALUES (1, 'a', '2024-12-31 23:00:00'), (6, 'f', '2024-12-31 23:00:00'), \
             (2, 'b', '2025-01-00 10:00:00'), (3, 'c', '2025-01-00 11:00:00'), \
             (4, 'd', '2025-01-01 01:00:00'), (5, 'e', '2025-01-01 02:00:00')",
        ])
        .await;
    let mut config = Db::My.config(&name);
    config.tables = vec!["t".to_owned()].into();
    config.timestamp_column = Some("updated_at".into());
    config.page_size = NonZeroU32::new(4).unwrap();
    let c = Db::My.connector(config);
    let start = start_of(&*c);
    let w = TimeWindow::new(
        Utc.with_ymd_and_hms(2024, 12, 31, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2025, 1, 2, 0, 0, 0).unwrap(),
    )
    .unwrap();
    let short = |ids: &[String]| {
        ids.iter()
            .map(|id| id.rsplit(':').next().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let pages = pages_of(&*c, start, Some(w)).await;
    let walked: Vec<Vec<String>> = pages.iter().map(|(ids, _)| short(ids)).collect();
    // Page 1 is 1, 6, 2, 3: 2 and 3 name no day; it hands on 1 and 6 and the next page
    // starts after row 6 (`updated_at >= 23:00 AND (updated_at > 23:00 OR id > 6)`).
    assert_eq!(walked[0], ["1", "6"], "{walked:?}");
    assert_eq!(
        walked.concat(),
        ["1", "6", "2", "3", "4", "5"],
        "{walked:?}"
    );
    // Resuming from the first page's checkpoint: the tail and the rest, once.
    let resumed = pages_of(&*c, pages[0].1.clone(), Some(w)).await;
    let resumed: Vec<String> = resumed.iter().flat_map(|(ids, _)| short(ids)).collect();
    assert_eq!(resumed, ["2", "3", "4", "5"]);
}

/// review16 F2: PostgreSQL's `infinity` and `-infinity` in `timestamp`, `timestamptz` and
/// `date` (a "never expires" `valid_until`): the document keeps PostgreSQL's text, and as
/// the cursor it is no time (once each made its row a failure). A BC date is the
/// astronomical year chrono writes (`-0043` for 44 BC), documented (F7).
#[tokio::test]
async fn postgresql_infinity_keeps_its_text() {
    let name = Db::Pg
        .database(&[
            "CREATE TABLE p (id INT PRIMARY KEY, body TEXT, valid_until TIMESTAMPTZ, born DATE, \
             seen TIMESTAMP, updated_at TIMESTAMP)",
            "INSERT INTO p VALUES (1, 'a', '2030-01-01 00:00:00+00', '2000-01-01', \
             '2025-03-01 10:00:00', '2025-03-01 10:00:00'), \
             (2, 'forever', 'infinity', 'infinity', 'infinity', 'infinity'), \
             (3, 'caesar', '-infinity', '0044-03-15 BC', '-infinity', '2025-03-01 11:00:00'), \
             (4, 'past', NULL, '-infinity', NULL, '-infinity')",
        ])
        .await;
    let mut config = Db::Pg.config(&name);
    config.timestamp_column = Some("updated_at".into());
    config.metadata_columns = ["valid_until", "born", "seen", "updated_at"]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .into();
    let c = Db::Pg.connector(config.clone());
    let (docs, failures) = collect_load(&*c).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(docs.len(), 4);
    let forever = &doc(&docs, ":2");
    for column in ["valid_until", "born", "seen", "updated_at"] {
        assert_eq!(forever.metadata[column], "infinity", "{column}");
    }
    assert_eq!(forever.updated_at, None);
    let text = forever.content.as_text().unwrap();
    assert!(text.contains("**valid_until:** infinity"), "{text}");
    let caesar = &doc(&docs, ":3");
    assert_eq!(caesar.metadata["valid_until"], "-infinity");
    assert_eq!(caesar.metadata["seen"], "-infinity");
    assert_eq!(caesar.metadata["born"], "-0043-03-15");
    assert_eq!(caesar.updated_at, Some(at(11, 0)));
    let past = &doc(&docs, ":4");
    assert_eq!(past.metadata["born"], "-infinity");
    assert_eq!(past.metadata["updated_at"], "-infinity");
    assert_eq!(past.updated_at, None);
    assert_eq!(doc(&docs, ":1").metadata["born"], "2000-01-01");
    // A window holds no infinity.
    let w = TimeWindow::new(at(9, 0), at(12, 0)).unwrap();
    let mut ids: Vec<String> = poll(&*c, w).await.into_iter().map(|d| d.id).collect();
    ids.sort();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids[0].ends_with(":1") && ids[1].ends_with(":3"), "{ids:?}");
    // A window open past 9999 holds `infinity`, last: in pages of one, the page after it
    // starts after the value row 2 holds, read by the server in PostgreSQL's row comparison
    // (review19 R2.2; once a failure of the table).
    config.page_size = NonZeroU32::new(1).unwrap();
    let c = Db::Pg.connector(config.clone());
    let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
    let ids: Vec<String> = poll(&*c, TimeWindow::new(at(9, 0), far).unwrap())
        .await
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids[2].ends_with(":2"), "{ids:?}");
    // review24 F5: a time past chrono's years fails its row; the page after it starts after
    // the value it holds, and the check of that row, which the server still orders, holds
    // (once "deleted or changed meanwhile", a failure on every run).
    Db::Pg
        .exec(
            &name,
            &["INSERT INTO p VALUES (5, 'far', NULL, NULL, NULL, '263000-01-01 00:00:00')"],
        )
        .await;
    let mut s = c
        .as_poll()
        .unwrap()
        .poll(TimeWindow::new(at(9, 0), far).unwrap(), SyncContext::new());
    let (mut ids, mut failures) = (Vec::new(), Vec::new());
    while let Some(b) = s.next().await {
        let b = b.unwrap();
        ids.extend(b.documents.into_iter().map(|d| d.id));
        failures.extend(b.failures);
    }
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids[2].ends_with(":2"), "{ids:?}");
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0]
            .id
            .as_deref()
            .is_some_and(|id| id.ends_with(":5")),
        "the row's own failure: {failures:?}"
    );
    // review28 F8: a query on the same path (the page after `infinity` starts after the value
    // the query's row 2 holds), with `id_column` and with a row hash; review28 F1: under the
    // row hash (`md5(CAST(src AS TEXT))`), a `UNION ALL` repeats row 2, and the two equal rows
    // hold (once "not the only row with that id", a failure on every run).
    let window = TimeWindow::new(at(9, 0), far).unwrap();
    config.metadata_columns = Vec::new().into();
    config.query = Some("SELECT id, body, updated_at FROM p WHERE id < 5".into());
    config.id_column = Some("id".into());
    let ids: Vec<String> = poll(&*Db::Pg.connector(config.clone()), window)
        .await
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids[2].ends_with(":2"), "{ids:?}");
    config.query = Some(
        "SELECT body, updated_at FROM p WHERE id < 5 \
         UNION ALL SELECT body, updated_at FROM p WHERE id = 2"
            .into(),
    );
    config.id_column = None;
    let docs = poll(&*Db::Pg.connector(config), window).await;
    let bodies: Vec<&str> = docs
        .iter()
        .map(|d| d.content.as_text().unwrap_or_default())
        .collect();
    assert_eq!(docs.len(), 3, "{bodies:?}");
    assert!(bodies[2].contains("forever"), "{bodies:?}");
}

/// review16 F3: a MySQL `TIMESTAMP(3)` cursor (written in a `+02:00` session, read as UTC
/// instants) in a window on the text path, ties at `.123` across pages of two, the bounds
/// exact; a resume from a checkpoint in the shape binaries before pg48 wrote; a `DATE`
/// cursor's window.
#[tokio::test]
async fn mysql_timestamp_and_date_cursors_in_windows() {
    let name = Db::My
        .database(&[
            "CREATE TABLE ts (id INT PRIMARY KEY, body TEXT, at TIMESTAMP(3) NOT NULL)",
            "SET time_zone = '+02:00'",
            "INSERT INTO ts VALUES (1, 'a', '2025-03-01 12:00:00.123'), \
             (2, 'b', '2025-03-01 12:00:00.123'), (3, 'c', '2025-03-01 12:00:00.123'), \
             (4, 'd', '2025-03-01 12:00:00.124'), (5, 'e', '2025-03-01 11:59:59.999'), \
             (6, 'f', '2025-03-01 11:59:58.999'), (7, 'g', '2025-03-01 12:00:00.125')",
            "CREATE TABLE dd (id INT PRIMARY KEY, body TEXT, day DATE NOT NULL)",
            "INSERT INTO dd VALUES (1, 'a', '2025-03-01'), (2, 'b', '2025-03-01'), \
             (3, 'c', '2025-03-01'), (4, 'd', '2025-03-02'), (5, 'e', '2025-02-28'), \
             (6, 'f', '2025-02-27')",
        ])
        .await;
    let connector = |table: &str, cursor: &str| {
        let mut config = Db::My.config(&name);
        config.tables = vec![table.to_owned()].into();
        config.timestamp_column = Some(cursor.into());
        config.page_size = NonZeroU32::new(2).unwrap();
        Db::My.connector(config)
    };
    let walk = |pages: Vec<(Vec<String>, connector_core::CheckpointJson)>| {
        pages
            .into_iter()
            .flat_map(|(ids, _)| ids)
            .map(|id| id.rsplit(':').next().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let ms = |s, ms| {
        Utc.with_ymd_and_hms(2025, 3, 1, 9, 59, s).unwrap() + chrono::TimeDelta::milliseconds(ms)
    };
    let c = connector("ts", "at");
    let start = start_of(&*c);
    // [09:59:59.999, 10:00:00.125) in UTC: 5, then the ties, then 4; not 6 nor 7.
    let w = TimeWindow::new(ms(59, 999), ms(59, 1_125)).unwrap();
    assert_eq!(
        walk(pages_of(&*c, start.clone(), Some(w)).await),
        ["5", "1", "2", "3", "4"]
    );
    // A checkpoint as the binaries before pg48 wrote it: rows 3 and 4 are left.
    let mut old = start.clone();
    old.state = serde_json::json!({"table": "ts", "after": {"id": {"int": 2}, "cursor": "2025-03-01T10:00:00.123Z"}});
    assert_eq!(walk(pages_of(&*c, old, Some(w)).await), ["3", "4"]);
    let c = connector("dd", "day");
    let start = start_of(&*c);
    let day = |d| Utc.with_ymd_and_hms(2025, 2, d, 0, 0, 0).unwrap();
    // The days the window overlaps and the day before its start (review22 F1).
    let w = TimeWindow::new(day(28), day(28) + chrono::TimeDelta::days(2)).unwrap();
    assert_eq!(
        walk(pages_of(&*c, start, Some(w)).await),
        ["6", "5", "1", "2", "3"]
    );
}

/// review19 R1: a `DATE` cursor in windows whose edges are not midnights. A window holds
/// every day it overlaps: an edit dated today is found by each poll of the day (once the
/// start was rounded up to the next midnight, so `[09:55, 10:15)` was empty and a row
/// dated the 7th was in no window but the first after its midnight).
async fn date_cursor_windows(db: Db) {
    let name = db
        .database(&[
            "CREATE TABLE notes (id INT PRIMARY KEY, body TEXT, changed DATE NOT NULL)",
            "INSERT INTO notes VALUES (1, 'a', '2026-12-06'), (2, 'b', '2026-12-07'), \
             (3, 'c', '2026-12-07'), (4, 'd', '2026-12-08')",
        ])
        .await;
    let mut config = db.config(&name);
    config.tables = vec!["notes".to_owned()].into();
    config.timestamp_column = Some("changed".into());
    config.page_size = NonZeroU32::new(1).unwrap();
    let c = db.connector(config.clone());
    let t = |d, h, m| Utc.with_ymd_and_hms(2026, 12, d, h, m, 0).unwrap();
    let ids = |docs: Vec<Document>| {
        let mut ids: Vec<String> = docs
            .iter()
            .map(|d| d.id.rsplit(':').next().unwrap_or_default().to_owned())
            .collect();
        ids.sort();
        ids
    };
    // A window holds every day it overlaps and the day before its start.
    let w = TimeWindow::new(t(7, 9, 55), t(7, 10, 15)).unwrap();
    assert_eq!(ids(poll(&*c, w).await), ["1", "2", "3"]);
    let w = TimeWindow::new(t(7, 23, 55), t(8, 0, 5)).unwrap();
    assert_eq!(ids(poll(&*c, w).await), ["1", "2", "3", "4"]);
    let w = TimeWindow::new(t(7, 0, 0), t(8, 0, 0)).unwrap();
    assert_eq!(ids(poll(&*c, w).await), ["1", "2", "3"]);
    let w = TimeWindow::new(t(6, 12, 0), t(7, 0, 0)).unwrap();
    assert_eq!(ids(poll(&*c, w).await), ["1"]);
    // review22 F1: an application in Los Angeles dates an edit 12-07 at 17:00 local, 01:00 UTC
    // on 12-08; with `timezone` unset, the next poll's window starts after UTC's midnight.
    // Floored to its own day (12-08) that poll missed rows 2 and 3 for good.
    let w = TimeWindow::new(t(8, 1, 0), t(8, 1, 15)).unwrap();
    assert_eq!(ids(poll(&*c, w).await), ["2", "3", "4"]);
    // review22 F6: with `timezone` set, days are New York's: [12-08 03:00Z, 03:15Z) is
    // [12-07 22:00, 22:15) there, and reads the rows dated 12-07 (and the day before), not
    // 12-08, which the same window reads in UTC.
    let w = TimeWindow::new(t(8, 3, 0), t(8, 3, 15)).unwrap();
    assert_eq!(ids(poll(&*c, w).await), ["2", "3", "4"]);
    config.timezone = Some("America/New_York".into());
    let c = db.connector(config);
    assert_eq!(ids(poll(&*c, w).await), ["1", "2", "3"]);
}

#[tokio::test]
async fn postgresql_date_cursor_windows() {
    date_cursor_windows(Db::Pg).await;
}

#[tokio::test]
async fn mysql_date_cursor_windows() {
    date_cursor_windows(Db::My).await;
}

async fn query_mode(db: Db) {
    let name = db
        .database(&[
            &items_table(db),
            "INSERT INTO items VALUES (1, 'a', 'x', '2025-03-01 10:00:00')",
            "INSERT INTO items VALUES (2, 'b', 'y', '2025-03-01 10:00:00')",
            "INSERT INTO items VALUES (3, 'c', 'z', '2025-03-01 10:00:00')",
        ])
        .await;
    let mut config = db.config(&name);
    config.query = Some(
        "```sql\nSELECT id AS item_id, title, body FROM items WHERE id <> 2 ORDER BY title;\n```"
            .into(),
    );
    config.id_column = Some("item_id".into());
    config.page_size = NonZeroU32::new(1).unwrap();
    let c = db.connector(config);
    let pages = collect_checkpointed(&*c, None).await;
    let ids: Vec<String> = pages
        .iter()
        .flat_map(|(b, _)| b.documents.iter().map(|d| d.id.clone()))
        .collect();
    let source = c.source();
    // RAGFlow's id form for a query.
    assert_eq!(
        ids,
        [format!("{source}:{name}:1"), format!("{source}:{name}:3")]
    );
    let mut s = c.as_refetch().unwrap().fetch(
        vec![ids[1].clone(), format!("{source}:{name}:2")],
        SyncContext::new(),
    );
    let again = s.next().await.unwrap().unwrap();
    assert_eq!(again.documents.len(), 1, "row 2 is outside the query");
    // A value is never spliced: a table name with a quote is quoted, not run.
    let mut evil = db.config(&name);
    evil.tables = vec!["items\"; DROP TABLE items; --".to_owned()].into();
    let e = db.connector(evil).check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(collect_load(&*c).await.0.len(), 2, "items still there");
}

/// review38 N2: a one-column key in a `_bin` collation (sqlx names it `VARBINARY`) is text,
/// walked in the collation's byte order; a real `VARBINARY` key is still refused.
#[tokio::test]
async fn mysql_bin_collated_text_key_is_text() {
    let db = Db::My;
    let name = db
        .database(&[
            "CREATE TABLE slugs (sha VARCHAR(40) COLLATE utf8mb4_bin PRIMARY KEY, body TEXT, \
             updated_at DATETIME)",
            "INSERT INTO slugs VALUES ('b', 'x', '2025-03-01 10:00:00'), \
             ('A', 'y', '2025-03-01 10:00:00'), ('a', 'z', '2025-03-01 10:00:00'), \
             ('\u{e9}', 'w', '2025-03-01 10:00:00')",
            "CREATE TABLE raw (id VARBINARY(16) PRIMARY KEY, body TEXT)",
            // review43 F5: TEXT in a `_bin` collation, which sqlx names BLOB.
            "CREATE TABLE notes (slug TEXT COLLATE utf8mb4_bin NOT NULL, body TEXT)",
            "INSERT INTO notes VALUES ('b', 'x'), ('A', 'y'), ('a', 'z'), ('\u{e9}', 'w')",
        ])
        .await;
    let mut config = db.config(&name);
    config.tables = vec!["slugs".to_owned()].into();
    config.page_size = NonZeroU32::new(1).unwrap();
    let c = db.connector(config);
    let ids: Vec<String> = collect_checkpointed(&*c, None)
        .await
        .iter()
        .flat_map(|(b, _)| b.documents.iter().map(|d| d.id.clone()))
        .collect();
    let source = c.source();
    assert_eq!(
        ids,
        ["A", "a", "b", "\u{e9}"].map(|k| format!("{source}:{name}:slugs:{k}"))
    );
    let mut config = db.config(&name);
    config.tables = vec!["raw".to_owned()].into();
    let e = db.connector(config).check().await.unwrap_err();
    assert!(e.to_string().contains("VARBINARY"), "{e}");
    let mut config = db.config(&name);
    config.tables = vec!["notes".to_owned()].into();
    config.id_column = Some("slug".into());
    config.page_size = NonZeroU32::new(1).unwrap();
    let c = db.connector(config);
    let ids = ids_of(ids_within_a_minute(&*c, None, None).await);
    assert_eq!(
        ids,
        ["A", "a", "b", "\u{e9}"].map(|k| format!("{source}:{name}:notes:{k}"))
    );
}

/// The ids of a walk from `from` (the start when `None`), within 60 s: a walk that reads
/// one page for ever fails the test instead of hanging it.
async fn ids_within_a_minute(
    c: &dyn Connector,
    from: Option<connector_core::CheckpointJson>,
    w: Option<TimeWindow>,
) -> Vec<(Vec<String>, connector_core::CheckpointJson)> {
    let from = from.unwrap_or_else(|| start_of(c));
    tokio::time::timeout(std::time::Duration::from_secs(60), pages_of(c, from, w))
        .await
        .expect("the walk ends")
}

/// review43 F1-F3 (review38 N1): MySQL DECIMAL ids past 35 integer digits (`DECIMAL(40,0)`,
/// 128-bit ids as numbers) and past 30 decimals (MariaDB's `DECIMAL(40,38)`, three ids alike
/// in their first 30) page, resume and refetch exactly, in pages of one and two, in full runs
/// and in a window where each page goes on from its last row's stored value; the table after
/// them is read. Bound as `CAST(? AS DECIMAL(65,30))` they were clipped (a walk reading one
/// page for ever) or rounded (rows skipped, or "deleted meanwhile"), then refused, which
/// failed the whole load on every run.
#[tokio::test]
async fn mysql_wide_decimal_ids_page_and_refetch() {
    let db = Db::My;
    let big = format!("1{}", "0".repeat(36));
    let pre = "0.123456789012345678901234567890";
    let no_day = "'2025-01-00 10:00:00'";
    let name = db
        .database(&[
            "CREATE TABLE wide (id DECIMAL(40,0) PRIMARY KEY, body TEXT, updated_at DATETIME NOT NULL)",
            "CREATE TABLE fine (id DECIMAL(40,38) PRIMARY KEY, body TEXT, updated_at DATETIME NOT NULL)",
            "CREATE TABLE zlast (id INT PRIMARY KEY, body TEXT, updated_at DATETIME NOT NULL)",
            "SET sql_mode = ''",
            &format!(
                "INSERT INTO wide VALUES (5, 'a', {no_day}), ({big}1, 'b', {no_day}), \
                 ({big}2, 'c', {no_day}), ({big}3, 'd', {no_day})"
            ),
            &format!(
                "INSERT INTO fine VALUES ({pre}60000000, 'a', {no_day}), \
                 ({pre}61000000, 'b', {no_day}), ({pre}62000000, 'c', {no_day}), \
                 (1.5, 'd', {no_day})"
            ),
            "INSERT INTO zlast VALUES (1, 'z', '2025-01-01 10:00:00')",
        ])
        .await;
    let source = "mysql";
    let fine = |k: &str| format!("{source}:{name}:fine:{k}");
    let wide = |k: &str| format!("{source}:{name}:wide:{k}");
    let want = vec![
        fine(&format!("{pre}60000000")),
        fine(&format!("{pre}61000000")),
        fine(&format!("{pre}62000000")),
        fine(&format!("1.5{}", "0".repeat(37))),
        wide("5"),
        wide(&format!("{big}1")),
        wide(&format!("{big}2")),
        wide(&format!("{big}3")),
        format!("{source}:{name}:zlast:1"),
    ];
    let day = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
    let w = TimeWindow::new(day(2024, 12, 31), day(2025, 1, 2)).unwrap();
    for size in [1, 2] {
        let mut config = db.config(&name);
        config.timestamp_column = Some("updated_at".into());
        config.timezone = Some("UTC".into());
        config.page_size = NonZeroU32::new(size).unwrap();
        let c = db.connector(config);
        for window in [None, Some(w)] {
            let pages = ids_within_a_minute(&*c, None, window).await;
            assert_eq!(ids_of(pages.clone()), want, "pages of {size}, {window:?}");
            // Resuming from every page's checkpoint gives exactly the rest.
            for k in 0..pages.len() {
                let rest: Vec<String> = ids_of(pages[k + 1..].to_vec());
                let again = ids_within_a_minute(&*c, Some(pages[k].1.clone()), window).await;
                assert_eq!(
                    ids_of(again),
                    rest,
                    "pages of {size}, {window:?}, after {k}"
                );
            }
        }
        let mut s = c.as_refetch().unwrap().fetch(
            vec![want[1].clone(), want[6].clone(), wide(&format!("{big}9"))],
            SyncContext::new(),
        );
        let mut ids = Vec::new();
        while let Some(batch) = s.next().await {
            ids.extend(batch.unwrap().documents.into_iter().map(|d| d.id));
        }
        assert_eq!(ids, [want[1].clone(), want[6].clone()]);
    }
}

/// review43 F4, review46 S1/S2/T1: an ENUM or SET id (the server orders it by its index or
/// bits, so `>` would end a walk early, silently) is refused naming ENUM or SET, in a `_bin`
/// collation (sqlx names both `BINARY`) and in a normal one (sqlx names a SET `CHAR`). Its
/// detection reads sqlx's `Debug` text of the column's type: this pins it against a change
/// of that format.
#[tokio::test]
async fn mysql_enum_and_set_ids_are_refused() {
    let db = Db::My;
    let name = db
        .database(&[
            "CREATE TABLE e_bin (stage ENUM('zeta','alpha','mid') COLLATE utf8mb4_bin PRIMARY KEY, body TEXT)",
            "CREATE TABLE e_ci (stage ENUM('zeta','alpha','mid') PRIMARY KEY, body TEXT)",
            "CREATE TABLE s_bin (tags SET('b','a','c') COLLATE utf8mb4_bin PRIMARY KEY, body TEXT)",
            "CREATE TABLE s_ci (tags SET('b','a','c') PRIMARY KEY, body TEXT)",
            "INSERT INTO s_ci VALUES ('b', 'x'), ('a', 'y'), ('c', 'z')",
        ])
        .await;
    for (table, column, what) in [
        ("e_bin", "stage", "ENUM"),
        ("e_ci", "stage", "ENUM"),
        ("s_bin", "tags", "SET"),
        ("s_ci", "tags", "SET"),
    ] {
        let mut config = db.config(&name);
        config.tables = vec![table.to_owned()].into();
        let e = db.connector(config).check().await.unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("`{column}` of table `{table}` is {what}:")),
            "{table}: {e}"
        );
        assert!(
            e.to_string()
                .contains(&format!("CAST(`{column}` AS CHAR) AS `{column}`")),
            "{table}: {e}"
        );
    }
    // The way out the message names (review48 F3): walked as text, in pages of one.
    let mut config = db.config(&name);
    config.query = Some("SELECT CAST(`tags` AS CHAR) AS `tags`, body FROM s_ci".into());
    config.id_column = Some("tags".into());
    config.page_size = NonZeroU32::new(1).unwrap();
    let c = db.connector(config);
    let ids = ids_of(ids_within_a_minute(&*c, None, None).await);
    assert_eq!(ids, ["a", "b", "c"].map(|k| format!("mysql:{name}:{k}")));
}

/// review48 F1: text in a `_bin` collation (`VARCHAR`, and `TEXT`, which sqlx names `BLOB`)
/// is read as text, so an id holding a control character (`\u{1}`, or the C1 of latin1
/// mojibake: `Á` read through latin1 and stored again is `Ã` + U+0081) is a key and its
/// content text. Read as bytes, such an id was "not a key", which stopped the whole load on
/// every run: no table after it read, no listing for prune.
#[tokio::test]
async fn mysql_bin_collated_text_ids_keep_control_characters() {
    let db = Db::My;
    let name = db
        .database(&[
            "CREATE TABLE notes (slug TEXT COLLATE utf8mb4_bin NOT NULL, body TEXT COLLATE utf8mb4_bin)",
            "INSERT INTO notes VALUES ('a\u{1}b', 'x\u{1}y'), ('\u{c3}\u{81}', 'Caf\u{c3}\u{a9}'), ('m', 'plain')",
            "CREATE TABLE slugs (slug VARCHAR(20) COLLATE utf8mb4_bin PRIMARY KEY, body TEXT)",
            "INSERT INTO slugs VALUES ('a\u{1}b', 'x'), ('\u{c3}\u{81}', 'y'), ('m', 'z')",
            "CREATE TABLE zlast (slug VARCHAR(10) PRIMARY KEY, body TEXT)",
            "INSERT INTO zlast VALUES ('z', 'last')",
        ])
        .await;
    let mut config = db.config(&name);
    config.id_column = Some("slug".into());
    config.page_size = NonZeroU32::new(1).unwrap();
    let c = db.connector(config);
    let id = |table: &str, k: &str| format!("mysql:{name}:{table}:{k}");
    // In each table, the ids' bytes: `a\x01b` < `m` < `\xc3\x83\xc2\x81`.
    let mut want = Vec::new();
    for table in ["notes", "slugs"] {
        for k in ["a\u{1}b", "m", "\u{c3}\u{81}"] {
            want.push(id(table, k));
        }
    }
    want.push(id("zlast", "z"));
    let pages = ids_within_a_minute(&*c, None, None).await;
    assert_eq!(ids_of(pages.clone()), want);
    for k in 0..pages.len() {
        let again = ids_within_a_minute(&*c, Some(pages[k].1.clone()), None).await;
        assert_eq!(ids_of(again), ids_of(pages[k + 1..].to_vec()), "after {k}");
    }
    let (docs, failures) = collect_load(&*c).await;
    assert!(failures.is_empty(), "{failures:?}");
    let text = doc(&docs, ":notes:a\u{1}b").content.as_text().unwrap();
    assert!(text.contains("x\u{1}y"), "{text:?}");
    let mut listed = Vec::new();
    let mut s = c.as_slim().unwrap().list_ids(SyncContext::new());
    while let Some(p) = s.next().await {
        listed.extend(p.unwrap().into_iter().map(|d| d.id));
    }
    assert_eq!(listed, want);
    let mut got = Vec::new();
    let mut s = c
        .as_refetch()
        .unwrap()
        .fetch(vec![want[2].clone(), want[3].clone()], SyncContext::new());
    while let Some(b) = s.next().await {
        got.extend(b.unwrap().documents.into_iter().map(|d| d.id));
    }
    assert_eq!(got, [want[2].clone(), want[3].clone()]);
}

/// rdbms59: text in a `_bin` collation whose bytes are not UTF-8 (a query's
/// `CONCAT(slug, CHAR(255))`: the server checks no expression's bytes; a table refuses to
/// store them) keeps its row, with the note of its size a binary value gets, in a query with
/// `id_column` and in one without, whose rows are named by a hash of their values: there
/// MySQL's `JSON_ARRAY` of the row was NULL, so the row had a NULL id, which no page took,
/// and was lost without a note. Read as text since fix28, the value was an error that made
/// its row a failure.
#[tokio::test]
async fn mysql_bin_collated_text_not_utf8_keeps_its_row() {
    let db = Db::My;
    let name = db
        .database(&[
            "CREATE TABLE notes (id INT PRIMARY KEY, slug VARCHAR(10) COLLATE utf8mb4_bin, body TEXT)",
            "INSERT INTO notes VALUES (1, 'ok', 'one'), (2, 'bad', 'two'), (3, 'fine', 'three')",
        ])
        .await;
    let query = "SELECT id, IF(id = 2, CONCAT(slug, CHAR(255)), slug) AS tag, body FROM notes";
    for id_column in [Some("id"), None] {
        let mut config = db.config(&name);
        config.query = Some(query.into());
        config.id_column = id_column.map(Into::into);
        config.page_size = NonZeroU32::new(1).unwrap();
        let c = db.connector(config);
        let (docs, failures) = collect_load(&*c).await;
        assert!(failures.is_empty(), "{id_column:?}: {failures:?}");
        assert_eq!(docs.len(), 3, "{id_column:?}");
        let bad = docs
            .iter()
            .find(|d| d.content.as_text().unwrap().contains("two"))
            .unwrap();
        let text = bad.content.as_text().unwrap();
        assert!(text.contains("**tag:** (binary data, 4 bytes)"), "{text:?}");
        // Walked in pages of one, resumed from each, listed and refetched by its id.
        let pages = ids_within_a_minute(&*c, None, None).await;
        let ids = ids_of(pages.clone());
        assert_eq!(ids.len(), 3, "{id_column:?}");
        assert!(ids.contains(&bad.id));
        for k in 0..pages.len() {
            let again = ids_within_a_minute(&*c, Some(pages[k].1.clone()), None).await;
            assert_eq!(ids_of(again), ids_of(pages[k + 1..].to_vec()), "after {k}");
        }
        let mut listed = Vec::new();
        let mut s = c.as_slim().unwrap().list_ids(SyncContext::new());
        while let Some(p) = s.next().await {
            listed.extend(p.unwrap().into_iter().map(|d| d.id));
        }
        assert_eq!(listed, ids, "{id_column:?}");
        assert_eq!(
            refetched(&*c, vec![bad.id.clone()]).await,
            std::slice::from_ref(&bad.id)
        );
        if id_column.is_none() {
            // review58 L3: the ordinary rows keep the ids they had before the hex branch
            // (the server's own `MD5(JSON_ARRAY(...))` of their values), and only the row
            // that is not UTF-8 is named by the hex form: swapping the branches, or hashing
            // every row by its hex, would rename every hash-id document on upgrade.
            let hashes = |sql: String| my_texts(name.clone(), sql);
            let plain = hashes(format!(
                "SELECT MD5(JSON_ARRAY(q.id, q.tag, q.body)) FROM ({query}) q \
                 WHERE q.id IN (1, 3) ORDER BY q.id"
            ))
            .await;
            let hex = hashes(format!(
                "SELECT MD5(JSON_ARRAY('hex', HEX(CAST(q.id AS BINARY)), \
                 HEX(CAST(q.tag AS BINARY)), HEX(CAST(q.body AS BINARY)))) FROM ({query}) q \
                 WHERE q.id = 2"
            ))
            .await;
            let doc_id = |row: &str| {
                docs.iter()
                    .find(|d| d.content.as_text().unwrap().contains(row))
                    .unwrap()
                    .id
                    .clone()
            };
            let id = |hash: &String| format!("mysql:{name}:{hash}");
            assert_eq!(plain.len(), 2);
            assert_eq!(doc_id("one"), id(&plain[0]));
            assert_eq!(doc_id("three"), id(&plain[1]));
            assert_eq!(hex.len(), 1);
            assert_eq!(bad.id, id(&hex[0]));
        }
    }
    // review58 L4: as an id, the value that is not UTF-8 (no key: its bytes are not read as
    // text) stops the walk loudly, naming the column, rather than naming its row by a lossy
    // text that would break the walk's `>`.
    let mut config = db.config(&name);
    config.query = Some(query.into());
    config.id_column = Some("tag".into());
    let c = db.connector(config);
    let cp = c.as_checkpointed().unwrap();
    let mut s = cp.load_from_checkpoint_json(
        cp.initial_checkpoint_json().unwrap(),
        None,
        SyncContext::new(),
    );
    let mut error = None;
    while let Some(p) = s.next().await {
        if let Err(e) = p {
            error = Some(e);
            break;
        }
    }
    let e = error.expect("the walk stops at the id that is not text");
    assert!(e.to_string().contains("`tag`"), "{e}");
}

/// The first column of `sql`'s rows on MariaDB's database `db`, as text (the server's own
/// answer, to hold the connector's against).
async fn my_texts(db: String, sql: String) -> Vec<String> {
    use sqlx::{Connection as _, Row as _};
    let url = format!("mysql://root@127.0.0.1:{}/{db}", common::mariadb().port);
    let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut c)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect()
}

/// review48 F2: a MySQL DECIMAL id is bound with the scale of its text. A refetch id with an
/// exponent, as a caller's Python `Decimal` prints `0.0000000100`, finds its row (it was
/// bound as `0.00`, finding the row with id 0), and a text that is no number finds none (it
/// was cast to 0); a checkpoint holding one is refused, naming it.
#[tokio::test]
async fn mysql_decimal_ids_in_another_form() {
    let db = Db::My;
    let name = db
        .database(&[
            "CREATE TABLE tiny (id DECIMAL(12,10) PRIMARY KEY, body TEXT)",
            "INSERT INTO tiny VALUES (0, 'zero'), (0.00000001, 'small'), (1.5, 'one')",
        ])
        .await;
    let mut config = db.config(&name);
    config.page_size = NonZeroU32::new(1).unwrap();
    let c = db.connector(config);
    let id = |k: &str| format!("mysql:{name}:tiny:{k}");
    let mut got = Vec::new();
    let mut s = c
        .as_refetch()
        .unwrap()
        .fetch(vec![id("1.00E-8"), id("abc")], SyncContext::new());
    while let Some(b) = s.next().await {
        got.extend(b.unwrap().documents.into_iter().map(|d| d.id));
    }
    assert_eq!(got, [id("0.0000000100")]);
    let pages = ids_within_a_minute(&*c, None, None).await;
    assert_eq!(
        ids_of(pages.clone()),
        ["0.0000000000", "0.0000000100", "1.5000000000"].map(id)
    );
    let mut edited = pages[0].1.clone();
    edited.state["after"]["id"]["text"] = "1.00E-8".into();
    let mut s =
        c.as_checkpointed()
            .unwrap()
            .load_from_checkpoint_json(edited, None, SyncContext::new());
    let e = s.next().await.unwrap().map(|_| ()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Checkpoint, "{e}");
    assert!(e.to_string().contains("after id `1.00E-8`"), "{e}");
}

/// The documents a refetch of `ids` gives, failing the test on an error.
async fn refetched(c: &dyn Connector, ids: Vec<String>) -> Vec<String> {
    let mut got = Vec::new();
    let mut s = c.as_refetch().unwrap().fetch(ids, SyncContext::new());
    while let Some(b) = s.next().await {
        let b = b.unwrap();
        assert!(b.failures.is_empty(), "{:?}", b.failures);
        got.extend(b.documents.into_iter().map(|d| d.id));
    }
    got
}

/// rdbms59: a refetch id of an exact-number key that no row can hold (`1e-40`: 40 decimals,
/// past MariaDB's 38; `1e70`: 71 digits; past PostgreSQL's input, `1e-99999`) or that is no
/// number (`abc`, which PostgreSQL refused) is absent, and the other ids of the refetch are
/// found, one written with zeros past any scale (`1.5` and 40 zeros) among them. Each was
/// bound as it was written and the server's error failed the whole refetch.
async fn decimal_ids_no_row_holds(db: Db) {
    let (column, prefix) = match db {
        Db::Pg => ("NUMERIC", "public."),
        Db::My => ("DECIMAL(12,10)", ""),
    };
    let name = db
        .database(&[
            &format!("CREATE TABLE tiny (id {column} PRIMARY KEY, body TEXT)"),
            "INSERT INTO tiny VALUES (0.00000001, 'small'), (1.5, 'one'), (7, 'seven')",
        ])
        .await;
    let c = db.connector(db.config(&name));
    let id = |k: &str| format!("{}:{name}:{prefix}tiny:{k}", c.source());
    let got = refetched(
        &*c,
        ["1e-40", "abc", "1e70", "1e-99999", "1.00E-8", "1e131071"]
            .map(id)
            .into_iter()
            .chain([id(&format!("1.5{}", "0".repeat(40)))])
            .collect(),
    )
    .await;
    let want = match db {
        Db::Pg => ["0.00000001", "1.5"].map(id),
        Db::My => ["0.0000000100", "1.5000000000"].map(id),
    };
    assert_eq!(got, want);
    // Each alone: nothing, and no error.
    for no in ["1e-40", "abc", "1e70", "1e-99999", "1e131071", "-1e-16383"] {
        assert_eq!(
            refetched(&*c, vec![id(no)]).await,
            Vec::<String>::new(),
            "{no}"
        );
    }
}

/// review58 L2: the refetch asks the server what its DECIMAL holds (`VERSION()`): on
/// MariaDB 38 decimals, so an id of 31 to 38 is looked up and found (MySQL's 30 would leave
/// it absent; the MySQL 8 side is unit tests, `mysql_decimal_keys_are_plain_decimals` and
/// `a_mysql_version_or_a_refused_one_gets_mysqls_room`, for want of a server here). It is
/// asked only because these ids need more than MySQL's room (review65 L1).
#[tokio::test]
async fn mariadb_decimal_ids_of_38_decimals_are_found() {
    let db = Db::My;
    let name = db
        .database(&[
            "CREATE TABLE fine (id DECIMAL(40,38) PRIMARY KEY, body TEXT)",
            "INSERT INTO fine VALUES (0.00000000000000000000000000000000000015, 'fine'), \
             (1.5, 'one')",
        ])
        .await;
    let c = db.connector(db.config(&name));
    let id = |k: &str| format!("{}:{name}:fine:{k}", c.source());
    let got = refetched(&*c, ["1.5e-37", "15E-38", "1e-39", "1.5"].map(id).into()).await;
    let want = [
        format!("0.{}15", "0".repeat(36)),
        format!("1.5{}", "0".repeat(37)),
    ]
    .map(|k| id(&k));
    assert_eq!(got, want);
}

/// review65 L2: a PostgreSQL numeric id with trailing zeros is bound as digits and a positive
/// exponent (`1000` as `1e3`, `12300000.00` as `123e5`: review58 L1, pinned in
/// `mysql_decimal_keys_are_plain_decimals`), which the server reads as the number and finds
/// the row by, in a column of display scale 2 too; `15E2` binds plain `1500` (no shorter), a
/// number no row holds (`1e4`) is absent. The document ids are the server's own text.
#[tokio::test]
async fn postgresql_numeric_ids_bound_with_a_positive_exponent_are_found() {
    let db = Db::Pg;
    let name = db
        .database(&[
            "CREATE TABLE whole (id NUMERIC(12,2) PRIMARY KEY, body TEXT)",
            "INSERT INTO whole VALUES (1000, 'thousand'), (1500, 'fifteen'), \
             (12300000, 'many'), (7, 'seven')",
        ])
        .await;
    let c = db.connector(db.config(&name));
    let id = |k: &str| format!("{}:{name}:public.whole:{k}", c.source());
    let found = |k: &str| vec![id(k)];
    for (asked, want) in [
        ("1000", "1000.00"),
        ("1E3", "1000.00"),
        ("1000.00", "1000.00"),
        ("15E2", "1500.00"),
        ("1.23e7", "12300000.00"),
        ("12300000.00", "12300000.00"),
    ] {
        assert_eq!(
            refetched(&*c, vec![id(asked)]).await,
            found(want),
            "{asked}"
        );
    }
    assert_eq!(refetched(&*c, vec![id("1e4")]).await, Vec::<String>::new());
    let got = refetched(&*c, ["1e3", "1e4", "123e5", "15E2"].map(id).into()).await;
    assert_eq!(got, ["1000.00", "1500.00", "12300000.00"].map(id));
}

#[tokio::test]
async fn postgresql_decimal_ids_no_row_holds() {
    decimal_ids_no_row_holds(Db::Pg).await;
}

#[tokio::test]
async fn mysql_decimal_ids_no_row_holds() {
    decimal_ids_no_row_holds(Db::My).await;
}

/// review48 F4: the ENUM/SET refusal is of one-column ids only. A composite key with an ENUM
/// or SET part (left unbound in the look-ups; the key orders by its JSON text) walks every
/// row once, in pages of one, in a full run and in a window where every page goes on from
/// the stored value of a day-less date, and resumes from every page.
#[tokio::test]
async fn mysql_composite_keys_with_enum_and_set_parts_load() {
    let db = Db::My;
    let no_day = "'2025-01-00 10:00:00'";
    let name = db
        .database(&[
            "CREATE TABLE staged (stage ENUM('zeta','alpha') NOT NULL, n INT NOT NULL, body TEXT, \
             updated_at DATETIME NOT NULL, PRIMARY KEY (stage, n))",
            "CREATE TABLE tagged (tags SET('b','a','c') NOT NULL, n INT NOT NULL, body TEXT, \
             updated_at DATETIME NOT NULL, PRIMARY KEY (tags, n))",
            "SET sql_mode = ''",
            &format!(
                "INSERT INTO staged VALUES ('zeta', 1, 'a', {no_day}), ('alpha', 1, 'b', {no_day}), \
                 ('zeta', 2, 'c', {no_day}), ('alpha', 2, 'd', {no_day})"
            ),
            &format!(
                "INSERT INTO tagged VALUES ('b', 1, 'a', {no_day}), ('a', 1, 'b', {no_day}), \
                 ('c', 1, 'c', {no_day}), ('a,c', 2, 'd', {no_day})"
            ),
        ])
        .await;
    let day = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
    let w = TimeWindow::new(day(2024, 12, 31), day(2025, 1, 2)).unwrap();
    let mut config = db.config(&name);
    config.timestamp_column = Some("updated_at".into());
    config.timezone = Some("UTC".into());
    config.page_size = NonZeroU32::new(1).unwrap();
    let c = db.connector(config);
    for window in [None, Some(w)] {
        let pages = ids_within_a_minute(&*c, None, window).await;
        let ids = ids_of(pages.clone());
        assert_eq!(ids.len(), 8, "{ids:?}");
        for table in ["staged", "tagged"] {
            let of: Vec<&String> = ids
                .iter()
                .filter(|i| i.contains(&format!(":{table}:")))
                .collect();
            let mut sorted = of.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(of, sorted, "{window:?}");
            assert_eq!(of.len(), 4, "{window:?}");
        }
        for k in 0..pages.len() {
            let again = ids_within_a_minute(&*c, Some(pages[k].1.clone()), window).await;
            assert_eq!(
                ids_of(again),
                ids_of(pages[k + 1..].to_vec()),
                "{window:?}, after {k}"
            );
        }
    }
}

#[tokio::test]
async fn postgresql_query_mode() {
    query_mode(Db::Pg).await;
}

#[tokio::test]
async fn mysql_query_mode() {
    query_mode(Db::My).await;
}

async fn every_table_and_partitions(db: Db) {
    let name = db
        .database(&[
            "CREATE TABLE a (id INT PRIMARY KEY, v TEXT)",
            "CREATE TABLE b (code VARCHAR(10) PRIMARY KEY, v TEXT)",
            "CREATE TABLE logs (at INT, v TEXT)",
            "INSERT INTO a VALUES (1, 'a1'), (2, 'a2')",
            "INSERT INTO b VALUES ('x', 'bx')",
            "INSERT INTO logs VALUES (1, 'no key')",
        ])
        .await;
    // No `tables`, no `query`: every table, as RAGFlow reads them; the one without a
    // primary key is a failure naming it, the others are read.
    let c = db.connector(db.config(&name));
    let (docs, failures) = collect_load(&*c).await;
    let source = c.source();
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            format!("{source}:{name}:a:1"),
            format!("{source}:{name}:a:2"),
            format!("{source}:{name}:b:x")
        ]
    );
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].message.contains("`logs`"),
        "{}",
        failures[0].message
    );
    // Named tables are partitions, each reading its own rows.
    let mut config = db.config(&name);
    config.tables = vec!["b".to_owned(), "a".to_owned()].into();
    let c = db.connector(config);
    assert_eq!(c.partitions(), ["b", "a"]);
    let part = c.partition("b").unwrap();
    let (docs, _) = collect_load(&*part).await;
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].metadata["table"], "b");
}

#[tokio::test]
async fn postgresql_every_table_and_partitions() {
    every_table_and_partitions(Db::Pg).await;
}

#[tokio::test]
async fn mysql_every_table_and_partitions() {
    every_table_and_partitions(Db::My).await;
}

/// The session is read-only: a query calling a function that writes fails, naming `query`,
/// and writes nothing.
async fn read_only_session(db: Db, function: &str) {
    let name = db
        .database(&[
            &items_table(db),
            "INSERT INTO items VALUES (1, 'a', 'x', '2025-03-01 10:00:00')",
            function,
        ])
        .await;
    let mut config = db.config(&name);
    config.query = Some("SELECT id, bump() AS b FROM items".into());
    config.id_column = Some("id".into());
    let c = db.connector(config);
    let mut s = c.as_load().unwrap().load(SyncContext::new());
    let e = loop {
        match s.next().await {
            Some(Ok(b)) => assert!(b.documents.is_empty(), "a write ran: {b:?}"),
            Some(Err(e)) => break e,
            None => panic!("the write was not refused"),
        }
    };
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert_eq!(e.field(), Some("query"), "{e}");
    let mut plain = db.config(&name);
    plain.tables = vec!["items".to_owned()].into();
    assert_eq!(collect_load(&*db.connector(plain)).await.0.len(), 1);
}

#[tokio::test]
async fn postgresql_session_is_read_only() {
    read_only_session(
        Db::Pg,
        "CREATE FUNCTION bump() RETURNS int LANGUAGE sql AS \
         $$ INSERT INTO items VALUES (9, 'w', 'w', '2025-03-01') RETURNING id $$",
    )
    .await;
}

#[tokio::test]
async fn mysql_session_is_read_only() {
    read_only_session(
        Db::My,
        "CREATE FUNCTION bump() RETURNS INT MODIFIES SQL DATA \
         BEGIN INSERT INTO items VALUES (9, 'w', 'w', '2025-03-01'); RETURN 1; END",
    )
    .await;
}

/// Each window reaches `overlap_seconds` back (300 by default).
#[tokio::test]
async fn windows_overlap_by_overlap_seconds() {
    let mut config = Db::Pg.config("any");
    assert_eq!(
        Db::Pg.connector(config.clone()).min_overlap(),
        std::time::Duration::from_secs(300)
    );
    config.overlap_seconds = 0;
    assert_eq!(
        Db::My.connector(config).min_overlap(),
        std::time::Duration::ZERO
    );
}

/// Zone-less times written in `timezone` are read as the instants they are there: the
/// window, the keyset cursor and `updated_at` agree.
async fn naive_times_in_timezone(db: Db) {
    let name = db
        .database(&[
            &items_table(db),
            // New York wall-clock times: 15:00 and 15:30 UTC.
            "INSERT INTO items VALUES (1, 'a', 'x', '2025-03-01 10:00:00')",
            "INSERT INTO items VALUES (2, 'b', 'y', '2025-03-01 10:30:00')",
            "INSERT INTO items VALUES (3, 'c', 'z', '2025-03-01 10:30:00')",
        ])
        .await;
    let mut config = db.config(&name);
    config.timestamp_column = Some("updated_at".into());
    config.timezone = Some("America/New_York".into());
    config.page_size = NonZeroU32::new(1).unwrap();
    let c = db.connector(config);
    let docs = poll(&*c, TimeWindow::new(at(15, 0), at(16, 0)).unwrap()).await;
    assert_eq!(docs.len(), 3, "{docs:?}");
    assert_eq!(doc(&docs, ":1").updated_at, Some(at(15, 0)));
    assert_eq!(doc(&docs, ":3").updated_at, Some(at(15, 30)));
    assert!(
        poll(&*c, TimeWindow::new(at(10, 0), at(11, 0)).unwrap())
            .await
            .is_empty(),
        "read as UTC"
    );
    let late = poll(&*c, TimeWindow::new(at(15, 1), at(16, 0)).unwrap()).await;
    assert_eq!(late.len(), 2);
}

#[tokio::test]
async fn postgresql_naive_times_in_timezone() {
    naive_times_in_timezone(Db::Pg).await;
}

#[tokio::test]
async fn mysql_naive_times_in_timezone() {
    naive_times_in_timezone(Db::My).await;
}

/// Every document of a checkpointed walk in `window`, page by page with its checkpoint.
/// A connector's first checkpoint.
fn start_of(c: &dyn Connector) -> connector_core::CheckpointJson {
    c.as_checkpointed()
        .unwrap()
        .initial_checkpoint_json()
        .unwrap()
}

/// The ids of a walk's pages ([`pages_of`]), in order.
fn ids_of(pages: Vec<(Vec<String>, connector_core::CheckpointJson)>) -> Vec<String> {
    pages.into_iter().flat_map(|(ids, _)| ids).collect()
}

async fn pages_of(
    c: &dyn Connector,
    from: connector_core::CheckpointJson,
    w: Option<TimeWindow>,
) -> Vec<(Vec<String>, connector_core::CheckpointJson)> {
    let cp = c.as_checkpointed().unwrap();
    let mut pages = Vec::new();
    let mut s = cp.load_from_checkpoint_json(from, w, SyncContext::new());
    while let Some(p) = s.next().await {
        let p = p.unwrap();
        assert!(p.batch.failures.is_empty(), "{:?}", p.batch.failures);
        pages.push((
            p.batch.documents.iter().map(|d| d.id.clone()).collect(),
            p.checkpoint,
        ));
    }
    pages
}

/// RAGFlow's query without `id_column`: rows named by a hash of their values, nine sharing
/// a timestamp across pages of two, neither lost nor repeated, resumable from every page;
/// an edit is a new id and the old one leaves the listing.
async fn query_without_id(db: Db) {
    let mut rows = vec![items_table(db)];
    for id in 1..=9 {
        rows.push(format!(
            "INSERT INTO items VALUES ({id}, 'T{id}', 'body {id}', '2025-03-01 10:00:00')"
        ));
    }
    rows.push("INSERT INTO items VALUES (10, 'early', 'e', '2025-03-01 09:00:00')".into());
    rows.push("INSERT INTO items VALUES (11, 'late', 'l', '2025-03-01 11:00:00')".into());
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    let name = db.database(&refs).await;
    let mut config = db.config(&name);
    config.query = Some("SELECT title, body, updated_at FROM items".into());
    config.timestamp_column = Some("updated_at".into());
    config.title_column = Some("title".into());
    config.page_size = NonZeroU32::new(2).unwrap();
    let c = db.connector(config);
    let prefix = format!("{}:{name}:", c.source());
    let docs = poll(&*c, TimeWindow::new(at(10, 0), at(11, 0)).unwrap()).await;
    let mut titles: Vec<&str> = docs.iter().map(|d| d.title.as_str()).collect();
    titles.sort_unstable();
    assert_eq!(
        titles,
        ["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", "T9"]
    );
    for d in &docs {
        let hash = d.id.strip_prefix(&prefix).unwrap();
        assert!(
            hash.len() == 32 && hash.chars().all(|c| c.is_ascii_hexdigit()),
            "{}",
            d.id
        );
        // The hash is no content column.
        assert!(!d.content.as_text().unwrap().contains(hash));
    }
    let w = Some(TimeWindow::new(at(10, 0), at(11, 0)).unwrap());
    let cp = c.as_checkpointed().unwrap();
    let pages = pages_of(&*c, cp.initial_checkpoint_json().unwrap(), w).await;
    assert!(pages.len() >= 5, "{} pages", pages.len());
    for k in 0..pages.len() {
        let rest: Vec<String> = pages[k + 1..]
            .iter()
            .flat_map(|(ids, _)| ids.clone())
            .collect();
        let again = ids_of(pages_of(&*c, pages[k].1.clone(), w).await);
        assert_eq!(again, rest, "resume after page {k}");
    }
    // A full run reads every row once, the same ids as the window.
    let (full, failures) = collect_load(&*c).await;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(full.len(), 11);
    let t2 = docs.iter().find(|d| d.title == "T2").unwrap().id.clone();
    assert!(full.iter().any(|d| d.id == t2));
    // Row 2 is edited: another id; the listing (prune's) drops the old one.
    db.exec(&name, &["UPDATE items SET body = 'edited' WHERE id = 2"])
        .await;
    let mut ids = Vec::new();
    let mut s = c.as_slim().unwrap().list_ids(SyncContext::new());
    while let Some(p) = s.next().await {
        ids.extend(p.unwrap().into_iter().map(|d| d.id));
    }
    assert_eq!(ids.len(), 11);
    assert!(!ids.contains(&t2));
    let edited: Vec<&String> = ids
        .iter()
        .filter(|i| !full.iter().any(|d| &d.id == *i))
        .collect();
    assert_eq!(edited.len(), 1);
    // Refetch by the hash: the edited row; the old hash names no row.
    let mut got = Vec::new();
    let mut s = c
        .as_refetch()
        .unwrap()
        .fetch(vec![edited[0].clone(), t2], SyncContext::new());
    while let Some(b) = s.next().await {
        got.extend(b.unwrap().documents);
    }
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].id, edited[0]);
    assert_eq!(got[0].title, "T2");
}

#[tokio::test]
async fn postgresql_query_without_id_column() {
    query_without_id(Db::Pg).await;
}

#[tokio::test]
async fn mysql_query_without_id_column() {
    query_without_id(Db::My).await;
}

/// A table whose primary key is two columns (declared in another order than the columns):
/// each row is named by the JSON array of its key's values in the key's order, computed by
/// the server and compared byte by byte, so nine rows sharing a timestamp across pages of
/// two are neither lost nor repeated, even `[1, "A"]` and `[1, "a"]` on either side of a
/// page boundary (equal under MariaDB's default case-blind collation); resumable from every
/// page; listed, refetched and loaded with the same ids.
async fn composite_primary_key(db: Db) {
    let region = match db {
        Db::Pg => "VARCHAR(10)",
        Db::My => "VARCHAR(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
    };
    let mut rows = vec![format!(
        "CREATE TABLE stock (region {region}, title VARCHAR(100), n INT, updated_at {} NOT NULL, \
         PRIMARY KEY (n, region))",
        db.ts()
    )];
    let keys = [
        (0, "x"),
        (1, "A"),
        (1, "a"),
        (1, "b"),
        (2, "a"),
        (2, "b"),
        (10, "a"),
        (10, "c"),
        (3, "q\"x"),
    ];
    for (n, r) in keys {
        rows.push(format!(
            "INSERT INTO stock VALUES ('{r}', 'T{n}{r}', {n}, '2025-03-01 10:00:00')"
        ));
    }
    rows.push("INSERT INTO stock VALUES ('e', 'early', 5, '2025-03-01 09:00:00')".into());
    rows.push("INSERT INTO stock VALUES ('l', 'late', 5, '2025-03-01 11:00:00')".into());
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    let name = db.database(&refs).await;
    let mut config = db.config(&name);
    config.timestamp_column = Some("updated_at".into());
    config.page_size = NonZeroU32::new(2).unwrap();
    let c = db.connector(config);
    let id = |key: &str| format!("{}:{name}:stock:{key}", c.source());
    // The window's rows in `(cursor, id)` order: the ids' bytes.
    let window = [
        r#"[0, "x"]"#,
        r#"[1, "A"]"#,
        r#"[1, "a"]"#,
        r#"[1, "b"]"#,
        r#"[10, "a"]"#,
        r#"[10, "c"]"#,
        r#"[2, "a"]"#,
        r#"[2, "b"]"#,
        r#"[3, "q\"x"]"#,
    ];
    let w = TimeWindow::new(at(10, 0), at(11, 0)).unwrap();
    let docs = poll(&*c, w).await;
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, window.map(id));
    // The key's columns are the id, not content; the title is the table and the key.
    assert_eq!(docs[1].title, r#"stock [1, "A"]"#);
    let text = docs[1].content.as_text().unwrap();
    assert!(text.contains("T1A") && !text.contains("region"), "{text}");
    let cp = c.as_checkpointed().unwrap();
    let pages = pages_of(&*c, cp.initial_checkpoint_json().unwrap(), Some(w)).await;
    assert!(pages.len() >= 5, "{} pages", pages.len());
    for k in 0..pages.len() {
        let rest: Vec<String> = pages[k + 1..]
            .iter()
            .flat_map(|(ids, _)| ids.clone())
            .collect();
        let again = ids_of(pages_of(&*c, pages[k].1.clone(), Some(w)).await);
        assert_eq!(again, rest, "resume after page {k}");
    }
    // A full run: every row once, in id order, the window's ids among them; the listing
    // (prune's) has the same ids.
    let (full, failures) = collect_load(&*c).await;
    assert!(failures.is_empty(), "{failures:?}");
    let full_ids: Vec<String> = full.iter().map(|d| d.id.clone()).collect();
    let mut sorted = full_ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(full_ids, sorted);
    assert_eq!(full_ids.len(), 11);
    assert!(window.iter().all(|k| full_ids.contains(&id(k))));
    assert!(full_ids.contains(&id(r#"[5, "e"]"#)));
    let mut listed = Vec::new();
    let mut s = c.as_slim().unwrap().list_ids(SyncContext::new());
    while let Some(p) = s.next().await {
        listed.extend(p.unwrap().into_iter().map(|d| d.id));
    }
    assert_eq!(listed, full_ids);
    // Refetch by the key's text; a key naming no row yields nothing.
    let mut got = Vec::new();
    let mut s = c.as_refetch().unwrap().fetch(
        vec![id(r#"[1, "a"]"#), id(r#"[1, "c"]"#)],
        SyncContext::new(),
    );
    while let Some(b) = s.next().await {
        got.extend(b.unwrap().documents);
    }
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, id(r#"[1, "a"]"#));
    assert_eq!(got[0].fingerprint, docs[2].fingerprint);
}

#[tokio::test]
async fn postgresql_composite_primary_key() {
    composite_primary_key(Db::Pg).await;
}

#[tokio::test]
async fn mysql_composite_primary_key() {
    composite_primary_key(Db::My).await;
}

/// The documents of `stream`, each as its JSON line with the database's random name left
/// out, hashed in order (SHA-256, hex), and how many there were.
async fn digest_of(
    mut stream: futures::stream::BoxStream<'static, connector_core::Result<connector_core::Batch>>,
    database: &str,
) -> (usize, String) {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    let mut n = 0;
    while let Some(b) = stream.next().await {
        let b = b.unwrap();
        assert!(b.failures.is_empty(), "{:?}", b.failures);
        for d in &b.documents {
            let line = serde_json::to_string(d)
                .unwrap()
                .replace(database, "{database}");
            hash.update(line.as_bytes());
            hash.update(b"\n");
            n += 1;
        }
    }
    let hex = hash
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    (n, hex)
}

/// Ten thousand rows as the bench has them (ten to a timestamp, so pages end inside runs of
/// ties), every fifth body of two lines with Markdown in them and every seventh title NULL:
/// the documents of a full load and of a window holding every row, byte for byte as pinned
/// (ids, titles, content, metadata, times, fingerprints). A change to how a row is read or
/// written changes the digest: a stored fingerprint would re-deliver every row.
async fn ten_thousand_rows_are_pinned(db: Db, pinned_load: &str, pinned_poll: &str) {
    let make = items_table(db);
    let fill = match db {
        Db::Pg => "INSERT INTO items SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE 'Item ' || g END, \
                   CASE WHEN g % 5 = 0 THEN '# not a heading *' || g || '*' || chr(10) || '- next_line' \
                   ELSE repeat('body text of a row ', 13) || g END, \
                   timestamp '2025-01-01' + (g / 10) * interval '1 second' + (g % 3) * interval '1 microsecond' \
                   FROM generate_series(1, 10000) g"
            .to_owned(),
        Db::My => "INSERT INTO items SELECT seq, IF(seq % 7 = 0, NULL, CONCAT('Item ', seq)), \
                   IF(seq % 5 = 0, CONCAT('# not a heading *', seq, '*', CHAR(10), '- next_line'), \
                   CONCAT(REPEAT('body text of a row ', 13), seq)), \
                   TIMESTAMP '2025-01-01 00:00:00' + INTERVAL (seq DIV 10) SECOND + INTERVAL (seq % 3) MICROSECOND \
                   FROM seq_1_to_10000"
            .to_owned(),
    };
    let name = db
        .database(&[
            &make,
            &fill,
            "CREATE INDEX items_cursor ON items (updated_at, id)",
        ])
        .await;
    let mut config = db.config(&name);
    config.timestamp_column = Some("updated_at".into());
    config.title_column = Some("title".into());
    let c = db.connector(config);
    let load = digest_of(c.as_load().unwrap().load(SyncContext::new()), &name).await;
    let w = TimeWindow::new(
        Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
    )
    .unwrap();
    let poll = digest_of(c.as_poll().unwrap().poll(w, SyncContext::new()), &name).await;
    assert_eq!(
        (load, poll),
        (
            (10_000, pinned_load.to_owned()),
            (10_000, pinned_poll.to_owned())
        ),
        "{db:?}: (load, poll)"
    );
}

#[tokio::test]
async fn postgresql_ten_thousand_rows_are_pinned() {
    ten_thousand_rows_are_pinned(
        Db::Pg,
        "65b1bb28a17c98edf3673a139b8eaf8b5561fad3a9b849954b8e9b4fec304f5f",
        "9142c8324fd6b04024a637d5cd3c8d2a8d07476e1188cecee05d2e2057788d6a",
    )
    .await;
}

#[tokio::test]
async fn mysql_ten_thousand_rows_are_pinned() {
    ten_thousand_rows_are_pinned(
        Db::My,
        "b7f89983b8d8c42b88d9dd4d71ba8e3d21c846a7c03825f66597a96f6a143a70",
        "59a464dd1b8498e8fb55cab0247d591160cbbdc2b02005e480eb24d89c688425",
    )
    .await;
}

/// The rows MariaDB's handlers read from `db.table` so far (`userstat`'s
/// `TABLE_STATISTICS`, which this turns on: a count per table, so other tests' reads of the
/// shared server do not blur it).
async fn my_rows_read(db: &str, table: &str) -> i64 {
    use sqlx::{Connection as _, Row as _};
    common::my_exec(None, &["SET GLOBAL userstat = 1"]).await;
    let url = format!("mysql://root@127.0.0.1:{}/{db}", common::mariadb().port);
    let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
    sqlx::query(
        "SELECT CAST(COALESCE(SUM(ROWS_READ), 0) AS SIGNED) FROM information_schema.TABLE_STATISTICS \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
    )
    .bind(db)
    .bind(table)
    .fetch_one(&mut c)
    .await
    .unwrap()
    .get::<i64, _>(0)
}

/// review24 F2: a composite primary key's rows after a full page of dates that name no day
/// (pages of two here): each page after one goes on from the value the key row holds, read
/// by its key's columns bound from the key's JSON text (an escaped quote and an accent among
/// them), so the primary key finds it. Once by the key's JSON expression alone, which no
/// index serves: each page's two subqueries and its check scanned the table's 2000 other
/// rows. The walk reads each row once.
#[tokio::test]
async fn mysql_composite_key_rows_after_a_stored_value_are_looked_up() {
    let name = Db::My
        .database(&[
            "CREATE TABLE ev (tenant INT, code VARCHAR(20), seq BIGINT, body TEXT, \
             updated_at DATETIME NOT NULL, PRIMARY KEY (tenant, code, seq), KEY (updated_at))",
            "INSERT INTO ev SELECT seq MOD 7, CONCAT('k', seq), seq, 'old', '2024-06-01 00:00:00' \
             FROM seq_1_to_2000",
            "SET sql_mode = ''",
            "INSERT INTO ev VALUES (1, 'a', 1, 'x', '2025-01-00 10:00:00'), \
             (1, 'a', 2, 'x', '2025-01-00 10:00:00'), (1, 'q\"x', 3, 'x', '2025-01-00 10:00:00'), \
             (2, 'é', 4, 'x', '2025-01-00 10:00:00'), (2, 'É', 5, 'x', '2025-01-00 10:00:00'), \
             (3, 'b', 6, 'x', '2025-01-00 10:00:00'), (3, 'b', 7, 'x', '2025-01-00 11:00:00'), \
             (9, 'z', 8, 'x', '2025-01-01 01:00:00')",
        ])
        .await;
    let mut config = Db::My.config(&name);
    config.tables = vec!["ev".to_owned()].into();
    config.timestamp_column = Some("updated_at".into());
    config.timezone = Some("UTC".into());
    config.page_size = NonZeroU32::new(2).unwrap();
    let c = Db::My.connector(config);
    let day = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap();
    let w = TimeWindow::new(day(2024, 12, 31), day(2025, 1, 2)).unwrap();
    let before = my_rows_read(&name, "ev").await;
    let pages = pages_of(&*c, start_of(&*c), Some(w)).await;
    let read = my_rows_read(&name, "ev").await - before;
    let ids = ids_of(pages);
    let keys: Vec<&str> = ids
        .iter()
        .map(|id| id.rsplit(":ev:").next().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            r#"[1, "a", 1]"#,
            r#"[1, "a", 2]"#,
            r#"[1, "q\"x", 3]"#,
            r#"[2, "É", 5]"#,
            r#"[2, "é", 4]"#,
            r#"[3, "b", 6]"#,
            r#"[3, "b", 7]"#,
            r#"[9, "z", 8]"#,
        ]
    );
    // The pages read the window's rows by the `updated_at` index, and the key rows by the
    // primary key: tens of rows, where a scan of the table per look-up read tens of thousands.
    assert!(read < 500, "{read} rows read");
}

/// review31 G3: PostgreSQL times past chrono's years (which no page reads: each row is a
/// failure of its own) compare as the server's text in the check of the key row. Two rows
/// that share a non-unique `id_column` and hold two such times are two rows that differ
/// (once equal as "undecodable", and the row between them was skipped silently); the key
/// row's text is in the checkpoint, so an edit from one such time to another before a resume
/// is a change (once taken, and the rows between skipped).
#[tokio::test]
async fn postgresql_times_past_chrono_compare_as_their_text() {
    let name = Db::Pg
        .database(&[
            "CREATE TABLE ev (account_id BIGINT, body TEXT, at TIMESTAMP NOT NULL)",
            "INSERT INTO ev VALUES (7, 'a', '263000-01-01 00:00:00'), \
             (8, 'b', '265000-01-01 00:00:00'), (7, 'c', '270000-01-01 00:00:00')",
            "CREATE TABLE one (id INT PRIMARY KEY, body TEXT, at TIMESTAMP NOT NULL)",
            "INSERT INTO one VALUES (1, 'a', '263000-01-01 00:00:00'), \
             (2, 'b', '264000-01-01 00:00:00'), (3, 'c', '2025-03-01 10:00:00')",
        ])
        .await;
    let mut config = Db::Pg.config(&name);
    config.tables = vec!["ev".to_owned()].into();
    config.id_column = Some("account_id".into());
    config.timestamp_column = Some("at".into());
    config.timezone = Some("UTC".into());
    config.page_size = NonZeroU32::new(1).unwrap();
    let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
    let w = TimeWindow::new(at(9, 0), far).unwrap();
    let failures_of = |c: Box<dyn Connector>, from: Option<connector_core::CheckpointJson>| async move {
        let cp = c.as_checkpointed().unwrap();
        let from = from.unwrap_or_else(|| cp.initial_checkpoint_json().unwrap());
        let mut s = cp.load_from_checkpoint_json(from, Some(w), SyncContext::new());
        let mut failures = Vec::new();
        while let Some(p) = s.next().await {
            failures.extend(p.unwrap().batch.failures);
        }
        failures
    };
    let failures = failures_of(Db::Pg.connector(config.clone()), None).await;
    assert!(
        failures
            .iter()
            .any(|f| f.id.is_none() && f.message.contains("not the only row with that id")),
        "{failures:?}"
    );
    // A unique id: the page of row 1 (263000) keeps its text; row 1 edited before a resume.
    config.tables = vec!["one".to_owned()].into();
    config.id_column = None;
    let c = Db::Pg.connector(config.clone());
    let cp = c.as_checkpointed().unwrap();
    let mut s = cp.load_from_checkpoint_json(start_of(&*c), Some(w), SyncContext::new());
    let mut checkpoints = Vec::new();
    while let Some(p) = s.next().await {
        let p = p.unwrap();
        assert!(p.batch.failures.iter().all(|f| f.id.is_some()), "{p:?}");
        checkpoints.push(p.checkpoint);
    }
    assert_eq!(checkpoints.len(), 4, "{checkpoints:?}");
    assert_eq!(
        checkpoints[1].state,
        serde_json::json!({"table": "one", "after": {"id": {"int": 1}},
            "after_text": "263000-01-01 00:00:00"})
    );
    Db::Pg
        .exec(&name, &["UPDATE one SET at = '290000-01-01' WHERE id = 1"])
        .await;
    let failures = failures_of(Db::Pg.connector(config), Some(checkpoints[1].clone())).await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0]
            .message
            .contains("that row was changed meanwhile"),
        "{failures:?}"
    );
}

/// review38 R4: a PostgreSQL composite primary key of `int2`, `char(5)` and `uuid` columns,
/// its rows `infinity` in the cursor (a time no page reads), in pages of one: each page goes
/// on from the row's stored value, found by the key's columns bound from its JSON text (the
/// `int2` against an `int8` parameter, `CAST($n AS BPCHAR)` with its padding, `CAST($n AS
/// uuid)`), and the walk reads each row once, in order, resumable from every page.
#[tokio::test]
async fn postgresql_composite_key_rows_after_a_stored_value_are_looked_up() {
    let u = |n: u32| format!("00000000-0000-0000-0000-{n:012}");
    let name = Db::Pg
        .database(&[
            "CREATE TABLE ev (a int2, c char(5), u uuid, body TEXT, at TIMESTAMP NOT NULL, \
             PRIMARY KEY (a, c, u))",
            &format!(
                "INSERT INTO ev VALUES (1, 'ab', '{}', 'x', 'infinity'), \
                 (1, 'ab', '{}', 'x', 'infinity'), (1, 'b', '{}', 'x', 'infinity'), \
                 (2, 'ab', '{}', 'x', '2025-03-01 10:00:00'), (2, 'q\"x', '{}', 'x', 'infinity'), \
                 (-3, 'ab', '{}', 'x', 'infinity')",
                u(1),
                u(2),
                u(1),
                u(1),
                u(3),
                u(1)
            ),
        ])
        .await;
    let mut config = Db::Pg.config(&name);
    config.tables = vec!["ev".to_owned()].into();
    config.timestamp_column = Some("at".into());
    config.timezone = Some("UTC".into());
    config.page_size = NonZeroU32::new(1).unwrap();
    let c = Db::Pg.connector(config);
    let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
    let w = TimeWindow::new(at(9, 0), far).unwrap();
    let pages = ids_within_a_minute(&*c, None, Some(w)).await;
    let ids = ids_of(pages.clone());
    let keys: Vec<&str> = ids
        .iter()
        .map(|id| id.rsplit(":ev:").next().unwrap())
        .collect();
    let key = |a: i32, c: &str, n: u32| format!(r#"[{a}, "{c}", "{}"]"#, u(n));
    assert_eq!(
        keys,
        [
            key(2, "ab   ", 1),
            key(-3, "ab   ", 1),
            key(1, "ab   ", 1),
            key(1, "ab   ", 2),
            key(1, "b    ", 1),
            key(2, r#"q\"x  "#, 3),
        ]
    );
    for k in 0..pages.len() {
        let rest = ids_of(pages[k + 1..].to_vec());
        let again = ids_within_a_minute(&*c, Some(pages[k].1.clone()), Some(w)).await;
        assert_eq!(ids_of(again), rest, "after page {k}");
    }
}

/// rdbms53 F5: MySQL's zero date (`0000-00-00 00:00:00`, a NULL to the driver) as the last
/// row of a full page, in a window set by hand from before year 1000: the next page goes on
/// after the value the row holds, and the check compares the server's text (once "was
/// changed meanwhile", a failure of the table on every run).
#[tokio::test]
async fn mysql_zero_dates_hold_as_their_text() {
    let name = Db::My
        .database(&[
            "CREATE TABLE z (id INT PRIMARY KEY, body TEXT, updated_at DATETIME NOT NULL)",
            "SET sql_mode = ''",
            "INSERT INTO z VALUES (1, 'a', '0000-00-00 00:00:00'), (2, 'b', '0000-00-00 00:00:00'), \
             (3, 'c', '0000-00-00 11:00:00'), (4, 'd', '2025-01-01 01:00:00')",
        ])
        .await;
    let mut config = Db::My.config(&name);
    config.tables = vec!["z".to_owned()].into();
    config.timestamp_column = Some("updated_at".into());
    config.timezone = Some("UTC".into());
    config.page_size = NonZeroU32::new(1).unwrap();
    let c = Db::My.connector(config);
    let w = TimeWindow::new(
        Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2025, 1, 2, 0, 0, 0).unwrap(),
    )
    .unwrap();
    let pages = pages_of(&*c, start_of(&*c), Some(w)).await;
    assert_eq!(
        pages[0].1.state,
        serde_json::json!({"table": "z", "after": {"id": {"int": 1}},
            "after_text": "0000-00-00 00:00:00"})
    );
    let ids = ids_of(pages);
    let keys: Vec<&str> = ids
        .iter()
        .map(|id| id.rsplit(':').next().unwrap())
        .collect();
    assert_eq!(keys, ["1", "2", "3", "4"]);
}

/// `items` with rows `1..=n` (ids and titles `T{id}`, one timestamp).
async fn numbered_items(db: Db, n: usize, more: &[&str]) -> String {
    let fill = match db {
        Db::Pg => format!(
            "INSERT INTO items SELECT g, 'T' || g, 'body', '2025-03-01 10:00:00' FROM generate_series(1, {n}) g"
        ),
        Db::My => format!(
            "INSERT INTO items SELECT seq, CONCAT('T', seq), 'body', '2025-03-01 10:00:00' FROM seq_1_to_{n}"
        ),
    };
    let make = items_table(db);
    let mut all = vec![make.as_str()];
    if n > 0 {
        all.push(&fill);
    }
    all.extend(more);
    db.database(&all).await
}

/// A load's pages from `from`, each as its rows' ids and its checkpoint, up to the end or to
/// the first error, which comes with them.
async fn load_pages(
    c: &dyn Connector,
    from: connector_core::CheckpointJson,
    ctx: SyncContext,
) -> (
    Vec<(Vec<i64>, connector_core::CheckpointJson)>,
    Option<connector_core::Error>,
) {
    let cp = c.as_checkpointed().unwrap();
    let mut pages = Vec::new();
    let mut s = cp.load_from_checkpoint_json(from, None, ctx);
    while let Some(p) = s.next().await {
        match p {
            Ok(p) => {
                assert!(p.batch.failures.is_empty(), "{:?}", p.batch.failures);
                let ids = p.batch.documents.iter().map(|d| {
                    let (_, id) = d.id.rsplit_once(':').unwrap();
                    id.parse::<i64>().unwrap()
                });
                pages.push((ids.collect(), p.checkpoint));
            }
            Err(e) => {
                assert!(s.next().await.is_none(), "nothing after the error");
                return (pages, Some(e));
            }
        }
    }
    (pages, None)
}

/// The ids of `pages`, in order.
fn flat(pages: &[(Vec<i64>, connector_core::CheckpointJson)]) -> Vec<i64> {
    pages.iter().flat_map(|(ids, _)| ids.clone()).collect()
}

/// A load asks each keyset query for several pages (16 of `page_size` 3 here: 48 rows; the
/// walk's `LOAD_PAGES_A_QUERY`) and cuts its rows into pages as they arrive. 100 rows (two
/// whole queries and part of a third), 48 (one query, exactly), 96 (two), 2 and none come as
/// pages of `page_size` in id order, the last one short, or empty after a full page as when
/// each page was a query; each page's checkpoint is the last id handed on, and only the last
/// says `done`; resuming from every checkpoint (inside a query, at a query's end, at the end)
/// gives exactly the rest, no row lost or repeated.
async fn load_pages_are_cut_from_longer_queries(db: Db) {
    for total in [100_i64, 48, 96, 2, 0] {
        let name = numbered_items(db, total as usize, &[]).await;
        let mut config = db.config(&name);
        config.page_size = NonZeroU32::new(3).unwrap();
        let c = db.connector(config);
        let (pages, err) = load_pages(&*c, start_of(&*c), SyncContext::new()).await;
        assert!(err.is_none(), "{err:?}");
        let all: Vec<i64> = (1..=total).collect();
        let mut want: Vec<Vec<i64>> = all.chunks(3).map(<[i64]>::to_vec).collect();
        if total % 3 == 0 {
            want.push(Vec::new());
        }
        let got: Vec<Vec<i64>> = pages.iter().map(|(ids, _)| ids.clone()).collect();
        assert_eq!(got, want, "{db:?} {total} rows");
        let mut last = None;
        for (i, (ids, cp)) in pages.iter().enumerate() {
            last = ids.last().copied().or(last);
            assert_eq!(cp.state["after"]["id"]["int"].as_i64(), last, "page {i}");
            assert_eq!(cp.state["done"] == true, i + 1 == pages.len(), "page {i}");
        }
        for k in 0..pages.len() {
            let (again, err) = load_pages(&*c, pages[k].1.clone(), SyncContext::new()).await;
            assert!(err.is_none(), "{err:?}");
            assert_eq!(
                flat(&again),
                flat(&pages[k + 1..]),
                "{db:?} {total} rows: resume after page {k}"
            );
        }
    }
}

#[tokio::test]
async fn postgresql_load_pages_are_cut_from_longer_queries() {
    load_pages_are_cut_from_longer_queries(Db::Pg).await;
}

#[tokio::test]
async fn mysql_load_pages_are_cut_from_longer_queries() {
    load_pages_are_cut_from_longer_queries(Db::My).await;
}

/// A row that fails the server's statement inside a load's query (its scalar subquery finds
/// two rows: an error of the server's, sent after the rows before it): the pages before it,
/// cut from that same query, are handed on with their checkpoints, the page it falls in is
/// not (no row of it), then the error; a resume from the last checkpoint fails at the same
/// row without handing on a row twice.
async fn a_row_failing_mid_query(db: Db) {
    let name = numbered_items(
        db,
        100,
        &[
            "CREATE TABLE dup (k INT, v INT)",
            "INSERT INTO dup VALUES (20, 1), (20, 2), (30, 3)",
        ],
    )
    .await;
    let mut config = db.config(&name);
    config.query = Some(
        "SELECT id, title, body, (SELECT v FROM dup WHERE dup.k = items.id) AS v FROM items".into(),
    );
    config.id_column = Some("id".into());
    config.page_size = NonZeroU32::new(3).unwrap();
    let c = db.connector(config);
    let (pages, err) = load_pages(&*c, start_of(&*c), SyncContext::new()).await;
    assert!(err.is_some(), "{db:?}: the row's error");
    let got: Vec<Vec<i64>> = pages.iter().map(|(ids, _)| ids.clone()).collect();
    let want: Vec<Vec<i64>> = (1..=18_i64)
        .collect::<Vec<_>>()
        .chunks(3)
        .map(<[i64]>::to_vec)
        .collect();
    assert_eq!(got, want, "{db:?}: the pages before the failing row's");
    let (last_ids, last) = pages.last().unwrap();
    assert_eq!(
        last.state["after"]["id"]["int"].as_i64(),
        last_ids.last().copied()
    );
    let (again, err) = load_pages(&*c, last.clone(), SyncContext::new()).await;
    assert!(err.is_some(), "{db:?}: the same row fails again");
    assert_eq!(flat(&again), Vec::<i64>::new(), "{db:?}: no row twice");
}

#[tokio::test]
async fn postgresql_a_row_failing_mid_query() {
    a_row_failing_mid_query(Db::Pg).await;
}

#[tokio::test]
async fn mysql_a_row_failing_mid_query() {
    a_row_failing_mid_query(Db::My).await;
}

/// A sink slow to take a page (past the walk's `SLOW_HAND_OFF`, one second) while a query of
/// several pages is open (review73 M1): the walk goes on one page a query, and every row
/// still comes once, in order, each page with the checkpoint after its last row.
async fn a_slow_sink_mid_query_loses_and_repeats_nothing(db: Db) {
    let name = numbered_items(db, 100, &[]).await;
    let mut config = db.config(&name);
    config.page_size = NonZeroU32::new(3).unwrap();
    let c = db.connector(config);
    let cp = c.as_checkpointed().unwrap();
    let mut s = cp.load_from_checkpoint_json(start_of(&*c), None, SyncContext::new());
    let mut ids = Vec::new();
    let mut pages = 0;
    while let Some(p) = s.next().await {
        let p = p.unwrap();
        pages += 1;
        let page: Vec<i64> = p
            .batch
            .documents
            .iter()
            .map(|d| d.id.rsplit_once(':').unwrap().1.parse().unwrap())
            .collect();
        if let Some(&last) = page.last() {
            assert_eq!(
                p.checkpoint.state["after"]["id"]["int"].as_i64(),
                Some(last)
            );
        }
        ids.extend(page);
        if pages == 2 {
            // The read-ahead is full by now: its next hand-off waits past SLOW_HAND_OFF.
            tokio::time::sleep(std::time::Duration::from_millis(1_300)).await;
        }
    }
    assert_eq!(ids, (1..=100).collect::<Vec<i64>>(), "{db:?}");
    assert_eq!(pages, 34, "{db:?}: pages of 3, the last short");
}

#[tokio::test]
async fn postgresql_a_slow_sink_mid_query_loses_and_repeats_nothing() {
    a_slow_sink_mid_query_loses_and_repeats_nothing(Db::Pg).await;
}

#[tokio::test]
async fn mysql_a_slow_sink_mid_query_loses_and_repeats_nothing() {
    a_slow_sink_mid_query_loses_and_repeats_nothing(Db::My).await;
}

/// A load cancelled while a query of several pages is being read stops between pages: the
/// pages already read ahead (the read-ahead's four, one waiting for room and the one being
/// read, at most) come in order, then `Cancelled`, and nothing after it.
async fn a_load_cancelled_mid_query_stops_between_pages(db: Db) {
    let name = numbered_items(db, 100, &[]).await;
    let mut config = db.config(&name);
    config.page_size = NonZeroU32::new(3).unwrap();
    let c = db.connector(config);
    let cancel = connector_core::Cancellation::new();
    let ctx = SyncContext::new().with_cancellation(cancel.clone());
    let cp = c.as_checkpointed().unwrap();
    let mut s = cp.load_from_checkpoint_json(start_of(&*c), None, ctx);
    let first = s.next().await.unwrap().unwrap();
    assert_eq!(first.batch.documents.len(), 3);
    cancel.cancel();
    let mut after = 0;
    let mut ids = Vec::new();
    let e = loop {
        match s.next().await {
            Some(Ok(p)) => {
                after += 1;
                ids.extend(p.batch.documents.into_iter().map(|d| d.id));
            }
            Some(Err(e)) => break e,
            None => panic!("{db:?}: the load ended without saying it was cancelled"),
        }
    };
    assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
    assert!(s.next().await.is_none());
    assert!(after <= 6, "{db:?}: {after} pages after the cancellation");
    let nums: Vec<usize> = ids
        .iter()
        .map(|id| id.rsplit_once(':').unwrap().1.parse().unwrap())
        .collect();
    assert_eq!(nums, (4..4 + 3 * after).collect::<Vec<_>>(), "{db:?}");
}

#[tokio::test]
async fn postgresql_a_load_cancelled_mid_query_stops_between_pages() {
    a_load_cancelled_mid_query_stops_between_pages(Db::Pg).await;
}

#[tokio::test]
async fn mysql_a_load_cancelled_mid_query_stops_between_pages() {
    a_load_cancelled_mid_query_stops_between_pages(Db::My).await;
}
