//! A wiremock Moodle written from the web service reference (each function's
//! `execute_parameters()`/`execute_returns()` in the Moodle source): `POST
//! /webservice/rest/server.php` with the form fields `wstoken`, `wsfunction`,
//! `moodlewsrestformat=json` and the function's flattened parameters (`courseids[0]=…`,
//! `options[0][name]=…`); errors as HTTP 200 with `{"exception", "errorcode", "message"}`
//! (`invalidtoken`, `accessexception`, `requireloginerror`, `nopermissions`); files at
//! `/webservice/pluginfile.php/…` read with the `token` parameter.
//!
//! Functions: `core_webservice_get_site_info` (`userid`, `functions`),
//! `core_enrol_get_users_courses`, `core_course_get_courses_by_field`,
//! `core_enrol_get_enrolled_users` (`limitfrom`/`limitnumber`), `core_course_get_contents`
//! (sections → modules with `contents`; a book's `structure` entry and chapter
//! `index.html` files), `mod_page_get_pages_by_courses`, `mod_book_get_books_by_courses`,
//! `mod_assign_get_assignments`, `mod_forum_get_forum_discussions` (`sortorder=1`: pinned
//! first, then the last post first; `page`/`perpage`), `mod_forum_get_discussion_posts`
//! (`sortby`, `sortdirection`).
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)] // Test fixtures: a poisoned lock or a bad literal should fail the test loudly.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use connector_core::{Connector, Registry};
use serde_json::{Value, json};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const TOKEN: &str = "4f0d2c9be1a7e6d5c4b3a2910f8e7d6c";
pub const USER: i64 = 3;

pub fn time(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 10, 0, 0).unwrap()
        + chrono::Duration::minutes(i64::from(minute))
}

pub fn secs(minute: u32) -> i64 {
    time(minute).timestamp()
}

#[derive(Clone, Debug)]
pub struct File {
    pub path: String,
    pub name: String,
    pub body: Vec<u8>,
    pub minute: u32,
    /// The `filesize` listed; none: the body's length.
    pub size: Option<u64>,
    /// A `fileurl` on another host.
    pub elsewhere: bool,
}

