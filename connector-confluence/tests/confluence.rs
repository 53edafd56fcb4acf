//! The Confluence connector against a fake Cloud and Server site.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Duration;
use common::{Fake, FakeAttachment, FakeComment, FakePage, at, error};
use connector_core::{
    Connector, Document, ErrorKind, Registry, SlimDocument, SyncContext, TimeWindow,
};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;
use wiremock::matchers::{method, path_regex, query_param};
use wiremock::{Mock, ResponseTemplate};

fn build(cfg: serde_json::Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    registry.build("confluence", cfg).unwrap()
}

async fn load(
    c: &dyn Connector,
) -> connector_core::Result<(Vec<Document>, Vec<connector_core::Failure>)> {
    let mut docs = Vec::new();
    let mut failures = Vec::new();
    let mut s = c.as_load().unwrap().load(SyncContext::new());
    while let Some(b) = s.next().await {
        let b = b?;
        docs.extend(b.documents);
        failures.extend(b.failures);
    }
    Ok((docs, failures))
}

async fn poll(c: &dyn Connector, w: TimeWindow) -> Vec<Document> {
    let s = c.as_poll().unwrap().poll(w, SyncContext::new());
    s.map_ok(|b| b.documents).try_concat().await.unwrap()
}

fn titles(docs: &[Document]) -> BTreeSet<String> {
    docs.iter().map(|d| d.title.clone()).collect()
}

/// ENG: Root > Child > Grandchild, Other, a blog post (indexed only with
/// `include_blog_posts`); OPS: Runbook. Five pages by default.
async fn site(cloud: bool) -> Fake {
    let fake = Fake::start(cloud).await;
    let mut root = FakePage::new(100, "ENG", "Root", "<p>root</p>", at(1));
    root.labels = vec!["keep".into()];
    fake.add(root);
    let mut child = FakePage::new(101, "ENG", "Child", "<p>child</p>", at(2));
    child.parent = Some(100);
    fake.add(child);
    let mut grand = FakePage::new(102, "ENG", "Grandchild", "<p>grand</p>", at(3));
    grand.parent = Some(101);
    grand.labels = vec!["draft".into()];
    fake.add(grand);
    fake.add(FakePage::new(103, "ENG", "Other", "<p>other</p>", at(4)));
    let mut blog = FakePage::new(104, "ENG", "Release notes", "<p>blog</p>", at(5));
    blog.kind = "blogpost";
    fake.add(blog);
    fake.add(FakePage::new(200, "OPS", "Runbook", "<p>ops</p>", at(6)));
    fake
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn every_index_mode_on_cloud_and_server() {
    for cloud in [true, false] {
        let fake = site(cloud).await;
        // RAGFlow's defaults: pages only (no blog posts), a page without its descendants.
        let pages = load(build(fake.config(json!({}))).as_ref())
            .await
            .unwrap()
            .0;
        assert_eq!(
            titles(&pages),
            set(&["Root", "Child", "Grandchild", "Other", "Runbook"]),
            "cloud={cloud}"
        );
        let everything = load(build(fake.config(json!({"include_blog_posts": true}))).as_ref())
            .await
            .unwrap()
            .0;
        assert_eq!(
            titles(&everything),
            set(&[
                "Root",
                "Child",
                "Grandchild",
                "Other",
                "Release notes",
                "Runbook"
            ]),
            "cloud={cloud}"
        );
        let space =
            load(build(fake.config(json!({"index_mode": "space", "space": "OPS"}))).as_ref())
                .await
                .unwrap()
                .0;
        assert_eq!(titles(&space), set(&["Runbook"]));
        let single =
            load(build(fake.config(json!({"index_mode": "page", "page_id": "101"}))).as_ref())
                .await
                .unwrap()
                .0;
        assert_eq!(titles(&single), set(&["Child"]));
        let tree = load(
            build(fake.config(
                json!({"index_mode": "page", "page_id": "101", "index_recursively": true}),
            ))
            .as_ref(),
        )
        .await
        .unwrap()
        .0;
        assert_eq!(titles(&tree), set(&["Child", "Grandchild"]));
        let no_drafts = load(
            build(fake.config(
                json!({"space": "ENG", "labels_to_skip": ["draft"], "include_blog_posts": true}),
            ))
            .as_ref(),
        )
        .await
        .unwrap()
        .0;
        assert_eq!(
            titles(&no_drafts),
            set(&["Root", "Child", "Other", "Release notes"])
        );

        // Ids are absolute web URLs; metadata as documented.
        let grand = everything.iter().find(|d| d.title == "Grandchild").unwrap();
        assert!(grand.id.starts_with(&fake.base()), "{}", grand.id);
        assert_eq!(
            grand.link.as_ref().map(|l| l.as_str().to_owned()),
            Some(grand.id.clone())
        );
        assert_eq!(grand.updated_at, Some(at(3)));
        assert_eq!(grand.metadata["space"], json!("ENG"));
        assert_eq!(grand.metadata["ancestors"], json!(["Root", "Child"]));
        assert_eq!(grand.metadata["labels"], json!(["draft"]));
        assert_eq!(grand.metadata["author"], json!("Ann Author"));
        assert_eq!(grand.metadata["version"], json!(1));
        assert_eq!(
            grand.owners,
            vec!["ann.author@example.com", "ed.editor@example.com"]
        );
        let blog = everything
            .iter()
            .find(|d| d.title == "Release notes")
            .unwrap();
        assert_eq!(blog.metadata["type"], json!("blogpost"));
        // Every page search asked for at least 50 results with the expansions; comments come
        // from their own search.
        for r in fake.requests().await {
            if r.url.path().ends_with("/content/search") {
                let q: std::collections::HashMap<_, _> = r.url.query_pairs().into_owned().collect();
                if q["cql"].starts_with("type = comment") {
                    continue;
                }
                assert!(q["limit"].parse::<u32>().unwrap() >= 50);
                assert!(q["expand"].contains("body.storage"));
                assert!(!q["expand"].contains("children.comment"));
            }
        }
    }
}

#[tokio::test]
async fn pagination_across_pages_when_server_caps_the_limit() {
    let fake = Fake::start(false).await;
    fake.state.lock().unwrap().max_limit = 20;
    for i in 0..95 {
        fake.add(FakePage::new(
            1000 + i,
            "BIG",
            &format!("Page {i:03}"),
            "<p>x</p>",
            at(i as i64),
        ));
    }
    let c = build(fake.config(json!({"space": "BIG", "batch_size": 2})));
    let (docs, failures) = load(c.as_ref()).await.unwrap();
    assert!(failures.is_empty());
    assert_eq!(
        docs.len(),
        95,
        "every page, none skipped by the server's next links"
    );
    let unique: BTreeSet<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(unique.len(), 95);
    // Each page after the first overlaps the last by 5 results (the offset walk finds them
    // again to know nothing left the set): 20 + 5 × 15 ≥ 95.
    assert_eq!(
        fake.page_searches().await.len(),
        6,
        "1 + ceil((95 - 20) / 15) search requests"
    );

    // Cloud follows its next links (cursor) as given.
    let cloud = Fake::start(true).await;
    cloud.state.lock().unwrap().max_limit = 30;
    for i in 0..70 {
        cloud.add(FakePage::new(
            1000 + i,
            "BIG",
            &format!("Page {i:03}"),
            "<p>x</p>",
            at(i as i64),
        ));
    }
    let (docs, _) = load(build(cloud.config(json!({}))).as_ref()).await.unwrap();
    assert_eq!(docs.len(), 70);
    assert_eq!(cloud.page_searches().await.len(), 3);
}

#[tokio::test]
async fn comments_come_from_one_search_per_result_page() {
    let fake = Fake::start(true).await;
    let mut busy = FakePage::new(1, "ENG", "Busy", "<p>body</p>", at(1));
    busy.comments = (0..5)
        .map(|i| FakeComment {
            id: 500 + i,
            body: format!("<p>comment number {i}</p>"),
            author: "Cat Commenter".into(),
            when: at(2),
            ..Default::default()
        })
        .collect();
    fake.add(busy);
    let mut quiet = FakePage::new(2, "ENG", "Quiet", "<p>body</p>", at(1));
    quiet.comments = vec![FakeComment {
        id: 600,
        body: "<p>only one</p>".into(),
        author: "Dan".into(),
        when: at(2),
        ..Default::default()
    }];
    fake.add(quiet);
    fake.add(FakePage::new(3, "ENG", "Silent", "<p>body</p>", at(1)));
    let (docs, _) = load(build(fake.config(json!({}))).as_ref()).await.unwrap();
    let busy = docs
        .iter()
        .find(|d| d.title == "Busy")
        .unwrap()
        .content
        .as_text()
        .unwrap()
        .to_owned();
    for i in 0..5 {
        assert!(busy.contains(&format!("comment number {i}")), "{busy}");
    }
    assert!(
        busy.contains("## Comments") && busy.contains("**Cat Commenter** (2026-03-02):"),
        "{busy}"
    );
    let quiet = docs
        .iter()
        .find(|d| d.title == "Quiet")
        .unwrap()
        .content
        .as_text()
        .unwrap()
        .to_owned();
    assert!(quiet.contains("only one"));
    assert_eq!(fake.count("/child/comment").await, 0);
    // One page search, one comment search for its three pages.
    let searches: Vec<String> = fake
        .requests()
        .await
        .iter()
        .filter(|r| r.url.path().ends_with("/content/search"))
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "cql")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(searches.len(), 2, "{searches:?}");
    assert_eq!(
        searches[1],
        "type = comment and (container = 1 or container = 2 or container = 3) order by created asc"
    );
}

