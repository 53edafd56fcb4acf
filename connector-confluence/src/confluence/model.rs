//! Wire types of the Confluence REST API v1 (`/rest/api/...`), with the API's own field names.
//! Only the fields the connector reads are declared; everything is optional where Cloud and
//! Server differ or an expansion may be missing.

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// `GET /rest/api/content/search` and the other paged collections: `results`, `start`,
/// `limit`, `size` and `_links.next`.
#[derive(Debug, Deserialize)]
pub(crate) struct Paged<T> {
    #[serde(default = "Vec::new")]
    pub(crate) results: Vec<T>,
    #[serde(default)]
    pub(crate) start: Option<u64>,
    #[serde(default)]
    pub(crate) limit: Option<u64>,
    #[serde(default)]
    pub(crate) size: Option<u64>,
    #[serde(default, rename = "_links")]
    pub(crate) links: Links,
}

impl<T> Paged<T> {
    /// Where the items beyond these start, when this is an embedded collection that holds
    /// fewer items than exist (a next link, or as many results as its `limit` or `size`).
    pub(crate) fn rest_start(&self) -> Option<u64> {
        let len = self.results.len() as u64;
        let full = self.limit.is_some_and(|l| l > 0 && len >= l)
            || self
                .size
                .zip(self.limit)
                .is_some_and(|(s, l)| l > 0 && s >= l);
        (self.links.next.is_some() || full).then_some(self.start.unwrap_or(0) + len)
    }
}

/// `_links` of a collection or a content item.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Links {
    #[serde(default)]
    pub(crate) next: Option<String>,
    #[serde(default)]
    pub(crate) webui: Option<String>,
    #[serde(default)]
    pub(crate) download: Option<String>,
}

/// A page, blog post, comment or attachment.
#[derive(Debug, Deserialize)]
pub(crate) struct Content {
    pub(crate) id: String,
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) space: Option<Space>,
    #[serde(default)]
    pub(crate) version: Option<Version>,
    #[serde(default)]
    pub(crate) body: Option<Body>,
    #[serde(default)]
    pub(crate) metadata: Option<Metadata>,
    #[serde(default)]
    pub(crate) ancestors: Vec<Ancestor>,
    /// For a comment or an attachment: the page or blog post it is on (`expand=container`).
    #[serde(default)]
    pub(crate) container: Option<Box<Container>>,
    /// Read restrictions (`expand=restrictions.read.restrictions.user,...group`).
    #[serde(default)]
    pub(crate) restrictions: Option<Restrictions>,
    #[serde(default)]
    pub(crate) children: Option<Children>,
    #[serde(default)]
    pub(crate) history: Option<History>,
    #[serde(default)]
    pub(crate) extensions: Option<Extensions>,
    #[serde(default, rename = "_links")]
    pub(crate) links: Links,
}

impl Content {
    /// The storage-format body, when the expansion is there.
    pub(crate) fn storage(&self) -> Option<&str> {
        self.body
            .as_ref()
            .and_then(|b| b.storage.as_ref())
            .map(|s| s.value.as_str())
    }

    /// `version.when`.
    pub(crate) fn when(&self) -> Option<DateTime<Utc>> {
        self.version.as_ref().and_then(|v| v.when)
    }

