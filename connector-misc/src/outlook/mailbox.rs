//! The mailboxes and folders a sync reads: users resolved (named ones in JSON batches, or
//! every user with a mailbox), each mailbox's folder tree walked through `childFolders`, and
//! the folder filters applied (well-known names resolved per mailbox, display paths, ids).

use std::collections::{BTreeSet, HashMap};

use connector_core::http::Response;
use connector_core::{Error, ErrorKind, Failure, Result, SyncContext};
use url::Url;

use super::SOURCE;
use super::convert::ID_PREFIX;
use super::model::{
    FOLDER_FIELDS, Listed, MailFolder, Message, PAGE_SIZE, PREFER, USER_FIELDS, User,
};
use crate::graph::users::EveryUser;
use crate::graph::{Delta, GraphClient, Page};

/// Mail folders nest; this bounds a walk over a malformed tree.
const MAX_FOLDERS: usize = 10_000;

/// The page sizes a delta page larger than the body cap is asked for again with, in turn.
const SMALL_PAGES: [u32; 2] = [5, 1];

/// The messages a folder's delta pages ask for: [`PAGE_SIZE`], or fewer after a page over
/// the body cap (see [`Reader::delta_sized`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageSize {
    size: u32,
    /// Pages that fit at `size` in a row.
    streak: u32,
}

impl Default for PageSize {
    fn default() -> Self {
        Self {
            size: PAGE_SIZE,
            streak: 0,
        }
    }
}

impl PageSize {
    /// Pages at a reduced size before the next larger one is tried again.
    pub(crate) const GROW_AFTER: u32 = 10;

    /// The size to ask for first.
    fn next_ask(&mut self) -> u32 {
        if self.size < PAGE_SIZE && self.streak >= Self::GROW_AFTER {
            self.size = SMALL_PAGES
                .into_iter()
                .rev()
                .find(|s| *s > self.size)
                .unwrap_or(PAGE_SIZE);
            self.streak = 0;
        }
        self.size
    }

    /// A page of `ask` messages fit.
    fn fitted(&mut self, ask: u32) {
        if ask == self.size {
            self.streak += 1;
        } else {
            self.size = ask;
            self.streak = 1;
        }
    }
}

/// The well-known folders every Exchange Online mailbox has: one of them that does not
/// resolve is Graph's passing trouble, not the mailbox's shape.
const ALWAYS_THERE: [&str; 6] = [
    "deleteditems",
    "drafts",
    "inbox",
    "junkemail",
    "outbox",
    "sentitems",
];

/// A delta page's messages, read with the page in one pass; when that fails (a message that
/// cannot be read, or the page itself), the page is read again as before this pass existed:
/// each message's JSON text kept, to be read on its own, and the page's own error (not
/// JSON, a link that is not a URL) as the client reports it.
fn read_page(resp: &Response) -> Result<Page<Listed>> {
    match serde_json::from_slice::<Page<Message>>(resp.body()) {
        Ok(page) => Ok(Page {
            value: page.value.into_iter().map(Listed::Read).collect(),
            next_link: page.next_link,
            delta_link: page.delta_link,
        }),
        Err(_) => {
            let page: Page<Box<serde_json::value::RawValue>> = resp.json()?;
            Ok(Page {
                value: page.value.into_iter().map(Listed::Raw).collect(),
                next_link: page.next_link,
                delta_link: page.delta_link,
            })
        }
    }
}

/// What a sync reads and how; cheap to clone (one per stream).
#[derive(Clone)]
pub(crate) struct Reader {
    pub(crate) graph: GraphClient,
    /// `user_ids`; empty: every user with a mailbox.
    pub(crate) users: Vec<String>,
    /// With every user: guests too, not only members.
    pub(crate) include_guests: bool,
    /// With every user: disabled accounts too (shared, room and equipment mailboxes).
    pub(crate) include_disabled: bool,
    /// A user partition found by
    /// [`Connector::discover_partitions`](connector_core::Connector::discover_partitions):
    /// read as every user's mailboxes are (a user gone, or without a mailbox, is no failure).
    pub(crate) discovered: bool,
    /// A discovered user's mailbox as discovery resolved it
    /// ([`Connector::partition_with`](connector_core::Connector::partition_with)): read
    /// without resolving the user again.
    pub(crate) handed: Option<Mailbox>,
    /// Folder entries read with their child folders; empty: every folder.
    pub(crate) include: Vec<String>,
    /// Folder entries left out with their child folders.
    pub(crate) exclude: Vec<String>,
    pub(crate) attachments: bool,
    /// `list_every_messages_attachments`: a message without `hasAttachments` may hold inline
    /// files.
    pub(crate) every_message: bool,
    pub(crate) max: u64,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("graph", &self.graph)
            .field("users", &self.users)
            .field("include_guests", &self.include_guests)
            .field("include_disabled", &self.include_disabled)
            .field("discovered", &self.discovered)
            .field("include", &self.include)
            .field("exclude", &self.exclude)
            .finish_non_exhaustive()
    }
}

