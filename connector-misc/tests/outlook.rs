//! The Outlook connector against a fake Microsoft Graph in Graph's wire format
//! (`outlook_common`): mailboxes of every user or of named users, the folder tree and its
//! filters, message delta rounds and their links, `@removed`, `410 Gone`, moves and edits
//! between runs, attachments and their size cap, throttling, credentials and permissions.
#![cfg(feature = "outlook")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod outlook_common;

use outlook_common::graph_wire::{a_passing_404_refuses_the_prune, run_with_prune};

use std::sync::Arc;

use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, SyncReport, Syncer};
use connector_core::{Connector, ErrorKind, PartitionSpec};
use futures::StreamExt;
use outlook_common::{FakeGraph, SECRET, build, file, standard, time};
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

const M1: &str = "outlook:u-ada:M1";

#[tokio::test]
async fn every_mailbox_is_read_folder_by_folder_with_attachments() {
    let graph = standard(2);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(
        sorted(sink.ids()),
        [
            "outlook:u-ada:M1",
            "outlook:u-ada:M1/attachments/AAMkA1",
            "outlook:u-ada:M1/attachments/AAMkA2",
            "outlook:u-ada:M2",
            "outlook:u-ada:M3",
            "outlook:u-ada:M4",
            "outlook:u-bob:B1",
        ]
    );
    // Junk Email and Deleted Items are left out by default; the user without a mailbox is
    // passed over.
    assert!(sink.get("outlook:u-ada:J1").is_none());
    assert!(sink.get("outlook:u-ada:D1").is_none());
    let m1 = sink.get(M1).unwrap();
    assert_eq!(m1.title, "Q3 plan");
    assert_eq!(m1.updated_at, Some(time(1)));
    assert_eq!(m1.parent_id.as_deref(), Some("AAQkM"));
    assert_eq!(m1.access.as_ref().unwrap().emails, ["ada@contoso.com"]);
    assert_eq!(m1.owners, ["ada@contoso.com"]);
    assert_eq!(m1.metadata["folder"], "Inbox");
    assert_eq!(m1.metadata["from"], "Ada Lovelace <ada@contoso.com>");
    assert_eq!(m1.metadata["to"], json!(["Bob <bob@contoso.com>"]));
    assert_eq!(m1.metadata["cc"], json!(["carol@fabrikam.com"]));
    // The OneDrive link is named, not read; the inline picture is part of the body.
    assert_eq!(m1.metadata["reference_attachments"], json!(["Budget.xlsx"]));
    assert!(
        m1.link
            .as_ref()
            .unwrap()
            .as_str()
            .starts_with("https://outlook.office365.com/owa/?ItemID=M1")
    );
    assert_eq!(
        sink.get("outlook:u-ada:M3").unwrap().metadata["folder"],
        "Inbox/Projects"
    );
    // Attachments: the message is their parent, bytes with their type, text as text.
    let pdf = sink.get("outlook:u-ada:M1/attachments/AAMkA1").unwrap();
    assert_eq!(pdf.parent_id.as_deref(), Some(M1));
    assert_eq!(pdf.content.as_bytes(), b"%PDF-1.7 plan");
    assert_eq!(pdf.content.mime(), Some("application/pdf"));
    assert_eq!(pdf.access.as_ref().unwrap().emails, ["ada@contoso.com"]);
    let txt = sink.get("outlook:u-ada:M1/attachments/AAMkA2").unwrap();
    assert_eq!(txt.content.as_text(), Some("remember the milk"));
    // Small attachments came in one JSON batch, not one request each.
    assert_eq!(
        graph.requests("BATCH GET /v1.0/users/u-ada/messages/M1/attachments/"),
        2
    );
    assert_eq!(
        graph.requests("GET /v1.0/users/u-ada/messages/M1/attachments/"),
        0
    );
    // Every mail request asked for immutable ids.
    assert_eq!(graph.state.lock().unwrap().mutable_ids, 0);
}

#[tokio::test]
async fn a_converted_message_looks_like_this() {
    let server = standard(10).start().await;
    let c = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let m1 = sink.get(M1).unwrap();
    insta::assert_snapshot!(
        "outlook_html_message_markdown",
        m1.content.as_text().unwrap()
    );
    insta::assert_json_snapshot!("outlook_html_message", m1, {".updated_at" => "[time]"});
    let m2 = sink.get("outlook:u-ada:M2").unwrap();
    // A text body is kept as text: nothing in it is read as Markdown.
    insta::assert_snapshot!(
        "outlook_text_message_markdown",
        m2.content.as_text().unwrap()
    );
    assert_eq!(m2.metadata["body_type"], "text");
}

#[tokio::test]
async fn folder_filters_name_folders_with_their_children() {
    let server = standard(10).start().await;
    // RAGFlow's one folder: the inbox and the folder below it.
    let c = build(
        &server.uri(),
        json!({"user_ids": ["ada@contoso.com"], "folder": "inbox", "include_attachments": false}),
    );
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(
        sorted(sink.ids()),
        ["outlook:u-ada:M1", "outlook:u-ada:M2", "outlook:u-ada:M3"]
    );
    // A path by display name excluded, junk included by its well-known name.
    let c = build(
        &server.uri(),
        json!({"user_ids": ["ada@contoso.com"], "exclude_folders": ["Inbox/Projects", "sentitems"], "include_attachments": false}),
    );
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(
        sorted(sink.ids()),
        [
            "outlook:u-ada:D1",
            "outlook:u-ada:J1",
            "outlook:u-ada:M1",
            "outlook:u-ada:M2"
        ]
    );
}

