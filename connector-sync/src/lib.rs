#![doc = include_str!("../README.md")]

mod connectors;
mod db;
mod seal;
mod store;

pub use connectors::{
    ConnectorRecord, ConnectorStatus, ConnectorStore, ConnectorUpdate, NewConnector,
};
pub use db::{DbOptions, SyncDb};
pub use seal::{SEALED_KEY, SECRET_KEY_ENV, SECRET_KEY_FILE_ENV, Sealer};
pub use store::{SqlStateStore, config_connector_id};
