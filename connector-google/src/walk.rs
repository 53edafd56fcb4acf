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
use connector_core::{Batch, CheckpointedBatch, Result, SlimDocument, SyncContext, TimeWindow};
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
