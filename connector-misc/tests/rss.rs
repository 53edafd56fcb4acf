//! The RSS connector against the fake feed host of `rss_common`: RSS 2.0, RSS 1.0, Atom and
//! JSON Feed documents, conditional GET across runs, edits, errors of one feed among others,
//! article fetch, partitions, and snapshots of converted entries.
#![cfg(feature = "rss")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rss_common;

use std::sync::Arc;

use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, SyncReport};
use connector_core::testkit::sync_at;
use connector_core::{Connector, Document, ErrorKind};
use rss_common::{AtomEntry, FakeFeeds, atom, atom_entries, build, rfc3339, standard, time};
use serde_json::json;
use wiremock::MockServer;

const SITE: &str = "https://blog.example.com";

async fn full(c: &Arc<dyn Connector>) -> (MemorySink, SyncReport) {
    sync_at(c, &MemoryStateStore::new(), SyncMode::Full, time(20)).await
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// The feed requests the server saw, with the validators each sent.
async fn feed_requests(server: &MockServer, path: &str) -> Vec<(Option<String>, Option<String>)> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == path)
        .map(|r| {
            let h = |n: &str| {
                r.headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            (h("if-none-match"), h("if-modified-since"))
        })
        .collect()
}

/// A document as snapshotted: everything but the fingerprint, the feed's random port
/// replaced.
fn snapshot_of(doc: &Document, uri: &str) -> serde_json::Value {
    let text = serde_json::to_string(doc)
        .unwrap()
        .replace(uri, "http://feeds.test");
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove("fingerprint");
    v
}

#[tokio::test]
async fn rss2_items_become_markdown_with_creator_categories_and_enclosure() {
    let server = standard(SITE).start().await;
    let c = build(&server.uri(), &["/blog/feed/"], json!({}));
    let (sink, report) = full(&c).await;
    assert_eq!(report.failed, 0, "{:?}", report.failures);
    let feed = format!("{}/blog/feed/", server.uri());
    let ids = [
        format!("rss:{feed}#https://blog.example.com/?p=1042"),
        format!("rss:{feed}#https://blog.example.com/?p=1038"),
    ];
    assert_eq!(sorted(sink.ids()), sorted(ids.to_vec()));
    let first = sink.get(&ids[0]).unwrap();
    // content:encoded wins over the description; HTML becomes Markdown.
    let text = first.content.as_text().unwrap();
    assert!(
        text.starts_with("# Shipping the new indexer\n\n## Why"),
        "{text}"
    );
    assert!(text.contains("**every**"), "{text}");
    assert!(
        text.contains("[the docs](https://blog.example.com/docs/)"),
        "{text}"
    );
    assert_eq!(first.owners, ["Ada Lovelace"]);
    assert_eq!(first.updated_at, Some(time(11)));
    assert_eq!(
        first.metadata["categories"],
        json!(["Engineering", "Search"])
    );
    assert_eq!(
        first.metadata["enclosures"],
        json!([{
            "url": "https://blog.example.com/wp-content/uploads/2024/01/talk.mp3",
            "mime_type": "audio/mpeg",
            "length": 5_242_880
        }])
    );
    assert_eq!(
        first.link.as_ref().unwrap().as_str(),
        "https://blog.example.com/2024/01/02/shipping-the-new-indexer/"
    );
    // Without content:encoded, the description.
    let second = sink.get(&ids[1]).unwrap();
    assert!(
        second
            .content
            .as_text()
            .unwrap()
            .contains("An *unchanged* feed costs a 304."),
        "{:?}",
        second.content
    );
    insta::assert_json_snapshot!("rss2_item", snapshot_of(&first, &server.uri()));
}

#[tokio::test]
async fn atom_json_feed_and_rdf_entries_are_read() {
    let server = standard(SITE).start().await;
    let c = build(
        &server.uri(),
        &["/releases.atom", "/feed.json", "/index.rdf"],
        json!({}),
    );
    let (sink, report) = full(&c).await;
    assert_eq!(report.failed, 0, "{:?}", report.failures);
    let uri = server.uri();
    assert_eq!(
        sorted(sink.ids()),
        sorted(vec![
            format!("rss:{uri}/releases.atom#tag:releases.example.org,2024:v2.1.0"),
            format!("rss:{uri}/releases.atom#tag:releases.example.org,2024:v2.0.0"),
            format!("rss:{uri}/feed.json#2024-01-02-podcast"),
            format!("rss:{uri}/feed.json#2024-01-02-note"),
            // RSS 1.0 items have no id element: the link is the key.
            format!("rss:{uri}/index.rdf#https://blog.example.com/notes/1"),
        ])
    );
    let atom = sink
        .get(&format!(
            "rss:{uri}/releases.atom#tag:releases.example.org,2024:v2.1.0"
        ))
        .unwrap();
    // `updated`, not `published`.
    assert_eq!(atom.updated_at, Some(time(13)));
    assert_eq!(atom.metadata["published_at"], "2024-01-02T12:00:00Z");
    assert_eq!(atom.title, "Version 2.1.0 & friends");
    assert_eq!(atom.owners, ["linus@releases.example.org"]);
    assert_eq!(atom.metadata["feed_title"], "Release notes");
    insta::assert_json_snapshot!("atom_entry", snapshot_of(&atom, &uri));

    let json_item = sink
        .get(&format!("rss:{uri}/feed.json#2024-01-02-podcast"))
        .unwrap();
    assert_eq!(
        json_item.updated_at,
        Some(time(14) + chrono::TimeDelta::minutes(30))
    );
    assert_eq!(
        json_item.metadata["categories"],
        json!(["podcast", "feeds"])
    );
    assert_eq!(
        json_item.metadata["enclosures"][0]["url"],
        "https://blog.example.com/media/ep12.m4a"
    );
    insta::assert_json_snapshot!("json_feed_item", snapshot_of(&json_item, &uri));
    // An item without a title is named by its link.
    let note = sink
        .get(&format!("rss:{uri}/feed.json#2024-01-02-note"))
        .unwrap();
    assert_eq!(note.title, "https://blog.example.com/2024/01/02/note");
    assert!(
        note.content
            .as_text()
            .unwrap()
            .contains("A short note without a title.")
    );
    let rdf = sink
        .get(&format!(
            "rss:{uri}/index.rdf#https://blog.example.com/notes/1"
        ))
        .unwrap();
    assert_eq!(rdf.updated_at, Some(time(8)));
    assert_eq!(rdf.owners, ["Lab Person"]);
}

