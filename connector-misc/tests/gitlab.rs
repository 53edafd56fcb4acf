//! The GitLab connector against the wiremock GitLab of `gitlab_common` (REST v4 reference:
//! projects, group projects, keyset tree, raw blobs, issues and merge requests with
//! `updated_after` and offset `Link` paging, notes, members, error bodies, rate-limit headers).
#![cfg(feature = "gitlab")]
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

mod gitlab_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::{Connector, ErrorKind, Registry};
use futures::TryStreamExt;
use gitlab_common::{
    File, GitlabApi, Item, Note, Project, TOKEN, build, standard, standard_project, start, time,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn run(
    c: &Arc<dyn Connector>,
    store: &MemoryStateStore,
    mode: SyncMode,
    at: u32,
) -> MemorySink {
    let sink = MemorySink::new();
    Syncer::new(c.clone())
        .sink(sink.clone())
        .state(store.clone())
        .at(time(at))
        .run(mode)
        .await
        .expect("the sync runs");
    sink
}

async fn requests(server: &MockServer, needle: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path().contains(needle))
        .count()
}

/// A document as JSON with the server's address replaced, for a snapshot.
fn portable(doc: &connector_core::Document, uri: &str) -> Value {
    let text = serde_json::to_string(doc)
        .unwrap()
        .replace(uri, "https://gitlab.example.com");
    let host = uri.trim_start_matches("http://");
    serde_json::from_str(&text.replace(host, "gitlab.example.com")).unwrap()
}

