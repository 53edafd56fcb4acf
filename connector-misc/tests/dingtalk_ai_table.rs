//! The DingTalk AI Table connector against the wiremock DingTalk of
//! `dingtalk_ai_table_common`: sheets then records over `nextToken` pages, typed values in
//! front matter (snapshot), `updated_at` from `lastModifiedTime`, client-side poll windows
//! (an edit to an old record is found), app tokens renewed before expiry and after a 401,
//! throttling, checkpoints, refetch, prune, and DingTalk's error answers.
#![cfg(feature = "dingtalk_ai_table")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dingtalk_ai_table_common;

use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, SyncOptions, Syncer};
use connector_core::testkit::{load_batch, poll_batch};
use connector_core::{Batch, ErrorKind, Registry, SyncContext, TimeWindow};
use dingtalk_ai_table_common::records_wire::{doc, ids, sorted, sync};
use dingtalk_ai_table_common::*;
use futures::StreamExt;
use serde_json::json;

fn all_ids() -> Vec<String> {
    sorted(&[
        record_doc(SHEET_TASKS, REC_PLAN),
        record_doc(SHEET_TASKS, REC_LAUNCH),
        record_doc(SHEET_TASKS, REC_HIRING),
        record_doc(SHEET_TASKS, REC_BUDGET),
        record_doc(SHEET_TASKS, REC_RETRO),
        record_doc(SHEET_NOTES, REC_MEMO),
    ])
}

#[tokio::test]
async fn every_record_of_every_sheet_over_next_token_pages() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let batch = load_batch(&c).await.unwrap();
    assert_eq!(ids(&batch), all_ids());
    assert!(batch.failures.is_empty(), "{:?}", batch.failures);
    let lists: Vec<String> = fake.with(|st| {
        st.calls
            .iter()
            .filter(|c| c.starts_with("list"))
            .cloned()
            .collect()
    });
    // Five tasks two a page: three listings, each after the first with DingTalk's nextToken;
    // then the second sheet.
    assert_eq!(
        lists,
        [
            format!("list {SHEET_TASKS} "),
            format!("list {SHEET_TASKS} g1-2"),
            format!("list {SHEET_TASKS} g1-4"),
            format!("list {SHEET_NOTES} "),
        ]
    );
    // One fixed token: no token request.
    assert_eq!(fake.with(|st| st.token_requests), 0);
}

#[tokio::test]
async fn records_render_as_markdown_with_typed_front_matter() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let batch = load_batch(&c).await.unwrap();
    let plan = doc(&batch, &record_doc(SHEET_TASKS, REC_PLAN));
    insta::assert_json_snapshot!("dingtalk_ai_table_record", plan);
    let launch = doc(&batch, &record_doc(SHEET_TASKS, REC_LAUNCH));
    insta::assert_json_snapshot!("dingtalk_ai_table_record_with_links", launch);
    assert_eq!(plan.title, "Q3 plan");
    // The record's own modified time, not the time of the run (RAGFlow's `now()`).
    assert_eq!(plan.updated_at, Some(time(5)));
    assert_eq!(
        plan.parent_id.as_deref(),
        Some(format!("dingtalk_ai_table:{BASE}:{SHEET_TASKS}").as_str())
    );
    let text = plan.content.as_text().unwrap();
    assert!(
        text.starts_with("---\nrecord_id: \"1xVBgPXhqv\"\n"),
        "{text}"
    );
    assert!(
        text.contains("Due: \"2025-07-01T00:00:00+00:00\"\n"),
        "{text}"
    );
    assert!(text.contains("Tags: [\"planning\",\"q3\"]\n"), "{text}");
    assert!(text.contains("Status: \"Todo\"\n"), "{text}");
    assert!(text.contains("Owner: [\"uAnaSilva01\"]\n"), "{text}");
    assert!(
        text.contains("Website: \"Plan page <https://example.com/q3>\"\n"),
        "{text}"
    );
    assert!(
        text.contains("last_modified_time: \"2025-03-01T10:05:00Z\"\n"),
        "{text}"
    );
    // Multi-line text is the body, its Markdown characters kept as text.
    assert!(
        text.contains("# Q3 plan\n\n## Notes\n\nShip the \\*beta\\*."),
        "{text}"
    );
    assert_eq!(plan.metadata["fields"]["Estimate"], json!(3.5));
    let ltext = launch.content.as_text().unwrap();
    assert!(ltext.contains("Spec: [\"spec.pdf\"]\n"), "{ltext}");
    assert!(ltext.contains("Blocked by: \"1xVBgPXhqv\"\n"), "{ltext}");
    assert!(ltext.contains("Done: true\n"), "{ltext}");
}

