//! The Zendesk connector (source `"zendesk"`): Help Center articles or support tickets of a
//! Zendesk account, one Markdown document each, over the Support and Help Center REST APIs.
//!
//! - **Content** (`zendesk_content_type`, RAGFlow's): `articles` or `tickets`.
//! - **Articles, full load**: `GET /api/v2/help_center[/{locale}]/articles` with cursor
//!   paging (`page[size]`, `page[after]` = `meta.after_cursor` while `meta.has_more`), oldest
//!   change first; the cursor is the checkpoint. Drafts and articles with a label of
//!   `skip_article_labels` are left out, and their ids (in the locale read) handed on as
//!   [`Batch::deleted`], so an article taken back to draft or labelled later is deleted by the
//!   run (full or poll) that sees it so. The body's HTML becomes Markdown (core's converter).
//!   Sections and categories are listed once a run, for the metadata (`section`,
//!   `category`); the authors come from `users/show_many`, once per page.
//! - **Articles, polls**: the incremental article export,
//!   `GET /api/v2/help_center/incremental/articles?start_time=T` (up to 1,000 a page, the next
//!   `start_time` being the page's `end_time`, which is the checkpoint), filtered exactly to
//!   the half-open window. With `locale` set, a row of another locale (the source
//!   article, or another translation, changed) has the article read again in the locale
//!   (`GET /api/v2/help_center/{locale}/articles/{id}`: the labels, section, user segments
//!   and draft state every translation carries may have changed; its version decides whether
//!   it is sent; none in the locale: its id is deleted); without `locale`, the source
//!   locale's rows alone are read (as the full load reads the source locale only).
//! - **Articles, edited user segments**: editing a segment's audience touches none of its
//!   articles, so the export cannot show it. After the export, a poll lists the user
//!   segments (`GET /api/v2/help_center/user_segments`, one request, their `updated_at`);
//!   when one was edited since the window's start, it walks the article list again (checkpoint
//!   `relist`, the list's cursor): articles whose access changed (their version holds it)
//!   are sent again, the others cost nothing more. Without a Help Center manager's token
//!   the segments cannot be read, so (warned once) only a full run catches such edits.
//! - **Brands** (`brands`): each brand of a multi-brand account has its own Help Center,
//!   at the brand's URL. With `brands` set, a run lists the brands (`GET /api/v2/brands`)
//!   and walks, in brand id order, the Help Center of each one named (by subdomain or name,
//!   or `*`: all) that is active with its Help Center on, at its `brand_url` (the checkpoint's
//!   `brand_id` says which); each article carries its `brand`. A Help Center `restricted`
//!   to agents gives its articles to `zendesk:agents` (never public, nor signed-in end
//!   users). A name that matches no such brand fails the run, naming `brands`. Article ids
//!   are Zendesk's, unique in the account, so they stay `article:{id}`.
//! - **Article access**: an article no user segment restricts is public; a restricted one goes
//!   to its segments as groups `zendesk-segment:{id}` and, where a segment is a whole user
//!   type with no further condition, to `zendesk:signed_in_users` or `zendesk:agents`
//!   (`GET /api/v2/help_center/user_segments/{id}`, which needs a Help Center manager; without
//!   one, the segment ids alone, warned once).
//! - **Tickets**: the incremental *cursor* export,
//!   `GET /api/v2/incremental/tickets/cursor.json?start_time=T&include=users,organizations`,
//!   then `?cursor={after_cursor}` until `end_of_stream`. The cursor is the checkpoint, and
//!   the run's last cursor is carried to the next incremental run
//!   ([`CheckpointedConnector::carry_over`]), which goes on from it: a poll with nothing new
//!   costs one request. A ticket changed at or after the window's end is left to the next run,
//!   which is carried the cursor of the page that held it. A ticket the export shows
//!   deleted (status `deleted`), or of a status `ticket_statuses` no longer reads, has its two
//!   document ids handed on as the page's [`Batch::deleted`], so the run deletes them at once;
//!   prune's id listing leaves such tickets out too.
//! - **Organizations' sharing**: turning an organization's `shared_tickets` off (or on)
//!   touches none of its tickets, so the ticket export never shows them again. After the
//!   ticket export, an incremental run reads the incremental organization export,
//!   `GET /api/v2/incremental/organizations?start_time={window start}` (one more export
//!   request a poll; `end_time` the next page's `start_time`, until `end_of_stream`; its
//!   `start_time` is the checkpoint's `orgs_from`), and lists again the tickets of each
//!   organization changed (`GET /api/v2/organizations/{id}/tickets`, cursor paging,
//!   users and organizations sideloaded): their version token holds their access, so a
//!   ticket whose `zendesk-org:{id}` came or went is sent again, the others cost no comment
//!   request. Archived tickets (closed over 120 days) are not in that list: the closed
//!   ones are also searched, `GET /api/v2/search/export?query=type:ticket organization:{id}
//!   status:closed&filter[type]=ticket` (the search finds archived tickets; each ticket is
//!   listed again once a run). Then the incremental user export,
//!   `GET /api/v2/incremental/users?start_time={window start}` (checkpoint `users_from`):
//!   for each user changed (an e-mail changed), the tickets they requested, are copied on
//!   or are assigned are searched (`requester:{id}`, `cc:{id}`, `assignee:{id}`, archived
//!   ones too) and sent again when their access changed. A search sideloads nothing:
//!   missing people and organizations are read by `users/show_many` and
//!   `organizations/show_many`. Cost: three searches per changed user: the search
//!   reference takes a user id as the value of each of those keywords but ANDs different
//!   keywords and has no `OR`, so one query cannot cover the three roles. A run searches
//!   at most `user_searches_per_run` users (50 by default); the changed users past the cap
//!   (those of the export page being read, and the export position after it) are carried
//!   in the checkpoint (`users_pending`, `users_backlog`) to the next incremental run,
//!   which searches them first, so a mass e-mail change (an import, a domain rename) is
//!   spread over runs instead of making one run thousands of searches long.
//! - **Comments**: every comment of a changed ticket, from
//!   `GET /api/v2/tickets/{id}/comments?page[size]=100&include=users`, every page by
//!   `links.next` (RAGFlow and Onyx read the first page only).
//! - **Public and internal comments** go to two documents: `zendesk_ticket_{id}` holds the
//!   ticket's fields and its public comments, readable by the requester and everyone copied
//!   (by e-mail) and the organization's members when it shares tickets (`zendesk-org:{id}`),
//!   besides the ticket's agents (below; they alone while the ticket is private, `is_public`
//!   false); `zendesk_ticket_{id}:internal` holds the internal notes, readable by the ticket's
//!   agents only; the ticket's tags and group, which Zendesk shows agents only, are in that
//!   document alone. A host filters whole documents, never parts of one, so one document
//!   would have to be either open to the requester (leaking the notes) or closed to them
//!   (hiding their own conversation); two documents keep each audience's text whole.
//!   The internal-notes document exists for every ticket (saying so when there are none):
//!   which tickets have notes shows only in their comments, and the id set must follow from
//!   the export alone (prune's listing reads no comments). Requesters, assignees and people
//!   copied that the export's sideload left out are read by `users/show_many`.
//! - **A ticket's agents** are not every agent: a role may restrict an agent to the tickets
//!   of their groups, of their organization, or assigned to (or requested by) them. They are
//!   three keys, which the host resolves (the connector reads no memberships):
//!   - `zendesk:agents-all-tickets`: the agents whose role reads every ticket: users of
//!     `role` `admin`, and of `role` `agent` whose `ticket_restriction` is null
//!     (`GET /api/v2/users?role[]=agent&role[]=admin`; a custom role, `custom_role_id`, sets
//!     `ticket_restriction` from its `configuration.ticket_access`,
//!     `GET /api/v2/custom_roles`);
//!   - `zendesk-group:{group_id}` of the ticket's group, when it has one: the group's members
//!     (`GET /api/v2/group_memberships`, `user_id` and `group_id`) whose
//!     `ticket_restriction` is `groups` (members restricted to `assigned`, `requested` or
//!     `organization` must be left out; unrestricted ones are in the key above already);
//!   - the assignee's e-mail (as requesters', lower-cased), which covers agents restricted
//!     to `assigned` tickets.
//!
//!   An agent restricted to `organization` (tickets of their organization) or `requested` is
//!   in none of these keys unless assigned or the requester: closed rather than too open.
//!   A change of group or assignee is a ticket update, which moves `updated_at`, so the next
//!   incremental run lists the ticket again; the version token holds both documents' access,
//!   so the documents are sent again with the new keys (and without the old ones).
//!   `zendesk:agents` is the audience of Help Center articles of the `staff` user segment
//!   only (every agent and admin may read those), never of a ticket.
//! - **Attachments** (`include_attachments`, default off): the files of each changed
//!   ticket's comments (`attachments[]` of the comments read anyway; redacted ones left
//!   out) and of each changed article (`GET …/articles/{id}/attachments`, one request),
//!   inline images among them, each a file document (Zendesk's `content_type`, the file
//!   name's extension): `zendesk_ticket_{id}:attachment:{attachment id}`, parent and
//!   audience those of the comment's document (public, or the internal notes'), and
//!   `article:{id}:attachment:{attachment id}`, the article's. Bytes come from
//!   `content_url`, with the credentials on the account's origin only; a file over
//!   `max_file_size` (its listed `size`, or while downloading) is a failure naming it, and
//!   one whose version (id, size, audience) the store holds is not downloaded again. An
//!   unchanged ticket or article costs no request, so its files are not reported either (a
//!   reconciliation counts them neither way); prune's listing reads each ticket's comments
//!   and each article's attachments to list them.
//! - **Merged tickets**: Zendesk closes a ticket merged into another (tag `closed_by_merge`)
//!   and records the merge in a comment on each (`via.source.rel` `merge`, `to`/`from`
//!   `ticket_id`); a merged ticket keeps its documents (its conversation is not copied
//!   whole), with `merged_into` (number) and `merged_into_id` (document id) metadata and a
//!   header line, and the target `merged_from`; the public document tells only merges its
//!   public comments record (merge comments are private by default).
//! - **Incremental runs find new comments**: a comment, public or internal, moves the
//!   ticket's `updated_at`, so the export lists the ticket again and its version token
//!   (`updated_at`, status, both documents' access) has changed, which re-reads its comments.
//! - **Ids** are RAGFlow's: `article:{id}`, `zendesk_ticket_{id}`; titles the article's title
//!   and `Ticket #{id}: {subject}`; links the article's `html_url` and
//!   `{base}/agent/tickets/{id}`; `updated_at` the item's own.
//! - **Fingerprint**: a version token from what the listing shows, so an unchanged ticket
//!   costs no comment request.
//! - **Auth and limits**: HTTP Basic `{email}/token:{token}`. The incremental exports are
//!   held to `export_requests_per_minute` (Zendesk's 10 by default), everything else to
//!   `requests_per_minute` (the plan's; 200 by default), both keyed on the account for the
//!   host's rate gate; 429 with `Retry-After` is waited out by core's client.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::Secret;
use connector_core::http::{Auth, HttpClient};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, Result, Roles,
    SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;
