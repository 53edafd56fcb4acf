//! What Zendesk's Support and Help Center APIs answer (the fields the connector reads), with
//! the API's own field names.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

/// Cursor paging's `meta` (`GET …?page[size]=N`): whether there is more and the cursor after
/// this page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Meta {
    #[serde(default)]
    pub(crate) has_more: bool,
    #[serde(default)]
    pub(crate) after_cursor: Option<String>,
}

/// Cursor paging's `links`: `next`, the URL of the next page.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Links {
    #[serde(default)]
    pub(crate) next: Option<String>,
}

/// Any page Zendesk answers: cursor-paged lists (`meta`, `links`), the incremental exports
/// (`after_cursor` or `end_time`/`next_page`, `end_of_stream`), `show_many` answers and
/// searches, with their sideloads (`users`, `organizations`). The listed items, whatever key
/// the endpoint names them by (`articles`, `tickets`, search `results`, `sections`,
/// `categories`, `user_segments`, `comments`, `brands`, `article_attachments`), are `items`;
/// the user and organization exports and `show_many` answers list theirs in `users` or
/// `organizations` (`T` is then [`NoItems`]). Every field is optional on the wire.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub(crate) struct ExportPage<T> {
    #[serde(
        default = "Vec::new",
        alias = "articles",
        alias = "tickets",
        alias = "results",
        alias = "sections",
        alias = "categories",
        alias = "user_segments",
        alias = "comments",
        alias = "brands",
        alias = "article_attachments"
    )]
    pub(crate) items: Vec<T>,
    #[serde(default)]
    pub(crate) meta: Meta,
    #[serde(default)]
    pub(crate) links: Links,
    /// The ticket export's cursor of the next page.
    #[serde(default)]
    pub(crate) after_cursor: Option<String>,
    #[serde(default)]
    pub(crate) end_of_stream: bool,
    /// Time-based exports: the next page's `start_time`.
    #[serde(default)]
    pub(crate) end_time: Option<i64>,
    /// Time-based exports and article attachments: the next page's URL.
    #[serde(default)]
    pub(crate) next_page: Option<String>,
    #[serde(default)]
    pub(crate) users: Vec<User>,
    #[serde(default)]
    pub(crate) organizations: Vec<Organization>,
}

/// The item of a page that lists its items in `users` or `organizations`: none.
#[derive(Debug, Deserialize)]
pub(crate) enum NoItems {}

/// `GET /api/v2/help_center/{locale}/articles?page[size]=N`: one page, articles as sent
/// (each read on its own, so one malformed article fails alone); the next page is asked by
/// `page[after]={meta.after_cursor}` (what its `links.next` holds).
pub(crate) type ArticlePage = ExportPage<Item<Article>>;

/// `GET /api/v2/help_center/incremental/articles?start_time=T`: time-based paging, up to
/// 1,000 articles, `next_page` carrying the next `start_time` (= `end_time`).
pub(crate) type ArticleExport = ExportPage<Item<Article>>;

/// `GET /api/v2/help_center/sections` (or `categories`) with cursor paging.
pub(crate) type SectionPage = ExportPage<Section>;

/// `GET /api/v2/help_center/user_segments?page[size]=100` with cursor paging.
pub(crate) type SegmentList = ExportPage<UserSegment>;

/// `GET /api/v2/incremental/users?start_time=T`: time-based paging, up to 1,000 users, the
/// next page's `start_time` being `end_time`, until `end_of_stream`.
pub(crate) type UserExport = ExportPage<NoItems>;

/// `GET /api/v2/organizations/show_many.json?ids=…`.
pub(crate) type OrganizationsAnswer = ExportPage<NoItems>;

/// `GET /api/v2/users/show_many?ids=…`.
pub(crate) type UsersAnswer = ExportPage<NoItems>;

/// `GET /api/v2/incremental/organizations?start_time=T`: time-based paging, up to 1,000
/// organizations, the next page's `start_time` being `end_time`, until `end_of_stream`.
pub(crate) type OrganizationExport = ExportPage<NoItems>;

/// `GET /api/v2/organizations/{id}/tickets?page[size]=100&include=users,organizations`, or
/// `GET /api/v2/search/export?query=type:ticket …&filter[type]=ticket` (its tickets in
/// `results`, nothing sideloaded).
pub(crate) type TicketPage = ExportPage<Item<Ticket>>;

/// `GET /api/v2/incremental/tickets/cursor.json?start_time=T&include=users,organizations`,
/// then `?cursor=C`.
pub(crate) type TicketExport = ExportPage<Item<Ticket>>;

/// `GET /api/v2/tickets/show_many.json?ids=…&include=users,organizations`.
pub(crate) type TicketsAnswer = ExportPage<Item<Ticket>>;

/// A listed item read as `T` from its own JSON text, or why it could not be, with its `id`
/// when it has one: one malformed item fails alone, and the page builds no `Value` tree.
#[derive(Debug)]
pub(crate) enum Item<T> {
    Read(Box<T>),
    Malformed { id: Option<u64>, error: String },
}

