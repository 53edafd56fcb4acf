//! The tenant's users as the sources that read "every user's" data list them (OneDrive's
//! drives, Outlook's mailboxes): `GET /users` filtered to enabled accounts, members only
//! unless guests are asked for.

use connector_core::{Error, ErrorKind, Result};
use serde::Deserialize;

use super::GraphClient;

/// The fields of a user the listing asks for.
pub(crate) const DIRECTORY_USER_FIELDS: &str = "id,mail,userPrincipalName,accountEnabled,userType";

/// A user as `GET /users` lists it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DirectoryUser {
    /// The object id.
    pub(crate) id: String,
    /// The primary SMTP address; absent for a user without an Exchange mailbox.
    #[serde(default)]
    #[cfg_attr(not(feature = "outlook"), allow(dead_code))]
    pub(crate) mail: Option<String>,
    #[serde(default)]
    pub(crate) user_principal_name: Option<String>,
    /// Absent where Graph leaves it out: taken as enabled (the request filters on it).
    #[serde(default)]
    account_enabled: Option<bool>,
    /// `Member` or `Guest`; absent: a member.
    #[serde(default)]
    user_type: Option<String>,
}

impl DirectoryUser {
    /// Whether the account is a guest (`userType` `Guest`, invited from another tenant).
    pub(crate) fn is_guest(&self) -> bool {
        self.user_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("guest"))
    }
}

/// Which users a listing of "every user" keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EveryUser<'a> {
    /// The source, named in errors.
    pub(crate) source: &'static str,
    /// Guests too, not only members.
    pub(crate) include_guests: bool,
    /// Disabled accounts too (sign-in blocked: shared, room and equipment mailboxes, people
    /// who left), not only enabled ones.
    pub(crate) include_disabled: bool,
    /// What reading every user means, for the error of a missing `User.Read.All`
    /// (`"without user_ids every user's mailbox is read"`).
    pub(crate) reads: &'a str,
    /// The config field that names users instead (`user_ids`), named by that error.
    pub(crate) field: &'static str,
}

impl EveryUser<'_> {
    /// The tenant's enabled users (`GET /users`, `$filter=accountEnabled eq true`, 999 a
    /// page; every user with `include_disabled`), members only unless `include_guests`; with
    /// `sample`, the first page of at most that many (what a `check()` needs on a tenant of
    /// 100,000).
    ///
    /// # Errors
    /// `PermissionDenied` naming [`field`](Self::field) and `User.Read.All`, and the other
    /// errors of the listing.
    pub(crate) async fn list(
        &self,
        graph: &GraphClient,
        sample: Option<usize>,
    ) -> Result<Vec<DirectoryUser>> {
        let top = sample.map_or_else(|| "999".to_owned(), |n| n.clamp(1, 999).to_string());
        // `accountEnabled eq` is a default (not advanced) filter: no `ConsistencyLevel`
        // needed. `userType` is told apart here, which keeps the query a plain one.
        let mut query = vec![("$select", DIRECTORY_USER_FIELDS), ("$top", top.as_str())];
        if !self.include_disabled {
            query.push(("$filter", "accountEnabled eq true"));
        }
        let url = graph.url("users", &query)?;
        let listed = match sample {
            Some(_) => graph.page::<DirectoryUser>(&url).await.map(|p| p.value),
            None => graph.all(&url).await,
        };
        let users = listed.map_err(|e| {
            if e.kind() == ErrorKind::PermissionDenied {
                Error::new(
                    ErrorKind::PermissionDenied,
                    format!(
                        "{}, and listing the users needs the application permission User.Read.All (admin consent); grant it, or name {}: {e}",
                        self.reads, self.field
                    ),
                )
                .with_connector(self.source)
                .with_field(self.field)
            } else {
                e
            }
        })?;
        Ok(users
            .into_iter()
            .filter(|u| self.include_disabled || u.account_enabled != Some(false))
            .filter(|u| self.include_guests || !u.is_guest())
            .collect())
    }
}

/// Whether user `id` is gone from the tenant: `GET /users/{id}` answers 404. What a source
/// reading every user asks before it takes a 404 on the user's data (mailbox folders, drive)
/// for "nothing there": a user still in the tenant whose data answered 404 is taken for a
/// transient answer, and the id listing (what prune keeps) is refused rather than short.
///
/// # Errors
/// The lookup's own failure (403, 5xx past the retries …).
pub(crate) async fn user_is_gone(graph: &GraphClient, id: &str) -> Result<bool> {
    let url = graph.url(
        &format!("users/{}", super::escape(id)),
        &[("$select", "id")],
    )?;
    Ok(graph.get_opt::<serde_json::Value>(&url).await?.is_none())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_user_without_a_type_is_a_member() {
        let users: Vec<DirectoryUser> = serde_json::from_value(serde_json::json!([
            {"id": "a", "userType": "Guest", "accountEnabled": true},
            {"id": "b", "userType": "Member"},
            {"id": "c", "mail": "c@contoso.com"},
        ]))
        .unwrap();
        let guests: Vec<bool> = users.iter().map(DirectoryUser::is_guest).collect();
        assert_eq!(guests, [true, false, false]);
        assert_eq!(users[2].mail.as_deref(), Some("c@contoso.com"));
    }
}
