//! Articles and tickets as Markdown documents, and who may read them.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use connector_core::text::markdown::{Block, Inline, MarkdownOut};
use connector_core::text::{html_to_markdown, push_utc_minute, utc_minute};
use connector_core::{Access, Document, MetaKey, Metadata};
use serde_json::Value;
use url::Url;

use super::SOURCE;
use super::model::{
    Article, Attachment, Comment, Organization, Section, Ticket, User, UserSegment,
};

/// The group every agent (and admin) of the account is in, for a host that resolves it: the
/// audience of articles for the `staff` user segment; never a ticket's (agents may be
/// restricted to some tickets, [`AGENTS_ALL_TICKETS`]).
pub(crate) const AGENTS: &str = "zendesk:agents";

/// The group of every signed-in user of the Help Center.
pub(crate) const SIGNED_IN: &str = "zendesk:signed_in_users";

/// The document id of the article `id`: RAGFlow's `article:{id}`.
pub(crate) fn article_id(id: u64) -> String {
    format!("article:{id}")
}

/// The document id of the ticket `id` (its public conversation): RAGFlow's
/// `zendesk_ticket_{id}`.
pub(crate) fn ticket_id(id: u64) -> String {
    format!("zendesk_ticket_{id}")
}

/// The document id of the internal notes of the ticket `id`.
pub(crate) fn internal_id(id: u64) -> String {
    format!("zendesk_ticket_{id}:internal")
}

/// The document id of the file `attachment` of the ticket `ticket`.
pub(crate) fn ticket_attachment_id(ticket: u64, attachment: u64) -> String {
    format!("zendesk_ticket_{ticket}:attachment:{attachment}")
}

/// The document id of the file `attachment` of the article `article`.
pub(crate) fn article_attachment_id(article: u64, attachment: u64) -> String {
    format!("article:{article}:attachment:{attachment}")
}

/// The number before the first `:` (or the end) of `rest`.
fn leading_number(rest: &str) -> Option<u64> {
    rest.split(':').next()?.parse().ok()
}

/// The ticket number in a document id of any kind (its documents and attachments').
pub(crate) fn parse_ticket_id(id: &str) -> Option<u64> {
    leading_number(id.strip_prefix("zendesk_ticket_")?)
}

/// The article number in a document id of an article or of one of its attachments.
pub(crate) fn parse_article_id(id: &str) -> Option<u64> {
    leading_number(id.strip_prefix("article:")?)
}

/// The version token of an attachment: its id and size (Zendesk never changes a file's
/// bytes; a new file is a new attachment) and who may read it.
pub(crate) fn attachment_version(att: &Attachment, access: &Access) -> String {
    format!(
        "{}|{}|{}|{}|{}",
        att.id,
        att.size.unwrap_or_default(),
        access.emails.join(","),
        access.groups.join(","),
        access.public
    )
}

/// Where an attachment belongs, for its document.
pub(crate) struct AttachmentParent<'a> {
    /// The parent document's id.
    pub(crate) id: String,
    /// The parent's title, for the metadata.
    pub(crate) title: &'a str,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) link: Option<Url>,
    pub(crate) access: Access,
}

/// The file document of `att`, its bytes `data`, read by its parent's audience.
pub(crate) fn attachment_document(
    id: String,
    att: &Attachment,
    data: bytes::Bytes,
    parent: AttachmentParent<'_>,
) -> Document {
    let name = att
        .file_name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("attachment {}", att.id));
    let extension = std::path::Path::new(&name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase);
    let mime = att
        .content_type
        .clone()
        .filter(|m| m.contains('/'))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let size = data.len() as u64;
    let version = attachment_version(att, &parent.access);
    let mut doc = Document::bytes(id, SOURCE, name, data, mime, extension)
        .with_version(&version)
        .with_size(att.size.unwrap_or(size))
        .with_updated_at(att.updated_at.unwrap_or(parent.updated_at))
        .with_parent_id(parent.id)
        .with_metadata("object_type", "Attachment")
        .with_metadata("attachment_id", att.id)
        .with_metadata("inline", att.inline)
        .with_metadata("parent", parent.title.to_owned());
    if let Some(link) = parent.link {
        doc = doc.with_link(link);
    }
    doc.with_access(parent.access)
}

