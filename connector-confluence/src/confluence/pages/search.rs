//! What the page walk searches for: the config's selection as CQL (index mode, `cql_query`,
//! labels to skip), the window's start, the expansions, and the first search request.

use crate::confluence::access;
use crate::confluence::config::{ConfluenceConfig, IndexMode};
use crate::confluence::convert::AttachmentRules;
use crate::confluence::ids::DocIds;

/// What the page walk needs from the config, shared with its streams.
#[derive(Debug)]
pub(crate) struct Settings {
    /// The CQL selection without window and order.
    pub(crate) selection: String,
    pub(crate) page_size: u32,
    pub(crate) include_archived: bool,
    /// Cloud, whose content search takes no `includeArchivedSpaces`.
    pub(crate) cloud: bool,
    pub(crate) attachments: Option<AttachmentRules>,
    pub(crate) timezone_offset: Option<f64>,
    /// Document ids and links.
    pub(crate) ids: DocIds,
    /// Whether documents carry who may read them (`include_permissions`).
    pub(crate) permissions: bool,
    /// The space of `index_mode: space` (without `cql_query`): the second pass of an
    /// incremental run searches only there.
    pub(crate) space: Option<String>,
}

impl Settings {
    /// The settings of `config` (already validated).
    pub(crate) fn new(config: &ConfluenceConfig) -> Self {
        Self {
            selection: selection(config),
            page_size: config.page_size(),
            include_archived: config.include_archived,
            cloud: config.is_cloud,
            attachments: config.include_attachments.then_some(AttachmentRules {
                size_limit: config.attachment_size_limit.get(),
                include_images: config.include_images,
            }),
            timezone_offset: config.timezone_offset,
            ids: DocIds::new(config.id_scheme(), &config.web_base()),
            permissions: config.include_permissions,
            space: match (config.cql_query(), config.mode()) {
                (None, IndexMode::Space) => config.space().map(str::to_owned),
                _ => None,
            },
        }
    }

    pub(super) fn expand(&self) -> String {
        // Comments come from their own search (`comments`): the `children.comment` expansion
        // holds root comments only on Cloud.
        let mut expand = "body.storage,version,space,metadata.labels,ancestors,history".to_owned();
        if self.attachments.is_some() {
            expand.push_str(",children.attachment.version");
        }
        if self.permissions {
            expand.push(',');
            expand.push_str(access::RESTRICTIONS_EXPAND);
            expand.push(',');
            expand.push_str(access::ANCESTOR_RESTRICTIONS_EXPAND);
        }
        expand
    }

    /// A search for one result of the selection, without expansions: what `check` sends to
    /// learn whether Confluence accepts the query.
    pub(crate) fn probe(&self) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([("cql", self.cql(None).as_str()), ("limit", "1")])
            .finish();
        format!("/rest/api/content/search?{query}")
    }

    /// Whether searches send `includeArchivedSpaces=true`: only Server/Data Center's content
    /// search reads it (for every content type); Cloud's ignores it.
    pub(super) fn archived_param(&self) -> bool {
        self.include_archived && !self.cloud
    }

    /// The first search request (path and query).
    pub(super) fn search(&self, cql: &str, expand: &str) -> String {
        let mut pairs: Vec<(&str, String)> = vec![
            ("cql", cql.to_owned()),
            ("limit", self.page_size.to_string()),
            ("start", "0".to_owned()),
        ];
        if !expand.is_empty() {
            pairs.push(("expand", expand.to_owned()));
        }
        if self.archived_param() {
            pairs.push(("includeArchivedSpaces", "true".to_owned()));
        }
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        format!("/rest/api/content/search?{query}")
    }

    /// The CQL of a search, from `since` (the start of an incremental run's window as CQL
    /// text, [`zone::lower_bound`]) when there is one.
    ///
    /// The end of the window is left open, as in the Jira connector: a page edited while the
    /// sync pages keeps its place in the result set (on Server/Data Center's offset paging an
    /// upper bound would drop it from the set and shift every later result back by one, so
    /// an unedited page would be skipped for good) and is filtered out exactly, to come in
    /// the next run.
    pub(super) fn cql(&self, since: Option<&str>) -> String {
        let mut cql = self.selection.clone();
        if let Some(since) = since {
            cql.push_str(&format!(" and lastmodified >= \"{since}\""));
        }
        // Creation order does not change while a sync runs, so offsets and cursors stay put
        // when pages are edited meanwhile.
        cql.push_str(" order by created asc");
        cql
    }
}

pub(super) fn cql_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn selection(config: &ConfluenceConfig) -> String {
    let types = if config.include_blog_posts {
        "type in (page, blogpost)"
    } else {
        "type = page"
    };
    let mut cql = match config.cql_query() {
        // The query decides which pages and blog posts; other content types (comments,
        // attachments) are not documents of their own here. The parentheses keep an `or` in
        // it from swallowing the clauses added after it.
        Some(query) => format!("({query}) and type in (page, blogpost)"),
        None => match config.mode() {
            IndexMode::Everything => types.to_owned(),
            IndexMode::Space => format!(
                "space = {} and {types}",
                cql_string(config.space().unwrap_or_default())
            ),
            IndexMode::Page => {
                let id = config.page_id().unwrap_or_default();
                if config.index_recursively {
                    format!("(id = {id} or ancestor = {id}) and {types}")
                } else {
                    format!("id = {id} and {types}")
                }
            }
        },
    };
    let labels: Vec<String> = config
        .labels_to_skip
        .iter()
        .map(|l| cql_string(l.trim()))
        .collect();
    if !labels.is_empty() {
        cql.push_str(&format!(" and label not in ({})", labels.join(", ")));
    }
    cql
}
