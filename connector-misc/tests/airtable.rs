//! The Airtable connector against the wiremock Airtable of `airtable_common`: offset paging,
//! field rendering (snapshots), attachments under the size cap, polls by last-modified time
//! (an edit to an old record is found), expired offsets, and Airtable's error answers.
#![cfg(feature = "airtable")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod airtable_common;

use std::time::Duration;

use airtable_common::records_wire::{doc, ids, sorted, sync};
use airtable_common::*;
use chrono::{TimeDelta, Utc};
use connector_core::state::MemoryStateStore;
use connector_core::sync::SyncMode;
use connector_core::testkit::{load_batch, poll_batch};
use connector_core::{Batch, Document, ErrorKind, Registry, SyncContext, TimeWindow};
use futures::StreamExt;
use serde_json::{Value, json};

fn all_ids() -> Vec<String> {
    sorted(&[
        record_doc(REC_PLAN),
        record_doc(REC_LAUNCH),
        attachment_doc(REC_LAUNCH, ATT_SPEC),
        attachment_doc(REC_LAUNCH, ATT_LOGO),
        record_doc(REC_HIRING),
        record_doc(REC_BUDGET),
        record_doc(REC_RETRO),
    ])
}

/// The document as JSON with the fake's address replaced, for snapshots.
fn portable(doc: &Document, uri: &str) -> Value {
    let text = serde_json::to_string(doc)
        .unwrap()
        .replace(uri, "https://v5.airtableusercontent.test");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn every_record_and_attachment_over_offset_pages() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let batch = load_batch(&c).await.unwrap();
    assert_eq!(ids(&batch), all_ids());
    assert!(batch.failures.is_empty(), "{:?}", batch.failures);
    // Five records, two a page: three listings, each after the first with the offset before.
    let listings = fake.with(|st| st.listings.clone());
    assert_eq!(listings.len(), 3, "{listings:?}");
    assert_eq!(listings[0], "pageSize=100");
    assert!(
        listings[1].contains(&format!("offset=itr00000000000001%2F{REC_HIRING}")),
        "{listings:?}"
    );
    assert!(
        listings[2].contains(&format!("offset=itr00000000000001%2F{REC_RETRO}")),
        "{listings:?}"
    );
    assert_eq!(fake.with(|st| st.downloads), 2);
}

#[tokio::test]
async fn records_render_as_markdown_with_front_matter() {
    let fake = Fake::start(|_| {}).await;
    let uri = fake.uri();
    let c = build(&uri, json!({}));
    let batch = load_batch(&c).await.unwrap();
    let plan = doc(&batch, &record_doc(REC_PLAN));
    insta::assert_json_snapshot!("airtable_record", portable(plan, &uri));
    let launch = doc(&batch, &record_doc(REC_LAUNCH));
    insta::assert_json_snapshot!("airtable_record_with_attachments", portable(launch, &uri));
    assert_eq!(plan.title, "Q3 plan");
    assert_eq!(
        plan.link.as_ref().unwrap().as_str(),
        format!("https://airtable.com/{BASE}/{TABLE_ID}/{REC_PLAN}")
    );
    assert_eq!(
        plan.updated_at,
        Some(time(5)),
        "the last-modified field, not createdTime"
    );
    let text = plan.content.as_text().unwrap();
    assert!(
        text.starts_with("---\nrecord_id: \"recA1b2C3d4E5f6G7\"\n"),
        "{text}"
    );
    assert!(
        text.contains("Owner: \"Ana Silva <ana@example.com>\"\n"),
        "{text}"
    );
    assert!(text.contains("Tags: [\"planning\",\"q3\"]\n"), "{text}");
    // Text fields are the body; Markdown in plain text stays text, rich text stays Markdown.
    assert!(
        text.contains("# Q3 plan\n\n## Notes\n\nShip the \\*beta\\*."),
        "{text}"
    );
    assert!(
        text.contains("**Bold** plan with a [link](https://example.com)"),
        "{text}"
    );
    assert_eq!(plan.metadata["fields"]["Status"], "Todo");

    let all_meta = build(
        &uri,
        json!({"treat_all_non_attachment_fields_as_metadata": true}),
    );
    let batch = load_batch(&all_meta).await.unwrap();
    let plan = doc(&batch, &record_doc(REC_PLAN));
    assert_eq!(
        plan.metadata["fields"]["Notes"],
        "Ship the *beta*.\nThen # celebrate."
    );
    assert!(!plan.content.as_text().unwrap().contains("## Notes"));
}

