//! Sites by URL (or every site of the tenant) and their document libraries.

use connector_core::{Error, ErrorKind, Failure, Result};
use serde::Deserialize;
use url::Url;

use super::SOURCE;
use super::config::site_address;
use crate::graph::drive_walk::{DriveTarget, Targets};
use crate::graph::{Drive, GraphClient, escape};

/// The fields of a site a sync reads (`isPersonalSite` is not asked for: it is not in every
/// cloud's v1.0, and an unknown `$select` field fails the request; where Graph sends it
/// anyway it is read, else a personal site is told by its `-my.sharepoint.` host).
const SITE_FIELDS: &str = "id,name,displayName,webUrl";

/// The fields of a drive a sync reads.
const DRIVE_FIELDS: &str = "id,name,driveType,owner,webUrl,sharePointIds";

/// Libraries that hold no documents of the site's own, by their folder (the last segment of
/// their URL, which does not change with the site's language): the Site Pages library (pages
/// are read as pages, not as `.aspx` files), the Preservation Hold Library (copies of what
/// people edited or deleted, kept for retention: reading it brings deleted documents back),
/// the Style Library (branding) and Form Templates (InfoPath).
const SYSTEM_LIBRARIES: [&str; 4] = [
    "SitePages",
    "PreservationHoldLibrary",
    "Style Library",
    "FormServerTemplates",
];

/// Whether `drive` is one of the [`SYSTEM_LIBRARIES`].
fn system_library(drive: &Drive) -> bool {
    drive
        .web_url
        .as_ref()
        .and_then(|u| {
            u.path_segments()?
                .rev()
                .find(|s| !s.is_empty())
                .map(str::to_owned)
        })
        .map(|last| {
            percent_encoding::percent_decode_str(&last)
                .decode_utf8_lossy()
                .into_owned()
        })
        .is_some_and(|last| {
            SYSTEM_LIBRARIES
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&last))
        })
}

/// A site as `GET sites/{host}:/{path}` or `sites/getAllSites` shows it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Site {
    /// `{hostname},{site collection id},{web id}`.
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) display_name: Option<String>,
    #[serde(default)]
    pub(crate) web_url: Option<Url>,
    #[serde(default)]
    pub(crate) is_personal_site: Option<bool>,
}

impl Site {
    /// The site collection's id: the middle of the site id.
    pub(crate) fn collection(&self) -> &str {
        self.id.split(',').nth(1).unwrap_or(&self.id)
    }

    /// The name a person knows the site by.
    pub(crate) fn shown(&self) -> String {
        self.display_name
            .clone()
            .or_else(|| self.name.clone())
            .or_else(|| self.web_url.as_ref().map(ToString::to_string))
            .unwrap_or_else(|| self.id.clone())
    }

    /// A OneDrive's personal site (read by the `onedrive` source, not this one).
    fn personal(&self) -> bool {
        self.is_personal_site == Some(true)
            || self
                .web_url
                .as_ref()
                .and_then(Url::host_str)
                .is_some_and(|h| h.contains("-my.sharepoint."))
    }
}