#[tokio::test]
async fn access_is_only_the_configured_groups_never_everyone() {
    let fake = Fake::start(|_| {}).await;
    let batch = load_batch(&build(&fake.uri(), json!({}))).await.unwrap();
    for d in &batch.documents {
        let access = d.access.as_ref().expect("access is always set");
        assert!(!access.public && access.emails.is_empty() && access.groups.is_empty());
    }
    let batch = load_batch(&build(
        &fake.uri(),
        json!({"access_groups": ["ai-table-readers"]}),
    ))
    .await
    .unwrap();
    for d in &batch.documents {
        let access = d.access.as_ref().unwrap();
        assert_eq!(access.groups, ["ai-table-readers"]);
        assert!(!access.public);
    }
}

#[tokio::test]
async fn polls_keep_records_modified_in_the_window() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    // Modified at 10:20, 10:30 and 10:40 (the memo); 10:50 is the exclusive end... of 10:41.
    let batch = poll_batch(&c, TimeWindow::new(time(20), time(41)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        ids(&batch),
        sorted(&[
            record_doc(SHEET_TASKS, REC_LAUNCH),
            record_doc(SHEET_TASKS, REC_HIRING),
            record_doc(SHEET_NOTES, REC_MEMO),
        ])
    );
    let batch = poll_batch(&c, TimeWindow::new(time(20), time(30)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        ids(&batch),
        [record_doc(SHEET_TASKS, REC_LAUNCH)],
        "end exclusive"
    );
}

#[tokio::test]
async fn an_edit_to_an_old_record_is_found_by_the_next_incremental_run() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (sink, first) = sync(&c, &store, SyncMode::Full).await;
    assert_eq!(sink.documents().len(), 6, "{first:?}");
    // The budget, created and last edited at 10:03, is edited now.
    let now = chrono::Utc::now().timestamp_millis();
    fake.with(|st| {
        let r = &mut st.sheets[0].records[3];
        r.fields["Estimate"] = json!(15);
        r.modified = now;
    });
    let (sink, second) = sync(&c, &store, SyncMode::Incremental).await;
    let got: Vec<String> = sink.documents().iter().map(|d| d.id.clone()).collect();
    assert_eq!(got, [record_doc(SHEET_TASKS, REC_BUDGET)], "{second:?}");
    assert!(
        sink.documents()[0]
            .content
            .as_text()
            .unwrap()
            .contains("Estimate: 15\n")
    );
}

#[tokio::test]
async fn an_unchanged_base_is_reported_unchanged() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync(&c, &store, SyncMode::Full).await;
    let (sink, report) = sync(&c, &store, SyncMode::Reconcile).await;
    assert!(sink.documents().is_empty(), "{report:?}");
    assert_eq!(report.unchanged, 6, "{report:?}");
}

#[tokio::test]
async fn app_tokens_are_got_once_and_renewed_before_they_expire() {
    // A two-hour token serves the whole run: one token request.
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"credentials": app_credentials()}));
    assert_eq!(ids(&load_batch(&c).await.unwrap()), all_ids());
    assert_eq!(fake.with(|st| st.token_requests), 1);

    // A token with less than the renewal margin left is renewed before each call, never sent
    // to expire on the way.
    let fake = Fake::start(|st| st.token_life = 30).await;
    let c = build(&fake.uri(), json!({"credentials": app_credentials()}));
    assert_eq!(ids(&load_batch(&c).await.unwrap()), all_ids());
    let (tokens, calls) = fake.with(|st| (st.token_requests, st.calls.len()));
    assert_eq!(tokens, calls, "one fresh token per call");
}

#[tokio::test]
async fn a_token_refused_mid_run_is_renewed_once_and_the_run_goes_on() {
    let fake = Fake::start(|st| st.revoke_at_call = Some(3)).await;
    let c = build(&fake.uri(), json!({"credentials": app_credentials()}));
    assert_eq!(ids(&load_batch(&c).await.unwrap()), all_ids());
    let (tokens, refused) = fake.with(|st| {
        (
            st.token_requests,
            st.calls
                .iter()
                .filter(|c| c.starts_with("unauthenticated"))
                .count(),
        )
    });
    assert_eq!((tokens, refused), (2, 1));

    // A fixed token cannot be renewed: the run fails naming it.
    let fake = Fake::start(|st| st.revoke_at_call = Some(3)).await;
    let e = load_batch(&build(&fake.uri(), json!({})))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert_eq!(e.field(), Some("credentials.access_token"));
    assert!(e.to_string().contains("InvalidAuthentication"), "{e}");
}

