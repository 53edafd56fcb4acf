//! The Gmail walk: the mailboxes (directory pages, or the configured users, or the OAuth
//! user's own), then each mailbox's `threads.list` pages, one page per step, each page's
//! changed threads fetched and converted through core's
//! [`fetch_items`].

use chrono::{DateTime, Utc};
use connector_core::pages::{Outcome, PendingItem, fetch_items, item_failure};
use connector_core::{Batch, Error, ErrorKind, Failure, Result, SyncContext, TimeWindow};

use super::checkpoint::{GmailCheckpoint, GmailStage};
use super::client::GmailClient;
use super::convert;
use super::model::{Thread, ThreadRef};
use crate::walk::{Mode, Walk};

mod history;

/// Which threads of those read become documents, by their last message's time.
#[derive(Debug, Clone, Copy)]
enum Keep {
    /// Those in the window; all without one.
    Window(Option<TimeWindow>),
    /// Those before this time: what a history feed adds to a window's listing.
    Before(DateTime<Utc>),
}

impl Keep {
    fn keeps(self, updated: Option<DateTime<Utc>>) -> bool {
        match self {
            Self::Window(None) => true,
            Self::Window(Some(w)) => updated.is_some_and(|u| w.contains(u)),
            Self::Before(t) => updated.is_some_and(|u| u < t),
        }
    }
}

/// One Gmail walk: a state machine over [`GmailCheckpoint`], one source page per step.
pub(super) struct Walker {
    client: GmailClient,
    mode: Mode,
    ctx: SyncContext,
}

impl Walker {
    /// A walk with `client`, counting into and stopping with `ctx`.
    pub(super) fn new(client: &GmailClient, mode: Mode, ctx: SyncContext) -> Self {
        Self {
            client: client.with_context(&ctx),
            mode,
            ctx,
        }
    }

    /// Lists the first users (a bad key, a missing delegation and a disabled Admin SDK fail
    /// here, told apart), then reads the first mailbox's profile (a disabled Gmail API or a
    /// missing Gmail scope fails here;
    /// a first user without a mailbox, whose problem is that user's, does not).
    pub(super) async fn check(&self) -> Result<()> {
        let mut cp = GmailCheckpoint::default();
        self.settle(&mut cp);
        if cp.stage == GmailStage::Users {
            cp = self.step(cp).await?.1;
        }
        let user = cp.users.first().map_or("me", String::as_str);
        match self.client.profile(user).await {
            // The first user having no mailbox (no licence, suspended) says nothing about the
            // connector: the sync reads the others and reports that one.
            Err(e)
                if !crate::auth::affects_everyone(
                    &e,
                    self.client.api.is_service_account(),
                    false,
                ) =>
            {
                Ok(())
            }
            other => other.map(drop),
        }
    }

    /// Fetches a page's threads (and their attachments) as documents; in [`Mode::Slim`] lists
    /// their ids, fetching the threads only when attachments need their MIME trees.
    async fn threads_page(&self, user: &str, threads: Vec<ThreadRef>, keep: Keep) -> Result<Batch> {
        let c = &self.client.config;
        if self.mode.is_slim() && !c.include_attachments {
            let mut batch = Batch::default();
            batch.unchanged = threads
                .iter()
                .map(|t| convert::thread_id(user, &t.id))
                .collect();
            return Ok(batch);
        }
        let pending = threads.into_iter().map(|t| {
            let item = PendingItem::new(convert::thread_id(user, &t.id), t.id.clone());
            match self.mode {
                // The history id changes with every message and label: unchanged threads are
                // not fetched.
                Mode::Load(_) => {
                    item.with_version(&convert::version(&t.id, t.history_id.as_deref()))
                }
                Mode::Slim => item,
            }
        });
        let mut batch = fetch_items(&self.ctx, pending, c.thread_concurrency(), |thread| {
            self.thread(user, thread, keep)
        })
        .await?;
        if self.mode.is_slim() {
            // A thread that could not be read has attachments nobody listed: even when the
            // thread's own id is known (a malformed thread, an unreadable body), the listing is
            // not complete, so the failure no longer names an item prune could keep and the
            // listing fails (the slim contract: the complete set or an error).
            for failure in &mut batch.failures {
                failure.id = None;
            }
        }
        Ok(batch)
    }

    /// One thread of `user` as its document and its attachments' (or their ids).
    async fn thread(&self, user: &str, thread: String, keep: Keep) -> Result<Vec<Outcome>> {
        let thread = self.client.thread(user, &thread).await?;
        self.convert_thread(user, thread, keep).await
    }

