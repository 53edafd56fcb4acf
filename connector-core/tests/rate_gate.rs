//! The HTTP layer's [`RateGate`] hook against wiremock: asked before every attempt with a key
//! that hides the credential, given the 429's wait, taken from the sync context, and its waits
//! counted; a gate that fails fails the request.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test helpers: a broken setup should fail loudly.
#![cfg(feature = "http")]

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use connector_core::http::{Auth, HttpClient, RateGate};
use connector_core::{Error, ErrorKind, Result, Secret, SyncContext};
use url::Url;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "tok-GATE-SECRET-42";

/// Records what it is asked and answers a fixed wait (or fails).
#[derive(Debug, Default)]
struct Recorder {
    acquired: Mutex<Vec<(String, Duration)>>,
    deferred: Mutex<Vec<(String, Duration)>>,
    retried: Mutex<Vec<(String, Duration, bool)>>,
    wait: Duration,
    broken: bool,
}

#[async_trait]
impl RateGate for Recorder {
    async fn acquire(&self, key: &str, min_interval: Duration) -> Result<Duration> {
        if self.broken {
            return Err(Error::new(ErrorKind::State, "the database is down"));
        }
        self.acquired
            .lock()
            .unwrap()
            .push((key.to_owned(), min_interval));
        Ok(self.wait)
    }

    async fn defer(&self, key: &str, wait: Duration) -> Result<()> {
        self.deferred.lock().unwrap().push((key.to_owned(), wait));
        Ok(())
    }

    fn retrying(&self, key: &str, _permits: NonZeroU32, wait: Duration, throttled: bool) {
        self.retried
            .lock()
            .unwrap()
            .push((key.to_owned(), wait, throttled));
    }
}

fn builder(token: &str) -> connector_core::http::HttpClientBuilder {
    HttpClient::builder("test")
        .auth(Auth::Bearer(Secret::new(token)), "credentials.token")
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .rate_limit(NonZeroU32::new(4).unwrap(), Duration::from_secs(1))
}

fn url(server: &MockServer) -> Url {
    Url::parse(&format!("{}/a", server.uri())).unwrap()
}

#[tokio::test]
async fn every_attempt_asks_the_gate_with_a_key_that_hides_the_credential() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0.05"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let gate = Arc::new(Recorder {
        wait: Duration::from_millis(30),
        ..Recorder::default()
    });
    let client = builder(TOKEN).rate_gate(gate.clone()).build().unwrap();
    let ctx = SyncContext::new();
    let started = std::time::Instant::now();
    client
        .with_context(&ctx)
        .get(url(&server))
        .send()
        .await
        .unwrap();
    // Two attempts (the 429 and the retry), each after the gate's 30 ms.
    assert!(started.elapsed() >= Duration::from_millis(60 + 50));
    assert_eq!(ctx.stats().rate_limit_wait(), Duration::from_millis(110));

    let acquired = gate.acquired.lock().unwrap().clone();
    assert_eq!(acquired.len(), 2);
    let key = &acquired[0].0;
    assert_eq!(
        acquired[0].1,
        Duration::from_millis(250),
        "1 s / 4 requests"
    );
    assert!(
        key.starts_with("test:") && key.len() == "test:".len() + 32,
        "{key}"
    );
    assert!(!key.contains(TOKEN) && !key.contains("GATE"));
    assert_eq!(client.rate_gate_key(&url(&server)), *key);
    // The 429's wait went to the gate, under the same key.
    let deferred = gate.deferred.lock().unwrap().clone();
    assert_eq!(deferred, [(key.clone(), Duration::from_millis(50))]);
    // The gate is told the second slot is the 429's retry, with the wait slept before it,
    // and not told anything about the first try.
    let retried = gate.retried.lock().unwrap().clone();
    assert_eq!(retried, [(key.clone(), Duration::from_millis(50), true)]);

    // One credential is one key, in any client; another credential is another.
    let same = builder(TOKEN).build().unwrap().rate_gate_key(&url(&server));
    let other = builder("another-token").build().unwrap();
    assert_eq!(same, *key);
    assert_ne!(other.rate_gate_key(&url(&server)), *key);
    // Without credentials the key is the host; an explicit key replaces the hash.
    let anonymous = HttpClient::builder("test").build().unwrap();
    let host = url(&server);
    assert_eq!(
        anonymous.rate_gate_key(&host),
        format!("test@127.0.0.1:{}", host.port().unwrap())
    );
    let named = builder(TOKEN).rate_gate_key("account-7").build().unwrap();
    assert_eq!(named.rate_gate_key(&host), "test:account-7");
}

#[tokio::test]
async fn the_sync_context_lends_its_gate_and_a_client_without_one_asks_none() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let gate = Arc::new(Recorder::default());
    let client = builder(TOKEN).build().unwrap();
    client.get(url(&server)).send().await.unwrap();
    let ctx = SyncContext::new();
    client
        .with_context(&ctx)
        .get(url(&server))
        .send()
        .await
        .unwrap();
    assert!(gate.acquired.lock().unwrap().is_empty());

    let ctx = SyncContext::new().with_rate_gate(gate.clone());
    client
        .with_context(&ctx)
        .get(url(&server))
        .send()
        .await
        .unwrap();
    assert_eq!(gate.acquired.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_gate_that_fails_fails_the_request_before_it_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let gate = Arc::new(Recorder {
        broken: true,
        ..Recorder::default()
    });
    let client = builder(TOKEN).rate_gate(gate).build().unwrap();
    let err = client.get(url(&server)).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::State);
    assert!(err.to_string().contains("shared rate limiter"), "{err}");
    assert!(err.to_string().contains("the database is down"), "{err}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// A 5xx's retry is told to the gate too, not as throttled; the request's first try never is.
#[tokio::test]
async fn a_retry_is_told_to_the_gate_before_its_slot() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let gate = Arc::new(Recorder::default());
    let client = builder(TOKEN).rate_gate(gate.clone()).build().unwrap();
    client.get(url(&server)).send().await.unwrap();
    client.get(url(&server)).send().await.unwrap();
    // Four slots: three tries of the first request, one of the second.
    assert_eq!(gate.acquired.lock().unwrap().len(), 4);
    let retried = gate.retried.lock().unwrap().clone();
    assert_eq!(retried.len(), 2, "{retried:?}");
    assert!(
        retried
            .iter()
            .all(|(_, wait, throttled)| !throttled && *wait <= Duration::from_millis(5))
    );
}
