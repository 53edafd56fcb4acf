//! Moodle's web service wire types, with the API's own field names (each function's
//! `execute_returns()` in the Moodle source, `*/externallib.php` and `*/classes/external/*`).
//! Every field but the ids is optional: what a site leaves out (older releases, plugins) is
//! read as absent, never as a failure of the whole answer.

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// A web service error: Moodle answers it with HTTP 200 and this body.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Exception {
    #[serde(default)]
    pub(crate) exception: Option<String>,
    #[serde(default)]
    pub(crate) errorcode: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
}

/// A Moodle `PARAM_BOOL` or `PARAM_INT` flag: `true`/`false` or `1`/`0`.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::Number(n)) => Some(n.as_i64().unwrap_or(1) != 0),
        Some(Value::String(s)) => Some(!matches!(s.as_str(), "0" | "false" | "")),
        _ => None,
    })
}

/// `core_webservice_get_site_info`.
#[derive(Debug, Deserialize)]
pub(crate) struct SiteInfo {
    pub(crate) userid: i64,
    /// The site's own address (its `wwwroot`): the origin of every `fileurl` it sends.
    #[serde(default)]
    pub(crate) siteurl: Option<String>,
    #[serde(default)]
    pub(crate) functions: Vec<Function>,
}

/// A function the token's service may call.
#[derive(Debug, Deserialize)]
pub(crate) struct Function {
    pub(crate) name: String,
}

/// A course of `core_enrol_get_users_courses` (or `core_course_get_courses_by_field`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Course {
    pub(crate) id: i64,
    #[serde(default)]
    pub(crate) fullname: Option<String>,
    #[serde(default)]
    pub(crate) displayname: Option<String>,
    #[serde(default)]
    pub(crate) shortname: Option<String>,
    /// `1` shown to students, `0` hidden.
    #[serde(default, deserialize_with = "flag")]
    pub(crate) visible: Option<bool>,
}

/// `core_course_get_courses_by_field`.
#[derive(Debug, Deserialize)]
pub(crate) struct CoursesByField {
    #[serde(default)]
    pub(crate) courses: Vec<Course>,
}

/// A section of `core_course_get_contents`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Section {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default, deserialize_with = "flag")]
    pub(crate) visible: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    pub(crate) uservisible: Option<bool>,
    /// Access restrictions (JSON text): not sent by `core_course_get_contents` for sections
    /// (read for sites whose plugins add it).
    #[serde(default)]
    pub(crate) availability: Option<String>,
    /// Why the token's user may not open the section (its restrictions as text): sent only
    /// when the section has restrictions that user does not meet; an admin's `uservisible`
    /// stays true.
    #[serde(default)]
    pub(crate) availabilityinfo: Option<String>,
    #[serde(default)]
    pub(crate) modules: Vec<Value>,
}

/// A course module of a section; `id` is the `cmid`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Module {
    pub(crate) id: i64,
    #[serde(default)]
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// The id of the activity's own record (the forum id of a forum, …).
    #[serde(default)]
    pub(crate) instance: Option<i64>,
    pub(crate) modname: String,
    #[serde(default, deserialize_with = "flag")]
    pub(crate) visible: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    pub(crate) uservisible: Option<bool>,
    /// The intro shown on the course page (labels' text), HTML.
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// Access restrictions (JSON text), or null; sent only to users who may see hidden
    /// activities.
    #[serde(default)]
    pub(crate) availability: Option<String>,
    /// Why the token's user may not open the module (its restrictions as text).
    #[serde(default)]
    pub(crate) availabilityinfo: Option<String>,
    #[serde(default)]
    pub(crate) contents: Vec<Content>,
}

/// A file (or the URL of a `url` module, or a book's table of contents) of a module.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Content {
    /// `file`, `url` or `content`.
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) filename: Option<String>,
    #[serde(default)]
    pub(crate) filepath: Option<String>,
    #[serde(default)]
    pub(crate) filesize: Option<u64>,
    /// `…/webservice/pluginfile.php/…`: needs the token to be read.
    #[serde(default)]
    pub(crate) fileurl: Option<String>,
    #[serde(default)]
    pub(crate) timemodified: Option<i64>,
    #[serde(default)]
    pub(crate) sortorder: Option<i64>,
    #[serde(default)]
    pub(crate) mimetype: Option<String>,
    /// A book's chapter title, or the JSON table of contents of its `structure` entry.
    #[serde(default)]
    pub(crate) content: Option<String>,
    #[serde(default)]
    pub(crate) author: Option<String>,
}

/// `mod_page_get_pages_by_courses`.
#[derive(Debug, Deserialize)]
pub(crate) struct Pages {
    #[serde(default)]
    pub(crate) pages: Vec<Page>,
}

/// A page activity.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Page {
    pub(crate) coursemodule: i64,
    #[serde(default)]
    pub(crate) intro: Option<String>,
    #[serde(default)]
    pub(crate) content: Option<String>,
    #[serde(default)]
    pub(crate) timemodified: Option<i64>,
}

/// `mod_book_get_books_by_courses`.
#[derive(Debug, Deserialize)]
pub(crate) struct Books {
    #[serde(default)]
    pub(crate) books: Vec<Book>,
}

/// A book activity (its chapters are the module's contents).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Book {
    pub(crate) coursemodule: i64,
    #[serde(default)]
    pub(crate) intro: Option<String>,
    #[serde(default)]
    pub(crate) timemodified: Option<i64>,
}

/// `mod_assign_get_assignments`.
#[derive(Debug, Deserialize)]
pub(crate) struct AssignCourses {
    #[serde(default)]
    pub(crate) courses: Vec<AssignCourse>,
}

/// A course and its assignments.
#[derive(Debug, Deserialize)]
pub(crate) struct AssignCourse {
    #[serde(default)]
    pub(crate) assignments: Vec<Assignment>,
}

