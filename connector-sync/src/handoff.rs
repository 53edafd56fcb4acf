//! What a discovery learned about each partition
//! ([`PartitionContext`](connector_core::PartitionContext)), kept in this process for the
//! jobs it queued, so a partition's job need not ask the source again (an enterprise's users,
//! a user's drive).
//!
//! Kept in memory only, per connector, beside the hash of the config it was discovered
//! under: a job built from another config (edited, or a credential rotated since) gets
//! nothing, and so does one claimed by another process, after a restart, or past
//! [`CONTEXT_TTL`]. Those jobs build their partition from the key alone, as the connector
//! must allow ([`connector_core::partition`]). Each discovery of a connector replaces what was
//! kept for it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use connector_core::{PartitionContext, PartitionSpec};
use serde_json::Value;

/// How long a discovery's contexts serve the jobs it queued (1 hour): a job that waited
/// longer (a backlog, a rate limit) asks the source afresh.
pub(crate) const CONTEXT_TTL: Duration = Duration::from_secs(3600);

/// One connector's last discovery that handed contexts.
#[derive(Debug)]
struct Discovered {
    /// The hash of the config it was discovered under (secrets included: another account's
    /// credentials are another scope; never stored or logged).
    config: u128,
    at: Instant,
    contexts: HashMap<String, PartitionContext>,
}

/// The contexts of the partitions this process discovered, by connector id.
#[derive(Debug, Default)]
pub(crate) struct PartitionContexts {
    by_connector: Mutex<HashMap<String, Discovered>>,
}

/// The hash of a config, whatever the order of its objects' keys.
fn config_hash(config: &Value) -> u128 {
    let text = crate::store::canonical(config.clone()).to_string();
    xxhash_rust::xxh3::xxh3_128(text.as_bytes())
}

impl PartitionContexts {
    /// Keeps the contexts of `specs`, discovered for connector `id` under `config`, in place
    /// of what its earlier discovery left; expired entries of other connectors go too.
    pub(crate) fn record(&self, id: &str, config: &Value, specs: &[PartitionSpec]) {
        self.record_at(id, config, specs, Instant::now());
    }

    fn record_at(&self, id: &str, config: &Value, specs: &[PartitionSpec], now: Instant) {
        let contexts: HashMap<String, PartitionContext> = specs
            .iter()
            .filter_map(|s| Some((s.key.clone(), s.context.clone()?)))
            .collect();
        let mut kept = self
            .by_connector
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        kept.retain(|_, d| now.saturating_duration_since(d.at) < CONTEXT_TTL);
        if contexts.is_empty() {
            kept.remove(id);
            return;
        }
        kept.insert(
            id.to_owned(),
            Discovered {
                config: config_hash(config),
                at: now,
                contexts,
            },
        );
    }

    /// The context discovery handed partition `partition` of connector `id`, when it was
    /// discovered here under this very `config` less than [`CONTEXT_TTL`] ago.
    pub(crate) fn get(
        &self,
        id: &str,
        config: &Value,
        partition: &str,
    ) -> Option<PartitionContext> {
        self.get_at(id, config, partition, Instant::now())
    }

    fn get_at(
        &self,
        id: &str,
        config: &Value,
        partition: &str,
        now: Instant,
    ) -> Option<PartitionContext> {
        let kept = self
            .by_connector
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let discovered = kept.get(id)?;
        if now.saturating_duration_since(discovered.at) >= CONTEXT_TTL
            || discovered.config != config_hash(config)
        {
            return None;
        }
        discovered.contexts.get(partition).cloned()
    }

    /// Forgets what was kept for connector `id` (deleted).
    pub(crate) fn forget(&self, id: &str) {
        self.by_connector
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn specs() -> Vec<PartitionSpec> {
        vec![
            PartitionSpec::new("user:1").with_context(PartitionContext::new(1_u32)),
            PartitionSpec::new("user:2"),
        ]
    }

    fn value(c: Option<PartitionContext>) -> Option<u32> {
        c.and_then(|c| c.get::<u32>().copied())
    }

    #[test]
    fn a_context_serves_the_same_config_until_its_ttl() {
        let kept = PartitionContexts::default();
        let config = json!({"a": 1, "b": {"c": 2, "d": 3}});
        let t0 = Instant::now();
        kept.record_at("c1", &config, &specs(), t0);
        assert_eq!(value(kept.get_at("c1", &config, "user:1", t0)), Some(1));
        // The same config with its keys in another order.
        let reordered = json!({"b": {"d": 3, "c": 2}, "a": 1});
        assert_eq!(value(kept.get_at("c1", &reordered, "user:1", t0)), Some(1));
        assert!(
            kept.get_at("c1", &config, "user:2", t0).is_none(),
            "none handed"
        );
        assert!(kept.get_at("c1", &config, "user:3", t0).is_none());
        assert!(kept.get_at("c2", &config, "user:1", t0).is_none());
        // Another config (edited, a credential rotated): nothing.
        assert!(kept.get_at("c1", &json!({"a": 2}), "user:1", t0).is_none());
        // Past the TTL: nothing.
        let late = t0 + CONTEXT_TTL;
        assert!(kept.get_at("c1", &config, "user:1", late).is_none());
        assert_eq!(
            value(kept.get_at("c1", &config, "user:1", late - Duration::from_secs(1))),
            Some(1)
        );
    }

    #[test]
    fn each_discovery_replaces_the_last_and_a_deleted_connector_is_forgotten() {
        let kept = PartitionContexts::default();
        let config = json!({});
        let t0 = Instant::now();
        kept.record_at("c1", &config, &specs(), t0);
        kept.record_at("c2", &config, &specs(), t0);
        let next = vec![PartitionSpec::new("user:2").with_context(PartitionContext::new(2_u32))];
        kept.record_at("c1", &config, &next, t0);
        assert!(kept.get_at("c1", &config, "user:1", t0).is_none(), "gone");
        assert_eq!(value(kept.get_at("c1", &config, "user:2", t0)), Some(2));
        // A discovery that hands nothing leaves nothing.
        kept.record_at("c1", &config, &[PartitionSpec::new("user:2")], t0);
        assert!(kept.get_at("c1", &config, "user:2", t0).is_none());
        kept.forget("c2");
        assert!(kept.get_at("c2", &config, "user:1", t0).is_none());
        // Expired entries of other connectors go when another records.
        kept.record_at("c3", &config, &specs(), t0);
        kept.record_at("c4", &config, &specs(), t0 + CONTEXT_TTL);
        let left = kept.by_connector.lock().unwrap().len();
        assert_eq!(left, 1);
    }
}
