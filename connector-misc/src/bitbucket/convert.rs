//! A pull request and its comments as one Markdown document.

use chrono::{DateTime, Datelike, Timelike, Utc};
use connector_core::text::markdown::{self, Block, Inline};
use connector_core::{Access, Document};
use url::Url;

use std::borrow::Cow;

use super::SOURCE;
use super::checkpoint::RepoFrame;
use super::model::{ActivityEntry, Comment, PullRequest, User};

/// The document id of pull request `id` of `workspace/slug`: RAGFlow's
/// `bitbucket:{workspace}:{slug}:pr:{id}`.
pub(crate) fn doc_id(workspace: &str, slug: &str, id: u64) -> String {
    format!("{SOURCE}:{workspace}:{slug}:pr:{id}")
}

/// The web page of a pull request: `links.html.href`, else the one Bitbucket's UI uses.
pub(crate) fn link(workspace: &str, slug: &str, pr: &PullRequest) -> Option<Url> {
    pr.links
        .as_ref()
        .and_then(|l| l.html.as_ref())
        .and_then(|h| h.href.as_deref())
        .and_then(|h| Url::parse(h).ok())
        .or_else(|| web_link(workspace, slug, pr.id))
}

/// The web page of pull request `id` as Bitbucket's UI addresses it.
pub(crate) fn web_link(workspace: &str, slug: &str, id: u64) -> Option<Url> {
    Url::parse(&format!(
        "https://bitbucket.org/{workspace}/{slug}/pull-requests/{id}"
    ))
    .ok()
}

/// The version token of a pull request: its `updated_on`, its comment and task counts and a
/// hash of everything else listed (an approval changes a participant's `approved`, which the
/// text shows, and may not move `updated_on`), and the access ([`access_hash`], made once a
/// page). All of it is listed, so an
/// unchanged pull request costs no comment request. An edited comment changes none of it
/// unless Bitbucket moves `updated_on`.
pub(crate) fn version(pr: &PullRequest, access_hash: &str) -> String {
    format!(
        "{}:{}:{}:{}:{access_hash}",
        rfc3339(pr.updated_on),
        pr.comment_count.unwrap_or_default(),
        pr.task_count.unwrap_or_default(),
        pr.listed
    )
}

/// A hash of who may read a document.
pub(crate) fn access_hash(access: &Access) -> String {
    connector_core::ids::hash128(&format!("{}|{}", access.groups.join(","), access.public))
}

/// Who may read the pull requests of `repo`: anyone for a public repository, else the
/// repository as a group (`bitbucket-repo:{workspace}/{slug}`, for a host that resolves it)
/// and each user with an effective permission on it (`bitbucket-user:{account_id}`), when
/// they could be read.
pub(crate) fn access(workspace: &str, repo: &RepoFrame) -> Access {
    if !repo.private {
        return Access::public();
    }
    let mut groups = vec![format!("bitbucket-repo:{workspace}/{}", repo.slug)];
    groups.extend(repo.users.iter().cloned());
    Access::restricted(Vec::new(), groups)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// `2025-03-01 10:00 UTC`: what chrono's `%Y-%m-%d %H:%M UTC` writes, without reading that
/// format at each call (a few of these per pull request).
fn day(t: DateTime<Utc>) -> String {
    use std::fmt::Write as _;
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return t.format("%Y-%m-%d %H:%M UTC").to_string();
    }
    let mut out = String::with_capacity(20);
    // Writing into a `String` cannot fail.
    let _ = write!(
        out,
        "{year:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    );
    out
}

/// `markdown` as core's writer writes a [`Block::Markdown`] after the block before it at the
/// top of a document: a blank line, then the text with its CRLFs made LFs, its leading line
/// breaks and trailing whitespace trimmed; nothing at all when it is blank. Written straight
/// into the document's buffer, without a copy of the description or comment for a block
/// first (a test holds it to core's output).
fn push_markdown(out: &mut String, markdown: &str) {
    if markdown.trim().is_empty() {
        return;
    }
    out.push_str("\n\n");
    if markdown.contains("\r\n") {
        let unified = markdown.replace("\r\n", "\n");
        out.push_str(unified.trim_matches(['\n', '\r']).trim_end());
    } else {
        out.push_str(markdown.trim_matches(['\n', '\r']).trim_end());
    }
}

/// What was read of a pull request besides its listing.
pub(crate) struct Parts<'a> {
    pub(crate) comments: &'a [Comment],
    pub(crate) activity: &'a [ActivityEntry],
}

fn names(users: &[User]) -> Vec<String> {
    users
        .iter()
        .filter_map(User::name)
        .map(str::to_owned)
        .collect()
}

/// Where an inline comment sits: `path` and the line in the new (or old) version.
fn place(c: &Comment) -> Option<String> {
    let inline = c.inline.as_ref()?;
    let path = inline.path.as_deref()?;
    Some(match (inline.to, inline.from) {
        (Some(line), _) => format!("{path}:{line}"),
        (None, Some(line)) => format!("{path}:{line} (old)"),
        (None, None) => path.to_owned(),
    })
}

