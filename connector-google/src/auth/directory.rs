//! The Admin SDK Directory API: the Workspace's users, for the sources that impersonate each
//! of them.

use connector_core::{ErrorKind, Result};
use serde::Deserialize;

use super::GoogleApi;

/// Google's Admin SDK host.
pub const DEFAULT_DIRECTORY_BASE_URL: &str = "https://admin.googleapis.com";

/// The scope that lists users.
pub(crate) const DIRECTORY_SCOPE: &str =
    "https://www.googleapis.com/auth/admin.directory.user.readonly";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsersPage {
    #[serde(default)]
    users: Vec<User>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    primary_email: String,
    #[serde(default)]
    suspended: bool,
    #[serde(default)]
    archived: bool,
}

impl GoogleApi {
    /// Adds one page of `users.list` (`domain=` the primary `admin`'s domain, as RAGFlow asks,
    /// as the admin) to `users`: the e-mails of the active users. Users of the customer's other
    /// domains are left out, as in RAGFlow; `specific_user_emails` names them. Returns the next
    /// page token, `None` once every user is listed. A directory that answers 404 means a personal account with no Workspace
    /// behind it, whose one user is the admin.
    ///
    /// # Errors
    /// Any other failure of the request (a disabled Admin SDK, a missing delegation).
    pub(crate) async fn list_users(
        &self,
        admin: &str,
        page_token: Option<&str>,
        users: &mut Vec<String>,
    ) -> Result<Option<String>> {
        let url = crate::endpoint(&self.directory_base, "admin/directory/v1/users")?;
        // The config checked that the admin is an e-mail address.
        let domain = admin.rsplit_once('@').map_or(admin, |(_, d)| d);
        let build = |req: connector_core::http::RequestBuilder| {
            let req = req.query([
                ("domain", domain),
                ("maxResults", "500"),
                ("orderBy", "email"),
                (
                    "fields",
                    "nextPageToken,users(primaryEmail,suspended,archived)",
                ),
            ]);
            match page_token {
                Some(t) => req.query([("pageToken", t)]),
                None => req,
            }
        };
        let resp = match self.send(url, Some(admin), &[DIRECTORY_SCOPE], build).await {
            Ok(r) => r,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                *users = vec![admin.to_owned()];
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let page: UsersPage = resp.json()?;
        users.extend(
            page.users
                .into_iter()
                .filter(|u| !u.suspended && !u.archived)
                .map(|u| u.primary_email),
        );
        Ok(page.next_page_token.filter(|t| !t.is_empty()))
    }
}
