//! A wiremock Notion written from the API reference (developers.notion.com/reference,
//! `Notion-Version: 2025-09-03`, databases holding data sources): `POST /v1/search` with `filter`, `sort` on
//! `last_edited_time`, `page_size` and `start_cursor` answered as `{"object": "list",
//! "results", "next_cursor", "has_more", "type": "page_or_database"}`; `GET /v1/pages/{id}`,
//! `/v1/databases/{id}` (with `data_sources`), `/v1/data_sources/{id}`, `/v1/blocks/{id}` and
//! `/v1/blocks/{id}/children` (cursor paged, three blocks a page);
//! `POST /v1/data_sources/{id}/query` (rows whose parent is `{"type": "data_source_id",
//! "data_source_id", "database_id"}`); error bodies `{"object": "error",
//! "status", "code", "message", "request_id"}` (401 `unauthorized`, 404 `object_not_found`,
//! 429 `rate_limited` with `Retry-After`); file blocks whose Notion-hosted URLs point at a
//! `/files/…` path of the same server (standing for Notion's S3 host).
#![allow(clippy::unwrap_used, dead_code)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use connector_core::{Connector, Registry};
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub(crate) const TOKEN: &str = "ntn_4f1d7c2b9a8e6d5c3b2a1f0e9d8c7b6a5f4e3d2c1b0a";

pub(crate) const ROOT: &str = "59833787-2cf9-4fdf-8782-e53db20768a5";
pub(crate) const CHILD: &str = "a1d8501e-1ac1-43e9-a6bd-ea9fe6c8822b";
pub(crate) const DATABASE: &str = "d9824bdc-8445-4327-be8b-5b47500af6ce";
/// The one data source of `DATABASE`.
pub(crate) const DATA_SOURCE: &str = "248104cd-477e-80af-bc30-000bd28de8f9";
pub(crate) const ROW: &str = "b55c9c91-384d-452b-81db-d1ef79372b75";
pub(crate) const OTHER: &str = "c4f3e2d1-0b9a-4876-a543-210fedcba987";
pub(crate) const DEEP: &str = "e0e0e0e0-1111-4222-8333-944444444444";
/// The column block of `CHILD` that `DEEP` sits in.
pub(crate) const COLUMN: &str = "7f7f7f7f-0000-4000-8000-000000000002";
pub(crate) const PDF_BLOCK: &str = "f1f1f1f1-2222-4333-8444-955555555555";
pub(crate) const IMAGE_BLOCK: &str = "f2f2f2f2-2222-4333-8444-955555555556";
pub(crate) const DEEP_TEXT_BLOCK: &str = "7f7f7f7f-0000-4000-8000-000000000003";

pub(crate) fn time(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, minute, 0).unwrap()
}

fn stamp(minute: u32) -> String {
    time(minute).format("%Y-%m-%dT%H:%M:00.000Z").to_string()
}

pub(crate) fn text(content: &str) -> Value {
    json!({
        "type": "text",
        "text": {"content": content, "link": null},
        "annotations": {"bold": false, "italic": false, "strikethrough": false,
            "underline": false, "code": false, "color": "default"},
        "plain_text": content, "href": null
    })
}

fn styled(content: &str, bold: bool, italic: bool, code: bool) -> Value {
    let mut v = text(content);
    v["annotations"]["bold"] = json!(bold);
    v["annotations"]["italic"] = json!(italic);
    v["annotations"]["code"] = json!(code);
    v
}

fn linked(content: &str, url: &str) -> Value {
    let mut v = text(content);
    v["text"]["link"] = json!({"url": url});
    v["href"] = json!(url);
    v
}

fn user() -> Value {
    json!({"object": "user", "id": "ee5f0f84-409a-440f-983a-a5315961c6e4"})
}

/// A block of `kind` whose type object is `body`.
pub(crate) fn block(id: &str, kind: &str, body: Value, has_children: bool) -> Value {
    let mut b = json!({
        "object": "block", "id": id,
        "created_time": stamp(1), "last_edited_time": stamp(1),
        "created_by": user(), "last_edited_by": user(),
        "has_children": has_children, "archived": false, "in_trash": false,
        "type": kind,
    });
    b[kind] = body;
    b
}

