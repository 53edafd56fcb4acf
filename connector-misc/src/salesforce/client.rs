//! The Salesforce REST API calls the connector makes, and its session.
//!
//! - `POST {instance_url}/services/oauth2/token`, a form with `grant_type=client_credentials`
//!   (or `password`, the password and security token concatenated), `client_id` and
//!   `client_secret`: `{"access_token", "instance_url", "id", "token_type", "issued_at",
//!   "signature"}`; every later call goes to the returned `instance_url`. Refusals are
//!   `{"error": "invalid_client", "error_description": "…"}` with 400;
//! - `GET /services/data/vNN.N/sobjects/{Object}/describe`: the object's `fields` (`name`,
//!   `label`, `type`, `nameField`, `deprecatedAndHidden`…) and `keyPrefix`;
//! - `GET /services/data/vNN.N/query?q=SOQL` (or `queryAll`, deleted records too) and the `nextRecordsUrl` it hands out while
//!   `done` is false: `{"totalSize", "done", "nextRecordsUrl", "records": [{"attributes",
//!   "Id", …}]}`;
//! - `GET /services/data/vNN.N/sobjects/{Object}/deleted/?start=&end=`: `{"deletedRecords":
//!   [{"id", "deletedDate"}], "earliestDateAvailable", "latestDateCovered"}`;
//! - errors as a JSON array `[{"message", "errorCode"}]`: 401 `INVALID_SESSION_ID` (the
//!   session expired: one new token, then once more), 403 `REQUEST_LIMIT_EXCEEDED` (the org's
//!   24-hour API allowance is spent; Salesforce sends no 429 for it), 400 `INVALID_FIELD`,
//!   `INVALID_TYPE`, `MALFORMED_QUERY`, `INVALID_REPLICATION_DATE`, 404 `NOT_FOUND`.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use connector_core::http::{ErrorClass, HttpClient, OAuthToken, Response, StatusCode};
use connector_core::{Error, ErrorKind, FieldError, Result, SyncContext};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use url::Url;

use super::SOURCE;
use super::config::{PASSWORD_FIELD, SECRET_FIELD, SalesforceCredentials};
pub(crate) use super::records::QueryPage;

/// How long every request waits after `REQUEST_LIMIT_EXCEEDED`: the org's allowance is
/// counted over 24 hours and frees up slowly.
pub const REQUEST_LIMIT_WAIT: Duration = Duration::from_secs(300);

/// Where a session's calls go: what the token answer said beside the token.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) instance: Url,
    /// The org's id (`00D…`), from the identity URL the token came with.
    pub(crate) org: Option<String>,
}

impl Session {
    /// The session of a token answer (its fields less the token): `instance_url`, https
    /// unless the configured URL itself is plain (a test server the host allowed; the network
    /// policy checks the host on every request), and the org from `id`.
    fn of_answer(answer: &Map<String, Value>, configured: &Url) -> Result<Self> {
        let raw = answer
            .get("instance_url")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let instance = Url::parse(raw.trim_end_matches('/')).map_err(|e| {
            Error::new(
                ErrorKind::InvalidData,
                "the token's instance_url is not a URL",
            )
            .with_connector(SOURCE)
            .with_cause(e)
        })?;
        if instance.scheme() != "https"
            && !(instance.scheme() == "http" && configured.scheme() == "http")
        {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!("Salesforce returned an instance_url that is not https: {instance}"),
            )
            .with_connector(SOURCE));
        }
        let org = answer
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .split('/')
            .rev()
            .nth(1)
            .filter(|o| o.starts_with("00D"))
            .map(str::to_owned);
        Ok(Self { instance, org })
    }
}

/// One error of Salesforce's error array.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiError {
    #[serde(default)]
    pub(crate) message: String,
    #[serde(default)]
    pub(crate) error_code: String,
}

/// A field of an object's describe.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FieldDescribe {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) label: String,
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) name_field: bool,
    #[serde(default)]
    pub(crate) deprecated_and_hidden: bool,
    #[serde(default)]
    pub(crate) extra_type_info: Option<String>,
    #[serde(default)]
    pub(crate) html_formatted: bool,
}

