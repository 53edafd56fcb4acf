//! The OneDrive connector against a fake Microsoft Graph in Graph's wire format
//! (`onedrive_common`): drives of every user or of named users, delta rounds and their links,
//! `410 Gone`, the folder scope, permissions as access, size caps, throttling, credentials.
#![cfg(feature = "onedrive")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod onedrive_common;

use onedrive_common::graph_wire::{a_passing_404_refuses_the_prune, run_with_prune};

use std::sync::Arc;

use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::{Connector, ErrorKind, PartitionSpec};
use onedrive_common::{FakeGraph, SECRET, build, standard, time};
use serde_json::json;

async fn run(c: &Arc<dyn Connector>, store: &MemoryStateStore, mode: SyncMode) -> MemorySink {
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(60))
        .run(mode)
        .await
        .expect("the sync runs");
    sink
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn every_users_drive_is_read_with_real_bytes_and_graphs_metadata() {
    let graph = standard(2);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(
        sorted(sink.ids()),
        [
            "onedrive:b!ada:A1",
            "onedrive:b!ada:A2",
            "onedrive:b!ada:A3",
            "onedrive:b!ada:A4",
            "onedrive:b!bob:B1"
        ]
    );
    let a = sink.get("onedrive:b!ada:A1").unwrap();
    // The bytes, not RAGFlow's empty body.
    assert_eq!(a.content.as_text(), Some("alpha"));
    assert_eq!(a.title, "a.txt");
    assert_eq!(a.updated_at, Some(time(1)));
    assert_eq!(a.parent_id.as_deref(), Some("onedrive:b!ada:root"));
    assert_eq!(a.metadata["drive_id"], "b!ada");
    assert_eq!(a.metadata["modified_by"], "bob@contoso.com");
    assert_eq!(a.owners, ["ada@contoso.com"]);
    assert_eq!(a.access.as_ref().unwrap().emails, ["ada@contoso.com"]);
    assert!(
        a.link
            .as_ref()
            .unwrap()
            .as_str()
            .ends_with("/Documents/a.txt")
    );
    // Folders, the root and images are no documents; the user without a OneDrive is passed over.
    assert!(sink.get("onedrive:b!ada:F1").is_none());
    assert!(sink.get("onedrive:b!ada:A5").is_none());
    // Downloads followed the redirect without the token.
    assert_eq!(graph.state.lock().unwrap().leaked, 0);
    assert_eq!(graph.requests("GET /download/"), 5);
    // Every user's drive was asked inside JSON batches, and so were the permissions.
    assert_eq!(graph.requests("BATCH GET /v1.0/users/"), 3);
    let log = graph.state.lock().unwrap().log.clone();
    assert_eq!(graph.requests("GET /v1.0/users/"), 0, "{log:#?}");
    assert_eq!(
        graph.requests("BATCH GET /v1.0/drives/b!ada/items/A1/permissions"),
        1
    );
}

#[tokio::test]
async fn a_named_user_without_a_onedrive_is_a_failure_and_the_others_are_read() {
    let server = standard(10).start().await;
    let c = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com, nolicence@contoso.com"}),
    );
    let report = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.delivered, 4, "{report:?}");
    assert_eq!(report.failures.len(), 1);
    assert!(
        report.failures[0].message.contains("nolicence@contoso.com"),
        "{:?}",
        report.failures
    );
    assert_eq!(
        c.partitions(),
        ["user:ada@contoso.com", "user:nolicence@contoso.com"]
    );
    let one = c.partition("user:ada@contoso.com").unwrap();
    assert!(one.partitions().is_empty());
}

#[tokio::test]
async fn folder_path_keeps_the_files_below_that_folder() {
    let graph = standard(2);
    let server = graph.clone().start().await;
    let c = build(
        &server.uri(),
        json!({"user_ids": ["ada@contoso.com"], "folder_path": "/Shared/Handbook"}),
    );
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    assert_eq!(
        sorted(sink.ids()),
        ["onedrive:b!ada:A3", "onedrive:b!ada:A4"]
    );
    // A file moved in later is found through its parents, which this round of changes does
    // not list: Graph is asked for them.
    graph.put("b!ada", "A1", "a.txt", "F2", "alpha", 50);
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(sink.ids(), ["onedrive:b!ada:A1"]);
    // check() finds the folder missing in a named user's drive, naming the field.
    let missing = build(
        &server.uri(),
        json!({"user_ids": ["bob@contoso.com"], "folder_path": "/Shared/Handbook"}),
    );
    let e = missing.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("folder_path"), "{e}");
    // A drive without the folder is a failure naming it.
    let c = build(
        &server.uri(),
        json!({"user_ids": ["bob@contoso.com"], "folder_path": "/Shared/Handbook"}),
    );
    let report = Syncer::new(c)
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert!(
        report.failures[0].message.contains("folder_path"),
        "{report:?}"
    );
}

