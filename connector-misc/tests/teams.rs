//! The Teams connector against a fake Microsoft Graph in Graph's wire format
//! (`teams_common`): threads as Markdown documents, channel membership as access, delta links
//! carried between runs, new replies to old threads, `410 Gone`, throttling, credentials and
//! permissions.
#![cfg(feature = "teams")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod teams_common;

use std::sync::Arc;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, SyncReport, Syncer};
use connector_core::{Connector, ErrorKind};
use serde_json::json;
use teams_common::{
    ADA, BOB, ENG, ENG_GENERAL, ENG_SECRET, SALES, SALES_GENERAL, build, doc_id, standard,
    standard_at, time,
};

async fn run(
    c: &Arc<dyn Connector>,
    store: &MemoryStateStore,
    mode: SyncMode,
) -> (MemorySink, SyncReport) {
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .run(mode)
        .await
        .expect("the sync runs");
    (sink, report)
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn text(sink: &MemorySink, id: &str) -> String {
    sink.get(id)
        .unwrap_or_else(|| panic!("no document {id}"))
        .content
        .as_text()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn threads_become_markdown_documents_with_their_channels_access() {
    let server = standard(2).start().await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let release = doc_id(ENG, ENG_GENERAL, time(1));
    let standup = doc_id(ENG, ENG_GENERAL, time(5));
    let mockup = doc_id(ENG, ENG_SECRET, time(9));
    let q3 = doc_id(SALES, SALES_GENERAL, time(10));
    // The system event (6) and the deleted root (7) are no documents.
    assert_eq!(
        sorted(sink.ids()),
        sorted(vec![
            release.clone(),
            standup.clone(),
            mockup.clone(),
            q3.clone()
        ])
    );

    let d = sink.get(&release).unwrap();
    assert_eq!(d.title, "Release plan");
    assert_eq!(
        d.parent_id.as_deref(),
        Some(format!("{ENG}__{ENG_GENERAL}").as_str())
    );
    assert_eq!(d.updated_at, Some(time(3)));
    assert_eq!(d.owners, ["ada@contoso.com"]);
    assert!(
        d.link
            .as_ref()
            .unwrap()
            .as_str()
            .starts_with("https://teams.microsoft.com/l/message/")
    );
    let access = d.access.as_ref().unwrap();
    assert_eq!(access.emails, ["ada@contoso.com", "bob@contoso.com"]);
    assert_eq!(access.groups, [format!("aad-group:{ENG}")]);
    assert_eq!(d.metadata["replies"], json!(2));
    assert_eq!(d.metadata["mentions"], json!(["Bob Kline"]));
    let t = text(&sink, &release);
    // Root first, then the replies oldest first, the edited one marked.
    let (a, b, c2) = (
        t.find("the **v2** plan").unwrap(),
        t.find("when").unwrap(),
        t.find("Friday, 10:00 UTC").unwrap(),
    );
    assert!(a < b && b < c2, "{t}");
    assert!(
        t.contains("@Bob Kline") && t.contains("🚀") && t.contains("(edited)"),
        "{t}"
    );
    assert!(
        t.contains("Attached: [plan.docx](https://contoso.sharepoint.com/"),
        "{t}"
    );
    insta::assert_json_snapshot!("teams_thread", serde_json::to_value(d).unwrap());

    // A text body is escaped as text; the title is the channel and the first words.
    let s = sink.get(&standup).unwrap();
    assert_eq!(s.title, "General: Standup moved to 9:30 tomorrow");
    assert!(text(&sink, &standup).contains("9:30 \\*tomorrow\\*"));
    // A private channel is read by its own members only; its image Teams holds is a link.
    let m = sink.get(&mockup).unwrap();
    assert_eq!(m.access.as_ref().unwrap().emails, ["ada@contoso.com"]);
    assert!(m.access.as_ref().unwrap().groups.is_empty());
    assert!(text(&sink, &mockup).contains("[image](https://graph.microsoft.com/v1.0/teams/"));
    assert_eq!(sink.get(&q3).unwrap().owners, ["carol@contoso.com"]);
    assert_eq!(sink.get(&q3).unwrap().metadata["team"], json!("Sales"));
}

#[tokio::test]
async fn a_new_reply_to_an_old_thread_is_found_by_the_next_incremental_run() {
    // Three days ago: inside the look-back of 14 days.
    let base: DateTime<Utc> = (Utc::now() - TimeDelta::days(3)).trunc_subsecs(0);
    let at = |n: i64| base + TimeDelta::minutes(n);
    let graph = standard_at(2, base);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (first, _) = run(&c, &store, SyncMode::Full).await;
    let standup = doc_id(ENG, ENG_GENERAL, at(5));
    assert!(!text(&first, &standup).contains("Thanks"));

    // A reply to the standup thread: its root does not change, so the delta does not list it.
    let root = at(5).timestamp_millis().to_string();
    graph.post(
        ENG,
        ENG_GENERAL,
        Some(&root),
        ADA,
        "<p>Thanks, noted</p>",
        at(120),
    );
    // A new thread, which the delta lists.
    graph.post(ENG, ENG_GENERAL, None, BOB, "<p>Lunch?</p>", at(121));
    graph.state.lock().unwrap().log.clear();
    let (sink, report) = run(&c, &store, SyncMode::Incremental).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(
        sorted(sink.ids()),
        sorted(vec![standup.clone(), doc_id(ENG, ENG_GENERAL, at(121))])
    );
    let t = text(&sink, &standup);
    assert!(
        t.contains("Standup moved") && t.contains("Thanks, noted"),
        "{t}"
    );
    assert_eq!(sink.get(&standup).unwrap().updated_at, Some(at(120)));
    // Found by asking the watched threads' replies in JSON batches, not by listing again.
    assert!(graph.requests("BATCH GET /v1.0/teams/") > 0);
    let log = graph.state.lock().unwrap().log.clone();
    assert!(
        !log.iter()
            .any(|l| l.starts_with("GET") && l.ends_with("/messages")),
        "an incremental run listed a channel: {log:#?}"
    );

    // Nothing new: nothing delivered.
    let (sink, report) = run(&c, &store, SyncMode::Incremental).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    assert_eq!(report.delivered, 0);
    // An edited root is listed by the delta.
    graph.edit(&root, "Standup moved to 9:45", at(130));
    let (sink, _) = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(sink.ids(), std::slice::from_ref(&standup));
    assert!(
        text(&sink, &standup).contains("9:45") && text(&sink, &standup).contains("Thanks, noted")
    );
}

#[tokio::test]
async fn an_expired_delta_link_lists_the_channel_again() {
    let graph = standard(2);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (first, _) = run(&c, &store, SyncMode::Full).await;
    assert_eq!(first.ids().len(), 4);
    graph.state.lock().unwrap().expired.push("s".to_owned());
    let (sink, report) = run(&c, &store, SyncMode::Incremental).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // Every thread listed again, each reported unchanged by its version.
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    assert_eq!(report.unchanged, 4, "{report:?}");
    assert!(
        graph.requests(&format!(
            "GET /v1.0/teams/{ENG}/channels/{ENG_GENERAL}/messages"
        )) > 0
    );
}

#[tokio::test]
async fn throttled_requests_are_sent_again_after_retry_after() {
    let graph = standard(2);
    let server = graph.clone().start().await;
    graph.state.lock().unwrap().throttle = 2;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(sink.ids().len(), 4);
    assert!(report.failures.is_empty());
    assert_eq!(graph.requests("THROTTLED"), 2);
    assert!(report.retries >= 2, "{report:?}");
}

#[tokio::test]
async fn a_wrong_secret_fails_fast_naming_the_secret() {
    let graph = standard(2);
    let server = graph.clone().start().await;
    let c = build(
        &server.uri(),
        json!({"credentials": {"tenant_id": teams_common::TENANT, "client_id": "app-id", "client_secret": "wrong"}}),
    );
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert!(e.to_string().contains("credentials.client_secret"), "{e}");
    assert_eq!(graph.requests("GET /v1.0/"), 0);
}

#[tokio::test]
async fn a_missing_permission_is_named() {
    let graph = standard(2);
    let server = graph.clone().start().await;
    graph.state.lock().unwrap().messages_forbidden = true;
    let c = build(&server.uri(), json!({}));
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("ChannelMessage.Read.All"), "{e}");
    // A sync: each channel is a failure naming the permission (a shared channel of another
    // tenant answers 403 alone), and nothing is delivered.
    graph.state.lock().unwrap().log.clear();
    let (sink, report) = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert!(sink.ids().is_empty());
    assert_eq!(report.failures.len(), 3, "{:?}", report.failures);
    for f in &report.failures {
        assert_eq!(f.kind, ErrorKind::PermissionDenied);
        assert!(
            f.message
                .contains("needs the application permission ChannelMessage.Read.All"),
            "{}",
            f.message
        );
    }
}

#[tokio::test]
async fn replies_past_the_inline_ones_are_paged() {
    let graph = standard(2);
    graph.state.lock().unwrap().reply_cap = 1;
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let (sink, _) = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let t = text(&sink, &doc_id(ENG, ENG_GENERAL, time(1)));
    assert!(t.contains("when") && t.contains("Friday, 10:00 UTC"), "{t}");
    assert!(
        graph.requests(&format!(
            "GET /v1.0/teams/{ENG}/channels/{ENG_GENERAL}/messages/"
        )) > 0
    );
}

#[tokio::test]
async fn an_edit_past_the_inline_replies_changes_the_threads_version() {
    let graph = standard(2);
    // One reply inline (the newest), the older one behind `replies@odata.nextLink`.
    graph.state.lock().unwrap().reply_cap = 1;
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    let release = doc_id(ENG, ENG_GENERAL, time(1));

    let older = time(2).timestamp_millis().to_string();
    graph.edit(
        &older,
        "<p>Looks good. One question: <i>which day</i>?</p>",
        time(300),
    );
    let (sink, report) = run(&c, &store, SyncMode::Full).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // Listed with the same inline reply and root, the thread is still read again: its
    // version covers the paged reply.
    assert_eq!((report.updated, report.unchanged), (1, 3), "{report:?}");
    assert!(text(&sink, &release).contains("which day"));
}

#[tokio::test]
async fn named_teams_and_channels_narrow_the_scope() {
    let server = standard(10).start().await;
    let c = build(
        &server.uri(),
        json!({"teams": "engineering, Marketing", "channels": ["#General", "Random"]}),
    );
    assert_eq!(c.partitions(), ["team:engineering", "team:Marketing"]);
    assert!(
        c.partition("team:engineering")
            .unwrap()
            .partitions()
            .is_empty()
    );
    let (sink, report) = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert_eq!(
        sorted(sink.ids()),
        sorted(vec![
            doc_id(ENG, ENG_GENERAL, time(1)),
            doc_id(ENG, ENG_GENERAL, time(5))
        ])
    );
    let messages: Vec<&str> = report.failures.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages.iter().any(|m| m.contains("team `Marketing`")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("channel `Random`")),
        "{messages:?}"
    );
    let e = c.check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("Marketing"), "{e}");
}

