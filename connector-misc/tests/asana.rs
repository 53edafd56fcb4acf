//! The Asana connector against the wiremock Asana of `asana_common` (API reference:
//! `data`/`next_page.offset` paging, projects, tasks with `modified_since`, stories,
//! attachments with signed download URLs, project memberships, error bodies).
#![cfg(feature = "asana")]
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

mod asana_common;
mod clean_sync;

use asana_common::{Comment, TOKEN, WORKSPACE, build, config, requests_to, standard, start, time};
use clean_sync::clean_sync_at;
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::sync_at;
use connector_core::{ErrorKind, Registry};
use futures::StreamExt;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

const TASKS: [&str; 6] = [
    "asana:1200000000000101",
    "asana:1200000000000102",
    "asana:1200000000000103",
    "asana:1200000000000104",
    "asana:1200000000000105",
    "asana:1200000000000106",
];

const PLAN_PDF: &str = "asana:1200000000000101:1200000000000901";

fn all_ids() -> Vec<String> {
    let mut ids: Vec<String> = TASKS.iter().map(|s| (*s).to_owned()).collect();
    ids.push(PLAN_PDF.to_owned());
    sorted(ids)
}

#[tokio::test]
async fn tasks_become_markdown_documents_with_comments_and_attachments() {
    let server = start(standard(2)).await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    // The task in two projects is one document; the external attachment is left out; the
    // oversized one is a failure naming it, never downloaded.
    assert_eq!(sorted(sink.ids()), all_ids());
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    let failure = &report.failures[0];
    assert_eq!(
        failure.id.as_deref(),
        Some("asana:1200000000000106:1200000000000903")
    );
    assert!(failure.message.contains("max_file_size"), "{failure:?}");
    assert!(
        requests_to(&server, "/files/1200000000000903")
            .await
            .is_empty()
    );

    let t1 = sink.get("asana:1200000000000101").unwrap();
    assert_eq!(t1.title, "Write launch plan");
    assert_eq!(t1.updated_at, Some(time(1)));
    assert_eq!(
        t1.link.as_ref().map(url::Url::as_str),
        Some(
            "https://app.asana.com/1/1200000000000001/project/1200000000000010/task/1200000000000101"
        )
    );
    assert_eq!(t1.owners, ["jane@example.com"]);
    assert_eq!(
        t1.parent_id.as_deref(),
        Some("asana:project:1200000000000010")
    );
    // Public to the workspace in Launch, private with readable members in Platform: the
    // union of both.
    let access = t1.access.clone().unwrap();
    assert!(!access.public);
    assert_eq!(
        access.groups,
        [
            "asana-project:1200000000000011",
            "asana-user:1200000000000050",
            "asana-user:1200000000000051",
            format!("asana-workspace:{WORKSPACE}").as_str(),
        ]
    );
    assert_eq!(access.emails, ["jane@example.com", "rob@example.com"]);
    assert_eq!(t1.metadata["assignee"], "Jane Doe");
    assert_eq!(t1.metadata["due"], "2025-03-14");
    insta::assert_snapshot!("asana_task", t1.content.as_text().unwrap());

    // A subtask's parent is its parent task; a private project whose members cannot be
    // read is its own group.
    let sub = sink.get("asana:1200000000000104").unwrap();
    assert_eq!(sub.parent_id.as_deref(), Some("asana:1200000000000103"));
    let secret = sink.get("asana:1200000000000105").unwrap();
    assert_eq!(
        secret.access.as_ref().unwrap().groups,
        ["asana-project:1200000000000012"]
    );

    // The attachment: the signed URL fetched without the token (the fake refuses one).
    let pdf = sink.get(PLAN_PDF).unwrap();
    assert_eq!(pdf.title, "plan.pdf");
    assert_eq!(pdf.content.as_bytes(), b"%PDF-1.4 plan");
    assert_eq!(pdf.content.mime(), Some("application/pdf"));
    assert_eq!(pdf.parent_id.as_deref(), Some("asana:1200000000000101"));
    assert_eq!(pdf.access, t1.access);

    // Every task listing asked for the fields and Asana's largest page.
    for r in requests_to(&server, "/api/1.0/tasks").await {
        if r.url.path() == "/api/1.0/tasks" {
            let q: std::collections::HashMap<_, _> = r.url.query_pairs().into_owned().collect();
            assert!(q["opt_fields"].contains("modified_at"), "{q:?}");
            assert_eq!(q["limit"], "100");
        }
    }
}

