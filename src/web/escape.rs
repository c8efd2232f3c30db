//! Escaping for the places text goes out: markup (HTML pages, SVG charts and Atom feeds share one
//! escaper) and URLs (query values and local paths share one percent-encoder).

/// Escapes text for element content or a quoted attribute value, in HTML and in XML alike. The
/// C0 control characters XML 1.0 forbids (all but tab, line feed and carriage return) are dropped:
/// they mean nothing on a page and would make a feed or chart unreadable.
pub fn markup_into(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
}

/// [`markup_into`] into a new string.
pub fn markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    markup_into(text, &mut out);
    out
}

/// Percent-encodes every byte but the unreserved characters (RFC 3986) and `/`, which a query
/// value and a path may both hold as they are: safe for a query value and for a local path.
pub fn percent(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(b as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn markup_escapes_the_five_and_drops_forbidden_controls() {
        assert_eq!(
            markup("<a href=\"x\">'&'</a>\u{1}\t"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;\t"
        );
    }

    #[test]
    fn percent_keeps_unreserved_and_slashes() {
        assert_eq!(
            percent("/proposals/TS-1?q=科 &x"),
            "/proposals/TS-1%3Fq%3D%E7%A7%91%20%26x"
        );
    }

    proptest! {
        /// Decoding gives back the text, and nothing a URL or a query treats specially survives.
        #[test]
        fn percent_round_trips(text in any::<String>()) {
            let encoded = percent(&text);
            prop_assert!(encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~/%".contains(&b)));
            let decoded: String = url::form_urlencoded::parse(format!("v={encoded}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            prop_assert_eq!(decoded, text);
        }

        /// Escaped markup holds no tag or attribute delimiter of its own.
        #[test]
        fn markup_leaves_no_delimiters(text in any::<String>()) {
            let escaped = markup(&text);
            prop_assert!(!escaped.contains(['<', '>', '"', '\'']));
        }
    }
}
