//! The Moodle connector (source `"moodle"`): the courses a web service token's user sees,
//! their modules as documents, and forum discussions with all their posts.
//!
//! - **Calls**: Moodle's REST web service, `POST {moodle_url}/webservice/rest/server.php`
//!   with `wstoken`, `wsfunction` and `moodlewsrestformat=json` in the form body (the token
//!   is never in a URL of a web service call); see the client module for the functions.
//!   The functions the token's service allows (`core_webservice_get_site_info`'s
//!   `functions`) are checked when a run starts: a missing required one fails the run
//!   naming it; a missing optional one makes the modules it reads failures naming it.
//! - **Scope**: the courses of `course_ids`, or else every course the token's user is
//!   enrolled in (`core_enrol_get_users_courses`), hidden courses left out; the list is taken
//!   when a run starts and kept in the checkpoint ([`MoodleCheckpoint`]).
//! - **Documents** (RAGFlow's ids `moodle_{modname}_{cmid}`, titles
//!   "Course / Section / name", parent the course `moodle_course_{id}`, link the module's
//!   page): a `page` (intro and content as Markdown), a `book` (its chapters together, each
//!   chapter's `index.html` read from its `fileurl`; hidden chapters, which a teacher's or an
//!   admin's token is sent, left out), a `resource` (its main file, as bytes),
//!   an `assign` (its description and dates; each intro attachment a file document
//!   `moodle_assign_{cmid}_file:{path}{name}`), a `url` (its description and target) and a
//!   `label` (its text), a `quiz` (its intro, when it opens and closes, its time limit and
//!   attempts, from `mod_quiz_get_quizzes_by_courses`, else the intro the course page shows;
//!   its questions are only sent inside an attempt, which reading must not start), and each
//!   forum discussion (`moodle_forum_{cmid}_{discussion}`) with every post, oldest first, as
//!   one thread. Modules and sections with `visible=0` or `uservisible=false` are left out;
//!   other kinds are not read.
//! - **Files**: read from `fileurl` (`…/webservice/pluginfile.php/…`) with the token as the
//!   request's `token` parameter, and only from the site's own origin; core's client strips
//!   queries from every URL it logs or puts in an error, and no document, link, metadata or
//!   checkpoint carries the token (`fileurl`s are stripped of it). A listed `filesize` over
//!   `max_file_size` is a failure before any download, a body over it a failure while
//!   downloading. A file listed over `spool_above` is written to the sync's spool folder as
//!   it arrives and delivered spooled, never whole in memory.
//! - **Incremental runs** catch new forum posts: Moodle moves a discussion's `timemodified`
//!   when a post is added or edited (not the forum module's), so each forum's discussions are
//!   listed the last-posted first (`sortorder=1`), every page (50 discussions a request; the
//!   posts of a discussion are read only when it changed). Pages use `mod_page`'s `timemodified`, books the latest of the
//!   book's and its chapters', resources their main file's, assignments their own and their
//!   attachments'. Who may read an item is in its version (as are a label's text, a book's
//!   chapter count, a quiz's text and dates), and changes of it move no time (an
//!   unenrolment, a restriction added, a section or forum restricted, a discussion's display
//!   period ending): an incremental run also sends each item outside its window that the
//!   store holds at another version (one fingerprint lookup per course and per discussion
//!   page). Items never
//!   stored (a new label, a quiz read with a student's token) wait for a full run. A
//!   discussion's version holds its `numreplies` too: a reply deleted that was not the last
//!   moves no time (Moodle resets `timemodified` to the last remaining post's), only the
//!   count, so it is sent again without it by the next poll, on whatever page it is (which
//!   is why a poll lists every page rather than stopping at the first discussion older
//!   than its window). Within one run, a discussion deleted (or sunk) ahead of a page
//!   boundary while the run pages moves the later ones up a place; before each next page
//!   the run asks which discussion ends the page before (`perpage=1`, one request a page)
//!   and reads that page again when it is not the one the run saw there.
//! - **Access**: the web service does not say who may see a module. A course's items go to
//!   the group `moodle:course:{id}` and the e-mail addresses of its active participants
//!   (`core_enrol_get_enrolled_users`, when the token may call it; else the group alone); a
//!   discussion of a group (`groupid > 0`) to `moodle:group:{id}` and its members' e-mail
//!   addresses (the same call tells each participant's `groups` to a token that may access
//!   all groups, a teacher's; else the group alone), a timed one outside
//!   its display period (`timestart`, `timeend`) to nobody; a module with
//!   access restrictions (`availability`, or `availabilityinfo`) and every module of a
//!   section with restrictions (sections only tell them as `availabilityinfo`) to nobody,
//!   since who meets them is not readable. Moodle tells a module's `availability` only to
//!   a user who may see hidden activities: a course where no module carries the key (a
//!   student's token, whose met restrictions are invisible) is a failure naming
//!   `allow_unseen_restrictions` (for sites with restrictions off), never read open. Teachers who see every group's discussions are not listed for them.
//! - **Fingerprint**: the item's time and a hash of its access, asked of the store once per
//!   page, so an unchanged item costs no download and no post request.
//! - **Refetch** ([`RefetchConnector`]): an id's module gives its course
//!   (`core_course_get_course_module`), which is read again keeping the ids asked, so a
//!   failed item is retried alone by the next run.
//! - **Prune** ([`SlimConnector`]): the ids from each course's contents, its assignments'
//!   attachments and its forums' discussion pages; nothing downloaded, no post read.
//! - **Errors**: Moodle answers errors with HTTP 200 and `{"exception", "errorcode",
//!   "message"}`: `invalidtoken` stops the sync as `Unauthenticated` naming
//!   `credentials.moodle_token`, `accessexception` as `PermissionDenied`; a course or a forum
//!   that refuses access is a failure of its own and the sync goes on.