#[tokio::test]
async fn an_incremental_run_reads_edits_moves_and_new_mail_since_the_carried_links() {
    let graph = standard(2);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    // Nothing changed: the carried delta links list nothing, no attachment is asked for.
    let before = graph.requests("GET /v1.0/users/u-ada/messages/M1/attachments");
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    assert_eq!(
        graph.requests("GET /v1.0/users/u-ada/messages/M1/attachments"),
        before
    );
    // An edit of an old message (minute 1 is long before the window), a move to another
    // folder, a new message.
    graph.put(
        "u-ada",
        "M2",
        "inbox",
        "Lunch? (moved to 1pm)",
        "One o'clock.",
        1,
    );
    graph.move_to("u-ada", "M3", "sent", 2);
    graph.put("u-ada", "M5", "projects", "Apollo launch", "<p>Go.</p>", 70);
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(
        sorted(sink.ids()),
        ["outlook:u-ada:M2", "outlook:u-ada:M3", "outlook:u-ada:M5"]
    );
    assert_eq!(
        sink.get("outlook:u-ada:M2").unwrap().title,
        "Lunch? (moved to 1pm)"
    );
    // The moved message keeps its id and says where it is now.
    let moved = sink.get("outlook:u-ada:M3").unwrap();
    assert_eq!(moved.metadata["folder"], "Sent Items");
    // The rounds started from the delta links, not from the top.
    let log = graph.state.lock().unwrap().log.clone();
    assert!(
        log.iter().any(|l| l.contains("/messages/delta")),
        "{log:#?}"
    );
    // The move between two folders that are read deleted nothing.
    assert!(sink.deleted().is_empty(), "{:?}", sink.deleted());
    // Prune's listing no longer has a message deleted for good, nor ones moved to the
    // (excluded) Deleted Items.
    graph.delete("u-ada", "M2");
    graph.move_to("u-ada", "M4", "deleted", 80);
    graph.move_to("u-ada", "M1", "deleted", 81);
    let ids = listed_ids(&c).await;
    assert_eq!(ids, ["outlook:u-ada:M3", "outlook:u-ada:M5"]);
    // The next round reports them `@removed`: they are deleted in the run, the attachments
    // of the message still in Deleted Items with them, and nothing is delivered.
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    assert_eq!(
        sorted(sink.deleted()),
        [
            "outlook:u-ada:M1",
            "outlook:u-ada:M1/attachments/AAMkA1",
            "outlook:u-ada:M1/attachments/AAMkA2",
            "outlook:u-ada:M2",
            "outlook:u-ada:M4"
        ]
    );
    // Each removal was looked up in a JSON batch, asking for immutable ids like every other
    // mail request (a batch member has only the headers it carries).
    assert!(graph.requests("BATCH GET /v1.0/users/u-ada/messages/M2") >= 1);
    assert_eq!(graph.state.lock().unwrap().mutable_ids, 0);
}

#[tokio::test]
async fn a_message_deleted_for_good_takes_its_attachments_with_it() {
    let graph = standard(2);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    let attachments = [
        "outlook:u-ada:M1/attachments/AAMkA1",
        "outlook:u-ada:M1/attachments/AAMkA2",
    ];
    for id in attachments {
        assert_eq!(sink.get(id).and_then(|d| d.parent_id), Some(M1.to_owned()));
    }
    // Gone from the mailbox: its attachments cannot be listed any more, the state store
    // knows them by their parent.
    graph.delete("u-ada", "M1");
    let asked = graph.requests("GET /v1.0/users/u-ada/messages/M1/attachments");
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(60))
        .run(SyncMode::Incremental)
        .await
        .expect("the sync runs");
    assert_eq!(report.deleted, 3, "{report:?}");
    assert_eq!(sorted(sink.deleted()), [M1, attachments[0], attachments[1]]);
    assert!(sink.get(M1).is_none() && attachments.iter().all(|a| sink.get(a).is_none()));
    assert_eq!(
        graph.requests("GET /v1.0/users/u-ada/messages/M1/attachments"),
        asked
    );
    assert_eq!(store.document_count(), sink.ids().len());
}

/// Attachments stored before the store kept parents (a state written by an older release)
/// get their parent recorded when their message is listed again, though nothing changed and
/// nothing is delivered again; the message deleted for good then takes them with it.
#[tokio::test]
async fn attachments_stored_without_their_parent_get_it_when_their_message_is_listed_again() {
    use connector_core::state::{DocumentState, DocumentStates, StateStore};
    let graph = standard(2);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    let attachments = [
        "outlook:u-ada:M1/attachments/AAMkA1",
        "outlook:u-ada:M1/attachments/AAMkA2",
    ];
    // As an older release left them: the same states without parents.
    let ids = store.document_ids().await.unwrap();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let states = store.documents(&refs).await.unwrap();
    let bare: Vec<(String, DocumentState)> = ids
        .iter()
        .zip(states)
        .map(|(id, s)| {
            let s = s.unwrap();
            (id.clone(), DocumentState::new(s.fingerprint, s.updated_at))
        })
        .collect();
    store
        .commit(connector_core::state::Commit {
            documents: DocumentStates::from(bare),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(store.children(&[M1]).await.unwrap().is_empty());

    // Read: the round lists M1 again, unchanged.
    graph.mark_read("u-ada", "M1", 66);
    let again = run(&c, &store, SyncMode::Incremental).await;
    assert!(again.ids().is_empty(), "{:?}", again.ids());
    assert_eq!(store.children(&[M1]).await.unwrap(), attachments);

    graph.delete("u-ada", "M1");
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(60))
        .run(SyncMode::Incremental)
        .await
        .expect("the sync runs");
    assert_eq!(report.deleted, 3, "{report:?}");
    assert_eq!(sorted(sink.deleted()), [M1, attachments[0], attachments[1]]);
}

#[tokio::test]
async fn reading_or_flagging_a_message_delivers_nothing_again() {
    let graph = standard(2);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    // Read: Exchange gives a new change key and modification time, and the delta round
    // lists the message; its document is what it was.
    let rounds = graph.requests("GET /v1.0/users/u-ada/mailFolders/");
    graph.mark_read("u-ada", "M2", 65);
    graph.mark_read("u-ada", "M1", 66);
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert!(graph.requests("GET /v1.0/users/u-ada/mailFolders/") > rounds);
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    assert!(sink.deleted().is_empty());
    // An edit still is one.
    graph.put("u-ada", "M2", "inbox", "Lunch? (1pm)", "One o'clock.", 67);
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(sink.ids(), ["outlook:u-ada:M2"]);
}

#[tokio::test]
async fn an_inline_file_is_a_document_and_an_inline_picture_is_not() {
    let graph = standard(10);
    // Apple Mail attaches files with `Content-Disposition: inline`.
    graph.attach(
        "u-ada",
        "M1",
        outlook_common::Att {
            inline: true,
            ..file("AAMkA5", "scan.pdf", "application/pdf", b"%PDF-1.4 scan")
        },
    );
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let scan = sink.get("outlook:u-ada:M1/attachments/AAMkA5").unwrap();
    assert_eq!(scan.content.as_bytes(), b"%PDF-1.4 scan");
    assert!(sink.get("outlook:u-ada:M1/attachments/AAMkA3").is_none());
}

#[tokio::test]
async fn an_encrypted_messages_smime_p7m_is_an_unsupported_failure_without_a_download() {
    let graph = standard(10);
    graph.put(
        "u-ada",
        "E1",
        "inbox",
        "Salaries",
        "<p>This message is encrypted.</p>",
        2,
    );
    graph.attach(
        "u-ada",
        "E1",
        file(
            "AAMkP7",
            "smime.p7m",
            "application/pkcs7-mime; smime-type=enveloped-data",
            b"\x30\x80\x06\x09\x2a\x86\x48",
        ),
    );
    let server = graph.clone().start().await;
    let c = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com", "folder": "inbox"}),
    );
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    // The message is a document (its placeholder body); its PKCS #7 content is not.
    assert!(sink.get("outlook:u-ada:E1").is_some());
    assert!(sink.get("outlook:u-ada:E1/attachments/AAMkP7").is_none());
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let f = &report.failures[0];
    assert_eq!(f.id.as_deref(), Some("outlook:u-ada:E1/attachments/AAMkP7"));
    assert_eq!(f.kind, ErrorKind::Unsupported);
    assert!(f.message.contains("S/MIME encrypted"), "{}", f.message);
    // Never downloaded, alone or in a batch.
    assert_eq!(
        graph.requests("GET /v1.0/users/u-ada/messages/E1/attachments/"),
        0
    );
    assert_eq!(
        graph.requests("BATCH GET /v1.0/users/u-ada/messages/E1/attachments/"),
        0
    );
}

