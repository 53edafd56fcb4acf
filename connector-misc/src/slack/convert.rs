//! Slack's `mrkdwn` as Markdown (through core's writer), and a thread as a document.
//!
//! `mrkdwn` (docs.slack.dev/messaging/formatting-message-text): `*bold*`, `_italic_`,
//! `~strike~`, `` `code` ``, ```` ``` ```` blocks, `>` quotes, and in angle brackets
//! `<@U123>` (a user), `<#C123|name>` (a channel), `<!here>`, `<!subteam^S1|@team>`,
//! `<!date^…|fallback>`, `<https://…|text>` (a link); `&`, `<` and `>` arrive as `&amp;`,
//! `&lt;`, `&gt;`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use connector_core::text::markdown::{self, Block, Inline};
use connector_core::{Access, Document};
use url::Url;

use super::SOURCE;
use super::model::{Channel, Message, User, parse_ts};

/// Names for the ids a message holds.
#[derive(Debug, Default)]
pub(crate) struct Names {
    /// User id → the user (shared with the connector's cache, not copied per thread).
    pub(crate) users: HashMap<String, Arc<User>>,
    /// Channel id → name.
    pub(crate) channels: Arc<HashMap<String, String>>,
}

impl Names {
    fn user(&self, id: &str) -> Option<String> {
        self.users.get(id).map(|u| u.display())
    }

    /// Who wrote `m`: the user's name, else the bot's, else the id.
    pub(crate) fn author(&self, m: &Message) -> String {
        m.user
            .as_deref()
            .and_then(|u| self.user(u))
            .or_else(|| m.bot_profile.as_ref().map(|b| b.name.clone()))
            .or_else(|| m.username.clone())
            .or_else(|| m.user.clone())
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "Unknown".to_owned())
    }
}

/// A channel as the documents of its threads need it.
#[derive(Debug, Clone)]
pub(crate) struct ChannelInfo {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) private: bool,
    /// `https://acme.slack.com`, parsed once; none when `auth.test` gave no URL.
    workspace: Option<Url>,
    pub(crate) team_id: String,
    pub(crate) access: Access,
    /// A hash of `access`, part of every version token of the channel's threads.
    access_hash: String,
}

impl ChannelInfo {
    /// From a listed channel, the workspace and who may read it.
    pub(crate) fn new(
        channel: &Channel,
        workspace_url: &str,
        team_id: &str,
        access: Access,
    ) -> Self {
        let url = workspace_url.trim_end_matches('/');
        let access_hash = connector_core::ids::hash128(&format!(
            "{}|{}|{}",
            access.emails.join(","),
            access.groups.join(","),
            access.public
        ));
        Self {
            id: channel.id.clone(),
            name: channel.name.clone(),
            private: channel.is_private,
            workspace: (!url.is_empty())
                .then(|| Url::parse(url).ok())
                .flatten()
                .filter(|u| !u.cannot_be_a_base()),
            team_id: team_id.to_owned(),
            access,
            access_hash,
        }
    }

    /// The web link of the message `ts` (`…/archives/C123/p1512085950000216`).
    pub(crate) fn message_link(&self, ts: &str) -> Option<Url> {
        // The workspace's URL parsed once; a link is its copy with three more segments.
        let mut link = self.workspace.clone()?;
        link.path_segments_mut().ok()?.pop_if_empty().extend([
            "archives",
            &self.id,
            &format!("p{}", ts.replace('.', "")),
        ]);
        Some(link)
    }
}

/// RAGFlow's document id of a thread (or a lone message): `{channel}__{thread_ts}`.
pub(crate) fn thread_id(channel: &str, ts: &str) -> String {
    format!("{channel}__{ts}")
}

/// The version token of a thread as its parent is listed: the parent's `ts`, edit, reply
/// count and latest reply, and the channel's access. A new reply moves `latest_reply`; an
/// edit of the parent moves `edited.ts`.
pub(crate) fn thread_version(channel: &ChannelInfo, parent: &Message) -> String {
    format!(
        "{}:{}:{}:{}:{}",
        parent.ts,
        parent.edited.as_ref().map_or("", |e| e.ts.as_str()),
        parent.reply_count.unwrap_or(0),
        parent.latest_reply.as_deref().unwrap_or(""),
        channel.access_hash
    )
}

