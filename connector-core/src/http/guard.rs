//! The resolver that enforces a [`NetworkPolicy`] on host names, and the denial it reports
//! through reqwest's error chain. The policy itself is [`crate::net`], outside the `http`
//! feature, so configs and the registry can carry it.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::error::Error;
use crate::net::{Blocked, NetworkPolicy};

impl NetworkPolicy {
    /// The resolver that enforces this policy on host names.
    pub(crate) fn resolver(&self) -> Arc<GuardedResolver> {
        Arc::new(GuardedResolver {
            policy: self.clone().with_proxies_from_env(),
        })
    }
}

/// The denial inside a transport error, if the guard caused it.
pub(crate) fn blocked_in(error: &reqwest::Error) -> Option<Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(blocked) = e.downcast_ref::<Blocked>() {
            return Some(
                Blocked {
                    host: blocked.host.clone(),
                    ip: blocked.ip,
                }
                .into_error(),
            );
        }
        source = e.source();
    }
    None
}

/// Resolves host names with the system resolver and keeps only the addresses the policy
/// permits; none left is an error carrying [`Blocked`].
pub(crate) struct GuardedResolver {
    policy: NetworkPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut denied = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| {
                    let ok = policy.permits(&host, addr.ip());
                    if !ok && denied.is_none() {
                        denied = Some(addr.ip());
                    }
                    ok
                })
                .collect();
            match (allowed.is_empty(), denied) {
                (true, Some(ip)) => Err(Box::new(Blocked { host, ip }) as _),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}
