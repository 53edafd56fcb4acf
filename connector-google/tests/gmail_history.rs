//! Gmail's history feed (`users.history.list`) against wiremock fixtures shaped like Google's
//! API reference: each case is a change that a windowed run, which selects threads by date,
//! misses, and that the feed delivers.
#![cfg(feature = "gmail")]
#![allow(clippy::unwrap_used)] // Tests: a bad fixture should fail loudly.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::*;
use connector_core::config::from_json;
use connector_core::{CheckpointedConnector, Document, Failure, SyncContext, TimeWindow};
use connector_google::{GmailCheckpoint, GmailConfig, GmailConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ALICE: &str = "alice@example.com";

fn connector(uri: &str) -> GmailConnector {
    let cfg = json!({
        "credentials": {"google_tokens": service_account_key(), "google_primary_admin": ADMIN},
        "token_uri": format!("{uri}/token"),
        "directory_base_url": uri,
        "allowed_hosts": ["127.0.0.1"],
        "gmail_base_url": uri,
        "specific_user_emails": ALICE,
    });
    GmailConnector::new(from_json::<GmailConfig>(cfg).unwrap()).unwrap()
}

/// `users.history.list` of alice's mailbox: the page stored for each `startHistoryId`
/// (and `pageToken`), Google's 404 for an id in `expired`, an empty page otherwise; and
/// `users.getProfile` with the mailbox's current `historyId`.
#[derive(Clone, Default)]
struct History {
    pages: Arc<Mutex<BTreeMap<String, Value>>>,
    expired: Arc<Mutex<Vec<String>>>,
    current: Arc<Mutex<String>>,
    /// `profile` or `history START [PAGE]`, in order.
    log: Arc<Mutex<Vec<String>>>,
}

impl Respond for History {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        assert_eq!(caller(req).as_deref(), Some(ALICE));
        let current = self.current.lock().unwrap().clone();
        if req.url.path().ends_with("/profile") {
            self.log.lock().unwrap().push("profile".into());
            return ResponseTemplate::new(200).set_body_json(json!({
                "emailAddress": ALICE, "messagesTotal": 3, "threadsTotal": 2, "historyId": current
            }));
        }
        let start = query(req, "startHistoryId").unwrap();
        let page = query(req, "pageToken");
        let types: Vec<String> = req
            .url
            .query_pairs()
            .filter(|(k, _)| k == "historyTypes")
            .map(|(_, v)| v.into_owned())
            .collect();
        assert_eq!(
            types,
            [
                "messageAdded",
                "messageDeleted",
                "labelAdded",
                "labelRemoved"
            ]
        );
        let key = match &page {
            Some(p) => format!("{start} {p}"),
            None => start.clone(),
        };
        self.log.lock().unwrap().push(format!("history {key}"));
        if self.expired.lock().unwrap().contains(&start) {
            // What Gmail answers a history id it no longer keeps.
            return ResponseTemplate::new(404).set_body_json(google_error(
                404,
                "notFound",
                "NOT_FOUND",
                "Requested entity was not found.",
            ));
        }
        let body = self
            .pages
            .lock()
            .unwrap()
            .get(&key)
            .cloned()
            .unwrap_or_else(|| json!({"historyId": current}));
        ResponseTemplate::new(200).set_body_json(body)
    }
}

async fn mount_history(server: &MockServer) -> History {
    let history = History::default();
    *history.current.lock().unwrap() = "9001".into();
    for p in ["history", "profile"] {
        Mock::given(method("GET"))
            .and(path(format!("/gmail/v1/users/{ALICE}/{p}")))
            .respond_with(history.clone())
            .with_priority(1)
            .mount(server)
            .await;
    }
    history
}

/// A history record touching message `m` of thread `t` as `kind` (`messagesAdded`,
/// `labelsAdded` ...), Gmail's shape.
fn record(id: &str, kind: &str, m: &str, t: &str) -> Value {
    let mut message = json!({"message": {"id": m, "threadId": t, "labelIds": ["INBOX"]}});
    if kind.starts_with("labels") {
        message["labelIds"] = json!(["Label_7"]);
    }
    json!({"id": id, "messages": [{"id": m, "threadId": t}], kind: [message]})
}

