//! The Slack connector against the wiremock Slack of `slack_common`: threads as documents,
//! cursor paging, new replies in old threads on incremental runs, fingerprints, `ok: false`
//! errors, 429 `Retry-After`, joining, access, `check()`, partitions.
#![cfg(feature = "slack")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod slack_common;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, SyncReport, Syncer};
use connector_core::{Connector, Document, ErrorKind};
use serde_json::{Value, json};
use slack_common::{Chan, Fake, Msg, TEAM, at, build, id, serve_here, slack_error, standard, ts};

async fn sync_at(
    c: &Arc<dyn Connector>,
    store: &MemoryStateStore,
    mode: SyncMode,
    now: DateTime<Utc>,
) -> (MemorySink, SyncReport) {
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(now)
        .run(mode)
        .await
        .expect("the sync runs");
    (sink, report)
}

async fn full(c: &Arc<dyn Connector>) -> (MemorySink, SyncReport) {
    sync_at(c, &MemoryStateStore::new(), SyncMode::Full, at(8, 0)).await
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn text(d: &Document) -> &str {
    d.content.as_text().unwrap()
}

#[tokio::test]
async fn threads_are_documents_with_names_and_markdown() {
    let fake = Fake::start(standard()).await;
    let c = build(&fake.uri(), json!({}));
    let (sink, report) = full(&c).await;
    let g1 = id("C01GENERAL", &ts(at(1, 0), 1));
    let e2 = id("C02ENG", &ts(at(6, 0), 6));
    assert_eq!(
        sorted(sink.ids()),
        sorted(vec![
            g1.clone(),
            id("C01GENERAL", &ts(at(4, 0), 5)),
            id("C02ENG", &ts(at(1, 50), 8)),
            e2.clone(),
        ]),
        "the join notice and the bot's message are left out"
    );
    assert_eq!(report.failed, 0);

    let thread = sink.get(&g1).unwrap();
    assert_eq!(
        thread.title,
        "ana in #general: Welcome everyone to #eng! Ask @ben for access."
    );
    assert_eq!(
        text(&thread),
        "**ana** · 2026-01-01T10:00:00Z\n\n\
         Welcome **everyone** to #eng! Ask @ben for access.\n\n\
         **ben** · 2026-01-02T10:00:00Z\n\n\
         Thanks @ana :wave:\n\n\
         **ana** · 2026-01-03T10:00:00Z\n\n\
         Runbook: [the *runbook*](https://wiki.acme.test/run?a=1&b=2)"
    );
    assert_eq!(
        thread.link.as_ref().map(|u| u.as_str()),
        Some("https://acme.slack.com/archives/C01GENERAL/p1767261600000001")
    );
    assert_eq!(
        thread.updated_at.map(|t| t.timestamp()),
        Some(at(3, 0).timestamp())
    );
    assert_eq!(thread.owners, ["ana@acme.test", "ben"]);
    assert_eq!(thread.metadata["channel"], "general");
    assert_eq!(thread.metadata["replies"], 2);
    let access = thread.access.clone().unwrap();
    assert_eq!(access.groups, ["slack-team:T012AB3C4"]);

    // A private channel goes to its members.
    let eng = sink.get(&e2).unwrap();
    assert_eq!(
        eng.access.clone().unwrap().groups,
        ["slack-user:U01ANA", "slack-user:U02BEN"]
    );
    assert!(
        text(&eng).contains("Standup notes:\n\n> ship it\n\n```\ncargo test\n```"),
        "{}",
        text(&eng)
    );
    assert!(text(&eng).contains("~~maybe~~ **yes**"), "{}", text(&eng));
    insta::assert_json_snapshot!("slack_private_thread", portable(&eng));

    // Users asked once each, whatever the number of threads naming them.
    assert_eq!(
        fake.count("users.info"),
        2,
        "{:?}",
        fake.queries("users.info")
    );
    // A lone message costs no replies request: two threads, a page each (the parent and up
    // to two replies).
    assert_eq!(fake.count("conversations.replies"), 2);
    insta::assert_json_snapshot!("slack_thread", portable(&thread));
}

/// The document as JSON with the fingerprint kept (it is the version token's hash).
fn portable(doc: &Document) -> Value {
    serde_json::to_value(doc).unwrap()
}

#[tokio::test]
async fn channels_and_history_are_read_page_by_page_with_the_cursor() {
    let fake = Fake::start(standard()).await;
    let c = build(&fake.uri(), json!({"page_size": 1}));
    let (sink, _) = full(&c).await;
    assert_eq!(sink.len(), 4);
    // One channel per conversations.list page: two pages, the second asked by its cursor.
    let lists = fake.queries("conversations.list");
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert_eq!(
        lists[1].get("cursor").map(String::as_str),
        Some("dXNlcjpV1")
    );
    assert_eq!(
        lists[0].get("types").map(String::as_str),
        Some("public_channel,private_channel")
    );
    // #general has four top-level messages: four pages of one, each after the cursor.
    let general: Vec<_> = fake
        .queries("conversations.history")
        .into_iter()
        .filter(|q| q["channel"] == "C01GENERAL")
        .collect();
    assert_eq!(general.len(), 4);
    assert_eq!(general[0].get("cursor"), None);
    assert_eq!(
        general[3].get("cursor").map(String::as_str),
        Some("dXNlcjpV3")
    );
    // Replies paged too: the two replies over two pages, each headed by the parent again
    // (as Slack does), which the document holds once.
    let replies: Vec<_> = fake
        .queries("conversations.replies")
        .into_iter()
        .filter(|q| q["channel"] == "C01GENERAL")
        .collect();
    assert_eq!(replies.len(), 2);
    assert_eq!(
        replies[1].get("cursor").map(String::as_str),
        Some("dXNlcjpV1")
    );
    let thread = sink.get(&id("C01GENERAL", &ts(at(1, 0), 1))).unwrap();
    assert!(text(&thread).contains("Runbook"));
    assert_eq!(
        text(&thread).matches("Welcome").count(),
        1,
        "{}",
        text(&thread)
    );
    assert_eq!(thread.metadata["replies"], 2);
}

#[tokio::test]
async fn a_new_reply_in_an_old_thread_is_found_by_the_next_incremental_run() {
    let fake = Fake::start(standard()).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, at(8, 0)).await;
    let replies_before = fake.count("conversations.replies");

    // Nothing changed: the next window lists, and reads no thread.
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, at(9, 0)).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    assert_eq!(fake.count("conversations.replies"), replies_before);

    // A reply on day 10 to the thread of day 1: Slack leaves the parent where it was and
    // moves its `latest_reply`.
    let g1 = ts(at(1, 0), 1);
    fake.state.lock().unwrap().channels[0]
        .messages
        .push(Msg::reply(
            &g1,
            &ts(at(10, 0), 20),
            "U02BEN",
            "Runbook moved to the wiki",
        ));
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, at(11, 0)).await;
    assert_eq!(sink.ids(), [id("C01GENERAL", &g1)], "{report:?}");
    let doc = sink.get(&id("C01GENERAL", &g1)).unwrap();
    assert!(text(&doc).contains("Runbook moved to the wiki"));
    assert_eq!(
        doc.updated_at.map(|t| t.timestamp()),
        Some(at(10, 0).timestamp())
    );
    // How: the window's listing reaches `thread_lookback_days` before its start.
    let last = fake.queries("conversations.history").pop().unwrap();
    let oldest: f64 = last["oldest"].parse().unwrap();
    assert!(oldest < at(1, 0).timestamp() as f64, "{last:?}");

    // RAGFlow's listing from the window's start alone misses it.
    fake.state.lock().unwrap().channels[0]
        .messages
        .push(Msg::reply(&g1, &ts(at(12, 0), 21), "U01ANA", "Thanks"));
    let narrow = build(&fake.uri(), json!({"thread_lookback_days": 0}));
    let (sink, _) = sync_at(&narrow, &store, SyncMode::Incremental, at(13, 0)).await;
    assert!(sink.ids().is_empty());
}

