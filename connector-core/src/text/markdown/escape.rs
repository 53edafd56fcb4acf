//! Which written characters need a backslash: the rules that decide it from the characters
//! that follow, and the syntax helpers (autolinks, destinations, flanking) they rest on.

/// The character after an earlier one, as a check sees it.
#[derive(Debug, Clone, Copy)]
pub(super) enum Next {
    Char(char),
    /// The end of the line or of the content.
    Eol,
}

/// What a check decided about the character at its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Escape,
    Keep,
    Undecided,
}

/// A written character that may still need a backslash, depending on what follows it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Check {
    /// Byte offset of the character in the output.
    pub(super) at: usize,
    pub(super) rule: Rule,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Rule {
    /// `\`: escapes punctuation and, before a line break, makes a hard break.
    Backslash,
    /// `*` or `~` after whitespace: a delimiter unless whitespace follows too.
    Flanked,
    /// `_` after a letter: literal only between two letters.
    Intraword,
    /// `]`: closes a link before `(`, a definition before `:`.
    CloseBracket,
    /// `!`: makes the link after it an image.
    Bang,
    /// `<`: opens HTML before a tag name or `/`, `!`, `?`, an autolink before `scheme:` or
    /// `local@`; `name` once a tag name or scheme started, `local` once an address did.
    Angle { name: bool, local: bool },
    /// `&`: an entity or character reference if `[#A-Za-z0-9]+;` follows.
    Ampersand { len: usize },
    /// `#` at a line start: a heading if at most six of them are followed by a space.
    LineHash { count: usize },
    /// `-` at a line start: a list item before a space, a rule, setext underline or table
    /// delimiter row if the line holds only `-`, `:`, `|` and spaces.
    LineDash { first: bool },
    /// `+` at a line start, or `.`/`)` after a line start's digits: a list item before a
    /// space.
    ListMarker,
    /// `=` at a line start: a setext underline if the line holds only `=` and spaces.
    LineEquals,
    /// `:` at a line start: a table delimiter row if the line holds only `-`, `:`, `|` and
    /// spaces, with a `-`.
    LineColon { dash: bool },
    /// `[` at a line start: a task item's box before ` `, `x` or `X`, an alert (`> [!NOTE]`)
    /// before `!`.
    LineBracket,
}

impl Rule {
    pub(super) fn next(&mut self, next: Next) -> Verdict {
        use Verdict::{Escape, Keep, Undecided};
        let c = match next {
            Next::Char(c) => c,
            Next::Eol => {
                return match self {
                    Rule::Backslash
                    | Rule::Intraword
                    | Rule::LineHash { .. }
                    | Rule::LineDash { .. }
                    | Rule::ListMarker
                    | Rule::LineEquals
                    | Rule::Angle { name: true, .. } => Escape,
                    Rule::LineColon { dash } => {
                        if *dash {
                            Escape
                        } else {
                            Keep
                        }
                    }
                    _ => Keep,
                };
            }
        };
        let space = c == ' ' || c == '\t';
        match self {
            Rule::Backslash => verdict(c.is_ascii_punctuation()),
            Rule::Flanked => verdict(!c.is_whitespace()),
            Rule::Intraword => verdict(!c.is_alphanumeric()),
            Rule::CloseBracket => verdict(c == '(' || c == ':'),
            Rule::Bang => verdict(c == '['),
            Rule::Angle {
                name: false,
                local: false,
            } => {
                if matches!(c, '/' | '!' | '?') {
                    Escape
                } else if c.is_ascii_alphabetic() {
                    *self = Rule::Angle {
                        name: true,
                        local: false,
                    };
                    Undecided
                } else if c.is_ascii_digit() || is_email_char(c) {
                    // `<3` stays, unless an address follows: `<1a@b.example>`.
                    *self = Rule::Angle {
                        name: false,
                        local: true,
                    };
                    Undecided
                } else {
                    Keep
                }
            }
            Rule::Angle { name: true, .. } => {
                if c.is_ascii_alphanumeric() || c == '-' {
                    Undecided
                } else {
                    // A tag, or an autolink completed by text that comes later.
                    verdict(
                        c.is_ascii_whitespace()
                            || c == '/'
                            || c == '>'
                            || is_email_char(c)
                            || c == ':'
                            || c == '@',
                    )
                }
            }
            Rule::Angle { local: true, .. } => {
                if is_email_char(c) || c.is_ascii_alphanumeric() {
                    Undecided
                } else {
                    verdict(c == '@')
                }
            }
            Rule::Ampersand { len } => {
                if c == ';' {
                    verdict(*len > 0)
                } else if (c.is_ascii_alphanumeric() || c == '#') && *len < 40 {
                    *len += 1;
                    Undecided
                } else {
                    Keep
                }
            }
            Rule::LineHash { count } => {
                if c == '#' && *count < 6 {
                    *count += 1;
                    Undecided
                } else {
                    verdict(space)
                }
            }
            Rule::LineDash { first } => {
                if *first && space {
                    return Escape;
                }
                *first = false;
                if matches!(c, '-' | ':' | '|') || space {
                    Undecided
                } else {
                    Keep
                }
            }
            Rule::ListMarker => verdict(space),
            Rule::LineEquals => {
                if c == '=' || space {
                    Undecided
                } else {
                    Keep
                }
            }
            Rule::LineColon { dash } => {
                if matches!(c, '-' | ':' | '|') || space {
                    *dash |= c == '-';
                    Undecided
                } else {
                    Keep
                }
            }
            Rule::LineBracket => verdict(matches!(c, ' ' | 'x' | 'X' | '!')),
        }
    }
}