#[tokio::test]
async fn ragflows_config_reads_every_users_folder_and_passes_over_drives_without_it() {
    // RAGFlow's form: the app's credentials and a folder, no users named.
    let graph = standard(2);
    let server = graph.clone().start().await;
    let c = build(
        &server.uri(),
        json!({"folder_path": "/Shared/Handbook", "batch_size": 2}),
    );
    let report = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    // ada's two files below the folder; bob's drive has no such folder and is no failure.
    assert_eq!(report.delivered, 2, "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    // Without User.Read.All the error says what to grant or to name.
    graph.state.lock().unwrap().users_forbidden = true;
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(
        e.to_string().contains("User.Read.All") && e.to_string().contains("user_ids"),
        "{e}"
    );
}

#[tokio::test]
async fn an_incremental_run_reads_the_changes_since_the_carried_delta_link() {
    let graph = standard(2);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    let rounds = graph.requests("GET /v1.0/drives/b!ada/root/delta");
    // An old edit (its time before the last run), a new file and a deletion.
    graph.put("b!ada", "A2", "b.md", "F1", "# beta, edited", 0);
    graph.put("b!ada", "A6", "new.txt", "root", "new", 55);
    graph.delete("b!ada", "A3");
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(
        sorted(sink.ids()),
        ["onedrive:b!ada:A2", "onedrive:b!ada:A6"]
    );
    assert_eq!(
        sink.get("onedrive:b!ada:A2").unwrap().content.as_text(),
        Some("# beta, edited")
    );
    // The three changes on two pages (of two), not a new listing of the drive.
    assert_eq!(
        graph.requests("GET /v1.0/drives/b!ada/root/delta"),
        rounds + 2
    );
    // Nothing changed since: nothing comes.
    assert!(run(&c, &store, SyncMode::Incremental).await.is_empty());
    // The checkpoint keeps each link's token alone, the drive id being its key (review
    // SharePoint #7); a whole link, as earlier releases stored them, is still followed.
    let pages = connector_core::testkit::collect_checkpointed(c.as_ref(), None).await;
    let last = pages.last().unwrap().1.clone();
    let done = &last.state["done"];
    let token = done["b!ada"].as_str().unwrap();
    assert!(token.starts_with('s') && !token.contains('/'), "{done}");
    let mut old = last.clone();
    let mut since = done.clone();
    since["b!ada"] = json!(format!(
        "{}/v1.0/drives/b!ada/root/delta?token={token}",
        server.uri()
    ));
    old.state["since"] = since;
    old.state["done"] = json!({});
    graph.put("b!ada", "A7", "later.txt", "root", "later", 58);
    let changed = connector_core::testkit::collect_checkpointed(c.as_ref(), Some(old)).await;
    let ids: Vec<String> = changed
        .iter()
        .flat_map(|(b, _)| b.documents.iter().map(|d| d.id.clone()))
        .collect();
    assert_eq!(ids, ["onedrive:b!ada:A7"]);
}

#[tokio::test]
async fn a_delta_link_graph_no_longer_takes_lists_the_drive_again_without_downloads() {
    let graph = standard(2);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": ["ada@contoso.com"]}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    let downloads = graph.requests("GET /download/");
    // Every delta token so far expires.
    {
        let mut s = graph.state.lock().unwrap();
        let v = s.version;
        s.expired.push(format!("s{v}"));
    }
    graph.put("b!ada", "A4", "d.txt", "F2", "delta, edited", 58);
    let report = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(store.clone())
        .at(time(61))
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(report.unchanged, 3, "{report:?}");
    assert_eq!(graph.requests("GET /download/"), downloads + 1);
}

#[tokio::test]
async fn permissions_become_access_and_a_change_of_them_delivers_again() {
    let graph = standard(10);
    {
        let mut s = graph.state.lock().unwrap();
        let d = s.drives.get_mut("b!ada").unwrap();
        let a1 = d.items.iter_mut().find(|i| i.id == "A1").unwrap();
        a1.permissions.push(json!({"id": "p2", "roles": ["read"],
            "grantedToV2": {"group": {"id": "g-eng", "displayName": "Engineering"}}}));
        let a2 = d.items.iter_mut().find(|i| i.id == "A2").unwrap();
        a2.permissions.push(json!({"id": "p3", "roles": ["read"],
            "link": {"scope": "anonymous", "type": "view", "webUrl": "https://1drv.ms/x"}}));
    }
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": ["ada@contoso.com"]}));
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    let a1 = sink.get("onedrive:b!ada:A1").unwrap();
    assert_eq!(a1.access.as_ref().unwrap().groups, ["aad-group:g-eng"]);
    // An anonymous link adds nobody unless asked for.
    let a2 = sink.get("onedrive:b!ada:A2").unwrap().access.unwrap();
    assert!(!a2.public);
    assert_eq!(a2.emails, ["ada@contoso.com"]);
    let open = build(
        &server.uri(),
        json!({"user_ids": ["ada@contoso.com"], "anonymous_links_public": true}),
    );
    let opened = run(&open, &MemoryStateStore::new(), SyncMode::Full).await;
    assert!(
        opened
            .get("onedrive:b!ada:A2")
            .unwrap()
            .access
            .unwrap()
            .public
    );
    // Sharing a file bumps no tag; a reconciliation finds it by the access in its version.
    {
        let mut s = graph.state.lock().unwrap();
        let d = s.drives.get_mut("b!ada").unwrap();
        let a3 = d.items.iter_mut().find(|i| i.id == "A3").unwrap();
        a3.permissions.push(json!({"id": "p4", "roles": ["read"],
            "link": {"scope": "organization", "type": "view"}}));
    }
    let sink = run(&c, &store, SyncMode::Reconcile).await;
    assert_eq!(sink.ids(), ["onedrive:b!ada:A3"]);
    assert_eq!(
        sink.get("onedrive:b!ada:A3")
            .unwrap()
            .access
            .unwrap()
            .groups,
        [format!("tenant:{}", onedrive_common::TENANT)]
    );
}

#[tokio::test]
async fn sharing_a_file_reaches_an_incremental_run() {
    let graph = standard(10);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": ["ada@contoso.com"]}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    // A new permission moves no tag: only a round that asks for sharing changes lists it.
    graph.share(
        "b!ada",
        "A4",
        json!({"id": "p9", "roles": ["read"], "grantedToV2": {"user": {"email": "carol@contoso.com"}}}),
    );
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(sink.ids(), ["onedrive:b!ada:A4"]);
    assert_eq!(
        sink.get("onedrive:b!ada:A4")
            .unwrap()
            .access
            .unwrap()
            .emails,
        ["ada@contoso.com", "carol@contoso.com"]
    );
}

#[tokio::test]
async fn a_drive_graph_will_not_read_is_its_failure_and_the_others_are_read() {
    let graph = standard(2);
    graph.state.lock().unwrap().locked.push("b!bob".into());
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    for mode in [SyncMode::Full, SyncMode::Incremental] {
        let report = Syncer::new(c.clone())
            .sink(MemorySink::new())
            .state(store.clone())
            .at(time(60))
            .run(mode)
            .await
            .expect("one locked drive does not end the run");
        let failures: Vec<&str> = report
            .failures
            .iter()
            .filter_map(|f| f.id.as_deref())
            .collect();
        assert!(failures.contains(&"onedrive:drive:b!bob"), "{report:?}");
        assert!(
            report
                .failures
                .iter()
                .any(|f| f.message.contains("notAllowed"))
        );
        if mode == SyncMode::Full {
            assert_eq!(report.delivered, 4, "{report:?}");
        }
    }
    // Unlocked, the next run reads bob's drive from its start.
    graph.state.lock().unwrap().locked.clear();
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(sink.ids(), ["onedrive:b!bob:B1"]);
}

#[tokio::test]
async fn a_file_over_the_cap_is_a_failure_without_a_download() {
    let graph = standard(10);
    let server = graph.clone().start().await;
    let c = build(
        &server.uri(),
        json!({"user_ids": ["ada@contoso.com"], "max_file_size": 5}),
    );
    let report = Syncer::new(c)
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    // a.txt, c.txt and d.txt hold 5 bytes; b.md holds 6.
    assert_eq!(report.delivered, 3, "{report:?}");
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].id.as_deref(), Some("onedrive:b!ada:A2"));
    assert!(report.failures[0].message.contains("max_file_size"));
    assert_eq!(graph.requests("GET /download/b!ada/A2"), 0);
}