#[tokio::test]
async fn a_broadcast_reply_names_a_thread_older_than_the_look_back() {
    let fake = Fake::start(standard()).await;
    let c = build(&fake.uri(), json!({"thread_lookback_days": 2}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, at(19, 0)).await;
    // A reply to the thread of day 1, also sent to the channel: the window's listing (from
    // two days before its start) does not reach the parent, but the broadcast names it.
    let old = ts(at(1, 0), 1);
    fake.state.lock().unwrap().channels[0].messages.push(Msg {
        broadcast: true,
        ..Msg::reply(&old, &ts(at(20, 0), 30), "U01ANA", "Also sent to #general")
    });
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, at(21, 0)).await;
    assert_eq!(sink.ids(), [id("C01GENERAL", &old)]);
    assert!(text(&sink.get(&id("C01GENERAL", &old)).unwrap()).contains("Also sent to #general"));

    // A full run lists the parent and reads the thread once, the broadcast not a second
    // document.
    let (sink, _) = full(&c).await;
    assert_eq!(
        sink.ids().iter().filter(|i| i.contains(&old)).count(),
        1,
        "{:?}",
        sink.ids()
    );
    assert_eq!(sink.len(), 4);
}

#[tokio::test]
async fn unchanged_threads_cost_no_replies_request() {
    let fake = Fake::start(standard()).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, at(8, 0)).await;
    let before = fake.count("conversations.replies");
    let (_, report) = sync_at(&c, &store, SyncMode::Reconcile, at(8, 0)).await;
    assert_eq!(report.unchanged, 4, "{report:?}");
    assert_eq!(fake.count("conversations.replies"), before);
}

#[tokio::test]
async fn ok_false_invalid_auth_is_unauthenticated_naming_the_token() {
    let fake = Fake::start(standard()).await;
    fake.state
        .lock()
        .unwrap()
        .always
        .insert("auth.test".into(), slack_error("invalid_auth"));
    let c = build(&fake.uri(), json!({}));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.field(), Some("credentials.slack_bot_token"));
    assert!(err.to_string().contains("invalid_auth"), "{err}");
    assert_eq!(fake.count("auth.test"), 1, "not retried");
    let err = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
}

