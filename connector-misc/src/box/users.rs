//! `all_users`: every user of the enterprise, each read as themselves; one partition per
//! user (`user:{id}`) where the host runs partitions, else all in one sync.
//!
//! The users are the token's own user (an app's service account owns content too) and then
//! the enterprise's active managed users by numeric id (`GET /users?user_type=managed`,
//! marker paging, as the token's user; `inactive` ones are left out, the restricted
//! `cannot_delete_edit*` kept), each read with `As-User` (the token's own without) and their
//! own `folder_id` walk.
//!
//! - **Partitions**: [`Connector::discover_partition_specs`](connector_core::Connector::discover_partition_specs)
//!   lists them as `user:{id}`, and each is a job of its own with its own checkpoint (the
//!   user's folder stack and marker): one user's failure or resume replays nobody else's. A
//!   partition's run needs the users too (whether its user is the token's own, which owners'
//!   items to leave to their own partitions). Discovery hands its listing to every partition
//!   it found, as their [`PartitionContext`] (one shared [`Users`]), so a host that keeps it
//!   for the jobs it queues (the sync service does, in the process that discovered) lists the
//!   users once a cycle, not once per partition (at 10,000 users, 10 requests instead of
//!   100,000), and all its partitions decide ownership from the same listing, as the one sync
//!   does. A partition built from its key alone (in another process, after a restart, or by a
//!   host that keeps no context) lists the users itself, and so does one whose user is not in
//!   the listing it was handed (added since). A host that builds partitions by key from one
//!   connector ([`Connector::partition`](connector_core::Connector::partition), no context)
//!   still lists them once, not once per partition: the connector keeps its last listing
//!   (discovery's, or the first partition's) for [`RECENT_USERS_LIFE`] and its partitions
//!   read that ([`RecentUsers`]); it lives in that connector alone, never process-wide, and
//!   the key alone rebuilds it (a listing afresh) once it is older. A user gone or deactivated since reads nothing
//!   when listed afresh; with a handed listing a user deactivated since still counts as one
//!   of the users (their partition fails naming them; their items stay left to it) until the
//!   next discovery.
//! - **One sync** (a host that runs no partitions, the CLI): the users one after the other,
//!   the checkpoint naming the user being read ([`BoxCheckpoint::user`]) beside that user's
//!   folder stack and marker, so a resumed run continues inside the same user; a user
//!   deleted meanwhile is passed by (the walk goes on with the next id).
//!
//! A file or folder is read only in the walk of the user who owns it, when that owner is one
//! of the users read: a folder shared among colleagues is listed once, and a file keeps one
//! path and one version (no download ping-pong between its collaborators' walks). Items
//! owned outside the enterprise (external collaborators) are read in every walk that sees
//! them: the same document id, delivered again. Either way the documents, their ids and
//! access are the same.
//!
//! A user whose files cannot be read (`As-User` refused for an admin, a user Box will not
//! let the app act as: 403 or 404 on their root) is a failure naming the user, and the run
//! goes on with the next (a partition ends with it).

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::{
    Batch, CheckpointedBatch, ErrorKind, Failure, PartitionContext, PartitionSpec, Result,
    SlimDocument, SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::SOURCE;
use super::checkpoint::BoxCheckpoint;
use super::client::EnterpriseUser;
use super::pages::{EnterpriseScope, Walk};

/// The most pages of users listed (1000 each): a marker Box repeated ends the listing.
const MAX_USER_PAGES: usize = 10_000;

/// The prefix of a user's partition key (`user:{id}`).
pub(super) const PARTITION_PREFIX: &str = "user:";

/// How long a connector's partitions built by key read its last listing of the users
/// ([`RecentUsers`]) before one lists them afresh: long enough for a host to start a cycle
/// of partitions from one connector, short enough that a user deactivated since (who still
/// counts as one of the users, their items left to them) is one only that long.
pub(super) const RECENT_USERS_LIFE: Duration = Duration::from_secs(300);

/// The users a run reads, in order (the token's own first, then the managed users by
/// numeric id), and the same as a set: what discovery hands each user's partition.
#[derive(Debug)]
pub(super) struct Users {
    order: Vec<String>,
    all: Arc<HashSet<String>>,
}

/// A connector's last listing of the users, shared with the partitions it builds by key, so
/// that they list the users once between them rather than each: discovery's listing, or the
/// first partition run's. Per connector (never process-wide); the lock is held while listing,
/// so partitions starting together wait for one listing instead of each sending their own.
#[derive(Default)]
pub(super) struct RecentUsers(tokio::sync::Mutex<Option<(Instant, Arc<Users>)>>);

impl std::fmt::Debug for RecentUsers {
    /// How many users it holds, not who (a connector's `Debug` would list the enterprise).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self
            .0
            .try_lock()
            .ok()
            .and_then(|last| last.as_ref().map(|(_, users)| users.order.len()));
        f.debug_struct("RecentUsers").field("users", &held).finish()
    }
}

