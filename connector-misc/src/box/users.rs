//! `all_users`: every user of the enterprise, each read as themselves; one partition per
//! user (`user:{id}`) where the host runs partitions, else all in one sync.
//!
//! The users are the token's own user (an app's service account owns content too) and then
//! the enterprise's active managed users by numeric id (`GET /users?user_type=managed`,
//! marker paging, as the token's user; `inactive` ones are left out, the restricted
//! `cannot_delete_edit*` kept), each read with `As-User` (the token's own without) and their
//! own `folder_id` walk.
//!
//! - **Partitions**: [`Connector::discover_partitions`](connector_core::Connector::discover_partitions)
//!   lists them as `user:{id}`, and each is a job of its own with its own checkpoint (the
//!   user's folder stack and marker): one user's failure or resume replays nobody else's. A
//!   partition's run needs the users too (whether its user is the token's own, which owners'
//!   items to leave to their own partitions), but does not list them again: a host builds
//!   a connector per job, so the listing is kept **process-wide**, for [`USERS_TTL`] (10
//!   minutes), keyed by the API base URL, the app's client id and the token's user id
//!   (`GET /users/me`, one request a run; never a token), a few enterprises at most.
//!   Discovery lists afresh and refills it, and so does the first partition that finds none
//!   (concurrent ones wait for its listing): a cycle of N partitions lists the users once,
//!   not N times (at 10,000 users, 10 requests instead of 100,000), and all its partitions
//!   decide ownership from the same listing, as the one sync does. A partition whose user is
//!   not in the kept listing (added since, or discovered by another process) lists afresh
//!   before concluding; a user gone or deactivated since reads nothing. Within the TTL a
//!   user deactivated since the listing still counts as one of the users (their partition,
//!   if still run, fails naming them; their items stay left to it) until the next discovery.
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

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use connector_core::{
    Batch, CheckpointedBatch, ErrorKind, Failure, Result, SlimDocument, SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::OnceCell;

use super::SOURCE;
use super::checkpoint::BoxCheckpoint;
use super::client::EnterpriseUser;
use super::pages::{EnterpriseScope, Walk};

/// The most pages of users listed (1000 each): a marker Box repeated ends the listing.
const MAX_USER_PAGES: usize = 10_000;

/// The prefix of a user's partition key (`user:{id}`).
pub(super) const PARTITION_PREFIX: &str = "user:";

/// How long a listing of an enterprise's users serves its partitions' runs in this process
/// (10 minutes); discovery lists them afresh whatever their age.
pub(super) const USERS_TTL: Duration = Duration::from_secs(600);

/// The most enterprises (API, app and token user) whose users are kept at once.
const USERS_CACHE_ENTRIES: usize = 16;

/// The users a run reads, in order (the token's own first, then the managed users by
/// numeric id), and the same as a set.
#[derive(Debug)]
pub(super) struct Users {
    order: Vec<String>,
    all: Arc<HashSet<String>>,
}

/// Whose users: the API base URL and the app's client id ([`Walk::app`]), and the token's
/// user id. Never a token.
type UsersKey = (Arc<str>, String);

/// A listing of one enterprise's users: when it was started, and its result once one call
/// has it (the others wait for that call rather than list too).
#[derive(Debug)]
struct Cached {
    at: Instant,
    users: Arc<OnceCell<Arc<Users>>>,
}

/// The enterprises' users listed lately, a few at most, each for [`USERS_TTL`].
#[derive(Debug, Default)]
struct UsersCache {
    entries: HashMap<UsersKey, Cached>,
}

impl UsersCache {
    /// The listing of `key` to use at `now`: the one kept when it is younger than
    /// [`USERS_TTL`] and not `fresh`, else a new one (empty until listed), kept in its place.
    /// Expired listings are dropped, and the oldest when there are too many.
    fn slot(&mut self, key: &UsersKey, fresh: bool, now: Instant) -> Arc<OnceCell<Arc<Users>>> {
        self.entries
            .retain(|_, c| now.saturating_duration_since(c.at) < USERS_TTL);
        if !fresh && let Some(cached) = self.entries.get(key) {
            return Arc::clone(&cached.users);
        }
        self.entries.remove(key);
        while self.entries.len() >= USERS_CACHE_ENTRIES {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, c)| c.at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.entries.remove(&oldest);
        }
        let users = Arc::default();
        self.entries.insert(
            key.clone(),
            Cached {
                at: now,
                users: Arc::clone(&users),
            },
        );
        users
    }
}

