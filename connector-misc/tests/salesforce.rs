//! The Salesforce connector against the wiremock org of `salesforce_common`: the session
//! from the token's `instance_url`, describe-chosen fields, SOQL keyset queries with an id
//! tie-breaker and `nextRecordsUrl` pages, documents (snapshots), polls with deleted
//! records, default objects, access, and Salesforce's error answers.
#![cfg(feature = "salesforce")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod salesforce_common;

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use connector_core::state::MemoryStateStore;
use connector_core::sync::SyncMode;
use connector_core::{
    Access, Batch, Connector, Document, ErrorKind, Registry, SyncContext, TimeWindow,
};
use futures::StreamExt;
use salesforce_common::records_wire::{self, ids, sync};
use salesforce_common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn load(c: &Arc<dyn Connector>) -> connector_core::Result<Batch> {
    let mut out = Batch::default();
    let mut stream = c.roles().as_load().unwrap().load(SyncContext::new());
    while let Some(page) = stream.next().await {
        out.append(page?);
    }
    Ok(out)
}

async fn poll(c: &Arc<dyn Connector>, window: TimeWindow) -> connector_core::Result<Batch> {
    let mut out = Batch::default();
    let mut stream = c
        .roles()
        .as_poll()
        .unwrap()
        .poll(window, SyncContext::new());
    while let Some(page) = stream.next().await {
        let mut page = page?;
        let deleted = std::mem::take(&mut page.deleted);
        out.append(page);
        out.deleted.extend(deleted);
    }
    Ok(out)
}

/// The document of the record `id`.
fn doc<'a>(batch: &'a Batch, id: &str) -> &'a Document {
    records_wire::doc(batch, &doc_id(id))
}

/// The document ids of the records `v`, sorted.
fn sorted(v: &[&str]) -> Vec<String> {
    records_wire::sorted(&v.iter().map(|i| doc_id(i)).collect::<Vec<_>>())
}

fn all_ids() -> Vec<String> {
    sorted(&[ACME, GLOBEX, ANA, BO, CASE1, CASE2, CASE3])
}

/// The document as JSON with the fake's address replaced, for snapshots.
fn portable(doc: &Document, uri: &str) -> Value {
    let text = serde_json::to_string(doc)
        .unwrap()
        .replace(uri, "https://acme.my.salesforce.test");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn every_record_over_keyset_queries_and_next_records_url_pages() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let batch = load(&c).await.unwrap();
    assert_eq!(ids(&batch), all_ids());
    assert!(batch.failures.is_empty(), "{:?}", batch.failures);
    let queries = fake.with(|st| st.queries.clone());
    // Account and Contact: two records each, under the limit of three; Case: three records
    // (two batches, one `nextRecordsUrl`), then one more query from the last one.
    assert_eq!(queries.len(), 4, "{queries:?}");
    assert_eq!(
        queries[0],
        "SELECT Id, SystemModstamp, IsDeleted, CreatedDate, LastModifiedDate, Name, Industry, ParentId, BillingCity, Description FROM Account ORDER BY SystemModstamp ASC, Id ASC LIMIT 3"
    );
    assert!(
        queries[3].ends_with(&format!(
            "FROM Case WHERE (SystemModstamp > 2025-03-01T10:50:00.000Z OR (SystemModstamp = 2025-03-01T10:50:00.000Z AND Id > '{CASE2}')) ORDER BY SystemModstamp ASC, Id ASC LIMIT 3"
        )),
        "{queries:?}"
    );
    assert_eq!(fake.with(|st| st.next_pages), 1);
    assert_eq!(fake.with(|st| st.grants.clone()), ["client_credentials"]);
}

