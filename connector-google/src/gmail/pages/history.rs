//! The history feed (`users.history.list`) of a windowed Gmail run: what its listing, which
//! selects threads by date, cannot see. A label added or removed, a message imported with an
//! old date or a thread back from spam or trash leaves the thread's last date where it was;
//! the mailbox's history shows it.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use connector_core::pages::{Outcome, PendingItem, fetch_items};
use connector_core::{Batch, Error, ErrorKind, Result};

use super::super::checkpoint::GmailCheckpoint;
use super::super::convert;
use super::{Keep, Walker};

impl Walker {
    /// Whether `e`, met on a mailbox's history, ends the sync: what concerns every mailbox
    /// (its listing would end it next anyway) and cancellation.
    fn history_error_ends_sync(&self, e: &Error) -> bool {
        e.kind() == ErrorKind::Cancelled
            || crate::auth::affects_everyone(e, self.client.api.is_service_account(), false)
    }

    /// Takes `user`'s current history id into `cp` (`users.getProfile`); `false` when Gmail
    /// gives none, and the mailbox keeps the id it had, if any (still valid: it replays
    /// more), its listing reporting what is wrong with the mailbox.
    async fn start_history(&self, user: &str, cp: &mut GmailCheckpoint) -> Result<bool> {
        match self.client.history_id(user).await {
            Ok(Some(id)) => {
                if let Some(history) = cp.history.as_mut() {
                    history.insert(user.to_owned(), id);
                }
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) if self.history_error_ends_sync(&e) => Err(e),
            Err(e) => {
                tracing::warn!(user, "no history id for the mailbox: {e}");
                Ok(false)
            }
        }
    }

    /// One page of `user`'s history, advancing `cp` past it.
    ///
    /// - No history id to read from (a first run that follows the feeds, or a full run):
    ///   the mailbox's current one is taken, before its threads are listed.
    /// - In a windowed run, the history after the stored id (messages added and deleted,
    ///   labels added and removed): each thread it touches whose last message is before the
    ///   window is fetched and delivered (the listing delivers the others). A thread it
    ///   touches that is gone (deleted since: `threads.get` answers 404) or left the listing
    ///   (all its messages in spam or trash, or drafts and chats only) is one of the page's
    ///   deleted ids ([`Batch::deleted`]), its thread document deleted in this run. The
    ///   attachment documents of a deleted message are not (their part ids are not in the
    ///   history): prune finds them. The last page's `historyId` is stored.
    /// - A history id Gmail no longer keeps (404) while a new one can be taken: the mailbox's
    ///   threads are listed without the window in this run.
    /// - Any other error: the stored id is kept, the next run reads the same history again,
    ///   and the mailbox's listing goes on.
    ///
    /// # Errors
    /// What concerns every mailbox; a fetch error that ends the sync.
    pub(super) async fn history_page(&self, user: &str, cp: &mut GmailCheckpoint) -> Result<Batch> {
        let stored = cp.history.as_ref().and_then(|h| h.get(user)).cloned();
        let (Some(window), Some(start)) = (self.mode.window(), stored) else {
            self.start_history(user, cp).await?;
            cp.history_done();
            return Ok(Batch::default());
        };
        let page = match self
            .client
            .history(user, &start, cp.page_token.as_deref())
            .await
        {
            Ok(page) => page,
            Err(e) if self.history_error_ends_sync(&e) => return Err(e),
            Err(e) if e.kind() == ErrorKind::NotFound && self.start_history(user, cp).await? => {
                tracing::warn!(
                    user,
                    "Gmail no longer keeps the history after the stored id ({e}); the mailbox is listed whole"
                );
                cp.relist.insert(user.to_owned());
                cp.history_done();
                return Ok(Batch::default());
            }
            Err(e) => {
                tracing::warn!(
                    user,
                    "the mailbox's history could not be read; the next run reads it again: {e}"
                );
                cp.history_done();
                return Ok(Batch::default());
            }
        };
        let mut threads: Vec<String> = Vec::new();
        for record in &page.history {
            for id in record.thread_ids() {
                if !threads.iter().any(|t| t == id) {
                    threads.push(id.to_owned());
                }
            }
        }
        match page.next_page_token.filter(|t| !t.is_empty()) {
            Some(next) => cp.page_token = Some(next),
            None => {
                if let (Some(id), Some(history)) = (page.history_id, cp.history.as_mut()) {
                    history.insert(user.to_owned(), id);
                }
                cp.history_done();
            }
        }
        let pending = threads
            .into_iter()
            .map(|t| PendingItem::new(convert::thread_id(user, &t), t));
        let c = &self.client.config;
        let gone = Mutex::new(Vec::new());
        let batch = fetch_items(&self.ctx, pending, c.thread_concurrency(), |thread| {
            self.changed_thread(user, thread, window.start, &gone)
        })
        .await?;
        let mut gone = gone.into_inner().unwrap_or_default();
        // Only the threads the host holds (a spam or drafts-only thread never was), so the
        // deletion count is the documents deleted; all when the host keeps no fingerprints.
        let lookup = self.ctx.fingerprints();
        if !gone.is_empty() && lookup.remembers() {
            let held = lookup.fingerprints(&gone).await?;
            gone.retain(|id| held.contains_key(id));
        }
        Ok(batch.with_deleted(gone))
    }

    /// A thread the history touched, as its documents when its last message is before
    /// `before`: its messages' dates and labels first (`format=minimal`), the whole thread
    /// only then. A thread deleted since, or that no listing shows any more, goes into `gone`
    /// by its document id.
    async fn changed_thread(
        &self,
        user: &str,
        thread: String,
        before: DateTime<Utc>,
        gone: &Mutex<Vec<String>>,
    ) -> Result<Vec<Outcome>> {
        let deleted = || {
            if let Ok(mut gone) = gone.lock() {
                gone.push(convert::thread_id(user, &thread));
            }
            Ok(Vec::new())
        };
        let minimal = match self.client.thread_minimal(user, &thread).await {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return deleted(),
            Err(e) => return Err(e),
        };
        let kept: Vec<_> = minimal
            .messages
            .iter()
            .filter(|m| !convert::left_out(m))
            .collect();
        // As `threads.list`, which leaves spam and trash out (and a thread of drafts and
        // chats alone is no document).
        if kept
            .iter()
            .all(|m| m.label_ids.iter().any(|l| l == "SPAM" || l == "TRASH"))
        {
            return deleted();
        }
        let last = kept
            .iter()
            .filter_map(|m| m.internal_date.as_deref()?.parse::<i64>().ok())
            .max();
        if last.is_none_or(|ms| ms >= before.timestamp_millis()) {
            return Ok(Vec::new());
        }
        let full = match self.client.thread(user, &thread).await {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return deleted(),
            Err(e) => return Err(e),
        };
        self.convert_thread(user, full, Keep::Before(before)).await
    }
}