#[tokio::test]
async fn an_incremental_run_finds_an_edited_task_and_a_new_comment_on_an_old_one() {
    let api = standard(2);
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(30)).await;
    {
        let mut st = api.state.lock().unwrap();
        // Renamed between runs.
        let t2 = st
            .tasks
            .iter_mut()
            .find(|t| t.gid == "1200000000000102")
            .unwrap();
        t2.name = "Book the venue".into();
        t2.minute = 40;
        // A comment on an old task: Asana moves `modified_at` when a story is created.
        let t3 = st
            .tasks
            .iter_mut()
            .find(|t| t.gid == "1200000000000103")
            .unwrap();
        t3.comments.push(Comment {
            author: "Rob Reviewer",
            text: "Done on staging too.".into(),
            minute: 41,
        });
        t3.minute = 41;
    }
    let sink = clean_sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    assert_eq!(
        sorted(sink.ids()),
        ["asana:1200000000000102", "asana:1200000000000103"]
    );
    assert_eq!(
        sink.get("asana:1200000000000102").unwrap().title,
        "Book the venue"
    );
    let t3 = sink.get("asana:1200000000000103").unwrap();
    assert!(
        t3.content
            .as_text()
            .unwrap()
            .contains("Done on staging too.")
    );
    assert_eq!(t3.updated_at, Some(time(41)));
    // The listing asked for the previous window's end less two minutes of clock skew.
    let last = requests_to(&server, "/api/1.0/tasks")
        .await
        .into_iter()
        .rfind(|r| {
            r.url.path() == "/api/1.0/tasks"
                && r.url.query().unwrap_or("").contains("modified_since")
        })
        .unwrap();
    let since = last
        .url
        .query_pairs()
        .find(|(k, _)| k == "modified_since")
        .map(|(_, v)| v.into_owned());
    assert_eq!(since.as_deref(), Some("2025-03-01T10:28:00.000Z"));
}

#[tokio::test]
async fn an_expired_offset_restarts_the_projects_listing() {
    let api = standard(1);
    api.state.lock().unwrap().expire_next_offset = true;
    let server = start(api).await;
    let c = build(&server.uri(), json!({"include_attachments": false}));
    let sink = clean_sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(sorted(sink.ids()), TASKS);
}

#[tokio::test]
async fn a_resumed_run_starts_at_the_stored_offset() {
    let server = start(standard(1)).await;
    let c = build(&server.uri(), json!({"include_attachments": false}));
    // Take the first page of the first project, then resume from its checkpoint.
    let cp = c.as_checkpointed().unwrap();
    let from = cp.initial_checkpoint_json().unwrap();
    let mut stream = cp.load_from_checkpoint_json(from, None, connector_core::SyncContext::new());
    let first = stream.next().await.unwrap().unwrap();
    drop(stream);
    assert_eq!(first.batch.documents.len(), 1);
    assert_eq!(first.checkpoint.state["index"], 0);
    assert!(first.checkpoint.state["offset"].is_string());
    let mut stream =
        cp.load_from_checkpoint_json(first.checkpoint, None, connector_core::SyncContext::new());
    let mut ids = Vec::new();
    while let Some(page) = stream.next().await {
        ids.extend(page.unwrap().batch.documents.into_iter().map(|d| d.id));
    }
    // Everything but the first page's task, each once.
    let mut expect: Vec<String> = TASKS.iter().map(|s| (*s).to_owned()).collect();
    expect.retain(|id| id != &first.batch.documents[0].id);
    assert_eq!(sorted(ids), expect);
}