#[tokio::test]
async fn a_lost_query_cursor_is_queried_again_from_the_last_record() {
    // Case's `nextRecordsUrl` is refused (the cursor expired while the sink was slow): the
    // keyset query is asked again from the last case delivered (the first batch ends with
    // CASE3, stamped before CASE2), nothing skipped or repeated.
    let fake = Fake::start(|st| st.lost_cursors = 1).await;
    let c = build(&fake.uri(), json!({}));
    let batch = load(&c).await.unwrap();
    assert_eq!(ids(&batch), all_ids());
    assert_eq!(batch.documents.len(), all_ids().len());
    assert!(batch.failures.is_empty(), "{:?}", batch.failures);
    let queries = fake.with(|st| st.queries.clone());
    assert_eq!(queries.len(), 4, "{queries:?}");
    assert!(
        queries[3].contains(&format!(
            "(SystemModstamp > 2025-03-01T10:30:00.000Z OR (SystemModstamp = 2025-03-01T10:30:00.000Z AND Id > '{CASE3}'))"
        )),
        "{queries:?}"
    );
    assert_eq!(fake.with(|st| st.next_pages), 0);
}

#[tokio::test]
async fn records_stamped_at_the_same_instant_are_ordered_by_id_across_queries() {
    // One record a query: the second case shares the first's SystemModstamp, and only the id
    // tie-breaker finds it without repeating the first.
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"page_size": 1}));
    let batch = load(&c).await.unwrap();
    assert_eq!(batch.documents.len(), 7, "{:?}", ids(&batch));
    assert_eq!(ids(&batch), all_ids());
    let queries = fake.with(|st| st.queries.clone());
    assert!(
        queries.iter().any(|q| q.contains(&format!(
            "SystemModstamp = 2025-03-01T10:30:00.000Z AND Id > '{CASE1}'"
        ))),
        "{queries:?}"
    );
}

#[tokio::test]
async fn records_render_as_markdown_with_front_matter() {
    let fake = Fake::start(|_| {}).await;
    let uri = fake.uri();
    let c = build(&uri, json!({}));
    let batch = load(&c).await.unwrap();
    let case = doc(&batch, CASE1);
    insta::assert_json_snapshot!("salesforce_case", portable(case, &uri));
    let acme = doc(&batch, ACME);
    insta::assert_json_snapshot!("salesforce_account", portable(acme, &uri));
    assert_eq!(case.title, "00001001: Turbine noise");
    assert_eq!(case.parent_id.as_deref(), Some(doc_id(GLOBEX).as_str()));
    assert_eq!(case.updated_at, Some(time(30)));
    assert_eq!(
        case.link.as_ref().unwrap().as_str(),
        format!("{uri}/{CASE1}")
    );
    let text = case.content.as_text().unwrap();
    assert!(
        text.contains("## Resolution") && text.contains("**bearing**"),
        "{text}"
    );
    // Compound and file fields are not selected; their parts are.
    let text = acme.content.as_text().unwrap();
    assert!(
        !text.contains("Logo") && text.contains("BillingCity: \"Springfield\""),
        "{text}"
    );
    assert_eq!(doc(&batch, GLOBEX).parent_id, Some(doc_id(ACME)));
    assert_eq!(doc(&batch, ANA).parent_id, Some(doc_id(ACME)));
    assert_eq!(doc(&batch, BO).parent_id, None);
}

#[tokio::test]
async fn calls_go_to_the_instance_url_the_token_came_with() {
    let fake = Fake::start(|st| {
        st.tokens
            .push("00D5e000000TestEAA!AR0.fromlogin".to_owned())
    })
    .await;
    let login = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "00D5e000000TestEAA!AR0.fromlogin", "instance_url": fake.uri(),
            "id": format!("https://login.salesforce.com/id/{ORG}/0055e000000UserAAA"),
            "token_type": "Bearer", "issued_at": "1740823200000", "signature": "c2ln",
        })))
        .expect(1)
        .mount(&login)
        .await;
    let mut config = config(&fake.uri(), json!({}));
    config["credentials"]["instance_url"] = json!(login.uri());
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let c: Arc<dyn Connector> = registry.build("salesforce", config).unwrap();
    let batch = load(&c).await.unwrap();
    assert_eq!(ids(&batch), all_ids());
    assert!(
        fake.with(|st| st.grants.is_empty()),
        "no token asked of the instance"
    );
    assert_eq!(
        batch.documents[0].link.as_ref().unwrap().origin(),
        url::Url::parse(&fake.uri()).unwrap().origin()
    );
}

