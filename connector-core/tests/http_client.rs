//! The HTTP layer against wiremock: retries, Retry-After and rate-limit resets, auth errors,
//! caps, redirects.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.
#![cfg(feature = "http")]

use std::sync::Arc;
use std::time::Duration;

use connector_core::http::{Auth, HttpClient, Page, PageLimit, paginate};
use connector_core::{ErrorKind, Secret, SyncStats};
use futures::TryStreamExt;
use url::Url;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "tok-SECRET-123";

fn client() -> HttpClient {
    HttpClient::builder("test")
        .auth(Auth::Bearer(Secret::new(TOKEN)), "credentials.token")
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .max_retries(3)
        .build()
        .unwrap()
}

fn url(server: &MockServer, p: &str) -> Url {
    Url::parse(&format!("{}{p}", server.uri())).unwrap()
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn server_error_then_success_is_retried_and_counted() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": true})))
        .mount(&server)
        .await;
    let stats = Arc::new(SyncStats::default());
    let resp = client()
        .with_stats(stats.clone())
        .get(url(&server, "/a"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<serde_json::Value>().unwrap()["ok"], true);
    assert_eq!((stats.requests(), stats.retries()), (2, 1));
}

#[tokio::test]
async fn retry_after_is_waited_out_and_counted() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let stats = Arc::new(SyncStats::default());
    client()
        .with_stats(stats.clone())
        .get(url(&server, "/a"))
        .send()
        .await
        .unwrap();
    assert_eq!(stats.retries(), 1);
    assert_eq!(stats.rate_limit_wait(), Duration::from_secs(1));
}

#[tokio::test]
async fn retry_after_is_capped_and_exhaustion_is_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .mount(&server)
        .await;
    let c = HttpClient::builder("test")
        .rate_limit_retries(2, Duration::from_secs(60))
        .retry_after_cap(Duration::from_millis(10))
        .build()
        .unwrap();
    let err = c.get(url(&server, "/a")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert!(err.to_string().contains("3 attempt"), "{err}");
    assert_eq!(requests(&server).await, 3);
}

/// A client whose backoff (≤ 5 ms) is far below its `Retry-After` cap (20 ms), so a rate-limit
/// wait of exactly the cap shows that the service's reset header was read.
fn capped_client() -> HttpClient {
    HttpClient::builder("test")
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .retry_after_cap(Duration::from_millis(20))
        .max_retries(2)
        .rate_limit_retries(2, Duration::from_secs(60))
        .build()
        .unwrap()
}

