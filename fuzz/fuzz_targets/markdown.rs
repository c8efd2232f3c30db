//! Markdown from members and agencies is rendered and sanitised: whatever the input, the output
//! has no script-capable element, no event attribute and no script URL in an attribute, and
//! rendering never panics. (Text content may contain such words: it is text, not markup.)
#![no_main]
use libfuzzer_sys::fuzz_target;

const BANNED: [&str; 8] = [
    "script", "iframe", "object", "embed", "style", "svg", "math", "base",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let html = tingshang::web::markdown::render(&text).to_lowercase();
    let mut rest = html.as_str();
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>').unwrap_or(after.len());
        let tag = &after[..end];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(!BANNED.contains(&name.as_str()), "<{tag}> survived");
        // ammonia writes attributes as name="value" with `"` escaped inside values.
        let mut attrs = tag.split('"');
        let mut key_part = attrs.next();
        while let (Some(key), Some(value)) = (key_part, attrs.next()) {
            let key = key.trim().trim_end_matches('=').rsplit(' ').next().unwrap_or_default();
            assert!(!key.starts_with("on"), "event attribute {key} in <{tag}>");
            if ["href", "src", "action", "formaction"].contains(&key) {
                let value: String = value.chars().filter(|c| !c.is_whitespace()).collect();
                for scheme in ["javascript:", "vbscript:", "data:"] {
                    assert!(!value.starts_with(scheme), "{scheme} URL in <{tag}>");
                }
            }
            key_part = attrs.next();
        }
        rest = &after[end.min(after.len())..];
    }
});