/// The process's listings of enterprises' users: the partitions of one enterprise are
/// separate connectors (a host builds one per job), so they share what they listed here.
static USERS_CACHE: LazyLock<Mutex<UsersCache>> = LazyLock::new(Mutex::default);

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

    /// The users a run reads (the token's user asked each time: it names whose users they
    /// are); `reuse` takes those this process listed less than [`USERS_TTL`] ago, else they
    /// are listed and kept for the next. With them, whether this call listed them.
    async fn users(&self, reuse: bool) -> Result<(Arc<Users>, bool)> {
        let me = self.client.acting_as(None).me().await?.id;
        let Some(id) = me.clone() else {
            return Ok((Arc::new(self.list_users(None).await?), true));
        };
        let slot = USERS_CACHE
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .slot(&(Arc::clone(&self.app), id), !reuse, Instant::now());
        let mut listed = false;
        let users = slot
            .get_or_try_init(|| async {
                listed = true;
                self.list_users(me).await.map(Arc::new)
            })
            .await?;
        Ok((Arc::clone(users), listed))
    }

    /// The keys of every user's partition (`user:{id}`), in the order an unpartitioned run
    /// reads them.
    pub(super) async fn user_partitions(&self) -> Result<Vec<String>> {
        let users = self.users(false).await?.0;
        Ok(users
            .order
            .iter()
            .map(|u| format!("{PARTITION_PREFIX}{u}"))
            .collect())
    }

    /// The walk of `user` as the enterprise-wide run would read them: the enterprise's
    /// users (as this process listed them lately, else listed now) tell the token's own user
    /// and whose items are left to their owners' walks. `None` when `user` is not among
    /// them, once listed now: a user added since the kept listing is not missed.
    async fn walk_of(&self, user: &str) -> Result<Option<Walk>> {
        let (mut users, listed) = self.users(true).await?;
        if !listed && !users.all.contains(user) {
            users = self.users(false).await?.0;
        }
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
        from: BoxCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<BoxCheckpoint>>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            let Some(user_walk) = walk.walk_of(&user).await? else {
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
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            if let Some(user_walk) = walk.walk_of(&user).await? {
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
        ids: Vec<String>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Batch>> {
        let walk = Walk {
            client: self.client.with_context(&ctx),
            ..self.clone()
        };
        async_stream::try_stream! {
            if let Some(user_walk) = walk.walk_of(&user).await? {
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
            let users = walk.users(false).await?.0;
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
            let users = walk.users(false).await?.0;
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

    fn key(n: usize) -> UsersKey {
        (
            Arc::from(format!("https://api.box.com/ app{n}")),
            "300".to_owned(),
        )
    }

    fn listed(ids: &[&str]) -> Arc<Users> {
        let order: Vec<String> = ids.iter().map(|&u| u.to_owned()).collect();
        let all = Arc::new(order.iter().cloned().collect());
        Arc::new(Users { order, all })
    }

    #[test]
    fn a_listing_serves_until_its_ttl_then_is_listed_again() {
        let mut cache = UsersCache::default();
        let t0 = Instant::now();
        let first = cache.slot(&key(1), false, t0);
        assert!(!first.initialized(), "nothing listed yet");
        first.set(listed(&["300", "301"])).unwrap();

        // Within the TTL every run takes the same listing, whatever the instance.
        let later = cache.slot(&key(1), false, t0 + USERS_TTL - Duration::from_secs(1));
        assert!(Arc::ptr_eq(&first, &later));
        assert_eq!(later.get().unwrap().order, ["300", "301"]);
        // Another app, API or token user is another listing.
        assert!(!Arc::ptr_eq(&first, &cache.slot(&key(2), false, t0)));
        let other_user = (key(1).0, "999".to_owned());
        assert!(cache.slot(&other_user, false, t0).get().is_none());

        // At the TTL it is dropped: a new, empty slot, which the caller lists into.
        let expired = cache.slot(&key(1), false, t0 + USERS_TTL);
        assert!(!Arc::ptr_eq(&first, &expired));
        assert!(expired.get().is_none());
        expired.set(listed(&["300", "302"])).unwrap();
        let after = cache.slot(&key(1), false, t0 + USERS_TTL + Duration::from_secs(1));
        assert_eq!(after.get().unwrap().order, ["300", "302"]);
        // Expired entries of other keys went with it.
        assert_eq!(cache.entries.len(), 1, "{:?}", cache.entries.keys());
    }

    #[test]
    fn discovery_lists_afresh_and_replaces_the_kept_listing() {
        let mut cache = UsersCache::default();
        let t0 = Instant::now();
        let kept = cache.slot(&key(1), false, t0);
        kept.set(listed(&["300"])).unwrap();
        let fresh = cache.slot(&key(1), true, t0 + Duration::from_secs(5));
        assert!(fresh.get().is_none(), "a fresh slot is listed again");
        fresh.set(listed(&["300", "301"])).unwrap();
        let next = cache.slot(&key(1), false, t0 + Duration::from_secs(6));
        assert!(Arc::ptr_eq(&fresh, &next));
        assert!(next.get().unwrap().all.contains("301"));
    }

    #[test]
    fn the_cache_keeps_a_few_enterprises_dropping_the_oldest() {
        let mut cache = UsersCache::default();
        let t0 = Instant::now();
        for n in 0..USERS_CACHE_ENTRIES + 3 {
            let at = t0 + Duration::from_secs(u64::try_from(n).unwrap());
            cache
                .slot(&key(n), false, at)
                .set(listed(&["300"]))
                .unwrap();
            assert!(cache.entries.len() <= USERS_CACHE_ENTRIES);
        }
        assert_eq!(cache.entries.len(), USERS_CACHE_ENTRIES);
        assert!(
            !cache.entries.contains_key(&key(0)),
            "the oldest went first"
        );
        assert!(!cache.entries.contains_key(&key(2)));
        assert!(cache.entries.contains_key(&key(3)));
        assert!(cache.entries.contains_key(&key(USERS_CACHE_ENTRIES + 2)));
    }
}