/// The version token of a thread once its replies are read: [`thread_version`] and, when
/// a reply was edited, each edited reply's `ts` and `edited.ts` (which Slack's listing does
/// not show).
pub(crate) fn thread_version_read(
    channel: &ChannelInfo,
    parent: &Message,
    messages: &[Message],
) -> String {
    let listed = thread_version(channel, parent);
    let edits: Vec<String> = messages
        .iter()
        .filter(|m| m.ts != parent.ts)
        .filter_map(|m| m.edited.as_ref().map(|e| format!("{}@{}", m.ts, e.ts)))
        .collect();
    if edits.is_empty() {
        listed
    } else {
        format!("{listed}|replies-edited:{}", edits.join(","))
    }
}

/// Every user id a message names: its author and its `<@U…>` mentions.
pub(crate) fn user_ids(m: &Message, out: &mut Vec<String>) {
    if let Some(u) = &m.user {
        out.push(u.clone());
    }
    let body = m.body();
    let mut rest = body.as_ref();
    while let Some(at) = rest.find("<@") {
        rest = &rest[at + 2..];
        let end = rest.find(['>', '|']).unwrap_or(rest.len());
        let id = &rest[..end];
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            out.push(id.to_owned());
        }
    }
}

/// A thread as one document: the parent and its replies (already filtered), oldest first,
/// each under its author and time, as Markdown. `updated_at` is the newest message of the
/// thread as listed (`all_latest`: every message, filtered ones too, so it agrees with the
/// parent's `latest_reply`).
pub(crate) fn thread_document(
    channel: &ChannelInfo,
    thread_ts: &str,
    messages: &[Message],
    all_latest: Option<DateTime<Utc>>,
    names: &Names,
    version: &str,
) -> Document {
    let first = messages.first();
    let author = first.map_or_else(|| "Unknown".to_owned(), |m| names.author(m));
    let first_text = first.map(|m| plain(&m.body(), names)).unwrap_or_default();
    let snippet = snippet(&first_text, 50);
    let title = format!("{author} in #{}: {snippet}", channel.name);

    let mut blocks = Vec::new();
    for m in messages {
        let when = parse_ts(&m.ts)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_else(|| m.ts.clone());
        blocks.push(Block::paragraph(vec![
            Inline::strong(vec![Inline::text(names.author(m))]),
            Inline::text(format!(" · {when}")),
        ]));
        blocks.extend(mrkdwn_blocks(&m.body(), names));
        for f in &m.files {
            let name = f
                .title
                .clone()
                .or_else(|| f.name.clone())
                .unwrap_or_else(|| "file".to_owned());
            let inline = match &f.permalink {
                Some(link) => Inline::link(vec![Inline::text(name)], link.clone()),
                None => Inline::text(name),
            };
            blocks.push(Block::paragraph(vec![Inline::text("Attached: "), inline]));
        }
    }
    // One buffer sized for the messages' text and their headers.
    let size: usize = messages.iter().map(|m| m.text.len() + 64).sum();
    let mut text = String::with_capacity(size);
    markdown::render_into(&mut text, &blocks);

    let mut owners: Vec<String> = Vec::new();
    for m in messages {
        if let Some(u) = m.user.as_deref() {
            let name = names
                .users
                .get(u)
                .and_then(|u| u.profile.email.clone())
                .unwrap_or_else(|| names.author(m));
            if !owners.contains(&name) {
                owners.push(name);
            }
        }
    }
    let id = thread_id(&channel.id, thread_ts);
    let mut doc = Document::text(id, SOURCE, title, text)
        .with_metadata("channel", channel.name.clone())
        .with_metadata("channel_id", channel.id.clone())
        .with_metadata("team_id", channel.team_id.clone())
        .with_metadata("thread_ts", thread_ts.to_owned())
        .with_metadata("replies", messages.len().saturating_sub(1))
        .with_metadata("author", author)
        .with_metadata("private", channel.private)
        .with_owners(owners)
        .with_access(channel.access.clone())
        .with_version(version);
    if let Some(t) = parse_ts(thread_ts) {
        doc = doc.with_metadata("created_at", t.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    let latest = messages
        .iter()
        .filter_map(|m| parse_ts(&m.ts))
        .chain(all_latest)
        .max();
    if let Some(t) = latest {
        doc = doc.with_updated_at(t);
    }
    if let Some(link) = channel.message_link(thread_ts) {
        doc = doc.with_link(link);
    }
    doc
}

/// The first `max` characters of `text` on one line, `…` when cut.
fn snippet(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > max {
        let cut: String = one_line.chars().take(max).collect();
        format!("{}...", cut.trim_end())
    } else {
        one_line
    }
}

/// `mrkdwn` as plain text (for titles): mentions resolved, markers kept.
fn plain(text: &str, names: &Names) -> String {
    let mut out = String::new();
    for inline in inlines(text, names) {
        flatten(&inline, &mut out);
    }
    out
}

fn flatten(inline: &Inline, out: &mut String) {
    match inline {
        Inline::Text(t) | Inline::Code(t) | Inline::Autolink(t) => out.push_str(t),
        Inline::Strong(c) | Inline::Emphasis(c) | Inline::Strikethrough(c) => {
            c.iter().for_each(|i| flatten(i, out));
        }
        Inline::Link { content, .. } => content.iter().for_each(|i| flatten(i, out)),
        Inline::SoftBreak | Inline::LineBreak => out.push(' '),
        _ => {}
    }
}

/// `mrkdwn` as Markdown blocks: code blocks, quotes (`&gt; `) and paragraphs whose line
/// breaks are kept (Slack shows every one).
pub(crate) fn mrkdwn_blocks(text: &str, names: &Names) -> Vec<Block> {
    let mut blocks = Vec::new();
    // Odd parts of a split on ``` are code.
    for (i, part) in text.split("```").enumerate() {
        if i % 2 == 1 {
            blocks.push(Block::code(None, unescape(part)));
            continue;
        }
        let mut para: Vec<&str> = Vec::new();
        let mut quote: Vec<&str> = Vec::new();
        for line in part.lines() {
            let quoted = line
                .strip_prefix("&gt; ")
                .or_else(|| line.strip_prefix("&gt;"));
            match quoted {
                Some(q) => {
                    flush(&mut para, &mut blocks, names, false);
                    quote.push(q);
                }
                None if line.trim().is_empty() => {
                    flush(&mut para, &mut blocks, names, false);
                    flush(&mut quote, &mut blocks, names, true);
                }
                None => {
                    flush(&mut quote, &mut blocks, names, true);
                    para.push(line);
                }
            }
        }
        flush(&mut para, &mut blocks, names, false);
        flush(&mut quote, &mut blocks, names, true);
    }
    blocks
}

fn flush(lines: &mut Vec<&str>, blocks: &mut Vec<Block>, names: &Names, quoted: bool) {
    if lines.is_empty() {
        return;
    }
    let mut content = Vec::new();
    for (i, line) in lines.drain(..).enumerate() {
        if i > 0 {
            content.push(Inline::LineBreak);
        }
        content.extend(inlines(line, names));
    }
    let para = Block::paragraph(content);
    blocks.push(if quoted {
        Block::quote(vec![para])
    } else {
        para
    });
}

/// One line of `mrkdwn` as inlines.
pub(crate) fn inlines(text: &str, names: &Names) -> Vec<Inline> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '<' => {
                if let Some(end) = find(&chars, i + 1, '>') {
                    let inner: String = chars[i + 1..end].iter().collect();
                    push_text(&mut buf, &mut out);
                    out.push(angle(&inner, names));
                    i = end + 1;
                    continue;
                }
            }
            '`' => {
                if let Some(end) = find(&chars, i + 1, '`')
                    && end > i + 1
                {
                    push_text(&mut buf, &mut out);
                    let code: String = chars[i + 1..end].iter().collect();
                    out.push(Inline::code(unescape(&code)));
                    i = end + 1;
                    continue;
                }
            }
            '*' | '_' | '~' => {
                if let Some(end) = span_end(&chars, i) {
                    push_text(&mut buf, &mut out);
                    let inner: String = chars[i + 1..end].iter().collect();
                    let content = inlines(&inner, names);
                    out.push(match c {
                        '*' => Inline::strong(content),
                        '_' => Inline::emphasis(content),
                        _ => Inline::strikethrough(content),
                    });
                    i = end + 1;
                    continue;
                }
            }
            _ => {}
        }
        buf.push(c);
        i += 1;
    }
    push_text(&mut buf, &mut out);
    out
}