/// A child relationship of an object's describe: the object whose `field` points at it,
/// queried from the parent as the subquery `(SELECT … FROM {relationshipName})`.
#[derive(Deserialize, Debug, Clone)]
pub(crate) struct ChildRelationship {
    #[serde(rename = "childSObject")]
    pub(crate) child_object: String,
    pub(crate) field: String,
    /// None for relationships SOQL cannot follow from the parent.
    #[serde(rename = "relationshipName", default)]
    pub(crate) relationship_name: Option<String>,
}

/// An object's describe.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Describe {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) label: String,
    #[serde(default)]
    pub(crate) label_plural: String,
    #[serde(default)]
    pub(crate) child_relationships: Vec<ChildRelationship>,
    #[serde(default)]
    pub(crate) key_prefix: Option<String>,
    #[serde(default = "yes")]
    pub(crate) queryable: bool,
    #[serde(default)]
    pub(crate) fields: Vec<FieldDescribe>,
}

fn yes() -> bool {
    true
}

/// A deleted record.
#[derive(Deserialize, Debug)]
pub(crate) struct Deleted {
    pub(crate) id: String,
}

/// The deleted records of a time range.
#[derive(Deserialize, Debug)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DeletedList {
    #[serde(default)]
    pub(crate) deleted_records: Vec<Deleted>,
}

/// Requests to one org; cheap to clone, the token and session shared.
#[derive(Clone)]
pub(crate) struct Client {
    http: HttpClient,
    /// Core's token: the form POST, kept until Salesforce answers 401, then got once more.
    token: Arc<OAuthToken>,
    /// Set from every token answer, before its token is used.
    session: Arc<RwLock<Option<Session>>>,
    field: &'static str,
    configured: Url,
    version: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("instance_url", &self.configured.as_str())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client of the org `credentials` name; nothing is requested yet.
    ///
    /// # Errors
    /// `Config` naming `credentials.instance_url` when it cannot take the token path.
    pub(crate) fn new(
        http: HttpClient,
        credentials: SalesforceCredentials,
        version: String,
    ) -> Result<Self> {
        let mut token_url = credentials.instance_url.clone();
        token_url
            .path_segments_mut()
            .map_err(|()| {
                Error::config(vec![FieldError::new(
                    "credentials.instance_url",
                    "cannot take a path",
                )])
                .with_connector(SOURCE)
            })?
            .pop_if_empty()
            .extend(["services", "oauth2", "token"]);
        let field = if credentials.username.is_some() {
            PASSWORD_FIELD
        } else {
            SECRET_FIELD
        };
        let configured = credentials.instance_url.clone();
        let session = Arc::new(RwLock::new(None));
        let written = Arc::clone(&session);
        let base = configured.clone();
        // The client credentials flow, or the username-password flow (the password and the
        // security token concatenated); Salesforce answers without `expires_in`, so the token
        // is kept until a 401.
        let token = OAuthToken::app_grant(SOURCE, token_url, field, move || {
            let c = &credentials;
            let mut form = Vec::with_capacity(5);
            match (&c.username, &c.password) {
                (Some(user), Some(password)) => {
                    let token = c.security_token.as_ref().map_or("", |t| t.expose());
                    form.push(("grant_type", "password".to_owned()));
                    form.push(("username", user.trim().to_owned()));
                    form.push(("password", format!("{}{token}", password.expose())));
                }
                _ => form.push(("grant_type", "client_credentials".to_owned())),
            }
            form.push(("client_id", c.client_id.trim().to_owned()));
            form.push(("client_secret", c.client_secret.expose().to_owned()));
            Ok(form)
        })
        .on_answer(move |answer| {
            let s = Session::of_answer(answer, &base)?;
            *written.write().unwrap_or_else(|p| p.into_inner()) = Some(s);
            Ok(())
        });
        Ok(Self {
            http,
            token: Arc::new(token),
            session,
            field,
            configured,
            version,
        })
    }

