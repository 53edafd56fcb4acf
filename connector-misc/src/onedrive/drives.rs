//! Which OneDrives a config reads: named users', named drives, or every user's.

use std::collections::BTreeSet;

use async_trait::async_trait;
use connector_core::{Error, ErrorKind, Failure, Result};
use serde::Deserialize;

use super::SOURCE;
use crate::graph::drive_walk::{DriveSource, DriveTarget, Targets};
use crate::graph::{Drive, GraphClient};

/// The fields of a drive a sync reads.
pub(crate) const DRIVE_FIELDS: &str = "id,name,driveType,owner,webUrl,sharePointIds";

/// `user_ids` and `drive_ids`; neither: every user's OneDrive.
#[derive(Debug, Clone)]
pub(crate) struct OnedriveDrives {
    pub(crate) users: Vec<String>,
    pub(crate) drives: Vec<String>,
}

/// A user as `GET /users` lists it.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    id: String,
    #[serde(default)]
    user_principal_name: Option<String>,
}

#[async_trait]
impl DriveSource for OnedriveDrives {
    async fn targets(&self, graph: &GraphClient) -> Result<Targets> {
        self.targets_of(graph, None).await
    }
}

/// A drive as a target of the walk: its owner's e-mail, its site collection.
pub(crate) fn target_of(drive: Drive) -> DriveTarget {
    DriveTarget {
        owner: drive
            .owner
            .as_ref()
            .and_then(|o| o.user.as_ref())
            .and_then(|u| u.email.clone())
            .map(|e| e.to_lowercase()),
        site: drive
            .sharepoint_ids
            .and_then(|s| s.site_id)
            .unwrap_or_else(|| drive.id.clone()),
        drive: drive.id,
    }
}

impl OnedriveDrives {
    /// Whether the config names no user and no drive: every user's OneDrive is read.
    pub(crate) fn all_users(&self) -> bool {
        self.users.is_empty() && self.drives.is_empty()
    }

    /// The drives, in a stable order without repeats, and a failure for each named user or
    /// drive that has none (or cannot be read); with every user, only the first page of at
    /// most `sample` users when given (what `check()` needs on a tenant of 100,000).
    pub(crate) async fn targets_of(
        &self,
        graph: &GraphClient,
        sample: Option<usize>,
    ) -> Result<Targets> {
        let mut failures = Vec::new();
        // (request path, what a failure names, the failure's id)
        let mut named: Vec<(String, String, String)> = Vec::new();
        for user in &self.users {
            let user = user.trim();
            named.push((
                format!("users/{}/drive", crate::graph::escape(user)),
                format!("user `{user}`"),
                format!("{SOURCE}:user:{user}"),
            ));
        }
        for drive in &self.drives {
            let drive = drive.trim();
            named.push((
                format!("drives/{}", crate::graph::escape(drive)),
                format!("drive `{drive}`"),
                format!("{SOURCE}:drive:{drive}"),
            ));
        }
        let all_users = self.all_users();
        if all_users {
            // Every user of the tenant; those without a OneDrive (no licence, never signed
            // in) answer 404 below and are passed over.
            let top = sample.map_or_else(|| "999".to_owned(), |n| n.clamp(1, 999).to_string());
            let url = graph.url(
                "users",
                &[("$select", "id,userPrincipalName"), ("$top", &top)],
            )?;
            let listed = match sample {
                Some(_) => graph.page::<User>(&url).await.map(|p| p.value),
                None => graph.all(&url).await,
            };
            let users: Vec<User> = listed.map_err(|e| {
                if e.kind() == ErrorKind::PermissionDenied {
                    Error::new(
                        ErrorKind::PermissionDenied,
                        format!(
                            "with neither user_ids nor drive_ids every user's OneDrive is read, and listing the users needs the application permission User.Read.All (admin consent); grant it, or name user_ids or drive_ids: {e}"
                        ),
                    )
                    .with_connector(SOURCE)
                    .with_field("user_ids")
                } else {
                    e
                }
            })?;
            for u in users {
                let label = format!(
                    "user `{}`",
                    u.user_principal_name.as_deref().unwrap_or(&u.id)
                );
                named.push((
                    format!("users/{}/drive", crate::graph::escape(&u.id)),
                    label,
                    format!("{SOURCE}:user:{}", u.id),
                ));
            }
        }
        let paths: Vec<String> = named
            .iter()
            .map(|(p, _, _)| format!("{p}?$select={DRIVE_FIELDS}"))
            .collect();
        let answers = graph.batch_get::<Drive>(&paths).await?;
        let mut seen = BTreeSet::new();
        let mut targets = Vec::new();
        for ((_, label, id), answer) in named.into_iter().zip(answers) {
            match answer {
                Ok(Some(drive)) => {
                    if seen.insert(drive.id.clone()) {
                        targets.push(target_of(drive));
                    }
                }
                Ok(None) if all_users => {}
                Ok(None) => failures.push(Failure::new(
                    Some(id),
                    ErrorKind::NotFound,
                    format!(
                        "{label} has no OneDrive (no licence, never signed in, or no such drive)"
                    ),
                )),
                Err(e) if e.kind().ends_sync() => return Err(e),
                Err(e) => failures.push(Failure::new(Some(id), e.kind(), format!("{label}: {e}"))),
            }
        }
        Ok((targets, failures))
    }
}