impl RecentUsers {
    /// The last listing when it is younger than `life` and has `user`, else `list`'s, kept.
    async fn with_user<F, Fut>(&self, user: &str, life: Duration, list: F) -> Result<Arc<Users>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Arc<Users>>>,
    {
        let mut last = self.0.lock().await;
        if let Some((at, users)) = last.as_ref()
            && at.elapsed() < life
            && users.all.contains(user)
        {
            return Ok(Arc::clone(users));
        }
        let users = list().await?;
        *last = Some((Instant::now(), Arc::clone(&users)));
        Ok(users)
    }

    /// Keeps `users`, listed now.
    async fn keep(&self, users: &Arc<Users>) {
        *self.0.lock().await = Some((Instant::now(), Arc::clone(users)));
    }
}

/// What a user's partition knows of the users before its run: the listing discovery handed
/// it, and its connector's recent one.
#[derive(Debug, Clone, Default)]
pub(super) struct KnownUsers {
    /// Discovery's listing, handed as the partition's context.
    pub(super) handed: Option<Arc<Users>>,
    /// The connector's recent listing, shared by the partitions it built.
    pub(super) recent: Arc<RecentUsers>,
}

/// One user's walk from `inner` (their folders and marker), its pages' checkpoints tagged
/// with the user when `tag` (the enterprise-wide run's), and `done` once the walk is over.
/// A user whose files cannot be read (403, 404) is one failure naming them, then `done`.
fn user_pages(
    user_walk: Walk,
    user: String,
    inner: BoxCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
    done: BoxCheckpoint,
    tag: bool,
) -> BoxStream<'static, Result<CheckpointedBatch<BoxCheckpoint>>> {
    async_stream::try_stream! {
        let mut pages = user_walk.checkpointed(inner, window, ctx);
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => {
                    let finished = page.checkpoint.started && page.checkpoint.folders.is_empty();
                    yield page.map_checkpoint(|mut c| {
                        if finished {
                            done.clone()
                        } else {
                            c.user = tag.then(|| user.clone());
                            c
                        }
                    });
                }
                Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) => {
                    tracing::warn!(connector = SOURCE, user = %user, "a user's files cannot be read: {e}");
                    let failure = Failure::new(
                        None,
                        e.kind(),
                        format!("the files of the Box user {user} cannot be read as that user (As-User): {e}"),
                    );
                    yield CheckpointedBatch::new(Batch::with_parts(Vec::new(), vec![failure], Vec::new()), done.clone());
                    break;
                }
                Err(e) => Err(e)?,
            }
        }
    }
    .boxed()
}

/// Numeric order of Box ids (digits only).
fn id_order(a: &String, b: &String) -> std::cmp::Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

