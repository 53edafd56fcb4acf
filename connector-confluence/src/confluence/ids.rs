//! Document ids: [`IdScheme`] (Confluence's content ids, or RAGFlow's web URLs) and the ids
//! and links of pages, blog posts and attachments under each.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::Content;

/// How documents are identified (the `id_scheme` of the config; the same field and shape as
/// the Jira connector's).
///
/// | | `content_id` (default) | `ragflow_url` |
/// | --- | --- | --- |
/// | page, blog post | `confluence:{site}/page/{id}`, `confluence:{site}/blogpost/{id}` | `{wiki_base}{_links.webui}` |
/// | attachment | `confluence:{site}/attachment/{id}` | `{wiki_base}{_links.webui}` |
///
/// `{site}` is the site's web base without its scheme (`acme.atlassian.net/wiki`,
/// `confluence.example.com/confluence`); `{id}` is Confluence's content id, which never
/// changes, while a page's web URL changes when it is renamed (Cloud's `webui` holds the
/// title) or moved to another space (it holds the space key).
///
/// `content_id` keeps a renamed or moved page's documents: the rename is an update of the same
/// document. Under `ragflow_url` a rename is a new document, and the old one stays until a
/// prune deletes it. `ragflow_url` is what RAGFlow (and this connector before) named documents
/// with: a host migrating from RAGFlow, whose stored configs name no scheme, keeps its
/// documents' ids with [`Registry::set_ragflow_ids`](connector_core::Registry::set_ragflow_ids)
/// (`connectors --ragflow-ids`), or per config with `id_scheme: ragflow_url`. Switching a
/// deployed connector is a one-time re-index under the new ids (the old ids are pruned).
/// Links are web URLs under either scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IdScheme {
    /// RAGFlow's ids: the absolute web URL of the page, blog post or attachment.
    RagflowUrl,
    /// Confluence's content ids, which survive renames and moves.
    #[default]
    ContentId,
}

/// The ids of one connector's documents.
#[derive(Debug, Clone)]
pub(crate) struct DocIds {
    scheme: IdScheme,
    /// The web base without a trailing `/`: links, and ids under `ragflow_url`.
    web: String,
    /// The web base without its scheme: ids under `content_id`.
    site: String,
}

impl DocIds {
    pub(crate) fn new(scheme: IdScheme, web: &str) -> Self {
        let site = web
            .split_once("://")
            .map_or(web, |(_, rest)| rest)
            .to_owned();
        Self {
            scheme,
            web: web.to_owned(),
            site,
        }
    }

    /// Where a person opens `content`: `{wiki_base}{_links.webui}`.
    pub(crate) fn link(&self, content: &Content) -> Option<String> {
        web_url(&self.web, content.links.webui.as_deref())
    }

    /// The id of `content`'s document; `None` when it lacks what the scheme needs (a web
    /// link, or an id).
    pub(crate) fn of(&self, content: &Content) -> Option<String> {
        match self.scheme {
            IdScheme::RagflowUrl => self.link(content),
            IdScheme::ContentId => self.numeric(&content.kind, &content.id),
        }
    }

    /// The id a search result that did not parse would have had, for its failure.
    pub(crate) fn of_raw(&self, value: &Value) -> Option<String> {
        let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str);
        match self.scheme {
            IdScheme::RagflowUrl => web_url(&self.web, text("/_links/webui")),
            IdScheme::ContentId => self.numeric(text("/type")?, text("/id")?),
        }
    }

    fn numeric(&self, kind: &str, id: &str) -> Option<String> {
        let kind = if kind.is_empty() { "content" } else { kind };
        (!id.is_empty()).then(|| format!("confluence:{}/{kind}/{id}", self.site))
    }
}

/// What a document id names, for fetching it again by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Named {
    /// A page or blog post, or an attachment of it: the content id of the page.
    Page(String),
    /// An attachment by its own content id (`content_id` scheme): its page must be looked up.
    Attachment(String),
}

