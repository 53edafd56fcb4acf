//! [`MoodleCheckpoint`]: the courses of the run, the one being read, and where in its
//! forums' discussion pages the run is.

use serde::{Deserialize, Serialize};

/// A course of the run, with who may read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CourseFrame {
    /// The course id.
    pub id: i64,
    /// Its full name.
    #[serde(default)]
    pub name: String,
    /// The e-mail addresses of its active participants, where the token may read them
    /// (`core_enrol_get_enrolled_users`); the course is also the group `moodle:course:{id}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
    /// The e-mail addresses of each group's active members, by group id, where the token
    /// may read them (a teacher's token: Moodle tells a user's groups to who may access all
    /// groups); a group's discussions go to them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub groups: std::collections::BTreeMap<i64, Vec<String>>,
}

/// A forum of the current course, read after the course's other modules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ForumFrame {
    /// The forum's own id (the module's `instance`).
    pub id: i64,
    /// Its course module id.
    pub cmid: i64,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// The name of its course section.
    #[serde(default)]
    pub section: String,
    /// It has access restrictions (`availability`): its discussions are readable by nobody
    /// here, since the web service does not say who meets them.
    #[serde(default)]
    pub restricted: bool,
    /// A Q&A forum (`type` `qanda`), or one whose type could not be read: a student sees
    /// the replies only after posting, so only each discussion's first post is read.
    #[serde(default)]
    pub qanda: bool,
    /// Its page in Moodle (`/mod/forum/view.php?id=…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// Where a resumed Moodle sync starts.
///
/// The course list is taken once, when the run starts. A course is read in two steps: its
/// modules other than forums (one batch), then each forum's discussions, a page at a time,
/// the last-posted first. `page` is Moodle's page number of that listing; a discussion that
/// gets a new post while the run pages moves to the first page and is read by the next
/// incremental run (its `timemodified` is then past this run's window). A discussion
/// deleted (or sunk by a deleted post) ahead of the page boundary while the run pages moves
/// the later ones up a place: before each next page, the run asks which discussion now ends
/// the page before (one discussion, `perpage=1`) and, when it is not `last`, reads that page
/// again, so the one moved across the boundary is not skipped.
///
/// JSON: `{"started": true, "courses": [{"id": 12, "name": "Biology 101"}], "index": 0, "forums": [{"id": 7, "cmid": 40, "name": "News"}], "forum": 0, "page": 2}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MoodleCheckpoint {
    /// Whether the course list has been taken.
    #[serde(default)]
    pub started: bool,
    /// The courses of the run, in the order they are read.
    #[serde(default)]
    pub courses: Vec<CourseFrame>,
    /// The index in `courses` of the course being read (`courses.len()`: done).
    #[serde(default)]
    pub index: usize,
    /// The current course's forums once its other modules are read; none: not yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forums: Option<Vec<ForumFrame>>,
    /// The index in `forums` of the forum being read.
    #[serde(default)]
    pub forum: usize,
    /// The next discussion page of that forum (from 0). A run resumed here reads the page
    /// before first: a discussion deleted since would have shifted this page's first onto
    /// it. (Within a run, pages follow each other in seconds; a shift of more than a page
    /// between a stop and its resume can still skip.)
    #[serde(default)]
    pub page: u32,
    /// The id of the last discussion of the page before `page`, as this run read it: the
    /// next page is read only after checking that this discussion still ends that page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<i64>,
}

impl MoodleCheckpoint {
    /// The checkpoint of a sync that has not started.
    pub fn start() -> Self {
        Self::default()
    }
}
