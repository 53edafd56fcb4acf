//! The WebDAV connector against wiremock: multistatus bodies as servers send them (RFC 4918's
//! examples, Nextcloud-style absolute paths, absolute URLs, and bodies recorded from rclone and
//! wsgidav in `fixtures/webdav/`), and the HTTP layer's checks (429 with `Retry-After`, 401,
//! 403, 5xx storms, secrets).
#![cfg(feature = "webdav")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::num::NonZeroU64;
use std::sync::Arc;

use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, Syncer};
use connector_core::testkit::http as kit;
use connector_core::{Connector, ErrorKind, SyncContext};
use connector_misc::webdav::{WebdavConfig, WebdavConnector};
use futures::StreamExt;
use url::Url;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "app-password-7f3a9c";
const ROOT: &str = "/remote.php/dav/files/alice/";

fn multistatus(responses: &str) -> ResponseTemplate {
    ResponseTemplate::new(207)
        .insert_header("Content-Type", "application/xml; charset=utf-8")
        .set_body_string(format!(
            r#"<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">{responses}</d:multistatus>"#
        ))
}

fn folder(href: &str) -> String {
    format!(
        "<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype>\
         <d:getlastmodified>Tue, 04 Mar 2025 10:00:00 GMT</d:getlastmodified><oc:size>42</oc:size></d:prop>\
         <d:status>HTTP/1.1 200 OK</d:status></d:propstat><d:propstat><d:prop><d:getcontentlength/><d:getcontenttype/>\
         </d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat></d:response>"
    )
}

fn file(href: &str, etag: &str, len: usize, modified: &str, content_type: &str) -> String {
    format!(
        "<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:resourcetype/>\
         <d:getetag>&quot;{etag}&quot;</d:getetag><d:getlastmodified>{modified}</d:getlastmodified>\
         <d:getcontentlength>{len}</d:getcontentlength><d:getcontenttype>{content_type}</d:getcontenttype>\
         </d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>"
    )
}

/// A Nextcloud-like server: the user's files under `/remote.php/dav/files/alice/`, the folder
/// `Handbook` with two files and a sub-folder `Team Notes` whose answer uses absolute URLs,
/// a lower-case percent-encoding and a self href without its trailing slash.
async fn nextcloud() -> MockServer {
    let server = MockServer::start().await;
    let uri = server.uri();
    let handbook = format!("{ROOT}Handbook/");
    Mock::given(method("PROPFIND"))
        .and(path(handbook.as_str()))
        .respond_with(multistatus(&format!(
            "{}{}{}{}",
            folder(&handbook),
            file(
                &format!("{handbook}Read%20Me.md"),
                "a1",
                7,
                "Mon, 03 Mar 2025 09:00:00 GMT",
                "text/markdown"
            ),
            folder(&format!("{handbook}Team%20Notes/")),
            file(
                &format!("{handbook}huge.pdf"),
                "h1",
                50_000_000,
                "Mon, 03 Mar 2025 09:00:00 GMT",
                "application/pdf"
            ),
        )))
        .mount(&server)
        .await;
    let team = format!("{handbook}Team%20Notes/");
    Mock::given(method("PROPFIND"))
        .and(path(team.as_str()))
        .respond_with(multistatus(&format!(
            "{}{}{}",
            folder(&format!("{uri}{handbook}Team%20Notes")),
            file(
                &format!("{uri}{handbook}Team%20Notes/caf%c3%a9%20%26%20more.txt"),
                "b2",
                5,
                "Wed, 05 Mar 2025 12:00:00 GMT",
                "text/plain"
            ),
            file(
                &format!("{uri}{handbook}Team%20Notes/slides.pptx"),
                "c3",
                4,
                "Thu, 06 Mar 2025 12:00:00 GMT",
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            ),
        )))
        .mount(&server)
        .await;
    for (p, body) in [
        (format!("{handbook}Read%20Me.md"), "# Hello".as_bytes()),
        (
            format!("{handbook}Team%20Notes/caf%C3%A9%20&%20more.txt"),
            b"caf\xc3\xa9",
        ),
        (format!("{handbook}Team%20Notes/slides.pptx"), b"PK\x03\x04"),
    ] {
        Mock::given(method("GET"))
            .and(path(p.as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
            .mount(&server)
            .await;
    }
    server
}

fn config(uri: &str) -> WebdavConfig {
    let base = Url::parse(&format!("{uri}{ROOT}")).unwrap();
    let mut config = WebdavConfig::new(base, "Handbook", "alice", SECRET);
    config.allowed_hosts = vec!["127.0.0.1".into()];
    config
}

fn build(uri: &str) -> Arc<dyn Connector> {
    Arc::new(WebdavConnector::new(config(uri)).unwrap())
}

fn id(uri: &str, rel: &str) -> String {
    format!("webdav:{uri}{ROOT}:Handbook/{rel}")
}

async fn requests(server: &MockServer, verb: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.method.as_str() == verb)
        .collect()
}

#[tokio::test]
async fn absolute_paths_and_urls_as_nextcloud_sends_them() {
    let server = nextcloud().await;
    let uri = server.uri();
    let sink = MemorySink::new();
    let report = Syncer::new(build(&uri))
        .sink(sink.clone())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(
        sink.ids(),
        vec![
            id(&uri, "Read Me.md"),
            id(&uri, "Team Notes/caf\u{e9} & more.txt"),
            id(&uri, "Team Notes/slides.pptx"),
        ]
    );
    let doc = sink
        .get(&id(&uri, "Team Notes/caf\u{e9} & more.txt"))
        .unwrap();
    assert_eq!(doc.content.as_text(), Some("caf\u{e9}"));
    assert_eq!(doc.title, "caf\u{e9} & more.txt");
    assert_eq!(doc.size_bytes, 5);
    assert_eq!(doc.metadata["etag"], "\"b2\"");
    assert_eq!(
        doc.updated_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2025-03-05T12:00:00+00:00")
    );
    let pptx = sink.get(&id(&uri, "Team Notes/slides.pptx")).unwrap();
    assert!(matches!(
        &pptx.content,
        connector_core::Content::Bytes { extension: Some(e), .. } if e == "pptx"
    ));
    // The 50 MB PDF is refused by its listed length: a failure, and no GET.
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].id, Some(id(&uri, "huge.pdf")));
    assert!(report.failures[0].message.contains("max_file_size"));
    let gets = requests(&server, "GET").await;
    assert_eq!(gets.len(), 3);
    assert!(gets.iter().all(|r| !r.url.path().ends_with("huge.pdf")));
    // Every PROPFIND asked for one level and sent Basic auth.
    for r in requests(&server, "PROPFIND").await {
        assert_eq!(r.headers.get("depth").unwrap(), "1");
        assert!(r.headers.get("authorization").is_some());
    }
}

