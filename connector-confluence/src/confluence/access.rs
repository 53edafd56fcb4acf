//! Permissions (`include_permissions`): who may read a page, as [`Access`].
//!
//! Confluence lets a user read a page when the space lets them view it and every read
//! restriction on the page and on each of its ancestors names them (directly or through a
//! group): restrictions are inherited and must all be satisfied. So:
//!
//! - a page with no read restriction on itself or on any ancestor gets its space's read
//!   permission: the users (by e-mail) and groups granted "view" on the space, and `public`
//!   when anonymous users may view it;
//! - otherwise it gets the users and groups named by *every* restricted level (the page
//!   itself, each restricted ancestor, Cloud folders among them) and by the space's read
//!   permission unless that is public: an intersection. A user allowed at one level by name
//!   and at another through a group is left out (group membership is not looked up), so the
//!   result never lets anyone read what Confluence would not show them; it may leave out
//!   someone Confluence would. (A space anonymous users may view names no one to intersect
//!   with: the restrictions alone decide.)
//!
//! Users are named by e-mail: Cloud gives it unless the user's privacy settings hide it (then
//! the user is left out); Server/Data Center gives none, so it is read once per user from
//! `/rest/mobile/1.0/profile/{username}`. Groups are named by their name (Server has no
//! group ids). The restriction lists are read as the search embeds them (up to the
//! service's limit per list, 200 users on Cloud): names past that are left out.
//!
//! Requests: the page's and its ancestors' read restrictions come with the search
//! (`expand=restrictions.read.restrictions.user,...group` and the same under `ancestors.`),
//! no request of their own. When Cloud refuses that expansion (a draft or unreadable
//! ancestor makes the whole search 404, CONFCLOUD-77618), the search goes on without the
//! ancestors' restrictions and each ancestor's are read once per run from
//! `/rest/api/content/{id}/restriction/byOperation/read`; so is the restriction of a page or
//! ancestor whose expansion lacks `read`. Unknown fails closed: a restriction that answers
//! 403 or 404 there (or comes without its lists) counts as one naming nobody, so the page
//! and its descendants get an access naming nobody (with a warning), never the space's
//! (Onyx skips such an ancestor, which can widen the access). Space permissions are read
//! once per space per run (`space.rs`: Cloud's REST API v2, which needs no admin permission,
//! and one request without credentials that tells whether anonymous users may view the space;
//! Data Center 9.1+'s permissions and anonymous lists); a space whose permissions cannot be
//! read gives its pages an access naming nobody, with one warning per space, never `None`.
//! Server e-mails: one request per user (two for a user named by key only) per run.
//!
//! Included pages: [`Permissions::unrestricted`] tells whether an `include` may be inlined
//! (see `convert::Lookups`); the included page's version and restrictions are not part of the
//! includer's fingerprint (they are known only after a request per include).

use std::collections::BTreeSet;
use std::sync::Arc;

use connector_core::{Access, Result};
use futures::{StreamExt, TryStreamExt};

use super::SOURCE;
use super::client::{Client, soft, with_query};
use super::convert::Memo;
use super::model::{Content, MobileProfile, OperationRestrictions, Restricted, Restrictions, User};

mod space;

/// Lookups in flight at once for the e-mails of one restriction list.
const EMAIL_CONCURRENCY: usize = 4;

/// What the search expands for permissions.
pub(crate) const RESTRICTIONS_EXPAND: &str = "restrictions.read.restrictions.user,\
     restrictions.read.restrictions.group";

/// The same for every ancestor: the part Cloud may refuse (CONFCLOUD-77618).
pub(crate) const ANCESTOR_RESTRICTIONS_EXPAND: &str = "ancestors.restrictions.read.restrictions.user,\
     ancestors.restrictions.read.restrictions.group";

/// The users (by e-mail) and groups one read restriction names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Level {
    emails: BTreeSet<String>,
    groups: BTreeSet<String>,
    /// Whether it restricts at all: it names someone (even a user whose e-mail is unknown),
    /// or it could not be read.
    restricts: bool,
}

impl Level {
    /// A restriction that could not be read: it restricts, and names nobody.
    fn unknown() -> Self {
        Self {
            restricts: true,
            ..Self::default()
        }
    }
}

/// Reads the permissions of pages, with what one run has learnt cached: ancestors' read
/// restrictions, spaces' read permissions, users' e-mails.
#[derive(Debug)]
pub(crate) struct Permissions {
    client: Client,
    cloud: bool,
    /// The read restriction of each page met (as a result or an ancestor).
    ancestors: Memo<String, Arc<Level>>,
    /// Who may view each space, by key (nobody when unknown).
    spaces: Memo<String, Access>,
    /// Group names by group id (Cloud's v2 space permissions name groups by id).
    groups: Memo<String, Option<String>>,
    emails: Memo<String, Option<String>>,
}

