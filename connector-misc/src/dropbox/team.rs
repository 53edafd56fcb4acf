//! `all_team_members`: every active member of a Dropbox Business team in one sync.
//!
//! Each run lists the team's active members (`team/members/list_v2`, `continue_v2`; a team
//! call, without `Dropbox-API-Select-User`), orders them by `team_member_id`, and reads
//! them one after the other, each with `Dropbox-API-Select-User` and (in a team space) the
//! team root as `Dropbox-API-Path-Root`, so the team folders a member sees are read with
//! their own folder. The checkpoint ([`DropboxCheckpoint`]) names the member being read
//! (`member`) beside that member's cursor, and keeps every member's last cursor
//! (`member_cursors`): a resumed run continues inside the member it stopped in, and an
//! incremental run reads each member's changes since their cursor (a member new to the team
//! is listed in full; one who left is dropped).
//!
//! One stream rather than a partition per member: the members are known only by asking
//! Dropbox, and [`Connector::partitions`](connector_core::Connector::partitions) asks
//! nothing. A file several members see (a team folder, a folder shared among them) is listed
//! in each of their walks under the same id: when its version (content hash, path, shared
//! folder) is the same, the later walks find it unchanged and download nothing; a shared
//! folder that members mounted at different paths is delivered again by each.
//!
//! A member whose Dropbox cannot be read (403 or 404 on their listing: suspended meanwhile,
//! a missing folder `path` in their space) is a failure naming them, and the run goes on.

