//! [`MemoryConnector`]: an in-memory connector with every capability, for tests of the batch
//! loop, of sinks and stores, and as the reference fixture of the conformance kit.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::connector::{CheckpointedConnector, Connector, RefetchConnector, SlimConnector};
use crate::context::SyncContext;
use crate::document::{Batch, CheckpointedBatch, Document, Failure, SlimDocument};
use crate::error::{Error, ErrorKind, Result};
use crate::roles::Roles;
use crate::secret::Secret;
use crate::window::TimeWindow;

/// The source key of [`MemoryConnector`].
pub const SOURCE: &str = "memory";

/// One item of a [`MemoryConnector`].
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryItem {
    /// Its id.
    pub id: String,
    /// Its text.
    pub text: String,
    /// Its modification time.
    pub updated_at: DateTime<Utc>,
    /// When set, the item cannot be produced and becomes a [`Failure`].
    pub malformed: bool,
    /// When set, the item is of a kind the connector cannot read and becomes an
    /// [`Unsupported`](ErrorKind::Unsupported) [`Failure`].
    pub unsupported: bool,
    /// Its version, bumped by [`MemoryConnector::upsert`].
    pub version: u64,
}

impl MemoryItem {
    /// A well-formed item.
    pub fn new(id: impl Into<String>, text: impl Into<String>, updated_at: DateTime<Utc>) -> Self {
        Self {
            id: id.into(),
            text: text.into(),
            updated_at,
            malformed: false,
            unsupported: false,
            version: 1,
        }
    }

    /// Marks the item malformed.
    #[must_use]
    pub fn malformed(mut self) -> Self {
        self.malformed = true;
        self
    }

    /// Marks the item unreadable by the connector (an encrypted library, a format without a
    /// reader).
    #[must_use]
    pub fn unsupported(mut self) -> Self {
        self.unsupported = true;
        self
    }
}

/// Where a [`MemoryConnector`] resumes: after this id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryCheckpoint {
    /// The last id of the last page delivered.
    pub after: Option<String>,
}

#[derive(Debug)]
struct Inner {
    items: RwLock<Vec<MemoryItem>>,
    page_size: usize,
    secret: Secret,
    fail_listing: AtomicBool,
    stall: AtomicBool,
    fail_check: AtomicBool,
    bodies_read: AtomicU64,
    min_overlap_secs: AtomicU64,
}

/// An in-memory source with every capability: load, poll, checkpoint, slim, refetch and
/// fingerprint skip (version `v{version}`). Items are served in id order, `page_size` per page.
/// Clones share the items, so a test can change the source between runs.
#[derive(Clone)]
pub struct MemoryConnector {
    inner: Arc<Inner>,
}

impl MemoryConnector {
    /// A source with these items, served `page_size` per page.
    pub fn new(items: Vec<MemoryItem>, page_size: usize) -> Self {
        let mut items = items;
        items.sort_by(|a, b| a.id.cmp(&b.id));
        Self {
            inner: Arc::new(Inner {
                items: RwLock::new(items),
                page_size: page_size.max(1),
                secret: Secret::new("memory-connector-secret-7f3a9c"),
                fail_listing: AtomicBool::new(false),
                stall: AtomicBool::new(false),
                fail_check: AtomicBool::new(false),
                bodies_read: AtomicU64::new(0),
                min_overlap_secs: AtomicU64::new(0),
            }),
        }
    }

    /// `n` items `doc-00000 ...` updated one minute apart from `start`.
    pub fn numbered(n: usize, page_size: usize, start: DateTime<Utc>) -> Self {
        let items = (0..n)
            .map(|i| {
                MemoryItem::new(
                    format!("doc-{i:05}"),
                    format!("body of document {i}"),
                    start + chrono::Duration::minutes(i as i64),
                )
            })
            .collect();
        Self::new(items, page_size)
    }

