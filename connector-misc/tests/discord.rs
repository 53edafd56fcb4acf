//! The Discord connector against the wiremock Discord of `discord_common` (REST API v10
//! reference: `after` snowflake paging, active and archived threads, roles and permission
//! overwrites, per-route rate-limit headers, `429` bodies, error bodies).
#![cfg(feature = "discord")]
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

mod discord_common;

use std::sync::Arc;
use std::time::Duration;

use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::sync_at;
use connector_core::{Connector, ErrorKind};
use discord_common::{
    FORUM, GENERAL, GUILD, Msg, OWNER, SECRET, STAFF, STAFF_ROLE, Thread, VOICE, bucket, build,
    snowflake, standard, start, thread, time,
};
use serde_json::json;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, ResponseTemplate};

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn text(sink: &MemorySink, id: &str) -> String {
    sink.get(id)
        .unwrap_or_else(|| panic!("no document {id}"))
        .content
        .as_text()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn buckets_and_threads_become_markdown_documents_with_access() {
    let api = standard();
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(8, 0)).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let release = snowflake(time(3, 0), 0);
    let forum = snowflake(time(5, 0), 0);
    let mut want: Vec<String> = (1..=6).map(|h| bucket(GENERAL, h)).collect();
    want.push(bucket(STAFF, 2));
    want.push(thread(release));
    want.push(thread(forum));
    assert_eq!(sorted(sink.ids()), sorted(want));

    let three = text(&sink, &bucket(GENERAL, 3));
    assert!(
        three.starts_with("# #general · 2025-03-01 03:00 UTC to 2025-03-01 04:00 UTC"),
        "{three}"
    );
    assert!(
        three.contains("**Alice** · 2025-03-01 03:05 UTC"),
        "{three}"
    );
    assert!(
        three.contains("Ack 3:35 *noted*"),
        "Discord's Markdown is kept: {three}"
    );
    assert!(
        three.contains(
            "[report.pdf](https://cdn.discordapp.com/attachments/1/2/report.pdf) (2048 bytes)"
        ),
        "{three}"
    );
    assert!(
        three.contains("*Started the thread release-plan*"),
        "{three}"
    );
    // The join notice at 4:01 is not a message anyone said.
    assert!(!text(&sink, &bucket(GENERAL, 4)).contains("Carol"));

    let doc = sink.get(&bucket(GENERAL, 3)).unwrap();
    assert_eq!(
        doc.title,
        "#general · Acme · 2025-03-01 03:00 UTC to 2025-03-01 04:00 UTC"
    );
    assert_eq!(
        doc.link.as_ref().unwrap().as_str(),
        format!("https://discord.com/channels/{GUILD}/{GENERAL}/{release}")
    );
    assert_eq!(doc.updated_at, Some(time(3, 35)));
    assert_eq!(
        doc.parent_id.as_deref(),
        Some(format!("discord:{GUILD}:{GENERAL}").as_str())
    );
    assert_eq!(
        doc.access.as_ref().unwrap().groups,
        [format!("discord-guild:{GUILD}")]
    );
    assert_eq!(doc.metadata["message_count"], json!(3));
    assert_eq!(doc.metadata["bucket_start"], json!("2025-03-01T03:00:00Z"));
    assert_eq!(doc.owners, ["alice", "bob"]);

    // #staff-only: the staff role (which the bot has) and the owner; #secret is left out.
    let staff = sink.get(&bucket(STAFF, 2)).unwrap();
    assert_eq!(
        staff.access.as_ref().unwrap().groups,
        [
            format!("discord-role:{GUILD}:{STAFF_ROLE}"),
            format!("discord-user:{OWNER}")
        ]
    );
    let st = api.state.lock().unwrap();
    assert!(
        !st.requests.iter().any(|r| r.contains(SECRET)),
        "#secret was requested"
    );
    drop(st);

    let t = text(&sink, &thread(release));
    assert!(
        t.starts_with("# release-plan\n\nThread in #general on Acme"),
        "{t}"
    );
    assert!(
        t.contains("Ship on Friday?") && t.contains("Friday it is."),
        "{t}"
    );
    // The channel message the thread was started from (its `type` 21 starter) opens it.
    assert!(
        t.contains("Release planning, see report.pdf") && !t.contains("Started the thread"),
        "{t}"
    );
    insta::assert_json_snapshot!(
        "discord_bucket",
        serde_json::to_value(sink.get(&bucket(GENERAL, 3)).unwrap()).unwrap()
    );
    insta::assert_json_snapshot!(
        "discord_thread",
        serde_json::to_value(sink.get(&thread(release)).unwrap()).unwrap()
    );
    let f = sink.get(&thread(forum)).unwrap();
    assert!(
        f.content
            .as_text()
            .unwrap()
            .contains("How do I reset my token?")
    );
    assert_eq!(f.metadata["archived"], json!(true));
    assert_eq!(f.metadata["channel"], json!("help-forum"));
    assert_eq!(f.updated_at, Some(time(5, 10)));
    assert!(
        !sink
            .ids()
            .iter()
            .any(|id| id.ends_with(&snowflake(time(4, 0), 9).to_string())),
        "a private thread was read"
    );
}

