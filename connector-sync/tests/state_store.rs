//! The conformance kit's state-store checks on both backends: SQLite (a file) and a real
//! PostgreSQL server (started by the tests, see `support/postgres.rs`).

mod support;

use std::sync::Arc;

use connector_core::state::StateStore;
use connector_core::testkit::StoreFixture;
use connector_sync::SqlStateStore;

/// A SQLite file of its own.
struct Sqlite {
    _dir: tempfile::TempDir,
    url: String,
}

#[async_trait::async_trait]
impl StoreFixture for Sqlite {
    async fn setup() -> Self {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("a temporary folder: {e}"),
        };
        let url = format!("sqlite:{}", dir.path().join("sync.db").display());
        Self { _dir: dir, url }
    }

    async fn open(&self) -> Arc<dyn StateStore> {
        match SqlStateStore::open(&self.url, "conformance").await {
            Ok(store) => Arc::new(store),
            Err(e) => panic!("the SQLite store opens: {e}"),
        }
    }
}

/// A connector id of its own on the shared PostgreSQL server: also checks that stores of
/// different connectors in one database do not see each other's rows.
struct Postgres {
    connector_id: String,
}

#[async_trait::async_trait]
impl StoreFixture for Postgres {
    async fn setup() -> Self {
        Self {
            connector_id: support::unique_id("conformance"),
        }
    }

    async fn open(&self) -> Arc<dyn StateStore> {
        match SqlStateStore::open(support::postgres::url(), self.connector_id.clone()).await {
            Ok(store) => Arc::new(store),
            Err(e) => panic!("the PostgreSQL store opens: {e}"),
        }
    }
}

connector_core::state_store_tests!(sqlite, Sqlite);
connector_core::state_store_tests!(postgres, Postgres);

#[test]
fn sqlite_finds_children_by_parent() {
    connector_core::testkit::run_check(Sqlite::setup(), |f| async move {
        connector_core::testkit::store_finds_children_by_parent(&f).await;
    });
}

#[test]
fn postgres_finds_children_by_parent() {
    connector_core::testkit::run_check(Postgres::setup(), |f| async move {
        connector_core::testkit::store_finds_children_by_parent(&f).await;
    });
}