    /// Uses `secret` as the credential that must never be printed.
    #[must_use]
    pub fn with_secret(self, secret: &str) -> Self {
        let inner = Inner {
            items: RwLock::new(self.items()),
            page_size: self.inner.page_size,
            secret: Secret::new(secret),
            fail_listing: AtomicBool::new(false),
            stall: AtomicBool::new(false),
            fail_check: AtomicBool::new(false),
            bodies_read: AtomicU64::new(0),
            min_overlap_secs: AtomicU64::new(self.inner.min_overlap_secs.load(Ordering::SeqCst)),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The credential.
    pub fn secret(&self) -> &Secret {
        &self.inner.secret
    }

    /// The items now.
    pub fn items(&self) -> Vec<MemoryItem> {
        self.inner
            .items
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Adds an item, or replaces the one with its id and bumps the version.
    pub fn upsert(&self, mut item: MemoryItem) {
        let mut items = self
            .inner
            .items
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match items.binary_search_by(|i| i.id.cmp(&item.id)) {
            Ok(pos) => {
                item.version = items[pos].version + 1;
                items[pos] = item;
            }
            Err(pos) => items.insert(pos, item),
        }
    }

    /// Removes an item.
    pub fn remove(&self, id: &str) {
        self.inner
            .items
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|i| i.id != id);
    }

    /// Makes `list_ids` fail halfway (after its first page).
    pub fn set_fail_listing(&self, on: bool) {
        self.inner.fail_listing.store(on, Ordering::SeqCst);
    }

    /// Makes every stream hang forever after its first page.
    pub fn set_stall(&self, on: bool) {
        self.inner.stall.store(on, Ordering::SeqCst);
    }

    /// Makes `check()` fail as if the credential were wrong (with the secret in the cause the
    /// service might echo, to test that it is not printed).
    pub fn set_fail_check(&self, on: bool) {
        self.inner.fail_check.store(on, Ordering::SeqCst);
    }

    /// Declares `overlap` as the source's [`Connector::min_overlap`] (whole seconds).
    pub fn set_min_overlap(&self, overlap: std::time::Duration) {
        self.inner
            .min_overlap_secs
            .store(overlap.as_secs(), Ordering::SeqCst);
    }

    /// How many bodies the connector has produced (documents built), over all streams.
    pub fn bodies_read(&self) -> u64 {
        self.inner.bodies_read.load(Ordering::SeqCst)
    }

    fn page_stream(
        &self,
        after: Option<String>,
        window: Option<TimeWindow>,
        ctx: SyncContext,
        only: Option<HashSet<String>>,
    ) -> BoxStream<'static, Result<CheckpointedBatch<MemoryCheckpoint>>> {
        let inner = self.inner.clone();
        async_stream::try_stream! {
            let items: Vec<MemoryItem> = inner
                .items
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
                .filter(|i| after.as_ref().is_none_or(|a| i.id > *a))
                .filter(|i| window.is_none_or(|w| w.contains(i.updated_at)))
                .filter(|i| only.as_ref().is_none_or(|o| o.contains(&i.id)))
                .cloned()
                .collect();
            let mut first = true;
            for chunk in items.chunks(inner.page_size) {
                if !first && inner.stall.load(Ordering::SeqCst) {
                    futures::future::pending::<()>().await;
                }
                first = false;
                if ctx.is_cancelled() {
                    break;
                }
                let ids: Vec<String> = chunk.iter().map(|i| i.id.clone()).collect();
                let known = ctx.fingerprints().fingerprints(&ids).await?;
                let mut batch = Batch::default();
                for item in chunk {
                    let version = format!("v{}", item.version);
                    if known.get(&item.id).is_some_and(|f| *f == Document::version_fingerprint(&version)) {
                        batch.unchanged.push(item.id.clone());
                        continue;
                    }
                    if item.unsupported {
                        batch.failures.push(Failure::new(Some(item.id.clone()), ErrorKind::Unsupported, format!("item `{}` cannot be read", item.id)));
                        continue;
                    }
                    if item.malformed {
                        batch.failures.push(Failure::new(Some(item.id.clone()), ErrorKind::InvalidData, format!("item `{}` is malformed", item.id)));
                        continue;
                    }
                    inner.bodies_read.fetch_add(1, Ordering::SeqCst);
                    batch.documents.push(
                        Document::text(item.id.clone(), SOURCE, format!("Title {}", item.id), item.text.clone())
                            .with_updated_at(item.updated_at)
                            .with_version(&version)
                            .with_metadata("version", item.version),
                    );
                }
                let checkpoint = MemoryCheckpoint { after: chunk.last().map(|i| i.id.clone()) };
                yield CheckpointedBatch::new(batch, checkpoint);
            }
        }
        .boxed()
    }
}

impl fmt::Debug for MemoryConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryConnector")
            .field("items", &self.items().len())
            .field("page_size", &self.inner.page_size)
            .field("secret", &self.inner.secret)
            .finish()
    }
}

impl fmt::Display for MemoryConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "memory:{} items", self.items().len())
    }
}

#[async_trait]
impl Connector for MemoryConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .refetch()
            .fingerprint_skip()
            .into()
    }

    fn min_overlap(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.inner.min_overlap_secs.load(Ordering::SeqCst))
    }

    async fn check(&self) -> Result<()> {
        if self.inner.fail_check.load(Ordering::SeqCst) {
            return Err(
                Error::new(ErrorKind::Unauthenticated, "the service rejected the token")
                    .with_connector(SOURCE)
                    .with_field("credentials.token"),
            );
        }
        Ok(())
    }
}

impl CheckpointedConnector for MemoryConnector {
    type Checkpoint = MemoryCheckpoint;

    fn initial_checkpoint(&self) -> MemoryCheckpoint {
        MemoryCheckpoint::default()
    }

    fn load_from_checkpoint(
        &self,
        from: MemoryCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<MemoryCheckpoint>>> {
        self.page_stream(from.after, window, ctx, None)
    }
}

impl SlimConnector for MemoryConnector {
    fn list_ids(&self, _ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let ids: Vec<String> = self.items().into_iter().map(|i| i.id).collect();
        let page_size = self.inner.page_size;
        let fail = self.inner.fail_listing.load(Ordering::SeqCst);
        let mut pages: Vec<Result<Vec<SlimDocument>>> = ids
            .chunks(page_size)
            .map(|c| Ok(c.iter().map(SlimDocument::new).collect()))
            .collect();
        if fail {
            pages.truncate(1);
            pages.push(Err(Error::new(
                ErrorKind::Unavailable,
                "listing failed halfway",
            )
            .with_connector(SOURCE)));
        }
        futures::stream::iter(pages).boxed()
    }
}

impl RefetchConnector for MemoryConnector {
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        let only: HashSet<String> = ids.into_iter().collect();
        self.page_stream(
            None,
            None,
            ctx.with_fingerprints(Arc::new(crate::NoFingerprints)),
            Some(only),
        )
        .map(|r| r.map(|p| p.batch))
        .boxed()
    }
}