/// The Markdown document of `pr` of `repo` with its comments (deleted ones and unsubmitted
/// review drafts left out) and activity, written into one buffer sized for it; `version` is
/// its version token ([`version`]).
pub(crate) fn document(
    workspace: &str,
    repo: &RepoFrame,
    pr: &PullRequest,
    parts: &Parts<'_>,
    access: Access,
    version: String,
) -> Document {
    let slug = &repo.slug;
    let author = pr.author.as_ref().and_then(User::name).map(str::to_owned);
    let reviewers = names(&pr.reviewers);
    let approved: Vec<String> = pr
        .participants
        .iter()
        .filter(|p| p.approved)
        .filter_map(|p| p.user.as_ref().and_then(User::name))
        .map(str::to_owned)
        .collect();
    let state = pr.state.as_deref().unwrap_or_default();
    let draft = pr.draft.unwrap_or(false);
    let source = pr.source.as_ref().and_then(|e| e.branch()).unwrap_or("");
    let target = pr
        .destination
        .as_ref()
        .and_then(|e| e.branch())
        .unwrap_or("");

    let repository = format!("{workspace}/{slug}");
    let shown_state = if draft {
        Cow::Owned(format!("{state} (draft)"))
    } else {
        Cow::Borrowed(state)
    };
    let mut lines: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(9);
    lines.push(("Repository:", Cow::Borrowed(&repository)));
    lines.push(("State:", shown_state));
    if state == "DECLINED"
        && let Some(reason) = pr.reason.as_deref().filter(|r| !r.is_empty())
    {
        lines.push(("Reason:", Cow::Borrowed(reason)));
    }
    if let Some(a) = &author {
        lines.push(("Author:", Cow::Borrowed(a)));
    }
    if !reviewers.is_empty() {
        lines.push(("Reviewers:", Cow::Owned(reviewers.join(", "))));
    }
    if !approved.is_empty() {
        lines.push(("Approved by:", Cow::Owned(approved.join(", "))));
    }
    if !source.is_empty() || !target.is_empty() {
        lines.push(("Branches:", Cow::Owned(format!("{source} → {target}"))));
    }
    if let Some(c) = pr.created_on {
        lines.push(("Created:", Cow::Owned(day(c))));
    }
    lines.push(("Updated:", Cow::Owned(day(pr.updated_on))));
    let labelled: Vec<(&str, &str)> = lines.iter().map(|(l, v)| (*l, v.as_ref())).collect();

    // Deleted comments, and a pending review's comments (its author's drafts), left out.
    let shown: Vec<&Comment> = parts
        .comments
        .iter()
        .filter(|c| !c.deleted && !c.pending)
        .collect();
    let description = pr.description.as_deref().filter(|d| !d.trim().is_empty());
    let events = activity_lines(parts.activity, pr.created_on);
    let size = 256
        + pr.title.len()
        + description.map_or(0, str::len)
        + shown
            .iter()
            .map(|c| {
                96 + c
                    .content
                    .as_ref()
                    .and_then(|r| r.raw.as_ref())
                    .map_or(0, String::len)
            })
            .sum::<usize>()
        + events.len()
        + 16;
    let mut text = String::with_capacity(size);
    markdown::render_into(
        &mut text,
        &[
            Block::heading(1, vec![Inline::text(format!("#{} {}", pr.id, pr.title))]),
            Block::labelled_lines(&labelled),
        ],
    );
    if let Some(d) = description {
        // Bitbucket descriptions and comments are Markdown already.
        push_markdown(&mut text, d);
    }
    if !shown.is_empty() {
        text.push_str("\n\n## Comments");
    }
    for c in shown {
        let who = c.user.as_ref().and_then(User::name).unwrap_or("someone");
        let mut head = vec![Inline::text(format!("Comment {} by {who}", c.id))];
        if let Some(at) = c.created_on {
            head.push(Inline::text(format!(", {}", day(at))));
        }
        if let Some(place) = place(c) {
            head.push(Inline::text(", on "));
            head.push(Inline::code(place));
        }
        if let Some(parent) = c.parent.as_ref().and_then(|p| p.id) {
            head.push(Inline::text(format!(", in reply to comment {parent}")));
        }
        text.push_str("\n\n");
        markdown::render_into(&mut text, &[Block::heading(3, head)]);
        if let Some(raw) = c.content.as_ref().and_then(|r| r.raw.as_deref()) {
            push_markdown(&mut text, raw);
        }
    }
    if !events.is_empty() {
        text.push_str("\n\n## Activity");
        push_markdown(&mut text, &events);
    }

    let title = format!("{slug}#{}: {}", pr.id, pr.title);
    let mut doc = Document::text_with_version(
        doc_id(workspace, slug, pr.id),
        SOURCE,
        title,
        text,
        &version,
    )
    .with_updated_at(pr.updated_on)
    .with_parent_id(format!("{SOURCE}:{workspace}:{slug}"))
    .with_metadata("object_type", "PullRequest")
    .with_metadata("workspace", workspace.to_owned())
    .with_metadata("repository", slug.clone())
    .with_metadata("pr_key", format!("{repository}#{}", pr.id))
    .with_metadata("state", state.to_owned())
    .with_metadata("draft", draft)
    .with_metadata("source_branch", source.to_owned())
    .with_metadata("destination_branch", target.to_owned())
    .with_metadata("reviewers", reviewers.clone())
    .with_metadata("approved_by", approved)
    .with_metadata("comment_count", pr.comment_count.unwrap_or_default())
    .with_metadata("task_count", pr.task_count.unwrap_or_default())
    .with_metadata("updated_on", rfc3339(pr.updated_on));
    if let Some(a) = &author {
        doc = doc.with_metadata("author", a.clone());
    }
    if let Some(p) = &repo.project {
        doc = doc.with_metadata("project", p.clone());
    }
    if let Some(c) = pr.created_on {
        doc = doc.with_metadata("created_on", rfc3339(c));
    }
    if let Some(by) = pr.closed_by.as_ref().and_then(User::name) {
        doc = doc.with_metadata("closed_by", by.to_owned());
    }
    if let Some(hash) = pr.merge_commit.as_ref().and_then(|m| m.hash.clone()) {
        doc = doc.with_metadata("merge_commit", hash);
    }
    let mut owners: Vec<String> = author.into_iter().collect();
    for r in reviewers {
        if !owners.contains(&r) {
            owners.push(r);
        }
    }
    if !owners.is_empty() {
        doc = doc.with_owners(owners);
    }
    if let Some(url) = link(workspace, slug, pr) {
        doc = doc.with_link(url);
    }
    doc.with_access(access)
}

