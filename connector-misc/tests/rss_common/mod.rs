//! A fake feed host for the RSS tests: feed documents in the formats publishers serve
//! (WordPress-style RSS 2.0 with `content:encoded`, `dc:creator`, `slash:comments` and an
//! enclosure; RSS 1.0/RDF with Dublin Core; Atom 1.0; JSON Feed 1.1), each answered with an
//! `ETag` and a `Last-Modified` and with `304 Not Modified` to a request that sends them back
//! (unless the host is told to ignore validators), and article pages for `fetch_articles`.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use connector_core::Connector;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The token of the private feed (a query parameter, as Feedbin, GitLab and Jira issue feeds
/// use): never printed.
pub const SECRET: &str = "feed-token-canary-7f3a";

/// Hour `n` of 2024-01-02, UTC.
pub fn time(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap() + chrono::TimeDelta::hours(n)
}

/// RFC 822 (RSS `pubDate`, HTTP `Last-Modified`).
pub fn rfc822(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One item of the RSS 2.0 fixture.
#[derive(Debug, Clone)]
pub struct RssItem {
    pub guid: Option<String>,
    pub title: String,
    pub slug: String,
    pub creator: String,
    pub categories: Vec<String>,
    pub published: Option<DateTime<Utc>>,
    pub description: String,
    pub content: Option<String>,
    pub enclosure: Option<(String, u64, String)>,
}

/// A WordPress-style RSS 2.0 feed of `items`, their links under `site`.
pub fn rss2(site: &str, items: &[RssItem]) -> String {
    let mut xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
	>

<channel>
	<title>Example Engineering</title>
	<atom:link href="{site}/feed/" rel="self" type="application/rss+xml" />
	<link>{site}</link>
	<description>Notes from the search team</description>
	<lastBuildDate>Tue, 02 Jan 2024 15:04:05 +0000</lastBuildDate>
	<language>en-US</language>
	<sy:updatePeriod>
	hourly	</sy:updatePeriod>
	<sy:updateFrequency>
	1	</sy:updateFrequency>
	<generator>https://wordpress.org/?v=6.4.2</generator>
"#
    );
    for item in items {
        let link = format!("{site}/2024/01/02/{}/", item.slug);
        xml.push_str(&format!(
            "\t<item>\n\t\t<title>{}</title>\n\t\t<link>{link}</link>\n\t\t<comments>{link}#respond</comments>\n\t\t<dc:creator><![CDATA[{}]]></dc:creator>\n",
            item.title, item.creator
        ));
        if let Some(p) = item.published {
            xml.push_str(&format!("\t\t<pubDate>{}</pubDate>\n", rfc822(p)));
        }
        for c in &item.categories {
            xml.push_str(&format!("\t\t<category><![CDATA[{c}]]></category>\n"));
        }
        if let Some(g) = &item.guid {
            xml.push_str(&format!("\t\t<guid isPermaLink=\"false\">{g}</guid>\n"));
        }
        xml.push_str(&format!(
            "\t\t<description><![CDATA[{}]]></description>\n",
            item.description
        ));
        if let Some(c) = &item.content {
            xml.push_str(&format!(
                "\t\t<content:encoded><![CDATA[{c}]]></content:encoded>\n"
            ));
        }
        xml.push_str(&format!(
            "\t\t<wfw:commentRss>{link}feed/</wfw:commentRss>\n\t\t<slash:comments>3</slash:comments>\n"
        ));
        if let Some((url, length, mime)) = &item.enclosure {
            xml.push_str(&format!(
                "\t\t<enclosure url=\"{url}\" length=\"{length}\" type=\"{mime}\" />\n"
            ));
        }
        xml.push_str("\t</item>\n");
    }
    xml.push_str("</channel>\n</rss>\n");
    xml
}

