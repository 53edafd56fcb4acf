//! `all_users`: every user of the enterprise in one sync, each read as themselves.
//!
//! The run lists the enterprise's managed users once (`GET /users?user_type=managed`, marker
//! paging, as the token's user) and reads, in order, the token's own user (an app's service
//! account owns content too) and then each managed user by numeric id, each with `As-User`
//! and their own `folder_id` walk. The checkpoint names the user being read
//! ([`BoxCheckpoint::user`]) beside that user's folder stack and marker, so a resumed run
//! continues inside the same user; a user deleted meanwhile is passed by (the walk goes on
//! with the next id).
//!
//! A file or folder is read only in the walk of the user who owns it, when that owner is one
//! of the users read: a folder shared among colleagues is listed once, and a file keeps one
//! path and one version (no download ping-pong between its collaborators' walks). Items
//! owned outside the enterprise (external collaborators) are read in every walk that sees
//! them: the same document id, delivered again.
//!
//! A user whose files cannot be read (`As-User` refused for an admin, a user Box will not
//! let the app act as, a deactivated user: 403 or 404 on their root) is a failure naming the
//! user, and the run goes on with the next.

use std::collections::HashSet;
use std::sync::Arc;

use connector_core::{
    Batch, CheckpointedBatch, ErrorKind, Failure, Result, SlimDocument, SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::SOURCE;
use super::checkpoint::BoxCheckpoint;
use super::pages::{EnterpriseScope, Walk};

/// The most pages of users listed (1000 each): a marker Box repeated ends the listing.
const MAX_USER_PAGES: usize = 10_000;

/// Numeric order of Box ids (digits only).
fn id_order(a: &String, b: &String) -> std::cmp::Ordering {
    (a.len(), a).cmp(&(b.len(), b))
}

impl Walk {
    /// The users a run reads, in order: the token's own first, then the managed users by
    /// numeric id.
    async fn users_in_order(&self) -> Result<Vec<String>> {
        let me = self.client.acting_as(None).me().await?;
        let mut users = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_USER_PAGES {
            let (page, next) = self.client.users(marker.as_deref()).await?;
            users.extend(page.into_iter().map(|u| u.id));
            match next {
                Some(next) if marker.as_deref() != Some(next.as_str()) => marker = Some(next),
                _ => break,
            }
        }
        users.sort_by(id_order);
        users.dedup();
        if let Some(me) = me.id {
            users.retain(|u| *u != me);
            users.insert(0, me);
        }
        Ok(users)
    }

    /// The walk of one user of an enterprise-wide run: the user's `As-User` (none for the
    /// token's own, first in `order`), their own token user and access.
    fn for_user(&self, order: &[String], at: usize, all: &HashSet<String>) -> Walk {
        let user = order[at].clone();
        Walk {
            client: self.client.acting_as((at > 0).then(|| user.clone())),
            me: Arc::default(),
            users: Some(Arc::new(EnterpriseScope {
                all: all.clone(),
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
            let order = walk.users_in_order().await?;
            let all: HashSet<String> = order.iter().cloned().collect();
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
                let user_walk = walk.for_user(&order, at, &all);
                let mut inner = cp.clone();
                inner.user = None;
                let mut pages = user_walk.checkpointed(inner, window, ctx.clone());
                // The checkpoint once this user is done: the next user from the start, or
                // this one with nothing left.
                let done = match order.get(at + 1) {
                    Some(next) => BoxCheckpoint { user: Some(next.clone()), ..BoxCheckpoint::start() },
                    None => BoxCheckpoint { user: Some(user.clone()), started: true, ..BoxCheckpoint::start() },
                };
                while let Some(page) = pages.next().await {
                    match page {
                        Ok(page) => {
                            let finished = page.checkpoint.started && page.checkpoint.folders.is_empty();
                            yield page.map_checkpoint(|mut c| {
                                if finished {
                                    done.clone()
                                } else {
                                    c.user = Some(user.clone());
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
            let order = walk.users_in_order().await?;
            let all: HashSet<String> = order.iter().cloned().collect();
            for at in 0..order.len() {
                let mut ids = walk.for_user(&order, at, &all).list_ids(ctx.clone());
                while let Some(page) = ids.next().await {
                    yield page?;
                }
            }
        }
        .boxed()
    }
}
