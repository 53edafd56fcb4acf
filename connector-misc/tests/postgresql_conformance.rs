//! The conformance kit on the `postgresql` connector, against a real server (see
//! `rdbms_common`): seven rows over seven days, two per page, `updated_at` as the
//! timestamp column.

#![cfg(feature = "postgresql")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod rdbms_common;

use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use connector_misc::rdbms::RdbmsConfig;

fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, d, 12, 0, 0).unwrap()
}

struct RdbmsFixture {
    config: RdbmsConfig,
    malformed: RdbmsConfig,
    malformed_id: String,
    database: String,
}

fn connector(config: RdbmsConfig) -> Arc<dyn Connector> {
    Arc::new(connector_misc::postgresql::connector(config).unwrap())
}

#[async_trait]
impl Fixture for RdbmsFixture {
    async fn setup() -> Self {
        let mut rows = vec![
            "CREATE TABLE items (id INT PRIMARY KEY, title TEXT, body TEXT, updated_at timestamp(6) NOT NULL)".to_owned(),
        ];
        for d in 1..=7 {
            rows.push(format!(
                "INSERT INTO items VALUES ({d}, 'Item {d}', 'Body of item {d}.', '2025-03-0{d} 12:00:00')"
            ));
        }
        let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
        let database = rdbms_common::pg_database(&refs).await;
        let mut config = rdbms_common::config(rdbms_common::postgres().port, &database);
        config.timestamp_column = Some("updated_at".into());
        config.title_column = Some("title".into());
        config.page_size = NonZeroU32::new(2).unwrap();

        let bad = rdbms_common::pg_database(&[
            "SELECT 1",
            "CREATE TABLE items (id INT PRIMARY KEY, title TEXT, made TIMESTAMPTZ, updated_at timestamp(6) NOT NULL)",
            "INSERT INTO items VALUES (1, 'ok', NULL, '2025-03-01 12:00:00')",
            // Past chrono's last year (262143); PostgreSQL's `infinity` is its text.
            "INSERT INTO items VALUES (2, 'bad', '294000-01-01 00:00:00+00', '2025-03-02 12:00:00')",
            "INSERT INTO items VALUES (3, 'ok too', NULL, '2025-03-03 12:00:00')",
        ])
        .await;
        let mut malformed = rdbms_common::config(rdbms_common::postgres().port, &bad);
        malformed.timestamp_column = Some("updated_at".into());
        malformed.page_size = NonZeroU32::new(2).unwrap();
        RdbmsFixture {
            config,
            malformed,
            malformed_id: format!("postgresql:{bad}:items:2"),
            database,
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        connector(self.config.clone())
    }

    fn secret(&self) -> Option<String> {
        Some(rdbms_common::PASSWORD.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            connector(self.malformed.clone()),
            Some(self.malformed_id.clone()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let w = TimeWindow::new(day(2), day(5)).unwrap();
        let db = &self.database;
        Some((
            w,
            (2..=4)
                .map(|i| format!("postgresql:{db}:items:{i}"))
                .collect(),
        ))
    }
}

connector_core::conformance_tests!(postgresql_conformance, RdbmsFixture);
