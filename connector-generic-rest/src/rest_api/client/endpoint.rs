//! The endpoint: what a request needs, resolved once from the config (URL, parameters,
//! headers, the paths read from responses, the page size), and which query parameters carry
//! a credential.

use connector_core::http::Auth;
use connector_core::{Error, ErrorKind, Result, Secret};
use url::Url;

use crate::rest_api::SOURCE;
use crate::rest_api::auth::AuthType;
use crate::rest_api::checkpoint::{At, Position};
use crate::rest_api::config::{ErrorPath, PaginationType, RestApiConfig};
use crate::rest_api::direct::{Field, Plan};
use crate::rest_api::model::{BodyPath, FieldPath, ItemsPath};
use crate::rest_api::raw_page::{may_reach, simple_names};

/// The size asked for when the config names a size parameter but no size.
const DEFAULT_PAGE_SIZE: u64 = 100;

/// What a request needs, resolved once from the config.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) cfg: RestApiConfig,
    pub(super) base: Url,
    pub(super) params: Vec<(String, String)>,
    pub(super) headers: Vec<(String, String)>,
    pub(crate) items_path: Option<ItemsPath>,
    /// `listing_path`: a numbered page's entries, in place of what `items_path` implies.
    pub(super) listing_path: Option<ItemsPath>,
    /// `error_path`: `None` for the `error`/`errors` rule, `Some(None)` for no check.
    pub(super) error_path: Option<Option<ItemsPath>>,
    /// The names of `items_path` when pages can be read without a DOM of their items
    /// ([`raw_page`](crate::rest_api::raw_page)).
    pub(super) plain_items: Option<std::sync::Arc<[String]>>,
    /// Where the next cursor is in a response (cursor pagination).
    pub(super) next_cursor: Option<BodyPath>,
    /// Where the next page's URL is in a response (`next_url_path` pagination).
    pub(super) next_url: Option<BodyPath>,
    pub(super) page_size: Option<u64>,
    /// `id_field`, for the repeated-page guard.
    pub(super) id_path: Option<FieldPath>,
    /// How to read `id_field` alone, when its path allows it: the id of an item that cannot
    /// be read whole, for the repeated-page guard
    /// ([`RestClient::unread_id`](super::RestClient::unread_id)).
    pub(super) id_alone: Option<(Plan, Field)>,
    /// The config field named when a later page answers 401/403.
    pub(super) credential_field: Option<&'static str>,
    /// Query parameters that carry a credential (`api_key`, `token`, ...), as secrets: the
    /// redactor removes them from errors, logs and stored next-page URLs, and a next-page URL
    /// gets their real value back before it is sent.
    pub(super) secret_params: Vec<(String, connector_core::Secret)>,
}

/// Whether a query parameter's name says it carries a credential.
pub(crate) fn is_credential_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "key",
        "token",
        "secret",
        "password",
        "passwd",
        "signature",
        "sig",
        "auth",
        "credential",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// `url` with each credential parameter it names set to its real value: a stored next-page