#[tokio::test]
async fn issues_and_merge_requests_carry_their_comments_access_owners_and_links() {
    let server = start(standard(2)).await;
    let uri = server.uri();
    let c = build(&uri, json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    let base = format!("{uri}/acme/platform/api/-");
    let mut ids = sink.ids();
    ids.sort();
    let mut want: Vec<String> = (1..=5)
        .map(|i| format!("{base}/issues/{i}"))
        .chain((1..=3).map(|i| format!("{base}/merge_requests/{i}")))
        .chain(
            [
                "README.md",
                "docs/logo.png",
                "src/lib/util.py",
                "src/main.rs",
            ]
            .iter()
            .map(|p| format!("{base}/blob/main/{p}")),
        )
        .collect();
    want.sort();
    assert_eq!(ids, want);

    let issue = sink.get(&format!("{base}/issues/1")).unwrap();
    let text = issue.content.as_text().unwrap();
    assert!(text.starts_with("# Login fails on Safari"), "{text}");
    assert!(
        text.contains("Body of **Login fails on Safari**."),
        "{text}"
    );
    assert!(text.contains("Reproduced on **Safari 17**."), "{text}");
    assert!(
        !text.contains("added ~bug label"),
        "a system note is left out: {text}"
    );
    assert!(
        !text.contains("customer ACME"),
        "an internal note is left out: {text}"
    );
    assert_eq!(issue.owners, ["alice", "bob"]);
    assert_eq!(issue.updated_at, Some(time(1)));
    assert_eq!(issue.metadata["labels"], json!(["bug", "frontend"]));
    assert_eq!(issue.metadata["state"], "opened");
    assert_eq!(issue.metadata["type"], "Issue");
    assert_eq!(
        issue.link.as_ref().map(url::Url::as_str),
        Some(format!("{base}/issues/1").as_str())
    );
    // A private project: its members, by group and by the address an admin token sees.
    let access = issue.access.as_ref().unwrap();
    assert!(!access.public);
    assert_eq!(access.emails, ["alice@example.com"]);
    assert_eq!(
        access.groups,
        ["gitlab-project:127.0.0.1/acme/platform/api"]
    );
    insta::assert_json_snapshot!("gitlab_issue", portable(&issue, &uri));

    let mr = sink.get(&format!("{base}/merge_requests/1")).unwrap();
    assert!(mr.content.as_text().unwrap().contains("LGTM"));
    assert_eq!(mr.metadata["state"], "merged");
    assert_eq!(mr.metadata["target_branch"], "main");
    insta::assert_json_snapshot!("gitlab_merge_request", portable(&mr, &uri));

    // Code: text whatever the extension, bytes for what is not text; the head commit's time.
    let main = sink.get(&format!("{base}/blob/main/src/main.rs")).unwrap();
    assert_eq!(
        main.content.as_text(),
        Some("fn main() {\n    println!(\"hi\");\n}\n")
    );
    assert_eq!(main.title, "main.rs");
    assert_eq!(main.updated_at, Some(time(20)));
    assert_eq!(main.metadata["path"], "src/main.rs");
    let logo = sink
        .get(&format!("{base}/blob/main/docs/logo.png"))
        .unwrap();
    assert!(logo.content.as_text().is_none());
    insta::assert_json_snapshot!("gitlab_code_file", portable(&main, &uri));

    // Folders (tree entries) are walked, never downloaded; notes asked (by thread) only
    // where there are some: issue 1 (three threads of a note, two pages of two) and merge
    // request 1.
    assert_eq!(requests(&server, "/raw").await, 4);
    assert_eq!(requests(&server, "/discussions").await, 3);
}

#[tokio::test]
async fn a_confidential_note_of_gitlab_before_15_is_left_out_odd_file_names_link_right_and_lfs_pointers_fail()
 {
    let mut p = standard_project();
    // Before 15.0 a confidential note has `confidential: true` and no `internal` key.
    p.issues[0].notes.push(Note {
        author: "carol",
        body: "old-style secret".into(),
        system: false,
        internal: true,
        before_15: true,
        position: None,
        reply_to: None,
        resolved: None,
    });
    p.files.push(File::new("docs/C#.md", b"# C sharp"));
    // A Git LFS pointer, as blobs/:sha/raw returns it for an LFS-tracked file.
    p.files.push(File::new(
        "assets/model.bin",
        b"version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345\n",
    ));
    let server = start(GitlabApi::new(vec![p], 10)).await;
    let c = build(&server.uri(), json!({"include_mrs": false}));
    let sink = MemorySink::new();
    let report = Syncer::new(c)
        .sink(sink.clone())
        .state(MemoryStateStore::new())
        .at(time(30))
        .run(SyncMode::Full)
        .await
        .unwrap();
    let base = format!("{}/acme/platform/api/-", server.uri());
    let issue = sink.get(&format!("{base}/issues/1")).unwrap();
    let text = issue.content.as_text().unwrap();
    assert!(!text.contains("old-style secret"), "{text}");
    // The LFS pointer is a failure, not a document of pointer text.
    assert!(
        sink.get(&format!("{base}/blob/main/assets/model.bin"))
            .is_none()
    );
    assert_eq!(report.failed, 1, "{report:?}");
    assert!(report.failures[0].message.contains("LFS"), "{report:?}");
    // The id keeps the name as RAGFlow's does; the link encodes `#`, not a fragment.
    let file = sink.get(&format!("{base}/blob/main/docs/C#.md")).unwrap();
    assert_eq!(
        file.link.as_ref().map(url::Url::as_str),
        Some(format!("{base}/blob/main/docs/C%23.md").as_str())
    );
}

#[tokio::test]
async fn system_notes_are_kept_and_marked_when_asked_for() {
    let server = start(standard(10)).await;
    let c = build(&server.uri(), json!({"include_system_notes": true}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    let issue = sink
        .get(&format!("{}/acme/platform/api/-/issues/1", server.uri()))
        .unwrap();
    let text = issue.content.as_text().unwrap();
    assert!(text.contains("(system note)"), "{text}");
    assert!(text.contains("added ~bug label"), "{text}");
}

#[tokio::test]
async fn a_review_comment_on_a_line_of_the_diff_says_which_file_and_line() {
    let mut p = standard_project();
    p.mrs[0].notes.push(Note {
        position: Some(("src/main.rs", 2)),
        ..Note::user("bob", "Use `eprintln!` here.")
    });
    let server = start(GitlabApi::new(vec![p], 10)).await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    let mr = sink
        .get(&format!(
            "{}/acme/platform/api/-/merge_requests/1",
            server.uri()
        ))
        .unwrap();
    let text = mr.content.as_text().unwrap();
    assert!(text.contains(" · on `src/main.rs:2`"), "{text}");
    assert!(text.contains("Use `eprintln!` here."), "{text}");
    // A note on no line says none.
    let lgtm = text.lines().find(|l| l.starts_with("**@carol**")).unwrap();
    assert!(!lgtm.contains(" on "), "{lgtm}");
}

#[tokio::test]
async fn replies_are_marked_in_their_thread_and_a_thread_says_whether_it_is_resolved() {
    let mut p = standard_project();
    // A review thread on a line, with a reply, not resolved yet; an internal reply in it is
    // left out as any internal note.
    let at = p.mrs[0].notes.len();
    p.mrs[0].notes.push(Note {
        position: Some(("src/main.rs", 2)),
        resolved: Some(false),
        ..Note::user("bob", "Use `eprintln!` here.")
    });
    p.mrs[0].notes.push(Note {
        reply_to: Some(at),
        ..Note::user("alice", "Done in the next commit.")
    });
    p.mrs[0].notes.push(Note {
        reply_to: Some(at),
        internal: true,
        ..Note::user("carol", "internal: ship it anyway")
    });
    // A thread started on an issue, with a reply, that GitLab shows as not resolvable.
    let at = p.issues[1].notes.len();
    p.issues[1].notes.push(Note::user("bob", "Which browser?"));
    p.issues[1].notes.push(Note {
        reply_to: Some(at),
        ..Note::user("alice", "Firefox 128.")
    });
    let api = GitlabApi::new(vec![p], 10);
    let server = start(api.clone()).await;
    let uri = server.uri();
    let c = build(&uri, json!({}));
    let store = MemoryStateStore::new();
    let sink = run(&c, &store, SyncMode::Full, 30).await;
    let base = format!("{uri}/acme/platform/api/-");
    let mr = sink.get(&format!("{base}/merge_requests/1")).unwrap();
    let text = mr.content.as_text().unwrap().to_owned();
    let line = |who: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("**@{who}**")))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        line("bob").ends_with(" · on `src/main.rs:2` · unresolved thread"),
        "{text}"
    );
    assert!(line("alice").ends_with(" · reply"), "{text}");
    assert!(!text.contains("ship it anyway"), "{text}");
    // A comment on its own is neither a reply nor a thread.
    assert!(!line("carol").contains("thread") && !line("carol").contains("reply"));
    let issue = sink.get(&format!("{base}/issues/2")).unwrap();
    let issue_text = issue.content.as_text().unwrap();
    assert!(
        issue_text.contains(" · reply\n\nFirefox 128."),
        "{issue_text}"
    );
    assert!(!issue_text.contains("thread"), "{issue_text}");
    // One request a page of 100 threads per item with comments, none for the others.
    let with_notes = sink
        .documents()
        .iter()
        .filter(|d| d.metadata.get("comments").is_some_and(|c| c != 0))
        .count();
    assert_eq!(requests(&server, "/discussions").await, with_notes);
    assert_eq!(requests(&server, "/notes").await, 0);

    // Resolving the thread saves its notes, which touches the merge request's updated_at
    // (GitLab's `Note#touch_noteable`): the next incremental run reads it again.
    {
        let mut st = api.state.lock().unwrap();
        let mr = &mut st.projects[0].mrs[0];
        let at = at_mr(mr);
        mr.notes[at].resolved = Some(true);
        mr.minute = 38;
    }
    let next = run(&c, &store, SyncMode::Incremental, 40).await;
    assert_eq!(next.ids(), [format!("{base}/merge_requests/1")]);
    let text = next.documents()[0].content.as_text().unwrap().to_owned();
    assert!(
        text.contains(" · on `src/main.rs:2` · resolved thread"),
        "{text}"
    );
}