#[tokio::test]
async fn throttled_calls_are_waited_out() {
    let fake = Fake::start(|st| st.throttled = 2).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (sink, report) = sync(&c, &store, SyncMode::Full).await;
    assert_eq!(sink.documents().len(), 6);
    assert!(
        report.rate_limit_wait >= std::time::Duration::from_secs(1),
        "{report:?}"
    );
}

#[tokio::test]
async fn check_tells_dingtalks_answers_apart() {
    let fake = Fake::start(|_| {}).await;
    let uri = fake.uri();
    build(&uri, json!({})).check().await.unwrap();
    build(&uri, json!({"credentials": app_credentials()}))
        .check()
        .await
        .unwrap();

    let e = build(&uri, json!({"credentials": {"access_token": "wrong"}}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert_eq!(e.field(), Some("credentials.access_token"));

    let e = build(
        &uri,
        json!({"credentials": {"app_key": APP_KEY, "app_secret": "wrong"}}),
    )
    .check()
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert_eq!(e.field(), Some("credentials.app_secret"));
    assert!(e.to_string().contains("invalidClientIdOrSecret"), "{e}");
    assert!(!e.to_string().contains("wrong"), "{e}");

    let e = build(&uri, json!({"operator_id": "someoneElse"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("AccessTokenPermissionDenied"), "{e}");

    let e = build(&uri, json!({"table_id": "NoSuchBase0000"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("notFound.base.notExist"), "{e}");

    let e = build(&uri, json!({"sheets": ["Nope"]}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.field(), Some("sheets"));
}

#[tokio::test]
async fn configured_sheets_narrow_the_listing() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"sheets": ["Notes"]}));
    assert_eq!(
        ids(&load_batch(&c).await.unwrap()),
        [record_doc(SHEET_NOTES, REC_MEMO)]
    );
}

#[tokio::test]
async fn a_resume_follows_the_checkpoints_sheet_and_next_token() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let checkpointed = c.roles().as_checkpointed().unwrap();
    let resume = |state: serde_json::Value| {
        let mut cp = checkpointed.initial_checkpoint_json().unwrap();
        cp.state = state;
        cp
    };
    let collect = |cp| async {
        let mut stream = checkpointed.load_from_checkpoint_json(cp, None, SyncContext::new());
        let mut got = Vec::new();
        let mut last = None;
        while let Some(page) = stream.next().await {
            let page = page.unwrap();
            got.extend(page.batch.documents.into_iter().map(|d| d.id));
            last = Some(page.checkpoint.state);
        }
        (got, last)
    };
    let (got, last) = collect(resume(json!({"sheet": SHEET_TASKS, "next_token": "g1-4"}))).await;
    assert_eq!(
        got,
        [
            record_doc(SHEET_TASKS, REC_RETRO),
            record_doc(SHEET_NOTES, REC_MEMO)
        ]
    );
    assert_eq!(last, Some(json!({"done": true})));

    // A nextToken DingTalk no longer takes restarts its sheet, not the run.
    fake.with(|st| st.generation = 2);
    let (got, _) = collect(resume(json!({"sheet": SHEET_TASKS, "next_token": "g1-4"}))).await;
    assert_eq!(got.len(), 6, "{got:?}");

    // A sheet that is gone starts the listing over.
    let (got, _) = collect(resume(json!({"sheet": "gone000", "next_token": "g2-2"}))).await;
    assert_eq!(got.len(), 6, "{got:?}");
}

#[tokio::test]
async fn failed_items_are_fetched_again_by_record_id() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let refetch = c.roles().as_refetch().unwrap();
    let wanted = vec![
        record_doc(SHEET_TASKS, REC_LAUNCH),
        record_doc(SHEET_NOTES, REC_MEMO),
        // Deleted since: nothing comes back for it (prune's business).
        record_doc(SHEET_TASKS, "9gOnE00000"),
        // Another base's, and another connector's.
        format!("dingtalk_ai_table:OtherBase:{SHEET_TASKS}:{REC_PLAN}"),
        "confluence:123".to_owned(),
    ];
    let batches: Vec<Batch> = refetch
        .fetch(wanted, SyncContext::default())
        .map(|b| b.unwrap())
        .collect()
        .await;
    let got: Vec<String> = batches.iter().flat_map(ids).collect();
    assert_eq!(
        sorted(&got),
        sorted(&[
            record_doc(SHEET_TASKS, REC_LAUNCH),
            record_doc(SHEET_NOTES, REC_MEMO)
        ])
    );
    let launch = batches
        .iter()
        .flat_map(|b| b.documents.iter())
        .find(|d| d.id.ends_with(REC_LAUNCH))
        .unwrap();
    assert_eq!(launch.updated_at, Some(time(20)));
    let gets = fake.with(|st| st.calls.iter().filter(|c| c.starts_with("get")).count());
    assert_eq!(gets, 3);
}

#[tokio::test]
async fn prune_removes_deleted_records() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    fake.with(|st| st.sheets[0].records.remove(2));
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .options(SyncOptions::default().max_prune_fraction(1.0))
        .prune()
        .await
        .unwrap();
    assert_eq!(report.deleted, 1, "{report:?}");
    assert_eq!(sink.deleted(), [record_doc(SHEET_TASKS, REC_HIRING)]);
}