/// About the Markdown size of a ticket's header and `comments`.
fn size_hint(comments: &[&Comment]) -> usize {
    512 + comments
        .iter()
        .map(|c| {
            c.html_body
                .as_ref()
                .or(c.body.as_ref())
                .map_or(0, String::len)
                + 64
        })
        .sum::<usize>()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What a run knows of the Help Center's structure and audiences.
#[derive(Debug, Default, Clone)]
pub(crate) struct Guide {
    pub(crate) sections: HashMap<u64, Section>,
    pub(crate) categories: HashMap<u64, Section>,
    /// Segments by id; `None`: it could not be read (the token's agent is not a Help Center
    /// manager), so only its id is known.
    pub(crate) segments: HashMap<u64, Option<UserSegment>>,
    /// The Help Center requires sign-in: no article is public.
    pub(crate) sign_in: bool,
    /// The Help Center is restricted to agents (a brand's `help_center_state`
    /// `restricted`): no article is public, nor open to signed-in end users.
    pub(crate) agents_only: bool,
    /// The brand whose Help Center this is, when several are read.
    pub(crate) brand: Option<String>,
}

/// Who may read an article: anyone when no user segment restricts it (every signed-in user,
/// [`SIGNED_IN`], when the Help Center requires sign-in), else each segment as a
/// group `zendesk-segment:{id}` (for a host that resolves it) and, for a segment that is a
/// whole user type with no further condition, that audience: every signed-in user
/// ([`SIGNED_IN`]) or every agent ([`AGENTS`]). A segment narrowed by groups, organizations,
/// tags or users is an intersection, which no union of groups expresses, so it stays the
/// segment alone (closed rather than too open).
pub(crate) fn article_access(article: &Article, guide: &Guide) -> Access {
    let access = audience(article, guide);
    if !guide.agents_only {
        return access;
    }
    // A Help Center restricted to agents: whoever else a segment names cannot reach it.
    if access.public {
        return Access::restricted(Vec::new(), vec![AGENTS.to_owned()]);
    }
    let mut groups: Vec<String> = access
        .groups
        .into_iter()
        .map(|g| if g == SIGNED_IN { AGENTS.to_owned() } else { g })
        .collect();
    groups.sort();
    groups.dedup();
    Access::restricted(Vec::new(), groups)
}

/// [`article_access`] in an open Help Center.
fn audience(article: &Article, guide: &Guide) -> Access {
    let ids = article.segments();
    if ids.is_empty() && guide.sign_in {
        return Access::restricted(Vec::new(), vec![SIGNED_IN.to_owned()]);
    }
    if ids.is_empty() {
        return Access::public();
    }
    let mut groups = Vec::new();
    for id in ids {
        groups.push(format!("zendesk-segment:{id}"));
        if let Some(Some(seg)) = guide.segments.get(&id) {
            let narrowed = !seg.group_ids.is_empty()
                || !seg.organization_ids.is_empty()
                || !seg.tags.is_empty()
                || !seg.or_tags.is_empty()
                || !seg.added_user_ids.is_empty();
            if !narrowed {
                match seg.user_type.as_str() {
                    "signed_in_users" => groups.push(SIGNED_IN.to_owned()),
                    "staff" => groups.push(AGENTS.to_owned()),
                    _ => {}
                }
            }
        }
    }
    groups.sort();
    groups.dedup();
    Access::restricted(Vec::new(), groups)
}

/// The version token of an article: what the list shows that the document holds (its
/// times, state, place, labels, author) and who may read it.
pub(crate) fn article_version(article: &Article, access: &Access) -> String {
    format!(
        "{}|{}|{}|{:?}|{}|{}|{}",
        rfc3339(article.updated_at),
        article.edited_at.map(rfc3339).unwrap_or_default(),
        article.section_id.unwrap_or_default(),
        article.label_names,
        article.author_id.unwrap_or_default(),
        access.groups.join(","),
        access.public
    )
}

/// The Markdown document of `article`, its body converted from HTML.
pub(crate) fn article_document(
    article: &Article,
    guide: &Guide,
    author: Option<&User>,
    access: Access,
) -> Document {
    let title = article
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| format!("Article {}", article.id));
    let body = html_to_markdown(article.body.as_deref().unwrap_or_default());
    let mut text = String::with_capacity(title.len() + body.len() + 8);
    let mut md = MarkdownOut::new(&mut text);
    md.heading(1, &title);
    md.markdown(&body);
    let mut doc = Document::text_with_version(
        article_id(article.id),
        SOURCE,
        title,
        text,
        &article_version(article, &access),
    )
    .with_updated_at(article.updated_at)
    .with_metadata("object_type", "Article")
    .with_metadata("labels", article.label_names.clone())
    .with_metadata("promoted", article.promoted)
    .with_metadata("outdated", article.outdated)
    .with_metadata("updated_at", rfc3339(article.updated_at));
    if let Some(section) = article.section_id {
        doc = doc
            .with_parent_id(format!("{SOURCE}:section:{section}"))
            .with_metadata("section_id", section);
        if let Some(s) = guide.sections.get(&section) {
            doc = doc.with_metadata("section", s.name.clone());
            if let Some(cat) = s.category_id {
                doc = doc.with_metadata("category_id", cat);
                if let Some(c) = guide.categories.get(&cat) {
                    doc = doc.with_metadata("category", c.name.clone());
                }
            }
        }
    }
    if let Some(locale) = &article.locale {
        doc = doc.with_metadata("locale", locale.clone());
    }
    if let Some(brand) = &guide.brand {
        doc = doc.with_metadata("brand", brand.clone());
    }
    if let Some(c) = article.created_at {
        doc = doc.with_metadata("created_at", rfc3339(c));
    }
    if let Some(v) = article.vote_sum {
        doc = doc.with_metadata("vote_sum", v);
    }
    let segments = article.segments();
    if !segments.is_empty() {
        let names: Vec<String> = segments
            .iter()
            .filter_map(|id| guide.segments.get(id).cloned().flatten())
            .map(|s| s.name)
            .collect();
        doc = doc.with_metadata("user_segment_ids", segments);
        if !names.is_empty() {
            doc = doc.with_metadata("user_segments", names);
        }
    }
    if let Some(group) = article.permission_group_id {
        doc = doc.with_metadata("permission_group_id", group);
    }
    if let Some(who) = author.and_then(User::label) {
        doc = doc
            .with_metadata("author", who.to_owned())
            .with_owners(vec![
                author
                    .and_then(|a| a.email.clone())
                    .unwrap_or_else(|| who.to_owned()),
            ]);
    }
    if let Some(url) = article.html_url.as_deref().and_then(|u| Url::parse(u).ok()) {
        doc = doc.with_link(url);
    }
    doc.with_access(access)
}

