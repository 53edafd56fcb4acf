//! Feed entry → [`Document`]: ids, times, the version token, and HTML → Markdown.

use chrono::{DateTime, SecondsFormat, Utc};
use connector_core::Document;
use connector_core::ids::{hash128, hash128_parts};
use connector_core::text::html_to_markdown;
use connector_core::text::markdown::{Block, Inline, render};
use feed_rs::model::{Entry, Text};
use serde_json::{Value, json};
use url::Url;

use super::SOURCE;

/// Bumped when the conversion changes, so every entry is delivered again once.
const CONVERSION: &str = "rss-1";

/// What is known of the feed an entry came from.
#[derive(Debug)]
pub(crate) struct FeedInfo {
    /// The feed as ids and messages name it (see [`feed_key`]).
    pub key: String,
    /// The feed's own title.
    pub title: Option<String>,
}

/// One entry, ready to be looked up by its version and converted.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The document id.
    pub id: String,
    /// The version token: a hash of everything the entry says (the document's fingerprint).
    pub version: String,
    /// `updated`, else `published`.
    pub at: Option<DateTime<Utc>>,
    /// The entry's page.
    pub link: Option<Url>,
    /// The authors, as owners (computed once for the version and the document).
    pub owners: Vec<String>,
    /// The enclosures, as metadata (`[]` when none).
    pub enclosures: Value,
    /// The entry, boxed: feed-rs's `Entry` is large, and a page of entries moves through
    /// several collections and futures on its way to the sink.
    pub entry: Box<Entry>,
}

/// How a feed appears in ids, partition keys, checkpoints and messages: its URL without the
/// query (private feeds carry tokens there) and with a hash of the query in its place, so two
/// feeds that differ only by query stay apart.
pub(crate) fn feed_key(url: &Url) -> String {
    let mut clean = url.clone();
    clean.set_fragment(None);
    match url.query() {
        None => clean.to_string(),
        Some(query) => {
            clean.set_query(None);
            format!("{clean}?~{}", &hash128(query)[..16])
        }
    }
}

/// The id, version and time of `entry` of the feed `feed_key`.
///
/// The id is `rss:{feed}#{key}`, the key being the entry's `guid` (RSS 2.0) or `id` (Atom,
/// JSON Feed); without one, its link; without a link, `hash:` and a hash of its title and
/// date (of its text when it has neither). The same entry in two feeds is two documents: a
/// `guid` is unique within its feed only (RSS 2.0 and JSON Feed say so), and each feed is a
/// partition whose prune must not remove what another feed still lists.
pub(crate) fn prepare(feed_key: &str, entry: Entry, fetch_articles: bool) -> Prepared {
    let at = entry.updated.or(entry.published);
    let link = page_link(&entry);
    let key = match entry.id.trim() {
        "" => match &link {
            Some(link) => link.to_string(),
            None => {
                let title = entry.title.as_ref().map_or("", |t| t.content.as_str());
                let date = at.map(rfc3339).unwrap_or_default();
                if title.is_empty() && date.is_empty() {
                    format!("hash:{}", hash128(body_source(&entry)))
                } else {
                    format!(
                        "hash:{}",
                        hash128_parts([title.as_bytes(), date.as_bytes()])
                    )
                }
            }
        },
        id => id.to_owned(),
    };
    let owners = owners(&entry);
    let enclosures = enclosures(&entry);
    let version = version_of(&entry, link.as_ref(), fetch_articles, &owners, &enclosures);
    Prepared {
        id: format!("rss:{feed_key}#{key}"),
        version,
        at,
        link,
        owners,
        enclosures,
        entry: Box::new(entry),
    }
}

/// The raw text the entry's body is made from.
fn body_source(entry: &Entry) -> &str {
    entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .or(entry.summary.as_ref().map(|s| s.content.as_str()))
        .unwrap_or("")
}

