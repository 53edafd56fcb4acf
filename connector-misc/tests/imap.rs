//! The IMAP connector against a real dovecot (see `dovecot/mod.rs`): messages seeded through
//! IMAP `APPEND`, read over plain loopback, STARTTLS and implicit TLS.

#![cfg(feature = "imap")]

mod dovecot;

use std::sync::Arc;

use connector_core::{Batch, Connector, SyncContext};
use connector_misc::imap::{ImapConfig, ImapConnector};
use futures::StreamExt;

fn connector(config: ImapConfig) -> Arc<dyn Connector> {
    Arc::new(ImapConnector::new(config).expect("valid config"))
}

async fn load(c: &dyn Connector) -> Batch {
    let mut stream = c.as_load().expect("load").load(SyncContext::new());
    let mut all = Batch::default();
    while let Some(page) = stream.next().await {
        all.append(page.expect("page"));
    }
    all
}

#[tokio::test]
async fn smoke() {
    let server = dovecot::server().await;
    let user = dovecot::user("smoke");
    let mut s = dovecot::login(server, &user).await;
    dovecot::append(
        &mut s,
        "INBOX",
        &dovecot::text_message("a@x", "Hello", "Hi there"),
        None,
    )
    .await;
    dovecot::append(&mut s, "INBOX", &dovecot::malformed_message(), None).await;
    let all = load(connector(server.config(&user, &["INBOX"])).as_ref()).await;
    for d in &all.documents {
        println!(
            "{} {:?}\n{}",
            d.id,
            d.title,
            d.content.as_text().unwrap_or_default()
        );
    }
    println!("{:?}", all.failures);
}