mod checkpoint;
mod client;
mod config;
mod convert;
mod model;
mod pages;
mod refetch;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use connector_core::http::{Auth, HttpClient};
use connector_core::{
    Batch, CheckpointedBatch, CheckpointedConnector, Connector, Error, RefetchConnector, Result,
    Roles, SlimConnector, SlimDocument, SyncContext, TimeWindow,
};
use futures::stream::BoxStream;

pub use checkpoint::{CourseFrame, ForumFrame, MoodleCheckpoint};
pub use config::{
    DEFAULT_MAX_FILE_SIZE, DEFAULT_REQUESTS_PER_MINUTE, MoodleConfig, MoodleCredentials,
};

use client::Client;
use config::TOKEN_FIELD;
use pages::Walk;

/// The registry key of the Moodle connector.
pub const SOURCE: &str = "moodle";

/// How far back an incremental run lists before the previous window's end (clock skew
/// between this host and the Moodle server's times).
const MIN_OVERLAP: Duration = Duration::from_secs(120);

/// Reads the courses of a Moodle site. Built from a [`MoodleConfig`].
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::moodle::{MoodleConfig, MoodleConnector};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let config = MoodleConfig::new("https://moodle.example.edu", "0123456789abcdef0123456789abcdef");
/// let connector = MoodleConnector::new(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MoodleConnector {
    config: MoodleConfig,
    walk: Walk,
}

