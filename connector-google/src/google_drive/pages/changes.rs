//! The changes feeds (`changes.list`) of a windowed Drive run: what its listings, which select
//! files by `modifiedTime`, cannot see. A file moved into a crawled folder, newly shared with
//! a user or whose permissions changed keeps its old `modifiedTime`; its feed shows it.

use connector_core::{Batch, ErrorKind, Failure, Result};

use super::super::checkpoint::GoogleDriveCheckpoint;
use super::super::client::{Feed, Listing};
use super::super::convert;
use super::super::model::{self, Change, File};
use super::{Walker, Wanted, malformed};

impl Walker {
    /// The user `feed` is read as: a user's own, a shared drive's reader (the admin, or the
    /// member found for a drive the admin is not in), the folders' reader.
    fn feed_subject(&self, feed: &Feed, cp: &GoogleDriveCheckpoint) -> Option<String> {
        match feed {
            Feed::User(u) => self
                .client
                .subject(&Listing::Mine(u.clone()))
                .map(str::to_owned),
            Feed::Drive(d) => self.subject_of(&Listing::Drive(d.clone()), cp),
            Feed::Folders => self.client.admin().map(str::to_owned),
        }
    }

    /// Whether `e`, met on `feed`, ends the sync: what concerns everyone, as for a listing
    /// (the feed's own listing would end it next anyway) and cancellation.
    fn feed_error_ends_sync(&self, feed: &Feed, e: &connector_core::Error) -> bool {
        let as_user = self.client.api.is_service_account() && matches!(feed, Feed::User(_));
        e.kind() == ErrorKind::Cancelled || crate::auth::affects_everyone(e, as_user, true)
    }

    /// Takes `feed`'s start token into `cp`: its changes from now on. A feed whose token
    /// cannot be taken keeps the one it had, if any (still valid: it only replays more), and
    /// the run goes on; its listings report what is wrong with the user or drive.
    ///
    /// # Errors
    /// What concerns every feed and listing (see [`feed_error_ends_sync`]).
    async fn start_feed(&self, feed: &Feed, cp: &mut GoogleDriveCheckpoint) -> Result<bool> {
        let subject = self.feed_subject(feed, cp);
        let mut answer = self.client.start_page_token(subject.as_deref(), feed).await;
        // A shared drive the admin is not a member of (404), before its listing found a
        // member to read it as: found here, as its listing would.
        if let (Err(e), Feed::Drive(d)) = (&answer, feed)
            && e.kind() == ErrorKind::NotFound
            && self.client.api.is_service_account()
            && !cp.drive_members.contains_key(d)
        {
            match self.drive_member(d).await {
                Ok(Some(member)) => {
                    answer = self.client.start_page_token(Some(&member), feed).await;
                    if answer.is_ok() {
                        cp.drive_members.insert(d.clone(), member);
                    }
                }
                Ok(None) => {}
                Err(e) if self.feed_error_ends_sync(feed, &e) => return Err(e),
                Err(e) => tracing::debug!(%feed, "no member found to read the drive as: {e}"),
            }
        }
        match answer {
            Ok(token) => {
                if let Some(changes) = cp.changes.as_mut() {
                    changes.insert(feed.key(), token);
                }
                Ok(true)
            }
            Err(e) if self.feed_error_ends_sync(feed, &e) => Err(e),
            Err(e) => {
                tracing::warn!(%feed, "no start token for the changes feed: {e}");
                Ok(false)
            }
        }
    }

