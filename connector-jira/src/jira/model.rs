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
    "security",
    "parent",
    "resolution",
    "duedate",
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
    /// Server: the page size the search used, which is less than asked where the server
    /// caps it.
    #[serde(default)]
    pub(crate) max_results: Option<u32>,
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
    /// The parent: an epic, or the issue a sub-task belongs to.
    #[serde(default)]
    pub(crate) parent: Option<LinkedIssue>,
    #[serde(default)]
    pub(crate) resolution: Option<Named>,
    /// `yyyy-MM-dd`.
    #[serde(default)]
    pub(crate) duedate: Option<String>,
    /// The issue's security level, when it has one: only the level's members see the issue.
    #[serde(default)]
    pub(crate) security: Option<SecurityLevel>,
}

/// `fields.security`: an issue security level.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SecurityLevel {
    #[serde(deserialize_with = "id_string")]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Named {
    #[serde(default)]
    pub(crate) name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Project {
    #[serde(default, deserialize_with = "opt_id_string")]
    pub(crate) id: Option<String>,
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
    /// Absent only in fixtures of old; Jira always sends it.
    #[serde(default, deserialize_with = "opt_id_string")]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) author: Option<User>,
    #[serde(default)]
    pub(crate) body: Option<Value>,
    #[serde(default)]
    pub(crate) created: Option<String>,
    #[serde(default)]
    pub(crate) updated: Option<String>,
    /// Who may see the comment, when not everyone who sees the issue may.
    #[serde(default)]
    pub(crate) visibility: Option<Visibility>,
    /// Jira Service Management (Cloud): `false` on an internal comment, which the customers
    /// who raised the request do not see.
    #[serde(default, rename = "jsdPublic")]
    pub(crate) jsd_public: Option<bool>,
    /// Entity properties, when Jira sends them (`expand=properties`): JSM on Data Center marks
    /// an internal comment with `sd.public.comment` = `{"internal": true}`.
    #[serde(default)]
    pub(crate) properties: Option<Vec<EntityProperty>>,
}

impl Comment {
    /// Whether Jira Service Management marks the comment internal (agents only).
    pub(crate) fn is_internal(&self) -> bool {
        self.jsd_public == Some(false)
            || self.properties.iter().flatten().any(|p| {
                p.key == "sd.public.comment"
                    && p.value.get("internal").and_then(Value::as_bool) == Some(true)
            })
    }
}

/// An entity property: `{"key": "sd.public.comment", "value": {"internal": true}}`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EntityProperty {
    #[serde(default)]
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) value: Value,
}

/// A comment's `visibility`: `{"type": "group", "value": "jira-developers", "identifier":
/// "<groupId>"}` or `{"type": "role", "value": "Administrators", "identifier": "10002"}`
/// (`identifier` on Cloud only).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct Visibility {
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) value: Option<String>,
    #[serde(default, deserialize_with = "opt_id_string")]
    pub(crate) identifier: Option<String>,
}

/// A permission holder, as permission-scheme grants and security-level members name it:
/// `{"type": "group", "parameter": "jira-developers", "value": "<groupId>"}`,
/// `{"type": "projectRole", "parameter": "10002"}`, `{"type": "user", "parameter":
/// "<accountId or user name>", "user": {...}}`, `{"type": "anyone"}` ...
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Holder {
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) parameter: Option<String>,
    #[serde(default)]
    pub(crate) value: Option<String>,
    #[serde(default)]
    pub(crate) user: Option<User>,
    #[serde(default)]
    pub(crate) group: Option<GroupRef>,
}

/// A group as Jira names it (`name`; Cloud also `groupId`, which survives a rename).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct GroupRef {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default, rename = "groupId")]
    pub(crate) group_id: Option<String>,
}

/// `/project/{key}/permissionscheme?expand=...`: the grants of the project's scheme.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PermissionScheme {
    #[serde(default)]
    pub(crate) permissions: Vec<Grant>,
}

/// One grant of a permission scheme.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Grant {
    #[serde(default)]
    pub(crate) permission: String,
    #[serde(default)]
    pub(crate) holder: Holder,
}

/// `/issuesecurityschemes/level/member`: a page of a level's members.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LevelMembers {
    #[serde(default)]
    pub(crate) values: Vec<LevelMember>,
    #[serde(default)]
    pub(crate) is_last: Option<bool>,
    #[serde(default)]
    pub(crate) total: Option<u64>,
}

/// One member of a security level.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct LevelMember {
    #[serde(default)]
    pub(crate) holder: Holder,
}

/// `/project/{key}/role/{id}`: a project role and who is in it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ProjectRole {
    #[serde(default)]
    pub(crate) actors: Vec<RoleActor>,
}

/// A role actor: a group (`actorGroup`) or a user (`actorUser.accountId` on Cloud; `name`, the
/// user name, on Server/Data Center).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoleActor {
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) actor_group: Option<GroupRef>,
    #[serde(default)]
    pub(crate) actor_user: Option<ActorUser>,
}

/// `actorUser` of a role actor.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ActorUser {
    #[serde(default)]
    pub(crate) account_id: Option<String>,
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

/// An attachment's metadata (`GET /rest/api/3/attachment/{id}`, Atlassian's
/// `AttachmentMetadata`): only what search results may lack.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttachmentMetadata {
    /// The file's id in Atlassian's Media Services, which ADF `media` nodes name.
    #[serde(default)]
    pub(crate) media_api_file_id: Option<String>,
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

/// `/rest/api/2/serverInfo`: `deploymentType` is `"Cloud"` on Jira Cloud, `"Server"` on
/// Server and Data Center.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ServerInfo {
    #[serde(default)]
    pub(crate) deployment_type: Option<String>,
}

/// `/_edge/tenant_info` of a Cloud site.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TenantInfo {
    pub(crate) cloud_id: String,
}

/// Jira's error body: `{"errorMessages": [...], "errors": {"field": "message"}}`, or the
/// Atlassian gateway's `{"code": 401, "message": "Unauthorized; scope does not match"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub(crate) error_messages: Vec<String>,
    #[serde(default)]
    pub(crate) errors: serde_json::Map<String, Value>,
    #[serde(default)]
    pub(crate) message: Option<String>,
}

impl ErrorBody {
    /// Every message, `errorMessages` first, then `errors` as `field: message`, then the
    /// gateway's `message`.
    pub(crate) fn messages(&self) -> Vec<String> {
        let mut out = self.error_messages.clone();
        for (field, message) in &self.errors {
            match message.as_str() {
                Some(m) => out.push(format!("{field}: {m}")),
                None => out.push(format!("{field}: {message}")),
            }
        }
        out.extend(self.message.clone());
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

/// An optional id, a string or a number.
fn opt_id_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(serde::de::Error::custom(format!(
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