impl Walk {
    /// The users a run reads, listed now (`GET /users`, a request per 1000).
    async fn list_users(&self, me: Option<String>) -> Result<Users> {
        let mut users = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_USER_PAGES {
            let (page, next) = self.client.users(marker.as_deref()).await?;
            // Deactivated users (`inactive`) cannot be acted as; their content is read in
            // the walks of those it is shared with.
            users.extend(
                page.into_iter()
                    .filter(EnterpriseUser::active)
                    .map(|u| u.id),
            );
            match next {
                Some(next) if marker.as_deref() != Some(next.as_str()) => marker = Some(next),
                _ => break,
            }
        }
        users.sort_by(id_order);
        users.dedup();
        if let Some(me) = me {
            users.retain(|u| *u != me);
            users.insert(0, me);
        }
        let all = Arc::new(users.iter().cloned().collect());
        Ok(Users { order: users, all })
    }

    /// The users a run reads, listed now: the token's user (`GET /users/me`, which names
    /// whose users they are) first, then the enterprise's.
    async fn users(&self) -> Result<Arc<Users>> {
        let me = self.client.acting_as(None).me().await?.id;
        Ok(Arc::new(self.list_users(me).await?))
    }

    /// Every user's partition (`user:{id}`), in the order an unpartitioned run reads them,
    /// each handed the one listing ([`Users`]) as its context; the listing is also kept as the
    /// connector's `recent` one, for partitions built by key alone.
    pub(super) async fn user_partitions(&self, recent: &RecentUsers) -> Result<Vec<PartitionSpec>> {
        let users = self.users().await?;
        recent.keep(&users).await;
        let context = PartitionContext::from_arc(Arc::clone(&users));
        Ok(users
            .order
            .iter()
            .map(|u| {
                PartitionSpec::new(format!("{PARTITION_PREFIX}{u}")).with_context(context.clone())
            })
            .collect())
    }

    /// The walk of `user` as the enterprise-wide run would read them: the enterprise's
    /// users (`handed` by discovery, else the connector's recent listing, else listed now)
    /// tell the token's own user and whose items are left to their owners' walks. `None`
    /// when `user` is not among them, once listed now: a user added since the handed or
    /// recent listing is not missed.
    async fn walk_of(&self, user: &str, known: KnownUsers) -> Result<Option<Walk>> {
        let users = match known.handed {
            Some(users) if users.all.contains(user) => users,
            _ => {
                known
                    .recent
                    .with_user(user, RECENT_USERS_LIFE, || self.users())
                    .await?
            }
        };
        Ok(users
            .order
            .iter()
            .position(|u| u == user)
            .map(|at| self.for_user(&users, at)))
    }

