//! `include_permissions`: who may read each document (`Document.access`), from the page's and
//! its ancestors' read restrictions (Confluence requires all of them) else the space's view
//! permission, on Cloud (`expand=permissions` on the space, e-mails in the user objects) and
//! Data Center (`/space/{key}/permissions`, e-mails from the mobile profile), with the
//! requests it costs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use common::{Fake, FakeAttachment, FakePage, at};
use connector_core::{Access, Connector, Document, Registry, SyncContext};
use futures::StreamExt;
use serde_json::json;

fn build(cfg: serde_json::Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_confluence::register(&mut registry);
    registry.build("confluence", cfg).unwrap()
}

async fn load(c: &dyn Connector) -> Vec<Document> {
    let mut docs = Vec::new();
    let mut s = c.as_load().unwrap().load(SyncContext::new());
    while let Some(b) = s.next().await {
        let b = b.unwrap();
        assert!(b.failures.is_empty(), "{:?}", b.failures);
        docs.extend(b.documents);
    }
    docs
}

fn access(emails: &[&str], groups: &[&str], public: bool) -> Access {
    let mut a = Access::restricted(
        emails.iter().map(|e| (*e).to_owned()).collect(),
        groups.iter().map(|g| (*g).to_owned()).collect(),
    );
    a.public = public;
    a
}

/// ENG (viewed by Lead, Alice, Bob and the groups eng and hr) holds Open; HR (Alice, Bob, group hr) with a file;
/// HR child (no restriction of its own: it inherits HR's); HR grandchild (Alice, Carol, groups
/// hr and eng: it must satisfy its own and HR's); Hidden (Dora, whose e-mail Cloud hides).
/// PUB (the group confluence-users, and anonymous users) holds Public.
async fn site(cloud: bool) -> Fake {
    let fake = Fake::start(cloud).await;
    fake.add(FakePage::new(1, "ENG", "Open", "<p>a</p>", at(1)));
    let mut hr = FakePage::new(2, "ENG", "HR", "<p>a</p>", at(2));
    hr.read_users = vec!["Alice".into(), "Bob".into()];
    hr.read_groups = vec!["hr".into()];
    hr.attachments = vec![FakeAttachment {
        id: 21,
        title: "salaries.csv".into(),
        media_type: "text/csv".into(),
        data: b"a,b".to_vec(),
        ..Default::default()
    }];
    fake.add(hr);
    let mut child = FakePage::new(3, "ENG", "HR child", "<p>a</p>", at(3));
    child.parent = Some(2);
    fake.add(child);
    let mut grand = FakePage::new(4, "ENG", "HR grandchild", "<p>a</p>", at(4));
    grand.parent = Some(3);
    grand.read_users = vec!["Alice".into(), "Carol".into()];
    grand.read_groups = vec!["hr".into(), "eng".into()];
    fake.add(grand);
    let mut hidden = FakePage::new(5, "ENG", "Hidden", "<p>a</p>", at(5));
    hidden.read_users = vec!["Dora".into()];
    fake.add(hidden);
    fake.add(FakePage::new(6, "PUB", "Public", "<p>a</p>", at(6)));
    {
        let mut st = fake.state.lock().unwrap();
        st.hidden_emails = vec!["Dora".into()];
        st.space_permissions.insert(
            "ENG".into(),
            (
                vec!["Lead".into(), "Alice".into(), "Bob".into()],
                vec!["eng".into(), "hr".into()],
                false,
            ),
        );
        st.space_permissions.insert(
            "PUB".into(),
            (Vec::new(), vec!["confluence-users".into()], true),
        );
    }
    fake
}

fn by_title(docs: &[Document]) -> HashMap<String, Option<Access>> {
    docs.iter()
        .map(|d| (d.title.clone(), d.access.clone()))
        .collect()
}