#[tokio::test]
async fn an_unchanged_feed_costs_one_304_on_the_next_incremental_run() {
    let feeds = standard(SITE);
    let server = feeds.clone().start().await;
    let c = build(&server.uri(), &["/blog/feed/", "/releases.atom"], json!({}));
    let store = MemoryStateStore::new();
    let (sink, _) = sync_at(&c, &store, SyncMode::Full, time(20)).await;
    assert_eq!(sink.len(), 4);
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(30)).await;
    assert!(sink.is_empty());
    assert_eq!(report.failed, 0);
    assert_eq!(report.requests, 2, "one request per feed: {report:?}");
    for path in ["/blog/feed/", "/releases.atom"] {
        let seen = feed_requests(&server, path).await;
        assert_eq!(seen.len(), 2);
        // The full run sends no validators; the incremental run sends back both.
        assert_eq!(seen[0], (None, None));
        assert_eq!(seen[1].0.as_deref(), Some("\"v1\""));
        assert_eq!(seen[1].1.as_deref(), Some("Wed, 03 Jan 2024 01:00:00 GMT"));
    }
    // A reconciliation asks again unconditionally; everything is unchanged.
    let (sink, report) = sync_at(&c, &store, SyncMode::Reconcile, time(40)).await;
    assert!(sink.is_empty());
    assert_eq!(report.unchanged, 4);
}

#[tokio::test]
async fn an_edited_entry_is_delivered_by_the_next_incremental_run() {
    let feeds = standard(SITE);
    let server = feeds.clone().start().await;
    let c = build(&server.uri(), &["/releases.atom"], json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(20)).await;
    let mut entries: Vec<AtomEntry> = atom_entries();
    entries[1].updated = time(25);
    entries[1].content =
        "<p>Breaking: the <code>Sink</code> trait takes a slice (fixed).</p>".into();
    feeds.serve(
        "/releases.atom",
        "application/atom+xml",
        atom(SITE, &entries),
    );
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(30)).await;
    let uri = server.uri();
    assert_eq!(
        sink.ids(),
        [format!(
            "rss:{uri}/releases.atom#tag:releases.example.org,2024:v2.0.0"
        )]
    );
    assert_eq!(report.updated, 1, "{report:?}");
    let doc = sink.get(&sink.ids()[0]).unwrap();
    assert!(doc.content.as_text().unwrap().contains("(fixed)"));
    assert_eq!(doc.updated_at, Some(time(25)));
    // The changed feed was asked conditionally and answered 200 with its new ETag, which the
    // next run sends.
    sync_at(&c, &store, SyncMode::Incremental, time(40)).await;
    let seen = feed_requests(&server, "/releases.atom").await;
    assert_eq!(seen[1].0.as_deref(), Some("\"v1\""));
    assert_eq!(seen[2].0.as_deref(), Some("\"v2\""));
}

#[tokio::test]
async fn an_entry_edited_in_place_is_delivered_again_by_a_reconciliation() {
    let feeds = standard(SITE);
    let server = feeds.clone().start().await;
    let c = build(&server.uri(), &["/releases.atom"], json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(20)).await;
    // New text, same dates: only the fingerprint tells.
    let mut entries = atom_entries();
    entries[0].summary = "Faster sync, far fewer requests.".into();
    feeds.serve(
        "/releases.atom",
        "application/atom+xml",
        atom(SITE, &entries),
    );
    let (sink, report) = sync_at(&c, &store, SyncMode::Reconcile, time(30)).await;
    assert_eq!(sink.len(), 1);
    assert_eq!(report.unchanged, 1);
}