/// The two items of the standard RSS 2.0 feed: hours 10 and 11.
pub fn rss_items() -> Vec<RssItem> {
    vec![
        RssItem {
            guid: Some("https://blog.example.com/?p=1042".into()),
            title: "Shipping the new indexer".into(),
            slug: "shipping-the-new-indexer".into(),
            creator: "Ada Lovelace".into(),
            categories: vec!["Engineering".into(), "Search".into()],
            published: Some(time(11)),
            description: "<p>We replaced the indexer&#8230;</p>".into(),
            content: Some(
                "<h2>Why</h2><p>The old indexer re-read <strong>every</strong> page.</p>\
                 <ul><li>fewer requests</li><li>smaller state</li></ul>\
                 <p>See <a href=\"https://blog.example.com/docs/\">the docs</a>.</p>"
                    .into(),
            ),
            enclosure: Some((
                "https://blog.example.com/wp-content/uploads/2024/01/talk.mp3".into(),
                5_242_880,
                "audio/mpeg".into(),
            )),
        },
        RssItem {
            guid: Some("https://blog.example.com/?p=1038".into()),
            title: "Conditional GET, explained".into(),
            slug: "conditional-get-explained".into(),
            creator: "Grace Hopper".into(),
            categories: vec!["HTTP".into()],
            published: Some(time(10)),
            description: "<p>An <em>unchanged</em> feed costs a 304.</p>".into(),
            content: None,
            enclosure: None,
        },
    ]
}

/// One entry of the Atom fixture.
#[derive(Debug, Clone)]
pub struct AtomEntry {
    pub id: String,
    pub title: String,
    pub slug: String,
    pub author: (String, String),
    pub categories: Vec<String>,
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub summary: String,
    pub content: String,
}

/// An Atom 1.0 feed of `entries`, their links under `site`.
pub fn atom(site: &str, entries: &[AtomEntry]) -> String {
    let updated = entries
        .iter()
        .map(|e| e.updated)
        .max()
        .unwrap_or_else(|| time(0));
    let mut xml = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title type="text">Release notes</title>
  <subtitle>What changed, release by release</subtitle>
  <link rel="alternate" type="text/html" href="{site}/releases/"/>
  <link rel="self" type="application/atom+xml" href="{site}/releases.atom"/>
  <id>tag:releases.example.org,2023:feed</id>
  <updated>{}</updated>
  <generator uri="https://jekyllrb.com/" version="4.3.2">Jekyll</generator>
"#,
        rfc3339(updated)
    );
    for e in entries {
        let cats: String = e
            .categories
            .iter()
            .map(|c| format!("    <category term=\"{c}\" label=\"{c}\"/>\n"))
            .collect();
        xml.push_str(&format!(
            r#"  <entry>
    <title type="html">{title}</title>
    <link rel="alternate" type="text/html" href="{site}/releases/{slug}/"/>
    <link rel="enclosure" type="application/gzip" length="1048576" href="{site}/downloads/{slug}.tar.gz"/>
    <id>{id}</id>
    <published>{published}</published>
    <updated>{updated}</updated>
    <author><name>{name}</name><email>{email}</email></author>
{cats}    <summary type="text">{summary}</summary>
    <content type="html" xml:base="{site}/releases/{slug}/">{content}</content>
  </entry>
"#,
            title = e.title,
            slug = e.slug,
            id = e.id,
            published = rfc3339(e.published),
            updated = rfc3339(e.updated),
            name = e.author.0,
            email = e.author.1,
            summary = e.summary,
            content = escape(&e.content),
        ));
    }
    xml.push_str("</feed>\n");
    xml
}