impl Permissions {
    pub(crate) fn new(client: Client, cloud: bool) -> Self {
        Self {
            client,
            cloud,
            ancestors: Memo::new(),
            spaces: Memo::new(),
            groups: Memo::new(),
            emails: Memo::new(),
        }
    }

    /// Who may read `page`: its space's viewers when neither it nor an ancestor is
    /// restricted, else those every restriction and the space's view permission name. Fails
    /// closed: a space whose permissions cannot be read names nobody (see [`space`]).
    ///
    /// # Errors
    /// A lookup's error other than "missing or hidden" (credentials, an unreachable site).
    pub(crate) async fn of(&self, page: &Content) -> Result<Access> {
        let levels = self.levels(page).await?;
        let viewers = match page.space.as_ref().filter(|s| !s.key.is_empty()) {
            Some(space) => self.space(space).await?,
            None => {
                tracing::warn!(connector = SOURCE, content = %page.id, "content without a space: its access names nobody");
                return Ok(Access::default());
            }
        };
        let mut restricted = levels.into_iter().filter(|l| l.restricts);
        let Some(first) = restricted.next() else {
            return Ok(viewers);
        };
        let (mut emails, mut groups) =
            restricted.fold((first.emails, first.groups), |(e, g), l| {
                (
                    e.intersection(&l.emails).cloned().collect(),
                    g.intersection(&l.groups).cloned().collect(),
                )
            });
        // Confluence also asks that the space let them view it: intersect with the space's
        // permission. A space anonymous users may view names no one to intersect with
        // (`public` is dropped: the page is restricted); an unknown one names nobody.
        if !viewers.public {
            emails.retain(|e| viewers.emails.contains(e));
            groups.retain(|g| viewers.groups.contains(g));
        }
        Ok(Access::restricted(
            emails.into_iter().collect(),
            groups.into_iter().collect(),
        ))
    }

    /// Whether neither `page` nor any of its ancestors has a read restriction: then whoever
    /// may view its space may read it.
    ///
    /// # Errors
    /// As [`Self::of`].
    pub(crate) async fn unrestricted(&self, page: &Content) -> Result<bool> {
        Ok(self.levels(page).await?.iter().all(|l| !l.restricts))
    }

    /// The read restrictions of `page` and of each of its ancestors, each known once per
    /// run; one that cannot be known counts as a restriction naming nobody.
    async fn levels(&self, page: &Content) -> Result<Vec<Level>> {
        let mut levels = Vec::new();
        // Its children name it as an ancestor: they need not look it up.
        let own = self
            .ancestors
            .get_or_fetch(&page.id, || {
                self.level_of(&page.id, &page.kind, page.restrictions.as_ref())
            })
            .await?;
        levels.push((*own).clone());
        // Nearest first; the order does not change an intersection, only which lookups run.
        for ancestor in page.ancestors.iter().rev() {
            let level = self
                .ancestors
                .get_or_fetch(&ancestor.id, || {
                    // A Cloud folder is walked as a page is: its restrictions pass to the
                    // pages in it (the search may not embed them: then read on its own).
                    self.level_of(&ancestor.id, &ancestor.kind, ancestor.restrictions.as_ref())
                })
                .await?;
            levels.push((*level).clone());
        }
        Ok(levels)
    }

    /// The read restriction of the content `id` from its `restrictions` expansion, or read on
    /// its own when the expansion is not there (Cloud refused the ancestors' part) or lacks
    /// `read` or its lists.
    async fn level_of(
        &self,
        id: &str,
        kind: &str,
        embedded: Option<&Restrictions>,
    ) -> Result<Arc<Level>> {
        match embedded
            .and_then(read_of)
            .filter(|r| r.restrictions.is_some())
        {
            Some(read) => Ok(Arc::new(self.level(read).await?)),
            None => self.lookup(id, kind).await,
        }
    }

