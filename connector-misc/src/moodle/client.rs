//! The Moodle web service calls the connector makes, all as
//! `POST {moodle_url}/webservice/rest/server.php` with the form fields `wstoken`,
//! `wsfunction` and `moodlewsrestformat=json` (the token in the body, never in a URL that a
//! proxy or a log could keep):
//!
//! - `core_webservice_get_site_info`: the token works; its user and the functions its
//!   service allows;
//! - `core_enrol_get_users_courses` (`userid`), or `core_course_get_courses_by_field`
//!   (`field=ids`) for the configured `course_ids`: the courses;
//! - `core_enrol_get_enrolled_users` (`courseid`, `options` `userfields`, `limitfrom`,
//!   `limitnumber`): who may read a course;
//! - `core_course_get_contents` (`courseid`): sections → modules → `contents` files;
//! - `mod_page_get_pages_by_courses`, `mod_book_get_books_by_courses`,
//!   `mod_assign_get_assignments` (`courseids[0]`): the activities' own text;
//! - `mod_forum_get_forums_by_courses` (`courseids[0]`): each forum's type (Q&A or not);
//! - `mod_quiz_get_quizzes_by_courses` (`courseids[0]`): each quiz's intro and dates;
//! - `core_course_get_course_module` (`cmid`): the course of a module, when items are
//!   fetched again by id;
//! - `mod_forum_get_forum_discussions` (`forumid`, `sortorder=1`: last post first, `page`,
//!   `perpage`) and `mod_forum_get_discussion_posts` (`discussionid`, `sortby=created`,
//!   `sortdirection=ASC`).
//!
//! Errors come back as HTTP 200 with `{"exception", "errorcode", "message"}`: `invalidtoken`
//! (and the other token codes) fail the sync as `Unauthenticated` naming
//! `credentials.moodle_token`; `accessexception`, `nopermissions`, `requireloginerror` are
//! `PermissionDenied`; `invalidrecord` is `NotFound`; the others `InvalidData`, each naming
//! the function. Files (`fileurl`, `…/webservice/pluginfile.php/…`) are read with the token
//! as the `token` parameter of that request alone, and only on the site's own origin.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use connector_core::http::{ErrorClass, HttpClient, StatusCode};
use connector_core::spool::{Spool, SpooledBody};
use connector_core::{Error, ErrorKind, Result, Secret, SyncContext};
use serde::de::DeserializeOwned;
use url::Url;

use super::SOURCE;
use super::model::{
    AssignCourses, Books, Course, CourseModule, CoursesByField, Discussions, EnrolledUser,
    Exception, Forum, Pages, Posts, Quizzes, Section, SiteInfo,
};

/// Users per `core_enrol_get_enrolled_users` request.
const USERS_PER_PAGE: u32 = 500;

/// Requests to one Moodle site; cheap to clone.
#[derive(Clone)]
pub(crate) struct Client {
    http: HttpClient,
    /// The site root, ending with `/`.
    pub(crate) site: Url,
    server: Url,
    token: Secret,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("site", &self.site.as_str())
            .finish_non_exhaustive()
    }
}

impl Client {
    pub(crate) fn new(http: HttpClient, site: Url, token: Secret) -> Result<Self> {
        let server = site.join("webservice/rest/server.php").map_err(|e| {
            Error::internal("the site URL cannot take the web service path")
                .with_connector(SOURCE)
                .with_cause(e)
        })?;
        Ok(Self {
            http,
            site,
            server,
            token,
        })
    }

