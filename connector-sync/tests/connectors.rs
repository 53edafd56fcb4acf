//! Connector records: CRUD on both backends, configs validated by the registry, secrets sealed
//! at rest (a dump of the SQLite file shows none), a wrong or missing key a clear error.

mod support;

use std::sync::Arc;

use connector_core::{ErrorKind, Registry};
use connector_sync::{
    ConnectorStatus, ConnectorStore, ConnectorUpdate, NewConnector, Sealer, SyncDb,
};
use serde_json::json;

const TOKEN: &str = "tok-4f9a1c77e2b3-secret";

fn registry() -> Arc<Registry> {
    let mut registry = Registry::new();
    connector_example_notes::register(&mut registry);
    Arc::new(registry)
}

fn sealer(source: &str) -> Sealer {
    match Sealer::from_base64(&Sealer::generate_key(), source) {
        Ok(s) => s,
        Err(e) => panic!("a generated key: {e}"),
    }
}

fn notes(token: &str) -> NewConnector {
    let mut new = NewConnector::new(
        "team notes",
        "notes",
        json!({
            "base_url": "https://notes.example.com/api/",
            "credentials": { "token": token },
        }),
    );
    new.refresh_freq = 30;
    new.prune_freq = 1440;
    new
}

async fn ok<T>(what: &str, r: connector_core::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// Create, get, list, update (a masked secret kept, a new one sealed), config, delete.
async fn crud(db: SyncDb) {
    let store = ConnectorStore::new(db, registry()).with_sealer(sealer("test key"));
    let created = ok("create", store.create(notes(TOKEN)).await).await;
    assert_eq!(created.config["credentials"]["token"], "***");
    assert_eq!(created.status, ConnectorStatus::Active);
    assert!(
        created
            .next_sync_at
            .is_some_and(|t| t <= chrono::Utc::now())
    );
    assert!(
        created
            .next_prune_at
            .is_some_and(|t| t > chrono::Utc::now())
    );
    let config = ok("config", store.config(&created.id).await).await;
    assert_eq!(config["credentials"]["token"], TOKEN);
    assert!(
        ok("list", store.list().await)
            .await
            .iter()
            .any(|c| c.id == created.id)
    );

    // The config as shown, sent back with a changed page size: the secret is kept.
    let mut shown = created.config.clone();
    shown["page_size"] = json!(50);
    let update = ConnectorUpdate {
        config: Some(shown),
        status: Some(ConnectorStatus::Paused),
        refresh_freq: Some(0),
        ..ConnectorUpdate::default()
    };
    let updated = ok("update", store.update(&created.id, update).await).await;
    assert_eq!(updated.status, ConnectorStatus::Paused);
    assert_eq!(updated.next_sync_at, None, "manual now");
    let config = ok("config", store.config(&created.id).await).await;
    assert_eq!(
        config["credentials"]["token"], TOKEN,
        "the masked secret is kept"
    );
    assert_eq!(config["page_size"], 50);

    // An invalid config is refused with its field path, and nothing changes.
    let bad = ConnectorUpdate {
        config: Some(json!({ "base_url": "ftp://x/", "credentials": { "token": "abcd" } })),
        ..ConnectorUpdate::default()
    };
    let err = store.update(&created.id, bad).await.err();
    assert_eq!(
        err.as_ref().map(|e| e.kind()),
        Some(ErrorKind::Config),
        "{err:?}"
    );
    let err = store
        .create(NewConnector::new("x", "no-such-source", json!({})))
        .await
        .err()
        .map(|e| e.kind());
    assert_eq!(err, Some(ErrorKind::Config));

    assert!(ok("delete", store.delete(&created.id).await).await);
    assert!(ok("get", store.get(&created.id).await).await.is_none());
    assert!(!ok("delete again", store.delete(&created.id).await).await);
    let err = store.config(&created.id).await.err().map(|e| e.kind());
    assert_eq!(err, Some(ErrorKind::NotFound));
}

#[tokio::test]
async fn crud_on_sqlite() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let url = format!("sqlite:{}", dir.path().join("sync.db").display());
    crud(ok("connect", SyncDb::connect(&url).await).await).await;
}

#[tokio::test]
async fn crud_on_postgres() {
    let db = ok("connect", SyncDb::connect(support::postgres::url()).await).await;
    crud(db).await;
}

