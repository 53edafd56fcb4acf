//! A wiremock Zendesk written from the Support and Help Center API references
//! (developer.zendesk.com/api-reference): HTTP Basic `{email}/token:{token}`;
//! `help_center[/{locale}]/articles` with cursor paging (`page[size]`, `page[after]`,
//! `meta.has_more`, `meta.after_cursor`, `links.next`), `sort_by=updated_at`; the incremental
//! article export (`help_center/incremental/articles?start_time=`, up to 1,000 a page,
//! `end_time`, `next_page`, `count`); sections, categories, user segments; `users/show_many`,
//! `users/me`; the incremental cursor ticket export (`incremental/tickets/cursor.json`,
//! `start_time` then `cursor`, `after_cursor`, `after_url`, `end_of_stream`, sideloaded
//! `users` and `organizations`); `tickets/show_many`; `tickets/{id}/comments` with cursor
//! paging and sideloaded users (with their `attachments`); `help_center/articles/{id}/attachments`
//! (`article_attachments`); `help_center/user_segments` (with `updated_at`); `brands`
//! (`brand_url`, `has_help_center`, `help_center_state`); translations (one article id in
//! several locales); error bodies `{"error": "RecordNotFound", "description": …}` and
//! `{"error": {"title": …, "message": …}}`.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use connector_core::{Connector, Registry};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub(crate) const SUBDOMAIN: &str = "acme";
pub(crate) const EMAIL: &str = "jane@example.com";
pub(crate) const TOKEN: &str = "6wiIBWbGkBMo1mRDMuVwkw1EPsNkeUj95PIz2akv";

/// 2025-03-01 10:{minute}:00 UTC.
pub(crate) fn time(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap() + chrono::Duration::minutes(minute.into())
}

fn zd_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Clone, Debug)]
pub(crate) struct User {
    pub(crate) id: u64,
    pub(crate) name: &'static str,
    pub(crate) email: &'static str,
    pub(crate) role: &'static str,
    /// `updated_at` as minutes past 10:00 (2024-01-01 when none).
    pub(crate) minute: Option<u32>,
}

pub(crate) fn users() -> Vec<User> {
    vec![
        User {
            id: 1,
            name: "Jane Agent",
            email: "jane@example.com",
            role: "admin",
            minute: None,
        },
        User {
            id: 2,
            name: "Carl Customer",
            email: "carl@customer.test",
            role: "end-user",
            minute: None,
        },
        User {
            id: 3,
            name: "Rob Agent",
            email: "rob@example.com",
            role: "agent",
            minute: None,
        },
        User {
            id: 4,
            name: "Cora Copied",
            email: "cora@customer.test",
            role: "end-user",
            minute: None,
        },
        User {
            id: 5,
            name: "Ada Agent",
            email: "Ada@Example.com",
            role: "agent",
            minute: None,
        },
    ]
}

#[derive(Clone, Debug)]
pub(crate) struct Article {
    pub(crate) id: u64,
    pub(crate) title: String,
    pub(crate) body: String,
    pub(crate) minute: u32,
    pub(crate) section_id: u64,
    pub(crate) draft: bool,
    pub(crate) labels: Vec<&'static str>,
    pub(crate) segment: Option<u64>,
    pub(crate) locale: &'static str,
    pub(crate) malformed: bool,
}