#[tokio::test]
async fn an_expired_session_gets_one_new_token() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    load(&c).await.unwrap();
    // The session expires (the org's timeout): the next request meets INVALID_SESSION_ID.
    fake.with(|st| st.tokens.push("revoked-elsewhere".to_owned()));
    let batch = load(&c).await.unwrap();
    assert_eq!(ids(&batch), all_ids());
    assert_eq!(fake.with(|st| st.grants.len()), 2);
}

#[tokio::test]
async fn the_username_password_flow_sends_the_password_and_security_token() {
    let fake = Fake::start(|_| {}).await;
    let creds = |password: &str| {
        json!({"credentials": {"instance_url": fake.uri(), "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "username": "integration@acme.example", "password": password, "security_token": "TOKEN123"}})
    };
    let c = build(&fake.uri(), creds("correct-horse"));
    assert_eq!(ids(&load(&c).await.unwrap()), all_ids());
    assert_eq!(fake.with(|st| st.grants.clone()), ["password"]);
    let c = build(&fake.uri(), creds("wrong"));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.field(), Some("credentials.password"));
    assert!(err.to_string().contains("invalid_grant"), "{err}");
    assert!(!err.to_string().contains("wrong"), "{err}");
}

#[tokio::test]
async fn check_names_a_refused_secret_and_an_unknown_object() {
    let fake = Fake::start(|_| {}).await;
    let mut bad = config(&fake.uri(), json!({}));
    bad["credentials"]["client_secret"] = json!("not-the-secret");
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let err = registry
        .build("salesforce", bad)
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.field(), Some("credentials.client_secret"));
    assert!(err.to_string().contains("invalid_client"), "{err}");

    let c = build(&fake.uri(), json!({"objects": "Account, Invoice__c"}));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.field(), Some("objects"));
    assert!(err.to_string().contains("Invoice__c"), "{err}");
    build(&fake.uri(), json!({})).check().await.unwrap();
}

#[tokio::test]
async fn default_objects_pass_over_what_the_org_lacks_and_read_published_articles() {
    // No Opportunity in this org and no Knowledge: both passed over.
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({"objects": []}));
    assert_eq!(ids(&load(&c).await.unwrap()), all_ids());

    let fake = Fake::start(|st| st.knowledge = true).await;
    let c = build(&fake.uri(), json!({"objects": ""}));
    let batch = load(&c).await.unwrap();
    let article = doc(&batch, ARTICLE);
    assert_eq!(article.title, "Resetting a turbine");
    let text = article.content.as_text().unwrap();
    assert!(
        text.contains("## Body") && text.contains("Turn it off and on."),
        "{text}"
    );
    let queries = fake.with(|st| st.queries.clone());
    assert!(
        queries
            .iter()
            .any(|q| q.contains("FROM Knowledge__kav WHERE PublishStatus = 'Online'")),
        "{queries:?}"
    );
}

#[tokio::test]
async fn fields_the_user_cannot_read_are_not_asked_for() {
    let fake = Fake::start(|st| st.hidden = vec!["Email".to_owned()]).await;
    let c = build(&fake.uri(), json!({}));
    let batch = load(&c).await.unwrap();
    assert_eq!(ids(&batch), all_ids());
    assert!(doc(&batch, ANA).metadata["fields"].get("Email").is_none());
}

#[tokio::test]
async fn a_field_refused_by_the_query_is_a_clear_error_naming_it() {
    let fake = Fake::start(|st| st.revoked = vec!["Industry".to_owned()]).await;
    let c = build(&fake.uri(), json!({}));
    let err = load(&c).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("INVALID_FIELD") && text.contains("'Industry'") && text.contains("'Account'"),
        "{text}"
    );
}