#[tokio::test]
async fn a_server_that_ignores_validators_still_works() {
    let feeds = standard(SITE);
    feeds.edit("/releases.atom", |d| d.validators = false);
    let server = feeds.clone().start().await;
    let c = build(&server.uri(), &["/releases.atom"], json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(20)).await;
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(30)).await;
    // Read and windowed: nothing in [20h, 30h).
    assert!(sink.is_empty());
    assert_eq!(report.failed, 0);
    let mut entries = atom_entries();
    entries.push(AtomEntry {
        id: "tag:releases.example.org,2024:v2.2.0".into(),
        title: "Version 2.2.0".into(),
        slug: "v2.2.0".into(),
        author: ("Linus Example".into(), "linus@releases.example.org".into()),
        categories: vec![],
        published: time(35),
        updated: time(35),
        summary: "Next".into(),
        content: "<p>Next</p>".into(),
    });
    feeds.serve(
        "/releases.atom",
        "application/atom+xml",
        atom(SITE, &entries),
    );
    feeds.edit("/releases.atom", |d| d.validators = false);
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(40)).await;
    assert_eq!(sink.len(), 1);
    assert_eq!(
        feed_requests(&server, "/releases.atom").await,
        vec![(None, None); 3]
    );
}

#[tokio::test]
async fn a_missing_feed_is_a_failure_naming_it_and_the_others_go_on() {
    let server = standard(SITE).start().await;
    let c = build(&server.uri(), &["/gone.xml", "/releases.atom"], json!({}));
    let (sink, report) = full(&c).await;
    assert_eq!(sink.len(), 2);
    assert_eq!(report.failures.len(), 1);
    let f = &report.failures[0];
    let feed = format!("{}/gone.xml", server.uri());
    assert_eq!(f.id.as_deref(), Some(format!("rss:{feed}").as_str()));
    assert_eq!(f.kind, ErrorKind::NotFound);
    assert!(f.message.contains(&feed), "{}", f.message);
    assert_eq!(f.link.as_ref().map(url::Url::as_str), Some(feed.as_str()));
    // check() names the feed and its field.
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.field(), Some("feed_url[0]"));
    assert!(e.to_string().contains(&feed), "{e}");
}

#[tokio::test]
async fn malformed_xml_is_a_clear_failure_naming_the_feed() {
    let feeds = standard(SITE);
    feeds.serve(
        "/broken.xml",
        "application/rss+xml",
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Broken</title><item><title>x</item></channel></rss>",
    );
    feeds.serve(
        "/page.html",
        "text/html",
        "<html><body>Not a feed</body></html>",
    );
    let server = feeds.start().await;
    let c = build(
        &server.uri(),
        &["/broken.xml", "/page.html", "/blog/feed/"],
        json!({}),
    );
    let (sink, report) = full(&c).await;
    assert_eq!(sink.len(), 2);
    assert_eq!(report.failures.len(), 2, "{:?}", report.failures);
    for (f, path) in report.failures.iter().zip(["/broken.xml", "/page.html"]) {
        let feed = format!("{}{path}", server.uri());
        assert_eq!(f.kind, ErrorKind::InvalidData);
        assert!(
            f.message.contains(&feed)
                && f.message.contains("not a readable RSS, Atom or JSON feed"),
            "{}",
            f.message
        );
    }
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let feeds = standard(SITE);
    let server = feeds.clone().start().await;
    let c = build(&server.uri(), &["/blog/feed/"], json!({}));
    feeds.edit("/blog/feed/", |d| {
        d.status = 429;
        d.retry_after = Some(1);
    });
    let unblock = feeds.clone();
    let waiter = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        unblock.edit("/blog/feed/", |d| d.status = 200);
    });
    let (sink, report) = full(&c).await;
    waiter.await.unwrap();
    assert_eq!(sink.len(), 2);
    assert!(report.retries >= 1, "{report:?}");
    assert!(report.rate_limit_wait >= std::time::Duration::from_secs(1));
}

#[tokio::test]
async fn a_feed_over_max_file_size_is_a_failure() {
    let server = standard(SITE).start().await;
    let c = build(
        &server.uri(),
        &["/blog/feed/", "/releases.atom"],
        json!({"max_file_size": 1024}),
    );
    let (sink, report) = full(&c).await;
    // The RSS fixture is over 1 KiB, the Atom one too: both fail, each named.
    assert!(sink.is_empty());
    assert_eq!(report.failures.len(), 2);
    assert!(
        report
            .failures
            .iter()
            .all(|f| f.kind == ErrorKind::InvalidData)
    );
}

#[tokio::test]
async fn entries_without_dates_come_in_full_runs_and_are_not_sent_again() {
    let feeds = FakeFeeds::new();
    let mut items = rss_common::rss_items();
    for i in &mut items {
        i.published = None;
        i.guid = None;
    }
    feeds.serve(
        "/undated.xml",
        "application/rss+xml",
        rss_common::rss2(SITE, &items),
    );
    let server = feeds.clone().start().await;
    let c = build(&server.uri(), &["/undated.xml"], json!({}));
    let store = MemoryStateStore::new();
    let (sink, _) = sync_at(&c, &store, SyncMode::Full, time(20)).await;
    assert_eq!(sink.len(), 2);
    for doc in sink.documents() {
        assert_eq!(doc.updated_at, None, "never now()");
        // No guid: the link is the key.
        assert!(
            doc.id.contains("#https://blog.example.com/2024/01/02/"),
            "{}",
            doc.id
        );
    }
    // Not in a window (they have no time), not re-sent by a reconciliation (a full listing
    // that skips what the store holds).
    feeds.edit("/undated.xml", |d| d.validators = false);
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(30)).await;
    assert!(sink.is_empty());
    let (sink, report) = sync_at(&c, &store, SyncMode::Reconcile, time(40)).await;
    assert!(sink.is_empty());
    assert_eq!(report.unchanged, 2);
}