#[tokio::test]
async fn attachments_are_documents_of_their_record() {
    let fake = Fake::start(|_| {}).await;
    let uri = fake.uri();
    let c = build(&uri, json!({}));
    let batch = load_batch(&c).await.unwrap();
    let spec = doc(&batch, &attachment_doc(REC_LAUNCH, ATT_SPEC));
    insta::assert_json_snapshot!("airtable_attachment", portable(spec, &uri));
    assert_eq!(spec.content.as_bytes(), b"%PDF-1.4 launch spec");
    assert_eq!(
        spec.parent_id.as_deref(),
        Some(record_doc(REC_LAUNCH).as_str())
    );
    assert_eq!(spec.content.mime(), Some("application/pdf"));

    // Over the cap by the listed size: a failure naming it, and no download.
    let fake = Fake::start(|st| {
        let files = &mut st.records[1].fields["Files"];
        files[1]["size"] = json!(50_000_000);
    })
    .await;
    let c = build(&fake.uri(), json!({"max_attachment_size": 1_000_000}));
    let batch = load_batch(&c).await.unwrap();
    assert_eq!(batch.failures.len(), 1, "{:?}", batch.failures);
    let failure = &batch.failures[0];
    assert_eq!(
        failure.id.as_deref(),
        Some(attachment_doc(REC_LAUNCH, ATT_LOGO).as_str())
    );
    assert_eq!(failure.kind, ErrorKind::Unsupported);
    assert!(
        failure.message.contains("logo.png") && failure.message.contains("max_attachment_size"),
        "{}",
        failure.message
    );
    assert_eq!(
        fake.with(|st| st.downloads),
        1,
        "only the small one is downloaded"
    );

    // A download that fails (an expired signed URL answers 410) is a failure of its own,
    // which names the file's record but never the signed URL: that opens the file to whoever
    // reads the failures, for two hours.
    fake.with(|st| st.files.retain(|f| f.id != ATT_SPEC));
    let c = build(&fake.uri(), json!({}));
    let batch = load_batch(&c).await.unwrap();
    let failure = batch
        .failures
        .iter()
        .find(|f| f.id.as_deref() == Some(attachment_doc(REC_LAUNCH, ATT_SPEC).as_str()))
        .unwrap_or_else(|| panic!("{:?}", batch.failures));
    assert!(
        failure.message.contains("spec.pdf") && !failure.message.contains("/attachments/"),
        "{}",
        failure.message
    );
    assert!(
        failure
            .link
            .as_ref()
            .is_some_and(|l| l.as_str().ends_with(REC_LAUNCH)),
        "{failure:?}"
    );

    let c = build(&fake.uri(), json!({"include_attachments": false}));
    let batch = load_batch(&c).await.unwrap();
    assert_eq!(batch.documents.len(), 5);
    assert_eq!(
        fake.with(|st| st.downloads),
        2,
        "one more: the spec that is gone"
    );
}

#[tokio::test]
async fn polls_filter_by_last_modified_time_not_created_time() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let batch = poll_batch(&c, TimeWindow::new(time(20), time(40)).unwrap())
        .await
        .unwrap();
    assert_eq!(
        ids(&batch),
        sorted(&[
            record_doc(REC_LAUNCH),
            attachment_doc(REC_LAUNCH, ATT_SPEC),
            attachment_doc(REC_LAUNCH, ATT_LOGO),
            record_doc(REC_HIRING),
        ])
    );
    let listing = fake.with(|st| st.listings.last().cloned().unwrap());
    let formula: String = url::form_urlencoded::parse(listing.as_bytes())
        .find(|(k, _)| k == "filterByFormula")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    // The schema's lastModifiedTime field, the bounds widened by a second each way.
    assert_eq!(
        formula,
        "AND(IS_AFTER(IF({Last modified}, {Last modified}, CREATED_TIME()), DATETIME_PARSE('2025-03-01T10:19:59.000Z')), IS_BEFORE(IF({Last modified}, {Last modified}, CREATED_TIME()), DATETIME_PARSE('2025-03-01T10:40:02.000Z')))"
    );

    // Without such a field: LAST_MODIFIED_TIME(), and no invented updated_at.
    let fake = Fake::start(|st| st.modified_field = false).await;
    let c = build(&fake.uri(), json!({}));
    let batch = poll_batch(&c, TimeWindow::new(time(20), time(40)).unwrap())
        .await
        .unwrap();
    assert_eq!(batch.documents.len(), 4);
    assert!(batch.documents.iter().all(|d| d.updated_at.is_none()));
    let listing = fake.with(|st| st.listings.last().cloned().unwrap());
    assert!(listing.contains("LAST_MODIFIED_TIME%28%29"), "{listing}");
    assert!(!listing.contains("CREATED_TIME"), "{listing}");
}

