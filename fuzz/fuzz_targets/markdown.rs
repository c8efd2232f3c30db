//! Markdown from members and agencies is rendered and sanitised: whatever the input, the output
//! has no script, no event attribute and no script URL, and rendering never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let html = tingshang::web::markdown::render(&text).to_lowercase();
    assert!(!html.contains("<script"), "script tag survived");
    assert!(!html.contains("<iframe") && !html.contains("<object") && !html.contains("<style"));
    for attr in ["href=\"javascript:", "src=\"javascript:", "href=\"data:text", "href=\"vbscript:"] {
        assert!(!html.contains(attr), "{attr} survived");
    }
    // Event attributes: ` on…=` inside a tag.
    let mut rest = html.as_str();
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').map_or(rest.len(), |e| start + e);
        let tag = &rest[start..end];
        assert!(
            !tag.split_whitespace().skip(1).any(|a| a.starts_with("on") && a.contains('=')),
            "event attribute in {tag}"
        );
        rest = &rest[end.min(rest.len())..];
        if rest.len() <= 1 {
            break;
        }
        rest = &rest[1..];
    }
});
