//! Moodle items as documents: a page, a book (its chapters together), a URL or a label as
//! Markdown; a resource's main file and an assignment's attachments as files; an assignment's
//! description; a forum discussion with all its posts as one thread.

use chrono::{DateTime, TimeZone, Utc};
use connector_core::text::markdown::{self, Block, Inline};
use connector_core::text::{push_utc_minute, utc_minute};
use connector_core::{Access, Document};
use serde_json::{Value, json};
use url::Url;

use super::SOURCE;
use super::checkpoint::{CourseFrame, ForumFrame};
use super::client::strip_token;
use super::model::{Content, Discussion, Post};

/// Where a module sits and who may read it.
#[derive(Debug, Clone)]
pub(crate) struct Place {
    pub(crate) course: CourseFrame,
    pub(crate) section: String,
    pub(crate) cmid: i64,
    pub(crate) modname: String,
    pub(crate) name: String,
    pub(crate) url: Option<String>,
    pub(crate) access: Access,
}

/// The document id of module `cmid` of kind `modname`: RAGFlow's `moodle_{type}_{cmid}`.
pub(crate) fn module_id(modname: &str, cmid: i64) -> String {
    format!("{SOURCE}_{modname}_{cmid}")
}

/// The document id of a forum discussion.
pub(crate) fn discussion_id(cmid: i64, discussion: i64) -> String {
    format!("{SOURCE}_forum_{cmid}_{discussion}")
}

/// The document id of an assignment's attachment.
pub(crate) fn attachment_id(cmid: i64, file: &Content) -> String {
    format!(
        "{SOURCE}_assign_{cmid}_file:{}{}",
        file.filepath.as_deref().unwrap_or("/"),
        file.filename.as_deref().unwrap_or("")
    )
}

/// The id of a course as a parent.
pub(crate) fn course_id(id: i64) -> String {
    format!("{SOURCE}_course_{id}")
}

/// A Moodle time (seconds since the epoch); `0` and absent are none.
pub(crate) fn time(secs: Option<i64>) -> Option<DateTime<Utc>> {
    secs.filter(|s| *s > 0)
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
}

/// Who may read an item of `course`: its participants (the group `moodle:course:{id}` and
/// their e-mail addresses where the token could read them); nobody when the item has
/// access restrictions the web service does not resolve; a discussion of a group, the
/// group (`moodle:group:{id}`) and its members' addresses where the token could read them
/// (teachers who see every group are not listed).
pub(crate) fn access(course: &CourseFrame, restricted: bool, group: Option<i64>) -> Access {
    if restricted {
        return Access::restricted(Vec::new(), Vec::new());
    }
    if let Some(g) = group.filter(|g| *g > 0) {
        let members = course.groups.get(&g).cloned().unwrap_or_default();
        return Access::restricted(members, vec![format!("{SOURCE}:group:{g}")]);
    }
    Access::restricted(
        course.emails.clone(),
        vec![format!("{SOURCE}:course:{}", course.id)],
    )
}

/// A version token: the item's time and a hash of who may read it.
pub(crate) fn version(secs: i64, access: &Access) -> String {
    let who = connector_core::ids::hash128(&format!(
        "{}|{}",
        access.groups.join(","),
        access.emails.join(",")
    ));
    format!("{secs}:{who}")
}

/// RAGFlow's title: "Course / Section / name".
pub(crate) fn title(place: &Place) -> String {
    let mut parts = vec![place.course.name.as_str()];
    if !place.section.is_empty() {
        parts.push(place.section.as_str());
    }
    parts.push(place.name.as_str());
    parts.join(" / ")
}