#[tokio::test]
async fn scope_follows_project_ids_then_team_then_workspace() {
    let api = standard(50);
    {
        // Two projects of another team: a public one and a private one.
        let mut st = api.state.lock().unwrap();
        for (gid, name, privacy) in [
            ("1200000000000013", "Design", "public_to_workspace"),
            ("1200000000000014", "Hiring", "private"),
        ] {
            st.projects.push(asana_common::Project {
                gid: gid.into(),
                name: name.into(),
                privacy,
                team: Some("1200000000000006".into()),
                members: Some(vec![("1200000000000052", "ann@example.com")]),
                workspace: None,
            });
        }
        st.tasks.push(asana_common::Task::new(
            "1200000000000107",
            "Logo",
            7,
            &["1200000000000013"],
        ));
        st.tasks.push(asana_common::Task::new(
            "1200000000000108",
            "Offer letter",
            8,
            &["1200000000000014"],
        ));
    }
    let server = start(api).await;
    let uri = server.uri();
    let c = build(
        &uri,
        json!({"asana_project_ids": "1200000000000011", "include_attachments": false}),
    );
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(
        sorted(sink.ids()),
        [
            "asana:1200000000000101",
            "asana:1200000000000103",
            "asana:1200000000000104"
        ]
    );
    // RAGFlow's team: the workspace's projects less the private ones of other teams
    // (`Secret` has no team, `Hiring` is another team's); another team's public project
    // stays.
    let c = build(
        &uri,
        json!({"asana_team_id": asana_common::TEAM, "include_attachments": false}),
    );
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let ids = sink.ids();
    assert!(!ids.contains(&"asana:1200000000000105".to_owned()));
    assert!(!ids.contains(&"asana:1200000000000108".to_owned()));
    assert!(ids.contains(&"asana:1200000000000107".to_owned()));
    assert_eq!(sink.len(), 6);
    assert!(
        requests_to(&server, "/api/1.0/tasks")
            .await
            .iter()
            .all(|r| !r.url.query().unwrap_or("").contains("1200000000000014")),
        "the private project of another team is not read"
    );
    // The same team with named projects leaves out the same private project.
    let c = build(
        &uri,
        json!({"asana_team_id": asana_common::TEAM, "asana_project_ids": "1200000000000013,1200000000000014", "include_attachments": false}),
    );
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(sink.ids(), ["asana:1200000000000107"]);
    // Without a team, every project.
    let c = build(&uri, json!({"include_attachments": false}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(sink.len(), 8);
}

#[tokio::test]
async fn check_tells_credentials_permission_and_missing_things_apart() {
    let server = start(standard(50)).await;
    let uri = server.uri();
    assert!(build(&uri, json!({})).check().await.is_ok());

    let mut wrong = config(&uri, json!({}));
    wrong["credentials"]["asana_api_token_secret"] = json!("not-the-token");
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let e = registry
        .build("asana", wrong)
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert_eq!(e.field(), Some("credentials.asana_api_token_secret"));

    let e = build(&uri, json!({"asana_workspace_id": "1200000000000777"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.field(), Some("asana_workspace_id"));

    let e = build(
        &uri,
        json!({"asana_project_ids": ["1200000000000010", "1200000000000666"]}),
    )
    .check()
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.field(), Some("asana_project_ids"));
    assert!(e.to_string().contains("1200000000000666"), "{e}");

    let e = build(&uri, json!({"asana_team_id": "1200000000000444"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert_eq!(e.field(), Some("asana_team_id"));

    let _refusal = Mock::given(method("GET"))
        .and(path("/api/1.0/projects"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "errors": [{"message": "You do not have access to this workspace's projects."}]
        })))
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let e = build(&uri, json!({})).check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    assert!(e.to_string().contains("do not have access"), "{e}");
}

#[tokio::test]
async fn a_deleted_task_between_listing_and_stories_is_a_failure_and_the_run_goes_on() {
    let server = start(standard(50)).await;
    let _gone = Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/1200000000000102/stories"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "errors": [{"message": "task: Unknown object: 1200000000000102"}]
        })))
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let c = build(&server.uri(), json!({"include_attachments": false}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(sink.len(), 5);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(
        report.failures[0].id.as_deref(),
        Some("asana:1200000000000102")
    );
    assert!(report.failures[0].message.contains("Unknown object"));
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_150_a_minute_is_the_default() {
    let server = start(standard(50)).await;
    let _limited = Mock::given(method("GET"))
        .and(path("/api/1.0/tasks"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"errors": [{"message": "You have made too many requests recently. Please, be chill."}]}))
                .insert_header("Retry-After", "1"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let c = build(&server.uri(), json!({"include_attachments": false}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(sink.len(), 6);
    assert!(
        report.rate_limit_wait >= std::time::Duration::from_secs(1),
        "{report:?}"
    );

    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let effective = registry
        .effective_config("asana", config(&server.uri(), json!({})))
        .unwrap();
    assert_eq!(effective["requests_per_minute"], 150);
    assert_eq!(effective["max_file_size"], 10 * 1024 * 1024);
}

#[test]
fn ragflow_config_is_accepted_and_bad_values_are_named() {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let c = registry
        .build(
            "asana",
            json!({
                "asana_workspace_id": WORKSPACE,
                "asana_project_ids": "1200000000000010,1200000000000011",
                "asana_team_id": "",
                "credentials": {"asana_api_token_secret": TOKEN},
            }),
        )
        .unwrap();
    assert_eq!(c.source(), "asana");
    assert!(!format!("{c:?}").contains(TOKEN));

    let e = registry
        .build(
            "asana",
            json!({
                "asana_workspace_id": "acme",
                "asana_project_ids": ["12", "launch"],
                "asana_team_id": "platform",
                "credentials": {"asana_api_token_secret": TOKEN},
            }),
        )
        .unwrap_err();
    let text = e.to_string();
    for field in ["asana_workspace_id", "asana_project_ids", "asana_team_id"] {
        assert!(text.contains(field), "{text}");
    }
    assert!(text.contains("launch"), "{text}");
}

#[tokio::test]
async fn a_reconcile_run_reads_no_story_and_downloads_nothing_for_unchanged_tasks() {
    let api = standard(50);
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(30)).await;
    let stories = || async {
        requests_to(&server, "/api/1.0/tasks/")
            .await
            .into_iter()
            .filter(|r| r.url.path().ends_with("/stories"))
            .count()
    };
    let stories_before = stories().await;
    let files_before = requests_to(&server, "/files/").await.len();
    {
        let mut st = api.state.lock().unwrap();
        let t6 = st
            .tasks
            .iter_mut()
            .find(|t| t.gid == "1200000000000106")
            .unwrap();
        t6.notes = "A new press kit.".into();
        t6.minute = 35;
    }
    let (sink, report) = sync_at(&c, &store, SyncMode::Reconcile, time(40)).await;
    assert_eq!(sink.ids(), ["asana:1200000000000106"]);
    // Five tasks (the subtask among them) and the attachment of the first are unchanged,
    // never read again.
    assert_eq!(report.unchanged, 6, "{report:?}");
    assert_eq!(stories().await, stories_before + 1);
    assert_eq!(requests_to(&server, "/files/").await.len(), files_before);
}

#[tokio::test]
async fn a_project_of_another_workspace_is_refused_not_granted_to_this_one() {
    let api = standard(50);
    {
        let mut st = api.state.lock().unwrap();
        // A public project, but of another account's workspace: its members are not this
        // workspace's.
        st.projects[0].workspace = Some("1299999999999999");
    }
    let server = start(api).await;
    let c = build(
        &server.uri(),
        json!({"asana_project_ids": "1200000000000010", "include_attachments": false}),
    );
    let err = Syncer::new(c.clone())
        .sink(MemorySink::new())
        .state(MemoryStateStore::new())
        .at(time(30))
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(err.field(), Some("asana_project_ids"));
    assert!(err.to_string().contains("1299999999999999"), "{err}");
    assert!(
        requests_to(&server, "/api/1.0/tasks").await.is_empty(),
        "no task was read"
    );
    let err = c.check().await.unwrap_err();
    assert_eq!(err.field(), Some("asana_project_ids"));
}

#[tokio::test]
async fn the_older_public_flag_grants_the_team_not_the_workspace() {
    let api = standard(50);
    api.state.lock().unwrap().projects[0].privacy = "legacy_public";
    let server = start(api).await;
    let c = build(
        &server.uri(),
        json!({"asana_project_ids": "1200000000000010", "include_attachments": false}),
    );
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let venue = sink.get("asana:1200000000000102").unwrap();
    assert_eq!(
        venue.access.as_ref().unwrap().groups,
        [format!("asana-team:{}", asana_common::TEAM)]
    );
}

#[tokio::test]
async fn an_incremental_run_resends_the_tasks_of_a_project_made_private() {
    let api = standard(2);
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"include_attachments": false}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(30)).await;
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(35)).await;
    assert!(sink.ids().is_empty(), "nothing changed: {:?}", sink.ids());
    {
        // `Launch` made private: no task's `modified_at` moves.
        let mut st = api.state.lock().unwrap();
        st.projects[0].privacy = "private";
        st.projects[0].members = Some(vec![("1200000000000050", "jane@example.com")]);
    }
    let sink = clean_sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    let venue = sink
        .get("asana:1200000000000102")
        .expect("the task of the project made private is sent again");
    let access = venue.access.as_ref().unwrap();
    assert!(
        !access
            .groups
            .iter()
            .any(|g| g.starts_with("asana-workspace:")),
        "{access:?}"
    );
    assert_eq!(access.emails, ["jane@example.com"]);
    // The tasks of the projects whose readers did not change are not.
    assert!(sink.get("asana:1200000000000105").is_none());
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(50)).await;
    assert!(sink.ids().is_empty(), "sent once: {:?}", sink.ids());
}

