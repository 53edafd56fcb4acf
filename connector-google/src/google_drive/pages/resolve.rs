//! What a Drive page needs resolved besides its files: the user a listing is read as (a
//! shared drive's member where the admin is not one, a user who can see a folder the admin
//! cannot), which listing owns a file and which files were emitted already (so each is
//! emitted once), a shortcut's target and a file's readers.

use connector_core::pages::Page;
use connector_core::{Error, ErrorKind, Failure, Result};

use super::super::access::Readers;
use super::super::checkpoint::{GoogleDriveCheckpoint, SEEN_IN_CHECKPOINT};
use super::super::client::Listing;
use super::super::config;
use super::super::model::{self, File, FileList};
use super::{FOLDER_READER_PROBES, Walker};

impl Walker {
    /// The user `listing` is read as: a shared drive the admin is not a member of is read as
    /// the member found for it, a folder the admin cannot see as the user found for it; else
    /// [`DriveClient::subject`](super::super::client::DriveClient::subject).
    pub(super) fn subject_of(
        &self,
        listing: &Listing,
        cp: &GoogleDriveCheckpoint,
    ) -> Option<String> {
        let found = match listing {
            Listing::Drive(d) => cp.drive_members.get(d),
            Listing::Folder(f) => cp.folder_readers.get(f),
            _ => None,
        };
        if let Some(user) = found {
            return Some(user.clone());
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

    /// A configured folder whose first page lists empty, looked up (Drive lists a folder the
    /// caller cannot see as empty, without an error): `(subject, page)` as they were when the
    /// caller sees it (an empty folder is just empty). One the admin cannot see (404, 403) is
    /// read as the first user of the domain who can see it ([`folder_reader`]), kept in `cp`
    /// with its subfolders, and its first page listed again as that user. Else (nobody
    /// can, or an OAuth token's user cannot) the folder's failure, naming it and
    /// `google_primary_admin`.
    ///
    /// # Errors
    /// What concerns every listing (see [`affects_everyone`](crate::auth::affects_everyone)).
    ///
    /// [`folder_reader`]: Self::folder_reader
    pub(super) async fn hidden_folder(
        &self,
        listing: &Listing,
        cp: &mut GoogleDriveCheckpoint,
        fields: &str,
        subject: Option<String>,
        page: Page<FileList, String>,
    ) -> Result<std::result::Result<(Option<String>, Page<FileList, String>), Failure>> {
        let Listing::Folder(folder) = listing else {
            return Ok(Ok((subject, page)));
        };
        let configured = || {
            self.config()
                .shared_folder_urls
                .iter()
                .any(|u| config::id_from_url(u).as_deref() == Some(folder.as_str()))
        };
        if cp.page_token.is_some()
            || !page.items.files.is_empty()
            || page.next.is_some()
            || !configured()
        {
            return Ok(Ok((subject, page)));
        }
        let Err(e) = self.client.file(subject.as_deref(), folder, "id").await else {
            return Ok(Ok((subject, page)));
        };
        let hidden = matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied);
        let failure = |hint: &str, e: Error, as_user: bool| {
            crate::walk::partition_failure(
                listing.key(),
                &listing.to_string(),
                hint,
                e,
                as_user,
                as_user,
            )
        };
        if !hidden
            || !self.client.api.is_service_account()
            || cp.folder_readers.contains_key(folder)
        {
            let hint = if hidden {
                " (Drive does not show it to the user it is read as: share it with google_primary_admin, or check the URL)"
            } else {
                ""
            };
            return Ok(Err(failure(hint, e, false)?));
        }
        let walk_users = cp.users.clone();
        let Some(reader) = self
            .folder_reader(folder, subject.as_deref(), &walk_users)
            .await?
        else {
            let hint = format!(
                " (Drive shows it neither to google_primary_admin nor to any of the first {FOLDER_READER_PROBES} users of the domain asked: share it with google_primary_admin, or check the URL)"
            );
            return Ok(Err(failure(&hint, e, false)?));
        };
        tracing::info!(%folder, user = %reader, "the admin cannot see the folder; it is read as a user who can");
        cp.folder_readers.insert(folder.clone(), reader.clone());
        match self.list(listing, cp, fields).await {
            Ok(listed) => Ok(Ok(listed)),
            Err(e) => Ok(Err(failure("", e, true)?)),
        }
    }

    /// The first user of the domain who can see `folder` (`files.get` answers as them), other
    /// than `tried`: the walk's users, then the Admin SDK directory's (listed once per walk),
    /// at most [`FOLDER_READER_PROBES`] of them. A user who cannot see it, has no Drive or
    /// is suspended is passed over.
    ///
    /// # Errors
    /// What concerns every listing; cancellation.
    async fn folder_reader(
        &self,
        folder: &str,
        tried: Option<&str>,
        walk_users: &[String],
    ) -> Result<Option<String>> {
        let users = self
            .readers
            .get_or_init(|| async {
                let mut users: Vec<String> = Vec::new();
                let Some(admin) = self.client.admin() else {
                    return users;
                };
                let mut token = None;
                loop {
                    match self
                        .client
                        .api
                        .list_users(admin, token.as_deref(), &mut users)
                        .await
                    {
                        Ok(Some(next)) if users.len() < FOLDER_READER_PROBES => token = Some(next),
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!("no directory to find a folder's reader in: {e}");
                            break;
                        }
                    }
                }
                users
            })
            .await;
        let mut asked = 0;
        let mut passed: Vec<&str> = Vec::new();
        for user in walk_users.iter().chain(users) {
            if asked >= FOLDER_READER_PROBES {
                break;
            }
            let skip = user == "me"
                || tried.is_some_and(|t| t.eq_ignore_ascii_case(user))
                || passed.iter().any(|p| p.eq_ignore_ascii_case(user));
            if skip {
                continue;
            }
            passed.push(user);
            asked += 1;
            self.ctx.cancellation().check()?;
            match self.client.file(Some(user), folder, "id").await {
                Ok(_) => return Ok(Some(user.clone())),
                Err(e) if crate::auth::affects_everyone(&e, true, true) => return Err(e),
                Err(e) => tracing::debug!(%folder, %user, "cannot see the folder: {e}"),
            }
        }
        Ok(None)
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

/// Adds `folder`, found in `listing` (a folder), to the folders to crawl, read as the user
/// `listing` is read as when that is not the admin: a subfolder of a folder the admin cannot
/// see is hidden from the admin too.
pub(super) fn add_folder(cp: &mut GoogleDriveCheckpoint, listing: &Listing, folder: String) {
    if cp.folders.contains(&folder) {
        return;
    }
    if let Listing::Folder(parent) = listing
        && let Some(reader) = cp.folder_readers.get(parent).cloned()
    {
        cp.folder_readers.insert(folder.clone(), reader);
    }
    cp.folders.push(folder);
}
