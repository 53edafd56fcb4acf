//! What Bitbucket Cloud's REST 2.0 answers hold (the fields the connector reads).

use chrono::{DateTime, Utc};
use connector_core::jsonref::JsonRef;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// One page of a paginated collection: `values`, and `next`, the absolute URL of the next
/// page (absent on the last). `pagelen`, `size` and `page` are informational.
#[derive(Debug, Deserialize)]
pub(crate) struct Paged<T> {
    #[serde(default = "Vec::new")]
    pub(crate) values: Vec<T>,
    #[serde(default)]
    pub(crate) next: Option<String>,
}

/// A user (`author`, `reviewers[]`, `participants[].user`, `comment.user`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct User {
    #[serde(default)]
    pub(crate) display_name: Option<String>,
    #[serde(default)]
    pub(crate) nickname: Option<String>,
}

impl User {
    /// The name a person recognises: `display_name`, else `nickname`.
    pub(crate) fn name(&self) -> Option<&str> {
        self.display_name
            .as_deref()
            .or(self.nickname.as_deref())
            .filter(|s| !s.is_empty())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Participant {
    #[serde(default)]
    pub(crate) user: Option<User>,
    #[serde(default)]
    pub(crate) approved: bool,
    /// `approved`, `changes_requested` or null.
    #[serde(default)]
    pub(crate) state: Option<String>,
}

/// An entry of `GET /2.0/repositories/{workspace}/{slug}/pullrequests/{id}/activity`: one of
/// `update`, `approval`, `changes_requested` or `comment` (comments are read from their own
/// endpoint, so left out here).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ActivityEntry {
    #[serde(default)]
    pub(crate) update: Option<Update>,
    #[serde(default)]
    pub(crate) approval: Option<Verdict>,
    #[serde(default)]
    pub(crate) changes_requested: Option<Verdict>,
}

/// An `update` of a pull request: its state after it, who made it and when, and which
/// fields it changed (`changes`: `{"title": {"old": …, "new": …}, …}`; absent or empty when
/// the pull request was opened or new commits were pushed).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Update {
    #[serde(default)]
    pub(crate) state: Option<String>,
    #[serde(default)]
    pub(crate) author: Option<User>,
    #[serde(default)]
    pub(crate) date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) changes: Option<serde_json::Map<String, Value>>,
}

/// An `approval` or a `changes_requested`: who and when.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Verdict {
    #[serde(default)]
    pub(crate) user: Option<User>,
    #[serde(default)]
    pub(crate) date: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Named {
    #[serde(default)]
    pub(crate) name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Endpoint {
    #[serde(default)]
    pub(crate) branch: Option<Named>,
}

impl Endpoint {
    pub(crate) fn branch(&self) -> Option<&str> {
        self.branch.as_ref().and_then(|b| b.name.as_deref())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Href {
    #[serde(default)]
    pub(crate) href: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Links {
    #[serde(default)]
    pub(crate) html: Option<Href>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Hash {
    #[serde(default)]
    pub(crate) hash: Option<String>,
}

/// A pull request as listed with [`PR_FIELDS`](super::client::PR_FIELDS).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PullRequest {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) state: Option<String>,
    #[serde(default)]
    pub(crate) draft: Option<bool>,
    #[serde(default)]
    pub(crate) reason: Option<String>,
    #[serde(default)]
    pub(crate) author: Option<User>,
    #[serde(default)]
    pub(crate) reviewers: Vec<User>,
    #[serde(default)]
    pub(crate) participants: Vec<Participant>,
    #[serde(default)]
    pub(crate) closed_by: Option<User>,
    #[serde(default)]
    pub(crate) source: Option<Endpoint>,
    #[serde(default)]
    pub(crate) destination: Option<Endpoint>,
    #[serde(default)]
    pub(crate) merge_commit: Option<Hash>,
    #[serde(default)]
    pub(crate) created_on: Option<DateTime<Utc>>,
    pub(crate) updated_on: DateTime<Utc>,
    #[serde(default)]
    pub(crate) comment_count: Option<u64>,
    #[serde(default)]
    pub(crate) task_count: Option<u64>,
    #[serde(default)]
    pub(crate) links: Option<Links>,
    /// A hash of everything listed of it (the `fields` the listing asks for): title,
    /// description, state, reviewers, each participant's approval, counts, `updated_on`.
    #[serde(skip)]
    pub(crate) listed: String,
}

/// A listed pull request: read, or malformed (with its id when it has one).
pub(crate) enum Listed {
    Pr(Box<PullRequest>),
    Malformed { id: Option<u64>, message: String },
}

impl Listed {
    /// One listed value from its text, on its own, so one malformed pull request fails
    /// alone. The text is read twice, neither time into a `serde_json::Value`: borrowed
    /// ([`JsonRef`]) for the hash of everything listed, typed for the fields the document
    /// shows.
    pub(crate) fn from_text(text: &str) -> Self {
        let Ok(json) = serde_json::from_str::<JsonRef<'_>>(text) else {
            return Self::Malformed {
                id: None,
                message: "the pull request is not JSON".to_owned(),
            };
        };
        let id = match json.get("id") {
            Some(JsonRef::Number(n)) => n.as_u64(),
            _ => None,
        };
        let listed = connector_core::ids::hash128_written(|buf| json.write_canonical(buf));
        match serde_json::from_str::<PullRequest>(text) {
            Ok(mut pr) => {
                pr.listed = listed;
                Self::Pr(Box::new(pr))
            }
            Err(e) => Self::Malformed {
                id,
                message: format!("the pull request cannot be read: {e}"),
            },
        }
    }
}

/// A pull-request page as sent: each value's text apart, and the `next` link.
#[derive(Deserialize)]
pub(crate) struct RawPage<'a> {
    #[serde(borrow, default)]
    pub(crate) values: Vec<&'a RawValue>,
    #[serde(default)]
    pub(crate) next: Option<String>,
}

/// A pull-request page read: its values (each read on its own) and its `next` link.
pub(crate) struct PrPage {
    pub(crate) values: Vec<Listed>,
    pub(crate) next: Option<String>,
}

impl From<RawPage<'_>> for PrPage {
    fn from(page: RawPage<'_>) -> Self {
        Self {
            values: page
                .values
                .iter()
                .map(|v| Listed::from_text(v.get()))
                .collect(),
            next: page.next,
        }
    }
}

/// A pull request of prune's id listing: its `id`, when it is a number.
#[derive(Debug, Deserialize)]
pub(crate) struct SlimPr {
    #[serde(default)]
    pub(crate) id: Option<Value>,
}

/// A comment's body.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Rendered {
    #[serde(default)]
    pub(crate) raw: Option<String>,
}