/// A hash of every field the document is made from, read before any conversion, so an
/// unchanged entry costs no HTML conversion (nor, with `fetch_articles`, a page request).
fn version_of(
    entry: &Entry,
    link: Option<&Url>,
    fetch_articles: bool,
    owners: &[String],
    enclosures: &Value,
) -> String {
    let time = |t: Option<DateTime<Utc>>| t.map(rfc3339).unwrap_or_default();
    let content = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .unwrap_or("");
    let (updated, published) = (time(entry.updated), time(entry.published));
    let people = owners.join("\n");
    let categories: Vec<&str> = entry.categories.iter().map(|c| c.term.as_str()).collect();
    let categories = categories.join("\n");
    let enclosures = match enclosures.as_array() {
        Some(a) if a.is_empty() => String::new(),
        _ => enclosures.to_string(),
    };
    let parts: [&str; 12] = [
        CONVERSION,
        if fetch_articles { "article" } else { "entry" },
        &entry.id,
        text_of(entry.title.as_ref()),
        link.map_or("", Url::as_str),
        &updated,
        &published,
        content,
        text_of(entry.summary.as_ref()),
        &people,
        &categories,
        &enclosures,
    ];
    hash128_parts(parts.iter().map(|p| p.as_bytes()))
}

fn text_of(t: Option<&Text>) -> &str {
    t.map_or("", |t| t.content.as_str())
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The entry's web page: its first link that is not an enclosure, an attachment or a
/// comments link (RSS `<link>`, Atom `rel="alternate"`, JSON Feed `url`).
fn page_link(entry: &Entry) -> Option<Url> {
    entry
        .links
        .iter()
        .filter(|l| l.target.is_none() && matches!(l.rel.as_deref(), None | Some("alternate")))
        .filter(|l| {
            l.media_type
                .as_deref()
                .is_none_or(|m| m.contains("html") || m.is_empty())
        })
        .find_map(|l| Url::parse(l.href.trim()).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// Authors as owners: the e-mail where the feed gives one, else the name.
fn owners(entry: &Entry) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for person in &entry.authors {
        let who = person
            .email
            .as_deref()
            .or(person.name.as_deref())
            .map(str::trim)
            .unwrap_or("");
        if !who.is_empty() && !out.iter().any(|o| o == who) {
            out.push(who.to_owned());
        }
    }
    out
}

/// Enclosures (RSS `<enclosure>` and Media RSS, Atom `rel="enclosure"`, JSON Feed
/// attachments) as `[{url, mime_type, length}]`: noted, never downloaded.
fn enclosures(entry: &Entry) -> Value {
    let mut seen: Vec<String> = Vec::new();
    let mut out: Vec<Value> = Vec::new();
    let mut add = |url: String, mime: Option<String>, length: Option<u64>| {
        if seen.contains(&url) {
            return;
        }
        seen.push(url.clone());
        let mut e = json!({ "url": url });
        if let Some(mime) = mime {
            e["mime_type"] = json!(mime);
        }
        if let Some(length) = length {
            e["length"] = json!(length);
        }
        out.push(e);
    };
    for media in &entry.media {
        for content in &media.content {
            if let Some(url) = &content.url {
                add(
                    url.to_string(),
                    content.content_type.as_ref().map(ToString::to_string),
                    content.size,
                );
            }
        }
    }
    for link in &entry.links {
        let attachment = link.rel.is_none()
            && link
                .media_type
                .as_deref()
                .is_some_and(|m| !m.is_empty() && !m.contains("html"));
        if link.rel.as_deref() == Some("enclosure") || attachment {
            add(link.href.clone(), link.media_type.clone(), link.length);
        }
    }
    Value::Array(out)
}

/// Feed text as Markdown: HTML and XHTML converted by core, plain text as it is.
fn text_markdown(mime: &str, text: &str) -> String {
    if mime.contains("html") {
        html_to_markdown(text)
    } else {
        text.trim().to_owned()
    }
}

/// The entry's title as one line of plain text.
fn title_of(entry: &Entry) -> Option<String> {
    let t = entry.title.as_ref()?;
    let raw = if t.content_type.as_str().contains("html") {
        html_to_markdown(&t.content)
    } else {
        t.content.clone()
    };
    let line = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    (!line.is_empty()).then_some(line)
}

/// The entry's own text as Markdown: its full content (`content:encoded`, Atom `content`,
/// JSON Feed `content_html`), else its summary (`description`, `summary`).
fn entry_markdown(entry: &Entry) -> String {
    if let Some(content) = &entry.content
        && let Some(body) = content.body.as_deref()
        && !body.trim().is_empty()
    {
        return text_markdown(content.content_type.as_str(), body);
    }
    entry.summary.as_ref().map_or(String::new(), |s| {
        text_markdown(s.content_type.as_str(), &s.content)
    })
}

/// The document of `item`; `article`, the linked page as Markdown, replaces the entry's own
/// text when given.
pub(crate) fn document(feed: &FeedInfo, item: Prepared, article: Option<String>) -> Document {
    let Prepared {
        id,
        version,
        at,
        link,
        owners,
        enclosures,
        entry,
    } = item;
    let title = title_of(&entry)
        .or_else(|| link.as_ref().map(Url::to_string))
        .unwrap_or_else(|| id.clone());
    let body = article.unwrap_or_else(|| entry_markdown(&entry));
    let heading = render(&[Block::heading(1, vec![Inline::text(title.clone())])]);
    let text = if body.trim().is_empty() {
        heading
    } else {
        format!("{}\n\n{}", heading.trim_end(), body.trim())
    };
    let mut doc = Document::text_with_version(id, SOURCE, title, text, &version)
        .with_owners(owners)
        .with_metadata("feed_url", feed.key.clone());
    if let Some(t) = &feed.title {
        doc = doc.with_metadata("feed_title", t.clone());
    }
    if !entry.id.trim().is_empty() {
        doc = doc.with_metadata("entry_id", entry.id.trim());
    }
    let categories: Vec<&str> = entry
        .categories
        .iter()
        .map(|c| c.term.trim())
        .filter(|t| !t.is_empty())
        .collect();
    if !categories.is_empty() {
        doc = doc.with_metadata("categories", categories);
    }
    if enclosures.as_array().is_some_and(|a| !a.is_empty()) {
        doc = doc.with_metadata("enclosures", enclosures);
    }
    if let Some(p) = entry.published {
        doc = doc.with_metadata("published_at", rfc3339(p));
    }
    if let Some(link) = link {
        doc = doc.with_link(link);
    }
    if let Some(at) = at {
        doc = doc.with_updated_at(at);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_keys_hide_the_query_and_keep_feeds_apart() {
        let a =
            Url::parse("https://x.example/feed?token=s3cret").unwrap_or_else(|_| unreachable!());
        let b = Url::parse("https://x.example/feed?token=other").unwrap_or_else(|_| unreachable!());
        assert!(!feed_key(&a).contains("s3cret"));
        assert_ne!(feed_key(&a), feed_key(&b));
        let plain = Url::parse("https://x.example/feed.xml#top").unwrap_or_else(|_| unreachable!());
        assert_eq!(feed_key(&plain), "https://x.example/feed.xml");
    }

    #[test]
    fn ids_fall_back_to_the_link_then_a_hash_of_title_and_date() {
        let parse = |xml: &str| {
            feed_rs::parser::Builder::new()
                .id_generator(|_, _, _| String::new())
                .build()
                .parse(xml.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let feed = parse(
            r#"<rss version="2.0"><channel><title>t</title>
            <item><guid isPermaLink="false">g-1</guid><link>https://x.example/1</link><title>One</title></item>
            <item><link>https://x.example/2</link><title>Two</title></item>
            <item><title>Three</title><pubDate>Tue, 02 Jan 2024 15:04:05 GMT</pubDate></item>
            </channel></rss>"#,
        );
        let ids: Vec<String> = feed
            .entries
            .into_iter()
            .map(|e| prepare("https://x.example/feed", e, false).id)
            .collect();
        assert_eq!(ids[0], "rss:https://x.example/feed#g-1");
        assert_eq!(ids[1], "rss:https://x.example/feed#https://x.example/2");
        assert!(
            ids[2].starts_with("rss:https://x.example/feed#hash:"),
            "{}",
            ids[2]
        );
    }
}