#[tokio::test]
async fn without_permissions_no_member_is_asked() {
    let graph = standard(10);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"include_permissions": false}));
    let (sink, _) = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert!(sink.documents().iter().all(|d| d.access.is_none()));
    let log = graph.state.lock().unwrap().log.clone();
    assert!(!log.iter().any(|l| l.ends_with("/members")), "{log:#?}");
    // The author's name stands for the owner when no member list gives an address.
    assert_eq!(
        sink.get(&doc_id(ENG, ENG_GENERAL, time(5))).unwrap().owners,
        ["Bob Kline"]
    );
}

#[tokio::test]
async fn deleted_threads_and_replies_leave_on_the_next_incremental_run() {
    let base: DateTime<Utc> = (Utc::now() - TimeDelta::days(3)).trunc_subsecs(0);
    let at = |n: i64| base + TimeDelta::minutes(n);
    let graph = standard_at(2, base);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (first, _) = run(&c, &store, SyncMode::Full).await;
    let release = doc_id(ENG, ENG_GENERAL, at(1));
    let standup = doc_id(ENG, ENG_GENERAL, at(5));
    assert!(text(&first, &release).contains("Friday, 10:00 UTC"));

    // A reply deleted: its root does not change, the watched thread's replies show it.
    let reply = (at(3) - TimeDelta::seconds(30))
        .timestamp_millis()
        .to_string();
    graph.delete(&reply, at(200));
    // A root deleted with no reply: the delta lists it deleted, and the thread is gone.
    graph.delete(&at(5).timestamp_millis().to_string(), at(201));
    let (sink, report) = run(&c, &store, SyncMode::Incremental).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(sink.deleted(), std::slice::from_ref(&standup));
    assert_eq!(sink.ids(), std::slice::from_ref(&release));
    let t = text(&sink, &release);
    assert!(
        !t.contains("Friday, 10:00 UTC") && t.contains("the **v2** plan"),
        "{t}"
    );
    assert_eq!(sink.get(&release).unwrap().metadata["replies"], json!(1));
}

