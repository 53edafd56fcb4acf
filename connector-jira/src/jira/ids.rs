//! Document ids: [`IdScheme`] (Jira's numeric ids, or RAGFlow's browse URLs) and the ids of
//! issues, attachments and comment documents under each, and the issue an id names (refetch).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How documents are identified.
///
/// | | `issue_id` (default) | `ragflow_url` |
/// | --- | --- | --- |
/// | issue | `jira:{site}/issue/{id}` | `{base_url}/browse/{KEY}` |
/// | attachment | `jira:{site}/issue/{id}/attachment/{id}` | `{KEY}::attachment::{id}` |
/// | restricted comment | `jira:{site}/issue/{id}/comment/{id}` | `{base_url}/browse/{KEY}?focusedCommentId={id}` |
///
/// `{site}` is the base URL without its scheme (`acme.atlassian.net`,
/// `jira.example.com/jira`); `{id}` is Jira's numeric id, which never changes, while an issue's
/// key changes when it moves to another project (`ENG-12` becomes `OPS-40`).
///
/// `issue_id` keeps a moved issue's documents: the move is an update of the same documents.
/// Under `ragflow_url` a move is a new document, and the old one stays until a prune deletes
/// it. `ragflow_url` is what RAGFlow (and this connector before) named documents with: a host
/// migrating from RAGFlow, whose stored configs name no scheme, keeps its documents' ids with
/// [`Registry::set_ragflow_ids`](connector_core::Registry::set_ragflow_ids) (`connectors
/// --ragflow-ids`), or per config with `id_scheme: ragflow_url`. Switching a deployed
/// connector is a one-time re-index under the new ids (the old ids are pruned).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IdScheme {
    /// RAGFlow's ids: the issue's browse URL, `{KEY}::attachment::{id}`.
    RagflowUrl,
    /// Jira's numeric ids, which survive renames and moves.
    #[default]
    IssueId,
}

/// The ids of one connector's documents.
#[derive(Debug, Clone)]
pub(crate) struct DocIds {
    scheme: IdScheme,
    /// The base URL without a trailing `/`: links, and ids under `ragflow_url`.
    site: String,
    /// The base URL without its scheme: ids under `issue_id`.
    site_key: String,
}

/// The issue an id names, as `/issue/{idOrKey}` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IssueRef(pub(crate) String);

impl DocIds {
    pub(crate) fn new(scheme: IdScheme, site: String) -> Self {
        let site_key = site
            .split_once("://")
            .map_or(site.as_str(), |(_, rest)| rest)
            .to_owned();
        Self {
            scheme,
            site,
            site_key,
        }
    }

    pub(crate) fn site(&self) -> &str {
        &self.site
    }

    pub(crate) fn scheme(&self) -> IdScheme {
        self.scheme
    }

    /// Where a person opens the issue: `{base_url}/browse/{KEY}` under either scheme.
    pub(crate) fn browse(&self, key: &str) -> String {
        format!("{}/browse/{key}", self.site)
    }

    /// The id of an issue's document.
    pub(crate) fn issue(&self, id: &str, key: &str) -> String {
        match self.scheme {
            IdScheme::RagflowUrl => self.browse(key),
            IdScheme::IssueId => format!("jira:{}/issue/{id}", self.site_key),
        }
    }

    /// The id of an issue's document from what a raw search result holds, when it holds what
    /// the scheme needs (a malformed issue may lack it).
    pub(crate) fn issue_from(&self, id: Option<&str>, key: Option<&str>) -> Option<String> {
        match self.scheme {
            IdScheme::RagflowUrl => key.map(|k| self.browse(k)),
            IdScheme::IssueId => id.map(|i| self.issue(i, "")),
        }
    }

    /// The id of an attachment's document.
    pub(crate) fn attachment(&self, issue_id: &str, key: &str, attachment: &str) -> String {
        match self.scheme {
            IdScheme::RagflowUrl => format!("{key}::attachment::{attachment}"),
            IdScheme::IssueId => {
                format!(
                    "jira:{}/issue/{issue_id}/attachment/{attachment}",
                    self.site_key
                )
            }
        }
    }

