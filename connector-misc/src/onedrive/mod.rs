//! The OneDrive connector (source `"onedrive"`): the files of OneDrive for Business drives
//! (every user's, named users', or drives named by id), one document each, over Microsoft
//! Graph with an app registration's client credentials (application permission
//! `Files.Read.All`; `User.Read.All` to list every user).
//!
//! - **Drives**: `user_ids` (each `GET users/{id}/drive`), `drive_ids` (`GET drives/{id}`), or
//!   with neither every enabled member of the tenant (`GET /users` with
//!   `$filter=accountEnabled eq true`, guests only with `include_guests`, then each user's
//!   drive in JSON batches of 20; users without a OneDrive are passed over). A named user or
//!   drive without one is a failure naming it; the others are read. With more than one user
//!   or drive, each is a **partition** (`user:{id}`, `drive:{id}`): a job of its own with its
//!   own checkpoint; the connector as a whole reads them one after another. With neither,
//!   every user that has a OneDrive is a partition through
//!   [`Connector::discover_partitions`], which the sync service runs: one job and one
//!   checkpoint per user rather than one for the whole tenant (a discovered user whose drive
//!   is gone by its run reads nothing, quietly). A host that runs no partitions (the CLI)
//!   reads every user's drive in one run. The drives are resolved once a run, by its
//!   listing, and reused by its id listing (prune) and refetch. Discovery looks each user's
//!   drive up anyway, and hands it to the user's partition
//!   ([`Connector::discover_partition_specs`], [`Connector::partition_with`]): a job the
//!   sync service runs in the process that discovered it asks for no drive; one built from
//!   its key alone (another process, a restart) looks its user's drive up first.
//! - **Listing**: a delta round per drive (`GET drives/{id}/root/delta` with `$select`),
//!   paged by `@odata.nextLink`. The checkpoint ([`OnedriveCheckpoint`]) is the drive being
//!   read with its next link, and the `@odata.deltaLink` of each drive finished. The delta
//!   links a finished run ends with are carried to the next incremental run
//!   ([`CheckpointedConnector::carry_over`]), whose rounds then list exactly what changed since
//!   (an edit, a new file, a rename or move, whatever its time). Graph's `410 Gone` (an expired
//!   or reset delta link) lists that drive again in the same run, where unchanged files cost
//!   no download. An item listed twice in a page counts once, in its last state.
//! - **Folder** (RAGFlow's `folder_path`): OneDrive for Business answers delta queries on the
//!   root only (RAGFlow's `root:{path}:/delta` fails there), so the root's delta is read and a
//!   file is kept when the folder is among its ancestors: folders seen in the round, and
//!   `GET items/{id}` (cached per run) for the ones a round of changes does not show.
//! - **Deletions**: items of a delta round with a `deleted` facet (deleted, or no longer
//!   visible to the app) are reported in their page's [`Batch::deleted`], and so are the
//!   files of a round of changes that left `folder_path` (moved out, or below a folder moved
//!   out); the sync deletes them from the sink in stream order. A deleted folder's files that
//!   the round does not list, and anything else a round misses, are left to prune
//!   ([`SlimConnector`], a fresh round), which is refused (an error, not a short list) when a
//!   drive cannot be listed.
//! - **Ids**: `onedrive:{drive id}:{item id}`: an item's id survives renames and moves, and
//!   is unique within its drive (RAGFlow used the bare item id). The title is the file name,
//!   the link its `webUrl`, `updated_at` its `lastModifiedDateTime` (RAGFlow fell back to
//!   `now()`); `parent_id` the id its folder would have; metadata holds `drive_id`,
//!   `item_id`, `created_at`, `created_by`, `modified_by` and `mime_type`; `owners` the drive's
//!   owner.
//! - **Access** (unless `include_permissions: false`): the drive's owner, and every user and
//!   group the file's permissions grant a role (`GET items/{id}/permissions`, asked in JSON
//!   batches of 20 per page): users by e-mail, Entra groups as `aad-group:{object id}` (also
//!   when SharePoint names one by its claims login), SharePoint groups as
//!   `sp-group:{site collection id}:{group id}` (a group belongs to one site collection; keys
//!   are ids, never names, which a rename changes and two groups may share); an organisation-wide link and "Everyone except external
//!   users" (`spo-grid-all-users`) add `tenant:{tenant id}` (the directory's GUID, from the
//!   token, whichever name `tenant_id` gives), and so does SharePoint's "Everyone"
//!   (`c:0(.s|true`, guests included, who are accounts of the tenant too; Onyx makes it
//!   public, which would open it to every user of the host), an anonymous link makes the file
//!   public only with `anonymous_links_public` (else it adds nobody). A file whose permissions cannot be read is narrowed to the drive's owner until a
//!   later run reads them (fail closed).
//!   Sharing a file moves none of its tags, so delta rounds ask for sharing changes
//!   (`Prefer: deltashowsharingchanges, hierarchicalsharing`, see
//!   [`crate::graph::DELTA_PREFER`]): a file shared or unshared is listed by the next
//!   incremental run, and its version, which hashes who may read it, delivers it again; a
//!   folder shared or unshared has its files' permissions read again. Graph reports every
//!   sharing change only to an app holding `Sites.FullControl.All`; with `Files.Read.All` it
//!   may leave some out, which then reach the documents when the file changes.
//! - **Folders moved** into `folder_path` are listed below (delta lists the folder, not its
//!   files) and their files delivered; the folders inside the scope are kept in the checkpoint
//!   to tell such a move apart.
//! - **Fingerprint**: the entity tag (`eTag`: new content, a rename, a move; delta rounds of
//!   OneDrive for Business leave `cTag` out) and a hash of who may read it, all listed, so an
//!   unchanged file is reported unchanged without a download (RAGFlow downloaded nothing: its
//!   documents had empty bodies).
//! - **Content**: `GET items/{id}/content`, whose redirect to a pre-authenticated download
//!   URL is followed without the token, up to `max_file_size` (a larger listed size is a
//!   failure without a download); text extensions as text, the rest as bytes with their MIME
//!   type. With `spool_above`, a larger file is downloaded chunk by chunk into the sync's
//!   spool folder ([`connector_core::spool`]) and delivered as
//!   [`Content::Spooled`](connector_core::Content::Spooled) (a text file as `text/plain`
//!   bytes), never whole in memory. A file gone between its listing and its download yields
//!   nothing.
//! - **Errors**: a drive Graph will not read to its end (locked, archived, its user deleted,
//!   throttled past the retries) is a failure naming it (`onedrive:drive:{id}`); the other
//!   drives are read, and the next run reads it again from its last finished round. Only
//!   errors that end any sync (credentials, the state, the sink) end the run.
//! - **Limits**: `requests_per_second` (default 6, under the resource units a minute
//!   SharePoint grants an app in the smallest tenants; raise it for larger ones, 0 for none);
//!   Graph's 429 and 503 with `Retry-After` are waited out (core's client); see
//!   [`crate::graph`] for the token (a client secret, or a certificate's signed assertion)
//!   and error handling.