impl DocIds {
    /// What `id` names: under `content_id` the kind and id it holds; under `ragflow_url` the
    /// page id its web URL holds (`pageId=N`, Cloud's `/pages/N/` and `/blog/Y/M/D/N/`).
    /// `None` for an id of another site or one whose URL holds no id (Server's
    /// `/display/KEY/Title`).
    pub(crate) fn named(&self, id: &str) -> Option<Named> {
        let numeric = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.to_owned())
        };
        if let Some(rest) = id
            .strip_prefix("confluence:")
            .and_then(|r| r.strip_prefix(self.site.as_str()))
        {
            let (kind, content) = rest.trim_start_matches('/').split_once('/')?;
            return match kind {
                "page" | "blogpost" => numeric(content).map(Named::Page),
                "attachment" => (!content.is_empty() && !content.contains('/'))
                    .then(|| Named::Attachment(content.to_owned())),
                _ => None,
            };
        }
        let rest = id.strip_prefix(self.web.as_str())?;
        let url = url::Url::parse(&format!("http://x{rest}")).ok()?;
        if let Some((_, page)) = url.query_pairs().find(|(k, _)| k == "pageId") {
            return numeric(&page).map(Named::Page);
        }
        let segments: Vec<&str> = url.path_segments()?.collect();
        segments.iter().enumerate().find_map(|(i, s)| match *s {
            "pages" => segments
                .get(i + 1)
                .and_then(|n| numeric(n))
                .map(Named::Page),
            "blog" => segments
                .get(i + 4)
                .and_then(|n| numeric(n))
                .map(Named::Page),
            _ => None,
        })
    }
}

/// `{web}{webui}`, or `webui` itself when it is absolute.
fn web_url(web: &str, webui: Option<&str>) -> Option<String> {
    let webui = webui.filter(|w| !w.is_empty())?;
    if webui.starts_with("http://") || webui.starts_with("https://") {
        return Some(webui.to_owned());
    }
    Some(format!("{web}{webui}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_name_their_pages_for_a_refetch() {
        let url = DocIds::new(IdScheme::RagflowUrl, "https://acme.atlassian.net/wiki");
        let page = |id: &str| Some(Named::Page(id.to_owned()));
        for (id, want) in [
            (
                "https://acme.atlassian.net/wiki/spaces/ENG/pages/98765/Old+title",
                page("98765"),
            ),
            (
                "https://acme.atlassian.net/wiki/spaces/ENG/blog/2026/03/01/555/News",
                page("555"),
            ),
            (
                "https://acme.atlassian.net/wiki/pages/viewpageattachments.action?pageId=1&preview=/1/att11/a.pdf",
                page("1"),
            ),
            ("https://acme.atlassian.net/wiki/display/ENG/Title", None),
            (
                "https://other.atlassian.net/wiki/spaces/ENG/pages/1/T",
                None,
            ),
        ] {
            assert_eq!(url.named(id), want, "{id}");
        }
        let numeric = DocIds::new(IdScheme::ContentId, "https://acme.atlassian.net/wiki");
        assert_eq!(
            numeric.named("confluence:acme.atlassian.net/wiki/blogpost/7"),
            page("7")
        );
        assert_eq!(
            numeric.named("confluence:acme.atlassian.net/wiki/attachment/att5"),
            Some(Named::Attachment("att5".into()))
        );
        assert_eq!(
            numeric.named("confluence:acme.atlassian.net/wiki/page/x"),
            None
        );
    }

    #[test]
    fn ids_under_each_scheme() {
        let page: Content = serde_json::from_value(json!({
            "id": "98765", "type": "page", "title": "Old title",
            "_links": {"webui": "/spaces/ENG/pages/98765/Old+title"},
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let url = DocIds::new(IdScheme::RagflowUrl, "https://acme.atlassian.net/wiki");
        assert_eq!(
            url.of(&page).as_deref(),
            Some("https://acme.atlassian.net/wiki/spaces/ENG/pages/98765/Old+title")
        );
        let numeric = DocIds::new(IdScheme::ContentId, "https://acme.atlassian.net/wiki");
        assert_eq!(
            numeric.of(&page).as_deref(),
            Some("confluence:acme.atlassian.net/wiki/page/98765")
        );
        assert_eq!(numeric.link(&page), url.of(&page));
        let raw = json!({"id": "att5", "type": "attachment", "_links": {"webui": "/x"}});
        assert_eq!(
            numeric.of_raw(&raw).as_deref(),
            Some("confluence:acme.atlassian.net/wiki/attachment/att5")
        );
        assert_eq!(
            url.of_raw(&raw).as_deref(),
            Some("https://acme.atlassian.net/wiki/x")
        );
    }
}
