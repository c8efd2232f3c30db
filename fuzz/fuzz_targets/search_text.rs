//! Snippets, highlighting, query parsing and the Meilisearch query string over arbitrary
//! Unicode: no panic, the highlighted text is the input with marks added and HTML escaped, a
//! snippet stays within its length, and the query string holds only our tokens' characters.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tingshang::search::{meili, query, text};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let (typed, body) = input.split_once('\u{1f}').unwrap_or((&input, &input));
    let cleaned = text::clean_query(typed);
    assert!(cleaned.chars().count() <= 200);
    let synonyms = query::Synonyms::new(vec![vec!["高企".into(), body.chars().take(8).collect()]]);
    let parsed = query::parse(typed, &synonyms);
    assert!(parsed.include.len() + parsed.exclude.len() <= query::MAX_TERMS);
    let sent = meili::query_string(&parsed, &synonyms);
    assert!(sent
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, ' ' | '"' | '-')));
    let terms = parsed.highlight_terms(&synonyms);
    let html = text::highlight(body, &terms);
    let unmarked = html
        .replace("<mark>", "")
        .replace("</mark>", "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    // The markup escaper drops the control characters XML forbids (web::escape).
    let shown: String = body
        .chars()
        .filter(|c| (*c as u32) >= 0x20 || matches!(c, '\t' | '\n' | '\r'))
        .collect();
    assert_eq!(unmarked, shown);
    for length in [1, 7, 120] {
        let cut = text::snippet(body, &terms, length);
        assert!(!cut.contains("<script"));
    }
    let _ = meili::encoded(body);
    let _ = text::bigrams(body);
});