fn push_text(buf: &mut String, out: &mut Vec<Inline>) {
    if !buf.is_empty() {
        out.push(Inline::text(unescape(buf)));
        buf.clear();
    }
}

fn find(chars: &[char], from: usize, c: char) -> Option<usize> {
    chars
        .get(from..)?
        .iter()
        .position(|&x| x == c)
        .map(|p| p + from)
}

/// Where the span opened by the marker at `start` closes, by Slack's rules: the opening
/// marker starts a word and is followed by a non-space, the closing one ends a word.
fn span_end(chars: &[char], start: usize) -> Option<usize> {
    let marker = chars[start];
    let opens = start == 0 || !chars[start - 1].is_alphanumeric();
    let next = chars.get(start + 1)?;
    if !opens || next.is_whitespace() || *next == marker {
        return None;
    }
    let mut j = start + 2;
    while j < chars.len() {
        if chars[j] == marker
            && !chars[j - 1].is_whitespace()
            && chars.get(j + 1).is_none_or(|n| !n.is_alphanumeric())
        {
            return Some(j);
        }
        j += 1;
    }
    None
}

/// What `<…>` holds.
fn angle(inner: &str, names: &Names) -> Inline {
    let (target, label) = match inner.split_once('|') {
        Some((t, l)) => (t, Some(l)),
        None => (inner, None),
    };
    if let Some(id) = target.strip_prefix('@') {
        let name = names
            .user(id)
            .or_else(|| label.map(str::to_owned))
            .unwrap_or_else(|| id.to_owned());
        return Inline::text(format!("@{}", unescape(&name)));
    }
    if let Some(id) = target.strip_prefix('#') {
        let name = label
            .map(str::to_owned)
            .or_else(|| names.channels.get(id).cloned())
            .unwrap_or_else(|| id.to_owned());
        return Inline::text(format!("#{}", unescape(&name)));
    }
    if let Some(special) = target.strip_prefix('!') {
        if let Some(l) = label {
            return Inline::text(unescape(l));
        }
        let word = special.split('^').next().unwrap_or(special);
        return Inline::text(format!("@{word}"));
    }
    let url = unescape(target);
    match label {
        Some(l) if !l.is_empty() && unescape(l) != url => Inline::link(inlines(l, names), url),
        _ => Inline::autolink(url),
    }
}

