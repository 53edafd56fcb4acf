//! The `oauth_flow` rows: why a state could not be taken, a flow's end, its outcome.

use chrono::{DateTime, Utc};
use connector_core::Result;

use super::{CallbackOutcome, FlowResult, FlowStatus, OAuthFlows};
use crate::store::on_pool;

impl OAuthFlows {
    /// Why no pending flow could be taken for `hash`: unknown, expired or already used.
    pub(super) async fn why_not_taken(
        &self,
        hash: &str,
        provider: &str,
        now: DateTime<Utc>,
    ) -> Result<CallbackOutcome> {
        let db = self.store.db();
        let row: Option<(String, String, DateTime<Utc>)> = on_pool!(db, pool => {
            sqlx::query_as(
                "SELECT id, status, expires_at FROM oauth_flow WHERE state_hash = $1 AND provider = $2",
            )
            .bind(hash)
            .bind(provider)
            .fetch_optional(pool)
            .await
            .map_err(|e| db.error("cannot read an OAuth flow from", &e))?
        });
        Ok(match row {
            None => CallbackOutcome::refused(
                "unknown_state",
                "this authorisation is not known here (a forged or foreign `state`): start it again",
            ),
            Some((id, status, _)) if status == "pending" => {
                self.end(
                    &id,
                    FlowStatus::Expired,
                    None,
                    "the authorisation took longer than allowed; start it again",
                    400,
                    "expired_state",
                )
                .await?
            }
            Some((id, _, expires_at)) if expires_at <= now => {
                let mut outcome = CallbackOutcome::refused(
                    "expired_state",
                    "this authorisation has expired; start it again",
                );
                outcome.flow = self.result(&id).await?;
                outcome
            }
            Some((id, _, _)) => {
                let mut outcome = CallbackOutcome::refused(
                    "used_state",
                    "this authorisation was already completed; a repeated redirect is refused",
                );
                outcome.flow = self.result(&id).await?;
                outcome
            }
        })
    }

    /// Records the end of flow `id` and makes the answer.
    pub(super) async fn end(
        &self,
        id: &str,
        status: FlowStatus,
        connector_id: Option<&str>,
        message: &str,
        http_status: u16,
        code: &'static str,
    ) -> Result<CallbackOutcome> {
        let db = self.store.db();
        on_pool!(db, pool => {
            sqlx::query(
                "UPDATE oauth_flow SET status = $2, connector_id = COALESCE($3, connector_id), \
                 message = $4, finished_at = $5, secrets = '' WHERE id = $1",
            )
            .bind(id)
            .bind(status.as_str())
            .bind(connector_id)
            .bind(message)
            .bind(Utc::now())
            .execute(pool)
            .await
            .map_err(|e| db.error("cannot finish an OAuth flow in", &e))?;
        });
        if status == FlowStatus::Failed {
            tracing::warn!(flow = id, code, message, "OAuth flow failed");
        }
        Ok(CallbackOutcome {
            status: http_status,
            code,
            message: message.to_owned(),
            flow: self.result(id).await?,
        })
    }

    /// The outcome of flow `flow_id`; `None` for an unknown (or long finished) flow.
    ///
    /// # Errors
    /// [`ErrorKind::State`](connector_core::ErrorKind::State) when the database cannot be read.
    pub async fn result(&self, flow_id: &str) -> Result<Option<FlowResult>> {
        type Row = (
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            DateTime<Utc>,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
        );
        let db = self.store.db();
        let row: Option<Row> = on_pool!(db, pool => {
            sqlx::query_as(
                "SELECT id, provider, status, connector_id, message, created_at, expires_at, \
                 finished_at FROM oauth_flow WHERE id = $1",
            )
            .bind(flow_id)
            .fetch_optional(pool)
            .await
            .map_err(|e| db.error("cannot read an OAuth flow from", &e))?
        });
        Ok(row.map(
            |(
                flow_id,
                provider,
                status,
                connector_id,
                message,
                created_at,
                expires_at,
                finished_at,
            )| {
                let mut status = FlowStatus::parse(&status);
                if status == FlowStatus::Pending && expires_at <= Utc::now() {
                    status = FlowStatus::Expired;
                }
                FlowResult {
                    flow_id,
                    provider,
                    status,
                    connector_id,
                    // A row stored before the location was kept out of it (review70 L4).
                    message: message.map(|m| db.hide_location(&m)),
                    created_at,
                    expires_at,
                    finished_at,
                }
            },
        ))
    }
}