impl Article {
    pub(crate) fn new(id: u64, title: &str, minute: u32) -> Self {
        Self {
            id,
            title: title.to_owned(),
            body: format!(
                "<h2>{title}</h2><p>Open <strong>Settings</strong> and choose <a href=\"https://acme.zendesk.com/hc\">Billing</a>.</p><ul><li>one</li><li>two</li></ul>"
            ),
            minute,
            section_id: 100,
            draft: false,
            labels: Vec::new(),
            segment: None,
            locale: "en-us",
            malformed: false,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Comment {
    pub(crate) id: u64,
    pub(crate) author: u64,
    pub(crate) html: String,
    pub(crate) public: bool,
    pub(crate) minute: u32,
    /// The comment's `via` (`{"channel": "web"}` when none).
    pub(crate) via: Option<Value>,
    /// Its `attachments` (Zendesk's attachment objects).
    pub(crate) attachments: Vec<Value>,
}

impl Comment {
    pub(crate) fn new(id: u64, author: u64, text: &str, public: bool, minute: u32) -> Self {
        Self {
            id,
            author,
            html: format!("<div class=\"zd-comment\"><p>{text}</p></div>"),
            public,
            minute,
            via: None,
            attachments: Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Ticket {
    pub(crate) id: u64,
    pub(crate) subject: String,
    pub(crate) status: &'static str,
    /// `updated_at` as minutes past 10:00.
    pub(crate) minute: u32,
    /// `generated_timestamp` (what the export orders and selects by) as minutes past 10:00,
    /// when a system update (deletion, archiving) moved it past `updated_at`.
    pub(crate) generated: Option<u32>,
    pub(crate) requester: u64,
    pub(crate) org: Option<u64>,
    pub(crate) ccs: Vec<u64>,
    /// The group (`group_id`) and the assignee (`assignee_id`).
    pub(crate) group: Option<u64>,
    pub(crate) assignee: Option<u64>,
    pub(crate) comments: Vec<Comment>,
    pub(crate) malformed: bool,
    /// Tags besides `printer` and `fire`.
    pub(crate) tags: Vec<&'static str>,
    /// Archived (closed over 120 days ago): the export and the search list it, the ticket
    /// lists do not.
    pub(crate) archived: bool,
}

impl Ticket {
    pub(crate) fn new(id: u64, subject: &str, status: &'static str, minute: u32) -> Self {
        Self {
            id,
            subject: subject.to_owned(),
            status,
            minute,
            generated: None,
            requester: 2,
            org: Some(900),
            ccs: Vec::new(),
            group: Some(55),
            assignee: Some(3),
            comments: vec![Comment::new(
                id * 100,
                2,
                &format!("{subject}: it does not work."),
                true,
                minute,
            )],
            malformed: false,
            tags: Vec::new(),
            archived: false,
        }
    }

    fn updated(&self) -> DateTime<Utc> {
        time(self.minute)
    }

    fn generated(&self) -> DateTime<Utc> {
        time(self.generated.unwrap_or(self.minute))
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) articles: Vec<Article>,
    pub(crate) tickets: Vec<Ticket>,
    /// Articles per list page at most (whatever `page[size]` asks above it).
    pub(crate) article_page: usize,
    /// Tickets per export page at most.
    pub(crate) ticket_page: usize,
    /// Comments per page at most.
    pub(crate) comment_page: usize,
    /// User segments answer 403 (the agent is no Help Center manager).
    pub(crate) segments_forbidden: bool,
    /// The Help Center is off: its endpoints answer 404.
    pub(crate) no_help_center: bool,
    /// `users/me` answers as this role.
    pub(crate) me_role: &'static str,
    /// When the second page of a listing (article list or ticket export) is asked for, this
    /// item (already listed on the first) is edited: its `updated_at` moves to `minute`.
    pub(crate) edit_on_page_two: Option<(u64, u32)>,
    /// The ticket export sideloads requesters and assignees only, not the people copied.
    pub(crate) ccs_not_sideloaded: bool,
    /// Organization 900 shares its tickets (`shared_tickets`).
    pub(crate) org_shared: bool,
    /// Organization 900's `updated_at`, minutes past 10:00 (before 10:00 when none).
    pub(crate) org_minute: Option<u32>,
    /// User segment 300 (signed-in users) narrowed to the tag `vip` at this minute.
    pub(crate) segment_300_narrowed: Option<u32>,
    /// Translations: rows of an article (same id) in another locale, listed by that
    /// locale's list, the export, and `help_center/{locale}/articles/{id}`.
    pub(crate) translations: Vec<Article>,
    /// `GET /api/v2/brands`: these brands (one page).
    pub(crate) brands: Vec<Value>,
    /// `GET /api/v2/help_center/articles/{id}/attachments`: each article's attachments.
    pub(crate) article_files: HashMap<u64, Vec<Value>>,
    /// A user's e-mail changed at a minute: `(id, new e-mail, minute)`.
    pub(crate) user_changes: Vec<(u64, &'static str, u32)>,
}

/// The fixture's account; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct ZendeskApi {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) base: Arc<Mutex<String>>,
}

pub(crate) fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404)
        .set_body_json(json!({"error": "RecordNotFound", "description": "Not found"}))
}

pub(crate) fn forbidden() -> ResponseTemplate {
    ResponseTemplate::new(403).set_body_json(
        json!({"error": {"title": "Forbidden", "message": "You do not have access to this page. Please contact the account owner of this help desk for further help."}}),
    )
}

pub(crate) fn unauthorized() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(json!({"error": "Couldn't authenticate you"}))
}

fn query(req: &Request) -> HashMap<String, String> {
    req.url.query_pairs().into_owned().collect()
}

/// A position in a listing sorted by `(updated_at, id)`, as an opaque cursor.
fn cursor(t: i64, id: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{t}.0||{id}|"))
}

fn uncursor(c: &str) -> Option<(i64, u64)> {
    let raw = base64::engine::general_purpose::STANDARD.decode(c).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (t, rest) = s.split_once(".0||")?;
    Some((t.parse().ok()?, rest.trim_end_matches('|').parse().ok()?))
}

impl ZendeskApi {
    pub(crate) fn new(articles: Vec<Article>, tickets: Vec<Ticket>) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                articles,
                tickets,
                article_page: 100,
                ticket_page: 1000,
                comment_page: 100,
                me_role: "admin",
                org_shared: true,
                ..State::default()
            })),
            base: Arc::default(),
        }
    }

    fn base(&self) -> String {
        self.base.lock().unwrap().clone()
    }

    /// The account's users, with the e-mail changes made so far.
    fn people(st: &State) -> Vec<User> {
        let mut out = users();
        for u in &mut out {
            for (id, email, minute) in &st.user_changes {
                if *id == u.id {
                    u.email = email;
                    u.minute = Some(*minute);
                }
            }
        }
        out
    }

    fn user_json(u: &User) -> Value {
        let updated = u
            .minute
            .map_or_else(|| "2024-01-01T00:00:00Z".to_owned(), |m| zd_time(time(m)));
        json!({
            "id": u.id, "url": format!("https://acme.zendesk.com/api/v2/users/{}.json", u.id),
            "name": u.name, "email": u.email, "role": u.role, "active": true, "verified": true,
            "locale": "en-US", "time_zone": "Copenhagen", "organization_id": if u.role == "end-user" { json!(900) } else { Value::Null },
            "created_at": "2024-01-01T00:00:00Z", "updated_at": updated
        })
    }

    fn orgs_json(st: &State) -> Value {
        let updated = st
            .org_minute
            .map_or_else(|| "2024-01-01T00:00:00Z".to_owned(), |m| zd_time(time(m)));
        json!([{"id": 900, "url": "https://acme.zendesk.com/api/v2/organizations/900.json", "name": "Customer Inc", "shared_tickets": st.org_shared, "shared_comments": false, "domain_names": ["customer.test"], "created_at": "2024-01-01T00:00:00Z", "updated_at": updated}])
    }

    /// The people a page of tickets sideloads: requesters, assignees and (unless
    /// `ccs_not_sideloaded`) the people copied.
    fn ticket_people(st: &State, page: &[&Ticket]) -> Value {
        let mut people: Vec<u64> = page
            .iter()
            .flat_map(|t| {
                let ccs = if st.ccs_not_sideloaded {
                    &[][..]
                } else {
                    &t.ccs[..]
                };
                [t.requester]
                    .into_iter()
                    .chain(t.assignee)
                    .chain(ccs.iter().copied())
            })
            .collect();
        people.sort_unstable();
        people.dedup();
        json!(
            Self::people(st)
                .iter()
                .filter(|u| people.contains(&u.id))
                .map(Self::user_json)
                .collect::<Vec<_>>()
        )
    }

    /// `GET /api/v2/incremental/organizations?start_time=T`: organizations changed since T.
    fn organization_export(&self, req: &Request) -> ResponseTemplate {
        let q = query(req);
        let Some(start) = q.get("start_time").and_then(|s| s.parse::<i64>().ok()) else {
            return ResponseTemplate::new(400).set_body_json(json!({"error": "InvalidPaginationParameter", "description": "start_time is required"}));
        };
        let st = self.state.lock().unwrap();
        let updated = st.org_minute.map_or(0, |m| time(m).timestamp());
        let orgs: Vec<Value> = if updated >= start {
            Self::orgs_json(&st).as_array().cloned().unwrap_or_default()
        } else {
            Vec::new()
        };
        let end_time = if orgs.is_empty() { start } else { updated };
        ResponseTemplate::new(200).set_body_json(json!({
            "organizations": orgs,
            "count": orgs.len(),
            "end_time": end_time,
            "end_of_stream": true,
            "next_page": format!("{}/api/v2/incremental/organizations.json?start_time={end_time}", self.base()),
        }))
    }

    /// `GET /api/v2/organizations/{id}/tickets` with cursor paging and sideloads; archived
    /// and deleted tickets are not listed.
    fn organization_tickets(&self, req: &Request, org: u64) -> ResponseTemplate {
        let q = query(req);
        let st = self.state.lock().unwrap();
        let size = q
            .get("page[size]")
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(100)
            .min(st.ticket_page);
        let after: u64 = q
            .get("page[after]")
            .and_then(|c| uncursor(c))
            .map_or(0, |(_, id)| id);
        let rest: Vec<&Ticket> = st
            .tickets
            .iter()
            .filter(|t| t.org == Some(org) && t.status != "deleted" && !t.archived && t.id > after)
            .collect();
        let page: Vec<&Ticket> = rest.iter().take(size).copied().collect();
        let has_more = rest.len() > size;
        let last = page.last().map(|t| cursor(0, t.id));
        let next = if has_more {
            let mut url = url::Url::parse(&format!("{}{}", self.base(), req.url.path())).unwrap();
            url.query_pairs_mut()
                .append_pair("page[after]", last.as_deref().unwrap_or_default())
                .append_pair("page[size]", &size.to_string())
                .append_pair("include", "users,organizations");
            json!(url.as_str())
        } else {
            Value::Null
        };
        let include = q.get("include").cloned().unwrap_or_default();
        let mut body = json!({
            "tickets": page.iter().map(|t| Self::ticket_json(t)).collect::<Vec<_>>(),
            "meta": {"has_more": has_more, "after_cursor": last, "before_cursor": null},
            "links": {"next": next, "prev": null},
        });
        if include.contains("users") {
            body["users"] = Self::ticket_people(&st, &page);
        }
        if include.contains("organizations") {
            body["organizations"] = Self::orgs_json(&st);
        }
        ResponseTemplate::new(200).set_body_json(body)
    }

    /// `GET /api/v2/incremental/users?start_time=T`: users changed since T.
    fn user_export(&self, req: &Request) -> ResponseTemplate {
        let q = query(req);
        let Some(start) = q.get("start_time").and_then(|s| s.parse::<i64>().ok()) else {
            return ResponseTemplate::new(400).set_body_json(json!({"error": "InvalidPaginationParameter", "description": "start_time is required"}));
        };
        let st = self.state.lock().unwrap();
        let changed: Vec<User> = Self::people(&st)
            .into_iter()
            .filter(|u| u.minute.is_some_and(|m| time(m).timestamp() >= start))
            .collect();
        let end_time = changed
            .iter()
            .filter_map(|u| u.minute)
            .map(|m| time(m).timestamp())
            .max()
            .unwrap_or(start);
        ResponseTemplate::new(200).set_body_json(json!({
            "users": changed.iter().map(Self::user_json).collect::<Vec<_>>(),
            "count": changed.len(),
            "end_time": end_time,
            "end_of_stream": true,
            "next_page": format!("{}/api/v2/incremental/users.json?start_time={end_time}", self.base()),
        }))
    }

    /// `GET /api/v2/search/export?query=type:ticket …&filter[type]=ticket`: tickets (archived
    /// ones too, deleted ones not) matching `organization:`, `status:`, `requester:`, `cc:`
    /// and `assignee:` terms (ids), in `results`, one page, nothing sideloaded.
    fn search_export(&self, req: &Request) -> ResponseTemplate {
        let q = query(req);
        if q.get("filter[type]").map(String::as_str) != Some("ticket") {
            return ResponseTemplate::new(400).set_body_json(json!({"error": {"title": "Invalid attribute", "message": "filter[type] is required"}}));
        }
        let terms = q.get("query").cloned().unwrap_or_default();
        let st = self.state.lock().unwrap();
        let results: Vec<Value> = st
            .tickets
            .iter()
            .filter(|t| t.status != "deleted")
            .filter(|t| {
                terms.split_whitespace().all(|term| {
                    let (key, value) = term.split_once(':').unwrap_or((term, ""));
                    let id = value.parse::<u64>().ok();
                    match key {
                        "type" => value == "ticket",
                        "organization" => t.org.is_some() && t.org == id,
                        "status" => t.status == value,
                        "requester" => Some(t.requester) == id,
                        "cc" => id.is_some_and(|id| t.ccs.contains(&id)),
                        "assignee" => t.assignee.is_some() && t.assignee == id,
                        _ => false,
                    }
                })
            })
            .map(|t| {
                let mut v = Self::ticket_json(t);
                v["result_type"] = json!("ticket");
                v
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "results": results,
            "facets": null,
            "meta": {"has_more": false, "after_cursor": null, "before_cursor": null},
            "links": {"next": null, "prev": null},
        }))
    }

    fn article_json(&self, a: &Article) -> Value {
        if a.malformed {
            return json!({"id": a.id, "title": a.title, "updated_at": "yesterday", "body": a.body});
        }
        json!({
            "id": a.id,
            "url": format!("https://acme.zendesk.com/api/v2/help_center/{}/articles/{}.json", a.locale, a.id),
            "html_url": format!("https://acme.zendesk.com/hc/{}/articles/{}-{}", a.locale, a.id, a.title.to_lowercase().replace(' ', "-")),
            "author_id": 1, "comments_disabled": false, "draft": a.draft, "promoted": false,
            "position": 0, "vote_sum": 3, "vote_count": 5, "section_id": a.section_id,
            "created_at": zd_time(time(0)), "updated_at": zd_time(time(a.minute)), "edited_at": zd_time(time(a.minute)),
            "name": a.title, "title": a.title, "source_locale": "en-us", "locale": a.locale,
            "outdated": false, "outdated_locales": [], "permission_group_id": 7,
            "content_tag_ids": [], "label_names": a.labels,
            "user_segment_id": a.segment, "user_segment_ids": a.segment.map_or(json!([]), |s| json!([s])),
            "body": a.body
        })
    }

    fn ticket_json(t: &Ticket) -> Value {
        if t.malformed {
            return json!({"id": t.id, "subject": t.subject, "status": t.status, "updated_at": "soon"});
        }
        json!({
            "id": t.id, "url": format!("https://acme.zendesk.com/api/v2/tickets/{}.json", t.id),
            "external_id": null, "type": "incident", "subject": t.subject, "raw_subject": t.subject,
            "description": t.comments.first().map(|c| c.html.clone()).unwrap_or_default(),
            "priority": "high", "status": t.status, "recipient": "support@acme.zendesk.com",
            "requester_id": t.requester, "submitter_id": t.requester, "assignee_id": t.assignee,
            "organization_id": t.org, "group_id": t.group, "collaborator_ids": t.ccs, "follower_ids": [],
            "email_cc_ids": t.ccs, "has_incidents": false, "is_public": t.comments.iter().any(|c| c.public), "tags": (["printer", "fire"].into_iter().chain(t.tags.iter().copied()).collect::<Vec<_>>()),
            "via": {"channel": "email"}, "custom_fields": [], "brand_id": 1,
            "created_at": zd_time(time(0)), "updated_at": zd_time(t.updated()),
            "generated_timestamp": t.generated().timestamp()
        })
    }

    fn comment_json(c: &Comment) -> Value {
        json!({
            "id": c.id, "type": "Comment", "author_id": c.author,
            "body": c.html.replace("<div class=\"zd-comment\"><p>", "").replace("</p></div>", ""),
            "html_body": c.html,
            "plain_body": c.html.replace("<div class=\"zd-comment\"><p>", "").replace("</p></div>", ""),
            "public": c.public, "attachments": c.attachments, "audit_id": c.id + 1,
            "via": c.via.clone().unwrap_or_else(|| json!({"channel": "web"})), "created_at": zd_time(time(c.minute)), "metadata": {}
        })
    }

    /// Applies the page-two edit, once.
    fn maybe_edit(&self, page_two: bool) {
        if !page_two {
            return;
        }
        let mut st = self.state.lock().unwrap();
        if let Some((id, minute)) = st.edit_on_page_two.take() {
            for a in st.articles.iter_mut().filter(|a| a.id == id) {
                a.minute = minute;
                a.title = format!("{} (edited)", a.title);
            }
            for t in st.tickets.iter_mut().filter(|t| t.id == id) {
                t.minute = minute;
                t.subject = format!("{} (edited)", t.subject);
            }
        }
    }

    fn articles(&self, req: &Request, locale: Option<&str>) -> ResponseTemplate {
        let q = query(req);
        let after = q.get("page[after]").and_then(|c| uncursor(c));
        self.maybe_edit(after.is_some());
        let st = self.state.lock().unwrap();
        let size = q
            .get("page[size]")
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(30)
            .min(st.article_page);
        let mut list: Vec<&Article> = st
            .articles
            .iter()
            .chain(st.translations.iter())
            .filter(|a| {
                locale.map_or(!st.translations.iter().any(|t| std::ptr::eq(t, *a)), |l| {
                    l == a.locale
                })
            })
            .collect();
        list.sort_by_key(|a| (time(a.minute).timestamp(), a.id));
        let rest: Vec<&Article> = list
            .into_iter()
            .filter(|a| after.is_none_or(|p| (time(a.minute).timestamp(), a.id) > p))
            .collect();
        let page: Vec<&Article> = rest.iter().take(size).copied().collect();
        let has_more = rest.len() > size;
        let last = page
            .last()
            .map(|a| cursor(time(a.minute).timestamp(), a.id));
        let mut next = Value::Null;
        if has_more && let Some(c) = &last {
            let mut url = url::Url::parse(&format!("{}{}", self.base(), req.url.path())).unwrap();
            url.query_pairs_mut()
                .append_pair("page[after]", c)
                .append_pair("page[size]", &size.to_string())
                .append_pair("sort_by", "updated_at")
                .append_pair("sort_order", "asc");
            next = json!(url.as_str());
        }
        let body = json!({
            "articles": page.iter().map(|a| self.article_json(a)).collect::<Vec<_>>(),
            "meta": {"has_more": has_more, "after_cursor": last, "before_cursor": page.first().map(|a| cursor(time(a.minute).timestamp(), a.id))},
            "links": {"first": null, "last": null, "next": next, "prev": null}
        });
        ResponseTemplate::new(200).set_body_json(body)
    }

    fn article_export(&self, req: &Request) -> ResponseTemplate {
        let q = query(req);
        let Some(start) = q.get("start_time").and_then(|s| s.parse::<i64>().ok()) else {
            return ResponseTemplate::new(400).set_body_json(json!({"error": "InvalidPaginationParameter", "description": "start_time is required"}));
        };
        let st = self.state.lock().unwrap();
        let mut list: Vec<&Article> = st
            .articles
            .iter()
            .chain(st.translations.iter())
            .filter(|a| time(a.minute).timestamp() >= start)
            .collect();
        list.sort_by_key(|a| (time(a.minute).timestamp(), a.id));
        let page: Vec<&Article> = list.iter().take(1000).copied().collect();
        let end_time = page.last().map_or(start, |a| time(a.minute).timestamp());
        let body = json!({
            "articles": page.iter().map(|a| self.article_json(a)).collect::<Vec<_>>(),
            "count": page.len(),
            "end_time": end_time,
            "next_page": format!("{}/api/v2/help_center/incremental/articles.json?start_time={end_time}", self.base()),
        });
        ResponseTemplate::new(200).set_body_json(body)
    }

    fn ticket_export(&self, req: &Request) -> ResponseTemplate {
        let q = query(req);
        let from = match (q.get("cursor"), q.get("start_time")) {
            (Some(c), _) => match uncursor(c) {
                Some(p) => Some(p),
                None => return ResponseTemplate::new(400).set_body_json(json!({"error": "InvalidPaginationParameter", "description": "cursor is invalid"})),
            },
            (None, Some(s)) => s.parse::<i64>().ok().map(|t| (t, 0)),
            (None, None) => None,
        };
        let Some((t0, id0)) = from else {
            return ResponseTemplate::new(400).set_body_json(json!({"error": "InvalidPaginationParameter", "description": "start_time or cursor is required"}));
        };
        self.maybe_edit(q.contains_key("cursor"));
        let st = self.state.lock().unwrap();
        let per_page = q
            .get("per_page")
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(1000)
            .min(st.ticket_page);
        let mut list: Vec<&Ticket> = st
            .tickets
            .iter()
            .filter(|t| {
                let k = (t.generated().timestamp(), t.id);
                if q.contains_key("cursor") {
                    k > (t0, id0)
                } else {
                    k.0 >= t0
                }
            })
            .collect();
        list.sort_by_key(|t| (t.generated().timestamp(), t.id));
        let page: Vec<&Ticket> = list.iter().take(per_page).copied().collect();
        let end_of_stream = list.len() <= per_page;
        let after = page
            .last()
            .map(|t| cursor(t.generated().timestamp(), t.id))
            .unwrap_or_else(|| cursor(t0, id0));
        let include = q.get("include").cloned().unwrap_or_default();
        let mut body = json!({
            "tickets": page.iter().map(|t| Self::ticket_json(t)).collect::<Vec<_>>(),
            "after_cursor": after,
            "after_url": format!("{}/api/v2/incremental/tickets/cursor.json?cursor={after}", self.base()),
            "before_cursor": null, "before_url": null,
            "end_of_stream": end_of_stream,
        });
        if include.contains("users") {
            body["users"] = Self::ticket_people(&st, &page);
        }
        if include.contains("organizations") {
            body["organizations"] = Self::orgs_json(&st);
        }
        ResponseTemplate::new(200).set_body_json(body)
    }

    fn comments(&self, req: &Request, id: u64) -> ResponseTemplate {
        let q = query(req);
        let st = self.state.lock().unwrap();
        let Some(t) = st
            .tickets
            .iter()
            .find(|t| t.id == id && t.status != "deleted")
        else {
            return not_found();
        };
        let size = q
            .get("page[size]")
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(100)
            .min(st.comment_page);
        let after: u64 = q
            .get("page[after]")
            .and_then(|c| uncursor(c))
            .map_or(0, |(_, id)| id);
        let rest: Vec<&Comment> = t.comments.iter().filter(|c| c.id > after).collect();
        let page: Vec<&Comment> = rest.iter().take(size).copied().collect();
        let has_more = rest.len() > size;
        let last = page.last().map(|c| cursor(0, c.id));
        let next = if has_more {
            let mut url = url::Url::parse(&format!("{}{}", self.base(), req.url.path())).unwrap();
            url.query_pairs_mut()
                .append_pair("page[after]", last.as_deref().unwrap_or_default())
                .append_pair("page[size]", &size.to_string())
                .append_pair("include", "users");
            json!(url.as_str())
        } else {
            Value::Null
        };
        let authors: Vec<u64> = page.iter().map(|c| c.author).collect();
        let body = json!({
            "comments": page.iter().map(|c| Self::comment_json(c)).collect::<Vec<_>>(),
            "meta": {"has_more": has_more, "after_cursor": last, "before_cursor": null},
            "links": {"next": next, "prev": null},
            "users": Self::people(&st).iter().filter(|u| authors.contains(&u.id)).map(Self::user_json).collect::<Vec<_>>(),
        });
        ResponseTemplate::new(200).set_body_json(body)
    }

    fn sections(what: &str) -> ResponseTemplate {
        let items = if what == "sections" {
            json!([
                {"id": 100, "name": "Billing", "category_id": 10, "locale": "en-us", "html_url": "https://acme.zendesk.com/hc/en-us/sections/100-Billing", "position": 0, "outdated": false},
                {"id": 101, "name": "Printers", "category_id": 10, "locale": "en-us", "html_url": "https://acme.zendesk.com/hc/en-us/sections/101-Printers", "position": 1, "outdated": false}
            ])
        } else {
            json!([{"id": 10, "name": "Help", "locale": "en-us", "html_url": "https://acme.zendesk.com/hc/en-us/categories/10-Help", "position": 0, "outdated": false}])
        };
        ResponseTemplate::new(200).set_body_json(json!({
            what: items, "meta": {"has_more": false, "after_cursor": null, "before_cursor": null}, "links": {"next": null, "prev": null}
        }))
    }

    /// `GET /api/v2/help_center/user_segments` (cursor paging, one page here).
    fn segment_list(&self) -> ResponseTemplate {
        let st = self.state.lock().unwrap();
        if st.segments_forbidden {
            return forbidden();
        }
        let list: Vec<Value> = [300, 301, 302]
            .into_iter()
            .filter_map(|id| Self::segment_json(&st, id))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "user_segments": list,
            "meta": {"has_more": false, "after_cursor": null, "before_cursor": null},
            "links": {"next": null, "prev": null},
        }))
    }

    fn segment_json(st: &State, id: u64) -> Option<Value> {
        let created = "2024-01-01T00:00:00Z";
        Some(match id {
            300 => match st.segment_300_narrowed {
                None => {
                    json!({"id": 300, "name": "Signed-in users", "user_type": "signed_in_users", "group_ids": [], "organization_ids": [], "tags": [], "or_tags": [], "added_user_ids": [], "built_in": false, "created_at": created, "updated_at": created})
                }
                Some(m) => {
                    json!({"id": 300, "name": "Signed-in users", "user_type": "signed_in_users", "group_ids": [], "organization_ids": [], "tags": ["vip"], "or_tags": [], "added_user_ids": [], "built_in": false, "created_at": created, "updated_at": zd_time(time(m))})
                }
            },
            301 => {
                json!({"id": 301, "name": "Agents and admins", "user_type": "staff", "group_ids": [], "organization_ids": [], "tags": [], "or_tags": [], "added_user_ids": [], "built_in": true, "created_at": created, "updated_at": created})
            }
            302 => {
                json!({"id": 302, "name": "VIP customers", "user_type": "signed_in_users", "group_ids": [], "organization_ids": [900], "tags": ["vip"], "or_tags": [], "added_user_ids": [], "built_in": false, "created_at": created, "updated_at": created})
            }
            _ => return None,
        })
    }

    fn segment(&self, id: u64) -> ResponseTemplate {
        let st = self.state.lock().unwrap();
        if st.segments_forbidden {
            return forbidden();
        }
        match Self::segment_json(&st, id) {
            Some(seg) => ResponseTemplate::new(200).set_body_json(json!({"user_segment": seg})),
            None => not_found(),
        }
    }
}