/// URL holds `***` there (checkpoints are stored without secrets).
pub(super) fn with_secret_params(
    mut url: Url,
    secrets: &[(String, connector_core::Secret)],
) -> Url {
    if secrets.is_empty() || url.query().is_none() {
        return url;
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = secrets
                .iter()
                .find(|(name, _)| *name == k)
                .map_or_else(|| v.into_owned(), |(_, secret)| secret.expose().to_owned());
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

fn config_error(field: &str, msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::Config, msg)
        .with_field(field)
        .with_connector(SOURCE)
}

impl Endpoint {
    pub(crate) fn new(cfg: RestApiConfig) -> Result<Self> {
        // URL parameters < query_params (last value wins), then `{name}` path placeholders.
        let mut params: Vec<(String, String)> = Vec::new();
        let set = |params: &mut Vec<(String, String)>, k: String, v: String| match params
            .iter_mut()
            .find(|(pk, _)| *pk == k)
        {
            Some(slot) => slot.1 = v,
            None => params.push((k, v)),
        };
        for (k, v) in cfg.url.query_pairs() {
            set(&mut params, k.into_owned(), v.into_owned());
        }
        for (k, v) in cfg
            .query_params
            .pairs()
            .map_err(|e| config_error("query_params", e))?
        {
            set(&mut params, k, v);
        }
        let mut base = cfg.url.clone();
        base.set_query(None);
        base.set_fragment(None);
        let mut path = base.path().replace("%7B", "{").replace("%7D", "}");
        params.retain(|(k, v)| {
            let placeholder = format!("{{{k}}}");
            if path.contains(&placeholder) {
                path = path.replace(&placeholder, v);
                false
            } else {
                true
            }
        });
        base.set_path(&path);
        let headers = cfg
            .headers
            .pairs()
            .map_err(|e| config_error("headers", e))?;
        let items_path = cfg
            .items_path
            .as_deref()
            .map(|p| {
                ItemsPath::parse(p)
                    .map_err(|e| config_error("items_path", format!("items_path {e}")))
            })
            .transpose()?;
        let listing_path = cfg
            .listing_path
            .as_deref()
            .map(|p| {
                ItemsPath::parse(p)
                    .map_err(|e| config_error("listing_path", format!("listing_path {e}")))
            })
            .transpose()?;
        let error_path = match &cfg.error_path {
            None => None,
            Some(e) if e.switch() == Some(true) => {
                return Err(config_error(
                    "error_path",
                    "error_path is a JSONPath, or `false` to read no member as an error".to_owned(),
                ));
            }
            Some(e) if e.switch() == Some(false) => Some(None),
            Some(ErrorPath::Off(_)) => Some(None),
            Some(ErrorPath::Path(p)) => {
                Some(Some(ItemsPath::parse(p).map_err(|e| {
                    config_error("error_path", format!("error_path {e}"))
                })?))
            }
        };
        let pc = &cfg.pagination_config;
        let size_param = match cfg.pagination_type {
            PaginationType::Offset => pc.limit_param.as_deref().or(pc.page_size_param.as_deref()),
            _ => pc.page_size_param.as_deref(),
        };
        let from_params = size_param
            .and_then(|p| params.iter().find(|(k, _)| k == p))
            .and_then(|(_, v)| v.parse::<u64>().ok());
        let configured = match cfg.pagination_type {
            PaginationType::Offset => pc.limit.or(pc.page_size),
            _ => pc.page_size,
        };
        let page_size = configured
            .or(from_params)
            .or(size_param.map(|_| DEFAULT_PAGE_SIZE))
            .filter(|n| *n > 0);
        let next_cursor = pc
            .next_cursor_path
            .as_deref()
            .or(pc.next_cursor_field.as_deref())
            .and_then(BodyPath::parse);
        let next_url = cfg.next_url_path().and_then(BodyPath::parse);
        let id_path = cfg
            .id_field
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .and_then(|f| FieldPath::parse(f).ok());
        let id_alone = id_path.as_ref().and_then(|id| {
            let mut field = Field::new(FieldPath::clone(id));
            Plan::new(&mut [&mut field]).map(|plan| (plan, field))
        });
        // Pages are read without their items' DOM when the items sit at plain names and no
        // path read from the body may lead into them.
        // A `listing_path` is read from the page's tree.
        let plain_items = items_path
            .as_ref()
            .filter(|_| listing_path.is_none())
            .and_then(|p| simple_names(p.as_str()))
            .filter(|names| !names.is_empty())
            .filter(|names| {
                [&next_cursor, &next_url]
                    .into_iter()
                    .flatten()
                    .all(|p| !may_reach(p, names))
            })
            .map(std::sync::Arc::from);
        let secret_params = params
            .iter()
            .filter(|(k, _)| is_credential_param(k))
            .map(|(k, v)| (k.clone(), connector_core::Secret::new(v.clone())))
            .collect();
        Ok(Self {
            secret_params,
            cfg,
            base,
            params,
            headers,
            items_path,
            listing_path,
            error_path,
            plain_items,
            next_cursor,
            next_url,
            page_size,
            id_path,
            id_alone,
            credential_field: None,
        })
    }

    /// The first position of a run.
    pub(crate) fn start(&self) -> Position {
        let pc = &self.cfg.pagination_config;
        let at = match self.cfg.pagination_type {
            PaginationType::None => At::Single,
            PaginationType::Page => At::Page {
                page: pc.start_page,
            },
            PaginationType::Offset => At::Offset {
                offset: pc.start_offset,
            },
            PaginationType::Cursor => At::Cursor {
                cursor: pc.initial_cursor.clone().filter(|c| !c.is_empty()),
            },
            PaginationType::LinkHeader | PaginationType::NextUrlPath => At::Url {
                url: self.first_url().to_string(),
            },
        };
        Position {
            at,
            pages: 0,
            full: false,
            items: 0,
            prev: None,
            place: None,
            carried: None,
            place_for: None,
            usual: Vec::new(),
            idle: 0,
            idle_hash: None,
        }
    }

    pub(super) fn first_url(&self) -> Url {
        let mut url = self.base.clone();
        if !self.params.is_empty() {
            url.query_pairs_mut().extend_pairs(self.params.iter());
        }
        url
    }

    pub(super) fn auth(&self) -> (Auth, Option<&'static str>) {
        let cfg = &self.cfg;
        match cfg.auth_type {
            AuthType::None => (Auth::None, None),
            AuthType::ApiKeyHeader => match cfg.api_key() {
                Some((key, field)) => {
                    let name = cfg
                        .auth_config
                        .header_name
                        .clone()
                        .filter(|h| !h.trim().is_empty())
                        .unwrap_or_else(|| "X-API-Key".to_owned());
                    (
                        Auth::Header {
                            name,
                            value: key.clone(),
                        },
                        Some(field),
                    )
                }
                None => (Auth::None, None),
            },
            AuthType::Bearer => match cfg.token() {
                Some((t, field)) => (Auth::Bearer(t.clone()), Some(field)),
                None => (Auth::None, None),
            },
            AuthType::Basic => match cfg.basic() {
                Some((user, password, field)) => (
                    Auth::Basic {
                        username: user.to_owned(),
                        password: password.cloned().unwrap_or_else(|| Secret::new("")),
                    },
                    Some(if password.is_some() {
                        "credentials.password"
                    } else {
                        field
                    }),
                ),
                None => (Auth::None, None),
            },
        }
    }
}