#[tokio::test]
async fn throttling_is_waited_out() {
    let graph = standard(10);
    graph.state.lock().unwrap().throttle = 2;
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": ["bob@contoso.com"]}));
    let started = std::time::Instant::now();
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.ids(), ["onedrive:b!bob:B1"]);
    assert!(started.elapsed() >= std::time::Duration::from_millis(1900));
}

#[tokio::test]
async fn a_wrong_secret_fails_check_naming_the_field_and_never_shows_it() {
    let server = standard(10).start().await;
    let mut config = json!({
        "credentials": {"tenant_id": onedrive_common::TENANT, "client_id": "app-id", "client_secret": "wrong-secret-value"},
        "authority_host": server.uri(), "graph_url": server.uri(), "allowed_hosts": ["127.0.0.1"],
    });
    config["user_ids"] = json!(["ada@contoso.com"]);
    let config: connector_misc::onedrive::OnedriveConfig =
        connector_core::config::from_json(config).unwrap();
    let c = connector_misc::onedrive::OnedriveConnector::new(config).unwrap();
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert!(e.to_string().contains("credentials.client_secret"), "{e}");
    assert!(!format!("{e:?}{c:?}").contains("wrong-secret-value"));
    assert!(!format!("{c:?}").contains(SECRET));
    // The right one passes.
    let good = build(&server.uri(), json!({"user_ids": ["ada@contoso.com"]}));
    good.check().await.unwrap();
}