/// The people and organizations a page sideloaded, by id.
#[derive(Debug, Default, Clone)]
pub(crate) struct People {
    pub(crate) users: HashMap<u64, User>,
    pub(crate) orgs: HashMap<u64, Organization>,
}

impl People {
    pub(crate) fn add_users(&mut self, users: impl IntoIterator<Item = User>) {
        self.users.extend(users.into_iter().map(|u| (u.id, u)));
    }

    pub(crate) fn add_orgs(&mut self, orgs: impl IntoIterator<Item = Organization>) {
        self.orgs.extend(orgs.into_iter().map(|o| (o.id, o)));
    }

    fn user(&self, id: Option<u64>) -> Option<&User> {
        id.and_then(|id| self.users.get(&id))
    }

    /// `Name <email>`, the name, the e-mail, or `user {id}`.
    fn shown(&self, id: u64) -> String {
        match self.users.get(&id) {
            Some(u) => match (u.name.as_deref().filter(|n| !n.is_empty()), &u.email) {
                (Some(n), Some(e)) => [n, " <", e, ">"].concat(),
                (Some(n), None) => n.to_owned(),
                (None, Some(e)) => e.clone(),
                (None, None) => format!("user {id}"),
            },
            None => format!("user {id}"),
        }
    }
}

/// The group a host resolves to the agents whose role may read every ticket: admins, and
/// agents whose `ticket_restriction` is null (a custom role's `ticket_access` of `all`).
pub(crate) const AGENTS_ALL_TICKETS: &str = "zendesk:agents-all-tickets";

/// The group of the agents who read the tickets of Zendesk group `id` (a host resolves it to
/// the group's members, `GET /api/v2/group_memberships`, whose `ticket_restriction` is
/// `groups`).
pub(crate) fn ticket_group(id: u64) -> String {
    format!("zendesk-group:{id}")
}

/// Who may read a ticket's documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TicketAccess {
    /// The public conversation: the agents below and, while the ticket is public, its
    /// requester and the people copied on it (by e-mail) and its organization's members when
    /// the organization shares tickets (`zendesk-org:{id}`).
    pub(crate) public: Access,
    /// The internal notes: the agents who may read the ticket alone, the assignee (by
    /// e-mail), the agents of its group ([`ticket_group`]) and the agents who read every
    /// ticket ([`AGENTS_ALL_TICKETS`]).
    pub(crate) agents: Access,
}

