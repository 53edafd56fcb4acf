//! What a Drive page needs resolved besides its files: the user a listing is read as (a
//! shared drive's member where the admin is not one), which listing owns a file and which
//! files were emitted already (so each is emitted once), a shortcut's target and a file's
//! readers.

use connector_core::pages::Page;
use connector_core::{Error, ErrorKind, Result};

use super::super::access::Readers;
use super::super::checkpoint::{GoogleDriveCheckpoint, SEEN_IN_CHECKPOINT};
use super::super::client::Listing;
use super::super::config;
use super::super::model::{self, File, FileList};
use super::Walker;

impl Walker {
    /// The user `listing` is read as: a shared drive the admin is not a member of is read as
    /// the member found for it; else [`DriveClient::subject`].
    pub(super) fn subject_of(
        &self,
        listing: &Listing,
        cp: &GoogleDriveCheckpoint,
    ) -> Option<String> {
        if let Listing::Drive(d) = listing
            && let Some(member) = cp.drive_members.get(d)
        {
            return Some(member.clone());
        }
        self.client.subject(listing).map(str::to_owned)
    }

    /// The OAuth token's own user's e-mail (`about.get`, asked once per walk); `None` for a
    /// service account or when Drive does not tell it.
    pub(super) async fn me(&self) -> Result<Option<String>> {
        if self.client.api.is_service_account() {
            return Ok(None);
        }
        self.me
            .get_or_try_init(|| self.client.about())
            .await
            .cloned()
    }

    /// A user of the domain who is a member of shared drive `drive` (its permissions, read
    /// with the admin's domain admin access), to read a drive the admin is not a member of.
    /// Users of the admin's domain first (domain-wide delegation covers them); `None` when the
    /// drive has no user member (groups only).
    pub(super) async fn drive_member(&self, drive: &str) -> Result<Option<String>> {
        let admin = self.client.admin().unwrap_or_default();
        let domain = admin.rsplit_once('@').map_or("", |(_, d)| d).to_lowercase();
        let members = self.client.permissions(Some(admin), drive, true).await?;
        let all: Vec<String> = members
            .iter()
            .filter(|p| p.kind == "user" && !p.deleted)
            .filter_map(|p| p.email_address.as_deref())
            .map(str::to_lowercase)
            .collect();
        Ok(all
            .iter()
            .find(|u| u.ends_with(&format!("@{domain}")))
            .or_else(|| all.first())
            .cloned())
    }

