//! The shapes Microsoft Graph answers with that every Graph source shares: a collection page
//! with its `@odata` links, the error body, and the JSON batch envelope.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

/// One page of a collection: `{"value": [...], "@odata.nextLink": ..., "@odata.deltaLink": ...}`.
///
/// A collection read to its end has neither link on its last page; a delta query's last page
/// has a `@odata.deltaLink` (the position to ask from next time) instead of a
/// `@odata.nextLink`.
#[derive(Debug, Clone, Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
pub struct Page<T> {
    /// The items of this page.
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    /// The next page of the same listing.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<Url>,
    /// The end of a delta round: ask this URL for the changes made after it.
    #[serde(rename = "@odata.deltaLink", default)]
    pub delta_link: Option<Url>,
}

/// An item of a listing read as `T`; `Err((its id if readable, what is wrong))` when it is
/// not one, so the item becomes a failure naming it and the listing goes on. `what` names the
/// kind of item in the message (`"a drive item"`).
pub(crate) fn listed<T: DeserializeOwned>(
    value: Value,
    what: &str,
) -> std::result::Result<T, (Option<String>, String)> {
    let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
    serde_json::from_value(value)
        .map_err(|e| (id, format!("Graph listed {what} that cannot be read: {e}")))
}

/// Graph's `itemBody`, a message's body (Outlook's and Teams'): `contentType` `text` or
/// `html`.
#[cfg(any(feature = "outlook", feature = "teams"))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ItemBody {
    #[serde(default)]
    pub(crate) content_type: Option<String>,
    #[serde(default)]
    pub(crate) content: Option<String>,
}

#[cfg(any(feature = "outlook", feature = "teams"))]
impl ItemBody {
    /// Whether the content is HTML (Graph says `html`, in any case), not text.
    pub(crate) fn is_html(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("html"))
    }
}

/// A page of a delta query, or the service's order to start it over.
#[derive(Debug, Clone)]
pub enum Delta<T> {
    /// A page of changes.
    Page(Page<T>),
    /// `410 Gone`: the delta token expired or the service cannot continue from it
    /// (`resyncRequired`, `resyncChangesApplyDifferences`, `resyncChangesUploadDifferences`).
    /// The round starts over from `restart_at` (the `Location` the service gave) or, without
    /// one, from the query's first URL; what it lists again is told apart by version tokens.
    Restart {
        /// Where the new round starts, when the service said.
        restart_at: Option<Url>,
        /// Graph's error code, for the log.
        code: String,
    },
}

/// Graph's error body: `{"error": {"code": "itemNotFound", "message": "...", "innerError":
/// {"request-id": "...", "date": "..."}}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub(crate) error: ErrorDetail,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(default)]
    pub(crate) code: String,
    #[serde(default)]
    pub(crate) message: String,
    #[serde(rename = "innerError", default)]
    pub(crate) inner: Option<InnerError>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct InnerError {
    #[serde(rename = "request-id", default)]
    pub(crate) request_id: String,
}

impl ErrorBody {
    /// `code: message (request id …)`, or the body's first characters when it is not Graph's
    /// error shape.
    pub(crate) fn describe(body: &[u8]) -> (String, String) {
        let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
        let e = parsed.error;
        if e.code.is_empty() {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            return (String::new(), text);
        }
        let mut said = format!("{}: {}", e.code, e.message);
        if let Some(inner) = e.inner.filter(|i| !i.request_id.is_empty()) {
            said.push_str(&format!(" (request id {})", inner.request_id));
        }
        (e.code, said)
    }
}

/// One request of a JSON batch (`POST /$batch`): a GET of a path relative to the API root,
/// with the headers of its own (a batch member does not inherit the batch request's).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BatchRequest<'a> {
    pub(crate) id: String,
    pub(crate) method: &'static str,
    pub(crate) url: &'a str,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub(crate) headers: std::collections::BTreeMap<&'a str, &'a str>,
}

/// The batch envelope Graph answers with.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BatchEnvelope {
    #[serde(default)]
    pub(crate) responses: Vec<BatchResponse>,
}

/// One answer inside a batch: its request's id, status, headers (a throttled member's
/// `Retry-After`) and JSON body.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BatchResponse {
    pub(crate) id: String,
    pub(crate) status: u16,
    #[serde(default)]
    pub(crate) headers: serde_json::Map<String, Value>,
    #[serde(default)]
    pub(crate) body: Value,
}

impl BatchResponse {
    /// The member's `Retry-After`, in seconds (Graph sends seconds in batches).
    pub(crate) fn retry_after(&self) -> Option<std::time::Duration> {
        let (_, value) = self
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))?;
        let secs = match value {
            Value::String(s) => s.trim().parse::<u64>().ok()?,
            Value::Number(n) => n.as_u64()?,
            _ => return None,
        };
        Some(std::time::Duration::from_secs(secs))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_page_reads_its_links_and_defaults_to_empty() {
        let p: Page<Value> = serde_json::from_str(
            r#"{"@odata.context": "x", "value": [{"id": "1"}],
                "@odata.nextLink": "https://graph.microsoft.com/v1.0/drives/d/root/delta?token=a"}"#,
        )
        .unwrap();
        assert_eq!(p.value.len(), 1);
        assert!(p.next_link.is_some() && p.delta_link.is_none());
        let empty: Page<Value> = serde_json::from_str("{}").unwrap();
        assert!(empty.value.is_empty());
    }

    #[test]
    fn errors_are_described_by_code_and_request_id() {
        let (code, said) = ErrorBody::describe(
            br#"{"error": {"code": "itemNotFound", "message": "The resource could not be found.",
                 "innerError": {"request-id": "r-1", "date": "2026-01-01T00:00:00"}}}"#,
        );
        assert_eq!(code, "itemNotFound");
        assert_eq!(
            said,
            "itemNotFound: The resource could not be found. (request id r-1)"
        );
        let (code, said) = ErrorBody::describe(b"<html>gateway</html>");
        assert!(code.is_empty());
        assert_eq!(said, "<html>gateway</html>");
    }
}
