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
    /// The name of the user `id`, as shown.
    fn user_name(&self, id: &str) -> Option<&str> {
        self.users.get(id).map(|u| u.shown())
    }

    /// Who wrote `m`: the user's name, else the bot's, else the id.
    pub(crate) fn author<'a>(&'a self, m: &'a Message) -> &'a str {
        m.user
            .as_deref()
            .and_then(|u| self.user_name(u))
            .or_else(|| m.bot_profile.as_ref().map(|b| b.name.as_str()))
            .or(m.username.as_deref())
            .or(m.user.as_deref())
            .filter(|s| !s.trim().is_empty())
            .unwrap_or("Unknown")
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
    let author = first.map_or("Unknown", |m| names.author(m));

    // Each message's header, its blocks and its files, in one list of blocks; the first
    // message's title text read from its blocks when they are one line of it.
    let mut blocks = Vec::with_capacity(messages.len() * 3);
    let mut first_text: Option<String> = None;
    for (at, m) in messages.iter().enumerate() {
        let when = parse_ts(&m.ts)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
            .unwrap_or_else(|| m.ts.clone());
        blocks.push(Block::Paragraph(vec![
            Inline::Strong(vec![Inline::Text(names.author(m).to_owned())]),
            Inline::Text(format!(" · {when}")),
        ]));
        let body = m.body();
        let from = blocks.len();
        push_mrkdwn_blocks(&body, names, &mut blocks);
        if at == 0 {
            let mut text = String::with_capacity(body.len());
            match blocks.get(from..) {
                // One line: its paragraph is what a read of the whole text as a line gives.
                Some([Block::Paragraph(content)]) if one_line(&body) => {
                    content.iter().for_each(|i| flatten(i, &mut text));
                }
                Some([]) if one_line(&body) => {}
                _ => plain_into(&body, names, &mut text),
            }
            first_text = Some(text);
        }
        for f in &m.files {
            let name = f
                .title
                .as_deref()
                .or(f.name.as_deref())
                .unwrap_or("file")
                .to_owned();
            let inline = match &f.permalink {
                Some(link) => Inline::link(vec![Inline::Text(name)], link.clone()),
                None => Inline::Text(name),
            };
            blocks.push(Block::Paragraph(vec![Inline::text("Attached: "), inline]));
        }
    }
    let snippet = snippet(first_text.as_deref().unwrap_or(""), 50);
    let title = format!("{author} in #{}: {snippet}", channel.name);
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
                .and_then(|u| u.profile.email.as_deref())
                .unwrap_or_else(|| names.author(m));
            if !owners.iter().any(|o| o == name) {
                owners.push(name.to_owned());
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
        .with_metadata("author", author.to_owned())
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

/// The first `max` characters of `text` on one line (its words joined by one space), `...`
/// when cut: one pass that stops at the cut.
fn snippet(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(max.min(text.len()) + 4);
    let mut count = 0;
    let mut cut = false;
    'words: for word in text.split_whitespace() {
        if count > 0 {
            if count == max {
                cut = true;
                break;
            }
            out.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count == max {
                cut = true;
                break 'words;
            }
            out.push(c);
            count += 1;
        }
    }
    if cut {
        out.truncate(out.trim_end().len());
        out.push_str("...");
    }
    out
}

/// `mrkdwn` as plain text (for titles): mentions resolved, markers kept, the whole text read
/// as one line.
fn plain_into(text: &str, names: &Names, out: &mut String) {
    scan(text, |piece| match piece {
        Piece::Text(t) => unescape_into(t, out),
        Piece::Code(c) => unescape_into(c, out),
        Piece::Span(_, inner) => plain_into(inner, names, out),
        Piece::Angle(inner) => flatten(&angle(inner, names), out),
    });
}

/// Whether `text` reads as one paragraph of one line ([`mrkdwn_blocks`] gives its inlines
/// alone, the same a read of the whole text as one line gives): no line break, no code
/// block, no quote.
fn one_line(text: &str) -> bool {
    !text.contains(['\n', '\r']) && !text.contains("```") && !text.starts_with("&gt;")
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
#[cfg(test)]
pub(crate) fn mrkdwn_blocks(text: &str, names: &Names) -> Vec<Block> {
    let mut blocks = Vec::new();
    push_mrkdwn_blocks(text, names, &mut blocks);
    blocks
}

/// [`mrkdwn_blocks`], appended to `blocks` (a thread's, one list for all its messages).
fn push_mrkdwn_blocks(text: &str, names: &Names, blocks: &mut Vec<Block>) {
    // Odd parts of a split on ``` are code.
    for (i, part) in text.split("```").enumerate() {
        if i % 2 == 1 {
            let mut code = String::with_capacity(part.len());
            unescape_into(part, &mut code);
            blocks.push(Block::code(None, code));
            continue;
        }
        // The lines of the open paragraph or quote, written as they come: a line break
        // between two lines, a new block where a line changes kind.
        let mut open: Option<(Vec<Inline>, bool)> = None;
        for line in part.lines() {
            let quoted = line
                .strip_prefix("&gt; ")
                .or_else(|| line.strip_prefix("&gt;"));
            let (line, quote) = match quoted {
                Some(q) => (q, true),
                None if line.trim().is_empty() => {
                    close(&mut open, blocks);
                    continue;
                }
                None => (line, false),
            };
            match &mut open {
                Some((content, q)) if *q == quote => {
                    content.push(Inline::LineBreak);
                    push_inlines(line, names, content);
                }
                _ => {
                    close(&mut open, blocks);
                    let mut content = Vec::new();
                    push_inlines(line, names, &mut content);
                    open = Some((content, quote));
                }
            }
        }
        close(&mut open, blocks);
    }
}

fn close(open: &mut Option<(Vec<Inline>, bool)>, blocks: &mut Vec<Block>) {
    if let Some((content, quoted)) = open.take() {
        let para = Block::paragraph(content);
        blocks.push(if quoted {
            Block::quote(vec![para])
        } else {
            para
        });
    }
}

/// One line of `mrkdwn` as inlines, appended to `out`.
fn push_inlines(text: &str, names: &Names, out: &mut Vec<Inline>) {
    scan(text, |piece| {
        out.push(match piece {
            Piece::Text(t) => Inline::Text(unescape(t)),
            Piece::Code(c) => Inline::Code(unescape(c)),
            Piece::Angle(inner) => angle(inner, names),
            Piece::Span(marker, inner) => {
                let mut content = Vec::new();
                push_inlines(inner, names, &mut content);
                match marker {
                    b'*' => Inline::Strong(content),
                    b'_' => Inline::Emphasis(content),
                    _ => Inline::Strikethrough(content),
                }
            }
        });
    });
}

/// What [`scan`] finds in a line of `mrkdwn`, each a slice of it (still escaped).
enum Piece<'a> {
    /// Text between the others.
    Text(&'a str),
    /// What `<…>` holds.
    Angle(&'a str),
    /// What `` `…` `` holds (not empty).
    Code(&'a str),
    /// What a `*…*`, `_…_` or `~…~` span holds, with its marker.
    Span(u8, &'a str),
}

/// The pieces of `text`, in order, in one pass over its bytes (every marker is ASCII, so
/// every marker's position is a character boundary).
fn scan<'a>(text: &'a str, mut emit: impl FnMut(Piece<'a>)) {
    let bytes = text.as_bytes();
    // Where the text not yet handed on starts.
    let mut from = 0;
    let mut i = 0;
    while i < bytes.len() {
        let found = match bytes[i] {
            b'<' => find(bytes, i + 1, b'>').map(|end| (Piece::Angle(&text[i + 1..end]), end)),
            b'`' => find(bytes, i + 1, b'`')
                .filter(|&end| end > i + 1)
                .map(|end| (Piece::Code(&text[i + 1..end]), end)),
            m @ (b'*' | b'_' | b'~') => {
                span_end(text, i).map(|end| (Piece::Span(m, &text[i + 1..end]), end))
            }
            _ => None,
        };
        match found {
            Some((piece, end)) => {
                if from < i {
                    emit(Piece::Text(&text[from..i]));
                }
                emit(piece);
                i = end + 1;
                from = i;
            }
            None => i += 1,
        }
    }
    if from < bytes.len() {
        emit(Piece::Text(&text[from..]));
    }
}

fn find(bytes: &[u8], from: usize, b: u8) -> Option<usize> {
    bytes
        .get(from..)?
        .iter()
        .position(|&x| x == b)
        .map(|p| p + from)
}

/// Where the span opened by the marker at byte `start` closes, by Slack's rules: the opening
/// marker starts a word and is followed by a non-space, the closing one ends a word.
fn span_end(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let marker = bytes[start];
    let opens = text[..start]
        .chars()
        .next_back()
        .is_none_or(|p| !p.is_alphanumeric());
    let next = text[start + 1..].chars().next()?;
    if !opens || next.is_whitespace() || next == char::from(marker) {
        return None;
    }
    let mut j = start + 1 + next.len_utf8();
    while let Some(at) = find(bytes, j, marker) {
        let before = text[..at].chars().next_back();
        if before.is_some_and(|b| !b.is_whitespace())
            && text[at + 1..]
                .chars()
                .next()
                .is_none_or(|n| !n.is_alphanumeric())
        {
            return Some(at);
        }
        j = at + 1;
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
        let mut out = String::from("@");
        match names.user_name(id) {
            Some(name) => unescape_into(name, &mut out),
            None => unescape_into(label.unwrap_or(id), &mut out),
        }
        return Inline::Text(out);
    }
    if let Some(id) = target.strip_prefix('#') {
        let mut out = String::from("#");
        let name = label
            .or_else(|| names.channels.get(id).map(String::as_str))
            .unwrap_or(id);
        unescape_into(name, &mut out);
        return Inline::Text(out);
    }
    if let Some(special) = target.strip_prefix('!') {
        if let Some(l) = label {
            return Inline::Text(unescape(l));
        }
        let word = special.split('^').next().unwrap_or(special);
        return Inline::Text(format!("@{word}"));
    }
    let url = unescape(target);
    match label {
        Some(l) if !l.is_empty() && unescape(l) != url => {
            let mut content = Vec::new();
            push_inlines(l, names, &mut content);
            Inline::link(content, url)
        }
        _ => Inline::Autolink(url),
    }
}

/// Slack's three escapes undone.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    unescape_into(s, &mut out);
    out
}

/// [`unescape`], appended to `out`: one pass, each `&` looked at once.
fn unescape_into(s: &str, out: &mut String) {
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (c, len) = if tail.starts_with("&lt;") {
            ('<', 4)
        } else if tail.starts_with("&gt;") {
            ('>', 4)
        } else if tail.starts_with("&amp;") {
            ('&', 5)
        } else {
            ('&', 1)
        };
        out.push(c);
        rest = &tail[len..];
    }
    out.push_str(rest);
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