#[tokio::test]
async fn access_follows_restrictions_ancestors_and_space_permissions() {
    for cloud in [true, false] {
        let fake = site(cloud).await;
        let docs = load(build(fake.config(json!({"include_permissions": true}))).as_ref()).await;
        let got = by_title(&docs);
        let hr = access(&["alice@example.com", "bob@example.com"], &["hr"], false);
        let want: HashMap<String, Option<Access>> = [
            (
                "Open",
                access(
                    &["alice@example.com", "bob@example.com", "lead@example.com"],
                    &["eng", "hr"],
                    false,
                ),
            ),
            ("HR", hr.clone()),
            ("salaries.csv", hr.clone()),
            ("HR child", hr),
            (
                "HR grandchild",
                access(&["alice@example.com"], &["hr"], false),
            ),
            // Dora may not view ENG: the restriction alone would name her (on Data Center,
            // which gives her e-mail), the space permission leaves her out.
            ("Hidden", access(&[], &[], false)),
            // Public on both: Data Center lists anonymous access; Cloud (whose v2 list has no
            // anonymous principal) shows the space to an anonymous visitor.
            ("Public", access(&[], &["confluence-users"], true)),
        ]
        .into_iter()
        .map(|(t, a)| (t.to_owned(), Some(a)))
        .collect();
        assert_eq!(got, want, "cloud={cloud}");

        // The restrictions come with the search; space permissions once per space (Cloud:
        // v2, two assignments a page in the fake; Data Center: the list and the anonymous
        // list).
        assert_eq!(fake.count("/restriction/byOperation").await, 0);
        if cloud {
            assert_eq!(fake.count("/api/v2/spaces/").await, 3 + 1);
            assert_eq!(fake.v1_space_permission_reads().await, 0);
            assert_eq!(anonymous_views(&fake).await, ["ENG", "PUB"]);
        } else {
            assert_eq!(fake.count("/permissions").await, 2 * 2);
        }
        let searches = fake.page_searches().await;
        assert!(
            searches
                .iter()
                .all(|q| q["expand"].contains("restrictions.read.restrictions.user"))
        );

        // Without the option: no access, no restrictions asked for.
        fake.reset_requests().await;
        let docs = load(build(fake.config(json!({}))).as_ref()).await;
        assert!(docs.iter().all(|d| d.access.is_none()));
        assert!(
            fake.page_searches()
                .await
                .iter()
                .all(|q| !q["expand"].contains("restrictions"))
        );
        assert_eq!(fake.count("/permissions").await, 0);
    }
}

/// Cloud answers 404 to a whole search that expands the ancestors' restrictions when one
/// ancestor is a draft the credentials cannot read (CONFCLOUD-77618). The search goes on
/// without that expansion, and each ancestor's restriction is read once per run (unless the
/// ancestor came in the search itself, which says its own).
#[tokio::test]
async fn ancestors_are_read_one_by_one_when_cloud_refuses_their_expansion() {
    let fake = site(true).await;
    fake.state.lock().unwrap().refuse_ancestor_restrictions = true;
    let grand = json!({"include_permissions": true, "index_mode": "page", "page_id": "4"});
    let docs = load(build(fake.config(grand)).as_ref()).await;
    assert_eq!(
        by_title(&docs)["HR grandchild"],
        Some(access(&["alice@example.com"], &["hr"], false))
    );
    // HR and HR child, each once.
    assert_eq!(fake.count("/restriction/byOperation/read").await, 2);

    let docs = load(build(fake.config(json!({"include_permissions": true}))).as_ref()).await;
    let got = by_title(&docs);
    assert_eq!(
        got["HR grandchild"],
        Some(access(&["alice@example.com"], &["hr"], false))
    );
    assert_eq!(
        got["HR child"],
        Some(access(
            &["alice@example.com", "bob@example.com"],
            &["hr"],
            false
        ))
    );
}

/// A change of permissions alone (no new page version) changes the fingerprint, so a full run
/// delivers the page again with its new access.
#[tokio::test]
async fn a_permission_change_alone_changes_the_fingerprint() {
    let fake = site(true).await;
    let c = build(fake.config(json!({"include_permissions": true})));
    let before = load(c.as_ref()).await;
    fake.state.lock().unwrap().pages[1].read_users = vec!["Alice".into()];
    let after = load(c.as_ref()).await;
    let fp = |docs: &[Document], t: &str| {
        docs.iter()
            .find(|d| d.title == t)
            .map(|d| d.fingerprint.clone())
    };
    for t in ["HR", "HR child", "salaries.csv"] {
        assert_ne!(fp(&before, t), fp(&after, t), "{t}");
    }
    assert_eq!(fp(&before, "Open"), fp(&after, "Open"));
}

