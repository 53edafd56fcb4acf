//! [`ConnectorConfig`] for [`ConfluenceConfig`]: what is wrong with a config (every problem by
//! field path), which of its fields go unused, and the host's network policy.

use connector_core::config::{Ignored, IgnoredField};
use connector_core::net::NetworkPolicy;
use connector_core::{ConnectorConfig, FieldError};

use super::{ConfluenceConfig, IdScheme, IndexMode, is_cloud_id};

impl ConnectorConfig for ConfluenceConfig {
    const IGNORED: &'static [IgnoredField] = &[IgnoredField::new(
        "allow_images",
        "neither of RAGFlow's Confluence connectors reads it (both index image \
             attachments), and neither does this one; to leave images out here, set \
             `include_images: false`",
    )
    // Images are indexed, which is what `true` asks for.
    .quiet_for(&["true"])];

    fn use_ragflow_ids(&mut self) {
        self.id_scheme.get_or_insert(IdScheme::RagflowUrl);
    }

    fn set_network_policy(&mut self, policy: &NetworkPolicy) -> bool {
        self.host_network = Some(policy.clone());
        true
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if !matches!(self.wiki_base.scheme(), "http" | "https") {
            problems.push(FieldError::new("wiki_base", "must be an http or https URL"));
        }
        if self.wiki_base.query().is_some() {
            problems.push(FieldError::new("wiki_base", "must not have a query string"));
        }
        problems.extend(NetworkPolicy::check_allowed_hosts(
            "allowed_hosts",
            &self.allowed_hosts,
        ));
        if let Some(query) = self.cql_query() {
            if let Some(problem) = cql_problem(query) {
                problems.push(FieldError::new("cql_query", problem));
            }
        } else {
            // Only the field of the mode in use is read (and checked); leftovers of another
            // mode are ignored, as RAGFlow ignores them.
            match self.mode() {
                IndexMode::Everything => {}
                IndexMode::Space => match self.space() {
                    None => problems.push(FieldError::new(
                        "space",
                        "is required with index_mode `space` (the space key, such as `ENG`)",
                    )),
                    Some(key) if !is_space_key(key) => {
                        problems.push(FieldError::new(
                            "space",
                            "must be a space key (letters and digits; a personal space: `~` and \
                             the user name, such as `~john.doe`)",
                        ));
                    }
                    Some(_) => {}
                },
                IndexMode::Page => match self.page_id() {
                    None => problems.push(FieldError::new(
                        "page_id",
                        "is required with index_mode `page`",
                    )),
                    Some(id) if !id.chars().all(|c| c.is_ascii_digit()) => {
                        problems.push(FieldError::new("page_id", "must be a numeric page id"));
                    }
                    Some(_) => {}
                },
            }
        }
        for (i, label) in self.labels_to_skip.iter().enumerate() {
            if label.trim().is_empty() || label.contains('"') {
                problems.push(FieldError::new(
                    format!("labels_to_skip[{i}]"),
                    "must be a non-empty label without `\"`",
                ));
            }
        }
        if self.is_cloud
            && !self.scoped_token
            && self.cloud_id().is_none()
            && self.credentials.username().is_none()
        {
            problems.push(FieldError::new(
                "credentials.confluence_username",
                "is required on Cloud (the account e-mail that owns the API token), unless \
                 `cloud_id` is set for an OAuth access token",
            ));
        }
        if self.cloud_id().is_some() && !self.is_cloud {
            problems.push(FieldError::new("cloud_id", "is for Confluence Cloud only"));
        }
        if self.scoped_token {
            if !self.is_cloud {
                problems.push(FieldError::new(
                    "scoped_token",
                    "is for Confluence Cloud only (scoped API tokens go through the Atlassian \
                     API gateway)",
                ));
            }
            if self.credentials.username().is_none() {
                problems.push(FieldError::new(
                    "credentials.confluence_username",
                    "is required with `scoped_token` (the account e-mail that owns the token)",
                ));
            }
        }
        if let Some(id) = self.cloud_id()
            && !is_cloud_id(id)
        {
            problems.push(FieldError::new("cloud_id", "must be a site id (a UUID)"));
        }
        if let Some(offset) = self.timezone_offset
            && !(-14.0..=14.0).contains(&offset)
        {
            problems.push(FieldError::new(
                "timezone_offset",
                format!("must be between -14 and 14 hours, found {offset}"),
            ));
        }
        problems
    }

    fn unused(&self) -> Vec<Ignored> {
        let space = self.space().is_some();
        let page_id = self.page_id().is_some();
        let recursive = self.index_recursively;
        let mut out = Vec::new();
        if self.cql_query().is_some() {
            let why = "`cql_query` replaces the selection of `index_mode`, as in RAGFlow's \
                       Go connector";
            for (given, path) in [
                (space, "space"),
                (page_id, "page_id"),
                (recursive, "index_recursively"),
            ] {
                if given {
                    out.push(Ignored::new(path, why));
                }
            }
            return out;
        }
        let mode = self.mode();
        if self.index_mode.is_none() {
            // A config saved before RAGFlow had `index_mode`: the field set chooses the
            // mode here, as when it was saved, while RAGFlow now indexes everything. The field
            // is used, but the user must learn that RAGFlow reads the config otherwise.
            let chosen = match mode {
                IndexMode::Page => Some("page_id"),
                IndexMode::Space => Some("space"),
                IndexMode::Everything => None,
            };
            if let Some(path) = chosen {
                out.push(Ignored::new(
                    path,
                    format!(
                        "by RAGFlow, which reads a config without `index_mode` as \
                         `everything`; here it still selects the {mode} to index, as when \
                         the config was saved (set `index_mode` to `{mode}` or `everything` \
                         to say which is meant)"
                    ),
                ));
            }
        }
        let only = |wanted: IndexMode| {
            format!("only index_mode `{wanted}` reads it, and the mode is `{mode}` (as in RAGFlow)")
        };
        if space && mode != IndexMode::Space {
            out.push(Ignored::new("space", only(IndexMode::Space)));
        }
        if page_id && mode != IndexMode::Page {
            out.push(Ignored::new("page_id", only(IndexMode::Page)));
        }
        if recursive && mode != IndexMode::Page {
            out.push(Ignored::new("index_recursively", only(IndexMode::Page)));
        }
        out
    }
}

