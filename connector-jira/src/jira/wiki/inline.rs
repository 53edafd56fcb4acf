//! Inline wiki markup of one line → core's Markdown inlines, and the attachments a wiki text
//! names.

use connector_core::text::markdown::Inline;

/// The attachments a wiki text shows or links by file name: `!name!`, `!name|thumbnail!`,
/// `[^name]`, `[text|^name]`.
pub(crate) fn attachment_refs(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, c) in src.char_indices() {
        let rest = &src[i + c.len_utf8()..];
        let name = match c {
            '!' => rest
                .split(['!', '\n'])
                .next()
                .filter(|_| rest.contains('!'))
                .and_then(|inner| inner.split('|').next()),
            '[' => rest
                .split([']', '\n'])
                .next()
                .and_then(|inner| inner.rsplit('|').next())
                .and_then(|target| target.trim().strip_prefix('^')),
            _ => None,
        };
        if let Some(name) = name
            .map(str::trim)
            .filter(|n| n.contains('.') && !n.contains(' '))
        {
            out.push(name.to_owned());
        }
    }
    out
}

/// Inline markup of one line.
pub(super) fn inline(text: &str) -> Vec<Inline> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut plain = String::new();
    let flush = |plain: &mut String, out: &mut Vec<Inline>| {
        if !plain.is_empty() {
            out.push(Inline::Text(std::mem::take(plain)));
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // `\\` is a line break; `\X` is a literal `X` where `X` would be markup.
        if c == '\\' {
            match chars.get(i + 1) {
                Some('\\') => {
                    flush(&mut plain, &mut out);
                    out.push(Inline::LineBreak);
                    i += 2;
                    continue;
                }
                Some(&next) if is_markup(next) => {
                    plain.push(next);
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        // {{monospace}}
        if c == '{'
            && chars.get(i + 1) == Some(&'{')
            && let Some(end) = find_seq(&chars, i + 2, &['}', '}'])
        {
            flush(&mut plain, &mut out);
            out.push(Inline::Code(chars[i + 2..end].iter().collect()));
            i = end + 2;
            continue;
        }
        // {color:red} ... {color} and other inline macros: drop the tags.
        if c == '{'
            && let Some(end) = chars[i..].iter().position(|&x| x == '}')
        {
            let tag: String = chars[i + 1..i + end].iter().collect();
            if tag == "color"
                || tag.starts_with("color:")
                || tag == "anchor"
                || tag.starts_with("anchor:")
            {
                i += end + 1;
                continue;
            }
        }
        if c == '['
            && let Some(end) = chars[i..].iter().position(|&x| x == ']')
            && let Some(link) = link(&chars[i + 1..i + end].iter().collect::<String>())
        {
            flush(&mut plain, &mut out);
            out.extend(link);
            i += end + 1;
            continue;
        }
        if c == '!'
            && let Some(end) = chars[i + 1..]
                .iter()
                .position(|&x| x == '!' || x.is_whitespace())
            && end > 0
            && chars[i + 1 + end] == '!'
        {
            let close = i + 1 + end;
            let inner: String = chars[i + 1..close].iter().collect();
            let name = inner.split('|').next().unwrap_or("");
            if name.contains('.') {
                flush(&mut plain, &mut out);
                out.push(Inline::image(name, name));
                i = close + 1;
                continue;
            }
        }
        if matches!(c, '*' | '_' | '-' | '+')
            && let Some(end) = emphasis_end(&chars, i)
        {
            flush(&mut plain, &mut out);
            let inner = inline(&chars[i + 1..end].iter().collect::<String>());
            match c {
                '*' => out.push(Inline::Strong(inner)),
                '_' => out.push(Inline::Emphasis(inner)),
                '-' => out.push(Inline::Strikethrough(inner)),
                _ => out.extend(inner),
            }
            i = end + 1;
            continue;
        }
        plain.push(c);
        i += 1;
    }
    flush(&mut plain, &mut out);
    out
}

/// The characters a backslash makes literal.
fn is_markup(c: char) -> bool {
    matches!(
        c,
        '*' | '_' | '-' | '+' | '^' | '~' | '?' | '{' | '}' | '[' | ']' | '|' | '!' | '#'
    )
}

fn find_seq(chars: &[char], from: usize, seq: &[char]) -> Option<usize> {
    (from..chars.len().saturating_sub(seq.len() - 1)).find(|&j| chars[j..].starts_with(seq))
}

/// Where the emphasis opened at `i` closes: the opener follows a non-word character and
/// precedes a non-space; the closer follows a non-space and precedes a non-word character.
fn emphasis_end(chars: &[char], i: usize) -> Option<usize> {
    let c = chars[i];
    if i > 0 && chars[i - 1].is_alphanumeric() {
        return None;
    }
    let first = *chars.get(i + 1)?;
    if first.is_whitespace() || first == c {
        return None;
    }
    (i + 2..chars.len()).find(|&j| {
        chars[j] == c
            && !chars[j - 1].is_whitespace()
            && chars[j - 1] != '\\'
            && chars.get(j + 1).is_none_or(|a| !a.is_alphanumeric())
    })
}

fn link(inner: &str) -> Option<Vec<Inline>> {
    if inner.is_empty() {
        return None;
    }
    if let Some(user) = inner.strip_prefix('~') {
        return Some(vec![Inline::Text(format!("@{user}"))]);
    }
    let (text, target) = match inner.split_once('|') {
        Some((t, u)) => (Some(t.trim()), u.trim()),
        None => (None, inner.trim()),
    };
    let is_url = ["http://", "https://", "mailto:", "ftp://", "file:"]
        .iter()
        .any(|p| target.starts_with(p));
    if let Some(att) = target.strip_prefix('^') {
        return Some(vec![Inline::text(text.unwrap_or(att))]);
    }
    if let Some(anchor) = target.strip_prefix('#') {
        return Some(vec![Inline::text(text.unwrap_or(anchor))]);
    }
    match (text, is_url) {
        (Some(t), true) => Some(vec![Inline::link(inline(t), target)]),
        (None, true) => Some(vec![Inline::autolink(target)]),
        // `[PROJ-12]`, `[text|PROJ-12]`: an issue key or a page; keep the words.
        (Some(t), false) => {
            let mut words = inline(t);
            words.push(Inline::Text(format!(" ({target})")));
            Some(words)
        }
        (None, false) if target.contains('-') && target.chars().any(|c| c.is_ascii_digit()) => {
            Some(vec![Inline::text(target)])
        }
        (None, false) => None,
    }
}
