//! Who may view a space: its `read` (view) permission, read once per space per run.
//!
//! - **Cloud**: REST API v2 `GET /wiki/api/v2/spaces/{id}/permissions` (cursor-paged), which
//!   needs only permission to view the space (v1's `expand=permissions` needs the space's
//!   admin permission, which a sync account rarely has). Principals are `user` (an account
//!   id: its e-mail is looked up once per run through `/rest/api/user?accountId=`) and `group`
//!   (a group id: its name, which restrictions use too, through `/rest/api/group/by-id`, once
//!   per run); an `anonymous` principal, should one come, makes the space public. When v2 is
//!   missing (404), or the space's id is not known, v1's `expand=permissions` is asked
//!   instead (its `anonymousAccess` makes the space public).
//! - **Cloud, anonymous access**: no v2 principal says it, so unless v1 did, the space is
//!   asked for as an anonymous visitor: one `GET {wiki}/rest/api/space/{key}` without
//!   credentials per space per run, to the site (never the gateway), under the same network
//!   policy. Confluence shows the space then only when the site's anonymous access is on and
//!   the space grants anonymous "view", which is what `public` means: a 200 carrying the
//!   space makes it `public` (its users and groups kept); 401, 403 or 404 leave it not
//!   public; anything else (a 5xx after retries, a login page) leaves it not public with a
//!   warning: narrower, never wider.
//! - **Data Center 9.1+**: `GET /rest/api/space/{key}/permissions` (users by key, groups by
//!   name) and `GET /rest/api/space/{key}/permissions/anonymous`, where 9.1+ lists what
//!   anonymous users may do (the permissions list itself holds no anonymous row; an inline one
//!   is read too). Anonymous "view" makes the space `public`: on Data Center that means anyone
//!   who can reach the server without logging in (an intranet's whole network, not
//!   necessarily the internet); a space can grant it only while the site's global anonymous
//!   "use" permission is on, and removing that removes the space grants too, so a space that
//!   lists it is readable without an account. If the anonymous list cannot be read (404 on an
//!   older version, 500 without admin rights: CONFSERVER-99908), anonymous access counts as
//!   absent (narrower).
//!
//! **Fails closed**: a space whose permissions cannot be read (403, 404, an older Data Center
//! without the endpoint, a token without the scope) gets an access naming nobody, never `None`
//! (which a host reads as "no restriction known"), with one warning per space per run.

use std::collections::BTreeSet;

use connector_core::{Access, ErrorKind, Result};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;

use super::{EMAIL_CONCURRENCY, Permissions};
use crate::confluence::SOURCE;
use crate::confluence::client::{soft, with_query};
use crate::confluence::model::{
    Group, Paged, ServerSpacePermission, Space, SpacePermissionAssignment, SpaceWithPermissions,
    User,
};

/// Assignments asked for per v2 request (the API's maximum).
const V2_PAGE_SIZE: u32 = 250;

/// A runaway guard on the v2 listing of one space.
const V2_MAX_PAGES: usize = 10_000;

/// The largest answer read from the anonymous view of a space (a space is a few KiB).
const ANONYMOUS_PROBE_CAP: u64 = 1024 * 1024;

impl Permissions {
    /// Who may view `space`, once per run; nobody when its permissions cannot be read.
    ///
    /// # Errors
    /// A lookup's error other than "missing or hidden" (credentials, an unreachable site).
    pub(super) async fn space(&self, space: &Space) -> Result<Access> {
        let key = space.key.as_str();
        self.spaces
            .get_or_fetch(&key.to_owned(), || async {
                let found = if self.cloud {
                    self.cloud_space(space).await
                } else {
                    self.server_space(key).await
                };
                let mut access = match found {
                    Ok(access) => access,
                    Err(e) if unreadable(&e) => {
                        tracing::warn!(connector = SOURCE, space = key, error = %e, "the space's permissions cannot be read; its pages get an access naming nobody");
                        Access::default()
                    }
                    Err(e) => return Err(e),
                };
                // Cloud's v2 list has no anonymous principal: ask as an anonymous visitor.
                // What it finds holds even when the list could not be read (anyone can
                // view the space, whoever else is named).
                if self.cloud && !access.public {
                    access.public = self.cloud_anonymous_views(key).await?;
                }
                Ok(access)
            })
            .await
    }