pub(crate) fn paragraph(id: &str, runs: Vec<Value>) -> Value {
    block(
        id,
        "paragraph",
        json!({"rich_text": runs, "color": "default"}),
        false,
    )
}

fn title_property(title: &str) -> Value {
    json!({"id": "title", "type": "title", "title": [text(title)]})
}

/// A page of the fixture.
#[derive(Clone, Debug)]
pub(crate) struct PageFx {
    pub(crate) id: String,
    pub(crate) title: String,
    /// `("page_id" | "database_id" | "block_id" | "workspace", id)`.
    pub(crate) parent: (String, String),
    pub(crate) minute: u32,
    /// Properties besides the title (a database row's).
    pub(crate) properties: Option<Value>,
    pub(crate) archived: bool,
    /// Served without `last_edited_time` (a malformed result).
    pub(crate) broken: bool,
    /// The `last_edited_time` served in place of `minute`'s (a page edited around now).
    pub(crate) at: Option<DateTime<Utc>>,
    /// Left out of the search's results (Notion's search is not exhaustive, and lags).
    pub(crate) unsearchable: bool,
}

impl PageFx {
    pub(crate) fn new(id: &str, title: &str, parent: (&str, &str), minute: u32) -> Self {
        Self {
            id: id.to_owned(),
            title: title.to_owned(),
            parent: (parent.0.to_owned(), parent.1.to_owned()),
            minute,
            properties: None,
            archived: false,
            broken: false,
            at: None,
            unsearchable: false,
        }
    }

    pub(crate) fn json(&self) -> Value {
        let mut properties = self.properties.clone().unwrap_or_else(|| json!({}));
        let key = if self.parent.0 == "database_id" {
            "Name"
        } else {
            "title"
        };
        properties[key] = title_property(&self.title);
        let parent = if self.parent.0 == "workspace" {
            json!({"type": "workspace", "workspace": true})
        } else if self.parent.0 == "database_id" {
            // A row's parent names its data source and that one's database.
            json!({"type": "data_source_id", "data_source_id": data_source_of(&self.parent.1), "database_id": self.parent.1})
        } else {
            json!({"type": self.parent.0, self.parent.0.clone(): self.parent.1})
        };
        let mut v = json!({
            "object": "page", "id": self.id,
            "created_time": stamp(0), "last_edited_time": self.at.map_or_else(|| stamp(self.minute), |at| at.format("%Y-%m-%dT%H:%M:00.000Z").to_string()),
            "created_by": user(), "last_edited_by": user(),
            "cover": null, "icon": null, "parent": parent,
            "archived": self.archived, "in_trash": self.archived,
            "properties": properties,
            "url": format!("https://www.notion.so/{}-{}", self.title.replace(' ', "-"), self.id.replace('-', "")),
            "public_url": null,
        });
        if self.broken {
            v.as_object_mut().unwrap().remove("last_edited_time");
        }
        v
    }
}

/// The data source of a fixture database: `DATA_SOURCE` for `DATABASE`, else one derived
/// from the database's id.
pub(crate) fn data_source_of(database: &str) -> String {
    if compact(database) == compact(DATABASE) {
        DATA_SOURCE.to_owned()
    } else {
        format!("{}ffff", &database[..database.len() - 4])
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) pages: Vec<PageFx>,
    /// Databases: id → (title, parent page id).
    pub(crate) databases: HashMap<String, (String, String)>,
    /// Children of pages and blocks, in order.
    pub(crate) children: HashMap<String, Vec<Value>>,
    /// Search results per page.
    pub(crate) page_size: usize,
    /// Requests answered 429 (`Retry-After: 1`) before the next search is served.
    pub(crate) rate_limited: usize,
    /// Files served at `/files/{name}`.
    pub(crate) files: HashMap<String, Vec<u8>>,
}

/// The fixture's Notion workspace; cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Notion {
    pub(crate) state: Arc<Mutex<State>>,
    pub(crate) base: Arc<Mutex<String>>,
    pub(crate) searches: Arc<AtomicUsize>,
    pub(crate) children_requests: Arc<AtomicUsize>,
}

