//! Core's `SyncMode::Reconcile`: a run over everything that delivers only what changed, for the
//! changes Confluence makes without a new page version, which no incremental window selects:
//! restrictions, moves and labels. The page's version token holds a hash of its computed
//! access, its space and ancestors, and its labels; everything else is skipped by version.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests.

mod common;

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use common::{Fake, FakeAttachment, FakePage, at};
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, SyncReport, Syncer};
use connector_core::{Connector, Registry};
use serde_json::json;

fn build(cfg: serde_json::Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    registry.build("confluence", cfg).unwrap()
}

/// ENG: Secret (Alice and Bob), Guide, Guide's child Setup with a file, Notes.
async fn site(cloud: bool) -> Fake {
    let fake = Fake::start(cloud).await;
    let mut secret = FakePage::new(1, "ENG", "Secret", "<p>a</p>", at(1));
    secret.read_users = vec!["Alice".into(), "Bob".into()];
    fake.add(secret);
    fake.add(FakePage::new(2, "ENG", "Guide", "<p>b</p>", at(2)));
    let mut setup = FakePage::new(3, "ENG", "Setup", "<p>c</p>", at(3));
    setup.parent = Some(2);
    setup.attachments = vec![FakeAttachment {
        id: 31,
        title: "setup.txt".into(),
        media_type: "text/plain".into(),
        data: b"steps".to_vec(),
        ..Default::default()
    }];
    fake.add(setup);
    fake.add(FakePage::new(4, "ENG", "Notes", "<p>d</p>", at(4)));
    fake.state.lock().unwrap().space_permissions.insert(
        "ENG".into(),
        (
            vec!["Alice".into(), "Bob".into(), "Carol".into()],
            Vec::new(),
            false,
        ),
    );
    fake
}

/// The titles a run delivered (documents and attachments).
fn delivered(sink: &MemorySink, before: usize) -> Vec<String> {
    let ids: Vec<String> = sink.deliveries()[before..].concat();
    let docs = sink.documents();
    let mut titles: Vec<String> = ids
        .iter()
        .filter_map(|id| docs.iter().find(|d| &d.id == id).map(|d| d.title.clone()))
        .collect();
    titles.sort();
    titles
}

#[tokio::test]
async fn a_reconciliation_delivers_pages_changed_without_a_new_version_and_nothing_else() {
    for cloud in [true, false] {
        let fake = site(cloud).await;
        let connector = build(fake.config(json!({"include_permissions": true})));
        let (sink, store) = (MemorySink::new(), MemoryStateStore::new());
        let run = |mode: SyncMode, minute: i64| {
            let syncer = Syncer::new(Arc::clone(&connector))
                .sink(sink.clone())
                .state(store.clone())
                .at(Utc.with_ymd_and_hms(2026, 3, 3, 9, 0, 0).unwrap()
                    + chrono::Duration::minutes(minute));
            async move { syncer.run(mode).await.unwrap() }
        };
        let full: SyncReport = run(SyncMode::Full, 0).await;
        assert_eq!(full.new, 5, "cloud={cloud}");

        // Nothing changed: nothing delivered.
        let before = sink.deliveries().len();
        let quiet = run(SyncMode::Reconcile, 10).await;
        assert_eq!((quiet.new, quiet.updated), (0, 0), "cloud={cloud}");
        assert!(delivered(&sink, before).is_empty());

        // Secret's restriction narrows (no new version): Secret alone.
        fake.state.lock().unwrap().pages[0].read_users = vec!["Alice".into()];
        let before = sink.deliveries().len();
        let narrowed = run(SyncMode::Reconcile, 20).await;
        assert_eq!(delivered(&sink, before), ["Secret"], "cloud={cloud}");
        assert_eq!(narrowed.updated, 1);
        let secret = sink
            .documents()
            .into_iter()
            .find(|d| d.title == "Secret")
            .unwrap();
        assert_eq!(secret.access.unwrap().emails, ["alice@example.com"]);

        // Setup moves from under Guide to the top (no new version): Setup and its file,
        // whose metadata names the page's place.
        fake.state.lock().unwrap().pages[2].parent = None;
        let before = sink.deliveries().len();
        run(SyncMode::Reconcile, 30).await;
        assert_eq!(
            delivered(&sink, before),
            ["Setup", "setup.txt"],
            "cloud={cloud}"
        );

        // Notes gets a label: Notes alone, with its label.
        fake.state.lock().unwrap().pages[3].labels = vec!["howto".into()];
        let before = sink.deliveries().len();
        run(SyncMode::Reconcile, 40).await;
        assert_eq!(delivered(&sink, before), ["Notes"], "cloud={cloud}");

        // The space's permission narrows: every page whose access it decides.
        fake.state
            .lock()
            .unwrap()
            .space_permissions
            .insert("ENG".into(), (vec!["Alice".into()], Vec::new(), false));
        let before = sink.deliveries().len();
        run(SyncMode::Reconcile, 50).await;
        assert_eq!(
            delivered(&sink, before),
            ["Guide", "Notes", "Setup", "setup.txt"],
            "cloud={cloud}: Secret is Alice's already"
        );
    }
}
