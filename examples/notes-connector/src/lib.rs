//! A third-party connector written against `connector-core` alone: the proof that the core
//! traits, the page pipeline and the conformance kit are enough to add a source outside this
//! repository's families. It passes the same conformance kit as every built-in connector
//! (`tests/conformance.rs`).
//!
//! The source is a small notes service with a JSON API:
//! - `GET {base_url}/notes?after={id}&limit={n}` lists notes by id:
//!   `{"notes": [{"id": "n1", "updated": "2026-01-01T00:00:00Z"}], "next": "n1"}`
//!   (`next` is absent on the last page);
//! - `GET {base_url}/notes/{id}` returns one note: `{"id", "title", "body", "updated"}`.
//!
//! The listing shows each note's `updated`, so an unchanged note costs no body request
//! (core's `pages::fetch_items` asks the fingerprint lookup once per page). The checkpoint is the
//! last listed id, the service's own cursor.
//!
//! ```
//! use connector_core::reexports::serde_json::json;
//! # fn main() -> connector_core::Result<()> {
//! let mut registry = connector_core::Registry::new();
//! connector_example_notes::register(&mut registry);
//! let config = json!({ "base_url": "https://notes.example.com/api/", "credentials": { "token": "t0ken" } });
//! let notes = registry.build("notes", config)?;
//! assert!(notes.capabilities().checkpoint && notes.capabilities().slim);
//! assert!(!format!("{notes:?}").contains("t0ken"));
//! // A typo is refused with the field named, like every built-in source.
//! let bad = json!({ "base_url": "https://notes.example.com/", "pagesize": 10, "credentials": { "token": "x" } });
//! assert!(registry.build("notes", bad).unwrap_err().to_string().contains("pagesize"));
//! # Ok(()) }
//! ```

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;

use connector_core::http::{Auth, HttpClient};
use connector_core::pages::{PendingItem, fetch_items};
use connector_core::prelude::*;
use connector_core::reexports::Url;
use connector_core::reexports::chrono::{DateTime, Utc};
use connector_core::reexports::schemars::JsonSchema;
use connector_core::reexports::serde_json::{self, Value};
use connector_core::{ConnectorConfig, FieldError, Registry};

/// The registry key.
pub const SOURCE: &str = "notes";

/// Notes fetched at once within a page.
const CONCURRENCY: usize = 4;

/// The connector's config, as a host stores it.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(crate = "connector_core::reexports::serde", deny_unknown_fields)]
#[schemars(crate = "connector_core::reexports::schemars")]
pub struct NotesConfig {
    /// The service's base URL (`https://notes.example.com/api/`).
    pub base_url: Url,
    /// Notes listed per request (1-500).
    #[serde(default = "default_page_size")]
    pub page_size: NonZeroU32,
    /// The credentials.
    pub credentials: NotesCredentials,
}

/// The credentials of [`NotesConfig`].
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
#[serde(crate = "connector_core::reexports::serde", deny_unknown_fields)]
#[schemars(crate = "connector_core::reexports::schemars")]
pub struct NotesCredentials {
    /// A bearer token.
    pub token: Secret,
}

fn default_page_size() -> NonZeroU32 {
    NonZeroU32::MIN.saturating_add(99)
}

impl ConnectorConfig for NotesConfig {
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if self.page_size.get() > 500 {
            problems.push(FieldError::new("page_size", "must be at most 500"));
        }
        if !matches!(self.base_url.scheme(), "http" | "https") {
            problems.push(FieldError::new("base_url", "must be an http or https URL"));
        }
        problems
    }
}

// Written by hand so the token never shows.
impl fmt::Debug for NotesConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotesConfig")
            .field("base_url", &self.base_url.as_str())
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// Registers the source, as every family crate does.
pub fn register(registry: &mut Registry) {
    registry.register::<NotesConfig, _>(SOURCE, "notes of a notes service (example)", |cfg| {
        Ok(Box::new(NotesConnector::new(cfg)?))
    });
}

/// Where to resume: after the last listed note id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(crate = "connector_core::reexports::serde")]
pub struct NotesCheckpoint {
    /// The id the next listing starts after; `None` before the first page.
    pub after: Option<String>,
    /// Set once the last page was delivered.
    #[serde(default)]
    pub done: bool,
}

/// One entry of a listing page (wire type).
#[derive(Deserialize)]
#[serde(crate = "connector_core::reexports::serde")]
struct Listed {
    id: String,
    updated: String,
}

/// A listing page (wire type).
#[derive(Deserialize)]
#[serde(crate = "connector_core::reexports::serde")]
struct Listing {
    notes: Vec<Value>,
    #[serde(default)]
    next: Option<String>,
}

/// One note (wire type).
#[derive(Deserialize)]
#[serde(crate = "connector_core::reexports::serde")]
struct Note {
    id: String,
    title: String,
    body: String,
    updated: String,
}

/// The notes connector.
pub struct NotesConnector {
    config: Arc<NotesConfig>,
    http: HttpClient,
}