/// Where an inline comment sits: the file and the line in the old (`from`) or new (`to`)
/// version.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Inline {
    #[serde(default)]
    pub(crate) path: Option<String>,
    #[serde(default)]
    pub(crate) from: Option<u64>,
    #[serde(default)]
    pub(crate) to: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ParentRef {
    #[serde(default)]
    pub(crate) id: Option<u64>,
}

/// A pull-request comment.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Comment {
    pub(crate) id: u64,
    #[serde(default)]
    pub(crate) content: Option<Rendered>,
    #[serde(default)]
    pub(crate) user: Option<User>,
    #[serde(default)]
    pub(crate) created_on: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) deleted: bool,
    /// Part of a review its author has not submitted: Bitbucket shows it to the author alone
    /// (whose token may be the one reading).
    #[serde(default)]
    pub(crate) pending: bool,
    #[serde(default)]
    pub(crate) inline: Option<Inline>,
    #[serde(default)]
    pub(crate) parent: Option<ParentRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ProjectRef {
    #[serde(default)]
    pub(crate) key: Option<String>,
}

/// A repository as listed.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Repository {
    pub(crate) slug: String,
    #[serde(default)]
    pub(crate) is_private: Option<bool>,
    #[serde(default)]
    pub(crate) project: Option<ProjectRef>,
}

/// An entry of `workspaces/{workspace}/permissions/repositories/{slug}`:
/// `{"type": "repository_permission", "permission": "read", "user": {"account_id", "uuid", …},
/// "repository": {…}}`, one per user with the user's effective permission.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RepositoryPermission {
    #[serde(default)]
    pub(crate) user: Option<Account>,
}

/// The ids of an account: `account_id` (Atlassian's, across products) and Bitbucket's `uuid`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Account {
    #[serde(default)]
    pub(crate) account_id: Option<String>,
    #[serde(default)]
    pub(crate) uuid: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listed_hash_is_that_of_the_value_as_serde_json_writes_it() {
        // Keys out of order, nested, a later duplicate, escapes, unicode, numbers of each kind.
        let text = r#"{"title": "Fix \"quotes\" \u00e9 \n tab\t", "id": 7, "b": {"z": [1, -2, 3.5, 1e3, null, true], "a": {}}, "dup": 1, "dup": "second", "": [], "é": "\u2028 \/"}"#;
        let value: Value = serde_json::from_str(text).unwrap();
        let json: JsonRef<'_> = serde_json::from_str(text).unwrap();
        let mut written = Vec::new();
        json.write_canonical(&mut written);
        assert_eq!(String::from_utf8(written).unwrap(), value.to_string());
        let Listed::Pr(pr) = Listed::from_text(
            r#"{"id": 3, "updated_on": "2025-03-01T10:00:00+00:00", "title": "t", "links": {"html": {"href": "x"}}}"#,
        ) else {
            panic!("not read");
        };
        let value: Value = serde_json::from_str(
            r#"{"id": 3, "updated_on": "2025-03-01T10:00:00+00:00", "title": "t", "links": {"html": {"href": "x"}}}"#,
        )
        .unwrap();
        assert_eq!(pr.listed, connector_core::ids::hash128(&value.to_string()));
    }

    #[test]
    fn a_malformed_pull_request_keeps_its_id() {
        match Listed::from_text(r#"{"id": 9, "updated_on": "yesterday"}"#) {
            Listed::Malformed { id, message } => {
                assert_eq!(id, Some(9));
                assert!(message.contains("cannot be read"), "{message}");
            }
            Listed::Pr(_) => panic!("read"),
        }
    }
}
