//! Issues, merge requests and files as documents.

use chrono::{DateTime, Utc};
use connector_core::pages::Outcome;
use connector_core::text::markdown::{Block, Inline, render};
use connector_core::{Access, Document, ErrorKind, Failure};
use serde_json::Value;
use url::Url;

use super::SOURCE;
use super::client::{Commit, Discussion, Item, Note, Project, TreeEntry};

/// What an issue or merge request is, in the API path and in metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Issue,
    MergeRequest,
}

impl Kind {
    /// The API path segment: `issues`, `merge_requests`.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::Issue => "issues",
            Self::MergeRequest => "merge_requests",
        }
    }

    /// The metadata `type`, as RAGFlow writes it.
    fn label(self) -> &'static str {
        match self {
            Self::Issue => "Issue",
            Self::MergeRequest => "MergeRequest",
        }
    }
}

/// The `parent_id` of everything in a project.
pub(crate) fn project_id(project: &Project) -> String {
    format!("gitlab-project:{}", project.path_with_namespace)
}

/// The document id of a code file: RAGFlow's, its blob page at the ref read
/// (`{web_url}/-/blob/{ref}/{path}`).
pub(crate) fn file_id(project: &Project, reference: &str, path: &str) -> String {
    format!("{}/-/blob/{reference}/{path}", project.web_url)
}

/// The web page of a code file, each segment of the ref and the path percent-encoded (the
/// id keeps them as they are, as RAGFlow's does): a `#`, `?` or `%` in a file name would
/// otherwise start a fragment or a query and open another page.
pub(crate) fn file_link(project: &Project, reference: &str, path: &str) -> Option<Url> {
    let mut url = Url::parse(&project.web_url).ok()?;
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .extend(["-", "blob"])
        .extend(reference.split('/'))
        .extend(path.split('/'));
    Some(url)
}

/// The version of an issue or merge request: its `updated_at` (GitLab touches it on every
/// edit and every new or edited note), its comment count and who may read it.
pub(crate) fn item_version(item: &Item, access: Option<&Access>, archived: bool) -> String {
    format!(
        "{}:{}:{}{}",
        super::client::iso(item.updated_at),
        item.user_notes_count,
        access_token(access),
        archived_mark(archived)
    )
}

/// The version of a code file: its blob id and who may read it (and `:archived` in an
/// archived project).
pub(crate) fn file_version(entry: &TreeEntry, access: Option<&Access>, archived: bool) -> String {
    format!(
        "{}:{}{}",
        entry.id,
        access_token(access),
        archived_mark(archived)
    )
}

/// What an archived project adds to its documents' versions: archiving moves no
/// `updated_at`, and its documents' `archived` metadata must follow. Nothing for the others,
/// so their versions stay what earlier runs stored.
fn archived_mark(archived: bool) -> &'static str {
    if archived { ":archived" } else { "" }
}

fn access_token(access: Option<&Access>) -> String {
    access.map_or_else(String::new, |a| {
        connector_core::ids::hash128(&format!(
            "{}|{}|{}",
            a.emails.join(","),
            a.groups.join(","),
            a.public
        ))
    })
}

