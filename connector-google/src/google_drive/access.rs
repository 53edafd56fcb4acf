//! Who may read a Drive file ([`Access`], with `include_permissions`), from its permissions.
//!
//! Principals are named as the other connectors name them, lower-cased: users by e-mail,
//! groups by their e-mail (Google's group id), a whole Workspace domain as the group
//! `domain:{domain}` (Onyx's name for it), `anyone` as public. Every role (reader, commenter,
//! writer, owner) reads. The rule is Onyx's (enterprise edition) and the other connectors':
//! never name someone who cannot read the file.
//! - A `domain` grant that is link-only (`allowFileDiscovery: false`) names nobody: a person
//!   of the domain reads the file only with its link, and a search must not hand it to every
//!   member of the domain. `anyone`, with or without discovery, is public (Onyx alike): whoever
//!   holds the link reads it without signing in.
//! - A permission of a deleted account (`deleted`) names nobody.
//! - A file whose permissions cannot be read (a file shared with the user, who may not share
//!   it further: Drive shows neither `permissions` nor a readable `permissions.list`) is
//!   readable by the user it was listed as and its owners: those are sure to read it.

use std::collections::BTreeSet;

use connector_core::Access;

use super::model::Permission;

/// The readers of a file, as far as the connector can tell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Readers {
    public: bool,
    emails: BTreeSet<String>,
    groups: BTreeSet<String>,
}

impl Readers {
    /// The readers these permissions name.
    pub(crate) fn of(permissions: &[Permission]) -> Self {
        let mut out = Self::default();
        for p in permissions.iter().filter(|p| !p.deleted) {
            let email = p.email_address.as_deref().map(normalise);
            match (p.kind.as_str(), email) {
                ("user", Some(e)) if !e.is_empty() => {
                    out.emails.insert(e);
                }
                ("group", Some(e)) if !e.is_empty() => {
                    out.groups.insert(e);
                }
                ("domain", _) if p.allow_file_discovery != Some(false) => {
                    if let Some(d) = p.domain.as_deref().map(normalise).filter(|d| !d.is_empty()) {
                        out.groups.insert(format!("domain:{d}"));
                    }
                }
                ("anyone", _) => out.public = true,
                _ => {}
            }
        }
        out
    }

    /// Only these users (the user a file was listed as, its owners).
    pub(crate) fn only<'a>(emails: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            emails: emails
                .into_iter()
                .map(normalise)
                .filter(|e| e.contains('@'))
                .collect(),
            ..Self::default()
        }
    }

    /// Whether nobody is named.
    pub(crate) fn is_empty(&self) -> bool {
        !self.public && self.emails.is_empty() && self.groups.is_empty()
    }

    /// A short hash of who these are, for version tokens: a file whose sharing changes gets a
    /// new version and is delivered again (a reconciling run finds it).
    pub(crate) fn short_hash(&self) -> String {
        // BTreeSets: the same readers give the same text.
        let mut hash = connector_core::ids::hash128(&format!("{self:?}"));
        hash.truncate(12);
        hash
    }

    /// As core's [`Access`].
    pub(crate) fn to_access(&self) -> Access {
        if self.public {
            return Access::public();
        }
        Access::restricted(
            self.emails.iter().cloned().collect(),
            self.groups.iter().cloned().collect(),
        )
    }
}

fn normalise(s: &str) -> String {
    s.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perms(v: serde_json::Value) -> Vec<Permission> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn users_groups_domains_and_anyone_as_drive_documents_them() {
        let r = Readers::of(&perms(serde_json::json!([
            {"id": "1", "type": "user", "emailAddress": "Alice@Example.com", "role": "owner"},
            {"id": "2", "type": "group", "emailAddress": "eng@example.com", "role": "reader"},
            {"id": "3", "type": "domain", "domain": "example.com", "role": "reader", "allowFileDiscovery": true},
            {"id": "4", "type": "domain", "domain": "partner.com", "role": "reader", "allowFileDiscovery": false},
            {"id": "5", "type": "user", "emailAddress": "gone@example.com", "role": "writer", "deleted": true},
        ])));
        let a = r.to_access();
        assert!(!a.public);
        assert_eq!(a.emails, vec!["alice@example.com"]);
        assert_eq!(a.groups, vec!["domain:example.com", "eng@example.com"]);
        let public = Readers::of(&perms(serde_json::json!([
            {"id": "anyoneWithLink", "type": "anyone", "role": "reader", "allowFileDiscovery": false},
        ])));
        assert!(public.to_access().public);
        assert_ne!(r.short_hash(), public.short_hash());
    }
}
