//! Untrusted text (pod and container names, termination messages, sysName, ifAlias, tenant
//! names) goes into Slack Block Kit text. Every value is neutralised for the position it
//! is placed in, in two steps:
//!
//! 1. [`clean`] (for every position): characters of Unicode category Cf (bidi controls such
//!    as U+202E, zero-width characters, U+FEFF, soft hyphen, tag characters…) are
//!    removed; other control characters and U+2028/U+2029 become a space, except that a
//!    multi-line value ([`Lines::Many`]: a termination message, the lines of a summary)
//!    keeps its tabs and line breaks (CR LF, CR, U+2028, U+2029 become `\n`).
//! 2. An escape for the position. All three escape `&`, `<` and `>` as Slack documents,
//!    so no value can mention (`<!channel>`, `<@U123>`, `<#C1>`) or link (`<http://x|y>`):
//!    - [`mrkdwn`] (mrkdwn text outside code, and the fallback `text`): a backtick becomes
//!      [`BACKTICK`] so no value opens or closes a code span; `*`, `_` and `~` become
//!      look-alikes unless they sit between two ASCII letters or digits (where Slack does
//!      not read them as formatting: `node_exporter` and `2*3` keep theirs); a `>` that
//!      starts a line becomes `›` so no value starts a block quote.
//!    - [`code`] (inside `` `…` `` or ```` ```…``` ````): only backticks are replaced; the
//!      rest is shown literally by Slack.
//!    - [`plain`] (`plain_text` objects such as the header): nothing else is interpreted.
//!
//! Bare URLs and `#channel` names are left as text and stay unlinked because every mrkdwn
//! text object is sent with `"verbatim": true` (see `render`).

/// What a backtick in a value becomes: MODIFIER LETTER GRAVE ACCENT, which looks like one
/// but is never code markup.
pub const BACKTICK: char = '\u{2cb}';
/// `*` outside a word: ASTERISK OPERATOR.
pub const ASTERISK: char = '\u{2217}';
/// `_` outside a word: MODIFIER LETTER LOW MACRON.
pub const UNDERSCORE: char = '\u{2cd}';
/// `~` outside a word: TILDE OPERATOR.
pub const TILDE: char = '\u{223c}';
/// `>` at the start of a line: SINGLE RIGHT-POINTING ANGLE QUOTATION MARK.
pub const QUOTE: char = '\u{203a}';

/// Unicode General_Category=Cf (format characters), Unicode 15.1: invisible characters
/// that change how the text around them is shown (bidi embeddings, overrides and
/// isolates, zero-width space and joiners, BOM, soft hyphen, tag characters…).
const FORMAT: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

/// Whether `c` is a format character (category Cf).
pub fn is_format(c: char) -> bool {
    FORMAT
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Whether a value may span lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// A name, a summary, a fact: line breaks and tabs become spaces.
    One,
    /// A termination message, the lines of a summary: `\n` and tabs are kept.
    Many,
}

/// Removes format characters and turns other control characters into spaces (see the
/// module documentation). Idempotent.
pub fn clean(s: &str, lines: Lines) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if is_format(c) => {}
            '\r' if lines == Lines::Many && chars.peek() == Some(&'\n') => {}
            '\n' | '\t' if lines == Lines::Many => out.push(c),
            '\r' | '\u{2028}' | '\u{2029}' if lines == Lines::Many => out.push('\n'),
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// How many characters `c` takes once escaped in any position.
fn width(c: char) -> usize {
    match c {
        '&' => 5,
        '<' | '>' => 4,
        _ => 1,
    }
}

/// Cuts a [`clean`]ed value so that, escaped for any position, it is at most `max`
/// characters, ending in "…" when cut. Cutting before escaping never splits an entity,
/// and the template around the value keeps its closing markup.
pub fn fit(s: &str, max: usize) -> String {
    if s.chars().map(width).sum::<usize>() <= max {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        used += width(c);
        if used > max.saturating_sub(1) {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

fn entity(c: char, out: &mut String) -> bool {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        _ => return false,
    }
    true
}

/// A value for mrkdwn text outside code spans (and for the fallback `text`).
pub fn mrkdwn(s: &str) -> String {
    let c: Vec<char> = clean(s, Lines::Many).chars().collect();
    let word = |i: Option<usize>| {
        i.and_then(|i| c.get(i))
            .is_some_and(char::is_ascii_alphanumeric)
    };
    let mut out = String::with_capacity(c.len());
    // only whitespace so far on this line of the value (its start counts as a line start)
    let mut line_start = true;
    for (i, &ch) in c.iter().enumerate() {
        let inside_word = word(i.checked_sub(1)) && word(Some(i + 1));
        match ch {
            '>' if line_start => out.push(QUOTE),
            '`' => out.push(BACKTICK),
            '*' if !inside_word => out.push(ASTERISK),
            '_' if !inside_word => out.push(UNDERSCORE),
            '~' if !inside_word => out.push(TILDE),
            ch if entity(ch, &mut out) => {}
            ch => out.push(ch),
        }
        line_start = ch == '\n' || (line_start && ch.is_whitespace());
    }
    out
}

/// A value inside a code span or code block.
pub fn code(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in clean(s, Lines::Many).chars() {
        match ch {
            '`' => out.push(BACKTICK),
            ch if entity(ch, &mut out) => {}
            ch => out.push(ch),
        }
    }
    out
}

/// A value in a `plain_text` object.
pub fn plain(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in clean(s, Lines::Many).chars() {
        if !entity(ch, &mut out) {
            out.push(ch);
        }
    }
    out
}

/// The body of a JSON string literal (no quotes), for values placed into templates.
pub fn json_str(s: &str) -> String {
    let quoted = serde_json::Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// Cuts `s` to at most `max` characters, ending in "…" when cut, without splitting an
/// entity such as `&amp;`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    if let Some(amp) = cut.rfind('&')
        && !cut[amp..].contains(';')
        && cut.len() - amp <= 5
    {
        cut.truncate(amp);
    }
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests;