/// The sites of `urls` (each `GET sites/{hostname}:/{path}`), or with none every site of the
/// tenant but personal ones (`GET sites/getAllSites`); a failure for each named site that
/// cannot be read.
///
/// `getAllSites`, not `GET sites?search=*`: it is the enumeration Microsoft documents for
/// apps that scan a tenant (every site, every geography, paged by `@odata.nextLink`, with
/// `Sites.Read.All`), where a search goes through the search index: ranked, trimmed and
/// behind new sites.
pub(crate) async fn sites(
    graph: &GraphClient,
    urls: &[String],
    sample: Option<usize>,
) -> Result<(Vec<Site>, Vec<Failure>)> {
    let mut sites = Vec::new();
    let mut failures = Vec::new();
    if urls.is_empty() {
        let mut query = vec![("$select", SITE_FIELDS.to_owned())];
        if let Some(n) = sample {
            query.push(("$top", n.to_string()));
        }
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let url = graph.url("sites/getAllSites", &query)?;
        let listed = match sample {
            Some(_) => graph.page::<Site>(&url).await.map(|p| p.value),
            None => graph.all::<Site>(&url).await,
        };
        let listed = listed.map_err(|e| match e.kind() {
            ErrorKind::PermissionDenied => Error::new(
                ErrorKind::PermissionDenied,
                format!(
                    "with no credentials.site_url every site is read, and listing them (GET /sites/getAllSites) needs the application permission Sites.Read.All (admin consent); grant it, or name the sites in credentials.site_url: {e}"
                ),
            )
            .with_connector(SOURCE)
            .with_field("credentials.site_url"),
            _ => e,
        })?;
        sites.extend(listed.into_iter().filter(|s| !s.personal()));
        return Ok((sites, failures));
    }
    for url in urls {
        let Some((host, path)) = site_address(url) else {
            continue;
        };
        let segments: Vec<String> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(escape)
            .collect();
        let at = if segments.is_empty() {
            format!("sites/{}", escape(&host))
        } else {
            format!("sites/{}:/{}", escape(&host), segments.join("/"))
        };
        match graph
            .get_opt::<Site>(&graph.url(&at, &[("$select", SITE_FIELDS)])?)
            .await
        {
            Ok(Some(site)) => sites.push(site),
            Ok(None) => failures.push(Failure::new(
                Some(site_failure_id(url)),
                ErrorKind::NotFound,
                format!("site `{url}` (credentials.site_url) was not found: check its URL"),
            )),
            Err(e) if e.kind().ends_sync() => return Err(e),
            Err(e) => failures.push(Failure::new(
                Some(site_failure_id(url)),
                e.kind(),
                format!("site `{url}`: {e}"),
            )),
        }
    }
    Ok((sites, failures))
}

/// `sites` and every subsite below them (`GET sites/{id}/sites`, down the tree), each once, in
/// the order found; a failure for a site whose subsites cannot be listed (one gone since is
/// passed over).
///
/// `getAllSites` lists site collections (their root webs) and a site named by URL is one web:
/// without this, a classic subsite (`/sites/Eng/Team`) is read by nobody.
pub(crate) async fn with_subsites(
    graph: &GraphClient,
    sites: Vec<Site>,
) -> Result<(Vec<Site>, Vec<Failure>)> {
    let mut seen: std::collections::HashSet<String> = sites.iter().map(|s| s.id.clone()).collect();
    let mut out = Vec::with_capacity(sites.len());
    let mut failures = Vec::new();
    let mut queue: std::collections::VecDeque<Site> = sites.into();
    while let Some(site) = queue.pop_front() {
        let url = graph.url(
            &format!("sites/{}/sites", site_segment(&site.id)),
            &[("$select", SITE_FIELDS)],
        )?;
        match graph.all::<Site>(&url).await {
            Ok(children) => {
                for child in children {
                    if seen.insert(child.id.clone()) {
                        queue.push_back(child);
                    }
                }
            }
            Err(e) if e.kind().ends_sync() => return Err(e),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => failures.push(Failure::new(
                Some(format!("{SOURCE}:site:{}", site.id)),
                e.kind(),
                format!(
                    "the subsites of site `{}` could not be listed: {e}",
                    site.shown()
                ),
            )),
        }
        out.push(site);
    }
    Ok((out, failures))
}

/// Of the site URLs `urls`, those not below another of them (a subsite of a listed site is
/// read with it); the tenant's root site (`https://contoso.sharepoint.com`) holds no
/// `/sites/…` collection, so nothing is taken as below it.
pub(crate) fn outermost(urls: Vec<String>) -> Vec<String> {
    let parents: Vec<String> = urls
        .iter()
        .filter(|u| site_address(u).is_some_and(|(_, path)| !path.is_empty()))
        .map(|u| format!("{}/", u.trim_end_matches('/').to_lowercase()))
        .collect();
    urls.into_iter()
        .filter(|u| {
            let lower = u.to_lowercase();
            !parents.iter().any(|p| lower.starts_with(p.as_str()))
        })
        .collect()
}