#[tokio::test]
async fn the_owner_may_read_by_mail_and_by_sign_in_name() {
    let graph = standard(10);
    // Ada signs in as ada@contoso.onmicrosoft.com; her mail address is ada@contoso.com.
    for user in &mut graph.state.lock().unwrap().users {
        if user.0 == "u-ada" {
            user.1 = "Ada@Contoso.onmicrosoft.com".to_owned();
        }
    }
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    for id in [M1, "outlook:u-ada:M1/attachments/AAMkA1"] {
        let doc = sink.get(id).unwrap();
        assert_eq!(
            doc.access.as_ref().unwrap().emails,
            ["ada@contoso.com", "ada@contoso.onmicrosoft.com"]
        );
        assert_eq!(doc.owners, ["ada@contoso.com"]);
    }
}

#[tokio::test]
async fn every_user_passes_over_guests_and_users_without_a_mailbox() {
    let graph = standard(10);
    {
        let mut s = graph.state.lock().unwrap();
        // A guest, and an unlicensed member: both have `mail`, neither a mailbox here.
        s.users.push((
            "u-guest".to_owned(),
            "guest_fabrikam.com#EXT#@contoso.onmicrosoft.com".to_owned(),
            Some("guest@fabrikam.com".to_owned()),
        ));
        s.users.push((
            "u-sam".to_owned(),
            "sam@contoso.com".to_owned(),
            Some("sam@contoso.com".to_owned()),
        ));
    }
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert!(sink.get(M1).is_some() && sink.get("outlook:u-bob:B1").is_some());
    // The member without a mailbox answered 404 (MailboxNotEnabledForRESTAPI) and was passed
    // over; the guest was not even asked.
    assert_eq!(graph.requests("GET /v1.0/users/u-sam/mailFolders"), 1);
    assert_eq!(graph.requests("GET /v1.0/users/u-guest"), 0);
    c.check().await.unwrap();
}

/// The standard tenant plus a shared mailbox (its account disabled, as Microsoft advises)
/// and a guest with a mailbox, `GET /users` answering two users a page.
fn tenant_with_disabled_and_guest() -> FakeGraph {
    let graph = standard(10);
    graph.user("u-shared", "support@contoso.com", true);
    graph.put("u-shared", "S1", "inbox", "Help!", "<p>help</p>", 8);
    graph.user(
        "u-guest",
        "guest_fabrikam.com#EXT#@contoso.onmicrosoft.com",
        true,
    );
    graph.put("u-guest", "G1", "inbox", "Visiting", "<p>hello</p>", 9);
    {
        let mut s = graph.state.lock().unwrap();
        s.disabled.push("u-shared".into());
        s.users_page = 2;
    }
    graph
}

/// How many times Graph was asked for user `id` itself (a mailbox resolved by its user).
fn user_lookups(graph: &FakeGraph, id: &str) -> usize {
    let exact = [
        format!("GET /v1.0/users/{id}"),
        format!("BATCH GET /v1.0/users/{id}"),
    ];
    let s = graph.state.lock().unwrap();
    s.log.iter().filter(|l| exact.contains(l)).count()
}

#[tokio::test]
async fn discovery_hands_each_user_partition_its_mailbox_and_the_key_alone_still_works() {
    let graph = tenant_with_disabled_and_guest();
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let specs = c.discover_partition_specs().await.unwrap();
    assert_eq!(
        PartitionSpec::keys(specs.clone()),
        ["user:u-ada", "user:u-bob"]
    );
    assert!(specs.iter().all(|s| s.context.is_some()), "{specs:?}");
    // One listing of the users (two pages), nothing per user.
    assert_eq!(graph.state.lock().unwrap().user_pages, 2);

    // Each job as the sync service runs it where it discovered: a connector built afresh,
    // then its partition with the mailbox discovery resolved; its sync and its prune look
    // no user up.
    let mut handed = Vec::new();
    for spec in &specs {
        let job = build(&server.uri(), json!({}));
        let part = job.partition_of(spec).expect("a discovered partition");
        let sink = run(&part, &MemoryStateStore::new(), SyncMode::Full).await;
        assert_eq!(sorted(sink.ids()), listed_ids(&part).await);
        handed.push(sorted(sink.ids()));
    }
    assert_eq!(graph.state.lock().unwrap().user_pages, 2, "no listing");
    assert_eq!(user_lookups(&graph, "u-ada"), 0);
    assert_eq!(user_lookups(&graph, "u-bob"), 0);
    assert_eq!(handed[1], ["outlook:u-bob:B1"]);
    assert!(handed[0].contains(&M1.to_owned()), "{:?}", handed[0]);
    // The mailbox's owner still reads its messages: the readers came with it.
    let job = build(&server.uri(), json!({}));
    let ada = job.partition_of(&specs[0]).unwrap();
    let sink = run(&ada, &MemoryStateStore::new(), SyncMode::Full).await;
    let m1 = sink.get(M1).unwrap();
    assert!(
        m1.access
            .as_ref()
            .unwrap()
            .emails
            .contains(&"ada@contoso.com".to_owned()),
        "{:?}",
        m1.access
    );

    // The key alone (another process, after a restart): the user is resolved first (once a
    // stream), and the same documents come with the same access.
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
    assert_eq!(user_lookups(&graph, "u-ada"), 1);
    assert_eq!(user_lookups(&graph, "u-bob"), 1);
    let job = build(&server.uri(), json!({}));
    let keyed = job.partition("user:u-ada").unwrap();
    let sink = run(&keyed, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.get(M1).unwrap().access, m1.access);
    assert_eq!(graph.state.lock().unwrap().user_pages, 2, "no listing");

    // A context handed to another user's partition is not used: Bob is looked up.
    let bob = job
        .partition_with("user:u-bob", specs[0].context.as_ref().unwrap())
        .unwrap();
    let sink = run(&bob, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.ids(), ["outlook:u-bob:B1"]);
    assert_eq!(user_lookups(&graph, "u-bob"), 2);
}

