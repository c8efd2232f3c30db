//! Search parameters from the query string become a bounded query and, for Meilisearch, a filter
//! expression. Whatever the input: no panic, and every value stays inside its quotes, so the
//! expression has exactly one `=` condition per filter joined by ` AND `.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tingshang::search::meili::filter_expression;
use tingshang::search::routes::Params;
use tingshang::search::{query, text};

fuzz_target!(|data: &[u8]| {
    let text_input = String::from_utf8_lossy(data);
    let mut fields = text_input.split('\u{1f}').map(str::to_owned);
    let mut next = || fields.next();
    let params = Params {
        q: next().unwrap_or_default(),
        kind: next(),
        status: next(),
        agency: next(),
        session: next(),
        year: next(),
        channel: next(),
        topic: next(),
        member: next(),
        sort: next(),
        page: next(),
        per_page: next(),
    };
    let query = params.to_query(20);
    let synonyms = query::Synonyms::default();
    let terms = query::parse(&query.text, &synonyms).highlight_terms(&synonyms);
    let _ = text::highlight(&text_input, &terms);
    let _ = text::snippet(&text_input, &terms, 120);
    let Some(expression) = filter_expression(&query) else {
        assert!(query.filters.pairs().is_empty());
        return;
    };
    // Scan the expression: outside strings only attribute names, `=`, and ` AND `.
    let mut in_string = false;
    let mut escaped = false;
    let mut outside = String::new();
    for c in expression.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            outside.push('$');
        } else {
            outside.push(c);
        }
    }
    assert!(!in_string, "unterminated string in {expression}");
    let conditions: Vec<&str> = outside.split(" AND ").collect();
    assert_eq!(conditions.len(), query.filters.pairs().len(), "{expression}");
    for condition in conditions {
        let (name, value) = condition.split_once(" = ").expect("name = value");
        assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
        assert_eq!(value, "$", "{condition}");
    }
});
