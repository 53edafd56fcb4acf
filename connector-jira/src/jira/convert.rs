//! Wire → [`Document`]: an issue as Markdown with front matter, and attachments as documents
//! of their own.

use std::collections::HashSet;
use std::fmt::Write as _;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use connector_core::{Document, Metadata};
use serde_json::{Value, json};
use url::Url;

use super::SOURCE;
use super::access::Principals;
use super::adf::{self, MediaNames};
use super::ids::{DocIds, IdScheme};
use super::model::{Attachment, Comment, Issue};
use super::restricted::{is_restricted, restricted_attachments};
use super::wiki;

/// Jira's timestamps: `2024-01-15T10:00:30.000+0000` (and RFC 3339 for good measure).
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A rich-text body: ADF (an object, Cloud) or wiki markup (a string, Server). `media` names
/// the files ADF media nodes show.
pub(crate) fn rich_text(body: Option<&Value>, media: &MediaNames) -> String {
    match body {
        Some(Value::String(s)) => wiki::to_markdown(s),
        Some(v @ Value::Object(_)) => adf::to_markdown(v, media),
        _ => String::new(),
    }
}

/// The file names of `issue`'s attachments by their Media Services id, for ADF media nodes.
pub(crate) fn media_names(issue: &Issue) -> MediaNames {
    issue
        .fields
        .attachment
        .iter()
        .filter_map(|a| {
            let id = a.media_api_file_id.as_deref()?.trim();
            (!id.is_empty()).then(|| (id.to_owned(), a.filename.clone()))
        })
        .collect()
}

/// What shapes an issue's document besides the issue.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Document ids and links.
    pub(crate) ids: DocIds,
    pub(crate) include_comments: bool,
    pub(crate) blacklist: HashSet<String>,
    pub(crate) attachment_limit: u64,
    pub(crate) include_attachments: bool,
    /// Fill `access`, and give restricted comments documents of their own.
    pub(crate) include_permissions: bool,
    /// Leave out issues under a security level (neither `include_permissions` nor
    /// `include_secured_issues`): their documents would carry no `access`.
    pub(crate) skip_secured: bool,
}

impl Options {
    /// A token of the options, part of every fingerprint so that a config change refreshes
    /// the documents.
    pub(crate) fn token(&self) -> String {
        let mut black: Vec<&String> = self.blacklist.iter().collect();
        black.sort();
        // `r2`: the rendering of issue 15 (restricted comments out of the issue, media by file
        // name, wiki containers), so stores holding older documents get the new ones.
        format!(
            "r2c{}a{}l{}p{}b{}",
            u8::from(self.include_comments),
            u8::from(self.include_attachments),
            self.attachment_limit,
            u8::from(self.include_permissions),
            connector_core::ids::hash128(&format!("{black:?}"))
        )
    }

    /// Whether `a` becomes a document of its own: attachments are included, it is within the
    /// size limit (known before the download) and it has a download URL.
    pub(crate) fn indexes(&self, a: &Attachment) -> bool {
        self.include_attachments && a.size <= self.attachment_limit && a.content.is_some()
    }

    /// Whether the comment's author is blacklisted.
    pub(crate) fn hidden(&self, comment: &Comment) -> bool {
        comment
            .author
            .as_ref()
            .and_then(|a| a.email_address.as_deref())
            .is_some_and(|e| self.blacklist.contains(&e.trim().to_lowercase()))
    }
}

fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut size = n as f64;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

pub(crate) fn time_text(s: &str) -> String {
    parse_time(s).map_or_else(|| s.to_owned(), |t| t.to_rfc3339())
}