#[tokio::test]
async fn deny_overwrites_narrow_access_below_the_whole_server() {
    const HISTORY: u64 = 1 << 16;
    let cases = [
        // @everyone may view but not read the history; the staff role may.
        (
            json!([
                {"id": GUILD, "type": 0, "allow": "0", "deny": HISTORY.to_string()},
                {"id": STAFF_ROLE, "type": 0, "allow": HISTORY.to_string(), "deny": "0"}
            ]),
            vec![
                format!("discord-role:{GUILD}:{STAFF_ROLE}"),
                format!("discord-user:{OWNER}"),
            ],
        ),
        // An open channel with one member denied: only the owner is certain.
        (
            json!([{"id": "555", "type": 1, "allow": "0", "deny": discord_common::VIEW.to_string()}]),
            vec![format!("discord-user:{OWNER}")],
        ),
    ];
    for (overwrites, groups) in cases {
        let api = standard();
        {
            let mut st = api.state.lock().unwrap();
            let general = st.channels.iter_mut().find(|c| c.id == GENERAL).unwrap();
            general.overwrites = overwrites;
        }
        let server = start(api.clone()).await;
        let c = build(&server.uri(), json!({}));
        let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(8, 0)).await;
        let doc = sink.get(&bucket(GENERAL, 3)).unwrap();
        assert_eq!(doc.access.as_ref().unwrap().groups, groups);
    }
}

#[tokio::test]
async fn messages_are_paged_with_after_snowflakes() {
    let api = standard();
    {
        let mut st = api.state.lock().unwrap();
        let general = st.channels.iter_mut().find(|c| c.id == GENERAL).unwrap();
        general.messages = (0..250u64)
            .map(|i| {
                Msg::new(
                    time(1, 0) + chrono::TimeDelta::seconds(i64::try_from(i).unwrap() * 10),
                    0,
                    "Alice",
                    &format!("line {i}"),
                )
            })
            .collect();
    }
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"include_threads": false}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(8, 0)).await;
    let doc = sink.get(&bucket(GENERAL, 1)).unwrap();
    assert_eq!(doc.metadata["message_count"], json!(250));
    let body = doc.content.as_text().unwrap();
    assert!(body.contains("line 0\n") && body.contains("line 249"));
    let st = api.state.lock().unwrap();
    let afters = &st.afters[GENERAL];
    // From the start, then after the 100th and the 200th message.
    let ids: Vec<u64> = st
        .channels
        .iter()
        .find(|c| c.id == GENERAL)
        .unwrap()
        .messages
        .iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(afters, &[0, ids[99], ids[199]]);
}

#[tokio::test]
async fn bucket_ids_are_the_same_in_full_and_incremental_runs() {
    let api = standard();
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let (full, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(8, 0)).await;
    // A window that starts in the middle of the 3:00 bucket reads the bucket from its start:
    // the same id, the same whole document.
    let window = connector_core::TimeWindow::new(time(3, 30), time(8, 0)).unwrap();
    let stream = c
        .as_poll()
        .unwrap()
        .poll(window, connector_core::SyncContext::new());
    let batches: Vec<_> = futures::StreamExt::collect::<Vec<_>>(stream).await;
    let docs: Vec<connector_core::Document> = batches
        .into_iter()
        .flat_map(|b| b.unwrap().documents)
        .collect();
    let three = docs.iter().find(|d| d.id == bucket(GENERAL, 3)).unwrap();
    assert_eq!(
        three.content,
        full.get(&bucket(GENERAL, 3)).unwrap().content
    );
    assert!(
        docs.iter().all(|d| full.get(&d.id).is_some()),
        "an id not seen in the full run"
    );
    assert!(!docs.iter().any(|d| d.id == bucket(GENERAL, 2)));
}

