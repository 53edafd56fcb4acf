//! Issues, pull requests and code files as documents.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use connector_core::pages::Outcome;
use connector_core::{Access, Document, ErrorKind, Failure};
use serde_json::Value;
use url::Url;

use super::SOURCE;
use super::model::{Comment, Issue, Review};

/// A repository as the documents of its items need it.
#[derive(Debug, Clone)]
pub(crate) struct RepoInfo {
    pub(crate) owner: String,
    pub(crate) name: String,
    /// `owner/name` as GitHub spells it.
    pub(crate) full_name: String,
    /// The repository's web page (`https://github.com/owner/name`).
    pub(crate) html_url: String,
    /// The branch code files are read from.
    pub(crate) branch: Option<String>,
    pub(crate) visibility: String,
    pub(crate) archived: bool,
    /// Issues are on; off, its pull requests are listed by `GET /pulls` (see
    /// [`Repo::has_issues`](super::model::Repo)).
    pub(crate) has_issues: bool,
    pub(crate) access: Access,
    /// [`access_hash`](Self::access_hash), computed once: part of every item's version.
    access_key: String,
    /// [`html_url`](Self::html_url) parsed once: the links of its items are built on it.
    link: Option<Url>,
}

impl RepoInfo {
    /// This repository as its items need it, `access` hashed once.
    #[allow(clippy::too_many_arguments)] // One field each, named at the one call.
    pub(crate) fn new(
        owner: String,
        name: String,
        full_name: String,
        html_url: String,
        branch: Option<String>,
        visibility: String,
        archived: bool,
        has_issues: bool,
        access: Access,
    ) -> Self {
        let access_key = connector_core::ids::hash128(&format!(
            "{}|{}|{}",
            access.emails.join(","),
            access.groups.join(","),
            access.public
        ));
        let link = Url::parse(&html_url).ok();
        Self {
            owner,
            name,
            full_name,
            html_url,
            branch,
            visibility,
            archived,
            has_issues,
            access,
            access_key,
            link,
        }
    }

    /// A hash of who may read the repository, part of every version token, so a change of
    /// visibility or collaborators re-sends its documents.
    pub(crate) fn access_hash(&self) -> &str {
        &self.access_key
    }

    /// The document id (RAGFlow's: the web URL) of the code file at `path`.
    pub(crate) fn file_id(&self, branch: &str, path: &str) -> String {
        format!("{}/blob/{branch}/{path}", self.html_url)
    }

    fn file_link(&self, branch: &str, path: &str) -> Option<Url> {
        let mut url = self.link.clone()?;
        url.path_segments_mut()
            .ok()?
            .pop_if_empty()
            .push("blob")
            .extend(branch.split('/'))
            .extend(path.split('/'));
        Some(url)
    }