#[tokio::test]
async fn entries_without_id_or_link_are_keyed_by_title_and_date() {
    let feeds = FakeFeeds::new();
    let body = format!(
        "<rss version=\"2.0\"><channel><title>t</title>\
         <item><title>Only a title</title><pubDate>{}</pubDate><description>a</description></item>\
         <item><title>Only a title</title><pubDate>{}</pubDate><description>b</description></item>\
         </channel></rss>",
        rss_common::rfc822(time(1)),
        rss_common::rfc822(time(2))
    );
    feeds.serve("/bare.xml", "application/rss+xml", body);
    let server = feeds.start().await;
    let c = build(&server.uri(), &["/bare.xml"], json!({}));
    let (first, _) = full(&c).await;
    let (again, _) = full(&c).await;
    assert_eq!(first.len(), 2);
    assert_eq!(first.ids(), again.ids(), "stable across runs");
    assert!(first.ids().iter().all(|id| id.contains("#hash:")));
}

#[tokio::test]
async fn fetch_articles_delivers_the_linked_page_as_markdown() {
    let feeds = FakeFeeds::new();
    let server = MockServer::start().await;
    let site = server.uri();
    feeds.serve(
        "/blog/feed/",
        "application/rss+xml",
        rss_common::rss2(&site, &rss_common::rss_items()),
    );
    feeds.serve(
        "/2024/01/02/shipping-the-new-indexer/",
        "text/html; charset=UTF-8",
        "<html><head><title>x</title><script>track()</script></head><body>\
         <article><h1>Shipping the new indexer</h1><p>The <em>whole</em> article.</p></article></body></html>",
    );
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(feeds)
        .mount(&server)
        .await;
    let c = build(&site, &["/blog/feed/"], json!({"fetch_articles": true}));
    let (sink, report) = full(&c).await;
    assert_eq!(sink.len(), 1);
    let doc = &sink.documents()[0];
    let text = doc.content.as_text().unwrap();
    assert!(text.contains("The *whole* article."), "{text}");
    assert!(!text.contains("track()"), "{text}");
    // The other entry's page is a 404: a failure naming the entry.
    assert_eq!(report.failures.len(), 1);
    let f = &report.failures[0];
    assert!(
        f.id.as_deref()
            .unwrap()
            .ends_with("#https://blog.example.com/?p=1038")
    );
    assert_eq!(f.kind, ErrorKind::NotFound);
}

#[tokio::test]
async fn a_failed_entry_keeps_its_feed_from_a_304() {
    let feeds = FakeFeeds::new();
    let server = MockServer::start().await;
    let site = server.uri();
    feeds.serve(
        "/blog/feed/",
        "application/rss+xml",
        rss_common::rss2(&site, &rss_common::rss_items()),
    );
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(feeds)
        .mount(&server)
        .await;
    let c = build(&site, &["/blog/feed/"], json!({"fetch_articles": true}));
    let store = MemoryStateStore::new();
    let (_, report) = sync_at(&c, &store, SyncMode::Full, time(20)).await;
    assert_eq!(report.failures.len(), 2);
    sync_at(&c, &store, SyncMode::Incremental, time(30)).await;
    let seen = feed_requests(&server, "/blog/feed/").await;
    assert_eq!(seen[1], (None, None), "no validators after a failed entry");
}

#[tokio::test]
async fn each_feed_is_a_partition() {
    let server = standard(SITE).start().await;
    let c = build(&server.uri(), &["/blog/feed/", "/releases.atom"], json!({}));
    let uri = server.uri();
    assert_eq!(
        c.partitions(),
        [format!("{uri}/blog/feed/"), format!("{uri}/releases.atom")]
    );
    let part = c.partition(&format!("{uri}/releases.atom")).unwrap();
    let (sink, _) = full(&part).await;
    assert_eq!(sink.len(), 2);
    assert!(sink.ids().iter().all(|id| id.contains("/releases.atom#")));
    assert!(part.partitions().is_empty());
    assert!(c.partition("https://elsewhere.example/feed").is_none());
    // One feed: no partitions.
    let one = build(&uri, &["/releases.atom"], json!({}));
    assert!(one.partitions().is_empty());
}

#[tokio::test]
async fn the_same_entry_in_two_feeds_is_two_documents() {
    let feeds = standard(SITE);
    feeds.serve(
        "/mirror.atom",
        "application/atom+xml",
        atom(SITE, &atom_entries()),
    );
    let server = feeds.start().await;
    let c = build(
        &server.uri(),
        &["/releases.atom", "/mirror.atom"],
        json!({}),
    );
    let (sink, _) = full(&c).await;
    assert_eq!(sink.len(), 4);
}