    /// Cloud: v2, else (v2 missing, or no space id) v1 with its admin requirement.
    async fn cloud_space(&self, space: &Space) -> Result<Access> {
        if let Some(id) = space.id() {
            match self.cloud_space_v2(&id).await {
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    tracing::debug!(connector = SOURCE, space = %space.key, error = %e, "no v2 space permissions; asking v1");
                }
                found => return found,
            }
        }
        self.cloud_space_v1(&space.key).await
    }

    /// Cloud's v2 space permissions of the space `id`, every page of them.
    async fn cloud_space_v2(&self, id: &str) -> Result<Access> {
        let mut cursor = format!("/api/v2/spaces/{id}/permissions?limit={V2_PAGE_SIZE}");
        let mut public = false;
        let mut accounts = BTreeSet::new();
        let mut group_ids = BTreeSet::new();
        for _ in 0..V2_MAX_PAGES {
            let url = self.client.api_url(&cursor).await?;
            let page: Paged<Value> = self.client.get_json(url).await?;
            for value in page.results {
                let Ok(p) = serde_json::from_value::<SpacePermissionAssignment>(value) else {
                    continue;
                };
                let reads = p.operation.as_ref().is_some_and(|o| {
                    o.key.eq_ignore_ascii_case("read")
                        && o.target_type.eq_ignore_ascii_case("space")
                });
                let Some(who) = p.principal.filter(|_| reads) else {
                    continue;
                };
                match who.kind.to_ascii_lowercase().as_str() {
                    "user" if !who.id.is_empty() => {
                        accounts.insert(who.id);
                    }
                    "group" if !who.id.is_empty() => {
                        group_ids.insert(who.id);
                    }
                    "anonymous" => public = true,
                    _ => {}
                }
            }
            // `_links.next` is relative to the site (`/wiki/api/v2/...?cursor=...`).
            let next = page
                .links
                .next
                .as_deref()
                .and_then(|n| n.find("/api/v2/").map(|i| n[i..].to_owned()));
            match next {
                Some(next) if next != cursor => cursor = next,
                _ => {
                    let emails = self.account_emails(&accounts).await?;
                    let groups = self.group_names(&group_ids).await?;
                    let mut access = Access::restricted(emails, groups);
                    access.public = public;
                    return Ok(access);
                }
            }
        }
        Err(connector_core::Error::invalid_data(
            "the space's permissions do not end (too many pages)",
        )
        .with_connector(SOURCE))
    }

    /// Whether anonymous users may view the Cloud space `key`, decided as Confluence decides
    /// it: one `GET {wiki}/rest/api/space/{key}` without credentials. Confluence answers it
    /// only when the site's anonymous access is on and the space grants anonymous "view", so
    /// a 200 carrying this space is `true`; 401, 403 and 404 are `false` (should Atlassian
    /// retire this v1 endpoint, its 404 makes every space not public: narrower); anything
    /// else (a 5xx after retries, a login page, another body) is `false` with a warning.
    ///
    /// # Errors
    /// Only cancellation.
    async fn cloud_anonymous_views(&self, key: &str) -> Result<bool> {
        let answer = self
            .client
            .get_anonymous(&["rest", "api", "space", key], ANONYMOUS_PROBE_CAP)
            .await;
        match answer {
            Ok(answer) => {
                let shown = answer.status().as_u16() == 200
                    && serde_json::from_slice::<Space>(answer.body())
                        .is_ok_and(|s| s.key.eq_ignore_ascii_case(key));
                if !shown {
                    tracing::warn!(
                        connector = SOURCE,
                        space = key,
                        status = answer.status().as_u16(),
                        "the anonymous view of the space answered without the space; counting it as not public"
                    );
                }
                Ok(shown)
            }
            Err(e) => match e.kind() {
                ErrorKind::Unauthenticated | ErrorKind::PermissionDenied | ErrorKind::NotFound => {
                    Ok(false)
                }
                ErrorKind::Cancelled => Err(e),
                _ => {
                    tracing::warn!(connector = SOURCE, space = key, error = %e, "whether anonymous users may view the space cannot be told; counting it as not public");
                    Ok(false)
                }
            },
        }
    }

    /// The e-mails of Cloud users by account id (those Cloud shows), once per user per run.
    async fn account_emails(&self, accounts: &BTreeSet<String>) -> Result<Vec<String>> {
        let lookups: Vec<_> = accounts.iter().map(|a| self.account_email(a)).collect();
        let found: Vec<Option<String>> = futures::stream::iter(lookups)
            .buffered(EMAIL_CONCURRENCY)
            .try_collect()
            .await?;
        let emails: BTreeSet<String> = found.into_iter().flatten().collect();
        Ok(emails.into_iter().collect())
    }

    async fn account_email(&self, account: &str) -> Result<Option<String>> {
        self.emails
            .get_or_fetch(&format!("account:{account}"), || async {
                let url = self.client.api_url("/rest/api/user").await?;
                let url = with_query(url, &[("accountId", account)]);
                match self.client.get_json::<User>(url).await {
                    Ok(user) => Ok(user
                        .email
                        .map(|e| e.trim().to_owned())
                        .filter(|e| !e.is_empty())),
                    Err(e) if unreadable(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await
    }

    /// The names of Cloud groups by id, once per group per run; a group whose name cannot be
    /// read is left out (narrower).
    async fn group_names(&self, ids: &BTreeSet<String>) -> Result<Vec<String>> {
        let mut names = BTreeSet::new();
        for id in ids {
            let name = self
                .groups
                .get_or_fetch(id, || async {
                    let url = self.client.api_url("/rest/api/group/by-id").await?;
                    let url = with_query(url, &[("id", id.as_str())]);
                    match self.client.get_json::<Group>(url).await {
                        Ok(g) => Ok(Some(g.name.trim().to_owned()).filter(|n| !n.is_empty())),
                        Err(e) if unreadable(&e) => {
                            tracing::warn!(connector = SOURCE, group = %id, error = %e, "a group of a space permission cannot be named; leaving it out");
                            Ok(None)
                        }
                        Err(e) => Err(e),
                    }
                })
                .await?;
            names.extend(name);
        }
        Ok(names.into_iter().collect())
    }

    /// Cloud's v1 space permissions (`expand=permissions`: needs the space's admin
    /// permission).
    async fn cloud_space_v1(&self, key: &str) -> Result<Access> {
        let mut url = self.client.api_url("/rest/api/space/").await?;
        url.path_segments_mut()
            .map_err(|()| connector_core::Error::internal("no path segments"))?
            .pop_if_empty()
            .push(key);
        let url = with_query(url, &[("expand", "permissions")]);
        let space: SpaceWithPermissions = self.client.get_json(url).await?;
        let mut access = Access::default();
        let mut emails = BTreeSet::new();
        let mut groups = BTreeSet::new();
        for p in &space.permissions {
            let reads = p
                .operation
                .as_ref()
                .is_some_and(|o| o.operation == "read" && o.target_type == "space");
            if !reads {
                continue;
            }
            if p.anonymous_access {
                access.public = true;
            }
            if let Some(who) = &p.subjects {
                emails.extend(self.emails_of(who).await?.0);
                groups.extend(
                    who.group
                        .iter()
                        .flat_map(|g| g.results.iter())
                        .map(|g| g.name.clone())
                        .filter(|n| !n.is_empty()),
                );
            }
        }
        access.emails = emails.into_iter().collect();
        access.groups = groups.into_iter().collect();
        Ok(access)
    }

    /// Data Center 9.1+: the permissions list and the anonymous list.
    async fn server_space(&self, key: &str) -> Result<Access> {
        let mut url = self.client.api_url("/rest/api/space/").await?;
        url.path_segments_mut()
            .map_err(|()| connector_core::Error::internal("no path segments"))?
            .pop_if_empty()
            .push(key)
            .push("permissions");
        let permissions: Vec<ServerSpacePermission> = self.client.get_json(url).await?;
        let mut access = Access::default();
        let mut emails = BTreeSet::new();
        let mut groups = BTreeSet::new();
        for p in &permissions {
            let reads = p
                .operation
                .as_ref()
                .is_some_and(|o| o.operation_key == "read" && o.target_type == "space");
            let Some(subject) = p.subject.as_ref().filter(|_| reads) else {
                continue;
            };
            match subject.kind.as_str() {
                "anonymous" => access.public = true,
                "group" => groups.extend(subject.name.clone().filter(|n| !n.is_empty())),
                "user" => {
                    if let Some(key) = subject.user_key.as_deref()
                        && let Some(email) = self.server_email_by_key(key).await?
                    {
                        emails.insert(email);
                    }
                }
                _ => {}
            }
        }
        if !access.public {
            access.public = self.server_anonymous_views(key).await?;
        }
        access.emails = emails.into_iter().collect();
        access.groups = groups.into_iter().collect();
        Ok(access)
    }

    /// Whether anonymous users may view the Data Center space `key`
    /// (`/rest/api/space/{key}/permissions/anonymous`); `false` when that cannot be read.
    async fn server_anonymous_views(&self, key: &str) -> Result<bool> {
        let mut url = self.client.api_url("/rest/api/space/").await?;
        url.path_segments_mut()
            .map_err(|()| connector_core::Error::internal("no path segments"))?
            .pop_if_empty()
            .push(key)
            .push("permissions")
            .push("anonymous");
        match self.client.get_json::<Value>(url).await {
            Ok(found) => Ok(anonymous_reads(&found)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) if soft(&e) || e.kind() == ErrorKind::Unavailable => {
                tracing::warn!(connector = SOURCE, space = key, error = %e, "the space's anonymous permissions cannot be read; counting them as absent");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

/// Errors that only mean "these permissions cannot be read": missing, hidden, not what was
/// expected, or a 401. The search that brought the page was answered with the same
/// credentials, so a 401 here is the API gateway refusing a scoped token the scope of this
/// one endpoint (`read:space:confluence`, `read:user:confluence`), not wrong credentials.
fn unreadable(e: &connector_core::Error) -> bool {
    soft(e) || e.kind() == ErrorKind::Unauthenticated
}

/// Whether an anonymous-permissions answer grants `read` of `space`: a list of
/// `{operation: {operationKey, targetType}}`, or of `{operations: [...]}` (both shapes are
/// seen across 9.x versions).
fn anonymous_reads(found: &Value) -> bool {
    let entries: Vec<&Value> = match found {
        Value::Array(list) => list.iter().collect(),
        other => vec![other],
    };
    let reads = |op: &Value| {
        op.get("operationKey").and_then(Value::as_str) == Some("read")
            && op.get("targetType").and_then(Value::as_str) == Some("space")
    };
    entries.iter().any(|entry| {
        entry.get("operation").is_some_and(reads)
            || entry
                .get("operations")
                .and_then(Value::as_array)
                .is_some_and(|ops| ops.iter().any(reads))
    })
}

#[cfg(test)]
mod tests {
    use super::anonymous_reads;
    use serde_json::json;

    #[test]
    fn both_shapes_of_the_anonymous_list() {
        let read = json!({"operationKey": "read", "targetType": "space"});
        assert!(anonymous_reads(&json!([{"operation": read}])));
        assert!(anonymous_reads(&json!([{"operations": [read]}])));
        assert!(!anonymous_reads(
            &json!([{"operation": {"operationKey": "create", "targetType": "page"}}])
        ));
        assert!(!anonymous_reads(&json!([])));
    }
}