    /// The link of the item at `html_url`: the repository's parsed link with the rest of the
    /// path pushed when the item is below it in plain segments (`issues/12`, `pull/3`: no
    /// parse of the host per item), else `html_url` parsed.
    fn item_link(&self, html_url: &str) -> Option<Url> {
        let rest = html_url
            .strip_prefix(self.html_url.as_str())
            .and_then(|r| r.strip_prefix('/'))
            .filter(|r| {
                !r.is_empty()
                    && r.split('/').all(|s| {
                        !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    })
            });
        let base = self
            .link
            .as_ref()
            .filter(|b| b.query().is_none() && b.fragment().is_none());
        if let (Some(base), Some(rest)) = (base, rest) {
            let mut url = base.clone();
            let pushed = url
                .path_segments_mut()
                .map(|mut segments| {
                    segments.pop_if_empty().extend(rest.split('/'));
                })
                .is_ok();
            if pushed {
                return Some(url);
            }
        }
        Url::parse(html_url).ok()
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The version token of an issue or pull request: `touched` (the latest of its `updated_at`
/// on the issues endpoint, which edits, new comments, labels and state changes move, and what
/// that one misses: a pull request's own `updated_at`, moved by reviews and review comments,
/// and the `updated_at` of a comment edited in the run's window), its count of comments (a
/// deleted comment lowers it) and the repository's access.
pub(crate) fn issue_version(repo: &RepoInfo, issue: &Issue, touched: DateTime<Utc>) -> String {
    // Pushed into one buffer: this runs once per listed item.
    let at = rfc3339(touched.max(issue.updated_at));
    let key = repo.access_hash();
    let mut version = String::with_capacity(at.len() + key.len() + 44);
    let _ = write!(version, "{}:", issue.number);
    version.push_str(&at);
    let _ = write!(version, ":{}:", issue.comments);
    version.push_str(key);
    version
}

/// The version token of a code file: its blob SHA (the content) and the repository's access.
pub(crate) fn file_version(repo: &RepoInfo, sha: &str) -> String {
    format!("{sha}:{}", repo.access_hash())
}

fn login(user: Option<&super::model::User>) -> &str {
    user.map_or("ghost", |u| u.login.as_str())
}

/// ` (bot)` after the login of a bot's account.
fn bot_mark(user: Option<&super::model::User>) -> &'static str {
    if user.is_some_and(super::model::User::is_bot) {
        " (bot)"
    } else {
        ""
    }
}

/// The Markdown of an issue or pull request: a heading, a line of facts, the body as written
/// (GitHub bodies are Markdown), then every comment, review (its verdict and body) and
/// review comment under its author.
pub(crate) fn issue_markdown(
    repo: &RepoInfo,
    issue: &Issue,
    comments: &[Comment],
    reviews: &[Review],
    review_comments: &[Comment],
) -> String {
    let kind = if issue.is_pull_request() {
        "Pull request"
    } else {
        "Issue"
    };
    let mut md = String::with_capacity(markdown_size(issue, comments, reviews, review_comments));
    // Pieces pushed, not formatted: this runs once per issue.
    md.push_str("# ");
    md.push_str(issue.title.trim());
    md.push_str("\n\n");
    md.push_str(kind);
    let _ = write!(md, " #{}", issue.number);
    md.push_str(" in ");
    md.push_str(&repo.full_name);
    md.push_str(" · ");
    md.push_str(&issue.state);
    md.push_str(" · opened by @");
    md.push_str(login(issue.user.as_ref()));
    md.push_str(bot_mark(issue.user.as_ref()));
    let day = issue.created_at.date_naive();
    let _ = writeln!(
        md,
        " on {:04}-{:02}-{:02}",
        day.year(),
        day.month(),
        day.day()
    );
    if !issue.labels.is_empty() {
        md.push_str("Labels: ");
        for (i, l) in issue.labels.iter().enumerate() {
            if i > 0 {
                md.push_str(", ");
            }
            md.push_str(&l.name);
        }
        md.push('\n');
    }
    if !issue.assignees.is_empty() {
        md.push_str("Assignees: ");
        for (i, u) in issue.assignees.iter().enumerate() {
            if i > 0 {
                md.push_str(", ");
            }
            md.push('@');
            md.push_str(&u.login);
        }
        md.push('\n');
    }
    if let Some(body) = issue
        .body
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
    {
        md.push('\n');
        md.push_str(body);
        md.push('\n');
    }
    if !comments.is_empty() {
        md.push_str("\n## Comments\n");
        for c in comments {
            let _ = write!(
                md,
                "\n### @{}{} · {}\n\n{}\n",
                login(c.user.as_ref()),
                bot_mark(c.user.as_ref()),
                rfc3339(c.created_at),
                c.body.as_deref().unwrap_or("").trim()
            );
        }
    }
    let reviews = shown(reviews);
    if !reviews.is_empty() {
        md.push_str("\n## Reviews\n");
        for r in reviews {
            let verdict = match r.state.as_str() {
                "APPROVED" => "approved",
                "CHANGES_REQUESTED" => "requested changes",
                "DISMISSED" => "review dismissed",
                _ => "commented",
            };
            let when = r
                .submitted_at
                .map(|t| format!(" · {}", rfc3339(t)))
                .unwrap_or_default();
            let _ = write!(
                md,
                "\n### @{}{} {verdict}{when}\n",
                login(r.user.as_ref()),
                bot_mark(r.user.as_ref())
            );
            if let Some(body) = r.body.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
                let _ = write!(md, "\n{body}\n");
            }
        }
    }
    if !review_comments.is_empty() {
        md.push_str("\n## Review comments\n");
        for c in review_comments {
            let place = match (c.path.as_deref(), c.line.or(c.original_line)) {
                (Some(path), Some(line)) => format!(" on `{path}` line {line}"),
                (Some(path), None) => format!(" on `{path}`"),
                _ => String::new(),
            };
            let _ = write!(
                md,
                "\n### @{}{}{place} · {}\n\n{}\n",
                login(c.user.as_ref()),
                bot_mark(c.user.as_ref()),
                rfc3339(c.created_at),
                c.body.as_deref().unwrap_or("").trim()
            );
        }
    }
    md
}

/// About the length of [`issue_markdown`]'s text: the bodies and a line of facts per part,
/// so the buffer is sized once.
fn markdown_size(
    issue: &Issue,
    comments: &[Comment],
    reviews: &[Review],
    review_comments: &[Comment],
) -> usize {
    let body = |b: &Option<String>| b.as_deref().map_or(0, str::len) + 96;
    256 + issue.title.len()
        + body(&issue.body)
        + comments.iter().map(|c| body(&c.body)).sum::<usize>()
        + reviews.iter().map(|r| body(&r.body)).sum::<usize>()
        + review_comments
            .iter()
            .map(|c| body(&c.body) + c.path.as_deref().map_or(0, str::len))
            .sum::<usize>()
}

/// The reviews a document shows: a verdict, or a body (a review made of line comments alone
/// is a `COMMENTED` one without a body, shown by its comments); not a `PENDING` one (a draft
/// only its author sees).
fn shown(reviews: &[Review]) -> Vec<&Review> {
    reviews
        .iter()
        .filter(|r| r.state != "PENDING")
        .filter(|r| {
            r.state != "COMMENTED" || r.body.as_deref().is_some_and(|b| !b.trim().is_empty())
        })
        .collect()
}

/// The document of an issue or pull request with its comments, reviews and review comments;
/// `touched` and `version` as in [`issue_version`]. The issue's strings move into the
/// document.
pub(crate) fn issue_document(
    repo: &RepoInfo,
    issue: Issue,
    touched: DateTime<Utc>,
    version: &str,
    comments: &[Comment],
    reviews: &[Review],
    review_comments: &[Comment],
) -> Document {
    let text = issue_markdown(repo, &issue, comments, reviews, review_comments);
    let link = repo.item_link(&issue.html_url);
    let pull = issue.is_pull_request();
    let shown_reviews = if pull { shown(reviews).len() } else { 0 };
    let Issue {
        number,
        title,
        state,
        state_reason,
        html_url,
        user,
        assignees,
        labels,
        milestone,
        comments: comment_count,
        created_at,
        updated_at,
        closed_at,
        pull_request,
        draft,
        locked,
        active_lock_reason,
        ..
    } = issue;
    let title = {
        let trimmed = title.trim();
        let mut t = String::with_capacity(repo.full_name.len() + trimmed.len() + 24);
        t.push_str(&repo.full_name);
        let _ = write!(t, "#{number}: ");
        t.push_str(trimmed);
        t
    };
    let author_bot = user.as_ref().is_some_and(super::model::User::is_bot);
    let author = user.map(|u| u.login);
    let mut owners: Vec<String> = Vec::with_capacity(1 + assignees.len());
    owners.extend(author.iter().cloned());
    let assignees: Vec<String> = assignees.into_iter().map(|u| u.login).collect();
    for a in &assignees {
        if !owners.contains(a) {
            owners.push(a.clone());
        }
    }
    let labels: Vec<Value> = labels.into_iter().map(|l| Value::from(l.name)).collect();
    let assignees: Vec<Value> = assignees.into_iter().map(Value::from).collect();
    let kind = if pull { "pull_request" } else { "issue" };
    // The metadata gathered, then built into its map at once (one sort of an already sorted
    // list, not a search and shift per key).
    let mut meta: Vec<(&str, Value)> = Vec::with_capacity(20);
    meta.push(("repo", repo.full_name.clone().into()));
    meta.push(("number", number.into()));
    meta.push(("type", kind.into()));
    meta.push(("state", state.into()));
    meta.push(("labels", labels.into()));
    meta.push(("assignees", assignees.into()));
    meta.push((
        "author",
        author.unwrap_or_else(|| "ghost".to_owned()).into(),
    ));
    meta.push(("comments", comment_count.into()));
    meta.push(("created_at", rfc3339(created_at).into()));
    meta.push(("visibility", repo.visibility.clone().into()));
    if pull {
        meta.push(("review_comments", review_comments.len().into()));
        meta.push(("reviews", shown_reviews.into()));
        if let Some(merged) = pull_request.and_then(|p| p.merged_at) {
            meta.push(("merged_at", rfc3339(merged).into()));
        }
        if let Some(draft) = draft {
            meta.push(("draft", draft.into()));
        }
    }
    if let Some(reason) = state_reason {
        meta.push(("state_reason", reason.into()));
    }
    if let Some(closed) = closed_at {
        meta.push(("closed_at", rfc3339(closed).into()));
    }
    if let Some(m) = milestone {
        meta.push(("milestone", m.title.into()));
    }
    if locked {
        meta.push(("locked", true.into()));
        if let Some(reason) = active_lock_reason {
            meta.push(("active_lock_reason", reason.into()));
        }
    }
    if author_bot {
        meta.push(("author_is_bot", true.into()));
    }
    if repo.archived {
        meta.push(("archived", true.into()));
    }
    let mut doc = Document::text_with_version(html_url, SOURCE, title, text, version)
        .with_updated_at(touched.max(updated_at))
        .with_parent_id(repo.html_url.clone())
        .with_owners(owners)
        .with_access(repo.access.clone());
    doc.metadata = meta.into_iter().map(|(k, v)| (k.into(), v)).collect();
    match link {
        Some(url) => doc.with_link(url),
        None => doc,
    }
}

/// A code file to fetch: where it is and what the tree says of it.
#[derive(Debug, Clone)]
pub(crate) struct CodeFile {
    pub(crate) path: String,
    pub(crate) sha: String,
    pub(crate) size: Option<u64>,
    pub(crate) branch: String,
    pub(crate) commit: String,
}

/// A failure of the code file `file`.
pub(crate) fn file_failure(
    repo: &RepoInfo,
    file: &CodeFile,
    kind: ErrorKind,
    message: impl std::fmt::Display,
) -> Failure {
    let failure = Failure::new(
        Some(repo.file_id(&file.branch, &file.path)),
        kind,
        format!("{}: {}: {message}", repo.full_name, file.path),
    );
    match repo.file_link(&file.branch, &file.path) {
        Some(url) => failure.with_link(url),
        None => failure,
    }
}

/// The size of the file a Git LFS pointer stands for, when `data` is one: under 1024 bytes
/// (the spec's bound), its first line `version https://git-lfs.github.com/spec/v1` (or the
/// older `hawser` address), with a `size N` line (`Some(None)` without one).
fn lfs_pointer(data: &[u8]) -> Option<Option<u64>> {
    const VERSIONS: [&[u8]; 2] = [
        b"version https://git-lfs.github.com/spec/",
        b"version https://hawser.github.com/spec/",
    ];
    if data.len() >= 1024 || !VERSIONS.iter().any(|v| data.starts_with(v)) {
        return None;
    }
    let text = std::str::from_utf8(data).ok()?;
    Some(
        text.lines()
            .find_map(|l| l.strip_prefix("size "))
            .and_then(|n| n.trim().parse().ok()),
    )
}

/// The document of a downloaded code file; a Git LFS pointer (the file itself is stored
/// outside the repository, and the blob is only its address) is an `Unsupported` failure
/// naming the real size rather than a document of the pointer's text.
pub(crate) fn file_document(repo: &RepoInfo, file: &CodeFile, data: Vec<u8>) -> Outcome {
    if let Some(real) = lfs_pointer(&data) {
        let size = real.map_or_else(String::new, |n| format!(" of {n} bytes"));
        return file_failure(
            repo,
            file,
            ErrorKind::Unsupported,
            format!(
                "a Git LFS pointer: the file{size} is stored in Git LFS, outside the repository, and is not read (leave it out with exclude_paths)"
            ),
        )
        .into();
    }
    let size = data.len() as u64;
    let name = file.path.rsplit('/').next().unwrap_or(&file.path);
    let id = repo.file_id(&file.branch, &file.path);
    let doc = match crate::files::code_file_document(id, SOURCE, name, data) {
        Ok(doc) => doc,
        Err(message) => return file_failure(repo, file, ErrorKind::InvalidData, message).into(),
    };
    let mut doc = doc
        .with_size(size)
        .with_version(&file_version(repo, &file.sha))
        .with_parent_id(repo.html_url.clone())
        .with_access(repo.access.clone())
        .with_metadata("repo", repo.full_name.clone())
        .with_metadata("type", "file")
        .with_metadata("path", file.path.clone())
        .with_metadata("branch", file.branch.clone())
        .with_metadata("commit", file.commit.clone())
        .with_metadata("blob_sha", file.sha.clone())
        .with_metadata("visibility", repo.visibility.clone());
    doc.title = format!("{}: {}", repo.full_name, file.path);
    if let Some(url) = repo.file_link(&file.branch, &file.path) {
        doc = doc.with_link(url);
    }
    doc.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(html_url: &str) -> RepoInfo {
        RepoInfo::new(
            "acme".into(),
            "api".into(),
            "acme/api".into(),
            html_url.into(),
            None,
            "public".into(),
            false,
            true,
            Access::public(),
        )
    }

    /// An item's link built on the repository's is the link its URL parses to.
    #[test]
    fn item_links_are_the_parsed_urls() {
        for (base, item) in [
            (
                "https://github.com/acme/api",
                "https://github.com/acme/api/issues/12",
            ),
            (
                "https://github.com/acme/api",
                "https://github.com/acme/api/pull/3",
            ),
            (
                "https://GitHub.com:443/acme/api",
                "https://GitHub.com:443/acme/api/issues/7",
            ),
            (
                "http://127.0.0.1:8080/acme/api",
                "http://127.0.0.1:8080/acme/api/issues/1",
            ),
            (
                "https://ghe.example.com/acme/api",
                "https://ghe.example.com/acme/api/pull/9",
            ),
            // Not below the repository, or not in plain segments: parsed.
            (
                "https://github.com/acme/api",
                "https://github.com/other/web/issues/2",
            ),
            (
                "https://github.com/acme/api",
                "https://github.com/acme/api/issues/a%20b",
            ),
            (
                "https://github.com/acme/api",
                "https://github.com/acme/api/issues/../x",
            ),
            (
                "https://github.com/acme/api",
                "https://github.com/acme/api/issues//1",
            ),
            (
                "https://github.com/acme/api",
                "https://github.com/acme/apix/issues/1",
            ),
        ] {
            let built = repo(base).item_link(item).map(|u| u.to_string());
            let parsed = Url::parse(item).ok().map(|u| u.to_string());
            assert_eq!(built, parsed, "{item}");
        }
    }
}
