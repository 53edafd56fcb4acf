//! The Zendesk connector against the wiremock Zendesk of `zendesk_common` (Support and Help
//! Center API references: cursor paging, the incremental exports, sideloads, error bodies).
#![cfg(feature = "zendesk")]
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

mod clean_sync;
mod zendesk_common;

use std::sync::Arc;

use clean_sync::clean_sync_at;
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::sync_at;
use connector_core::{Connector, Document, ErrorKind, Registry, TimeWindow};
use futures::StreamExt;
use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, ResponseTemplate};
use zendesk_common::{
    Article, Comment, ZendeskApi, build, config, forbidden, ids, not_found, requests_to, standard,
    start, time,
};

/// What a full run at 10:30 leaves for the scenarios of two runs: the API (to change
/// between runs), its server, the connector, the state the run left, and the run's sink.
struct AfterFullRun {
    api: ZendeskApi,
    server: wiremock::MockServer,
    c: Arc<dyn Connector>,
    store: MemoryStateStore,
    sink: MemorySink,
}

/// A full run at 10:30 of `api` reading `content` (config `extra`).
async fn after_a_full_run(
    api: ZendeskApi,
    content: &str,
    extra: serde_json::Value,
) -> AfterFullRun {
    let server = start(api.clone()).await;
    let c = build(&server.uri(), content, extra);
    let store = MemoryStateStore::new();
    let (sink, _) = sync_at(&c, &store, SyncMode::Full, time(30)).await;
    AfterFullRun {
        api,
        server,
        c,
        store,
        sink,
    }
}

/// The standard API's tickets after a full run at 10:30: the API, its server, the connector
/// and the state the run left.
async fn tickets_after_a_full_run() -> (
    ZendeskApi,
    wiremock::MockServer,
    Arc<dyn Connector>,
    MemoryStateStore,
) {
    let r = after_a_full_run(standard(), "tickets", json!({})).await;
    (r.api, r.server, r.c, r.store)
}

/// Changes ticket `id` of `api` between runs.
fn edit_ticket(api: &ZendeskApi, id: u64, edit: impl FnOnce(&mut zendesk_common::Ticket)) {
    let mut st = api.state.lock().unwrap();
    edit(st.tickets.iter_mut().find(|t| t.id == id).unwrap());
}

/// Ticket 2, deleted by `delete` between a full run and an incremental one at 10:40, is
/// deleted by the incremental run (with its internal notes) and nothing is sent.
async fn ticket_2_deleted_between_runs(delete: impl FnOnce(&mut zendesk_common::Ticket)) {
    let (api, _server, c, store) = tickets_after_a_full_run().await;
    edit_ticket(&api, 2, delete);
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(40)).await;
    assert!(sink.documents().is_empty());
    let mut deleted = sink.deleted();
    deleted.sort();
    assert_eq!(deleted, ["zendesk_ticket_2", "zendesk_ticket_2:internal"]);
    assert_eq!(report.deleted, 2, "{report:?}");
}

fn doc<'a>(docs: &'a [Document], id: &str) -> &'a Document {
    docs.iter()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("no document {id}"))
}

fn text(d: &Document) -> &str {
    d.content.as_text().unwrap()
}

#[tokio::test]
async fn articles_become_markdown_with_section_category_and_audience() {
    let server = start(standard()).await;
    let c = build(
        &server.uri(),
        "articles",
        json!({"skip_article_labels": "internal-only", "locale": "en-us"}),
    );
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let docs = sink.documents();
    // The draft (5), the `Internal-Only` one (6, labels compared case-blind) and the German
    // one (7, another locale) are left out.
    assert_eq!(
        ids(&docs),
        ["article:1", "article:2", "article:3", "article:4"]
    );
    assert_eq!(report.failed, 0);
    let a1 = doc(&docs, "article:1");
    assert_eq!(a1.title, "Update billing details");
    assert_eq!(a1.updated_at, Some(time(1)));
    assert_eq!(
        a1.link.as_ref().unwrap().as_str(),
        "https://acme.zendesk.com/hc/en-us/articles/1-update-billing-details"
    );
    assert_eq!(a1.metadata["section"], "Billing");
    assert_eq!(a1.metadata["category"], "Help");
    assert_eq!(a1.metadata["labels"], json!(["billing"]));
    assert_eq!(a1.owners, ["jane@example.com"]);
    assert_eq!(a1.parent_id.as_deref(), Some("zendesk:section:100"));
    assert!(a1.access.as_ref().unwrap().public);
    insta::assert_snapshot!("zendesk_article_markdown", text(a1));
    // A segment of every signed-in user; a segment narrowed by organization and tag stays
    // the segment alone.
    let a2 = doc(&docs, "article:2").access.clone().unwrap();
    assert!(!a2.public);
    assert_eq!(
        a2.groups,
        ["zendesk-segment:300", "zendesk:signed_in_users"]
    );
    let a3 = doc(&docs, "article:3");
    assert_eq!(a3.access.as_ref().unwrap().groups, ["zendesk-segment:302"]);
    assert_eq!(a3.metadata["section"], "Printers");
    assert_eq!(a3.metadata["user_segments"], json!(["VIP customers"]));
    // The list asked in the locale, oldest change first, with cursor paging.
    let lists = requests_to(&server, "/api/v2/help_center/en-us/articles").await;
    assert!(!lists.is_empty());
    let q = lists[0].url.query().unwrap();
    assert!(
        q.contains("sort_by=updated_at") && q.contains("page%5Bsize%5D=100"),
        "{q}"
    );
}

#[tokio::test]
async fn a_help_center_behind_sign_in_publishes_no_article() {
    let server = start(standard()).await;
    let c = build(
        &server.uri(),
        "articles",
        json!({"help_center_requires_sign_in": true}),
    );
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let docs = sink.documents();
    let a1 = doc(&docs, "article:1").access.clone().unwrap();
    assert!(!a1.public);
    assert_eq!(a1.groups, ["zendesk:signed_in_users"]);
    // A segment still narrows as before.
    let a3 = doc(&docs, "article:3").access.clone().unwrap();
    assert_eq!(a3.groups, ["zendesk-segment:302"]);
}