#[tokio::test]
async fn atlassian_x_ratelimit_reset_is_honoured_on_429_up_to_the_cap() {
    let server = MockServer::start().await;
    // Jira and Confluence Cloud write the reset time to the minute: `2026-03-26T16:00Z`.
    let reset = (chrono::Utc::now() + chrono::TimeDelta::hours(2))
        .format("%Y-%m-%dT%H:%MZ")
        .to_string();
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("X-RateLimit-Reset", reset.as_str()))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let stats = Arc::new(SyncStats::default());
    let c = capped_client().with_stats(stats.clone());
    c.get(url(&server, "/a")).send().await.unwrap();
    assert_eq!(stats.retries(), 1);
    assert_eq!(stats.rate_limit_wait(), Duration::from_millis(20));

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("X-RateLimit-Reset", reset.as_str()))
        .mount(&server)
        .await;
    let err = c.get(url(&server, "/a")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    let asked = err.retry_after().expect("the reset is reported");
    assert!(asked > Duration::from_secs(3600), "{asked:?}");
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn ratelimit_reset_is_honoured_on_503_when_retry_after_is_absent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/reset"))
        .respond_with(ResponseTemplate::new(503).insert_header("RateLimit-Reset", "3600"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    // `Retry-After` comes first: this one asks for no wait at all.
    Mock::given(method("GET"))
        .and(path("/both"))
        .respond_with(
            ResponseTemplate::new(503)
                .insert_header("RateLimit-Reset", "3600")
                .insert_header("Retry-After", "0"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let stats = Arc::new(SyncStats::default());
    let c = capped_client().with_stats(stats.clone());
    c.get(url(&server, "/reset")).send().await.unwrap();
    assert_eq!(stats.retries(), 1);
    assert_eq!(stats.rate_limit_wait(), Duration::from_millis(20));
    c.get(url(&server, "/both")).send().await.unwrap();
    assert_eq!(stats.retries(), 2);
    assert_eq!(stats.rate_limit_wait(), Duration::from_millis(20));

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503).insert_header("RateLimit-Reset", "3600"))
        .mount(&server)
        .await;
    let err = c.get(url(&server, "/a")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert!(err.to_string().contains("3 attempt"), "{err}");
}

#[tokio::test]
async fn unauthorized_fails_fast_naming_the_field_not_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_string(format!("bad token {TOKEN}")))
        .mount(&server)
        .await;
    let err = client()
        .get(url(&server, "/a?api_key=QUERYSECRET"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert_eq!(requests(&server).await, 1);
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("credentials.token") && shown.contains("test"),
        "{shown}"
    );
    assert!(
        !shown.contains(TOKEN) && !shown.contains("QUERYSECRET"),
        "{shown}"
    );

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    let err = client().get(url(&server, "/a")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn other_client_errors_carry_a_scrubbed_snippet() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(400).set_body_string(format!("unknown param; you sent {TOKEN}")),
        )
        .mount(&server)
        .await;
    let err = client().get(url(&server, "/a")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    let shown = err.to_string();
    assert!(
        shown.contains("unknown param") && !shown.contains(TOKEN),
        "{shown}"
    );
    Mock::given(method("GET"))
        .and(path("/gone"))
        .respond_with(ResponseTemplate::new(404))
        .with_priority(1)
        .mount(&server)
        .await;
    let err = client()
        .get(url(&server, "/gone"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn post_is_retried_only_when_marked_idempotent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let err = client()
        .post(url(&server, "/s"))
        .json(&serde_json::json!({"q": 1}))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(requests(&server).await, 1);
    let _ = client()
        .post(url(&server, "/s"))
        .idempotent(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(requests(&server).await, 1 + 4);
}

#[tokio::test]
async fn oversize_body_is_an_item_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 4096]))
        .mount(&server)
        .await;
    let err = client()
        .get(url(&server, "/big"))
        .max_body_bytes(1024)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("1024-byte limit"), "{err}");
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn cross_origin_redirect_drops_credentials() {
    let other = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("moved"))
        .mount(&other)
        .await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/same"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/there"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/there"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/final", other.uri()).as_str()),
        )
        .mount(&server)
        .await;
    let c = HttpClient::builder("test")
        .auth(
            Auth::Header {
                name: "X-Api-Key".into(),
                value: Secret::new(TOKEN),
            },
            "credentials.api_key",
        )
        .build()
        .unwrap();
    let resp = c.get(url(&server, "/same")).send().await.unwrap();
    assert_eq!(resp.text(), "moved");
    assert_eq!(resp.url().path(), "/final");
    let same = server.received_requests().await.unwrap();
    assert!(
        same.iter().all(|r| r.headers.get("x-api-key").is_some()),
        "same-origin hop keeps the key"
    );
    let cross = other.received_requests().await.unwrap();
    assert!(
        cross[0].headers.get("x-api-key").is_none(),
        "the key must not leave the origin"
    );
}