#[tokio::test]
async fn subtasks_are_read_below_their_parent_with_its_access() {
    let api = standard(50);
    let server = start(api.clone()).await;
    let c = build(
        &server.uri(),
        json!({"asana_project_ids": "1200000000000011", "include_attachments": false}),
    );
    let store = MemoryStateStore::new();
    let sink = clean_sync_at(&c, &store, SyncMode::Full, time(30)).await;
    // `Queue subtask` is in no project: the project's listing does not show it.
    let sub = sink
        .get("asana:1200000000000104")
        .expect("the subtask is read through its parent");
    assert_eq!(sub.parent_id.as_deref(), Some("asana:1200000000000103"));
    let parent = sink.get("asana:1200000000000103").unwrap();
    assert_eq!(sub.access, parent.access);
    // Only tasks that have subtasks are asked for them.
    let asked: Vec<String> = requests_to(&server, "/api/1.0/tasks/")
        .await
        .into_iter()
        .map(|r| r.url.path().to_owned())
        .filter(|p| p.ends_with("/subtasks"))
        .collect();
    assert_eq!(asked, ["/api/1.0/tasks/1200000000000103/subtasks"]);

    // An edited subtask under an unchanged parent is found by the next reconciling run,
    // alone.
    {
        let mut st = api.state.lock().unwrap();
        let t4 = st
            .tasks
            .iter_mut()
            .find(|t| t.gid == "1200000000000104")
            .unwrap();
        t4.name = "Queue subtask, renamed".into();
        t4.minute = 35;
    }
    let (sink, report) = sync_at(&c, &store, SyncMode::Reconcile, time(40)).await;
    assert_eq!(sink.ids(), ["asana:1200000000000104"], "{report:?}");
}