    /// This client counting its requests into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            ..self.clone()
        }
    }

    /// Calls `function` with `params` (Moodle's flattened form: `courseids[0]=5`).
    async fn call<T: DeserializeOwned>(
        &self,
        function: &'static str,
        params: &[(String, String)],
    ) -> Result<T> {
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("wstoken", self.token.expose())
                .append_pair("wsfunction", function)
                .append_pair("moodlewsrestformat", "json");
            for (k, v) in params {
                form.append_pair(k, v);
            }
            form.finish()
        };
        let response = self
            .http
            .post(self.server.clone())
            .body(body, "application/x-www-form-urlencoded")
            // Every function called here only reads.
            .idempotent(true)
            .send()
            .await
            .map_err(|e| e.with_item(function))?;
        response.json::<T>().map_err(|e| {
            Error::new(
                ErrorKind::InvalidData,
                format!("{function} answered in an unexpected shape: {e}"),
            )
            .with_connector(SOURCE)
            .with_item(function)
        })
    }

    pub(crate) async fn site_info(&self) -> Result<SiteInfo> {
        self.call("core_webservice_get_site_info", &[]).await
    }

    pub(crate) async fn users_courses(&self, userid: i64) -> Result<Vec<Course>> {
        self.call(
            "core_enrol_get_users_courses",
            &[("userid".into(), userid.to_string())],
        )
        .await
    }

    pub(crate) async fn courses_by_ids(&self, ids: &[i64]) -> Result<Vec<Course>> {
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        let found: CoursesByField = self
            .call(
                "core_course_get_courses_by_field",
                &[
                    ("field".into(), "ids".into()),
                    ("value".into(), ids.join(",")),
                ],
            )
            .await?;
        Ok(found.courses)
    }

    /// The e-mail addresses of a course's active participants, where the token may see them,
    /// and those of each group's members, where it may see the groups.
    pub(crate) async fn enrolled_emails(
        &self,
        course: i64,
    ) -> Result<(Vec<String>, BTreeMap<i64, Vec<String>>)> {
        let mut groups: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut from = 0u32;
        loop {
            let users: Vec<EnrolledUser> = self
                .call(
                    "core_enrol_get_enrolled_users",
                    &[
                        ("courseid".into(), course.to_string()),
                        ("options[0][name]".into(), "userfields".into()),
                        ("options[0][value]".into(), "id,email,groups".into()),
                        ("options[1][name]".into(), "onlyactive".into()),
                        ("options[1][value]".into(), "1".into()),
                        ("options[2][name]".into(), "limitfrom".into()),
                        ("options[2][value]".into(), from.to_string()),
                        ("options[3][name]".into(), "limitnumber".into()),
                        ("options[3][value]".into(), USERS_PER_PAGE.to_string()),
                    ],
                )
                .await?;
            let n = users.len();
            let before = out.len();
            for user in users {
                let Some(email) = user.email.filter(|e| !e.is_empty() && !seen.contains(e)) else {
                    continue;
                };
                for g in &user.groups {
                    groups.entry(g.id).or_default().push(email.clone());
                }
                out.push(email);
            }
            seen.extend(out[before..].iter().cloned());
            // A short page ends the list; a longer one, or one of users already seen,
            // is a site that does not page this function (releases before `limitfrom`):
            // it sent the whole list.
            if n != USERS_PER_PAGE as usize || (n > 0 && out.len() == before) {
                for members in groups.values_mut() {
                    members.sort();
                    members.dedup();
                }
                return Ok((out, groups));
            }
            from += USERS_PER_PAGE;
        }
    }

    pub(crate) async fn contents(&self, course: i64) -> Result<Vec<Section>> {
        self.call(
            "core_course_get_contents",
            &[("courseid".into(), course.to_string())],
        )
        .await
    }

    fn courseids(course: i64) -> Vec<(String, String)> {
        vec![("courseids[0]".into(), course.to_string())]
    }

    pub(crate) async fn pages(&self, course: i64) -> Result<Pages> {
        self.call("mod_page_get_pages_by_courses", &Self::courseids(course))
            .await
    }

    pub(crate) async fn books(&self, course: i64) -> Result<Books> {
        self.call("mod_book_get_books_by_courses", &Self::courseids(course))
            .await
    }

    pub(crate) async fn assignments(&self, course: i64) -> Result<AssignCourses> {
        self.call("mod_assign_get_assignments", &Self::courseids(course))
            .await
    }

    /// The quizzes of a course: intro and dates.
    pub(crate) async fn quizzes(&self, course: i64) -> Result<Quizzes> {
        self.call("mod_quiz_get_quizzes_by_courses", &Self::courseids(course))
            .await
    }

    /// The course module `cmid`: where it is.
    pub(crate) async fn course_module(&self, cmid: i64) -> Result<CourseModule> {
        self.call(
            "core_course_get_course_module",
            &[("cmid".into(), cmid.to_string())],
        )
        .await
    }

    /// The forums of a course, with their type.
    pub(crate) async fn forums(&self, course: i64) -> Result<Vec<Forum>> {
        self.call("mod_forum_get_forums_by_courses", &Self::courseids(course))
            .await
    }

    /// One page of a forum's discussions, the last-posted first (pinned ones ahead).
    pub(crate) async fn discussions(
        &self,
        forum: i64,
        page: u32,
        perpage: u32,
    ) -> Result<Discussions> {
        self.call(
            "mod_forum_get_forum_discussions",
            &[
                ("forumid".into(), forum.to_string()),
                ("sortorder".into(), "1".into()),
                ("page".into(), page.to_string()),
                ("perpage".into(), perpage.to_string()),
            ],
        )
        .await
    }

    /// Every post of a discussion, oldest first.
    pub(crate) async fn posts(&self, discussion: i64) -> Result<Posts> {
        self.call(
            "mod_forum_get_discussion_posts",
            &[
                ("discussionid".into(), discussion.to_string()),
                ("sortby".into(), "created".into()),
                ("sortdirection".into(), "ASC".into()),
            ],
        )
        .await
    }

    /// The body of a module file at most `max` bytes. The token goes as the `token`
    /// parameter of this request alone (pluginfile.php takes it nowhere else), and only to
    /// the site's own origin and path: a `fileurl` elsewhere is refused.
    pub(crate) async fn download(&self, fileurl: &str, max: u64) -> Result<Bytes> {
        let url = self.token_url(fileurl)?;
        Ok(self
            .http
            .get(url)
            .max_body_bytes(max)
            .send()
            .await?
            .into_body())
    }

    /// [`download`](Self::download) into a file of `spool`, written as it arrives.
    pub(crate) async fn download_spooled(
        &self,
        fileurl: &str,
        max: u64,
        spool: &Spool,
    ) -> Result<SpooledBody> {
        let url = self.token_url(fileurl)?;
        self.http
            .get(url)
            .max_body_bytes(max)
            .spool_to(spool.clone())
            .send()
            .await?
            .into_spooled()
            .ok_or_else(|| {
                Error::internal("a file download was not spooled").with_connector(SOURCE)
            })
    }

    /// A checked `fileurl` with the token as its `token` parameter.
    fn token_url(&self, fileurl: &str) -> Result<Url> {
        let mut url = self.file_url(fileurl)?;
        url.query_pairs_mut()
            .append_pair("token", self.token.expose());
        Ok(url)
    }

    /// A `fileurl` checked to be on the site, without any `token` it may carry.
    pub(crate) fn file_url(&self, fileurl: &str) -> Result<Url> {
        let url = Url::parse(fileurl).map_err(|e| {
            Error::invalid_data("a file's fileurl is not a URL")
                .with_connector(SOURCE)
                .with_cause(e)
        })?;
        let url = strip_token(&url);
        if url.origin() != self.site.origin() || !url.path().starts_with(self.site.path()) {
            return Err(Error::invalid_data(format!(
                "the file at {} is not on the Moodle site: not read with the token",
                connector_core::error::redact_url(&url)
            ))
            .with_connector(SOURCE));
        }
        Ok(url)
    }
}