#[tokio::test]
async fn an_edit_to_an_old_record_is_found_by_the_next_incremental_run() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (sink, first) = sync(&c, &store, SyncMode::Full).await;
    assert_eq!(sink.documents().len(), 7, "{first:?}");
    // The budget was created first and never touched since; now someone edits it.
    fake.with(|st| {
        let budget = st.records.iter_mut().find(|r| r.id == REC_BUDGET).unwrap();
        budget.fields["Estimate"] = json!(20);
        budget.modified = Utc::now();
    });
    let downloads = fake.with(|st| st.downloads);
    let (sink, second) = sync(&c, &store, SyncMode::Incremental).await;
    let got: Vec<String> = sink.documents().iter().map(|d| d.id.clone()).collect();
    assert_eq!(got, [record_doc(REC_BUDGET)], "{second:?}");
    let budget = &sink.documents()[0];
    assert!(budget.metadata["fields"]["Estimate"] == json!(20));
    assert!(budget.updated_at.unwrap() > time(59));
    assert_eq!(
        fake.with(|st| st.downloads),
        downloads,
        "no attachment downloaded again"
    );
}

#[tokio::test]
async fn an_unchanged_table_costs_listings_only_and_reconcile_sees_computed_fields() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync(&c, &store, SyncMode::Full).await;
    let (sink, report) = sync(&c, &store, SyncMode::Reconcile).await;
    assert!(sink.documents().is_empty(), "{report:?}");
    assert_eq!(report.unchanged, 7, "{report:?}");
    assert_eq!(
        fake.with(|st| st.downloads),
        2,
        "attachments are not downloaded again"
    );
    // A value that changes without moving the last-modified time (a lookup, a formula):
    // the record's version covers every field, so a reconcile run delivers it.
    fake.with(|st| st.records[4].fields["Notes"] = json!("What went well (recomputed)"));
    let (sink, report) = sync(&c, &store, SyncMode::Reconcile).await;
    let got: Vec<String> = sink.documents().iter().map(|d| d.id.clone()).collect();
    assert_eq!(got, [record_doc(REC_RETRO)], "{report:?}");
}

#[tokio::test]
async fn an_offset_that_expires_mid_run_restarts_the_listing() {
    // The second listing's offset is refused: iteration starts over and delivers everything.
    let fake = Fake::start(|st| st.restart_at_listing = Some(2)).await;
    let c = build(&fake.uri(), json!({}));
    let batch = load_batch(&c).await.unwrap();
    assert_eq!(
        ids(&batch)
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        7
    );
    let listings = fake.with(|st| st.listings.clone());
    assert_eq!(listings.len(), 5, "{listings:?}");
    assert_eq!(
        listings[2], "pageSize=100",
        "the restart has no offset: {listings:?}"
    );
    assert!(listings[3].contains("itr00000000000002"), "{listings:?}");
}

#[tokio::test]
async fn a_resume_does_not_follow_an_old_offset() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let checkpointed = c.roles().as_checkpointed().unwrap();
    let resume = |at: chrono::DateTime<Utc>| {
        let json = serde_json::to_value(json!({
            "offset": format!("itr00000000000001/{REC_HIRING}"),
            "offset_at": at,
            "started": true,
        }))
        .unwrap();
        let mut cp = checkpointed.initial_checkpoint_json().unwrap();
        cp.state = json;
        cp
    };
    // A fresh offset is followed: the rest only.
    let mut stream =
        checkpointed.load_from_checkpoint_json(resume(Utc::now()), None, SyncContext::new());
    let mut got = Vec::new();
    while let Some(page) = stream.next().await {
        got.extend(page.unwrap().batch.documents.into_iter().map(|d| d.id));
    }
    assert_eq!(
        got,
        [
            record_doc(REC_HIRING),
            record_doc(REC_BUDGET),
            record_doc(REC_RETRO)
        ]
    );
    // One older than the trust window is not: the listing starts over.
    let old = Utc::now() - TimeDelta::minutes(30);
    let mut stream = checkpointed.load_from_checkpoint_json(resume(old), None, SyncContext::new());
    let mut got = 0;
    while let Some(page) = stream.next().await {
        got += page.unwrap().batch.documents.len();
    }
    assert_eq!(got, 7);
    let listings = fake.with(|st| st.listings.clone());
    assert_eq!(listings[2], "pageSize=100", "{listings:?}");
}