/// Cloud's `child/comment` and `children.comment` return root comments only (Cloud ignores
/// `depth`), and Server/Data Center's need `depth=all`: replies and replies to replies were
/// never indexed. A CQL search for the pages' comments returns them all, inline comments
/// with the text they are anchored to (`extensions.inlineProperties.originalSelection`).
#[tokio::test]
async fn replies_and_inline_comments_are_indexed_in_their_threads() {
    for cloud in [true, false] {
        let fake = Fake::start(cloud).await;
        let mut page = FakePage::new(
            1,
            "ENG",
            "Design",
            "<p>We deploy stacks of defaults.</p>",
            at(1),
        );
        let comment = |id, body: &str, author: &str, parent, selection: Option<&str>| FakeComment {
            id,
            body: format!("<p>{body}</p>"),
            author: author.into(),
            when: at(2),
            parent,
            selection: selection.map(str::to_owned),
        };
        page.comments = vec![
            comment(501, "Looks good overall.", "Ann", None, None),
            comment(
                502,
                "Which defaults?",
                "Ben",
                None,
                Some("stacks of defaults"),
            ),
            comment(503, "Agreed with Ann.", "Cat", Some(501), None),
            comment(504, "The usual three.", "Dan", Some(502), None),
            comment(505, "Thanks, Dan.", "Ben", Some(504), None),
        ];
        fake.add(page);
        let (docs, failures) = load(build(fake.config(json!({}))).as_ref()).await.unwrap();
        assert!(failures.is_empty(), "{failures:?}");
        let text = docs[0].content.as_text().unwrap();
        let order: Vec<usize> = [
            "**Ann** (2026-03-02):\n\nLooks good overall.",
            "**Cat** (2026-03-02), replying to Ann:\n\nAgreed with Ann.",
            "**Ben** (2026-03-02), on \u{201c}stacks of defaults\u{201d}:\n\nWhich defaults?",
            "**Dan** (2026-03-02), replying to Ben:\n\nThe usual three.",
            "**Ben** (2026-03-02), replying to Dan:\n\nThanks, Dan.",
        ]
        .iter()
        .map(|part| {
            text.find(part)
                .unwrap_or_else(|| panic!("cloud={cloud}: {part:?} in {text}"))
        })
        .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "cloud={cloud}: {text}"
        );
        assert_eq!(fake.count("/child/comment").await, 0);
    }
}