#[tokio::test]
async fn access_is_nobody_unless_the_org_is_granted() {
    let fake = Fake::start(|_| {}).await;
    let batch = load(&build(&fake.uri(), json!({}))).await.unwrap();
    assert!(
        batch
            .documents
            .iter()
            .all(|d| d.access == Some(Access::default())),
        "never over-grant"
    );
    let batch = load(&build(&fake.uri(), json!({"org_access": true})))
        .await
        .unwrap();
    let access = doc(&batch, ACME).access.clone().unwrap();
    assert_eq!(access.groups, [format!("salesforce:org:{ORG}")]);
    assert!(!access.public && access.emails.is_empty());
}

#[tokio::test]
async fn polls_read_the_window_and_hand_on_deleted_records() {
    let now = Utc::now();
    let fake = Fake::start(|st| {
        let globex = st.records.iter_mut().find(|r| r.id == GLOBEX).unwrap();
        globex.modstamp = now - TimeDelta::minutes(10);
        st.deleted.push((
            "Contact".to_owned(),
            BO.to_owned(),
            now - TimeDelta::minutes(5),
        ));
        st.deleted.push((
            "Contact".to_owned(),
            "003000000000009AAA".to_owned(),
            now - TimeDelta::days(3),
        ));
    })
    .await;
    let c = build(&fake.uri(), json!({}));
    let window = TimeWindow::new(now - TimeDelta::hours(1), now).unwrap();
    let batch = poll(&c, window).await.unwrap();
    assert_eq!(ids(&batch), [doc_id(GLOBEX)]);
    assert_eq!(batch.deleted, [doc_id(BO)]);
    let listings = fake.with(|st| st.deleted_listings.clone());
    assert_eq!(listings.len(), 3, "one per object: {listings:?}");
    // An old window: Salesforce no longer lists its deletions, prune will.
    let old = TimeWindow::new(time(0), time(59)).unwrap();
    let batch = poll(&c, old).await.unwrap();
    assert!(batch.deleted.is_empty());
    assert_eq!(fake.with(|st| st.deleted_listings.len()), 3);
}

#[tokio::test]
async fn a_record_committed_late_by_a_long_transaction_is_found_by_the_next_poll() {
    // A batch job's transaction stamps a case at its start and commits it minutes later,
    // after the last run ended: the next poll still reaches back to it.
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (sink, first) = sync(&c, &store, SyncMode::Full).await;
    assert_eq!(sink.documents().len(), 7, "{first:?}");
    fake.with(|st| {
        let case = st.records.iter_mut().find(|r| r.id == CASE1).unwrap();
        case.fields["Status"] = json!("Closed");
        case.modstamp = Utc::now() - TimeDelta::minutes(6);
    });
    let (sink, second) = sync(&c, &store, SyncMode::Incremental).await;
    let got: Vec<String> = sink.documents().iter().map(|d| d.id.clone()).collect();
    assert_eq!(got, [doc_id(CASE1)], "{second:?}");
}

#[tokio::test]
async fn an_edit_is_found_by_the_next_incremental_run_and_the_rest_is_unchanged() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (sink, first) = sync(&c, &store, SyncMode::Full).await;
    assert_eq!(sink.documents().len(), 7, "{first:?}");
    fake.with(|st| {
        let acme = st.records.iter_mut().find(|r| r.id == ACME).unwrap();
        acme.fields["Industry"] = json!("Robotics");
        acme.modstamp = Utc::now();
    });
    let (sink, second) = sync(&c, &store, SyncMode::Incremental).await;
    let got: Vec<String> = sink.documents().iter().map(|d| d.id.clone()).collect();
    assert_eq!(got, [doc_id(ACME)], "{second:?}");
    assert_eq!(
        sink.documents()[0].metadata["fields"]["Industry"],
        "Robotics"
    );
    let (sink, report) = sync(&c, &store, SyncMode::Reconcile).await;
    assert!(sink.documents().is_empty(), "{report:?}");
    assert_eq!(report.unchanged, 7, "{report:?}");
}