pub(crate) fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "object": "error", "status": status, "code": code, "message": message,
        "request_id": "c3f1a2b4-5d6e-4f70-8a9b-0c1d2e3f4a5b"
    }))
}

fn not_found(id: &str) -> ResponseTemplate {
    error(
        404,
        "object_not_found",
        &format!(
            "Could not find page with ID: {id}. Make sure the relevant pages and databases are shared with your integration."
        ),
    )
}

/// A cursor-paged list answer of `items` from `start` (an opaque cursor of the form
/// `{prefix}{offset}` stands for Notion's).
fn list(items: Vec<Value>, cursor: Option<&str>, prefix: &str, size: usize, kind: &str) -> Value {
    let start = cursor
        .and_then(|c| c.strip_prefix(prefix))
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or(0);
    let page: Vec<Value> = items.iter().skip(start).take(size).cloned().collect();
    let more = start + size < items.len();
    json!({
        "object": "list", "results": page,
        "next_cursor": if more { json!(format!("{prefix}{}", start + size)) } else { Value::Null },
        "has_more": more, "type": kind, kind: {},
    })
}

fn compact(id: &str) -> String {
    id.replace('-', "")
}

impl Notion {
    fn find_page(&self, id: &str) -> Option<PageFx> {
        let st = self.state.lock().unwrap();
        st.pages
            .iter()
            .find(|p| compact(&p.id) == compact(id))
            .cloned()
    }

    fn find_block(&self, id: &str) -> Option<(Value, String)> {
        let st = self.state.lock().unwrap();
        for (parent, blocks) in &st.children {
            for b in blocks {
                if compact(b["id"].as_str().unwrap_or_default()) == compact(id) {
                    return Some((b.clone(), parent.clone()));
                }
            }
        }
        None
    }

    fn parent_json(&self, parent_id: &str) -> Value {
        if self.find_page(parent_id).is_some() {
            json!({"type": "page_id", "page_id": parent_id})
        } else {
            json!({"type": "block_id", "block_id": parent_id})
        }
    }
}