/// The folder keys of the links a store's last finished run carried over.
async fn carried_folders(store: &MemoryStateStore) -> Vec<String> {
    use connector_core::state::StateStore as _;
    let carried = store.load().await.unwrap().carried.expect("links carried");
    let mut keys: Vec<String> = carried.state["since"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn every_enabled_member_with_a_mailbox_is_a_discovered_partition_with_its_own_checkpoint() {
    let graph = tenant_with_disabled_and_guest();
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    // What the config names: nothing; what the service discovers: one job per enabled member
    // with `mail` (u-nobox has none, u-shared is disabled, u-guest a guest), from every page
    // of users.
    assert!(c.partitions().is_empty());
    assert_eq!(
        c.discover_partitions().await.unwrap(),
        ["user:u-ada", "user:u-bob"]
    );
    // Four enabled users (the shared mailbox filtered out by Graph), two a page.
    assert_eq!(graph.state.lock().unwrap().user_pages, 2);
    // Discovery asks nothing per user.
    assert_eq!(graph.requests("GET /v1.0/users/"), 0);
    assert_eq!(graph.requests("BATCH GET /v1.0/users/"), 0);
    let ada = c
        .partition("user:u-ada")
        .expect("a discovered user is a partition");
    assert!(ada.partitions().is_empty());
    let ada_state = MemoryStateStore::new();
    let sink = run(&ada, &ada_state, SyncMode::Full).await;
    assert_eq!(
        sorted(sink.ids()),
        [
            "outlook:u-ada:M1",
            "outlook:u-ada:M1/attachments/AAMkA1",
            "outlook:u-ada:M1/attachments/AAMkA2",
            "outlook:u-ada:M2",
            "outlook:u-ada:M3",
            "outlook:u-ada:M4",
        ]
    );
    // Its own checkpoint: the links of Ada's folders only, and the partition listed no users.
    let pages = graph.state.lock().unwrap().user_pages;
    assert_eq!(pages, 2, "a partition does not list the tenant");
    let folders = carried_folders(&ada_state).await;
    assert_eq!(folders.len(), 3, "{folders:?}");
    assert!(
        folders.iter().all(|k| k.starts_with("u-ada/")),
        "{folders:?}"
    );
    // Bob's partition, on its own state, reads Bob's mailbox only.
    let bob = c.partition("user:u-bob").unwrap();
    let bob_state = MemoryStateStore::new();
    let sink = run(&bob, &bob_state, SyncMode::Full).await;
    assert_eq!(sink.ids(), ["outlook:u-bob:B1"]);
    assert!(
        carried_folders(&bob_state)
            .await
            .iter()
            .all(|k| k.starts_with("u-bob/"))
    );
    // The next run of Ada's partition reads what changed since its own links.
    graph.put("u-ada", "M5", "inbox", "New", "<p>new</p>", 70);
    graph.put("u-bob", "B2", "inbox", "Bob's new", "<p>new</p>", 71);
    let sink = run(&ada, &ada_state, SyncMode::Incremental).await;
    assert_eq!(sink.ids(), ["outlook:u-ada:M5"]);
    // A discovered user without a mailbox by its run, or gone from the tenant, reads nothing,
    // quietly.
    for gone in ["user:u-nobox", "user:u-deleted"] {
        let report = Syncer::new(c.partition(gone).unwrap())
            .sink(MemorySink::new())
            .run(SyncMode::Full)
            .await
            .unwrap();
        assert_eq!(report.delivered, 0, "{gone}");
        assert!(report.failures.is_empty(), "{gone}: {report:?}");
    }
    // The CLI's single run still reads every enabled member's mailbox.
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.ids().len(), 9, "{:?}", sink.ids());
    assert!(
        !sink
            .ids()
            .iter()
            .any(|i| i.contains("u-shared") || i.contains("u-guest"))
    );
    // Not a user key, or a user key where users are named: no partition.
    assert!(c.partition("user:").is_none());
    assert!(c.partition("drive:b!x").is_none());
    let named = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com, bob@contoso.com"}),
    );
    assert!(named.partition("user:u-guest").is_none());
    assert_eq!(
        named.discover_partitions().await.unwrap(),
        named.partitions()
    );
}

#[tokio::test]
async fn guests_and_disabled_accounts_are_listed_only_when_asked_for() {
    let graph = tenant_with_disabled_and_guest();
    let server = graph.clone().start().await;
    let guests = build(&server.uri(), json!({"include_guests": true}));
    assert_eq!(
        guests.discover_partitions().await.unwrap(),
        ["user:u-ada", "user:u-bob", "user:u-guest"]
    );
    let sink = run(
        &guests.partition("user:u-guest").unwrap(),
        &MemoryStateStore::new(),
        SyncMode::Full,
    )
    .await;
    assert_eq!(sink.ids(), ["outlook:u-guest:G1"]);
    // Shared mailboxes are disabled accounts: read with `include_disabled`.
    let shared = build(&server.uri(), json!({"include_disabled": true}));
    assert_eq!(
        shared.discover_partitions().await.unwrap(),
        ["user:u-ada", "user:u-bob", "user:u-shared"]
    );
    let sink = run(&shared, &MemoryStateStore::new(), SyncMode::Full).await;
    assert!(
        sink.get("outlook:u-shared:S1").is_some(),
        "{:?}",
        sink.ids()
    );
    assert!(sink.get("outlook:u-guest:G1").is_none());
    // Without `User.Read.All` discovery fails, naming the permission (never "no partitions",
    // which would run the tenant as one job).
    graph.state.lock().unwrap().users_forbidden = true;
    let e = shared.discover_partitions().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("User.Read.All"), "{e}");
}

#[tokio::test]
async fn a_checkpoint_of_the_whole_tenant_still_loads_in_one_run_and_in_a_partition() {
    let graph = standard(10);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    // The single job of before: every mailbox's links in one checkpoint.
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    let folders = carried_folders(&store).await;
    assert!(
        folders.iter().any(|k| k.starts_with("u-ada/")),
        "{folders:?}"
    );
    assert!(
        folders.iter().any(|k| k.starts_with("u-bob/")),
        "{folders:?}"
    );
    // The CLI's single run goes on from it.
    graph.put("u-ada", "M5", "inbox", "New", "<p>new</p>", 70);
    graph.put("u-bob", "B2", "inbox", "Bob's new", "<p>new</p>", 71);
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(sorted(sink.ids()), ["outlook:u-ada:M5", "outlook:u-bob:B2"]);
    // A partition handed the tenant's checkpoint reads its own mailbox from its links (only
    // what changed) and keeps only its own links.
    graph.put("u-ada", "M6", "inbox", "Newer", "<p>newer</p>", 72);
    let tenant = {
        use connector_core::state::StateStore as _;
        store.load().await.unwrap().carried
    };
    let ada_state = MemoryStateStore::new();
    {
        use connector_core::state::StateStore as _;
        ada_state.carry(tenant).await.unwrap();
    }
    let ada = c.partition("user:u-ada").unwrap();
    let sink = run(&ada, &ada_state, SyncMode::Incremental).await;
    assert_eq!(sink.ids(), ["outlook:u-ada:M6"]);
    let kept = carried_folders(&ada_state).await;
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert!(kept.iter().all(|k| k.starts_with("u-ada/")), "{kept:?}");
}