#[tokio::test]
async fn ok_false_errors_have_their_kinds() {
    let fake = Fake::start(standard()).await;
    // not_in_channel while reading every channel's history: one failure per channel, named,
    // and no document (never an empty listing).
    fake.state.lock().unwrap().always.insert(
        "conversations.history".into(),
        slack_error("not_in_channel"),
    );
    let c = build(&fake.uri(), json!({}));
    let (sink, report) = full(&c).await;
    assert_eq!(sink.len(), 0);
    assert_eq!(report.failures.len(), 2, "{report:?}");
    for (f, name) in report
        .failures
        .iter()
        .zip(["#eng (C02ENG)", "#general (C01GENERAL)"])
    {
        assert_eq!(f.kind, ErrorKind::PermissionDenied, "{f:?}");
        assert!(f.message.contains(name), "{f:?}");
        assert!(f.message.contains("not_in_channel"), "{f:?}");
    }

    // missing_scope for private channels: public ones alone, as RAGFlow falls back.
    let fake = Fake::start(standard()).await;
    fake.state.lock().unwrap().once.insert(
        "conversations.list".into(),
        vec![(
            200,
            vec![],
            json!({"ok": false, "error": "missing_scope", "needed": "groups:read", "provided": "channels:read,channels:history"}),
        )],
    );
    let c = build(&fake.uri(), json!({}));
    let (sink, _) = full(&c).await;
    assert!(
        sink.ids().iter().all(|i| i.starts_with("C01GENERAL")),
        "{:?}",
        sink.ids()
    );
    assert_eq!(
        fake.queries("conversations.list")[1]["types"],
        "public_channel"
    );

    // An internal_error is retried.
    let fake = Fake::start(standard()).await;
    fake.state.lock().unwrap().once.insert(
        "conversations.replies".into(),
        vec![(200, vec![], slack_error("internal_error"))],
    );
    let c = build(&fake.uri(), json!({}));
    let (sink, report) = full(&c).await;
    assert_eq!(sink.len(), 4);
    assert!(report.retries >= 1, "{report:?}");
}

#[tokio::test]
async fn rate_limits_are_waited_out_429_and_ok_false() {
    let fake = Fake::start(standard()).await;
    fake.state.lock().unwrap().once.insert(
        "conversations.history".into(),
        vec![
            (
                429,
                vec![("Retry-After".into(), "1".into())],
                slack_error("ratelimited"),
            ),
            (
                200,
                vec![("Retry-After".into(), "1".into())],
                slack_error("ratelimited"),
            ),
        ],
    );
    let c = build(&fake.uri(), json!({}));
    let (sink, report) = full(&c).await;
    assert_eq!(sink.len(), 4);
    assert!(report.retries >= 2, "{report:?}");
    assert!(
        report.rate_limit_wait >= Duration::from_secs(2),
        "{report:?}"
    );
}

#[tokio::test]
async fn public_channels_are_joined_only_when_configured() {
    let mut state = standard();
    state.channels.push(Chan {
        member: false,
        ..Chan::new(
            "C03RANDOM",
            "random",
            false,
            vec![Msg::new(&ts(at(2, 0), 40), "U01ANA", "hello random")],
        )
    });
    let fake = Fake::start(state).await;
    // Every channel: the one the bot is not in is left out, nothing joined.
    let c = build(&fake.uri(), json!({}));
    let (sink, report) = full(&c).await;
    assert_eq!(sink.len(), 4);
    assert_eq!(report.failed, 0);
    assert_eq!(fake.count("conversations.join"), 0);
    // Named: a failure that says so.
    let c = build(&fake.uri(), json!({"channels": ["#random", "general"]}));
    let (sink, report) = full(&c).await;
    assert_eq!(sink.len(), 2);
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert!(report.failures[0].message.contains("#random"), "{report:?}");
    assert_eq!(
        c.check().await.unwrap_err().kind(),
        ErrorKind::PermissionDenied
    );
    // Configured: joined, then read.
    let c = build(
        &fake.uri(),
        json!({"channels": "random", "join_public_channels": true}),
    );
    let (sink, _) = full(&c).await;
    assert_eq!(sink.ids(), [id("C03RANDOM", &ts(at(2, 0), 40))]);
    assert_eq!(
        fake.queries("conversations.join")[0]["channel"],
        "C03RANDOM"
    );
}

#[tokio::test]
async fn named_channels_patterns_and_partitions() {
    let fake = Fake::start(standard()).await;
    let c = build(&fake.uri(), json!({"channels": "#general, eng"}));
    assert_eq!(c.partitions(), ["general", "eng"]);
    let eng = c.partition("eng").unwrap();
    let (sink, _) = full(&eng).await;
    assert!(sink.ids().iter().all(|i| i.starts_with("C02ENG")));
    assert_eq!(sink.len(), 2);

    let c = build(
        &fake.uri(),
        json!({"channels": ["e.g"], "channel_regex_enabled": true}),
    );
    assert!(c.partitions().is_empty());
    let (sink, _) = full(&c).await;
    assert_eq!(sink.len(), 2);
    // A pattern matches whole names only.
    let c = build(
        &fake.uri(),
        json!({"channels": ["en"], "channel_regex_enabled": true}),
    );
    let (sink, _) = full(&c).await;
    assert!(sink.is_empty());

    let c = build(&fake.uri(), json!({"channels": ["nowhere"]}));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.field(), Some("channels"));
    c.as_ref();
}

