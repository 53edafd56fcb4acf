//! Requests: signed List Blobs pages and Get Blob, sent with the shared [`HttpClient`]
//! (retries of `503 ServerBusy`, `500 OperationTimedOut` and `429`, `Retry-After`, timeouts,
//! body caps), and error bodies mapped to error kinds that name the container and the field
//! to fix.

use std::fmt;
use std::time::SystemTime;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use connector_core::http::{HttpClient, RequestBuilder, Response, StatusCode};
use connector_core::{Error, ErrorKind, Result};
use url::Url;

use super::config::{Resolved, Signer};
use super::model::{ErrorBody, ListPage, clean_etag, parse_time};
use super::sign::{self, StandardHeaders};

/// The container, how to sign, and the HTTP client.
pub(crate) struct AzureClient {
    pub(crate) http: HttpClient,
    pub(crate) source: &'static str,
    container_url: Url,
    container: String,
    signer: Signer,
    secret_field: &'static str,
    container_field: &'static str,
    endpoint_field: &'static str,
    prefix: String,
    page_size: usize,
    /// `x-ms-version`: `api_version` or the default.
    api_version: String,
    /// `link_template`, when given: documents link there instead of to the blob URL.
    link_template: Option<String>,
}

/// The field that sets `x-ms-version`.
const API_VERSION_FIELD: &str = "api_version";

/// A downloaded blob.
pub(crate) struct Fetched {
    pub(crate) body: Bytes,
    pub(crate) content_type: Option<String>,
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<DateTime<Utc>>,
}

impl AzureClient {
    pub(crate) fn new(
        http: HttpClient,
        source: &'static str,
        resolved: Resolved,
        prefix: String,
        page_size: usize,
        api_version: String,
    ) -> Self {
        Self {
            http,
            source,
            container_url: resolved.container_url,
            container: resolved.container,
            signer: resolved.signer,
            secret_field: resolved.secret_field,
            container_field: resolved.container_field,
            endpoint_field: resolved.endpoint_field,
            prefix,
            page_size,
            api_version,
            link_template: None,
        }
    }

    /// Documents link through `template` (see `link_template`) instead of to the blob URL.
    #[must_use]
    pub(crate) fn with_link_template(mut self, template: Option<String>) -> Self {
        self.link_template = template;
        self
    }

    /// The link for people to the blob `name`: `link_template` filled in, else the blob's
    /// URL without any SAS.
    pub(crate) fn link(&self, name: &str) -> Url {
        self.link_template
            .as_deref()
            .and_then(|t| Url::parse(&super::config::fill_link(t, &self.container, name)).ok())
            .unwrap_or_else(|| self.blob_url(name))
    }

    /// The container's name.
    pub(crate) fn container(&self) -> &str {
        &self.container
    }