    /// One page of `listing` as `subject`; a shared drive that the admin cannot read (Drive
    /// answers 404: not a member) is read as one of its members, remembered in `cp`.
    pub(super) async fn list(
        &self,
        listing: &Listing,
        cp: &mut GoogleDriveCheckpoint,
        fields: &str,
    ) -> Result<(Option<String>, Page<FileList, String>)> {
        let window = self.window_of(listing, cp);
        let subject = self.subject_of(listing, cp);
        let first = self
            .client
            .files(
                listing,
                subject.as_deref(),
                cp.page_token.as_deref(),
                window,
                fields,
            )
            .await;
        match (first, listing) {
            (Err(e), Listing::Drive(drive))
                if e.kind() == ErrorKind::NotFound
                    && self.client.api.is_service_account()
                    && !cp.drive_members.contains_key(drive) =>
            {
                let Some(member) = self.drive_member(drive).await? else {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        "the admin is not a member and the drive has no user member to read it as (its members are groups only): add google_primary_admin to the drive",
                    )
                    .with_cause(e));
                };
                let page = self
                    .client
                    .files(
                        listing,
                        Some(&member),
                        cp.page_token.as_deref(),
                        window,
                        fields,
                    )
                    .await?;
                cp.drive_members.insert(drive.clone(), member.clone());
                Ok((Some(member), page))
            }
            (page, _) => Ok((subject, page?)),
        }
    }

    /// Whether a listing of the walk other than the one at hand emitted `file` already: the
    /// My Drive listing of its owner or the listing of its shared drive, finished in this
    /// walk (a listing that failed did not emit it; one still to come checks `seen`). Files
    /// those listings emit need no `seen` entry.
    pub(super) fn emitted_elsewhere(
        &self,
        file: &File,
        cp: &GoogleDriveCheckpoint,
        me: Option<&str>,
    ) -> bool {
        if let Some(d) = &file.drive_id {
            return cp
                .completed_until
                .contains_key(&Listing::Drive(d.clone()).key());
        }
        file.owners
            .iter()
            .filter_map(|o| o.email_address.as_deref())
            .any(|owner| {
                let own = |u: &str| {
                    u.eq_ignore_ascii_case(owner)
                        || (u == "me" && me.is_some_and(|m| m.eq_ignore_ascii_case(owner)))
                };
                cp.users.iter().any(|u| {
                    own(u)
                        && cp
                            .completed_until
                            .contains_key(&Listing::Mine(u.clone()).key())
                })
            })
    }

    /// Whether this walk emitted file `id` already through a listing that does not own it:
    /// in this process (the walk's own set) or before the checkpoint it resumed from (the
    /// checkpoint's `seen`).
    pub(super) fn seen(&self, cp: &GoogleDriveCheckpoint, id: &str) -> bool {
        cp.seen.contains(id)
            || self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .contains(id)
    }

    /// Records that file `id` was emitted through a listing that does not own it: in the
    /// walk's own set, and in the checkpoint while it holds fewer than
    /// [`SEEN_IN_CHECKPOINT`] ids, so the checkpoint written after every page stays bounded
    /// whatever the drive's size.
    pub(super) fn mark_seen(&self, cp: &mut GoogleDriveCheckpoint, id: &str) {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.to_owned());
        if cp.seen.len() < SEEN_IN_CHECKPOINT {
            cp.seen.insert(id.to_owned());
        }
    }

    /// Whether a listing of this walk owns `file` (lists it as its own): the My Drive listing
    /// of an owner whose My Drive is indexed, or its shared drive's listing. A shortcut to such
    /// a file is left to that listing.
    pub(super) fn owned_in_walk(
        &self,
        file: &File,
        cp: &GoogleDriveCheckpoint,
        me: Option<&str>,
    ) -> bool {
        let c = self.config();
        if let Some(d) = &file.drive_id {
            return c.all_shared_drives()
                || cp.drives.contains(d)
                || c.shared_drive_urls
                    .iter()
                    .any(|u| config::id_from_url(u).as_deref() == Some(d.as_str()));
        }
        let mine = self.my_listings(&cp.users);
        file.owners
            .iter()
            .filter_map(|o| o.email_address.as_deref())
            .any(|owner| {
                mine.iter().any(|l| match l {
                    Listing::Mine(u) if u == "me" => {
                        me.is_some_and(|m| m.eq_ignore_ascii_case(owner))
                    }
                    Listing::Mine(u) => u.eq_ignore_ascii_case(owner),
                    _ => false,
                })
            })
    }

    /// The target of shortcut `file` as `subject`, with the listing's `fields`; `None` when
    /// the shortcut points nowhere the user can read (Drive answers 404 or 403: the target
    /// was deleted or is not shared with them), which is no document either.
    pub(super) async fn shortcut_target(
        &self,
        subject: Option<&str>,
        file: &File,
        fields: &str,
    ) -> Result<Option<serde_json::Value>> {
        let Some(target) = file
            .shortcut_details
            .as_ref()
            .and_then(|d| d.target_id.as_deref())
        else {
            return Ok(None);
        };
        let per_file = model::per_file_fields(fields);
        match self.client.file(subject, target, per_file).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied) => {
                tracing::debug!(shortcut = %file.id, "shortcut target not readable: {e}");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Who may read `file`, listed as `user`: its permissions (read with `permissions.list`
    /// when the listing shows only their ids); the user and the owners when Drive shows none
    /// to this user.
    ///
    /// # Errors
    /// `permissions.list` failing otherwise than 403/404 (the file's failure).
    pub(super) async fn readers(
        &self,
        subject: Option<&str>,
        user: Option<&str>,
        file: &File,
    ) -> Result<Readers> {
        let mut readers = match (&file.permissions, &file.permission_ids) {
            (Some(p), _) if !p.is_empty() => Readers::of(p),
            (_, Some(ids)) if !ids.is_empty() => {
                match self.client.permissions(subject, &file.id, false).await {
                    Ok(p) => Readers::of(&p),
                    Err(e)
                        if matches!(
                            e.kind(),
                            ErrorKind::NotFound | ErrorKind::PermissionDenied
                        ) =>
                    {
                        Readers::default()
                    }
                    Err(e) => return Err(e),
                }
            }
            _ => Readers::default(),
        };
        if readers.is_empty() {
            readers = Readers::only(
                user.into_iter().chain(
                    file.owners
                        .iter()
                        .filter_map(|o| o.email_address.as_deref()),
                ),
            );
        }
        Ok(readers)
    }
}