/// A site id as a path segment: kept as it is (`contoso.sharepoint.com,{guid},{guid}`: Graph
/// reads the commas), escaped should it hold anything else.
pub(crate) fn site_segment(id: &str) -> String {
    if id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ',' | '-'))
    {
        id.to_owned()
    } else {
        escape(id)
    }
}

/// The id a failure of a whole site carries.
pub(crate) fn site_failure_id(url: &str) -> String {
    format!("{SOURCE}:site:{url}")
}

/// The document libraries of `sites` (`GET sites/{id}/drives`), as drives to walk; a site
/// whose libraries cannot be listed is a failure naming it.
pub(crate) async fn libraries(graph: &GraphClient, sites: &[Site]) -> Result<Targets> {
    let mut targets = Vec::new();
    let mut failures = Vec::new();
    for site in sites {
        let url = graph.url(
            &format!("sites/{}/drives", site_segment(&site.id)),
            &[("$select", DRIVE_FIELDS)],
        )?;
        match graph.all::<Drive>(&url).await {
            Ok(drives) => {
                for drive in drives {
                    if system_library(&drive)
                        || targets.iter().any(|t: &DriveTarget| t.drive == drive.id)
                    {
                        continue;
                    }
                    targets.push(DriveTarget {
                        owner: None,
                        site: drive
                            .sharepoint_ids
                            .and_then(|s| s.site_id)
                            .unwrap_or_else(|| site.collection().to_owned()),
                        drive: drive.id,
                    });
                }
            }
            Err(e) if e.kind().ends_sync() => return Err(e),
            Err(e) => failures.push(Failure::new(
                Some(format!("{SOURCE}:site:{}", site.id)),
                e.kind(),
                format!(
                    "the document libraries of site `{}` could not be listed: {e}",
                    site.shown()
                ),
            )),
        }
    }
    Ok((targets, failures))
}

/// A list as `GET sites/{id}/lists` shows it.
#[derive(Debug, Deserialize)]
struct List {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    list: Option<ListInfo>,
}

#[derive(Debug, Deserialize)]
struct ListInfo {
    #[serde(default)]
    template: Option<String>,
}

/// The Site Pages library of `site` as a drive (its list by template `webPageLibrary`, else
/// by its folder `SitePages`; `GET sites/{id}/lists/{list}/drive`), whose files' permissions
/// are the pages'; `None` when the site has none.
///
/// # Errors
/// As [`GraphClient::all`] and [`GraphClient::get_opt`].
pub(crate) async fn pages_library(graph: &GraphClient, site: &Site) -> Result<Option<DriveTarget>> {
    let url = graph.url(
        &format!("sites/{}/lists", site_segment(&site.id)),
        &[("$select", "id,name,list")],
    )?;
    let lists = graph.all::<List>(&url).await?;
    let found = lists
        .iter()
        .find(|l| {
            l.list
                .as_ref()
                .and_then(|i| i.template.as_deref())
                .is_some_and(|t| t.eq_ignore_ascii_case("webPageLibrary"))
        })
        .or_else(|| {
            lists.iter().find(|l| {
                l.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case("SitePages"))
            })
        });
    let Some(list) = found else {
        return Ok(None);
    };
    let url = graph.url(
        &format!(
            "sites/{}/lists/{}/drive",
            site_segment(&site.id),
            escape(&list.id)
        ),
        &[("$select", "id,sharePointIds")],
    )?;
    Ok(graph
        .get_opt::<Drive>(&url)
        .await?
        .map(|drive| DriveTarget {
            owner: None,
            site: drive
                .sharepoint_ids
                .and_then(|s| s.site_id)
                .unwrap_or_else(|| site.collection().to_owned()),
            drive: drive.id,
        }))
}