#[tokio::test]
async fn an_expired_download_url_is_signed_again_and_never_shown() {
    let api = standard(50);
    api.state.lock().unwrap().expire_next_download = true;
    let server = start(api.clone()).await;
    let c = build(
        &server.uri(),
        json!({"asana_project_ids": "1200000000000010"}),
    );
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let plan = sink
        .get(PLAN_PDF)
        .expect("downloaded with a new signed URL");
    assert_eq!(plan.content.as_bytes(), b"%PDF-1.4 plan");
    assert_eq!(
        requests_to(&server, "/api/1.0/attachments/1200000000000901")
            .await
            .len(),
        1
    );
    assert!(
        report
            .failures
            .iter()
            .all(|f| f.id.as_deref() != Some(PLAN_PDF)),
        "{:?}",
        report.failures
    );

    // Refused again: a failure of the attachment, without the URL's signature.
    {
        let mut st = api.state.lock().unwrap();
        let t1 = st
            .tasks
            .iter_mut()
            .find(|t| t.gid == "1200000000000101")
            .unwrap();
        t1.minute = 36;
        t1.attachments[0].gid = "1200000000000909".into();
    }
    let (_, report) = {
        // Every download refused: the first one, then the re-signed one (a flag, not a
        // timed loop, so a slow machine does not let a download through).
        api.state.lock().unwrap().expire_every_download = true;
        let out = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(40)).await;
        api.state.lock().unwrap().expire_every_download = false;
        out
    };
    let failure = report
        .failures
        .iter()
        .find(|f| f.id.as_deref() == Some("asana:1200000000000101:1200000000000909"))
        .expect("the attachment is a failure");
    assert_eq!(failure.kind, ErrorKind::PermissionDenied);
    assert!(!failure.message.contains("abc123"), "{}", failure.message);
    assert!(
        !failure.message.contains("X-Amz-Signature"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn an_incremental_run_finds_a_subtask_edited_under_an_unchanged_parent() {
    let api = standard(2);
    {
        // A subtask of the subtask, two levels below `Migrate queue`.
        let mut st = api.state.lock().unwrap();
        let mut deep = asana_common::Task::new("1200000000000109", "Drain old queue", 4, &[]);
        deep.parent = Some("1200000000000104".into());
        st.tasks.push(deep);
    }
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"include_attachments": false}));
    let store = MemoryStateStore::new();
    let (sink, _) = sync_at(&c, &store, SyncMode::Full, time(30)).await;
    assert!(sink.get("asana:1200000000000109").is_some());
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(35)).await;
    assert!(sink.ids().is_empty(), "nothing changed: {:?}", sink.ids());
    {
        // Edited subtasks: Asana moves their own `modified_at`, not their parents'.
        let mut st = api.state.lock().unwrap();
        for t in st.tasks.iter_mut() {
            if t.gid == "1200000000000104" {
                t.name = "Queue subtask, renamed".into();
                t.minute = 38;
            }
            if t.gid == "1200000000000109" {
                t.notes = "Drain it over two days.".into();
                t.minute = 39;
            }
        }
    }
    let sink = clean_sync_at(&c, &store, SyncMode::Incremental, time(40)).await;
    assert_eq!(
        sorted(sink.ids()),
        ["asana:1200000000000104", "asana:1200000000000109"]
    );
    assert_eq!(
        sink.get("asana:1200000000000104").unwrap().title,
        "Queue subtask, renamed"
    );
    let deep = sink.get("asana:1200000000000109").unwrap();
    assert_eq!(deep.parent_id.as_deref(), Some("asana:1200000000000104"));
    assert_eq!(
        deep.access,
        sink.get("asana:1200000000000104").unwrap().access,
        "a subtask has its parent's access"
    );
    // The sweep asks only the fields that tell a parent.
    let sweeps: Vec<String> = requests_to(&server, "/api/1.0/tasks")
        .await
        .into_iter()
        .filter(|r| r.url.path() == "/api/1.0/tasks")
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "opt_fields")
                .map(|(_, v)| v.into_owned())
        })
        .filter(|f| !f.contains("html_notes"))
        .collect();
    assert!(!sweeps.is_empty());
    assert!(
        sweeps
            .iter()
            .all(|f| f == "gid,modified_at,num_subtasks,projects.name")
    );
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    assert!(sink.ids().is_empty(), "sent once: {:?}", sink.ids());
}