#[tokio::test]
async fn a_member_removed_from_a_private_channel_loses_its_old_threads_on_the_next_incremental_run()
{
    let graph = standard(2);
    graph.member(ENG_SECRET, BOB.0, BOB.1, "bob@contoso.com");
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (first, _) = run(&c, &store, SyncMode::Full).await;
    let mockup = doc_id(ENG, ENG_SECRET, time(9));
    assert_eq!(
        first.get(&mockup).unwrap().access.as_ref().unwrap().emails,
        ["ada@contoso.com", "bob@contoso.com"]
    );

    // Bob leaves the channel; no message changes, so the delta lists nothing.
    graph
        .state
        .lock()
        .unwrap()
        .members
        .get_mut(ENG_SECRET)
        .unwrap()
        .retain(|m| m.0 != BOB.0);
    let (sink, report) = run(&c, &store, SyncMode::Incremental).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // Only the channel whose members changed is listed again.
    assert_eq!(sink.ids(), std::slice::from_ref(&mockup));
    assert_eq!(
        sink.get(&mockup).unwrap().access.as_ref().unwrap().emails,
        ["ada@contoso.com"]
    );
    // And the next run goes back to the channel's delta.
    let (sink, _) = run(&c, &store, SyncMode::Incremental).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
}

#[tokio::test]
async fn a_shared_channel_is_read_by_the_members_of_the_teams_it_is_shared_with() {
    let graph = standard(2);
    let shared = "19:partners@thread.tacv2";
    graph.channel(ENG, shared, "Partners", "shared");
    graph.member(shared, ADA.0, ADA.1, "ada@contoso.com");
    // A member of a team (of another tenant) the channel is shared with.
    graph.member(
        &format!("{shared}/indirect"),
        "u-dan",
        "Dan Fabrikam",
        "dan@fabrikam.com",
    );
    graph.post(ENG, shared, None, ADA, "<p>Welcome, partners</p>", time(12));
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let d = sink.get(&doc_id(ENG, shared, time(12))).unwrap();
    let access = d.access.as_ref().unwrap();
    assert_eq!(access.emails, ["ada@contoso.com", "dan@fabrikam.com"]);
    assert!(access.groups.is_empty());
    assert_eq!(d.metadata["channel_type"], json!("shared"));
}