#[tokio::test]
async fn an_incremental_run_finds_edits_new_messages_and_new_replies_in_old_threads() {
    let api = standard();
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"edit_lookback_hours": 2}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(7, 0)).await;
    let release = snowflake(time(3, 0), 0);
    {
        let mut st = api.state.lock().unwrap();
        let general = st.channels.iter_mut().find(|c| c.id == GENERAL).unwrap();
        // An edit keeps the id (and so the bucket) of the message.
        let m = general
            .messages
            .iter_mut()
            .find(|m| m.at == time(6, 35))
            .unwrap();
        m.content = "Ack 6:35, corrected".to_owned();
        m.edited = Some(time(7, 20));
        general
            .messages
            .push(Msg::new(time(7, 10), 0, "Bob", "New day, new build"));
        // A reply in an old thread (its last message was at 3:20).
        let t: &mut Thread = st.threads.iter_mut().find(|t| t.id == release).unwrap();
        t.messages
            .push(Msg::new(time(7, 30), 0, "Erin", "Moved to Monday."));
    }
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(9, 0)).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(
        sorted(sink.ids()),
        sorted(vec![
            bucket(GENERAL, 6),
            bucket(GENERAL, 7),
            thread(release)
        ])
    );
    assert!(text(&sink, &bucket(GENERAL, 6)).contains("Ack 6:35, corrected"));
    assert!(text(&sink, &bucket(GENERAL, 6)).contains("edited 2025-03-01 07:20 UTC"));
    assert!(text(&sink, &thread(release)).contains("Moved to Monday."));
    assert!(
        text(&sink, &thread(release)).contains("Ship on Friday?"),
        "the thread is sent whole"
    );
    // The 5:00 bucket was read again for edits (it has none); the forum post is unchanged.
    let st = api.state.lock().unwrap();
    let from_five = snowflake(time(5, 0), 0) & !((1 << 22) - 1);
    assert!(
        st.afters[GENERAL].contains(&(from_five - 1)),
        "{:?}",
        st.afters[GENERAL]
    );
    drop(st);
    assert_eq!(
        sink.get(&bucket(GENERAL, 6)).unwrap().updated_at,
        Some(time(7, 20))
    );
}

#[tokio::test]
async fn archived_threads_are_paged_by_archive_time() {
    let api = standard();
    {
        let mut st = api.state.lock().unwrap();
        st.archived_page = 2;
        for i in 0..5u32 {
            let id = snowflake(time(1, i * 5), 7);
            st.threads.push(Thread {
                id,
                parent: FORUM,
                name: "old post",
                kind: 11,
                archived_at: Some(time(2, i)),
                messages: vec![Msg::new(
                    time(1, i * 5 + 1),
                    0,
                    "Dave",
                    &format!("question {i}"),
                )],
            });
        }
    }
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(8, 0)).await;
    let threads = sink
        .ids()
        .into_iter()
        .filter(|id| id.split(':').count() == 3)
        .count();
    assert_eq!(threads, 7, "{:?}", sink.ids());
    let st = api.state.lock().unwrap();
    let pages: Vec<&String> = st
        .requests
        .iter()
        .filter(|r| r.contains(&format!("/channels/{FORUM}/threads/archived/public")))
        .collect();
    // Newest archived first: the next page starts just after the oldest of the page (a
    // microsecond: `before` is exclusive, and threads archived at that instant may go on),
    // so each page lists the page's oldest again: five pages of two for six threads.
    assert_eq!(pages.len(), 5, "{pages:?}");
    assert!(
        pages[1].contains("before=2025-03-01T02%3A04%3A00.000001Z"),
        "{pages:?}"
    );
    assert!(
        pages[2].contains("before=2025-03-01T02%3A03%3A00.000001Z"),
        "{pages:?}"
    );
}