#[tokio::test]
async fn a_bare_429_waits_airtables_thirty_seconds() {
    let fake = Fake::start(|st| st.rate_limited = 1).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (sink, report) = sync(&c, &store, SyncMode::Full).await;
    assert_eq!(sink.documents().len(), 7);
    assert!(
        report.rate_limit_wait >= Duration::from_secs(30),
        "{report:?}"
    );
}

#[tokio::test]
async fn check_tells_airtables_answers_apart() {
    let fake = Fake::start(|_| {}).await;
    let uri = fake.uri();
    build(&uri, json!({})).check().await.unwrap();
    build(
        &uri,
        json!({"table_name_or_id": TABLE_ID, "view": "Grid view"}),
    )
    .check()
    .await
    .unwrap();

    let bad_token = build(
        &uri,
        json!({"credentials": {"airtable_access_token": "patWrong.000"}}),
    );
    let e = bad_token.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert_eq!(e.field(), Some("credentials.airtable_access_token"));
    assert!(e.to_string().contains("AUTHENTICATION_REQUIRED"), "{e}");

    let other_base = build(&uri, json!({"base_id": "appZZZZZZZZZZZZZZ"}));
    let e = other_base.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(
        e.to_string()
            .contains("INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND"),
        "{e}"
    );

    let e = build(&uri, json!({"table_name_or_id": "Nope"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.field(), Some("table_name_or_id"));

    let e = build(&uri, json!({"modified_time_field": "Edited"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.field(), Some("modified_time_field"));

    let e = build(&uri, json!({"view": "Kanban"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("VIEW_NAME_NOT_FOUND"), "{e}");

    // An unknown path: Airtable's bare `{"error": "NOT_FOUND"}`.
    let e = build(&format!("{uri}/nowhere"), json!({}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("NOT_FOUND"), "{e}");
}

#[tokio::test]
async fn a_token_without_schema_access_still_reads_and_a_bad_formula_is_named() {
    let fake = Fake::start(|st| st.no_schema = true).await;
    let uri = fake.uri();
    let batch = load_batch(&build(&uri, json!({}))).await.unwrap();
    assert_eq!(ids(&batch), all_ids(), "attachments found by their shape");
    let plan = doc(&batch, &record_doc(REC_PLAN));
    assert!(plan.content.as_text().unwrap().contains("## Notes"));

    // The schema cannot confirm the configured field; Airtable's 422 names the formula.
    let c = build(&uri, json!({"modified_time_field": "Edited"}));
    let e = poll_batch(&c, TimeWindow::new(time(0), time(59)).unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert!(e.to_string().contains("INVALID_FILTER_BY_FORMULA"), "{e}");
    assert!(e.to_string().contains("modified_time_field"), "{e}");
}

#[test]
fn the_schema_describes_every_field() {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let schema = registry.schema("airtable").unwrap();
    let props = schema["properties"].as_object().unwrap();
    for key in [
        "base_id",
        "table_name_or_id",
        "view",
        "modified_time_field",
        "max_attachment_size",
        "api_base_url",
    ] {
        assert!(props[key].get("description").is_some(), "{key}");
        assert!(props[key].get("examples").is_some(), "{key}");
    }
}

#[tokio::test]
async fn failed_items_are_fetched_again_by_record_id_within_the_view() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let refetch = c
        .roles()
        .as_refetch()
        .unwrap_or_else(|| panic!("refetch role"));
    let wanted = vec![
        record_doc(REC_LAUNCH),
        attachment_doc(REC_LAUNCH, ATT_SPEC),
        // Deleted since: nothing comes back for it (prune's business).
        record_doc("recG0ne0000000000"),
        // Another connector's id.
        "confluence:123".to_owned(),
    ];
    let batches: Vec<Batch> = refetch
        .fetch(wanted, SyncContext::default())
        .map(|b| b.unwrap_or_else(|e| panic!("{e}")))
        .collect()
        .await;
    let ids: Vec<String> = batches.iter().flat_map(ids).collect();
    assert_eq!(
        sorted(&ids),
        sorted(&[record_doc(REC_LAUNCH), attachment_doc(REC_LAUNCH, ATT_SPEC)])
    );
    let listing = fake.with(|st| st.listings.last().cloned().unwrap_or_default());
    assert!(listing.contains("RECORD_ID"), "{listing}");
    assert_eq!(
        fake.with(|st| st.listings.len()),
        1,
        "one listing for the lot"
    );
}