/// `url` without the `token` and `wstoken` parameters.
pub(crate) fn strip_token(url: &Url) -> Url {
    let mut out = url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "token" && k != "wstoken")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        out.set_query(None);
    } else {
        out.query_pairs_mut().clear().extend_pairs(kept);
    }
    out
}

/// `text` with `token` blanked out (an error body that echoes what it was sent).
fn scrub(text: &str, token: &str) -> String {
    if token.is_empty() {
        text.to_owned()
    } else {
        text.replace(token, "***")
    }
}

/// The classifier of 2xx answers: Moodle's exceptions come with HTTP 200.
pub(crate) fn on_success(
    token: Arc<str>,
) -> impl Fn(StatusCode, &[u8]) -> Option<ErrorClass> + Send + Sync + 'static {
    move |_: StatusCode, body: &[u8]| exception(body, &token)
}

/// The classifier of 4xx answers (a proxy, a site in maintenance, a wrong `moodle_url`),
/// with the token never in a message.
pub(crate) fn on_error(
    token: Arc<str>,
) -> impl Fn(StatusCode, &[u8]) -> Option<ErrorClass> + Send + Sync + 'static {
    move |status: StatusCode, body: &[u8]| {
        if let Some(class) = exception(body, &token) {
            return Some(class);
        }
        let said = scrub(
            &String::from_utf8_lossy(&body[..body.len().min(300)]),
            &token,
        );
        let kind = match status.as_u16() {
            401 => return None,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            _ => ErrorKind::InvalidData,
        };
        Some(ErrorClass::new(
            kind,
            format!("Moodle answered {status}: {said}"),
        ))
    }
}

/// A Moodle exception body as an error class; `None` for any other body (cheap: only an
/// object whose first bytes hold an `"errorcode"` key is parsed; answers are arrays or
/// objects of other keys, and a file is rarely such JSON).
fn exception(body: &[u8], token: &str) -> Option<ErrorClass> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    if body[start] != b'{' {
        return None;
    }
    let head = &body[start..body.len().min(start + 512)];
    if !head.windows(11).any(|w| w == br#""errorcode""#) {
        return None;
    }
    let e: Exception = serde_json::from_slice(body).ok()?;
    let code = e.errorcode.unwrap_or_default();
    let message = scrub(e.message.as_deref().unwrap_or(""), token);
    let exception = e.exception.unwrap_or_default();
    let (kind, text) = match code.as_str() {
        "accessexception" => (
            ErrorKind::PermissionDenied,
            format!(
                "the token's web service does not allow this function, or its user may not use web services ({code}): {message}"
            ),
        ),
        "invalidtoken"
        | "invalidtokensession"
        | "usernotfound"
        | "suspended"
        | "sitepolicynotagreed"
        | "passwordisexpired" => (
            ErrorKind::Unauthenticated,
            format!("Moodle rejected the token ({code}): {message}"),
        ),
        "nopermissions"
        | "requireloginerror"
        | "coursehidden"
        | "notenrolled"
        | "activityiscurrentlyhidden"
        | "servicerequireslogin" => (
            ErrorKind::PermissionDenied,
            format!("Moodle refused access ({code}): {message}"),
        ),
        "invalidrecord" | "invalidrecordunknown" | "invalidcoursemodule" => (
            ErrorKind::NotFound,
            format!("Moodle has no such record ({code}): {message}"),
        ),
        _ => (
            ErrorKind::InvalidData,
            format!("Moodle raised {exception} ({code}): {message}"),
        ),
    };
    Some(ErrorClass::new(kind, text))
}
