//! A task and its comments as one Markdown document; an attachment as a file document.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use connector_core::text::markdown::{self, MarkdownOut};
use connector_core::{Access, Document};
use serde_json::{Value, json};
use url::Url;

use super::SOURCE;
use super::checkpoint::ProjectFrame;
use super::model::{Attachment, Story, Task};

/// The document id of task `gid`.
pub(crate) fn doc_id(gid: &str) -> String {
    [SOURCE, ":", gid].concat()
}

/// The document id of attachment `att` of task `task`: RAGFlow's `asana:{task}:{attachment}`.
pub(crate) fn attachment_id(task: &str, att: &str) -> String {
    [SOURCE, ":", task, ":", att].concat()
}

/// The id of a project as a parent.
pub(crate) fn project_id(gid: &str) -> String {
    [SOURCE, ":project:", gid].concat()
}

/// Who may read a task in these projects: every principal of each.
pub(crate) fn access(projects: &[&ProjectFrame]) -> Access {
    let mut groups: Vec<String> = Vec::new();
    let mut emails: Vec<String> = Vec::new();
    for p in projects {
        groups.extend(p.groups.iter().cloned());
        emails.extend(p.emails.iter().cloned());
    }
    groups.sort();
    groups.dedup();
    emails.sort();
    emails.dedup();
    Access::restricted(emails, groups)
}

/// Who may read `task`: who may read its projects (`access`) and its collaborators, its
/// followers and its assignee, whom Asana lets see the task wherever it is (a private project
/// they are no member of included). Their e-mails as Asana tells them (`followers.email`,
/// `assignee.email`); one it does not tell is left out.
pub(crate) fn with_collaborators(access: &Access, task: &Task) -> Access {
    let mut emails = access.emails.clone();
    emails.extend(
        task.followers
            .iter()
            .chain(task.assignee.as_ref())
            .filter_map(|u| u.email.as_deref())
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(str::to_lowercase),
    );
    emails.sort();
    emails.dedup();
    Access::restricted(emails, access.groups.clone())
}

/// The version token of a task: its `modified_at` (which a new comment, an attachment, an
/// assignment or a custom-field change moves, as Asana documents) and a hash of its access
/// with its collaborators ([`with_collaborators`]).
pub(crate) fn version(task: &Task, access: &Access) -> String {
    collaborated_version(task, &with_collaborators(access, task))
}

/// What a changed task is sent with: who may read it, its collaborators among them
/// ([`with_collaborators`]), and its [`version`], worked out once for the check against the
/// store and the document.
pub(crate) struct Seen {
    pub(crate) access: Access,
    pub(crate) version: String,
}

/// [`Seen`] of `task` in projects readable by `access`.
pub(crate) fn seen(task: &Task, access: &Access) -> Seen {
    let access = with_collaborators(access, task);
    let version = collaborated_version(task, &access);
    Seen { access, version }
}

/// [`version`] of `task` readable by `access`, its collaborators among them already.
fn collaborated_version(task: &Task, access: &Access) -> String {
    // The hash of `{groups joined by ,}|{emails joined by ,}`, written without the string.
    let access = connector_core::ids::hash128_written(|buf| {
        join_into(buf, &access.groups);
        buf.push(b'|');
        join_into(buf, &access.emails);
    });
    let mut out = String::with_capacity(96);
    push_rfc3339(&mut out, task.modified_at);
    out.push(':');
    out.push_str(&access);
    // A comment edited since the task's last change: the edit's time, so the task is sent
    // again; a later change of the task supersedes it.
    if let Some(edited) = task.comment_edited.filter(|e| *e > task.modified_at) {
        out.push_str(":e");
        push_rfc3339(&mut out, edited);
    }
    out
}

/// `items` joined by `,`, appended to `buf`.
fn join_into(buf: &mut Vec<u8>, items: &[String]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(item.as_bytes());
    }
}

/// [`rfc3339`] appended to `out`.
fn push_rfc3339(out: &mut String, t: DateTime<Utc>) {
    out.push_str(&rfc3339(t));
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The task's description as Markdown, written to `md`: `html_notes` converted by core when
/// Asana sent rich text, else the plain `notes`; nothing when both are blank.
fn description(task: &Task, md: &mut MarkdownOut<'_>) {
    let html = task
        .html_notes
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty() && *h != "<body></body>");
    if let Some(html) = html {
        let converted = connector_core::text::html_to_markdown(html);
        let trimmed = converted.trim();
        if !trimmed.is_empty() {
            md.markdown(trimmed);
            return;
        }
    }
    if let Some(notes) = task.notes.as_deref().map(str::trim)
        && !notes.is_empty()
    {
        md.markdown(notes);
    }
}