/// Threads archived at one instant (a bulk archive) across a page boundary: none lost,
/// none listed twice, and a whole page of one instant does not make the walk loop.
#[tokio::test]
async fn threads_archived_at_the_same_instant_across_a_page_boundary_are_all_read() {
    for (tied, expected_pages) in [(3u32, 3usize), (4, 3)] {
        let api = standard();
        {
            let mut st = api.state.lock().unwrap();
            st.archived_page = 3;
            for i in 0..tied {
                st.threads.push(Thread {
                    id: snowflake(time(1, i * 5), 7),
                    parent: FORUM,
                    name: "bulk archived",
                    kind: 11,
                    archived_at: Some(time(2, 0)),
                    messages: vec![Msg::new(
                        time(1, i * 5 + 1),
                        0,
                        "Dave",
                        &format!("tied {i}"),
                    )],
                });
            }
            st.threads.push(Thread {
                id: snowflake(time(0, 30), 7),
                parent: FORUM,
                name: "older",
                kind: 11,
                archived_at: Some(time(1, 50)),
                messages: vec![Msg::new(time(0, 31), 0, "Dave", "older")],
            });
        }
        let server = start(api.clone()).await;
        let c = build(&server.uri(), json!({}));
        let (sink, report) =
            sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(8, 0)).await;
        let ids = sink.ids();
        let threads: Vec<&String> = ids.iter().filter(|id| id.split(':').count() == 3).collect();
        // A whole page of one instant: whether more share it cannot be known (3 of 3 here,
        // 3 of 4), so what may lie past it is a failure naming the forum in both cases.
        let failed: Vec<_> = report.failures.iter().map(|f| f.id.clone()).collect();
        assert_eq!(failed, [Some(format!("discord:{GUILD}:{FORUM}"))]);
        assert!(
            report.failures[0]
                .message
                .contains("2025-03-01T02:00:00.000000Z (3 listed)"),
            "{:?}",
            report.failures
        );
        let mut unique = threads.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), threads.len(), "listed twice: {threads:?}");
        let st = api.state.lock().unwrap();
        let pages = st
            .requests
            .iter()
            .filter(|r| r.contains(&format!("/channels/{FORUM}/threads/archived/public")))
            .count();
        assert_eq!(pages, expected_pages, "{:?}", st.requests);
        // The forum's post archived at 5:30, the older one, the general channel's active
        // thread, and the tied ones: all of them when a page boundary splits the tie (3 on
        // pages of 3 with the 5:30 one), all but what lies past a whole page of the one
        // instant (4: the fourth cannot be paged to; the walk moves on instead of looping).
        let read = if tied == 3 { tied } else { tied - 1 };
        assert_eq!(threads.len(), 3 + read as usize, "{threads:?}");
    }
}

/// A bulk archive of 150 threads at one instant on Discord's real pages (`limit=100`), the
/// listing answering a global `429` first: the walk waits it out, reads the first 100 of the
/// instant and every older thread, lists none twice, ends, and names the forum in a failure
/// saying what it could not reach. Prune keeps the tied threads the listing cannot reach
/// (each asked by id) and deletes one of them once it is gone.
#[tokio::test]
async fn more_than_a_page_of_threads_archived_at_one_instant_is_bounded_reported_and_kept() {
    let api = standard();
    let tied: Vec<u64> = (0..150u32)
        .map(|i| snowflake(time(1, 0) + chrono::TimeDelta::seconds(i64::from(i)), 7))
        .collect();
    {
        let mut st = api.state.lock().unwrap();
        for (i, id) in tied.iter().enumerate() {
            st.threads.push(Thread {
                id: *id,
                parent: FORUM,
                name: "bulk archived",
                kind: 11,
                // Active at the first run.
                archived_at: None,
                messages: vec![Msg::new(
                    time(1, 0) + chrono::TimeDelta::seconds(i64::try_from(i).unwrap() + 1),
                    0,
                    "Dave",
                    &format!("tied {i}"),
                )],
            });
        }
        st.threads.push(Thread {
            id: snowflake(time(0, 30), 7),
            parent: FORUM,
            name: "older",
            kind: 11,
            archived_at: Some(time(1, 50)),
            messages: vec![Msg::new(time(0, 31), 0, "Dave", "older")],
        });
    }
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (sink, report) = sync_at(&c, &store, SyncMode::Full, time(1, 58)).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(tied.iter().all(|id| sink.get(&thread(*id)).is_some()));

    // Then a moderator archives all 150 at once.
    for t in &mut api.state.lock().unwrap().threads {
        if tied.contains(&t.id) {
            t.archived_at = Some(time(2, 0));
        }
    }
    Mock::given(method("GET"))
        .and(path_regex("/threads/archived/public$"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .insert_header("x-ratelimit-global", "true")
                .insert_header("x-ratelimit-scope", "global")
                .set_body_json(json!({"message": "You are being rate limited.", "retry_after": 0.25, "global": true})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    api.state.lock().unwrap().requests.clear();
    let (sink, report) = sync_at(&c, &store, SyncMode::Full, time(8, 0)).await;
    assert_eq!(report.retries, 1, "{report:?}");
    let ids = sink.ids();
    let threads: Vec<&String> = ids.iter().filter(|id| id.split(':').count() == 3).collect();
    let mut unique = threads.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), threads.len(), "listed twice");
    // The forum's post of 5:30, the general channel's active thread, the older one, and the
    // first page of the instant (100 of the 150).
    assert_eq!(threads.len(), 3 + 100, "{threads:?}");
    assert!(sink.get(&thread(snowflake(time(0, 30), 7))).is_some());
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let f = &report.failures[0];
    assert_eq!(
        f.id.as_deref(),
        Some(format!("discord:{GUILD}:{FORUM}").as_str())
    );
    assert_eq!(f.kind, ErrorKind::Unsupported);
    assert!(
        f.message
            .contains("2025-03-01T02:00:00.000000Z (100 listed)"),
        "{}",
        f.message
    );
    assert!(f.message.contains("#help-forum"), "{}", f.message);
    let pages = api
        .state
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.contains(&format!("/channels/{FORUM}/threads/archived/public")))
        .count();
    // 5:30 and 99 of the instant; from just after the instant, 100 of it (one new): a whole
    // page of the instant it started at, so stepped past; the older one. The 429 was
    // wiremock's answer, not the fake's.
    assert_eq!(pages, 3, "{:?}", api.state.lock().unwrap().requests);

    // Prune: the 50 tied threads the listing cannot reach are still there (each asked by id)
    // and kept; one of them deleted since (404 by id) goes.
    let unreached: Vec<u64> = tied
        .iter()
        .copied()
        .filter(|id| sink.get(&thread(*id)).is_none())
        .collect();
    assert_eq!(unreached.len(), 50);
    let pruned = MemorySink::new();
    let syncer = Syncer::new(c.clone())
        .sink(pruned.clone())
        .state(store.clone())
        .options(connector_core::sync::SyncOptions::default().force_prune(true));
    let report = syncer.prune().await.unwrap();
    assert_eq!(report.deleted, 0, "{report:?}");
    api.state
        .lock()
        .unwrap()
        .threads
        .retain(|t| t.id != unreached[0]);
    let report = syncer.prune().await.unwrap();
    assert_eq!(report.deleted, 1, "{report:?}");
    assert_eq!(pruned.deleted(), [thread(unreached[0])]);
}