/// XML text escaping (Atom `type="html"` content is escaped HTML).
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The two entries of the standard Atom feed: updated at hours 12 and 13.
pub fn atom_entries() -> Vec<AtomEntry> {
    vec![
        AtomEntry {
            id: "tag:releases.example.org,2024:v2.1.0".into(),
            title: "Version 2.1.0 &amp; friends".into(),
            slug: "v2.1.0".into(),
            author: ("Linus Example".into(), "linus@releases.example.org".into()),
            categories: vec!["release".into(), "stable".into()],
            published: time(12),
            updated: time(13),
            summary: "Faster sync, fewer requests.".into(),
            content: "<p>Highlights:</p><ol><li>Conditional GET</li><li>JSON Feed</li></ol>\
                      <pre><code>cargo add connectors</code></pre>"
                .into(),
        },
        AtomEntry {
            id: "tag:releases.example.org,2024:v2.0.0".into(),
            title: "Version 2.0.0".into(),
            slug: "v2.0.0".into(),
            author: (
                "Margaret Example".into(),
                "margaret@releases.example.org".into(),
            ),
            categories: vec!["release".into()],
            published: time(12),
            updated: time(12),
            summary: "The first 2.x release.".into(),
            content: "<p>Breaking: the <code>Sink</code> trait takes a slice.</p>".into(),
        },
    ]
}

/// A JSON Feed 1.1 document, links under `site`.
pub fn json_feed(site: &str) -> String {
    json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Microblog",
        "home_page_url": format!("{site}/"),
        "feed_url": format!("{site}/feed.json"),
        "language": "en",
        "authors": [{"name": "Feed Owner", "url": format!("{site}/about")}],
        "items": [
            {
                "id": "2024-01-02-podcast",
                "url": format!("{site}/2024/01/02/podcast"),
                "title": "Episode 12: feeds",
                "content_html": "<p>We talk about <a href=\"https://jsonfeed.org/\">JSON Feed</a>.</p>",
                "summary": "Episode 12",
                "date_published": "2024-01-02T14:00:00Z",
                "date_modified": "2024-01-02T14:30:00Z",
                "authors": [{"name": "Host One"}],
                "tags": ["podcast", "feeds"],
                "attachments": [{
                    "url": format!("{site}/media/ep12.m4a"),
                    "mime_type": "audio/x-m4a",
                    "size_in_bytes": 89_970_236,
                    "duration_in_seconds": 6629
                }]
            },
            {
                "id": "2024-01-02-note",
                "url": format!("{site}/2024/01/02/note"),
                "content_text": "A short note without a title.",
                "date_published": "2024-01-02T09:00:00Z"
            }
        ]
    })
    .to_string()
}

/// An RSS 1.0 (RDF) feed with Dublin Core dates.
pub fn rdf(site: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="{site}/index.rdf">
    <title>Lab notes</title>
    <link>{site}/</link>
    <description>An RSS 1.0 feed</description>
    <items><rdf:Seq><rdf:li rdf:resource="{site}/notes/1"/></rdf:Seq></items>
  </channel>
  <item rdf:about="{site}/notes/1">
    <title>First note</title>
    <link>{site}/notes/1</link>
    <description>Notes &lt;b&gt;in RDF&lt;/b&gt;.</description>
    <dc:creator>Lab Person</dc:creator>
    <dc:date>2024-01-02T08:00:00Z</dc:date>
  </item>
</rdf:RDF>
"#
    )
}

/// One document the host serves.
#[derive(Debug, Clone)]
pub struct Served {
    pub body: String,
    pub content_type: String,
    pub status: u16,
    /// Answered with `ETag` / `Last-Modified`, and 304 to requests that send them back.
    pub validators: bool,
    /// Bumped on each change: the `ETag` is `"v{n}"`, `Last-Modified` hour `n` of 2024-01-03.
    pub version: u32,
    /// `Retry-After` of a 429 (with `status: 429`).
    pub retry_after: Option<u64>,
}

/// The host's documents, by path, and the requests seen.
#[derive(Debug, Default)]
pub struct State {
    pub docs: BTreeMap<String, Served>,
}

/// The fake host. Clone it to change documents while the server runs.
#[derive(Debug, Clone, Default)]
pub struct FakeFeeds {
    pub state: Arc<Mutex<State>>,
}