/// What is wrong with a `cql_query`, if anything we can tell before sending it: an `order by`
/// clause (results come in the connector's own order, which keeps paging stable) or an
/// unclosed quote (the clauses added after it would land inside the string).
fn cql_problem(query: &str) -> Option<&'static str> {
    let mut quote = None;
    let mut escaped = false;
    // Lower-cased text outside quotes, words separated by single spaces.
    let mut outside = String::new();
    for c in query.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                if quote.is_none() {
                    outside.push(' ');
                }
            }
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                outside.push(' ');
            }
            None if c.is_whitespace() => outside.push(' '),
            None => outside.extend(c.to_lowercase()),
        }
    }
    if quote.is_some() {
        return Some("has an unclosed quote");
    }
    let words: Vec<&str> = outside.split_whitespace().collect();
    if words.windows(2).any(|w| w == ["order", "by"]) {
        return Some(
            "must not have an `order by` clause: results come in the connector's own order \
             (by creation), which keeps paging stable while pages are edited",
        );
    }
    None
}

/// Whether `key` can be a space key: letters, digits, `_` and `-`; or a personal space, `~`
/// and a user name, which on Data Center may hold dots, `@` and other signs (`~john.doe`,
/// `~j@corp`): anything but whitespace and `"` (the CQL writes it quoted).
fn is_space_key(key: &str) -> bool {
    match key.strip_prefix('~') {
        Some(user) => !user.is_empty() && !user.chars().any(|c| c.is_whitespace() || c == '"'),
        None => key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '~' || c == '_' || c == '-'),
    }
}

#[cfg(test)]
mod tests {
    use super::cql_problem;

    #[test]
    fn cql_problems() {
        assert_eq!(cql_problem(r#"space = "ENG" and label = "order by""#), None);
        assert_eq!(cql_problem("type = page and title ~ 'it''s'"), None);
        assert!(cql_problem("space = ENG ORDER  BY created").is_some());
        assert!(cql_problem("space = ENG order\tby title").is_some());
        assert!(cql_problem(r#"title ~ "unclosed"#).is_some());
        assert_eq!(cql_problem(r#"title ~ "a \" quote""#), None);
    }
}