impl Respond for Notion {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let path = req.url.path().to_owned();
        if let Some(name) = path.strip_prefix("/files/") {
            let st = self.state.lock().unwrap();
            return match st.files.get(name) {
                Some(data) if auth.is_empty() => ResponseTemplate::new(200)
                    .set_body_raw(data.clone(), "application/octet-stream"),
                // Pre-signed URLs refuse a second credential.
                Some(_) => ResponseTemplate::new(400).set_body_string("InvalidArgument"),
                None => ResponseTemplate::new(404).set_body_string("NoSuchKey"),
            };
        }
        if auth != format!("Bearer {TOKEN}") {
            return error(401, "unauthorized", "API token is invalid.");
        }
        if req
            .headers
            .get("notion-version")
            .and_then(|v| v.to_str().ok())
            != Some("2025-09-03")
        {
            return error(
                400,
                "missing_version",
                "Notion-Version header failed validation.",
            );
        }
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        match (req.method.as_str(), segments.as_slice()) {
            ("POST", ["v1", "search"]) => {
                self.searches.fetch_add(1, Ordering::SeqCst);
                let mut st = self.state.lock().unwrap();
                if st.rate_limited > 0 {
                    st.rate_limited -= 1;
                    return error(
                        429,
                        "rate_limited",
                        "You have been rate limited. Please try again in a few minutes.",
                    )
                    .insert_header("Retry-After", "1");
                }
                let ascending = body["sort"]["direction"] != "descending";
                let mut pages: Vec<PageFx> = st
                    .pages
                    .iter()
                    .filter(|p| !p.unsearchable)
                    .cloned()
                    .collect();
                pages.sort_by_key(|p| (p.minute, p.id.clone()));
                if !ascending {
                    pages.reverse();
                }
                let size = body["page_size"]
                    .as_u64()
                    .map_or(st.page_size, |n| (n as usize).min(st.page_size));
                let items = pages.iter().map(PageFx::json).collect();
                let cursor = body["start_cursor"].as_str();
                ResponseTemplate::new(200).set_body_json(list(
                    items,
                    cursor,
                    "s-",
                    size,
                    "page_or_database",
                ))
            }
            ("GET", ["v1", "pages", id]) => match self.find_page(id) {
                Some(p) => ResponseTemplate::new(200).set_body_json(p.json()),
                None => not_found(id),
            },
            ("GET", ["v1", "databases", id]) => {
                let st = self.state.lock().unwrap();
                match st.databases.iter().find(|(k, _)| compact(k) == compact(id)) {
                    Some((db, (title, parent))) => {
                        ResponseTemplate::new(200).set_body_json(json!({
                            "object": "database", "id": db,
                            "created_time": stamp(0), "last_edited_time": stamp(2),
                            "title": [text(title)], "description": [], "icon": null, "cover": null,
                            "parent": {"type": "page_id", "page_id": parent},
                            "data_sources": [{"id": data_source_of(db), "name": title}],
                            "is_inline": true, "in_trash": false, "is_locked": false,
                            "url": format!("https://www.notion.so/{}", compact(db)),
                            "public_url": null,
                        }))
                    }
                    None => not_found(id),
                }
            }
            ("GET", ["v1", "data_sources", id]) => {
                let st = self.state.lock().unwrap();
                match st
                    .databases
                    .iter()
                    .find(|(k, _)| compact(&data_source_of(k)) == compact(id))
                {
                    Some((db, (title, parent))) => {
                        ResponseTemplate::new(200).set_body_json(json!({
                            "object": "data_source", "id": data_source_of(db),
                            "created_time": stamp(0), "last_edited_time": stamp(2),
                            "title": [text(title)], "description": [], "properties": {},
                            "parent": {"type": "database_id", "database_id": db},
                            "database_parent": {"type": "page_id", "page_id": parent},
                            "archived": false, "in_trash": false, "is_inline": true,
                            "url": format!("https://www.notion.so/{}", compact(db)),
                        }))
                    }
                    None => not_found(id),
                }
            }
            ("POST", ["v1", "data_sources", id, "query"]) => {
                let st = self.state.lock().unwrap();
                let Some(db) = st
                    .databases
                    .keys()
                    .find(|k| compact(&data_source_of(k)) == compact(id))
                    .cloned()
                else {
                    return not_found(id);
                };
                let rows = st
                    .pages
                    .iter()
                    .filter(|p| p.parent.0 == "database_id" && compact(&p.parent.1) == compact(&db))
                    .map(PageFx::json)
                    .collect();
                ResponseTemplate::new(200).set_body_json(list(
                    rows,
                    body["start_cursor"].as_str(),
                    "q-",
                    100,
                    "page_or_database",
                ))
            }
            ("GET", ["v1", "blocks", id, "children"]) => {
                self.children_requests.fetch_add(1, Ordering::SeqCst);
                let blocks = {
                    let st = self.state.lock().unwrap();
                    st.children
                        .iter()
                        .find(|(k, _)| compact(k) == compact(id))
                        .map(|(_, v)| v.clone())
                };
                let exists = blocks.is_some()
                    || self.find_page(id).is_some()
                    || self.find_block(id).is_some();
                if !exists {
                    return not_found(id);
                }
                let cursor = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "start_cursor")
                    .map(|(_, v)| v.into_owned());
                ResponseTemplate::new(200).set_body_json(list(
                    blocks.unwrap_or_default(),
                    cursor.as_deref(),
                    "b-",
                    3,
                    "block",
                ))
            }
            ("GET", ["v1", "blocks", id]) => match self.find_block(id) {
                Some((mut b, parent)) => {
                    b["parent"] = self.parent_json(&parent);
                    // A Notion-hosted file's URL is signed anew on every read.
                    ResponseTemplate::new(200).set_body_json(b)
                }
                None => not_found(id),
            },
            _ => error(400, "invalid_request_url", "Invalid request URL."),
        }
    }
}

/// A Notion-hosted file block pointing at `/files/{name}` of the server `base`.
pub(crate) fn file_block(id: &str, kind: &str, base: &str, name: &str) -> Value {
    block(
        id,
        kind,
        json!({
            "caption": [text("the guide")],
            "type": "file",
            "file": {"url": format!("{base}/files/{name}?X-Amz-Expires=3600&X-Amz-Signature=abc"), "expiry_time": "2025-03-01T11:00:00.000Z"},
            "name": name,
        }),
        false,
    )
}