#[tokio::test]
async fn a_record_deleted_during_the_id_listing_shifts_none_into_the_prune() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    let lists = fake.with(|st| st.calc_asked.len());
    // The fake's nextToken is an offset: the first task is deleted as the prune's second page
    // of tasks is asked for, so that page starts one record later and the listing never sees
    // the third task, which still exists. The memo is deleted before the prune.
    fake.with(|st| {
        st.delete_at_list = Some((lists + 2, REC_PLAN.to_owned()));
        st.sheets[1].records.clear();
    });
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .options(SyncOptions::default().max_prune_fraction(1.0))
        .prune()
        .await
        .unwrap();
    assert!(fake.with(|st| st.sheets[0].records.iter().all(|r| r.id != REC_PLAN)));
    // Listed: the first page (the plan, the launch), then the budget and the retro.
    assert_eq!(report.listed, 4, "{report:?}");
    // Missed by the listing but there when asked by id: kept. The memo: gone.
    assert_eq!(report.deleted, 1, "{report:?}");
    assert_eq!(sink.deleted(), [record_doc(SHEET_NOTES, REC_MEMO)]);
    let gets: Vec<String> = fake.with(|st| {
        st.calls
            .iter()
            .filter(|c| c.starts_with("get "))
            .cloned()
            .collect()
    });
    assert_eq!(
        sorted(&gets),
        sorted(&[
            format!("get {SHEET_TASKS} {REC_HIRING}"),
            format!("get {SHEET_NOTES} {REC_MEMO}"),
        ])
    );
}

#[tokio::test]
async fn a_listing_that_cannot_go_on_fails_and_prunes_nothing() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    // `hasMore` without a `nextToken`: ending there would look like a complete listing.
    fake.with(|st| st.lose_next_token = true);
    let e = load_batch(&c).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains("nextToken"), "{e}");
    let pruned = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .options(SyncOptions::default().max_prune_fraction(1.0))
        .prune()
        .await;
    assert!(pruned.is_err(), "{pruned:?}");
    assert!(sink.deleted().is_empty());
}

#[tokio::test]
async fn values_are_typed_by_their_shape_without_the_field_list() {
    let fake = Fake::start(|st| st.no_fields = true).await;
    let batch = load_batch(&build(&fake.uri(), json!({}))).await.unwrap();
    assert_eq!(ids(&batch), all_ids());
    let plan = doc(&batch, &record_doc(SHEET_TASKS, REC_PLAN));
    assert_eq!(plan.title, "Q3 plan");
    assert!(plan.content.as_text().unwrap().contains("Status: \"Todo\""));
}

#[tokio::test]
async fn a_sheet_the_operator_may_not_read_fails_alone_and_prunes_nothing() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    fake.with(|st| st.forbidden_sheets.push(SHEET_TASKS.to_owned()));
    let batch = load_batch(&c).await.unwrap();
    assert_eq!(batch.failures.len(), 1, "{:?}", batch.failures);
    let failure = &batch.failures[0];
    assert_eq!(failure.kind, ErrorKind::PermissionDenied);
    assert_eq!(
        failure.id.as_deref(),
        Some(format!("dingtalk_ai_table:{BASE}:{SHEET_TASKS}").as_str())
    );
    // The other sheet is read all the same.
    assert!(!batch.documents.is_empty());
    assert!(
        batch
            .documents
            .iter()
            .all(|d| d.id.starts_with(&record_doc(SHEET_NOTES, "")))
    );
    // Prune cannot list the sheet, so it deletes nothing of it.
    let pruned = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .options(SyncOptions::default().max_prune_fraction(1.0))
        .prune()
        .await;
    assert!(pruned.is_err(), "{pruned:?}");
    assert!(sink.deleted().is_empty());
}