#[tokio::test]
async fn a_global_429_with_its_body_is_waited_out() {
    let server = start(standard()).await;
    Mock::given(method("GET"))
        .and(path_regex("/messages$"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "1")
                .insert_header("x-ratelimit-global", "true")
                .insert_header("x-ratelimit-scope", "global")
                .set_body_json(json!({"message": "You are being rate limited.", "retry_after": 0.64, "global": true})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(8, 0)).await;
    assert_eq!(sink.ids().len(), 9);
    assert_eq!(report.retries, 1, "{report:?}");
    assert!(
        report.rate_limit_wait >= Duration::from_secs(1),
        "{report:?}"
    );
}

#[tokio::test]
async fn a_429_with_only_reset_after_is_waited_for_that_long() {
    let server = start(standard()).await;
    Mock::given(method("GET"))
        .and(path_regex("/messages$"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset-after", "0.400")
                .insert_header("x-ratelimit-scope", "shared")
                .set_body_json(json!({"message": "You are being rate limited.", "retry_after": 0.4, "global": false})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let c = build(&server.uri(), json!({}));
    let (_, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(8, 0)).await;
    assert_eq!(report.retries, 1, "{report:?}");
    assert!(
        report.rate_limit_wait >= Duration::from_millis(400),
        "{report:?}"
    );
}

#[tokio::test]
async fn a_spent_route_is_waited_out_before_the_next_request() {
    let api = standard();
    api.state.lock().unwrap().spent_for = Some(Duration::from_millis(300));
    {
        let mut st = api.state.lock().unwrap();
        let general = st.channels.iter_mut().find(|c| c.id == GENERAL).unwrap();
        general.messages = (0..150u64)
            .map(|i| {
                Msg::new(
                    time(1, 0) + chrono::TimeDelta::seconds(i64::try_from(i).unwrap()),
                    0,
                    "Alice",
                    "x",
                )
            })
            .collect();
    }
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"include_threads": false}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(8, 0)).await;
    assert_eq!(
        sink.get(&bucket(GENERAL, 1)).unwrap().metadata["message_count"],
        json!(150)
    );
    // The mock answers 429 to a request before the route's reset: none was needed.
    assert_eq!(report.retries, 0, "{report:?}");
}

#[tokio::test]
async fn a_wrong_token_fails_the_sync_naming_the_field() {
    let server = start(standard()).await;
    let mut registry = connector_core::Registry::new();
    connector_misc::register(&mut registry);
    let mut cfg = discord_common::config(&server.uri(), json!({}));
    cfg["credentials"]["discord_bot_token"] = json!("Bot wrong-token");
    let c: Arc<dyn Connector> = registry.build("discord", cfg).unwrap();
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(
        err.to_string().contains("credentials.discord_bot_token"),
        "{err}"
    );
    assert!(err.to_string().contains("401: Unauthorized"), "{err}");
    let sink = MemorySink::new();
    let e = Syncer::new(c)
        .sink(sink)
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
}

#[tokio::test]
async fn a_bot_without_the_message_content_intent_fails_check_naming_the_token() {
    let api = standard();
    // GATEWAY_GUILD_MEMBERS_LIMITED only: no Message Content intent.
    api.state.lock().unwrap().app_flags = 1 << 15;
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(
        err.to_string().contains("credentials.discord_bot_token"),
        "{err}"
    );
    assert!(err.to_string().contains("Message Content"), "{err}");
    // With the intent (the fixture's default) it passes.
    api.state.lock().unwrap().app_flags = 1 << 18;
    c.check().await.unwrap();
}

#[tokio::test]
async fn an_unknown_server_is_named_by_its_field() {
    let server = start(standard()).await;
    let c = build(
        &server.uri(),
        json!({"server_ids": [GUILD, "999999999999999999"]}),
    );
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("server_ids[1]"), "{err}");
    assert_eq!(c.partitions(), [GUILD, "999999999999999999"]);
    let one = c.partition(GUILD).unwrap();
    one.check().await.unwrap();
}

#[tokio::test]
async fn channel_names_limit_the_channels_read() {
    let api = standard();
    let server = start(api.clone()).await;
    let c = build(
        &server.uri(),
        json!({"channels": ["#Staff-Only"], "include_threads": false}),
    );
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(8, 0)).await;
    assert_eq!(sink.ids(), [bucket(STAFF, 2)]);
    assert!(
        !api.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .any(|r| r.contains(&format!("/channels/{GENERAL}/")))
    );
}

