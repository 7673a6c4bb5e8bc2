use super::*;

#[test]
fn mentions_and_links_become_text_in_every_position() {
    let evil = "<!channel> <@U024BE7LH> <#C1> <https://evil.example|click> & more";
    let want = "&lt;!channel&gt; &lt;@U024BE7LH&gt; &lt;#C1&gt; &lt;https://evil.example|click&gt; &amp; more";
    for f in [mrkdwn, code, plain] {
        let e = f(evil);
        assert!(!e.contains('<') && !e.contains('>'), "{e}");
        assert_eq!(e, want);
    }
}

#[test]
fn backticks_never_reach_code_markup() {
    assert_eq!(code("a```b`c"), "a\u{2cb}\u{2cb}\u{2cb}b\u{2cb}c");
    assert_eq!(mrkdwn("`x`"), "\u{2cb}x\u{2cb}");
    assert_eq!(plain("`x`"), "`x`", "a header shows backticks as they are");
}

#[test]
fn formatting_is_neutralised_outside_words_only() {
    assert_eq!(
        mrkdwn("*bold* _it_ ~s~"),
        "\u{2217}bold\u{2217} \u{2cd}it\u{2cd} \u{223c}s\u{223c}"
    );
    assert_eq!(mrkdwn("node_exporter 2*3 a~b"), "node_exporter 2*3 a~b");
    assert_eq!(
        mrkdwn("é_x_é"),
        "é\u{2cd}x\u{2cd}é",
        "only ASCII words count"
    );
    assert_eq!(mrkdwn("x_"), "x\u{2cd}", "a value's end is a word boundary");
    assert_eq!(
        code("*bold* _it_"),
        "*bold* _it_",
        "code shows them literally"
    );
}

#[test]
fn a_value_cannot_start_a_block_quote() {
    assert_eq!(mrkdwn("> q"), "\u{203a} q");
    assert_eq!(mrkdwn("a\n  > q"), "a\n  \u{203a} q");
    assert_eq!(mrkdwn("a > b"), "a &gt; b");
    assert_eq!(code("> q"), "&gt; q");
}

#[test]
fn format_and_control_characters_are_removed() {
    let s = "a\u{202e}b\u{2066}c\u{200b}d\u{feff}e\u{ad}f\u{e0041}g";
    assert_eq!(clean(s, Lines::One), "abcdefg");
    assert_eq!(mrkdwn(s), "abcdefg");
    assert_eq!(code(s), "abcdefg");
    assert_eq!(plain(s), "abcdefg");
    assert_eq!(
        clean("a\u{0}b\u{1b}[1mc\u{7f}d\u{85}e\u{9f}f", Lines::Many),
        "a b [1mc d e f"
    );
    for c in [
        '\u{202a}',
        '\u{202e}',
        '\u{2069}',
        '\u{200d}',
        '\u{feff}',
        '\u{e007f}',
    ] {
        assert!(is_format(c), "U+{:04X}", c as u32);
    }
    for c in ['a', ' ', 'é', '\u{2cb}', '\u{fe0f}', '\u{10ffff}'] {
        assert!(!is_format(c), "U+{:04X}", c as u32);
    }
}

#[test]
fn line_breaks_stay_only_in_multi_line_values() {
    let s = "a\nb\r\nc\rd\u{2028}e\u{2029}f\tg";
    assert_eq!(clean(s, Lines::One), "a b  c d e f g");
    assert_eq!(clean(s, Lines::Many), "a\nb\nc\nd\ne\nf\tg");
    assert_eq!(
        clean(&clean(s, Lines::Many), Lines::Many),
        clean(s, Lines::Many)
    );
}

#[test]
fn fit_counts_escaped_characters_and_never_splits_one() {
    assert_eq!(fit("short", 10), "short");
    assert_eq!(fit(&"x".repeat(20), 10).chars().count(), 10);
    // `<` takes 4 characters once escaped: two fit in 9 with the "…"
    let f = fit(&"<".repeat(10), 9);
    assert_eq!(f, "<<…");
    assert!(mrkdwn(&f).chars().count() <= 9);
    let f = fit(&"😀".repeat(400), 300);
    assert_eq!(f.chars().count(), 300);
    assert!(f.ends_with("😀…"));
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
