//! The PostgreSQL connector (source `"postgresql"`): rows of tables or of a query, one
//! document per row, through sqlx. The config, walk and documents are
//! [`rdbms`](crate::rdbms)'s; this module holds the driver.

pub(crate) mod driver;

use connector_core::Result;

use crate::rdbms::db::Target;
pub use crate::rdbms::{RdbmsCheckpoint, RdbmsConfig, RdbmsConnector};
pub use driver::DEFAULT_PORT;

/// The registry key of the PostgreSQL connector.
pub const SOURCE: &str = "postgresql";

/// A PostgreSQL connector for `config`; nothing is asked of the server until a sync or
/// [`check`](connector_core::Connector::check).
///
/// ```no_run
/// use std::sync::Arc;
/// use connector_core::sink::MemorySink;
/// use connector_core::sync::{SyncMode, Syncer};
/// use connector_misc::postgresql::{self, RdbmsConfig};
///
/// # async fn demo() -> connector_core::Result<()> {
/// let mut config = RdbmsConfig::new("db.internal", "shop", "reader", "s3cr3t");
/// config.tables = vec!["products".to_owned()].into();
/// config.timestamp_column = Some("updated_at".into());
/// let connector = postgresql::connector(config)?;
/// let sink = MemorySink::new();
/// Syncer::new(Arc::new(connector)).sink(sink.clone()).run(SyncMode::Auto).await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`ErrorKind::Config`](connector_core::ErrorKind::Config) listing every problem of the
/// config by field path.
pub fn connector(config: RdbmsConfig) -> Result<RdbmsConnector> {
    RdbmsConnector::build(SOURCE, config, |c| Target::Postgres(driver::options(c)))
}