impl<T> Item<T> {
    /// Its `id`, read or not.
    pub(crate) fn id(&self) -> Option<u64>
    where
        T: HasId,
    {
        match self {
            Self::Read(t) => Some(t.id()),
            Self::Malformed { id, .. } => *id,
        }
    }
}

/// What has a numeric `id`.
pub(crate) trait HasId {
    fn id(&self) -> u64;
}

impl HasId for Article {
    fn id(&self) -> u64 {
        self.id
    }
}

/// `GET /api/v2/help_center/articles/{id}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ArticleAnswer {
    #[serde(default)]
    pub(crate) article: Option<Item<Article>>,
}

impl HasId for Ticket {
    fn id(&self) -> u64 {
        self.id
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Item<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Borrowed from the page's text, read again from it as `T`.
        let raw = <&RawValue>::deserialize(d)?;
        Ok(match serde_json::from_str::<T>(raw.get()) {
            Ok(t) => Self::Read(Box::new(t)),
            Err(e) => {
                #[derive(Deserialize)]
                struct Id {
                    id: Option<u64>,
                }
                let id = serde_json::from_str::<Id>(raw.get())
                    .ok()
                    .and_then(|i| i.id);
                Self::Malformed {
                    id,
                    error: e.to_string(),
                }
            }
        })
    }
}

/// `GET /api/v2/tickets/{id}/comments?page[size]=100&include=users`.
pub(crate) type CommentPage = ExportPage<Comment>;

/// `GET /api/v2/help_center[/{locale}]/articles/{id}/attachments`: `next_page` a URL while
/// there is more.
pub(crate) type ArticleAttachments = ExportPage<Attachment>;

/// `GET /api/v2/brands?page[size]=100` with cursor paging.
pub(crate) type BrandPage = ExportPage<Brand>;

/// A Help Center article.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Article {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) html_url: Option<String>,
    #[serde(default)]
    pub(crate) title: Option<String>,
    #[serde(default)]
    pub(crate) body: Option<String>,
    #[serde(default)]
    pub(crate) author_id: Option<u64>,
    #[serde(default)]
    pub(crate) section_id: Option<u64>,
    #[serde(default)]
    pub(crate) draft: bool,
    #[serde(default)]
    pub(crate) promoted: bool,
    #[serde(default)]
    pub(crate) outdated: bool,
    #[serde(default)]
    pub(crate) locale: Option<String>,
    #[serde(default)]
    pub(crate) source_locale: Option<String>,
    #[serde(default)]
    pub(crate) label_names: Vec<String>,
    #[serde(default)]
    pub(crate) user_segment_id: Option<u64>,
    /// Newer accounts: several segments, any of which may view it.
    #[serde(default)]
    pub(crate) user_segment_ids: Vec<u64>,
    #[serde(default)]
    pub(crate) permission_group_id: Option<u64>,
    #[serde(default)]
    pub(crate) vote_sum: Option<i64>,
    #[serde(default)]
    pub(crate) created_at: Option<DateTime<Utc>>,
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(default)]
    pub(crate) edited_at: Option<DateTime<Utc>>,
}

impl Article {
    /// The segments that may view it; empty: everyone.
    pub(crate) fn segments(&self) -> Vec<u64> {
        let mut ids = self.user_segment_ids.clone();
        ids.extend(self.user_segment_id);
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// A section or a category of the Help Center.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Section {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) category_id: Option<u64>,
}

/// `GET /api/v2/help_center/user_segments/{id}`.
#[derive(Debug, Deserialize)]
pub(crate) struct SegmentAnswer {
    pub(crate) user_segment: UserSegment,
}

/// Who may view content: a user type, narrowed by groups, organizations, tags and users.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct UserSegment {
    #[serde(default)]
    pub(crate) id: u64,
    /// When its audience was last edited (Zendesk's clock); editing a segment touches none
    /// of its articles.
    #[serde(default)]
    pub(crate) updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) name: String,
    /// `signed_in_users` or `staff`.
    #[serde(default)]
    pub(crate) user_type: String,
    #[serde(default)]
    pub(crate) group_ids: Vec<u64>,
    #[serde(default)]
    pub(crate) organization_ids: Vec<u64>,
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    #[serde(default)]
    pub(crate) or_tags: Vec<String>,
    #[serde(default)]
    pub(crate) added_user_ids: Vec<u64>,
}

/// A user, sideloaded or from `users/show_many`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    pub(crate) updated_at: Option<DateTime<Utc>>,
}

impl User {
    /// The name a person recognises, else the e-mail.
    pub(crate) fn label(&self) -> Option<&str> {
        self.name
            .as_deref()
            .filter(|n| !n.is_empty())
            .or(self.email.as_deref())
    }
}

