//! The conformance kit on the IMAP connector, against a real dovecot (see `dovecot/mod.rs`).

#![cfg(feature = "imap")]
// Fixture setup is not a `#[test]` function itself; a setup step that fails should fail the
// check loudly, which is what `unwrap`/`expect` do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dovecot;

use std::num::NonZeroU32;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use connector_core::testkit::Fixture;
use connector_core::{Connector, TimeWindow};
use connector_misc::imap::{ImapConfig, ImapConnector, message_doc_id};

/// Noon on 2025-03-`day`.
fn day(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, day, 12, 0, 0).unwrap()
}

/// `day` as an IMAP INTERNALDATE.
fn internal(day: u32) -> String {
    format!("{day:02}-Mar-2025 12:00:00 +0000")
}

/// A message with a PDF attachment.
fn with_attachment(message_id: &str) -> Vec<u8> {
    format!(
        "From: carol@example.com\r\nTo: bob@example.com\r\nSubject: Report\r\n\
         Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe report is attached.\r\n\
         --b1\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"report.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCg==\r\n--b1--\r\n"
    )
    .into_bytes()
}

fn connector(config: ImapConfig) -> Arc<dyn Connector> {
    Arc::new(ImapConnector::new(config).unwrap())
}

/// Seven messages over two mailboxes (INBOX: days 1-4, one with an attachment; Archive: days
/// 5-7), read two per page; and a second user whose INBOX holds a message that is no mail.
struct ImapFixture {
    config: ImapConfig,
    malformed: ImapConfig,
    malformed_id: String,
}

#[async_trait]
impl Fixture for ImapFixture {
    async fn setup() -> Self {
        let server = dovecot::server().await;
        let user = dovecot::user("conf");
        let mut s = dovecot::login(server, &user).await;
        dovecot::create(&mut s, "Archive").await;
        for d in 1..=7u32 {
            let mailbox = if d <= 4 { "INBOX" } else { "Archive" };
            let raw = if d == 3 {
                with_attachment("m3@example.com")
            } else {
                dovecot::text_message(&format!("m{d}@example.com"), &format!("Day {d}"), "Hello.")
            };
            dovecot::append(&mut s, mailbox, &raw, Some(&internal(d))).await;
        }
        let mut config = server.config(&user, &["INBOX", "Archive"]);
        config.page_size = NonZeroU32::new(2).unwrap();

        let bad_user = dovecot::user("malformed");
        let mut s = dovecot::login(server, &bad_user).await;
        dovecot::append(
            &mut s,
            "INBOX",
            &dovecot::text_message("ok1@example.com", "Fine", "ok"),
            Some(&internal(1)),
        )
        .await;
        dovecot::append(
            &mut s,
            "INBOX",
            &dovecot::malformed_message(),
            Some(&internal(2)),
        )
        .await;
        dovecot::append(
            &mut s,
            "INBOX",
            &dovecot::text_message("ok2@example.com", "Fine too", "ok"),
            Some(&internal(3)),
        )
        .await;
        let validity = dovecot::uid_validity(&mut s, "INBOX").await;
        let mut malformed = server.config(&bad_user, &["INBOX"]);
        malformed.page_size = NonZeroU32::new(2).unwrap();
        ImapFixture {
            config,
            malformed,
            malformed_id: message_doc_id("INBOX", validity, 2, None),
        }
    }

    fn connector(&self) -> Arc<dyn Connector> {
        connector(self.config.clone())
    }

    fn secret(&self) -> Option<String> {
        Some(dovecot::PASSWORD.to_owned())
    }

    fn malformed(&self) -> (Arc<dyn Connector>, Option<String>) {
        (
            connector(self.malformed.clone()),
            Some(self.malformed_id.clone()),
        )
    }

    fn window(&self) -> Option<(TimeWindow, Vec<String>)> {
        let window = TimeWindow::new(day(2), day(5)).unwrap();
        Some((
            window,
            vec![
                "INBOX:<m2@example.com>".into(),
                "INBOX:<m3@example.com>".into(),
                "INBOX:<m3@example.com>/2".into(),
                "INBOX:<m4@example.com>".into(),
            ],
        ))
    }
}

connector_core::conformance_tests!(imap, ImapFixture);