#[tokio::test]
async fn bot_messages_are_kept_when_asked() {
    let fake = Fake::start(standard()).await;
    let c = build(&fake.uri(), json!({"include_bot_messages": true}));
    let (sink, _) = full(&c).await;
    let bot = sink.get(&id("C01GENERAL", &ts(at(5, 0), 7))).unwrap();
    assert_eq!(bot.title, "deploybot in #general: Build #42 passed");
}

#[tokio::test]
async fn one_channels_error_is_its_failure_and_the_others_go_on() {
    // #eng (read first) was left or deleted during the run: its failure, #general still read.
    for error in ["not_in_channel", "channel_not_found", "ekm_access_denied"] {
        let fake = Fake::start(standard()).await;
        fake.state.lock().unwrap().once.insert(
            "conversations.history".into(),
            vec![(200, vec![], slack_error(error))],
        );
        let c = build(&fake.uri(), json!({}));
        let (sink, report) = full(&c).await;
        assert_eq!(
            sorted(sink.ids()),
            sorted(vec![
                id("C01GENERAL", &ts(at(1, 0), 1)),
                id("C01GENERAL", &ts(at(4, 0), 5)),
            ]),
            "{error}"
        );
        assert_eq!(report.failures.len(), 1, "{report:?}");
        let f = &report.failures[0];
        assert!(f.message.contains("#eng (C02ENG)"), "{f:?}");
        assert!(f.message.contains(error), "{f:?}");
        assert!(!f.message.contains("slack_bot_token"), "{f:?}");
        assert_eq!(
            f.link.as_ref().map(|u| u.as_str()),
            Some("https://acme.slack.com/archives/C02ENG")
        );
    }

    // An archived public channel the bot would join: `is_archived`, skipped as Onyx does.
    let mut state = standard();
    state.channels.push(Chan {
        member: false,
        ..Chan::new(
            "C03RANDOM",
            "random",
            false,
            vec![Msg::new(&ts(at(2, 0), 40), "U01ANA", "hello random")],
        )
    });
    let fake = Fake::start(state).await;
    fake.state.lock().unwrap().once.insert(
        "conversations.join".into(),
        vec![(200, vec![], slack_error("is_archived"))],
    );
    let c = build(
        &fake.uri(),
        json!({"join_public_channels": true, "include_archived": true}),
    );
    let (sink, report) = full(&c).await;
    assert_eq!(sink.len(), 4, "{:?}", sink.ids());
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert!(
        report.failures[0].message.contains("#random (C03RANDOM)")
            && report.failures[0].message.contains("is_archived"),
        "{report:?}"
    );

    // A scope the token lacks concerns every channel: the run ends.
    let fake = Fake::start(standard()).await;
    fake.state.lock().unwrap().always.insert(
        "conversations.history".into(),
        json!({"ok": false, "error": "missing_scope", "needed": "channels:history"}),
    );
    let c = build(&fake.uri(), json!({}));
    let err = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("missing_scope"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn partitions_share_each_methods_rate() {
    // Three channels, one partition each, history at 2 a minute (a burst of 2, then one
    // every 30 s): the third partition's history waits, as Slack counts the method once
    // for the workspace and app, whatever the partitions. Tokio's clock is paused and moved
    // by a pump, 0.1 ms a scheduler turn, so the 30 s wait passes in a second or two and is counted as
    // it would be. The pump keeps the runtime from idling: an idle runtime on a paused clock
    // jumps to its next timer, a request's timeout, while the request is on the wire. The
    // fake answers from this runtime, so a request costs a few turns.
    let mut state = standard();
    state.channels.push(Chan::new(
        "C03RANDOM",
        "random",
        false,
        vec![Msg::new(&ts(at(2, 0), 40), "U01ANA", "hello random")],
    ));
    let (uri, state) = serve_here(state).await;
    let c = build(
        &uri,
        json!({"channels": ["general", "eng", "random"], "tier3_requests_per_minute": 2}),
    );
    let pump = tokio::spawn(async {
        loop {
            tokio::time::advance(Duration::from_micros(100)).await;
        }
    });
    let mut waits = Vec::new();
    for name in ["random", "eng", "general"] {
        let p = c.partition(name).unwrap();
        let (_, report) = full(&p).await;
        assert_eq!(report.retries, 0, "{report:?}");
        waits.push(report.rate_limit_wait);
    }
    let history = state
        .lock()
        .unwrap()
        .log
        .iter()
        .filter(|(m, _)| m == "conversations.history")
        .count();
    pump.abort();
    assert!(history >= 3);
    assert_eq!(waits[0], Duration::ZERO, "{waits:?}");
    assert!(waits[2] >= Duration::from_secs(20), "{waits:?}");
}

#[tokio::test]
async fn an_edited_old_parent_is_found_by_the_next_incremental_run() {
    // Review #4: an edit moves the parent's `edited.ts` alone (not its `ts`, not its
    // `latest_reply`).
    let fake = Fake::start(standard()).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, at(8, 0)).await;
    let replies_before = fake.count("conversations.replies");
    let lone = ts(at(4, 0), 5);
    let g1 = ts(at(1, 0), 1);
    {
        let mut st = fake.state.lock().unwrap();
        for m in &mut st.channels[0].messages {
            if m.ts == lone {
                m.text = "Deploy moved to 6pm".into();
                m.edited = Some(ts(at(10, 0), 50));
            }
            if m.ts == g1 {
                m.text = "Welcome to the new #general".into();
                m.edited = Some(ts(at(10, 0), 51));
            }
        }
    }
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, at(11, 0)).await;
    assert_eq!(
        sorted(sink.ids()),
        sorted(vec![id("C01GENERAL", &g1), id("C01GENERAL", &lone)]),
        "{report:?}"
    );
    assert!(text(&sink.get(&id("C01GENERAL", &lone)).unwrap()).contains("6pm"));
    assert!(text(&sink.get(&id("C01GENERAL", &g1)).unwrap()).contains("new #general"));
    // The edited thread alone was read again; the other one was skipped by its version.
    assert_eq!(fake.count("conversations.replies"), replies_before + 1);

    // A bare poll (no lookup remembering anything) finds the edits by their `edited.ts`.
    let window = connector_core::TimeWindow::new(at(9, 0), at(11, 0)).unwrap();
    let stream = c
        .as_poll()
        .unwrap()
        .poll(window, connector_core::SyncContext::new());
    let batches: Vec<_> = futures::StreamExt::collect::<Vec<_>>(stream).await;
    let polled: Vec<String> = batches
        .into_iter()
        .flat_map(|b| b.unwrap().documents)
        .map(|d| d.id)
        .collect();
    assert_eq!(
        sorted(polled),
        sorted(vec![id("C01GENERAL", &g1), id("C01GENERAL", &lone)])
    );
}

