#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "airtable")]
pub mod airtable;
#[cfg(feature = "asana")]
pub mod asana;
#[cfg(feature = "azure_blob")]
pub mod azure_blob;
#[cfg(feature = "bitbucket")]
pub mod bitbucket;
#[cfg(feature = "box")]
pub mod r#box;
#[cfg(feature = "dingtalk_ai_table")]
pub mod dingtalk_ai_table;
#[cfg(feature = "discord")]
pub mod discord;
#[cfg(feature = "dropbox")]
pub mod dropbox;
#[cfg(feature = "github")]
pub mod github;
#[cfg(feature = "gitlab")]
pub mod gitlab;
#[cfg(feature = "graph")]
pub mod graph;
#[cfg(feature = "imap")]
pub mod imap;
#[cfg(feature = "moodle")]
pub mod moodle;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "notion")]
pub mod notion;
#[cfg(feature = "onedrive")]
pub mod onedrive;
#[cfg(feature = "outlook")]
pub mod outlook;
#[cfg(feature = "postgresql")]
pub mod postgresql;
#[cfg(any(feature = "postgresql", feature = "mysql"))]
pub mod rdbms;
#[cfg(feature = "rss")]
pub mod rss;
#[cfg(feature = "salesforce")]
pub mod salesforce;
#[cfg(feature = "seafile")]
pub mod seafile;
#[cfg(feature = "sharepoint")]
pub mod sharepoint;
#[cfg(feature = "slack")]
pub mod slack;
#[cfg(feature = "teams")]
pub mod teams;
#[cfg(feature = "zendesk")]
pub mod zendesk;
// Each file source uses a part of it (the walk order is `local`'s and `webdav`'s).
#[cfg(any(
    feature = "local",
    feature = "dropbox",
    feature = "webdav",
    feature = "seafile",
    feature = "box",
    feature = "github",
    feature = "gitlab",
    feature = "notion",
    feature = "onedrive",
    feature = "sharepoint",
    feature = "outlook",
))]
#[cfg_attr(not(all(feature = "local", feature = "webdav")), allow(dead_code))]
mod files;
#[cfg(feature = "local")]
pub mod local;
#[cfg(feature = "webdav")]
pub mod webdav;

