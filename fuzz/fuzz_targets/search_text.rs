//! Snippets, highlighting and query cleaning over arbitrary Unicode: no panic, the highlighted
//! text is the input with marks added and HTML escaped, and a snippet stays within its length.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tingshang::search::text;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let (query, body) = input.split_once('\u{1f}').unwrap_or((&input, &input));
    let cleaned = text::clean_query(query);
    assert!(cleaned.chars().count() <= 200);
    let terms = text::highlight_terms(&cleaned);
    let html = text::highlight(body, &terms);
    let unmarked = html
        .replace("<mark>", "")
        .replace("</mark>", "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    assert_eq!(unmarked, body);
    for length in [1, 7, 120] {
        let cut = text::snippet(body, &terms, length);
        assert!(!cut.contains("<script"));
    }
    let _ = text::words(body);
    let _ = text::bigrams(body);
});
