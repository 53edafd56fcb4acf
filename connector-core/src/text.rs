//! Text shared by connectors: one Markdown writer, and HTML → Markdown.
//!
//! - [`markdown`] (always built): the one Markdown writer every converter writes through. A
//!   converter turns its source format (Confluence storage format, Atlassian Document Format,
//!   Jira wiki markup, a mail body) into a small tree of [`markdown::Block`]s and
//!   [`markdown::Inline`]s; the writer owns what Markdown itself demands: escaping of text,
//!   fences, tables, list indentation, block separation.
//! - [`html_to_markdown`] (feature `html`): the HTML that sources hand out (mail bodies,
//!   rich-text fields of REST APIs) as Markdown, keeping headings, lists, links, emphasis and
//!   paragraph breaks.

pub mod markdown;

#[cfg(feature = "html")]
mod html;

#[cfg(feature = "html")]
#[cfg_attr(docsrs, doc(cfg(feature = "html")))]
pub use html::html_to_markdown;
