//! The walk both Google sources make: a state machine over the source's checkpoint that
//! fetches one source page per step (a directory page, or a listing page and its items), driven
//! by core's [`paginate`] with the checkpoint as the cursor, so a checkpoint is valid after
//! every page and a page token handed back twice stops the walk.
//!
//! Prune lists ids with the same walk in [`Mode::Slim`]: the same scope rules, no bodies.

use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use connector_core::pages::{Page, PageLimit, paginate};
use connector_core::{
    Batch, CheckpointedBatch, Error, ErrorKind, Failure, Result, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

/// What a walk produces.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// Documents, of a window or of everything.
    Load(Option<TimeWindow>),
    /// Ids only, of everything: each page's ids as the batch's `unchanged` (or, where an id
    /// needs the item itself, as whatever the item's fetch yields).
    Slim,
}

impl Mode {
    /// The window of a load, if any.
    pub(crate) fn window(self) -> Option<TimeWindow> {
        match self {
            Self::Load(window) => window,
            Self::Slim => None,
        }
    }

    /// Whether only ids are wanted.
    pub(crate) fn is_slim(self) -> bool {
        matches!(self, Self::Slim)
    }
}

/// One source's walk over its checkpoint.
pub(crate) trait Walk: Send + Sync + 'static {
    /// Where the walk stands between pages.
    type Checkpoint: Clone + Hash + Debug + Send + Sync + 'static;

    /// The sync's context (cancellation, fingerprints).
    fn context(&self) -> &SyncContext;

    /// Applies every transition that needs no request, so `cp` names the next request to
    /// make; `false` when nothing is left.
    fn settle(&self, cp: &mut Self::Checkpoint) -> bool;

    /// Fetches the page a settled `cp` names: the page's batch and the checkpoint after it.
    fn step(
        &self,
        cp: Self::Checkpoint,
    ) -> impl Future<Output = Result<(Batch, Self::Checkpoint)>> + Send;
}

/// The pages of `walk` from `from`, each with the checkpoint that resumes after it.
pub(crate) fn pages<W: Walk>(
    walk: W,
    mut from: W::Checkpoint,
) -> BoxStream<'static, Result<CheckpointedBatch<W::Checkpoint>>> {
    if !walk.settle(&mut from) {
        return futures::stream::empty().boxed();
    }
    let walk = Arc::new(walk);
    paginate(from, PageLimit::unbounded(), move |cp| {
        let walk = Arc::clone(&walk);
        async move {
            walk.context().cancellation().check()?;
            let (batch, mut cp) = walk.step(cp).await?;
            let next = walk.settle(&mut cp).then(|| cp.clone());
            Ok(Page::new(CheckpointedBatch::new(batch, cp), next))
        }
    })
    .map_ok(|page| page.items)
    .boxed()
}

/// Every id of a [`Mode::Slim`] walk from its start, page by page; an item the walk could not
/// list makes the listing fail (see [`Batch::into_slim_ids`]) rather than come back short.
pub(crate) fn ids<W: Walk>(walk: W) -> BoxStream<'static, Result<Vec<SlimDocument>>>
where
    W::Checkpoint: Default,
{
    pages(walk, W::Checkpoint::default())
        .and_then(|page| futures::future::ready(page.batch.into_slim_ids()))
        .boxed()
}

/// The failure of one partition (a user's mailbox or drive, a shared drive, a folder) whose
/// listing `e` ended: `id` names the partition, `what` says what it is for a person, `hint` why
/// it may have failed. The walk records it and goes on to the next partition.
///
/// A partition failure is never [`ErrorKind::InvalidData`] (which prune's listing would read
/// as an item to keep) and is retryable where the cause may heal (a licence assigned, a user
/// restored, a rate limit over), so the next run reads the partition again.
///
/// # Errors
/// `e` itself when it concerns every partition ([`affects_everyone`](crate::auth::affects_everyone)
/// with `as_user` and `user_401`).
pub(crate) fn partition_failure(
    id: String,
    what: &str,
    hint: &str,
    e: Error,
    as_user: bool,
    user_401: bool,
) -> Result<Failure> {
    if crate::auth::affects_everyone(&e, as_user, user_401) {
        return Err(e);
    }
    let kind = match e.kind() {
        // A user's 401 is not the connector's credentials; a malformed listing page is not an
        // item.
        ErrorKind::Unauthenticated => ErrorKind::PermissionDenied,
        ErrorKind::InvalidData => ErrorKind::Unavailable,
        kind => kind,
    };
    let retryable = e.is_retryable()
        || matches!(
            e.kind(),
            ErrorKind::Unauthenticated
                | ErrorKind::PermissionDenied
                | ErrorKind::Unsupported
                | ErrorKind::InvalidData
        );
    // A user's 401 says nothing about `credentials.google_tokens`; the HTTP layer's advice to
    // check them would send a person to the wrong place.
    let detail = match e.message().split_once("; check `") {
        Some((head, _)) if e.kind() == ErrorKind::Unauthenticated => head.to_owned(),
        _ => e.to_string(),
    };
    let mut failure = Failure::new(Some(id), kind, format!("{what}: skipped{hint}: {detail}"));
    failure.retryable = retryable;
    Ok(failure)
}
