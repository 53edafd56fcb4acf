//! The text of a JSONPath read a segment at a time, quotes and brackets aware: what each
//! segment selects ([`segments`]), and the paths [`ItemsPath`](super::ItemsPath) cuts from it
//! (its listing, [`unfiltered`]; the entries under its last filter, [`up_to_last_filter`]).

/// The listing of `path` (a JSONPath that parses, with its `$`) that has a filter
/// ([`ItemsPath::listing`](super::ItemsPath::listing)): the path cut after its first segment
/// that selects many entries (a wildcard, filter, slice or union), a filter there written
/// `[*]`; the level the server pages. Names, indexes and descendant names (`..docs`, which
/// picks lists, not entries) before it are kept as written. `None` when the path has no
/// filter, or when a descendant search of anything but a name (`..[?…]`, `..*`) comes first:
/// read as a wildcard it would list every value of the body.
pub(super) fn unfiltered(path: &str) -> Option<String> {
    let cuts = segments(path);
    if !cuts.iter().any(|(_, k)| {
        matches!(
            k,
            SegmentKind::Filter | SegmentKind::Search { filter: true }
        )
    }) {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    out.push('$');
    let mut start = 1;
    for (end, kind) in cuts {
        match kind {
            SegmentKind::Name(_) | SegmentKind::Descendant(_) | SegmentKind::Index => {
                out.push_str(&path[start..end]);
            }
            SegmentKind::Many => {
                out.push_str(&path[start..end]);
                return Some(out);
            }
            SegmentKind::Filter => {
                out.push_str("[*]");
                return Some(out);
            }
            SegmentKind::Search { .. } => return None,
        }
        start = end;
    }
    // Not reached: a path with a filter has a segment that selects many.
    None
}

/// `path` (a JSONPath that parses, with its `$`, holding a filter) up to its last filter,
/// every filter written `[*]` ([`ItemsPath::uncut`](super::ItemsPath::uncut)):
/// `$.results[*].hits[?@.x].tags[*]` → `$.results[*].hits[*]`. What follows the last filter
/// is the items' own inside, not a level that is paged. `None` when a descendant search comes
/// first (as [`unfiltered`]).
pub(super) fn up_to_last_filter(path: &str) -> Option<String> {
    let cuts = segments(path);
    let last = cuts
        .iter()
        .rposition(|(_, k)| matches!(k, SegmentKind::Filter))?;
    let mut out = String::with_capacity(path.len());
    out.push('$');
    let mut start = 1;
    for (end, kind) in &cuts[..=last] {
        match kind {
            SegmentKind::Search { .. } => return None,
            SegmentKind::Filter => out.push_str("[*]"),
            _ => out.push_str(&path[start..*end]),
        }
        start = *end;
    }
    Some(out)
}

/// `path` (a JSONPath that parses, with its `$`, holding a filter) whole, every filter written
/// `[*]`, with `[*]` after it: `$.results[*].report.sections[?@.name == 'rows'].items` →
/// `$.results[*].report.sections[*].items[*]`, the entries of every list a path that ends in a
/// name below its filter would take, whichever entry the filter chose (review46 R1: a section
/// the filter dropped is structure, not a row it cut). `None` when the path holds a descendant
/// search of anything but a name (`..[?…]`, `..*`): read as a wildcard it would list every
/// value of the body.
pub(super) fn every_list_entry(path: &str) -> Option<String> {
    let mut out = String::with_capacity(path.len() + 3);
    out.push('$');
    let mut start = 1;
    for (end, kind) in segments(path) {
        match kind {
            SegmentKind::Search { .. } => return None,
            SegmentKind::Filter => out.push_str("[*]"),
            _ => out.push_str(&path[start..end]),
        }
        start = end;
    }
    out.push_str("[*]");
    Some(out)
}

/// The members of the value under test that a filter segment's text (`[?@.public == true]`,
/// `..[?@['kind'] == 'doc' && @.n > 1]`) reads: each name right after an `@` outside quotes
/// (`public`; `kind`, `n`). Empty where it reads none (`[?@ == 'x']`, `[?length(@) > 1]`).
/// A list none of whose entries holds one of them is no listing the filter cut (review46 R2:
/// a report's `columns: ["id", "title"]` beside its empty rows).
pub(super) fn tested_members(segment: &str) -> Vec<String> {
    let bytes = segment.as_bytes();
    let mut scan = Scan::default();
    let mut out: Vec<String> = Vec::new();
    for (i, &c) in bytes.iter().enumerate() {
        if scan.take(c) != Some(b'@') {
            continue;
        }
        let rest = &segment[i + 1..];
        let name = if let Some(dotted) = rest.strip_prefix('.') {
            let len = dotted
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(dotted.len());
            (len > 0).then(|| dotted[..len].to_owned())
        } else if let Some(bracket) = rest.strip_prefix('[') {
            // The string literal up to its `]`, outside quotes.
            let mut inner = Scan::default();
            bracket
                .bytes()
                .position(|c| inner.take(c) == Some(b']') && inner.depth == 0)
                .and_then(|close| string_literal(bracket[..close].trim()))
        } else {
            None
        };
        if let Some(name) = name
            && !out.contains(&name)
        {
            out.push(name);
        }
    }
    out
}

/// What `path` (a JSONPath that parses, with its `$`, holding a filter) walks through before
/// its last filter, every filter before it written `[*]`: `$.results[*].report.rows[?@.x]` →
/// `$.results[*].report.rows`, the lists the filter chose among and, above them, the objects
/// the path names below its records ([`ItemsPath`](super::ItemsPath)'s opening). With it,
/// that text cut after each of its wildcards and filters (`$.results[*]`; `$.jobs.*` of
/// `$.jobs.*.artifacts[?@.x]`): what those select are records by the path's own word, an
/// object's entries included whatever the page holds (review35 R1). `None` when that is the
/// root, or a descendant search (`..[?…]`, `..*`) comes first.
pub(super) fn before_last_filter(path: &str) -> Option<(String, Vec<String>)> {
    let cuts = segments(path);
    let last = cuts.iter().rposition(|(_, k)| {
        matches!(
            k,
            SegmentKind::Filter | SegmentKind::Search { filter: true }
        )
    })?;
    if last == 0 {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    let mut entries = Vec::new();
    out.push('$');
    let mut start = 1;
    for (end, kind) in &cuts[..last] {
        match kind {
            SegmentKind::Search { .. } => return None,
            SegmentKind::Filter => {
                out.push_str("[*]");
                entries.push(out.clone());
            }
            SegmentKind::Many if wildcard(&path[start..*end]) => {
                out.push_str(&path[start..*end]);
                entries.push(out.clone());
            }
            _ => out.push_str(&path[start..*end]),
        }
        start = *end;
    }
    Some((out, entries))
}

/// Whether a segment's text (`.*`, `[*]`, ` [ * ]`) is a wildcard: it selects every entry,
/// not those a union or slice names.
fn wildcard(segment: &str) -> bool {
    let text = segment.trim().trim_start_matches('.').trim();
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner.trim() == "*"
}

/// Whether a bracketed segment (`[...]`) holds a filter selector: a `?` in it outside quotes
/// and nested brackets (a filter's own brackets and strings may hold any character).
fn has_filter(bracket: &str) -> bool {
    let mut scan = Scan::default();
    bracket
        .bytes()
        .any(|c| scan.take(c) == Some(b'?') && scan.depth == 1)
}

/// A quote- and bracket-aware reading of a JSONPath's text, a byte at a time: a filter's own
/// brackets and strings may hold any character ([`has_filter`], [`segments`]).
#[derive(Default)]
struct Scan {
    /// Brackets open outside quotes.
    depth: usize,
    /// The quote of the string being read, if any.
    quote: Option<u8>,
    /// Whether the byte before was a backslash inside a string.
    escaped: bool,
}

impl Scan {
    /// Takes the next byte: `Some(c)` when it lies outside quotes (brackets counted, quotes
    /// opened), `None` inside a string or at its closing quote.
    fn take(&mut self, c: u8) -> Option<u8> {
        if let Some(q) = self.quote {
            if self.escaped {
                self.escaped = false;
            } else if c == b'\\' {
                self.escaped = true;
            } else if c == q {
                self.quote = None;
            }
            return None;
        }
        match c {
            b'\'' | b'"' => self.quote = Some(c),
            b'[' => self.depth += 1,
            b']' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        Some(c)
    }
}

/// What a segment of a JSONPath selects ([`segments`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SegmentKind {
    /// One name of an object: `.data`, `['data']` (the name, unescaped).
    Name(String),
    /// A name at any depth: `..data`, `..['data']`.
    Descendant(String),
    /// One index of a list: `[0]`, `[-1]`.
    Index,
    /// A filter, alone or in a union: `[?@.id > 0]`, `[?@.pinned, 0]`.
    Filter,
    /// A wildcard, slice or union without a filter: `[*]`, `.*`, `[0:10]`, `['a','b']`.
    Many,
    /// A descendant search of anything but one name: `..[?@.kind == 'doc']`, `..*`, `..[0]`;
    /// `filter` when it holds a filter.
    Search { filter: bool },
}

/// The end (in bytes) and kind of each segment of `path` (a JSONPath that parses, with its
/// `$`), read outside quotes and brackets; blank space between segments is left at the end
/// of the segment before it.
pub(super) fn segments(path: &str) -> Vec<(usize, SegmentKind)> {
    let bytes = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 1;
    while i < bytes.len() {
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let descendant = bytes[i..].starts_with(b"..");
        if descendant {
            i += 2;
        } else if bytes.get(i) == Some(&b'.') {
            i += 1;
        }
        let bracket = bytes.get(i) == Some(&b'[');
        if bracket {
            // To the `]` that closes it, outside quotes (a filter may hold brackets).
            let mut scan = Scan::default();
            while let Some(&c) = bytes.get(i) {
                i += 1;
                if scan.take(c) == Some(b']') && scan.depth == 0 {
                    break;
                }
            }
        } else {
            while i < bytes.len() && !matches!(bytes[i], b'.' | b'[') {
                i += 1;
            }
        }
        let text = path[start..i].trim().trim_start_matches('.').trim();
        let inner = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .map(str::trim);
        let name = match inner {
            Some(inner) if bracket => string_literal(inner),
            _ => (!bracket && text != "*").then(|| text.to_owned()),
        };
        let filter = bracket && has_filter(text);
        let kind = match name {
            Some(name) if descendant => SegmentKind::Descendant(name),
            Some(name) => SegmentKind::Name(name),
            None if descendant => SegmentKind::Search { filter },
            None if filter => SegmentKind::Filter,
            None if inner.is_some_and(is_index) => SegmentKind::Index,
            None => SegmentKind::Many,
        };
        out.push((i, kind));
        if i == start {
            // Not reached for a path that parses; a guard against a loop.
            break;
        }
    }
    out
}

/// Whether a bracket's inner text is one index (`0`, `-1`): it selects one entry, not many.
fn is_index(inner: &str) -> bool {
    let digits = inner.strip_prefix('-').unwrap_or(inner);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The string a JSONPath string literal (`'it\\'s'`, `"data"`) stands for, when `text` is
/// exactly one; `None` for anything else (a union of names, a filter, an index).
pub(super) fn string_literal(text: &str) -> Option<String> {
    let quote = text.chars().next().filter(|&q| q == '\'' || q == '"')?;
    let mut json = String::from("\"");
    let mut chars = text[1..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                '\'' => json.push('\''),
                e => {
                    json.push('\\');
                    json.push(e);
                }
            },
            '"' if quote == '"' => {
                json.push('"');
                return if chars.next().is_none() {
                    serde_json::from_str(&json).ok()
                } else {
                    None
                };
            }
            '\'' if quote == '\'' => {
                json.push('"');
                return if chars.next().is_none() {
                    serde_json::from_str(&json).ok()
                } else {
                    None
                };
            }
            '"' => json.push_str("\\\""),
            c => json.push(c),
        }
    }
    None
}
