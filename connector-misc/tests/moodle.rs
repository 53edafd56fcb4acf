//! The Moodle connector against the wiremock Moodle of `moodle_common` (a fake of the REST
//! web service written from the Moodle source's function definitions; no real Moodle runs
//! here: it is a PHP application with a database).
#![cfg(feature = "moodle")]
#![allow(clippy::unwrap_used)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

mod clean_sync;
mod moodle_common;

use std::sync::Arc;

use clean_sync::clean_sync_at;
use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::LogCapture;
use connector_core::testkit::sync_at;
use connector_core::{Connector, ErrorKind, Registry};
use moodle_common::{
    Discussion, File, Kind, Module, MoodleApi, TOKEN, build, config, discussion_pages,
    functions_called, requests_to, standard, start, time,
};
use serde_json::json;

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn all_ids() -> Vec<String> {
    sorted(
        [
            "moodle_forum_40_90",
            "moodle_forum_40_91",
            "moodle_page_41",
            "moodle_label_42",
            "moodle_book_43",
            "moodle_resource_44",
            "moodle_url_45",
            "moodle_page_46",
            "moodle_assign_48",
            "moodle_assign_48_file:/rubric.txt",
            "moodle_page_60",
            "moodle_quiz_49",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
    )
}

#[tokio::test]
async fn courses_modules_and_discussions_become_documents() {
    let server = start(standard()).await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    // Hidden module, hidden section and hidden course are left out.
    assert_eq!(sorted(sink.ids()), all_ids());
    assert!(report.failures.is_empty(), "{:?}", report.failures);

    let page = sink.get("moodle_page_41").unwrap();
    assert_eq!(page.title, "Biology 101 / General / Syllabus");
    assert_eq!(page.updated_at, Some(time(2)));
    assert_eq!(page.parent_id.as_deref(), Some("moodle_course_12"));
    assert_eq!(
        page.link.as_ref().map(url::Url::as_str),
        Some(format!("{}/mod/page/view.php?id=41", server.uri()).as_str())
    );
    let access = page.access.clone().unwrap();
    assert!(!access.public);
    assert_eq!(access.groups, ["moodle:course:12"]);
    assert_eq!(access.emails, ["ann@example.edu", "prof@example.edu"]);
    insta::assert_snapshot!("moodle_page", page.content.as_text().unwrap());

    // The book's chapters together, in order, read from their index.html files.
    let book = sink.get("moodle_book_43").unwrap();
    let text = book.content.as_text().unwrap();
    let (m, o) = (
        text.find("Membranes").unwrap(),
        text.find("Organelles").unwrap(),
    );
    assert!(m < o && text.contains("Lipid bilayers.") && text.contains("Mitochondria."));
    assert_eq!(book.title, "Biology 101 / Week 1 / Cell handbook");

    let slides = sink.get("moodle_resource_44").unwrap();
    assert_eq!(slides.content.as_bytes(), b"%PDF-1.4 slides");
    assert_eq!(slides.content.mime(), Some("application/pdf"));
    assert_eq!(slides.updated_at, Some(time(7)));
    // The file's URL is kept without any token.
    let file_url = slides.metadata["file_url"].as_str().unwrap();
    assert!(file_url.contains("/webservice/pluginfile.php/") && !file_url.contains("token"));

    let url = sink.get("moodle_url_45").unwrap();
    assert!(
        url.content
            .as_text()
            .unwrap()
            .contains("https://www.khanacademy.org/science/biology")
    );

    let assign = sink.get("moodle_assign_48").unwrap();
    assert!(assign.content.as_text().unwrap().contains("rubric.txt"));
    let rubric = sink.get("moodle_assign_48_file:/rubric.txt").unwrap();
    assert_eq!(rubric.content.as_bytes(), b"Rubric: clarity.");
    assert_eq!(rubric.parent_id.as_deref(), Some("moodle_assign_48"));

    // A module with access restrictions: readable by nobody here (fail closed).
    let restricted = sink.get("moodle_page_46").unwrap().access.unwrap();
    assert!(!restricted.public && restricted.groups.is_empty() && restricted.emails.is_empty());

    // A discussion: every post, oldest first, the private reply left out.
    let welcome = sink.get("moodle_forum_40_90").unwrap();
    assert_eq!(
        welcome.title,
        "Biology 101 / General / Announcements / Welcome"
    );
    assert_eq!(welcome.updated_at, Some(time(9)));
    let text = welcome.content.as_text().unwrap();
    assert!(text.find("Welcome to").unwrap() < text.find("Thanks!").unwrap());
    assert!(!text.contains("Private question"), "{text}");
    assert_eq!(
        welcome.link.as_ref().map(url::Url::as_str),
        Some(format!("{}/mod/forum/discuss.php?d=90", server.uri()).as_str())
    );
    insta::assert_snapshot!("moodle_discussion", text);
    // A discussion of a group goes to the group and its members.
    let group = sink.get("moodle_forum_40_91").unwrap().access.unwrap();
    assert_eq!(group.groups, ["moodle:group:7"]);
    assert_eq!(group.emails, ["ann@example.edu"]);

    let chem = sink.get("moodle_page_60").unwrap();
    assert_eq!(chem.access.unwrap().groups, ["moodle:course:15"]);
}

#[tokio::test]
async fn the_token_is_never_in_a_logged_url_a_document_or_a_checkpoint() {
    let (logs, _guard) = LogCapture::start();
    let server = start(standard()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (sink, _) = sync_at(&c, &store, SyncMode::Full, time(30)).await;
    for r in server.received_requests().await.unwrap() {
        if r.url.path() == "/webservice/rest/server.php" {
            // Web service calls: the token in the POST body only.
            assert_eq!(r.method.as_str(), "POST");
            assert!(r.url.query().is_none(), "{}", r.url);
            assert!(String::from_utf8_lossy(&r.body).contains(&format!("wstoken={TOKEN}")));
        } else {
            // File downloads: the token as the request's own parameter.
            assert!(r.url.path().starts_with("/webservice/pluginfile.php/"));
        }
    }
    let docs = serde_json::to_string(&sink.documents()).unwrap();
    assert!(!docs.contains(TOKEN));
    let state = format!("{store:?}");
    assert!(!state.contains(TOKEN));
    assert!(!logs.contents().contains(TOKEN));
    assert!(!format!("{c} {c:?}").contains(TOKEN));
}

#[tokio::test]
async fn an_incremental_run_catches_a_new_post_in_an_old_discussion() {
    let api = standard();
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(30)).await;
    // A reply at minute 40 to the discussion started at minute 2. The forum module's own
    // time does not move (Moodle moves the discussion's `timemodified`).
    {
        let mut state = api.state.lock().unwrap();
        let forum = &mut state.courses[0].sections[0].modules[0];
        let Kind::Forum { discussions } = &mut forum.kind else {
            panic!()
        };
        discussions[0].posts.push(moodle_common::Post {
            id: 904,
            author: "Ben Student".into(),
            subject: "Re: Welcome".into(),
            message: "<p>When is the first lab?</p>".into(),
            minute: 40,
            parent: 901,
            private: false,
        });
    }
    let before = requests_to(&server, "/").await.len();
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    assert_eq!(sink.ids(), ["moodle_forum_40_90"], "{report:?}");
    let doc = sink.get("moodle_forum_40_90").unwrap();
    assert!(
        doc.content
            .as_text()
            .unwrap()
            .contains("When is the first lab?")
    );
    assert_eq!(doc.updated_at, Some(time(40)));
    // Nothing else was downloaded: no file request in the incremental run.
    let after: Vec<_> = requests_to(&server, "/webservice/pluginfile.php").await;
    let files_before = 4; // slides, rubric and two chapters, in the full run
    assert_eq!(
        after.len(),
        files_before,
        "{}",
        requests_to(&server, "/").await.len() - before
    );
}

#[tokio::test]
async fn an_edited_page_is_read_again_and_nothing_else() {
    let api = standard();
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(30)).await;
    {
        let mut state = api.state.lock().unwrap();
        let m = &mut state.courses[1].sections[0].modules[0];
        m.minute = 41;
        m.kind = Kind::Page {
            content: "<p>H He Li Be</p>".into(),
        };
    }
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    assert_eq!(sink.ids(), ["moodle_page_60"]);
    assert!(
        sink.get("moodle_page_60")
            .unwrap()
            .content
            .as_text()
            .unwrap()
            .contains("Be")
    );
}

