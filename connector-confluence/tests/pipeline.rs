//! The Confluence connector on core's page pipeline: unchanged items skipped before any body
//! work, lookups asked once however many pages render at the same time, and core's one error
//! policy for the lookups a page needs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::{Fake, FakeAttachment, FakePage, at, error};
use connector_core::{
    Batch, Connector, ErrorKind, FingerprintLookup, Registry, Result, SyncContext,
};
use futures::TryStreamExt;
use serde_json::json;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, ResponseTemplate};

const ADA: &str = "5b10ac8d82e05b22cc7d4ef5";

fn mention(account: &str) -> String {
    format!(r#"<p>Ask <ac:link><ri:user ri:account-id="{account}" /></ac:link>.</p>"#)
}

fn build(cfg: serde_json::Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    registry.build("confluence", cfg).unwrap()
}

/// Every batch of a load, merged.
async fn load(c: &dyn Connector, ctx: SyncContext) -> Result<Batch> {
    let batches: Vec<Batch> = c.as_load().unwrap().load(ctx).try_collect().await?;
    let mut all = Batch::default();
    for b in batches {
        all.append(b);
    }
    Ok(all)
}

/// Answers every `/rest/api/user` request with `response`, before the fake's own answer.
async fn answer_user_lookups(fake: &Fake, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path_regex("/rest/api/user$"))
        .respond_with(response)
        .with_priority(1)
        .mount(&fake.server)
        .await;
}

/// A store that holds the fingerprints of a previous load.
struct Known(HashMap<String, String>);

#[async_trait]
impl FingerprintLookup for Known {
    async fn fingerprints(&self, ids: &[String]) -> Result<HashMap<String, String>> {
        Ok(ids
            .iter()
            .filter_map(|id| self.0.get(id).map(|f| (id.clone(), f.clone())))
            .collect())
    }
}

#[tokio::test]
async fn unchanged_pages_are_not_rendered_nor_attachments_downloaded() {
    let fake = Fake::start(true).await;
    fake.user(ADA, "Ada Lovelace");
    let mut specs = FakePage::new(1, "ENG", "Specs", &mention(ADA), at(1));
    specs.attachments = vec![FakeAttachment {
        id: 11,
        title: "spec.pdf".into(),
        media_type: "application/pdf".into(),
        data: b"%PDF-1.7".to_vec(),
        reported_size: None,
        ..Default::default()
    }];
    fake.add(specs);
    fake.add(FakePage::new(2, "ENG", "Plain", "<p>old</p>", at(2)));
    let c = build(fake.config(json!({"include_attachments": true})));

    let first = load(c.as_ref(), SyncContext::new()).await.unwrap();
    assert_eq!(first.documents.len(), 3, "{first:?}");
    // Pages first, then attachments.
    assert_eq!(first.documents[2].title, "spec.pdf");
    let known: HashMap<String, String> = first
        .documents
        .iter()
        .map(|d| (d.id.clone(), d.fingerprint.clone()))
        .collect();
    {
        let mut state = fake.state.lock().unwrap();
        let plain = state.pages.iter_mut().find(|p| p.id == 2).unwrap();
        plain.version = 2;
        plain.body = "<p>new</p>".into();
    }
    fake.reset_requests().await;

    let ctx = SyncContext::new().with_fingerprints(Arc::new(Known(known)));
    let second = load(c.as_ref(), ctx).await.unwrap();
    let titles: Vec<&str> = second.documents.iter().map(|d| d.title.as_str()).collect();
    assert_eq!(titles, ["Plain"]);
    assert_eq!(second.documents[0].content.as_text(), Some("new"));
    let unchanged: Vec<&str> = second.unchanged.iter().map(String::as_str).collect();
    assert_eq!(
        unchanged,
        [
            first.documents[0].id.as_str(),
            first.documents[2].id.as_str()
        ]
    );
    assert_eq!(fake.count("/download/").await, 0, "no download");
    assert_eq!(
        fake.count("/rest/api/user").await,
        0,
        "no render, no lookup"
    );
}

#[tokio::test]
async fn a_user_is_looked_up_once_while_pages_render_at_once() {
    let fake = Fake::start(true).await;
    fake.user(ADA, "Ada Lovelace");
    for i in 0..8 {
        fake.add(FakePage::new(
            10 + i,
            "ENG",
            &format!("Page {i}"),
            &mention(ADA),
            at(i as i64),
        ));
    }
    // A slow answer, so every page of the result page waits for it at the same time.
    answer_user_lookups(
        &fake,
        ResponseTemplate::new(200)
            .set_body_json(
                json!({"type": "known", "accountId": ADA, "displayName": "Ada Lovelace"}),
            )
            .set_delay(Duration::from_millis(200)),
    )
    .await;
    let batch = load(build(fake.config(json!({}))).as_ref(), SyncContext::new())
        .await
        .unwrap();
    assert_eq!(batch.documents.len(), 8);
    for d in &batch.documents {
        assert!(
            d.content.as_text().unwrap().contains("Ada Lovelace"),
            "{d:?}"
        );
    }
    assert_eq!(fake.count("/rest/api/user").await, 1);
}

#[tokio::test]
async fn a_lookup_that_keeps_failing_fails_only_the_pages_that_need_it() {
    // Policy change (issue 13): this used to end the sync; under core's one policy a rate
    // limit that outlasts the retries is the failure of the page that needed the lookup.
    let fake = Fake::start(true).await;
    let needs = FakePage::new(1, "ENG", "Needs Ada", &mention(ADA), at(1));
    let needs_id = fake.url_of(&needs);
    fake.add(needs);
    fake.add(FakePage::new(2, "ENG", "Plain", "<p>plain</p>", at(2)));
    answer_user_lookups(
        &fake,
        error(503, "Service unavailable").insert_header("Retry-After", "0"),
    )
    .await;
    let batch = load(build(fake.config(json!({}))).as_ref(), SyncContext::new())
        .await
        .unwrap();
    let titles: Vec<&str> = batch.documents.iter().map(|d| d.title.as_str()).collect();
    assert_eq!(titles, ["Plain"]);
    assert_eq!(batch.failures.len(), 1, "{:?}", batch.failures);
    let failure = &batch.failures[0];
    assert_eq!(failure.id.as_deref(), Some(needs_id.as_str()));
    assert!(!failure.kind.ends_sync(), "{failure:?}");
    assert!(failure.retryable, "{failure:?}");
    assert!(failure.message.contains(&needs_id), "{failure:?}");
    assert_eq!(
        failure.link.as_ref().map(|l| l.as_str()),
        Some(needs_id.as_str())
    );
}

#[tokio::test]
async fn revoked_credentials_on_a_lookup_end_the_sync() {
    let fake = Fake::start(true).await;
    fake.add(FakePage::new(1, "ENG", "Needs Ada", &mention(ADA), at(1)));
    answer_user_lookups(&fake, error(401, "Unauthorized")).await;
    let err = load(build(fake.config(json!({}))).as_ref(), SyncContext::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
}