use url::Url;

pub use checkpoint::ZendeskCheckpoint;
pub use config::{
    ContentType, DEFAULT_EXPORT_REQUESTS_PER_MINUTE, DEFAULT_MAX_FILE_SIZE, DEFAULT_PAGE_SIZE,
    DEFAULT_REQUESTS_PER_MINUTE, DEFAULT_USER_SEARCHES_PER_RUN, ZendeskConfig, ZendeskCredentials,
};

use client::Client;
use config::TOKEN_FIELD;
use pages::Walk;

/// The registry key of the Zendesk connector.
pub const SOURCE: &str = "zendesk";

/// How far back an incremental run lists before the previous window's end: Zendesk's exports
/// leave out the last minute, and its clock is not this host's.
const MIN_OVERLAP: Duration = Duration::from_secs(180);

/// Reads Help Center articles or support tickets of a Zendesk account. Built from a
/// [`ZendeskConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::zendesk::{ContentType, ZendeskConfig, ZendeskConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let config = ZendeskConfig::new("acme", "jane@example.com", "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv", ContentType::Tickets);
/// let connector = ZendeskConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ZendeskConnector {
    config: ZendeskConfig,
    walk: Walk,
}

impl ZendeskConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path; `Internal` when the HTTP client cannot start.
    pub fn new(config: ZendeskConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let subdomain = config.subdomain().to_lowercase();
        let base = match &config.base_url {
            Some(u) => u.clone(),
            None => Url::parse(&format!("https://{subdomain}.zendesk.com/")).map_err(|e| {
                Error::config(vec![connector_core::FieldError::new(
                    "credentials.zendesk_subdomain",
                    format!("makes no URL: {e}"),
                )])
                .with_connector(SOURCE)
            })?,
        };
        let auth = Auth::Basic {
            username: format!("{}/token", config.credentials.zendesk_email.trim()),
            password: Secret::new(config.credentials.zendesk_token.expose().trim()),
        };
        // Zendesk counts requests per account, whatever the token or the host name (a host
        // mapping, a proxy): the host's rate gate is keyed on the account's subdomain
        // (hashed), one key per limit, so every connector of one account shares it.
        let account = connector_core::ids::hash128(&subdomain);
        let client = |key: &str, per_minute| {
            HttpClient::builder(SOURCE)
                .auth(auth.clone(), TOKEN_FIELD)
                .rate_gate_key(format!("{key}-{account}"))
                .error_classifier(client::classify)
                .network_policy(config.network_policy()?)
                .rate_limit(per_minute, Duration::from_secs(60))
                .build()
        };
        let http = client("account", config.requests_per_minute)?;
        let export = client("export", config.export_requests_per_minute)?;
        let client = Client::new(
            http,
            export,
            base,
            config.locale.as_ref().map(|l| l.to_lowercase()),
            config.page_size.get().min(100),
        );
        let lower = |l: &connector_core::config::StringList| {
            l.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>()
        };
        let walk = Walk {
            client,
            content: config.zendesk_content_type,
            skip_labels: lower(&config.skip_article_labels),
            statuses: lower(&config.ticket_statuses),
            internal: config.include_internal_notes,
            segments_refused: Arc::default(),
            sign_in: config.help_center_requires_sign_in,
            brands: lower(&config.brands),
            attachments: config.include_attachments,
            max_file_size: config.max_file_size.get(),
            user_searches: config.user_searches_per_run.get() as usize,
        };
        Ok(Self { config, walk })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &ZendeskConfig {
        &self.config
    }
}