#[tokio::test]
async fn unchanged_files_cost_no_get() {
    let server = nextcloud().await;
    let uri = server.uri();
    let state = MemoryStateStore::new();
    let syncer = Syncer::new(build(&uri))
        .sink(MemorySink::new())
        .state(state.clone());
    syncer.run(SyncMode::Full).await.unwrap();
    let before = requests(&server, "GET").await.len();
    let report = syncer.run(SyncMode::Reconcile).await.unwrap();
    assert_eq!(report.unchanged, 3, "{report:?}");
    assert_eq!(requests(&server, "GET").await.len(), before);
}

#[tokio::test]
async fn size_cap_applies_to_bodies_without_a_listed_length() {
    let server = MockServer::start().await;
    let handbook = format!("{ROOT}Handbook/");
    Mock::given(method("PROPFIND"))
        .and(path(handbook.as_str()))
        .respond_with(multistatus(&format!(
            "{}<d:response><d:href>{handbook}a.md</d:href><d:propstat><d:prop><d:resourcetype/></d:prop>\
             <d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>",
            folder(&handbook)
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 4096]))
        .mount(&server)
        .await;
    let mut config = config(&server.uri());
    config.max_file_size = NonZeroU64::new(1024).unwrap();
    let report = Syncer::new(Arc::new(WebdavConnector::new(config).unwrap()))
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap();
    assert_eq!(report.delivered, 0);
    assert_eq!(report.failures.len(), 1);
    assert!(
        report.failures[0].message.contains("max_file_size"),
        "{:?}",
        report.failures
    );
}