/// The index of the note that starts the merge request's review thread.
fn at_mr(mr: &Item) -> usize {
    mr.notes.iter().position(|n| n.position.is_some()).unwrap()
}

#[tokio::test]
async fn a_self_managed_instance_under_a_relative_url_root_reads_and_refetches() {
    let server = MockServer::start().await;
    let api = standard(2);
    // GitLab at `https://host/gitlab` writes every web_url and link under that root.
    let root = format!("{}/gitlab", server.uri());
    *api.base.lock().unwrap() = root.clone();
    gitlab_common::mount_at(&server, &api, "/gitlab").await;
    let c = build(&root, json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    let ids = sink.ids();
    assert_eq!(ids.len(), 12, "{ids:?}");
    let prefix = format!("{root}/acme/platform/api/-/");
    assert!(ids.iter().all(|id| id.starts_with(&prefix)), "{ids:?}");
    // The tree's keyset links and the issues' offset links stayed under the root.
    assert!(requests(&server, "/gitlab/api/v4/projects/42/repository/tree").await >= 2);
    let file = sink.get(&format!("{prefix}blob/main/src/main.rs")).unwrap();
    assert_eq!(
        file.link.as_ref().map(url::Url::as_str),
        Some(format!("{prefix}blob/main/src/main.rs").as_str())
    );
    let refetch = c.roles().as_refetch().expect("refetch");
    let batches: Vec<connector_core::Batch> = refetch
        .fetch(
            vec![
                format!("{prefix}issues/1"),
                format!("{prefix}blob/main/README.md"),
            ],
            connector_core::SyncContext::new(),
        )
        .try_collect()
        .await
        .unwrap();
    let again: Vec<String> = batches
        .into_iter()
        .flat_map(|b| b.documents.into_iter().map(|d| d.id))
        .collect();
    assert_eq!(again.len(), 2, "{again:?}");
}

#[tokio::test]
async fn a_renamed_or_transferred_project_is_read_by_its_new_path_through_gitlabs_redirect() {
    let api = standard(10);
    api.state
        .lock()
        .unwrap()
        .moved
        .push(("acme/platform/old-api".to_owned(), 42));
    let server = start(api).await;
    let c = build(&server.uri(), json!({"project_name": "old-api"}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    let ids = sink.ids();
    assert_eq!(ids.len(), 12, "{ids:?}");
    // The documents are the project's as it is named now.
    let prefix = format!("{}/acme/platform/api/-/", server.uri());
    assert!(ids.iter().all(|id| id.starts_with(&prefix)), "{ids:?}");
    assert_eq!(
        requests(&server, "/projects/acme%2Fplatform%2Fold-api").await,
        1
    );
    // A refetch by those ids finds them, although the config names the old path.
    let refetch = c.roles().as_refetch().expect("refetch");
    let batches: Vec<connector_core::Batch> = refetch
        .fetch(ids.clone(), connector_core::SyncContext::new())
        .try_collect()
        .await
        .unwrap();
    let mut again: Vec<String> = batches
        .into_iter()
        .flat_map(|b| b.documents.into_iter().map(|d| d.id))
        .collect();
    again.sort();
    let mut ids = ids;
    ids.sort();
    assert_eq!(again, ids);
}

#[tokio::test]
async fn a_confidential_issue_is_for_members_only_even_in_a_public_project() {
    let mut p = standard_project();
    p.visibility = "public";
    let server = start(GitlabApi::new(vec![p], 10)).await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    let base = format!("{}/acme/platform/api/-", server.uri());
    assert!(
        sink.get(&format!("{base}/issues/1"))
            .unwrap()
            .access
            .as_ref()
            .unwrap()
            .public
    );
    let secret = sink.get(&format!("{base}/issues/3")).unwrap();
    let access = secret.access.as_ref().unwrap();
    assert!(!access.public);
    assert_eq!(
        access.groups,
        [
            "gitlab-project:127.0.0.1/acme/platform/api:planner",
            "gitlab-user:127.0.0.1/alice"
        ]
    );
    // Members are not even read for a public project.
    assert_eq!(requests(&server, "/members").await, 0);
}

#[tokio::test]
async fn a_public_project_that_keeps_its_issues_to_members_does_not_make_them_public() {
    // A public repository with a members-only tracker (issues_access_level: private).
    let mut p = standard_project();
    p.visibility = "public";
    p.issues_access_level = "private";
    let server = start(GitlabApi::new(vec![p], 10)).await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    let base = format!("{}/acme/platform/api/-", server.uri());
    let issue = sink.get(&format!("{base}/issues/1")).unwrap();
    let access = issue.access.as_ref().unwrap();
    assert!(
        !access.public,
        "a members-only issue went out public: {access:?}"
    );
    assert_eq!(
        access.groups,
        ["gitlab-project:127.0.0.1/acme/platform/api"]
    );
    // What the project does not keep to members stays public.
    let public_docs: Vec<_> = sink
        .documents()
        .into_iter()
        .filter(|d| !d.id.contains("/issues/"))
        .collect();
    assert!(!public_docs.is_empty());
    assert!(
        public_docs
            .iter()
            .all(|d| d.access.as_ref().is_some_and(|a| a.public)),
        "merge requests and files of a public project are public"
    );
    // Members are read once something is kept to them.
    assert!(requests(&server, "/members").await > 0);
}

#[tokio::test]
async fn an_incremental_run_finds_a_new_comment_on_an_old_issue_although_every_merge_request_is_older()
 {
    // RAGFlow listed merge requests newest first and returned at the first one older than the
    // window, so no issue was ever read by a poll.
    let api = standard(2);
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full, 30).await;
    {
        let mut st = api.state.lock().unwrap();
        let issue = st.projects[0]
            .issues
            .iter_mut()
            .find(|i| i.iid == 2)
            .unwrap();
        issue.notes.push(Note::user("carol", "Shipped in 17.2"));
        // GitLab touches the issue's updated_at when a note is added.
        issue.minute = 35;
    }
    server.reset().await;
    gitlab_common::mount(&server, &api).await;
    let sink = run(&c, &store, SyncMode::Incremental, 40).await;
    let base = format!("{}/acme/platform/api/-", server.uri());
    assert_eq!(sink.ids(), [format!("{base}/issues/2")]);
    let text = sink
        .get(&format!("{base}/issues/2"))
        .unwrap()
        .content
        .as_text()
        .unwrap()
        .to_owned();
    assert!(text.contains("Shipped in 17.2"), "{text}");
    // The ref's head commit is the one the last run saw: the tree is not even listed.
    assert_eq!(requests(&server, "/repository/tree").await, 0);
    assert_eq!(requests(&server, "/raw").await, 0);
}

#[tokio::test]
async fn an_incremental_run_reads_a_file_pushed_with_an_old_commit_date() {
    // Commits written before the last run and pushed (or fast-forward merged) after it: the
    // head's committed_date is older than the window, the file changed all the same.
    let api = standard(2);
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full, 30).await;
    {
        let mut st = api.state.lock().unwrap();
        st.projects[0].files[1] = File::new("src/main.rs", b"fn main() { run() }\n");
        assert!(st.projects[0].head_minute < 30);
    }
    server.reset().await;
    gitlab_common::mount(&server, &api).await;
    let sink = run(&c, &store, SyncMode::Incremental, 40).await;
    let base = format!("{}/acme/platform/api/-", server.uri());
    assert_eq!(sink.ids(), [format!("{base}/blob/main/src/main.rs")]);
    assert_eq!(
        sink.get(&format!("{base}/blob/main/src/main.rs"))
            .unwrap()
            .content
            .as_text(),
        Some("fn main() { run() }\n")
    );
    // Only the changed file is downloaded.
    assert_eq!(requests(&server, "/raw").await, 1);
}

#[tokio::test]
async fn each_document_is_for_the_roles_gitlab_shows_it_to() {
    // A private project: a Guest reads issues but not code or merge requests; a Planner
    // reads confidential issues too; Minimal Access and a member awaiting a seat read nothing.
    let mut p = standard_project();
    p.members.extend([
        ("gus", Some("gus@example.com"), 10),
        ("pat", Some("pat@example.com"), 15),
        ("rita", Some("rita@example.com"), 20),
        ("min", Some("min@example.com"), 5),
    ]);
    p.awaiting = vec![("wait", Some("wait@example.com"))];
    p.issues[2].assignees = vec!["dave"]; // issue 3, confidential, by alice
    let server = start(GitlabApi::new(vec![p], 10)).await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    let base = format!("{}/acme/platform/api/-", server.uri());
    let access = |id: &str| sink.get(&format!("{base}/{id}")).unwrap().access.unwrap();
    let group = "gitlab-project:127.0.0.1/acme/platform/api";

    let file = access("blob/main/README.md");
    assert_eq!(file.emails, ["alice@example.com", "rita@example.com"]);
    assert_eq!(file.groups, [format!("{group}:reporter")]);
    let mr = access("merge_requests/2");
    assert_eq!(mr.emails, ["alice@example.com", "rita@example.com"]);
    assert_eq!(mr.groups, [format!("{group}:reporter")]);

    let issue = access("issues/2");
    assert_eq!(
        issue.emails,
        [
            "alice@example.com",
            "gus@example.com",
            "pat@example.com",
            "rita@example.com"
        ]
    );
    assert_eq!(issue.groups, [group]);

    // Confidential: Planner and up, and its author and assignees who are members (dave is
    // none: in a private project he reads nothing).
    let secret = access("issues/3");
    assert_eq!(
        secret.emails,
        ["alice@example.com", "pat@example.com", "rita@example.com"]
    );
    assert_eq!(
        secret.groups,
        [
            format!("{group}:planner"),
            "gitlab-user:127.0.0.1/alice".to_owned()
        ]
    );
    for doc in sink.documents() {
        let a = doc.access.as_ref().unwrap();
        assert!(!a.public);
        for who in ["min@example.com", "wait@example.com"] {
            assert!(!a.emails.iter().any(|e| e == who), "{who} in {}", doc.id);
        }
    }
}

#[tokio::test]
async fn a_confidential_issue_of_a_public_project_is_also_for_its_author_and_assignees() {
    let mut p = standard_project();
    p.visibility = "public";
    p.issues[2].assignees = vec!["dave"];
    let server = start(GitlabApi::new(vec![p], 10)).await;
    let c = build(&server.uri(), json!({}));
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    let secret = sink
        .get(&format!("{}/acme/platform/api/-/issues/3", server.uri()))
        .unwrap();
    let access = secret.access.as_ref().unwrap();
    assert!(!access.public);
    assert_eq!(
        access.groups,
        [
            "gitlab-project:127.0.0.1/acme/platform/api:planner",
            "gitlab-user:127.0.0.1/alice",
            "gitlab-user:127.0.0.1/dave"
        ]
    );
}

#[tokio::test]
async fn a_project_whose_merge_requests_the_token_may_not_read_is_a_failure_and_the_rest_comes() {
    let mut a = Project::new(1, "acme/a", "public");
    a.issues = vec![Item::new(1, "A issue", 3)];
    a.mrs = vec![Item::new(1, "A change", 4)];
    // GitLab answers 403 on /merge_requests (a Guest's token on a private project).
    let mut b = Project::new(2, "acme/b", "public");
    b.issues = vec![Item::new(1, "B issue", 3)];
    b.mrs = vec![Item::new(1, "B change", 4)];
    b.forbidden = vec!["merge_requests"];
    // Merge requests and the repository turned off: nothing to read, no failure.
    let mut c3 = Project::new(3, "acme/c", "public");
    c3.files = vec![File::new("README.md", b"# C")];
    c3.issues = vec![Item::new(1, "C issue", 3)];
    c3.merge_requests_access_level = "disabled";
    c3.repository_access_level = "disabled";
    let api = GitlabApi::new(vec![a, b, c3], 10);
    api.state.lock().unwrap().groups = vec!["acme".into()];
    let server = start(api).await;
    let uri = server.uri();
    let c = build(&uri, json!({"project_owner": "acme", "project_name": null}));
    let sink = MemorySink::new();
    let report = Syncer::new(c.clone())
        .sink(sink.clone())
        .state(MemoryStateStore::new())
        .at(time(30))
        .run(SyncMode::Full)
        .await
        .expect("one forbidden stage does not end the sync");
    let mut ids = sink.ids();
    ids.sort();
    assert_eq!(
        ids,
        [
            format!("{uri}/acme/a/-/issues/1"),
            format!("{uri}/acme/a/-/merge_requests/1"),
            format!("{uri}/acme/b/-/issues/1"),
            format!("{uri}/acme/c/-/issues/1"),
        ]
    );
    assert_eq!(report.failed, 1, "{report:?}");
    let failure = &report.failures[0];
    assert_eq!(failure.kind, ErrorKind::PermissionDenied);
    assert!(
        failure.message.contains("acme/b") && failure.message.contains("merge requests"),
        "{}",
        failure.message
    );
    // A disabled feature is not even asked for.
    assert_eq!(requests(&server, "/projects/3/merge_requests").await, 0);
    assert_eq!(requests(&server, "/projects/3/repository").await, 0);

    // Listing every id for prune does not fail either.
    let slim = c.roles().as_slim().expect("a slim connector");
    let listed: Vec<Vec<connector_core::SlimDocument>> = slim
        .list_ids(connector_core::SyncContext::new())
        .try_collect()
        .await
        .expect("list_ids goes past the forbidden stage");
    let mut listed: Vec<String> = listed.into_iter().flatten().map(|d| d.id).collect();
    listed.sort();
    assert_eq!(listed, ids);
}

#[tokio::test]
async fn a_repository_the_token_may_not_read_fails_on_every_run_until_it_reads() {
    // A Guest's token on a private project: commits and tree answer 403.
    let mut p = standard_project();
    p.forbidden = vec!["repository"];
    let api = GitlabApi::new(vec![p], 10);
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    for (mode, at) in [(SyncMode::Full, 30), (SyncMode::Incremental, 40)] {
        let report = Syncer::new(c.clone())
            .sink(MemorySink::new())
            .state(store.clone())
            .at(time(at))
            .run(mode)
            .await
            .unwrap();
        assert_eq!(report.failed, 1, "{mode:?}: {report:?}");
        assert!(
            report.failures[0].message.contains("repository"),
            "{report:?}"
        );
    }
    // Readable again: the next poll reads the files.
    api.state.lock().unwrap().projects[0].forbidden.clear();
    let sink = run(&c, &store, SyncMode::Incremental, 50).await;
    assert_eq!(
        sink.ids()
            .iter()
            .filter(|id| id.contains("/-/blob/"))
            .count(),
        4,
        "{:?}",
        sink.ids()
    );
}

#[tokio::test]
async fn a_change_inside_the_millisecond_a_window_ends_in_is_not_lost() {
    use connector_core::{CheckpointedConnector, SyncContext, TimeWindow};
    use connector_misc::gitlab::{GitlabCheckpoint, GitlabConfig, GitlabConnector};
    // GitLab stores microseconds and prints milliseconds. A window ending at .123456 and the
    // next starting there: issues updated at .123300 and .123700 share the printed .123.
    let end: chrono::DateTime<chrono::Utc> = "2025-03-01T10:40:00.123456Z".parse().unwrap();
    let mut p = standard_project();
    let mut before = Item::new(6, "Just before the end", 40);
    before.exact = Some(end - chrono::TimeDelta::microseconds(156));
    let mut after = Item::new(7, "Just after the end", 40);
    after.exact = Some(end + chrono::TimeDelta::microseconds(244));
    p.issues.extend([before, after]);
    let server = start(GitlabApi::new(vec![p], 10)).await;
    let config: GitlabConfig = connector_core::config::from_json(gitlab_common::config(
        &server.uri(),
        json!({"include_mrs": false, "include_code_files": false}),
    ))
    .unwrap();
    let c = GitlabConnector::new(config).unwrap();
    assert!(c.min_overlap() >= Duration::from_secs(60));
    let mut seen = Vec::new();
    for w in [
        TimeWindow::new(time(30), end).unwrap(),
        TimeWindow::new(end, time(50)).unwrap(),
    ] {
        let pages: Vec<_> = c
            .load_from_checkpoint(GitlabCheckpoint::start(), Some(w), SyncContext::new())
            .try_collect()
            .await
            .unwrap();
        for page in pages {
            seen.extend(page.batch.documents.into_iter().map(|d| d.id));
        }
    }
    let base = format!("{}/acme/platform/api/-", server.uri());
    for iid in [6, 7] {
        assert!(
            seen.contains(&format!("{base}/issues/{iid}")),
            "issue {iid} lost between the windows: {seen:?}"
        );
    }
}

#[tokio::test]
async fn a_project_made_private_loses_public_on_the_next_incremental_run() {
    // No item's updated_at moves when a project's visibility or members change.
    let mut p = standard_project();
    p.visibility = "public";
    let api = GitlabApi::new(vec![p], 10);
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let first = run(&c, &store, SyncMode::Full, 30).await;
    assert!(
        first
            .documents()
            .iter()
            .filter(|d| !d.id.ends_with("/issues/3"))
            .all(|d| d.access.as_ref().unwrap().public)
    );
    // Nothing changed: an incremental run hands nothing on.
    let quiet = run(&c, &store, SyncMode::Incremental, 35).await;
    assert!(quiet.ids().is_empty(), "{:?}", quiet.ids());

    api.state.lock().unwrap().projects[0].visibility = "private";
    let second = run(&c, &store, SyncMode::Incremental, 40).await;
    assert_eq!(second.ids().len(), first.ids().len(), "{:?}", second.ids());
    for doc in second.documents() {
        assert!(
            !doc.access.as_ref().unwrap().public,
            "{} still public",
            doc.id
        );
    }
    // And the run after that is quiet again.
    let third = run(&c, &store, SyncMode::Incremental, 45).await;
    assert!(third.ids().is_empty(), "{:?}", third.ids());
}

#[tokio::test]
async fn a_project_new_to_the_group_is_read_whole_by_an_incremental_run() {
    let mut a = Project::new(1, "acme/a", "public");
    a.issues = vec![Item::new(1, "A issue", 3)];
    let api = GitlabApi::new(vec![a], 10);
    api.state.lock().unwrap().groups = vec!["acme".into()];
    let server = start(api.clone()).await;
    let uri = server.uri();
    let c = build(&uri, json!({"project_owner": "acme", "project_name": null}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full, 30).await;
    // Moved into the group with issues older than any window.
    let mut b = Project::new(2, "acme/b", "public");
    b.issues = vec![Item::new(1, "B issue", 2)];
    api.state.lock().unwrap().projects.push(b);
    let sink = run(&c, &store, SyncMode::Incremental, 40).await;
    assert_eq!(sink.ids(), [format!("{uri}/acme/b/-/issues/1")]);
}

#[tokio::test]
async fn a_project_named_in_another_case_or_reached_by_another_host_reads_and_refetches() {
    let server = start(standard(2)).await;
    let port = server.address().port();
    // GitLab writes its ids with its own host (here 127.0.0.1); the connector reaches it as
    // localhost, and the config spells the path in capitals.
    let c = build(
        &format!("http://localhost:{port}"),
        json!({"project_owner": "ACME/Platform", "project_name": "API", "allowed_hosts": ["localhost"]}),
    );
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    assert_eq!(sink.ids().len(), 12);
    // One project request for the run, not one before every page.
    assert_eq!(
        requests(&server, "/projects/ACME%2FPlatform%2FAPI").await,
        1
    );
    let ids = sink.ids();
    let refetch = c.roles().as_refetch().expect("refetch");
    let batches: Vec<connector_core::Batch> = refetch
        .fetch(ids.clone(), connector_core::SyncContext::new())
        .try_collect()
        .await
        .unwrap();
    let mut again: Vec<String> = batches
        .into_iter()
        .flat_map(|b| b.documents.into_iter().map(|d| d.id))
        .collect();
    again.sort();
    let mut ids = ids;
    ids.sort();
    assert_eq!(again, ids);
}

#[tokio::test]
async fn an_unchanged_file_or_issue_costs_no_download_and_an_edited_file_one() {
    let api = standard(2);
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    run(&c, &store, SyncMode::Full, 30).await;
    server.reset().await;
    gitlab_common::mount(&server, &api).await;
    let again = run(&c, &store, SyncMode::Reconcile, 31).await;
    assert!(again.ids().is_empty(), "{:?}", again.ids());
    assert_eq!(requests(&server, "/raw").await, 0);
    assert_eq!(requests(&server, "/notes").await, 0);

    api.state.lock().unwrap().projects[0].files[1] = File::new("src/main.rs", b"fn main() {}\n");
    server.reset().await;
    gitlab_common::mount(&server, &api).await;
    let edited = run(&c, &store, SyncMode::Reconcile, 32).await;
    let base = format!("{}/acme/platform/api/-", server.uri());
    assert_eq!(edited.ids(), [format!("{base}/blob/main/src/main.rs")]);
    assert_eq!(requests(&server, "/raw").await, 1);
}

#[tokio::test]
async fn an_issue_edited_between_pages_is_neither_lost_nor_does_it_shift_the_rest() {
    let api = standard(2);
    // Issue 2 (page 1) is edited before page 2 is asked for: an offset would skip issue 3.
    api.state.lock().unwrap().touch_on_second_page = Some((2, 10));
    let server = start(api).await;
    let c = build(
        &server.uri(),
        json!({"include_mrs": false, "include_code_files": false}),
    );
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    let mut ids = sink.ids();
    ids.sort();
    let base = format!("{}/acme/platform/api/-", server.uri());
    let want: Vec<String> = (1..=5).map(|i| format!("{base}/issues/{i}")).collect();
    assert_eq!(ids, want);
}

#[tokio::test]
async fn a_bucket_of_many_issues_at_one_time_is_read_in_linear_pages() {
    // 350 issues touched at once (a migration, a bulk edit) at 100 a page.
    let mut p = Project::new(5, "acme/bulk", "public");
    p.issues = (1..=350)
        .map(|i| Item::new(i, &format!("Bulk {i}"), 5))
        .collect();
    let server = start(GitlabApi::new(vec![p], 100)).await;
    let c = build(
        &server.uri(),
        json!({"project_owner": "acme", "project_name": "bulk", "include_mrs": false,
            "include_code_files": false}),
    );
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    assert_eq!(sink.ids().len(), 350);
    let listed = requests(&server, "/issues").await;
    assert!(listed <= 5, "{listed} list requests");
}

#[tokio::test]
async fn a_group_is_read_project_by_project_and_a_public_project_is_public() {
    let mut www = Project::new(7, "acme/www", "public");
    www.files = vec![File::new("index.md", b"# Welcome")];
    www.issues = vec![Item::new(1, "Broken link", 3)];
    let mut internal = Project::new(8, "acme/tools/ci", "internal");
    internal.issues = vec![Item::new(1, "Flaky runner", 4)];
    internal.members_forbidden = true;
    let api = GitlabApi::new(vec![standard_project(), www, internal], 2);
    api.state.lock().unwrap().groups = vec!["acme".into()];
    let state = api.state.clone();
    let server = start(api).await;
    let uri = server.uri();
    let c = build(&uri, json!({"project_owner": "acme", "project_name": null}));
    assert!(c.partitions().is_empty());
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    assert_eq!(sink.ids().len(), 12 + 2 + 1);
    let page = sink
        .get(&format!("{uri}/acme/www/-/blob/main/index.md"))
        .unwrap();
    assert!(page.access.as_ref().unwrap().public);
    // Internal: every signed-in user; members unreadable with this token (403) leave the group.
    let flaky = sink
        .get(&format!("{uri}/acme/tools/ci/-/issues/1"))
        .unwrap();
    let access = flaky.access.as_ref().unwrap();
    assert!(!access.public);
    assert!(access.emails.is_empty());
    assert_eq!(
        access.groups,
        [
            "gitlab-project:127.0.0.1/acme/tools/ci",
            "gitlab-internal:127.0.0.1"
        ]
    );
    // The group's projects, listed by keyset over two pages, each a job of its own.
    assert_eq!(
        c.discover_partitions().await.unwrap(),
        ["acme/www", "acme/tools/ci", "acme/platform/api"]
    );
    // An instance without keyset paging for the listing is asked again by offset.
    state.lock().unwrap().no_keyset_projects = true;
    assert_eq!(
        c.discover_partitions().await.unwrap(),
        ["acme/www", "acme/tools/ci", "acme/platform/api"]
    );
    let gone = build(
        &uri,
        json!({"project_owner": "nobody", "project_name": null}),
    );
    let e = gone.discover_partitions().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(e.field(), Some("project_owner"));
    let one = c.partition("acme/www").expect("a project under the group");
    let sink = run(&one, &MemoryStateStore::new(), SyncMode::Full, 30).await;
    assert_eq!(sink.ids().len(), 2);
    assert!(c.partition("other/www").is_none());
}

#[tokio::test]
async fn an_archived_project_is_marked_and_left_out_when_include_archived_is_off() {
    let mut www = Project::new(7, "acme/www", "public");
    www.files = vec![File::new("index.md", b"# Welcome")];
    www.issues = vec![Item::new(1, "Broken link", 3)];
    let api = GitlabApi::new(vec![standard_project(), www], 10);
    api.state.lock().unwrap().groups = vec!["acme".into()];
    let server = start(api.clone()).await;
    let uri = server.uri();
    let group = json!({"project_owner": "acme", "project_name": null});
    let c = build(&uri, group.clone());
    let store = MemoryStateStore::new();
    let first = run(&c, &store, SyncMode::Full, 30).await;
    assert_eq!(first.ids().len(), 12 + 2);
    assert!(
        first
            .documents()
            .iter()
            .all(|d| !d.metadata.contains_key("archived"))
    );
    // Archiving moves no updated_at: the next incremental run reads the project whole and
    // marks its documents; the others are untouched, and the run after is quiet.
    api.state.lock().unwrap().projects[1].archived = true;
    let archived = run(&c, &store, SyncMode::Incremental, 40).await;
    let mut ids = archived.ids();
    ids.sort();
    assert_eq!(
        ids,
        [
            format!("{uri}/acme/www/-/blob/main/index.md"),
            format!("{uri}/acme/www/-/issues/1")
        ]
    );
    for doc in archived.documents() {
        assert_eq!(doc.metadata["archived"], json!(true), "{}", doc.id);
    }
    let quiet = run(&c, &store, SyncMode::Incremental, 45).await;
    assert!(quiet.ids().is_empty(), "{:?}", quiet.ids());

    // Off: the group listing asks GitLab to leave archived projects out.
    let mut off = group;
    off["include_archived"] = json!(false);
    let c = build(&uri, off);
    assert_eq!(
        c.discover_partitions().await.unwrap(),
        ["acme/platform/api"]
    );
    let sink = run(&c, &MemoryStateStore::new(), SyncMode::Full, 50).await;
    assert_eq!(sink.ids().len(), 12);
    assert!(sink.ids().iter().all(|id| !id.contains("/acme/www/")));
    // A project named in the config is read for its flag alone, nothing of it listed.
    let named = build(
        &uri,
        json!({"project_owner": "acme", "project_name": "www", "include_archived": false}),
    );
    let before = requests(&server, "/projects/7/").await;
    let sink = MemorySink::new();
    let report = Syncer::new(named)
        .sink(sink.clone())
        .state(MemoryStateStore::new())
        .at(time(50))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(requests(&server, "/projects/7/").await, before);
}

#[tokio::test]
async fn several_projects_are_partitions() {
    let server = start(standard(2)).await;
    let c = build(
        &server.uri(),
        json!({"project_owner": "acme", "project_name": "platform/api, www"}),
    );
    assert_eq!(c.partitions(), ["acme/platform/api", "acme/www"]);
    // Named projects are listed without a request.
    assert_eq!(
        c.discover_partitions().await.unwrap(),
        ["acme/platform/api", "acme/www"]
    );
    let one = build(&server.uri(), json!({}));
    assert!(one.discover_partitions().await.unwrap().is_empty());
    assert!(c.partition("acme/www").is_some());
    assert!(c.partition("acme/other").is_none());
}

#[tokio::test]
async fn check_tells_a_wrong_token_a_missing_project_and_a_missing_scope_apart() {
    let server = start(standard(2)).await;
    let mut cfg = gitlab_common::config(&server.uri(), json!({}));
    cfg["credentials"]["gitlab_access_token"] = json!("glpat-wrong");
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let e = registry
        .build("gitlab", cfg)
        .unwrap()
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e}");
    assert_eq!(e.field(), Some("credentials.gitlab_access_token"));

    let e = build(&server.uri(), json!({"project_name": "nope"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(e.field(), Some("project_name"));
    assert!(e.to_string().contains("404 Project Not Found"), "{e}");

    let e = build(
        &server.uri(),
        json!({"project_owner": "nobody", "project_name": null}),
    )
    .check()
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(e.field(), Some("project_owner"));

    let _guard = Mock::given(method("GET"))
        .and(path("/api/v4/projects/acme%2Fplatform%2Fapi"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by the access token.",
            "scope": "read_api"})))
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let e = build(&server.uri(), json!({})).check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("insufficient_scope"), "{e}");
}

#[tokio::test]
async fn check_of_a_large_group_is_bounded_and_a_misspelt_branch_is_named() {
    let projects: Vec<Project> = (1..=30)
        .map(|i| Project::new(i, &format!("acme/p{i}"), "private"))
        .collect();
    let api = GitlabApi::new(projects, 2);
    api.state.lock().unwrap().groups = vec!["acme".into()];
    let server = start(api).await;
    build(
        &server.uri(),
        json!({"project_owner": "acme", "project_name": null}),
    )
    .check()
    .await
    .unwrap();
    // Fifteen pages of projects, one request.
    let asked = server.received_requests().await.unwrap_or_default().len();
    assert_eq!(asked, 1);

    let server = start(standard(2)).await;
    build(&server.uri(), json!({"branch": "main"}))
        .check()
        .await
        .unwrap();
    let e = build(&server.uri(), json!({"branch": "mian"}))
        .check()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert_eq!(e.field(), Some("branch"));
    // Every configured project is checked, not the first alone.
    let e = build(
        &server.uri(),
        json!({"project_owner": "acme", "project_name": "platform/api, nope"}),
    )
    .check()
    .await
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    assert!(e.to_string().contains("acme/nope"), "{e}");

    // In the walk, the misspelt branch is a failure, not silence.
    let c = build(
        &server.uri(),
        json!({"branch": "mian", "include_mrs": false, "include_issues": false}),
    );
    let report = Syncer::new(c)
        .sink(MemorySink::new())
        .state(MemoryStateStore::new())
        .at(time(30))
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    assert!(
        report.failures[0].message.contains("mian"),
        "{:?}",
        report.failures
    );
}

#[tokio::test]
async fn an_exhausted_quota_waits_for_its_reset() {
    let server = start(standard(2)).await;
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    let body: Value = {
        let probe = reqwest::Client::new()
            .get(format!(
                "{}/api/v4/projects/acme%2Fplatform%2Fapi",
                server.uri()
            ))
            .header("PRIVATE-TOKEN", TOKEN)
            .send()
            .await
            .unwrap();
        probe.json().await.unwrap()
    };
    let _guard = Mock::given(method("GET"))
        .and(path("/api/v4/projects/acme%2Fplatform%2Fapi"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("RateLimit-Limit", "2000")
                .insert_header("RateLimit-Remaining", "0")
                .insert_header("RateLimit-Reset", reset.to_string().as_str())
                .set_body_json(body),
        )
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let started = Instant::now();
    build(&server.uri(), json!({})).check().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_file_over_max_file_size_is_a_failure_and_the_sync_goes_on() {
    let server = start(standard(10)).await;
    let c = build(
        &server.uri(),
        json!({"max_file_size": 30, "include_mrs": false, "include_issues": false}),
    );
    let sink = MemorySink::new();
    let report = Syncer::new(c)
        .sink(sink.clone())
        .state(MemoryStateStore::new())
        .at(time(30))
        .run(SyncMode::Full)
        .await
        .unwrap();
    // main.rs (34 B) is over 30 B; README.md (23 B), util.py (22 B) and logo.png (17 B) fit.
    let mut ids: Vec<String> = sink
        .ids()
        .into_iter()
        .map(|i| i.rsplit('/').next().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["README.md", "logo.png", "util.py"]);
    assert_eq!(report.failed, 1, "{report:?}");
}

#[test]
fn a_config_without_the_three_switches_is_refused_not_read_short() {
    // RAGFlow's Python connector reads absent include_* as false, its Go syncer as true; an
    // API-made config without them is refused loudly here.
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let e = registry
        .build(
            "gitlab",
            json!({"project_owner": "gitlab-org", "project_name": "gitlab-runner",
                "credentials": {"gitlab_access_token": "glpat-abc"}}),
        )
        .map(|_| ())
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.to_string().contains("nothing to read"), "{e}");
}

#[test]
fn ragflow_config_is_accepted() {
    // RAGFlow's form (web/src/pages/user-setting/data-source/constant/index.tsx), as stored.
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let config = json!({
        "project_owner": "gitlab-org", "project_name": "gitlab-runner",
        "gitlab_url": "https://gitlab.com", "include_mrs": true, "include_issues": true,
        "include_code_files": true, "credentials": {"gitlab_access_token": "glpat-abc"},
    });
    let built = registry.build("gitlab", config.clone()).unwrap();
    assert_eq!(built.to_string(), "gitlab:gitlab-org/gitlab-runner");
    let effective = registry.effective_config("gitlab", config).unwrap();
    assert_eq!(effective["include_code_files"], true);
    assert_eq!(effective["include_comments"], true);
}