/// A mailbox to read.
#[derive(Debug, Clone)]
pub(crate) struct Mailbox {
    /// The user's object id.
    pub(crate) id: String,
    /// Its address (`mail`, else the user principal name), lower case.
    pub(crate) address: String,
    /// Who may read its messages: the owner by `mail` and by user principal name.
    pub(crate) readers: Vec<String>,
}

/// A folder to read.
#[derive(Debug, Clone)]
pub(crate) struct Folder {
    pub(crate) id: String,
    /// By display name from the top of the mailbox: `Inbox/Projects`.
    pub(crate) path: String,
}

impl Reader {
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            graph: self.graph.with_context(ctx),
            ..self.clone()
        }
    }

    /// Whether `message`'s attachments are listed: attachments are read, and Graph says it
    /// has some or every message's are listed.
    pub(crate) fn lists_attachments(&self, message: &super::model::Message) -> bool {
        self.attachments && (message.has_attachments || self.every_message)
    }

    /// Whether the config names no user: every user's mailbox is read.
    pub(crate) fn all_users(&self) -> bool {
        self.users.is_empty()
    }

    /// Whether a user without a mailbox is passed over rather than a failure: every user's
    /// mailboxes are read, or this is a user discovered among them.
    pub(crate) fn quiet_missing(&self) -> bool {
        self.all_users() || self.discovered
    }

    /// The mailboxes read when the config names no user: every enabled member (and guest,
    /// with `include_guests`) that has a `mail` address.
    pub(crate) async fn every_user(&self) -> Result<Vec<Mailbox>> {
        Ok(self.mailboxes(None).await?.0)
    }

    /// The mailboxes this config reads, in a stable order without repeats, and a failure for
    /// each named user that cannot be found or read. With every user, only the first page of
    /// at most `sample` users when given (what `check()` needs). The mailbox discovery
    /// handed a partition is taken as it is, without a request.
    pub(crate) async fn mailboxes(
        &self,
        sample: Option<usize>,
    ) -> Result<(Vec<Mailbox>, Vec<Failure>)> {
        if let Some(mailbox) = &self.handed {
            return Ok((vec![mailbox.clone()], Vec::new()));
        }
        let mut failures = Vec::new();
        let mut users = Vec::new();
        if self.all_users() {
            let listed = EveryUser {
                source: SOURCE,
                include_guests: self.include_guests,
                include_disabled: self.include_disabled,
                reads: "without user_ids every user's mailbox is read",
                field: "user_ids",
            }
            .list(&self.graph, sample)
            .await?;
            // A user without `mail` has no Exchange mailbox (no licence): nothing to read.
            users.extend(listed.into_iter().filter_map(User::with_mail));
        } else {
            let paths: Vec<String> = self
                .users
                .iter()
                .map(|u| {
                    format!(
                        "users/{}?$select={USER_FIELDS}",
                        crate::graph::escape(u.trim())
                    )
                })
                .collect();
            for (named, answer) in self
                .users
                .iter()
                .zip(self.graph.batch_get::<User>(&paths).await?)
            {
                match answer {
                    Ok(Some(user)) => users.push(user),
                    // A discovered user deleted since: nothing to read.
                    Ok(None) if self.discovered => {}
                    Ok(None) => failures.push(Failure::new(
                        Some(format!("{ID_PREFIX}user:{named}")),
                        ErrorKind::NotFound,
                        format!("user `{named}` (user_ids) is not in the tenant"),
                    )),
                    Err(e) if e.kind().ends_sync() => return Err(e),
                    Err(e) => failures.push(Failure::new(
                        Some(format!("{ID_PREFIX}user:{named}")),
                        e.kind(),
                        format!("user `{named}` (user_ids): {e}"),
                    )),
                }
            }
        }
        let mut seen = BTreeSet::new();
        let mailboxes = users
            .into_iter()
            .filter(|u| seen.insert(u.id.clone()))
            .map(|u| Mailbox {
                address: u.address(),
                readers: u.readers(),
                id: u.id,
            })
            .collect();
        Ok((mailboxes, failures))
    }

    /// The folders of `mailbox` this config reads, parents before their children.
    ///
    /// # Errors
    /// The mailbox's listing (`NotFound` for a user without a mailbox).
    pub(crate) async fn folders(&self, mailbox: &Mailbox) -> Result<Vec<Folder>> {
        Ok(self.folder_tree(mailbox).await?.0)
    }

    /// [`folders`](Self::folders), and the well-known names among `include` this mailbox did
    /// not resolve (Graph answered 404 for them). A listing with such a name may be short of
    /// folders it read last run (an `inbox` unresolved for a moment reads nothing): it is not
    /// the mailbox's whole listing, and nothing may be deleted or pruned on its strength.
    ///
    /// # Errors
    /// As [`folders`](Self::folders).
    pub(crate) async fn folder_tree(
        &self,
        mailbox: &Mailbox,
    ) -> Result<(Vec<Folder>, Vec<String>)> {
        let user = crate::graph::escape(&mailbox.id);
        let top = self.graph.url(
            &format!("users/{user}/mailFolders"),
            &[("$select", FOLDER_FIELDS), ("$top", "100")],
        )?;
        // First on its own: its error (no mailbox, a mailbox the app may not read) is Graph's
        // own, with the permission named.
        let top = self.graph.all::<MailFolder>(&top).await?;
        let well_known = self.well_known(&user).await?;
        let unresolved: Vec<String> = self
            .include
            .iter()
            .filter(|e| {
                super::config::WELL_KNOWN_FOLDERS.contains(&e.as_str())
                    && !well_known.contains_key(e.as_str())
            })
            .cloned()
            .collect();
        // An excluded well-known folder every Exchange mailbox has (Deleted Items, Junk
        // Email, Drafts, …) that does not resolve for a run would be read, its mail
        // delivered, and deleted again the run after: the mailbox's listing fails instead,
        // and the next run tries again. One a mailbox may lack (`archive`) is passed over.
        let unexcluded: Vec<&str> = self
            .exclude
            .iter()
            .map(String::as_str)
            .filter(|e| ALWAYS_THERE.contains(e) && !well_known.contains_key(*e))
            .collect();
        if !unexcluded.is_empty() {
            return Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "mailbox {} did not resolve the excluded folders {}; it is read again next run",
                    mailbox.address,
                    unexcluded.join(", ")
                ),
            )
            .with_connector(SOURCE));
        }
        let matches = |entries: &[String], chain: &[(String, String)]| {
            entries.iter().any(|e| {
                let id = well_known.get(e.as_str());
                chain.iter().any(|(fid, path)| {
                    id.is_some_and(|w| w == fid) || e == fid || e.eq_ignore_ascii_case(path)
                })
            })
        };
        // Depth first, in Graph's order: (folder, its ancestors and itself as (id, path)).
        let mut stack: Vec<(MailFolder, Vec<(String, String)>)> =
            top.into_iter().rev().map(|f| (f, Vec::new())).collect();
        let mut out = Vec::new();
        let mut walked = 0;
        while let Some((folder, mut chain)) = stack.pop() {
            walked += 1;
            if walked > MAX_FOLDERS {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "mailbox {} lists more than {MAX_FOLDERS} folders",
                        mailbox.address
                    ),
                )
                .with_connector(SOURCE));
            }
            let path = match chain.last() {
                Some((_, parent)) => format!("{parent}/{}", folder.display_name),
                None => folder.display_name.clone(),
            };
            chain.push((folder.id.clone(), path.clone()));
            if matches(&self.exclude, &chain) {
                // Left out with everything below it.
                continue;
            }
            if self.include.is_empty() || matches(&self.include, &chain) {
                out.push(Folder {
                    id: folder.id.clone(),
                    path,
                });
            }
            if folder.child_folder_count > 0 {
                let url = self.graph.url(
                    &format!(
                        "users/{user}/mailFolders/{}/childFolders",
                        crate::graph::escape(&folder.id)
                    ),
                    &[("$select", FOLDER_FIELDS), ("$top", "100")],
                )?;
                let children = self.graph.all::<MailFolder>(&url).await?;
                for child in children.into_iter().rev() {
                    stack.push((child, chain.clone()));
                }
            }
        }
        Ok((out, unresolved))
    }

    /// The ids of the well-known folder names the filters use (`inbox` → `AAMk…`), in one
    /// JSON batch; a name the mailbox lacks (no archive) is left out.
    async fn well_known(&self, user: &str) -> Result<HashMap<String, String>> {
        let names: BTreeSet<&str> = self
            .include
            .iter()
            .chain(&self.exclude)
            .map(String::as_str)
            .filter(|e| super::config::WELL_KNOWN_FOLDERS.contains(e))
            .collect();
        let paths: Vec<String> = names
            .iter()
            .map(|n| format!("users/{user}/mailFolders/{n}?$select=id"))
            .collect();
        let mut out = HashMap::new();
        for (name, answer) in names
            .iter()
            .zip(self.batch_get::<MailFolder>(&paths).await?)
        {
            if let Some(folder) = answer? {
                out.insert((*name).to_owned(), folder.id);
            }
        }
        Ok(out)
    }

    /// The first URL of a delta round over folder `folder` of user `user`.
    pub(crate) fn delta_url(&self, user: &str, folder: &str) -> Result<Url> {
        self.graph.url(
            &format!(
                "users/{}/mailFolders/{}/messages/delta",
                crate::graph::escape(user),
                crate::graph::escape(folder)
            ),
            &[("$select", super::model::MESSAGE_FIELDS)],
        )
    }

    /// One page of a folder's delta round, its messages as sent, each its JSON text (read
    /// each with [`Message::from_raw`](super::model::Message::from_raw): one that cannot be
    /// read is that message's failure, not the page's).
    ///
    /// A page is read whole, under the client's body cap (64 MiB): 50 messages with big
    /// HTML bodies (newsletters with `data:` images) can pass it, and that folder would then
    /// fail on the same page every run. Such a page is asked for again with fewer messages
    /// ([`SMALL_PAGES`]; `odata.maxpagesize` is read per request); only a single message
    /// over the cap fails the folder.
    pub(crate) async fn delta(&self, url: &Url) -> Result<Delta<Listed>> {
        self.delta_sized(url, &mut PageSize::default()).await
    }

    /// [`delta`](Self::delta) asking for `size`'s messages a page first, `size` then keeping
    /// the one that fit: a folder's round goes on with it for its next pages (a folder of
    /// big newsletters downloads a page over the cap once in a while, not once a page), and
    /// tries the next larger one after [`PageSize::GROW_AFTER`] pages that fit.
    pub(crate) async fn delta_sized(
        &self,
        url: &Url,
        size: &mut PageSize,
    ) -> Result<Delta<Listed>> {
        let start = size.next_ask();
        let mut sizes = std::iter::once(start)
            .chain(SMALL_PAGES.into_iter().filter(|s| *s < start))
            .peekable();
        while let Some(ask) = sizes.next() {
            let prefer = format!("{PREFER}, odata.maxpagesize={ask}");
            match self
                .graph
                .delta_read(url, |r| r.header("prefer", &prefer), read_page)
                .await
            {
                Err(e) if connector_core::http::is_body_too_large(&e) && sizes.peek().is_some() => {
                    tracing::warn!(
                        connector = SOURCE,
                        messages = ask,
                        "a delta page is larger than the body cap; asked again with fewer messages: {e}"
                    );
                }
                other => {
                    if other.is_ok() {
                        size.fitted(ask);
                    }
                    return other;
                }
            }
        }
        Err(Error::internal("no page size left to ask for").with_connector(SOURCE))
    }

    /// `GET url` with immutable ids.
    pub(crate) async fn get<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Result<T> {
        self.graph
            .get_with(url, |r| r.header("prefer", PREFER))
            .await
    }

    /// `GET` each of `paths` in JSON batches, every member asking for immutable ids (a batch
    /// member carries only its own headers).
    pub(crate) async fn batch_get<T: serde::de::DeserializeOwned>(
        &self,
        paths: &[String],
    ) -> Result<Vec<Result<Option<T>>>> {
        self.graph
            .batch_get_with(paths, &[("Prefer", PREFER)])
            .await
    }

    /// Every item of a collection with immutable ids, following `@odata.nextLink`.
    pub(crate) async fn all<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Result<Vec<T>> {
        self.graph
            .all_with(url, |r| r.header("prefer", PREFER))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reduced_page_size_is_kept_then_grown_a_step_at_a_time() {
        let mut size = PageSize::default();
        assert_eq!(size.next_ask(), 50);
        size.fitted(1);
        for _ in 1..PageSize::GROW_AFTER {
            assert_eq!(size.next_ask(), 1);
            size.fitted(1);
        }
        assert_eq!(
            size.next_ask(),
            5,
            "after ten pages that fit, the next step"
        );
        size.fitted(5);
        for _ in 1..PageSize::GROW_AFTER {
            assert_eq!(size.next_ask(), 5);
            size.fitted(5);
        }
        assert_eq!(size.next_ask(), 50);
    }
}
