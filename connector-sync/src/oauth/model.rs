//! The flows' requests and answers.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;
use utoipa::{IntoParams, ToSchema};

use crate::connectors::NewConnector;

/// The body of `POST /api/v1/oauth/init`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitRequest {
    /// The provider (`google-drive`, `gmail`, …).
    pub provider: String,
    /// A stored connector whose credentials the flow sets.
    #[serde(default)]
    pub connector_id: Option<String>,
    /// Or a connector to create once authorised (its config without the tokens):
    /// `{"name", "source", "config", "refresh_freq", "prune_freq", "timeout_secs"}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub connector: Option<NewConnector>,
    /// The OAuth client to use instead of the server's: RAGFlow's uploaded client
    /// configuration (`{"web": {"client_id", "client_secret"}}`, an object or a string
    /// holding one) or `{"client_id", "client_secret"}`. Its endpoints are ignored: the
    /// provider's are the server's setting.
    #[serde(default)]
    #[schema(value_type = Option<Value>, write_only)]
    pub credentials: Option<Value>,
}

/// What `init` answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Initiated {
    /// The flow's id, for [`OAuthFlows::result`](super::OAuthFlows::result).
    pub flow_id: String,
    /// Where to send the user's browser.
    #[schema(value_type = String)]
    pub authorization_url: Url,
    /// Seconds the user has to authorise.
    pub expires_in: u64,
}

/// Where a flow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FlowStatus {
    /// Waiting for the provider's redirect.
    Pending,
    /// The redirect came; the code is being exchanged.
    Exchanging,
    /// The tokens are stored; see [`FlowResult::connector_id`].
    Succeeded,
    /// It failed; see [`FlowResult::message`].
    Failed,
    /// No redirect came in time.
    Expired,
}

impl FlowStatus {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Exchanging => "exchanging",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    pub(super) fn parse(s: &str) -> Self {
        match s {
            "exchanging" => Self::Exchanging,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "expired" => Self::Expired,
            _ => Self::Pending,
        }
    }
}

/// A flow's outcome, as `result` reports it. Never holds a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FlowResult {
    /// The flow's id.
    pub flow_id: String,
    /// Its provider.
    pub provider: String,
    /// Where it is.
    pub status: FlowStatus,
    /// The connector whose credentials it set (or that it created).
    pub connector_id: Option<String>,
    /// Why it failed, or what it did.
    pub message: Option<String>,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// Until when the provider's redirect is accepted.
    pub expires_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

/// The query of the provider's redirect to the callback (other parameters, such as Google's
/// `scope` or `authuser`, are ignored).
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// The state given in the authorisation URL.
    #[serde(default)]
    pub state: Option<String>,
    /// The authorisation code.
    #[serde(default)]
    pub code: Option<String>,
    /// The provider's error (`access_denied`).
    #[serde(default)]
    pub error: Option<String>,
    /// Its description.
    #[serde(default)]
    pub error_description: Option<String>,
}

/// The body of RAGFlow's `POST /api/v1/connectors/google/oauth/web/start?type=`: an
/// [`InitRequest`] whose provider is the `type`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RagflowStart {
    /// A stored connector whose credentials the flow sets.
    #[serde(default)]
    pub connector_id: Option<String>,
    /// Or a connector to create once authorised.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub connector: Option<NewConnector>,
    /// RAGFlow's uploaded client configuration (`{"web": {"client_id", "client_secret"}}`).
    #[serde(default)]
    #[schema(value_type = Option<Value>, write_only)]
    pub credentials: Option<Value>,
}

/// The body of RAGFlow's `POST /api/v1/connectors/google/oauth/web/result?type=`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RagflowResult {
    /// The flow's id, as `start` answered it.
    pub flow_id: String,
}

/// How a callback ended: an HTTP status, a stable code, a message for the user, and the flow
/// when the state named one.
#[derive(Debug, Clone)]
pub struct CallbackOutcome {
    /// 200 when the tokens are stored; 400 for a refused state or a provider's error; 502
    /// when the code exchange failed.
    pub status: u16,
    /// `ok`, `missing_state`, `unknown_state`, `expired_state`, `used_state`,
    /// `provider_error`, `missing_code`, `exchange_failed`, `store_failed`.
    pub code: &'static str,
    /// What happened, for the user.
    pub message: String,
    /// The flow, when the state named one.
    pub flow: Option<FlowResult>,
}

impl CallbackOutcome {
    pub(super) fn refused(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code,
            message: message.into(),
            flow: None,
        }
    }
}