/// `GET /api/v2/users/me`: an unauthenticated caller comes back as an anonymous end user
/// with no id.
#[derive(Debug, Deserialize)]
pub(crate) struct Me {
    pub(crate) user: MeUser,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MeUser {
    #[serde(default)]
    pub(crate) id: Option<u64>,
    #[serde(default)]
    pub(crate) role: Option<String>,
}

/// An organization, sideloaded.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Organization {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// Whether the organization's members see each other's tickets.
    #[serde(default)]
    pub(crate) shared_tickets: bool,
    #[serde(default)]
    pub(crate) updated_at: Option<DateTime<Utc>>,
}

/// A ticket.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Ticket {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) subject: Option<String>,
    /// `new`, `open`, `pending`, `hold`, `solved`, `closed` or `deleted`.
    #[serde(default)]
    pub(crate) status: String,
    #[serde(default)]
    pub(crate) priority: Option<String>,
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    #[serde(default)]
    pub(crate) requester_id: Option<u64>,
    #[serde(default)]
    pub(crate) submitter_id: Option<u64>,
    #[serde(default)]
    pub(crate) assignee_id: Option<u64>,
    #[serde(default)]
    pub(crate) organization_id: Option<u64>,
    #[serde(default)]
    pub(crate) group_id: Option<u64>,
    #[serde(default)]
    pub(crate) collaborator_ids: Vec<u64>,
    #[serde(default)]
    pub(crate) email_cc_ids: Vec<u64>,
    /// False when no comment is public (a ticket an agent opened with an internal note):
    /// Zendesk shows it to no end user.
    #[serde(default = "yes")]
    pub(crate) is_public: bool,
    #[serde(default)]
    pub(crate) created_at: Option<DateTime<Utc>>,
    pub(crate) updated_at: DateTime<Utc>,
}

/// A file attached to a ticket comment or to an article (inline images among them).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Attachment {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) file_name: Option<String>,
    /// Where its bytes are: the account's host (which may redirect to Zendesk's file host).
    #[serde(default)]
    pub(crate) content_url: Option<String>,
    #[serde(default)]
    pub(crate) content_type: Option<String>,
    #[serde(default)]
    pub(crate) size: Option<u64>,
    /// Shown in the body (an image) rather than listed below it.
    #[serde(default)]
    pub(crate) inline: bool,
    /// Ticket attachments: redacted (its bytes are gone).
    #[serde(default)]
    pub(crate) deleted: bool,
    #[serde(default)]
    pub(crate) updated_at: Option<DateTime<Utc>>,
}

/// A ticket comment: public (the requester sees it) or an internal note.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Comment {
    #[serde(default)]
    pub(crate) attachments: Vec<Attachment>,
    #[serde(default)]
    pub(crate) author_id: Option<u64>,
    #[serde(default)]
    pub(crate) body: Option<String>,
    #[serde(default)]
    pub(crate) html_body: Option<String>,
    #[serde(default = "default_true")]
    pub(crate) public: bool,
    #[serde(default)]
    pub(crate) created_at: Option<DateTime<Utc>>,
    /// How the comment was made: a merge's comments say which ticket went where.
    #[serde(default)]
    pub(crate) via: Option<Via>,
}

/// A comment's `via`: its channel and, for a merge, `source.rel` `merge` with `source.from`
/// (on the target ticket: the ticket merged into it) or `source.to` (on the ticket merged
/// away: where it went), each with a `ticket_id`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Via {
    #[serde(default)]
    pub(crate) source: Option<ViaSource>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ViaSource {
    #[serde(default)]
    pub(crate) rel: Option<String>,
    #[serde(default)]
    pub(crate) from: Option<Value>,
    #[serde(default)]
    pub(crate) to: Option<Value>,
}

impl Comment {
    /// `(into, from)`: the ticket this merge comment says its ticket was merged into, or
    /// merged from.
    pub(crate) fn merge(&self) -> (Option<u64>, Option<u64>) {
        let Some(src) = self.via.as_ref().and_then(|v| v.source.as_ref()) else {
            return (None, None);
        };
        if src.rel.as_deref() != Some("merge") {
            return (None, None);
        }
        let id = |v: &Option<Value>| v.as_ref()?.get("ticket_id")?.as_u64();
        (id(&src.to), id(&src.from))
    }
}

fn default_true() -> bool {
    true
}

/// An error body: `{"error": "RecordNotFound", "description": "Not found"}` or
/// `{"error": {"title": "Forbidden", "message": "You do not have access to this page"}}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub(crate) error: Option<Value>,
    #[serde(default)]
    pub(crate) description: Option<String>,
}

fn yes() -> bool {
    true
}

/// A brand of the account: each has its own Help Center, at `brand_url`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Brand {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) subdomain: String,
    #[serde(default)]
    pub(crate) brand_url: Option<String>,
    #[serde(default)]
    pub(crate) active: bool,
    #[serde(default)]
    pub(crate) is_deleted: bool,
    #[serde(default)]
    pub(crate) has_help_center: bool,
    /// `enabled`, `disabled` or `restricted` (agents only).
    #[serde(default)]
    pub(crate) help_center_state: Option<String>,
}