async fn walk(
    c: &GmailConnector,
    from: GmailCheckpoint,
    window: Option<TimeWindow>,
) -> (Vec<Document>, Vec<Failure>, GmailCheckpoint) {
    let pages: Vec<_> = c
        .load_from_checkpoint(from.clone(), window, SyncContext::new())
        .map(|p| p.unwrap())
        .collect()
        .await;
    let last = pages.last().map_or(from, |p| p.checkpoint.clone());
    let mut docs = Vec::new();
    let mut failures = Vec::new();
    for p in pages {
        docs.extend(p.batch.documents);
        failures.extend(p.batch.failures);
    }
    (docs, failures, last)
}

fn ids(docs: &[Document]) -> Vec<String> {
    let mut out: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    out.sort();
    out
}

fn later() -> TimeWindow {
    TimeWindow {
        start: time(30),
        end: time(40),
    }
}

/// Alice's mailbox: an old thread t1 (minute 1) and a new one t2 (minute 35).
async fn mailbox() -> (MockServer, History, Gmail) {
    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let history = mount_history(&server).await;
    let gmail = mount_gmail(
        &server,
        vec![(
            ALICE,
            vec![
                thread(
                    "t1",
                    vec![plain_message(
                        "m1",
                        "t1",
                        1,
                        "bob@example.com",
                        "Old",
                        "old news",
                    )],
                ),
                thread(
                    "t2",
                    vec![plain_message(
                        "m2",
                        "t2",
                        35,
                        "bob@example.com",
                        "New",
                        "news",
                    )],
                ),
            ],
        )],
        vec![],
        10,
    )
    .await;
    (server, history, gmail)
}

#[tokio::test]
async fn a_label_change_on_an_old_thread_is_delivered_by_the_history_feed() {
    let (server, history, _gmail) = mailbox().await;
    let c = connector(&server.uri());
    let (docs, _, first) = walk(&c, GmailCheckpoint::tracking_history(), None).await;
    assert_eq!(
        ids(&docs),
        ["gmail:alice@example.com:t1", "gmail:alice@example.com:t2"]
    );
    // The history id is taken before the mailbox is listed.
    assert_eq!(history.log.lock().unwrap().clone(), ["profile"]);
    assert_eq!(first.history.as_ref().unwrap()[ALICE], "9001");

    // A label on t1 (its last message stays at minute 1), a new message in t2, a message of
    // a thread deleted since; two pages.
    history.pages.lock().unwrap().insert(
        "9001".into(),
        json!({"history": [record("9002", "labelsAdded", "m1", "t1"),
                           record("9003", "messagesAdded", "m2", "t2")],
               "nextPageToken": "h-2", "historyId": "9010"}),
    );
    history.pages.lock().unwrap().insert(
        "9001 h-2".into(),
        json!({"history": [record("9004", "messagesDeleted", "m9", "t9")], "historyId": "9010"}),
    );

    // Today's windowed run sees only t2.
    let (docs, _, _) = walk(&c, GmailCheckpoint::default(), Some(later())).await;
    assert_eq!(ids(&docs), ["gmail:alice@example.com:t2"]);

    // With the feed: t1 as well, each thread once, nothing for the deleted one.
    let (docs, failures, next) = walk(&c, first.next_run(), Some(later())).await;
    assert_eq!(
        ids(&docs),
        ["gmail:alice@example.com:t1", "gmail:alice@example.com:t2"]
    );
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(next.history.unwrap()[ALICE], "9010");

    // Resuming at any checkpoint of that run yields exactly the rest.
    let pages: Vec<_> = c
        .load_from_checkpoint(first.next_run(), Some(later()), SyncContext::new())
        .map(|p| p.unwrap())
        .collect()
        .await;
    for (i, page) in pages.iter().enumerate() {
        let json = serde_json::to_string(&page.checkpoint).unwrap();
        let (rest, _, _) = walk(&c, serde_json::from_str(&json).unwrap(), Some(later())).await;
        let expected: Vec<String> = pages[i + 1..]
            .iter()
            .flat_map(|p| p.batch.documents.iter().map(|d| d.id.clone()))
            .collect();
        let rest: Vec<String> = rest.into_iter().map(|d| d.id).collect();
        assert_eq!(rest, expected, "resumed after page {i}");
    }
}