/// Who may read `ticket`: see [`TicketAccess`]. An agent restricted to the tickets of their
/// organization or to those they requested is not among the agents (closed rather than too
/// open), unless a ticket names them otherwise.
pub(crate) fn ticket_access(ticket: &Ticket, people: &People) -> TicketAccess {
    let email = |id: u64| {
        people
            .users
            .get(&id)
            .and_then(|u| u.email.as_deref())
            .map(str::to_lowercase)
    };
    let mut agent_groups = vec![AGENTS_ALL_TICKETS.to_owned()];
    agent_groups.extend(ticket.group_id.map(ticket_group));
    let agent_emails: Vec<String> = ticket.assignee_id.and_then(email).into_iter().collect();
    let agents = Access::restricted(agent_emails.clone(), agent_groups.clone());
    if !ticket.is_public {
        return TicketAccess {
            public: agents.clone(),
            agents,
        };
    }
    let mut emails: Vec<String> = ticket
        .requester_id
        .into_iter()
        .chain(ticket.email_cc_ids.iter().copied())
        .chain(ticket.collaborator_ids.iter().copied())
        .filter_map(email)
        .chain(agent_emails)
        .collect();
    emails.sort();
    emails.dedup();
    let mut groups = agent_groups;
    if let Some(org) = ticket.organization_id
        && people.orgs.get(&org).is_some_and(|o| o.shared_tickets)
    {
        groups.push(format!("zendesk-org:{org}"));
    }
    TicketAccess {
        public: Access::restricted(emails, groups),
        agents,
    }
}

/// The version token of a ticket: `updated_at`, which a new comment (public or internal),
/// a new group or a new assignee moves, its status, and who may read either document.
pub(crate) fn ticket_version(ticket: &Ticket, access: &TicketAccess) -> String {
    // `{updated}|{status}|{public e-mails}|{public groups}|{agents' e-mails}|{agents' groups}`,
    // each list joined by `,`.
    let lists = [
        &access.public.emails,
        &access.public.groups,
        &access.agents.emails,
        &access.agents.groups,
    ];
    let mut out = String::with_capacity(
        48 + ticket.status.len()
            + lists
                .iter()
                .flat_map(|l| l.iter())
                .map(|i| i.len() + 1)
                .sum::<usize>(),
    );
    out.push_str(&rfc3339(ticket.updated_at));
    out.push('|');
    out.push_str(&ticket.status);
    for list in lists {
        out.push('|');
        for (i, item) in list.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(item);
        }
    }
    out
}

/// The tag Zendesk puts on a ticket it closed by merging it into another.
const CLOSED_BY_MERGE: &str = "closed_by_merge";

/// What a ticket's comments tell of merges: the ticket it was merged into, the tickets merged
/// into it.
#[derive(Debug, Default)]
struct Merges {
    into: Option<u64>,
    from: Vec<u64>,
}

/// The merges `comments` (those one audience reads) record: the comments' `via`
/// (`source.rel` `merge`), else, for a ticket Zendesk closed by merging it, the text of its
/// default merge comment ("…closed and merged into request #N…").
fn merges(ticket: &Ticket, comments: &[&Comment]) -> Merges {
    let mut out = Merges::default();
    for c in comments {
        let (into, from) = c.merge();
        out.into = into.or(out.into);
        out.from.extend(from);
    }
    if out.into.is_none() && ticket.tags.iter().any(|t| t == CLOSED_BY_MERGE) {
        out.into = comments.iter().rev().find_map(|c| {
            let text = c.body.as_deref()?;
            let (_, rest) = text.split_once("merged into request #")?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        });
    }
    out.from.retain(|id| *id != ticket.id);
    out.from.sort_unstable();
    out.from.dedup();
    out
}

/// The header lines both documents of a ticket show, worked out once for the two.
struct HeaderFacts<'a> {
    /// Status, priority, type, requester, organization and assignee, in that order.
    lines: Vec<(&'static str, Cow<'a, str>)>,
    created: Option<String>,
    updated: String,
}