#[tokio::test]
async fn ragflows_config_is_accepted_as_it_is() {
    let registry = {
        let mut r = connector_core::Registry::new();
        connector_misc::register(&mut r);
        r
    };
    let graph = FakeGraph::new(5);
    let server = graph.start().await;
    let built = registry.build(
        "onedrive",
        json!({
            "credentials": {"tenant_id": onedrive_common::TENANT, "client_id": "c", "client_secret": SECRET},
            "folder_path": "Documents/Reports",
            "batch_size": 2,
            "graph_url": server.uri(),
            "authority_host": server.uri(),
            "allowed_hosts": ["127.0.0.1"],
        }),
    );
    assert!(built.is_ok(), "{:?}", built.err());
}

#[tokio::test]
async fn a_folder_moved_into_the_folder_scope_brings_its_files_and_one_moved_out_leaves_it() {
    let graph = standard(10);
    // `Archive` (outside `Shared`) holds a file and a subfolder with another.
    graph.folder("b!ada", "F3", "Archive", "root");
    graph.folder("b!ada", "F4", "2025", "F3");
    graph.put("b!ada", "A6", "old.txt", "F3", "old notes", 1);
    graph.put("b!ada", "A7", "older.txt", "F4", "older notes", 1);
    let server = graph.clone().start().await;
    let c = build(
        &server.uri(),
        json!({"user_ids": ["ada@contoso.com"], "folder_path": "/Shared"}),
    );
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    assert!(sink.get("onedrive:b!ada:A6").is_none());
    // Archive moves into Shared: the round lists the folder alone, not its files.
    graph.move_to("b!ada", "F3", "F1");
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(
        sorted(sink.ids()),
        ["onedrive:b!ada:A6", "onedrive:b!ada:A7"]
    );
    assert_eq!(
        sink.get("onedrive:b!ada:A7").unwrap().content.as_text(),
        Some("older notes")
    );
    // Handbook moves out of Shared: its files are deleted from the sink by the same run (the
    // round lists the folder alone), and they leave the id listing.
    graph.move_to("b!ada", "F2", "root");
    let report = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(store.clone())
        .at(time(61))
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    assert_eq!((report.delivered, report.deleted), (0, 2), "{report:?}");
    let mut ids = Vec::new();
    let mut listing = c
        .as_slim()
        .unwrap()
        .list_ids(connector_core::SyncContext::new());
    while let Some(page) = futures::StreamExt::next(&mut listing).await {
        ids.extend(page.unwrap().into_iter().map(|s| s.id));
    }
    assert_eq!(
        sorted(ids),
        [
            "onedrive:b!ada:A2",
            "onedrive:b!ada:A6",
            "onedrive:b!ada:A7"
        ]
    );
    // Moved back in, Handbook's files come again: the scope kept in the checkpoint knew it
    // had left.
    graph.move_to("b!ada", "F2", "F1");
    let report = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(store.clone())
        .at(time(62))
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    // Listed below the folder and delivered again (the move out deleted them).
    assert_eq!(report.delivered, 2, "{report:?}");
    let log = graph.state.lock().unwrap().log.clone();
    assert!(
        log.iter()
            .any(|l| l == "GET /v1.0/drives/b!ada/items/F2/children"),
        "{log:#?}"
    );
}