impl FakeFeeds {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves `body` at `path` with validators.
    pub fn serve(&self, path: &str, content_type: &str, body: impl Into<String>) {
        let mut s = self.state.lock().unwrap();
        let version = s.docs.get(path).map_or(1, |d| d.version + 1);
        s.docs.insert(
            path.to_owned(),
            Served {
                body: body.into(),
                content_type: content_type.to_owned(),
                status: 200,
                validators: true,
                version,
                retry_after: None,
            },
        );
    }

    /// Changes how `path` is served.
    pub fn edit(&self, path: &str, f: impl FnOnce(&mut Served)) {
        let mut s = self.state.lock().unwrap();
        if let Some(d) = s.docs.get_mut(path) {
            f(d);
        }
    }

    pub async fn start(self) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(wiremock::matchers::any())
            .respond_with(self)
            .mount(&server)
            .await;
        server
    }
}

fn etag(version: u32) -> String {
    format!("\"v{version}\"")
}

fn last_modified(version: u32) -> String {
    rfc822(time(24 + i64::from(version))).replace("+0000", "GMT")
}

impl Respond for FakeFeeds {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let s = self.state.lock().unwrap();
        let Some(doc) = s.docs.get(request.url.path()) else {
            return ResponseTemplate::new(404).set_body_raw(
                "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>",
                "text/html; charset=UTF-8",
            );
        };
        if doc.status != 200 {
            let mut r = ResponseTemplate::new(doc.status).set_body_raw(
                format!("<h1>{}</h1>", doc.status).into_bytes(),
                "text/html; charset=UTF-8",
            );
            if let Some(wait) = doc.retry_after {
                r = r.insert_header("retry-after", wait.to_string().as_str());
            }
            return r;
        }
        let header = |name: &str| {
            request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if doc.validators {
            let (etag, modified) = (etag(doc.version), last_modified(doc.version));
            // RFC 9110 §13.1.1: If-None-Match wins when both are sent.
            let fresh = match (header("if-none-match"), header("if-modified-since")) {
                (Some(tags), _) => tags.split(',').any(|t| t.trim() == etag),
                (None, Some(since)) => since == modified,
                (None, None) => false,
            };
            let r = ResponseTemplate::new(if fresh { 304 } else { 200 })
                .insert_header("etag", etag.as_str())
                .insert_header("last-modified", modified.as_str())
                .insert_header("cache-control", "max-age=300");
            return if fresh {
                r
            } else {
                r.set_body_raw(doc.body.clone().into_bytes(), &doc.content_type)
            };
        }
        ResponseTemplate::new(200).set_body_raw(doc.body.clone().into_bytes(), &doc.content_type)
    }
}

/// The standard host: the RSS 2.0 feed at `/blog/feed/`, Atom at `/releases.atom`, JSON Feed
/// at `/feed.json`, RDF at `/index.rdf`, with links under `site`.
pub fn standard(site: &str) -> FakeFeeds {
    let f = FakeFeeds::new();
    f.serve(
        "/blog/feed/",
        "application/rss+xml; charset=UTF-8",
        rss2(site, &rss_items()),
    );
    f.serve(
        "/releases.atom",
        "application/atom+xml",
        atom(site, &atom_entries()),
    );
    f.serve("/feed.json", "application/feed+json", json_feed(site));
    f.serve("/index.rdf", "application/rdf+xml", rdf(site));
    f
}

/// A connector over `paths` of the server at `uri`, loopback allowed, with `extra` fields.
pub fn build(uri: &str, paths: &[&str], extra: Value) -> Arc<dyn Connector> {
    let feeds: Vec<String> = paths.iter().map(|p| format!("{uri}{p}")).collect();
    let mut config = json!({
        "feed_url": feeds,
        "allowed_hosts": ["127.0.0.1", "localhost"],
    });
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    let mut registry = connector_core::Registry::new();
    connector_misc::register(&mut registry);
    registry.build("rss", config).unwrap()
}
