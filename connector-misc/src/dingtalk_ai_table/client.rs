//! The DingTalk open API calls the connector makes, and its access token.
//!
//! - `POST /v1.0/oauth2/accessToken` with `{"appKey", "appSecret"}` → `{"accessToken",
//!   "expireIn"}` (7200 seconds): an app's token, sent as the `x-acs-dingtalk-access-token`
//!   header; got and renewed by core's [`OAuthToken`] (a minute before it expires, and once
//!   when a request is refused as unauthenticated: 401 or `InvalidAuthentication`);
//! - `GET /v1.0/notable/bases/{baseId}/sheets?operatorId=` (GetAllSheets);
//! - `POST /v1.0/notable/bases/{baseId}/sheets/{sheetIdOrName}/records/list?operatorId=` with
//!   `{"maxResults": 100, "nextToken": …, "calcFields": true}` (ListRecords; `calcFields`
//!   asks for the values of formula and lookup fields);
//! - `GET /v1.0/notable/bases/{baseId}/sheets/{sheetIdOrName}/records/{recordId}?operatorId=`
//!   (GetRecord);
//! - errors as `{"code", "message", "requestid"}`; a throttled call is answered 429, or 403
//!   `Forbidden.AccessDenied.QpsLimitForApi`, both taken as rate limits.

use std::sync::Arc;
use std::time::Duration;

use connector_core::http::{
    Auth, ErrorClass, HttpClient, OAuthToken, RequestBuilder, Response, StatusCode, TokenFields,
};
use connector_core::{Error, ErrorKind, Result, Secret, SyncContext};
use serde_json::json;
use url::Url;

use super::SOURCE;
use super::config::{SECRET_FIELD, TOKEN_FIELD};
use super::model::{ApiError, Fields, Record, RecordList, Sheets};

/// Records per page: the API's maximum.
pub(crate) const PAGE_SIZE: u32 = 100;

/// The header the token travels in.
const TOKEN_HEADER: &str = "x-acs-dingtalk-access-token";

/// The wait after a throttled call that names no wait: DingTalk's limits are per second.
const THROTTLE_WAIT: Duration = Duration::from_secs(1);

/// The access token: the configured one (used until DingTalk refuses it), or the app's, got
/// from `POST /v1.0/oauth2/accessToken` and renewed by core's [`OAuthToken`] a minute before
/// the `expireIn` it announced, and once when a request is refused as unauthenticated.
pub(crate) fn token(fixed: Option<Secret>, app: Option<(String, Secret)>, url: Url) -> OAuthToken {
    let token = match app {
        Some((key, secret)) => OAuthToken::app_grant_json(
            SOURCE,
            url,
            SECRET_FIELD,
            move || Ok(json!({"appKey": key, "appSecret": secret.expose()})),
            TokenFields::new("accessToken", "expireIn"),
        ),
        None => OAuthToken::new(SOURCE, TOKEN_FIELD, fixed),
    };
    token.sent_in_header(TOKEN_HEADER)
}

/// Requests to one AI Table base as one operator; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    http: HttpClient,
    token: Arc<OAuthToken>,
    api: Url,
    base: String,
    operator: String,
}

impl Client {
    pub(crate) fn new(
        http: HttpClient,
        token: Arc<OAuthToken>,
        api: Url,
        base: String,
        operator: String,
    ) -> Self {
        Self {
            http,
            token,
            api,
            base,
            operator,
        }
    }

    /// The HTTP client underneath.
    #[cfg(test)]
    pub(crate) fn http(&self) -> &HttpClient {
        &self.http
    }

    /// This client counting its requests into `ctx`.
    pub(crate) fn with_context(&self, ctx: &SyncContext) -> Self {
        Self {
            http: self.http.with_context(ctx),
            ..self.clone()
        }
    }

    /// The token endpoint under `api`.
    pub(crate) fn token_url(api: &Url) -> Result<Url> {
        endpoint(api, &["v1.0", "oauth2", "accessToken"], None)
    }

    fn url(&self, segments: &[&str]) -> Result<Url> {
        endpoint(&self.api, segments, Some(&self.operator))
    }

    /// Sends what `build` makes with the token; a request refused as unauthenticated is sent
    /// once more with a renewed app token ([`OAuthToken::send`]).
    async fn send(&self, build: impl Fn(Auth) -> RequestBuilder) -> Result<Response> {
        self.token.send(&self.http, build).await
    }

    /// The base's sheets.
    pub(crate) async fn sheets(&self) -> Result<Sheets> {
        let url = self.url(&["v1.0", "notable", "bases", &self.base, "sheets"])?;
        let field = self.token.field();
        self.send(|auth| self.http.get(url.clone()).auth(auth, field))
            .await?
            .json()
    }

    /// The fields of `sheet`, the primary field first.
    pub(crate) async fn fields(&self, sheet: &str) -> Result<Fields> {
        let url = self.url(&[
            "v1.0", "notable", "bases", &self.base, "sheets", sheet, "fields",
        ])?;
        let field = self.token.field();
        self.send(|auth| self.http.get(url.clone()).auth(auth, field))
            .await?
            .json()
    }