#[tokio::test]
async fn max_entries_keeps_the_top_of_the_feed() {
    let server = standard(SITE).start().await;
    let c = build(
        &server.uri(),
        &["/releases.atom"],
        json!({"max_entries": 1}),
    );
    let (sink, _) = full(&c).await;
    assert_eq!(sink.len(), 1);
    assert!(sink.ids()[0].ends_with("v2.1.0"));
}

#[tokio::test]
async fn check_accepts_a_feed_and_refuses_a_page_that_is_none() {
    let feeds = standard(SITE);
    feeds.serve("/page.html", "text/html", "<html><body>Hello</body></html>");
    let server = feeds.start().await;
    build(&server.uri(), &["/feed.json"], json!({}))
        .check()
        .await
        .unwrap();
    let e = build(&server.uri(), &["/page.html"], json!({}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    assert_eq!(e.field(), Some("feed_url"));
}

#[test]
fn config_errors_name_each_field() {
    let mut registry = connector_core::Registry::new();
    connector_misc::register(&mut registry);
    let e = registry
        .build(
            "rss",
            json!({"feed_url": ["ftp://x.example/feed", "not a url"], "max_entries": 0}),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("feed_url[0]"), "{e}");
    assert!(e.contains("feed_url[1]"), "{e}");
    assert!(e.contains("max_entries"), "{e}");
    let e = registry
        .build(
            "rss",
            json!({"feed_url": "https://x.example/feed", "bogus": 1}),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("bogus"), "{e}");
    // RAGFlow's config, as its form stores it.
    registry
        .build(
            "rss",
            json!({"feed_url": "https://x.example/feed.xml", "batch_size": 2, "credentials": {}}),
        )
        .unwrap();
    let _ = rfc3339(time(0));
}

#[tokio::test]
async fn loopback_is_refused_without_allowed_hosts() {
    let server = standard(SITE).start().await;
    let mut registry = connector_core::Registry::new();
    connector_misc::register(&mut registry);
    let c = registry
        .build(
            "rss",
            json!({"feed_url": format!("{}/blog/feed/", server.uri())}),
        )
        .unwrap();
    let (sink, report) = full(&c).await;
    assert!(sink.is_empty());
    assert_eq!(report.failures.len(), 1);
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "no request reached the loopback server"
    );
}

#[tokio::test]
async fn a_large_feed_comes_in_pages_and_resumes_after_the_last_entry_handed_on() {
    use connector_core::{CheckpointedConnector, SyncContext};
    use connector_misc::rss::{RssConfig, RssConnector};
    use futures::StreamExt;

    let feeds = FakeFeeds::new();
    let items: Vec<rss_common::RssItem> = (0..600)
        .map(|i| rss_common::RssItem {
            guid: Some(format!("urn:bench:{i}")),
            title: format!("Entry {i}"),
            slug: format!("entry-{i}"),
            creator: "Ada".into(),
            categories: vec![],
            published: Some(time(1) + chrono::TimeDelta::minutes(i)),
            description: format!("<p>{i}</p>"),
            content: None,
            enclosure: None,
        })
        .collect();
    feeds.serve(
        "/big.xml",
        "application/rss+xml",
        rss_common::rss2(SITE, &items),
    );
    let server = feeds.start().await;
    let mut config = RssConfig::new([format!("{}/big.xml", server.uri())]);
    config.allowed_hosts = vec!["127.0.0.1".into()];
    let c = RssConnector::new(config).unwrap();
    let pages: Vec<_> = c
        .load_from_checkpoint(c.initial_checkpoint(), None, SyncContext::new())
        .map(|p| p.unwrap())
        .collect()
        .await;
    // 256 entries a page.
    let sizes: Vec<usize> = pages.iter().map(|p| p.batch.documents.len()).collect();
    assert_eq!(sizes, [256, 256, 88]);
    let after_first = pages[0].checkpoint.clone();
    assert!(after_first.current.is_some());
    let json = serde_json::to_string(&after_first).unwrap();
    assert!(json.contains("urn:bench:255"), "{json}");
    let rest: Vec<String> = c
        .load_from_checkpoint(after_first, None, SyncContext::new())
        .flat_map(|p| futures::stream::iter(p.unwrap().batch.documents))
        .map(|d| d.id)
        .collect()
        .await;
    let expected: Vec<String> = pages[1..]
        .iter()
        .flat_map(|p| p.batch.documents.iter().map(|d| d.id.clone()))
        .collect();
    assert_eq!(rest, expected);
    // The last page's checkpoint records the feed as read, with its validators.
    let last = &pages[2].checkpoint;
    assert!(last.current.is_none());
    assert_eq!(
        last.done.values().next().and_then(|s| s.etag.as_deref()),
        Some("\"v1\"")
    );
}

#[tokio::test]
async fn check_ends_within_seconds_on_a_feed_that_rate_limits_for_an_hour() {
    let feeds = standard(SITE);
    feeds.edit("/blog/feed/", |d| {
        d.status = 429;
        d.retry_after = Some(3600);
    });
    let server = feeds.start().await;
    let c = build(&server.uri(), &["/blog/feed/"], json!({}));
    let e = tokio::time::timeout(std::time::Duration::from_secs(30), c.check())
        .await
        .expect("check() answers within seconds")
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e}");
    assert_eq!(e.field(), Some("feed_url"));
}