    /// The id of a restricted comment's document.
    pub(crate) fn comment(&self, issue_id: &str, key: &str, comment: &str) -> String {
        match self.scheme {
            IdScheme::RagflowUrl => format!("{}?focusedCommentId={comment}", self.browse(key)),
            IdScheme::IssueId => {
                format!("jira:{}/issue/{issue_id}/comment/{comment}", self.site_key)
            }
        }
    }

    /// Whether `id` is the id of a restricted comment's document of the issue whose document
    /// id is `issue`.
    pub(crate) fn is_comment_of(&self, id: &str, issue: &str) -> bool {
        id.strip_prefix(issue).is_some_and(|rest| {
            rest.starts_with("?focusedCommentId=") || rest.starts_with("/comment/")
        })
    }

    /// The issue `id` belongs to, under either scheme (a host that switched schemes may still
    /// hold ids of the other); `None` for an id of another site or no issue.
    pub(crate) fn issue_of(&self, id: &str) -> Option<IssueRef> {
        let numeric = format!("jira:{}/issue/", self.site_key);
        if let Some(rest) = id.strip_prefix(&numeric) {
            let issue = rest.split('/').next().unwrap_or_default();
            return (!issue.is_empty() && issue.bytes().all(|b| b.is_ascii_digit()))
                .then(|| IssueRef(issue.to_owned()));
        }
        let browse = format!("{}/browse/", self.site);
        let key = match id.strip_prefix(&browse) {
            Some(rest) => rest.split('?').next().unwrap_or_default(),
            None => id.split_once("::attachment::").map(|(k, _)| k)?,
        };
        (!key.is_empty()).then(|| IssueRef(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_under_each_scheme() {
        let url = DocIds::new(IdScheme::RagflowUrl, "https://j.local/jira".into());
        assert_eq!(
            url.issue("10001", "ENG-1"),
            "https://j.local/jira/browse/ENG-1"
        );
        assert_eq!(
            url.attachment("10001", "ENG-1", "7"),
            "ENG-1::attachment::7"
        );
        let num = DocIds::new(IdScheme::IssueId, "https://j.local/jira".into());
        assert_eq!(num.issue("10001", "ENG-1"), "jira:j.local/jira/issue/10001");
        assert_eq!(
            num.attachment("10001", "ENG-1", "7"),
            "jira:j.local/jira/issue/10001/attachment/7"
        );
        // Links are browse URLs under either scheme.
        assert_eq!(num.browse("ENG-1"), "https://j.local/jira/browse/ENG-1");
    }

    #[test]
    fn the_issue_an_id_names_under_either_scheme() {
        let ids = DocIds::new(IdScheme::IssueId, "https://j.local".into());
        let of = |id: &str| ids.issue_of(id).map(|r| r.0);
        assert_eq!(of("jira:j.local/issue/10001").as_deref(), Some("10001"));
        assert_eq!(
            of("jira:j.local/issue/10001/attachment/7").as_deref(),
            Some("10001")
        );
        assert_eq!(
            of("jira:j.local/issue/10001/comment/3").as_deref(),
            Some("10001")
        );
        assert_eq!(of("https://j.local/browse/ENG-2").as_deref(), Some("ENG-2"));
        assert_eq!(
            of("https://j.local/browse/ENG-2?focusedCommentId=3").as_deref(),
            Some("ENG-2")
        );
        assert_eq!(of("ENG-1::attachment::7").as_deref(), Some("ENG-1"));
        for other in [
            "jira:other.local/issue/1",
            "https://other/browse/X-1",
            "https://j.local/browse/",
            "jira:j.local/issue/abc",
            "jira:j.local/issue/",
        ] {
            assert_eq!(of(other), None, "{other}");
        }
    }
}
