//! The walk: the run's courses one after another; of each, its modules (one batch), then
//! its forums' discussions a page at a time, all on core's [`fetch_items`] (one fingerprint
//! lookup per page; an unchanged item costs no download nor post request).

use std::collections::{HashMap, HashSet};

use connector_core::http::is_body_too_large;
use connector_core::pages::{Outcome, PendingItem, fetch_items, item_failure};
use connector_core::{
    Batch, CheckpointedBatch, Document, Error, ErrorKind, Failure, Result, SlimDocument,
    SyncContext, TimeWindow,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use super::SOURCE;
use super::checkpoint::{CourseFrame, ForumFrame, MoodleCheckpoint};
use super::client::Client;
use super::convert::{self, Place};
use super::model::{Book, Content, Course, Discussion, Module, Quiz, Section, discussion_of};

/// Items read at the same time within a page.
const CONCURRENCY: usize = 4;

/// Discussions per page of a forum's listing.
pub(crate) const DISCUSSIONS_PER_PAGE: u32 = 50;

/// More discussion pages than a forum has (five million discussions): a loop guard for a
/// site that would ignore `page`.
pub(crate) const MAX_DISCUSSION_PAGES: u32 = 100_000;

/// The functions a run cannot do without.
const REQUIRED: [&str; 2] = ["core_webservice_get_site_info", "core_course_get_contents"];

/// What the walk needs besides the client.
#[derive(Debug, Clone)]
pub(crate) struct Walk {
    pub(crate) client: Client,
    pub(crate) course_ids: Vec<i64>,
    pub(crate) forums: bool,
    pub(crate) files: bool,
    /// Read a course whose modules' restrictions Moodle does not tell the token's user.
    pub(crate) unseen_restrictions: bool,
    pub(crate) max_file_size: u64,
    /// Files listed larger than this go to the spool.
    pub(crate) spool_above: Option<u64>,
    /// The sync's spool (set by `for_run`).
    pub(crate) spool: Option<connector_core::spool::Spool>,
}

/// An item of a page, to convert (and read, for files and books).
enum Pending {
    Ready(Box<Document>),
    File {
        place: Box<Place>,
        id: String,
        parent: Option<String>,
        content: Content,
        token: String,
    },
    Book {
        place: Box<Place>,
        book: Book,
        chapters: Vec<Content>,
        updated: i64,
        token: String,
    },
    Discussion {
        course: Box<CourseFrame>,
        forum: Box<ForumFrame>,
        discussion: Box<Discussion>,
        access: Box<connector_core::Access>,
        token: String,
    },
    Failed(Failure),
}

/// A module's restrictions: a non-empty `availability` condition tree.
fn restricted(availability: Option<&str>) -> bool {
    let Some(a) = availability
        .map(str::trim)
        .filter(|a| !a.is_empty() && *a != "null")
    else {
        return false;
    };
    match serde_json::from_str::<Value>(a) {
        Ok(v) => v
            .get("c")
            .and_then(Value::as_array)
            .is_none_or(|c| !c.is_empty()),
        // Unreadable conditions are conditions.
        Err(_) => true,
    }
}

/// The ids of a book's hidden chapters, from its `structure` entry: a JSON table of
/// contents of `{title, href: "{id}/index.html", level, hidden, subitems}`. An unreadable
/// table hides nothing (a token that may not see hidden chapters is not sent them).
fn hidden_chapters(contents: &[Content]) -> HashSet<String> {
    fn walk(items: &[Value], out: &mut HashSet<String>) {
        for item in items {
            let hidden = match item.get("hidden") {
                Some(Value::Bool(b)) => *b,
                Some(Value::Number(n)) => n.as_i64() != Some(0),
                Some(Value::String(s)) => !matches!(s.as_str(), "" | "0" | "false"),
                _ => false,
            };
            if let Some(id) = item
                .get("href")
                .and_then(Value::as_str)
                .and_then(|h| h.split('/').next())
                .filter(|_| hidden)
            {
                out.insert(id.to_owned());
            }
            if let Some(sub) = item.get("subitems").and_then(Value::as_array) {
                walk(sub, out);
            }
        }
    }
    let mut out = HashSet::new();
    for c in contents.iter().filter(|c| {
        c.kind.as_deref() == Some("content") && c.filename.as_deref() == Some("structure")
    }) {
        if let Some(Value::Array(items)) = c
            .content
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok())
        {
            walk(&items, &mut out);
        }
    }
    out
}

/// Restrictions told as text (`availabilityinfo`): the only sign of a restricted section,
/// since `core_course_get_contents` sends no `availability` for sections.
fn restricted_info(info: Option<&str>) -> bool {
    info.is_some_and(|i| !i.trim().is_empty())
}

/// Where an item goes: `pending` when it is in the window, else `later`, where only one
/// the store holds at another version is kept ([`stale`]).
fn queue<'a, T>(fresh: bool, pending: &'a mut Vec<T>, later: &'a mut Vec<T>) -> &'a mut Vec<T> {
    if fresh { pending } else { later }
}

