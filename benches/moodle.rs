//! Loopback end-to-end benchmark of the Moodle connector (`harness = false`, not run in CI): a
//! wiremock Moodle web service holding `MOODLE_BENCH_DISCUSSIONS` forum discussions (default
//! 5,000) in 10 courses, one forum each, listed 50 per page (`mod_forum_get_forum_discussions`,
//! last post first), each discussion three posts (`mod_forum_get_discussion_posts`), read by
//!
//! 1. the baseline: raw `reqwest` over the same web service calls (`POST
//!    /webservice/rest/server.php` with the token in the form body): site info, the user's
//!    courses, each course's participants, contents and forums (their types), every
//!    discussion page (and, before
//!    each page after the first, the one-discussion check of the boundary the connector
//!    makes), then every discussion's posts, 4 at a time, each body parsed as JSON;
//! 2. `MoodleConnector::load`: the same calls through core's client, each discussion a
//!    Markdown thread with front matter (HTML posts through core's HTML → Markdown);
//! 3. a full `Syncer` run into a discarding sink.
//!
//! Prints discussions/s, requests per discussion and the ratios to the baseline (best of three
//! rounds), then the process's peak RSS (`VmHWM`). `cargo bench --bench moodle`.
//!
//! One release run (5,000 discussions, shared 2-core machine): raw 0.589 s, `load` 0.808 s
//! (1.37x), full `Syncer` run 0.847 s (1.44x), 1.026 requests per discussion on every side,
//! peak RSS 325 MB (wiremock keeps every request it received). The raw side converts nothing;
//! the connector turns each post's HTML into Markdown and writes front matter.
//! Session 37, with the page-boundary checks on both sides (binary at 776861e, machine at
//! load 4 to 5): `load` 2.07x, 1.42x, 1.36x (median 1.42x), full run 2.06x, 1.48x, 1.34x
//! (median 1.48x).
//! Session 38: the connector sent 10 requests more than the baseline (5,242 against 5,232 for
//! 5,000 discussions: each course's `mod_forum_get_forums_by_courses`, whose forum types
//! decide which replies are read); the baseline now sends it too, 1.048 requests per
//! discussion on both sides. Binary at f74b321 (discussions read from their own text, no
//! `Value` tree; machine at load 11 to 12): `load` 1.36x, 1.54x, 1.69x (median 1.54x), full
//! run 1.45x, 1.28x, 1.71x (median 1.45x).

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)] // A bench binary.

#[path = "support/compare.rs"]
mod compare;
#[path = "support/loopback.rs"]
mod loopback;

use std::collections::HashMap;

use compare::Compare;

use connectors::misc::moodle::{MoodleConfig, MoodleConnector};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, Respond, ResponseTemplate};

const COURSES: usize = 10;
const PAGE: usize = 50;
const CONCURRENCY: usize = 4;
const ROUNDS: usize = 3;
const TOKEN: &str = "4f0d2c9be1a7e6d5c4b3a2910f8e7d6c";

fn discussions() -> usize {
    loopback::env_size("MOODLE_BENCH_DISCUSSIONS", 5_000)
}

/// The web service, answers pre-rendered.
struct Service {
    courses: String,
    contents: Vec<String>,
    /// `pages[course][page]`.
    pages: Vec<Vec<String>>,
    /// `singles[course][index]`: the pages of one discussion (`perpage=1`), which the
    /// connector asks for to check a page boundary before each next page.
    singles: Vec<Vec<String>>,
    posts: String,
}