fn md(html: Option<&str>) -> Option<String> {
    let html = html.map(str::trim).filter(|h| !h.is_empty())?;
    let text = connector_core::text::html_to_markdown(html);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn link(url: Option<&str>) -> Option<Url> {
    url.and_then(|u| Url::parse(u).ok())
        .map(|u| strip_token(&u))
}

/// A text document of `place` with `blocks` under its front matter.
fn text_document(
    place: &Place,
    id: String,
    title: String,
    blocks: &[Block],
    updated: Option<i64>,
) -> Document {
    let fm = [
        ("course", json!(place.course.name)),
        ("section", json!(place.section)),
        ("module", json!(place.modname)),
    ];
    let mut text = markdown::front_matter(fm.iter().map(|(k, v)| (*k, v)));
    text.push_str(&markdown::render(blocks));
    let mut doc = Document::text(id, SOURCE, title, text);
    if let Some(at) = time(updated) {
        doc = doc.with_updated_at(at);
    }
    decorate(doc, place)
}

/// Parent, metadata, link and access every document of a module carries.
fn decorate(mut doc: Document, place: &Place) -> Document {
    doc = doc
        .with_parent_id(course_id(place.course.id))
        .with_metadata("course", place.course.name.clone())
        .with_metadata("course_id", place.course.id)
        .with_metadata("section", place.section.clone())
        .with_metadata("module_type", place.modname.clone())
        .with_metadata("cmid", place.cmid);
    if let Some(l) = link(place.url.as_deref()) {
        doc = doc.with_link(l);
    }
    doc.with_access(place.access.clone())
}

/// A page: its intro and its content.
pub(crate) fn page(
    place: &Place,
    intro: Option<&str>,
    content: Option<&str>,
    updated: i64,
    token: &str,
) -> Document {
    let mut blocks = Vec::new();
    if let Some(i) = md(intro) {
        blocks.push(Block::Markdown(i));
    }
    if let Some(c) = md(content) {
        blocks.push(Block::Markdown(c));
    }
    text_document(
        place,
        module_id("page", place.cmid),
        title(place),
        &blocks,
        Some(updated),
    )
    .with_version(token)
}

/// A book: its intro, then each chapter (`title`, HTML) as a section, in the book's order.
pub(crate) fn book(
    place: &Place,
    intro: Option<&str>,
    chapters: &[(String, String)],
    updated: i64,
    token: &str,
) -> Document {
    let mut blocks = Vec::new();
    if let Some(i) = md(intro) {
        blocks.push(Block::Markdown(i));
    }
    for (name, html) in chapters {
        blocks.push(Block::heading(2, vec![Inline::text(name.clone())]));
        if let Some(c) = md(Some(html)) {
            blocks.push(Block::Markdown(c));
        }
    }
    text_document(
        place,
        module_id("book", place.cmid),
        title(place),
        &blocks,
        Some(updated),
    )
    .with_metadata("chapters", chapters.len())
    .with_version(token)
}

/// A URL module: its description and the address it points to.
pub(crate) fn url_module(
    place: &Place,
    description: Option<&str>,
    target: Option<&str>,
    updated: Option<i64>,
    token: &str,
) -> Document {
    let mut blocks = Vec::new();
    if let Some(d) = md(description) {
        blocks.push(Block::Markdown(d));
    }
    if let Some(t) = target {
        blocks.push(Block::Markdown(format!("<{t}>")));
    }
    let mut doc = text_document(
        place,
        module_id("url", place.cmid),
        title(place),
        &blocks,
        updated,
    )
    .with_version(token);
    if let Some(t) = target {
        doc = doc.with_metadata("target", t);
    }
    doc
}

/// A label: the text shown on the course page.
pub(crate) fn label(place: &Place, description: &str, token: &str) -> Option<Document> {
    let text = md(Some(description))?;
    Some(
        text_document(
            place,
            module_id("label", place.cmid),
            title(place),
            &[Block::Markdown(text)],
            None,
        )
        .with_version(token),
    )
}

/// An assignment: its description, dates, and the names of its attachments (each also a
/// document of its own).
pub(crate) fn assignment(
    place: &Place,
    intro: Option<&str>,
    due: Option<i64>,
    opens: Option<i64>,
    files: &[Content],
    updated: i64,
    token: &str,
) -> Document {
    let mut blocks = Vec::new();
    if let Some(i) = md(intro) {
        blocks.push(Block::Markdown(i));
    }
    let names: Vec<&str> = files.iter().filter_map(|f| f.filename.as_deref()).collect();
    if !names.is_empty() {
        blocks.push(Block::heading(2, vec![Inline::text("Attachments")]));
        blocks.push(Block::Markdown(
            names
                .iter()
                .map(|n| format!("- {n}"))
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    let mut doc = text_document(
        place,
        module_id("assign", place.cmid),
        title(place),
        &blocks,
        Some(updated),
    )
    .with_version(token);
    if let Some(d) = time(due) {
        doc = doc.with_metadata("due", d.to_rfc3339());
    }
    if let Some(o) = time(opens) {
        doc = doc.with_metadata("opens", o.to_rfc3339());
    }
    doc
}

/// A quiz as a student sees it before an attempt: its intro, when it opens and closes, its
/// time limit and the attempts allowed (its questions are only sent inside an attempt).
pub(crate) fn quiz(place: &Place, quiz: &QuizText<'_>, token: &str) -> Document {
    let mut blocks = Vec::new();
    if let Some(i) = md(quiz.intro) {
        blocks.push(Block::Markdown(i));
    }
    let mut facts = Vec::new();
    if let Some(o) = time(quiz.opens) {
        facts.push(format!("- Opens: {}", utc_minute(o)));
    }
    if let Some(c) = time(quiz.closes) {
        facts.push(format!("- Closes: {}", utc_minute(c)));
    }
    if let Some(l) = quiz.limit.filter(|l| *l > 0) {
        facts.push(format!("- Time limit: {} min", (l + 59) / 60));
    }
    if let Some(a) = quiz.attempts.filter(|a| *a > 0) {
        facts.push(format!("- Attempts allowed: {a}"));
    }
    if !facts.is_empty() {
        blocks.push(Block::Markdown(facts.join("\n")));
    }
    let mut doc = text_document(
        place,
        module_id("quiz", place.cmid),
        title(place),
        &blocks,
        quiz.updated,
    )
    .with_version(token);
    if let Some(o) = time(quiz.opens) {
        doc = doc.with_metadata("opens", o.to_rfc3339());
    }
    if let Some(c) = time(quiz.closes) {
        doc = doc.with_metadata("closes", c.to_rfc3339());
    }
    doc
}

/// What a quiz's document shows.
pub(crate) struct QuizText<'a> {
    pub(crate) intro: Option<&'a str>,
    pub(crate) opens: Option<i64>,
    pub(crate) closes: Option<i64>,
    pub(crate) limit: Option<i64>,
    pub(crate) attempts: Option<i64>,
    pub(crate) updated: Option<i64>,
}

impl QuizText<'_> {
    /// What the version hashes besides the time: Moodle sends a quiz's `timemodified` only
    /// to a token that may manage it, so its text and dates stand for it.
    pub(crate) fn digest(&self) -> String {
        connector_core::ids::hash128(&format!(
            "{}|{:?}|{:?}|{:?}|{:?}",
            self.intro.unwrap_or(""),
            self.opens,
            self.closes,
            self.limit,
            self.attempts
        ))
    }
}

/// A downloaded file's body: in memory, or in a spool file.
pub(crate) enum FileBody {
    Bytes(bytes::Bytes),
    Spooled(connector_core::spool::SpooledBody),
}

/// A file of a module (a resource's main file, an assignment's attachment), body `data`.
pub(crate) fn file(
    place: &Place,
    id: String,
    parent: Option<String>,
    content: &Content,
    data: FileBody,
    token: &str,
) -> Document {
    let name = content
        .filename
        .clone()
        .unwrap_or_else(|| place.name.clone());
    let extension = std::path::Path::new(&name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase);
    let mime = content
        .mimetype
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            mime_guess::from_path(&name)
                .first_or_octet_stream()
                .essence_str()
                .to_owned()
        });
    let title_text = if place.modname == "resource" {
        title(place)
    } else {
        format!("{} / {name}", title(place))
    };
    let (doc, size) = match data {
        FileBody::Bytes(b) => {
            let size = b.len() as u64;
            (
                Document::bytes(id, SOURCE, title_text, b, mime, extension),
                size,
            )
        }
        FileBody::Spooled(body) => {
            let size = body.len();
            (
                Document::spooled(id, SOURCE, title_text, body, mime, extension),
                size,
            )
        }
    };
    let mut doc = doc
        .with_size(size)
        .with_version(token)
        .with_metadata("filename", name);
    if let Some(at) = time(content.timemodified) {
        doc = doc.with_updated_at(at);
    }
    if let Some(author) = content.author.as_deref().filter(|a| !a.is_empty()) {
        doc = doc.with_owners(vec![author.to_owned()]);
    }
    if let Some(u) = link(content.fileurl.as_deref()) {
        doc = doc.with_metadata("file_url", u.as_str());
    }
    let mut doc = decorate(doc, place);
    if let Some(p) = parent {
        doc = doc.with_parent_id(p);
    }
    doc
}

