//! The Admin SDK Directory API: the Workspace's users, for the sources that impersonate each
//! of them.

use connector_core::http::{HttpClient, Page};
use connector_core::{ErrorKind, Result};
use serde::Deserialize;
use url::Url;

use super::Authenticator;

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

/// One page of `users.list` (`customer=my_customer`) as the primary admin: the e-mails of the
/// active users, and the next page token. `Ok(None)` when the directory answers 404, which
/// means a personal account with no Workspace behind it.
pub(crate) async fn users_page(
    auth: &Authenticator,
    http: &HttpClient,
    base: &Url,
    admin: &str,
    page_token: Option<String>,
) -> Result<Option<Page<Vec<String>, Option<String>>>> {
    let token = auth.token(http, Some(admin), &[DIRECTORY_SCOPE]).await?;
    let url = crate::endpoint(base, "admin/directory/v1/users")?;
    let mut req = http.get(url).auth(token, super::CREDENTIAL_FIELD).query([
        ("customer", "my_customer"),
        ("maxResults", "500"),
        ("orderBy", "email"),
        (
            "fields",
            "nextPageToken,users(primaryEmail,suspended,archived)",
        ),
    ]);
    if let Some(t) = &page_token {
        req = req.query([("pageToken", t.as_str())]);
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let page: UsersPage = resp.json()?;
    let users = page
        .users
        .into_iter()
        .filter(|u| !u.suspended && !u.archived)
        .map(|u| u.primary_email)
        .collect();
    Ok(Some(Page::new(
        users,
        page.next_page_token.filter(|t| !t.is_empty()).map(Some),
    )))
}