    /// One page of records of `sheet`, from `next`; `computed` asks for the values of the
    /// formula and lookup fields too (`calcFields`), which an id listing does not need.
    pub(crate) async fn records(
        &self,
        sheet: &str,
        next: Option<&str>,
        size: u32,
        computed: bool,
    ) -> Result<RecordList> {
        let url = self.url(&[
            "v1.0", "notable", "bases", &self.base, "sheets", sheet, "records", "list",
        ])?;
        let mut body = json!({"maxResults": size});
        if let Some(next) = next {
            body["nextToken"] = json!(next);
        }
        if computed {
            body["calcFields"] = json!(true);
        }
        let field = self.token.field();
        self.send(|auth| {
            self.http
                .post(url.clone())
                .json(&body)
                .idempotent(true)
                .auth(auth, field)
        })
        .await?
        .json()
    }

    /// One record of `sheet`; `None` when DingTalk has no such record.
    pub(crate) async fn record(&self, sheet: &str, id: &str) -> Result<Option<Record>> {
        let url = self.url(&[
            "v1.0", "notable", "bases", &self.base, "sheets", sheet, "records", id,
        ])?;
        let field = self.token.field();
        match self
            .send(|auth| self.http.get(url.clone()).auth(auth, field))
            .await
        {
            Ok(resp) => {
                let raw: Box<serde_json::value::RawValue> = resp.json()?;
                Record::take(raw).map(Some).map_err(|(_, e)| {
                    Error::new(
                        ErrorKind::InvalidData,
                        format!("the record {id} of the sheet {sheet} cannot be read: {e}"),
                    )
                    .with_connector(SOURCE)
                })
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// `api` with these path segments and, when given, `operatorId`.
fn endpoint(api: &Url, segments: &[&str], operator: Option<&str>) -> Result<Url> {
    let mut url = api.clone();
    url.path_segments_mut()
        .map_err(|()| Error::internal("api_base_url cannot take a path").with_connector(SOURCE))?
        .pop_if_empty()
        .extend(segments);
    if let Some(op) = operator {
        url.query_pairs_mut().append_pair("operatorId", op);
    }
    Ok(url)
}

/// What DingTalk's error bodies mean. A bare 429 is core's (with its `Retry-After`).
pub(crate) fn classify(status: StatusCode, body: &[u8]) -> Option<ErrorClass> {
    let err = serde_json::from_slice::<ApiError>(body).unwrap_or_default();
    let said = if err.code.is_empty() {
        String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
    } else if err.requestid.is_empty() {
        format!("{}: {}", err.code, err.message)
    } else {
        format!("{}: {} (request {})", err.code, err.message, err.requestid)
    };
    let code = err.code.as_str();
    if code.contains("QpsLimit")
        || code.contains("Throttling")
        || code.contains("LimitExceeded.Qps")
    {
        return Some(
            ErrorClass::new(
                ErrorKind::RateLimited,
                format!("DingTalk throttled the call: {said}"),
            )
            .with_wait(THROTTLE_WAIT),
        );
    }
    match status.as_u16() {
        401 => Some(ErrorClass::new(
            ErrorKind::Unauthenticated,
            format!("DingTalk rejected the access token: {said}"),
        )),
        _ if code.contains("InvalidAuthentication") || code.contains("AccessTokenExpired") => {
            Some(ErrorClass::new(
                ErrorKind::Unauthenticated,
                format!("DingTalk rejected the access token: {said}"),
            ))
        }
        403 => Some(ErrorClass::new(
            ErrorKind::PermissionDenied,
            format!(
                "DingTalk refused access (the app needs the Notable read permission, and operator_id must be able to read table_id): {said}"
            ),
        )),
        404 => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("DingTalk found nothing there (check table_id and sheets): {said}"),
        )),
        400 if code.contains("NotFound") || code.contains("notFound") => Some(ErrorClass::new(
            ErrorKind::NotFound,
            format!("DingTalk found nothing there (check table_id and sheets): {said}"),
        )),
        400 | 413 | 422 => Some(ErrorClass::new(
            ErrorKind::InvalidData,
            format!("DingTalk rejected the request: {said}"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_a_rate_limit_and_tokens_are_credentials() {
        let c = classify(
            StatusCode::FORBIDDEN,
            br#"{"code":"Forbidden.AccessDenied.QpsLimitForApi","message":"qps limit","requestid":"r1"}"#,
        )
        .unwrap_or_else(|| panic!("classified"));
        assert_eq!(c.kind, ErrorKind::RateLimited);
        assert_eq!(c.wait(), Some(THROTTLE_WAIT));
        let c = classify(
            StatusCode::BAD_REQUEST,
            br#"{"code":"InvalidAuthentication","message":"token expired","requestid":"r2"}"#,
        )
        .unwrap_or_else(|| panic!("classified"));
        assert_eq!(c.kind, ErrorKind::Unauthenticated);
        let c = classify(
            StatusCode::FORBIDDEN,
            br#"{"code":"Forbidden.AccessDenied.AccessTokenPermissionDenied","message":"no","requestid":"r3"}"#,
        )
        .unwrap_or_else(|| panic!("classified"));
        assert_eq!(c.kind, ErrorKind::PermissionDenied);
        assert!(c.message.contains("request r3"));
    }
}