    /// The listing prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The unsigned URL of a blob (no SAS): a link for people.
    pub(crate) fn blob_url(&self, name: &str) -> Url {
        let mut url = self.container_url.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty();
            for part in name.split('/') {
                segments.push(part);
            }
        }
        url
    }

    /// One List Blobs page from `marker` (the start when none), of `max_results` blobs (else
    /// the page size).
    pub(crate) async fn list_page(
        &self,
        http: &HttpClient,
        marker: Option<&str>,
        max_results: Option<usize>,
    ) -> Result<ListPage> {
        let mut url = self.container_url.clone();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("restype", "container");
            q.append_pair("comp", "list");
            // Metadata tells Hadoop's folder stubs (`hdi_isfolder`) and carries user fields.
            q.append_pair("include", "metadata");
            if !self.prefix.is_empty() {
                q.append_pair("prefix", &self.prefix);
            }
            q.append_pair(
                "maxresults",
                &max_results.unwrap_or(self.page_size).to_string(),
            );
            if let Some(marker) = marker {
                q.append_pair("marker", marker);
            }
        }
        let resp = self.send(http, url, None, &[]).await?;
        if !resp.status().is_success() {
            return Err(self.map_error(&resp, None));
        }
        ListPage::parse(resp.body()).map_err(|m| {
            Error::invalid_data(format!(
                "container `{}`: the listing is not a List Blobs result: {m}",
                self.container
            ))
            .with_connector(self.source)
            .with_url(resp.url())
        })
    }

    /// Downloads `name`, reading at most `max` bytes; `Ok(None)` when the blob is gone.
    pub(crate) async fn get_blob(
        &self,
        http: &HttpClient,
        name: &str,
        max: u64,
    ) -> Result<Option<Fetched>> {
        let url = self.blob_url(name);
        let resp = self.send(http, url, Some((name, max)), &[]).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            let body = ErrorBody::parse(resp.body(), resp.header("x-ms-error-code"));
            if body.code != "ContainerNotFound" {
                // Listed a moment ago: deleted since (prune deals with it), or a name the
                // request did not reach as listed. Either way it is not silent.
                tracing::warn!(
                    connector = self.source,
                    container = %self.container,
                    blob = name,
                    code = %body.code,
                    "a listed blob was not found when downloaded; skipped"
                );
                return Ok(None);
            }
        }
        if !resp.status().is_success() {
            return Err(self.map_error(&resp, Some(name)));
        }
        Ok(Some(Fetched {
            content_type: resp.header("content-type").map(str::to_owned),
            etag: resp.header("etag").and_then(clean_etag),
            last_modified: resp.header("last-modified").and_then(parse_time),
            body: resp.into_body(),
        }))
    }

    /// Reads the first byte of `name` (`Get Blob` with `x-ms-range: bytes=0-0`), so `check()`
    /// finds credentials that may list but not read. An empty blob's `416` is a read too.
    ///
    /// # Errors
    /// The mapped error of a refused read (`PermissionDenied` naming the secret field), or
    /// of the transport.
    pub(crate) async fn probe_read(&self, http: &HttpClient, name: &str) -> Result<()> {
        let url = self.blob_url(name);
        let resp = self
            .send(
                http,
                url,
                Some((name, 1024)),
                &[("x-ms-range", "bytes=0-0")],
            )
            .await?;
        let status = resp.status();
        // 416: an empty blob; 409: archived or customer-encrypted, refused after the
        // authorization passed. Both prove the read permission.
        if status.is_success()
            || status == StatusCode::RANGE_NOT_SATISFIABLE
            || status == StatusCode::CONFLICT
        {
            return Ok(());
        }
        if status == StatusCode::NOT_FOUND {
            let body = ErrorBody::parse(resp.body(), resp.header("x-ms-error-code"));
            if body.code != "ContainerNotFound" {
                // Deleted since the listing: the probe proves nothing either way.
                return Ok(());
            }
        }
        Err(self.map_error(&resp, Some(name)))
    }

    /// Signs and sends a `GET` of `url` (the body capped at `max` for a blob) with the
    /// `x-ms-*` headers `extra`, handing 4xx answers back; a transport error is put in the
    /// container's terms.
    ///
    /// A Shared Key request is signed with its `x-ms-date` once, and core's retries resend it
    /// as signed: after a long `ServerBusy` or `429` storm the date is over 15 minutes old and
    /// Azure refuses it (`AuthenticationFailed`, "Request date header too old"). That answer
    /// is sent once more, signed anew; a host clock that is really off gets the same answer
    /// again, reported as such.
    async fn send(
        &self,
        http: &HttpClient,
        url: Url,
        blob: Option<(&str, u64)>,
        extra: &[(&str, &str)],
    ) -> Result<Response> {
        let resp = self.send_signed(http, url.clone(), blob, extra).await?;
        if matches!(self.signer, Signer::SharedKey(_)) && resp.status() == StatusCode::FORBIDDEN {
            let body = ErrorBody::parse(resp.body(), resp.header("x-ms-error-code"));
            if body
                .authentication_error_detail
                .to_ascii_lowercase()
                .contains("date header")
            {
                return self.send_signed(http, url, blob, extra).await;
            }
        }
        Ok(resp)
    }

    /// [`send`](Self::send)'s one signed request.
    async fn send_signed(
        &self,
        http: &HttpClient,
        mut url: Url,
        blob: Option<(&str, u64)>,
        extra: &[(&str, &str)],
    ) -> Result<Response> {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let version = self.api_version.as_str();
        let request = match &self.signer {
            Signer::SharedKey(key) => {
                let mut ms_headers = vec![("x-ms-date", date.as_str()), ("x-ms-version", version)];
                ms_headers.extend_from_slice(extra);
                let to_sign = sign::string_to_sign(
                    "GET",
                    &StandardHeaders::default(),
                    &ms_headers,
                    key.account(),
                    &url,
                );
                http.get(url)
                    .secret_header("authorization", &key.authorization(&to_sign))
            }
            Signer::Sas(sas) => {
                sas.apply(&mut url);
                http.get(url)
            }
            Signer::Bearer(token) => {
                // The token is got (or renewed after a 401) per request; the request is built
                // again for the second try.
                let build = |auth| {
                    let request = http
                        .get(url.clone())
                        .auth(auth, self.secret_field)
                        .header("x-ms-date", &date)
                        .header("x-ms-version", version);
                    finish(request, extra, blob)
                };
                return token
                    .send(http, build)
                    .await
                    .map_err(|e| self.transport_error(e, blob.map(|(n, _)| n)));
            }
        }
        .header("x-ms-date", &date)
        .header("x-ms-version", version);
        let request = finish(request, extra, blob);
        request
            .send()
            .await
            .map_err(|e| self.transport_error(e, blob.map(|(n, _)| n)))
    }

    /// An error of the HTTP layer (unreachable, retries spent on `ServerBusy`, a body over
    /// the cap) with the container named.
    fn transport_error(&self, e: Error, blob: Option<&str>) -> Error {
        // A refusal of the token endpoint already names the field to fix.
        if matches!(e.kind(), ErrorKind::Cancelled | ErrorKind::Unauthenticated) {
            return e;
        }
        let container = &self.container;
        let unreachable = e.kind() == ErrorKind::Unavailable && e.message().starts_with("request");
        let what = match e.kind() {
            _ if unreachable => format!(
                "cannot reach the blob endpoint of container `{container}` (check `{}`)",
                self.endpoint_field
            ),
            ErrorKind::Unavailable | ErrorKind::RateLimited => format!(
                "the storage service kept failing or answering ServerBusy for container `{container}`"
            ),
            ErrorKind::InvalidData
                if blob.is_some() && connector_core::http::is_body_too_large(&e) =>
            {
                format!(
                    "the blob grew past `max_object_size` since it was listed, in container `{container}`"
                )
            }
            _ => format!("request to container `{container}` failed"),
        };
        let mut err = Error::new(e.kind(), what)
            .with_connector(self.source)
            .with_retryable(e.is_retryable());
        if unreachable {
            err = err.with_field(self.endpoint_field);
        }
        if let Some(wait) = e.retry_after() {
            err = err.with_retry_after(wait);
        }
        if let Some(blob) = blob {
            err = err.with_item(blob);
        }
        err.with_cause(e)
    }

    /// Maps a 4xx answer by its error code (`<Code>` or `x-ms-error-code`).
    pub(crate) fn map_error(&self, resp: &Response, blob: Option<&str>) -> Error {
        let status = resp.status();
        let body = ErrorBody::parse(resp.body(), resp.header("x-ms-error-code"));
        let container = &self.container;
        let code = if body.code.is_empty() {
            format!("HTTP {}", status.as_u16())
        } else {
            body.code.clone()
        };
        let detail = match (
            body.message.is_empty(),
            body.authentication_error_detail.is_empty(),
        ) {
            (true, _) => String::new(),
            (false, true) => format!(": {}", body.message),
            (false, false) => format!(": {} {}", body.message, body.authentication_error_detail),
        };
        let secret = self.secret_field;
        let sas = matches!(self.signer, Signer::Sas(_));
        let entra = matches!(self.signer, Signer::Bearer(_));
        // Azurite (and some gateways) answer a wrong signature with `AuthorizationFailure`
        // and Azure's authentication message; Azure itself says `AuthenticationFailed`.
        let code_str = if body.code == "AuthorizationFailure"
            && body.message.starts_with("Server failed to authenticate")
        {
            "AuthenticationFailed"
        } else {
            body.code.as_str()
        };
        let detail_text = body.authentication_error_detail.to_ascii_lowercase();
        let network = "the account's firewall or virtual network rules refuse this host";
        let (kind, message, field) = match (code_str, status.as_u16()) {
            ("KeyBasedAuthenticationNotPermitted", _) => (
                ErrorKind::Unauthenticated,
                format!(
                    "the storage account of container `{container}` disallows key-based authorization ({code}): account keys and account or service SAS are refused; use a service principal (auth_mode service_principal: Microsoft Entra ID) or a user delegation SAS in `credentials.sas_token`, or ask an administrator to allow Shared Key access (fix `{secret}`)"
                ),
                Some(secret),
            ),
            ("AuthenticationFailed", _)
                if detail_text.contains("date header") || detail_text.contains("x-ms-date") =>
            {
                (
                    ErrorKind::Unauthenticated,
                    format!(
                        "the storage service refused the request time for container `{container}` ({code}{detail}): this host's clock is off by more than 15 minutes; fix the clock, not `{secret}`"
                    ),
                    Some(secret),
                )
            }
            ("AuthorizationSourceIPMismatch", _) => (
                ErrorKind::PermissionDenied,
                format!(
                    "the storage service refused container `{container}` ({code}){detail}: {network}, or `{secret}` may not read it"
                ),
                Some(secret),
            ),
            ("InvalidHeaderValue" | "UnsupportedHeader", _)
                if body.header_name.eq_ignore_ascii_case("x-ms-version") =>
            {
                (
                    ErrorKind::Config,
                    format!(
                        "the storage endpoint of container `{container}` does not support REST version `{}` ({code}); set `{API_VERSION_FIELD}` to a version it supports (Azure Stack Hub: 2019-02-02)",
                        self.api_version
                    ),
                    Some(API_VERSION_FIELD),
                )
            }
            ("BlobUsesCustomerSpecifiedEncryption", _) => (
                ErrorKind::Unsupported,
                format!(
                    "the blob is encrypted with a customer-provided key ({code}) in container `{container}`: the connector cannot read it without that key"
                ),
                None,
            ),
            ("ContainerNotFound", _) => (
                ErrorKind::NotFound,
                format!("container `{container}` does not exist (ContainerNotFound)"),
                Some(self.container_field),
            ),
            ("AuthenticationFailed", _)
                if sas && body.authentication_error_detail.contains("time frame") =>
            {
                (
                    ErrorKind::Unauthenticated,
                    format!(
                        "the shared access signature for container `{container}` is expired or not yet valid (AuthenticationFailed); renew `{secret}`"
                    ),
                    Some(secret),
                )
            }
            (
                "AuthenticationFailed"
                | "InvalidAuthenticationInfo"
                | "NoAuthenticationInformation",
                _,
            )
            | ("", 401) => (
                ErrorKind::Unauthenticated,
                if entra {
                    format!(
                        "the storage service rejected the Microsoft Entra ID token for container `{container}` ({code}){detail}; check the service principal (`{secret}`, credentials.client_id, credentials.tenant_id) and authority_host"
                    )
                } else if sas {
                    format!(
                        "the storage service rejected the shared access signature for container `{container}` ({code}); check `{secret}`"
                    )
                } else {
                    format!(
                        "the storage service rejected the account key's signature for container `{container}` ({code}); check `{secret}` and the account name"
                    )
                },
                Some(secret),
            ),
            (
                "AuthorizationPermissionMismatch"
                | "AuthorizationFailure"
                | "AuthorizationResourceTypeMismatch"
                | "AuthorizationServiceMismatch"
                | "AuthorizationProtocolMismatch"
                | "InsufficientAccountPermissions"
                | "AccountIsDisabled",
                _,
            )
            | ("", 403) => (
                ErrorKind::PermissionDenied,
                if entra {
                    format!(
                        "the service principal may not read container `{container}` ({code}){detail}: give it a data role on the container or account (Storage Blob Data Reader; Reader or Contributor are not enough), or check the account's network rules"
                    )
                } else if sas {
                    format!(
                        "the shared access signature may not {} container `{container}` ({code}); `{secret}` needs the r (read) and l (list) permissions on it (or {network}){detail}",
                        if blob.is_some() {
                            "read blobs of"
                        } else {
                            "list"
                        }
                    )
                } else {
                    format!(
                        "the credentials may not read container `{container}` ({code}){detail}; check `{secret}` and the account's network rules"
                    )
                },
                Some(secret),
            ),
            ("InvalidResourceName" | "OutOfRangeInput", _) if blob.is_none() => (
                ErrorKind::Config,
                format!("the storage service refused the container name `{container}` ({code})"),
                Some(self.container_field),
            ),
            ("BlobArchived" | "BlobBeingRehydrated", _) => (
                ErrorKind::Unsupported,
                format!(
                    "the blob is in the Archive tier ({code}) in container `{container}`: rehydrate it to Hot or Cool to index it"
                ),
                None,
            ),
            ("ResourceNotFound" | "", 404) if blob.is_none() => (
                ErrorKind::NotFound,
                format!("container `{container}` was not found ({code})"),
                Some(self.container_field),
            ),
            _ => (
                ErrorKind::InvalidData,
                format!(
                    "the storage service refused a request to container `{container}` ({code}){detail}"
                ),
                None,
            ),
        };
        let mut err = Error::new(kind, message)
            .with_connector(self.source)
            .with_url(resp.url())
            .with_retryable(false);
        if let Some(field) = field {
            err = err.with_field(field);
        }
        if let Some(blob) = blob {
            err = err.with_item(blob);
        }
        err
    }
}

/// A request's last touches: the `x-ms-*` headers `extra`, client errors handed back, and
/// a blob's body cap.
fn finish(
    mut request: RequestBuilder,
    extra: &[(&str, &str)],
    blob: Option<(&str, u64)>,
) -> RequestBuilder {
    request = request.client_errors_as_responses();
    for (name, value) in extra {
        request = request.header(name, value);
    }
    if let Some((_, max)) = blob {
        request = request.max_body_bytes(max);
    }
    request
}

impl fmt::Debug for AzureClient {
    // By hand: the signer must never reach a log line, whatever its own Debug does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureClient")
            .field("source", &self.source)
            .field("container_url", &self.container_url.as_str())
            .field(
                "auth",
                &match self.signer {
                    Signer::SharedKey(_) => "shared key",
                    Signer::Sas(_) => "sas",
                    Signer::Bearer(_) => "entra id",
                },
            )
            .field("prefix", &self.prefix)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}