mod config;
mod drives;

use std::fmt;
use std::num::NonZeroU64;
use std::sync::Arc;

use async_trait::async_trait;
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, DynConnector, Error, ErrorKind,
    PartitionContext, PartitionSpec, Result, Roles, SlimConnector, SlimDocument, SyncContext,
    TimeWindow,
};
use futures::stream::BoxStream;

pub use crate::graph::{DriveCursor, Phase};
pub use config::{DEFAULT_MAX_FILE_SIZE, OnedriveConfig, OnedriveCredentials};

use crate::graph::{
    self,
    drive_walk::{self, DriveWalk},
};
use drives::{Fresh, HandedDrive, OnedriveDrives, Reused, RunDrives};

/// Where a resumed OneDrive sync starts: the delta links of its drives (the walk OneDrive
/// shares with SharePoint's document libraries).
pub type OnedriveCheckpoint = crate::graph::DriveCheckpoint;

/// The registry key of the OneDrive connector.
pub const SOURCE: &str = "onedrive";

/// Users whose drives `check()` tries when every user's drive is read.
const CHECK_SAMPLE: usize = 5;

/// The application permissions a 403 asks for.
const PERMISSIONS: &str = "Files.Read.All (and User.Read.All to list every user)";

/// Reads OneDrive drives. Built from an [`OnedriveConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::onedrive::{OnedriveConfig, OnedriveConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let config = OnedriveConfig::new("contoso.onmicrosoft.com", "app-id", "secret");
/// let connector = OnedriveConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OnedriveConnector {
    config: OnedriveConfig,
    walk: DriveWalk,
    drives: Arc<RunDrives>,
}

