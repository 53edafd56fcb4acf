//! `all_team_members`: every active member of a Dropbox Business team, each with their own
//! listing; one partition per member where the host runs partitions, else all in one sync.
//!
//! The members are the team's active ones (`team/members/list_v2`, `continue_v2`; a team
//! call, without `Dropbox-API-Select-User`; invited, suspended and removed members are left
//! out), ordered by `team_member_id`. Each is read with `Dropbox-API-Select-User` and (in a
//! team space) the team root as `Dropbox-API-Path-Root`, so the team folders a member sees
//! are read with their own folder.
//!
//! - **Partitions**: [`Connector::discover_partitions`](connector_core::Connector::discover_partitions)
//!   lists the members by their `team_member_id` (`dbmid:…`, the keys `team_members` uses
//!   too), and each is a job of its own with its own cursor, exactly as a config naming that
//!   `team_member_id` reads it: one member's failure or resume replays nobody else's. A
//!   member whose Dropbox cannot be read by their run is a failure naming them.
//! - **One sync** (a host that runs no partitions, the CLI): the members one after the
//!   other. The checkpoint ([`DropboxCheckpoint`]) names the member being read (`member`)
//!   beside that member's cursor, and keeps every member's last cursor (`member_cursors`): a
//!   resumed run continues inside the member it stopped in, and an incremental run reads
//!   each member's changes since their cursor (a member new to the team is listed in full;
//!   one who left is dropped).
//!
//! Such a checkpoint is the one-sync run's; a member's partition starts with a checkpoint
//! of its own, its first run listing the member's Dropbox again (unchanged files cost no
//! download). A file several members see (a team folder, a folder shared among them) is
//! listed in each of their walks under the same id: when its version (content hash, path,
//! shared folder) is the same, the later walks find it unchanged and download nothing; a
//! shared folder that members mounted at different paths is delivered again by each.
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

/// The members of the run, ordered by id: with `all_team_members`, also the partitions
/// [`Connector::discover_partitions`](connector_core::Connector::discover_partitions) lists.
pub(super) async fn members(reader: &Reader) -> Result<Vec<String>> {
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

/// One discovered member's partition (`reader` selects them): their own listing from `from`,
/// with their own cursor, as the one-sync run reads them. A member whose Dropbox cannot be
/// read (403 or 404: suspended or removed since discovery, a `path` missing in their space)
/// is a failure naming them; their last cursor is kept for their next readable run.
pub(super) fn one_member(
    reader: &Reader,
    member: String,
    from: DropboxCheckpoint,
    window: Option<TimeWindow>,
    ctx: SyncContext,
) -> BoxStream<'static, Result<CheckpointedBatch<DropboxCheckpoint>>> {
    let mut walk = pages::checkpointed(reader, from.clone(), window, ctx);
    async_stream::try_stream! {
        while let Some(page) = walk.next().await {
            match page {
                Ok(page) => yield page,
                Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) => {
                    tracing::warn!(connector = SOURCE, member = %member, "a team member's Dropbox cannot be read: {e}");
                    let failure = Failure::new(
                        None,
                        e.kind(),
                        format!("the Dropbox of team member {member} cannot be read: {e}"),
                    );
                    let kept = match (&from.cursor, from.phase) {
                        (Some(_), Phase::Changes) => DropboxCheckpoint { member: None, member_cursors: Default::default(), ..from.clone() },
                        _ => DropboxCheckpoint::start(),
                    };
                    let mut batch = connector_core::Batch::default();
                    batch.failures.push(failure);
                    yield CheckpointedBatch::new(batch, kept);
                    break;
                }
                Err(e) => Err(e)?,
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