/// Of the items outside the window, those the store holds at another version than this run
/// gives them: who may read an item (an unenrolment, a restriction added, a discussion's
/// display period ending) and texts that carry no time (a label, a book's chapter list, a
/// quiz read with a student's token) change without moving its time. One lookup for all.
/// An item the store never held is left out (not this window's).
async fn stale<T>(ctx: &SyncContext, later: Vec<PendingItem<T>>) -> Result<Vec<PendingItem<T>>> {
    if later.is_empty() {
        return Ok(later);
    }
    let ids: Vec<String> = later.iter().map(|i| i.id.clone()).collect();
    let stored = ctx.fingerprints().fingerprints(&ids).await?;
    Ok(later
        .into_iter()
        .filter(|i| match (stored.get(&i.id), &i.fingerprint) {
            (Some(stored), Some(now)) => stored != now,
            _ => false,
        })
        .collect())
}

/// What a quiz's document shows: from `mod_quiz_get_quizzes_by_courses` when it listed the
/// quiz, else the intro the course page shows (`description`, as RAGFlow reads it); none
/// when that is nothing.
fn quiz_text<'a>(m: &'a Module, q: Option<&'a Quiz>) -> Option<convert::QuizText<'a>> {
    let text = match q {
        Some(q) => convert::QuizText {
            intro: q.intro.as_deref(),
            opens: q.timeopen,
            closes: q.timeclose,
            limit: q.timelimit,
            attempts: q.attempts,
            updated: q.timemodified,
        },
        None => convert::QuizText {
            intro: m.description.as_deref(),
            opens: None,
            closes: None,
            limit: None,
            attempts: None,
            updated: None,
        },
    };
    let said = text.intro.is_some_and(|i| !i.trim().is_empty())
        || text.opens.is_some_and(|o| o > 0)
        || text.closes.is_some_and(|c| c > 0);
    said.then_some(text)
}

fn in_window(window: Option<&TimeWindow>, secs: Option<i64>) -> bool {
    match window {
        None => true,
        Some(w) => convert::time(secs).is_some_and(|t| w.contains(t)),
    }
}

impl Walk {
    pub(crate) fn for_run(&self, ctx: &SyncContext) -> Self {
        Self {
            client: self.client.with_context(ctx),
            spool: Some(ctx.spool().clone()),
            ..self.clone()
        }
    }