/// Review #1: an entry that shows up in its feed after its date (a static site deployed
/// hours after the date in its front matter, a cached feed, a zone-less local time) and an
/// entry edited in place are both delivered by the next incremental run when the store
/// remembers: the feed answered 200, and the lookup, not the window, decides.
#[tokio::test]
async fn a_late_entry_and_an_edit_in_place_come_with_the_next_incremental_run() {
    let feeds = standard(SITE);
    let server = feeds.clone().start().await;
    let c = build(&server.uri(), &["/releases.atom"], json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(20)).await;
    let mut entries = atom_entries();
    // Dated hour 3, long before the last run (hour 20), first listed now.
    let mut late = entries[1].clone();
    late.id = "tag:releases.example.org,2024:v1.9.9".into();
    late.slug = "v1.9.9".into();
    late.published = time(3);
    late.updated = time(3);
    entries.push(late);
    // New text, same dates.
    entries[0].summary = "Faster sync, far fewer requests.".into();
    entries[0].content = "<p>Rewritten.</p>".into();
    feeds.serve(
        "/releases.atom",
        "application/atom+xml",
        atom(SITE, &entries),
    );
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(30)).await;
    let uri = server.uri();
    assert_eq!(
        sorted(sink.ids()),
        [
            format!("rss:{uri}/releases.atom#tag:releases.example.org,2024:v1.9.9"),
            format!("rss:{uri}/releases.atom#tag:releases.example.org,2024:v2.1.0"),
        ]
    );
    assert_eq!(report.unchanged, 1, "{report:?}");
}

/// Review #1, without a store: the window still applies, but an undated entry (which no
/// window can place) is delivered rather than left to full runs.
#[tokio::test]
async fn without_a_store_undated_entries_come_with_incremental_runs() {
    use connector_core::{CheckpointedConnector, SyncContext, TimeWindow};
    use connector_misc::rss::{RssConfig, RssConnector};
    use futures::StreamExt;

    let feeds = FakeFeeds::new();
    let mut items = rss_common::rss_items();
    items[1].published = None;
    feeds.serve(
        "/mixed.xml",
        "application/rss+xml",
        rss_common::rss2(SITE, &items),
    );
    let server = feeds.start().await;
    let mut config = RssConfig::new([format!("{}/mixed.xml", server.uri())]);
    config.allowed_hosts = vec!["127.0.0.1".into()];
    let c = RssConnector::new(config).unwrap();
    let window = TimeWindow::new(time(100), time(110)).unwrap();
    let ids: Vec<String> = c
        .load_from_checkpoint(c.initial_checkpoint(), Some(window), SyncContext::new())
        .flat_map(|p| futures::stream::iter(p.unwrap().batch.documents))
        .map(|d| d.id)
        .collect()
        .await;
    assert_eq!(
        ids.len(),
        1,
        "the dated entry is outside the window: {ids:?}"
    );
    assert!(ids[0].ends_with("?p=1038"), "{ids:?}");
}

/// A 600-entry feed at `/big.xml` of `server`, with entry `moved` (if any) listed first.
fn big_feed(feeds: &FakeFeeds, moved: Option<usize>) {
    let mut items: Vec<rss_common::RssItem> = (0..600)
        .map(|i| rss_common::RssItem {
            guid: Some(format!("urn:bench:{i}")),
            title: format!("Entry {i}"),
            slug: format!("entry-{i}"),
            creator: "Ada".into(),
            categories: vec![],
            published: Some(time(1) + chrono::TimeDelta::minutes(i64::from(i))),
            description: format!("<p>{i}</p>"),
            content: None,
            enclosure: None,
        })
        .collect();
    if let Some(m) = moved {
        let item = items.remove(m);
        items.insert(0, item);
    }
    feeds.serve(
        "/big.xml",
        "application/rss+xml",
        rss_common::rss2(SITE, &items),
    );
}

/// A lookup that remembers earlier runs (and knows none of these entries).
struct Remembering;

#[async_trait::async_trait]
impl connector_core::FingerprintLookup for Remembering {
    async fn fingerprints(
        &self,
        _ids: &[String],
    ) -> connector_core::Result<std::collections::HashMap<String, String>> {
        Ok(std::collections::HashMap::new())
    }
}

fn big_connector(server: &MockServer) -> connector_misc::rss::RssConnector {
    let mut config = connector_misc::rss::RssConfig::new([format!("{}/big.xml", server.uri())]);
    config.allowed_hosts = vec!["127.0.0.1".into()];
    connector_misc::rss::RssConnector::new(config).unwrap()
}