#[tokio::test]
async fn an_expired_history_id_lists_the_mailbox_whole() {
    let (server, history, gmail) = mailbox().await;
    history.expired.lock().unwrap().push("77".into());
    *history.current.lock().unwrap() = "9100".into();
    let c = connector(&server.uri());
    let from = GmailCheckpoint {
        history: Some(BTreeMap::from([(ALICE.to_owned(), "77".to_owned())])),
        ..GmailCheckpoint::default()
    };
    let (docs, failures, next) = walk(&c, from, Some(later())).await;
    assert!(failures.is_empty(), "{failures:?}");
    // Both threads: what changed after the expired id is unknown.
    assert_eq!(
        ids(&docs),
        ["gmail:alice@example.com:t1", "gmail:alice@example.com:t2"]
    );
    assert_eq!(
        history.log.lock().unwrap().clone(),
        ["history 77", "profile"]
    );
    assert!(
        gmail.queries.lock().unwrap().iter().all(String::is_empty),
        "{:?}",
        gmail.queries.lock().unwrap()
    );
    assert_eq!(next.history.unwrap()[ALICE], "9100");
}

/// Tombstones through the batch loop: a thread deleted between two runs (`messagesDeleted` of
/// its last message, `threads.get` 404) and one moved to the trash (`labelsAdded` `TRASH`)
/// leave the sink and the store in the incremental run, under their document ids; the others
/// stay.
#[tokio::test]
async fn threads_deleted_or_trashed_between_runs_leave_the_sink_in_the_incremental_run() {
    use connector_core::sink::MemorySink;
    use connector_core::state::{MemoryStateStore, StateStore};
    use connector_core::sync::{SyncMode, Syncer};

    let server = MockServer::start().await;
    mount_token(&server, TokenEndpoint::default()).await;
    let history = mount_history(&server).await;
    let old = |t: &str, m: &str, minute| {
        thread(
            t,
            vec![plain_message(m, t, minute, "bob@example.com", t, "body")],
        )
    };
    let gmail = mount_gmail(
        &server,
        vec![(
            ALICE,
            vec![old("t1", "m1", 1), old("t2", "m2", 2), old("t3", "m3", 3)],
        )],
        vec![],
        10,
    )
    .await;
    let c: Arc<dyn connector_core::Connector> = Arc::new(connector(&server.uri()));
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let run = |mode, minute| {
        let (c, store, sink) = (c.clone(), store.clone(), sink.clone());
        async move {
            Syncer::new(c)
                .sink(sink)
                .state(store)
                .at(time(minute))
                .run(mode)
                .await
                .unwrap()
        }
    };
    run(SyncMode::Full, 30).await;
    let mut held = sink.ids();
    held.sort();
    assert_eq!(
        held,
        [
            "gmail:alice@example.com:t1",
            "gmail:alice@example.com:t2",
            "gmail:alice@example.com:t3"
        ]
    );

    // t1 deleted for good; t3's message moved to the trash.
    {
        let mut boxes = gmail.mailboxes.lock().unwrap();
        let threads = boxes.get_mut(ALICE).unwrap();
        threads.retain(|t| t["id"] != "t1");
        for t in threads.iter_mut().filter(|t| t["id"] == "t3") {
            t["messages"][0]["labelIds"] = json!(["TRASH"]);
        }
    }
    let mut trashed = record("9003", "labelsAdded", "m3", "t3");
    trashed["labelsAdded"][0]["labelIds"] = json!(["TRASH"]);
    trashed["labelsAdded"][0]["message"]["labelIds"] = json!(["TRASH"]);
    history.pages.lock().unwrap().insert(
        "9001".into(),
        json!({"history": [record("9002", "messagesDeleted", "m1", "t1"), trashed],
               "historyId": "9010"}),
    );
    let report = run(SyncMode::Incremental, 40).await;
    assert_eq!(report.deleted, 2, "{report:?}");
    assert_eq!(sink.ids(), ["gmail:alice@example.com:t2"]);
    let mut deleted = sink.deleted();
    deleted.sort();
    assert_eq!(
        deleted,
        ["gmail:alice@example.com:t1", "gmail:alice@example.com:t3"]
    );
    assert_eq!(
        store.document_ids().await.unwrap(),
        ["gmail:alice@example.com:t2"]
    );
    assert!(
        history
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l == "history 9001")
    );
}