/// Registers every connector of this crate that is compiled in (one Cargo feature each).
///
/// ```
/// let mut registry = connector_core::Registry::new();
/// connector_misc::register(&mut registry);
/// # #[cfg(feature = "local")]
/// assert!(registry.sources().contains(&"local"));
/// ```
// With no feature enabled there is nothing to register.
#[cfg_attr(
    not(any(
        feature = "local",
        feature = "dropbox",
        feature = "imap",
        feature = "azure_blob",
        feature = "webdav",
        feature = "seafile",
        feature = "box",
        feature = "bitbucket",
        feature = "asana",
        feature = "github",
        feature = "gitlab",
        feature = "slack",
        feature = "notion",
        feature = "discord",
        feature = "rss",
        feature = "onedrive",
        feature = "sharepoint",
        feature = "postgresql",
        feature = "mysql",
        feature = "outlook",
        feature = "teams",
        feature = "airtable",
        feature = "zendesk",
        feature = "moodle",
        feature = "salesforce",
        feature = "dingtalk_ai_table",
    )),
    allow(unused_variables)
)]
pub fn register(registry: &mut connector_core::Registry) {
    #[cfg(feature = "local")]
    registry.register::<local::LocalConfig, _>(local::SOURCE, "a folder on this machine", |cfg| {
        Ok(Box::new(local::LocalConnector::new(cfg)?))
    });
    #[cfg(feature = "dropbox")]
    registry.register::<dropbox::DropboxConfig, _>(
        dropbox::SOURCE,
        "files in a Dropbox account",
        |cfg| Ok(Box::new(dropbox::DropboxConnector::new(cfg)?)),
    );
    #[cfg(feature = "imap")]
    registry.register::<imap::ImapConfig, _>(imap::SOURCE, "mailboxes on an IMAP server", |cfg| {
        Ok(Box::new(imap::ImapConnector::new(cfg)?))
    });
    #[cfg(feature = "azure_blob")]
    registry.register::<azure_blob::AzureBlobConfig, _>(
        azure_blob::SOURCE,
        "a container of Azure Blob Storage",
        |cfg| Ok(Box::new(azure_blob::AzureBlobConnector::new(cfg)?)),
    );
    #[cfg(feature = "box")]
    registry.register::<r#box::BoxConfig, _>(r#box::SOURCE, "files in a Box account", |cfg| {
        Ok(Box::new(r#box::BoxConnector::new(cfg)?))
    });
    #[cfg(feature = "github")]
    registry.register::<github::GithubConfig, _>(
        github::SOURCE,
        "issues, pull requests and code of GitHub repositories",
        |cfg| Ok(Box::new(github::GithubConnector::new(cfg)?)),
    );
    #[cfg(feature = "gitlab")]
    registry.register::<gitlab::GitlabConfig, _>(
        gitlab::SOURCE,
        "merge requests, issues and code files of GitLab projects",
        |cfg| Ok(Box::new(gitlab::GitlabConnector::new(cfg)?)),
    );
    #[cfg(feature = "airtable")]
    registry.register::<airtable::AirtableConfig, _>(
        airtable::SOURCE,
        "records and attachments of an Airtable table",
        |cfg| Ok(Box::new(airtable::AirtableConnector::new(cfg)?)),
    );
    #[cfg(feature = "salesforce")]
    registry.register::<salesforce::SalesforceConfig, _>(
        salesforce::SOURCE,
        "records of Salesforce objects (accounts, contacts, cases, knowledge articles)",
        |cfg| Ok(Box::new(salesforce::SalesforceConnector::new(cfg)?)),
    );
    #[cfg(feature = "dingtalk_ai_table")]
    registry.register::<dingtalk_ai_table::DingtalkAiTableConfig, _>(
        dingtalk_ai_table::SOURCE,
        "records of the sheets of a DingTalk AI Table (Notable) base",
        |cfg| {
            Ok(Box::new(dingtalk_ai_table::DingtalkAiTableConnector::new(
                cfg,
            )?))
        },
    );
    #[cfg(feature = "notion")]
    registry.register::<notion::NotionConfig, _>(
        notion::SOURCE,
        "pages, databases and files of a Notion workspace",
        |cfg| Ok(Box::new(notion::NotionConnector::new(cfg)?)),
    );
    #[cfg(feature = "webdav")]
    registry.register::<webdav::WebdavConfig, _>(
        webdav::SOURCE,
        "a folder on a WebDAV server",
        |cfg| Ok(Box::new(webdav::WebdavConnector::new(cfg)?)),
    );
    #[cfg(feature = "seafile")]
    registry.register::<seafile::SeafileConfig, _>(
        seafile::SOURCE,
        "libraries of a SeaFile server",
        |cfg| Ok(Box::new(seafile::SeafileConnector::new(cfg)?)),
    );
    #[cfg(feature = "discord")]
    registry.register::<discord::DiscordConfig, _>(
        discord::SOURCE,
        "messages and threads of Discord servers",
        |cfg| Ok(Box::new(discord::DiscordConnector::new(cfg)?)),
    );
    #[cfg(feature = "bitbucket")]
    registry.register::<bitbucket::BitbucketConfig, _>(
        bitbucket::SOURCE,
        "pull requests of a Bitbucket Cloud workspace",
        |cfg| Ok(Box::new(bitbucket::BitbucketConnector::new(cfg)?)),
    );
    #[cfg(feature = "asana")]
    registry.register::<asana::AsanaConfig, _>(
        asana::SOURCE,
        "tasks of an Asana workspace, with comments and attachments",
        |cfg| Ok(Box::new(asana::AsanaConnector::new(cfg)?)),
    );
    #[cfg(feature = "moodle")]
    registry.register::<moodle::MoodleConfig, _>(
        moodle::SOURCE,
        "courses of a Moodle site: pages, books, files, assignments and forum discussions",
        |cfg| Ok(Box::new(moodle::MoodleConnector::new(cfg)?)),
    );
    #[cfg(feature = "slack")]
    registry.register::<slack::SlackConfig, _>(slack::SOURCE, "threads of Slack channels", |cfg| {
        Ok(Box::new(slack::SlackConnector::new(cfg)?))
    });
    #[cfg(feature = "onedrive")]
    registry.register::<onedrive::OnedriveConfig, _>(
        onedrive::SOURCE,
        "files of OneDrive for Business drives (Microsoft Graph)",
        |cfg| Ok(Box::new(onedrive::OnedriveConnector::new(cfg)?)),
    );
    #[cfg(feature = "rss")]
    registry.register::<rss::RssConfig, _>(
        rss::SOURCE,
        "entries of RSS, Atom and JSON feeds",
        |cfg| Ok(Box::new(rss::RssConnector::new(cfg)?)),
    );
    #[cfg(feature = "sharepoint")]
    registry.register::<sharepoint::SharepointConfig, _>(
        sharepoint::SOURCE,
        "files of SharePoint document libraries and site pages (Microsoft Graph)",
        |cfg| Ok(Box::new(sharepoint::SharepointConnector::new(cfg)?)),
    );
    #[cfg(feature = "postgresql")]
    registry.register::<rdbms::RdbmsConfig, _>(
        postgresql::SOURCE,
        "rows of PostgreSQL tables or of a query",
        |cfg| Ok(Box::new(postgresql::connector(cfg)?)),
    );
    #[cfg(feature = "mysql")]
    registry.register::<rdbms::RdbmsConfig, _>(
        mysql::SOURCE,
        "rows of MySQL or MariaDB tables or of a query",
        |cfg| Ok(Box::new(mysql::connector(cfg)?)),
    );
    #[cfg(feature = "outlook")]
    registry.register::<outlook::OutlookConfig, _>(
        outlook::SOURCE,
        "mail of Exchange Online mailboxes (Microsoft Graph)",
        |cfg| Ok(Box::new(outlook::OutlookConnector::new(cfg)?)),
    );
    #[cfg(feature = "teams")]
    registry.register::<teams::TeamsConfig, _>(
        teams::SOURCE,
        "threads of Microsoft Teams channels (Microsoft Graph)",
        |cfg| Ok(Box::new(teams::TeamsConnector::new(cfg)?)),
    );
    #[cfg(feature = "zendesk")]
    registry.register::<zendesk::ZendeskConfig, _>(
        zendesk::SOURCE,
        "Help Center articles or support tickets of a Zendesk account",
        |cfg| Ok(Box::new(zendesk::ZendeskConnector::new(cfg)?)),
    );
}