/// The standard tenant plus a disabled user and a guest, each with a OneDrive.
fn tenant_with_disabled_and_guest() -> FakeGraph {
    let graph = standard(10);
    graph.user("u4", "gone@contoso.com", Some("b!gone"));
    graph.user(
        "u5",
        "visitor_fabrikam.com#EXT#@contoso.com",
        Some("b!guest"),
    );
    graph.put("b!gone", "G1", "old.txt", "root", "old", 1);
    graph.put("b!guest", "V1", "visit.txt", "root", "visit", 1);
    {
        let mut s = graph.state.lock().unwrap();
        s.disabled.push("u4".into());
        s.guests.push("u5".into());
    }
    graph
}

#[tokio::test]
async fn every_user_with_a_onedrive_is_a_discovered_partition_with_its_own_checkpoint() {
    let graph = tenant_with_disabled_and_guest();
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    // What the config names: nothing; what the service discovers: one job per user with a
    // OneDrive (u3 has none, u4 is disabled, u5 a guest).
    assert!(c.partitions().is_empty());
    assert_eq!(
        c.discover_partitions().await.unwrap(),
        ["user:u1", "user:u2"]
    );
    let ada = c
        .partition("user:u1")
        .expect("a discovered user is a partition");
    assert!(ada.partitions().is_empty());
    let store = MemoryStateStore::new();
    let sink = run(&ada, &store, SyncMode::Full).await;
    assert_eq!(
        sorted(sink.ids()),
        [
            "onedrive:b!ada:A1",
            "onedrive:b!ada:A2",
            "onedrive:b!ada:A3",
            "onedrive:b!ada:A4"
        ]
    );
    // Its own checkpoint: bob's partition, on its own state, reads bob's drive only.
    let bob = c.partition("user:u2").unwrap();
    let sink = run(&bob, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.ids(), ["onedrive:b!bob:B1"]);
    // A discovered user that has lost the drive by its run reads nothing, quietly.
    let lost = c.partition("user:u3").unwrap();
    let report = Syncer::new(lost)
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.delivered, 0);
    assert!(report.failures.is_empty(), "{report:?}");
    // The CLI's single run still reads every enabled member's drive.
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.ids().len(), 5);
    assert!(
        !sink
            .ids()
            .iter()
            .any(|i| i.contains("b!gone") || i.contains("b!guest"))
    );
    // Not a user key, or a user key where users are named: no partition.
    assert!(c.partition("drive:b!ada").is_none());
    assert!(c.partition("user:").is_none());
    let named = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com, bob@contoso.com"}),
    );
    assert!(named.partition("user:u5").is_none());
    assert_eq!(
        named.discover_partitions().await.unwrap(),
        named.partitions()
    );
}

/// Every file id `c` lists (its prune), in order.
async fn listed_ids(c: &Arc<dyn Connector>) -> Vec<String> {
    use futures::StreamExt;
    let mut ids = Vec::new();
    let mut pages = c
        .roles()
        .as_slim()
        .expect("slim")
        .list_ids(connector_core::SyncContext::new());
    while let Some(page) = pages.next().await {
        ids.extend(page.expect("a page of ids").into_iter().map(|d| d.id));
    }
    ids
}

