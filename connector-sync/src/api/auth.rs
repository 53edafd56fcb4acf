//! API keys: bearer tokens created and revoked from the CLI, stored as SHA-256 hashes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use chrono::{DateTime, Utc};
use connector_core::{Error, ErrorKind, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::ApiState;
use super::error::ApiError;
use crate::db::SyncDb;
use crate::store::on_pool;

/// What every token starts with, so a leaked one is recognisable (secret scanners).
const TOKEN_PREFIX: &str = "cks_";

/// A key as listed: never its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyRecord {
    /// Its id: the public part of the token (`cks_ID_…`).
    pub id: String,
    /// A name for people.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked (`None`: it is valid).
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key just created, with its token: shown once, never stored.
#[derive(Clone)]
pub struct NewApiKey {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The bearer token (`cks_ID_SECRET`): give it to the client; only its hash is kept.
    pub token: String,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("token", &"***")
            .finish()
    }
}

/// The API keys of a sync database.
///
/// A token is `cks_` + 8 hex digits of id + `_` + 256 random bits in base64url. Only its
/// SHA-256 is stored (a fast hash is enough for random tokens: there is no password to guess,
/// and a slow one such as argon2 would cost every request tens of milliseconds for nothing).
/// Verified hashes are cached for a few seconds ([`ApiKeys::cache_ttl`]), so a revoked key
/// stops working within that time, and a request costs no query.
#[derive(Clone)]
pub struct ApiKeys {
    db: SyncDb,
    cache: Arc<Mutex<HashMap<String, (String, Instant)>>>,
    ttl: Duration,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("db", &self.db)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl ApiKeys {
    /// The keys in `db`.
    pub fn new(db: SyncDb) -> Self {
        Self {
            db,
            cache: Arc::default(),
            ttl: Duration::from_secs(5),
        }
    }

    /// How long a verified key is trusted without asking the database again (5 s by
    /// default): the longest a revoked key keeps working.
    #[must_use]
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Creates a key named `name`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an empty name; [`ErrorKind::State`] when the database fails.
    pub async fn create(&self, name: &str) -> Result<NewApiKey> {
        if name.trim().is_empty() {
            return Err(Error::new(ErrorKind::Config, "an API key needs a name").with_field("name"));
        }
        let mut id = [0u8; 4];
        OsRng.fill_bytes(&mut id);
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        let token = format!(
            "{TOKEN_PREFIX}{id}_{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        );
        let db = &self.db;
        on_pool!(db, pool => {
            sqlx::query(
                "INSERT INTO api_key (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&id)
            .bind(name)
            .bind(hash(&token))
            .bind(Utc::now())
            .execute(pool)
            .await
            .map_err(|e| db.error("cannot create an API key in", &e))?;
        });
        Ok(NewApiKey {
            id,
            name: name.to_owned(),
            token,
        })
    }

    /// Revokes key `id`: `false` when there is no such valid key.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn revoke(&self, id: &str) -> Result<bool> {
        let db = &self.db;
        let n = on_pool!(db, pool => {
            sqlx::query("UPDATE api_key SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id)
                .bind(Utc::now())
                .execute(pool)
                .await
                .map_err(|e| db.error("cannot revoke an API key in", &e))?
                .rows_affected()
        });
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, (key, _)| key != id);
        }
        Ok(n > 0)
    }

    /// Every key, oldest first, without tokens.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn list(&self) -> Result<Vec<ApiKeyRecord>> {
        let db = &self.db;
        type Row = (String, String, DateTime<Utc>, Option<DateTime<Utc>>);
        let rows: Vec<Row> = on_pool!(db, pool => {
            sqlx::query_as("SELECT id, name, created_at, revoked_at FROM api_key ORDER BY created_at, id")
                .fetch_all(pool)
                .await
                .map_err(|e| db.error("cannot list the API keys in", &e))?
        });
        Ok(rows
            .into_iter()
            .map(|(id, name, created_at, revoked_at)| ApiKeyRecord {
                id,
                name,
                created_at,
                revoked_at,
            })
            .collect())
    }

    /// The id of the valid key whose token is `token`, if any.
    ///
    /// # Errors
    /// [`ErrorKind::State`] when the database fails.
    pub async fn verify(&self, token: &str) -> Result<Option<String>> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let hashed = hash(token);
        if let Ok(cache) = self.cache.lock()
            && let Some((id, at)) = cache.get(&hashed)
            && at.elapsed() < self.ttl
        {
            return Ok(Some(id.clone()));
        }
        let db = &self.db;
        let row: Option<(String,)> = on_pool!(db, pool => {
            sqlx::query_as("SELECT id FROM api_key WHERE token_hash = $1 AND revoked_at IS NULL")
                .bind(&hashed)
                .fetch_optional(pool)
                .await
                .map_err(|e| db.error("cannot read the API keys of", &e))?
        });
        if let Ok(mut cache) = self.cache.lock() {
            match &row {
                Some((id,)) => {
                    cache.insert(hashed, (id.clone(), Instant::now()));
                }
                None => {
                    cache.remove(&hashed);
                }
            }
        }
        Ok(row.map(|(id,)| id))
    }
}

/// The id of the key a request was authenticated with (a request extension, for the logs).
#[derive(Debug, Clone)]
pub(crate) struct KeyId(pub(crate) String);

/// Lets a request through only with `Authorization: Bearer TOKEN` of a valid key.
pub(crate) async fn require_key(
    State(state): State<Arc<ApiState>>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    let Some(token) = token else {
        return ApiError::unauthorized(
            "this endpoint needs an API key: `Authorization: Bearer TOKEN` (create one with `connectors api-key create`)",
        )
        .into_response();
    };
    match state.keys.verify(&token).await {
        Ok(Some(id)) => {
            req.extensions_mut().insert(KeyId(id.clone()));
            let mut response = next.run(req).await;
            response.extensions_mut().insert(KeyId(id));
            response
        }
        Ok(None) => {
            ApiError::unauthorized("the API key is not valid (unknown or revoked)").into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}
