//! A drive item's permissions (`GET …/items/{id}/permissions`) as a document's `access`.

use std::collections::BTreeSet;

use connector_core::Access;
use serde::Deserialize;

use super::DriveTarget;
use crate::graph::Identity;

/// One permission of a drive item.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Permission {
    #[serde(default)]
    roles: Vec<String>,
    #[serde(rename = "grantedToV2", default)]
    granted_to: Option<Grantee>,
    #[serde(rename = "grantedToIdentitiesV2", default)]
    granted_to_identities: Vec<Grantee>,
    #[serde(default)]
    link: Option<SharingLink>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Grantee {
    #[serde(default)]
    user: Option<Identity>,
    #[serde(default)]
    group: Option<Identity>,
    #[serde(default)]
    site_group: Option<Identity>,
    #[serde(default)]
    site_user: Option<SiteUser>,
}

/// A SharePoint principal by its claims login name (`c:0-.f|rolemanager|spo-grid-all-users/…`
/// is "Everyone except external users").
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SiteUser {
    #[serde(default)]
    login_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct SharingLink {
    #[serde(default)]
    scope: Option<String>,
}

/// Who may read a file: its drive's owner, every user and group a permission with a role
/// names, the whole tenant (`tenant:{id}`) for an organisation link or "Everyone except
/// external users", everyone for an anonymous link only with `anonymous_public` (without it
/// an anonymous link adds nobody: it is a capability of whoever received it).
///
/// Group keys: Entra groups `aad-group:{object id}`; SharePoint groups
/// `sp-group:{site collection id}:{group name}`, since a SharePoint group belongs to one site
/// collection and two sites may each have their own "Members" with other people in them.
pub(crate) fn access(
    permissions: &[Permission],
    target: &DriveTarget,
    tenant: &str,
    anonymous_public: bool,
) -> Access {
    let mut emails: BTreeSet<String> = target.owner.iter().cloned().collect();
    let mut groups = BTreeSet::new();
    let mut public = false;
    for p in permissions.iter().filter(|p| !p.roles.is_empty()) {
        match p.link.as_ref().and_then(|l| l.scope.as_deref()) {
            Some("anonymous") => public = anonymous_public,
            Some("organization") => {
                groups.insert(format!("tenant:{tenant}"));
            }
            _ => {}
        }
        for g in p.granted_to.iter().chain(&p.granted_to_identities) {
            if let Some(email) = g.user.as_ref().and_then(|u| u.email.as_deref()) {
                emails.insert(email.to_lowercase());
            }
            if let Some(id) = g.group.as_ref().and_then(|u| u.id.as_deref()) {
                groups.insert(format!("aad-group:{id}"));
            }
            if let Some(name) = g
                .site_group
                .as_ref()
                .and_then(|u| u.display_name.as_deref())
            {
                groups.insert(format!("sp-group:{}:{name}", target.site));
            }
            if let Some(user) = &g.site_user {
                let login = user.login_name.as_deref().unwrap_or_default();
                if login.contains("spo-grid-all-users") {
                    // Everyone except external users: the tenant's members.
                    groups.insert(format!("tenant:{tenant}"));
                } else if let Some(email) = user.email.as_deref().filter(|e| !e.is_empty()) {
                    emails.insert(email.to_lowercase());
                }
            }
        }
    }
    if public {
        return Access::public();
    }
    Access::restricted(emails.into_iter().collect(), groups.into_iter().collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn access_follows_graphs_permissions() {
        let perms: Vec<Permission> = serde_json::from_value(serde_json::json!([
            {"id": "1", "roles": ["owner"], "grantedToV2": {"user": {"email": "Ada@Contoso.com", "id": "u1"}}},
            {"id": "2", "roles": ["read"], "grantedToIdentitiesV2": [{"user": {"email": "bob@contoso.com"}}],
             "link": {"scope": "users", "type": "view"}},
            {"id": "3", "roles": ["write"], "grantedToV2": {"group": {"id": "g1", "displayName": "Eng"}}},
            {"id": "4", "roles": ["read"], "grantedToV2": {"siteGroup": {"displayName": "Visitors", "id": "5"}}},
            {"id": "5", "roles": ["read"], "link": {"scope": "organization", "type": "view"}},
            {"id": "7", "roles": ["read"], "grantedToV2": {"siteUser": {"displayName": "Everyone except external users",
                "loginName": "c:0-.f|rolemanager|spo-grid-all-users/72f988bf-86f1-41af-91ab-2d7cd011db47"}}},
            {"id": "8", "roles": ["read"], "grantedToV2": {"siteUser": {"email": "Dora@contoso.com", "loginName": "i:0#.f|membership|dora@contoso.com"}}},
            {"id": "6", "roles": [], "grantedToV2": {"user": {"email": "nobody@contoso.com"}}},
        ]))
        .unwrap();
        let target = DriveTarget {
            drive: "b!1".into(),
            owner: Some("owner@contoso.com".into()),
            site: "site-1".into(),
        };
        let a = access(&perms, &target, "t1", false);
        assert_eq!(
            a.emails,
            [
                "ada@contoso.com",
                "bob@contoso.com",
                "dora@contoso.com",
                "owner@contoso.com"
            ]
        );
        assert_eq!(
            a.groups,
            ["aad-group:g1", "sp-group:site-1:Visitors", "tenant:t1"]
        );
        assert!(!a.public);
        // Another site's "Visitors" is another group.
        let other = DriveTarget {
            site: "site-2".into(),
            ..target.clone()
        };
        assert!(
            access(&perms, &other, "t1", false)
                .groups
                .contains(&"sp-group:site-2:Visitors".to_owned())
        );
        let anyone: Vec<Permission> = serde_json::from_value(
            serde_json::json!([{"roles": ["read"], "link": {"scope": "anonymous"}}]),
        )
        .unwrap();
        assert!(access(&anyone, &target, "t1", true).public);
        // Not asked for: the link adds nobody, the owner still reads it.
        let closed = access(&anyone, &target, "t1", false);
        assert!(!closed.public);
        assert_eq!(closed.emails, ["owner@contoso.com"]);
    }
}
