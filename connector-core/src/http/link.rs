//! RFC 8288 `Link` headers: `<https://api.example.com/items?page=2>; rel="next"`.

use reqwest::header::{HeaderMap, LINK};
use url::Url;

/// One link of a `Link` header: its target (resolved against the request URL) and relation
/// types (lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The target.
    pub target: Url,
    /// The `rel` relation types, lower-cased (`next`, `last` ...).
    pub rels: Vec<String>,
}

/// Every link in `value`, resolving relative targets against `base`. Malformed entries are
/// skipped; a URL inside `<...>` may hold commas and semicolons.
pub fn parse_link_header(value: &str, base: &Url) -> Vec<Link> {
    let mut links = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(after_open) = rest.strip_prefix('<') else {
            // Skip to the next entry, if there is one.
            match skip_entry(rest) {
                Some(next) => {
                    rest = next;
                    continue;
                }
                None => break,
            }
        };
        let Some(close) = after_open.find('>') else {
            break;
        };
        let target = &after_open[..close];
        rest = &after_open[close + 1..];
        let (params, next) = parse_params(rest);
        rest = next;
        let rels = params
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("rel"))
            .flat_map(|(_, v)| v.split_ascii_whitespace().map(str::to_ascii_lowercase))
            .collect();
        if let Ok(target) = base.join(target.trim()) {
            links.push(Link { target, rels });
        }
        if rest.is_empty() {
            break;
        }
    }
    links
}

/// The `rel="next"` target of the `Link` headers in `headers`, if any.
pub fn next_link(headers: &HeaderMap, base: &Url) -> Option<Url> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| parse_link_header(v, base))
        .find(|l| l.rels.iter().any(|r| r == "next"))
        .map(|l| l.target)
}

/// Skips one malformed entry up to the next top-level comma.
fn skip_entry(s: &str) -> Option<&str> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            ',' if !in_quotes => return Some(&s[i + 1..]),
            _ => {}
        }
    }
    None
}

/// Parses `; name=value; name="quoted"` up to the entry's end; returns the params and the
/// input after the entry (after its comma, or empty).
fn parse_params(mut s: &str) -> (Vec<(String, String)>, &str) {
    let mut params = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix(',') {
            return (params, after);
        }
        let Some(after) = s.strip_prefix(';') else {
            return (params, skip_entry(s).unwrap_or(""));
        };
        let after = after.trim_start();
        let name_end = after
            .find(|c: char| c == '=' || c == ';' || c == ',' || c.is_whitespace())
            .unwrap_or(after.len());
        let name = after[..name_end].to_owned();
        let mut rest = after[name_end..].trim_start();
        let mut value = String::new();
        if let Some(v) = rest.strip_prefix('=') {
            let v = v.trim_start();
            if let Some(quoted) = v.strip_prefix('"') {
                let mut escaped = false;
                let mut end = quoted.len();
                for (i, c) in quoted.char_indices() {
                    if escaped {
                        value.push(c);
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = i + 1;
                        break;
                    } else {
                        value.push(c);
                    }
                }
                rest = &quoted[end.min(quoted.len())..];
            } else {
                let end = v.find([';', ',']).unwrap_or(v.len());
                value = v[..end].trim().to_owned();
                rest = &v[end..];
            }
        }
        if !name.is_empty() {
            params.push((name, value));
        }
        s = rest;
        if s.is_empty() {
            return (params, s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://api.example.com/v1/items?page=1").unwrap()
    }

    #[test]
    fn github_style() {
        let v = r#"<https://api.example.com/v1/items?page=2&per_page=30>; rel="next", <https://api.example.com/v1/items?page=9>; rel="last""#;
        let links = parse_link_header(v, &base());
        assert_eq!(links.len(), 2);
        assert_eq!(
            links[0].target.as_str(),
            "https://api.example.com/v1/items?page=2&per_page=30"
        );
        assert_eq!(links[0].rels, ["next"]);
        assert_eq!(links[1].rels, ["last"]);
    }

    #[test]
    fn commas_in_urls_quotes_relative_and_multi_rel() {
        let v =
            r#"<?a=1,2;b>; title="x, y; z"; rel="prev first", </v1/items?cursor=abc>; REL=Next"#;
        let links = parse_link_header(v, &base());
        assert_eq!(links.len(), 2, "{links:?}");
        assert_eq!(
            links[0].target.as_str(),
            "https://api.example.com/v1/items?a=1,2;b"
        );
        assert_eq!(links[0].rels, ["prev", "first"]);
        assert_eq!(
            links[1].target.as_str(),
            "https://api.example.com/v1/items?cursor=abc"
        );
        assert_eq!(links[1].rels, ["next"]);
    }

    #[test]
    fn malformed_entries_are_skipped() {
        let v = r#"garbage; rel="next", <https://x.example/2>; rel=next, <unterminated"#;
        let links = parse_link_header(v, &base());
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].target.as_str(), "https://x.example/2");
        assert!(parse_link_header("", &base()).is_empty());
    }

    #[test]
    fn next_link_from_several_headers() {
        let mut h = HeaderMap::new();
        h.append(
            LINK,
            r#"<https://x.example/last>; rel="last""#.parse().unwrap(),
        );
        h.append(
            LINK,
            r#"<https://x.example/next>; rel="next""#.parse().unwrap(),
        );
        assert_eq!(
            next_link(&h, &base()).unwrap().as_str(),
            "https://x.example/next"
        );
        assert_eq!(next_link(&HeaderMap::new(), &base()), None);
    }
}