#[tokio::test]
async fn access_follows_membership_and_visibility() {
    // Review #5: the access set is asked on every run and hashed into each thread's version
    // token, so a reconcile run (or an incremental run, within the look-back) re-sends the
    // threads of a channel whose readers changed, and only those.
    let fake = Fake::start(standard()).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, at(8, 0)).await;
    let e2 = id("C02ENG", &ts(at(6, 0), 6));

    // Ben leaves the private #eng.
    fake.state.lock().unwrap().channels[1].members = vec!["U01ANA".into()];
    let (sink, report) = sync_at(&c, &store, SyncMode::Reconcile, at(9, 0)).await;
    assert_eq!(
        sorted(sink.ids()),
        sorted(vec![id("C02ENG", &ts(at(1, 50), 8)), e2.clone()]),
        "{report:?}"
    );
    assert_eq!(report.unchanged, 2, "{report:?}");
    assert_eq!(
        sink.get(&e2).unwrap().access.unwrap().groups,
        ["slack-user:U01ANA"]
    );

    // Cat joins: an incremental run, within the look-back, sees it too.
    fake.state.lock().unwrap().channels[1]
        .members
        .push("U03CAT".into());
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, at(10, 0)).await;
    assert_eq!(sink.len(), 2, "{:?}", sink.ids());
    assert_eq!(
        sink.get(&e2).unwrap().access.unwrap().groups,
        ["slack-user:U01ANA", "slack-user:U03CAT"]
    );

    // #general turns private: its threads go to its members, no longer the workspace.
    fake.state.lock().unwrap().channels[0].private = true;
    let (sink, _) = sync_at(&c, &store, SyncMode::Reconcile, at(11, 0)).await;
    let g1 = sink.get(&id("C01GENERAL", &ts(at(1, 0), 1))).unwrap();
    assert_eq!(sink.len(), 2, "{:?}", sink.ids());
    assert_eq!(
        g1.access.unwrap().groups,
        ["slack-user:U01ANA", "slack-user:U02BEN"]
    );
    assert_eq!(g1.metadata["private"], true);
}

#[tokio::test]
async fn shared_channels_and_enterprise_grid_org_installs() {
    let mut state = standard();
    // #general is shared with another organisation (Slack Connect); #eng lives in a second
    // Grid workspace; an org-wide install lists each workspace with its `team_id`.
    state.channels[0].ext_shared = true;
    state.channels[0].members.push("U09OUTSIDE".into());
    state.channels[1].team = "T02SECOND".into();
    state.channels.push(Chan {
        shared_team_ids: vec![TEAM.into(), "T02SECOND".into()],
        ..Chan::new(
            "C03ORGWIDE",
            "org-announce",
            false,
            vec![Msg::new(&ts(at(3, 0), 60), "U01ANA", "All hands")],
        )
    });
    state.always.insert(
        "auth.test".into(),
        json!({"ok": true, "url": "https://acme-org.enterprise.slack.com/", "team": "Acme",
            "user": "ragbot", "team_id": "E012ORG", "enterprise_id": "E012ORG",
            "user_id": "U0BOTUSER", "bot_id": "B0BOT", "is_enterprise_install": true}),
    );
    let fake = Fake::start(state).await;
    let c = build(&fake.uri(), json!({}));
    let (sink, report) = full(&c).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(sink.len(), 5, "{:?}", sink.ids());
    let teams: Vec<Option<String>> = fake
        .queries("conversations.list")
        .into_iter()
        .map(|q| q.get("team_id").cloned())
        .collect();
    assert!(teams.contains(&Some(TEAM.into())), "{teams:?}");
    assert!(teams.contains(&Some("T02SECOND".into())), "{teams:?}");
    assert_eq!(fake.count("auth.teams.list"), 1);

    let g1 = sink.get(&id("C01GENERAL", &ts(at(1, 0), 1))).unwrap();
    assert_eq!(
        g1.access.unwrap().groups,
        [
            format!("slack-team:{TEAM}"),
            "slack-user:U01ANA".into(),
            "slack-user:U02BEN".into(),
            "slack-user:U09OUTSIDE".into()
        ]
    );
    assert_eq!(g1.metadata["team_id"], TEAM);
    let org = sink.get(&id("C03ORGWIDE", &ts(at(3, 0), 60))).unwrap();
    assert_eq!(
        org.access.clone().unwrap().groups,
        [format!("slack-team:{TEAM}"), "slack-team:T02SECOND".into()]
    );
    let eng = sink.get(&id("C02ENG", &ts(at(6, 0), 6))).unwrap();
    assert_eq!(eng.metadata["team_id"], "T02SECOND");
    insta::assert_json_snapshot!("slack_org_shared_lone_message", portable(&org));
}

