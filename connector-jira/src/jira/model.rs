//! Wire types, with the REST API's own field names (v2 and v3 share them; only rich-text
//! bodies differ: ADF objects on v3, wiki-markup strings on v2).

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The fields every search asks for: nothing the documents do not show.
pub(crate) const ISSUE_FIELDS: &[&str] = &[
    "summary",
    "description",
    "status",
    "priority",
    "issuetype",
    "project",
    "reporter",
    "assignee",
    "labels",
    "components",
    "fixVersions",
    "created",
    "updated",
    "issuelinks",
];

/// A page of `search/jql` (Cloud: `nextPageToken`, `isLast`) or `search` (Server: `startAt`,
/// `maxResults`, `total`). Issues stay raw so one malformed issue is a failure, not a failed
/// page.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchPage {
    #[serde(default)]
    pub(crate) issues: Vec<Value>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
    #[serde(default)]
    pub(crate) is_last: Option<bool>,
    #[serde(default)]
    pub(crate) total: Option<u64>,
}

/// An issue as a search returns it.
#[derive(Debug, Deserialize)]
pub(crate) struct Issue {
    #[serde(deserialize_with = "id_string")]
    pub(crate) id: String,
    pub(crate) key: String,
    pub(crate) fields: Fields,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Fields {
    #[serde(default)]
    pub(crate) summary: Option<String>,
    /// ADF (v3) or wiki markup (v2).
    #[serde(default)]
    pub(crate) description: Option<Value>,
    #[serde(default)]
    pub(crate) status: Option<Named>,
    #[serde(default)]
    pub(crate) priority: Option<Named>,
    #[serde(default)]
    pub(crate) issuetype: Option<Named>,
    #[serde(default)]
    pub(crate) project: Option<Project>,
    #[serde(default)]
    pub(crate) reporter: Option<User>,
    #[serde(default)]
    pub(crate) assignee: Option<User>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) labels: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) components: Vec<Named>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) fix_versions: Vec<Named>,
    #[serde(default)]
    pub(crate) created: Option<String>,
    pub(crate) updated: String,
    #[serde(default)]
    pub(crate) comment: Option<CommentPage>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) attachment: Vec<Attachment>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) issuelinks: Vec<IssueLink>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Named {
    #[serde(default)]
    pub(crate) name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Project {
    #[serde(default)]
    pub(crate) key: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// A user: Cloud has `accountId` and (privacy allowing) `emailAddress`; Server has `name`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct User {
    #[serde(default)]
    pub(crate) display_name: Option<String>,
    #[serde(default)]
    pub(crate) email_address: Option<String>,
    #[serde(default)]
    pub(crate) account_id: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

impl User {
    /// The name people know: display name, else user name, else account id.
    pub(crate) fn shown(&self) -> Option<&str> {
        self.display_name
            .as_deref()
            .or(self.name.as_deref())
            .or(self.account_id.as_deref())
    }

    /// The e-mail when visible, else the shown name: what `owners` holds.
    pub(crate) fn owner(&self) -> Option<&str> {
        self.email_address.as_deref().or_else(|| self.shown())
    }
}

/// The embedded `fields.comment` and the `/issue/{key}/comment` page have the same shape.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CommentPage {
    #[serde(default)]
    pub(crate) comments: Vec<Comment>,
    #[serde(default)]
    pub(crate) total: Option<u64>,
    #[serde(default)]
    pub(crate) start_at: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Comment {
    #[serde(default)]
    pub(crate) author: Option<User>,
    #[serde(default)]
    pub(crate) body: Option<Value>,
    #[serde(default)]
    pub(crate) created: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attachment {
    #[serde(deserialize_with = "id_string")]
    pub(crate) id: String,
    pub(crate) filename: String,
    #[serde(default)]
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) mime_type: Option<String>,
    /// The download URL.
    #[serde(default)]
    pub(crate) content: Option<String>,
    /// The file's id in Atlassian's Media Services: what ADF `media` nodes name (Cloud, where
    /// Jira gives it).
    #[serde(default)]
    pub(crate) media_api_file_id: Option<String>,
    #[serde(default)]
    pub(crate) created: Option<String>,
    #[serde(default)]
    pub(crate) author: Option<User>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct IssueLink {
    #[serde(rename = "type", default)]
    pub(crate) link_type: Option<LinkType>,
    #[serde(default)]
    pub(crate) inward_issue: Option<LinkedIssue>,
    #[serde(default)]
    pub(crate) outward_issue: Option<LinkedIssue>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct LinkType {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) inward: Option<String>,
    #[serde(default)]
    pub(crate) outward: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct LinkedIssue {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) fields: Option<LinkedFields>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct LinkedFields {
    #[serde(default)]
    pub(crate) summary: Option<String>,
    #[serde(default)]
    pub(crate) status: Option<Named>,
}

/// `/_edge/tenant_info` of a Cloud site.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TenantInfo {
    pub(crate) cloud_id: String,
}

/// Jira's error body: `{"errorMessages": [...], "errors": {"field": "message"}}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub(crate) error_messages: Vec<String>,
    #[serde(default)]
    pub(crate) errors: serde_json::Map<String, Value>,
}

impl ErrorBody {
    /// Every message, `errorMessages` first, then `errors` as `field: message`.
    pub(crate) fn messages(&self) -> Vec<String> {
        let mut out = self.error_messages.clone();
        for (field, message) in &self.errors {
            match message.as_str() {
                Some(m) => out.push(format!("{field}: {m}")),
                None => out.push(format!("{field}: {message}")),
            }
        }
        out
    }
}

/// Ids are strings in Jira's JSON, but some versions send numbers.
fn id_string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match Value::deserialize(d)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected an id, found {other}"
        ))),
    }
}

/// `null` where a list is expected reads as the empty list.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
