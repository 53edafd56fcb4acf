//! Jira wiki markup (Server/Data Center, REST v2) → Markdown.
//!
//! Block level: `h1.`–`h6.`, `bq.`, `{quote}`, `{panel}`, `{code[:lang]}`, `{noformat}`, `*`/`#`
//! lists (nested, mixed), `||header||` and `|cell|` tables, `----`. Inline: `*bold*`,
//! `_italic_`, `-strike-`, `+inserted+`, `{{monospace}}`, `[text|url]`, `[url]`, `[~user]`,
//! `!image!`, `{color}` (dropped). Anything else passes through as text.

/// Wiki markup as Markdown.
pub(crate) fn to_markdown(src: &str) -> String {
    let src = src.replace("\r\n", "\n").replace('\r', "\n");
    let mut out: Vec<String> = Vec::new();
    let mut lines = src.lines().peekable();
    let mut quote = false;
    let mut in_table = false;
    while let Some(raw) = lines.next() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        let is_row = trimmed.starts_with('|');
        if in_table && !is_row {
            in_table = false;
        }
        // Preformatted blocks: everything up to the closing tag, raw.
        if let Some((tag, lang, rest)) = preformatted_open(trimmed) {
            let mut code = Vec::new();
            let close = format!("{{{tag}}}");
            let mut first = Some(rest.to_owned());
            loop {
                let current = match first.take() {
                    Some(r) => r,
                    None => match lines.next() {
                        Some(l) => l.to_owned(),
                        None => break,
                    },
                };
                if let Some(pos) = current.find(&close) {
                    let before = &current[..pos];
                    if !before.trim().is_empty() {
                        code.push(before.to_owned());
                    }
                    break;
                }
                code.push(current);
            }
            while code.first().is_some_and(|l| l.trim().is_empty()) {
                code.remove(0);
            }
            let body = code.join("\n");
            let fence = if body.contains("```") { "~~~~" } else { "```" };
            push_quoted(&mut out, quote, &format!("{fence}{lang}\n{body}\n{fence}"));
            continue;
        }
        if trimmed.starts_with("{quote}")
            || (trimmed.starts_with("{panel") && trimmed.ends_with('}'))
        {
            // `{quote}` and `{panel}` open and close the same way.
            quote = !quote;
            let rest = trimmed
                .strip_prefix("{quote}")
                .unwrap_or("")
                .trim()
                .to_owned();
            if quote && trimmed.starts_with("{panel:") {
                if let Some(title) = panel_title(trimmed) {
                    out.push(format!("> **{}**", inline(&title)));
                }
            } else if !rest.is_empty() {
                push_quoted(&mut out, quote, &inline(&rest));
            }
            continue;
        }
        if let Some(text) = trimmed.strip_suffix("{quote}") {
            if !text.trim().is_empty() {
                push_quoted(&mut out, quote, &inline(text.trim()));
            }
            quote = false;
            continue;
        }
        if trimmed.is_empty() {
            out.push(if quote { ">".to_owned() } else { String::new() });
            continue;
        }
        let converted = if let Some((level, text)) = heading(trimmed) {
            format!("{} {}", "#".repeat(level), inline(text))
        } else if let Some(text) = trimmed.strip_prefix("bq. ") {
            format!("> {}", inline(text))
        } else if trimmed.chars().all(|c| c == '-') && trimmed.len() >= 4 {
            // Not `---`: right under a line of text that would make it a heading.
            "***".to_owned()
        } else if let Some((markers, text)) = list_item(trimmed) {
            let depth = markers.len();
            let marker = if markers.ends_with('#') { "1." } else { "-" };
            format!("{}{marker} {}", "   ".repeat(depth - 1), inline(text))
        } else if is_row {
            let header = trimmed.starts_with("||");
            let cells = table_cells(trimmed);
            let row = format!("| {} |", cells.join(" | "));
            if in_table {
                row
            } else {
                in_table = true;
                let sep = format!("|{}", " --- |".repeat(cells.len().max(1)));
                if header {
                    format!("{row}\n{sep}")
                } else {
                    // Markdown tables need a header row.
                    let blank = format!("|{}", "   |".repeat(cells.len().max(1)));
                    format!("{blank}\n{sep}\n{row}")
                }
            }
        } else {
            inline(trimmed)
        };
        push_quoted(&mut out, quote, &converted);
    }
    let text = out.join("\n");
    // Collapse runs of blank lines left by removed tags.
    let mut result = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        result.push_str(line);
        result.push('\n');
    }
    result.trim().to_owned()
}

fn push_quoted(out: &mut Vec<String>, quote: bool, text: &str) {
    for line in text.lines() {
        if quote {
            out.push(format!("> {line}").trim_end().to_owned());
        } else {
            out.push(line.to_owned());
        }
    }
}

/// `{code}`, `{code:java}`, `{code:title=A.java|language=java}`, `{noformat}`: the tag, the
/// language and what follows the opening tag on its line.
fn preformatted_open(line: &str) -> Option<(&'static str, String, &str)> {
    let (tag, rest) = if let Some(r) = line.strip_prefix("{code") {
        ("code", r)
    } else if let Some(r) = line.strip_prefix("{noformat") {
        ("noformat", r)
    } else {
        return None;
    };
    let end = rest.find('}')?;
    let params = &rest[..end];
    if !(params.is_empty() || params.starts_with(':')) {
        return None;
    }
    let mut lang = String::new();
    if tag == "code" {
        for p in params.trim_start_matches(':').split('|') {
            match p.split_once('=') {
                Some(("language" | "lang", l)) => lang = l.trim().to_owned(),
                Some(_) => {}
                None if !p.trim().is_empty() => lang = p.trim().to_owned(),
                None => {}
            }
        }
    }
    Some((tag, lang, &rest[end + 1..]))
}