#[tokio::test]
async fn a_deleted_parent_leaves_its_replies() {
    // Slack keeps a deleted parent that has replies as a `tombstone`.
    let mut state = standard();
    let g1 = ts(at(1, 0), 1);
    for m in &mut state.channels[0].messages {
        if m.ts == g1 {
            m.subtype = Some("tombstone".into());
            m.user = Some("USLACKBOT".into());
            m.text = "This message was deleted.".into();
        }
    }
    let fake = Fake::start(state).await;
    let c = build(&fake.uri(), json!({}));
    let (sink, _) = full(&c).await;
    let doc = sink.get(&id("C01GENERAL", &g1)).unwrap();
    assert!(!text(&doc).contains("deleted"), "{}", text(&doc));
    assert!(text(&doc).contains("Runbook"), "{}", text(&doc));
    assert!(
        doc.title.starts_with("ben in #general: Thanks"),
        "{}",
        doc.title
    );
}

#[tokio::test]
async fn a_non_marketplace_app_keeps_to_fifteen_messages_a_page() {
    // One channel, one page, no thread: one history request (the tier is 1 a minute).
    let mut state = standard();
    state.channels.truncate(1);
    state.channels[0]
        .messages
        .retain(|m| m.parent.is_none() && m.ts != ts(at(1, 0), 1));
    let fake = Fake::start(state).await;
    let c = build(
        &fake.uri(),
        json!({"non_marketplace_app": true, "page_size": 200}),
    );
    let (sink, _) = full(&c).await;
    assert_eq!(sink.len(), 1, "{:?}", sink.ids());
    let history = fake.queries("conversations.history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].get("limit").map(String::as_str), Some("15"));
}

#[tokio::test]
async fn an_edited_reply_is_found_within_the_edit_lookback_and_costs_nothing_once_sent() {
    // An edit of a reply moves nothing `conversations.history` shows (the parent alone is
    // listed): the replies of threads with a recent reply are read again.
    let fake = Fake::start(standard()).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, at(7, 0)).await;
    let e2 = ts(at(6, 0), 6);
    let reply = ts(at(6, 3600), 9);
    {
        let mut st = fake.state.lock().unwrap();
        let m = st.channels[1]
            .messages
            .iter_mut()
            .find(|m| m.ts == reply)
            .unwrap();
        m.text = "~maybe~ *no*, Monday".into();
        m.edited = Some(ts(at(7, 7200), 60));
    }
    let replies_before = fake.count("conversations.replies");
    // The #eng thread's latest reply (day 6, 11:00) is within 24 hours of the window's start.
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, at(8, 0)).await;
    assert_eq!(sink.ids(), vec![id("C02ENG", &e2)], "{report:?}");
    assert!(text(&sink.get(&id("C02ENG", &e2)).unwrap()).contains("Monday"));
    assert_eq!(
        fake.count("conversations.replies"),
        replies_before + 1,
        "only the thread with a recent reply is read again"
    );
    // A day later the thread is past the edit look-back: its version (holding the reply's
    // edit) no longer matches its listing, so its replies are read once more, and it is
    // found unchanged, not sent again.
    let replies_before = fake.count("conversations.replies");
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, at(9, 0)).await;
    assert!(sink.ids().is_empty(), "{report:?}");
    assert_eq!(fake.count("conversations.replies"), replies_before + 1);

    // Switched off: the edit look-back reads nothing again.
    let fake = Fake::start(standard()).await;
    let c = build(&fake.uri(), json!({"reply_edit_lookback_hours": 0}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, at(7, 0)).await;
    let replies_before = fake.count("conversations.replies");
    sync_at(&c, &store, SyncMode::Incremental, at(8, 0)).await;
    assert_eq!(fake.count("conversations.replies"), replies_before);
}