async fn listed_ids(c: &Arc<dyn Connector>) -> Vec<String> {
    let roles = c.roles();
    let slim = roles.as_slim().expect("slim");
    let pages: Vec<_> = slim
        .list_ids(connector_core::SyncContext::new())
        .collect()
        .await;
    let mut ids: Vec<String> = pages
        .into_iter()
        .flat_map(|p| p.unwrap())
        .map(|d| d.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_delta_link_graph_no_longer_takes_lists_the_folder_again() {
    let graph = standard(10);
    let server = graph.clone().start().await;
    let c = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com", "folder": "inbox"}),
    );
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    // Every token issued so far expires.
    let version = graph.state.lock().unwrap().version;
    graph
        .state
        .lock()
        .unwrap()
        .expired
        .push(format!("s{version}"));
    let downloads = graph.requests("BATCH GET /v1.0/users/u-ada/messages/M1/attachments/");
    let report = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(store.clone())
        .at(time(90))
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    // Listed again: every message and attachment seen unchanged, none delivered again, no
    // attachment downloaded (only listed, to account for their ids).
    assert_eq!(report.delivered, 0, "{report:?}");
    assert_eq!(report.unchanged, 5, "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(
        graph.requests("BATCH GET /v1.0/users/u-ada/messages/M1/attachments/"),
        downloads
    );
}

#[tokio::test]
async fn an_attachment_over_the_cap_is_a_failure_naming_it_without_a_download() {
    let graph = standard(10);
    graph.attach(
        "u-ada",
        "M2",
        file("AAMkBIG", "video.mp4", "video/mp4", &[7u8; 4096]),
    );
    graph.attach(
        "u-ada",
        "M2",
        outlook_common::Att {
            kind: "#microsoft.graph.itemAttachment",
            ..file(
                "AAMkITEM",
                "Fwd: minutes",
                "",
                b"Subject: minutes\r\n\r\nAgreed.",
            )
        },
    );
    // A large one under the cap comes raw by $value.
    graph.attach(
        "u-ada",
        "M2",
        file("AAMkMID", "scan.tiff", "image/tiff", &[1u8; 300 * 1024]),
    );
    let server = graph.clone().start().await;
    let c = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com", "folder": "inbox", "max_file_size": 400 * 1024}),
    );
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(
        graph.requests("GET /v1.0/users/u-ada/messages/M2/attachments/AAMkMID/$value"),
        1
    );
    // An attached message comes by $value as its MIME form, named .eml.
    let item = sink.get("outlook:u-ada:M2/attachments/AAMkITEM").unwrap();
    assert_eq!(item.title, "Fwd: minutes.eml");
    assert_eq!(item.content.mime(), Some("message/rfc822"));
    assert_eq!(item.content.as_bytes(), b"Subject: minutes\r\n\r\nAgreed.");
    assert_eq!(
        graph.requests("GET /v1.0/users/u-ada/messages/M2/attachments/AAMkITEM/$value"),
        1
    );
    let batched = graph.requests("BATCH GET /v1.0/users/u-ada/messages/M2/attachments/AAMkBIG");
    let c = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com", "folder": "inbox", "max_file_size": 1024}),
    );
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    let failed: Vec<&str> = report
        .failures
        .iter()
        .filter_map(|f| f.id.as_deref())
        .collect();
    assert_eq!(
        sorted(failed.iter().map(|s| (*s).to_owned()).collect()),
        [
            "outlook:u-ada:M2/attachments/AAMkBIG",
            "outlook:u-ada:M2/attachments/AAMkMID"
        ]
    );
    let big = report
        .failures
        .iter()
        .find(|f| f.id.as_deref() == Some("outlook:u-ada:M2/attachments/AAMkBIG"))
        .unwrap();
    assert!(
        big.message.contains("video.mp4") && big.message.contains("max_file_size"),
        "{}",
        big.message
    );
    assert_eq!(
        graph.requests("GET /v1.0/users/u-ada/messages/M2/attachments/AAMkBIG"),
        0
    );
    assert_eq!(
        graph.requests("BATCH GET /v1.0/users/u-ada/messages/M2/attachments/AAMkBIG"),
        batched
    );
    // The message itself is delivered.
    assert!(sink.get("outlook:u-ada:M2").is_some());
}

#[tokio::test]
async fn a_malformed_message_is_its_failure_and_the_page_goes_on() {
    let graph = standard(10);
    graph
        .state
        .lock()
        .unwrap()
        .mailboxes
        .get_mut("u-ada")
        .unwrap()
        .messages[1]
        .malformed = true;
    let server = graph.start().await;
    let c = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com", "folder": "inbox", "include_attachments": false}),
    );
    let sink = MemorySink::new();
    let report = Syncer::new(c)
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.failures[0].id.as_deref(), Some("outlook:u-ada:M2"));
    assert_eq!(sorted(sink.ids()), ["outlook:u-ada:M1", "outlook:u-ada:M3"]);
}

#[tokio::test]
async fn a_mailbox_the_app_may_not_read_is_its_failure_naming_mail_read() {
    let graph = standard(10);
    graph.state.lock().unwrap().denied.push("u-bob".into());
    let server = graph.start().await;
    let c = build(&server.uri(), json!({"include_attachments": false}));
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.failures.len(), 1, "{report:?}");
    let f = &report.failures[0];
    assert_eq!(f.kind, ErrorKind::PermissionDenied);
    assert!(
        f.message.contains("Mail.Read") && f.message.contains("bob@contoso.com"),
        "{}",
        f.message
    );
    assert!(sink.get("outlook:u-ada:M1").is_some());
    // check() on that mailbox says so.
    let bob = build(&server.uri(), json!({"user_ids": "bob@contoso.com"}));
    let e = bob.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("Mail.Read"), "{e}");
}

#[tokio::test]
async fn listing_every_user_without_user_read_all_names_the_permission() {
    let graph = standard(10);
    graph.state.lock().unwrap().users_forbidden = true;
    let server = graph.start().await;
    let c = build(&server.uri(), json!({}));
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("User.Read.All"), "{e}");
}