impl File {
    pub fn new(name: &str, body: &[u8], minute: u32) -> Self {
        Self {
            path: "/".into(),
            name: name.into(),
            body: body.to_vec(),
            minute,
            size: None,
            elsewhere: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Post {
    pub id: i64,
    pub author: String,
    pub subject: String,
    pub message: String,
    pub minute: u32,
    pub parent: i64,
    pub private: bool,
}

#[derive(Clone, Debug)]
pub struct Discussion {
    pub id: i64,
    pub name: String,
    pub group: i64,
    pub pinned: bool,
    pub posts: Vec<Post>,
    pub malformed: bool,
    /// Starred by the token's user: listed after pinned ones, ahead of the rest.
    pub starred: bool,
    /// Timed posts: the display period (seconds; `0`: none).
    pub timestart: i64,
    pub timeend: i64,
}

impl Discussion {
    pub fn modified(&self) -> u32 {
        self.posts.iter().map(|p| p.minute).max().unwrap_or(0)
    }
}

#[derive(Clone, Debug)]
pub enum Kind {
    Page {
        content: String,
    },
    Book {
        chapters: Vec<(i64, String, String)>,
    },
    Resource {
        files: Vec<File>,
    },
    Url {
        target: String,
    },
    Label,
    Assign {
        files: Vec<File>,
        due: u32,
    },
    Forum {
        discussions: Vec<Discussion>,
    },
    Quiz,
}

#[derive(Clone, Debug)]
pub struct Module {
    pub cmid: i64,
    pub instance: i64,
    pub name: String,
    pub minute: u32,
    pub visible: bool,
    pub availability: Option<String>,
    pub intro: String,
    /// A forum's `type` (`general`, `qanda`, …).
    pub forum_type: &'static str,
    pub kind: Kind,
}

impl Module {
    pub fn new(cmid: i64, name: &str, minute: u32, kind: Kind) -> Self {
        Self {
            cmid,
            instance: cmid + 1000,
            name: name.into(),
            minute,
            visible: true,
            availability: None,
            intro: format!("<p>About {name}.</p>"),
            forum_type: "general",
            kind,
        }
    }

    pub fn modname(&self) -> &'static str {
        match self.kind {
            Kind::Page { .. } => "page",
            Kind::Book { .. } => "book",
            Kind::Resource { .. } => "resource",
            Kind::Url { .. } => "url",
            Kind::Label => "label",
            Kind::Assign { .. } => "assign",
            Kind::Forum { .. } => "forum",
            Kind::Quiz => "quiz",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Section {
    pub name: String,
    pub visible: bool,
    /// Restrictions the token's user does not meet, as Moodle tells them
    /// (`availabilityinfo`; sections have no `availability` in the answer).
    pub restriction: Option<String>,
    pub modules: Vec<Module>,
}

#[derive(Clone, Debug)]
pub struct Course {
    pub id: i64,
    pub fullname: String,
    pub visible: bool,
    pub emails: Vec<String>,
    pub sections: Vec<Section>,
    /// `core_course_get_contents` answers `requireloginerror`.
    pub locked: bool,
}

#[derive(Default)]
pub struct State {
    pub courses: Vec<Course>,
    /// Functions the token's service does not allow (`accessexception`).
    pub refused: HashSet<String>,
    /// `core_enrol_get_enrolled_users` answers `nopermissions`.
    pub users_hidden: bool,
    /// Group memberships `(course, group, e-mail)`, told with each user (`groups`), as to a
    /// token that may access all groups.
    pub group_members: Vec<(i64, i64, String)>,
    /// The token's user may not see hidden activities (a student): Moodle sends no module
    /// its `availability` key.
    pub student_token: bool,
    /// A discussion deleted once its posts are sent, as by a teacher while a run pages.
    pub delete_after_read: Option<i64>,
}

/// The fixture's Moodle; cheap to clone.
#[derive(Clone, Default)]
pub struct MoodleApi {
    pub state: Arc<Mutex<State>>,
    pub base: Arc<Mutex<String>>,
}

fn exception(exception: &str, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "exception": exception, "errorcode": code, "message": message,
    }))
}

fn ok(v: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(v)
}

pub const ALL_FUNCTIONS: [&str; 13] = [
    "core_webservice_get_site_info",
    "core_enrol_get_users_courses",
    "core_course_get_courses_by_field",
    "core_enrol_get_enrolled_users",
    "core_course_get_contents",
    "mod_page_get_pages_by_courses",
    "mod_book_get_books_by_courses",
    "mod_assign_get_assignments",
    "mod_forum_get_forums_by_courses",
    "mod_forum_get_forum_discussions",
    "mod_forum_get_discussion_posts",
    "mod_quiz_get_quizzes_by_courses",
    "core_course_get_course_module",
];

impl MoodleApi {
    pub fn new(courses: Vec<Course>) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                courses,
                ..State::default()
            })),
            base: Arc::default(),
        }
    }

    fn base(&self) -> String {
        self.base.lock().unwrap().clone()
    }

    fn file_url(&self, ctx: i64, area: &str, item: i64, f: &File) -> String {
        let host = if f.elsewhere {
            "https://files.elsewhere.example".to_owned()
        } else {
            self.base()
        };
        format!(
            "{host}/webservice/pluginfile.php/{ctx}/{area}/{item}{}{}?forcedownload=1",
            f.path, f.name
        )
    }

    fn file_json(&self, ctx: i64, area: &str, item: i64, f: &File, sort: i64) -> Value {
        json!({
            "type": "file", "filename": f.name, "filepath": f.path,
            "filesize": f.size.unwrap_or(f.body.len() as u64),
            "fileurl": self.file_url(ctx, area, item, f),
            "timecreated": secs(0), "timemodified": secs(f.minute), "sortorder": sort,
            "mimetype": mime(&f.name), "isexternalfile": false,
            "userid": 2, "author": "Admin User", "license": "allrightsreserved",
        })
    }

    fn module_json(&self, m: &Module) -> Value {
        let base = self.base();
        let ctx = m.cmid + 500;
        let contents: Vec<Value> = match &m.kind {
            Kind::Resource { files } => files
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    self.file_json(
                        ctx,
                        "mod_resource/content",
                        0,
                        f,
                        if i == 0 { 1 } else { 0 },
                    )
                })
                .collect(),
            Kind::Url { target } => vec![json!({
                "type": "url", "filename": m.name, "filepath": null, "filesize": 0,
                "fileurl": target, "timecreated": secs(0), "timemodified": secs(m.minute),
                "sortorder": 0, "userid": null, "author": null, "license": null,
            })],
            Kind::Book { chapters } => {
                let structure: Vec<Value> = chapters
                    .iter()
                    .map(|(id, title, _)| json!({"title": title, "href": format!("{id}/index.html"), "level": 0, "hidden": if title.starts_with("(hidden)") { "1" } else { "0" }, "subitems": []}))
                    .collect();
                let mut out = vec![json!({
                    "type": "content", "filename": "structure", "filepath": "/", "filesize": 0,
                    "fileurl": "", "content": serde_json::to_string(&structure).unwrap(),
                    "timecreated": secs(0), "timemodified": secs(m.minute), "sortorder": 0,
                })];
                for (id, title, _) in chapters {
                    out.push(json!({
                        "type": "file", "filename": "index.html", "filepath": format!("/{id}/"),
                        "filesize": 0,
                        "fileurl": format!("{base}/webservice/pluginfile.php/{ctx}/mod_book/chapter/{id}/index.html"),
                        "timecreated": secs(0), "timemodified": secs(m.minute), "sortorder": 0,
                        "content": title, "author": null, "license": null,
                    }));
                }
                out
            }
            _ => Vec::new(),
        };
        let mut v = json!({
            "id": m.cmid, "url": format!("{base}/mod/{}/view.php?id={}", m.modname(), m.cmid),
            "name": m.name, "instance": m.instance, "contextid": ctx,
            "visible": i32::from(m.visible), "uservisible": m.visible, "visibleoncoursepage": 1,
            "modicon": format!("{base}/theme/image.php/boost/{}/1/monologo", m.modname()),
            "modname": m.modname(), "modplural": format!("{}s", m.modname()),
            "availability": m.availability, "indent": 0, "onclick": "", "afterlink": null,
            "customdata": "\"\"", "noviewlink": false, "completion": 0,
            "downloadcontent": 1, "dates": [], "groupmode": 0,
            "contents": contents,
        });
        if matches!(m.kind, Kind::Label | Kind::Url { .. } | Kind::Quiz) {
            v["description"] = json!(m.intro);
        }
        if !contents_info_skip(m) {
            v["contentsinfo"] = json!({"filescount": 1, "filessize": 0, "lastmodified": secs(m.minute), "mimetypes": [], "repositorytype": ""});
        }
        v
    }

    fn files(&self) -> HashMap<String, Vec<u8>> {
        let state = self.state.lock().unwrap();
        let mut out = HashMap::new();
        for c in &state.courses {
            for s in &c.sections {
                for m in &s.modules {
                    let ctx = m.cmid + 500;
                    match &m.kind {
                        Kind::Resource { files } => {
                            for f in files {
                                out.insert(format!("/webservice/pluginfile.php/{ctx}/mod_resource/content/0{}{}", f.path, f.name), f.body.clone());
                            }
                        }
                        Kind::Assign { files, .. } => {
                            for f in files {
                                out.insert(format!("/webservice/pluginfile.php/{ctx}/mod_assign/introattachment/0{}{}", f.path, f.name), f.body.clone());
                            }
                        }
                        Kind::Book { chapters } => {
                            for (id, _, html) in chapters {
                                out.insert(format!("/webservice/pluginfile.php/{ctx}/mod_book/chapter/{id}/index.html"), html.clone().into_bytes());
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        out
    }

    fn modules(&self) -> Vec<(i64, Module)> {
        let state = self.state.lock().unwrap();
        state
            .courses
            .iter()
            .flat_map(|c| {
                c.sections
                    .iter()
                    .flat_map(move |s| s.modules.iter().map(move |m| (c.id, m.clone())))
            })
            .collect()
    }

    fn call(&self, f: &str, p: &HashMap<String, String>) -> ResponseTemplate {
        let base = self.base();
        let int = |k: &str| p.get(k).and_then(|v| v.parse::<i64>().ok());
        let state = self.state.lock().unwrap();
        if state.refused.contains(f) {
            return exception(
                "webservice_access_exception",
                "accessexception",
                "Access control exception",
            );
        }
        let courses = state.courses.clone();
        let users_hidden = state.users_hidden;
        let group_members = state.group_members.clone();
        let refused = state.refused.clone();
        drop(state);
        let course_json = |c: &Course| {
            json!({
                "id": c.id, "shortname": format!("C{}", c.id), "fullname": c.fullname, "displayname": c.fullname,
                "enrolledusercount": c.emails.len(), "idnumber": "", "visible": i32::from(c.visible),
                "summary": "", "summaryformat": 1, "format": "topics", "showgrades": true, "lang": "",
                "enablecompletion": false, "category": 1, "progress": null, "completed": null,
                "startdate": secs(0), "enddate": 0, "marker": 0, "lastaccess": null, "isfavourite": false,
                "hidden": false, "overviewfiles": [], "showactivitydates": true, "showcompletionconditions": null,
                "timemodified": secs(0),
            })
        };
        match f {
            "core_webservice_get_site_info" => ok(json!({
                "sitename": "Example University", "username": "ragbot", "firstname": "Rag", "lastname": "Bot",
                "fullname": "Rag Bot", "lang": "en", "userid": USER, "siteurl": base,
                "userpictureurl": format!("{base}/theme/image.php/boost/core/1/u/f1"),
                "functions": ALL_FUNCTIONS.iter().filter(|n| !refused.contains(**n)).map(|n| json!({"name": n, "version": "2024042200"})).collect::<Vec<_>>(),
                "downloadfiles": 1, "uploadfiles": 0, "release": "4.4 (Build: 20240422)", "version": "2024042200",
                "mobilecssurl": "", "advancedfeatures": [], "usercanmanageownfiles": true, "userquota": 0,
                "usermaxuploadfilesize": -1, "userhomepage": 1, "siteid": 1, "sitecalendartype": "gregorian",
                "usercalendartype": "gregorian", "userissiteadmin": false, "theme": "boost",
            })),
            "core_enrol_get_users_courses" => {
                if int("userid") != Some(USER) {
                    return exception(
                        "invalid_parameter_exception",
                        "invalidparameter",
                        "Invalid parameter value detected",
                    );
                }
                ok(Value::Array(courses.iter().map(course_json).collect()))
            }
            "core_course_get_courses_by_field" => {
                let ids: Vec<i64> = p
                    .get("value")
                    .map(|v| v.split(',').filter_map(|s| s.parse().ok()).collect())
                    .unwrap_or_default();
                ok(
                    json!({"courses": courses.iter().filter(|c| ids.contains(&c.id)).map(course_json).collect::<Vec<_>>(), "warnings": []}),
                )
            }
            "core_enrol_get_enrolled_users" => {
                if users_hidden {
                    return exception(
                        "required_capability_exception",
                        "nopermissions",
                        "Sorry, but you do not currently have permissions to do that (View participants).",
                    );
                }
                let Some(c) = courses.iter().find(|c| Some(c.id) == int("courseid")) else {
                    return exception(
                        "dml_missing_record_exception",
                        "invalidrecord",
                        "Can't find data record in database table course.",
                    );
                };
                let mut opts = HashMap::new();
                for i in 0..8 {
                    if let (Some(n), Some(v)) = (
                        p.get(&format!("options[{i}][name]")),
                        p.get(&format!("options[{i}][value]")),
                    ) {
                        opts.insert(n.clone(), v.clone());
                    }
                }
                let from: usize = opts
                    .get("limitfrom")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let n: usize = opts
                    .get("limitnumber")
                    .and_then(|v| v.parse().ok())
                    .filter(|n| *n > 0)
                    .unwrap_or(usize::MAX);
                let with_groups = opts
                    .get("userfields")
                    .is_some_and(|f| f.split(',').any(|f| f == "groups"));
                let users: Vec<Value> = c.emails.iter().enumerate().skip(from).take(n)
                    .map(|(i, e)| {
                        let mut u = json!({"id": 100 + i, "fullname": format!("User {i}"), "email": e});
                        if with_groups {
                            u["groups"] = group_members.iter()
                                .filter(|(course, _, who)| *course == c.id && who == e)
                                .map(|(_, g, _)| json!({"id": g, "name": format!("Group {g}"), "description": "", "descriptionformat": 1}))
                                .collect();
                        }
                        u
                    })
                    .collect();
                ok(Value::Array(users))
            }
            "core_course_get_contents" => {
                let Some(c) = courses.iter().find(|c| Some(c.id) == int("courseid")) else {
                    return exception(
                        "dml_missing_record_exception",
                        "invalidrecord",
                        "Can't find data record in database table course.",
                    );
                };
                if c.locked {
                    return exception(
                        "require_login_exception",
                        "requireloginerror",
                        "Course or activity not accessible. (Not enrolled)",
                    );
                }
                let student = self.state.lock().unwrap().student_token;
                let sections: Vec<Value> = c.sections.iter().enumerate().map(|(i, s)| json!({
                    "id": c.id * 100 + i as i64, "name": s.name, "visible": i32::from(s.visible), "summary": "",
                    "summaryformat": 1, "section": i, "hiddenbynumsections": 0, "uservisible": s.visible,
                    "availabilityinfo": s.restriction, "component": null, "itemid": null,
                    "modules": s.modules.iter().map(|m| {
                        let mut v = self.module_json(m);
                        if student {
                            v.as_object_mut().map(|o| o.remove("availability"));
                        }
                        v
                    }).collect::<Vec<_>>(),
                })).collect();
                ok(Value::Array(sections))
            }
            "mod_page_get_pages_by_courses"
            | "mod_book_get_books_by_courses"
            | "mod_assign_get_assignments" => {
                let course = int("courseids[0]");
                let mods: Vec<(i64, Module)> = self
                    .modules()
                    .into_iter()
                    .filter(|(c, _)| Some(*c) == course)
                    .collect();
                match f {
                    "mod_page_get_pages_by_courses" => ok(
                        json!({"pages": mods.iter().filter_map(|(c, m)| match &m.kind {
                        Kind::Page { content } => Some(json!({
                            "id": m.instance, "coursemodule": m.cmid, "course": c, "name": m.name,
                            "intro": m.intro, "introformat": 1, "introfiles": [], "content": content,
                            "contentformat": 1, "contentfiles": [], "legacyfiles": 0, "legacyfileslast": null,
                            "display": 5, "displayoptions": "a:1:{s:10:\"printintro\";s:1:\"0\";}",
                            "revision": 1, "timemodified": secs(m.minute), "section": 1, "visible": 1,
                            "groupmode": 0, "groupingid": 0, "lang": "",
                        })),
                        _ => None,
                    }).collect::<Vec<_>>(), "warnings": []}),
                    ),
                    "mod_book_get_books_by_courses" => ok(
                        json!({"books": mods.iter().filter_map(|(c, m)| match &m.kind {
                        Kind::Book { .. } => Some(json!({
                            "id": m.instance, "coursemodule": m.cmid, "course": c, "name": m.name,
                            "intro": m.intro, "introformat": 1, "introfiles": [], "numbering": 1, "navstyle": 1,
                            "customtitles": 0, "revision": 1, "timecreated": secs(0), "timemodified": secs(m.minute),
                            "section": 1, "visible": true, "groupmode": 0, "groupingid": 0,
                        })),
                        _ => None,
                    }).collect::<Vec<_>>(), "warnings": []}),
                    ),
                    _ => ok(json!({"courses": [{
                        "id": course, "fullname": "", "shortname": "", "timemodified": secs(0),
                        "assignments": mods.iter().filter_map(|(c, m)| match &m.kind {
                            Kind::Assign { files, due } => Some(json!({
                                "id": m.instance, "cmid": m.cmid, "course": c, "name": m.name,
                                "nosubmissions": 0, "submissiondrafts": 0, "sendnotifications": 0,
                                "sendlatenotifications": 0, "sendstudentnotifications": 1,
                                "duedate": secs(*due), "allowsubmissionsfromdate": secs(0), "grade": 100,
                                "timemodified": secs(m.minute), "completionsubmit": 0, "cutoffdate": 0,
                                "gradingduedate": 0, "teamsubmission": 0, "requireallteammemberssubmit": 0,
                                "teamsubmissiongroupingid": 0, "blindmarking": 0, "hidegrader": 0,
                                "revealidentities": 0, "attemptreopenmethod": "none", "maxattempts": -1,
                                "markingworkflow": 0, "markingallocation": 0, "requiresubmissionstatement": 0,
                                "preventsubmissionnotingroup": 0, "configs": [],
                                "intro": m.intro, "introformat": 1, "introfiles": [],
                                "introattachments": files.iter().map(|f| {
                                    let mut v = self.file_json(m.cmid + 500, "mod_assign/introattachment", 0, f, 0);
                                    v.as_object_mut().unwrap().retain(|k, _| ["filename", "filepath", "filesize", "fileurl", "timemodified", "mimetype", "isexternalfile"].contains(&k.as_str()));
                                    v
                                }).collect::<Vec<_>>(),
                            })),
                            _ => None,
                        }).collect::<Vec<_>>(),
                    }], "warnings": []})),
                }
            }
            // Moodle's `mod_quiz_external::get_quizzes_by_courses`: the standard module fields,
            // dates and limits; `timemodified` only for who may manage the activity (this
            // fixture's token, a teacher's).
            "mod_quiz_get_quizzes_by_courses" => {
                let course = int("courseids[0]");
                ok(json!({"quizzes": self.modules().into_iter()
                    .filter(|(c, m)| Some(*c) == course && matches!(m.kind, Kind::Quiz))
                    .map(|(c, m)| json!({
                        "id": m.instance, "coursemodule": m.cmid, "course": c, "name": m.name,
                        "intro": m.intro, "introformat": 1, "introfiles": [], "lang": "",
                        "timeopen": secs(59), "timeclose": 0, "timelimit": 1800,
                        "overduehandling": "autosubmit", "graceperiod": 0, "preferredbehaviour": "deferredfeedback",
                        "canredoquestions": 0, "attempts": 2, "attemptonlast": 0, "grademethod": 1,
                        "decimalpoints": 2, "questiondecimalpoints": -1, "sumgrades": 10, "grade": 10,
                        "hasfeedback": 0, "section": 1, "visible": 1, "groupmode": 0, "groupingid": 0,
                        "timecreated": secs(0), "timemodified": secs(m.minute),
                    }))
                    .collect::<Vec<_>>(), "warnings": []}))
            }
            // `core_course_external::get_course_module`: where a module is.
            "core_course_get_course_module" => {
                let found = self
                    .modules()
                    .into_iter()
                    .find(|(_, m)| Some(m.cmid) == int("cmid"));
                match found {
                    Some((c, m)) => ok(json!({"cm": {
                        "id": m.cmid, "course": c, "module": 16, "name": m.name, "modname": m.modname(),
                        "instance": m.instance, "section": 1, "sectionnum": 1, "groupmode": 0,
                        "groupingid": 0, "completion": 0, "idnumber": "", "added": secs(0),
                        "score": 0, "indent": 0, "visible": i32::from(m.visible), "visibleoncoursepage": 1,
                        "visibleold": 1, "completiongradeitemnumber": null, "completionview": 0,
                        "completionexpected": 0, "showdescription": 0, "availability": m.availability,
                    }, "warnings": []})),
                    None => exception(
                        "dml_missing_record_exception",
                        "invalidrecord",
                        "Can't find data record in database table course_modules.",
                    ),
                }
            }
            "mod_forum_get_forums_by_courses" => {
                let course = int("courseids[0]");
                ok(Value::Array(
                    self.modules()
                        .into_iter()
                        .filter(|(c, m)| Some(*c) == course && matches!(m.kind, Kind::Forum { .. }))
                        .map(|(c, m)| json!({
                            "id": m.instance, "course": c, "type": m.forum_type, "name": m.name,
                            "intro": m.intro, "introformat": 1, "introfiles": [], "duedate": 0,
                            "cutoffdate": 0, "assessed": 0, "assesstimestart": 0, "assesstimefinish": 0,
                            "scale": 0, "grade_forum": 0, "grade_forum_notify": 0, "maxbytes": 0,
                            "maxattachments": 9, "forcesubscribe": 0, "trackingtype": 1, "rsstype": 0,
                            "rssarticles": 0, "timemodified": secs(m.minute), "warnafter": 0,
                            "blockafter": 0, "blockperiod": 0, "completiondiscussions": 0,
                            "completionreplies": 0, "completionposts": 0, "cmid": m.cmid,
                            "numdiscussions": 0, "cancreatediscussions": true, "lockdiscussionafter": 0,
                            "istracked": false,
                        }))
                        .collect(),
                ))
            }
            "mod_forum_get_forum_discussions" => {
                let Some((_, m)) = self
                    .modules()
                    .into_iter()
                    .find(|(_, m)| Some(m.instance) == int("forumid"))
                else {
                    return exception(
                        "dml_missing_record_exception",
                        "invalidrecord",
                        "Can't find data record in database table forum.",
                    );
                };
                let Kind::Forum { discussions } = &m.kind else {
                    return exception(
                        "dml_missing_record_exception",
                        "invalidrecord",
                        "Can't find data record in database table forum.",
                    );
                };
                let mut ds = discussions.clone();
                // sortorder=1 (SORTORDER_LASTPOST_DESC): pinned first, then by last post.
                assert_eq!(p.get("sortorder").map(String::as_str), Some("1"));
                // Starred (favourite) ones next, then by last post or display start
                // (`discussion_list::get_sort_order` with timed posts on).
                let key = |d: &Discussion| secs(d.modified()).max(d.timestart);
                ds.sort_by(|a, b| {
                    b.pinned
                        .cmp(&a.pinned)
                        .then(b.starred.cmp(&a.starred))
                        .then(key(b).cmp(&key(a)))
                        .then(b.id.cmp(&a.id))
                });
                let page: usize = int("page").unwrap_or(-1).max(0) as usize;
                let per: usize = int("perpage").unwrap_or(0).max(0) as usize;
                let slice: Vec<&Discussion> = if per == 0 {
                    ds.iter().collect()
                } else {
                    ds.iter().skip(page * per).take(per).collect()
                };
                ok(json!({"discussions": slice.iter().map(|d| {
                    let first = d.posts.first();
                    if d.malformed {
                        return json!({"id": d.id * 10, "discussion": d.id, "name": d.name, "timemodified": "yesterday"});
                    }
                    json!({
                        "id": d.id * 10, "name": d.name, "groupid": d.group, "timemodified": secs(d.modified()),
                        "usermodified": 5, "timestart": d.timestart, "timeend": d.timeend, "discussion": d.id, "parent": 0,
                        "userid": 5, "created": secs(first.map_or(0, |p| p.minute)), "modified": secs(d.modified()),
                        "mailed": 0, "subject": d.name, "message": first.map(|p| p.message.clone()).unwrap_or_default(),
                        "messageformat": 1, "messagetrust": 0, "attachment": "", "totalscore": 0, "mailnow": 0,
                        "userfullname": first.map(|p| p.author.clone()).unwrap_or_default(),
                        "usermodifiedfullname": "", "userpictureurl": "", "usermodifiedpictureurl": "",
                        "numreplies": d.posts.len().saturating_sub(1), "numunread": 0, "pinned": d.pinned,
                        "locked": false, "starred": d.starred, "canreply": true, "canlock": false, "canfavourite": true,
                    })
                }).collect::<Vec<_>>(), "warnings": []}))
            }
            "mod_forum_get_discussion_posts" => {
                let id = int("discussionid");
                let found = self.modules().into_iter().find_map(|(c, m)| match m.kind {
                    Kind::Forum { discussions } => discussions
                        .into_iter()
                        .find(|d| Some(d.id) == id)
                        .map(|d| (c, m.instance, d)),
                    _ => None,
                });
                let Some((c, forum, d)) = found else {
                    return exception(
                        "dml_missing_record_exception",
                        "invalidrecord",
                        "Can't find data record in database table forum_discussions.",
                    );
                };
                let mut st = self.state.lock().unwrap();
                if st.delete_after_read.is_some_and(|gone| gone == d.id) {
                    st.delete_after_read = None;
                    for m in st
                        .courses
                        .iter_mut()
                        .flat_map(|c| c.sections.iter_mut())
                        .flat_map(|s| s.modules.iter_mut())
                    {
                        if let Kind::Forum { discussions } = &mut m.kind {
                            discussions.retain(|x| x.id != d.id);
                        }
                    }
                }
                drop(st);
                let mut posts = d.posts.clone();
                posts.sort_by_key(|p| (p.minute, p.id));
                if p.get("sortdirection").map(String::as_str) != Some("ASC") {
                    posts.reverse();
                }
                ok(json!({"posts": posts.iter().map(|p| json!({
                    "id": p.id, "subject": p.subject, "replysubject": format!("Re: {}", p.subject),
                    "message": p.message, "messageformat": 1,
                    "author": {"id": 5, "fullname": p.author, "isdeleted": false, "groups": [], "urls": {"profile": format!("{base}/user/view.php?id=5"), "profileimage": ""}},
                    "discussionid": d.id, "hasparent": p.parent > 0, "parentid": if p.parent > 0 { json!(p.parent) } else { Value::Null },
                    "timecreated": secs(p.minute), "timemodified": secs(p.minute), "unread": null, "isdeleted": false,
                    "isprivatereply": p.private, "haswordcount": false, "wordcount": null, "charcount": null,
                    "capabilities": {"view": true, "edit": false, "delete": false, "split": false, "reply": true, "selfenrol": false, "export": false, "controlreadstatus": false, "canreplyprivately": false},
                    "urls": {"view": format!("{base}/mod/forum/discuss.php?d={}#p{}", d.id, p.id)},
                    "attachments": [], "messageinlinefiles": [], "tags": [], "html": {"rating": null, "taglist": null, "authorsubheading": ""},
                })).collect::<Vec<_>>(), "forumid": forum, "courseid": c, "ratinginfo": null, "warnings": []}))
            }
            _ => exception(
                "dml_missing_record_exception",
                "invalidrecord",
                "Can't find data record in database table external_functions.",
            ),
        }
    }
}

fn contents_info_skip(m: &Module) -> bool {
    !matches!(m.kind, Kind::Resource { .. } | Kind::Book { .. })
}

fn mime(name: &str) -> &'static str {
    if name.ends_with(".pdf") {
        "application/pdf"
    } else if name.ends_with(".txt") {
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

impl Respond for MoodleApi {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let path = req.url.path().to_owned();
        if path.starts_with("/webservice/pluginfile.php/") {
            let query: HashMap<String, String> = req.url.query_pairs().into_owned().collect();
            if query.get("token").map(String::as_str) != Some(TOKEN) {
                return ResponseTemplate::new(403).set_body_json(json!({
                    "exception": "moodle_exception", "errorcode": "invalidtoken",
                    "message": "Invalid token - token not found",
                }));
            }
            return match self.files().get(&path) {
                Some(body) => ResponseTemplate::new(200).set_body_bytes(body.clone()),
                None => ResponseTemplate::new(404)
                    .set_body_string("Sorry, the requested file could not be found"),
            };
        }
        if path != "/webservice/rest/server.php" || req.method.as_str() != "POST" {
            return ResponseTemplate::new(404)
                .set_body_string("<html><body>Not found</body></html>");
        }
        let form: HashMap<String, String> = url::form_urlencoded::parse(&req.body)
            .into_owned()
            .collect();
        if form.get("moodlewsrestformat").map(String::as_str) != Some("json") {
            return ResponseTemplate::new(200)
                .set_body_string("<?xml version=\"1.0\"?><RESPONSE/>");
        }
        if form.get("wstoken").map(String::as_str) != Some(TOKEN) {
            return exception(
                "moodle_exception",
                "invalidtoken",
                "Invalid token - token not found",
            );
        }
        let f = form.get("wsfunction").cloned().unwrap_or_default();
        self.call(&f, &form)
    }
}

pub async fn start(api: MoodleApi) -> MockServer {
    let server = MockServer::start().await;
    *api.base.lock().unwrap() = server.uri();
    Mock::given(path_regex("^/"))
        .respond_with(api)
        .mount(&server)
        .await;
    server
}

fn post(id: i64, author: &str, subject: &str, message: &str, minute: u32, parent: i64) -> Post {
    Post {
        id,
        author: author.into(),
        subject: subject.into(),
        message: message.into(),
        minute,
        parent,
        private: false,
    }
}

/// Biology 101 (course 12): a page, a book of two chapters, a resource (PDF), a URL, a
/// label, an assignment with one attachment, a forum (news) with two discussions (one with
/// a private reply, one of a group), a hidden page, a restricted page and a quiz; a hidden
/// section. Chemistry (course 15): one page. A hidden course 18.
pub fn standard() -> MoodleApi {
    let mut restricted = Module::new(
        46,
        "Exam answers",
        3,
        Kind::Page {
            content: "<p>Answers.</p>".into(),
        },
    );
    restricted.availability =
        Some(r#"{"op":"&","c":[{"type":"date","d":">=","t":1893456000}],"showc":[true]}"#.into());
    let mut hidden = Module::new(
        47,
        "Draft notes",
        3,
        Kind::Page {
            content: "<p>Draft.</p>".into(),
        },
    );
    hidden.visible = false;
    let mut private = post(
        903,
        "Ann Student",
        "Re: Welcome",
        "<p>Private question.</p>",
        9,
        901,
    );
    private.private = true;
    let bio = Course {
        id: 12,
        fullname: "Biology 101".into(),
        visible: true,
        emails: vec!["ann@example.edu".into(), "prof@example.edu".into()],
        locked: false,
        sections: vec![
            Section {
                name: "General".into(),
                visible: true,
                restriction: None,
                modules: vec![
                    Module::new(
                        40,
                        "Announcements",
                        1,
                        Kind::Forum {
                            discussions: vec![
                                Discussion {
                                    id: 90,
                                    name: "Welcome".into(),
                                    group: -1,
                                    pinned: false,
                                    malformed: false,
                                    starred: false,
                                    timestart: 0,
                                    timeend: 0,
                                    posts: vec![
                                        post(
                                            901,
                                            "Prof Oak",
                                            "Welcome",
                                            "<p>Welcome to <b>Biology</b>.</p>",
                                            2,
                                            0,
                                        ),
                                        post(
                                            902,
                                            "Ann Student",
                                            "Re: Welcome",
                                            "<p>Thanks!</p>",
                                            4,
                                            901,
                                        ),
                                        private,
                                    ],
                                },
                                Discussion {
                                    id: 91,
                                    name: "Lab group A".into(),
                                    group: 7,
                                    pinned: false,
                                    malformed: false,
                                    starred: false,
                                    timestart: 0,
                                    timeend: 0,
                                    posts: vec![post(
                                        911,
                                        "Prof Oak",
                                        "Lab group A",
                                        "<p>Meet at the lab.</p>",
                                        5,
                                        0,
                                    )],
                                },
                            ],
                        },
                    ),
                    Module::new(
                        41,
                        "Syllabus",
                        2,
                        Kind::Page {
                            content: "<h2>Weeks</h2><ul><li>Cells</li><li>Genes</li></ul>".into(),
                        },
                    ),
                    Module::new(42, "Welcome label", 0, Kind::Label),
                ],
            },
            Section {
                name: "Week 1".into(),
                visible: true,
                restriction: None,
                modules: vec![
                    Module::new(
                        43,
                        "Cell handbook",
                        6,
                        Kind::Book {
                            chapters: vec![
                                (1, "Membranes".into(), "<p>Lipid bilayers.</p>".into()),
                                (2, "Organelles".into(), "<p>Mitochondria.</p>".into()),
                            ],
                        },
                    ),
                    Module::new(
                        44,
                        "Lecture slides",
                        7,
                        Kind::Resource {
                            files: vec![File::new("slides.pdf", b"%PDF-1.4 slides", 7)],
                        },
                    ),
                    Module::new(
                        45,
                        "Khan Academy",
                        8,
                        Kind::Url {
                            target: "https://www.khanacademy.org/science/biology".into(),
                        },
                    ),
                    restricted,
                    hidden,
                    Module::new(
                        48,
                        "Essay 1",
                        10,
                        Kind::Assign {
                            files: vec![File::new("rubric.txt", b"Rubric: clarity.", 10)],
                            due: 600,
                        },
                    ),
                    Module::new(49, "Quiz 1", 3, Kind::Quiz),
                ],
            },
            Section {
                name: "Hidden week".into(),
                visible: false,
                restriction: None,
                modules: vec![Module::new(
                    50,
                    "Secret",
                    3,
                    Kind::Page {
                        content: "<p>Hidden.</p>".into(),
                    },
                )],
            },
        ],
    };
    let chem = Course {
        id: 15,
        fullname: "Chemistry".into(),
        visible: true,
        emails: vec!["chem@example.edu".into()],
        locked: false,
        sections: vec![Section {
            name: "General".into(),
            visible: true,
            restriction: None,
            modules: vec![Module::new(
                60,
                "Periodic table",
                11,
                Kind::Page {
                    content: "<p>H He Li</p>".into(),
                },
            )],
        }],
    };
    let hidden_course = Course {
        id: 18,
        fullname: "Archived".into(),
        visible: false,
        emails: vec![],
        locked: false,
        sections: vec![Section {
            name: "General".into(),
            visible: true,
            restriction: None,
            modules: vec![Module::new(
                70,
                "Old",
                1,
                Kind::Page {
                    content: "<p>Old.</p>".into(),
                },
            )],
        }],
    };
    let api = MoodleApi::new(vec![bio, chem, hidden_course]);
    // Ann is in Biology's lab group A (7).
    api.state.lock().unwrap().group_members = vec![(12, 7, "ann@example.edu".into())];
    api
}

pub fn config(uri: &str, extra: Value) -> Value {
    let mut config = json!({
        "moodle_url": uri,
        "credentials": {"moodle_token": TOKEN},
        "allowed_hosts": ["127.0.0.1", "localhost"],
    });
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    config
}

pub fn build(uri: &str, extra: Value) -> Arc<dyn Connector> {
    let mut registry = Registry::new();
    connector_misc::register(&mut registry);
    registry
        .build("moodle", config(uri, extra))
        .expect("a valid config")
}

/// The web service calls the server saw, in order: each call's form (`wsfunction` and
/// its parameters).
pub async fn calls(server: &MockServer) -> Vec<HashMap<String, String>> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/webservice/rest/server.php")
        .map(|r| url::form_urlencoded::parse(&r.body).into_owned().collect())
        .collect()
}

/// The `wsfunction`s of the web service calls the server saw, in order.
pub async fn functions_called(server: &MockServer) -> Vec<String> {
    calls(server)
        .await
        .into_iter()
        .filter_map(|mut form| form.remove("wsfunction"))
        .collect()
}

/// The discussion pages of `perpage` the server was asked for (not the one-discussion
/// checks of a page boundary).
pub async fn discussion_pages(server: &MockServer, perpage: u32) -> usize {
    calls(server)
        .await
        .iter()
        .filter(|form| {
            form.get("wsfunction").map(String::as_str) == Some("mod_forum_get_forum_discussions")
                && form.get("perpage") == Some(&perpage.to_string())
        })
        .count()
}

/// Requests the server saw whose path starts with `prefix`.
pub async fn requests_to(server: &MockServer, prefix: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path().starts_with(prefix))
        .collect()
}