/// The standard workspace: `ROOT` ("Handbook", every block kind), `CHILD` ("Onboarding", a
/// child page of it with a column holding `DEEP`), the database `DATABASE` in `ROOT` with the
/// row `ROW`, and `OTHER`, outside the root. Four results a search page.
pub(crate) fn standard(base: &str) -> State {
    let mut st = State {
        page_size: 2,
        ..State::default()
    };
    st.pages = vec![
        PageFx::new(ROOT, "Handbook", ("workspace", ""), 10),
        PageFx::new(CHILD, "Onboarding", ("page_id", ROOT), 20),
        {
            let mut row = PageFx::new(ROW, "Write docs", ("database_id", DATABASE), 30);
            row.properties = Some(json!({
                "Status": {"id": "a%3Fb", "type": "status", "status": {"id": "1", "name": "Done", "color": "green"}},
                "Due": {"id": "c%3Dd", "type": "date", "date": {"start": "2025-03-15", "end": null, "time_zone": null}},
                "Tags": {"id": "e%3Ef", "type": "multi_select", "multi_select": [{"id": "t1", "name": "docs", "color": "blue"}, {"id": "t2", "name": "q1", "color": "red"}]},
                "Points": {"id": "g%3Fh", "type": "number", "number": 3},
                "Done": {"id": "i%3Fj", "type": "checkbox", "checkbox": true},
            }));
            row
        },
        PageFx::new(OTHER, "Other notes", ("workspace", ""), 5),
        PageFx::new(DEEP, "Deep page", ("block_id", COLUMN), 40),
    ];
    st.databases
        .insert(DATABASE.to_owned(), ("Tasks".to_owned(), ROOT.to_owned()));
    let mention = json!({
        "type": "mention",
        "mention": {"type": "page", "page": {"id": CHILD}},
        "annotations": {"bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default"},
        "plain_text": "Onboarding", "href": format!("https://www.notion.so/{}", compact(CHILD))
    });
    let equation = json!({
        "type": "equation", "equation": {"expression": "E = mc^2"},
        "annotations": {"bold": false, "italic": false, "strikethrough": false, "underline": false, "code": false, "color": "default"},
        "plain_text": "E = mc^2", "href": null
    });
    let b = |n: u32| format!("0b0b0b0b-0000-4000-8000-{n:012}");
    st.children.insert(ROOT.to_owned(), vec![
        block(&b(1), "heading_1", json!({"rich_text": [text("Welcome")], "is_toggleable": false, "color": "default"}), false),
        paragraph(&b(2), vec![text("Read "), styled("this", true, false, false), text(" and "), linked("the site", "https://example.com/a_(b)"), text(", see "), mention, text(" and "), equation, text(" with "), styled("*stars*", false, false, true)]),
        block(&b(3), "bulleted_list_item", json!({"rich_text": [text("first")], "color": "default"}), false),
        block(&b(4), "bulleted_list_item", json!({"rich_text": [text("second")], "color": "default"}), true),
        block(&b(5), "numbered_list_item", json!({"rich_text": [text("one")], "color": "default"}), false),
        block(&b(6), "numbered_list_item", json!({"rich_text": [text("two")], "color": "default"}), false),
        block(&b(7), "to_do", json!({"rich_text": [text("ship it")], "checked": true, "color": "default"}), false),
        block(&b(8), "to_do", json!({"rich_text": [text("celebrate")], "checked": false, "color": "default"}), false),
        block(&b(9), "toggle", json!({"rich_text": [text("Details")], "color": "default"}), true),
        block(&b(10), "code", json!({"rich_text": [text("fn main() {\n    println!(\"```\");\n}")], "language": "rust", "caption": []}), false),
        block(&b(11), "quote", json!({"rich_text": [text("Stay # curious")], "color": "default"}), false),
        block(&b(12), "callout", json!({"rich_text": [text("Heads up")], "icon": {"type": "emoji", "emoji": "💡"}, "color": "gray_background"}), false),
        block(&b(13), "table", json!({"table_width": 2, "has_column_header": true, "has_row_header": false}), true),
        block(&b(14), "equation", json!({"expression": "\\int_0^1 x\\,dx"}), false),
        block(&b(15), "divider", json!({}), false),
        block(CHILD, "child_page", json!({"title": "Onboarding"}), true),
        block(DATABASE, "child_database", json!({"title": "Tasks"}), false),
        file_block(PDF_BLOCK, "pdf", base, "guide.pdf"),
        block(IMAGE_BLOCK, "image", json!({"caption": [], "type": "external", "external": {"url": format!("{base}/files/diagram.png")}}), false),
    ]);
    st.children.insert(
        b(4),
        vec![block(
            &b(16),
            "bulleted_list_item",
            json!({"rich_text": [text("nested | pipe")], "color": "default"}),
            false,
        )],
    );
    st.children
        .insert(b(9), vec![paragraph(&b(17), vec![text("hidden detail")])]);
    st.children.insert(
        b(13),
        vec![
            block(
                &b(18),
                "table_row",
                json!({"cells": [[text("Name")], [text("Role")]]}),
                false,
            ),
            block(
                &b(19),
                "table_row",
                json!({"cells": [[text("Ada")], [text("Eng | Ops")]]}),
                false,
            ),
        ],
    );
    st.children.insert(
        CHILD.to_owned(),
        vec![
            paragraph(&b(20), vec![text("Day one")]),
            block(
                "7f7f7f7f-0000-4000-8000-000000000001",
                "column_list",
                json!({}),
                true,
            ),
        ],
    );
    st.children.insert(
        "7f7f7f7f-0000-4000-8000-000000000001".to_owned(),
        vec![block(COLUMN, "column", json!({}), true)],
    );
    st.children.insert(
        COLUMN.to_owned(),
        vec![
            paragraph(DEEP_TEXT_BLOCK, vec![text("deep text")]),
            block(DEEP, "child_page", json!({"title": "Deep page"}), true),
        ],
    );
    st.children.insert(
        ROW.to_owned(),
        vec![paragraph(&b(21), vec![text("row body")])],
    );
    st.children.insert(
        DEEP.to_owned(),
        vec![paragraph(&b(22), vec![text("at the bottom")])],
    );
    st.children.insert(
        OTHER.to_owned(),
        vec![paragraph(&b(23), vec![text("elsewhere")])],
    );
    st.files
        .insert("guide.pdf".to_owned(), b"%PDF-1.4 guide".to_vec());
    st.files
        .insert("diagram.png".to_owned(), b"\x89PNG\r\n\x1a\n".to_vec());
    st
}