/// The activity of a pull request as list lines (one text), oldest first: `- {date}: {who} approved`,
/// `… requested changes`, `… changed the title from "a" to "b", description` (the fields an
/// update changed), `… opened it` (the update at `opened` without changes), or `… updated it
/// (state MERGED)` for another update without changes (commits pushed).
fn activity_lines(activity: &[ActivityEntry], opened: Option<DateTime<Utc>>) -> String {
    let who = |u: Option<&User>| u.and_then(User::name).unwrap_or("someone").to_owned();
    let mut events: Vec<(Option<DateTime<Utc>>, String)> = Vec::new();
    // The feed is newest first: read backwards, then a stable sort by time keeps the entries
    // of one time in the order they happened.
    for entry in activity.iter().rev() {
        if let Some(a) = &entry.approval {
            events.push((a.date, format!("{} approved", who(a.user.as_ref()))));
        }
        if let Some(c) = &entry.changes_requested {
            events.push((
                c.date,
                format!("{} requested changes", who(c.user.as_ref())),
            ));
        }
        if let Some(u) = &entry.update {
            let changed: Vec<String> = u.changes.iter().flatten().map(change).collect();
            let what = if !changed.is_empty() {
                format!("changed the {}", changed.join(", "))
            } else if u.date.is_some() && u.date == opened {
                "opened it".to_owned()
            } else {
                match u.state.as_deref() {
                    Some(state) => format!("updated it (state {state})"),
                    None => "updated it".to_owned(),
                }
            };
            events.push((u.date, format!("{} {what}", who(u.author.as_ref()))));
        }
    }
    events.sort_by_key(|(at, _)| *at);
    let mut lines = String::with_capacity(events.iter().map(|(_, t)| t.len() + 32).sum());
    for (at, text) in events {
        if !lines.is_empty() {
            lines.push('\n');
        }
        lines.push_str("- ");
        if let Some(at) = at {
            lines.push_str(&day(at));
            lines.push_str(": ");
        }
        lines.push_str(&text);
    }
    lines
}

/// One field an update changed: `status from open to merged` when both values are short
/// one-line text, else the field's name alone (a description, a list of reviewers).
fn change((field, values): (&String, &serde_json::Value)) -> String {
    let short = |k: &str| {
        values
            .get(k)
            .and_then(serde_json::Value::as_str)
            .filter(|v| v.len() <= 80 && !v.contains('\n'))
    };
    match (short("old"), short("new")) {
        (Some(old), Some(new)) if field != "description" => {
            format!("{field} from `{old}` to `{new}`")
        }
        _ => field.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_written_as_cores_writer_writes_the_block() {
        for md in [
            "plain",
            "\n\nleading and trailing  \n\n",
            "crlf\r\nlines\r\n\r\n",
            "  indented code\n",
            "   ",
            "",
            "a\n\n- b\n- c",
        ] {
            let head = Block::heading(1, vec![Inline::text("T")]);
            let core = markdown::render(&[head.clone(), Block::Markdown(md.to_owned())]);
            let mut ours = String::new();
            markdown::render_into(&mut ours, &[head]);
            push_markdown(&mut ours, md);
            assert_eq!(ours, core, "{md:?}");
        }
    }

    #[test]
    fn day_is_chronos_format() {
        for t in [
            "2025-03-01T10:05:59Z",
            "0999-01-02T03:04:05Z",
            "+12345-01-01T00:00:00Z",
        ] {
            let t: DateTime<Utc> = t.parse().unwrap();
            assert_eq!(day(t), t.format("%Y-%m-%d %H:%M UTC").to_string());
        }
    }
}