impl OnedriveConnector {
    /// A connector for `config`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] listing every problem of
    /// `config`.
    pub fn new(config: OnedriveConfig) -> Result<Self> {
        Self::build(config, false, None)
    }

    /// A connector for `config`; `discovered`: a user partition found by
    /// [`Connector::discover_partitions`], read as every user's drives are (no OneDrive or no
    /// `folder_path` in it is no failure), with its drive when discovery `handed` it.
    fn build(
        config: OnedriveConfig,
        discovered: bool,
        handed: Option<crate::graph::drive_walk::DriveTarget>,
    ) -> Result<Self> {
        let graph = config.client(
            SOURCE,
            PERMISSIONS,
            crate::graph::per_second(config.requests_per_second),
        )?;
        let drives = OnedriveDrives {
            users: config
                .user_ids
                .iter()
                .map(|u| u.trim().to_owned())
                .collect(),
            drives: config
                .drive_ids
                .iter()
                .map(|d| d.trim().to_owned())
                .collect(),
            include_guests: config.include_guests,
            quiet_missing: discovered,
        };
        let walk = DriveWalk {
            graph,
            source: SOURCE,
            folder: config.folder_segments().join("/"),
            // Every user's drive: most have no such folder, which is no failure.
            pass_over_missing_folder: drives.all_users() || discovered,
            max: config.max_file_size.get(),
            allow_images: config.allow_images,
            permissions: config.include_permissions,
            anonymous_public: config.anonymous_links_public,
            tenant: config.credentials.tenant_id.trim().to_owned(),
            spool_above: config.spool_above.map(NonZeroU64::get),
            spool: None,
        };
        Ok(Self {
            config,
            walk,
            drives: Arc::new(RunDrives::new(drives, handed)),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &OnedriveConfig {
        &self.config
    }
}

impl fmt::Display for OnedriveConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}:{}", self.config.credentials.tenant_id.trim())
    }
}

#[async_trait]
impl Connector for OnedriveConnector {
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

    /// `user:{id}` for each of `user_ids` and `drive:{id}` for each of `drive_ids`, when
    /// there is more than one in all.
    fn partitions(&self) -> Vec<String> {
        let drives = &self.drives.drives;
        graph::partitions(
            drives
                .users
                .iter()
                .map(|u| format!("user:{u}"))
                .chain(drives.drives.iter().map(|d| format!("drive:{d}"))),
        )
    }

    /// The configured users' and drives' partitions; with neither, `user:{id}` for each
    /// enabled member (and guest, with `include_guests`) of the tenant that has a OneDrive
    /// (`GET /users`, then the users' drives in JSON batches of 20).
    ///
    /// # Errors
    /// As [`discover_partition_specs`](Connector::discover_partition_specs).
    async fn discover_partitions(&self) -> Result<Vec<String>> {
        Ok(PartitionSpec::keys(self.discover_partition_specs().await?))
    }

    /// [`discover_partitions`](Connector::discover_partitions), each discovered user's
    /// partition handed the drive discovery looked up, so its job does not look it up again
    /// ([`partition_with`](Connector::partition_with)).
    ///
    /// # Errors
    /// `PermissionDenied` naming `user_ids` without `User.Read.All`, and the other errors of
    /// the listing.
    async fn discover_partition_specs(&self) -> Result<Vec<PartitionSpec>> {
        if !self.drives.drives.all_users() {
            return Ok(self
                .partitions()
                .into_iter()
                .map(PartitionSpec::new)
                .collect());
        }
        let users = self
            .drives
            .drives
            .users_with_drive(&self.walk.graph)
            .await?;
        Ok(users
            .into_iter()
            .map(|(user, target)| {
                let spec = PartitionSpec::new(format!("user:{user}"));
                match target {
                    Some(target) => {
                        spec.with_context(PartitionContext::new(HandedDrive { user, target }))
                    }
                    None => spec,
                }
            })
            .collect())
    }

    /// A configured user's or drive's partition, or a user's found by
    /// [`discover_partitions`](Connector::discover_partitions): its run looks the user's
    /// drive up first.
    fn partition(&self, partition: &str) -> Option<DynConnector> {
        self.partition_of_key(partition, None)
    }