/// Space permissions the credentials cannot read fail closed: the pages of that space get an
/// access naming nobody (restricted ones too: the intersection with an unknown space is
/// empty), never `None`, which a host would read as "no restriction known".
#[tokio::test]
async fn unreadable_space_permissions_fail_closed() {
    for cloud in [true, false] {
        let fake = site(cloud).await;
        fake.state.lock().unwrap().space_permissions.clear();
        let docs = load(build(fake.config(json!({"include_permissions": true}))).as_ref()).await;
        let got = by_title(&docs);
        for title in ["Open", "HR", "salaries.csv", "Public"] {
            assert_eq!(
                got[title],
                Some(access(&[], &[], false)),
                "{title} cloud={cloud}"
            );
        }
    }

    // A scoped token without the scope of v2's space permissions: the gateway answers 401
    // there while the searches go through; the pages name nobody and the sync goes on.
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, ResponseTemplate};
    let fake = site(true).await;
    Mock::given(method("GET"))
        .and(path_regex("/api/v2/spaces/.*/permissions$"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(
                json!({"code": 401, "message": "Unauthorized; scope does not match"}),
            ),
        )
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let docs = load(build(fake.config(json!({"include_permissions": true}))).as_ref()).await;
    assert_eq!(by_title(&docs)["Open"], Some(access(&[], &[], false)));
}

/// Cloud's v1 space permissions (`expand=permissions`) need the space's admin permission,
/// which a sync account rarely has; REST API v2 (`/wiki/api/v2/spaces/{id}/permissions`,
/// paged by cursor) needs only permission to view the space. Users come as account ids
/// (their e-mail looked up once per run), groups as group ids (named once per run).
#[tokio::test]
async fn cloud_space_permissions_need_no_space_admin() {
    let fake = site(true).await;
    fake.state.lock().unwrap().space_admin = false;
    let docs = load(build(fake.config(json!({"include_permissions": true}))).as_ref()).await;
    let got = by_title(&docs);
    assert_eq!(
        got["Open"],
        Some(access(
            &["alice@example.com", "bob@example.com", "lead@example.com"],
            &["eng", "hr"],
            false,
        ))
    );
    assert_eq!(
        got["HR"],
        Some(access(
            &["alice@example.com", "bob@example.com"],
            &["hr"],
            false
        ))
    );
    assert_eq!(fake.v1_space_permission_reads().await, 0);
    // One lookup per group and per user, whatever the number of pages.
    assert_eq!(fake.count("/rest/api/group/by-id").await, 3);
    assert_eq!(fake.count("/rest/api/user").await, 3);
}

/// Cloud folders (content type `folder`) hold pages and pass their read restrictions on; the
/// search does not embed a folder's restrictions, so they are read on their own, and the walk
/// goes on above the folder.
#[tokio::test]
async fn folders_among_the_ancestors_pass_their_restrictions_on() {
    let fake = site(true).await;
    {
        let mut st = fake.state.lock().unwrap();
        let mut folder = FakePage::new(30, "ENG", "Team folder", "", at(30));
        folder.kind = "folder";
        folder.parent = Some(2);
        folder.read_users = vec!["Alice".into(), "Lead".into()];
        st.pages.push(folder);
        let mut inside = FakePage::new(31, "ENG", "In the folder", "<p>a</p>", at(31));
        inside.parent = Some(30);
        st.pages.push(inside);
    }
    let docs = load(build(fake.config(json!({"include_permissions": true}))).as_ref()).await;
    let got = by_title(&docs);
    // HR (Alice, Bob, hr) above the folder (Alice, Lead): Alice alone.
    assert_eq!(
        got["In the folder"],
        Some(access(&["alice@example.com"], &[], false))
    );
    assert!(!got.contains_key("Team folder"), "a folder is no document");
    assert_eq!(
        fake.count("/content/30/restriction/byOperation/read").await,
        1
    );
    let inside = docs.iter().find(|d| d.title == "In the folder").unwrap();
    assert_eq!(
        inside.metadata["ancestors"],
        json!(["HR", "Team folder"]),
        "{:?}",
        inside.metadata
    );
}