    /// Whether a change of `file` seen on `feed` is in the walk's scope: a user's own file
    /// when their My Drive is listed, another's when the files shared with them are; a
    /// shared drive's file; a file in a crawled folder (the crawl of this run has found every
    /// folder by then, so a file moved into a subfolder counts).
    fn in_feed_scope(
        &self,
        feed: &Feed,
        file: &File,
        cp: &GoogleDriveCheckpoint,
        me: Option<&str>,
    ) -> bool {
        match feed {
            Feed::User(u) => {
                if file.drive_id.is_some() {
                    return false;
                }
                let listings = self.my_listings(std::slice::from_ref(u));
                if owns(u, file, me) {
                    listings.contains(&Listing::Mine(u.clone()))
                } else {
                    listings.contains(&Listing::SharedWithMe(u.clone()))
                }
            }
            Feed::Drive(d) => file.drive_id.as_deref() == Some(d.as_str()),
            Feed::Folders => file.parents.iter().any(|p| cp.folders.contains(p)),
        }
    }

    /// One page of `feed`, advancing `cp` past it.
    ///
    /// - No token to read from (a first run that follows the feeds, or a full run, whose
    ///   listings see everything): the feed's start token is taken (before its listings),
    ///   nothing is read.
    /// - In a windowed run, the changes since the stored token: each changed file in scope
    ///   whose `modifiedTime` is before the window (what no window selects; a later one is
    ///   this run's listing's or the next run's) is delivered, once per walk as a listing
    ///   does. Shortcuts and folders are left to the listings (a new shortcut has its own new
    ///   time). The last page's `newStartPageToken` is stored.
    /// - Deletions ([`Batch::deleted`], applied by core before the page's documents): a
    ///   trashed file (no listing reads the trash) by its document id; a removed entry
    ///   (`removed: true`: deleted for good, or no longer visible to the feed's reader), which
    ///   names only the file id, by every id the file's document may have had
    ///   ([`convert::possible_document_ids`]), once `files.get` as the same reader answers
    ///   404 (a file it still sees moved elsewhere: the feed of where it went delivers it).
    ///   On the folders' feed, a file now outside every crawled folder too, by its id. A
    ///   removal is not a deletion where another listing of the walk may still hold the file
    ///   (see [`Walker::removal_deletes`]); a trashed or removed folder's files are deleted
    ///   when Drive reports them one by one: what it does not report is left to prune
    ///   ([`SlimConnector`](connector_core::SlimConnector)), as is every deletion in a run
    ///   that does not follow the feeds.
    /// - A token Drive refuses ([`refused_token`]: 404, 410, or a 400 naming `pageToken`)
    ///   while a new one can be taken: the feed restarts from the new token and, for a user or
    ///   shared drive, its listings run without the window in this run, so a gap in the feed
    ///   loses nothing (the folders' feed comes after the crawl: it only restarts).
    /// - Any other error: the stored token is kept, so the next run reads the same changes
    ///   again, and this run's listings go on.
    ///
    /// # Errors
    /// What concerns every feed and listing; a fetch error that ends the sync.
    pub(super) async fn feed_page(
        &self,
        feed: &Feed,
        cp: &mut GoogleDriveCheckpoint,
    ) -> Result<Batch> {
        let key = feed.key();
        let window = self.mode.window();
        let stored = cp.changes.as_ref().and_then(|c| c.get(&key)).cloned();
        // Mid-feed, its next page; else, in a windowed run, the token the feed stopped at.
        let Some(from) = cp.page_token.clone().or(window.and(stored)) else {
            self.start_feed(feed, cp).await?;
            cp.next_entity();
            return Ok(Batch::default());
        };
        let c = self.config();
        let fields = model::change_fields(if c.include_permissions {
            model::FILE_FIELDS_WITH_PERMISSIONS
        } else {
            model::FILE_FIELDS
        });
        let subject = self.feed_subject(feed, cp);
        let page = match self
            .client
            .changes(subject.as_deref(), feed, &from, &fields)
            .await
        {
            Ok(page) => page,
            Err(e) if self.feed_error_ends_sync(feed, &e) => return Err(e),
            // A refused token, if a new one can be taken (else the user or drive itself is
            // not found, which its listing reports).
            Err(e) if refused_token(&e) && self.start_feed(feed, cp).await? => {
                tracing::warn!(%feed, "Drive refused the feed's page token ({e}); it restarts now");
                if !matches!(feed, Feed::Folders) {
                    cp.relist.insert(key);
                }
                cp.next_entity();
                return Ok(Batch::default());
            }
            Err(e) => {
                tracing::warn!(%feed, "the changes feed could not be read; the next run reads it again: {e}");
                cp.next_entity();
                return Ok(Batch::default());
            }
        };
        let me = self.me().await?;
        let mut batch = Batch::default();
        let mut candidates: Vec<(String, Wanted)> = Vec::new();
        let mut deleted: Vec<String> = Vec::new();
        let mut removed: Vec<String> = Vec::new();
        for raw in page.changes {
            let change: Change = match serde_json::from_value(raw) {
                Ok(change) => change,
                Err(e) => {
                    let msg = format!("a Drive change on {feed} is malformed: {e}");
                    batch
                        .failures
                        .push(Failure::new(None, ErrorKind::InvalidData, msg));
                    continue;
                }
            };
            // A shared drive's own metadata: nothing to index.
            if change.change_type.as_deref() == Some("drive") {
                continue;
            }
            if change.removed {
                if let Some(id) = change.file_id.filter(|_| self.removal_deletes(feed, cp)) {
                    removed.push(id);
                }
                continue;
            }
            let Some(raw) = change.file else {
                tracing::debug!(file = ?change.file_id, "a change without its file");
                continue;
            };
            let file: File = match serde_json::from_value(raw.clone()) {
                Ok(f) => f,
                Err(e) => {
                    batch.failures.push(malformed(&raw, &e));
                    continue;
                }
            };
            if file.mime_type == model::FOLDER || file.mime_type == model::SHORTCUT {
                continue;
            }
            if file.trashed {
                // No listing reads the trash: out of every scope.
                deleted.push(convert::document_id(
                    &file.id,
                    file.web_view_link.as_deref(),
                ));
                continue;
            }
            if !self.in_feed_scope(feed, &file, cp, me.as_deref()) {
                // Moved out of the crawled folders, when nothing else of the walk lists it.
                if matches!(feed, Feed::Folders) && self.removal_deletes(feed, cp) {
                    deleted.push(convert::document_id(
                        &file.id,
                        file.web_view_link.as_deref(),
                    ));
                }
                continue;
            }
            let Some(fetch) = convert::fetch_for(
                &file.mime_type,
                c.docs_format,
                c.sheets_format,
                c.allow_images,
            ) else {
                continue;
            };
            let id = convert::document_id(&file.id, file.web_view_link.as_deref());
            let Some(updated) = convert::modified(&file) else {
                let msg = format!(
                    "Drive file `{id}` has no readable modifiedTime {:?}",
                    file.modified_time
                );
                batch
                    .failures
                    .push(Failure::new(Some(id), ErrorKind::InvalidData, msg));
                continue;
            };
            if window.is_some_and(|w| updated >= w.start) {
                continue;
            }
            // As in a listing: a file another feed of the walk owns is that feed's, others
            // are delivered once.
            let owned_here = match feed {
                Feed::User(u) => owns(u, &file, me.as_deref()),
                Feed::Drive(_) => true,
                Feed::Folders => false,
            };
            if !owned_here {
                if self.owned_in_walk(&file, cp, me.as_deref()) || self.seen(cp, &file.id) {
                    continue;
                }
                self.mark_seen(cp, &file.id);
            }
            if self.over_cap(&id, &file, &fetch, &mut batch) {
                continue;
            }
            candidates.push((id, (file, fetch, updated, None)));
        }
        match page.next_page_token.filter(|t| !t.is_empty()) {
            Some(next) => cp.page_token = Some(next),
            None => {
                if let (Some(token), Some(changes)) =
                    (page.new_start_page_token, cp.changes.as_mut())
                {
                    changes.insert(key, token);
                }
                cp.next_entity();
            }
        }
        for id in removed {
            if self.gone_for(subject.as_deref(), &id).await? {
                deleted.extend(convert::possible_document_ids(&id));
            }
        }
        // The folders' feed shows every file its reader sees: only the ones the host holds
        // were in scope.
        let mut deleted = self.held_of(deleted).await?;
        if let Ok(mut fed) = self.fed.lock() {
            fed.extend(candidates.iter().map(|(id, _)| id.clone()));
            deleted.retain(|id| !fed.contains(id));
        }
        let user = subject.clone().or(me);
        let batch = self
            .deliver(subject.as_deref(), user.as_deref(), candidates, batch)
            .await?;
        Ok(batch.with_deleted(deleted))
    }