#[tokio::test]
async fn an_edited_reply_in_a_quiet_thread_is_found_by_the_rescan_once_per_cycle() {
    // An edit of a reply in a thread quiet for longer than the edit look-back: the listing
    // shows nothing (`conversations.history` lists the parent alone, its `latest_reply`
    // unmoved). Each listed thread with replies is read again once per `reply_rescan_days`,
    // its turn set by its id: over a day of hourly runs, each of the two threads once.
    let g1 = ts(at(1, 0), 1);
    let reply = ts(at(3, 0), 3);
    let edit = |fake: &Fake| {
        let mut st = fake.state.lock().unwrap();
        let m = st.channels[0]
            .messages
            .iter_mut()
            .find(|m| m.ts == reply)
            .unwrap();
        m.text = "Runbook: moved to <https://wiki.acme.test/ops|the ops wiki>".into();
        m.edited = Some(ts(at(8, 60), 70));
    };

    // Off: a day of hourly runs reads no replies, and the edit waits for a full run.
    let fake = Fake::start(standard()).await;
    let c = build(&fake.uri(), json!({"reply_rescan_days": 0}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, at(8, 0)).await;
    edit(&fake);
    let before = fake.count("conversations.replies");
    for hour in 1..=24 {
        let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, at(8, hour * 3600)).await;
        assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    }
    assert_eq!(fake.count("conversations.replies"), before);

    // A cycle of one day: the edited thread is sent by exactly one of the 24 runs, the
    // other thread read once (its turn) and found unchanged.
    let fake = Fake::start(standard()).await;
    let c = build(&fake.uri(), json!({"reply_rescan_days": 1}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, at(8, 0)).await;
    edit(&fake);
    let e2 = ts(at(6, 0), 6);
    let reads = |fake: &Fake, thread: &str| {
        fake.queries("conversations.replies")
            .iter()
            .filter(|q| q.get("ts").map(String::as_str) == Some(thread))
            .count()
    };
    let (g1_before, e2_before) = (reads(&fake, &g1), reads(&fake, &e2));
    let mut sent = Vec::new();
    for hour in 1..=24 {
        let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, at(8, hour * 3600)).await;
        assert_eq!(report.failed, 0, "{report:?}");
        if sent.is_empty() && !sink.ids().is_empty() {
            // Its turn: read once, and sent with the edit.
            assert_eq!(reads(&fake, &g1), g1_before + 1, "hour {hour}");
        } else if sent.is_empty() {
            assert_eq!(reads(&fake, &g1), g1_before, "hour {hour}");
        }
        sent.extend(sink.ids());
        for d in sink.ids() {
            let doc = sink.get(&d).unwrap();
            assert!(text(&doc).contains("the ops wiki"), "{}", text(&doc));
        }
    }
    assert_eq!(sent, [id("C01GENERAL", &g1)]);
    assert_eq!(reads(&fake, &e2), e2_before + 1, "one turn a cycle");

    // A window as long as the cycle gives every thread its turn; nothing moved since. Slack's
    // HTTP 200 `ok: false` `internal_error` is retried.
    fake.state.lock().unwrap().once.insert(
        "conversations.replies".into(),
        vec![(200, Vec::new(), slack_error("internal_error"))],
    );
    let before = fake.count("conversations.replies");
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, at(10, 0)).await;
    assert!(sink.ids().is_empty(), "{report:?}");
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(
        fake.count("conversations.replies"),
        before + 3,
        "{report:?}"
    );
}

#[tokio::test]
async fn an_edited_reply_in_a_thread_older_than_the_look_back_waits_for_a_full_run() {
    // Slack's Web API shows a bot no edit of a reply (only `message_changed` events, pushed):
    // a thread started before `thread_lookback_days` is not listed by an incremental run, so
    // neither the edit look-back nor the re-scan reaches it. A full run reads it again.
    let fake = Fake::start(standard()).await;
    let c = build(
        &fake.uri(),
        json!({"thread_lookback_days": 1, "reply_rescan_days": 1}),
    );
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, at(8, 0)).await;
    let g1 = ts(at(1, 0), 1);
    let reply = ts(at(3, 0), 3);
    {
        let mut st = fake.state.lock().unwrap();
        let m = st.channels[0]
            .messages
            .iter_mut()
            .find(|m| m.ts == reply)
            .unwrap();
        m.text = "Runbook: moved to the ops wiki".into();
        m.edited = Some(ts(at(8, 60), 70));
    }
    let before = fake.count("conversations.replies");
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, at(9, 0)).await;
    assert!(sink.ids().is_empty(), "{report:?}");
    assert_eq!(fake.count("conversations.replies"), before, "not listed");

    let (sink, report) = sync_at(&c, &store, SyncMode::Full, at(9, 3600)).await;
    assert_eq!(report.failed, 0, "{report:?}");
    let doc = sink.get(&id("C01GENERAL", &g1)).unwrap();
    assert!(text(&doc).contains("the ops wiki"), "{}", text(&doc));
}

/// `standard()` with two more channels: `events` (public, the bot in it) and `echo` (public,
/// the bot not in it: the walk leaves it out unless `join_public_channels`).
fn with_events_and_echo() -> slack_common::State {
    let mut state = standard();
    state.channels.push(Chan::new(
        "C04EVENTS",
        "events",
        false,
        vec![Msg::new(&ts(at(2, 0), 41), "U01ANA", "offsite in May")],
    ));
    state.channels.push(Chan {
        member: false,
        ..Chan::new(
            "C05ECHO",
            "echo",
            false,
            vec![Msg::new(&ts(at(2, 0), 42), "U02BEN", "echo")],
        )
    });
    state
}

