//! Untrusted text (pod and container names, termination messages, sysName, ifAlias) goes
//! into Slack mrkdwn. Slack only interprets `<...>` sequences as mentions (`<!channel>`,
//! `<@U123>`) and links (`<http://x|label>`), and `&` starts an entity; escaping `&`, `<`
//! and `>` as Slack documents makes all of them plain text.

/// Escapes `&`, `<` and `>` for Slack.
pub fn slack(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            // control characters other than newline and tab would break messages
            c if c.is_control() && c != '\n' && c != '\t' => out.push(' '),
            c => out.push(c),
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
mod tests {
    use super::*;

    #[test]
    fn mentions_and_links_become_text() {
        let evil = "<!channel> <@U024BE7LH> <https://evil.example|click> & more";
        let e = slack(evil);
        assert!(!e.contains('<') && !e.contains('>'), "{e}");
        assert_eq!(
            e,
            "&lt;!channel&gt; &lt;@U024BE7LH&gt; &lt;https://evil.example|click&gt; &amp; more"
        );
    }

    #[test]
    fn truncation_keeps_entities_whole() {
        let s = "a".repeat(10) + "&amp;" + &"b".repeat(10);
        let t = truncate(&s, 13);
        assert_eq!(t, "aaaaaaaaaa…");
        assert!(truncate("short", 10) == "short");
        assert_eq!(truncate(&"x".repeat(20), 10).chars().count(), 10);
    }

    #[test]
    fn json_escaping_keeps_quotes_inside_strings() {
        assert_eq!(json_str("a\"b\\c\n"), "a\\\"b\\\\c\\n");
    }
}