fn include(title: &str, space: Option<&str>) -> String {
    let space = space.map_or(String::new(), |s| format!(r#" ri:space-key="{s}""#));
    format!(
        r#"<ac:structured-macro ac:name="include"><ac:parameter ac:name=""><ac:link><ri:page{space} ri:content-title="{title}" /></ac:link></ac:parameter></ac:structured-macro>"#
    )
}

/// With `include_permissions`, an `include` copies another page into the includer's
/// document, which carries the includer's access: only a page without read restrictions (on
/// itself or an ancestor) in the same space is inlined; any other is written as a link.
/// Without the option every include is inlined, as before.
#[tokio::test]
async fn includes_inline_only_unrestricted_pages_of_the_same_space() {
    for cloud in [true, false] {
        let fake = site(cloud).await;
        fake.add(FakePage::new(
            7,
            "ENG",
            "Shared",
            "<p>shared words</p>",
            at(7),
        ));
        let mut secret = FakePage::new(8, "ENG", "Payroll", "<p>secret words</p>", at(8));
        secret.parent = Some(2); // Under HR: restricted through its ancestor.
        fake.add(secret);
        fake.add(FakePage::new(
            9,
            "PUB",
            "Elsewhere",
            "<p>other space words</p>",
            at(9),
        ));
        let body = format!(
            "<p>top</p>{}{}{}",
            include("Shared", None),
            include("Payroll", None),
            include("Elsewhere", Some("PUB"))
        );
        fake.add(FakePage::new(10, "ENG", "Includer", &body, at(10)));

        let docs = load(build(fake.config(json!({"include_permissions": true}))).as_ref()).await;
        let includer = docs.iter().find(|d| d.title == "Includer").unwrap();
        let text = includer.content.as_text().unwrap().to_owned();
        assert!(text.contains("shared words"), "cloud={cloud}: {text}");
        assert!(!text.contains("secret words"), "cloud={cloud}: {text}");
        assert!(!text.contains("other space words"), "cloud={cloud}: {text}");
        assert!(text.contains("Payroll"), "a link instead: {text}");
        assert!(text.contains("Elsewhere"), "a link instead: {text}");

        let docs = load(build(fake.config(json!({}))).as_ref()).await;
        let includer = docs.iter().find(|d| d.title == "Includer").unwrap();
        let text = includer.content.as_text().unwrap().to_owned();
        assert!(text.contains("secret words") && text.contains("other space words"));
    }
}

/// Access fails closed: an ancestor whose restrictions cannot be read (403 or 404 on
/// `restriction/byOperation/read`) or whose `restrictions` expansion lacks `read` must not
/// count as unrestricted. A missing `read` is read once per run from
/// `restriction/byOperation/read`; when that is unknown too, the page gets an access that
/// names nobody, never its space's wider one.
#[tokio::test]
async fn unknown_restrictions_fail_closed() {
    use wiremock::matchers::{method, path_regex};
    use wiremock::{Mock, ResponseTemplate};

    // HR's restrictions answer 403 when read one by one (the search refuses the ancestors'
    // expansion): HR child (no restriction of its own) may be read by nobody we can name.
    let fake = site(true).await;
    fake.state.lock().unwrap().refuse_ancestor_restrictions = true;
    Mock::given(method("GET"))
        .and(path_regex("/content/2/restriction/byOperation/read$"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"statusCode": 403, "message": "not permitted"})),
        )
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let child = json!({"include_permissions": true, "index_mode": "page", "page_id": "3"});
    let docs = load(build(fake.config(child)).as_ref()).await;
    assert_eq!(by_title(&docs)["HR child"], Some(access(&[], &[], false)));

    // HR comes without `read` in the search (as a result and as an ancestor): it is read once
    // from its own endpoint and gives HR and HR child their true access.
    for cloud in [true, false] {
        let fake = site(cloud).await;
        fake.state.lock().unwrap().no_read_expansion = vec![2];
        let docs = load(build(fake.config(json!({"include_permissions": true}))).as_ref()).await;
        let hr = access(&["alice@example.com", "bob@example.com"], &["hr"], false);
        let got = by_title(&docs);
        assert_eq!(got["HR"], Some(hr.clone()), "cloud={cloud}");
        assert_eq!(got["HR child"], Some(hr), "cloud={cloud}");
        assert_eq!(
            fake.count("/content/2/restriction/byOperation/read").await,
            1,
            "cloud={cloud}"
        );
    }

    // Open (no restriction) comes without `read` and its own endpoint answers 404: nobody,
    // not the space's viewers.
    let fake = site(true).await;
    fake.state.lock().unwrap().no_read_expansion = vec![1];
    Mock::given(method("GET"))
        .and(path_regex("/content/1/restriction/byOperation/read$"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"statusCode": 404, "message": "No content found"})),
        )
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let docs = load(build(fake.config(json!({"include_permissions": true}))).as_ref()).await;
    assert_eq!(by_title(&docs)["Open"], Some(access(&[], &[], false)));
}