fn verdict(escape: bool) -> Verdict {
    if escape {
        Verdict::Escape
    } else {
        Verdict::Keep
    }
}

/// Punctuation as CommonMark's flanking rules see it: ASCII punctuation, and (approximately)
/// any other character that is neither a letter, a digit nor whitespace.
pub(super) fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || (!c.is_ascii() && !c.is_alphanumeric() && !c.is_whitespace())
}
/// The characters of an email address's local part besides letters and digits (CommonMark's
/// autolink grammar).
pub(super) fn is_email_char(c: char) -> bool {
    ".!#$%&'*+/=?^_`{|}~-".contains(c)
}

/// The length of the autolink `s` starts with (`<scheme:…>` or `<local@domain>`), if it does.
pub(super) fn autolink_len(s: &str) -> Option<usize> {
    let body = s.strip_prefix('<')?;
    let end = body.find('>')?;
    let inner = &body[..end];
    let uri = is_autolink(inner);
    let email = inner.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || is_email_char(c))
            && domain.split('.').all(|label| {
                (1..=63).contains(&label.len())
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    });
    (uri || email).then_some(end + 2)
}

/// The longest run of `c` in `s`.
pub(super) fn longest_run(s: &str, c: char) -> usize {
    let mut longest = 0;
    let mut current = 0;
    for x in s.chars() {
        if x == c {
            current += 1;
            longest = longest.max(current);
        } else {
            current = 0;
        }
    }
    longest
}

/// `<scheme:…>` with a scheme of 2–32 characters and nothing an autolink may not hold.
pub(super) fn is_autolink(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once(':') else {
        return false;
    };
    (2..=32).contains(&scheme.len())
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
        && !rest
            .chars()
            .any(|c| c.is_ascii_whitespace() || c.is_control() || c == '<' || c == '>')
}

/// A link destination: as it is where Markdown allows, else in `<…>`.
pub(super) fn destination(url: &str) -> String {
    // Most URLs hold nothing the steps below would change (no edge whitespace, parentheses,
    // brackets, angles, backslashes, `&` or controls): copied as they are.
    if is_plain_destination(url) {
        return url.to_owned();
    }
    escaped_destination(url)
}

/// Whether [`destination`] writes `url` as it is: not empty, and only bytes that need
/// neither a backslash nor `<…>` wherever they stand.
pub(super) fn is_plain_destination(url: &str) -> bool {
    !url.is_empty() && url.bytes().all(|b| SAFE_DESTINATION[usize::from(b)])
}

/// [`destination`] worked out character by character.
pub(super) fn escaped_destination(url: &str) -> String {
    let url: String = url
        .trim()
        .chars()
        .filter(|c| !matches!(c, '\r' | '\n'))
        .collect();
    let mut depth: i64 = 0;
    let mut balanced = true;
    for c in url.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                balanced &= depth >= 0;
            }
            _ => {}
        }
    }
    balanced &= depth == 0;
    let plain = !url.is_empty()
        && balanced
        && !url.starts_with('<')
        && !url.chars().any(|c| c == ' ' || c.is_control());
    let mut out = String::with_capacity(url.len() + 2);
    if !plain {
        out.push('<');
    }
    let mut chars = url.chars().peekable();
    while let Some(c) = chars.next() {
        let escape = match c {
            '\\' => chars.peek().is_none_or(char::is_ascii_punctuation),
            '<' | '>' => !plain,
            // A `]` could end a definition's label at a paragraph's start (`[a](b]:c)`).
            '[' | ']' => true,
            // `&amp;` in a destination is decoded like in text.
            '&' => {
                let mut rest = chars.clone();
                let mut len = 0;
                let mut end = None;
                for c in rest.by_ref() {
                    if (c.is_ascii_alphanumeric() || c == '#') && len < 40 {
                        len += 1;
                    } else {
                        end = Some(c);
                        break;
                    }
                }
                len > 0 && end == Some(';')
            }
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    if !plain {
        out.push('>');
    }
    out
}

/// Bytes that a link destination holds as they are, wherever they stand (see
/// [`destination`]): ASCII letters and digits, and the URL punctuation that needs no escape
/// nor `<…>` (non-ASCII may be whitespace or a control).
const SAFE_DESTINATION: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b':'
                    | b'/'
                    | b'?'
                    | b'#'
                    | b'@'
                    | b'!'
                    | b'$'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
            );
        b += 1;
    }
    t
};