fn json_response(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

impl Respond for Service {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let form: HashMap<String, String> = url::form_urlencoded::parse(&req.body)
            .into_owned()
            .collect();
        assert_eq!(form.get("wstoken").map(String::as_str), Some(TOKEN));
        let int = |k: &str| {
            form.get(k)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        };
        match form.get("wsfunction").map(String::as_str).unwrap_or("") {
            "core_webservice_get_site_info" => json_response(
                &json!({"sitename": "Bench", "userid": 3, "functions": [], "release": "4.4"})
                    .to_string(),
            ),
            "core_enrol_get_users_courses" => json_response(&self.courses),
            "core_enrol_get_enrolled_users" => json_response(
                r#"[{"id":5,"fullname":"Prof Oak","email":"prof@example.edu"},{"id":6,"fullname":"Ann","email":"ann@example.edu"}]"#,
            ),
            "core_course_get_contents" => json_response(&self.contents[int("courseid") - 1]),
            "mod_forum_get_forums_by_courses" => {
                let c = int("courseids[0]");
                json_response(
                    &json!([{"id": 1000 + c, "course": c, "type": "general", "name": "Discussions", "cmid": 5000 + c}])
                        .to_string(),
                )
            }
            "mod_forum_get_forum_discussions" => {
                let course = int("forumid") - 1000;
                let pages = if int("perpage") == 1 {
                    &self.singles[course - 1]
                } else {
                    &self.pages[course - 1]
                };
                json_response(
                    pages
                        .get(int("page"))
                        .map_or(r#"{"discussions":[],"warnings":[]}"#, String::as_str),
                )
            }
            "mod_forum_get_discussion_posts" => json_response(&self.posts),
            other => panic!("unexpected function {other}"),
        }
    }
}

fn service(n: usize) -> Service {
    let per = n / COURSES;
    let courses: Vec<Value> = (1..=COURSES)
        .map(|c| json!({"id": c, "shortname": format!("C{c}"), "fullname": format!("Course {c}"), "displayname": format!("Course {c}"), "visible": 1, "timemodified": 1_740_000_000}))
        .collect();
    let contents = (1..=COURSES)
        .map(|c| {
            json!([{"id": c * 100, "name": "General", "visible": 1, "uservisible": true, "section": 0, "availability": null, "modules": [{
                "id": 5000 + c, "url": format!("https://moodle.example.edu/mod/forum/view.php?id={}", 5000 + c),
                "name": "Discussions", "instance": 1000 + c, "modname": "forum", "visible": 1, "uservisible": true,
                "availability": null, "contents": [],
            }]}])
            .to_string()
        })
        .collect();
    let pages = (1..=COURSES)
        .map(|c| {
            let all: Vec<Value> = (0..per)
                .map(|i| {
                    let id = c * 100_000 + i;
                    json!({
                        "id": id * 10, "name": format!("Question {i} of course {c}"), "groupid": -1,
                        "timemodified": 1_740_000_000 - i as i64, "discussion": id, "created": 1_739_000_000,
                        "modified": 1_740_000_000 - i as i64, "subject": format!("Question {i}"),
                        "message": "<p>How do I start?</p>", "userfullname": "Ann Student",
                        "numreplies": 2, "pinned": false, "locked": false,
                    })
                })
                .collect();
            all
        })
        .collect::<Vec<Vec<Value>>>();
    let chunked = |size: usize| -> Vec<Vec<String>> {
        pages
            .iter()
            .map(|all| {
                all.chunks(size)
                    .map(|chunk| json!({"discussions": chunk, "warnings": []}).to_string())
                    .collect()
            })
            .collect()
    };
    let (singles, pages) = (chunked(1), chunked(PAGE));
    let post = |id: i64, who: &str, parent: Value, msg: &str, t: i64| {
        json!({"id": id, "subject": "Question", "message": msg, "messageformat": 1,
               "author": {"id": 5, "fullname": who}, "discussionid": 1, "hasparent": !parent.is_null(),
               "parentid": parent, "timecreated": t, "isdeleted": false, "isprivatereply": false, "attachments": []})
    };
    let posts = json!({"posts": [
        post(1, "Ann Student", Value::Null, "<p>How do I <b>start</b> the lab?</p>", 1_739_000_000),
        post(2, "Prof Oak", json!(1), "<p>Read <a href=\"https://moodle.example.edu/mod/page/view.php?id=41\">the syllabus</a> first.</p>", 1_739_500_000),
        post(3, "Ann Student", json!(2), "<p>Thanks!</p>", 1_740_000_000),
    ], "forumid": 1001, "courseid": 1, "warnings": []})
    .to_string();
    Service {
        courses: Value::Array(courses).to_string(),
        contents,
        pages,
        singles,
        posts,
    }
}

async fn call(
    client: &reqwest::Client,
    url: &str,
    function: &str,
    params: &[(&str, String)],
) -> Value {
    let mut form = vec![
        ("wstoken", TOKEN.to_owned()),
        ("wsfunction", function.to_owned()),
        ("moodlewsrestformat", "json".to_owned()),
    ];
    form.extend(params.iter().cloned());
    let body = client
        .post(url)
        .form(&form)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

/// The raw fetch: the same calls, then the same post requests, 4 at a time.
async fn raw(client: &reqwest::Client, base: &str) -> (usize, u64) {
    let url = format!("{base}/webservice/rest/server.php");
    let url = url.as_str();
    call(client, url, "core_webservice_get_site_info", &[]).await;
    let courses = call(
        client,
        url,
        "core_enrol_get_users_courses",
        &[("userid", "3".into())],
    )
    .await;
    let mut requests = 2u64;
    let mut listed = Vec::new();
    for course in courses.as_array().unwrap() {
        let id = course["id"].to_string();
        call(
            client,
            url,
            "core_enrol_get_enrolled_users",
            &[("courseid", id.clone())],
        )
        .await;
        let sections = call(
            client,
            url,
            "core_course_get_contents",
            &[("courseid", id.clone())],
        )
        .await;
        // The forums' types (the connector reads replies by them: a Q and A forum's are
        // hidden from who has not posted).
        call(
            client,
            url,
            "mod_forum_get_forums_by_courses",
            &[("courseids[0]", id)],
        )
        .await;
        requests += 3;
        for module in sections[0]["modules"].as_array().unwrap() {
            let forum = module["instance"].to_string();
            for page in 0.. {
                // The connector's check of the page boundary before each next page: which
                // discussion ends the page before (one discussion a request).
                if page > 0 {
                    call(
                        client,
                        url,
                        "mod_forum_get_forum_discussions",
                        &[
                            ("forumid", forum.clone()),
                            ("sortorder", "1".into()),
                            ("page", (page * PAGE - 1).to_string()),
                            ("perpage", "1".into()),
                        ],
                    )
                    .await;
                    requests += 1;
                }
                let got = call(
                    client,
                    url,
                    "mod_forum_get_forum_discussions",
                    &[
                        ("forumid", forum.clone()),
                        ("sortorder", "1".into()),
                        ("page", page.to_string()),
                        ("perpage", PAGE.to_string()),
                    ],
                )
                .await;
                requests += 1;
                let ds = got["discussions"].as_array().unwrap();
                listed.extend(ds.iter().map(|d| d["discussion"].as_i64().unwrap()));
                if ds.len() < PAGE {
                    break;
                }
            }
        }
    }
    let counts: Vec<usize> = futures::stream::iter(listed)
        .map(|d| async move {
            let posts = call(
                client,
                url,
                "mod_forum_get_discussion_posts",
                &[
                    ("discussionid", d.to_string()),
                    ("sortby", "created".into()),
                    ("sortdirection", "ASC".into()),
                ],
            )
            .await;
            posts["posts"].as_array().unwrap().len()
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    assert!(counts.iter().all(|c| *c == 3));
    (counts.len(), requests + counts.len() as u64)
}

fn main() {
    let n = discussions();
    loopback::block_on(async {
        let server = loopback::Server::start().await;
        Mock::given(method("POST"))
            .and(path("/webservice/rest/server.php"))
            .respond_with(service(n))
            .mount(&server)
            .await;
        println!(
            "moodle loopback: {n} discussions in {COURSES} courses (one forum each), {PAGE} per page, 3 posts each"
        );

        let config: MoodleConfig = connectors::core::config::from_json(json!({
            "moodle_url": server.uri(),
            "credentials": {"moodle_token": TOKEN},
            "allowed_hosts": ["127.0.0.1"],
            "requests_per_minute": 100_000,
        }))
        .unwrap();
        let client = reqwest::Client::new();
        let uri = server.uri();
        let compare = Compare {
            rounds: ROUNDS,
            n,
            unit: "discussion",
            name: "MoodleConnector",
            width: 30,
        };
        compare
            .run(
                || raw(&client, &uri),
                || MoodleConnector::new(config.clone()).unwrap(),
            )
            .await;
    });
}