/// A checkpoint resumed after entry 255 of `/big.xml`.
fn resumed_after_255(
    server: &MockServer,
    entry_failed: bool,
) -> connector_misc::rss::RssCheckpoint {
    let feed = format!("{}/big.xml", server.uri());
    serde_json::from_value(json!({
        "current": {"feed": feed, "after": format!("rss:{feed}#urn:bench:255"), "entry_failed": entry_failed},
    }))
    .unwrap()
}

/// Review #2: an entry that failed before an interruption still keeps the feed from a 304
/// once the resumed run reads it to its end.
#[tokio::test]
async fn an_entry_failed_before_a_resume_still_drops_the_validators() {
    use connector_core::{CheckpointedConnector, SyncContext};
    use futures::StreamExt;

    let feeds = FakeFeeds::new();
    big_feed(&feeds, None);
    let server = feeds.start().await;
    let c = big_connector(&server);
    let last = |entry_failed| {
        let c = &c;
        let server = &server;
        async move {
            let pages: Vec<_> = c
                .load_from_checkpoint(
                    resumed_after_255(server, entry_failed),
                    None,
                    SyncContext::new(),
                )
                .map(|p| p.unwrap())
                .collect()
                .await;
            let cp = pages.last().unwrap().checkpoint.clone();
            assert!(cp.current.is_none());
            cp.done.values().next().unwrap().clone()
        }
    };
    assert_eq!(last(false).await.etag.as_deref(), Some("\"v1\""));
    assert!(
        !last(true).await.has_validators(),
        "read whole by the next run"
    );
}

/// Review #3: with a lookup that remembers, a resumed feed is read from its top, so an entry
/// the feed moved above the last one handed on is not skipped (the lookup skips what was
/// delivered); without one, the resume skips what was handed on.
#[tokio::test]
async fn a_resumed_feed_that_reordered_loses_no_entry() {
    use connector_core::{CheckpointedConnector, SyncContext};
    use futures::StreamExt;

    let feeds = FakeFeeds::new();
    // Entry 400 (not yet delivered) now sits at the top, above entry 255.
    big_feed(&feeds, Some(400));
    let server = feeds.start().await;
    let c = big_connector(&server);
    let ids = |ctx: SyncContext| {
        let c = &c;
        let server = &server;
        async move {
            c.load_from_checkpoint(resumed_after_255(server, false), None, ctx)
                .flat_map(|p| futures::stream::iter(p.unwrap().batch.documents))
                .map(|d| d.id)
                .collect::<Vec<String>>()
                .await
        }
    };
    let remembering = ids(SyncContext::new().with_fingerprints(Arc::new(Remembering))).await;
    assert_eq!(remembering.len(), 600);
    assert!(remembering[0].ends_with("#urn:bench:400"));
    let plain = ids(SyncContext::new()).await;
    assert!(plain[0].ends_with("#urn:bench:256"), "{:?}", &plain[..2]);
}

/// Review #9: a feed that lists its oldest entries first keeps its newest under
/// `max_entries`.
#[tokio::test]
async fn max_entries_keeps_the_newest_of_an_oldest_first_feed() {
    let feeds = FakeFeeds::new();
    let mut entries = atom_entries();
    entries.reverse();
    feeds.serve(
        "/oldest-first.atom",
        "application/atom+xml",
        atom(SITE, &entries),
    );
    let server = feeds.start().await;
    let c = build(
        &server.uri(),
        &["/oldest-first.atom"],
        json!({"max_entries": 1}),
    );
    let (sink, _) = full(&c).await;
    assert_eq!(sink.len(), 1);
    assert!(sink.ids()[0].ends_with("v2.1.0"), "{:?}", sink.ids());
}

/// Review #4: a feed that moved (301) has its relative links resolved against where it
/// answered from, and keeps its configured URL in ids.
#[tokio::test]
async fn a_moved_feed_resolves_relative_links_where_it_now_lives() {
    let feeds = FakeFeeds::new();
    feeds.serve(
        "/new/feed.xml",
        "application/rss+xml",
        "<rss version=\"2.0\"><channel><title>Moved</title>\
         <item><guid isPermaLink=\"false\">m-1</guid><title>One</title><link>posts/one.html</link>\
         <pubDate>Tue, 02 Jan 2024 05:00:00 GMT</pubDate><description>one</description></item>\
         </channel></rss>",
    );
    let server = MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/old.xml"))
        .respond_with(wiremock::ResponseTemplate::new(301).insert_header(
            "location",
            format!("{}/new/feed.xml", server.uri()).as_str(),
        ))
        .mount(&server)
        .await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(feeds)
        .mount(&server)
        .await;
    let c = build(&server.uri(), &["/old.xml"], json!({}));
    let (sink, report) = full(&c).await;
    assert_eq!(report.failed, 0, "{:?}", report.failures);
    let uri = server.uri();
    let doc = sink.get(&format!("rss:{uri}/old.xml#m-1")).unwrap();
    assert_eq!(
        doc.link.as_ref().map(url::Url::as_str),
        Some(format!("{uri}/new/posts/one.html").as_str())
    );
}