    /// The read restriction of the content `id` read on its own; when it cannot be read (a
    /// draft of another user, a page the credentials cannot see: 403 or 404) or comes without
    /// its lists, a restriction naming nobody: unknown must not count as unrestricted.
    async fn lookup(&self, id: &str, kind: &str) -> Result<Arc<Level>> {
        let kind = if kind.is_empty() { "content" } else { kind };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            tracing::warn!(
                connector = SOURCE,
                content = id,
                "content without a numeric id: its read restriction is unknown; it and its descendants get an access naming nobody"
            );
            return Ok(Arc::new(Level::unknown()));
        }
        let url = self
            .client
            .api_url(&format!(
                "/rest/api/content/{id}/restriction/byOperation/read"
            ))
            .await?;
        let url = with_query(url, &[("expand", "restrictions.user,restrictions.group")]);
        match self.client.get_json::<OperationRestrictions>(url).await {
            Ok(read) if read.restrictions.is_some() => Ok(Arc::new(self.level(&read).await?)),
            Ok(_) => {
                tracing::warn!(
                    connector = SOURCE,
                    content = id,
                    kind,
                    "a read restriction came without its users and groups; the content and its descendants get an access naming nobody"
                );
                Ok(Arc::new(Level::unknown()))
            }
            Err(e) if soft(&e) => {
                tracing::warn!(
                    connector = SOURCE,
                    content = id,
                    kind,
                    error = %e,
                    "a read restriction cannot be read; the content and its descendants get an access naming nobody"
                );
                Ok(Arc::new(Level::unknown()))
            }
            Err(e) => Err(e),
        }
    }

    /// The users and groups a read restriction names.
    async fn level(&self, read: &OperationRestrictions) -> Result<Level> {
        // Unknown lists fail closed (the callers read them on their own first).
        let Some(who) = read.restrictions.as_ref() else {
            return Ok(Level::unknown());
        };
        let (emails, named_users) = self.emails_of(who).await?;
        let groups: BTreeSet<String> = who
            .group
            .iter()
            .flat_map(|g| g.results.iter())
            .map(|g| g.name.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect();
        Ok(Level {
            restricts: named_users || !groups.is_empty(),
            emails,
            groups,
        })
    }

    /// The e-mails of the users `who` names, and whether it names any user at all.
    async fn emails_of(&self, who: &Restricted) -> Result<(BTreeSet<String>, bool)> {
        let users: Vec<&User> = who.user.iter().flat_map(|u| u.results.iter()).collect();
        // The futures are made before they are streamed: a closure in the stream would have
        // to be `Send` for every lifetime, which the compiler cannot prove here.
        let lookups: Vec<_> = users.iter().map(|u| self.email(u)).collect();
        let emails: Vec<Option<String>> = futures::stream::iter(lookups)
            .buffered(EMAIL_CONCURRENCY)
            .try_collect()
            .await?;
        Ok((emails.into_iter().flatten().collect(), !users.is_empty()))
    }

    /// A user's e-mail: as given (Cloud, unless hidden), else (Server/Data Center) from the
    /// user's mobile profile, once per user per run.
    async fn email(&self, user: &User) -> Result<Option<String>> {
        if let Some(email) = user
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            return Ok(Some(email.to_owned()));
        }
        if self.cloud {
            return Ok(None);
        }
        match (user.username.as_deref(), user.user_key.as_deref()) {
            (Some(name), _) if !name.is_empty() => self.server_email(name).await,
            (_, Some(key)) if !key.is_empty() => self.server_email_by_key(key).await,
            _ => Ok(None),
        }
    }

    /// The e-mail of the Server/Data Center user `username`.
    async fn server_email(&self, username: &str) -> Result<Option<String>> {
        self.emails
            .get_or_fetch(&format!("name:{username}"), || async {
                let mut url = self.client.api_url("/rest/mobile/1.0/profile/").await?;
                url.path_segments_mut()
                    .map_err(|()| connector_core::Error::internal("no path segments"))?
                    .pop_if_empty()
                    .push(username);
                match self.client.get_json::<MobileProfile>(url).await {
                    Ok(p) => Ok(p.email.filter(|e| !e.trim().is_empty())),
                    Err(e) if soft(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await
    }

    /// The e-mail of the Server/Data Center user with the key `key` (space permissions name
    /// users by key): their user name first.
    async fn server_email_by_key(&self, key: &str) -> Result<Option<String>> {
        let url = self.client.api_url("/rest/api/user").await?;
        let url = with_query(url, &[("key", key)]);
        let user = match self.client.get_json::<User>(url).await {
            Ok(user) => user,
            Err(e) if soft(&e) => return Ok(None),
            Err(e) => return Err(e),
        };
        match user.username.as_deref() {
            Some(name) if !name.is_empty() => self.server_email(name).await,
            _ => Ok(user.email.filter(|e| !e.trim().is_empty())),
        }
    }
}

/// The read restriction of a `restrictions` expansion, if the expansion is there.
fn read_of(r: &Restrictions) -> Option<&OperationRestrictions> {
    r.read.as_ref()
}

/// A short token of `access` for a document's version: a change of permissions alone makes
/// the page and its attachments count as changed.
pub(crate) fn token(access: Option<&Access>) -> String {
    match access {
        None => ";access:unknown".to_owned(),
        Some(a) => {
            let text = serde_json::to_string(a).unwrap_or_default();
            format!(";access:{}", connector_core::ids::hash128(&text))
        }
    }
}