#[tokio::test]
async fn discovery_hands_each_user_partition_its_drive_and_the_key_alone_still_works() {
    let graph = standard(10);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let specs = c.discover_partition_specs().await.unwrap();
    assert_eq!(PartitionSpec::keys(specs.clone()), ["user:u1", "user:u2"]);
    assert!(specs.iter().all(|s| s.context.is_some()), "{specs:?}");
    // One listing of the users, one drive lookup per user (in a batch).
    let listings = graph.requests("GET /v1.0/users");
    assert_eq!(listings, 1);
    assert_eq!(graph.requests("BATCH GET /v1.0/users/"), 3);

    // Each job as the sync service runs it where it discovered: a connector built afresh,
    // then its partition with the drive discovery looked up; its sync and its prune look up
    // no user and no drive.
    let mut handed = Vec::new();
    for spec in &specs {
        let job = build(&server.uri(), json!({}));
        let part = job.partition_of(spec).expect("a discovered partition");
        let sink = run(&part, &MemoryStateStore::new(), SyncMode::Full).await;
        assert_eq!(sorted(sink.ids()), sorted(listed_ids(&part).await));
        handed.push(sorted(sink.ids()));
    }
    assert_eq!(graph.requests("GET /v1.0/users"), listings);
    assert_eq!(
        graph.requests("BATCH GET /v1.0/users/"),
        3,
        "no drive looked up again"
    );
    assert_eq!(
        handed,
        [
            vec![
                "onedrive:b!ada:A1",
                "onedrive:b!ada:A2",
                "onedrive:b!ada:A3",
                "onedrive:b!ada:A4"
            ],
            vec!["onedrive:b!bob:B1"]
        ]
    );

    // The key alone (another process, after a restart): the user's drive is looked up
    // first, and the same documents come.
    let mut alone = Vec::new();
    for spec in &specs {
        let job = build(&server.uri(), json!({}));
        let part = job.partition(&spec.key).unwrap();
        alone.push(sorted(
            run(&part, &MemoryStateStore::new(), SyncMode::Full)
                .await
                .ids(),
        ));
    }
    assert_eq!(alone, handed);
    assert_eq!(
        graph.requests("BATCH GET /v1.0/users/"),
        5,
        "one lookup each"
    );
    assert_eq!(graph.requests("GET /v1.0/users"), listings, "no listing");

    // A context handed to another user's partition is not used: bob's drive is looked up.
    let job = build(&server.uri(), json!({}));
    let ada = specs[0].context.as_ref().unwrap();
    let bob = job.partition_with("user:u2", ada).unwrap();
    let sink = run(&bob, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.ids(), ["onedrive:b!bob:B1"]);
    assert_eq!(graph.requests("BATCH GET /v1.0/users/"), 6);
    // Named users hand nothing: their partitions are the configured ones.
    let named = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com, bob@contoso.com"}),
    );
    let specs = named.discover_partition_specs().await.unwrap();
    assert!(specs.iter().all(|s| s.context.is_none()), "{specs:?}");
    assert_eq!(PartitionSpec::keys(specs), named.partitions());
}

#[tokio::test]
async fn guests_are_read_only_with_include_guests_and_disabled_accounts_never() {
    let graph = tenant_with_disabled_and_guest();
    let server = graph.clone().start().await;
    let members = build(&server.uri(), json!({}));
    let sink = run(&members, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.ids().len(), 5);
    let c = build(&server.uri(), json!({"include_guests": true}));
    assert_eq!(
        c.discover_partitions().await.unwrap(),
        ["user:u1", "user:u2", "user:u5"]
    );
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert!(sink.get("onedrive:b!guest:V1").is_some());
    assert!(sink.get("onedrive:b!gone:G1").is_none(), "{:?}", sink.ids());
    let guest = c.partition("user:u5").unwrap();
    let sink = run(&guest, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.ids(), ["onedrive:b!guest:V1"]);
}