/// Review #5/#6: article pages in a legacy charset are decoded; a link to a PDF keeps the
/// entry's own text instead of failing every run.
#[tokio::test]
async fn articles_in_gbk_are_decoded_and_a_pdf_link_keeps_the_entry_text() {
    let server = MockServer::start().await;
    let site = server.uri();
    let feeds = FakeFeeds::new();
    feeds.serve(
        "/blog/feed/",
        "application/rss+xml",
        rss_common::rss2(&site, &rss_common::rss_items()),
    );
    // "中文" in GBK, declared in a meta tag only.
    let gbk: &[u8] = &[0xd6, 0xd0, 0xce, 0xc4];
    let page = [
        b"<html><head><meta charset=\"gbk\"></head><body><p>".as_slice(),
        gbk,
        b"</p></body></html>",
    ]
    .concat();
    wiremock::Mock::given(wiremock::matchers::path(
        "/2024/01/02/shipping-the-new-indexer/",
    ))
    .respond_with(wiremock::ResponseTemplate::new(200).set_body_raw(page, "text/html"))
    .mount(&server)
    .await;
    wiremock::Mock::given(wiremock::matchers::path(
        "/2024/01/02/conditional-get-explained/",
    ))
    .respond_with(
        wiremock::ResponseTemplate::new(200).set_body_raw(b"%PDF-1.7".to_vec(), "application/pdf"),
    )
    .mount(&server)
    .await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(feeds)
        .mount(&server)
        .await;
    let c = build(&site, &["/blog/feed/"], json!({"fetch_articles": true}));
    let (sink, report) = full(&c).await;
    assert_eq!(report.failed, 0, "{:?}", report.failures);
    assert_eq!(sink.len(), 2);
    let texts: Vec<String> = sink
        .documents()
        .iter()
        .map(|d| d.content.as_text().unwrap().to_owned())
        .collect();
    assert!(texts.iter().any(|t| t.contains("中文")), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("An *unchanged* feed costs a 304.")),
        "{texts:?}"
    );
}

/// Review #7: an article host that rate-limits for an hour costs its entry a failure within
/// seconds, not the run 15 minutes per entry.
#[tokio::test]
async fn an_article_host_rate_limiting_for_an_hour_fails_its_entry_quickly() {
    let server = MockServer::start().await;
    let site = server.uri();
    let feeds = FakeFeeds::new();
    let mut items = rss_common::rss_items();
    items.truncate(1);
    feeds.serve(
        "/blog/feed/",
        "application/rss+xml",
        rss_common::rss2(&site, &items),
    );
    feeds.serve("/2024/01/02/shipping-the-new-indexer/", "text/html", "x");
    feeds.edit("/2024/01/02/shipping-the-new-indexer/", |d| {
        d.status = 429;
        d.retry_after = Some(3600);
    });
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(feeds)
        .mount(&server)
        .await;
    let c = build(&site, &["/blog/feed/"], json!({"fetch_articles": true}));
    let (_, report) = tokio::time::timeout(std::time::Duration::from_secs(25), full(&c))
        .await
        .expect("the run ends within seconds");
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].kind, ErrorKind::RateLimited);
}

/// Review #8: `allowed_hosts` opens article pages only on the feeds' own hosts: a feed that
/// links to another private host (allowed for some other feed, or by a network) cannot have
/// that page fetched and indexed.
#[tokio::test]
async fn article_pages_reach_only_the_private_hosts_of_the_feeds_themselves() {
    let server = MockServer::start().await;
    // The feed lives on `localhost`; its first entry links there, the second to
    // `127.0.0.1`, which `allowed_hosts` names but no feed lives on.
    let site = server.uri().replace("127.0.0.1", "localhost");
    let other = server.uri();
    let feeds = FakeFeeds::new();
    let mut items = rss_common::rss_items();
    items.truncate(1);
    let own = rss_common::rss2(&site, &items);
    let mut foreign = rss_common::rss_items();
    foreign.truncate(1);
    foreign[0].guid = Some("urn:foreign".into());
    let foreign = rss_common::rss2(&other, &foreign);
    let (own_end, foreign_items) = (
        own.find("</channel>").unwrap(),
        &foreign[foreign.find("<item>").unwrap()..foreign.find("</channel>").unwrap()],
    );
    feeds.serve(
        "/blog/feed/",
        "application/rss+xml",
        format!("{}{}{}", &own[..own_end], foreign_items, &own[own_end..]),
    );
    feeds.serve(
        "/2024/01/02/shipping-the-new-indexer/",
        "text/html",
        "<p>Internal page</p>",
    );
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(feeds)
        .mount(&server)
        .await;
    let c = build(&site, &["/blog/feed/"], json!({"fetch_articles": true}));
    let (sink, report) = full(&c).await;
    assert_eq!(sink.len(), 1, "{:?}", report.failures);
    assert!(
        sink.documents()[0]
            .content
            .as_text()
            .unwrap()
            .contains("Internal page")
    );
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert!(
        report.failures[0]
            .id
            .as_deref()
            .unwrap()
            .ends_with("#urn:foreign")
    );
    // The page was never asked for on the other host.
    let asked_other = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| {
            r.headers
                .get("host")
                .and_then(|h| h.to_str().ok())
                .is_some_and(|h| h.starts_with("127.0.0.1"))
        })
        .count();
    assert_eq!(asked_other, 0);
}