    /// This client counting its requests into `ctx` (the token and session stay shared).
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            ..self.clone()
        }
    }

    /// The current session, asking for a token when there is none.
    pub(crate) async fn session(&self) -> Result<Session> {
        self.token.bearer(&self.http).await?;
        self.session
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| Error::internal("a token without a session").with_connector(SOURCE))
    }

    /// GETs the URL `path` makes of the session with the token; a 401 (`INVALID_SESSION_ID`:
    /// the session expired) gets one new token and one more try (core's [`OAuthToken`]).
    async fn get_json<T: DeserializeOwned>(
        &self,
        path: impl Fn(&Session) -> Result<Url>,
    ) -> Result<T> {
        self.get(path).await?.json()
    }

    /// A query's result page at the URL `path` makes of the session, read in one pass
    /// ([`QueryPage::read`]).
    async fn get_page(&self, path: impl Fn(&Session) -> Result<Url>) -> Result<QueryPage> {
        QueryPage::read(self.get(path).await?)
    }

    /// The answer of a GET of the URL `path` makes of the session.
    async fn get(&self, path: impl Fn(&Session) -> Result<Url>) -> Result<Response> {
        let url = path(&self.session().await?)?;
        let field = self.field;
        let resp = self
            .token
            .send(&self.http, |auth| {
                self.http.get(url.clone()).auth(auth, field)
            })
            .await?;
        if let Some(usage) = resp.header("Sforce-Limit-Info") {
            note_usage(usage);
        }
        Ok(resp)
    }

    /// `{instance}/services/data/{version}/{segments…}`.
    fn data_url(&self, s: &Session, segments: &[&str]) -> Result<Url> {
        let mut url = s.instance.clone();
        url.path_segments_mut()
            .map_err(|()| {
                Error::internal("instance_url cannot take a path").with_connector(SOURCE)
            })?
            .pop_if_empty()
            .extend(["services", "data", &self.version])
            .extend(segments);
        Ok(url)
    }

    /// The describe of `object`.
    pub(crate) async fn describe(&self, object: &str) -> Result<Describe> {
        self.get_json(|s| self.data_url(s, &["sobjects", object, "describe"]))
            .await
    }

    /// The first page of `soql`.
    pub(crate) async fn query(&self, soql: &str) -> Result<QueryPage> {
        self.query_at("query", soql).await
    }

    /// The first page of `soql` over the `query` resource, or `queryAll`, which also returns
    /// the records in the recycle bin (`IsDeleted` true); their `nextRecordsUrl` is a
    /// `query` one either way.
    pub(crate) async fn query_at(&self, resource: &str, soql: &str) -> Result<QueryPage> {
        self.get_page(|s| {
            let mut url = self.data_url(s, &[resource])?;
            url.query_pairs_mut().append_pair("q", soql);
            Ok(url)
        })
        .await
    }

    /// The page at `next` (a `nextRecordsUrl`, a path of the instance); none when Salesforce
    /// no longer holds that cursor (`INVALID_QUERY_LOCATOR`: it expires after 15 minutes idle,
    /// and a user's eleventh open cursor releases the oldest), so the caller queries again.
    pub(crate) async fn next_page(&self, next: &str) -> Result<Option<QueryPage>> {
        let page = self
            .get_page(|s| {
                let url = s.instance.join(next).map_err(|e| {
                    Error::new(ErrorKind::InvalidData, "the nextRecordsUrl is not a path")
                        .with_connector(SOURCE)
                        .with_cause(e)
                })?;
                if url.origin() != s.instance.origin() {
                    return Err(Error::new(
                        ErrorKind::InvalidData,
                        "the nextRecordsUrl leads off the instance",
                    )
                    .with_connector(SOURCE));
                }
                Ok(url)
            })
            .await;
        match page {
            Ok(p) => Ok(Some(p)),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                tracing::info!(
                    connector = SOURCE,
                    "the query's cursor is gone; the query is asked again from the last record: {e}"
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The records of `object` deleted between `start` and `end` (`yyyy-MM-ddTHH:mm:ssZ`).
    pub(crate) async fn deleted(
        &self,
        object: &str,
        start: &str,
        end: &str,
    ) -> Result<DeletedList> {
        self.get_json(|s| {
            let mut url = self.data_url(s, &["sobjects", object, "deleted", ""])?;
            url.query_pairs_mut()
                .append_pair("start", start)
                .append_pair("end", end);
            Ok(url)
        })
        .await
    }
}

/// Logs the org's API usage from `Sforce-Limit-Info: api-usage=25/15000`, as a warning once
/// nine tenths of the 24-hour allowance are spent (other jobs of the org share it).
fn note_usage(header: &str) {
    let Some((used, max)) = header
        .split(',')
        .find_map(|part| part.trim().strip_prefix("api-usage="))
        .and_then(|u| u.split_once('/'))
        .and_then(|(a, b)| Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?)))
    else {
        return;
    };
    if max > 0 && used * 10 >= max * 9 {
        tracing::warn!(
            connector = SOURCE,
            used,
            max,
            "the org has spent most of its daily API requests"
        );
    } else {
        tracing::debug!(
            connector = SOURCE,
            used,
            max,
            "the org's daily API requests"
        );
    }
}

