//! Which OneDrives a config reads: named users', named drives, or every user's.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use connector_core::{Error, ErrorKind, Failure, Result};

use super::SOURCE;
use crate::graph::drive_walk::{DriveSource, DriveTarget, Targets};
use crate::graph::users::{DirectoryUser, EveryUser};
use crate::graph::{Drive, GraphClient};

/// The fields of a drive a sync reads.
pub(crate) const DRIVE_FIELDS: &str = "id,name,driveType,owner,webUrl,sharePointIds";

/// How long the drives a run's listing resolved serve its id listing and refetch (the
/// prune and retries that follow the listing in the same run); past it they are asked again.
const REUSE_FOR: Duration = Duration::from_secs(6 * 60 * 60);

/// `user_ids` and `drive_ids`; neither: every user's OneDrive.
#[derive(Debug, Clone)]
pub(crate) struct OnedriveDrives {
    pub(crate) users: Vec<String>,
    pub(crate) drives: Vec<String>,
    /// With every user: guests too, not only members.
    pub(crate) include_guests: bool,
    /// A named user without a OneDrive is passed over rather than a failure (a partition
    /// [`Connector::discover_partitions`](connector_core::Connector::discover_partitions)
    /// found: the user may have lost the drive since).
    pub(crate) quiet_missing: bool,
}

/// The drives of a connector, resolved once by a run's listing and reused by the id
/// listing and refetch that follow it (on a tenant of 100,000 users, resolving them is
/// 100 pages of users and 5,000 batches of drive lookups).
#[derive(Debug)]
pub(crate) struct RunDrives {
    pub(crate) drives: OnedriveDrives,
    /// A discovered user's drive as discovery resolved it
    /// ([`Connector::partition_with`](connector_core::Connector::partition_with)): what this
    /// partition's runs read without asking for it again.
    handed: Option<DriveTarget>,
    last: Mutex<Option<(Instant, Targets)>>,
}

/// A discovered user's drive, handed by discovery to the user's partition.
#[derive(Debug, Clone)]
pub(crate) struct HandedDrive {
    /// The user's object id (the partition is `user:{id}`).
    pub(crate) user: String,
    pub(crate) target: DriveTarget,
}

impl RunDrives {
    pub(crate) fn new(drives: OnedriveDrives, handed: Option<DriveTarget>) -> Self {
        Self {
            drives,
            handed,
            last: Mutex::new(None),
        }
    }

    async fn resolve(&self, graph: &GraphClient) -> Result<Targets> {
        let targets = match &self.handed {
            Some(target) => (vec![target.clone()], Vec::new()),
            None => self.drives.targets_of(graph, None).await?,
        };
        *self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), targets.clone()));
        Ok(targets)
    }
}

/// The drives as a run's listing starts: asked again, and kept for the rest of the run.
pub(crate) struct Fresh(pub(crate) Arc<RunDrives>);

#[async_trait]
impl DriveSource for Fresh {
    async fn targets(&self, graph: &GraphClient) -> Result<Targets> {
        self.0.resolve(graph).await
    }
}

/// The drives the run's listing resolved, when it did so lately; else asked (and kept).
pub(crate) struct Reused(pub(crate) Arc<RunDrives>);

#[async_trait]
impl DriveSource for Reused {
    async fn targets(&self, graph: &GraphClient) -> Result<Targets> {
        let kept = self
            .0
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .filter(|(at, _)| at.elapsed() < REUSE_FOR)
            .map(|(_, t)| t.clone());
        match kept {
            Some(targets) => Ok(targets),
            None => self.0.resolve(graph).await,
        }
    }
}

/// Whether a 404 on `users/{id}/drive` is Graph saying the user has no OneDrive (no
/// licence, never signed in): `User's mysite not found` (`ResourceNotFound`), as against a
/// 404 that may pass (a drive being moved or provisioned).
fn no_onedrive(e: &connector_core::Error) -> bool {
    e.to_string().to_ascii_lowercase().contains("mysite")
}

/// A drive as a target of the walk: its owner's e-mail, its site collection.
pub(crate) fn target_of(drive: Drive) -> DriveTarget {
    DriveTarget {
        owner: drive
            .owner
            .as_ref()
            .and_then(|o| o.user.as_ref())
            .and_then(|u| u.email.clone())
            .map(|e| e.to_lowercase()),
        site: drive
            .sharepoint_ids
            .and_then(|s| s.site_id)
            .unwrap_or_else(|| drive.id.clone()),
        drive: drive.id,
    }
}

impl OnedriveDrives {
    /// Whether the config names no user and no drive: every user's OneDrive is read.
    pub(crate) fn all_users(&self) -> bool {
        self.users.is_empty() && self.drives.is_empty()
    }

