//! The personal-information detector over arbitrary Unicode: no panic, findings in order on
//! character boundaries, and redaction leaves no finding's text behind.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tingshang::privacy::{detect, redact, REDACTED};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let (text, name) = input.split_once('\u{1f}').unwrap_or((&input, ""));
    let found = detect(text, &[name]);
    let mut end = 0;
    for finding in &found {
        assert!(finding.range.start >= end && finding.range.start < finding.range.end);
        assert!(text.is_char_boundary(finding.range.start) && text.is_char_boundary(finding.range.end));
        end = finding.range.end;
    }
    let redacted = redact(text, &found);
    assert!(redacted.matches(REDACTED).count() >= found.len());
});