/// The channels whose delta links the last finished run left for the next one.
async fn carried_channels(store: &MemoryStateStore) -> Vec<String> {
    use connector_core::state::StateStore;
    let carried = store
        .load()
        .await
        .unwrap()
        .carried
        .expect("a carried checkpoint");
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
async fn the_states_of_deleted_channels_and_teams_leave_the_checkpoint() {
    let graph = standard(2);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    let key = |team: &str, channel: &str| format!("{team}/{channel}");
    assert_eq!(
        carried_channels(&store).await,
        sorted(vec![
            key(ENG, ENG_GENERAL),
            key(ENG, ENG_SECRET),
            key(SALES, SALES_GENERAL)
        ])
    );

    // The private channel deleted; Sales' channels cannot be listed this time (kept: they may
    // well be there).
    {
        let mut s = graph.state.lock().unwrap();
        s.channels
            .get_mut(ENG)
            .unwrap()
            .retain(|(id, _, _)| id != ENG_SECRET);
        s.channels.remove(SALES);
    }
    let (_, report) = run(&c, &store, SyncMode::Incremental).await;
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(
        report.failures[0].id.as_deref(),
        Some(format!("teams:team:{SALES}").as_str())
    );
    assert_eq!(
        carried_channels(&store).await,
        sorted(vec![key(ENG, ENG_GENERAL), key(SALES, SALES_GENERAL)])
    );

    // The Sales team deleted: its channel's state goes too.
    graph
        .state
        .lock()
        .unwrap()
        .teams
        .retain(|(id, _)| id != SALES);
    let (_, report) = run(&c, &store, SyncMode::Incremental).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(carried_channels(&store).await, [key(ENG, ENG_GENERAL)]);
    // And the channel left still reads its changes from its delta link.
    let before = graph.requests(&format!(
        "GET /v1.0/teams/{ENG}/channels/{ENG_GENERAL}/messages/delta"
    ));
    run(&c, &store, SyncMode::Incremental).await;
    assert!(
        graph.requests(&format!(
            "GET /v1.0/teams/{ENG}/channels/{ENG_GENERAL}/messages/delta"
        )) > before
    );
}

#[tokio::test]
async fn the_reply_watch_keeps_as_many_threads_as_configured() {
    // Review #6: the watch's size is a setting (each watched thread costs a `/replies`
    // request per incremental run); 0 watches none.
    let base: DateTime<Utc> = (Utc::now() - TimeDelta::days(3)).trunc_subsecs(0);
    let at = |n: i64| base + TimeDelta::minutes(n);
    let graph = standard_at(2, base);
    let server = graph.clone().start().await;
    let c = build(&server.uri(), json!({"max_watched_threads": 0}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full).await;
    let root = at(5).timestamp_millis().to_string();
    graph.post(
        ENG,
        ENG_GENERAL,
        Some(&root),
        ADA,
        "<p>Thanks, noted</p>",
        at(120),
    );
    graph.state.lock().unwrap().log.clear();
    let (sink, report) = run(&c, &store, SyncMode::Incremental).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // No thread watched: no replies asked, the reply waits for a full run.
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    assert_eq!(graph.requests("BATCH GET /v1.0/teams/"), 0);
    let (sink, _) = run(&c, &store, SyncMode::Full).await;
    let standup = doc_id(ENG, ENG_GENERAL, at(5));
    assert!(text(&sink, &standup).contains("Thanks, noted"));
    // Out of bounds, named.
    let e = connector_core::config::from_json::<connector_misc::teams::TeamsConfig>(json!({
        "credentials": {"tenant_id": "t", "client_id": "c", "client_secret": "s"},
        "max_watched_threads": 10001,
    }))
    .unwrap_err();
    assert!(e.to_string().contains("max_watched_threads"), "{e}");
}

// Review #10: images Teams holds (hosted contents) as documents of their own, read with the
// app's token (`GET …/messages/{id}/hostedContents/{hosted id}/$value`, Graph's
// chatMessageHostedContent), with `include_images`.

/// A picture pasted into a message, as Teams writes it into the body.
fn hosted_img(team: &str, channel: &str, message: &str, hosted: &str) -> String {
    format!(
        "<img src=\"https://graph.microsoft.com/v1.0/teams/{team}/channels/{channel}/messages/{message}/hostedContents/{hosted}/$value\" width=\"250\" height=\"180\" style=\"vertical-align:bottom\">"
    )
}

#[tokio::test]
async fn images_teams_holds_are_documents_of_their_thread_with_include_images() {
    let graph = standard(10);
    let at = time(20);
    let root_id = at.timestamp_millis().to_string();
    let png = b"\x89PNG\r\n\x1a\n fake image bytes".to_vec();
    let root = graph.post(
        ENG,
        ENG_GENERAL,
        None,
        ADA,
        &format!(
            "<p>The new dashboard:</p>{}",
            hosted_img(ENG, ENG_GENERAL, &root_id, "aWQ9eF8wLXd1cy1kMi1hYmM=")
        ),
        at,
    );
    let reply_at = time(21);
    let reply_id = reply_at.timestamp_millis().to_string();
    graph.post(
        ENG,
        ENG_GENERAL,
        Some(&root),
        BOB,
        &format!(
            "<p>And the old one</p>{}",
            hosted_img(ENG, ENG_GENERAL, &reply_id, "aWQ9eF8wLXd1cy1kMi1vbGQ=")
        ),
        reply_at,
    );
    {
        let mut s = graph.state.lock().unwrap();
        s.hosted.insert(
            "aWQ9eF8wLXd1cy1kMi1hYmM=".into(),
            ("image/png".into(), png.clone()),
        );
        // The image the standard fixture's mock-up thread holds.
        s.hosted.insert(
            "aWQ9eF8wLXd1cy1kMTAtMWI4".into(),
            ("image/jpeg".into(), b"\xff\xd8\xff jpeg".to_vec()),
        );
    }
    let server = graph.clone().start().await;
    let thread = doc_id(ENG, ENG_GENERAL, at);

    // Without the setting: the thread links its images, nothing is downloaded.
    let c = build(&server.uri(), json!({}));
    let (sink, _) = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    assert!(text(&sink, &thread).contains("hostedContents"));
    assert!(sink.ids().iter().all(|id| !id.contains("__image__")));
    assert!(
        !graph
            .state
            .lock()
            .unwrap()
            .log
            .iter()
            .any(|l| l.contains("/hostedContents/"))
    );

    // With it: the root's image is a document of its thread, with the bytes and the access;
    // the reply's, which Graph no longer holds (404), is that image's failure alone.
    let c = build(&server.uri(), json!({"include_images": true}));
    let (sink, report) = run(&c, &MemoryStateStore::new(), SyncMode::Full).await;
    let image = format!("{thread}__image__{root_id}__aWQ9eF8wLXd1cy1kMi1hYmM=");
    let doc = sink
        .get(&image)
        .unwrap_or_else(|| panic!("{:?}", sink.ids()));
    match &doc.content {
        connector_core::Content::Bytes {
            data,
            mime,
            extension,
        } => {
            assert_eq!(data.as_ref(), png.as_slice());
            assert_eq!(mime, "image/png");
            assert_eq!(extension.as_deref(), Some("png"));
        }
        other => panic!("not bytes: {other:?}"),
    }
    assert_eq!(doc.parent_id.as_deref(), Some(thread.as_str()));
    assert_eq!(doc.access, sink.get(&thread).unwrap().access);
    assert_eq!(
        doc.metadata["hosted_content_id"],
        json!("aWQ9eF8wLXd1cy1kMi1hYmM=")
    );
    let missing = format!("{thread}__image__{reply_id}__aWQ9eF8wLXd1cy1kMi1vbGQ=");
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].id.as_deref(), Some(missing.as_str()));
    let asked = format!("/messages/{root_id}/replies/{reply_id}/hostedContents/");
    let log = graph.state.lock().unwrap().log.clone();
    assert_eq!(
        log.iter().filter(|l| l.contains(&asked)).count(),
        1,
        "{log:#?}"
    );
    // The id listing keeps both (prune leaves them), and a refetch of an image reads its
    // thread again, images included.
    let roles = c.roles();
    let slim = roles.as_slim().expect("slim");
    let mut listed = Vec::new();
    let mut pages = slim.list_ids(connector_core::SyncContext::new());
    while let Some(page) = futures::StreamExt::next(&mut pages).await {
        listed.extend(page.unwrap().into_iter().map(|d| d.id));
    }
    assert!(
        listed.contains(&image) && listed.contains(&missing),
        "{listed:?}"
    );
    let mut again = Vec::new();
    let mut batches = roles
        .as_refetch()
        .expect("refetch")
        .fetch(vec![image.clone()], connector_core::SyncContext::new());
    while let Some(batch) = futures::StreamExt::next(&mut batches).await {
        again.extend(batch.unwrap().documents.into_iter().map(|d| d.id));
    }
    assert_eq!(again, [thread, image]);
}