/// An assignment.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Assignment {
    pub(crate) cmid: i64,
    #[serde(default)]
    pub(crate) intro: Option<String>,
    #[serde(default)]
    pub(crate) timemodified: Option<i64>,
    #[serde(default)]
    pub(crate) duedate: Option<i64>,
    #[serde(default)]
    pub(crate) allowsubmissionsfromdate: Option<i64>,
    #[serde(default)]
    pub(crate) introattachments: Vec<Content>,
}

/// `mod_forum_get_forum_discussions`: each discussion's own JSON text, read as a
/// [`Discussion`] on its own (one malformed discussion fails alone), with no `Value` tree.
#[derive(Debug, Deserialize)]
pub(crate) struct Discussions {
    #[serde(default)]
    pub(crate) discussions: Vec<Box<RawValue>>,
}

/// The `discussion` id of a listed discussion's JSON text, whether it reads as a
/// [`Discussion`] or not.
pub(crate) fn discussion_of(raw: &RawValue) -> Option<i64> {
    #[derive(Deserialize)]
    struct Id {
        discussion: Option<i64>,
    }
    serde_json::from_str::<Id>(raw.get()).ok()?.discussion
}

/// A discussion as listed: `id` is its first post, `discussion` the discussion.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Discussion {
    pub(crate) discussion: i64,
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// The time of its last post or edit.
    pub(crate) timemodified: i64,
    #[serde(default)]
    pub(crate) created: Option<i64>,
    /// `-1` every participant, else the group it belongs to.
    #[serde(default)]
    pub(crate) groupid: Option<i64>,
    /// Timed posts: shown to students from this time (`0`: at once) …
    #[serde(default)]
    pub(crate) timestart: Option<i64>,
    /// … until this one (`0`: for ever).
    #[serde(default)]
    pub(crate) timeend: Option<i64>,
    /// Its posts but the first: deleting a reply that is not the last moves no time, only
    /// this count.
    #[serde(default)]
    pub(crate) numreplies: Option<i64>,
}

impl Discussion {
    /// The time the listing sorts it by: its last post, or its display start if later
    /// (a timed discussion that turns visible moves up without a new post).
    pub(crate) fn sort_time(&self) -> i64 {
        self.timemodified.max(self.timestart.unwrap_or(0))
    }

    /// Outside its display period at `now`: students do not see it (the token's user, who
    /// may see hidden timed posts, does).
    pub(crate) fn hidden_at(&self, now: i64) -> bool {
        self.timestart.unwrap_or(0) > now || self.timeend.is_some_and(|e| e > 0 && e <= now)
    }
}

/// `mod_forum_get_discussion_posts`.
#[derive(Debug, Deserialize)]
pub(crate) struct Posts {
    #[serde(default)]
    pub(crate) posts: Vec<Post>,
}

/// A forum of `mod_forum_get_forums_by_courses` (the answer is a list of them).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Forum {
    #[serde(default)]
    pub(crate) cmid: Option<i64>,
    /// `general`, `news`, `qanda`, `single`, `eachuser`, `blog`.
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
}

/// A post of a discussion.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Post {
    #[serde(default)]
    pub(crate) subject: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
    #[serde(default)]
    pub(crate) author: Option<Author>,
    #[serde(default)]
    pub(crate) parentid: Option<i64>,
    #[serde(default)]
    pub(crate) timecreated: Option<i64>,
    #[serde(default, deserialize_with = "flag")]
    pub(crate) isdeleted: Option<bool>,
    #[serde(default, deserialize_with = "flag")]
    pub(crate) isprivatereply: Option<bool>,
    #[serde(default)]
    pub(crate) attachments: Vec<Content>,
}

/// A post's author.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Author {
    #[serde(default)]
    pub(crate) fullname: Option<String>,
}

/// A user of `core_enrol_get_enrolled_users`.
#[derive(Debug, Deserialize)]
pub(crate) struct EnrolledUser {
    #[serde(default)]
    pub(crate) email: Option<String>,
    /// The user's groups in the course: sent only to a token that may access all groups
    /// (`moodle/site:accessallgroups`, a teacher's or a manager's).
    #[serde(default)]
    pub(crate) groups: Vec<GroupRef>,
}

/// A group a user is in.
#[derive(Debug, Deserialize)]
pub(crate) struct GroupRef {
    pub(crate) id: i64,
}

/// `mod_quiz_get_quizzes_by_courses`.
#[derive(Debug, Deserialize)]
pub(crate) struct Quizzes {
    #[serde(default)]
    pub(crate) quizzes: Vec<Quiz>,
}

/// A quiz as a student may see it: its intro and its dates. Its questions are not sent
/// through the web service but inside an attempt, which reading must not start.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Quiz {
    pub(crate) coursemodule: i64,
    #[serde(default)]
    pub(crate) intro: Option<String>,
    /// When it opens and closes (0: no restriction).
    #[serde(default)]
    pub(crate) timeopen: Option<i64>,
    #[serde(default)]
    pub(crate) timeclose: Option<i64>,
    /// The time limit of an attempt, in seconds (0: none).
    #[serde(default)]
    pub(crate) timelimit: Option<i64>,
    /// Attempts allowed (0: unlimited).
    #[serde(default)]
    pub(crate) attempts: Option<i64>,
    /// Sent only to users who may manage the activity (a teacher's or a manager's token).
    #[serde(default)]
    pub(crate) timemodified: Option<i64>,
}

/// `core_course_get_course_module`: `{"cm": {…}, "warnings": […]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct CourseModule {
    pub(crate) cm: ModuleInfo,
}

/// A course module by its id: where it is.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ModuleInfo {
    pub(crate) course: i64,
}