#[tokio::test]
async fn link_header_pagination() {
    let server = MockServer::start().await;
    for page in 1..=3 {
        let mut t = ResponseTemplate::new(200).set_body_json(serde_json::json!([page]));
        if page < 3 {
            t = t.insert_header(
                "Link",
                format!(r#"</items?page={}>; rel="next""#, page + 1).as_str(),
            );
        }
        Mock::given(method("GET"))
            .and(path("/items"))
            .and(query_param("page", page.to_string()))
            .respond_with(t)
            .mount(&server)
            .await;
    }
    let c = client();
    let first = url(&server, "/items?page=1");
    let items: Vec<Vec<u32>> = paginate(first, PageLimit::fail_after(10), move |u: Url| {
        let c = c.clone();
        async move {
            let resp = c.get(u).send().await?;
            Ok(Page::new(resp.json::<Vec<u32>>()?, resp.next_link()))
        }
    })
    .map_ok(|p| p.items)
    .try_collect()
    .await
    .unwrap();
    assert_eq!(items.concat(), vec![1, 2, 3]);
}

#[tokio::test]
async fn connection_refused_is_unavailable_after_retries() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = Url::parse(&format!(
        "http://{}/a?token=QS",
        listener.local_addr().unwrap()
    ))
    .unwrap();
    drop(listener);
    let stats = Arc::new(SyncStats::default());
    let err = client()
        .with_stats(stats.clone())
        .get(dead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(stats.requests(), 4);
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("QS"), "{shown}");
}