    async fn convert_thread(
        &self,
        user: &str,
        mut thread: Thread,
        keep: Keep,
    ) -> Result<Vec<Outcome>> {
        let c = &self.client.config;
        let id = convert::thread_id(user, &thread.id);
        // Drafts and chats are no part of a thread's document; a thread of nothing else is
        // no document.
        thread.messages.retain(|m| !convert::left_out(m));
        if thread.messages.is_empty() {
            return Ok(Vec::new());
        }
        let mut read = Vec::with_capacity(thread.messages.len());
        for m in &thread.messages {
            let r = convert::read_message(m).map_err(|why| {
                Error::invalid_data(format!(
                    "Gmail thread `{id}`: message {} is malformed: {why}",
                    m.id
                ))
            })?;
            read.push(r);
        }
        let updated = read.iter().filter_map(|r| r.date).max();
        if !keep.keeps(updated) {
            return Ok(Vec::new());
        }
        let slim = self.mode.is_slim();
        let mut outcomes = vec![if slim {
            Outcome::Unchanged(id)
        } else {
            convert::thread_document(user, &thread, &read).into()
        }];
        if !c.include_attachments {
            return Ok(outcomes);
        }
        for (m, r) in thread.messages.iter().zip(&read) {
            for part in &r.attachments {
                let Some(body) = &part.body else { continue };
                let aid = convert::attachment_id(
                    user,
                    &thread.id,
                    &m.id,
                    part.part_id.as_deref().unwrap_or("0"),
                );
                if body.size > c.attachment_size_limit() {
                    // Not downloaded; said, so a person knows it is not indexed (prune's
                    // listing leaves it out, as a load does).
                    if !slim {
                        let msg = format!(
                            "Gmail attachment `{}` ({aid}) is {} bytes, over attachment_size_limit ({} bytes); not downloaded",
                            part.filename,
                            body.size,
                            c.attachment_size_limit()
                        );
                        let mut failure = Failure::new(Some(aid), ErrorKind::InvalidData, msg);
                        failure.link = convert::thread_link(user, &thread.id);
                        outcomes.push(failure.into());
                    }
                    continue;
                }
                if slim {
                    outcomes.push(Outcome::Unchanged(aid));
                    continue;
                }
                let data = match (&body.data, &body.attachment_id) {
                    (Some(d), _) => Ok(d.clone()),
                    (None, Some(att)) => self.client.attachment(user, &m.id, att).await,
                    (None, None) => continue,
                };
                let bytes = data.and_then(|d| {
                    convert::decode_b64(&d).map_err(|why| Error::new(ErrorKind::InvalidData, why))
                });
                outcomes.push(match bytes {
                    Ok(bytes) => {
                        convert::attachment_document(user, &thread, m, part, bytes, r.date).into()
                    }
                    // One attachment failing leaves its thread and the others.
                    Err(e) => item_failure(aid, e)?.into(),
                });
            }
        }
        Ok(outcomes)
    }
}

impl Walk for Walker {
    type Checkpoint = GmailCheckpoint;

    fn context(&self) -> &SyncContext {
        &self.ctx
    }

    fn settle(&self, cp: &mut GmailCheckpoint) -> bool {
        let c = &self.client.config;
        if cp.stage == GmailStage::Users
            && self.client.api.is_service_account()
            && !c.specific_user_emails.is_empty()
        {
            cp.users = c.specific_user_emails.as_slice().to_vec();
            cp.enter_threads();
        }
        if cp.stage == GmailStage::Threads && cp.user >= cp.users.len() {
            cp.stage = GmailStage::Done;
        }
        cp.stage != GmailStage::Done
    }

    async fn step(&self, mut cp: GmailCheckpoint) -> Result<(Batch, GmailCheckpoint)> {
        let mut batch = Batch::default();
        match cp.stage {
            GmailStage::Users => {
                let next = if self.client.api.is_service_account() {
                    let credentials = &self.client.config.credentials;
                    let admin = credentials
                        .google_primary_admin
                        .as_deref()
                        .unwrap_or_default();
                    let token = cp.page_token.take();
                    self.client
                        .api
                        .list_users(admin, token.as_deref(), &mut cp.users)
                        .await?
                } else {
                    cp.users = vec![self.client.profile("me").await?];
                    None
                };
                match next {
                    Some(t) => cp.page_token = Some(t),
                    None => cp.enter_threads(),
                }
            }
            GmailStage::Threads => {
                if let Some(user) = cp.users.get(cp.user).cloned() {
                    if cp.history.is_some() && !self.mode.is_slim() && !cp.history_read {
                        batch = self.history_page(&user, &mut cp).await?;
                        return Ok((batch, cp));
                    }
                    // A mailbox whose history id was refused is listed whole once.
                    let window = if cp.relist.contains(&user) {
                        None
                    } else {
                        self.mode.window()
                    };
                    let listed = self
                        .client
                        .threads(&user, cp.page_token.as_deref(), window)
                        .await;
                    let page = match listed {
                        Ok(page) => page,
                        Err(e) => {
                            // One mailbox that cannot be read (no Gmail licence, a suspended or
                            // deleted user) is that mailbox's failure; the next run reads it
                            // again and this one goes on to the next mailbox.
                            let failure = crate::walk::partition_failure(
                                format!("gmail:{user}"),
                                &format!("Gmail mailbox `{user}`"),
                                "",
                                e,
                                self.client.api.is_service_account(),
                                false,
                            )?;
                            batch.failures.push(failure);
                            cp.next_user();
                            return Ok((batch, cp));
                        }
                    };
                    match page.next {
                        Some(t) => cp.page_token = Some(t),
                        None => cp.next_user(),
                    }
                    batch = self
                        .threads_page(&user, page.items, Keep::Window(window))
                        .await?;
                }
            }
            GmailStage::Done => {}
        }
        Ok((batch, cp))
    }
}
