//! What the wiremock fakes of the record APIs (`airtable_common`, `dingtalk_ai_table_common`,
//! `salesforce_common`) and their tests share: a server with one fake mounted on every path and
//! its state behind a lock ([`Fake`]), a config with the test's fields merged in, a connector of
//! the registry, the tests' lookups into a batch, a sync into memory, and the conformance kit
//! with core's HTTP checks over the standard fixture and one with a broken record
//! ([`record_conformance!`]). Each fake keeps its own routes, state and constants.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use connector_core::sink::MemorySink;
use connector_core::state::MemoryStateStore;
use connector_core::sync::{SyncMode, SyncReport};
use connector_core::testkit::sync_at;
use connector_core::{Batch, Connector, Document, Registry};
use serde_json::Value;
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Respond};

/// A fake API: it answers every request from its state.
pub trait Wire: Respond + Clone + Default + 'static {
    type State;
    /// The state the fake answers from.
    fn state(&self) -> &Arc<Mutex<Self::State>>;
    /// The standard fixture of a fake served at `uri` (signed links point back at it).
    fn standard(uri: &str) -> Self::State;
}

/// A wiremock server with the fake `wire` answering every path.
pub struct Fake<W> {
    pub server: MockServer,
    pub wire: W,
}

impl<W: Wire> Fake<W> {
    /// The standard fixture, changed by `edit` before it serves.
    pub async fn start(edit: impl FnOnce(&mut W::State)) -> Self {
        let server = MockServer::start().await;
        let wire = W::default();
        let mut st = W::standard(&server.uri());
        edit(&mut st);
        *wire.state().lock().unwrap() = st;
        Mock::given(path_regex("^/"))
            .respond_with(wire.clone())
            .mount(&server)
            .await;
        Self { server, wire }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// `f` over the fake's state (to change it, or to read what it saw).
    pub fn with<T>(&self, f: impl FnOnce(&mut W::State) -> T) -> T {
        f(&mut self.wire.state().lock().unwrap())
    }
}

/// `config` with the fields of `extra` set over it.
pub fn merged(mut config: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        config[k] = v;
    }
    config
}

/// The connector `kind` of connector-misc's registry over `config`.
pub fn build(kind: &str, config: Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    registry.build(kind, config).unwrap()
}

/// The document `id` of `batch`; the test fails naming the ids there are when it is not there.
pub fn doc<'a>(batch: &'a Batch, id: &str) -> &'a Document {
    batch
        .documents
        .iter()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("no document {id} among {:?}", ids(batch)))
}

/// The ids of the batch's documents, sorted.
pub fn ids(batch: &Batch) -> Vec<String> {
    let mut ids: Vec<String> = batch.documents.iter().map(|d| d.id.clone()).collect();
    ids.sort();
    ids
}

/// `v`, sorted.
pub fn sorted<S: AsRef<str>>(v: &[S]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.as_ref().to_owned()).collect();
    v.sort();
    v
}

/// A sync of `c` in `mode` over `store`, starting now, into a fresh memory sink (core's
/// [`sync_at`]).
pub async fn sync(
    c: &Arc<dyn Connector>,
    store: &MemoryStateStore,
    mode: SyncMode,
) -> (MemorySink, SyncReport) {
    sync_at(c, store, mode, chrono::Utc::now()).await
}

/// The conformance kit (`conformance_tests!` named `name`) and core's four HTTP checks over a
/// record fake: `Fake` and `build(uri, extra)` in scope; the malformed fixture is the standard
/// one changed by `broken` (a closure over the state), whose failure names the document
/// `malformed`; `secret` must never leak; a poll of `window` (from, to) delivers `in_window`.
#[allow(unused_macros)] // The conformance files use it; the other tests share the module.
macro_rules! record_conformance {
    (
        name: $name:ident,
        broken: $broken:expr,
        malformed: $malformed:expr,
        secret: $secret:expr,
        window: ($from:expr, $to:expr),
        in_window: [$($id:expr),* $(,)?] $(,)?
    ) => {
        struct RecordFixture {
            fake: Fake,
            malformed: Fake,
        }

        #[async_trait::async_trait]
        impl connector_core::testkit::Fixture for RecordFixture {
            async fn setup() -> Self {
                Self {
                    fake: Fake::start(|_| {}).await,
                    malformed: Fake::start($broken).await,
                }
            }

            fn connector(&self) -> std::sync::Arc<dyn connector_core::Connector> {
                build(&self.fake.uri(), serde_json::json!({}))
            }

            fn secret(&self) -> Option<String> {
                Some($secret.to_owned())
            }

            fn malformed(&self) -> (std::sync::Arc<dyn connector_core::Connector>, Option<String>) {
                (build(&self.malformed.uri(), serde_json::json!({})), Some($malformed))
            }

            fn window(&self) -> Option<(connector_core::TimeWindow, Vec<String>)> {
                let window = connector_core::TimeWindow::new($from, $to).ok()?;
                Some((window, vec![$($id),*]))
            }
        }

        connector_core::conformance_tests!($name, RecordFixture);

        connector_core::http_checks! {
            fake: Fake::start(|_| {}).await,
            server: |fake| &fake.server,
            build: |uri| build(uri, serde_json::json!({})),
            checks: [
                retry_after_is_waited_out,
                server_error_storm_is_survived(3),
                unauthorized_fails_fast,
                secret_never_leaks($secret),
            ],
        }
    };
}

#[allow(unused_imports)]
pub(crate) use record_conformance;