impl Respond for ZendeskApi {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{EMAIL}/token:{TOKEN}"))
        );
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if auth != Some(expected.as_str()) {
            return unauthorized();
        }
        let path = req.url.path().trim_end_matches(".json").to_owned();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let hc_off = self.state.lock().unwrap().no_help_center;
        match segments.as_slice() {
            ["api", "v2", "help_center", ..] if hc_off => not_found(),
            ["api", "v2", "help_center", "incremental", "articles"] => self.article_export(req),
            ["api", "v2", "help_center", "user_segments"] => self.segment_list(),
            ["api", "v2", "help_center", "user_segments", id] => id
                .parse()
                .map_or_else(|_| not_found(), |id| self.segment(id)),
            ["api", "v2", "help_center", "articles"] => self.articles(req, None),
            ["api", "v2", "help_center", locale, "articles"]
                if *locale == "en-us" || *locale == "de" =>
            {
                self.articles(req, Some(locale))
            }
            ["api", "v2", "help_center", locale, "articles"] => {
                let _ = locale;
                not_found()
            }
            [
                "api",
                "v2",
                "help_center",
                ..,
                "articles",
                id,
                "attachments",
            ] => {
                let st = self.state.lock().unwrap();
                match id.parse::<u64>().ok().filter(|id| st.articles.iter().any(|a| a.id == *id)) {
                    Some(id) => ResponseTemplate::new(200).set_body_json(json!({
                        "article_attachments": st.article_files.get(&id).cloned().unwrap_or_default(),
                        "next_page": null, "previous_page": null, "count": st.article_files.get(&id).map_or(0, Vec::len),
                    })),
                    None => not_found(),
                }
            }
            ["api", "v2", "help_center", rest @ .., "articles", id] => {
                let st = self.state.lock().unwrap();
                // In a locale: its translation, else the article if it is in that locale.
                let found = match rest {
                    [locale] => st
                        .translations
                        .iter()
                        .chain(st.articles.iter())
                        .find(|a| a.id.to_string() == *id && a.locale == *locale),
                    _ => st.articles.iter().find(|a| a.id.to_string() == *id),
                };
                match found {
                    Some(a) => ResponseTemplate::new(200)
                        .set_body_json(json!({"article": self.article_json(a)})),
                    None => not_found(),
                }
            }
            [
                "api",
                "v2",
                "help_center",
                ..,
                what @ ("sections" | "categories"),
            ] => Self::sections(what),
            ["api", "v2", "brands"] => {
                let brands = self.state.lock().unwrap().brands.clone();
                ResponseTemplate::new(200).set_body_json(json!({
                    "brands": brands,
                    "meta": {"has_more": false, "after_cursor": null, "before_cursor": null},
                    "links": {"next": null, "prev": null},
                }))
            }
            ["api", "v2", "users", "me"] => {
                let role = self.state.lock().unwrap().me_role;
                ResponseTemplate::new(200).set_body_json(
                    json!({"user": {"id": 1, "name": "Jane Agent", "email": EMAIL, "role": role}}),
                )
            }
            ["api", "v2", "users", "show_many"] => {
                let ids: Vec<u64> = query(req)
                    .get("ids")
                    .map(|s| s.split(',').filter_map(|i| i.parse().ok()).collect())
                    .unwrap_or_default();
                let st = self.state.lock().unwrap();
                ResponseTemplate::new(200).set_body_json(json!({
                    "users": Self::people(&st).iter().filter(|u| ids.contains(&u.id)).map(Self::user_json).collect::<Vec<_>>()
                }))
            }
            ["api", "v2", "incremental", "tickets", "cursor"] => self.ticket_export(req),
            ["api", "v2", "incremental", "organizations"] => self.organization_export(req),
            ["api", "v2", "incremental", "users"] => self.user_export(req),
            ["api", "v2", "search", "export"] => self.search_export(req),
            ["api", "v2", "organizations", "show_many"] => {
                let st = self.state.lock().unwrap();
                let ids: Vec<u64> = query(req)
                    .get("ids")
                    .map(|s| s.split(',').filter_map(|i| i.parse().ok()).collect())
                    .unwrap_or_default();
                let orgs: Vec<Value> = Self::orgs_json(&st)
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|o| o["id"].as_u64().is_some_and(|id| ids.contains(&id)))
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({"organizations": orgs}))
            }
            ["api", "v2", "organizations", id, "tickets"] => id
                .parse()
                .map_or_else(|_| not_found(), |id| self.organization_tickets(req, id)),
            ["api", "v2", "tickets", "show_many"] => {
                let ids: Vec<u64> = query(req)
                    .get("ids")
                    .map(|s| s.split(',').filter_map(|i| i.parse().ok()).collect())
                    .unwrap_or_default();
                let st = self.state.lock().unwrap();
                let tickets: Vec<Value> = st
                    .tickets
                    .iter()
                    .filter(|t| ids.contains(&t.id) && t.status != "deleted")
                    .map(Self::ticket_json)
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({
                    "tickets": tickets,
                    "users": Self::people(&st).iter().map(Self::user_json).collect::<Vec<_>>(),
                    "organizations": Self::orgs_json(&st),
                }))
            }
            ["api", "v2", "tickets", id, "comments"] => id
                .parse()
                .map_or_else(|_| not_found(), |id| self.comments(req, id)),
            _ => not_found(),
        }
    }
}