#[tokio::test]
async fn prune_deletes_a_deleted_task_and_its_attachments_and_keeps_the_rest() {
    let api = standard(2);
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (sink, _) = sync_at(&c, &store, SyncMode::Full, time(30)).await;
    assert_eq!(sorted(sink.ids()), all_ids());
    // The listing of prune asks for ids, not bodies.
    let slim = c.as_slim().expect("the asana connector lists ids");
    let mut listed = Vec::new();
    let mut pages = slim.list_ids(connector_core::SyncContext::new());
    while let Some(page) = pages.next().await {
        listed.extend(page.unwrap().into_iter().map(|s| s.id));
    }
    assert_eq!(sorted(listed), all_ids());
    // `Write launch plan` deleted (a trashed task is gone from the listings too).
    api.state
        .lock()
        .unwrap()
        .tasks
        .retain(|t| t.gid != "1200000000000101");
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(40))
        .prune()
        .await
        .expect("prune runs");
    assert_eq!(report.deleted, 2, "{report:?}");
    assert_eq!(sorted(sink.deleted()), ["asana:1200000000000101", PLAN_PDF]);
    let stories = requests_to(&server, "/api/1.0/tasks/")
        .await
        .into_iter()
        .filter(|r| r.url.path().ends_with("/stories"))
        .count();
    assert_eq!(stories, 6, "prune read no story (the full run read six)");
}

#[tokio::test]
async fn a_failed_listing_refuses_prune() {
    let server = start(standard(2)).await;
    let c = build(&server.uri(), json!({"include_attachments": false}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(30)).await;
    let _outage = Mock::given(method("GET"))
        .and(path("/api/1.0/tasks/1200000000000103/subtasks"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "errors": [{"message": "task: Unknown object: 404"}]
        })))
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let sink = MemorySink::new();
    let err = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(40))
        .prune()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(sink.deleted().is_empty());
}