#[tokio::test]
async fn failed_items_are_fetched_again_by_id_within_their_object() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), json!({}));
    let refetch = c.roles().as_refetch().unwrap();
    let wanted = vec![
        doc_id(CASE3),
        doc_id(ANA),
        // Deleted since: nothing comes back.
        doc_id("500000000000077AAA"),
        "confluence:123".to_owned(),
        "salesforce:1' OR Name != '".to_owned(),
    ];
    let batches: Vec<Batch> = refetch
        .fetch(wanted, SyncContext::default())
        .map(|b| b.unwrap())
        .collect()
        .await;
    let got: Vec<String> = {
        let mut v: Vec<String> = batches.iter().flat_map(ids).collect();
        v.sort();
        v
    };
    assert_eq!(got, sorted(&[CASE3, ANA]));
    let queries = fake.with(|st| st.queries.clone());
    assert_eq!(queries.len(), 2, "{queries:?}");
    assert!(queries.iter().all(|q| q.contains("Id IN (")), "{queries:?}");
}

#[tokio::test]
async fn an_article_version_archived_in_the_window_is_handed_on_as_deleted() {
    // Republishing an article makes a new version (a new id) Online and archives the old
    // one: the poll reads the new version and hands the old one's id on as deleted.
    const OLD: &str = "ka0000000000002AAA";
    const LONG_AGO: &str = "ka0000000000003AAA";
    let now = Utc::now();
    let fake = Fake::start(|st| {
        st.knowledge = true;
        let article = st.records.iter_mut().find(|r| r.id == ARTICLE).unwrap();
        article.modstamp = now - TimeDelta::minutes(5);
        let old = |id: &str, at: chrono::DateTime<Utc>| Rec {
            object: "Knowledge__kav".to_owned(),
            id: id.to_owned(),
            modstamp: at,
            fields: json!({"Title": "Resetting a turbine", "PublishStatus": "Archived",
                "ArchivedDate": sf_time(at), "Body__c": "<p>Old steps.</p>"}),
            broken: false,
        };
        st.records.push(old(OLD, now - TimeDelta::minutes(5)));
        st.records.push(old(LONG_AGO, now - TimeDelta::days(40)));
    })
    .await;
    let c = build(&fake.uri(), json!({"objects": ["Knowledge__kav"]}));
    let window = TimeWindow::new(now - TimeDelta::hours(1), now).unwrap();
    let batch = poll(&c, window).await.unwrap();
    assert_eq!(ids(&batch), [doc_id(ARTICLE)]);
    assert_eq!(batch.deleted, [doc_id(OLD)]);
    let queries = fake.with(|st| st.queries.clone());
    assert!(
        queries.iter().any(|q| q.starts_with(
            "SELECT Id FROM Knowledge__kav WHERE PublishStatus = 'Archived' AND ArchivedDate >= "
        )),
        "{queries:?}"
    );
    // A full load reads the published version only.
    let batch = load(&c).await.unwrap();
    assert_eq!(ids(&batch), [doc_id(ARTICLE)]);
    assert!(batch.deleted.is_empty());
}

#[tokio::test]
async fn fields_past_the_query_url_cap_are_read_by_id_and_kept() {
    // 1,200 custom fields: one SELECT list would make a URL Salesforce refuses (the fake
    // answers 414 past 16,384 bytes); the listing asks for what fits and the rest by id.
    const WIDE: usize = 1200;
    let fake = Fake::start(|st| {
        st.wide = WIDE;
        for r in st.records.iter_mut().filter(|r| r.object == "Account") {
            for i in 0..WIDE {
                r.fields[wide_field(i)] = json!(format!("{} value {i}", r.id));
            }
        }
    })
    .await;
    let c = build(&fake.uri(), json!({"objects": ["Account"]}));
    let batch = load(&c).await.unwrap();
    assert!(batch.failures.is_empty(), "{:?}", batch.failures);
    assert_eq!(ids(&batch), sorted(&[ACME, GLOBEX]));
    for id in [ACME, GLOBEX] {
        let fields = &doc(&batch, id).metadata["fields"];
        for i in [0, 600, WIDE - 1] {
            assert_eq!(fields[wide_field(i)], format!("{id} value {i}"), "{id} {i}");
        }
        let text = doc(&batch, id).content.as_text().unwrap();
        assert!(text.contains(&format!(
            "{}: \"{id} value {}\"",
            wide_field(WIDE - 1),
            WIDE - 1
        )));
    }
    let queries = fake.with(|st| st.queries.clone());
    let by_id = queries
        .iter()
        .filter(|q| q.contains("WHERE Id IN ("))
        .count();
    assert!(by_id >= 2, "{queries:?}");
    // Each field is asked for once per record.
    for i in [0, WIDE - 1] {
        let name = wide_field(i);
        assert_eq!(
            queries.iter().filter(|q| q.contains(&name)).count(),
            1,
            "{name}"
        );
    }
}