use connector_core::{
    CheckpointedBatch, ErrorKind, Failure, Result, SlimDocument, SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;

use super::SOURCE;
use super::checkpoint::{DropboxCheckpoint, MemberCursor, Phase};
use super::pages::{self, Reader};

/// The members of the run, ordered by id.
async fn members(reader: &Reader) -> Result<Vec<String>> {
    let mut members = reader.client.team_members().await?;
    members.sort();
    members.dedup();
    Ok(members)
}

/// `reader` reading the member `member`.
fn for_member(reader: &Reader, member: &str) -> Reader {
    Reader {
        client: reader.client.for_member(member),
        ..reader.clone()
    }
}

/// Where the member `member`'s walk starts: the checkpoint's own state when it is that
/// member's, else the changes since their last cursor, else a full listing.
fn start_of(member: &str, cp: &DropboxCheckpoint) -> DropboxCheckpoint {
    if cp.member.as_deref() == Some(member) {
        return DropboxCheckpoint {
            cursor: cp.cursor.clone(),
            phase: cp.phase,
            scope: cp.scope.clone(),
            ..DropboxCheckpoint::start()
        };
    }
    match cp.member_cursors.get(member) {
        Some(last) => DropboxCheckpoint {
            cursor: Some(last.cursor.clone()),
            phase: Phase::Changes,
            scope: last.scope.clone(),
            ..DropboxCheckpoint::start()
        },
        // A member new since the last run: everything of theirs (what others delivered is
        // unchanged), not only what the window holds.
        None if !cp.member_cursors.is_empty() => DropboxCheckpoint {
            phase: Phase::Relisting,
            ..DropboxCheckpoint::start()
        },
        None => DropboxCheckpoint::start(),
    }
}

/// Every member's walk, one after the other, from `from`.
pub(super) fn checkpointed(
    reader: &Reader,
    from: DropboxCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<DropboxCheckpoint>>> {
    let reader = Reader {
        client: reader.client.with_context(&ctx),
        ..reader.clone()
    };
    async_stream::try_stream! {
        let members = members(&reader).await?;
        // The cursors of members who left the team are dropped.
        let mut cursors = from.member_cursors.clone();
        cursors.retain(|m, _| members.binary_search(m).is_ok());
        let first = match &from.member {
            None => 0,
            // The member stopped in, or the first after them when they left meanwhile.
            Some(m) => members.partition_point(|x| x < m),
        };
        for member in members.iter().skip(first) {
            let start = start_of(member, &from);
            let mut walk = pages::checkpointed(&for_member(&reader, member), start, window, ctx.clone());
            // Each page is held until the next arrives: the last one's checkpoint records
            // the member's final cursor among `member_cursors`.
            let mut held: Option<CheckpointedBatch<DropboxCheckpoint>> = None;
            let mut failed = None;
            while let Some(page) = walk.next().await {
                match page {
                    Ok(page) => {
                        if let Some(prev) = held.replace(page) {
                            yield prev.map_checkpoint(|c| DropboxCheckpoint {
                                member: Some(member.clone()),
                                member_cursors: cursors.clone(),
                                ..c
                            });
                        }
                    }
                    Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) => {
                        failed = Some(e);
                        break;
                    }
                    Err(e) => Err(e)?,
                }
            }
            drop(walk);
            if let Some(e) = failed {
                tracing::warn!(connector = SOURCE, member = %member, "a team member's Dropbox cannot be read: {e}");
                let failure = Failure::new(
                    None,
                    e.kind(),
                    format!("the Dropbox of team member {member} cannot be read: {e}"),
                );
                let mut batch = held.map(|p| p.batch).unwrap_or_default();
                batch.failures.push(failure);
                // Their old cursor is kept: their next readable run reads the changes since.
                let next = DropboxCheckpoint { member: Some(member.clone()), member_cursors: cursors.clone(), ..done(&from, member) };
                yield CheckpointedBatch::new(batch, next);
                continue;
            }
            if let Some(last) = held {
                if let Some(cursor) = last.checkpoint.cursor.clone() {
                    cursors.insert(member.clone(), MemberCursor { cursor, scope: last.checkpoint.scope.clone() });
                }
                let checkpoint = DropboxCheckpoint {
                    member: Some(member.clone()),
                    member_cursors: cursors.clone(),
                    phase: Phase::Changes,
                    ..last.checkpoint
                };
                yield CheckpointedBatch::new(last.batch, checkpoint);
            }
        }
    }
    .boxed()
}

/// The state of a member whose walk is over without a new cursor: their old one, as changes.
fn done(from: &DropboxCheckpoint, member: &str) -> DropboxCheckpoint {
    match from.member_cursors.get(member) {
        Some(last) => DropboxCheckpoint {
            cursor: Some(last.cursor.clone()),
            phase: Phase::Changes,
            scope: last.scope.clone(),
            ..DropboxCheckpoint::start()
        },
        None => DropboxCheckpoint::start(),
    }
}

/// These files again, looked up member by member (an id does not say whose Dropbox holds
/// it): each member's refetch takes the ids no earlier member found. A failed file is
/// usually one, so this costs a metadata request per member at worst.
pub(super) fn refetch(
    reader: &Reader,
    ids: Vec<String>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<connector_core::Batch>> {
    let reader = Reader {
        client: reader.client.with_context(&ctx),
        ..reader.clone()
    };
    async_stream::try_stream! {
        let mut left = ids;
        for member in members(&reader).await? {
            if left.is_empty() {
                break;
            }
            let mut batches = pages::refetch(&for_member(&reader, &member), left.clone(), ctx.clone());
            while let Some(batch) = batches.next().await {
                let batch = batch?;
                let found: std::collections::HashSet<&str> = batch
                    .documents
                    .iter()
                    .map(|d| d.id.as_str())
                    .chain(batch.failures.iter().filter_map(|f| f.id.as_deref()))
                    .chain(batch.unchanged.iter().map(String::as_str))
                    .collect();
                left.retain(|id| !found.contains(id.as_str()));
                yield batch;
            }
        }
    }
    .boxed()
}

/// Every id of every member's listing; fails rather than come back short.
pub(super) fn list_ids(
    reader: &Reader,
    ctx: SyncContext,
) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
    let reader = Reader {
        client: reader.client.with_context(&ctx),
        ..reader.clone()
    };
    async_stream::try_stream! {
        for member in members(&reader).await? {
            let mut ids = pages::list_ids(&for_member(&reader, &member), ctx.clone());
            while let Some(page) = ids.next().await {
                yield page?;
            }
        }
    }
    .boxed()
}