/// The front matter and metadata of an issue, in the order the front matter shows them.
fn fields_of(issue: &Issue, url: &str) -> Vec<(&'static str, Value)> {
    let f = &issue.fields;
    let name = |n: &Option<super::model::Named>| n.as_ref().and_then(|n| n.name.clone());
    let names = |v: &[super::model::Named]| -> Vec<String> {
        v.iter().filter_map(|n| n.name.clone()).collect()
    };
    let mut out: Vec<(&'static str, Value)> = vec![
        ("key", json!(issue.key)),
        ("url", json!(url)),
        ("summary", json!(f.summary.clone().unwrap_or_default())),
    ];
    let optional: [(&'static str, Option<String>); 10] = [
        ("status", name(&f.status)),
        ("resolution", name(&f.resolution)),
        ("priority", name(&f.priority)),
        ("issue_type", name(&f.issuetype)),
        (
            "project",
            f.project
                .as_ref()
                .and_then(|p| p.key.clone().or_else(|| p.name.clone())),
        ),
        (
            "project_name",
            f.project
                .as_ref()
                .and_then(|p| p.key.as_ref().and(p.name.clone())),
        ),
        ("parent", f.parent.as_ref().map(|p| p.key.clone())),
        ("due_date", f.duedate.clone()),
        (
            "reporter",
            f.reporter
                .as_ref()
                .and_then(|u| u.shown().map(str::to_owned)),
        ),
        (
            "assignee",
            f.assignee
                .as_ref()
                .and_then(|u| u.shown().map(str::to_owned)),
        ),
    ];
    for (k, v) in optional {
        if let Some(v) = v {
            out.push((k, json!(v)));
        }
    }
    out.push(("labels", json!(f.labels)));
    out.push(("components", json!(names(&f.components))));
    out.push(("fix_versions", json!(names(&f.fix_versions))));
    if let Some(created) = f.created.as_deref() {
        out.push(("created", json!(time_text(created))));
    }
    out.push(("updated", json!(time_text(&f.updated))));
    out
}

/// An issue as a Markdown document. `comments` are all of the issue's comments (the embedded
/// page plus the pages fetched after it), of which those restricted by a `visibility` are left
/// out, as are the attachments only they show; `media` names the files ADF media nodes show
/// (see `media::names`); `updated` is `fields.updated`, already parsed;
/// `access` who may read it, when known.
pub(crate) fn issue_document(
    issue: &Issue,
    comments: &[Comment],
    media: &MediaNames,
    updated: DateTime<Utc>,
    options: &Options,
    access: Option<&Principals>,
) -> Document {
    let id = options.ids.issue(&issue.id, &issue.key);
    let url = options.ids.browse(&issue.key);
    let fields = fields_of(issue, &url);
    let f = &issue.fields;
    let summary = f.summary.clone().unwrap_or_default();

    let mut text =
        connector_core::text::markdown::front_matter(fields.iter().map(|(k, v)| (*k, v)));
    let _ = writeln!(text, "# {}: {summary}", issue.key);

    let description = rich_text(f.description.as_ref(), media);
    if !description.is_empty() {
        let _ = write!(text, "\n## Description\n\n{description}\n");
    }

    let restricted = comments
        .iter()
        .filter(|c| is_restricted(c) && !options.hidden(c))
        .count();
    if options.include_comments {
        let shown: Vec<&Comment> = comments
            .iter()
            .filter(|c| !options.hidden(c) && !is_restricted(c))
            .collect();
        if !shown.is_empty() {
            text.push_str("\n## Comments\n");
            for c in shown {
                let author = c
                    .author
                    .as_ref()
                    .and_then(|a| a.shown())
                    .unwrap_or("Unknown");
                let when = c.created.as_deref().map(time_text).unwrap_or_default();
                let body = rich_text(c.body.as_ref(), media);
                let _ = write!(text, "\n### {author} ({when})\n\n{body}\n");
            }
        }
    }

    let links: Vec<String> = f
        .issuelinks
        .iter()
        .filter_map(|l| {
            let ty = l.link_type.as_ref();
            let (relation, other) = match (&l.outward_issue, &l.inward_issue) {
                (Some(o), _) => (ty.and_then(|t| t.outward.clone()), o),
                (None, Some(i)) => (ty.and_then(|t| t.inward.clone()), i),
                (None, None) => return None,
            };
            let relation = relation
                .or_else(|| ty.and_then(|t| t.name.clone()))
                .unwrap_or_else(|| "relates to".to_owned());
            let mut line = format!(
                "- {relation} [{}]({})",
                other.key,
                options.ids.browse(&other.key)
            );
            if let Some(of) = &other.fields {
                if let Some(s) = &of.summary {
                    let _ = write!(line, ": {s}");
                }
                if let Some(st) = of.status.as_ref().and_then(|s| s.name.as_deref()) {
                    let _ = write!(line, " ({st})");
                }
            }
            Some(line)
        })
        .collect();
    if !links.is_empty() {
        let _ = write!(text, "\n## Linked issues\n\n{}\n", links.join("\n"));
    }

    let hidden_attachments = restricted_attachments(issue);
    let listed: Vec<&Attachment> = f
        .attachment
        .iter()
        .filter(|a| !hidden_attachments.contains_key(&a.id))
        .collect();
    if !listed.is_empty() {
        text.push_str("\n## Attachments\n\n");
        for a in listed {
            let mime = a.mime_type.as_deref().unwrap_or("unknown type");
            let _ = write!(text, "- {} ({}, {mime})", a.filename, human_size(a.size));
            if options.include_attachments && a.size > options.attachment_limit {
                text.push_str(" (not indexed: over the size limit)");
            }
            text.push('\n');
        }
    }

    let mut owners: Vec<String> = Vec::new();
    for user in [&f.reporter, &f.assignee].into_iter().flatten() {
        if let Some(o) = user.owner()
            && !owners.iter().any(|x| x == o)
        {
            owners.push(o.to_owned());
        }
    }

    let mut metadata: Metadata = fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
    metadata.insert("issue_id".into(), json!(issue.id));
    if let Some(level) = &f.security {
        metadata.insert(
            "security_level".into(),
            json!(level.name.clone().unwrap_or_else(|| level.id.clone())),
        );
    }
    if restricted > 0 {
        metadata.insert("restricted_comments".into(), json!(restricted));
    }
    let version = issue_version(issue, options, Some(access));
    let title = format!("{}: {summary}", issue.key);
    let mut doc = Document::text_with_version(id, SOURCE, title, text, &version)
        .with_updated_at(updated)
        .with_owners(owners);
    doc.metadata = metadata;
    if let Ok(link) = Url::parse(&url) {
        doc = doc.with_link(link);
    }
    if let Some(access) = access {
        doc = doc.with_access(access.to_access());
    }
    doc
}

/// The version token of an issue's document: `fields.updated` changes with every edit,
/// comment and attachment. What changes the document without touching `updated` is in it
/// too, so that a reconciliation run (every issue listed, unchanged versions skipped)
/// delivers it again: with `include_permissions`, a hash of the issue's access (a group
/// added to the project's scheme, a role's members changed; `access`: `None` when it could
/// not be computed before the fetch, which then fetches it); under `id_scheme: issue_id`,
/// the project the issue is in (a move keeps the document's id).
pub(crate) fn issue_version(
    issue: &Issue,
    options: &Options,
    access: Option<Option<&Principals>>,
) -> String {
    let mut version = format!("issue:{}:{}", issue.fields.updated, options.token());
    if options.ids.scheme() == IdScheme::IssueId {
        let project = issue.fields.project.as_ref();
        let project = project.and_then(|p| p.id.as_deref().or(p.key.as_deref()));
        let _ = write!(version, ":in{}", project.unwrap_or("-"));
    }
    version.push_str(&access_token(options, access));
    version
}

/// The part of a version token that is the document's access (see [`issue_version`]):
/// empty without `include_permissions`.
fn access_token(options: &Options, access: Option<Option<&Principals>>) -> String {
    match (options.include_permissions, access) {
        (false, _) => String::new(),
        (true, Some(Some(p))) => format!(":p{}", p.short_hash()),
        (true, Some(None)) => ":p-".to_owned(),
        (true, None) => ":p?".to_owned(),
    }
}

/// The version token of an attachment: attachments never change, only appear and go. With
/// `include_permissions` the document carries access, so turning it on sends them again, and
/// the token holds a hash of that access (`access`: `None` when it could not be computed
/// before the fetch, which then fetches it), so narrowing the issue's readers (a security
/// level set, which touches the issue but not the attachment) delivers it again.
pub(crate) fn attachment_version(
    a: &Attachment,
    options: &Options,
    access: Option<Option<&Principals>>,
) -> String {
    format!(
        "attachment:{}:{}{}",
        a.id,
        a.size,
        access_token(options, access)
    )
}

/// An attachment as a bytes document whose parent is the issue; `access` who may read it,
/// when known.
pub(crate) fn attachment_document(
    issue: &Issue,
    a: &Attachment,
    data: Bytes,
    options: &Options,
    access: Option<&Principals>,
) -> Document {
    let parent = options.ids.issue(&issue.id, &issue.key);
    let url = options.ids.browse(&issue.key);
    let extension = a
        .filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 10);
    let mime = a
        .mime_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let mut doc = Document::bytes(
        options.ids.attachment(&issue.id, &issue.key, &a.id),
        SOURCE,
        format!("{}: {}", issue.key, a.filename),
        data,
        mime,
        extension,
    )
    .with_parent_id(parent)
    .with_size(a.size)
    .with_version(&attachment_version(a, options, Some(access)))
    .with_metadata("issue_key", issue.key.clone())
    .with_metadata("filename", a.filename.clone());
    if let Some(t) = a.created.as_deref().and_then(parse_time) {
        doc = doc.with_updated_at(t);
    }
    if let Some(owner) = a.author.as_ref().and_then(|u| u.owner()) {
        doc = doc.with_owners(vec![owner.to_owned()]);
    }
    if let Some(access) = access {
        doc = doc.with_access(access.to_access());
    }
    if let Ok(link) = Url::parse(&url) {
        doc = doc.with_link(link);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jira_timestamps() {
        let t = parse_time("2024-01-15T10:00:30.000+0000").unwrap();
        assert_eq!(t.to_rfc3339(), "2024-01-15T10:00:30+00:00");
        let t = parse_time("2024-01-15T12:00:30.123+0200").unwrap();
        assert_eq!(t.timestamp_millis() % 1000, 123);
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(12), "12 B");
        assert_eq!(human_size(2048), "2.0 KiB");
    }
}