pub(crate) async fn start(api: ZendeskApi) -> MockServer {
    let server = MockServer::start().await;
    *api.base.lock().unwrap() = server.uri();
    Mock::given(method("GET"))
        .and(path_regex("^/api/v2/"))
        .respond_with(api)
        .mount(&server)
        .await;
    server
}

/// Four published articles (minutes 1..=4: one for signed-in users, one for a narrowed
/// segment), a draft, one labelled `internal-only`, one in German.
pub(crate) fn standard_articles() -> Vec<Article> {
    let mut a1 = Article::new(1, "Update billing details", 1);
    a1.labels = vec!["billing"];
    let mut a2 = Article::new(2, "Reset your password", 2);
    a2.segment = Some(300);
    let mut a3 = Article::new(3, "VIP escalation path", 3);
    a3.segment = Some(302);
    a3.section_id = 101;
    let a4 = Article::new(4, "Printer troubleshooting", 4);
    let mut draft = Article::new(5, "Unfinished draft", 5);
    draft.draft = true;
    let mut hidden = Article::new(6, "Internal runbook", 6);
    hidden.labels = vec!["Internal-Only"];
    let mut german = Article::new(7, "Rechnungsdaten ändern", 7);
    german.locale = "de";
    vec![a1, a2, a3, a4, draft, hidden, german]
}