#[tokio::test]
async fn an_unchanged_full_run_downloads_nothing_and_asks_for_no_posts() {
    let server = start(standard()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(30)).await;
    let files = requests_to(&server, "/webservice/pluginfile.php")
        .await
        .len();
    let posts = functions_called(&server)
        .await
        .iter()
        .filter(|f| *f == "mod_forum_get_discussion_posts")
        .count();
    let (sink, report) = sync_at(&c, &store, SyncMode::Reconcile, time(31)).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    assert_eq!(report.unchanged, all_ids().len() as u64, "{report:?}");
    assert_eq!(
        requests_to(&server, "/webservice/pluginfile.php")
            .await
            .len(),
        files
    );
    assert_eq!(
        functions_called(&server)
            .await
            .iter()
            .filter(|f| *f == "mod_forum_get_discussion_posts")
            .count(),
        posts
    );
}

#[tokio::test]
async fn forum_discussions_are_paged_and_polls_read_posts_of_changed_ones_only() {
    let api = standard();
    {
        let mut state = api.state.lock().unwrap();
        let forum = &mut state.courses[1].sections[0].modules;
        let discussions: Vec<Discussion> = (0..120)
            .map(|i| Discussion {
                id: 2000 + i,
                name: format!("Question {i}"),
                group: -1,
                pinned: i == 0,
                malformed: false,
                starred: false,
                timestart: 0,
                timeend: 0,
                posts: vec![moodle_common::Post {
                    id: 20_000 + i,
                    author: "Someone".into(),
                    subject: format!("Question {i}"),
                    message: format!("<p>Body {i}</p>"),
                    minute: u32::try_from(i).unwrap() % 20,
                    parent: 0,
                    private: false,
                }],
            })
            .collect();
        forum.push(Module::new(61, "Q&A", 1, Kind::Forum { discussions }));
    }
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"course_ids": "15"}));
    let store = MemoryStateStore::new();
    let (sink, _) = sync_at(&c, &store, SyncMode::Full, time(30)).await;
    assert_eq!(sink.ids().len(), 121);
    let pages = discussion_pages(&server, 50).await;
    assert_eq!(pages, 3, "120 discussions in pages of 50");
    let posts = |called: Vec<String>| {
        called
            .iter()
            .filter(|f| *f == "mod_forum_get_discussion_posts")
            .count()
    };
    let posts_before = posts(functions_called(&server).await);
    // A new post in one discussion: the poll lists the pages (a reply deleted deeper down
    // moves no time, only the reply count) and reads that discussion's posts alone.
    {
        let mut state = api.state.lock().unwrap();
        let Kind::Forum { discussions } = &mut state.courses[1].sections[0].modules[1].kind else {
            panic!()
        };
        discussions[77].posts[0].minute = 50;
    }
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(55)).await;
    assert_eq!(sink.ids(), ["moodle_forum_61_2077"]);
    assert_eq!(discussion_pages(&server, 50).await - pages, 3);
    assert_eq!(posts(functions_called(&server).await) - posts_before, 1);
}

