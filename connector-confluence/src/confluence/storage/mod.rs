//! Confluence storage format (XHTML with `ac:` and `ri:` elements) to Markdown.
//!
//! Storage format is a fragment with several roots, undeclared `ac:`/`ri:` prefixes and HTML
//! entities (`&nbsp;`, `&rsquo;`) that XML does not define. It is wrapped in one root that
//! declares the prefixes and read with quick-xml, resolving HTML5 entities. The fragment is
//! parsed into a small tree first, so that user mentions and `include` macros can be collected
//! and resolved (with network lookups, cached per run) before the Markdown is written, through
//! core's Markdown writer (which escapes the text and owns lists, tables and fences).
//!
//! `parse.rs` reads the fragment into a tree and collects what it refers to; `render.rs`
//! writes a tree as Markdown; `macros.rs` renders macros and Cloud's editor nodes;
//! `fallback.rs` reads a body that is not well-formed (or nests too deep) anyway, leniently
//! or as its text, so that its page is still indexed.

/// A file of `tests/fixtures/storage/` at the crate's root, for the tests of rendering.
#[cfg(test)]
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/storage/", $name))
    };
}

mod fallback;
mod macros;
mod parse;
mod render;

pub(crate) use fallback::read_anyway;
pub(crate) use parse::{Node, PageRef, Refs, StorageError, UserRef, collect_refs, parse};
pub(crate) use render::{Owner, Resolver, render, render_for};

/// The lookups of a Cloud site, for the tests of rendering and of macros.
#[cfg(test)]
mod test_site {
    #![allow(clippy::unwrap_used)] // Tests.

    use std::sync::Arc;

    use super::{Node, Owner, PageRef, Resolver, UserRef, parse, render_for};

    const ADA: &str = "557058:1a2b3c4d-0000-4000-8000-000000000001";
    pub(super) const SITE: &str = "https://acme.atlassian.net";

    /// A Cloud site's lookups; `links` off is a site where no URL can be formed.
    struct Site {
        links: bool,
    }

    impl Resolver for Site {
        fn user(&self, user: &UserRef) -> Option<String> {
            (*user == UserRef::AccountId(ADA.to_owned())).then(|| "Ada Lovelace".to_owned())
        }
        fn include(&self, _: &PageRef) -> Option<Arc<Vec<Node>>> {
            None
        }
        fn page_url(&self, page: &PageRef) -> Option<String> {
            self.links
                .then(|| format!("{SITE}/wiki/display/{}/{}", page.space, page.title))
        }
        fn attachment_url(&self, page_id: &str, filename: &str) -> Option<String> {
            self.links.then(|| {
                let file = filename.replace(' ', "%20");
                format!("{SITE}/wiki/download/attachments/{page_id}/{file}")
            })
        }
        fn jira_site(&self) -> Option<String> {
            self.links.then(|| SITE.to_owned())
        }
    }

    /// `storage` rendered as the body of page 1234 in space ENG.
    pub(super) fn md(storage: &str, links: bool) -> String {
        let nodes = parse(storage).unwrap();
        let owner = Owner {
            space: "ENG",
            page_id: Some("1234"),
        };
        render_for(&nodes, owner, &Site { links })
    }
}