#[tokio::test]
async fn a_channel_the_bot_lost_access_to_is_a_failure_and_the_walk_goes_on() {
    let server = start(standard()).await;
    // The bot's role still allows #staff-only, but Discord refuses (access changed meanwhile).
    Mock::given(method("GET"))
        .and(path_regex(format!("/channels/{STAFF}/messages$")))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Missing Access", "code": 50001})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(8, 0)).await;
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let f = &report.failures[0];
    assert_eq!(
        f.id.as_deref(),
        Some(format!("discord:{GUILD}:{STAFF}").as_str())
    );
    assert_eq!(f.kind, ErrorKind::PermissionDenied);
    assert!(
        f.message.contains("Missing Access (code 50001)"),
        "{}",
        f.message
    );
    assert_eq!(
        sink.ids().len(),
        8,
        "the other channels and threads still come"
    );
}

#[tokio::test]
async fn the_bucket_a_channel_is_writing_into_goes_out_on_every_run_while_it_grows() {
    // Review #1: a day's bucket of a busy channel always has a message newer than the run's
    // window (posted while the run reads); it is due in every window holding one of its
    // messages, not only once its newest message falls in one (after midnight).
    let api = standard();
    let day = format!("discord:{GUILD}:{GENERAL}:20250301T0000Z:24h");
    let post = |at: chrono::DateTime<chrono::Utc>, text: &str| {
        let mut st = api.state.lock().unwrap();
        let general = st.channels.iter_mut().find(|c| c.id == GENERAL).unwrap();
        general.messages.push(Msg::new(at, 0, "Alice", text));
    };
    api.state
        .lock()
        .unwrap()
        .channels
        .iter_mut()
        .find(|c| c.id == GENERAL)
        .unwrap()
        .messages
        .clear();
    post(time(1, 5), "first of the day");
    post(time(1, 40), "posted while run 1 reads");
    let server = start(api.clone()).await;
    let c = build(
        &server.uri(),
        json!({"bucket_hours": 24, "edit_lookback_hours": 0}),
    );
    let store = MemoryStateStore::new();
    let (sink, _) = sync_at(&c, &store, SyncMode::Full, time(1, 30)).await;
    assert!(text(&sink, &day).contains("first of the day"));

    post(time(2, 10), "second, today");
    post(time(2, 45), "posted while run 2 reads");
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(2, 30)).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let body = text(&sink, &day);
    assert!(
        body.contains("second, today") && body.contains("first of the day"),
        "the day goes out again, whole: {body}"
    );
    assert_eq!(
        sink.get(&day).unwrap().updated_at,
        Some(time(2, 45)),
        "updated_at is the newest message's time"
    );

    post(time(3, 10), "third, today");
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(3, 30)).await;
    let body = text(&sink, &day);
    assert!(
        body.contains("third, today") && body.contains("posted while run 2 reads"),
        "{body}"
    );

    // Nothing posted or edited in [3:30, 4:30): the day is not sent.
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(4, 30)).await;
    assert!(sink.get(&day).is_none(), "{:?}", sink.ids());
}