/// The front matter fields of a task, in the order shown.
fn fields<'a>(task: &'a Task, projects: &'a Value) -> Vec<(&'a str, Cow<'a, Value>)> {
    let mut out: Vec<(&str, Cow<'a, Value>)> = Vec::with_capacity(8 + task.custom_fields.len());
    if projects.as_array().is_some_and(|p| !p.is_empty()) {
        out.push(("projects", Cow::Borrowed(projects)));
    }
    if let Some(a) = task.assignee.as_ref().and_then(|a| a.name.as_deref()) {
        out.push(("assignee", Cow::Owned(json!(a))));
    }
    out.push(("completed", Cow::Owned(json!(task.completed))));
    if let Some(at) = task.completed_at {
        out.push(("completed_at", Cow::Owned(json!(rfc3339(at)))));
    }
    if let Some(due) = task.due_at.as_ref().or(task.due_on.as_ref()) {
        out.push(("due", Cow::Owned(json!(due))));
    }
    if let Some(start) = &task.start_on {
        out.push(("start_on", Cow::Owned(json!(start))));
    }
    let tags: Vec<&str> = task.tags.iter().filter_map(|t| t.name.as_deref()).collect();
    if !tags.is_empty() {
        out.push(("tags", Cow::Owned(json!(tags))));
    }
    for field in &task.custom_fields {
        if let (Some(name), Some(value)) = (&field.name, &field.display_value)
            && !value.is_empty()
            && !out.iter().any(|(k, _)| k == name)
        {
            out.push((name.as_str(), Cow::Owned(json!(value))));
        }
    }
    out
}

/// The Markdown document of `task` with its comments (`comment_added` stories), read under
/// its `home` project, by who [`seen`] names (its collaborators among them), with the version
/// [`seen`] worked out.
pub(crate) fn document(
    task: &Task,
    home: &ProjectFrame,
    stories: &[Story],
    seen: Seen,
) -> Document {
    let Seen { access, version } = seen;
    let projects = Value::Array(
        task.projects
            .iter()
            .filter_map(|p| p.name.as_deref())
            .map(|n| Value::String(n.to_owned()))
            .collect(),
    );
    let hint = 512
        + task.html_notes.as_ref().map_or(0, String::len)
        + stories
            .iter()
            .map(|s| s.text.as_ref().map_or(0, String::len) + 64)
            .sum::<usize>();
    let mut text = String::with_capacity(hint);
    {
        let fm = fields(task, &projects);
        markdown::front_matter_into(&mut text, fm.iter().map(|(k, v)| (*k, v.as_ref())));
    }
    let mut md = MarkdownOut::new(&mut text);
    description(task, &mut md);
    let mut comments = stories
        .iter()
        .filter(|s| s.resource_subtype.as_deref() == Some("comment_added"))
        .peekable();
    if comments.peek().is_some() {
        md.heading(2, "Comments");
    }
    // One buffer for every comment's heading.
    let mut head = String::with_capacity(64);
    for c in comments {
        let who = c
            .created_by
            .as_ref()
            .and_then(|u| u.name.as_deref())
            .unwrap_or("someone");
        head.clear();
        head.push_str(who);
        if let Some(at) = c.created_at {
            head.push_str(", ");
            connector_core::text::push_utc_minute(&mut head, at);
        }
        md.heading(3, &head);
        if let Some(t) = c.text.as_deref().filter(|t| !t.trim().is_empty()) {
            md.plain_text(t);
        }
    }

    let parent = match &task.parent {
        Some(p) if !p.gid.is_empty() => doc_id(&p.gid),
        _ => project_id(&home.gid),
    };
    let mut doc =
        Document::text_with_version(doc_id(&task.gid), SOURCE, task.name.clone(), text, &version)
            .with_updated_at(task.modified_at)
            .with_parent_id(parent)
            .with_metadata("object_type", "Task")
            .with_metadata("project", home.name.clone())
            .with_metadata("project_gid", home.gid.clone())
            .with_metadata("projects", projects)
            .with_metadata("completed", task.completed)
            .with_metadata("modified_at", rfc3339(task.modified_at));
    if let Some(kind) = &task.resource_subtype {
        // `default_task`, `milestone`, `approval`, `section`.
        doc = doc.with_metadata("resource_subtype", kind.clone());
    }
    if let Some(c) = task.created_at {
        doc = doc.with_metadata("created_at", rfc3339(c));
    }
    if let Some(due) = task.due_at.as_ref().or(task.due_on.as_ref()) {
        doc = doc.with_metadata("due", due.clone());
    }
    if let Some(assignee) = &task.assignee {
        let name = assignee
            .name
            .clone()
            .unwrap_or_else(|| assignee.gid.clone());
        doc = doc
            .with_metadata("assignee", name.clone())
            .with_owners(vec![assignee.email.clone().unwrap_or(name)]);
    }
    if let Some(link) = task
        .permalink_url
        .as_deref()
        .and_then(|u| Url::parse(u).ok())
    {
        doc = doc.with_link(link);
    }
    doc.with_access(access)
}

/// The file document of attachment `att` of `task`, its body `data`.
pub(crate) fn attachment_document(
    task: &Task,
    att: &Attachment,
    data: bytes::Bytes,
    access: Access,
) -> Document {
    let name = att.name.clone().unwrap_or_else(|| att.gid.clone());
    let extension = std::path::Path::new(&name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase);
    let mime = mime_guess::from_path(&name)
        .first_or_octet_stream()
        .essence_str()
        .to_owned();
    let mut doc = Document::bytes(
        attachment_id(&task.gid, &att.gid),
        SOURCE,
        name,
        data,
        mime,
        extension,
    )
    .with_updated_at(att.created_at.unwrap_or(task.modified_at))
    .with_parent_id(doc_id(&task.gid))
    .with_metadata("object_type", "Attachment")
    .with_metadata("task", task.name.clone());
    if let Some(size) = att.size {
        doc = doc.with_size(size);
    }
    if let Some(link) = att
        .permanent_url
        .as_deref()
        .or(task.permalink_url.as_deref())
        .and_then(|u| Url::parse(u).ok())
    {
        doc = doc.with_link(link);
    }
    doc.with_access(access)
}