#[tokio::test]
async fn a_download_refused_with_401_is_a_failure_of_the_attachment_not_of_the_token() {
    let api = standard(50);
    api.state.lock().unwrap().unauthorized_downloads = true;
    let server = start(api).await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    // Every task is delivered; the attachment is a failure naming it.
    for id in TASKS {
        assert!(sink.get(id).is_some(), "{id}");
    }
    let failure = report
        .failures
        .iter()
        .find(|f| f.id.as_deref() == Some(PLAN_PDF))
        .expect("the attachment is a failure");
    assert_eq!(failure.kind, ErrorKind::PermissionDenied, "{failure:?}");
    assert!(!failure.message.contains("X-Amz-Signature"), "{failure:?}");
}

#[tokio::test]
async fn check_reads_one_page_of_the_workspaces_projects() {
    let server = start(standard(1)).await;
    let c = build(&server.uri(), json!({}));
    c.check().await.unwrap();
    let listings = requests_to(&server, "/api/1.0/projects")
        .await
        .into_iter()
        .filter(|r| r.url.path() == "/api/1.0/projects")
        .count();
    assert_eq!(
        listings, 1,
        "three projects, one per page: one page is read"
    );
}

#[tokio::test]
async fn members_come_from_memberships_and_from_the_older_path_when_it_is_refused() {
    let server = start(standard(50)).await;
    let c = build(
        &server.uri(),
        json!({"asana_project_ids": "1200000000000011", "include_attachments": false}),
    );
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let emails = |sink: &MemorySink| {
        sink.get("asana:1200000000000103")
            .unwrap()
            .access
            .unwrap()
            .emails
    };
    assert_eq!(emails(&sink), ["jane@example.com", "rob@example.com"]);
    let asked = requests_to(&server, "/api/1.0/memberships").await;
    assert!(asked.iter().any(|r| {
        r.url
            .query()
            .unwrap_or("")
            .contains("parent=1200000000000011")
    }));
    assert!(
        requests_to(
            &server,
            "/api/1.0/projects/1200000000000011/project_memberships"
        )
        .await
        .is_empty()
    );

    let _refused = Mock::given(method("GET"))
        .and(path("/api/1.0/memberships"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{"message": "parent: Not a recognized ID"}]
        })))
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let sink = clean_sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(emails(&sink), ["jane@example.com", "rob@example.com"]);
    assert!(
        !requests_to(
            &server,
            "/api/1.0/projects/1200000000000011/project_memberships"
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn a_tasks_collaborators_read_it_in_a_private_project_they_are_no_member_of() {
    let api = standard(2);
    {
        // `Rotate keys` is in `Secret`, private with no member listed; Cora follows it and
        // Ben is assigned (Asana lists the assignee among the followers too).
        let mut st = api.state.lock().unwrap();
        let t5 = st
            .tasks
            .iter_mut()
            .find(|t| t.gid == "1200000000000105")
            .unwrap();
        t5.followers = vec![("1200000000000060", "Cora@Example.com")];
        t5.assignee = Some(("1200000000000061", "Ben", "ben@example.com"));
    }
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"include_attachments": false}));
    let store = MemoryStateStore::new();
    let (sink, _) = sync_at(&c, &store, SyncMode::Full, time(30)).await;
    let access = sink.get("asana:1200000000000105").unwrap().access.unwrap();
    assert_eq!(access.emails, ["ben@example.com", "cora@example.com"]);
    assert!(
        access
            .groups
            .iter()
            .all(|g| !g.starts_with("asana-workspace:")),
        "{access:?}"
    );
    // The followers are asked for by name of field.
    let listed = requests_to(&server, "/api/1.0/tasks").await;
    assert!(
        listed.iter().any(|r| r
            .url
            .query_pairs()
            .any(|(k, v)| k == "opt_fields" && v.contains("followers.email"))),
        "no followers asked"
    );
    // Cora stops following, which moves no `modified_at`: the next incremental run sends
    // the task again without her.
    {
        let mut st = api.state.lock().unwrap();
        let t5 = st
            .tasks
            .iter_mut()
            .find(|t| t.gid == "1200000000000105")
            .unwrap();
        t5.followers.clear();
    }
    let sink = clean_sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    let access = sink.get("asana:1200000000000105").unwrap().access.unwrap();
    assert_eq!(access.emails, ["ben@example.com"]);
}