#[tokio::test]
async fn a_dump_of_the_sqlite_file_shows_no_secret() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("sync.db");
    let url = format!("sqlite:{}", path.display());
    let db = ok("connect", SyncDb::connect(&url).await).await;
    let store = ConnectorStore::new(db.clone(), registry()).with_sealer(sealer("test key"));
    let created = ok("create", store.create(notes(TOKEN)).await).await;
    // Updated with a new secret too: neither the old nor the new one shows.
    let second = "tok-0d2e55b1aa90-second";
    let mut shown = created.config.clone();
    shown["credentials"]["token"] = json!(second);
    let update = ConnectorUpdate {
        config: Some(shown),
        ..ConnectorUpdate::default()
    };
    ok("update", store.update(&created.id, update).await).await;
    db.close().await;

    let mut bytes = Vec::new();
    for file in ["sync.db", "sync.db-wal", "sync.db-shm"] {
        if let Ok(b) = std::fs::read(dir.path().join(file)) {
            bytes.extend(b);
        }
    }
    assert!(bytes.len() > 4096, "the database was written");
    for secret in [TOKEN, second] {
        let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "the secret {secret} is in the SQLite file");
    }
    assert!(
        bytes.windows(18).any(|w| w == b"notes.example.com/"),
        "the rest of the config is stored in the clear"
    );
}

#[tokio::test]
async fn a_wrong_key_or_no_key_is_a_clear_error() {
    let db = ok("connect", SyncDb::connect("sqlite::memory:").await).await;
    let store = ConnectorStore::new(db.clone(), registry()).with_sealer(sealer("the right key"));
    let created = ok("create", store.create(notes(TOKEN)).await).await;

    let wrong = ConnectorStore::new(db.clone(), registry())
        .with_sealer(sealer("key file /etc/connectors/wrong.key"));
    let err = wrong.config(&created.id).await.err();
    let message = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Config));
    assert!(message.contains("/etc/connectors/wrong.key"), "{message}");
    assert!(!message.contains(TOKEN), "{message}");

    let keyless = ConnectorStore::new(db, registry());
    let err = keyless
        .config(&created.id)
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("CONNECTORS_SECRET_KEY")),
        "{err:?}"
    );
    let err = keyless.create(notes(TOKEN)).await.err();
    let message = err.as_ref().map(ToString::to_string).unwrap_or_default();
    assert!(message.contains("CONNECTORS_SECRET_KEY"), "{message}");
    assert!(!message.contains(TOKEN), "{message}");
}

/// A `refresh_freq` or `prune_freq` past a year (`u32::MAX` minutes put the next run past year
/// 9999: SQLite's text sorted it before every date, so the connector was due at every tick,
/// and the scheduler panicked past chrono's last date) is refused naming its field, on create
/// and on update; a year is accepted (review56 M4).
#[tokio::test]
async fn a_frequency_past_a_year_is_refused_naming_its_field() {
    use connector_sync::MAX_FREQ_MINUTES;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!("sqlite:{}", dir.path().join("sync.db").display());
    let db = ok("connect", SyncDb::connect(&url).await).await;
    let store = ConnectorStore::new(db, registry()).with_sealer(sealer("test key"));
    for (field, refresh, prune) in [
        ("refresh_freq", u32::MAX, 0),
        ("prune_freq", 30, MAX_FREQ_MINUTES + 1),
    ] {
        let mut new = notes(TOKEN);
        new.refresh_freq = refresh;
        new.prune_freq = prune;
        let e = store.create(new).await.expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert_eq!(e.field(), Some(field), "{e}");
    }
    let mut new = notes(TOKEN);
    new.prune_freq = MAX_FREQ_MINUTES;
    let created = ok("a year", store.create(new).await).await;
    let year = chrono::Utc::now() + chrono::Duration::days(365);
    assert!(
        created
            .next_prune_at
            .is_some_and(|t| (t - year).num_seconds().abs() < 60),
        "{created:?}"
    );
    let update = ConnectorUpdate {
        refresh_freq: Some(u32::MAX),
        ..ConnectorUpdate::default()
    };
    let e = store
        .update(&created.id, update)
        .await
        .expect_err("refused");
    assert_eq!(e.field(), Some("refresh_freq"), "{e}");
    let kept = ok("get", store.get(&created.id).await)
        .await
        .expect("the connector");
    assert_eq!(kept.refresh_freq, 30);
}
