//! Document ids: [`IdScheme`] (Confluence's content ids, or RAGFlow's web URLs) and the ids
//! and links of pages, blog posts and attachments under each.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::Content;

/// How documents are identified (the `id_scheme` of the config; the same field and shape as
/// the Jira connector's).
///
/// | | `ragflow_url` (default) | `content_id` |
/// | --- | --- | --- |
/// | page, blog post | `{wiki_base}{_links.webui}` | `confluence:{site}/page/{id}`, `confluence:{site}/blogpost/{id}` |
/// | attachment | `{wiki_base}{_links.webui}` | `confluence:{site}/attachment/{id}` |
///
/// `{site}` is the site's web base without its scheme (`acme.atlassian.net/wiki`,
/// `confluence.example.com/confluence`); `{id}` is Confluence's content id, which never
/// changes, while a page's web URL changes when it is renamed (Cloud's `webui` holds the
/// title) or moved to another space (it holds the space key).
///
/// `content_id` keeps a renamed or moved page's documents: the rename is an update of the same
/// document. Under `ragflow_url` a rename is a new document, and the old one stays until a
/// prune deletes it. `ragflow_url` is the default all the same, because it is what RAGFlow
/// (and this connector before) named documents with: a host migrating from RAGFlow hands over
/// its stored configs unchanged, and nothing in a stored config tells it from a new one
/// (RAGFlow's form stores `wiki_base`, `index_mode` and credentials whatever the origin), so a
/// default of `content_id` would give every document of every migrated knowledge base a new
/// id at once (all new, the old ones refused by prune's safety bound). New deployments should
/// set `content_id`. Switching a deployed connector is a one-time re-index under the new ids
/// (the old ids are pruned). Links are web URLs under either scheme.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum IdScheme {
    /// RAGFlow's ids: the absolute web URL of the page, blog post or attachment.
    #[default]
    RagflowUrl,
    /// Confluence's content ids, which survive renames and moves.
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
