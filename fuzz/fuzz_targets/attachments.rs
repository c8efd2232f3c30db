//! What an upload's bytes and name go through before anything is stored: whatever they are, the
//! type sniffing, the zip inspection and the office documents' XML reading answer without
//! panicking, and a cleaned name is safe to show and to send in a header.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tingshang::files::{extract, kinds};

fuzz_target!(|data: &[u8]| {
    let name = String::from_utf8_lossy(data);
    let cleaned = kinds::clean_name(&name);
    assert!(!cleaned.is_empty());
    assert!(cleaned.chars().count() <= 120);
    assert!(!cleaned.contains(['/', '\\', '"']));
    assert!(!cleaned.chars().any(char::is_control));
    assert!(kinds::content_disposition(&cleaned, false).is_ascii());
    let _ = kinds::sniff(data, &cleaned);
    for odf in [false, true] {
        if let Ok(text) = extract::office_text(data, odf) {
            assert!(text.len() <= extract::MAX_TEXT_BYTES + data.len());
        }
    }
});