#[tokio::test]
async fn patterns_and_every_channel_discover_channel_ids_as_partitions() {
    let fake = Fake::start(with_events_and_echo()).await;
    // Patterns: the channels the walk would read, by id, in name order; `echo` matches but
    // the bot is not in it.
    let c = build(
        &fake.uri(),
        json!({"channels": ["e.*"], "channel_regex_enabled": true}),
    );
    assert!(c.partitions().is_empty());
    assert_eq!(
        c.discover_partitions().await.unwrap(),
        ["C02ENG", "C04EVENTS"]
    );
    // Every channel: the same filters; with joining, `echo` too.
    let c = build(&fake.uri(), json!({}));
    assert_eq!(
        c.discover_partitions().await.unwrap(),
        ["C02ENG", "C04EVENTS", "C01GENERAL"]
    );
    let c = build(&fake.uri(), json!({"join_public_channels": true}));
    assert_eq!(
        c.discover_partitions().await.unwrap(),
        ["C05ECHO", "C02ENG", "C04EVENTS", "C01GENERAL"]
    );
    // Named channels: the names, as `partitions()`, without a request.
    let before = fake.count("conversations.list");
    let c = build(&fake.uri(), json!({"channels": "#general, eng"}));
    assert_eq!(c.discover_partitions().await.unwrap(), ["general", "eng"]);
    assert_eq!(fake.count("conversations.list"), before);
}

#[tokio::test]
async fn a_failing_channel_listing_fails_discovery() {
    let mut state = standard();
    state
        .always
        .insert("conversations.list".into(), slack_error("invalid_auth"));
    let fake = Fake::start(state).await;
    let c = build(&fake.uri(), json!({}));
    let err = c.discover_partitions().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(err.to_string().contains("slack_bot_token"), "{err}");
    // A scope the token lacks (after the fallback to public channels) is an error too,
    // never "no partitions".
    let mut state = standard();
    state
        .always
        .insert("conversations.list".into(), slack_error("missing_scope"));
    let fake = Fake::start(state).await;
    let c = build(
        &fake.uri(),
        json!({"channels": ["e.*"], "channel_regex_enabled": true}),
    );
    let err = c.discover_partitions().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
}

#[tokio::test]
async fn a_discovered_key_syncs_its_channel_alone_and_unknown_keys_are_refused() {
    let fake = Fake::start(with_events_and_echo()).await;
    let c = build(
        &fake.uri(),
        json!({"channels": ["e.*"], "channel_regex_enabled": true}),
    );
    let keys = c.discover_partitions().await.unwrap();
    let eng = c.partition(&keys[0]).unwrap();
    assert_eq!(eng.to_string(), "slack:C02ENG");
    let (sink, report) = full(&eng).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(sink.len(), 2);
    assert!(sink.ids().iter().all(|i| i.starts_with("C02ENG__")));
    let read: Vec<String> = fake
        .queries("conversations.history")
        .into_iter()
        .map(|q| q["channel"].clone())
        .collect();
    assert!(read.iter().all(|ch| ch == "C02ENG"), "{read:?}");
    // A partition does not split again.
    assert!(eng.partition("C04EVENTS").is_none());
    assert!(eng.discover_partitions().await.unwrap().is_empty());

    // Names, direct messages and junk are not channel ids; named channels take names only.
    for key in ["eng", "D0DIRECT", "C0 2ENG", "", "C"] {
        assert!(c.partition(key).is_none(), "{key:?}");
    }
    let named = build(&fake.uri(), json!({"channels": "#general, eng"}));
    assert!(named.partition("C02ENG").is_none());
    assert!(named.partition("random").is_none());

    // A key whose channel left the selection (here: never in it) is a failure of its run.
    let gone = c.partition("C01GENERAL").unwrap();
    let (sink, report) = full(&gone).await;
    assert!(sink.is_empty());
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert_eq!(report.failures[0].kind, ErrorKind::NotFound);
    assert!(
        report.failures[0].message.contains("C01GENERAL"),
        "{report:?}"
    );
}

#[tokio::test]
async fn a_later_pages_error_ends_the_run_after_the_pages_before_it() {
    // Two history pages in flight: #general's second page fails (the channel was deleted
    // meanwhile). Its first page is handed on, then the stream ends with the error (a later
    // page's error is not the channel's failure: a resume reads from the first page's
    // cursor).
    let fake = Fake::start(standard()).await;
    wiremock::Mock::given(wiremock::matchers::path("/api/conversations.history"))
        .and(wiremock::matchers::query_param("cursor", "dXNlcjpV2"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_json(slack_error("channel_not_found")),
        )
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let c = build(&fake.uri(), json!({"channels": "general"}));
    let mut stream = c
        .as_load()
        .unwrap()
        .load(connector_core::SyncContext::new());
    let mut ids = Vec::new();
    let mut failed = None;
    while let Some(batch) = futures::StreamExt::next(&mut stream).await {
        match batch {
            Ok(b) => ids.extend(b.documents.into_iter().map(|d| d.id)),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    assert_eq!(ids, [id("C01GENERAL", &ts(at(4, 0), 5))]);
    let err = failed.expect("the second page's error ends the run");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}
