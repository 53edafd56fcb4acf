//! Gmail v1 requests, each with a token for the mailbox's user.

use std::sync::Arc;

use connector_core::http::{RequestBuilder, Response};
use connector_core::pages::Page;
use connector_core::{Result, SyncContext, TimeWindow};
use url::Url;

use super::SOURCE;
use super::config::{DEFAULT_GMAIL_BASE_URL, GmailConfig};
use super::model::{AttachmentBody, HistoryList, Profile, Thread, ThreadList, ThreadRef};
use crate::auth::GoogleApi;

/// Read-only access to Gmail.
pub(crate) const GMAIL_SCOPE: &str = "https://www.googleapis.com/auth/gmail.readonly";

/// The Gmail client, cheap to clone.
#[derive(Clone)]
pub(crate) struct GmailClient {
    pub(crate) api: GoogleApi,
    pub(crate) config: Arc<GmailConfig>,
    pub(crate) gmail_base: Url,
}

impl GmailClient {
    /// The client of a validated `config`.
    ///
    /// # Errors
    /// When the credentials cannot be read or the HTTP client cannot start.
    pub(crate) fn new(config: GmailConfig) -> Result<Self> {
        // Thread bodies are small; attachments are capped by their own limit.
        let cap = config.attachment_size_limit().max(64 * 1024 * 1024);
        Ok(Self {
            api: GoogleApi::new(
                SOURCE,
                &config.credentials,
                config.token_uri.as_ref(),
                config.directory_base_url.as_ref(),
                Some(cap.saturating_mul(2)),
                &config.network_policy()?,
            )?,
            gmail_base: crate::url_or(config.gmail_base_url.as_ref(), DEFAULT_GMAIL_BASE_URL)?,
            config: Arc::new(config),
        })
    }

    /// This client counting into and stopping with `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            api: self.api.with_context(ctx),
            ..self.clone()
        }
    }

    /// The `userId` path segment and the subject for a mailbox: a service account impersonates
    /// the user, an OAuth token is `me`.
    fn who<'a>(&self, user: &'a str) -> (&'a str, Option<&'a str>) {
        if self.api.is_service_account() {
            (user, Some(user))
        } else {
            ("me", None)
        }
    }

    /// A Gmail GET of `path` in `user`'s mailbox, its query set by `build`.
    async fn send(
        &self,
        user: &str,
        path: &str,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response> {
        let (id, subject) = self.who(user);
        let url = crate::endpoint(&self.gmail_base, &format!("gmail/v1/users/{id}/{path}"))?;
        self.api.send(url, subject, &[GMAIL_SCOPE], build).await
    }

    /// One page of a user's threads, in the window when there is one. Gmail's `after:` and
    /// `before:` take epoch seconds and match on message dates; the window is widened by a
    /// second each way and applied exactly to each thread's last message.
    pub(crate) async fn threads(
        &self,
        user: &str,
        page_token: Option<&str>,
        window: Option<TimeWindow>,
    ) -> Result<Page<Vec<ThreadRef>, String>> {
        let q = window.map(|w| {
            format!(
                "after:{} before:{}",
                w.start.timestamp() - 1,
                w.end.timestamp() + 1
            )
        });
        let build = |req: RequestBuilder| {
            let mut req = req.query([("maxResults", "500")]);
            if let Some(q) = &q {
                req = req.query([("q", q.as_str())]);
            }
            if let Some(t) = page_token {
                req = req.query([("pageToken", t)]);
            }
            req
        };
        let list: ThreadList = self.send(user, "threads", build).await?.json()?;
        let next = list.next_page_token.filter(|t| !t.is_empty());
        Ok(Page::new(list.threads, next))
    }

    /// A whole thread, every message with its MIME tree.
    pub(crate) async fn thread(&self, user: &str, id: &str) -> Result<Thread> {
        self.send(user, &format!("threads/{id}"), |req| {
            req.query([("format", "full")])
        })
        .await?
        .json()
    }

    /// An attachment's body, base64url.
    pub(crate) async fn attachment(&self, user: &str, message: &str, id: &str) -> Result<String> {
        let body: AttachmentBody = self
            .send(
                user,
                &format!("messages/{message}/attachments/{id}"),
                |req| req,
            )
            .await?
            .json()?;
        Ok(body.data)
    }

    /// The mailbox's address (`users.getProfile`).
    pub(crate) async fn profile(&self, user: &str) -> Result<String> {
        let p: Profile = self.send(user, "profile", |req| req).await?.json()?;
        Ok(p.email_address)
    }

    /// The mailbox's current history id (`users.getProfile`): a history feed taken now.
    pub(crate) async fn history_id(&self, user: &str) -> Result<Option<String>> {
        let p: Profile = self.send(user, "profile", |req| req).await?.json()?;
        Ok(p.history_id)
    }

    /// One page of the mailbox's history after `start` (`users.history.list`): messages
    /// added and deleted, labels added and removed.
    pub(crate) async fn history(
        &self,
        user: &str,
        start: &str,
        page_token: Option<&str>,
    ) -> Result<HistoryList> {
        let build = |req: RequestBuilder| {
            let req = req.query([
                ("startHistoryId", start),
                ("maxResults", "500"),
                ("historyTypes", "messageAdded"),
                ("historyTypes", "messageDeleted"),
                ("historyTypes", "labelAdded"),
                ("historyTypes", "labelRemoved"),
            ]);
            match page_token {
                Some(t) => req.query([("pageToken", t)]),
                None => req,
            }
        };
        self.send(user, "history", build).await?.json()
    }

    /// A thread's messages without their bodies (`format=minimal`: ids, labels, dates).
    pub(crate) async fn thread_minimal(&self, user: &str, id: &str) -> Result<Thread> {
        self.send(user, &format!("threads/{id}"), |req| {
            req.query([("format", "minimal")])
        })
        .await?
        .json()
    }
}
