//! Asana's wire types, with the API's own field names (developers.asana.com/reference).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A page of a collection: `{"data": [...], "next_page": {"offset", "path", "uri"} | null}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Paged<T> {
    #[serde(default = "Vec::new")]
    pub(crate) data: Vec<T>,
    #[serde(default)]
    pub(crate) next_page: Option<NextPage>,
}

/// The token of the next page; Asana lets it expire after a while.
#[derive(Debug, Deserialize)]
pub(crate) struct NextPage {
    pub(crate) offset: String,
}

/// One resource: `{"data": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct One<T> {
    pub(crate) data: T,
}

/// A compact record: a user, team, project, tag or task named by gid.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Named {
    pub(crate) gid: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    pub(crate) resource_type: Option<String>,
}

/// A project as the listing shows it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Project {
    pub(crate) gid: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// `public_to_workspace`, `private_to_team` or `private`.
    #[serde(default)]
    pub(crate) privacy_setting: Option<String>,
    /// The older flag `privacy_setting` replaced: public to the project's *team*.
    #[serde(default)]
    pub(crate) public: Option<bool>,
    #[serde(default)]
    pub(crate) team: Option<Named>,
    /// The workspace the project belongs to.
    #[serde(default)]
    pub(crate) workspace: Option<Named>,
}

/// A custom field's value on a task.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CustomField {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) display_value: Option<String>,
}

/// A task with the fields the listing asks for.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Task {
    pub(crate) gid: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) notes: Option<String>,
    #[serde(default)]
    pub(crate) html_notes: Option<String>,
    pub(crate) modified_at: DateTime<Utc>,
    #[serde(default)]
    pub(crate) created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) completed: bool,
    #[serde(default)]
    pub(crate) completed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) due_on: Option<String>,
    #[serde(default)]
    pub(crate) due_at: Option<String>,
    #[serde(default)]
    pub(crate) start_on: Option<String>,
    #[serde(default)]
    pub(crate) assignee: Option<Named>,
    #[serde(default)]
    pub(crate) parent: Option<Named>,
    /// Its collaborators (`followers`): Asana lets them see the task wherever it is (a
    /// private project they are not a member of included); the assignee is one.
    #[serde(default)]
    pub(crate) followers: Vec<Named>,
    #[serde(default)]
    pub(crate) projects: Vec<Named>,
    #[serde(default)]
    pub(crate) tags: Vec<Named>,
    #[serde(default)]
    pub(crate) custom_fields: Vec<CustomField>,
    #[serde(default)]
    pub(crate) permalink_url: Option<String>,
    #[serde(default)]
    pub(crate) resource_subtype: Option<String>,
    /// How many subtasks it has (none: not said, so they are asked).
    #[serde(default)]
    pub(crate) num_subtasks: Option<u64>,
    /// When one of its comments was last edited or deleted, as the project's events told a
    /// run (not a task field: editing a comment moves no `modified_at`).
    #[serde(skip)]
    pub(crate) comment_edited: Option<DateTime<Utc>>,
}

/// A listed task: readable, or malformed with its gid when it has one. Read from the item's
/// own text (`RawValue`), so one malformed task fails alone and no `Value` tree is built for
/// the others.
pub(crate) enum Listed {
    Task(Box<Task>),
    Malformed {
        gid: Option<String>,
        message: String,
    },
}

impl Listed {
    /// The listed item whose JSON text is `raw`.
    pub(crate) fn from_raw(raw: &RawValue) -> Self {
        match serde_json::from_str::<Task>(raw.get()) {
            Ok(task) => Self::Task(Box::new(task)),
            Err(e) => {
                #[derive(Deserialize)]
                struct Gid {
                    gid: Option<String>,
                }
                let gid = serde_json::from_str::<Gid>(raw.get())
                    .ok()
                    .and_then(|g| g.gid);
                Self::Malformed {
                    gid,
                    message: format!("the task cannot be read: {e}"),
                }
            }
        }
    }

    /// Its gid, when it has one.
    pub(crate) fn gid(&self) -> Option<&str> {
        match self {
            Self::Task(task) => Some(&task.gid),
            Self::Malformed { gid, .. } => gid.as_deref(),
        }
    }
}

impl<'de> Deserialize<'de> for Listed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Borrowed from the page's text: the item is read again from it as a `Task`.
        let raw = <&RawValue>::deserialize(d)?;
        Ok(Self::from_raw(raw))
    }
}

/// A story of a task; comments are those of `resource_subtype == "comment_added"`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Story {
    #[serde(default)]
    pub(crate) resource_subtype: Option<String>,
    #[serde(default)]
    pub(crate) text: Option<String>,
    #[serde(default)]
    pub(crate) created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) created_by: Option<Named>,
}

/// An attachment of a task. `download_url` is a short-lived signed URL (null for files
/// hosted elsewhere: Google Drive, Dropbox, …).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Attachment {
    pub(crate) gid: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) size: Option<u64>,
    #[serde(default)]
    pub(crate) download_url: Option<String>,
    #[serde(default)]
    pub(crate) permanent_url: Option<String>,
    #[serde(default)]
    pub(crate) host: Option<String>,
    #[serde(default)]
    pub(crate) created_at: Option<DateTime<Utc>>,
}

/// A project membership: `member` (a user or a team), or the older `user`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Membership {
    #[serde(default)]
    pub(crate) member: Option<Named>,
    #[serde(default)]
    pub(crate) user: Option<Named>,
}

/// Asana's error body: `{"errors": [{"message": …, "help": …}]}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApiErrors {
    #[serde(default)]
    pub(crate) errors: Vec<ApiError>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApiError {
    #[serde(default)]
    pub(crate) message: String,
}

/// `GET /events?resource={gid}&sync={token}`: the events since the token, the next token,
/// whether there are more; a 412 (no token yet, or an expired one) carries a fresh token.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct EventPage {
    #[serde(default)]
    pub(crate) data: Vec<Event>,
    #[serde(default)]
    pub(crate) sync: Option<String>,
    #[serde(default)]
    pub(crate) has_more: bool,
}

/// An event: `action` (`added`, `changed`, `removed`, `deleted`, `undeleted`) on `resource`,
/// whose `parent` is the task of a story.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Event {
    #[serde(default)]
    pub(crate) action: String,
    #[serde(default)]
    pub(crate) created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) resource: Option<Named>,
    #[serde(default)]
    pub(crate) parent: Option<Named>,
}

impl Event {
    /// The task whose story (a comment) was edited or deleted: neither moves the task's
    /// `modified_at`. A story added does, so the listing finds it.
    pub(crate) fn edited_story_task(&self) -> Option<&str> {
        let story = self.resource.as_ref()?;
        let parent = self.parent.as_ref()?;
        (story.resource_type.as_deref() == Some("story")
            && matches!(self.action.as_str(), "changed" | "removed" | "deleted")
            && parent.resource_type.as_deref() == Some("task"))
        .then_some(parent.gid.as_str())
    }
}

/// What the events of a resource tell the run.
#[derive(Debug, Default)]
pub(crate) struct Events {
    /// The tasks whose comments were edited or deleted since the token asked with, and when.
    pub(crate) tasks: Vec<(String, DateTime<Utc>)>,
    /// The token to ask with next time.
    pub(crate) sync: String,
    /// There was no token, or Asana no longer knew it: what changed before is not told.
    pub(crate) expired: bool,
}