impl NotesConnector {
    /// A connector over `config`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] for an invalid config; [`ErrorKind::Internal`] when the HTTP
    /// client cannot start.
    pub fn new(config: NotesConfig) -> Result<Self> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let http = HttpClient::builder(SOURCE)
            .auth(
                Auth::Bearer(config.credentials.token.clone()),
                "credentials.token",
            )
            .build()?;
        Ok(Self {
            config: Arc::new(config),
            http,
        })
    }

    fn pages(
        &self,
        from: NotesCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<NotesCheckpoint>>> {
        if from.done {
            return futures_empty();
        }
        let api = Api {
            http: self.http.with_context(&ctx),
            config: Arc::clone(&self.config),
        };
        let start = from.after;
        paginate(start, PageLimit::unbounded(), move |after| {
            let api = api.clone();
            let ctx = ctx.clone();
            async move {
                ctx.cancellation().check()?;
                let listing = api.list(after.as_deref()).await?;
                let next = listing.next.clone();
                let batch = api.convert(listing, window, &ctx).await?;
                let checkpoint = NotesCheckpoint {
                    after: next.clone(),
                    done: next.is_none(),
                };
                Ok(Page::new(
                    CheckpointedBatch::new(batch, checkpoint),
                    next.map(Some),
                ))
            }
        })
        .map_ok(|page| page.items)
        .boxed()
    }
}

fn futures_empty<T: Send + 'static>() -> BoxStream<'static, T> {
    connector_core::reexports::futures::stream::empty().boxed()
}

/// The requests, shared by the streams (cheap to clone).
#[derive(Clone)]
struct Api {
    http: HttpClient,
    config: Arc<NotesConfig>,
}

impl Api {
    fn url(&self, path: &str) -> Result<Url> {
        self.config.base_url.join(path).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("`base_url` cannot take `{path}`: {e}"),
            )
            .with_field("base_url")
        })
    }

    async fn list(&self, after: Option<&str>) -> Result<Listing> {
        let limit = self.config.page_size.to_string();
        let mut request = self
            .http
            .get(self.url("notes")?)
            .query([("limit", limit.as_str())]);
        if let Some(after) = after {
            request = request.query([("after", after)]);
        }
        request.send().await?.json()
    }

    async fn note(&self, id: &str) -> Result<Note> {
        let url = self.url(&format!("notes/{id}"))?;
        self.http.get(url).send().await?.json()
    }

    /// A listing page as a batch: malformed entries become failures naming them; notes outside
    /// the window are left out; the rest go through core's pipeline.
    async fn convert(
        &self,
        listing: Listing,
        window: Option<TimeWindow>,
        ctx: &SyncContext,
    ) -> Result<Batch> {
        let mut batch = Batch::default();
        let mut pending = Vec::new();
        for raw in listing.notes {
            let entry = serde_json::from_value::<Listed>(raw);
            let (listed, updated) = match entry {
                Ok(l) => match parse_time(&l.updated) {
                    Some(t) => (l, t),
                    None => {
                        let id = note_id(&l.id);
                        let msg =
                            format!("note `{id}` has an unreadable `updated` {:?}", l.updated);
                        batch.failures.push(Failure::new(
                            Some(note_id(&l.id)),
                            ErrorKind::InvalidData,
                            msg,
                        ));
                        continue;
                    }
                },
                Err(e) => {
                    let msg = format!("a listed note is malformed: {e}");
                    batch
                        .failures
                        .push(Failure::new(None, ErrorKind::InvalidData, msg));
                    continue;
                }
            };
            if window.is_some_and(|w| !w.contains(updated)) {
                continue;
            }
            pending.push(
                PendingItem::new(note_id(&listed.id), listed.id).with_version(&listed.updated),
            );
        }
        let fetched = fetch_items(ctx, pending, CONCURRENCY, |id: String| {
            let api = self.clone();
            async move { api.document(&id).await }
        })
        .await?;
        batch.append(fetched);
        Ok(batch)
    }

    async fn document(&self, id: &str) -> Result<Document> {
        let note = self.note(id).await?;
        let updated = parse_time(&note.updated).ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidData,
                format!(
                    "note `{}` has an unreadable `updated` {:?}",
                    note_id(id),
                    note.updated
                ),
            )
        })?;
        let text = format!("# {}\n\n{}", note.title, note.body);
        let mut doc = Document::text(note_id(&note.id), SOURCE, note.title, text)
            .with_updated_at(updated)
            .with_version(&note.updated);
        if let Ok(link) = self.url(&format!("notes/{}", note.id)) {
            doc = doc.with_link(link);
        }
        Ok(doc)
    }
}

fn note_id(id: &str) -> String {
    format!("notes:{id}")
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl fmt::Debug for NotesConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotesConnector")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for NotesConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "notes:{}", self.config.base_url)
    }
}

#[async_trait]
impl Connector for NotesConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .fingerprint_skip()
            .into()
    }

    async fn check(&self) -> Result<()> {
        let api = Api {
            http: self.http.clone(),
            config: Arc::clone(&self.config),
        };
        api.list(None).await.map(|_| ())
    }
}

impl CheckpointedConnector for NotesConnector {
    type Checkpoint = NotesCheckpoint;

    fn initial_checkpoint(&self) -> NotesCheckpoint {
        NotesCheckpoint::default()
    }

    fn load_from_checkpoint(
        &self,
        from: NotesCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<NotesCheckpoint>>> {
        self.pages(from, window, ctx)
    }
}

impl SlimConnector for NotesConnector {
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let api = Api {
            http: self.http.with_context(&ctx),
            config: Arc::clone(&self.config),
        };
        paginate(None::<String>, PageLimit::unbounded(), move |after| {
            let api = api.clone();
            async move {
                let listing = api.list(after.as_deref()).await?;
                let ids = listing
                    .notes
                    .iter()
                    .filter_map(|n| n.get("id").and_then(|id| id.as_str()))
                    .map(|id| SlimDocument::new(note_id(id)))
                    .collect();
                Ok(Page::new(ids, listing.next.map(Some)))
            }
        })
        .map_ok(|page| page.items)
        .boxed()
    }
}