/// Slack's three escapes undone.
fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::model::Profile;

    fn names() -> Names {
        let mut n = Names::default();
        n.users.insert(
            "U061F7AUR".into(),
            Arc::new(User {
                id: "U061F7AUR".into(),
                name: "ana".into(),
                real_name: Some("Ana Lima".into()),
                profile: Profile {
                    display_name: Some("ana.l".into()),
                    real_name: Some("Ana Lima".into()),
                    email: Some("ana@example.com".into()),
                },
            }),
        );
        n.channels = Arc::new(HashMap::from([("C012AB3CD".into(), "general".into())]));
        n
    }

    fn md(text: &str) -> String {
        markdown::render(&mrkdwn_blocks(text, &names()))
    }

    #[test]
    fn mentions_links_and_emphasis() {
        assert_eq!(
            md(
                "Hi <@U061F7AUR>, see <#C012AB3CD> and <https://example.com/a?b=1&amp;c=2|the *docs*>"
            ),
            "Hi @ana.l, see #general and [the **docs**](https://example.com/a?b=1&c=2)"
        );
        assert_eq!(
            md("*bold* _it_ ~gone~ `a*b` snake_case_name 2*3*4"),
            "**bold** *it* ~~gone~~ `a*b` snake_case_name 2\\*3\\*4"
        );
        assert_eq!(
            md(
                "<!here> <!subteam^SAZ94GDB8|@ops> <!date^1392734382^{date}|Feb 18, 2014> <#C1|eng> <@U999>"
            ),
            "@here @ops Feb 18, 2014 #eng @U999"
        );
        assert_eq!(md("<https://example.com>"), "<https://example.com>");
        assert_eq!(md("a &lt;b&gt; &amp; c"), "a \\<b> & c");
    }

    #[test]
    fn blocks_quotes_and_code() {
        assert_eq!(
            md("line one\nline two\n\n&gt; quoted\n```let x = *a*;```"),
            "line one  \nline two\n\n> quoted\n\n```\nlet x = *a*;\n```"
        );
    }

    #[test]
    fn user_ids_of_a_message() {
        let m: Message = serde_json::from_value(serde_json::json!({
            "type": "message", "ts": "1.000001", "user": "U1",
            "text": "cc <@U2> <@U3|bob> <@bad id>"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let mut ids = Vec::new();
        user_ids(&m, &mut ids);
        assert_eq!(ids, ["U1", "U2", "U3"]);
    }
}