#[tokio::test]
async fn a_named_user_that_is_not_there_is_a_failure_and_the_others_are_read() {
    let server = standard(10).start().await;
    let c = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com, ghost@contoso.com", "folder": "sentitems"}),
    );
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(sink.ids(), ["outlook:u-ada:M4"]);
    assert_eq!(report.failures.len(), 1);
    assert!(report.failures[0].message.contains("ghost@contoso.com"));
    assert_eq!(
        c.partitions(),
        ["user:ada@contoso.com", "user:ghost@contoso.com"]
    );
    let one = c.partition("user:ada@contoso.com").unwrap();
    assert!(one.partitions().is_empty());
    let e = build(&server.uri(), json!({"user_ids": "ghost@contoso.com"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("ghost@contoso.com"), "{e}");
}

#[tokio::test]
async fn a_failed_message_is_refetched_with_its_attachments() {
    let server = standard(10).start().await;
    let c = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    let roles = c.roles();
    let refetch = roles.as_refetch().unwrap();
    let batches: Vec<_> = refetch
        .fetch(
            vec![
                "outlook:u-ada:M1/attachments/AAMkA1".into(),
                "outlook:u-ada:J1".into(),
                "outlook:u-ada:gone".into(),
                "onedrive:b!1:x".into(),
            ],
            connector_core::SyncContext::new(),
        )
        .collect()
        .await;
    let ids: Vec<String> = batches
        .into_iter()
        .flat_map(|b| b.unwrap().documents)
        .map(|d| d.id)
        .collect();
    // The junk message is in an excluded folder: nothing.
    assert_eq!(
        ids,
        [
            "outlook:u-ada:M1",
            "outlook:u-ada:M1/attachments/AAMkA1",
            "outlook:u-ada:M1/attachments/AAMkA2"
        ]
    );
}

#[tokio::test]
async fn throttling_is_waited_out() {
    let graph = standard(10);
    graph.state.lock().unwrap().throttle = 2;
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": ["bob@contoso.com"]}));
    let started = std::time::Instant::now();
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.ids(), ["outlook:u-bob:B1"]);
    assert!(started.elapsed() >= std::time::Duration::from_millis(1900));
}

#[tokio::test]
async fn a_wrong_secret_fails_check_naming_the_field_and_never_shows_it() {
    let server = standard(10).start().await;
    let config = json!({
        "credentials": {"tenant_id": outlook_common::TENANT, "client_id": "app-id", "client_secret": "wrong-secret-value"},
        "authority_host": server.uri(), "graph_url": server.uri(), "allowed_hosts": ["127.0.0.1"],
        "user_ids": ["ada@contoso.com"],
    });
    let config: connector_misc::outlook::OutlookConfig =
        connector_core::config::from_json(config).unwrap();
    let c = connector_misc::outlook::OutlookConnector::new(config).unwrap();
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert!(e.to_string().contains("credentials.client_secret"), "{e}");
    assert!(!format!("{e:?}{c:?}").contains("wrong-secret-value"));
    let good = build(&server.uri(), json!({"user_ids": ["ada@contoso.com"]}));
    good.check().await.unwrap();
    assert!(!format!("{good:?}").contains(SECRET));
}

#[tokio::test]
async fn ragflows_config_is_accepted_as_it_is() {
    let mut registry = connector_core::Registry::new();
    connector_misc::register(&mut registry);
    let server = FakeGraph::new(5).start().await;
    let built = registry.build(
        "outlook",
        json!({
            "credentials": {"tenant_id": outlook_common::TENANT, "client_id": "c", "client_secret": SECRET},
            "folder": "inbox",
            "user_ids": "support@example.com, sales@example.com",
            "batch_size": 2,
            "graph_url": server.uri(),
            "authority_host": server.uri(),
            "allowed_hosts": ["127.0.0.1"],
        }),
    );
    let built = built.unwrap();
    assert_eq!(
        built.partitions(),
        ["user:support@example.com", "user:sales@example.com"]
    );
}

// Review items 7, 8, 10 and 16 (issue 23).

#[tokio::test]
async fn a_renamed_folder_delivers_its_messages_again_with_the_new_path() {
    let graph = standard(10);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    assert_eq!(
        sink.get("outlook:u-ada:M3").unwrap().metadata["folder"],
        "Inbox/Projects"
    );
    // A rename changes no message: the folder's delta round lists nothing.
    graph.rename_folder("u-ada", "projects", "Apollo");
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(sink.ids(), ["outlook:u-ada:M3"]);
    assert_eq!(
        sink.get("outlook:u-ada:M3").unwrap().metadata["folder"],
        "Inbox/Apollo"
    );
    // Renaming a parent moves every path below it; the other folders' messages stay.
    graph.rename_folder("u-ada", "inbox", "Posteingang");
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(
        sorted(sink.ids()),
        [
            M1,
            "outlook:u-ada:M1/attachments/AAMkA1",
            "outlook:u-ada:M1/attachments/AAMkA2",
            "outlook:u-ada:M2",
            "outlook:u-ada:M3"
        ]
    );
    assert_eq!(
        sink.get("outlook:u-ada:M3").unwrap().metadata["folder"],
        "Posteingang/Apollo"
    );
    assert_eq!(sink.get(M1).unwrap().metadata["folder"], "Posteingang");
    // Then nothing again.
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
}

#[tokio::test]
async fn a_deleted_folder_takes_its_messages_documents_with_it() {
    let graph = standard(10);
    graph.attach(
        "u-ada",
        "M3",
        file("AAMkA9", "apollo.txt", "text/plain", b"countdown"),
    );
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    assert!(carried_folders(&store).await.contains(&format!(
        "u-ada/{}",
        FakeGraph::folder_id("u-ada", "projects")
    )));
    // Deleting a folder moves it, with its messages (same ids, same change keys), under
    // Deleted Items, which is not read: no round reports them `@removed`.
    graph.move_folder("u-ada", "projects", "deleted");
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    assert_eq!(
        sorted(sink.deleted()),
        ["outlook:u-ada:M3", "outlook:u-ada:M3/attachments/AAMkA9"]
    );
    let kept = carried_folders(&store).await;
    assert!(!kept.iter().any(|k| k.ends_with("projects")), "{kept:?}");
    // The folder is left alone from then on.
    let rounds = graph.requests(&format!(
        "GET /v1.0/users/u-ada/mailFolders/{}/messages/delta",
        FakeGraph::folder_id("u-ada", "projects")
    ));
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert!(sink.ids().is_empty() && sink.deleted().is_empty());
    assert_eq!(
        graph.requests(&format!(
            "GET /v1.0/users/u-ada/mailFolders/{}/messages/delta",
            FakeGraph::folder_id("u-ada", "projects")
        )),
        rounds
    );
}

#[tokio::test]
async fn a_folder_left_out_by_the_filters_takes_its_messages_documents_with_it() {
    let graph = standard(10);
    let server = graph.clone().start().await;
    let store = MemoryStateStore::new();
    let all = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    run(&all, &store, SyncMode::Full).await;
    // The same source, now without Sent Items.
    let fewer = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com", "exclude_folders": "junkemail, deleteditems, sentitems"}),
    );
    let sink = run(&fewer, &store, SyncMode::Incremental).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    assert_eq!(sink.deleted(), ["outlook:u-ada:M4"]);
}