    /// The site info, with the functions the token's service allows.
    pub(crate) async fn functions(&self) -> Result<(i64, HashSet<String>)> {
        let info = self.client.site_info().await?;
        let allowed: HashSet<String> = info.functions.into_iter().map(|f| f.name).collect();
        let needed: Vec<&str> = REQUIRED
            .iter()
            .copied()
            .chain(if self.course_ids.is_empty() {
                Some("core_enrol_get_users_courses")
            } else {
                Some("core_course_get_courses_by_field")
            })
            .filter(|f| !allowed.is_empty() && !allowed.contains(*f))
            .collect();
        if !needed.is_empty() {
            return Err(Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "the token's web service does not allow {}: add them to the service (Site administration → Server → Web services → External services)",
                    needed.join(", ")
                ),
            )
            .with_connector(SOURCE)
            .with_field(super::config::TOKEN_FIELD));
        }
        Ok((info.userid, allowed))
    }

    /// The courses of the run, visible ones only, with who may read them.
    pub(crate) async fn courses(
        &self,
        userid: i64,
        allowed: &HashSet<String>,
        only: Option<&HashSet<i64>>,
    ) -> Result<Vec<CourseFrame>> {
        let mut listed: Vec<Course> = if self.course_ids.is_empty() {
            self.client.users_courses(userid).await?
        } else {
            let found = self.client.courses_by_ids(&self.course_ids).await?;
            for id in &self.course_ids {
                if !found.iter().any(|c| c.id == *id) {
                    return Err(Error::new(
                        ErrorKind::NotFound,
                        format!(
                            "the course {id} does not exist, or the token's user cannot see it"
                        ),
                    )
                    .with_connector(SOURCE)
                    .with_field("course_ids"));
                }
            }
            found
        };
        let mut seen = HashSet::new();
        listed.retain(|c| seen.insert(c.id) && only.is_none_or(|o| o.contains(&c.id)));
        listed.sort_by_key(|c| c.id);
        let can_list_users =
            allowed.is_empty() || allowed.contains("core_enrol_get_enrolled_users");
        let mut frames = Vec::new();
        for course in listed {
            if course.visible == Some(false) {
                // Hidden from students: who may read it is not what its enrolments say.
                tracing::info!(
                    connector = SOURCE,
                    course = course.id,
                    "a hidden course is left out"
                );
                continue;
            }
            let name = course
                .fullname
                .or(course.displayname)
                .or(course.shortname)
                .unwrap_or_else(|| format!("course {}", course.id));
            let mut emails = Vec::new();
            let mut groups = std::collections::BTreeMap::new();
            if can_list_users {
                match self.client.enrolled_emails(course.id).await {
                    Ok((found, members)) => {
                        emails = found;
                        groups = members;
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            ErrorKind::PermissionDenied
                                | ErrorKind::NotFound
                                | ErrorKind::InvalidData
                        ) =>
                    {
                        tracing::warn!(
                            connector = SOURCE,
                            course = course.id,
                            "the participants cannot be read; its items go to the group moodle:course:{} alone: {e}",
                            course.id
                        );
                    }
                    Err(e) => return Err(e),
                }
            }
            emails.sort();
            emails.dedup();
            frames.push(CourseFrame {
                id: course.id,
                name,
                emails,
                groups,
            });
        }
        Ok(frames)
    }

    /// The module pass of `course`: its documents and its forums.
    pub(crate) async fn modules(
        &self,
        ctx: &SyncContext,
        course: &CourseFrame,
        allowed: &HashSet<String>,
        window: Option<&TimeWindow>,
        only: Option<&HashSet<String>>,
    ) -> Result<(Batch, Vec<ForumFrame>)> {
        let sections: Vec<Section> = match self.client.contents(course.id).await {
            Ok(s) => s,
            Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) => {
                let mut batch = Batch::default();
                batch.failures.push(Failure::new(
                    None,
                    e.kind(),
                    format!(
                        "the contents of course {} ({}) cannot be read: {e}",
                        course.id, course.name
                    ),
                ));
                return Ok((batch, Vec::new()));
            }
            Err(e) => return Err(e),
        };
        let mut items: Vec<(Module, String, bool)> = Vec::new();
        let mut failures = Vec::new();
        // Moodle sends a module's `availability` (even null) only to a user who may see
        // hidden activities; to others, restrictions they meet are invisible.
        let mut tells_restrictions = false;
        let mut modules_seen = 0usize;
        for section in sections {
            if section.visible == Some(false) || section.uservisible == Some(false) {
                continue;
            }
            let hidden = restricted(section.availability.as_deref())
                || restricted_info(section.availabilityinfo.as_deref());
            let name = section.name.clone().unwrap_or_default();
            for value in section.modules {
                modules_seen += 1;
                tells_restrictions |= value.get("availability").is_some();
                let cmid = value.get("id").and_then(Value::as_i64);
                let kind = value
                    .get("modname")
                    .and_then(Value::as_str)
                    .unwrap_or("module")
                    .to_owned();
                match serde_json::from_value::<Module>(value) {
                    Ok(m) => {
                        if m.visible == Some(false) || m.uservisible == Some(false) {
                            continue;
                        }
                        let r = hidden
                            || restricted(m.availability.as_deref())
                            || restricted_info(m.availabilityinfo.as_deref());
                        items.push((m, name.clone(), r));
                    }
                    Err(e) => failures.push(Failure::new(
                        cmid.map(|c| convert::module_id(&kind, c)),
                        ErrorKind::InvalidData,
                        format!(
                            "{} (course {}): {e}",
                            cmid.map_or_else(
                                || "a module".to_owned(),
                                |c| convert::module_id(&kind, c)
                            ),
                            course.id
                        ),
                    )),
                }
            }
        }
        if modules_seen > 0 && !tells_restrictions {
            if !self.unseen_restrictions {
                // Fail closed: the restrictions the token's user meets are invisible, so a
                // restricted module would go to the whole course.
                let mut batch = Batch::default();
                batch.failures.push(Failure::new(
                    None,
                    ErrorKind::PermissionDenied,
                    format!(
                        "course {} ({}): Moodle tells none of its modules' restrictions (`availability`), which it tells only a user who may see hidden activities; use a token of a teacher or a manager, or set `allow_unseen_restrictions` if restrictions are off on the site",
                        course.id, course.name
                    ),
                ));
                return Ok((batch, Vec::new()));
            }
            tracing::warn!(
                connector = SOURCE,
                course = course.id,
                "Moodle sent no module's `availability` (`allow_unseen_restrictions` is on): either restrictions are off on the site, or the restrictions the token's user meets are not told"
            );
        }
        let has = |kind: &str| items.iter().any(|(m, _, _)| m.modname == kind);
        let can = |f: &str| allowed.is_empty() || allowed.contains(f);
        let pages: HashMap<i64, _> = if has("page") && can("mod_page_get_pages_by_courses") {
            self.client
                .pages(course.id)
                .await?
                .pages
                .into_iter()
                .map(|p| (p.coursemodule, p))
                .collect()
        } else {
            HashMap::new()
        };
        let books: HashMap<i64, _> = if has("book") && can("mod_book_get_books_by_courses") {
            self.client
                .books(course.id)
                .await?
                .books
                .into_iter()
                .map(|b| (b.coursemodule, b))
                .collect()
        } else {
            HashMap::new()
        };
        let assigns: HashMap<i64, _> = if has("assign") && can("mod_assign_get_assignments") {
            self.client
                .assignments(course.id)
                .await?
                .courses
                .into_iter()
                .flat_map(|c| c.assignments)
                .map(|a| (a.cmid, a))
                .collect()
        } else {
            HashMap::new()
        };
        // Quizzes: their intro and dates; without the function, the intro the course page
        // shows (`description`), as RAGFlow reads it.
        let quizzes: HashMap<i64, Quiz> = if has("quiz") && can("mod_quiz_get_quizzes_by_courses") {
            match self.client.quizzes(course.id).await {
                Ok(q) => q.quizzes.into_iter().map(|q| (q.coursemodule, q)).collect(),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::PermissionDenied | ErrorKind::NotFound | ErrorKind::InvalidData
                    ) =>
                {
                    tracing::warn!(
                        connector = SOURCE,
                        course = course.id,
                        "the quizzes cannot be read; their descriptions on the course page are: {e}"
                    );
                    HashMap::new()
                }
                Err(e) => return Err(e),
            }
        } else {
            HashMap::new()
        };
        // Forum types: a Q&A forum shows students the replies only once they have posted.
        // A type that cannot be read is taken as Q&A (only first posts are read).
        let forum_types: Option<HashMap<i64, String>> = if self.forums
            && has("forum")
            && can("mod_forum_get_forums_by_courses")
        {
            match self.client.forums(course.id).await {
                Ok(list) => Some(
                    list.into_iter()
                        .filter_map(|f| Some((f.cmid?, f.kind.unwrap_or_default())))
                        .collect(),
                ),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::PermissionDenied | ErrorKind::NotFound | ErrorKind::InvalidData
                    ) =>
                {
                    tracing::warn!(
                        connector = SOURCE,
                        course = course.id,
                        "the forums' types cannot be read; only first posts are read: {e}"
                    );
                    None
                }
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        let mut forums = Vec::new();
        let mut later: Vec<PendingItem<Pending>> = Vec::new();
        let mut pending: Vec<PendingItem<Pending>> = failures
            .into_iter()
            .map(|f| PendingItem::new(f.id.clone().unwrap_or_default(), Pending::Failed(f)))
            .collect();
        for (m, section, r) in items {
            let place = Place {
                course: course.clone(),
                section,
                cmid: m.id,
                modname: m.modname.clone(),
                name: m
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{} {}", m.modname, m.id)),
                url: m.url.clone(),
                access: convert::access(course, r, None),
            };
            let id = convert::module_id(&m.modname, m.id);
            let missing = |function: &str| {
                PendingItem::new(
                    id.clone(),
                    Pending::Failed(Failure::new(
                        Some(id.clone()),
                        ErrorKind::PermissionDenied,
                        format!(
                            "{}: the token's web service does not allow {function}, or it did not list this module",
                            convert::title(&place)
                        ),
                    )),
                )
            };
            match m.modname.as_str() {
                "page" => {
                    let Some(p) = pages.get(&m.id) else {
                        pending.push(missing("mod_page_get_pages_by_courses"));
                        continue;
                    };
                    let t = p.timemodified.unwrap_or(0);
                    let fresh = in_window(window, p.timemodified);
                    let token = convert::version(t, &place.access);
                    let doc =
                        convert::page(&place, p.intro.as_deref(), p.content.as_deref(), t, &token);
                    queue(fresh, &mut pending, &mut later).push(
                        PendingItem::new(id, Pending::Ready(Box::new(doc))).with_version(&token),
                    );
                }
                "book" => {
                    if !self.files {
                        continue;
                    }
                    let Some(b) = books.get(&m.id) else {
                        pending.push(missing("mod_book_get_books_by_courses"));
                        continue;
                    };
                    // Hidden chapters are listed to a token that may see them (a teacher,
                    // an admin): left out, as students do not see them.
                    let hidden = hidden_chapters(&m.contents);
                    let chapters: Vec<Content> = m
                        .contents
                        .iter()
                        .filter(|c| {
                            c.kind.as_deref() == Some("file")
                                && c.filename.as_deref() == Some("index.html")
                                && !c
                                    .filepath
                                    .as_deref()
                                    .is_some_and(|p| hidden.contains(p.trim_matches('/')))
                        })
                        .cloned()
                        .collect();
                    let t = chapters
                        .iter()
                        .filter_map(|c| c.timemodified)
                        .chain(b.timemodified)
                        .max()
                        .unwrap_or(0);
                    let fresh = in_window(window, Some(t));
                    // Chapters come and go without moving the book's time: their count is
                    // part of the version.
                    let token =
                        format!("{}:{}", convert::version(t, &place.access), chapters.len());
                    queue(fresh, &mut pending, &mut later).push(
                        PendingItem::new(
                            id,
                            Pending::Book {
                                place: Box::new(place),
                                book: b.clone(),
                                chapters,
                                updated: t,
                                token: token.clone(),
                            },
                        )
                        .with_version(&token),
                    );
                }
                "resource" => {
                    if !self.files {
                        continue;
                    }
                    let Some(main) = m
                        .contents
                        .iter()
                        .filter(|c| c.kind.as_deref() == Some("file") && c.fileurl.is_some())
                        .min_by_key(|c| (c.sortorder.unwrap_or(0) == 0, c.sortorder.unwrap_or(0)))
                        .cloned()
                    else {
                        continue;
                    };
                    let fresh = in_window(window, main.timemodified);
                    let token = format!(
                        "{}:{}",
                        convert::version(main.timemodified.unwrap_or(0), &place.access),
                        main.filesize.unwrap_or(0)
                    );
                    queue(fresh, &mut pending, &mut later).push(
                        PendingItem::new(
                            id.clone(),
                            Pending::File {
                                place: Box::new(place),
                                id,
                                parent: None,
                                content: main,
                                token: token.clone(),
                            },
                        )
                        .with_version(&token),
                    );
                }
                "url" => {
                    let target = m.contents.iter().find(|c| c.kind.as_deref() == Some("url"));
                    let t = target.and_then(|c| c.timemodified);
                    let fresh = in_window(window, t);
                    let token = convert::version(t.unwrap_or(0), &place.access);
                    let doc = convert::url_module(
                        &place,
                        m.description.as_deref(),
                        target.and_then(|c| c.fileurl.as_deref()),
                        t,
                        &token,
                    );
                    queue(fresh, &mut pending, &mut later).push(
                        PendingItem::new(id, Pending::Ready(Box::new(doc))).with_version(&token),
                    );
                }
                "label" => {
                    // Labels carry no time: a full run reads them, an incremental one those
                    // whose text (in the version) changed.
                    let Some(text) = m.description.as_deref() else {
                        continue;
                    };
                    let fresh = window.is_none();
                    let token = format!(
                        "{}:{}",
                        convert::version(0, &place.access),
                        connector_core::ids::hash128(text)
                    );
                    if let Some(doc) = convert::label(&place, text, &token) {
                        queue(fresh, &mut pending, &mut later).push(
                            PendingItem::new(id, Pending::Ready(Box::new(doc)))
                                .with_version(&token),
                        );
                    }
                }
                "assign" => {
                    let Some(a) = assigns.get(&m.id) else {
                        pending.push(missing("mod_assign_get_assignments"));
                        continue;
                    };
                    let t = a.timemodified.unwrap_or(0);
                    {
                        let fresh = in_window(window, a.timemodified);
                        let token = format!(
                            "{}:{}",
                            convert::version(t, &place.access),
                            a.introattachments.len()
                        );
                        let doc = convert::assignment(
                            &place,
                            a.intro.as_deref(),
                            a.duedate,
                            a.allowsubmissionsfromdate,
                            &a.introattachments,
                            t,
                            &token,
                        );
                        queue(fresh, &mut pending, &mut later).push(
                            PendingItem::new(id.clone(), Pending::Ready(Box::new(doc)))
                                .with_version(&token),
                        );
                    }
                    if !self.files {
                        continue;
                    }
                    for file in a.introattachments.iter().filter(|f| f.fileurl.is_some()) {
                        let fresh = in_window(window, file.timemodified);
                        let fid = convert::attachment_id(m.id, file);
                        let token = format!(
                            "{}:{}",
                            convert::version(file.timemodified.unwrap_or(0), &place.access),
                            file.filesize.unwrap_or(0)
                        );
                        queue(fresh, &mut pending, &mut later).push(
                            PendingItem::new(
                                fid.clone(),
                                Pending::File {
                                    place: Box::new(place.clone()),
                                    id: fid,
                                    parent: Some(id.clone()),
                                    content: file.clone(),
                                    token: token.clone(),
                                },
                            )
                            .with_version(&token),
                        );
                    }
                }
                "quiz" => {
                    let Some(text) = quiz_text(&m, quizzes.get(&m.id)) else {
                        continue;
                    };
                    // Without its time (a student's token), like a label.
                    let fresh = match text.updated {
                        Some(_) => in_window(window, text.updated),
                        None => window.is_none(),
                    };
                    let token = format!(
                        "{}:{}",
                        convert::version(text.updated.unwrap_or(0), &place.access),
                        text.digest()
                    );
                    let doc = convert::quiz(&place, &text, &token);
                    queue(fresh, &mut pending, &mut later).push(
                        PendingItem::new(id, Pending::Ready(Box::new(doc))).with_version(&token),
                    );
                }
                "forum" => {
                    if !self.forums {
                        continue;
                    }
                    let Some(instance) = m.instance else {
                        continue;
                    };
                    forums.push(ForumFrame {
                        id: instance,
                        cmid: m.id,
                        name: place.name.clone(),
                        section: place.section.clone(),
                        restricted: r,
                        qanda: forum_types
                            .as_ref()
                            .and_then(|t| t.get(&m.id))
                            .is_none_or(|t| t == "qanda"),
                        url: m.url.clone(),
                    });
                }
                other => {
                    tracing::debug!(
                        connector = SOURCE,
                        module = m.id,
                        modname = other,
                        "a module of a kind not read is left out"
                    );
                }
            }
        }
        pending.extend(stale(ctx, later).await?);
        if let Some(only) = only {
            pending.retain(|i| only.contains(&i.id));
        }
        let walk = self.clone();
        let batch = fetch_items(ctx, pending, CONCURRENCY, move |item| {
            walk.clone().fetch(item)
        })
        .await?;
        Ok((batch, forums))
    }

    /// One item's outcome.
    async fn fetch(self, item: Pending) -> Result<Vec<Outcome>> {
        match item {
            Pending::Ready(doc) => Ok(vec![(*doc).into()]),
            Pending::Failed(f) => Ok(vec![f.into()]),
            Pending::File {
                place,
                id,
                parent,
                content,
                token,
            } => {
                let name = content.filename.clone().unwrap_or_default();
                let too_large = || {
                    Failure::new(
                        Some(id.clone()),
                        ErrorKind::Unsupported,
                        format!(
                            "{} / {name}: the file is larger than max_file_size ({} bytes)",
                            convert::title(&place),
                            self.max_file_size
                        ),
                    )
                };
                if content.filesize.is_some_and(|s| s > self.max_file_size) {
                    return Ok(vec![too_large().into()]);
                }
                let url = content.fileurl.as_deref().unwrap_or_default();
                let spool = self.spool.as_ref().filter(|_| {
                    self.spool_above
                        .is_some_and(|above| content.filesize.is_some_and(|s| s > above))
                });
                let body = match spool {
                    Some(spool) => self
                        .client
                        .download_spooled(url, self.max_file_size, spool)
                        .await
                        .map(convert::FileBody::Spooled),
                    None => self
                        .client
                        .download(url, self.max_file_size)
                        .await
                        .map(convert::FileBody::Bytes),
                };
                match body {
                    Ok(data) => Ok(vec![
                        convert::file(&place, id, parent, &content, data, &token).into(),
                    ]),
                    Err(e) if is_body_too_large(&e) => Ok(vec![too_large().into()]),
                    Err(e) => Ok(vec![item_failure(id, e)?.into()]),
                }
            }
            Pending::Book {
                place,
                book,
                chapters,
                updated,
                token,
            } => {
                let id = convert::module_id("book", place.cmid);
                let mut texts = Vec::new();
                for chapter in &chapters {
                    let title = chapter.content.clone().unwrap_or_default();
                    let url = chapter.fileurl.as_deref().unwrap_or_default();
                    match self.client.download(url, self.max_file_size).await {
                        Ok(body) => {
                            texts.push((title, String::from_utf8_lossy(&body).into_owned()))
                        }
                        Err(e) => return Ok(vec![item_failure(id, e)?.into()]),
                    }
                }
                Ok(vec![
                    convert::book(&place, book.intro.as_deref(), &texts, updated, &token).into(),
                ])
            }
            Pending::Discussion {
                course,
                forum,
                discussion,
                access,
                token,
            } => {
                let id = convert::discussion_id(forum.cmid, discussion.discussion);
                match self.client.posts(discussion.discussion).await {
                    Ok(posts) => {
                        let access = *access;
                        Ok(vec![
                            convert::discussion(
                                &course,
                                &forum,
                                &discussion,
                                &posts.posts,
                                access,
                                &self.client.site,
                                &token,
                            )
                            .into(),
                        ])
                    }
                    Err(e) => Ok(vec![item_failure(id, e)?.into()]),
                }
            }
        }
    }

    /// One page of a forum's discussions: its batch, whether the forum is done, and the id of
    /// the page's last discussion.
    pub(crate) async fn discussions(
        &self,
        ctx: &SyncContext,
        course: &CourseFrame,
        forum: &ForumFrame,
        page: u32,
        window: Option<&TimeWindow>,
        only: Option<&HashSet<String>>,
    ) -> Result<(Batch, bool, Option<i64>)> {
        let listed = match self
            .client
            .discussions(forum.id, page, DISCUSSIONS_PER_PAGE)
            .await
        {
            Ok(l) => l.discussions,
            Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound) => {
                let mut batch = Batch::default();
                batch.failures.push(Failure::new(
                    Some(convert::module_id("forum", forum.cmid)),
                    e.kind(),
                    format!(
                        "the discussions of forum {} ({}) cannot be read: {e}",
                        forum.name, course.name
                    ),
                ));
                return Ok((batch, true, None));
            }
            Err(e) => return Err(e),
        };
        let n = listed.len();
        let last = listed.last().and_then(|raw| discussion_of(raw));
        let now = chrono::Utc::now().timestamp();
        let mut pending = Vec::new();
        let mut later = Vec::new();
        for raw in listed {
            let d: Discussion = match serde_json::from_str(raw.get()) {
                Ok(d) => d,
                Err(e) => {
                    let id = discussion_of(&raw).map(|d| convert::discussion_id(forum.cmid, d));
                    let f = Failure::new(
                        id.clone(),
                        ErrorKind::InvalidData,
                        format!(
                            "{} (forum {}): {e}",
                            id.as_deref().unwrap_or("a discussion"),
                            forum.name
                        ),
                    );
                    pending.push(PendingItem::new(id.unwrap_or_default(), Pending::Failed(f)));
                    continue;
                }
            };
            let sorted_by = d.sort_time();
            let fresh = in_window(window, Some(sorted_by));
            // A timed discussion outside its display period is for nobody yet (or any more).
            let hidden = d.hidden_at(now);
            let access = convert::access(course, forum.restricted || hidden, d.groupid);
            // The reply count too: a reply deleted (not the last) moves no time, and the
            // stale check below then sends the discussion again without it.
            let token = format!(
                "{}:r{}{}",
                convert::version(sorted_by, &access),
                d.numreplies.unwrap_or(-1),
                if forum.qanda { ":qanda" } else { "" }
            );
            let id = convert::discussion_id(forum.cmid, d.discussion);
            queue(fresh, &mut pending, &mut later).push(
                PendingItem::new(
                    id,
                    Pending::Discussion {
                        course: Box::new(course.clone()),
                        forum: Box::new(forum.clone()),
                        discussion: Box::new(d),
                        access: Box::new(access),
                        token: token.clone(),
                    },
                )
                .with_version(&token),
            );
        }
        // Discussions older than the window whose readers changed (the course's
        // participants, the forum's restrictions, a display period that ended) or that lost
        // a reply (a deleted post moves `timemodified` back to the last one left, and only
        // `numreplies` tells) are sent again. They can be on any page, so a poll lists every
        // page (the listing only: the posts of a discussion left as it was are not read).
        pending.extend(stale(ctx, later).await?);
        if let Some(only) = only {
            pending.retain(|i| only.contains(&i.id));
        }
        let walk = self.clone();
        let batch = fetch_items(ctx, pending, CONCURRENCY, move |item| {
            walk.clone().fetch(item)
        })
        .await?;
        if page >= MAX_DISCUSSION_PAGES {
            Err(Error::invalid_data(format!(
                "the discussions of forum {} ({}) have no end after {MAX_DISCUSSION_PAGES} pages: does the site ignore `page`?",
                forum.name, course.name
            ))
            .with_connector(SOURCE))?;
        }
        // A page longer than asked is a site that ignored `perpage`: it sent every discussion.
        Ok((batch, n != DISCUSSIONS_PER_PAGE as usize, last))
    }

    /// Every course's items, page by page, from `from`.
    pub(crate) fn checkpointed(
        &self,
        from: MoodleCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<MoodleCheckpoint>>> {
        let walk = self.for_run(&ctx);
        async_stream::try_stream! {
            let mut cp = from;
            // A run resumed inside a forum's paging reads the page before its own first:
            // Moodle pages by number, and a discussion deleted (or sunk by a deleted post)
            // since shifts the later ones up a place, so the first of the checkpoint's page
            // would now end the page before and be skipped. Fingerprints spare what was sent.
            // (A checkpoint that names the page before's last discussion is checked instead.)
            let mut step_back = cp.forums.is_some() && cp.page > 0 && cp.last.is_none();
            let (userid, allowed) = walk.functions().await?;
            if !cp.started {
                cp.courses = walk.courses(userid, &allowed, None).await?;
                cp.started = true;
                cp.index = 0;
                cp.forums = None;
            }
            while cp.index < cp.courses.len() {
                ctx.cancellation().check()?;
                let course = cp.courses[cp.index].clone();
                match cp.forums.clone() {
                    None => {
                        let (batch, forums) = walk.modules(&ctx, &course, &allowed, window.as_ref(), None).await?;
                        cp.forums = Some(forums);
                        cp.forum = 0;
                        cp.page = 0;
                        cp.last = None;
                        yield CheckpointedBatch::new(batch, cp.clone());
                    }
                    Some(forums) if cp.forum < forums.len() && step_back => {
                        step_back = false;
                        let forum = &forums[cp.forum];
                        let (batch, _, _) = walk.discussions(&ctx, &course, forum, cp.page - 1, window.as_ref(), None).await?;
                        yield CheckpointedBatch::new(batch, cp.clone());
                    }
                    Some(forums) if cp.forum < forums.len() => {
                        let forum = &forums[cp.forum];
                        // A discussion deleted or sunk ahead of the boundary since the page
                        // before was read moved the later ones up: the one that now ends that
                        // page was never read. Which one ends it: one discussion, by number.
                        if let Some(last) = cp.last.filter(|_| cp.page > 0) {
                            let at = walk
                                .client
                                .discussions(forum.id, cp.page * DISCUSSIONS_PER_PAGE - 1, 1)
                                .await
                                .ok()
                                .and_then(|l| l.discussions.first().and_then(|raw| discussion_of(raw)));
                            if at != Some(last) {
                                let (batch, _, _) = walk.discussions(&ctx, &course, forum, cp.page - 1, window.as_ref(), None).await?;
                                yield CheckpointedBatch::new(batch, cp.clone());
                            }
                        }
                        let (batch, done, last) = walk.discussions(&ctx, &course, forum, cp.page, window.as_ref(), None).await?;
                        if done {
                            cp.forum += 1;
                            cp.page = 0;
                            cp.last = None;
                        } else {
                            cp.page += 1;
                            cp.last = last;
                        }
                        yield CheckpointedBatch::new(batch, cp.clone());
                    }
                    Some(_) => {
                        cp.index += 1;
                        cp.forums = None;
                        cp.forum = 0;
                        cp.page = 0;
                        cp.last = None;
                    }
                }
            }
        }
        .boxed()
    }

    /// Every id a full run would deliver, a course (its modules, then its forums'
    /// discussions) per item: no download and no post request. An id of an item a full run
    /// would fail on may be listed (prune keeps it); none it delivers is left out.
    pub(crate) fn list_ids(
        &self,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        let walk = self.for_run(&ctx);
        async_stream::try_stream! {
            let (userid, allowed) = walk.functions().await?;
            for course in walk.courses(userid, &allowed, None).await? {
                ctx.cancellation().check()?;
                // A listing that fails is an error, never a partial set.
                let sections = walk.client.contents(course.id).await?;
                let mut ids = Vec::new();
                let mut forums = Vec::new();
                let mut assigns = false;
                let mut quizzes: Vec<Module> = Vec::new();
                for section in sections {
                    if section.visible == Some(false) || section.uservisible == Some(false) {
                        continue;
                    }
                    for value in section.modules {
                        let Ok(m) = serde_json::from_value::<Module>(value) else {
                            continue;
                        };
                        if m.visible == Some(false) || m.uservisible == Some(false) {
                            continue;
                        }
                        let id = convert::module_id(&m.modname, m.id);
                        match m.modname.as_str() {
                            "page" | "url" => ids.push(id),
                            "label" if m.description.is_some() => ids.push(id),
                            "book" | "resource" if walk.files => ids.push(id),
                            "assign" => {
                                assigns = true;
                                ids.push(id);
                            }
                            "quiz" => quizzes.push(m),
                            "forum" if walk.forums => {
                                if let Some(instance) = m.instance {
                                    forums.push((instance, m.id));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                if assigns && walk.files && (allowed.is_empty() || allowed.contains("mod_assign_get_assignments")) {
                    for a in walk.client.assignments(course.id).await?.courses.into_iter().flat_map(|c| c.assignments) {
                        ids.extend(a.introattachments.iter().filter(|f| f.fileurl.is_some()).map(|f| convert::attachment_id(a.cmid, f)));
                    }
                }
                if !quizzes.is_empty() {
                    let listed: HashMap<i64, Quiz> = if allowed.is_empty() || allowed.contains("mod_quiz_get_quizzes_by_courses") {
                        match walk.client.quizzes(course.id).await {
                            Ok(q) => q.quizzes.into_iter().map(|q| (q.coursemodule, q)).collect(),
                            // The run falls back on the course page's descriptions too.
                            Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::NotFound | ErrorKind::InvalidData) => HashMap::new(),
                            Err(e) => Err(e)?,
                        }
                    } else {
                        HashMap::new()
                    };
                    for m in &quizzes {
                        if quiz_text(m, listed.get(&m.id)).is_some() {
                            ids.push(convert::module_id("quiz", m.id));
                        }
                    }
                }
                for (forum, cmid) in forums {
                    for page in 0..MAX_DISCUSSION_PAGES {
                        let listed = walk.client.discussions(forum, page, DISCUSSIONS_PER_PAGE).await?.discussions;
                        let n = listed.len();
                        ids.extend(listed.iter().filter_map(|raw| discussion_of(raw)).map(|d| convert::discussion_id(cmid, d)));
                        if n != DISCUSSIONS_PER_PAGE as usize {
                            break;
                        }
                    }
                }
                yield ids.into_iter().map(SlimDocument::new).collect::<Vec<_>>();
            }
        }
        .boxed()
    }

    /// The checks of `check()`: the token (site info and the functions it may call), the
    /// courses, and the contents of the first.
    pub(crate) async fn check(&self) -> Result<()> {
        let (userid, allowed) = self.functions().await?;
        // Files are read only from `moodle_url`'s origin and path, and the site puts its own
        // address (`wwwroot`) in every `fileurl`: a `moodle_url` that names the site
        // otherwise (an internal host name, http for https) would make every file a failure.
        if let Some(said) = self.client.site_info().await?.siteurl.as_deref() {
            let said = url::Url::parse(said).ok();
            let root = |u: &url::Url| {
                (
                    u.origin().ascii_serialization(),
                    u.path().trim_end_matches('/').to_owned(),
                )
            };
            if let Some(said) = said.filter(|s| root(s) != root(&self.client.site)) {
                return Err(Error::config(vec![connector_core::FieldError::new(
                    "moodle_url",
                    format!(
                        "the site calls itself {said} (its wwwroot), and its files are only read from there: set moodle_url to it"
                    ),
                )])
                .with_connector(SOURCE));
            }
        }
        let courses = if self.course_ids.is_empty() {
            self.client.users_courses(userid).await?
        } else {
            let found = self.client.courses_by_ids(&self.course_ids).await?;
            if let Some(id) = self
                .course_ids
                .iter()
                .find(|id| !found.iter().any(|c| c.id == **id))
            {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("the course {id} does not exist, or the token's user cannot see it"),
                )
                .with_connector(SOURCE)
                .with_field("course_ids"));
            }
            found
        };
        let _ = allowed;
        if let Some(first) = courses.first() {
            self.client.contents(first.id).await?;
        }
        Ok(())
    }
}