#[tokio::test]
async fn article_pages_follow_the_cursor() {
    let api = standard();
    api.state.lock().unwrap().article_page = 2;
    let server = start(api).await;
    let c = build(&server.uri(), "articles", json!({}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    // Without a label to skip or a locale, the internal runbook and the German article come
    // too (the fixture's list holds every locale when none is asked).
    assert_eq!(sink.documents().len(), 6);
    let lists = requests_to(&server, "/api/v2/help_center/articles").await;
    assert_eq!(lists.len(), 4, "7 articles, 2 a page");
    assert!(lists[1].url.query().unwrap().contains("page%5Bafter%5D="));
}

#[tokio::test]
async fn segments_the_agent_may_not_read_stay_ids() {
    let api = standard();
    api.state.lock().unwrap().segments_forbidden = true;
    let server = start(api).await;
    let c = build(&server.uri(), "articles", json!({}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let docs = sink.documents();
    assert_eq!(
        doc(&docs, "article:2").access.as_ref().unwrap().groups,
        ["zendesk-segment:300"]
    );
    // Refused once, asked no more.
    let asked = requests_to(&server, "/api/v2/help_center/user_segments/").await;
    assert_eq!(asked.len(), 1);
}

#[tokio::test]
async fn article_polls_read_the_incremental_export_within_the_window() {
    let server = start(standard()).await;
    let c = build(&server.uri(), "articles", json!({}));
    let window = TimeWindow::new(time(2), time(4)).unwrap();
    let poll = c.as_poll().unwrap();
    let mut stream = poll.poll(window, connector_core::SyncContext::new());
    let mut docs = Vec::new();
    while let Some(batch) = stream.next().await {
        docs.extend(batch.unwrap().documents);
    }
    assert_eq!(ids(&docs), ["article:2", "article:3"]);
    let exports = requests_to(&server, "/api/v2/help_center/incremental/articles").await;
    assert_eq!(exports.len(), 1);
    assert_eq!(
        exports[0].url.query().unwrap(),
        format!("start_time={}", time(2).timestamp())
    );
    assert!(
        requests_to(&server, "/api/v2/help_center/articles")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn an_article_unpublished_or_labelled_to_skip_is_deleted_by_the_next_poll() {
    let AfterFullRun { api, c, store, .. } = after_a_full_run(
        standard(),
        "articles",
        json!({"skip_article_labels": "internal-only"}),
    )
    .await;
    // Article 2 goes back to draft, article 4 gets a skipped label; the German translation
    // of article 7's locale is not the source's, so nothing of it is deleted.
    {
        let mut st = api.state.lock().unwrap();
        let a2 = st.articles.iter_mut().find(|a| a.id == 2).unwrap();
        a2.draft = true;
        a2.minute = 35;
        let a4 = st.articles.iter_mut().find(|a| a.id == 4).unwrap();
        a4.labels = vec!["internal-only"];
        a4.minute = 36;
    }
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(40)).await;
    assert!(sink.documents().is_empty());
    let mut deleted = sink.deleted();
    deleted.sort();
    assert_eq!(deleted, ["article:2", "article:4"]);
    assert_eq!(report.deleted, 2, "{report:?}");
}

#[tokio::test]
async fn the_article_export_pages_by_end_time() {
    // 1,200 articles: a full page of 1,000, then the rest from its `end_time`.
    let articles: Vec<Article> = (1..=1200)
        .map(|i| Article::new(i, &format!("Article {i}"), 1 + (i as u32) / 100))
        .collect();
    let server = start(ZendeskApi::new(articles, Vec::new())).await;
    let c = build(&server.uri(), "articles", json!({}));
    let window = TimeWindow::new(time(0), time(60)).unwrap();
    let mut stream = c
        .as_poll()
        .unwrap()
        .poll(window, connector_core::SyncContext::new());
    let mut seen = std::collections::BTreeSet::new();
    while let Some(batch) = stream.next().await {
        seen.extend(batch.unwrap().documents.into_iter().map(|d| d.id));
    }
    assert_eq!(seen.len(), 1200);
    let exports = requests_to(&server, "/api/v2/help_center/incremental/articles").await;
    assert_eq!(exports.len(), 2);
    assert_eq!(
        exports[1].url.query().unwrap(),
        // The thousandth article, the last of the first page, changed at minute 11.
        format!("start_time={}", time(11).timestamp())
    );
}

#[tokio::test]
async fn tickets_carry_every_comment_with_internal_notes_apart() {
    let api = standard();
    api.state.lock().unwrap().comment_page = 2;
    let server = start(api).await;
    let c = build(&server.uri(), "tickets", json!({}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let docs = sink.documents();
    // Ticket 5 is deleted: no document.
    assert_eq!(
        ids(&docs),
        [
            "zendesk_ticket_1",
            "zendesk_ticket_1:internal",
            "zendesk_ticket_2",
            "zendesk_ticket_2:internal",
            "zendesk_ticket_3",
            "zendesk_ticket_3:internal",
            "zendesk_ticket_4",
            "zendesk_ticket_4:internal",
        ]
    );
    assert_eq!(report.failed, 0);
    let t1 = doc(&docs, "zendesk_ticket_1");
    assert_eq!(t1.title, "Ticket #1: Printer on fire");
    assert_eq!(t1.link.as_ref().unwrap().path(), "/agent/tickets/1");
    assert_eq!(t1.updated_at, Some(time(1)));
    assert_eq!(t1.metadata["status"], "open");
    assert_eq!(t1.metadata["organization"], "Customer Inc");
    assert_eq!(t1.metadata["requester"], "Carl Customer");
    let access = t1.access.clone().unwrap();
    // The requester, the CC and the assignee; the agents of the ticket's group and those who
    // read every ticket, never every agent; the organization, which shares its tickets.
    assert_eq!(
        access.emails,
        [
            "carl@customer.test",
            "cora@customer.test",
            "rob@example.com"
        ]
    );
    assert_eq!(
        access.groups,
        [
            "zendesk:agents-all-tickets",
            "zendesk-group:55",
            "zendesk-org:900"
        ]
    );
    assert!(!text(t1).contains("legacy"), "an internal note leaked");
    // Tags and group are for agents: not in the document the requester reads.
    assert!(!text(t1).contains("printer, fire"), "{}", text(t1));
    assert!(!t1.metadata.contains_key("tags") && !t1.metadata.contains_key("group_id"));
    insta::assert_snapshot!("zendesk_ticket_markdown", text(t1));
    let notes = doc(&docs, "zendesk_ticket_1:internal");
    assert!(text(notes).contains("**legacy**"));
    assert!(!text(notes).contains("sending a technician"));
    assert!(text(notes).contains("printer, fire"));
    assert_eq!(notes.metadata["tags"], json!(["printer", "fire"]));
    assert_eq!(notes.metadata["group_id"], 55);
    let notes_access = notes.access.clone().unwrap();
    assert_eq!(
        notes_access.groups,
        ["zendesk:agents-all-tickets", "zendesk-group:55"]
    );
    assert_eq!(notes_access.emails, ["rob@example.com"]);
    assert!(!notes_access.public);
    // No ticket document goes to every agent.
    for d in &docs {
        let groups = &d.access.as_ref().unwrap().groups;
        assert!(!groups.iter().any(|g| g == "zendesk:agents"), "{}", d.id);
    }
    assert_eq!(notes.parent_id.as_deref(), Some("zendesk_ticket_1"));
    insta::assert_snapshot!("zendesk_ticket_internal_markdown", text(notes));
    // Ticket 2 has five comments, two a page: all three pages read.
    let t2 = text(doc(&docs, "zendesk_ticket_2"));
    for i in 1..=4 {
        assert!(t2.contains(&format!("Reply {i}")), "{t2}");
    }
    assert_eq!(
        requests_to(&server, "/api/v2/tickets/2/comments")
            .await
            .len(),
        3
    );
    // The cursor export, from the beginning, people and organizations sideloaded.
    let exports = requests_to(&server, "/api/v2/incremental/tickets/cursor.json").await;
    assert_eq!(exports.len(), 1);
    let q = exports[0].url.query().unwrap();
    assert!(
        q.contains("start_time=0") && q.contains("include=users%2Corganizations"),
        "{q}"
    );
}

#[tokio::test]
async fn a_person_copied_but_not_sideloaded_still_reads_the_ticket() {
    let api = standard();
    api.state.lock().unwrap().ccs_not_sideloaded = true;
    let server = start(api).await;
    let c = build(&server.uri(), "tickets", json!({}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let t1 = doc(&sink.documents(), "zendesk_ticket_1").clone();
    assert_eq!(
        t1.access.unwrap().emails,
        [
            "carl@customer.test",
            "cora@customer.test",
            "rob@example.com"
        ]
    );
    // One `show_many` for the CC the export left out.
    let asked = requests_to(&server, "/api/v2/users/show_many.json").await;
    assert_eq!(asked.len(), 1);
    assert_eq!(
        asked[0]
            .url
            .query_pairs()
            .find(|(k, _)| k == "ids")
            .unwrap()
            .1,
        "4"
    );
}

#[tokio::test]
async fn a_private_ticket_is_read_by_agents_only() {
    let api = standard();
    {
        // Opened by an agent with an internal note about the requester: no public comment.
        let mut st = api.state.lock().unwrap();
        let t3 = st.tickets.iter_mut().find(|t| t.id == 3).unwrap();
        for c in &mut t3.comments {
            c.public = false;
        }
    }
    let server = start(api).await;
    let c = build(&server.uri(), "tickets", json!({}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let docs = sink.documents();
    // The agents who may read it: its assignee, its group's, those who read every ticket.
    let t3 = doc(&docs, "zendesk_ticket_3").access.clone().unwrap();
    assert_eq!(t3.emails, ["rob@example.com"], "{t3:?}");
    assert_eq!(
        t3.groups,
        ["zendesk:agents-all-tickets", "zendesk-group:55"]
    );
    assert_eq!(
        Some(&t3),
        doc(&docs, "zendesk_ticket_3:internal").access.as_ref()
    );
    // The others stay open to their requester.
    let t4 = doc(&docs, "zendesk_ticket_4").access.clone().unwrap();
    assert_eq!(t4.emails, ["carl@customer.test", "rob@example.com"]);
}

#[tokio::test]
async fn a_ticket_without_group_or_assignee_goes_to_the_agents_who_read_every_ticket() {
    let api = standard();
    edit_ticket(&api, 4, |t| {
        t.group = None;
        t.assignee = None;
    });
    let server = start(api).await;
    let c = build(&server.uri(), "tickets", json!({}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let docs = sink.documents();
    let notes = doc(&docs, "zendesk_ticket_4:internal")
        .access
        .clone()
        .unwrap();
    assert!(notes.emails.is_empty(), "{notes:?}");
    assert_eq!(notes.groups, ["zendesk:agents-all-tickets"]);
    let public = doc(&docs, "zendesk_ticket_4").access.clone().unwrap();
    assert_eq!(public.emails, ["carl@customer.test"]);
    assert_eq!(
        public.groups,
        ["zendesk:agents-all-tickets", "zendesk-org:900"]
    );
}

#[tokio::test]
async fn a_ticket_moved_to_another_group_is_sent_again_with_its_new_agents_only() {
    let (api, _server, c, store) = tickets_after_a_full_run().await;
    // Reassigned to group 66 and to Ada: an update, which moves `updated_at` as any ticket
    // update does.
    edit_ticket(&api, 2, |t| {
        t.group = Some(66);
        t.assignee = Some(5);
        t.minute = 40;
    });
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    let docs = sink.documents();
    assert_eq!(
        ids(&docs),
        ["zendesk_ticket_2", "zendesk_ticket_2:internal"]
    );
    assert_eq!(report.failed, 0);
    for id in ["zendesk_ticket_2", "zendesk_ticket_2:internal"] {
        let access = doc(&docs, id).access.clone().unwrap();
        assert!(
            access.groups.contains(&"zendesk-group:66".to_owned()),
            "{id}: {access:?}"
        );
        assert!(
            !access.groups.contains(&"zendesk-group:55".to_owned()),
            "{id}: {access:?}"
        );
        assert!(
            access.emails.contains(&"ada@example.com".to_owned()),
            "{id}: {access:?}"
        );
        assert!(
            !access.emails.contains(&"rob@example.com".to_owned()),
            "{id}: {access:?}"
        );
    }
    assert_eq!(
        doc(&docs, "zendesk_ticket_2:internal").metadata["group_id"],
        66
    );

    // The version token covers who may read the ticket, not only its `updated_at`: moved
    // back to group 55 with the same `updated_at`, a reconciling run sends it again (and
    // nothing else).
    edit_ticket(&api, 2, |t| {
        t.group = Some(55);
    });
    let (sink, report) = sync_at(&c, &store, SyncMode::Reconcile, time(50)).await;
    let docs = sink.documents();
    assert_eq!(
        ids(&docs),
        ["zendesk_ticket_2", "zendesk_ticket_2:internal"]
    );
    assert_eq!(report.unchanged, 6);
    let notes = doc(&docs, "zendesk_ticket_2:internal")
        .access
        .clone()
        .unwrap();
    assert_eq!(
        notes.groups,
        ["zendesk:agents-all-tickets", "zendesk-group:55"]
    );
    assert_eq!(notes.emails, ["ada@example.com"]);
}

#[tokio::test]
async fn an_organization_that_stops_sharing_tickets_loses_them_at_the_next_incremental_run() {
    let AfterFullRun {
        api,
        server,
        c,
        store,
        sink,
    } = after_a_full_run(standard(), "tickets", json!({})).await;
    let t1 = doc(&sink.documents(), "zendesk_ticket_1")
        .access
        .clone()
        .unwrap();
    assert!(t1.groups.contains(&"zendesk-org:900".to_owned()));
    // A full load lists every ticket: no organization export.
    assert!(
        requests_to(&server, "/api/v2/incremental/organizations")
            .await
            .is_empty()
    );
    // A poll with no organization changed: one organization export, no ticket list.
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(35)).await;
    assert!(sink.documents().is_empty());
    assert_eq!(
        requests_to(&server, "/api/v2/incremental/organizations")
            .await
            .len(),
        1
    );
    assert!(
        requests_to(&server, "/api/v2/organizations/")
            .await
            .is_empty()
    );

    // Sharing turned off: the organization changes, its tickets (and their `updated_at`) do
    // not, so the ticket export shows none of them.
    {
        let mut st = api.state.lock().unwrap();
        st.org_shared = false;
        st.org_minute = Some(40);
    }
    let sink = clean_sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    let docs = sink.documents();
    assert_eq!(
        ids(&docs),
        [
            "zendesk_ticket_1",
            "zendesk_ticket_1:internal",
            "zendesk_ticket_2",
            "zendesk_ticket_2:internal",
            "zendesk_ticket_3",
            "zendesk_ticket_3:internal",
            "zendesk_ticket_4",
            "zendesk_ticket_4:internal",
        ]
    );
    for d in &docs {
        let access = d.access.clone().unwrap();
        assert!(
            !access.groups.contains(&"zendesk-org:900".to_owned()),
            "{}: {access:?}",
            d.id
        );
    }
    // The requester keeps their own tickets.
    let t1 = doc(&docs, "zendesk_ticket_1").access.clone().unwrap();
    assert!(t1.emails.contains(&"carl@customer.test".to_owned()));
    let listed = requests_to(&server, "/api/v2/organizations/900/tickets").await;
    assert_eq!(listed.len(), 1);

    // Nothing changed since: the organization is not listed again.
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(50)).await;
    assert!(sink.documents().is_empty());
    assert_eq!(
        requests_to(&server, "/api/v2/organizations/900/tickets")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn archived_tickets_and_users_whose_e_mail_changed_are_listed_again_in_polls() {
    let api = standard();
    // Ticket 4 is archived: the export and the search list it, the ticket lists do not.
    api.state
        .lock()
        .unwrap()
        .tickets
        .iter_mut()
        .filter(|t| t.id == 4)
        .for_each(|t| t.archived = true);
    let AfterFullRun {
        api,
        server,
        c,
        store,
        sink,
    } = after_a_full_run(api, "tickets", json!({})).await;
    assert!(ids(&sink.documents()).contains(&"zendesk_ticket_4".to_owned()));
    // A poll with nothing changed: one user export, no search.
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(35)).await;
    assert!(sink.documents().is_empty());
    assert_eq!(
        requests_to(&server, "/api/v2/incremental/users")
            .await
            .len(),
        1
    );
    assert!(requests_to(&server, "/api/v2/search/").await.is_empty());

    // Sharing turned off: the archived ticket loses the organization too.
    {
        let mut st = api.state.lock().unwrap();
        st.org_shared = false;
        st.org_minute = Some(40);
    }
    let sink = clean_sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    let docs = sink.documents();
    let t4 = doc(&docs, "zendesk_ticket_4").access.clone().unwrap();
    assert!(!t4.groups.contains(&"zendesk-org:900".to_owned()), "{t4:?}");
    assert!(t4.emails.contains(&"carl@customer.test".to_owned()));
    let searched = requests_to(&server, "/api/v2/search/export").await;
    assert_eq!(searched.len(), 1);
    let q: std::collections::HashMap<String, String> =
        searched[0].url.query_pairs().into_owned().collect();
    assert_eq!(q["query"], "type:ticket organization:900 status:closed");
    assert_eq!(q["filter[type]"], "ticket");
    // Each ticket once, though the list and the search both hold closed tickets.
    assert_eq!(
        ids(&docs)
            .iter()
            .filter(|id| *id == "zendesk_ticket_4")
            .count(),
        1
    );

    // Cora (copied on ticket 1) changes her e-mail: no ticket moves, the user export shows
    // her, and the tickets she is copied on are sent again with the new address.
    api.state
        .lock()
        .unwrap()
        .user_changes
        .push((4, "cora@new.test", 50));
    let sink = clean_sync_at(&c, &store, SyncMode::Incremental, time(55)).await;
    let docs = sink.documents();
    assert_eq!(
        ids(&docs),
        ["zendesk_ticket_1", "zendesk_ticket_1:internal"]
    );
    let t1 = doc(&docs, "zendesk_ticket_1").access.clone().unwrap();
    assert!(t1.emails.contains(&"cora@new.test".to_owned()), "{t1:?}");
    assert!(
        !t1.emails.contains(&"cora@customer.test".to_owned()),
        "{t1:?}"
    );
    assert_eq!(
        search_queries(&server, 1).await,
        [
            "type:ticket requester:4",
            "type:ticket cc:4",
            "type:ticket assignee:4"
        ]
    );
}

/// The search queries sent, in order, after the first `skip`.
async fn search_queries(server: &wiremock::MockServer, skip: usize) -> Vec<String> {
    requests_to(server, "/api/v2/search/export")
        .await
        .iter()
        .skip(skip)
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "query")
                .map(|(_, v)| v.into_owned())
        })
        .collect()
}

#[tokio::test]
async fn user_searches_are_capped_per_run_and_the_rest_carried_to_the_next() {
    let AfterFullRun {
        api,
        server,
        c,
        store,
        ..
    } = after_a_full_run(standard(), "tickets", json!({"user_searches_per_run": 1})).await;
    // Carl (requester of every ticket) and Cora (copied on ticket 1) change their e-mails.
    {
        let mut st = api.state.lock().unwrap();
        st.user_changes.push((2, "carl@new.test", 40));
        st.user_changes.push((4, "cora@new.test", 40));
    }
    // One user a run: Carl's three searches (Zendesk's user-id keywords), not Cora's.
    let sink = clean_sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    assert_eq!(
        search_queries(&server, 0).await,
        [
            "type:ticket requester:2",
            "type:ticket cc:2",
            "type:ticket assignee:2"
        ]
    );
    let docs = sink.documents();
    let t1 = doc(&docs, "zendesk_ticket_1").access.clone().unwrap();
    assert!(t1.emails.contains(&"carl@new.test".to_owned()), "{t1:?}");

    // The next poll has nothing new in its window, yet searches Cora's tickets first (Carl
    // requests every ticket here, so his relisting already gave ticket 1 her new address:
    // nothing is sent again).
    let sink = clean_sync_at(&c, &store, SyncMode::Incremental, time(55)).await;
    assert_eq!(
        search_queries(&server, 3).await,
        [
            "type:ticket requester:4",
            "type:ticket cc:4",
            "type:ticket assignee:4"
        ]
    );
    assert!(sink.documents().is_empty());

    // Nothing owed any more: the next poll searches nothing.
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(65)).await;
    assert!(sink.documents().is_empty());
    assert_eq!(search_queries(&server, 6).await.len(), 0);
}

#[tokio::test]
async fn a_run_stopped_while_listing_organizations_resumes_there() {
    use connector_core::{CheckpointedConnector, SyncContext};
    use connector_misc::zendesk::{ZendeskCheckpoint, ZendeskConfig, ZendeskConnector};
    let api = standard();
    {
        let mut st = api.state.lock().unwrap();
        st.org_shared = false;
        st.org_minute = Some(40);
    }
    let server = start(api).await;
    let config: ZendeskConfig =
        serde_json::from_value(zendesk_common::config(&server.uri(), "tickets", json!({})))
            .unwrap();
    let connector = ZendeskConnector::new(config).unwrap();
    // The checkpoint of a run whose ticket export was over, stopped before the organizations.
    let from: ZendeskCheckpoint = serde_json::from_value(
        json!({"cursor": "MTc0MDgyMzIwMC4wfHw1fA==", "orgs_from": time(35).timestamp()}),
    )
    .unwrap();
    let window = TimeWindow::new(time(35), time(45)).unwrap();
    let batches: Vec<_> = connector
        .load_from_checkpoint(from, Some(window), SyncContext::new())
        .collect()
        .await;
    let batches: Vec<_> = batches.into_iter().map(Result::unwrap).collect();
    let docs: Vec<Document> = batches
        .iter()
        .flat_map(|b| b.batch.documents.clone())
        .collect();
    assert_eq!(ids(&docs).len(), 8);
    assert!(docs.iter().all(|d| {
        !d.access
            .as_ref()
            .unwrap()
            .groups
            .contains(&"zendesk-org:900".to_owned())
    }));
    let last = &batches.last().unwrap().checkpoint;
    assert!(last.done && last.orgs_from.is_none(), "{last:?}");
    // The ticket export was not read again.
    assert!(
        requests_to(&server, "/api/v2/incremental/tickets")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn ticket_statuses_narrow_the_tickets_read() {
    let server = start(standard()).await;
    let c = build(
        &server.uri(),
        "tickets",
        json!({"ticket_statuses": "solved, closed", "include_internal_notes": false}),
    );
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(
        ids(&sink.documents()),
        ["zendesk_ticket_3", "zendesk_ticket_4"]
    );
}

#[tokio::test]
async fn a_new_comment_is_found_by_the_next_incremental_run_from_the_carried_cursor() {
    let (api, server, c, store) = tickets_after_a_full_run().await;
    server.reset().await;
    *api.base.lock().unwrap() = server.uri();
    Mock::given(method("GET"))
        .and(path_regex("^/api/v2/"))
        .respond_with(api.clone())
        .mount(&server)
        .await;

    // An internal note on ticket 3 moves its `updated_at`, as Zendesk does.
    {
        let mut st = api.state.lock().unwrap();
        let t3 = st.tickets.iter_mut().find(|t| t.id == 3).unwrap();
        t3.comments.push(Comment::new(
            301,
            3,
            "Refund approved by finance.",
            false,
            40,
        ));
        t3.minute = 40;
    }
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    assert_eq!(
        ids(&sink.documents()),
        ["zendesk_ticket_3", "zendesk_ticket_3:internal"]
    );
    assert_eq!(report.failed, 0);
    let notes = text(doc(&sink.documents(), "zendesk_ticket_3:internal")).to_owned();
    assert!(notes.contains("Refund approved"), "{notes}");
    // The run went on from the carried cursor (not from a start time), and read no other
    // ticket's comments.
    let exports = requests_to(&server, "/api/v2/incremental/tickets/cursor.json").await;
    assert_eq!(exports.len(), 1);
    assert!(exports[0].url.query().unwrap().starts_with("cursor="));
    let comments = requests_to(&server, "/api/v2/tickets/").await;
    assert!(
        comments
            .iter()
            .all(|r| r.url.path() == "/api/v2/tickets/3/comments")
    );

    // Nothing new: one export request, nothing delivered.
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(50)).await;
    assert!(sink.documents().is_empty());
}

#[tokio::test]
async fn a_ticket_edited_between_runs_is_sent_again_and_the_others_not() {
    let (api, server, c, store) = tickets_after_a_full_run().await;
    edit_ticket(&api, 2, |t| {
        t.subject = "Cannot log in after the update".into();
        t.status = "solved";
        t.minute = 35;
    });
    // A reconciling run: everything listed, only the edited ticket read and sent.
    let before = requests_to(&server, "/api/v2/tickets/").await.len();
    let (sink, report) = sync_at(&c, &store, SyncMode::Reconcile, time(40)).await;
    assert_eq!(
        ids(&sink.documents()),
        ["zendesk_ticket_2", "zendesk_ticket_2:internal"]
    );
    assert_eq!(report.unchanged, 6);
    let t2 = doc(&sink.documents(), "zendesk_ticket_2").clone();
    assert_eq!(t2.title, "Ticket #2: Cannot log in after the update");
    assert_eq!(t2.metadata["status"], "solved");
    // One comment page of ticket 2, nothing of the others.
    let after = requests_to(&server, "/api/v2/tickets/").await;
    assert_eq!(after.len() - before, 1);
    assert_eq!(
        after.last().unwrap().url.path(),
        "/api/v2/tickets/2/comments"
    );
}

#[tokio::test]
async fn a_ticket_edited_while_the_export_is_read_is_delivered_edited() {
    let api = standard();
    {
        let mut st = api.state.lock().unwrap();
        st.ticket_page = 2;
        // Ticket 1, on the first page, is edited when the second page is asked for: it moves
        // to the end of the export.
        st.edit_on_page_two = Some((1, 20));
    }
    let server = start(api).await;
    let c = build(
        &server.uri(),
        "tickets",
        json!({"include_internal_notes": false}),
    );
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let docs = sink.documents();
    let mut all = ids(&docs);
    all.dedup();
    assert_eq!(
        all,
        [
            "zendesk_ticket_1",
            "zendesk_ticket_2",
            "zendesk_ticket_3",
            "zendesk_ticket_4"
        ]
    );
    // Its last delivery is the edited one.
    let last = docs
        .iter()
        .rev()
        .find(|d| d.id == "zendesk_ticket_1")
        .unwrap();
    assert_eq!(last.title, "Ticket #1: Printer on fire (edited)");
}

#[tokio::test]
async fn an_article_edited_while_the_list_is_read_is_delivered_edited() {
    let api = standard();
    {
        let mut st = api.state.lock().unwrap();
        st.article_page = 2;
        st.edit_on_page_two = Some((1, 20));
    }
    let server = start(api).await;
    let c = build(&server.uri(), "articles", json!({"locale": "en-us"}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let docs = sink.documents();
    let mut all = ids(&docs);
    all.dedup();
    assert_eq!(all.len(), 5, "{all:?}");
    let last = docs.iter().rev().find(|d| d.id == "article:1").unwrap();
    assert_eq!(last.title, "Update billing details (edited)");
}

#[tokio::test]
async fn deleted_tickets_are_pruned() {
    let (api, _server, c, store) = tickets_after_a_full_run().await;
    edit_ticket(&api, 4, |t| {
        t.status = "deleted";
        t.minute = 35;
    });
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(40))
        .options(connector_core::sync::SyncOptions::default().max_prune_fraction(1.0))
        .prune()
        .await
        .unwrap();
    assert_eq!(report.deleted, 2, "{report:?}");
    let mut deleted = sink.deleted();
    deleted.sort();
    assert_eq!(deleted, ["zendesk_ticket_4", "zendesk_ticket_4:internal"]);
}

#[tokio::test]
async fn a_ticket_deleted_between_runs_is_deleted_by_the_next_incremental_run() {
    ticket_2_deleted_between_runs(|t| {
        t.status = "deleted";
        t.minute = 35;
    })
    .await;
}

#[tokio::test]
async fn a_ticket_deleted_without_moving_its_updated_at_is_deleted_all_the_same() {
    // Deleted at 10:35: the export lists it again by its `generated_timestamp`, while its
    // `updated_at` (10:02) stays before the next run's window.
    ticket_2_deleted_between_runs(|t| {
        t.status = "deleted";
        t.generated = Some(35);
    })
    .await;
}

#[tokio::test]
async fn a_ticket_changed_after_the_window_is_left_to_the_next_run() {
    let (api, server, c, store) = tickets_after_a_full_run().await;
    // Changed at 10:45, after the window [10:27, 10:40) of the next run: left out of it, and
    // the cursor carried is the one of the page that held it.
    edit_ticket(&api, 3, |t| {
        t.subject = "Invoice question, reopened".into();
        t.minute = 45;
    });
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(40)).await;
    assert!(sink.documents().is_empty());
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(50)).await;
    assert_eq!(
        ids(&sink.documents()),
        ["zendesk_ticket_3", "zendesk_ticket_3:internal"]
    );
    let exports = requests_to(&server, "/api/v2/incremental/tickets/cursor.json").await;
    assert_eq!(exports.len(), 3);
    // Both incremental runs went on from the same carried cursor.
    assert_eq!(exports[1].url.query(), exports[2].url.query());
}

#[tokio::test]
async fn a_rate_limited_export_is_waited_out() {
    let server = start(standard()).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/incremental/tickets/cursor.json"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(
                    json!({"error": "TooManyRequests", "description": "Rate limit exceeded"}),
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let c = build(&server.uri(), "tickets", json!({}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(sink.documents().len(), 8);
    assert!(report.retries >= 1, "{report:?}");
}

#[tokio::test]
async fn wrong_credentials_fail_fast_naming_the_token() {
    let server = start(standard()).await;
    let mut cfg = config(&server.uri(), "tickets", json!({}));
    cfg["credentials"]["zendesk_token"] = json!("wrong");
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let c = registry.build("zendesk", cfg).unwrap();
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert!(
        err.to_string().contains("credentials.zendesk_token"),
        "{err}"
    );
    let err = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert_eq!(
        requests_to(&server, "/api/v2/incremental").await.len(),
        1,
        "no retry"
    );
}

#[tokio::test]
async fn check_tells_a_missing_permission_and_a_missing_help_center_apart() {
    let api = standard();
    api.state.lock().unwrap().me_role = "agent";
    let server = start(api.clone()).await;
    let tickets = build(&server.uri(), "tickets", json!({}));
    let err = tickets.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("admins"), "{err}");

    let articles = build(&server.uri(), "articles", json!({}));
    articles.check().await.unwrap();
    api.state.lock().unwrap().no_help_center = true;
    let err = articles.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.to_string().contains("credentials.zendesk_subdomain"),
        "{err}"
    );
    let in_locale = build(&server.uri(), "articles", json!({"locale": "fr"}));
    api.state.lock().unwrap().no_help_center = false;
    let err = in_locale.check().await.unwrap_err();
    assert!(err.to_string().contains("locale"), "{err}");
}

#[tokio::test]
async fn a_forbidden_export_stops_the_sync_and_a_missing_comment_list_fails_its_ticket() {
    let server = start(standard()).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/tickets/2/comments"))
        .respond_with(not_found())
        .with_priority(1)
        .mount(&server)
        .await;
    let c = build(&server.uri(), "tickets", json!({}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(report.failed, 1);
    assert_eq!(sink.documents().len(), 6);
    assert_eq!(
        report.failures[0].id.as_deref(),
        Some("zendesk_ticket_2"),
        "{:?}",
        report.failures
    );

    let server = start(standard()).await;
    Mock::given(method("GET"))
        .and(path("/api/v2/incremental/tickets/cursor.json"))
        .respond_with(forbidden())
        .with_priority(1)
        .mount(&server)
        .await;
    let c = build(&server.uri(), "tickets", json!({}));
    let err = Syncer::new(c)
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("Forbidden"), "{err}");
}

#[test]
fn ragflow_config_is_taken_as_it_is_and_defaults_follow_zendesk_limits() {
    use connector_misc::zendesk::{ContentType, ZendeskConfig};
    let cfg: ZendeskConfig = connector_core::config::from_json(json!({
        "zendesk_content_type": "articles",
        "credentials": {
            "zendesk_subdomain": "https://acme.zendesk.com/",
            "zendesk_email": "jane@example.com",
            "zendesk_token": "tok"
        }
    }))
    .unwrap();
    assert_eq!(cfg.subdomain(), "acme");
    assert_eq!(cfg.zendesk_content_type, ContentType::Articles);
    assert_eq!(cfg.export_requests_per_minute.get(), 10);
    assert_eq!(cfg.requests_per_minute.get(), 200);
    assert!(!format!("{cfg:?}").contains("tok\""));

    let err = connector_core::config::from_json::<ZendeskConfig>(json!({
        "zendesk_content_type": "tickets",
        "ticket_statuses": "open, archived",
        "credentials": {"zendesk_subdomain": "acme corp", "zendesk_email": "jane", "zendesk_token": "tok"}
    }))
    .and_then(|c| connector_misc::zendesk::ZendeskConnector::new(c).map(|_| ()))
    .unwrap_err();
    let text = err.to_string();
    for field in [
        "credentials.zendesk_subdomain",
        "credentials.zendesk_email",
        "ticket_statuses",
    ] {
        assert!(text.contains(field), "{field}: {text}");
    }
}

#[tokio::test]
async fn a_user_segment_narrowed_between_polls_sends_its_articles_again_with_the_narrower_audience()
{
    let AfterFullRun {
        api,
        server,
        c,
        store,
        sink,
    } = after_a_full_run(
        standard(),
        "articles",
        json!({"skip_article_labels": "internal-only"}),
    )
    .await;
    let before = doc(&sink.documents(), "article:2").access.clone().unwrap();
    assert_eq!(
        before.groups,
        ["zendesk-segment:300", "zendesk:signed_in_users"]
    );
    // Segment 300 gets a tag condition: Zendesk touches none of its articles, so the
    // article export lists nothing; the segment's own `updated_at` moves.
    api.state.lock().unwrap().segment_300_narrowed = Some(35);
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(40)).await;
    let docs = sink.documents();
    assert_eq!(ids(&docs), ["article:2"], "{report:?}");
    assert_eq!(
        doc(&docs, "article:2").access.as_ref().unwrap().groups,
        ["zendesk-segment:300"],
        "an intersection no union of groups expresses: the segment alone"
    );
    assert!(
        report.unchanged >= 3,
        "the other articles are listed again, not sent: {report:?}"
    );
    let lists = requests_to(&server, "/api/v2/help_center/articles")
        .await
        .len();
    assert!(
        !requests_to(&server, "/api/v2/help_center/user_segments")
            .await
            .is_empty()
    );
    // Nothing edited since: no list walk.
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(50)).await;
    assert!(sink.documents().is_empty());
    assert_eq!(
        requests_to(&server, "/api/v2/help_center/articles")
            .await
            .len(),
        lists
    );
}

#[tokio::test]
async fn segments_the_agent_may_not_list_leave_polls_to_the_export() {
    let api = standard();
    api.state.lock().unwrap().segments_forbidden = true;
    let AfterFullRun {
        server, c, store, ..
    } = after_a_full_run(api, "articles", json!({})).await;
    let lists = requests_to(&server, "/api/v2/help_center/articles")
        .await
        .len();
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(40)).await;
    assert!(sink.documents().is_empty());
    assert_eq!(
        requests_to(&server, "/api/v2/help_center/articles")
            .await
            .len(),
        lists,
        "a refused segment list is no reason to walk the list"
    );
}

#[tokio::test]
async fn a_source_article_edited_in_a_poll_reads_its_translation_in_the_configured_locale() {
    let api = standard();
    {
        let mut st = api.state.lock().unwrap();
        let mut de = Article::new(1, "Rechnungsdaten aktualisieren", 1);
        de.locale = "de";
        de.labels = vec!["billing"];
        st.translations.push(de);
    }
    let AfterFullRun {
        api,
        server,
        c,
        store,
        sink,
    } = after_a_full_run(
        api,
        "articles",
        json!({"locale": "de", "skip_article_labels": "internal-only"}),
    )
    .await;
    let docs = sink.documents();
    assert_eq!(ids(&docs), ["article:1", "article:7"]);
    assert_eq!(
        doc(&docs, "article:1").title,
        "Rechnungsdaten aktualisieren"
    );
    // The source (en-us) article gets a skipped label, which every translation carries;
    // the German row is not edited, so the export lists the English row alone. Article 4
    // (no German translation) is edited too.
    {
        let mut st = api.state.lock().unwrap();
        let a1 = st.articles.iter_mut().find(|a| a.id == 1).unwrap();
        a1.labels = vec!["internal-only"];
        a1.minute = 35;
        st.translations[0].labels = vec!["internal-only"];
        st.articles.iter_mut().find(|a| a.id == 4).unwrap().minute = 36;
    }
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(40)).await;
    assert!(sink.documents().is_empty());
    let deleted = sink.deleted();
    assert!(deleted.contains(&"article:1".to_owned()), "{deleted:?}");
    assert_eq!(
        requests_to(&server, "/api/v2/help_center/de/articles/1")
            .await
            .len(),
        1
    );
    assert_eq!(
        requests_to(&server, "/api/v2/help_center/de/articles/4")
            .await
            .len(),
        1,
        "asked in German, found in none"
    );
}

#[tokio::test]
async fn merged_tickets_say_where_they_went_to_the_audience_of_the_merge_comment() {
    let mut tickets = zendesk_common::standard_tickets();
    // #3 merged into #2 by an agent (private merge comments, Zendesk's default); #4 tagged
    // by the merge with a public merge comment of Zendesk's default text, without `via`.
    let mut source = Comment::new(
        301,
        3,
        "This request was closed and merged into request #2 \"Cannot log in\".",
        false,
        3,
    );
    source.via = Some(
        json!({"channel": "web", "source": {"from": {}, "to": {"ticket_id": 2, "subject": "Cannot log in"}, "rel": "merge"}}),
    );
    tickets[2].comments.push(source);
    tickets[2].status = "closed";
    tickets[2].tags = vec!["closed_by_merge"];
    let mut target = Comment::new(
        299,
        3,
        "Request #3 \"Invoice question\" was closed and merged into this request.",
        false,
        3,
    );
    target.via = Some(
        json!({"channel": "web", "source": {"from": {"ticket_id": 3, "subject": "Invoice question"}, "to": {}, "rel": "merge"}}),
    );
    tickets[1].comments.push(target);
    tickets[3].tags = vec!["closed_by_merge"];
    tickets[3].comments.push(Comment::new(
        401,
        3,
        "This request was closed and merged into request #1 \"Printer on fire\".",
        true,
        4,
    ));
    let server = start(ZendeskApi::new(Vec::new(), tickets)).await;
    let c = build(&server.uri(), "tickets", json!({}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let docs = sink.documents();
    let internal = doc(&docs, "zendesk_ticket_3:internal");
    assert_eq!(internal.metadata["merged_into"], 2);
    assert_eq!(internal.metadata["merged_into_id"], "zendesk_ticket_2");
    assert!(
        text(internal).contains("**Merged into:** Ticket"),
        "{}",
        text(internal)
    );
    let public = doc(&docs, "zendesk_ticket_3");
    assert!(
        !public.metadata.contains_key("merged_into"),
        "the merge comment is private"
    );
    assert!(!text(public).contains("Merged into"));
    assert_eq!(
        doc(&docs, "zendesk_ticket_2:internal").metadata["merged_from"],
        json!([3])
    );
    let four = doc(&docs, "zendesk_ticket_4");
    assert_eq!(four.metadata["merged_into"], 1);
    assert!(
        text(four).contains("**Merged into:** Ticket"),
        "{}",
        text(four)
    );
    assert!(
        !doc(&docs, "zendesk_ticket_1")
            .metadata
            .contains_key("merged_into")
    );
}

fn brand(
    id: u64,
    name: &str,
    subdomain: &str,
    url: &str,
    state: &str,
    active: bool,
) -> serde_json::Value {
    json!({
        "id": id, "url": format!("https://acme.zendesk.com/api/v2/brands/{id}.json"),
        "name": name, "subdomain": subdomain, "brand_url": url, "host_mapping": null,
        "active": active, "default": id == 1, "is_deleted": false, "has_help_center": true,
        "help_center_state": state, "ticket_form_ids": [],
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"
    })
}

#[tokio::test]
async fn the_help_center_of_every_brand_named_is_read_at_its_brand_url() {
    let kids = start(ZendeskApi::new(
        vec![Article::new(501, "Kids billing", 2)],
        Vec::new(),
    ))
    .await;
    let staff = start(ZendeskApi::new(
        vec![Article::new(601, "Staff wiki", 3)],
        Vec::new(),
    ))
    .await;
    let api = standard();
    let server = start(api.clone()).await;
    api.state.lock().unwrap().brands = vec![
        brand(1, "Acme", "acme", &server.uri(), "enabled", true),
        brand(2, "Acme Kids", "acme-kids", &kids.uri(), "enabled", true),
        brand(
            3,
            "Acme Staff",
            "acme-staff",
            &staff.uri(),
            "restricted",
            true,
        ),
        brand(4, "Old", "old", "https://old.zendesk.com", "enabled", false),
    ];
    let c = build(
        &server.uri(),
        "articles",
        json!({"brands": "*", "skip_article_labels": "internal-only"}),
    );
    let store = MemoryStateStore::new();
    let (sink, _) = sync_at(&c, &store, SyncMode::Full, time(30)).await;
    let docs = sink.documents();
    let kid = doc(&docs, "article:501");
    assert_eq!(kid.metadata["brand"], "Acme Kids");
    assert!(kid.access.as_ref().unwrap().public);
    let wiki = doc(&docs, "article:601");
    assert_eq!(
        wiki.access.as_ref().unwrap().groups,
        ["zendesk:agents"],
        "a Help Center restricted to agents"
    );
    assert!(!wiki.access.as_ref().unwrap().public);
    assert_eq!(doc(&docs, "article:1").metadata["brand"], "Acme");
    // Each Help Center is asked at its own URL; the inactive brand's never.
    assert!(
        !requests_to(&kids, "/api/v2/help_center/articles")
            .await
            .is_empty()
    );
    assert!(
        !requests_to(&staff, "/api/v2/help_center/articles")
            .await
            .is_empty()
    );

    // Prune's listing covers every Help Center.
    let mut listed: Vec<String> = Vec::new();
    let mut stream = c
        .as_slim()
        .unwrap()
        .list_ids(connector_core::SyncContext::new());
    while let Some(page) = stream.next().await {
        listed.extend(page.unwrap().into_iter().map(|d| d.id));
    }
    for id in ["article:1", "article:501", "article:601"] {
        assert!(listed.iter().any(|l| l == id), "{id} in {listed:?}");
    }

    // A poll reads each Help Center's export.
    sync_at(&c, &store, SyncMode::Incremental, time(40)).await;
    assert!(
        !requests_to(&kids, "/api/v2/help_center/incremental/articles")
            .await
            .is_empty()
    );

    // Only the brands named; one that names no brand fails the run, naming the field.
    let named = build(&server.uri(), "articles", json!({"brands": "ACME-KIDS"}));
    let (sink, _) = sync_at(&named, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(ids(&sink.documents()), ["article:501"]);
    let wrong = build(
        &server.uri(),
        "articles",
        json!({"brands": "acme-kids, nope"}),
    );
    let err = Syncer::new(wrong.clone())
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("nope"), "{err}");
    assert!(
        err.field() == Some("brands") || err.to_string().contains("brands"),
        "{err}"
    );
}

fn attachment(
    id: u64,
    name: &str,
    url: String,
    kind: &str,
    size: u64,
    inline: bool,
) -> serde_json::Value {
    json!({
        "id": id, "url": format!("https://acme.zendesk.com/api/v2/attachments/{id}.json"),
        "file_name": name, "content_url": url, "mapped_content_url": null,
        "content_type": kind, "size": size, "width": null, "height": null, "inline": inline,
        "deleted": false, "malware_access_override": false, "malware_scan_result": "malware_not_found",
        "thumbnails": []
    })
}

#[tokio::test]
async fn attachments_become_files_read_by_the_audience_of_their_comment() {
    const PDF: &[u8] = b"%PDF-1.4 invoice";
    let api = standard();
    let server = start(api.clone()).await;
    let uri = server.uri();
    {
        let mut st = api.state.lock().unwrap();
        let t1 = st.tickets.iter_mut().find(|t| t.id == 1).unwrap();
        // The customer's public comment carries an invoice; the agent's note a screenshot
        // and a file over max_file_size.
        t1.comments[0].attachments = vec![attachment(
            7001,
            "Invoice.PDF",
            format!("{uri}/attachments/token/AbC/?name=Invoice.PDF"),
            "application/pdf",
            PDF.len() as u64,
            false,
        )];
        t1.comments[1].attachments = vec![
            attachment(
                7002,
                "screen.png",
                format!("{uri}/attachments/token/DeF/?name=screen.png"),
                "image/png",
                4,
                true,
            ),
            attachment(
                7003,
                "dump.zip",
                format!("{uri}/attachments/token/GhI/?name=dump.zip"),
                "application/zip",
                5_000,
                false,
            ),
        ];
    }
    Mock::given(method("GET"))
        .and(path("/attachments/token/AbC/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(PDF, "application/pdf"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/attachments/token/DeF/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(&b"\x89PNG"[..], "image/png"))
        .mount(&server)
        .await;
    let c = build(
        &uri,
        "tickets",
        json!({"include_attachments": true, "max_file_size": 1000}),
    );
    let store = MemoryStateStore::new();
    let (sink, report) = sync_at(&c, &store, SyncMode::Full, time(30)).await;
    let docs = sink.documents();
    let invoice = doc(&docs, "zendesk_ticket_1:attachment:7001");
    let ticket = doc(&docs, "zendesk_ticket_1");
    assert_eq!(invoice.parent_id.as_deref(), Some("zendesk_ticket_1"));
    assert_eq!(
        invoice.access, ticket.access,
        "the requester reads their own file"
    );
    assert_eq!(invoice.title, "Invoice.PDF");
    assert_eq!(invoice.metadata["object_type"], "Attachment");
    match &invoice.content {
        connector_core::Content::Bytes {
            data,
            mime,
            extension,
        } => {
            assert_eq!(&data[..], PDF);
            assert_eq!(mime, "application/pdf");
            assert_eq!(extension.as_deref(), Some("pdf"));
        }
        other => panic!("not a file: {other:?}"),
    }
    let screen = doc(&docs, "zendesk_ticket_1:attachment:7002");
    assert_eq!(
        screen.parent_id.as_deref(),
        Some("zendesk_ticket_1:internal")
    );
    assert_eq!(
        screen.access,
        doc(&docs, "zendesk_ticket_1:internal").access,
        "a note's file is for the ticket's agents"
    );
    assert_eq!(screen.metadata["inline"], true);
    let big = report
        .failures
        .iter()
        .find(|f| f.id.as_deref() == Some("zendesk_ticket_1:attachment:7003"))
        .expect("the file over max_file_size fails");
    assert!(big.message.contains("max_file_size"), "{}", big.message);
    assert!(
        requests_to(&server, "/attachments/token/GhI/")
            .await
            .is_empty()
    );

    // A new comment: the ticket is read again, its files are not downloaded again.
    {
        let mut st = api.state.lock().unwrap();
        let t1 = st.tickets.iter_mut().find(|t| t.id == 1).unwrap();
        t1.minute = 35;
        t1.comments
            .push(Comment::new(103, 2, "Any news?", true, 35));
    }
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(40)).await;
    assert!(
        sink.documents()
            .iter()
            .all(|d| !d.id.contains(":attachment:"))
    );
    assert_eq!(
        requests_to(&server, "/attachments/token/AbC/").await.len(),
        1
    );

    // Prune's listing holds the files.
    let mut listed: Vec<String> = Vec::new();
    let mut stream = c
        .as_slim()
        .unwrap()
        .list_ids(connector_core::SyncContext::new());
    while let Some(page) = stream.next().await {
        listed.extend(page.unwrap().into_iter().map(|d| d.id));
    }
    assert!(listed.contains(&"zendesk_ticket_1:attachment:7001".to_owned()));
    assert!(listed.contains(&"zendesk_ticket_1:attachment:7002".to_owned()));
}

#[tokio::test]
async fn article_attachments_and_inline_images_are_files_of_the_article() {
    let api = standard();
    let server = start(api.clone()).await;
    let uri = server.uri();
    api.state.lock().unwrap().article_files.insert(
        3,
        vec![json!({
            "id": 9001, "url": format!("https://acme.zendesk.com/api/v2/help_center/articles/attachments/9001"),
            "article_id": 3, "file_name": "escalation.png",
            "content_url": format!("{uri}/hc/article_attachments/9001/escalation.png"),
            "relative_path": "/hc/article_attachments/9001/escalation.png",
            "content_type": "image/png", "size": 4, "inline": true,
            "created_at": "2025-03-01T10:03:00Z", "updated_at": "2025-03-01T10:03:00Z"
        })],
    );
    Mock::given(method("GET"))
        .and(path("/hc/article_attachments/9001/escalation.png"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(&b"\x89PNG"[..], "image/png"))
        .mount(&server)
        .await;
    let c = build(&uri, "articles", json!({"include_attachments": true}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let docs = sink.documents();
    let image = doc(&docs, "article:3:attachment:9001");
    assert_eq!(image.parent_id.as_deref(), Some("article:3"));
    assert_eq!(
        image.access,
        doc(&docs, "article:3").access,
        "the article's audience (a narrowed segment)"
    );
    assert_eq!(image.metadata["inline"], true);
    // The private Help Center file is asked with the account's credentials.
    let asked = requests_to(&server, "/hc/article_attachments/9001").await;
    assert_eq!(asked.len(), 1);
    assert!(asked[0].headers.get("authorization").is_some());
}