#[tokio::test]
async fn prune_lists_every_id_by_keyset_even_when_a_cursor_is_lost() {
    let fake = Fake::start(|st| st.lost_cursors = 1).await;
    let c = build(&fake.uri(), json!({}));
    let pages: Vec<Vec<connector_core::SlimDocument>> = c
        .roles()
        .as_slim()
        .unwrap()
        .list_ids(SyncContext::new())
        .map(|p| p.unwrap())
        .collect()
        .await;
    let mut got: Vec<String> = pages.into_iter().flatten().map(|d| d.id).collect();
    got.sort();
    assert_eq!(got, all_ids(), "complete, nothing twice");
    let queries = fake.with(|st| st.queries.clone());
    // Case's cursor was lost after its first page (CASE1, CASE2): asked again from CASE2.
    assert!(
        queries.iter().any(|q| q
            == &format!("SELECT Id FROM Case WHERE Id > '{CASE2}' ORDER BY Id ASC LIMIT 50000")),
        "{queries:?}"
    );
}

#[test]
fn the_schema_describes_every_field() {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let schema = registry.schema("salesforce").unwrap();
    let props = schema["properties"].as_object().unwrap();
    for key in [
        "objects",
        "api_version",
        "org_access",
        "page_size",
        "requests_per_second",
        "allowed_hosts",
    ] {
        assert!(props[key].get("description").is_some(), "{key}");
        assert!(props[key].get("examples").is_some(), "{key}");
    }
}

/// The config of the child tests: accounts with their contacts, cases with their comments.
fn with_children() -> Value {
    json!({"child_relationships": {"Account": ["Contacts"], "Case": ["CaseComments"]}})
}

#[tokio::test]
async fn children_are_sections_of_their_parent_read_by_relationship_subqueries() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), with_children());
    let batch = load(&c).await.unwrap();
    assert_eq!(ids(&batch), all_ids());
    assert!(batch.failures.is_empty(), "{:?}", batch.failures);
    let case = doc(&batch, CASE1);
    let text = case.content.as_text().unwrap();
    let comments = text.split_once("\n## Case Comments\n").unwrap().1;
    assert_eq!(
        comments,
        format!(
            "\n### Case Comment {COMMENT1}\n\n**Created Date:** 2025-02-28T10:35:00.000+0000  \n**Last Modified Date:** 2025-03-01T10:35:00.000+0000  \n**Published:** true\n\nCalled the customer back.\nA site visit is booked.\n\n### Case Comment {COMMENT2}\n\n**Created Date:** 2025-02-28T10:40:00.000+0000  \n**Last Modified Date:** 2025-03-01T10:40:00.000+0000  \n**Published:** false\n\nBearing ordered."
        )
    );
    assert_eq!(
        case.metadata["children"],
        json!({"CaseComments": [COMMENT1, COMMENT2]})
    );
    let acme = doc(&batch, ACME).content.as_text().unwrap();
    assert!(
        acme.contains("\n## Contacts\n\n### Ana Silva\n\n"),
        "{acme}"
    );
    assert!(acme.contains("**Email:** ana@acme.example"), "{acme}");
    // A parent without children has no section and no `children`.
    let globex = doc(&batch, GLOBEX);
    assert!(!globex.content.as_text().unwrap().contains("## Contacts"));
    assert!(!globex.metadata.contains_key("children"));
    // One query an object still, the children a subquery of it (describe order); the
    // comment's parent field is not asked for (it is the case).
    let queries = fake.with(|st| st.queries.clone());
    assert_eq!(queries.len(), 4, "{queries:?}");
    assert!(
        queries[0].contains(
            ", (SELECT Id, CreatedDate, LastModifiedDate, SystemModstamp, Name, Email FROM Contacts ORDER BY Id ASC LIMIT 200) FROM Account "
        ),
        "{queries:?}"
    );
    assert!(
        queries[2].contains(
            "(SELECT Id, CreatedDate, LastModifiedDate, SystemModstamp, IsPublished, CommentBody FROM CaseComments ORDER BY Id ASC LIMIT 200) FROM Case "
        ),
        "{queries:?}"
    );
    // A load reads no changes of children: every parent is listed anyway.
    assert!(fake.with(|st| st.query_alls.is_empty()));
}