#[tokio::test]
async fn a_runs_drives_are_resolved_once_for_its_listing_prune_and_refetch() {
    let graph = standard(10);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .options(connector_core::sync::SyncOptions::default().prune(true))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.delivered, 5, "{report:?}");
    // The prune listed every drive's files, from the drives the listing resolved.
    assert_eq!(
        report.prune.as_ref().map(|p| p.listed),
        Some(5),
        "{report:?}"
    );
    assert_eq!(
        graph.requests("GET /v1.0/users"),
        1,
        "the users are listed once a run"
    );
    // A refetch after the run reuses the run's drives too.
    let refetch = c.roles().as_refetch().unwrap();
    let batches: Vec<_> = futures::StreamExt::collect::<Vec<_>>(refetch.fetch(
        vec!["onedrive:b!bob:B1".into()],
        connector_core::SyncContext::new(),
    ))
    .await;
    let docs: Vec<String> = batches
        .into_iter()
        .flat_map(|b| b.unwrap().documents.into_iter().map(|d| d.id))
        .collect();
    assert_eq!(docs, ["onedrive:b!bob:B1"]);
    assert_eq!(graph.requests("GET /v1.0/users"), 1);
    // The next run asks again: a user added since is read.
    graph.user("u6", "cy@contoso.com", Some("b!cy"));
    graph.put("b!cy", "C1", "c.txt", "root", "cy", 6);
    let sink = run(&c, &store, SyncMode::Full).await;
    assert!(sink.get("onedrive:b!cy:C1").is_some());
    assert_eq!(graph.requests("GET /v1.0/users"), 2);
}

#[tokio::test]
async fn files_over_spool_above_are_spooled_to_disk_and_the_rest_held_in_memory() {
    use futures::StreamExt;
    use std::io::Read;
    let graph = standard(10);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"spool_above": 5}));
    let spool = tempfile::tempdir().unwrap();
    // The connector's own output: `epsilon` (7 bytes) in a file of the sync's spool folder.
    let ctx = connector_core::SyncContext::new()
        .with_spool(connector_core::spool::Spool::in_dir(spool.path()));
    let batches: Vec<_> = c
        .roles()
        .as_refetch()
        .unwrap()
        .fetch(
            vec!["onedrive:b!bob:B1".into(), "onedrive:b!ada:A1".into()],
            ctx,
        )
        .collect()
        .await;
    let docs: Vec<connector_core::Document> = batches
        .into_iter()
        .flat_map(|b| b.unwrap().documents)
        .collect();
    let e = docs.iter().find(|d| d.id == "onedrive:b!bob:B1").unwrap();
    let connector_core::Content::Spooled {
        body,
        mime,
        extension,
    } = &e.content
    else {
        panic!("not spooled: {:?}", e.content);
    };
    assert_eq!(mime, "text/plain");
    assert_eq!(extension.as_deref(), Some("txt"));
    assert_eq!(body.len(), 7);
    assert!(body.path().starts_with(spool.path()));
    let mut text = String::new();
    body.open_blocking()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "epsilon");
    assert_eq!(e.metadata["drive_id"], "b!bob");
    assert_eq!(e.owners, ["bob@contoso.com"]);
    // `alpha` (5 bytes): not above the threshold, text in memory.
    let a = docs.iter().find(|d| d.id == "onedrive:b!ada:A1").unwrap();
    assert_eq!(a.content.as_text(), Some("alpha"));
    // Through a sync into a sink that takes spooled bodies (memory reads them in: bytes).
    let sink = MemorySink::new();
    Syncer::new(c)
        .sink(sink.clone())
        .spool(connector_core::spool::Spool::in_dir(spool.path()))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(
        sink.get("onedrive:b!ada:A1").unwrap().content.as_text(),
        Some("alpha")
    );
    let e = sink.get("onedrive:b!bob:B1").unwrap();
    assert!(
        matches!(&e.content, connector_core::Content::Bytes { data, mime, .. } if &data[..] == b"epsilon" && mime == "text/plain"),
        "{:?}",
        e.content
    );
}