#[tokio::test]
async fn drafts_are_left_out_unless_named() {
    let graph = standard(10);
    graph.put("u-ada", "DR1", "drafts", "Half a thought", "<p>Dear</p>", 8);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert!(sink.get("outlook:u-ada:M2").is_some());
    assert!(sink.get("outlook:u-ada:DR1").is_none());
    // Named as the folder to read, the drafts are read.
    let c = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com", "folder": "drafts"}),
    );
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.ids(), ["outlook:u-ada:DR1"]);
}

#[tokio::test]
async fn a_delta_page_over_the_body_cap_is_asked_for_again_with_fewer_messages() {
    // Two messages of 33 MiB: a page of both is over core's 64 MiB body cap.
    let (graph, report) = full_run_of_big_messages(2).await;
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.delivered, 2, "{report:?}");
    // 50, then 5 (both still over the cap), then one message a page.
    assert_eq!(graph.requests(&inbox_delta()), 4);
}

/// A full run of a mailbox whose inbox holds `n` messages of 33 MiB each, on pages of 50:
/// a page of two is over core's 64 MiB body cap.
async fn full_run_of_big_messages(n: usize) -> (FakeGraph, SyncReport) {
    let graph = FakeGraph::new(50);
    graph.user("u-ada", "ada@contoso.com", true);
    let big = "a".repeat(33 * 1024 * 1024);
    for i in 1..=n {
        graph.put(
            "u-ada",
            &format!("BIG{i}"),
            "inbox",
            &format!("Newsletter {i}"),
            &big,
            i as i64,
        );
    }
    drop(big);
    let server = graph.clone().start().await;
    let c = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com", "folder": "inbox"}),
    );
    let report = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(MemoryStateStore::new())
        .at(time(60))
        .run(SyncMode::Full)
        .await
        .unwrap();
    (graph, report)
}

/// The request line of the inbox's message delta.
fn inbox_delta() -> String {
    format!(
        "GET /v1.0/users/u-ada/mailFolders/{}/messages/delta",
        FakeGraph::folder_id("u-ada", "inbox")
    )
}

#[tokio::test]
async fn a_meeting_request_says_when_and_where_the_meeting_is() {
    let graph = standard(10);
    graph.put(
        "u-ada",
        "MR1",
        "inbox",
        "Apollo review",
        "<p>Let's review the launch.</p>",
        9,
    );
    // As Graph's eventMessage reference shows a meeting request.
    graph.meeting(
        "u-ada",
        "MR1",
        "#microsoft.graph.eventMessageRequest",
        json!({
            "meetingMessageType": "meetingRequest",
            "type": "singleInstance",
            "isOutOfDate": false,
            "isAllDay": false,
            "isDelegated": false,
            "responseRequested": true,
            "startDateTime": {"dateTime": "2026-03-02T10:00:00.0000000", "timeZone": "UTC"},
            "endDateTime": {"dateTime": "2026-03-02T11:00:00.0000000", "timeZone": "UTC"},
            "location": {"displayName": "Conf Room 12", "locationType": "default",
                "uniqueIdType": "unknown"},
            "recurrence": null,
        }),
    );
    let server = graph.clone().start().await;
    let c = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com", "folder": "inbox"}),
    );
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    let doc = sink.get("outlook:u-ada:MR1").unwrap();
    let text = doc.content.as_text().unwrap();
    assert!(
        text.contains("**When:** 2026-03-02T10:00:00 UTC – 2026-03-02T11:00:00 UTC"),
        "{text}"
    );
    assert!(text.contains("**Where:** Conf Room 12"), "{text}");
    assert_eq!(doc.metadata["meeting_message_type"], "meetingRequest");
    assert_eq!(doc.metadata["meeting_start"], "2026-03-02T10:00:00 UTC");
    assert_eq!(doc.metadata["meeting_location"], "Conf Room 12");
    // Only the meeting message was read on its own; plain mail costs nothing more.
    assert_eq!(graph.requests("GET /v1.0/users/u-ada/messages/MR1"), 1);
    assert_eq!(graph.requests("GET /v1.0/users/u-ada/messages/M2"), 0);
    assert!(
        !sink
            .get("outlook:u-ada:M2")
            .unwrap()
            .metadata
            .contains_key("meeting_start")
    );
    // Unchanged, it is not read again.
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    assert_eq!(graph.requests("GET /v1.0/users/u-ada/messages/MR1"), 1);
}

#[tokio::test]
async fn a_message_whose_only_attachment_is_inline_is_asked_for_it_when_configured() {
    // Review item 4: Graph's `hasAttachments` is false when every attachment is inline, as
    // Apple Mail sends attached files.
    let graph = standard(10);
    graph.attach(
        "u-ada",
        "M2",
        outlook_common::Att {
            inline: true,
            ..file(
                "AAMkA6",
                "invoice.pdf",
                "application/pdf",
                b"%PDF-1.4 invoice",
            )
        },
    );
    let server = graph.clone().start().await;
    let scan = "outlook:u-ada:M2/attachments/AAMkA6";
    let c = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert!(sink.get(scan).is_none());
    assert_eq!(
        graph.requests("GET /v1.0/users/u-ada/messages/M2/attachments"),
        0
    );
    let c = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com", "list_every_messages_attachments": true}),
    );
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    assert_eq!(
        sink.get(scan).unwrap().content.as_bytes(),
        b"%PDF-1.4 invoice"
    );
    assert_eq!(
        graph.requests("GET /v1.0/users/u-ada/messages/M2/attachments"),
        1
    );
    // Prune's listing has it too.
    assert!(listed_ids(&c).await.contains(&scan.to_owned()));
}

// Review of the merged graphfix work (notes/review-graphfix.md, finding 1).

/// Graph answers 404 for well-known name `name` of `user`'s mailbox from now on (a mailbox
/// being moved or provisioned does, for a while); `restore` puts it back.
fn well_known_answers_404(graph: &FakeGraph, user: &str, short: &str, name: Option<&'static str>) {
    let id = FakeGraph::folder_id(user, short);
    let mut s = graph.state.lock().unwrap();
    let m = s.mailboxes.get_mut(user).unwrap();
    m.folders
        .iter_mut()
        .find(|f| f.id == id)
        .unwrap()
        .well_known = name;
}