#[tokio::test]
async fn a_parent_with_more_children_than_one_answer_reads_the_rest_by_their_next_records_url() {
    let fake = Fake::start(|st| st.child_batch = 1).await;
    let c = build(&fake.uri(), with_children());
    let batch = load(&c).await.unwrap();
    assert_eq!(
        doc(&batch, CASE1).metadata["children"],
        json!({"CaseComments": [COMMENT1, COMMENT2]})
    );
    // The cases' second batch, and the first case's second comment.
    assert_eq!(fake.with(|st| st.next_pages), 2);
}

#[tokio::test]
async fn a_parent_whose_further_children_cannot_be_added_fails_alone() {
    // A value past f64 (`1e400`) reads as a field's text but not as a JSON value: the
    // parent whose further children must be added to it fails, the rest is delivered;
    // likewise a parent one of whose further child rows holds such a value.
    for (from, to) in [
        ("\"Turbine noise\"", "1e400"),
        ("\"Bearing ordered.\"", "1e400"),
    ] {
        let fake = Fake::start(|st| {
            st.child_batch = 1;
            st.body_edits = vec![(from.to_owned(), to.to_owned())];
        })
        .await;
        let c = build(&fake.uri(), with_children());
        let batch = load(&c).await.unwrap();
        let mut want = all_ids();
        want.retain(|id| !id.ends_with(CASE1));
        assert_eq!(ids(&batch), want, "{from}");
        assert_eq!(batch.failures.len(), 1, "{from}: {:?}", batch.failures);
        assert!(
            batch.failures[0].message.contains("Case"),
            "{from}: {:?}",
            batch.failures
        );
    }
}