    /// [`partition`](Connector::partition), with the drive discovery looked up: its runs
    /// read it without looking it up again (a drive gone since is that drive's failure, as
    /// when it goes during a run).
    fn partition_with(&self, partition: &str, context: &PartitionContext) -> Option<DynConnector> {
        let handed = context
            .get::<HandedDrive>()
            .filter(|h| partition.strip_prefix("user:") == Some(h.user.as_str()))
            .map(|h| h.target.clone());
        self.partition_of_key(partition, handed)
    }

    /// Gets a token, resolves the drives (a named user without a OneDrive fails here; with
    /// every user's drive, only the first few users are tried), reads the first delta page of
    /// the first drive and, for named users and drives, finds `folder_path` in each: the
    /// secret is accepted, the app holds `Files.Read.All`, the drives and folder exist.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.client_secret`, `PermissionDenied` naming the
    /// application permission, `NotFound` naming the user, drive or `folder_path`,
    /// `Unavailable` when Graph cannot be reached.
    async fn check(&self) -> Result<()> {
        // Every user's drive: a sample of the first users, not the whole tenant.
        let (targets, failures) = self
            .drives
            .drives
            .targets_of(&self.walk.graph, Some(CHECK_SAMPLE))
            .await?;
        graph::first_failure(SOURCE, failures, None)?;
        if let Some(t) = targets.first() {
            let url = self.walk.graph.drive_delta_url(&t.drive)?;
            self.walk.graph.drive_delta(&url).await?;
        }
        // A named user's or drive's missing folder fails every run: say so now. (Among every
        // user's drives most lack it, which is no error.)
        if !self.walk.pass_over_missing_folder {
            for t in &targets {
                if let Err(f) = self.walk.scope(&t.drive).await? {
                    return Err(Error::new(ErrorKind::NotFound, f.message)
                        .with_connector(SOURCE)
                        .with_field("folder_path"));
                }
            }
        }
        Ok(())
    }
}

impl OnedriveConnector {
    /// The partition `partition`, with the drive discovery `handed` it.
    fn partition_of_key(
        &self,
        partition: &str,
        handed: Option<crate::graph::drive_walk::DriveTarget>,
    ) -> Option<DynConnector> {
        // A user discovered among every user's, or one of the configured partitions.
        let discovered = self.drives.drives.all_users()
            && partition
                .strip_prefix("user:")
                .is_some_and(|u| !u.trim().is_empty());
        if !discovered && !self.partitions().iter().any(|p| p == partition) {
            return None;
        }
        let mut config = self.config.clone();
        config.user_ids = Vec::<String>::new().into();
        config.drive_ids = Vec::<String>::new().into();
        match partition.split_once(':') {
            Some(("user", u)) => config.user_ids = vec![u.to_owned()].into(),
            Some(("drive", d)) => config.drive_ids = vec![d.to_owned()].into(),
            _ => return None,
        }
        let handed = handed.filter(|_| discovered);
        let connector = Self::build(config, discovered, handed).ok()?;
        Some(Arc::new(connector))
    }
}

impl CheckpointedConnector for OnedriveConnector {
    type Checkpoint = OnedriveCheckpoint;

    fn initial_checkpoint(&self) -> OnedriveCheckpoint {
        OnedriveCheckpoint::start()
    }

    /// The delta links the finished run ended on: the next incremental run reads the changes
    /// since.
    fn carry_over(&self, last: &OnedriveCheckpoint) -> Option<OnedriveCheckpoint> {
        last.carried()
    }

    fn load_from_checkpoint(
        &self,
        from: OnedriveCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<OnedriveCheckpoint>>> {
        drive_walk::checkpointed(
            &self.walk,
            Arc::new(Fresh(self.drives.clone())),
            from,
            window,
            ctx,
        )
    }
}

impl SlimConnector for OnedriveConnector {
    /// Every file id of a fresh delta round of every drive; fails rather than come back short.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        drive_walk::list_ids(&self.walk, Arc::new(Reused(self.drives.clone())), ctx)
    }
}

impl connector_core::RefetchConnector for OnedriveConnector {
    /// These files again, by `GET items/{id}` then a download; a file that is gone yields
    /// nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        drive_walk::refetch(&self.walk, Arc::new(Reused(self.drives.clone())), ids, ctx)
    }
}