#[tokio::test]
async fn incremental_window_at_minute_boundaries() {
    let fake = Fake::start(true).await;
    let t0 = at(60);
    let seconds = |s: i64| t0 + Duration::milliseconds(s);
    fake.add(FakePage::new(1, "ENG", "before", "<p>a</p>", seconds(-1)));
    fake.add(FakePage::new(2, "ENG", "at start", "<p>a</p>", seconds(0)));
    fake.add(FakePage::new(
        3,
        "ENG",
        "inside",
        "<p>a</p>",
        seconds(59_999),
    ));
    fake.add(FakePage::new(
        4,
        "ENG",
        "at end",
        "<p>a</p>",
        seconds(60_000),
    ));
    fake.add(FakePage::new(
        5,
        "ENG",
        "long after",
        "<p>a</p>",
        seconds(600_000),
    ));
    let c = build(fake.config(json!({})));
    let w = TimeWindow::new(t0, t0 + Duration::minutes(1)).unwrap();
    assert_eq!(
        titles(&poll(c.as_ref(), w).await),
        set(&["at start", "inside"])
    );
    // The query starts a minute early, in the API user's zone (UTC here), and has no end.
    let cql = fake.page_cql().await.pop().unwrap();
    assert!(
        cql.contains(r#"lastmodified >= "2026-03-02 09:59""#),
        "{cql}"
    );
    assert!(!cql.contains("lastmodified <="), "{cql}");
    assert_eq!(fake.count("/user/current").await, 1);

    // An edited page is picked up again, with a new fingerprint.
    let first = poll(c.as_ref(), TimeWindow::new(at(0), at(100)).unwrap()).await;
    let old = first.iter().find(|d| d.title == "inside").unwrap().clone();
    {
        let mut st = fake.state.lock().unwrap();
        let p = st.pages.iter_mut().find(|p| p.id == 3).unwrap();
        p.version = 2;
        p.when = at(200);
        p.body = "<p>edited</p>".into();
    }
    let later = poll(c.as_ref(), TimeWindow::new(at(150), at(250)).unwrap()).await;
    let new = later.iter().find(|d| d.title == "inside").unwrap();
    assert_eq!(new.id, old.id);
    assert_ne!(new.fingerprint, old.fingerprint);
    assert_eq!(new.content.as_text(), Some("edited"));
}

/// CQL reads dates in the zone of the user who searches, not in the site's default zone
/// (Atlassian's CQL field reference: "relative to your configured time zone"). A site on UTC
/// whose API user is in New York (UTC−5 in March) reads `10:00` as 15:00 UTC: a window start
/// written in the site's zone would leave out every edit of the first five hours.
#[tokio::test]
async fn cql_dates_are_written_in_the_api_users_zone() {
    let fake = Fake::start(true).await;
    fake.state.lock().unwrap().user_zone = Some(("America/New_York".into(), -5));
    fake.add(FakePage::new(1, "ENG", "edited", "<p>a</p>", at(90)));
    fake.add(FakePage::new(2, "ENG", "older", "<p>a</p>", at(0)));
    let c = build(fake.config(json!({})));
    let docs = poll(c.as_ref(), TimeWindow::new(at(60), at(120)).unwrap()).await;
    assert_eq!(titles(&docs), set(&["edited"]));
    let cql = fake.page_cql().await.remove(0);
    // 10:00 UTC is 05:00 in New York; a minute earlier.
    assert!(
        cql.contains(r#"lastmodified >= "2026-03-02 04:59""#),
        "{cql}"
    );
    assert_eq!(fake.count("/user/current").await, 1);
    // The site's zone (UTC) is read too: New York is the more western of the two.
    assert_eq!(fake.count("/settings/systemInfo").await, 1);

    // A user whose zone is hidden: the start moves 14 hours earlier, the filter stays exact.
    let hidden = Fake::start(true).await;
    hidden.state.lock().unwrap().user_zone = None;
    hidden.add(FakePage::new(1, "ENG", "edited", "<p>a</p>", at(90)));
    hidden.add(FakePage::new(2, "ENG", "older", "<p>a</p>", at(0)));
    let docs = poll(
        build(hidden.config(json!({}))).as_ref(),
        TimeWindow::new(at(60), at(120)).unwrap(),
    )
    .await;
    assert_eq!(titles(&docs), set(&["edited"]));
}

/// Atlassian's CONFCLOUD-70966: Cloud's content search reads CQL dates in the *site's* default
/// zone, while the CQL field reference says the user's. Where the two disagree, the start is
/// written in the more western one, so that neither reading is later than the window's start.
/// Here the API user is in Berlin (UTC+1) and the site in Los Angeles (UTC−8 in early March):
/// a start written in Berlin's zone (`10:59` for 10:00 UTC) read in Los Angeles' is 18:59 UTC,
/// and the edit at 10:30 UTC would be lost.
#[tokio::test]
async fn cql_dates_hold_whichever_of_the_users_and_the_sites_zone_the_search_reads() {
    for (user, site, reads) in [
        // The search reads the site's zone (CONFCLOUD-70966), west of the user's.
        (("Europe/Berlin", 1), ("America/Los_Angeles", -8), -8),
        // The search reads the user's zone (the CQL reference), west of the site's.
        (("America/Los_Angeles", -8), ("Europe/Berlin", 1), -8),
        // The search reads the site's zone, east of the user's.
        (("America/Los_Angeles", -8), ("Europe/Berlin", 1), 1),
    ] {
        let fake = Fake::start(true).await;
        {
            let mut st = fake.state.lock().unwrap();
            st.user_zone = Some((user.0.into(), user.1));
            st.site_zone = site.0.into();
            st.cql_offset = Some(reads);
        }
        fake.add(FakePage::new(1, "ENG", "edited", "<p>a</p>", at(90)));
        fake.add(FakePage::new(2, "ENG", "older", "<p>a</p>", at(0)));
        let c = build(fake.config(json!({})));
        let docs = poll(c.as_ref(), TimeWindow::new(at(60), at(120)).unwrap()).await;
        assert_eq!(titles(&docs), set(&["edited"]), "{user:?} {site:?} {reads}");
        // 10:00 UTC is 02:00 in Los Angeles; a minute earlier.
        let cql = fake.page_cql().await.remove(0);
        assert!(
            cql.contains(r#"lastmodified >= "2026-03-02 01:59""#),
            "{cql}"
        );
        assert_eq!(fake.count("/settings/systemInfo").await, 1);
    }

    // A configured `timezone_offset` stands for the user's zone; the site's is still read.
    let fake = Fake::start(true).await;
    {
        let mut st = fake.state.lock().unwrap();
        st.site_zone = "America/Los_Angeles".into();
        st.cql_offset = Some(-8);
    }
    fake.add(FakePage::new(1, "ENG", "edited", "<p>a</p>", at(90)));
    let c = build(fake.config(json!({"timezone_offset": 1})));
    let docs = poll(c.as_ref(), TimeWindow::new(at(60), at(120)).unwrap()).await;
    assert_eq!(titles(&docs), set(&["edited"]));
    assert_eq!(fake.count("/user/current").await, 0);

    // A site whose default zone is not reported: 14 hours early.
    let fake = Fake::start(true).await;
    {
        let mut st = fake.state.lock().unwrap();
        st.user_zone = Some(("Europe/Berlin".into(), 1));
        st.site_zone = String::new();
        st.cql_offset = Some(-8);
    }
    fake.add(FakePage::new(1, "ENG", "edited", "<p>a</p>", at(90)));
    let c = build(fake.config(json!({})));
    let docs = poll(c.as_ref(), TimeWindow::new(at(60), at(120)).unwrap()).await;
    assert_eq!(titles(&docs), set(&["edited"]));
    let cql = fake.page_cql().await.remove(0);
    assert!(
        cql.contains(r#"lastmodified >= "2026-03-01 19:59""#),
        "{cql}"
    );
}

/// Server/Data Center pages search results by offset. With an upper bound on the window, a
/// page edited while the sync reads leaves the result set and every later result moves back
/// by one: the next offset then skips a page that was never edited, and no later run sees it.
#[tokio::test]
async fn a_page_edited_mid_sync_does_not_make_offset_paging_skip_another() {
    let fake = Fake::start(false).await;
    fake.state.lock().unwrap().max_limit = 2;
    for i in 1..=4u64 {
        fake.add(FakePage::new(
            i,
            "ENG",
            &format!("P{i}"),
            "<p>x</p>",
            at(60 + i as i64),
        ));
    }
    // While the sync reads the first page of results, P1 is edited again (after the window).
    fake.state.lock().unwrap().edit_after_first_page = Some((1, at(200)));
    let c = build(fake.config(json!({})));
    let docs = poll(c.as_ref(), TimeWindow::new(at(60), at(120)).unwrap()).await;
    // P1 came with the first page (its new version comes in the next run); P3 is not skipped.
    assert_eq!(titles(&docs), set(&["P1", "P2", "P3", "P4"]));
}

/// Server/Data Center pages by offset (`start`). A page deleted (or moved out of scope, or
/// restricted) while the sync reads moves every later result one place forward: a plain
/// offset then skips the result that moved onto it, for good, and prune, trusting the
/// listing, deletes it. Core's `OffsetWalk` asks each page overlapping the last one and steps
/// back when it cannot find the last one's ids: every page still there is delivered and
/// listed, and so is every attachment of a page whose attachments are paged.
#[tokio::test]
async fn a_page_leaving_the_results_mid_walk_is_not_skipped_by_offset_paging() {
    let fake = Fake::start(false).await;
    fake.state.lock().unwrap().max_limit = 2;
    for i in 1..=6u64 {
        fake.add(FakePage::new(
            i,
            "ENG",
            &format!("P{i}"),
            "<p>x</p>",
            at(i as i64),
        ));
    }
    // After the first page of results [P1, P2], P1 is deleted: P3 moves to offset 1.
    fake.state.lock().unwrap().delete_after_first_page = Some(1);
    let c = build(fake.config(json!({})));
    let (docs, failures) = load(c.as_ref()).await.unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(titles(&docs), set(&["P1", "P2", "P3", "P4", "P5", "P6"]));

    // The listing prune trusts: P2 leaves after the first page; P3 to P6 are all listed.
    fake.state.lock().unwrap().delete_after_first_page = Some(2);
    let listed: BTreeSet<String> = c
        .as_slim()
        .unwrap()
        .list_ids(SyncContext::new())
        .map_ok(|page| {
            page.into_iter()
                .map(|s: SlimDocument| s.id)
                .collect::<Vec<_>>()
        })
        .try_concat()
        .await
        .unwrap()
        .into_iter()
        .collect();
    for d in docs
        .iter()
        .filter(|d| !["P1", "P2"].contains(&d.title.as_str()))
    {
        assert!(
            listed.contains(&d.id),
            "{} missing from {listed:?}",
            d.title
        );
    }

    // A page's attachments past the embedded ones, paged by offset too: one of the first
    // ones is deleted after the first page of them.
    let fake = Fake::start(false).await;
    let mut page = FakePage::new(9, "ENG", "Files", "<p>x</p>", at(1));
    page.attachments = (1..=5u64)
        .map(|id| FakeAttachment {
            id,
            title: format!("f{id}.txt"),
            media_type: "text/plain".into(),
            data: b"x".to_vec(),
            ..Default::default()
        })
        .collect();
    fake.add(page);
    {
        let mut st = fake.state.lock().unwrap();
        st.max_limit = 2;
        st.embedded_attachments = Some(2);
        st.delete_attachment_after_first_child_page = Some(1);
    }
    let (docs, _) = load(build(fake.config(json!({}))).as_ref()).await.unwrap();
    let files: BTreeSet<String> = docs
        .iter()
        .filter(|d| d.parent_id.is_some())
        .map(|d| d.title.clone())
        .collect();
    // f1 was deleted before its download; f2 to f5 are all there.
    assert_eq!(files, set(&["f2.txt", "f3.txt", "f4.txt", "f5.txt"]));
}

/// `includeArchivedSpaces` is a parameter of Server/Data Center's content search; Cloud's
/// content search has none (Atlassian's reference lists `cql`, `cqlcontext`, `cursor`,
/// `limit`, `expand`) and leaves archived spaces out, so the schema says so and Cloud is not
/// sent it. Without `include_archived` a result of an archived space is left out even when a
/// server returns it.
#[tokio::test]
async fn archived_spaces_as_each_edition_searches_them() {
    for cloud in [true, false] {
        let fake = Fake::start(cloud).await;
        fake.add(FakePage::new(1, "ENG", "Live", "<p>a</p>", at(1)));
        fake.add(FakePage::new(2, "OLD", "Old", "<p>a</p>", at(2)));
        fake.state.lock().unwrap().archived_spaces = vec!["OLD".into()];
        let (docs, _) = load(build(fake.config(json!({}))).as_ref()).await.unwrap();
        assert_eq!(titles(&docs), set(&["Live"]), "cloud={cloud}");
        let (docs, _) = load(build(fake.config(json!({"include_archived": true}))).as_ref())
            .await
            .unwrap();
        let want = if cloud {
            set(&["Live"])
        } else {
            set(&["Live", "Old"])
        };
        assert_eq!(titles(&docs), want, "cloud={cloud}");
        let asked = fake
            .requests()
            .await
            .iter()
            .filter(|r| {
                r.url
                    .query_pairs()
                    .any(|(k, _)| k == "includeArchivedSpaces")
            })
            .count();
        assert_eq!(asked > 0, !cloud, "cloud={cloud}");

        // A server that returns archived content anyway: left out unless asked for.
        fake.state.lock().unwrap().archived_always = true;
        let (docs, _) = load(build(fake.config(json!({}))).as_ref()).await.unwrap();
        if !cloud {
            assert_eq!(titles(&docs), set(&["Live"]));
        }
    }
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    let schema = registry.schema("confluence").unwrap();
    let said = schema["properties"]["include_archived"]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(said.contains("On Cloud it has no effect"), "{said}");
}

/// With `include_archived` on Data Center, the comment search and an incremental run's
/// search for changed comments must also ask for archived spaces (`includeArchivedSpaces`),
/// or the pages of an archived space lose their comments and a new comment there is missed.
#[tokio::test]
async fn archived_spaces_keep_their_comments_on_data_center() {
    let fake = Fake::start(false).await;
    let mut old = FakePage::new(2, "OLD", "Old", "<p>a</p>", at(2));
    old.comments = vec![FakeComment {
        id: 201,
        body: "<p>archived remark</p>".into(),
        author: "Cat".into(),
        when: at(90),
        ..Default::default()
    }];
    fake.add(old);
    fake.state.lock().unwrap().archived_spaces = vec!["OLD".into()];
    let c = build(fake.config(json!({"include_archived": true})));
    let (docs, _) = load(c.as_ref()).await.unwrap();
    let text = docs[0].content.as_text().unwrap_or_default().to_owned();
    assert!(text.contains("archived remark"), "{text}");
    // Only the comment changed in the window: the second pass finds its page.
    let docs = poll(c.as_ref(), TimeWindow::new(at(60), at(120)).unwrap()).await;
    assert_eq!(titles(&docs), set(&["Old"]));
}

/// The page search selects pages by their own `lastmodified`, which a new comment or a new
/// attachment version does not change: an incremental run never delivered a page whose only
/// change was a new reply. The second pass searches comments and attachments changed in the
/// window (CQL `lastmodified` applies to every content type) and delivers their pages.
#[tokio::test]
async fn an_incremental_run_delivers_a_page_whose_only_change_is_a_new_comment() {
    for cloud in [true, false] {
        let fake = Fake::start(cloud).await;
        let mut talk = FakePage::new(1, "ENG", "Talk", "<p>body</p>", at(1));
        talk.comments = vec![FakeComment {
            id: 501,
            body: "<p>first</p>".into(),
            author: "Ann".into(),
            when: at(1),
            ..Default::default()
        }];
        fake.add(talk);
        fake.add(FakePage::new(2, "ENG", "Quiet", "<p>body</p>", at(2)));
        let mut files = FakePage::new(3, "ENG", "Files", "<p>body</p>", at(3));
        files.attachments = vec![FakeAttachment {
            id: 31,
            title: "plan.pdf".into(),
            media_type: "application/pdf".into(),
            data: b"%PDF-1.7 v1".to_vec(),
            when: Some(at(3)),
            ..Default::default()
        }];
        fake.add(files);
        let mut elsewhere = FakePage::new(4, "OPS", "Elsewhere", "<p>body</p>", at(4));
        elsewhere.comments = vec![FakeComment {
            id: 601,
            body: "<p>out of scope</p>".into(),
            author: "Ann".into(),
            when: at(90),
            ..Default::default()
        }];
        fake.add(elsewhere);
        let c = build(fake.config(json!({"index_mode": "space", "space": "ENG"})));
        let first = poll(c.as_ref(), TimeWindow::new(at(0), at(60)).unwrap()).await;
        assert_eq!(
            titles(&first),
            set(&["Talk", "Quiet", "Files", "plan.pdf"]),
            "cloud={cloud}"
        );

        // Nothing is edited; a reply and a new attachment version come in the window, and a
        // comment on Quiet after it.
        {
            let mut st = fake.state.lock().unwrap();
            st.pages[0].comments.push(FakeComment {
                id: 502,
                body: "<p>a new reply</p>".into(),
                author: "Ben".into(),
                when: at(90),
                parent: Some(501),
                ..Default::default()
            });
            let att = &mut st.pages[2].attachments[0];
            att.data = b"%PDF-1.7 v2".to_vec();
            att.version = 2;
            att.when = Some(at(95));
            st.pages[1].comments.push(FakeComment {
                id: 503,
                body: "<p>too late</p>".into(),
                author: "Cat".into(),
                when: at(130),
                ..Default::default()
            });
        }
        let next = poll(c.as_ref(), TimeWindow::new(at(60), at(120)).unwrap()).await;
        assert_eq!(
            titles(&next),
            set(&["Talk", "Files", "plan.pdf"]),
            "cloud={cloud}"
        );
        let talk = next.iter().find(|d| d.title == "Talk").unwrap();
        assert!(
            talk.content
                .as_text()
                .unwrap()
                .contains("**Ben** (2026-03-02), replying to Ann:\n\na new reply"),
            "{:?}",
            talk.content
        );
        let old = first.iter().find(|d| d.title == "Talk").unwrap();
        assert_eq!(talk.id, old.id);
        assert_ne!(talk.fingerprint, old.fingerprint);
        let pdf = next.iter().find(|d| d.title == "plan.pdf").unwrap();
        assert_eq!(pdf.content.as_bytes(), b"%PDF-1.7 v2");
    }
}

/// Cloud's web URL of a page holds its space and its title, so RAGFlow's URL ids change when
/// a page is renamed or moved: the next run delivers a new document and the old one lingers
/// until a prune. Under `id_scheme: content_id` the id is Confluence's content id, and a
/// rename and a move are an update of the same document; links stay web URLs.
#[tokio::test]
async fn a_renamed_and_moved_page_keeps_its_content_id() {
    for (scheme, stable) in [("ragflow_url", false), ("content_id", true)] {
        let fake = Fake::start(true).await;
        let mut page = FakePage::new(7, "ENG", "Old title", "<p>v1</p>", at(1));
        page.attachments = vec![FakeAttachment {
            id: 71,
            title: "spec.pdf".into(),
            media_type: "application/pdf".into(),
            data: b"%PDF".to_vec(),
            ..Default::default()
        }];
        fake.add(page);
        let c = build(fake.config(json!({"id_scheme": scheme})));
        let (before, _) = load(c.as_ref()).await.unwrap();
        {
            let mut st = fake.state.lock().unwrap();
            let p = &mut st.pages[0];
            p.title = "New title".into();
            p.space = "OPS".into();
            p.version = 2;
            p.when = at(5);
        }
        let (after, failures) = load(c.as_ref()).await.unwrap();
        assert!(failures.is_empty(), "{failures:?}");
        let (old, new) = (&before[0], &after[0]);
        assert_eq!(
            old.id == new.id,
            stable,
            "{scheme}: {} vs {}",
            old.id,
            new.id
        );
        assert_ne!(old.fingerprint, new.fingerprint);
        assert_eq!(
            new.link.as_ref().map(|l| l.to_string()),
            Some(format!("{}/spaces/OPS/pages/7/New+title", fake.base()))
        );
        assert_eq!(after[1].parent_id.as_deref(), Some(new.id.as_str()));
        if stable {
            let site = fake.base().replace("http://", "");
            assert_eq!(new.id, format!("confluence:{site}/page/7"));
            assert_eq!(after[1].id, format!("confluence:{site}/attachment/att71"));
        }
    }
}

#[tokio::test]
async fn attachments_as_documents_with_caps_before_download() {
    let fake = Fake::start(true).await;
    let mut page = FakePage::new(7, "ENG", "Specs", "<p>see files</p>", at(1));
    let att = |id, title: &str, media: &str, data: &[u8], reported: Option<u64>| FakeAttachment {
        id,
        title: title.into(),
        media_type: media.into(),
        data: data.to_vec(),
        reported_size: reported,
        ..Default::default()
    };
    page.attachments = vec![
        att(1, "spec.pdf", "application/pdf", b"%PDF-1.7 small", None),
        att(
            2,
            "huge.pdf",
            "application/pdf",
            b"%PDF",
            Some(50 * 1024 * 1024),
        ),
        att(3, "diagram.png", "image/png", b"\x89PNG", None),
        att(4, "tool.exe", "application/octet-stream", b"MZ", None),
    ];
    fake.add(page);
    let cfg = json!({"include_images": false, "attachment_size_limit": 1_048_576});
    let (docs, failures) = load(build(fake.config(cfg.clone())).as_ref())
        .await
        .unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    let page_id = docs.iter().find(|d| d.title == "Specs").unwrap().id.clone();
    let files: Vec<&Document> = docs.iter().filter(|d| d.parent_id.is_some()).collect();
    assert_eq!(
        files.iter().map(|d| d.title.as_str()).collect::<Vec<_>>(),
        ["spec.pdf"]
    );
    assert_eq!(files[0].parent_id.as_deref(), Some(page_id.as_str()));
    assert_eq!(files[0].content.as_bytes(), b"%PDF-1.7 small");
    assert_eq!(
        fake.count("/download/attachments/7/huge.pdf").await,
        0,
        "no download over the cap"
    );
    assert_eq!(fake.count("/download/").await, 1);

    // Images are taken by default, as in RAGFlow.
    let mut with_images = cfg.clone();
    with_images
        .as_object_mut()
        .unwrap()
        .remove("include_images");
    let c = build(fake.config(with_images));
    let (docs, _) = load(c.as_ref()).await.unwrap();
    let names: BTreeSet<String> = docs
        .iter()
        .filter(|d| d.parent_id.is_some())
        .map(|d| d.title.clone())
        .collect();
    assert_eq!(names, set(&["spec.pdf", "diagram.png"]));

    // list_ids lists pages and the attachments a load takes.
    let listed: BTreeSet<String> = c
        .as_slim()
        .unwrap()
        .list_ids(SyncContext::new())
        .map_ok(|page| {
            page.into_iter()
                .map(|s: SlimDocument| s.id)
                .collect::<Vec<_>>()
        })
        .try_concat()
        .await
        .unwrap()
        .into_iter()
        .collect();
    let loaded: BTreeSet<String> = docs.iter().map(|d| d.id.clone()).collect();
    assert_eq!(listed, loaded);
    assert_eq!(listed.len(), 3);
}

/// RAGFlow's Confluence connectors (Python's `is_accepted_file_ext`, Go's lists) take text
/// attachments this connector used to skip: `.mdx .conf .log .yml .yaml .sql`.
#[tokio::test]
async fn attachments_with_ragflows_text_extensions_are_taken() {
    let fake = Fake::start(true).await;
    let mut page = FakePage::new(7, "ENG", "Ops", "<p>files</p>", at(1));
    let names = [
        "intro.mdx",
        "nginx.conf",
        "app.log",
        "ci.yml",
        "values.yaml",
        "schema.sql",
        "tool.exe",
    ];
    page.attachments = names
        .iter()
        .zip(1u64..)
        .map(|(name, id)| FakeAttachment {
            id,
            title: (*name).into(),
            media_type: "text/plain".into(),
            data: b"text".to_vec(),
            ..Default::default()
        })
        .collect();
    fake.add(page);
    let (docs, failures) = load(build(fake.config(json!({}))).as_ref()).await.unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    let taken: BTreeSet<String> = docs
        .iter()
        .filter(|d| d.parent_id.is_some())
        .map(|d| d.title.clone())
        .collect();
    assert_eq!(taken, set(&names[..6]));
}

#[tokio::test]
async fn rate_limit_is_waited_out() {
    let fake = site(true).await;
    Mock::given(method("GET"))
        .and(path_regex("/content/search$"))
        .respond_with(error(429, "Rate limit exceeded").insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let started = std::time::Instant::now();
    let (docs, _) = load(build(fake.config(json!({}))).as_ref()).await.unwrap();
    assert_eq!(docs.len(), 5);
    assert_eq!(fake.page_searches().await.len(), 2);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(900),
        "Retry-After was honoured"
    );
}

#[tokio::test]
async fn server_error_then_success() {
    let fake = site(false).await;
    Mock::given(method("GET"))
        .and(path_regex("/content/search$"))
        .respond_with(error(500, "Internal server error"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let (docs, _) = load(build(fake.config(json!({}))).as_ref()).await.unwrap();
    assert_eq!(docs.len(), 5);
    assert_eq!(fake.page_searches().await.len(), 2);
}

/// Atlassian's search renders every expansion of every result in one response; a page of
/// large bodies can time out at the gateway (504) however often it is asked. Then the same
/// page is asked for with half the `limit`, and the walk goes on at that size.
#[tokio::test]
async fn a_search_page_that_keeps_timing_out_is_asked_for_in_smaller_pieces() {
    for cloud in [true, false] {
        let fake = Fake::start(cloud).await;
        for i in 0..60u64 {
            fake.add(FakePage::new(
                1000 + i,
                "BIG",
                &format!("Page {i:02}"),
                "<p>x</p>",
                at(i as i64),
            ));
        }
        Mock::given(method("GET"))
            .and(path_regex("/content/search$"))
            .and(query_param("limit", "50"))
            .respond_with(error(504, "Gateway Timeout"))
            .with_priority(1)
            .mount(&fake.server)
            .await;
        let (docs, failures) = load(build(fake.config(json!({}))).as_ref()).await.unwrap();
        assert!(failures.is_empty(), "{failures:?}");
        assert_eq!(docs.len(), 60, "cloud={cloud}");
        let limits: Vec<String> = fake
            .page_searches()
            .await
            .into_iter()
            .filter_map(|mut q| q.remove("limit"))
            .filter(|l| l != "50")
            .collect();
        assert_eq!(limits, ["25", "25", "25"], "cloud={cloud}");
    }
}

/// A search page whose response is larger than core's body cap (64 MiB: large bodies and
/// expansions) fails the same way however often it is asked; like a page that times out, it
/// is asked for with half the `limit`, not left to end every run.
#[tokio::test]
async fn a_search_page_over_the_body_cap_is_asked_for_in_smaller_pieces() {
    let fake = Fake::start(true).await;
    for i in 0..60u64 {
        fake.add(FakePage::new(
            1000 + i,
            "BIG",
            &format!("Page {i:02}"),
            "<p>x</p>",
            at(i as i64),
        ));
    }
    let huge = vec![b' '; 64 * 1024 * 1024 + 1];
    Mock::given(method("GET"))
        .and(path_regex("/content/search$"))
        .and(query_param("limit", "50"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(huge, "application/json"))
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let (docs, failures) = load(build(fake.config(json!({}))).as_ref()).await.unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(docs.len(), 60);
    let limits: Vec<String> = fake
        .page_searches()
        .await
        .into_iter()
        .filter_map(|mut q| q.remove("limit"))
        .filter(|l| l != "50")
        .collect();
    assert_eq!(limits, ["25", "25", "25"]);
}

#[tokio::test]
async fn wrong_credentials_fail_fast() {
    let fake = site(true).await;
    let mut cfg = fake.config(json!({}));
    cfg["credentials"]["confluence_access_token"] = json!("wrong-token-123");
    let c = build(cfg);
    let err = load(c.as_ref()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.field(), Some("credentials.confluence_access_token"));
    assert_eq!(fake.requests().await.len(), 1, "no retry on 401");
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert!(!format!("{err:?} {err}").contains("wrong-token-123"));
}

#[tokio::test]
async fn forbidden_space_stops_with_permission_denied() {
    let fake = site(false).await;
    fake.state
        .lock()
        .unwrap()
        .forbidden_spaces
        .push("OPS".into());
    let c = build(fake.config(json!({"index_mode": "space", "space": "OPS"})));
    let err = load(c.as_ref()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(fake.count("/content/search").await, 1, "no retry on 403");
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert_eq!(err.field(), Some("space"));
    // Another space with the same credentials is fine.
    let ok = build(fake.config(json!({"index_mode": "space", "space": "ENG"})));
    ok.check().await.unwrap();
    assert_eq!(load(ok.as_ref()).await.unwrap().0.len(), 4);
    // A space that does not exist.
    let err = build(fake.config(json!({"space": "NOPE"})))
        .check()
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::NotFound, Some("space"))
    );
}

#[tokio::test]
async fn check_tells_a_wrong_wiki_base_apart() {
    let fake = site(true).await;
    build(fake.config(json!({}))).check().await.unwrap();
    let mut cfg = fake.config(json!({}));
    cfg["wiki_base"] = json!(format!("{}/not-confluence", fake.server.uri()));
    let err = build(cfg).check().await.unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::NotFound, Some("wiki_base")),
        "{err}"
    );
    let mut cfg = fake.config(json!({}));
    cfg["wiki_base"] = json!("http://127.0.0.1:9/wiki");
    let err = build(cfg).check().await.unwrap_err();
    assert_eq!(
        (err.kind(), err.field()),
        (ErrorKind::Unavailable, Some("wiki_base")),
        "{err}"
    );
}

#[tokio::test]
async fn scoped_tokens_go_through_the_gateway() {
    let fake = site(true).await;
    let cfg = fake.config(json!({
        "cloud_id": "0f1e2d3c-aaaa-bbbb-cccc-123456789abc",
        "api_gateway": fake.server.uri(),
        "space": "OPS",
    }));
    let (docs, _) = load(build(cfg).as_ref()).await.unwrap();
    assert_eq!(titles(&docs), set(&["Runbook"]));
    // Ids stay the site's web URLs.
    assert!(docs[0].id.starts_with(&fake.base()));
    let searched = fake.requests().await;
    assert!(searched.iter().all(|r| {
        r.url
            .path()
            .starts_with("/ex/confluence/0f1e2d3c-aaaa-bbbb-cccc-123456789abc/wiki/rest/api/")
    }));
}

/// Confluence can hold storage format that is not well-formed (imports, API writes): such a
/// page used to be a failure on every run. It is read anyway (as a browser reads broken
/// HTML, else as its text), indexed with a warning and flagged `storage_fallback`; only a
/// body with nothing left in it is still a failure, and the sync goes on past it.
#[tokio::test]
async fn malformed_storage_is_indexed_by_a_fallback_and_flagged() {
    let fake = site(true).await;
    fake.add(FakePage::new(
        150,
        "ENG",
        "Broken",
        "<p>open <b>never closed</p><p>and a stray &amp; kept</p>",
        at(7),
    ));
    fake.add(FakePage::new(
        151,
        "ENG",
        "Broken tag",
        "<p class=\"x>Lost quote</p><ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[let a = b < c;]]></ac:plain-text-body></ac:structured-macro>",
        at(8),
    ));
    fake.add(FakePage::new(
        152,
        "ENG",
        "Empty and broken",
        "<p> <b></p>",
        at(9),
    ));
    let (docs, failures) = load(build(fake.config(json!({}))).as_ref()).await.unwrap();
    assert_eq!(
        docs.len(),
        7,
        "{:?}",
        docs.iter().map(|d| &d.title).collect::<Vec<_>>()
    );
    let doc = |title: &str| docs.iter().find(|d| d.title == title).unwrap();

    let broken = doc("Broken");
    let text = broken.content.as_text().unwrap();
    assert!(text.contains("open **never closed**"), "{text}");
    assert!(text.contains("and a stray & kept"), "{text}");
    assert_eq!(broken.metadata["storage_fallback"], json!(true));
    assert_eq!(broken.metadata["storage_fallback_mode"], json!("lenient"));

    let tag = doc("Broken tag");
    let text = tag.content.as_text().unwrap();
    assert!(text.contains("let a = b < c;"), "{text}");
    assert_eq!(tag.metadata["storage_fallback_mode"], json!("text"));

    // Well-formed pages carry no flag.
    assert!(
        docs.iter()
            .filter(|d| !d.title.starts_with("Broken"))
            .all(|d| !d.metadata.contains_key("storage_fallback"))
    );

    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].message.contains("Empty and broken")
            && failures[0]
                .id
                .as_deref()
                .is_some_and(|id| id.contains("152")),
        "{failures:?}"
    );
}

#[test]
fn config_problems_are_listed_by_path() {
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    let err = registry
        .build(
            "confluence",
            json!({
                "wiki_base": "ftp://example.com",
                "index_mode": "space",
                "labels_to_skip": ["a\"b"],
                "credentials": {"confluence_access_token": "t"},
            }),
        )
        .err()
        .unwrap();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    for p in [
        "wiki_base",
        "space",
        "labels_to_skip[0]",
        "credentials.confluence_username",
    ] {
        assert!(paths.contains(&p), "{p} missing: {err}");
    }
    // A token left blank is a required field missing, said so.
    let err = registry
        .build(
            "confluence",
            json!({
                "wiki_base": "https://x.atlassian.net/wiki",
                "credentials": {"confluence_username": "a@b.c", "confluence_access_token": " "},
            }),
        )
        .err()
        .unwrap();
    assert_eq!(err.problems().len(), 1, "{err}");
    assert_eq!(
        err.problems()[0].path,
        "credentials.confluence_access_token",
        "{err}"
    );
    assert!(err.to_string().contains("empty"), "{err}");
    // An unknown field and what `validate` finds, in one error.
    let err = registry
        .build("confluence", json!({"wiki_base": "ftp://x.atlassian.net", "index_mode": "page", "credentials": {"confluence_access_token": "t"}, "extra": 1}))
        .err()
        .unwrap();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert!(
        paths.contains(&"extra") && paths.contains(&"wiki_base"),
        "{err}"
    );
    let schema = registry.schema("confluence").unwrap();
    assert!(schema["properties"]["wiki_base"].is_object());
    // RAGFlow's config as it is.
    let c = registry
        .build(
            "confluence",
            json!({
                "wiki_base": "https://x.atlassian.net/wiki", "is_cloud": true, "index_mode": "everything",
                "space": "", "page_id": "", "index_recursively": true, "batch_size": 2,
                "credentials": {"confluence_username": "a@b.c", "confluence_access_token": "sekrit-token"},
            }),
        )
        .unwrap();
    let shown = format!("{c:?} {c}");
    assert!(!shown.contains("sekrit-token"), "{shown}");
    assert_eq!(c.to_string(), "confluence:https://x.atlassian.net/wiki");
}

/// Data Center personal spaces are keyed by `~` and the user name, which may hold dots, `@`
/// and other signs (`~john.doe`, `~j@corp`): accepted after a leading `~` (anything but
/// whitespace and `"`), and written quoted in the CQL. Other keys stay letters and digits.
#[tokio::test]
async fn data_center_personal_space_keys_are_accepted_and_quoted() {
    for key in ["~john.doe", "~j@corp", "~jörg+x"] {
        let fake = Fake::start(false).await;
        fake.add(FakePage::new(1, key, "Mine", "<p>a</p>", at(1)));
        fake.add(FakePage::new(2, "ENG", "Other", "<p>a</p>", at(2)));
        let cfg = fake.config(json!({"index_mode": "space", "space": key}));
        let (docs, _) = load(build(cfg).as_ref()).await.unwrap();
        assert_eq!(titles(&docs), BTreeSet::from(["Mine".to_owned()]), "{key}");
        let searches = fake.page_searches().await;
        assert!(
            searches[0]["cql"].starts_with(&format!("space = \"{key}\" and ")),
            "{searches:?}"
        );
    }
    let fake = Fake::start(false).await;
    for bad in ["~john doe", "~j\"x", "~", "EN.G", "j@corp"] {
        let cfg = fake.config(json!({"index_mode": "space", "space": bad}));
        let mut registry = Registry::new();
        connector_confluence::register(&mut registry);
        let err = registry
            .build("confluence", cfg)
            .err()
            .unwrap_or_else(|| panic!("{bad}"));
        assert!(format!("{err}").contains("space"), "{bad}: {err}");
    }
}

/// An attachment deleted between the listing and its download answers 404 (410 on some
/// proxies): it is skipped with a warning, not a failure that would hold the incremental
/// window's start back on every run.
#[tokio::test]
async fn an_attachment_gone_before_its_download_is_skipped() {
    for status in [404u16, 410] {
        let fake = Fake::start(true).await;
        let mut page = FakePage::new(1, "ENG", "Files", "<p>a</p>", at(1));
        page.attachments = vec![
            FakeAttachment {
                id: 11,
                title: "gone.pdf".into(),
                media_type: "application/pdf".into(),
                data: b"%PDF-1.4".to_vec(),
                ..Default::default()
            },
            FakeAttachment {
                id: 12,
                title: "kept.txt".into(),
                media_type: "text/plain".into(),
                data: b"kept".to_vec(),
                ..Default::default()
            },
        ];
        fake.add(page);
        Mock::given(method("GET"))
            .and(path_regex("gone\\.pdf$"))
            .respond_with(error(status, "Attachment not found"))
            .with_priority(1)
            .mount(&fake.server)
            .await;
        let cfg = fake.config(json!({"include_attachments": true}));
        let (docs, failures) = load(build(cfg).as_ref()).await.unwrap();
        assert!(failures.is_empty(), "{status}: {failures:?}");
        assert_eq!(titles(&docs), set(&["Files", "kept.txt"]), "{status}");
    }
}

/// Core's refetch role: the batch loop fetches the items that failed last time by id. Pages
/// (under either id scheme) and attachments (by the page id in their URL, or by a lookup of
/// their page under `content_id`) come back whatever the store holds, and only the ids
/// asked for; an id whose page is gone yields nothing.
#[tokio::test]
async fn items_are_fetched_again_by_id() {
    for scheme in ["ragflow_url", "content_id"] {
        let fake = Fake::start(true).await;
        let mut page = FakePage::new(1, "ENG", "Files", "<p>a</p>", at(1));
        page.attachments = vec![FakeAttachment {
            id: 12,
            title: "kept.txt".into(),
            media_type: "text/plain".into(),
            data: b"kept".to_vec(),
            ..Default::default()
        }];
        fake.add(page);
        fake.add(FakePage::new(2, "ENG", "Other", "<p>b</p>", at(2)));
        fake.add(FakePage::new(3, "ENG", "Doomed", "<p>c</p>", at(3)));
        let c = build(fake.config(json!({"include_attachments": true, "id_scheme": scheme})));
        let (docs, _) = load(c.as_ref()).await.unwrap();
        let id_of = |t: &str| docs.iter().find(|d| d.title == t).unwrap().id.clone();
        let wanted = vec![id_of("kept.txt"), id_of("Other"), id_of("Doomed")];
        fake.state.lock().unwrap().pages.retain(|p| p.id != 3);
        let refetch = c.as_refetch().expect("the refetch role");
        let batches: Vec<_> = refetch
            .fetch(wanted, SyncContext::new())
            .try_collect()
            .await
            .unwrap();
        let docs: Vec<Document> = batches.iter().flat_map(|b| b.documents.clone()).collect();
        assert!(batches.iter().all(|b| b.failures.is_empty()), "{scheme}");
        assert_eq!(titles(&docs), set(&["kept.txt", "Other"]), "{scheme}");
    }
}

/// Ids survive renames by default; a host migrating from RAGFlow keeps RAGFlow's web-URL ids
/// for every config that names no scheme with one switch, and a config's own choice stays.
#[tokio::test]
async fn ids_are_content_ids_unless_the_host_or_the_config_asks_for_ragflows() {
    let fake = Fake::start(false).await;
    let page = FakePage::new(101, "ENG", "Home", "<p>hello</p>", at(0));
    let web = fake.url_of(&page);
    fake.add(page);
    let mut plain = fake.config(json!({}));
    plain.as_object_mut().unwrap().remove("id_scheme");
    let mut chosen = plain.clone();
    chosen["id_scheme"] = json!("content_id");
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    let ids = |registry: &Registry, cfg: &serde_json::Value| {
        let c = registry.build("confluence", cfg.clone()).unwrap();
        async move {
            let (docs, _) = load(c.as_ref()).await.unwrap();
            docs.into_iter().map(|d| d.id).collect::<Vec<_>>()
        }
    };
    let site = fake.base();
    let content_id = format!("confluence:{}/page/101", site.trim_start_matches("http://"));
    assert_eq!(
        ids(&registry, &plain).await,
        std::slice::from_ref(&content_id)
    );
    registry.set_ragflow_ids(true);
    assert_eq!(ids(&registry, &plain).await, [web]);
    assert_eq!(
        registry
            .effective_config("confluence", plain.clone())
            .unwrap()["id_scheme"],
        "ragflow_url"
    );
    assert_eq!(ids(&registry, &chosen).await, [content_id]);
}
