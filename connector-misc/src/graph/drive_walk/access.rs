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
/// is "Everyone except external users", [`EVERYONE`] is "Everyone").
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

/// SharePoint's "Everyone" claim: every user who signs in to the tenant, its guests (external
/// users) included.
const EVERYONE: &str = "c:0(.s|true";

/// Who may read a file: its drive's owner, every user and group a permission with a role
/// names, the whole tenant (`tenant:{id}`) for an organisation link, "Everyone except
/// external users" or SharePoint's "Everyone" claim, and for an anonymous link only with
/// `anonymous_public` (without it an anonymous link adds nobody: it is a capability of
/// whoever received it).
///
/// "Everyone" ([`EVERYONE`]) is every account that can sign in to the tenant, guests
/// included; guest accounts are users of the tenant's directory, so it is keyed
/// `tenant:{id}` as "Everyone except external users" and organisation links are. Onyx makes
/// both public (its `_is_public_login_name`); that would show the file to every user of a
/// host that indexes several tenants or serves people outside the tenant, so it is not done
/// here (an explicit grant in one tenant is not a grant to the world). Before, the claim
/// granted nobody.
///
/// Group keys are stable ids, never names (review #11): a rename changes a name, and two
/// groups may share one.
/// - Entra groups: `aad-group:{object id}`, from a permission's `group`, or from a SharePoint
///   principal whose claims login names the group (`c:0t.c|tenant|{object id}`, a security
///   group; `c:0o.c|federateddirectoryclaimprovider|{object id}`, a Microsoft 365 group's
///   members). A Microsoft 365 group's owners (`…|{object id}_o`) are no group of the
///   directory's: they add nobody (fail closed).
/// - SharePoint groups: `sp-group:{site collection id}:{group id}`, the group's number in its
///   site collection (`siteGroup.id`, what SharePoint's `sitegroups/getbyid({id})` takes),
///   since a SharePoint group belongs to one site collection and two sites may each have
///   their own "Members" with other people in them. A site group without an id adds nobody.
///
/// Keys of the release before named SharePoint groups by their display name
/// (`sp-group:{site collection id}:{name}`): a file or page granted to a SharePoint group gets
/// a new version (its access hashes into it) and is delivered once again under the id key.
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
            if let Some(id) = g
                .site_group
                .as_ref()
                .and_then(|u| u.id.as_deref())
                .map(str::trim)
                .filter(|id| !id.is_empty())
            {
                groups.insert(format!("sp-group:{}:{id}", target.site));
            }
            if let Some(user) = &g.site_user {
                let login = user.login_name.as_deref().unwrap_or_default();
                if login.trim().eq_ignore_ascii_case(EVERYONE)
                    || login.contains("spo-grid-all-users")
                {
                    // Everyone (guests included) and Everyone except external users: the
                    // tenant's accounts (see above).
                    groups.insert(format!("tenant:{tenant}"));
                } else if let Some(group) = entra_group_of_claim(login) {
                    groups.insert(format!("aad-group:{group}"));
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

/// The Entra group a SharePoint claims login name stands for: a security group
/// (`c:0t.c|tenant|{object id}`) or a Microsoft 365 group's members
/// (`c:0o.c|federateddirectoryclaimprovider|{object id}`), the id in lower case. `None` for
/// anything else, a Microsoft 365 group's owners (`…_o`) among them.
fn entra_group_of_claim(login: &str) -> Option<String> {
    let (kind, id) = login.rsplit_once('|')?;
    let kind = kind.to_ascii_lowercase();
    if !(kind.ends_with("|tenant") || kind.ends_with("|federateddirectoryclaimprovider")) {
        return None;
    }
    crate::graph::client::is_guid(id).then(|| id.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn groups_of(perms: serde_json::Value) -> Vec<String> {
        let perms: Vec<Permission> = serde_json::from_value(perms).unwrap();
        let target = DriveTarget {
            drive: "b!1".into(),
            owner: None,
            site: "site-1".into(),
        };
        access(&perms, &target, "t1", false).groups
    }

    #[test]
    fn sharepoint_groups_are_keyed_by_their_id_not_their_name() {
        let group = |name: &str, id: &str| {
            serde_json::json!([{"roles": ["read"], "grantedToV2": {"siteGroup":
                {"displayName": name, "id": id, "loginName": name}}}])
        };
        // Renamed: the same group, the same key.
        assert_eq!(groups_of(group("Members", "7")), ["sp-group:site-1:7"]);
        assert_eq!(
            groups_of(group("Engineering Members", "7")),
            ["sp-group:site-1:7"]
        );
        // Two groups that share a name (one renamed onto the other's old name) are two keys.
        assert_ne!(
            groups_of(group("Members", "7")),
            groups_of(group("Members", "8"))
        );
        // Without an id it adds nobody, rather than a key a name would decide.
        let nameless = serde_json::json!([{"roles": ["read"],
            "grantedToV2": {"siteGroup": {"displayName": "Members"}}}]);
        assert!(groups_of(nameless).is_empty());
    }

    #[test]
    fn entra_groups_behind_sharepoint_claims_are_keyed_by_their_object_id() {
        let claim = |login: &str| {
            serde_json::json!([{"roles": ["read"], "grantedToV2": {"siteUser":
                {"displayName": "Eng", "loginName": login}}}])
        };
        assert_eq!(
            groups_of(claim("c:0t.c|tenant|4B1C6F0E-0000-4000-8000-0000000000A1")),
            ["aad-group:4b1c6f0e-0000-4000-8000-0000000000a1"]
        );
        assert_eq!(
            groups_of(claim(
                "c:0o.c|federateddirectoryclaimprovider|4b1c6f0e-0000-4000-8000-0000000000a2"
            )),
            ["aad-group:4b1c6f0e-0000-4000-8000-0000000000a2"]
        );
        // A Microsoft 365 group's owners, and claims that are no group, add nobody.
        for login in [
            "c:0o.c|federateddirectoryclaimprovider|4b1c6f0e-0000-4000-8000-0000000000a2_o",
            "c:0t.c|tenant|not-a-guid",
            "i:0#.f|membership|ada@contoso.com",
        ] {
            assert!(groups_of(claim(login)).is_empty(), "{login}");
        }
    }

    #[test]
    fn sharepoints_everyone_claim_is_the_tenant() {
        let target = DriveTarget {
            drive: "b!1".into(),
            owner: Some("owner@contoso.com".into()),
            site: "site-1".into(),
        };
        // `GET …/items/{id}/permissions` for a file of a site shared with "Everyone".
        let perms: Vec<Permission> = serde_json::from_value(serde_json::json!([
            {"id": "aTowIy5mfG1lbWJlcnNoaXB8YWRh", "roles": ["write"],
             "grantedToV2": {"user": {"email": "ada@contoso.com", "id": "u1", "displayName": "Ada"}}},
            {"id": "Yzow", "roles": ["read"],
             "grantedToV2": {"siteUser": {"displayName": "Everyone", "id": "4",
                 "loginName": "c:0(.s|true"}},
             "grantedTo": {"user": {"displayName": "Everyone"}}}
        ]))
        .unwrap();
        let a = access(&perms, &target, "t1", false);
        assert!(!a.public, "{a:?}");
        assert_eq!(a.groups, ["tenant:t1"], "{a:?}");
        // Without a role it grants nothing.
        let roleless: Vec<Permission> = serde_json::from_value(serde_json::json!([
            {"id": "Yzow", "roles": [], "grantedToV2": {"siteUser": {"displayName": "Everyone",
                "loginName": "c:0(.s|true"}}}
        ]))
        .unwrap();
        let a = access(&roleless, &target, "t1", false);
        assert!(!a.public && a.groups.is_empty(), "{a:?}");
        // "Everyone except external users" is the tenant's members, not everyone.
        let members: Vec<Permission> = serde_json::from_value(serde_json::json!([
            {"id": "Yzow", "roles": ["read"], "grantedToV2": {"siteUser": {
                "displayName": "Everyone except external users", "id": "11",
                "loginName": "c:0-.f|rolemanager|spo-grid-all-users/72f988bf-86f1-41af-91ab-2d7cd011db47"}}}
        ]))
        .unwrap();
        let a = access(&members, &target, "t1", false);
        assert!(!a.public);
        assert_eq!(a.groups, ["tenant:t1"]);
    }

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
        assert_eq!(a.groups, ["aad-group:g1", "sp-group:site-1:5", "tenant:t1"]);
        assert!(!a.public);
        // Another site's group 5 is another group.
        let other = DriveTarget {
            site: "site-2".into(),
            ..target.clone()
        };
        assert!(
            access(&perms, &other, "t1", false)
                .groups
                .contains(&"sp-group:site-2:5".to_owned())
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