#[tokio::test]
async fn an_included_well_known_folder_that_does_not_resolve_deletes_nothing() {
    // A German mailbox: `folder: inbox` finds Posteingang only by its well-known name.
    let graph = standard(10);
    graph.rename_folder("u-ada", "inbox", "Posteingang");
    let server = graph.clone().start().await;
    let c = build(
        &server.uri(),
        json!({"user_ids": "ada@contoso.com", "folder": "inbox"}),
    );
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    assert!(sink.get(M1).is_some() && sink.get("outlook:u-ada:M3").is_some());
    let links = carried_folders(&store).await;
    assert_eq!(links.len(), 2, "{links:?}");

    // `mailFolders/inbox` answers 404 for this run: the listing is short of every folder it
    // read, which must not read as "those folders are gone".
    well_known_answers_404(&graph, "u-ada", "inbox", None);
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert!(sink.deleted().is_empty(), "{:?}", sink.deleted());
    assert_eq!(carried_folders(&store).await, links, "the links are kept");
    // Nor may the id listing (what prune keeps) come back short: it is refused.
    let roles = c.roles();
    let slim = roles.as_slim().expect("slim");
    let pages: Vec<_> = slim
        .list_ids(connector_core::SyncContext::new())
        .collect()
        .await;
    assert!(pages.iter().any(Result::is_err), "a short id listing");

    // Resolved again: the links go on, nothing is delivered or deleted.
    well_known_answers_404(&graph, "u-ada", "inbox", Some("inbox"));
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert!(
        sink.deleted().is_empty() && sink.ids().is_empty(),
        "{:?}",
        sink.ids()
    );
    assert_eq!(
        listed_ids(&c).await.len(),
        5,
        "M1, its two attachments, M2 and M3"
    );
}

#[tokio::test]
async fn a_mailbox_whose_folders_cannot_be_listed_deletes_nothing_named_or_as_a_partition() {
    let graph = standard(10);
    let server = graph.clone().start().await;
    let every = build(&server.uri(), json!({}));
    let partition = every
        .partition("user:u-ada")
        .expect("a discovered partition");
    let named = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    for c in [partition, named] {
        let store = MemoryStateStore::new();
        run(&c, &store, SyncMode::Full).await;
        // The app may not read the mailbox's folders for a run (403): none of its folders is
        // listed, which is no sign that any of them is gone.
        graph.state.lock().unwrap().denied.push("u-ada".into());
        let sink = run(&c, &store, SyncMode::Incremental).await;
        assert!(sink.deleted().is_empty(), "{:?}", sink.deleted());
        graph.state.lock().unwrap().denied.clear();
        let sink = run(&c, &store, SyncMode::Incremental).await;
        assert!(sink.deleted().is_empty(), "{:?}", sink.deleted());
    }
}

#[tokio::test]
async fn a_mailbox_whose_folders_answer_404_for_a_run_is_not_pruned_unless_its_user_is_gone() {
    let graph = standard(10);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (_, report) = run_with_prune(&c, &store, time(60)).await;
    report.unwrap();
    let all = listed_ids(&c).await;
    assert!(all.contains(&M1.to_owned()), "{all:?}");

    // Ada's mailbox answers 404 for a run (being moved), her user still in the tenant: the
    // id listing is refused naming her mailbox, and prune deletes nothing.
    graph.state.lock().unwrap().flaky.push("u-ada".into());
    a_passing_404_refuses_the_prune(&c, &store, time(60), "ada@contoso.com").await;
    graph.state.lock().unwrap().flaky.clear();
    assert_eq!(listed_ids(&c).await, all, "nothing lost");

    // Ada is deleted after the user listing (still listed, `users/u-ada` answers 404): her
    // documents are pruned, Bob's kept.
    graph.state.lock().unwrap().gone.push("u-ada".into());
    let (sink, report) = run_with_prune(&c, &store, time(60)).await;
    let report = report.unwrap();
    assert!(report.prune.is_some(), "{report:?}");
    let deleted = sink.deleted();
    assert!(deleted.contains(&M1.to_owned()), "{deleted:?}");
    assert!(
        deleted.iter().all(|d| d.starts_with("outlook:u-ada:")),
        "{deleted:?}"
    );
    assert!(
        user_lookups(&graph, "u-ada") > 0,
        "the user itself was asked"
    );
}

// Review of graphfix, findings 7-9.

#[tokio::test]
async fn an_excluded_well_known_folder_that_does_not_resolve_fails_the_mailbox_and_reads_none_of_it()
 {
    let graph = standard(10);
    graph.put("u-ada", "D1", "deleted", "Old news", "<p>gone</p>", 5);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"user_ids": "ada@contoso.com"}));
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full).await;
    assert!(sink.get(M1).is_some() && sink.get("outlook:u-ada:D1").is_none());
    // `mailFolders/deleteditems` answers 404 for a run: Deleted Items would be read as any
    // folder, its mail delivered now and deleted the run after. The mailbox fails instead.
    well_known_answers_404(&graph, "u-ada", "deleted", None);
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(61))
        .run(SyncMode::Incremental)
        .await
        .unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    assert!(
        report.failures[0].message.contains("deleteditems"),
        "{report:?}"
    );
    assert!(sink.get("outlook:u-ada:D1").is_none() && sink.deleted().is_empty());
    // Resolved again: nothing of Deleted Items, nothing deleted.
    well_known_answers_404(&graph, "u-ada", "deleted", Some("deleteditems"));
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert!(
        sink.ids().is_empty() && sink.deleted().is_empty(),
        "{:?}",
        sink.ids()
    );
}

#[tokio::test]
async fn a_discovered_mailbox_answering_404_for_a_run_keeps_its_links() {
    let graph = standard(10);
    let server = graph.clone().start().await;
    let every = build(&server.uri(), json!({}));
    let c = every
        .partition("user:u-ada")
        .expect("a discovered partition");
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    let links = carried_folders(&store).await;
    assert!(!links.is_empty());
    let inbox = format!(
        "GET /v1.0/users/u-ada/mailFolders/{}/messages/delta",
        FakeGraph::folder_id("u-ada", "inbox")
    );
    // Her mailbox answers 404 for a run (being moved), her user still in the tenant: no
    // failure (every user), and the links stay.
    graph.state.lock().unwrap().flaky.push("u-ada".into());
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert!(sink.deleted().is_empty(), "{:?}", sink.deleted());
    assert_eq!(carried_folders(&store).await, links, "the links are kept");
    // Back: the next run goes on from the links, not a listing of the whole mailbox.
    graph.state.lock().unwrap().flaky.clear();
    let before = graph.requests(&inbox);
    graph.put("u-ada", "M9", "inbox", "Later", "<p>new</p>", 58);
    let sink = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(sink.ids(), ["outlook:u-ada:M9"]);
    assert!(sink.deleted().is_empty());
    assert_eq!(graph.requests(&inbox), before + 1, "one page of changes");
}

#[tokio::test]
async fn a_folder_round_keeps_the_page_size_that_fit_under_the_body_cap() {
    // Three messages of 33 MiB: a page of two is over core's 64 MiB body cap.
    let (graph, report) = full_run_of_big_messages(3).await;
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(report.delivered, 3, "{report:?}");
    // 50, 5, then one message a page for the rest of the round: 1, 1. (Asking 50 again for
    // each page would download two pages over the cap more.)
    assert_eq!(graph.requests(&inbox_delta()), 5);
}