/// A running fixture.
pub(crate) struct Fake {
    pub(crate) server: MockServer,
    pub(crate) notion: Notion,
}

impl Fake {
    /// The standard workspace, changed by `edit` before it serves.
    pub(crate) async fn start(edit: impl FnOnce(&mut State)) -> Self {
        let server = MockServer::start().await;
        let notion = Notion::default();
        let mut st = standard(&server.uri());
        edit(&mut st);
        *notion.state.lock().unwrap() = st;
        *notion.base.lock().unwrap() = server.uri();
        Mock::given(path_regex("^/(v1|files)/"))
            .and(method_any())
            .respond_with(notion.clone())
            .mount(&server)
            .await;
        Self { server, notion }
    }

    pub(crate) fn uri(&self) -> String {
        self.server.uri()
    }
}

fn method_any() -> impl wiremock::Match {
    struct Any;
    impl wiremock::Match for Any {
        fn matches(&self, req: &Request) -> bool {
            matches!(req.method.as_str(), "GET" | "POST")
        }
    }
    let _ = method("GET");
    Any
}

/// A connector of the registry over the fixture at `uri`, `extra` merged into the config.
pub(crate) fn build(uri: &str, extra: Value) -> Arc<dyn Connector> {
    let mut config = json!({
        "credentials": {"notion_integration_token": TOKEN},
        "api_base_url": uri,
        "allowed_hosts": ["127.0.0.1"],
        "requests_per_second": 1000,
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        config[k] = v;
    }
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    registry.build("notion", config).unwrap()
}