#[tokio::test]
async fn error_classifier_retries_a_rate_limit_in_a_403_and_maps_other_reasons() {
    use connector_core::http::ErrorClass;
    let server = MockServer::start().await;
    let body = |reason: &str| serde_json::json!({"error": {"code": 403, "message": reason, "errors": [{"reason": reason}]}});
    Mock::given(path("/limited"))
        .respond_with(ResponseTemplate::new(403).set_body_json(body("rateLimitExceeded")))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/limited"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    Mock::given(path("/disabled"))
        .respond_with(ResponseTemplate::new(403).set_body_json(body("accessNotConfigured")))
        .mount(&server)
        .await;
    Mock::given(path("/plain"))
        .respond_with(ResponseTemplate::new(403).set_body_json(body("forbidden")))
        .mount(&server)
        .await;
    let client = HttpClient::builder("test")
        .auth(Auth::Bearer(Secret::new(TOKEN)), "credentials.token")
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .max_retries(3)
        .error_classifier(|status, body| {
            let text = String::from_utf8_lossy(body);
            if status.as_u16() == 403 && text.contains("rateLimitExceeded") {
                Some(ErrorClass::new(ErrorKind::RateLimited, "rate limit"))
            } else if text.contains("accessNotConfigured") {
                Some(ErrorClass::new(
                    ErrorKind::PermissionDenied,
                    "the API is disabled",
                ))
            } else {
                None
            }
        })
        .build()
        .unwrap();
    let stats = Arc::new(SyncStats::default());
    let client = client.with_stats(stats.clone());
    let resp = client.get(url(&server, "/limited")).send().await.unwrap();
    assert_eq!(&resp.body()[..], b"ok");
    assert_eq!(stats.retries(), 2);
    let err = client
        .get(url(&server, "/disabled"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("the API is disabled"), "{err}");
    assert_eq!(err.field(), Some("credentials.token"));
    let err = client.get(url(&server, "/plain")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert_eq!(stats.retries(), 2, "an unclassified 403 is not retried");
}

/// A client that reaches public addresses only, plus `allow`.
fn guarded(allow: &[&str]) -> HttpClient {
    HttpClient::builder("test")
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .network_policy(
            connector_core::http::NetworkPolicy::public_only()
                .allow(allow)
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_guarded_client_does_not_reach_loopback_by_address_or_by_name() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let port = server.address().port();
    for target in [
        format!("http://127.0.0.1:{port}/a"),
        // A name that resolves to loopback is stopped by the resolver, before connecting.
        format!("http://localhost:{port}/a"),
    ] {
        let err = guarded(&[])
            .get(Url::parse(&target).unwrap())
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{target}: {err}");
        assert!(err.to_string().contains("allowed_hosts"), "{err}");
    }
    // Denied at once: nothing reached the server, and nothing was retried.
    assert_eq!(requests(&server).await, 0);
    // Allowed by address or by name, it is reached.
    guarded(&["127.0.0.1"])
        .get(url(&server, "/a"))
        .send()
        .await
        .unwrap();
    guarded(&["localhost"])
        .get(Url::parse(&format!("http://localhost:{port}/a")).unwrap())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn every_redirect_hop_is_checked() {
    let server = MockServer::start().await;
    let port = server.address().port();
    // Allowed by name, the first hop answers with a redirect to the metadata address.
    Mock::given(method("GET"))
        .and(path("/start"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "Location",
            format!("http://127.0.0.1:{port}/inside").as_str(),
        ))
        .mount(&server)
        .await;
    let err = guarded(&["localhost"])
        .get(Url::parse(&format!("http://localhost:{port}/start")).unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, ["/start"]);
}

/// Two processes share one connector's single-use refresh token (a sync and a prune job of a
/// Box connector): the first renews and saves the new pair; the second, still holding the
/// spent token, is refused `invalid_grant` and takes up what the first saved instead of
/// failing with "authorise again".
#[tokio::test]
async fn a_refresh_token_spent_by_another_process_is_taken_up_from_the_store() {
    use connector_core::http::OAuthToken;
    use connector_core::{CredentialStore, MemoryCredentials};
    use wiremock::matchers::body_string_contains;

    let server = MockServer::start().await;
    // r1 is single-use: the first renewal gets a2/r2, any later one is refused.
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("refresh_token=r1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "a2", "refresh_token": "r2", "expires_in": 3600, "token_type": "bearer"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant", "error_description": "Invalid refresh token"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/data"))
        .and(header("authorization", "Bearer a2"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/data"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;

    let store = Arc::new(MemoryCredentials::new());
    let token = |restore: bool| {
        let t = OAuthToken::new("box", "credentials.box_tokens", Some(Secret::new("a1")))
            .refreshable(
                url(&server, "/token"),
                "client",
                Some(Secret::new("client-secret")),
                Secret::new("r1"),
                "credentials.box_tokens",
            )
            .persist_with(|access, refresh| {
                Secret::new(format!("{}|{}", access.expose(), refresh.expose()))
            });
        let t = if restore {
            t.restore_with(|value| {
                let (access, refresh) = value.expose().split_once('|')?;
                Some((Some(Secret::new(access)), Secret::new(refresh)))
            })
        } else {
            t
        };
        t.set_store(store.clone());
        t
    };
    let http = HttpClient::builder("box").build().unwrap();
    let get = |t: OAuthToken| {
        let http = http.clone();
        let u = url(&server, "/data");
        async move {
            t.send(&http, |auth| {
                http.get(u.clone())
                    .auth(auth, "credentials.box_tokens")
                    .client_errors_as_responses()
            })
            .await
        }
    };

    // The first process renews: r1 is spent, a2|r2 saved.
    let first = get(token(true)).await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(
        store
            .load("box", "credentials.box_tokens")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        "a2|r2"
    );

    // The second still holds r1: refused, then it takes a2 up from the store.
    let second = get(token(true)).await.unwrap();
    assert_eq!(
        second.status(),
        200,
        "the second process must go on with the saved tokens"
    );
    assert_eq!(
        store.saved("box", "credentials.box_tokens").len(),
        1,
        "nothing renewed twice"
    );

    // Without a way to read the field back, the refusal stands and names the field.
    let err = get(token(false)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
    assert_eq!(err.field(), Some("credentials.box_tokens"));
}

/// An app grant (Box's Client Credentials Grant, a JWT assertion) builds its form anew for
/// each token request, keeps the token until shortly before `expires_in`, gets another after
/// a 401 or the expiry, and names its field when refused or when the form cannot be made.
#[tokio::test]
async fn an_app_grant_builds_its_form_per_request_and_caches_the_token() {
    use connector_core::http::OAuthToken;
    use connector_core::{Error, ErrorKind};
    use std::sync::atomic::{AtomicU32, Ordering};

    let server = MockServer::start().await;
    // The first token lasts 30 s (inside the renewal margin: renewed at once), the others an hour.
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(wiremock::matchers::body_string_contains("assertion=n1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "t1", "expires_in": 30, "token_type": "bearer"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(wiremock::matchers::body_string_contains(
            "box_subject_type=enterprise",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "t-next", "expires_in": 3600, "token_type": "bearer"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/data"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let token = OAuthToken::app_grant(
        "box",
        url(&server, "/token"),
        "credentials.box_jwt_config",
        move || {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(vec![
                (
                    "grant_type",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
                ),
                ("assertion", format!("n{n}")),
                ("box_subject_type", "enterprise".to_owned()),
            ])
        },
    );
    assert!(token.can_refresh());
    let http = HttpClient::builder("box").build().unwrap();
    // t1 expires within the margin: the next request gets a new token with a new form.
    assert!(matches!(token.bearer(&http).await.unwrap(), Auth::Bearer(t) if t.expose() == "t1"));
    assert!(
        matches!(token.bearer(&http).await.unwrap(), Auth::Bearer(t) if t.expose() == "t-next")
    );
    // An hour's token is kept.
    for _ in 0..3 {
        let resp = token
            .send(&http, |auth| {
                http.get(url(&server, "/data"))
                    .auth(auth, "credentials.box_jwt_config")
            })
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // Refused: Unauthenticated naming the field; a form that cannot be made names it too.
    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": "invalid_grant", "error_description": "Please check the 'sub' claim."})))
        .mount(&refusing)
        .await;
    let token = OAuthToken::app_grant(
        "box",
        url(&refusing, "/token"),
        "credentials.box_jwt_config",
        || {
            Ok(vec![(
                "grant_type",
                "urn:ietf:params:oauth:grant-type:jwt-bearer".to_owned(),
            )])
        },
    );
    let e = token.bearer(&http).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unauthenticated);
    assert_eq!(e.field(), Some("credentials.box_jwt_config"));
    assert!(e.to_string().contains("'sub' claim"), "{e}");
    let token = OAuthToken::app_grant(
        "box",
        url(&refusing, "/token"),
        "credentials.box_jwt_config",
        || Err(Error::new(ErrorKind::Config, "the key cannot sign")),
    );
    let e = token.bearer(&http).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(e.field(), Some("credentials.box_jwt_config"));
}

#[tokio::test]
async fn a_body_read_its_own_way_fails_as_json_does() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("[1, 2]", "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/html"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("<html>maintenance</html>", "text/html"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/latin1"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![b'"', 0xe9, b'"'], "text/plain"))
        .mount(&server)
        .await;
    let get = |p: &'static str| {
        let u = url(&server, p);
        async move { client().get(u).send().await.unwrap() }
    };
    // The owned text reaches the reader whole.
    let text = get("/ok")
        .await
        .into_json_with(Ok::<_, std::fmt::Error>)
        .unwrap();
    assert_eq!(text, "[1, 2]");
    // A reader's error, invalid UTF-8, and `json_error` all say what `json` says.
    let want = get("/html")
        .await
        .json::<Vec<u8>>()
        .unwrap_err()
        .to_string();
    assert!(
        want.contains("the response is not the expected JSON (text/html, 24 bytes)")
            && want.contains("/html"),
        "{want}"
    );
    let by_reader = get("/html")
        .await
        .into_json_with(|t| serde_json::from_str::<Vec<u8>>(&t))
        .unwrap_err();
    assert_eq!(by_reader.to_string(), want);
    assert_eq!(by_reader.kind(), ErrorKind::InvalidData);
    let resp = get("/html").await;
    let e = serde_json::from_slice::<Vec<u8>>(resp.body()).unwrap_err();
    assert_eq!(resp.json_error(e).to_string(), want);
    let latin1 = get("/latin1")
        .await
        .into_json_with(Ok::<_, std::fmt::Error>)
        .unwrap_err()
        .to_string();
    assert!(
        latin1.contains("the response is not the expected JSON (text/plain, 3 bytes)"),
        "{latin1}"
    );
}