    /// Whether a file `feed` no longer shows is out of the walk's scope: a shared drive's
    /// files are that drive's alone; a user's feed speaks for the walk when it reads one
    /// user and no folders (with several, another user may still read the file, and the
    /// folders' reader is another identity); the folders' feed when the walk lists no user
    /// or shared drive.
    pub(super) fn removal_deletes(&self, feed: &Feed, cp: &GoogleDriveCheckpoint) -> bool {
        match feed {
            Feed::Drive(_) => true,
            Feed::User(_) => cp.users.len() <= 1 && cp.folders.is_empty(),
            Feed::Folders => cp.users.is_empty() && cp.drives.is_empty(),
        }
    }

    /// Of the ids to delete (every id a removed file's document may have had among them),
    /// those the host holds (asked of its fingerprints, so the deletion count is the
    /// documents deleted); all of them when the host keeps no fingerprints.
    async fn held_of(&self, ids: Vec<String>) -> Result<Vec<String>> {
        let lookup = self.ctx.fingerprints();
        if ids.is_empty() || !lookup.remembers() {
            return Ok(ids);
        }
        let known = lookup.fingerprints(&ids).await?;
        Ok(ids
            .into_iter()
            .filter(|id| known.contains_key(id))
            .collect())
    }

    /// Whether the file `id`, removed from a feed read as `subject`, is gone for that reader
    /// too (`files.get` answers 404, or the file is in the trash); a file it still reads
    /// moved elsewhere, and an error leaves the file to prune.
    async fn gone_for(&self, subject: Option<&str>, id: &str) -> Result<bool> {
        match self.client.file(subject, id, "id,trashed").await {
            Ok(file) => Ok(file.get("trashed").and_then(serde_json::Value::as_bool) == Some(true)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(true),
            Err(e) if e.kind() == ErrorKind::Cancelled => Err(e),
            Err(e) => {
                tracing::warn!(
                    file = id,
                    "a removed Drive file could not be checked; prune decides: {e}"
                );
                Ok(false)
            }
        }
    }
}

/// Whether `e`, the answer to `changes.list`, refuses the page token itself: 404 or 410 (an
/// expired or unknown token), or a 400 whose Google error names the `pageToken` parameter
/// (`"reason": "invalid"`, `"location": "pageToken"`: a token Drive cannot read). Kept
/// otherwise, such a token would be read again and refused again on every later run, and the
/// feed would never move on.
fn refused_token(e: &connector_core::Error) -> bool {
    match e.kind() {
        ErrorKind::NotFound => true,
        // Core reports a 400 Google's classifier leaves alone as `HTTP 400: {body}`.
        ErrorKind::InvalidData => {
            e.message().starts_with("HTTP 400")
                && e.message().contains("\"location\"")
                && e.message().contains("\"pageToken\"")
        }
        _ => false,
    }
}

/// Whether user `u` (`me`: the OAuth token's user, whose e-mail is `me`) owns `file`.
fn owns(u: &str, file: &File, me: Option<&str>) -> bool {
    file.owners
        .iter()
        .filter_map(|o| o.email_address.as_deref())
        .any(|owner| {
            owner.eq_ignore_ascii_case(u)
                || (u == "me" && me.is_some_and(|m| m.eq_ignore_ascii_case(owner)))
        })
}