/// A discussion of `forum` with all its `posts` (oldest first) as one thread.
pub(crate) fn discussion(
    course: &CourseFrame,
    forum: &ForumFrame,
    d: &Discussion,
    posts: &[Post],
    access: Access,
    site: &Url,
    token: &str,
) -> Document {
    let name = d
        .name
        .clone()
        .unwrap_or_else(|| format!("discussion {}", d.discussion));
    let mut blocks = Vec::new();
    let mut authors: Vec<String> = Vec::new();
    // A private reply is for its author, the one replied to and the teachers: it is left
    // out of the thread the whole course may read.
    // In a Q&A forum a student sees the replies only after posting: the question alone.
    let shown: Vec<&Post> = posts
        .iter()
        .filter(|p| p.isdeleted != Some(true) && p.isprivatereply != Some(true))
        .filter(|p| !forum.qanda || p.parentid.is_none_or(|id| id <= 0))
        .collect();
    for post in &shown {
        let who = post
            .author
            .as_ref()
            .and_then(|a| a.fullname.clone())
            .unwrap_or_else(|| "someone".to_owned());
        if !authors.contains(&who) {
            authors.push(who.clone());
        }
        let mut head = String::with_capacity(who.len() + 64);
        head.push_str(&who);
        head.push_str(", ");
        if let Some(t) = time(post.timecreated) {
            push_utc_minute(&mut head, t);
        }
        head.push_str(": ");
        head.push_str(post.subject.as_deref().unwrap_or_default());
        if post.parentid.is_some_and(|p| p > 0) {
            head.push_str(" (reply)");
        }
        blocks.push(Block::heading(2, vec![Inline::text(head)]));
        if let Some(m) = md(post.message.as_deref()) {
            blocks.push(Block::Markdown(m));
        }
        let files: Vec<&str> = post
            .attachments
            .iter()
            .filter_map(|a| a.filename.as_deref())
            .collect();
        if !files.is_empty() {
            blocks.push(Block::Markdown(format!(
                "Attachments: {}",
                files.join(", ")
            )));
        }
    }
    let fm = [
        ("course", json!(course.name)),
        ("section", json!(forum.section)),
        ("forum", json!(forum.name)),
        ("replies", json!(shown.len().saturating_sub(1))),
    ];
    let mut text = markdown::front_matter(fm.iter().map(|(k, v)| (*k, v)));
    text.push_str(&markdown::render(&blocks));
    let mut parts = vec![course.name.as_str()];
    if !forum.section.is_empty() {
        parts.push(forum.section.as_str());
    }
    parts.push(forum.name.as_str());
    parts.push(name.as_str());
    let mut doc = Document::text_with_version(
        discussion_id(forum.cmid, d.discussion),
        SOURCE,
        parts.join(" / "),
        text,
        token,
    )
    .with_parent_id(course_id(course.id))
    .with_metadata("course", course.name.clone())
    .with_metadata("course_id", course.id)
    .with_metadata("section", forum.section.clone())
    .with_metadata("module_type", "forum")
    .with_metadata("cmid", forum.cmid)
    .with_metadata("forum", forum.name.clone())
    .with_metadata("discussion_id", d.discussion)
    .with_metadata("posts", shown.len());
    if forum.qanda {
        doc = doc.with_metadata("qanda", true);
    }
    if let Some(at) = time(Some(d.timemodified)) {
        doc = doc.with_updated_at(at);
    }
    if let Some(c) = time(d.created) {
        doc = doc.with_metadata("created_at", c.to_rfc3339());
    }
    if let Some(g) = d.groupid.filter(|g| *g > 0) {
        doc = doc.with_metadata("group_id", g);
    }
    if !authors.is_empty() {
        doc = doc.with_owners(vec![authors[0].clone()]);
        doc = doc.with_metadata("authors", Value::from(authors));
    }
    if let Ok(mut l) = site.join("mod/forum/discuss.php") {
        l.query_pairs_mut()
            .append_pair("d", &d.discussion.to_string());
        doc = doc.with_link(l);
    }
    doc.with_access(access)
}