#[tokio::test]
async fn a_bad_token_fails_fast_naming_the_field() {
    let server = start(standard()).await;
    let mut cfg = config(&server.uri(), json!({}));
    cfg["credentials"]["moodle_token"] = json!("wrong");
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let c: Arc<dyn Connector> = registry.build("moodle", cfg).unwrap();
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err}");
    assert_eq!(err.field(), Some("credentials.moodle_token"));
    assert!(err.to_string().contains("invalidtoken"), "{err}");
    let err = Syncer::new(c)
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert_eq!(
        requests_to(&server, "/").await.len(),
        2,
        "no retry of invalidtoken"
    );
}

#[tokio::test]
async fn a_function_the_service_does_not_allow_is_named() {
    let api = standard();
    api.state
        .lock()
        .unwrap()
        .refused
        .insert("core_course_get_contents".into());
    let server = start(api).await;
    let c = build(&server.uri(), json!({}));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(
        err.to_string().contains("core_course_get_contents"),
        "{err}"
    );

    // An optional function refused: the modules it reads are failures naming it.
    let api = standard();
    api.state
        .lock()
        .unwrap()
        .refused
        .insert("mod_book_get_books_by_courses".into());
    let server = start(api).await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert!(!sink.ids().contains(&"moodle_book_43".to_owned()));
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].id.as_deref(), Some("moodle_book_43"));
    assert!(
        report.failures[0]
            .message
            .contains("mod_book_get_books_by_courses")
    );
}