#[tokio::test]
async fn an_edit_inside_a_thread_is_found_by_incremental_and_reconcile_runs() {
    // An edit moves neither a thread's `last_message_id` nor its `message_count`: a version
    // read from the thread listing alone called the edited thread unchanged, run after run.
    let api = standard();
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"edit_lookback_hours": 6}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(7, 0)).await;
    let forum = snowflake(time(5, 0), 0);
    let release = snowflake(time(3, 0), 0);
    let edit = |thread: u64, at, content: &str| {
        let mut st = api.state.lock().unwrap();
        let t = st.threads.iter_mut().find(|t| t.id == thread).unwrap();
        let m = t.messages.last_mut().unwrap();
        m.content = content.to_owned();
        m.edited = Some(at);
    };
    // Within the look-back: the incremental run reads the thread and sees the edit.
    edit(forum, time(7, 30), "Reset Token, then update the config.");
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(9, 0)).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(sink.ids(), vec![thread(forum)]);
    assert!(text(&sink, &thread(forum)).contains("then update the config"));
    // A reconcile run (everything listed, only changes sent) finds any edit.
    edit(release, time(9, 30), "Friday it is, 10:00.");
    let (sink, report) = sync_at(&c, &store, SyncMode::Reconcile, time(10, 0)).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(sink.ids(), vec![thread(release)], "only the edited thread");
    assert!(text(&sink, &thread(release)).contains("Friday it is, 10:00."));
}

#[tokio::test]
async fn mentions_are_names_embeds_keep_their_fields_and_voice_channel_chat_is_read() {
    let api = standard();
    {
        let mut st = api.state.lock().unwrap();
        let general = st.channels.iter_mut().find(|c| c.id == GENERAL).unwrap();
        general.messages.push(Msg::new(
            time(6, 50),
            0,
            "Alice",
            &format!(
                "<@!103> and <@105>: ask <@&{STAFF_ROLE}> in <#{STAFF}> before <t:1740812400:R> <:shipit:1234567890> (not <@999>)"
            ),
        ));
        general
            .messages
            .push(Msg::new(time(6, 55), 0, "CI", "CI: build failed"));
        let asked = general
            .messages
            .iter()
            .find(|m| m.at == time(6, 5))
            .unwrap()
            .clone();
        let mut reply = Msg::new(time(6, 57), 0, "Bob", "Still green here.");
        reply.kind = 19;
        reply.started_from = Some((GENERAL, Box::new(asked)));
        general.messages.push(reply);
        let voice = st.channels.iter_mut().find(|c| c.id == VOICE).unwrap();
        voice
            .messages
            .push(Msg::new(time(2, 15), 0, "Bob", "Notes from the voice call"));
    }
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(8, 0)).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let six = text(&sink, &bucket(GENERAL, 6));
    assert!(
        six.contains(
            "@Bob and @Alice: ask @staff in #staff-only before 2025-03-01 07:00 UTC :shipit: (not <@999>)"
        ),
        "{six}"
    );
    // A bot's embed: its title as a link, its text and its fields.
    assert!(
        six.contains("> **[Build #42 failed](https://ci.acme.test/42)**")
            && six.contains("Details in #staff-only")
            && six.contains("**Branch**")
            && six.contains("`main`")
            && six.contains("cargo test"),
        "{six}"
    );
    assert!(
        six.contains("**Bob** · 2025-03-01 06:57 UTC · replying to Alice (2025-03-01 06:05 UTC)"),
        "{six}"
    );
    assert!(text(&sink, &bucket(VOICE, 2)).contains("Notes from the voice call"));
    insta::assert_json_snapshot!(
        "discord_mentions",
        serde_json::to_value(sink.get(&bucket(GENERAL, 6)).unwrap()).unwrap()
    );
}