/// Salesforce's error array as `code: message`.
fn said(body: &[u8]) -> (String, String) {
    let errors: Vec<ApiError> = serde_json::from_slice(body).unwrap_or_default();
    match errors.first() {
        // A SOQL error echoes the query, a caret and a position before its explanation, on
        // lines of their own: the explanation (its last line) is what names the field.
        Some(e) => {
            let explained = e
                .message
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty())
                .unwrap_or_default();
            (
                e.error_code.clone(),
                format!("{}: {explained}", e.error_code),
            )
        }
        None => (
            String::new(),
            String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
        ),
    }
}

/// What Salesforce's error bodies mean. 429 and 5xx are core's.
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let (code, said) = said(body);
    match (status.as_u16(), code.as_str()) {
        (_, "REQUEST_LIMIT_EXCEEDED") => Some(
            ErrorClass::new(
                ErrorKind::RateLimited,
                format!("the org's API request allowance is spent: {said}"),
            )
            .with_wait(REQUEST_LIMIT_WAIT),
        ),
        (401, _) => Some(ErrorClass::new(
            ErrorKind::Unauthenticated,
            format!("Salesforce refused the session: {said}"),
        )),
        (403, _) => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!(
                "Salesforce refused access (the run-as user needs API Enabled and read access to the object): {said}"
            ),
        )),
        // A `nextRecordsUrl` whose cursor expired or was released.
        (_, "INVALID_QUERY_LOCATOR") => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("Salesforce no longer holds the query's cursor: {said}"),
        )),
        (404, _) | (_, "NOT_FOUND" | "INVALID_TYPE") => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("Salesforce has no such object or record (check objects): {said}"),
        )),
        (_, "INVALID_FIELD") => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!(
                "Salesforce refused a field of the query (check objects; the user may have lost access to a field): {said}"
            ),
        )),
        (400 | 414 | 431, _) => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("Salesforce refused the request: {said}"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_arrays_are_read() {
        let c = classify(
            StatusCode::FORBIDDEN,
            br#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
        )
        .unwrap_or_else(|| panic!("classified"));
        assert_eq!(c.kind, ErrorKind::RateLimited);
        assert_eq!(c.wait(), Some(REQUEST_LIMIT_WAIT));
        let c = classify(
            StatusCode::BAD_REQUEST,
            br#"[{"message":"\nSELECT Foo__c FROM Account\n       ^\nERROR at Row:1:Column:8\nNo such column 'Foo__c' on entity 'Account'.","errorCode":"INVALID_FIELD"}]"#,
        )
        .unwrap_or_else(|| panic!("classified"));
        assert_eq!(c.kind, ErrorKind::InvalidData);
        assert!(c.message.contains("Foo__c") && c.message.contains("Account"));
        let c = classify(
            StatusCode::BAD_REQUEST,
            br#"[{"message":"sObject type 'Knowledge__kav' is not supported.","errorCode":"INVALID_TYPE"}]"#,
        )
        .unwrap_or_else(|| panic!("classified"));
        assert_eq!(c.kind, ErrorKind::NotFound);
        let c = classify(
            StatusCode::UNAUTHORIZED,
            br#"[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]"#,
        )
        .unwrap_or_else(|| panic!("classified"));
        assert_eq!(c.kind, ErrorKind::Unauthenticated);
        let c = classify(
            StatusCode::BAD_REQUEST,
            br#"[{"message":"invalid query locator","errorCode":"INVALID_QUERY_LOCATOR"}]"#,
        )
        .unwrap_or_else(|| panic!("classified"));
        assert_eq!(c.kind, ErrorKind::NotFound);
    }
}