fn users(list: &[super::client::User]) -> Vec<String> {
    list.iter()
        .map(|u| u.username.clone())
        .filter(|u| !u.is_empty())
        .collect()
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The document of an issue or merge request with its threads of notes (system notes only
/// when `system_notes`, internal notes never: they are for members with Reporter access
/// alone). A thread's first note says whether a resolvable thread is resolved, each reply
/// that it is one.
pub(crate) fn item_document(
    kind: Kind,
    item: &Item,
    discussions: &[Discussion],
    project: &Project,
    access: Option<Access>,
    system_notes: bool,
) -> Outcome {
    let link = match Url::parse(&item.web_url) {
        Ok(u) => u,
        Err(e) => {
            return Failure::new(
                Some(item.web_url.clone()),
                ErrorKind::InvalidData,
                format!(
                    "{} {}: its web_url is not a URL: {e}",
                    kind.label(),
                    item.iid
                ),
            )
            .into();
        }
    };
    let mut blocks = vec![Block::heading(1, vec![Inline::text(item.title.clone())])];
    let author = item.author.as_ref().map(|u| format!("@{}", u.username));
    let assignees = users(&item.assignees)
        .into_iter()
        .map(|u| format!("@{u}"))
        .collect::<Vec<_>>()
        .join(", ");
    let labels = item.labels.join(", ");
    let mut lines: Vec<(&str, String)> = vec![("State:", item.state.clone())];
    if let Some(a) = &author {
        lines.push(("Author:", a.clone()));
    }
    if !assignees.is_empty() {
        lines.push(("Assignees:", assignees));
    }
    if !labels.is_empty() {
        lines.push(("Labels:", labels));
    }
    if let (Some(s), Some(t)) = (&item.source_branch, &item.target_branch) {
        lines.push(("Branches:", format!("{s} → {t}")));
    }
    let fields: Vec<(&str, &str)> = lines.iter().map(|(k, v)| (*k, v.as_str())).collect();
    blocks.push(Block::labelled_lines(&fields));
    if let Some(description) = item.description.as_deref().filter(|d| !d.trim().is_empty()) {
        blocks.push(Block::Markdown(description.to_owned()));
    }
    let shown = |n: &&Note| !n.internal && !n.confidential && (system_notes || !n.system);
    let mut heading = false;
    for discussion in discussions {
        let resolution = discussion.resolution();
        for (at, note) in discussion.notes.iter().filter(shown).enumerate() {
            if !heading {
                blocks.push(Block::heading(2, vec![Inline::text("Comments")]));
                heading = true;
            }
            let who = note
                .author
                .as_ref()
                .map_or_else(|| "unknown".to_owned(), |u| format!("@{}", u.username));
            let mark = if note.system { " (system note)" } else { "" };
            let mut head = vec![
                Inline::strong(vec![Inline::text(who)]),
                Inline::text(format!(" · {}{mark}", rfc3339(note.created_at))),
            ];
            if at > 0 {
                head.push(Inline::text(" · reply"));
            } else {
                // A review comment on a line of the diff says which (its replies are on
                // the same line).
                if let Some(place) = note
                    .position
                    .as_ref()
                    .and_then(super::client::Position::place)
                {
                    head.push(Inline::text(" · on "));
                    head.push(Inline::code(place));
                }
                match resolution {
                    Some(true) => head.push(Inline::text(" · resolved thread")),
                    Some(false) => head.push(Inline::text(" · unresolved thread")),
                    None => {}
                }
            }
            blocks.push(Block::paragraph(head));
            blocks.push(Block::Markdown(note.body.clone()));
        }
    }
    let text = render(&blocks);
    let mut owners: Vec<String> = item.author.iter().map(|u| u.username.clone()).collect();
    for u in users(&item.assignees) {
        if !owners.contains(&u) {
            owners.push(u);
        }
    }
    let version = item_version(item, access.as_ref(), project.archived);
    let mut doc = Document::text_with_version(
        item.web_url.clone(),
        SOURCE,
        item.title.clone(),
        text,
        &version,
    )
    .with_link(link)
    .with_updated_at(item.updated_at)
    .with_parent_id(project_id(project))
    .with_owners(owners)
    .with_metadata("type", kind.label())
    .with_metadata("project", project.path_with_namespace.clone())
    .with_metadata("iid", item.iid)
    .with_metadata("state", item.state.clone())
    .with_metadata("labels", item.labels.clone())
    .with_metadata("web_url", item.web_url.clone())
    .with_metadata("comments", item.user_notes_count);
    if project.archived {
        doc = doc.with_metadata("archived", true);
    }
    if let Some(a) = &item.author {
        doc = doc.with_metadata("author", a.username.clone());
    }
    if !item.assignees.is_empty() {
        doc = doc.with_metadata("assignees", users(&item.assignees));
    }
    if let Some(m) = &item.milestone {
        doc = doc.with_metadata("milestone", m.title.clone());
    }
    if let Some(t) = item.created_at {
        doc = doc.with_metadata("created_at", rfc3339(t));
    }
    if let Some(t) = item.closed_at {
        doc = doc.with_metadata("closed_at", rfc3339(t));
    }
    match kind {
        Kind::Issue => {
            if let Some(t) = &item.issue_type {
                doc = doc.with_metadata("issue_type", t.clone());
            }
            doc = doc.with_metadata("confidential", item.confidential.unwrap_or(false));
        }
        Kind::MergeRequest => {
            if let Some(t) = item.merged_at {
                doc = doc.with_metadata("merged_at", rfc3339(t));
            }
            if let Some(b) = &item.source_branch {
                doc = doc.with_metadata("source_branch", b.clone());
            }
            if let Some(b) = &item.target_branch {
                doc = doc.with_metadata("target_branch", b.clone());
            }
            if let Some(d) = item.draft {
                doc = doc.with_metadata("draft", d);
            }
            if !item.reviewers.is_empty() {
                doc = doc.with_metadata("reviewers", users(&item.reviewers));
            }
        }
    }
    if let Some(access) = access {
        doc = doc.with_access(access);
    }
    doc.into()
}

/// The document of a code file downloaded from the ref `reference` at `head`.
pub(crate) fn file_document(
    entry: &TreeEntry,
    data: Vec<u8>,
    project: &Project,
    reference: &str,
    head: Option<&Commit>,
    access: Option<Access>,
) -> Outcome {
    let id = file_id(project, reference, &entry.path);
    if is_lfs_pointer(&data) {
        // `blobs/:sha/raw` gives what git holds: the pointer, not the file.
        return failure(
            &id,
            &entry.path,
            ErrorKind::Unsupported,
            "a Git LFS pointer: the file's content is in LFS storage, which is not read",
        );
    }
    let size = data.len() as u64;
    // Source code is text whatever its extension; what is not UTF-8 goes by extension.
    let doc = match crate::files::decode_text(data) {
        Ok(text) if !text.contains('\0') => {
            let ext = crate::files::extension_of(&entry.name).map_or(Value::Null, Value::from);
            Document::text(id.clone(), SOURCE, &entry.name, text).with_metadata("extension", ext)
        }
        Ok(text) => {
            match crate::files::file_document(id.clone(), SOURCE, &entry.name, text.into_bytes()) {
                Ok(doc) => doc,
                Err(message) => return failure(&id, &entry.path, ErrorKind::InvalidData, message),
            }
        }
        Err(bytes) => match crate::files::file_document(id.clone(), SOURCE, &entry.name, bytes) {
            Ok(doc) => doc,
            Err(message) => return failure(&id, &entry.path, ErrorKind::InvalidData, message),
        },
    };
    let mut doc = doc
        .with_size(size)
        .with_version(&file_version(entry, access.as_ref(), project.archived))
        .with_parent_id(project_id(project))
        .with_metadata("type", "CodeFile")
        .with_metadata("path", entry.path.clone())
        .with_metadata("ref", reference.to_owned())
        .with_metadata("project", project.path_with_namespace.clone())
        .with_metadata("blob_id", entry.id.clone())
        .with_metadata("web_url", id);
    if project.archived {
        doc = doc.with_metadata("archived", true);
    }
    if let Some(head) = head {
        doc = doc.with_metadata("commit", head.id.clone());
        if let Some(t) = head.committed_date {
            doc = doc.with_updated_at(t);
        }
    }
    if let Some(link) = file_link(project, reference, &entry.path) {
        doc = doc.with_link(link);
    }
    if let Some(access) = access {
        doc = doc.with_access(access);
    }
    doc.into()
}

/// Whether `data` is a Git LFS pointer file (a few lines under 200 bytes, starting with the
/// spec's version line) rather than the file it stands for.
fn is_lfs_pointer(data: &[u8]) -> bool {
    data.len() < 200 && data.starts_with(b"version https://git-lfs.github.com/spec/v1")
}

/// A failure of the item `id` at `what` (a path, an iid).
pub(crate) fn failure(
    id: &str,
    what: &str,
    kind: ErrorKind,
    message: impl std::fmt::Display,
) -> Outcome {
    let failure = Failure::new(Some(id.to_owned()), kind, format!("{what}: {message}"));
    match Url::parse(id) {
        Ok(url) => failure.with_link(url).into(),
        Err(_) => failure.into(),
    }
}