#[tokio::test]
async fn discovery_lists_each_readable_channel_by_server_and_channel_id() {
    let server = start(standard()).await;
    let key = |channel: &str| format!("{GUILD}:{channel}");
    // Every server the bot is in: each channel with messages or threads that the bot may
    // read (`#secret` is not), in id order.
    let c = build(&server.uri(), json!({"server_ids": []}));
    assert!(c.partitions().is_empty());
    let all = [key(GENERAL), key(STAFF), key(FORUM), key(VOICE)];
    assert_eq!(c.discover_partitions().await.unwrap(), all);
    // The configured server: the same channels.
    let c = build(&server.uri(), json!({}));
    assert_eq!(c.discover_partitions().await.unwrap(), all);
    // `channel_names` filters them (any case, `#` dropped).
    let c = build(
        &server.uri(),
        json!({"channel_names": ["#General", "help-forum", "secret"]}),
    );
    assert_eq!(
        c.discover_partitions().await.unwrap(),
        [key(GENERAL), key(FORUM)]
    );
}

#[tokio::test]
async fn a_failing_listing_fails_discovery() {
    // A configured server the bot is not in: an error naming it, never fewer partitions.
    let server = start(standard()).await;
    let c = build(
        &server.uri(),
        json!({"server_ids": [GUILD, "999999999999999999"]}),
    );
    let err = c.discover_partitions().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("server_ids[1]"), "{err}");
    // The bot's servers cannot be listed: the token's error.
    Mock::given(method("GET"))
        .and(path_regex("/users/@me/guilds$"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"message": "401: Unauthorized", "code": 0})),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let c = build(&server.uri(), json!({"server_ids": []}));
    let err = c.discover_partitions().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(err.to_string().contains("discord_bot_token"), "{err}");
}

#[tokio::test]
async fn a_discovered_channel_syncs_alone_with_its_threads_and_unknown_keys_are_refused() {
    let api = standard();
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let key = format!("{GUILD}:{GENERAL}");
    assert!(c.discover_partitions().await.unwrap().contains(&key));
    let general = c.partition(&key).unwrap();
    assert_eq!(general.to_string(), format!("discord:{key}"));
    api.state.lock().unwrap().requests.clear();
    let (sink, report) = sync_at(
        &general,
        &MemoryStateStore::new(),
        SyncMode::Full,
        time(8, 0),
    )
    .await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // Its buckets and its thread; nothing of the other channels is read.
    let mut want: Vec<String> = (1..=6).map(|h| bucket(GENERAL, h)).collect();
    want.push(thread(snowflake(time(3, 0), 0)));
    assert_eq!(sorted(sink.ids()), sorted(want));
    let requests = api.state.lock().unwrap().requests.clone();
    for other in [STAFF, FORUM, VOICE] {
        assert!(
            !requests
                .iter()
                .any(|r| r.contains(&format!("/channels/{other}/"))),
            "{requests:?}"
        );
    }
    // A partition does not split again.
    assert!(general.partition(&format!("{GUILD}:{STAFF}")).is_none());
    assert!(general.discover_partitions().await.unwrap().is_empty());

    // Keys that are not `{server}:{channel}` snowflakes, or of a server not configured.
    for k in [
        "general",
        "abc:def",
        &format!("{GUILD}:"),
        &format!(":{GENERAL}"),
        GUILD,
    ] {
        assert!(c.partition(k).is_none(), "{k:?}");
    }
    let other = format!("999999999999999999:{GENERAL}");
    assert!(
        build(&server.uri(), json!({"server_ids": [GUILD]}))
            .partition(&other)
            .is_none()
    );
    // With several servers configured, a server key (no request) or a channel key.
    let two = build(
        &server.uri(),
        json!({"server_ids": [GUILD, "999999999999999999"]}),
    );
    assert!(two.partition(GUILD).is_some());
    assert!(two.partition(&key).is_some());

    // A key whose channel is out of scope (the bot may not read `#secret`): a failure of
    // its run, naming it.
    let gone = c.partition(&format!("{GUILD}:{SECRET}")).unwrap();
    let (sink, report) = sync_at(&gone, &MemoryStateStore::new(), SyncMode::Full, time(8, 0)).await;
    assert!(sink.is_empty());
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert_eq!(report.failures[0].kind, ErrorKind::NotFound);
    assert!(report.failures[0].message.contains(SECRET), "{report:?}");
}
