//! Site pages (`GET sites/{id}/pages/microsoft.graph.sitePage?$expand=canvasLayout`) as
//! Markdown documents.

use chrono::{DateTime, Utc};
use connector_core::{Access, Document, Result};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::SOURCE;
use super::sites::{Site, site_segment};
use crate::graph::{GraphClient, IdentitySet, Page, escape, with_authorship};

/// A site page as Graph v1.0 lists it with its canvas.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SitePage {
    pub(crate) id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// Often relative to the site (`SitePages/Home.aspx`).
    #[serde(default)]
    web_url: Option<String>,
    #[serde(default)]
    e_tag: Option<String>,
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    pub(crate) last_modified_date_time: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "connector_core::time::de_utc_option")]
    created_date_time: Option<DateTime<Utc>>,
    #[serde(default)]
    created_by: Option<IdentitySet>,
    #[serde(default)]
    last_modified_by: Option<IdentitySet>,
    #[serde(default)]
    canvas_layout: Option<CanvasLayout>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CanvasLayout {
    #[serde(default)]
    horizontal_sections: Vec<HorizontalSection>,
    #[serde(default)]
    vertical_section: Option<Column>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct HorizontalSection {
    #[serde(default)]
    columns: Vec<Column>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Column {
    #[serde(default)]
    webparts: Vec<Value>,
}

impl SitePage {
    /// The version token: the entity tag, else the time of the last change.
    pub(crate) fn version(&self) -> String {
        self.e_tag.clone().unwrap_or_else(|| {
            self.last_modified_date_time
                .map(|t| connector_core::time::rfc3339_offset(&t))
                .unwrap_or_default()
        })
    }

    fn title(&self) -> String {
        self.title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .or_else(|| {
                self.name
                    .as_deref()
                    .map(|n| n.trim_end_matches(".aspx").to_owned())
            })
            .unwrap_or_else(|| self.id.clone())
    }

    /// The page's text as Markdown: its title, description and the web parts of its canvas
    /// in reading order (horizontal sections left to right, then the vertical section).
    fn markdown(&self) -> String {
        let mut parts = vec![format!("# {}", self.title())];
        if let Some(d) = self.description.as_deref().filter(|d| !d.trim().is_empty()) {
            parts.push(d.trim().to_owned());
        }
        if let Some(canvas) = &self.canvas_layout {
            let columns = canvas
                .horizontal_sections
                .iter()
                .flat_map(|s| s.columns.iter())
                .chain(canvas.vertical_section.iter());
            for part in columns.flat_map(|c| c.webparts.iter()) {
                parts.extend(web_part(part));
            }
        }
        parts.join("\n\n")
    }
}

/// The text of one web part: a text web part's HTML as Markdown; a standard web part's title,
/// description, searchable texts and HTML strings (a hero's headline, a quick link's label).
fn web_part(part: &Value) -> Vec<String> {
    let kind = part
        .get("@odata.type")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut out = Vec::new();
    if kind.ends_with("textWebPart") {
        if let Some(html) = part.get("innerHtml").and_then(Value::as_str) {
            let md = connector_core::text::html_to_markdown(html);
            if !md.trim().is_empty() {
                out.push(md.trim().to_owned());
            }
        }
        return out;
    }
    let Some(data) = part.get("data") else {
        return out;
    };
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(title) = text(data.get("title")) {
        out.push(format!("## {title}"));
    }
    if let Some(d) = text(data.get("description")) {
        out.push(d);
    }
    if let Some(content) = data.get("serverProcessedContent") {
        for list in ["searchablePlainTexts", "htmlStrings"] {
            for entry in content
                .get(list)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(v) = text(entry.get("value")) {
                    let v = if list == "htmlStrings" {
                        connector_core::text::html_to_markdown(&v).trim().to_owned()
                    } else {
                        v
                    };
                    if !v.is_empty() {
                        out.push(v);
                    }
                }
            }
        }
    }
    out
}

/// The document id of page `page` of site `site`.
pub(crate) fn page_id(site: &str, page: &str) -> String {
    format!("{SOURCE}:page:{site}:{page}")
}

/// The site and page of a page's document id.
pub(crate) fn parse_page_id(id: &str) -> Option<(&str, &str)> {
    // Site ids hold commas, never colons; page ids are GUIDs.
    id.strip_prefix(SOURCE)?
        .strip_prefix(":page:")?
        .rsplit_once(':')
        .filter(|(s, p)| !s.is_empty() && !p.is_empty())
}

/// The version a page's document carries: the page's and who may read it.
pub(crate) fn page_version(page: &SitePage, access: Option<&Access>) -> String {
    format!(
        "{}|{}",
        page.version(),
        crate::graph::drive_walk::access_hash(access)
    )
}

/// The document of a page of `site`.
pub(crate) fn document(site: &Site, page: &SitePage, access: Option<Access>) -> Document {
    let mut doc = Document::text_with_version(
        page_id(&site.id, &page.id),
        SOURCE,
        page.title(),
        page.markdown(),
        &page_version(page, access.as_ref()),
    )
    .with_metadata("site_id", site.id.clone())
    .with_metadata("site", site.shown())
    .with_metadata("page_id", page.id.clone())
    .with_metadata("kind", "page");
    if let Some(link) = page_link(site, page) {
        doc = doc.with_link(link);
    }
    if let Some(t) = page.last_modified_date_time {
        doc = doc.with_updated_at(t);
    }
    doc = with_authorship(
        doc,
        page.created_date_time,
        page.created_by.as_ref(),
        page.last_modified_by.as_ref(),
    );
    if let Some(access) = access {
        doc = doc.with_access(access);
    }
    doc
}

/// The page in the web UI: its `webUrl`, which Graph gives relative to the site.
fn page_link(site: &Site, page: &SitePage) -> Option<Url> {
    let raw = page.web_url.as_deref()?;
    if let Ok(url) = Url::parse(raw) {
        return Some(url);
    }
    let mut base = site.web_url.clone()?;
    if !base.path().ends_with('/') {
        base.set_path(&format!("{}/", base.path()));
    }
    base.join(raw.trim_start_matches('/')).ok()
}

/// Where the page's file is in the Site Pages library, from the library's root
/// (`Home.aspx`, `Archive/2025.aspx`): its `webUrl` (relative to the site, or absolute) without
/// the library's folder; its `name` where the URL does not say.
pub(crate) fn library_path(site: &Site, page: &SitePage) -> String {
    let name = || {
        page.name
            .clone()
            .unwrap_or_else(|| format!("{}.aspx", page.id))
    };
    let Some(raw) = page.web_url.as_deref() else {
        return name();
    };
    let relative = match Url::parse(raw) {
        Ok(url) => {
            let path = percent_encoding::percent_decode_str(url.path())
                .decode_utf8_lossy()
                .into_owned();
            let site_path = site
                .web_url
                .as_ref()
                .map(|u| {
                    percent_encoding::percent_decode_str(u.path())
                        .decode_utf8_lossy()
                        .trim_end_matches('/')
                        .to_owned()
                })
                .unwrap_or_default();
            path.strip_prefix(&site_path).unwrap_or(&path).to_owned()
        }
        Err(_) => raw.to_owned(),
    };
    match relative.trim_matches('/').split_once('/') {
        Some((_, rest)) if !rest.is_empty() => rest.to_owned(),
        _ => name(),
    }
}

/// The first page of a site's pages listing, its canvases expanded.
pub(crate) fn pages_url(graph: &GraphClient, site: &str) -> Result<Url> {
    graph.url(
        &format!(
            "sites/{}/pages/microsoft.graph.sitePage",
            site_segment(site)
        ),
        &[("$expand", "canvasLayout")],
    )
}

/// The same listing without canvases, for when Graph refuses to expand them on the
/// collection (it answers some sites' listings with `400 invalidRequest`).
pub(crate) fn bare_pages_url(graph: &GraphClient, site: &str) -> Result<Url> {
    graph.url(
        &format!(
            "sites/{}/pages/microsoft.graph.sitePage",
            site_segment(site)
        ),
        &[],
    )
}

/// One page with its canvas; `None` when it is gone.
///
/// # Errors
/// As [`GraphClient::get_opt`].
pub(crate) async fn page(graph: &GraphClient, site: &str, page: &str) -> Result<Option<SitePage>> {
    let url = graph.url(
        &format!(
            "sites/{}/pages/{}/microsoft.graph.sitePage",
            site_segment(site),
            escape(page)
        ),
        &[("$expand", "canvasLayout")],
    )?;
    graph.get_opt(&url).await
}

/// A page of the listing at `url`.
///
/// # Errors
/// As [`GraphClient::page`].
pub(crate) async fn listing(graph: &GraphClient, url: &Url) -> Result<Page<Value>> {
    graph.page(url).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn page_ids_round_trip_with_commas_in_the_site_id() {
        let id = page_id("contoso.sharepoint.com,aaa,bbb", "p-1");
        assert_eq!(
            parse_page_id(&id),
            Some(("contoso.sharepoint.com,aaa,bbb", "p-1"))
        );
        assert_eq!(parse_page_id("sharepoint:b!x:01"), None);
    }

    #[test]
    fn a_pages_file_is_found_below_the_site_pages_library() {
        let site = Site {
            id: "s".into(),
            web_url: Some(Url::parse("https://contoso.sharepoint.com/sites/Team%20A").unwrap()),
            ..Site::default()
        };
        let page = |url: Option<&str>| SitePage {
            id: "p".into(),
            name: Some("Home.aspx".into()),
            web_url: url.map(str::to_owned),
            ..SitePage::default()
        };
        let path = |url| library_path(&site, &page(url));
        assert_eq!(path(Some("SitePages/Home.aspx")), "Home.aspx");
        assert_eq!(
            path(Some("SitePages/Archive/2025.aspx")),
            "Archive/2025.aspx"
        );
        assert_eq!(
            path(Some(
                "https://contoso.sharepoint.com/sites/Team%20A/SitePages/Q%201.aspx"
            )),
            "Q 1.aspx"
        );
        assert_eq!(path(None), "Home.aspx");
    }

    #[test]
    fn a_relative_web_url_is_joined_to_the_site() {
        let site = Site {
            id: "s".into(),
            web_url: Some(Url::parse("https://contoso.sharepoint.com/sites/Eng").unwrap()),
            ..Site::default()
        };
        let page = SitePage {
            id: "p".into(),
            web_url: Some("SitePages/Home.aspx".into()),
            ..SitePage::default()
        };
        assert_eq!(
            page_link(&site, &page).unwrap().as_str(),
            "https://contoso.sharepoint.com/sites/Eng/SitePages/Home.aspx"
        );
    }
}