    /// The drives, in a stable order without repeats, and a failure for each named user or
    /// drive that has none (or cannot be read); with every user, only the first page of at
    /// most `sample` users when given (what `check()` needs on a tenant of 100,000).
    pub(crate) async fn targets_of(
        &self,
        graph: &GraphClient,
        sample: Option<usize>,
    ) -> Result<Targets> {
        let mut failures = Vec::new();
        // (request path, what a failure names, the failure's id)
        let mut named: Vec<(String, String, String)> = Vec::new();
        for user in &self.users {
            let user = user.trim();
            named.push((
                format!("users/{}/drive", crate::graph::escape(user)),
                format!("user `{user}`"),
                format!("{SOURCE}:user:{user}"),
            ));
        }
        for drive in &self.drives {
            let drive = drive.trim();
            named.push((
                format!("drives/{}", crate::graph::escape(drive)),
                format!("drive `{drive}`"),
                format!("{SOURCE}:drive:{drive}"),
            ));
        }
        let all_users = self.all_users();
        if all_users {
            // Every user of the tenant; those without a OneDrive (no licence, never signed
            // in) answer 404 below and are passed over.
            let users = self.users_of(graph, sample).await?;
            for u in users {
                let label = format!(
                    "user `{}`",
                    u.user_principal_name.as_deref().unwrap_or(&u.id)
                );
                named.push((
                    format!("users/{}/drive", crate::graph::escape(&u.id)),
                    label,
                    format!("{SOURCE}:user:{}", u.id),
                ));
            }
        }
        let paths: Vec<String> = named
            .iter()
            .map(|(p, _, _)| format!("{p}?$select={DRIVE_FIELDS}"))
            .collect();
        // With every user, a 404 says why: only "no personal site" is taken for "no
        // OneDrive" outright (see `no_onedrive`).
        let answers = graph.batch_get_explained::<Drive>(&paths).await?;
        let mut seen = BTreeSet::new();
        let mut targets = Vec::new();
        for ((_, label, id), answer) in named.into_iter().zip(answers) {
            let answer = match answer {
                Err(e) if e.kind() == ErrorKind::NotFound && !all_users => Ok(None),
                Err(e) if e.kind() == ErrorKind::NotFound && no_onedrive(&e) => Ok(None),
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    // Any other 404 on a listed user's drive (a drive being moved or
                    // provisioned answers so for a while): taken for "nothing there" only
                    // when the user is gone from the tenant. Otherwise the drive would be
                    // missing from the id listing and prune would delete every file of it.
                    let user = id
                        .strip_prefix(SOURCE)
                        .and_then(|i| i.strip_prefix(":user:"));
                    if crate::graph::users::user_is_gone(graph, user.unwrap_or_default()).await? {
                        Ok(None)
                    } else {
                        Err(Error::new(
                            ErrorKind::Unavailable,
                            format!(
                                "the user is in the tenant but its OneDrive answered 404 ({e}); its files are neither read nor pruned this run"
                            ),
                        )
                        .with_connector(SOURCE))
                    }
                }
                other => other,
            };
            match answer {
                Ok(Some(drive)) => {
                    if seen.insert(drive.id.clone()) {
                        targets.push(target_of(drive));
                    }
                }
                Ok(None) if all_users || self.quiet_missing => {}
                Ok(None) => failures.push(Failure::new(
                    Some(id),
                    ErrorKind::NotFound,
                    format!(
                        "{label} has no OneDrive (no licence, never signed in, or no such drive)"
                    ),
                )),
                Err(e) if e.kind().ends_sync() => return Err(e),
                Err(e) => failures.push(Failure::new(Some(id), e.kind(), format!("{label}: {e}"))),
            }
        }
        Ok((targets, failures))
    }

    /// The tenant's enabled users (members only unless `include_guests`; see
    /// [`EveryUser::list`]); with `sample`, the first page of at most that many.
    pub(crate) async fn users_of(
        &self,
        graph: &GraphClient,
        sample: Option<usize>,
    ) -> Result<Vec<DirectoryUser>> {
        EveryUser {
            source: SOURCE,
            include_guests: self.include_guests,
            include_disabled: false,
            reads: "with neither user_ids nor drive_ids every user's OneDrive is read",
            field: "user_ids",
        }
        .list(graph, sample)
        .await
    }

    /// The users (as [`users_of`](Self::users_of) lists them) that have a OneDrive, each
    /// with the drive, asked in JSON batches of 20 drive lookups. A user whose drive lookup
    /// fails otherwise than "none" is kept without one: its partition looks again and
    /// reports it.
    pub(crate) async fn users_with_drive(&self, graph: &GraphClient) -> Result<Vec<UserDrive>> {
        let users = self.users_of(graph, None).await?;
        let paths: Vec<String> = users
            .iter()
            .map(|u| {
                format!(
                    "users/{}/drive?$select={DRIVE_FIELDS}",
                    crate::graph::escape(&u.id)
                )
            })
            .collect();
        let answers = graph.batch_get::<Drive>(&paths).await?;
        let mut out = Vec::new();
        for (user, answer) in users.into_iter().zip(answers) {
            match answer {
                Ok(None) => {}
                Err(e) if e.kind().ends_sync() => return Err(e),
                Ok(Some(drive)) => out.push((user.id, Some(target_of(drive)))),
                Err(_) => out.push((user.id, None)),
            }
        }
        Ok(out)
    }
}

/// A user with a OneDrive, and the drive when its lookup answered.
pub(crate) type UserDrive = (String, Option<DriveTarget>);