#[tokio::test]
async fn a_course_that_refuses_access_is_a_failure_and_the_sync_goes_on() {
    let api = standard();
    api.state.lock().unwrap().courses[0].locked = true;
    let server = start(api).await;
    let c = build(&server.uri(), json!({}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(sink.ids(), ["moodle_page_60"]);
    assert_eq!(report.failures.len(), 1);
    assert!(
        report.failures[0].message.contains("requireloginerror"),
        "{:?}",
        report.failures
    );
}

#[tokio::test]
async fn participants_that_cannot_be_read_leave_the_course_group_alone() {
    let api = standard();
    api.state.lock().unwrap().users_hidden = true;
    let server = start(api).await;
    let c = build(&server.uri(), json!({}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let access = sink.get("moodle_page_41").unwrap().access.unwrap();
    assert_eq!(access.groups, ["moodle:course:12"]);
    assert!(access.emails.is_empty());
}

#[tokio::test]
async fn files_over_the_cap_or_off_the_site_are_failures_never_read() {
    let api = standard();
    {
        let mut state = api.state.lock().unwrap();
        let week = &mut state.courses[0].sections[1].modules;
        let mut big = File::new("huge.pdf", b"%PDF big", 7);
        big.size = Some(50_000_000);
        week.push(Module::new(
            51,
            "Huge",
            7,
            Kind::Resource { files: vec![big] },
        ));
        let mut far = File::new("far.pdf", b"%PDF far", 7);
        far.elsewhere = true;
        week.push(Module::new(
            52,
            "Far",
            7,
            Kind::Resource { files: vec![far] },
        ));
    }
    let server = start(api).await;
    let c = build(&server.uri(), json!({"max_file_size": 1_000_000}));
    let (_, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let mut failed: Vec<_> = report
        .failures
        .iter()
        .map(|f| f.id.clone().unwrap())
        .collect();
    failed.sort();
    assert_eq!(failed, ["moodle_resource_51", "moodle_resource_52"]);
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.message.contains("max_file_size"))
    );
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.message.contains("not on the Moodle site"))
    );
    assert!(
        requests_to(&server, "/webservice/pluginfile.php/551")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn course_ids_limit_the_run_and_an_unknown_one_is_named() {
    let server = start(standard()).await;
    let c = build(&server.uri(), json!({"course_ids": [15]}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(sink.ids(), ["moodle_page_60"]);
    let c = build(&server.uri(), json!({"course_ids": "15, 99"}));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.field(), Some("course_ids"));
}

#[tokio::test]
async fn a_wrong_site_url_is_not_found() {
    let server = start(MoodleApi::new(Vec::new())).await;
    let c = build(&format!("{}/not-moodle", server.uri()), json!({}));
    let err = c.check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

#[test]
fn config_problems_are_named() {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    let err = registry
        .build(
            "moodle",
            json!({"moodle_url": "moodle.example.edu", "course_ids": "x, 0", "credentials": {"moodle_token": "t"}}),
        )
        .unwrap_err();
    let fields: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(fields, ["moodle_url", "course_ids", "course_ids"]);
    let err = registry
        .build(
            "moodle",
            json!({"moodle_url": "https://moodle.example.edu", "credentials": {"moodle_token": " "}}),
        )
        .unwrap_err();
    assert_eq!(err.field(), Some("credentials.moodle_token"), "{err}");
    let schema = registry.schema("moodle").unwrap().to_string();
    assert!(schema.contains("moodle_url") && schema.contains("moodle_token"));
    // A login in the site's URL is refused, as the crate's other site URLs refuse one: it
    // would be in the shared rate limit's key, which a worker logs (review68 L4).
    for url in [
        "https://sync:pa55@moodle.example.edu/",
        "https://sync@moodle.example.edu/",
    ] {
        let err = registry
            .build(
                "moodle",
                json!({"moodle_url": url, "credentials": {"moodle_token": "t"}}),
            )
            .unwrap_err();
        assert_eq!(err.field(), Some("moodle_url"), "{err}");
        assert!(!err.to_string().contains("pa55"), "{err}");
    }
}

#[tokio::test]
async fn participants_are_paged() {
    let api = standard();
    api.state.lock().unwrap().courses[1].emails =
        (0..501).map(|i| format!("s{i}@example.edu")).collect();
    let server = start(api).await;
    let c = build(&server.uri(), json!({"course_ids": "15"}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let access = sink.get("moodle_page_60").unwrap().access.unwrap();
    assert_eq!(access.emails.len(), 501);
    let calls = functions_called(&server).await;
    assert_eq!(
        calls
            .iter()
            .filter(|f| *f == "core_enrol_get_enrolled_users")
            .count(),
        2
    );
}

#[tokio::test]
async fn a_file_gone_since_the_listing_is_a_failure_of_its_item() {
    let api = standard();
    {
        let mut state = api.state.lock().unwrap();
        let mut gone = File::new("gone.pdf", b"", 7);
        gone.path = "/missing/".into();
        state.courses[1].sections[0].modules.push(Module::new(
            62,
            "Gone",
            7,
            Kind::Resource { files: vec![gone] },
        ));
    }
    // The fake serves files from the listing; drop the body after the listing is taken by
    // answering 404 for its path.
    let server = start(api).await;
    wiremock::Mock::given(wiremock::matchers::path_regex("/missing/gone\\.pdf$"))
        .respond_with(
            wiremock::ResponseTemplate::new(404)
                .set_body_string("Sorry, the requested file could not be found"),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    let c = build(&server.uri(), json!({"course_ids": "15"}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(sink.ids(), ["moodle_page_60"]);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].id.as_deref(), Some("moodle_resource_62"));
    assert_eq!(report.failures[0].kind, ErrorKind::NotFound);
    assert!(!report.failures[0].message.contains(TOKEN));
}

#[tokio::test]
async fn deleted_discussions_and_hidden_modules_are_pruned() {
    let api = standard();
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(30)).await;
    let files = requests_to(&server, "/webservice/pluginfile.php")
        .await
        .len();
    {
        let mut state = api.state.lock().unwrap();
        let Kind::Forum { discussions } = &mut state.courses[0].sections[0].modules[0].kind else {
            panic!()
        };
        discussions.remove(1);
        state.courses[0].sections[1].modules[1].visible = false;
    }
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
    assert_eq!(deleted, ["moodle_forum_40_91", "moodle_resource_44"]);
    // Listing ids downloads nothing and reads no post.
    assert_eq!(
        requests_to(&server, "/webservice/pluginfile.php")
            .await
            .len(),
        files
    );
}

#[tokio::test]
async fn a_restricted_section_gives_its_modules_to_nobody_even_for_an_admin_token() {
    // Moodle sends sections no `availability`; an admin's `uservisible` stays true, and the
    // restrictions only show as `availabilityinfo`. The page's own `availability` is null.
    let api = standard();
    api.state.lock().unwrap().courses[1]
        .sections
        .push(moodle_common::Section {
            name: "Group A only".into(),
            visible: true,
            restriction: Some(
                "Not available unless: You belong to <strong>Group A</strong>".into(),
            ),
            modules: vec![Module::new(
                61,
                "Group A notes",
                3,
                Kind::Page {
                    content: "<p>For group A.</p>".into(),
                },
            )],
        });
    let server = start(api).await;
    let c = build(&server.uri(), json!({}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let access = sink.get("moodle_page_61").unwrap().access.unwrap();
    assert!(!access.public && access.groups.is_empty() && access.emails.is_empty());
    // The course's other page still goes to the course.
    let open = sink.get("moodle_page_60").unwrap().access.unwrap();
    assert_eq!(open.groups, ["moodle:course:15"]);
}

fn discussion(id: i64, minute: u32) -> Discussion {
    Discussion {
        id,
        name: format!("Topic {id}"),
        group: -1,
        pinned: false,
        malformed: false,
        starred: false,
        timestart: 0,
        timeend: 0,
        posts: vec![moodle_common::Post {
            id: id * 10,
            author: "Prof Oak".into(),
            subject: format!("Topic {id}"),
            message: format!("<p>Body {id}</p>"),
            minute,
            parent: 0,
            private: false,
        }],
    }
}

#[tokio::test]
async fn timed_discussions_outside_their_display_period_are_for_nobody() {
    // An admin token lists timed discussions students do not see yet (or any more).
    let api = standard();
    {
        let mut later = discussion(3001, 5);
        later.timestart = 4_102_444_800; // 2100-01-01
        let mut over = discussion(3002, 5);
        over.timeend = moodle_common::secs(20);
        let now = discussion(3003, 5);
        api.state.lock().unwrap().courses[1].sections[0]
            .modules
            .push(Module::new(
                62,
                "Exams",
                1,
                Kind::Forum {
                    discussions: vec![later, over, now],
                },
            ));
    }
    let server = start(api).await;
    let c = build(&server.uri(), json!({"course_ids": "15"}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    for id in ["moodle_forum_62_3001", "moodle_forum_62_3002"] {
        let access = sink.get(id).unwrap().access.unwrap();
        assert!(access.groups.is_empty() && access.emails.is_empty(), "{id}");
    }
    let open = sink.get("moodle_forum_62_3003").unwrap().access.unwrap();
    assert_eq!(open.groups, ["moodle:course:15"]);
}

#[tokio::test]
async fn a_starred_old_discussion_does_not_stop_a_poll_early() {
    // Moodle lists the token user's starred discussions right after the pinned ones.
    let api = standard();
    {
        let mut ds: Vec<Discussion> = (0..60).map(|i| discussion(4000 + i, 2)).collect();
        ds[0].starred = true;
        api.state.lock().unwrap().courses[1].sections[0]
            .modules
            .push(Module::new(63, "Help", 1, Kind::Forum { discussions: ds }));
    }
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"course_ids": "15"}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(30)).await;
    {
        let mut state = api.state.lock().unwrap();
        let Kind::Forum { discussions } = &mut state.courses[1].sections[0].modules[1].kind else {
            panic!()
        };
        // 55 discussions get a new post: 49 fill the first page behind the starred one,
        // 6 are on the second.
        for d in discussions.iter_mut().skip(1).take(55) {
            d.posts[0].minute = 50;
        }
    }
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(55)).await;
    assert_eq!(sink.ids().len(), 55, "{report:?}");
}

#[tokio::test]
async fn a_qanda_forum_gives_the_course_its_questions_without_the_replies() {
    // In a Q&A forum a student sees the others' replies only after posting one.
    let api = standard();
    {
        let mut d = discussion(5001, 5);
        d.posts.push(moodle_common::Post {
            id: 50_011,
            author: "Ann Student".into(),
            subject: "Re: Topic 5001".into(),
            message: "<p>My graded answer.</p>".into(),
            minute: 6,
            parent: 50_010,
            private: false,
        });
        let mut qanda = Module::new(
            64,
            "Questions",
            1,
            Kind::Forum {
                discussions: vec![d],
            },
        );
        qanda.forum_type = "qanda";
        api.state.lock().unwrap().courses[1].sections[0]
            .modules
            .push(qanda);
    }
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"course_ids": "15"}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let doc = sink.get("moodle_forum_64_5001").unwrap();
    let text = doc.content.as_text().unwrap();
    assert!(text.contains("Body 5001"), "{text}");
    assert!(!text.contains("My graded answer"), "{text}");
    assert_eq!(doc.metadata["qanda"], json!(true));

    // A forum of a general type keeps its replies; one whose type cannot be read (the
    // service does not allow mod_forum_get_forums_by_courses) is read as Q&A.
    let bio = sink.ids();
    assert!(!bio.iter().any(|id| id.starts_with("moodle_forum_40_")));
    let server = start(standard()).await;
    let c = build(&server.uri(), json!({"course_ids": "12"}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let text = sink
        .get("moodle_forum_40_90")
        .unwrap()
        .content
        .as_text()
        .unwrap()
        .to_owned();
    assert!(text.contains("Thanks!"), "{text}");
    let api = standard();
    api.state
        .lock()
        .unwrap()
        .refused
        .insert("mod_forum_get_forums_by_courses".into());
    let server = start(api).await;
    let c = build(&server.uri(), json!({"course_ids": "12"}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let text = sink
        .get("moodle_forum_40_90")
        .unwrap()
        .content
        .as_text()
        .unwrap()
        .to_owned();
    assert!(
        text.contains("Welcome to") && !text.contains("Thanks!"),
        "{text}"
    );
}

#[tokio::test]
async fn a_books_hidden_chapters_are_left_out() {
    // A teacher's or an admin's token is sent hidden chapters; students do not see them.
    let api = standard();
    api.state.lock().unwrap().courses[1].sections[0]
        .modules
        .push(Module::new(
            65,
            "Lab manual",
            3,
            Kind::Book {
                chapters: vec![
                    (7, "Safety".into(), "<p>Goggles on.</p>".into()),
                    (8, "(hidden) Answers".into(), "<p>The answers.</p>".into()),
                ],
            },
        ));
    let server = start(api).await;
    let c = build(&server.uri(), json!({"course_ids": "15"}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let doc = sink.get("moodle_book_65").unwrap();
    let text = doc.content.as_text().unwrap();
    assert!(text.contains("Goggles on."), "{text}");
    assert!(
        !text.contains("The answers") && !text.contains("Answers"),
        "{text}"
    );
    assert_eq!(doc.metadata["chapters"], json!(1));
    // The hidden chapter's file was never downloaded.
    assert!(
        requests_to(&server, "/webservice/pluginfile.php")
            .await
            .iter()
            .all(|r| !r.url.path().contains("/mod_book/chapter/8/"))
    );
}

#[tokio::test]
async fn files_over_spool_above_are_spooled_to_disk_and_the_rest_held_in_memory() {
    use futures::StreamExt;
    use std::io::Read;
    let server = start(standard()).await;
    // slides.pdf is 15 bytes, rubric.txt 16: both above 12; book chapters list no size.
    let c = build(
        &server.uri(),
        json!({"course_ids": "12", "spool_above": 12}),
    );
    let spool = tempfile::tempdir().unwrap();
    let ctx = connector_core::SyncContext::new()
        .with_spool(connector_core::spool::Spool::in_dir(spool.path()));
    let cp = c.roles().as_checkpointed().unwrap();
    let from = cp.initial_checkpoint_json().unwrap();
    let docs: Vec<connector_core::Document> = cp
        .load_from_checkpoint_json(from, None, ctx)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flat_map(|b| b.unwrap().batch.documents)
        .collect();
    let slides = docs.iter().find(|d| d.id == "moodle_resource_44").unwrap();
    let connector_core::Content::Spooled { body, mime, .. } = &slides.content else {
        panic!("not spooled: {:?}", slides.content);
    };
    assert_eq!(mime, "application/pdf");
    assert!(body.path().starts_with(spool.path()));
    let mut bytes = Vec::new();
    body.open_blocking()
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    assert_eq!(bytes, b"%PDF-1.4 slides");
    assert_eq!(slides.size_bytes, 15);
    // The book's chapters are read into memory as text.
    let book = docs.iter().find(|d| d.id == "moodle_book_43").unwrap();
    assert!(book.content.as_text().unwrap().contains("Lipid bilayers."));
}

#[tokio::test]
async fn a_quiz_is_its_intro_and_dates_and_without_the_function_its_course_page_intro() {
    let api = standard();
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"course_ids": "12"}));
    let sink = clean_sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let quiz = sink.get("moodle_quiz_49").unwrap();
    assert_eq!(quiz.title, "Biology 101 / Week 1 / Quiz 1");
    assert_eq!(quiz.updated_at, Some(time(3)));
    let text = quiz.content.as_text().unwrap();
    assert!(text.contains("About Quiz 1."), "{text}");
    assert!(text.contains("- Opens: 2025-03-01 10:59 UTC"), "{text}");
    assert!(text.contains("- Time limit: 30 min"), "{text}");
    assert!(text.contains("- Attempts allowed: 2"), "{text}");
    assert!(!text.contains("Closes"), "no closing date: {text}");
    assert_eq!(quiz.access.as_ref().unwrap().groups, ["moodle:course:12"]);

    // A service without `mod_quiz_get_quizzes_by_courses`: the intro the course page shows
    // (`description`), no failure.
    api.state
        .lock()
        .unwrap()
        .refused
        .insert("mod_quiz_get_quizzes_by_courses".into());
    let sink = clean_sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let quiz = sink.get("moodle_quiz_49").unwrap();
    let text = quiz.content.as_text().unwrap();
    assert!(
        text.contains("About Quiz 1.") && !text.contains("Opens"),
        "{text}"
    );
    assert_eq!(quiz.updated_at, None);
}

#[tokio::test]
async fn changes_of_who_may_read_that_move_no_time_are_sent_by_the_next_incremental_run() {
    let api = standard();
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    sync_at(&c, &store, SyncMode::Full, time(30)).await;
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(35)).await;
    assert!(sink.ids().is_empty(), "nothing changed: {:?}", sink.ids());
    {
        let mut state = api.state.lock().unwrap();
        // Ann is unenrolled from Chemistry's neighbour, Biology: no item's time moves.
        state.courses[0].emails.retain(|e| e != "ann@example.edu");
        // Chemistry's page gets a restriction (its time does not move either).
        state.courses[1].sections[0].modules[0].availability =
            Some(r#"{"op":"&","c":[{"type":"group","id":7}],"showc":[true]}"#.into());
    }
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(40)).await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    // Every item of both courses is sent again with its new readers.
    // (The restricted page, readable by nobody, did not change; Ann leaves the lab group's
    // discussion too.)
    let mut expect = all_ids();
    expect.retain(|id| id != "moodle_page_46");
    assert_eq!(sorted(sink.ids()), expect, "{report:?}");
    let syllabus = sink.get("moodle_page_41").unwrap().access.unwrap();
    assert_eq!(syllabus.emails, ["prof@example.edu"]);
    let welcome = sink.get("moodle_forum_40_90").unwrap().access.unwrap();
    assert_eq!(welcome.emails, ["prof@example.edu"]);
    let chem = sink.get("moodle_page_60").unwrap().access.unwrap();
    assert!(chem.groups.is_empty() && chem.emails.is_empty(), "{chem:?}");
    let lab = sink.get("moodle_forum_40_91").unwrap().access.unwrap();
    assert_eq!(lab.groups, ["moodle:group:7"]);
    assert!(lab.emails.is_empty(), "{lab:?}");
    // A label's text moves no time either: its edit is found by its version.
    {
        let mut state = api.state.lock().unwrap();
        state.courses[0].sections[0].modules[2].intro = "<p>Welcome, all.</p>".into();
    }
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    assert_eq!(sink.ids(), ["moodle_label_42"]);
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(50)).await;
    assert!(sink.ids().is_empty(), "sent once: {:?}", sink.ids());
}

#[tokio::test]
async fn items_are_fetched_again_by_id_as_a_run_gives_them() {
    let api = standard();
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let (sink, _) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    let refetch = c.as_refetch().expect("moodle fetches by id");
    let asked = vec![
        "moodle_page_60".to_owned(),
        "moodle_forum_40_91".to_owned(),
        "moodle_assign_48_file:/rubric.txt".to_owned(),
        "moodle_quiz_49".to_owned(),
        // A module that does not exist, and an id of no module.
        "moodle_page_999".to_owned(),
        "no-such-item".to_owned(),
    ];
    let before = requests_to(&server, "/webservice/pluginfile.php")
        .await
        .len();
    let mut got = Vec::new();
    let mut pages = refetch.fetch(asked, connector_core::SyncContext::new());
    while let Some(page) = futures::StreamExt::next(&mut pages).await {
        let page = page.unwrap();
        assert!(page.failures.is_empty(), "{:?}", page.failures);
        got.extend(page.documents);
    }
    let mut ids: Vec<String> = got.iter().map(|d| d.id.clone()).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "moodle_assign_48_file:/rubric.txt",
            "moodle_forum_40_91",
            "moodle_page_60",
            "moodle_quiz_49"
        ]
    );
    for doc in &got {
        let loaded = sink.get(&doc.id).unwrap();
        assert_eq!(doc.fingerprint, loaded.fingerprint, "{}", doc.id);
        assert_eq!(doc.access, loaded.access, "{}", doc.id);
    }
    // One file downloaded (the rubric), not the course's others.
    assert_eq!(
        requests_to(&server, "/webservice/pluginfile.php")
            .await
            .len()
            - before,
        1
    );
    let called = functions_called(&server).await;
    assert!(called.contains(&"core_course_get_course_module".to_owned()));
    // The posts of the discussion asked, not of the other one.
    let posts = called
        .iter()
        .filter(|f| *f == "mod_forum_get_discussion_posts")
        .count();
    assert_eq!(
        posts,
        2 + 1,
        "the full run read two discussions, the fetch one"
    );
}

#[tokio::test]
async fn check_names_moodle_url_when_the_site_calls_itself_otherwise() {
    let server = start(standard()).await;
    assert!(build(&server.uri(), json!({})).check().await.is_ok());
    // The same site through another name: its files would all be refused.
    let other = server.uri().replace("127.0.0.1", "localhost");
    let e = build(&other, json!({})).check().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(e.field(), Some("moodle_url"), "{e}");
    assert!(e.to_string().contains(&server.uri()), "{e}");
}

#[tokio::test]
async fn a_token_that_is_told_no_restrictions_fails_its_courses_unless_allowed() {
    // A student's token: Moodle tells no module its `availability`, so a restriction the
    // student meets would be invisible and its module would go to the whole course.
    let api = standard();
    api.state.lock().unwrap().student_token = true;
    let server = start(api).await;
    let c = build(&server.uri(), json!({"course_ids": "12"}));
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
    assert_eq!(report.failed, 1, "{report:?}");
    let failure = format!("{report:?}");
    assert!(failure.contains("allow_unseen_restrictions"), "{failure}");
    assert!(failure.contains("course 12"), "{failure}");
    // On a site with restrictions off, the owner says so and the course is read.
    let c = build(
        &server.uri(),
        json!({"course_ids": "12", "allow_unseen_restrictions": true}),
    );
    let (sink, report) = sync_at(&c, &MemoryStateStore::new(), SyncMode::Full, time(30)).await;
    assert_eq!(report.failed, 0, "{report:?}");
    assert!(sink.ids().contains(&"moodle_forum_40_90".to_owned()));
}

#[tokio::test]
async fn a_deleted_reply_that_moves_no_time_is_gone_after_the_next_poll() {
    let api = standard();
    let reply = |id: i64, text: &str, minute: u32| moodle_common::Post {
        id,
        author: "Ann Student".into(),
        subject: "Re: Welcome".into(),
        message: format!("<p>{text}</p>"),
        minute,
        parent: 901,
        private: false,
    };
    let forum = |api: &MoodleApi, edit: &dyn Fn(&mut Vec<moodle_common::Post>)| {
        let mut state = api.state.lock().unwrap();
        let Kind::Forum { discussions } = &mut state.courses[0].sections[0].modules[0].kind else {
            panic!()
        };
        edit(&mut discussions[0].posts);
    };
    forum(&api, &|posts| posts.push(reply(905, "A later answer.", 8)));
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({}));
    let store = MemoryStateStore::new();
    let (sink, _) = sync_at(&c, &store, SyncMode::Full, time(30)).await;
    let text = sink
        .get("moodle_forum_40_90")
        .unwrap()
        .content
        .as_text()
        .unwrap()
        .to_owned();
    assert!(text.contains("Thanks!") && text.contains("A later answer."));
    // Reply 902 (minute 4) is deleted: the discussion's last post is still minute 8, so its
    // `timemodified` stays; only `numreplies` drops.
    forum(&api, &|posts| posts.retain(|p| p.id != 902));
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    assert_eq!(sink.ids(), ["moodle_forum_40_90"], "{report:?}");
    let text = sink
        .get("moodle_forum_40_90")
        .unwrap()
        .content
        .as_text()
        .unwrap()
        .to_owned();
    assert!(!text.contains("Thanks!"), "{text}");
    assert!(text.contains("A later answer."));
    // Nothing changed since: nothing is sent.
    let (sink, _) = sync_at(&c, &store, SyncMode::Incremental, time(50)).await;
    assert!(sink.ids().is_empty(), "{:?}", sink.ids());
}

#[tokio::test]
async fn a_run_resumed_inside_a_forum_reads_the_page_before_so_a_shift_skips_nothing() {
    use futures::StreamExt;
    // 60 discussions, the newest first: page 0 holds minutes 59 to 10, page 1 minutes 9 to 0.
    let api = standard();
    {
        let mut state = api.state.lock().unwrap();
        let discussions: Vec<Discussion> = (0..60)
            .map(|i| discussion(3000 + i, u32::try_from(i).unwrap()))
            .collect();
        state.courses[1].sections[0].modules.push(Module::new(
            62,
            "Talk",
            1,
            Kind::Forum { discussions },
        ));
    }
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"course_ids": "15"}));
    // A run stopped after page 0 of that forum; then the newest discussion is deleted, so
    // every later one moves up a place: minute 9's now ends page 0.
    {
        let mut state = api.state.lock().unwrap();
        let forum = state.courses[1].sections[0].modules.last_mut().unwrap();
        let Kind::Forum { discussions } = &mut forum.kind else {
            panic!()
        };
        discussions.retain(|d| d.id != 3059);
    }
    let cp = c.roles().as_checkpointed().unwrap();
    let mut from = cp.initial_checkpoint_json().unwrap();
    from.state = json!({
        "started": true,
        "courses": [{"id": 15, "name": "Chemistry"}],
        "index": 0,
        "forums": [{"id": 1062, "cmid": 62, "name": "Talk"}],
        "forum": 0,
        "page": 1,
    });
    let docs: Vec<connector_core::Document> = cp
        .load_from_checkpoint_json(from, None, connector_core::SyncContext::new())
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flat_map(|b| b.unwrap().batch.documents)
        .collect();
    let ids: Vec<&str> = docs.iter().map(|d| d.id.as_str()).collect();
    for i in 0..=9 {
        let id = format!("moodle_forum_62_{}", 3000 + i);
        assert!(ids.contains(&id.as_str()), "{id} missing from {ids:?}");
    }
}

/// Course 15 with one more forum (cmid `cmid`) of `n` discussions `base + i`, the newest
/// first: discussion `base + i` posted at minute `i`.
fn with_forum(api: &MoodleApi, cmid: i64, base: i64, n: i64) {
    let mut state = api.state.lock().unwrap();
    let discussions: Vec<Discussion> = (0..n)
        .map(|i| discussion(base + i, u32::try_from(i).unwrap()))
        .collect();
    state.courses[1].sections[0].modules.push(Module::new(
        cmid,
        "Talk",
        1,
        Kind::Forum { discussions },
    ));
}

#[tokio::test]
async fn a_deleted_reply_below_the_first_page_is_gone_after_the_next_poll() {
    // 120 discussions: discussion 4005 (minute 5) is on the last page.
    let api = standard();
    with_forum(&api, 63, 4000, 120);
    let reply = moodle_common::Post {
        id: 49_999,
        author: "Ann Student".into(),
        subject: "Re: Topic 4005".into(),
        message: "<p>A reply to be deleted.</p>".into(),
        minute: 2,
        parent: 40_050,
        private: false,
    };
    let edit = |api: &MoodleApi, f: &dyn Fn(&mut Discussion)| {
        let mut state = api.state.lock().unwrap();
        let Kind::Forum { discussions } = &mut state.courses[1].sections[0]
            .modules
            .last_mut()
            .unwrap()
            .kind
        else {
            panic!()
        };
        f(discussions.iter_mut().find(|d| d.id == 4005).unwrap());
    };
    edit(&api, &|d| d.posts.push(reply.clone()));
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"course_ids": "15"}));
    let store = MemoryStateStore::new();
    let (sink, _) = sync_at(&c, &store, SyncMode::Full, time(30)).await;
    let text = |sink: &MemorySink| {
        sink.get("moodle_forum_63_4005")
            .unwrap()
            .content
            .as_text()
            .unwrap()
            .to_owned()
    };
    assert!(text(&sink).contains("A reply to be deleted."));
    // The reply goes; the discussion's last post (minute 5) is unchanged, so is its time.
    edit(&api, &|d| d.posts.retain(|p| p.id != 49_999));
    let (sink, report) = sync_at(&c, &store, SyncMode::Incremental, time(45)).await;
    assert_eq!(sink.ids(), ["moodle_forum_63_4005"], "{report:?}");
    assert!(!text(&sink).contains("A reply to be deleted."));
    assert!(text(&sink).contains("Body 4005"));
}

#[tokio::test]
async fn a_discussion_deleted_while_a_run_pages_shifts_none_past_the_boundary() {
    // 60 discussions, the newest first: page 0 holds minutes 59 to 10, page 1 minutes 9 to 0.
    let api = standard();
    with_forum(&api, 62, 3000, 60);
    // Once read, the newest is deleted: minute 9's moves up to end page 0.
    api.state.lock().unwrap().delete_after_read = Some(3059);
    let server = start(api.clone()).await;
    let c = build(&server.uri(), json!({"course_ids": "15"}));
    let store = MemoryStateStore::new();
    let sink = clean_sync_at(&c, &store, SyncMode::Full, time(70)).await;
    let ids = sink.ids();
    for i in 0..60 {
        let id = format!("moodle_forum_62_{}", 3000 + i);
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    // Page 0 twice (the boundary moved), page 1 once; one boundary check.
    assert_eq!(discussion_pages(&server, 50).await, 3);
    assert_eq!(discussion_pages(&server, 1).await, 1);
}