    /// The partition of one user (`user:{id}`): their walk alone, from `from` (their own
    /// checkpoint, no `user` in it). A user who left the enterprise or was deactivated since
    /// the partitions were listed reads nothing; one the app may not act as is a failure.
    pub(super) fn one_user_checkpointed(
        &self,
        user: String,
        known: KnownUsers,
        from: BoxCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<BoxCheckpoint>>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            let Some(user_walk) = walk.walk_of(&user, known).await? else {
                tracing::info!(connector = SOURCE, user = %user, "the Box user is no longer an active managed user: nothing to read");
                return;
            };
            let done = BoxCheckpoint { started: true, ..BoxCheckpoint::start() };
            let mut inner = from;
            inner.user = None;
            let mut pages = user_pages(user_walk, user, inner, window, ctx, done, false);
            while let Some(page) = pages.next().await {
                yield page?;
            }
        }
        .boxed()
    }

    /// Every id of one user's walk (their partition); nothing when they are gone.
    pub(super) fn one_user_ids(
        &self,
        user: String,
        known: KnownUsers,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            if let Some(user_walk) = walk.walk_of(&user, known).await? {
                let mut ids = user_walk.list_ids(ctx);
                while let Some(page) = ids.next().await {
                    yield page?;
                }
            }
        }
        .boxed()
    }

    /// These files again, as the user of the partition.
    pub(super) fn one_user_refetch(
        &self,
        user: String,
        known: KnownUsers,
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            if let Some(user_walk) = walk.walk_of(&user, known).await? {
                let mut batches = user_walk.refetch(ids, ctx);
                while let Some(batch) = batches.next().await {
                    yield batch?;
                }
            }
        }
        .boxed()
    }

    /// The walk of one user of an enterprise-wide run: the user's `As-User` (none for the
    /// token's own, first in `order`), their own token user and access.
    fn for_user(&self, users: &Users, at: usize) -> Walk {
        let user = users.order[at].clone();
        Walk {
            client: self.client.acting_as((at > 0).then(|| user.clone())),
            me: Arc::default(),
            users: Some(Arc::new(EnterpriseScope {
                all: Arc::clone(&users.all),
                current: user,
            })),
            ..self.clone()
        }
    }

    /// Every user's walk, one after the other, from `from`.
    pub(super) fn all_users_checkpointed(
        &self,
        from: BoxCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<BoxCheckpoint>>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            let users = walk.users().await?;
            let order = &users.order;
            // Where to start: the checkpoint's user, or the first after it when it is gone.
            let mut at = match &from.user {
                None => 0,
                Some(user) => match order.iter().position(|u| u == user) {
                    Some(at) => at,
                    None => order.iter().skip(1).position(|u| id_order(u, user).is_gt()).map_or(order.len(), |p| p + 1),
                },
            };
            let mut cp = if from.user.is_some() && from.user.as_ref() == order.get(at) {
                from
            } else {
                BoxCheckpoint::start()
            };
            while at < order.len() {
                let user = order[at].clone();
                let mut inner = cp.clone();
                inner.user = None;
                // The checkpoint once this user is done: the next user from the start, or
                // this one with nothing left.
                let done = match order.get(at + 1) {
                    Some(next) => BoxCheckpoint { user: Some(next.clone()), ..BoxCheckpoint::start() },
                    None => BoxCheckpoint { user: Some(user.clone()), started: true, ..BoxCheckpoint::start() },
                };
                let mut pages = user_pages(walk.for_user(&users, at), user.clone(), inner, window, ctx.clone(), done.clone(), true);
                while let Some(page) = pages.next().await {
                    yield page?;
                }
                at += 1;
                cp = done;
            }
        }
        .boxed()
    }

    /// Every id of every user's walk; fails rather than come back short (a user whose files
    /// cannot be read fails the listing: prune must not take their files for deleted).
    pub(super) fn all_users_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            let users = walk.users().await?;
            for at in 0..users.order.len() {
                let mut ids = walk.for_user(&users, at).list_ids(ctx.clone());
                while let Some(page) = ids.next().await {
                    yield page?;
                }
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn users(ids: &[&str]) -> Arc<Users> {
        let order: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        let all = Arc::new(order.iter().cloned().collect());
        Arc::new(Users { order, all })
    }

    #[tokio::test]
    async fn a_recent_listing_is_read_until_it_is_too_old_or_lacks_the_user() {
        let recent = RecentUsers::default();
        let listings = AtomicUsize::new(0);
        let list = || async {
            listings.fetch_add(1, Ordering::SeqCst);
            Ok(users(&["1", "2"]))
        };
        let life = Duration::from_secs(60);
        assert_eq!(
            recent.with_user("1", life, list).await.unwrap().order,
            ["1", "2"]
        );
        recent.with_user("2", life, list).await.unwrap();
        assert_eq!(
            listings.load(Ordering::SeqCst),
            1,
            "the second read the first's"
        );
        // A user it does not have: listed afresh.
        recent.with_user("3", life, list).await.unwrap();
        assert_eq!(listings.load(Ordering::SeqCst), 2);
        // Too old: listed afresh.
        recent.with_user("1", Duration::ZERO, list).await.unwrap();
        assert_eq!(listings.load(Ordering::SeqCst), 3);
        // A failed listing keeps nothing and is the caller's error.
        let failing = RecentUsers::default();
        let err = failing
            .with_user("1", life, || async {
                Err(connector_core::Error::new(
                    ErrorKind::PermissionDenied,
                    "no",
                ))
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        assert!(failing.0.lock().await.is_none());
    }
}