/// The bodies rclone and wsgidav sent for `PROPFIND /dav/sub%20dir/` (see the file names): a
/// 404 propstat for what folders lack, quoted and unquoted ETags, `%C3%A9` names.
#[tokio::test]
async fn recorded_server_bodies() {
    for fixture in ["rclone-subdir.xml", "wsgidav-subdir.xml"] {
        let body = std::fs::read_to_string(format!(
            "{}/tests/fixtures/webdav/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let server = MockServer::start().await;
        Mock::given(method("PROPFIND"))
            .and(path("/dav/sub%20dir/"))
            .respond_with(ResponseTemplate::new(207).set_body_string(body))
            .mount(&server)
            .await;
        Mock::given(method("PROPFIND"))
            .and(path("/dav/sub%20dir/deep/"))
            .respond_with(multistatus(&folder("/dav/sub%20dir/deep/")))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/dav/sub%20dir/%C3%A9t%C3%A9.txt"))
            .respond_with(ResponseTemplate::new(200).set_body_string("x\n"))
            .mount(&server)
            .await;
        let base = Url::parse(&format!("{}/dav", server.uri())).unwrap();
        let mut config = WebdavConfig::new(base, "/sub dir/", "davuser", "davpass");
        config.allowed_hosts = vec!["127.0.0.1".into()];
        let sink = MemorySink::new();
        let report = Syncer::new(Arc::new(WebdavConnector::new(config).unwrap()))
            .sink(sink.clone())
            .run(SyncMode::Full)
            .await
            .unwrap();
        let want = format!("webdav:{}/dav:sub dir/\u{e9}t\u{e9}.txt", server.uri());
        assert_eq!(sink.ids(), vec![want.clone()], "{fixture}: {report:?}");
        let doc = sink.get(&want).unwrap();
        assert_eq!(doc.content.as_text(), Some("x\n"), "{fixture}");
        assert!(
            doc.metadata["etag"]
                .as_str()
                .unwrap()
                .contains("-1796387813-2")
                || fixture.starts_with("rclone")
        );
    }
}

#[tokio::test]
async fn a_failed_sub_folder_listing_fails_the_sync_and_prune() {
    let server = nextcloud().await;
    let uri = server.uri();
    // The sub-folder now answers 403 (a share revoked): no partial snapshot may come out.
    Mock::given(method("PROPFIND"))
        .and(path(format!("{ROOT}Handbook/Team%20Notes/").as_str()))
        .respond_with(ResponseTemplate::new(403))
        .with_priority(1)
        .mount(&server)
        .await;
    let connector = build(&uri);
    let err = Syncer::new(connector.clone())
        .sink(MemorySink::new())
        .run(SyncMode::Full)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let mut ids = connector.as_slim().unwrap().list_ids(SyncContext::new());
    let mut failed = false;
    while let Some(page) = ids.next().await {
        failed |= page.is_err();
    }
    assert!(failed, "list_ids must fail, not come back short");
}

#[tokio::test]
async fn not_multistatus_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("PROPFIND"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>login</html>"))
        .mount(&server)
        .await;
    let err = build(&server.uri()).check().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("207"), "{err}");
}

#[tokio::test]
async fn check_tells_401_403_and_404_apart() {
    let server = MockServer::start().await;
    for (status, kind) in [
        (401, ErrorKind::Unauthenticated),
        (403, ErrorKind::PermissionDenied),
        (404, ErrorKind::NotFound),
    ] {
        let _guard = Mock::given(method("PROPFIND"))
            .and(header("depth", "0"))
            .respond_with(ResponseTemplate::new(status))
            .mount_as_scoped(&server)
            .await;
        let err = build(&server.uri()).check().await.unwrap_err();
        assert_eq!(err.kind(), kind, "{status}: {err}");
        if status != 404 {
            assert_eq!(err.field(), Some("credentials.password"), "{status}: {err}");
        }
        assert!(!format!("{err:?}").contains(SECRET));
    }
}

#[tokio::test]
async fn retry_after_is_waited_out() {
    let server = nextcloud().await;
    kit::retry_after_is_waited_out(&server, build).await;
}

#[tokio::test]
async fn server_error_storm_is_survived() {
    let server = nextcloud().await;
    kit::server_error_storm_is_survived(&server, build, 2).await;
}

#[tokio::test]
async fn unauthorized_fails_fast() {
    let server = nextcloud().await;
    kit::unauthorized_fails_fast(&server, build).await;
}

#[tokio::test]
async fn secret_never_leaks() {
    let server = nextcloud().await;
    kit::secret_never_leaks(&server, build, SECRET).await;
}

#[test]
fn ragflow_config_is_accepted_as_stored() {
    let mut registry = connector_core::Registry::new();
    connector_misc::register(&mut registry);
    assert!(registry.sources().contains(&"webdav"));
    // RAGFlow's form: its generic knobs, `allow_images`, and the credentials object.
    let built = registry.build(
        "webdav",
        serde_json::json!({
            "base_url": "https://dav.example.org/remote.php/webdav/",
            "remote_path": "/Shared/Docs",
            "allow_images": false,
            "batch_size": 2,
            "credentials": {"username": "alice", "password": SECRET, "authentication_method": "basic"},
        }),
    );
    let connector = built.unwrap();
    assert_eq!(connector.source(), "webdav");
    let err = registry
        .build(
            "webdav",
            serde_json::json!({"base_url": "ftp://x", "remote_path": "/../x", "credentials": {"username": "u", "password": "p"}}),
        )
        .err()
        .unwrap();
    let text = err.to_string();
    for field in ["base_url", "remote_path"] {
        assert!(text.contains(field), "{field} not named: {text}");
    }
}