#[tokio::test]
async fn a_drive_that_answers_404_for_a_run_is_not_pruned_unless_its_user_is_gone() {
    let graph = standard(10);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (_, report) = run_with_prune(&c, &store, time(60)).await;
    // The user without a licence ("User's mysite not found") is passed over quietly.
    let report = report.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let all = sorted(listed_ids(&c).await);
    assert_eq!(all.len(), 5, "{all:?}");

    // Ada's drive answers a passing 404 while she is still in the tenant: the drive is a
    // failure of the run naming her, the prune is refused, nothing is deleted.
    graph.state.lock().unwrap().flaky.push("u1".into());
    a_passing_404_refuses_the_prune(&c, &store, time(60), "ada@contoso.com").await;
    graph.state.lock().unwrap().flaky.clear();
    let (sink, report) = run_with_prune(&c, &store, time(60)).await;
    assert_eq!(report.unwrap().prune.map(|p| p.listed), Some(5));
    assert!(sink.deleted().is_empty(), "{:?}", sink.deleted());

    // Ada is deleted after the user listing: her files are pruned, Bob's kept.
    graph.state.lock().unwrap().gone.push("u1".into());
    let (sink, report) = run_with_prune(&c, &store, time(60)).await;
    report.unwrap();
    let deleted = sorted(sink.deleted());
    assert_eq!(deleted.len(), 4, "{deleted:?}");
    assert!(
        deleted.iter().all(|d| d.starts_with("onedrive:b!ada:")),
        "{deleted:?}"
    );
    let lookups = {
        let s = graph.state.lock().unwrap();
        s.log.iter().filter(|l| *l == "GET /v1.0/users/u1").count()
    };
    assert_eq!(
        lookups, 2,
        "the user itself was asked, in the passing run and now"
    );
}

#[tokio::test]
async fn files_delivered_under_another_tenant_key_are_delivered_again_once_under_this_one() {
    let graph = standard(10);
    {
        let mut s = graph.state.lock().unwrap();
        let d = s.drives.get_mut("b!ada").unwrap();
        let a3 = d.items.iter_mut().find(|i| i.id == "A3").unwrap();
        a3.permissions.push(json!({"id": "p4", "roles": ["read"],
            "link": {"scope": "organization", "type": "view"}}));
    }
    let server = graph.clone().start().await;
    let groups = |sink: &MemorySink| {
        sink.get("onedrive:b!ada:A3")
            .unwrap()
            .access
            .unwrap()
            .groups
    };
    // Delivered under `tenant:contoso.com` (what an earlier release keyed by the config's
    // name, before the tenant's own id was used).
    let before = {
        let config = graph_wire_config(&server.uri(), "contoso.com");
        let config: connector_misc::onedrive::OnedriveConfig =
            connector_core::config::from_json(config).unwrap();
        let c: Arc<dyn Connector> =
            Arc::new(connector_misc::onedrive::OnedriveConnector::new(config).unwrap());
        c
    };
    let store = MemoryStateStore::new();
    let sink = run(&before, &store, SyncMode::Full).await;
    assert_eq!(groups(&sink), ["tenant:contoso.com"]);

    // The same tenant keyed by another id now: each drive is listed whole once, and the
    // files whose access names the tenant are delivered again under the new key alone; the
    // others are unchanged (their version hashes their access).
    let c = build(&server.uri(), json!({"user_ids": ["ada@contoso.com"]}));
    let key = format!("tenant:{}", onedrive_common::TENANT);
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(sink.ids(), ["onedrive:b!ada:A3"]);
    assert_eq!(groups(&sink), [key]);
    assert!(sink.deleted().is_empty(), "{:?}", sink.deleted());
    // Once: the next run reads changes only.
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    use connector_core::state::StateStore as _;
    let carried = store.load().await.unwrap().carried.unwrap();
    assert_eq!(carried.state["tenant"], json!(onedrive_common::TENANT));
    assert!(carried.state.get("rekey").is_none(), "{}", carried.state);

    // A checkpoint that recorded no tenant (the release before this one), its keys naming
    // the config's `tenant_id` as this one's do: nothing is listed whole again.
    {
        let mut carried = carried;
        carried.state.as_object_mut().unwrap().remove("tenant");
        store.carry(Some(carried)).await.unwrap();
    }
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
}

/// The config `build` gives, for tenant `tenant`.
fn graph_wire_config(server: &str, tenant: &str) -> serde_json::Value {
    json!({
        "credentials": {"tenant_id": tenant, "client_id": "app-id", "client_secret": SECRET},
        "authority_host": server,
        "graph_url": server,
        "allowed_hosts": ["127.0.0.1", "localhost"],
        "user_ids": ["ada@contoso.com"],
        "requests_per_second": 0,
    })
}