/// Confluence shows a restricted page only to those its restrictions name *and* its space
/// lets view it: when the space's permission is known (and not public), the restrictions are
/// intersected with it. Unknown space permissions name nobody (see
/// `unreadable_space_permissions_fail_closed`).
#[tokio::test]
async fn restrictions_are_intersected_with_the_space_permission() {
    for cloud in [true, false] {
        let fake = site(cloud).await;
        let mut page = FakePage::new(7, "ENG", "Mixed", "<p>a</p>", at(7));
        page.read_users = vec!["Lead".into(), "Carol".into()];
        page.read_groups = vec!["eng".into(), "ops".into()];
        fake.add(page);
        let mut public = FakePage::new(8, "PUB", "Public restricted", "<p>a</p>", at(8));
        public.read_users = vec!["Carol".into()];
        fake.add(public);
        let docs = load(build(fake.config(json!({"include_permissions": true}))).as_ref()).await;
        let got = by_title(&docs);
        assert_eq!(
            got["Mixed"],
            Some(access(&["lead@example.com"], &["eng"], false)),
            "cloud={cloud}"
        );
        // A space anonymous users may view names no one to intersect with (on Cloud too,
        // where an anonymous visitor is shown the space).
        assert_eq!(
            got["Public restricted"],
            Some(access(&["carol@example.com"], &[], false)),
            "cloud={cloud}"
        );
    }
}

/// The spaces asked for without credentials (`/wiki/rest/api/space/{key}`), sorted.
async fn anonymous_views(fake: &Fake) -> Vec<String> {
    let mut keys: Vec<String> = fake
        .requests()
        .await
        .iter()
        .filter(|r| !r.headers.contains_key("authorization"))
        .filter_map(|r| r.url.path().strip_prefix("/wiki/rest/api/space/"))
        .map(str::to_owned)
        .collect();
    keys.sort();
    keys
}

/// Cloud's v2 space permissions have no anonymous principal, so whether anonymous users may
/// view a space is asked as Confluence decides it: `GET /wiki/rest/api/space/{key}` without
/// credentials, once per space per run. A 200 carrying the space makes it public (its
/// groups kept); a 401 (Cloud's answer to an anonymous visitor the space does not admit)
/// keeps the users and groups; a login page instead of the space is not public either.
#[tokio::test]
async fn cloud_spaces_anonymous_users_may_view_are_public() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, Request, ResponseTemplate};
    let anonymous = |r: &Request| !r.headers.contains_key("authorization");

    let fake = site(true).await;
    fake.add(FakePage::new(7, "ENG", "Open too", "<p>b</p>", at(7)));
    {
        // v2 names the groups only, whatever the fake's anonymous flag says.
        let mut st = fake.state.lock().unwrap();
        st.space_permissions.get_mut("PUB").unwrap().2 = false;
    }
    Mock::given(method("GET"))
        .and(path("/wiki/rest/api/space/PUB"))
        .and(anonymous)
        .respond_with(
            ResponseTemplate::new(200).set_body_json(common::space_json("PUB", fake.base())),
        )
        .with_priority(1)
        .mount(&fake.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/wiki/rest/api/space/ENG"))
        .and(anonymous)
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "statusCode": 401,
            "message": "This request requires authentication",
            "data": {"authorized": false, "valid": true, "errors": [], "successful": false}
        })))
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let docs = load(build(fake.config(json!({"include_permissions": true}))).as_ref()).await;
    let got = by_title(&docs);
    assert_eq!(
        got["Public"],
        Some(access(&[], &["confluence-users"], true))
    );
    let eng = access(
        &["alice@example.com", "bob@example.com", "lead@example.com"],
        &["eng", "hr"],
        false,
    );
    assert_eq!(got["Open"], Some(eng.clone()));
    assert_eq!(got["Open too"], Some(eng));
    // A restricted page of a public space: its restrictions alone decide.
    assert_eq!(
        got["HR"],
        Some(access(
            &["alice@example.com", "bob@example.com"],
            &["hr"],
            false
        ))
    );
    // Once per space per run, whatever the number of pages.
    assert_eq!(anonymous_views(&fake).await, ["ENG", "PUB"]);

    // A site that sends anonymous visitors to its login page (200, HTML) shows no space:
    // not public.
    let fake = site(true).await;
    Mock::given(method("GET"))
        .and(path("/wiki/rest/api/space/PUB"))
        .and(anonymous)
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "<html><title>Log in with Atlassian account</title></html>",
            "text/html",
        ))
        .with_priority(1)
        .mount(&fake.server)
        .await;
    let docs = load(build(fake.config(json!({"include_permissions": true}))).as_ref()).await;
    assert_eq!(
        by_title(&docs)["Public"],
        Some(access(&[], &["confluence-users"], false))
    );
}