impl fmt::Display for ZendeskConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.walk.content {
            ContentType::Articles => "articles",
            ContentType::Tickets => "tickets",
        };
        write!(f, "{SOURCE}:{} {what}", self.config.subdomain())
    }
}

#[async_trait]
impl Connector for ZendeskConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    /// Three minutes: Zendesk's exports leave out the last minute, and `updated_at` is
    /// Zendesk's clock while the window's end is this host's. Unchanged items in the overlap
    /// cost no comment request (fingerprints).
    fn min_overlap(&self) -> Duration {
        MIN_OVERLAP
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .refetch()
            .fingerprint_skip()
            .into()
    }

    /// Asks who the token's agent is (`users/me`), then, for articles, one article of the
    /// list.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.zendesk_token` (401, or Zendesk answering as an
    /// anonymous user), `PermissionDenied` (403, or tickets read by an agent who is not an
    /// admin), `NotFound` naming `credentials.zendesk_subdomain` or `locale` (no Help Center,
    /// no such locale), `Unavailable` when Zendesk cannot be reached.
    async fn check(&self) -> Result<()> {
        self.walk.check().await
    }
}

impl CheckpointedConnector for ZendeskConnector {
    type Checkpoint = ZendeskCheckpoint;

    fn initial_checkpoint(&self) -> ZendeskCheckpoint {
        ZendeskCheckpoint::start()
    }