    /// `version.number`, 0 when absent.
    pub(crate) fn version_number(&self) -> u64 {
        self.version.as_ref().map_or(0, |v| v.number)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Space {
    /// The space's id (a number on Cloud and Data Center; REST API v2 names spaces by it).
    #[serde(default)]
    pub(crate) id: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// `current` or `archived`.
    #[serde(default)]
    pub(crate) status: Option<String>,
}

impl Space {
    /// The space's id as digits, when it has one.
    pub(crate) fn id(&self) -> Option<String> {
        let id = match self.id.as_ref()? {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.trim().to_owned(),
            _ => return None,
        };
        (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then_some(id)
    }

    /// Whether the space is archived.
    pub(crate) fn archived(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("archived"))
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Version {
    #[serde(default)]
    pub(crate) number: u64,
    /// ISO 8601 with an offset: Cloud sends UTC, Server the server's zone.
    #[serde(default)]
    pub(crate) when: Option<DateTime<Utc>>,
    #[serde(default)]
    pub(crate) by: Option<User>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Body {
    #[serde(default)]
    pub(crate) storage: Option<Storage>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Storage {
    #[serde(default)]
    pub(crate) value: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Metadata {
    #[serde(default)]
    pub(crate) labels: Option<Paged<Label>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Label {
    #[serde(default)]
    pub(crate) name: String,
}

/// An ancestor of a page (its parent pages, root first) or of a comment (the comments it
/// replies to, root first).
#[derive(Debug, Deserialize)]
pub(crate) struct Ancestor {
    #[serde(default)]
    pub(crate) id: String,
    /// `page`, or on Cloud `folder` (folders hold pages and pass their restrictions on).
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) title: String,
    /// With `expand=ancestors.restrictions.read.restrictions.user,...group`.
    #[serde(default)]
    pub(crate) restrictions: Option<Restrictions>,
}

/// The content a comment or attachment is on.
#[derive(Debug, Deserialize)]
pub(crate) struct Container {
    #[serde(default)]
    pub(crate) id: String,
}

/// `restrictions` of a content item, as the `restrictions.read...` expansion embeds it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Restrictions {
    #[serde(default)]
    pub(crate) read: Option<OperationRestrictions>,
}

/// The restrictions of one operation: `restrictions/byOperation/read` answers with this too.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct OperationRestrictions {
    #[serde(default)]
    pub(crate) restrictions: Option<Restricted>,
}

/// Who an operation is restricted to.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Restricted {
    #[serde(default)]
    pub(crate) user: Option<Paged<User>>,
    #[serde(default)]
    pub(crate) group: Option<Paged<Group>>,
}

/// A group as restrictions and space permissions name it.
#[derive(Debug, Deserialize)]
pub(crate) struct Group {
    #[serde(default)]
    pub(crate) name: String,
}

/// `children` expansion: the attachments embedded in a search result.
#[derive(Debug, Deserialize)]
pub(crate) struct Children {
    #[serde(default)]
    pub(crate) attachment: Option<Paged<Content>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct History {
    #[serde(default, rename = "createdBy")]
    pub(crate) created_by: Option<User>,
}

/// A user as content expansions and `/rest/api/user` return it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    /// Server/Data Center.
    #[serde(default, rename = "userKey")]
    pub(crate) user_key: Option<String>,
    #[serde(default, rename = "displayName")]
    pub(crate) display_name: Option<String>,
    #[serde(default, rename = "publicName")]
    pub(crate) public_name: Option<String>,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    pub(crate) username: Option<String>,
}

impl User {
    /// The name to show: display name, public name, user name.
    pub(crate) fn name(&self) -> Option<&str> {
        self.display_name
            .as_deref()
            .or(self.public_name.as_deref())
            .or(self.username.as_deref())
            .filter(|n| !n.is_empty())
    }
}

/// `extensions`: an attachment's `fileSize` and `mediaType`; with
/// `expand=extensions.inlineProperties`, the text an inline comment is anchored to.
#[derive(Debug, Deserialize)]
pub(crate) struct Extensions {
    #[serde(default, rename = "fileSize")]
    pub(crate) file_size: Option<u64>,
    #[serde(default, rename = "mediaType")]
    pub(crate) media_type: Option<String>,
    #[serde(default, rename = "inlineProperties")]
    pub(crate) inline_properties: Option<InlineProperties>,
}

/// `extensions.inlineProperties` of an inline comment.
#[derive(Debug, Deserialize)]
pub(crate) struct InlineProperties {
    #[serde(default, rename = "originalSelection")]
    pub(crate) original_selection: Option<String>,
}

/// `GET /rest/api/user/current`: the API user, whose time zone CQL reads dates in (Cloud
/// reports it unless the user's privacy settings hide it).
#[derive(Debug, Deserialize)]
pub(crate) struct CurrentUser {
    #[serde(default, rename = "timeZone")]
    pub(crate) time_zone: Option<String>,
}

/// `GET /rest/api/settings/systemInfo` (Cloud): the site's default time zone, which Cloud's
/// content search reads CQL dates in (CONFCLOUD-70966).
#[derive(Debug, Deserialize)]
pub(crate) struct SystemInfo {
    #[serde(default, rename = "defaultTimeZone")]
    pub(crate) default_time_zone: Option<String>,
}

/// `GET {site}/_edge/tenant_info` (Cloud): the site's cloud id, for the API gateway.
#[derive(Debug, Deserialize)]
pub(crate) struct TenantInfo {
    #[serde(rename = "cloudId")]
    pub(crate) cloud_id: String,
}

/// `GET /rest/api/space/{key}?expand=permissions` (Cloud): who may do what in a space.
#[derive(Debug, Deserialize)]
pub(crate) struct SpaceWithPermissions {
    #[serde(default)]
    pub(crate) permissions: Vec<CloudSpacePermission>,
}

/// One permission of a Cloud space: an operation, the users and groups it is granted to, or
/// anonymous access.
#[derive(Debug, Deserialize)]
pub(crate) struct CloudSpacePermission {
    #[serde(default)]
    pub(crate) operation: Option<CloudOperation>,
    #[serde(default)]
    pub(crate) subjects: Option<Restricted>,
    #[serde(default, rename = "anonymousAccess")]
    pub(crate) anonymous_access: bool,
}

/// `operation` of a Cloud space permission (`read` of `space` is viewing it).
#[derive(Debug, Deserialize)]
pub(crate) struct CloudOperation {
    #[serde(default)]
    pub(crate) operation: String,
    #[serde(default, rename = "targetType")]
    pub(crate) target_type: String,
}

/// One element of `GET /wiki/api/v2/spaces/{id}/permissions` (Cloud, REST API v2): an
/// operation granted to a principal (`user` by account id, `group` by group id).
#[derive(Debug, Deserialize)]
pub(crate) struct SpacePermissionAssignment {
    #[serde(default)]
    pub(crate) principal: Option<Principal>,
    #[serde(default)]
    pub(crate) operation: Option<OperationV2>,
}

/// Whom a v2 space permission is granted to.
#[derive(Debug, Deserialize)]
pub(crate) struct Principal {
    #[serde(default, rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) id: String,
}

/// `operation` of a v2 space permission (`read` of `space` is viewing it).
#[derive(Debug, Deserialize)]
pub(crate) struct OperationV2 {
    #[serde(default)]
    pub(crate) key: String,
    #[serde(default, rename = "targetType")]
    pub(crate) target_type: String,
}

/// One element of `GET /rest/api/space/{key}/permissions` (Data Center 9.1 and later).
#[derive(Debug, Deserialize)]
pub(crate) struct ServerSpacePermission {
    #[serde(default)]
    pub(crate) operation: Option<ServerOperation>,
    #[serde(default)]
    pub(crate) subject: Option<ServerSubject>,
}

/// `operation` of a Data Center space permission.
#[derive(Debug, Deserialize)]
pub(crate) struct ServerOperation {
    #[serde(default, rename = "operationKey")]
    pub(crate) operation_key: String,
    #[serde(default, rename = "targetType")]
    pub(crate) target_type: String,
}

/// Whom a Data Center space permission is granted to: a `user` (by `userKey`), a `group`
/// (by `name`), or `anonymous`.
#[derive(Debug, Deserialize)]
pub(crate) struct ServerSubject {
    #[serde(default, rename = "type")]
    pub(crate) kind: String,
    #[serde(default, rename = "userKey")]
    pub(crate) user_key: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// `GET /rest/mobile/1.0/profile/{username}` (Server/Data Center): where a user's e-mail is
/// found when the REST user representation leaves it out.
#[derive(Debug, Deserialize)]
pub(crate) struct MobileProfile {
    #[serde(default)]
    pub(crate) email: Option<String>,
}