/// A full run of `api` at 10:30 without attachments: the server, the connector, the state
/// the run left and its sink.
async fn full_run_without_attachments(
    api: &asana_common::AsanaApi,
) -> (
    wiremock::MockServer,
    std::sync::Arc<dyn connector_core::Connector>,
    MemoryStateStore,
    MemorySink,
) {
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"include_attachments": false}));
    let store = MemoryStateStore::new();
    let (sink, _) = sync_at(&c, &store, SyncMode::Full, time(30)).await;
    (server, c, store, sink)
}

/// `Write launch plan` was sent with Rob's edited comment.
fn assert_edited_comment_sent(sink: &MemorySink) {
    let text = sink
        .get("asana:1200000000000101")
        .unwrap()
        .content
        .as_text()
        .unwrap()
        .to_owned();
    assert!(text.contains("Add the EU and UK dates."), "{text}");
}

#[tokio::test]
async fn a_comment_edited_without_moving_the_task_is_sent_by_the_next_run_from_the_events() {
    let api = standard(2);
    let (server, c, store, _) = full_run_without_attachments(&api).await;
    // A full run takes each project's events token (Asana answers the first ask with 412
    // and a token).
    let asked = requests_to(&server, "/api/1.0/events").await;
    assert_eq!(asked.len(), 3, "one per project");
    assert!(
        asked
            .iter()
            .all(|r| !r.url.query().unwrap_or("").contains("sync="))
    );
    // Rob edits his comment on `Write launch plan`: Asana moves no `modified_at`.
    api.edit_comment("1200000000000101", 0, "Add the EU and UK dates.", 40);
    let sink = clean_sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    assert_eq!(sink.ids(), ["asana:1200000000000101"]);
    assert_edited_comment_sent(&sink);
    // The poll asked with the tokens the full run carried.
    let asked = requests_to(&server, "/api/1.0/events").await;
    assert!(
        asked[3..]
            .iter()
            .all(|r| r.url.query().unwrap_or("").contains("sync=s0")),
        "{:?}",
        asked.iter().map(|r| r.url.to_string()).collect::<Vec<_>>()
    );
    // Sent once: the next poll, and the probe's look at the project, find it unchanged.
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(50)).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
}

#[tokio::test]
async fn a_forgotten_events_token_reads_the_projects_tasks_again_once() {
    let api = standard(2);
    let (_server, c, store, full) = full_run_without_attachments(&api).await;
    // Rob edits his comment, and the runs are more than 24 hours apart: Asana has forgotten
    // the tokens the full run carried, and answers them 412 (with a fresh one).
    api.edit_comment("1200000000000101", 0, "Add the EU and UK dates.", 40);
    {
        let mut state = api.state.lock().unwrap();
        state.forget_before = state.events.len();
    }
    let sink = clean_sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    assert_edited_comment_sent(&sink);
    // Every task is read again (which of them had a comment edited is unknown).
    let mut again = sink.ids();
    again.sort();
    let mut all = full.ids();
    all.sort();
    assert_eq!(again, all);
    // Once: the next poll, with a fresh token, sends nothing.
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(50)).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
}

#[tokio::test]
async fn the_comment_edits_carried_are_bounded() {
    use connector_misc::asana::MAX_EDITED;
    use futures::StreamExt;
    let api = standard(2);
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"include_attachments": false}));
    let cp = c.as_checkpointed().unwrap();
    let mut from = cp.initial_checkpoint_json().unwrap();
    // `Book venue` (modified at minute 2) with an edit before that: no part of its version.
    // And more edits than are kept, of tasks no run lists.
    let mut edited = serde_json::Map::new();
    edited.insert("1200000000000102".into(), json!(time(1).timestamp_millis()));
    for i in 0..MAX_EDITED + 5 {
        edited.insert(format!("x{i}"), json!(1_700_000_000_000_i64 + i as i64));
    }
    from.state = json!({"edited": edited});
    let batches: Vec<_> = cp
        .load_from_checkpoint_json(from, None, connector_core::SyncContext::new())
        .collect::<Vec<_>>()
        .await;
    let last = batches
        .into_iter()
        .last()
        .unwrap()
        .unwrap()
        .checkpoint
        .state;
    let kept = last["edited"].as_object().unwrap();
    assert_eq!(kept.len(), MAX_EDITED);
    assert!(!kept.contains_key("1200000000000102"));
    // The oldest go.
    assert!((0..5).all(|i| !kept.contains_key(&format!("x{i}"))));
    assert!(kept.contains_key(&format!("x{}", MAX_EDITED + 4)));
}