/// Five tickets updated at minutes 1..=5: #1 with an internal note and a CC, #2 with five
/// comments, #3 solved, #4 closed, #5 deleted.
pub(crate) fn standard_tickets() -> Vec<Ticket> {
    let mut t1 = Ticket::new(1, "Printer on fire", "open", 1);
    t1.ccs = vec![4];
    t1.comments.push(Comment::new(
        101,
        3,
        "Customer is on the <b>legacy</b> plan; check the warranty.",
        false,
        1,
    ));
    t1.comments.push(Comment::new(
        102,
        3,
        "We are sending a technician.",
        true,
        1,
    ));
    let mut t2 = Ticket::new(2, "Cannot log in", "pending", 2);
    for i in 1..=4 {
        t2.comments.push(Comment::new(
            200 + i,
            if i % 2 == 0 { 2 } else { 3 },
            &format!("Reply {i}"),
            true,
            2,
        ));
    }
    let t3 = Ticket::new(3, "Invoice question", "solved", 3);
    let t4 = Ticket::new(4, "Old request", "closed", 4);
    let t5 = Ticket::new(5, "Spam", "deleted", 5);
    vec![t1, t2, t3, t4, t5]
}

pub(crate) fn standard() -> ZendeskApi {
    ZendeskApi::new(standard_articles(), standard_tickets())
}

pub(crate) fn config(uri: &str, content: &str, extra: Value) -> Value {
    let mut cfg = json!({
        "zendesk_content_type": content,
        "credentials": {"zendesk_subdomain": SUBDOMAIN, "zendesk_email": EMAIL, "zendesk_token": TOKEN},
        "base_url": uri,
        "allowed_hosts": ["127.0.0.1"],
        "export_requests_per_minute": 100000,
        "requests_per_minute": 100000,
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut cfg, extra) {
        m.extend(e);
    }
    cfg
}

pub(crate) fn build(uri: &str, content: &str, extra: Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    registry
        .build("zendesk", config(uri, content, extra))
        .expect("a valid config")
}

/// Requests the server saw whose path starts with `prefix`.
pub(crate) async fn requests_to(server: &MockServer, prefix: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path().starts_with(prefix))
        .collect()
}

pub(crate) fn ids(docs: &[connector_core::Document]) -> Vec<String> {
    let mut ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    ids.sort();
    ids
}
