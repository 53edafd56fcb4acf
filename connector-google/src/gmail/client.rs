//! Gmail v1 requests, each with a token for the mailbox's user.

use std::sync::Arc;

use connector_core::http::{HttpClient, Page};
use connector_core::{Result, SyncContext, TimeWindow};
use url::Url;

use super::config::GmailConfig;
use super::model::{AttachmentBody, Profile, Thread, ThreadList, ThreadRef};
use crate::auth::{Authenticator, CREDENTIAL_FIELD};

/// Read-only access to Gmail.
pub(crate) const GMAIL_SCOPE: &str = "https://www.googleapis.com/auth/gmail.readonly";

/// The Gmail client, cheap to clone.
#[derive(Clone)]
pub(crate) struct GmailClient {
    pub(crate) http: HttpClient,
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) config: Arc<GmailConfig>,
    pub(crate) gmail_base: Url,
    pub(crate) directory_base: Url,
}

impl GmailClient {
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            ..self.clone()
        }
    }

    /// The `userId` path segment and the subject for a mailbox: a service account impersonates
    /// the user, an OAuth token is `me`.
    fn who<'a>(&self, user: &'a str) -> (&'a str, Option<&'a str>) {
        if self.auth.is_service_account() {
            (user, Some(user))
        } else {
            ("me", None)
        }
    }

    async fn get(&self, user: &str, path: &str) -> Result<connector_core::http::RequestBuilder> {
        let (id, subject) = self.who(user);
        let token = self.auth.token(&self.http, subject, &[GMAIL_SCOPE]).await?;
        let url = crate::endpoint(&self.gmail_base, &format!("gmail/v1/users/{id}/{path}"))?;
        Ok(self.http.get(url).auth(token, CREDENTIAL_FIELD))
    }

    /// One page of a user's threads, in the window when there is one. Gmail's `after:` and
    /// `before:` take epoch seconds and match on message dates; the window is widened by a
    /// second each way and applied exactly to each thread's last message.
    pub(crate) async fn threads(
        &self,
        user: &str,
        page_token: Option<&str>,
        window: Option<TimeWindow>,
    ) -> Result<Page<Vec<ThreadRef>, Option<String>>> {
        let mut req = self
            .get(user, "threads")
            .await?
            .query([("maxResults", "500")]);
        if let Some(w) = window {
            let q = format!(
                "after:{} before:{}",
                w.start.timestamp() - 1,
                w.end.timestamp() + 1
            );
            req = req.query([("q", q.as_str())]);
        }
        if let Some(t) = page_token {
            req = req.query([("pageToken", t)]);
        }
        let list: ThreadList = req.send().await?.json()?;
        let next = list.next_page_token.filter(|t| !t.is_empty()).map(Some);
        Ok(Page::new(list.threads, next))
    }

    /// A whole thread, every message with its MIME tree.
    pub(crate) async fn thread(&self, user: &str, id: &str) -> Result<Thread> {
        self.get(user, &format!("threads/{id}"))
            .await?
            .query([("format", "full")])
            .send()
            .await?
            .json()
    }

    /// An attachment's body, base64url.
    pub(crate) async fn attachment(&self, user: &str, message: &str, id: &str) -> Result<String> {
        let body: AttachmentBody = self
            .get(user, &format!("messages/{message}/attachments/{id}"))
            .await?
            .send()
            .await?
            .json()?;
        Ok(body.data)
    }

    /// The mailbox's address (`users.getProfile`).
    pub(crate) async fn profile(&self, user: &str) -> Result<String> {
        let p: Profile = self.get(user, "profile").await?.send().await?.json()?;
        Ok(p.email_address)
    }
}