    /// Tickets: the export's cursor where the run stopped, so the next incremental run goes
    /// on from it; articles: nothing (the export's `start_time` is the window's).
    fn carry_over(&self, last: &ZendeskCheckpoint) -> Option<ZendeskCheckpoint> {
        match self.walk.content {
            ContentType::Tickets => last.carried(),
            ContentType::Articles => None,
        }
    }

    fn load_from_checkpoint(
        &self,
        from: ZendeskCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<ZendeskCheckpoint>>> {
        self.walk.checkpointed(from, window, ctx)
    }
}

impl SlimConnector for ZendeskConnector {
    /// Every article id of the list (drafts and skipped labels left out), or every ticket id
    /// of the export from the beginning (deleted tickets and unread statuses left out; with
    /// `include_internal_notes`, each ticket's internal-notes id too).
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.walk.list_ids(ctx)
    }
}

impl connector_core::RefetchConnector for ZendeskConnector {
    /// These articles (`GET …/articles/{id}`) or tickets (`tickets/show_many` and their
    /// comments) again; one that is gone or no longer read yields nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.walk.refetch(ids, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connector_of_one_account_shares_its_rate_gates() {
        let plain = ZendeskConfig::new("acme", "jane@example.com", "t0k3n", ContentType::Tickets);
        let mut mapped =
            ZendeskConfig::new("acme", "bob@example.com", "other", ContentType::Articles);
        mapped.base_url = Some(Url::parse("https://help.acme.test/").unwrap());
        let other = ZendeskConfig::new("globex", "jane@example.com", "t0k3n", ContentType::Tickets);
        let url = Url::parse("https://acme.zendesk.com/api/v2/users/me.json").unwrap();
        let keys = |c: ZendeskConfig| {
            ZendeskConnector::new(c)
                .unwrap()
                .walk
                .client
                .gate_keys(&url)
        };
        let (a, a_export) = keys(plain);
        assert_ne!(a, a_export, "the export limit is a gate of its own");
        assert_eq!(keys(mapped), (a.clone(), a_export));
        assert_ne!(keys(other).0, a);
    }
}