fn panel_title(line: &str) -> Option<String> {
    let params = line.strip_prefix("{panel:")?.strip_suffix('}')?;
    params
        .split('|')
        .find_map(|p| p.strip_prefix("title="))
        .map(str::to_owned)
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let bytes = line.as_bytes();
    if bytes.len() >= 3 && bytes[0] == b'h' && bytes[2] == b'.' {
        let level = (bytes[1] as char).to_digit(10)? as usize;
        if (1..=6).contains(&level) {
            return Some((level, line[3..].trim()));
        }
    }
    None
}

fn list_item(line: &str) -> Option<(&str, &str)> {
    let end = line.find(|c: char| !matches!(c, '*' | '#' | '-'))?;
    let markers = &line[..end];
    if markers.is_empty() || !line[end..].starts_with(' ') {
        return None;
    }
    // `-` is a list marker only alone (`- item`); `--` is an em dash, `----` a rule.
    if markers.contains('-') && markers != "-" {
        return None;
    }
    Some((markers, line[end..].trim()))
}

/// The cells of a `||a||b||` or `|a|b|` row; a `|` inside `[...]` or `{{...}}` is not a
/// separator.
fn table_cells(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut current = String::new();
    let mut brackets = 0usize;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                brackets += 1;
                current.push(c);
            }
            ']' => {
                brackets = brackets.saturating_sub(1);
                current.push(c);
            }
            '|' if brackets == 0 => {
                if chars.peek() == Some(&'|') {
                    chars.next();
                }
                cells.push(std::mem::take(&mut current));
            }
            _ => current.push(c),
        }
    }
    cells.push(current);
    // The row starts and ends with a separator: drop the empty ends.
    if cells.first().is_some_and(|c| c.trim().is_empty()) {
        cells.remove(0);
    }
    if cells.last().is_some_and(|c| c.trim().is_empty()) {
        cells.pop();
    }
    cells
        .iter()
        .map(|c| inline(c.trim()).replace('|', "\\|"))
        .collect()
}

/// Inline markup of one line.
pub(crate) fn inline(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        // {{monospace}}
        if c == '{'
            && chars.get(i + 1) == Some(&'{')
            && let Some(end) = find_seq(&chars, i + 2, &['}', '}'])
        {
            let inner: String = chars[i + 2..end].iter().collect();
            out.push('`');
            out.push_str(&inner);
            out.push('`');
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
            out.push_str(&link);
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
                out.push_str(&format!("![{name}]({name})"));
                i = close + 1;
                continue;
            }
        }
        if matches!(c, '*' | '_' | '-' | '+')
            && let Some(end) = emphasis_end(&chars, i)
        {
            let inner: String = chars[i + 1..end].iter().collect();
            let inner = inline(&inner);
            let wrapped = match c {
                '*' => format!("**{inner}**"),
                '_' => format!("*{inner}*"),
                '-' => format!("~~{inner}~~"),
                _ => inner,
            };
            out.push_str(&wrapped);
            i = end + 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
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
            && chars.get(j + 1).is_none_or(|a| !a.is_alphanumeric())
    })
}

fn link(inner: &str) -> Option<String> {
    if inner.is_empty() {
        return None;
    }
    if let Some(user) = inner.strip_prefix('~') {
        return Some(format!("@{user}"));
    }
    let (text, target) = match inner.split_once('|') {
        Some((t, u)) => (Some(t.trim()), u.trim()),
        None => (None, inner.trim()),
    };
    let is_url = ["http://", "https://", "mailto:", "ftp://", "file:"]
        .iter()
        .any(|p| target.starts_with(p));
    if let Some(att) = target.strip_prefix('^') {
        return Some(text.unwrap_or(att).to_owned());
    }
    if let Some(anchor) = target.strip_prefix('#') {
        return Some(text.unwrap_or(anchor).to_owned());
    }
    match (text, is_url) {
        (Some(t), true) => Some(format!("[{}]({target})", inline(t))),
        (None, true) => Some(format!("<{target}>")),
        // `[PROJ-12]`, `[text|PROJ-12]`: an issue key or a page; keep the words.
        (Some(t), false) => Some(format!("{} ({target})", inline(t))),
        (None, false) if target.contains('-') && target.chars().any(|c| c.is_ascii_digit()) => {
            Some(target.to_owned())
        }
        (None, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_marks() {
        assert_eq!(inline("a *bold* and _it_ x"), "a **bold** and *it* x");
        assert_eq!(
            inline("snake_case_name and 2*3*4"),
            "snake_case_name and 2*3*4"
        );
        assert_eq!(inline("a - b -gone- c"), "a - b ~~gone~~ c");
        assert_eq!(inline("[Docs|https://x.io/a]"), "[Docs](https://x.io/a)");
        assert_eq!(inline("[~jdoe] see {{cfg.yml}}"), "@jdoe see `cfg.yml`");
        assert_eq!(inline("unclosed *bold"), "unclosed *bold");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "*", "**", "_", "[", "]", "!", "!!", "{{", "}}", "{", "|", "||", "h7. x", "h1.", "?",
            "??", "{code", "{code}", "[|]", "-", "- ", "*_*_",
        ] {
            let _ = to_markdown(s);
            let _ = inline(s);
        }
    }
}