#[tokio::test]
async fn a_child_changed_added_or_deleted_sends_its_parent_again() {
    let fake = Fake::start(|_| {}).await;
    let c = build(&fake.uri(), with_children());
    let store = MemoryStateStore::new();
    let (sink, first) = sync(&c, &store, SyncMode::Full).await;
    assert_eq!(sink.documents().len(), 7, "{first:?}");

    // A comment edited: its case comes again, with the new text; nothing else does.
    fake.with(|st| {
        let comment = st.records.iter_mut().find(|r| r.id == COMMENT2).unwrap();
        comment.fields["CommentBody"] = json!("Bearing fitted.");
        comment.modstamp = Utc::now() - TimeDelta::minutes(1);
    });
    let (sink, second) = sync(&c, &store, SyncMode::Incremental).await;
    let got: Vec<String> = sink.documents().iter().map(|d| d.id.clone()).collect();
    assert_eq!(got, [doc_id(CASE1)], "{second:?}");
    let text = sink.documents()[0].content.as_text().unwrap().to_owned();
    assert!(text.ends_with("\n\nBearing fitted."), "{text}");
    // Asked in the window by queryAll, and the case by id: one query each.
    let alls = fake.with(|st| st.query_alls.clone());
    assert_eq!(alls.len(), 2, "one per relationship: {alls:?}");
    assert!(
        alls[1].starts_with(
            "SELECT Id, SystemModstamp, ParentId FROM CaseComment WHERE SystemModstamp >= "
        ) && alls[1]
            .ends_with(" AND ParentId != null ORDER BY SystemModstamp ASC, Id ASC LIMIT 50000"),
        "{alls:?}"
    );
    let by_id = fake.with(|st| {
        st.queries
            .iter()
            .filter(|q| q.contains("Id IN ("))
            .cloned()
            .collect::<Vec<_>>()
    });
    assert_eq!(by_id.len(), 1, "{by_id:?}");
    assert!(
        by_id[0].ends_with(&format!(
            "FROM Case WHERE Id IN ('{CASE1}') ORDER BY Id ASC LIMIT 1"
        )),
        "{by_id:?}"
    );

    // A comment deleted (into the recycle bin: queryAll still sees it) and one added.
    fake.with(|st| {
        let at = st.records.iter().position(|r| r.id == COMMENT1).unwrap();
        let mut gone = st.records.remove(at);
        gone.modstamp = Utc::now() - TimeDelta::minutes(1);
        st.recycled.push(gone);
        st.records.push(Rec {
            object: "CaseComment".to_owned(),
            id: "00a000000000003AAA".to_owned(),
            modstamp: Utc::now() - TimeDelta::minutes(1),
            fields: json!({"ParentId": CASE2, "IsPublished": true, "CommentBody": "Password reset sent."}),
            broken: false,
        });
    });
    let (sink, third) = sync(&c, &store, SyncMode::Incremental).await;
    let got: Vec<String> = records_wire::sorted(
        &sink
            .documents()
            .iter()
            .map(|d| d.id.clone())
            .collect::<Vec<_>>(),
    );
    assert_eq!(got, sorted(&[CASE1, CASE2]), "{third:?}");
    let case1 = sink
        .documents()
        .iter()
        .find(|d| d.id == doc_id(CASE1))
        .unwrap()
        .clone();
    assert_eq!(
        case1.metadata["children"],
        json!({"CaseComments": [COMMENT2]})
    );
    assert!(
        !case1
            .content
            .as_text()
            .unwrap()
            .contains("Called the customer back")
    );
    // And nothing more once the children are still.
    let (sink, fourth) = sync(&c, &store, SyncMode::Reconcile).await;
    assert!(sink.documents().is_empty(), "{fourth:?}");
}

#[tokio::test]
async fn a_parent_listed_by_the_poll_is_not_asked_for_again_for_its_children() {
    let now = Utc::now();
    let fake = Fake::start(|st| {
        for id in [ACME, ANA] {
            st.records.iter_mut().find(|r| r.id == id).unwrap().modstamp =
                now - TimeDelta::minutes(2);
        }
    })
    .await;
    let c = build(&fake.uri(), with_children());
    let window = TimeWindow::new(now - TimeDelta::hours(1), now).unwrap();
    let batch = poll(&c, window).await.unwrap();
    assert_eq!(ids(&batch), sorted(&[ACME, ANA]));
    assert!(
        fake.with(|st| st.queries.iter().all(|q| !q.contains("Id IN ("))),
        "{:?}",
        fake.with(|st| st.queries.clone())
    );
    assert_eq!(fake.with(|st| st.query_alls.len()), 2);
}

#[tokio::test]
async fn an_unknown_child_relationship_is_an_error_naming_it() {
    let fake = Fake::start(|_| {}).await;
    let c = build(
        &fake.uri(),
        json!({"child_relationships": {"Case": ["Comments"]}}),
    );
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.field(), Some("child_relationships.Case"));
    assert!(err.to_string().contains("Comments"), "{err}");
    // A relationship of an object that is not read is refused by the config.
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let err = registry
        .build(
            "salesforce",
            config(
                &fake.uri(),
                json!({"child_relationships": {"Lead": ["Tasks"]}}),
            ),
        )
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(
        err.to_string().contains("child_relationships.Lead"),
        "{err}"
    );
}