impl MoodleConnector {
    /// A connector for `config`; nothing is requested until a sync or
    /// [`check`](Connector::check).
    ///
    /// # Errors
    /// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
    /// config by field path; `Internal` when the HTTP client cannot start.
    pub fn new(config: MoodleConfig) -> Result<Self> {
        let problems = connector_core::ConnectorConfig::validate(&config);
        if !problems.is_empty() {
            return Err(Error::config(problems).with_connector(SOURCE));
        }
        let site = config.site_url()?;
        let token = config.credentials.moodle_token.expose().trim().to_owned();
        let secret: std::sync::Arc<str> = std::sync::Arc::from(token.as_str());
        // One rate key per site: connectors of the same site share its gate. The token is
        // sent in the body, so no `Auth`: only the field is named by 401s and 403s.
        let http = HttpClient::builder(SOURCE)
            .auth(Auth::None, TOKEN_FIELD)
            .success_classifier(client::on_success(secret.clone()))
            .error_classifier(client::on_error(secret))
            .network_policy(config.network_policy()?)
            .rate_limit(config.requests_per_minute, Duration::from_secs(60))
            .rate_gate_key(format!("{SOURCE}:{}", site.as_str()))
            .build()?;
        let client = Client::new(http, site, connector_core::Secret::new(token))?;
        let walk = Walk {
            client,
            course_ids: config.courses(),
            forums: config.include_forums,
            files: config.include_files,
            unseen_restrictions: config.allow_unseen_restrictions,
            max_file_size: config.max_file_size.get(),
            spool_above: config.spool_above.map(std::num::NonZeroU64::get),
            spool: None,
        };
        Ok(Self { config, walk })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &MoodleConfig {
        &self.config
    }
}

impl fmt::Display for MoodleConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SOURCE}:{}", self.walk.client.site)?;
        if !self.walk.course_ids.is_empty() {
            let ids: Vec<String> = self
                .walk
                .course_ids
                .iter()
                .map(ToString::to_string)
                .collect();
            write!(f, " courses {}", ids.join(","))?;
        }
        Ok(())
    }
}

#[async_trait]
impl Connector for MoodleConnector {
    fn source(&self) -> &'static str {
        SOURCE
    }

    /// Two minutes: the window's end is this host's clock and the times are Moodle's.
    fn min_overlap(&self) -> Duration {
        MIN_OVERLAP
    }

    fn roles(&self) -> Roles<'_> {
        Roles::of(self)
            .checkpointed()
            .slim()
            .refetch()
            .fingerprint_skip()
            .into()
    }

    /// Reads the site info (the token and the functions its service allows), the courses
    /// and the contents of the first.
    ///
    /// # Errors
    /// `Unauthenticated` naming `credentials.moodle_token` (`invalidtoken`),
    /// `PermissionDenied` (a function the service does not allow), `NotFound` naming
    /// `course_ids`, `Unavailable` when the site cannot be reached.
    async fn check(&self) -> Result<()> {
        self.walk.check().await
    }
}

impl CheckpointedConnector for MoodleConnector {
    type Checkpoint = MoodleCheckpoint;

    fn initial_checkpoint(&self) -> MoodleCheckpoint {
        MoodleCheckpoint::start()
    }

    fn load_from_checkpoint(
        &self,
        from: MoodleCheckpoint,
        window: Option<TimeWindow>,
        ctx: SyncContext,
    ) -> BoxStream<'static, Result<CheckpointedBatch<MoodleCheckpoint>>> {
        self.walk.checkpointed(from, window, ctx)
    }
}

impl SlimConnector for MoodleConnector {
    /// Every id a full run delivers: each course's contents (`core_course_get_contents`),
    /// its assignments' attachments and its forums' discussion pages; no file is downloaded
    /// and no post read.
    fn list_ids(&self, ctx: SyncContext) -> BoxStream<'static, Result<Vec<SlimDocument>>> {
        self.walk.list_ids(ctx)
    }
}

impl RefetchConnector for MoodleConnector {
    /// The documents of `ids` as a run gives them: each module's course
    /// (`core_course_get_course_module`) is read again, keeping the ids asked; a discussion is
    /// found on its forum's pages. An id of a module, course or discussion that is gone gives
    /// nothing.
    fn fetch(&self, ids: Vec<String>, ctx: SyncContext) -> BoxStream<'static, Result<Batch>> {
        self.walk.fetch_ids(ids, ctx)
    }
}