#[test]
fn ragflows_stored_config_loads_and_the_schema_describes_every_field() {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    registry
        .build(
            "dingtalk_ai_table",
            json!({
                "name": "",
                "table_id": BASE,
                "operator_id": OPERATOR,
                "batch_size": 2,
                "credentials": {"access_token": TOKEN},
            }),
        )
        .unwrap();
    let schema = registry.schema("dingtalk_ai_table").unwrap();
    let props = schema["properties"].as_object().unwrap();
    for key in [
        "table_id",
        "operator_id",
        "sheets",
        "access_groups",
        "requests_per_second",
        "api_base_url",
    ] {
        assert!(props[key].get("description").is_some(), "{key}");
        assert!(props[key].get("examples").is_some(), "{key}");
    }
}

#[tokio::test]
async fn formula_and_lookup_values_are_asked_for_and_rendered() {
    let fake = Fake::start(|st| {
        st.sheets[0].fields.as_array_mut().unwrap().extend([
            json!({"id": "fCost12", "name": "Cost", "type": "formula", "property": {"formatter": "FLOAT_2"}}),
            json!({"id": "fEnds13", "name": "Ends", "type": "formula", "property": {"formatter": "YYYY-MM-DD"}}),
            json!({"id": "fTeam14", "name": "Owner team", "type": "lookup", "property": {}}),
        ]);
        st.computed = vec![
            (REC_PLAN.into(), "Cost".into(), json!(1234.5)),
            // 2025-06-30T16:00:00Z.
            (REC_PLAN.into(), "Ends".into(), json!(1_751_299_200_000_i64)),
            (REC_PLAN.into(), "Owner team".into(), json!(["Platform", "Web"])),
        ];
    })
    .await;
    let c = build(&fake.uri(), json!({}));
    let batch = load_batch(&c).await.unwrap();
    let plan = doc(&batch, &record_doc(SHEET_TASKS, REC_PLAN));
    let fields = &plan.metadata["fields"];
    assert_eq!(fields["Cost"], json!(1234.5));
    // A formula shown as a date is a date (UTC without `time_zone`).
    assert_eq!(fields["Ends"], json!("2025-06-30T16:00:00+00:00"));
    assert_eq!(fields["Owner team"], json!(["Platform", "Web"]));
    let text = plan.content.as_text().unwrap();
    assert!(text.contains("Owner team"), "{text}");
    assert!(text.contains("Platform"), "{text}");
    // Every record listing asked for the computed values.
    let asked = fake.with(|st| st.calc_asked.clone());
    assert!(!asked.is_empty() && asked.iter().all(|a| *a), "{asked:?}");
}

#[tokio::test]
async fn dates_are_written_in_the_configured_time_zone() {
    let fake = Fake::start(|st| {
        st.sheets[0].fields.as_array_mut().unwrap().push(
            json!({"id": "fEnds13", "name": "Ends", "type": "formula", "property": {"formatter": "YYYY-MM-DD HH:mm"}}),
        );
        st.computed = vec![(REC_PLAN.into(), "Ends".into(), json!(1_751_299_200_000_i64))];
    })
    .await;
    let utc = load_batch(&build(&fake.uri(), json!({}))).await.unwrap();
    let zoned = load_batch(&build(&fake.uri(), json!({"time_zone": "Asia/Shanghai"})))
        .await
        .unwrap();
    let id = record_doc(SHEET_TASKS, REC_PLAN);
    // `Due` (`YYYY-MM-DD`) is 2025-07-01T00:00:00Z: UTC by default, as before; the day in the
    // zone; a field shown with its time at the zone's offset.
    assert_eq!(
        doc(&utc, &id).metadata["fields"]["Due"],
        json!("2025-07-01T00:00:00+00:00")
    );
    let fields = &doc(&zoned, &id).metadata["fields"];
    assert_eq!(fields["Due"], json!("2025-07-01"));
    assert_eq!(fields["Ends"], json!("2025-07-01T00:00:00+08:00"));
    // The record's own times stay instants.
    assert_eq!(doc(&zoned, &id).updated_at, doc(&utc, &id).updated_at);
    // Another zone renders anew: the fingerprint moves with it.
    assert_ne!(doc(&zoned, &id).fingerprint, doc(&utc, &id).fingerprint);
    // A zone that is none is refused, naming the field.
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let e = registry
        .build(
            "dingtalk_ai_table",
            config(&fake.uri(), json!({"time_zone": "Asia/Atlantis"})),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.to_string().contains("time_zone"), "{e}");
}