impl<'a> HeaderFacts<'a> {
    fn of(ticket: &'a Ticket, people: &'a People) -> Self {
        let mut lines: Vec<(&str, Cow<'a, str>)> = Vec::with_capacity(10);
        lines.push(("Status:", Cow::Borrowed(ticket.status.as_str())));
        if let Some(p) = &ticket.priority {
            lines.push(("Priority:", Cow::Borrowed(p.as_str())));
        }
        if let Some(k) = &ticket.kind {
            lines.push(("Type:", Cow::Borrowed(k.as_str())));
        }
        if let Some(id) = ticket.requester_id {
            lines.push(("Requester:", Cow::Owned(people.shown(id))));
        }
        if let Some(org) = ticket.organization_id {
            let name = match people.orgs.get(&org).and_then(|o| o.name.as_deref()) {
                Some(name) => Cow::Borrowed(name),
                None => Cow::Owned(format!("organization {org}")),
            };
            lines.push(("Organization:", name));
        }
        if let Some(id) = ticket.assignee_id {
            lines.push(("Assignee:", Cow::Owned(people.shown(id))));
        }
        Self {
            lines,
            created: ticket.created_at.map(utc_minute),
            updated: utc_minute(ticket.updated_at),
        }
    }
}

/// The heading lines every document of a ticket starts with, written to `md`; the tags, which
/// Zendesk shows agents only, when `agents` (the internal-notes document); the merges its
/// comments tell.
fn ticket_header(
    md: &mut MarkdownOut<'_>,
    ticket: &Ticket,
    facts: &HeaderFacts<'_>,
    heading: &str,
    agents: bool,
    merged: &Merges,
) {
    let mut lines: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(facts.lines.len() + 5);
    lines.extend(
        facts
            .lines
            .iter()
            .map(|(l, v)| (*l, Cow::Borrowed(v.as_ref()))),
    );
    if agents && !ticket.tags.is_empty() {
        lines.push(("Tags:", Cow::Owned(ticket.tags.join(", "))));
    }
    if let Some(into) = merged.into {
        lines.push(("Merged into:", Cow::Owned(format!("Ticket #{into}"))));
    }
    if !merged.from.is_empty() {
        let from: Vec<String> = merged
            .from
            .iter()
            .map(|id| format!("Ticket #{id}"))
            .collect();
        lines.push(("Merged from:", Cow::Owned(from.join(", "))));
    }
    if let Some(c) = &facts.created {
        lines.push(("Created:", Cow::Borrowed(c.as_str())));
    }
    lines.push(("Updated:", Cow::Borrowed(facts.updated.as_str())));
    let labelled: Vec<(&str, &str)> = lines.iter().map(|(l, v)| (*l, v.as_ref())).collect();
    md.heading(1, heading);
    md.labelled_lines(&labelled);
}

/// Each of `comments` written to `md`: its author and time as a heading, then its body.
fn comment_blocks(comments: &[&Comment], people: &People, md: &mut MarkdownOut<'_>) {
    // One buffer for every comment's heading.
    let mut head = String::with_capacity(64);
    for c in comments {
        let who = c
            .author_id
            .and_then(|id| people.users.get(&id))
            .and_then(User::label)
            .unwrap_or("someone");
        head.clear();
        head.push_str(who);
        if let Some(at) = c.created_at {
            head.push_str(", ");
            push_utc_minute(&mut head, at);
        }
        md.heading(3, &head);
        match (&c.html_body, &c.body) {
            (Some(html), _) if !html.trim().is_empty() => md.markdown(&html_to_markdown(html)),
            (_, Some(body)) => md.plain_text(body),
            _ => {}
        }
    }
}

/// `Ticket #{id}: {subject}`: the title of a ticket's public document and of its files'
/// parent.
pub(crate) fn ticket_title(ticket: &Ticket) -> String {
    use std::fmt::Write as _;
    let subject = subject(ticket);
    let mut title = String::with_capacity(subject.len() + 32);
    title.push_str("Ticket #");
    let _ = write!(title, "{}", ticket.id);
    title.push_str(": ");
    title.push_str(subject);
    title
}

pub(crate) fn subject(ticket: &Ticket) -> &str {
    ticket
        .subject
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("No Subject")
}

/// `{base}agent/tickets/`, the prefix of every ticket's link ([`ticket_link`]), joined once
/// per account: `None` when the base takes no relative path.
pub(crate) fn ticket_links(base: &Url) -> Option<Url> {
    base.join("agent/tickets/").ok()
}

/// The agent's view of the ticket `id`, `base.join("agent/tickets/{id}")`, written as the id
/// after [`ticket_links`]'s `prefix`: a copy and a segment pushed instead of a URL parsed per
/// ticket (a test holds the two together).
pub(crate) fn ticket_link(prefix: &Url, id: u64) -> Option<Url> {
    let mut url = prefix.clone();
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .push(&id.to_string());
    Some(url)
}

/// The metadata fields both documents of a ticket carry (what the listing says of it and its
/// people), worked out once for the two: each document takes a copy (the last the map
/// itself) and adds its own (comment count, merges, and for the internal notes' the tags
/// and group, which Zendesk shows agents only), [`own_fields`].
struct SharedFields {
    map: Metadata,
    /// The submitter (RAGFlow's owner) and the assignee, by e-mail where known.
    owners: Vec<String>,
}

impl SharedFields {
    fn of(ticket: &Ticket, people: &People) -> Self {
        let mut map = Metadata::new();
        map.insert("object_type".into(), "Ticket".into());
        map.insert("ticket_id".into(), ticket.id.into());
        map.insert("status".into(), ticket.status.as_str().into());
        map.insert("updated_at".into(), rfc3339(ticket.updated_at).into());
        if let Some(p) = &ticket.priority {
            map.insert("priority".into(), p.as_str().into());
        }
        if let Some(k) = &ticket.kind {
            map.insert("ticket_type".into(), k.as_str().into());
        }
        if let Some(c) = ticket.created_at {
            map.insert("created_at".into(), rfc3339(c).into());
        }
        if let Some(u) = people.user(ticket.requester_id).and_then(User::label) {
            map.insert("requester".into(), u.into());
        }
        if let Some(u) = people.user(ticket.assignee_id).and_then(User::label) {
            map.insert("assignee".into(), u.into());
        }
        if let Some(org) = ticket.organization_id {
            map.insert("organization_id".into(), org.into());
            if let Some(name) = people.orgs.get(&org).and_then(|o| o.name.as_deref()) {
                map.insert("organization".into(), name.into());
            }
        }
        let owners: Vec<String> = [ticket.submitter_id, ticket.assignee_id]
            .into_iter()
            .flatten()
            .filter_map(|id| people.users.get(&id))
            .filter_map(|u| u.email.clone().or_else(|| u.name.clone()))
            .fold(Vec::new(), |mut acc, o| {
                if !acc.contains(&o) {
                    acc.push(o);
                }
                acc
            });
        Self { map, owners }
    }
}

/// A document's metadata: the `shared` fields (a copy, or the map itself for the last
/// document) with its `own` added. Every key appears once.
fn document_metadata(mut shared: Metadata, own: Vec<(MetaKey, Value)>) -> Metadata {
    shared.extend(own);
    shared
}

/// A document's own fields: its comment count, the merges its comments tell, and, for the
/// internal notes (`agents`), that it is theirs, the ticket's tags and group, which Zendesk
/// shows agents only (the public document is read by end users).
fn own_fields(
    ticket: &Ticket,
    comment_count: usize,
    agents: bool,
    merged: &Merges,
) -> Vec<(MetaKey, Value)> {
    let mut own: Vec<(MetaKey, Value)> = Vec::with_capacity(7);
    own.push(("comment_count".into(), comment_count.into()));
    if let Some(into) = merged.into {
        own.push(("merged_into".into(), into.into()));
        own.push(("merged_into_id".into(), ticket_id(into).into()));
    }
    if !merged.from.is_empty() {
        own.push(("merged_from".into(), merged.from.clone().into()));
    }
    if agents {
        own.push(("internal".into(), true.into()));
        own.push(("tags".into(), ticket.tags.clone().into()));
        if let Some(g) = ticket.group_id {
            own.push(("group_id".into(), g.into()));
        }
    }
    own
}

/// The documents of `ticket`: its public conversation, readable by its requester, the people
/// copied, its organization (when shared) and the agents who may read the ticket; and, when
/// `internal`, its internal notes (or that it has none) in a document of their own, readable
/// by those agents only, which alone carries what Zendesk shows agents only (tags, group).
pub(crate) fn ticket_documents(
    links: Option<&Url>,
    ticket: &Ticket,
    comments: &[Comment],
    people: &People,
    access: TicketAccess,
    version: &str,
    internal: bool,
) -> Vec<Document> {
    let public: Vec<&Comment> = comments.iter().filter(|c| c.public).collect();
    let notes: Vec<&Comment> = comments.iter().filter(|c| !c.public).collect();
    let title = ticket_title(ticket);

    // A merge comment is private unless the agent made it public: the public document
    // tells only the merges its own comments tell.
    let public_merges = merges(ticket, &public);
    let all: Vec<&Comment> = comments.iter().collect();
    let all_merges = merges(ticket, &all);
    let facts = HeaderFacts::of(ticket, people);
    let mut shared = SharedFields::of(ticket, people);
    let mut text = String::with_capacity(size_hint(&public));
    let mut md = MarkdownOut::new(&mut text);
    ticket_header(&mut md, ticket, &facts, &title, false, &public_merges);
    if !public.is_empty() {
        md.heading(2, "Comments");
        comment_blocks(&public, people, &mut md);
    }
    let mut doc =
        Document::text_with_version(ticket_id(ticket.id), SOURCE, title.clone(), text, version)
            .with_updated_at(ticket.updated_at);
    // The internal notes' document, when there is one, takes the shared map itself.
    let public_fields = if internal {
        shared.map.clone()
    } else {
        std::mem::take(&mut shared.map)
    };
    doc.metadata = document_metadata(
        public_fields,
        own_fields(ticket, public.len(), false, &public_merges),
    );
    if !shared.owners.is_empty() {
        doc = doc.with_owners(shared.owners.clone());
    }
    let link = links.and_then(|prefix| ticket_link(prefix, ticket.id));
    if let Some(url) = &link {
        doc = doc.with_link(url.clone());
    }
    let mut out = vec![doc.with_access(access.public)];

    if internal {
        let title = [title.as_str(), " (internal notes)"].concat();
        let mut text = String::with_capacity(size_hint(&notes));
        let mut md = MarkdownOut::new(&mut text);
        ticket_header(&mut md, ticket, &facts, &title, true, &all_merges);
        md.heading(2, "Internal notes");
        if notes.is_empty() {
            md.block(&Block::paragraph(vec![Inline::emphasis(vec![
                Inline::text("No internal notes."),
            ])]));
        }
        comment_blocks(&notes, people, &mut md);
        let mut doc = Document::text_with_version(
            internal_id(ticket.id),
            SOURCE,
            title,
            text,
            &[version, "|internal"].concat(),
        )
        .with_parent_id(ticket_id(ticket.id))
        .with_updated_at(ticket.updated_at);
        let SharedFields { map, owners } = shared;
        doc.metadata = document_metadata(map, own_fields(ticket, notes.len(), true, &all_merges));
        if !owners.is_empty() {
            doc = doc.with_owners(owners);
        }
        if let Some(url) = link {
            doc = doc.with_link(url);
        }
        out.push(doc.with_access(access.agents));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(v: serde_json::Value) -> Ticket {
        serde_json::from_value(v).unwrap()
    }

    fn people() -> People {
        let mut p = People::default();
        p.add_users([
            serde_json::from_value(serde_json::json!({"id": 2, "email": "Carl@Customer.test"}))
                .unwrap(),
            serde_json::from_value(serde_json::json!({"id": 3, "email": "rob@example.com"}))
                .unwrap(),
        ]);
        p
    }

    /// Every field of both documents of a ticket with merges, tags, a group, people copied, a
    /// shared organization, HTML, plain and internal comments, serialised and hashed: held
    /// to what the documents were before their shared metadata was worked out once for both
    /// and their link written from a prefix joined once (a changed document would be
    /// delivered again).
    #[test]
    fn ticket_documents_are_pinned() {
        let base = Url::parse("https://acme.zendesk.com/hc/").unwrap();
        let t = ticket(serde_json::json!({
            "id": 42, "subject": "Printer *on* fire", "status": "closed", "priority": "high",
            "type": "incident", "tags": ["printer", "closed_by_merge"], "requester_id": 2,
            "submitter_id": 2, "assignee_id": 3, "organization_id": 900, "group_id": 55,
            "email_cc_ids": [3], "collaborator_ids": [4],
            "created_at": "2025-03-01T10:00:00Z", "updated_at": "2025-03-02T11:30:00Z"
        }));
        let mut people = people();
        people.add_users([serde_json::from_value(
            serde_json::json!({"id": 4, "name": "Dee [ops]", "email": "dee@example.com"}),
        )
        .unwrap()]);
        people.add_orgs([serde_json::from_value(
            serde_json::json!({"id": 900, "name": "Customer_Inc", "shared_tickets": true}),
        )
        .unwrap()]);
        let comments: Vec<Comment> = serde_json::from_value(serde_json::json!([
            {"author_id": 2, "public": true, "created_at": "2025-03-01T10:00:00Z",
             "html_body": "<p>The printer is on <b>fire</b> &amp; <a href=\"https://x.test/a\">smoking</a>.</p><ul><li>one</li><li>two</li></ul>"},
            {"author_id": 3, "public": false, "created_at": "2025-03-01T10:05:00Z",
             "body": "Legacy plan.\n\n1. check\n- note"},
            {"author_id": 3, "public": false, "created_at": "2025-03-02T11:00:00Z",
             "body": "Closed and merged into request #77.",
             "via": {"source": {"rel": "merge", "to": {"ticket_id": 77}, "from": {"ticket_id": 41}}}},
            {"author_id": 9, "public": true, "body": "  plain *text* only  "}
        ]))
        .unwrap();
        let access = ticket_access(&t, &people);
        let version = ticket_version(&t, &access);
        let links = ticket_links(&base);
        let docs = ticket_documents(
            links.as_ref(),
            &t,
            &comments,
            &people,
            access,
            &version,
            true,
        );
        assert_eq!(docs.len(), 2);
        let json = serde_json::to_string(&docs).unwrap();
        assert_eq!(
            connector_core::ids::hash128(&json),
            "9947fe60715e634ba1b345e65a707de5",
            "{json}"
        );
        let docs = ticket_documents(
            ticket_links(&Url::parse("http://127.0.0.1:8080").unwrap()).as_ref(),
            &t,
            &comments[..1],
            &people,
            ticket_access(&t, &people),
            &version,
            false,
        );
        let json = serde_json::to_string(&docs).unwrap();
        assert_eq!(
            connector_core::ids::hash128(&json),
            "038ff88e45d570fe6551fd52df8ab365",
            "{json}"
        );
    }

    #[test]
    fn a_ticket_link_is_the_id_joined_to_the_base() {
        for base in [
            "https://acme.zendesk.com/",
            "https://acme.zendesk.com",
            "https://help.acme.test/support/",
            "https://help.acme.test/support",
            "https://help.acme.test/a/b/?q=1#top",
            "http://127.0.0.1:8080",
        ] {
            let base = Url::parse(base).unwrap();
            let prefix = ticket_links(&base).unwrap();
            for id in [0, 7, 42, u64::MAX] {
                assert_eq!(
                    ticket_link(&prefix, id),
                    base.join(&format!("agent/tickets/{id}")).ok(),
                    "{base} {id}"
                );
            }
        }
    }

    #[test]
    fn day_is_chronos_format_without_the_format_string() {
        for t in [
            "2025-03-01T10:05:00Z",
            "1999-12-31T23:59:59Z",
            "2024-02-29T00:00:30Z",
        ] {
            let t: DateTime<Utc> = t.parse().unwrap();
            assert_eq!(utc_minute(t), t.format("%Y-%m-%d %H:%M UTC").to_string());
        }
    }

    #[test]
    fn the_version_follows_the_agents_even_when_the_public_audience_stays() {
        // Rob is copied and assigned; unassigned, he still reads the public conversation but
        // no longer the internal notes: same public access, other agents' access.
        let assigned = ticket(serde_json::json!({
            "id": 7, "status": "open", "requester_id": 2, "assignee_id": 3, "group_id": 55,
            "email_cc_ids": [3], "updated_at": "2025-03-01T10:00:00Z"
        }));
        let mut unassigned = assigned.clone();
        unassigned.assignee_id = None;
        let (a, u) = (
            ticket_access(&assigned, &people()),
            ticket_access(&unassigned, &people()),
        );
        assert_eq!(a.public, u.public);
        assert_eq!(a.agents.emails, ["rob@example.com"]);
        assert!(u.agents.emails.is_empty());
        assert_ne!(
            ticket_version(&assigned, &a),
            ticket_version(&unassigned, &u)
        );
        assert_eq!(
            a.public.emails,
            ["carl@customer.test", "rob@example.com"],
            "e-mails lower-cased"
        );
        assert_eq!(a.agents.groups, [AGENTS_ALL_TICKETS, "zendesk-group:55"]);
    }
}
