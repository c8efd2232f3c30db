//! Text handling shared by both search backends: folding (traditional to simplified Chinese,
//! full-width to half-width, case), the tokens both index (overlapping CJK bigrams and words of
//! letters and digits), Markdown to plain text, highlighted snippets (HTML-escaped, length
//! counted in characters) and safe quoting of Meilisearch filter values.
use crate::web::escape::markup_into as escape_html;
pub use crate::web::markdown::plain_text;

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// A token with its position and byte offsets.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    pub text: String,
    pub from: usize,
    pub to: usize,
}

/// Folds a text for matching, one character for one (so positions in the folded text are
/// positions in the original): traditional characters become simplified (科技創新 → 科技创新, by
/// fast2s's table with its context rules for characters such as 乾/干), full-width letters, digits
/// and punctuation become half-width (ＡＩ２０２４ → ai2024), the ideographic space a space, and
/// letters lower case where that gives one character.
pub fn fold(text: &str) -> String {
    let narrow: String = text.chars().map(fold_char).collect();
    // fast2s looks every character up in a hash map (about 20 ns each: most of a snippet's
    // cost); a text in which no character can change is returned as it is.
    if narrow.chars().any(may_change_to_simplified) {
        fast2s::convert(&narrow)
    } else {
        narrow
    }
}

/// Whether fast2s could write `c` otherwise in some context: the characters it converts on
/// their own, and those it converts only beside certain neighbours (著 in 看著, 藉 in 藉口, …;
/// listed in its `special.rs`). It converts three-byte UTF-8 characters only, so a bit set over
/// the Basic Multilingual Plane holds them, read off fast2s itself on first use.
fn may_change_to_simplified(c: char) -> bool {
    const IN_CONTEXT_ONLY: [char; 7] = ['藉', '著', '苧', '闔', '鍾', '讎', '畫'];
    static CHANGING: std::sync::LazyLock<Vec<u64>> = std::sync::LazyLock::new(|| {
        let mut bits = vec![0u64; 0x10000 / 64];
        let mut buf = [0u8; 4];
        for c in (0x800..0x10000).filter_map(char::from_u32) {
            let alone = c.encode_utf8(&mut buf);
            if fast2s::convert(alone) != *alone || IN_CONTEXT_ONLY.contains(&c) {
                bits[c as usize / 64] |= 1 << (c as usize % 64);
            }
        }
        bits
    });
    c.len_utf8() == 3 && CHANGING[c as usize / 64] & (1 << (c as usize % 64)) != 0
}

/// The tokens both backends index, in order, over the folded text: overlapping CJK bigrams, then
/// the run's last character alone, and words of letters and digits: "中国农业发展银行 AI" → 中国
/// 国农 农业 业发 发展 展银 银行 行 ai. A query word is found where its tokens stand in a row, so
/// "农业" is found inside the bank's name and "发展银行" nowhere its characters are only apart; the
/// closing single character lets a one-character query match every occurrence as a prefix.
pub fn bigrams(text: &str) -> Vec<Piece> {
    let mut cursor = BigramCursor::new(text);
    let mut out = Vec::new();
    let mut buf = String::new();
    while let Some((from, to)) = cursor.next_into(&mut buf) {
        out.push(Piece {
            text: buf.clone(),
            from,
            to,
        });
    }
    out
}

/// Walks a text's bigrams one at a time, writing each into a caller's buffer: the indexer
/// tokenises hundreds of millions of them at 100k proposals, so none gets its own allocation.
pub struct BigramCursor<'a> {
    text: &'a str,
    /// The folded characters with their byte offsets in the original text.
    chars: Vec<(usize, char)>,
    i: usize,
}

impl<'a> BigramCursor<'a> {
    pub fn new(text: &'a str) -> Self {
        let folded = fold(text);
        let chars: Vec<(usize, char)> = text
            .char_indices()
            .map(|(at, _)| at)
            .zip(folded.chars())
            .collect();
        debug_assert_eq!(chars.len(), text.chars().count(), "folding is one to one");
        Self { text, chars, i: 0 }
    }

    fn end_of(&self, i: usize) -> usize {
        self.chars.get(i + 1).map_or(self.text.len(), |(b, _)| *b)
    }

    fn cjk_at(&self, i: usize) -> bool {
        self.chars.get(i).is_some_and(|(_, c)| is_cjk(*c))
    }

    /// The next piece into `buf` (cleared first), with its byte range; `None` at the end.
    pub fn next_into(&mut self, buf: &mut String) -> Option<(usize, usize)> {
        buf.clear();
        while self.i < self.chars.len() {
            let i = self.i;
            let (start, c) = self.chars[i];
            if is_cjk(c) {
                self.i += 1;
                if self.cjk_at(i + 1) {
                    buf.push(c);
                    buf.push(self.chars[i + 1].1);
                    return Some((start, self.end_of(i + 1)));
                }
                buf.push(c);
                return Some((start, self.end_of(i)));
            } else if c.is_alphanumeric() {
                let mut j = i;
                while j + 1 < self.chars.len()
                    && self.chars[j + 1].1.is_alphanumeric()
                    && !is_cjk(self.chars[j + 1].1)
                {
                    j += 1;
                }
                self.i = j + 1;
                let end = self.end_of(j);
                buf.extend(self.chars[i..=j].iter().map(|(_, c)| *c));
                return Some((start, end));
            } else {
                self.i += 1;
            }
        }
        None
    }
}

/// Cleans a user's query: control characters removed, whitespace folded, at most 200 characters.
pub fn clean_query(raw: &str) -> String {
    let folded: String = raw
        .chars()
        .map(|c| {
            if c.is_control() || c.is_whitespace() {
                ' '
            } else {
                c
            }
        })
        .collect();
    folded
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect()
}

/// `c` half-width and lower-cased when that gives one character, otherwise `c`. CJK characters
/// have neither: they skip the Unicode tables (looking every character of every snippet up there
/// was a tenth of a search's time at 100k).
fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    if is_cjk(c) {
        return c;
    }
    match c as u32 {
        // Full-width ASCII (！ to ～) sits 0xFEE0 above its half-width form.
        0xFF01..=0xFF5E => {
            return char::from_u32(c as u32 - 0xFEE0).map_or(c, |n| n.to_ascii_lowercase())
        }
        0x3000 => return ' ',
        _ => {}
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Marks every occurrence of `terms` in `text` with `<mark>`, escaping everything else.
/// Matching runs over folded characters ([`fold`]: one for one), so a mark always starts and ends
/// on the original text's character boundaries (lower-casing changes byte lengths: `Ⱥ` is two
/// bytes and `ⱥ` three, `Ω` three and `ω` two).
pub fn highlight(text: &str, terms: &[String]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let folded: Vec<char> = fold(text).chars().collect();
    let terms: Vec<Vec<char>> = terms
        .iter()
        .map(|t| fold(t).chars().collect::<Vec<char>>())
        .filter(|t| !t.is_empty())
        .collect();
    let mut out = String::with_capacity(text.len() + 32);
    let mut i = 0;
    while i < chars.len() {
        match terms.iter().find(|t| folded[i..].starts_with(t)) {
            Some(term) => {
                out.push_str("<mark>");
                push_escaped(&chars[i..i + term.len()], &mut out);
                out.push_str("</mark>");
                i += term.len();
            }
            None => {
                push_escaped(&chars[i..=i], &mut out);
                i += 1;
            }
        }
    }
    out
}

fn push_escaped(chars: &[char], out: &mut String) {
    let mut buf = [0u8; 4];
    for c in chars {
        escape_html(c.encode_utf8(&mut buf), out);
    }
}

/// A window of about `length` characters around the densest cluster of matches, highlighted.
pub fn snippet(text: &str, terms: &[String], length: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= length {
        return highlight(text, terms);
    }
    let lower: Vec<char> = fold(text).chars().collect();
    let terms_chars: Vec<Vec<char>> = terms
        .iter()
        .map(|t| fold(t).chars().collect::<Vec<char>>())
        .filter(|t| !t.is_empty())
        .collect();
    let starts: Vec<usize> = (0..chars.len())
        .filter(|&i| {
            terms_chars
                .iter()
                .any(|t| lower[i..].starts_with(t.as_slice()))
        })
        .collect();
    let best = starts
        .iter()
        .map(|&s| {
            (
                s,
                starts.iter().filter(|&&o| o >= s && o < s + length).count(),
            )
        })
        .max_by_key(|&(s, n)| (n, std::cmp::Reverse(s)))
        .map_or(0, |(s, _)| s);
    let from = best.saturating_sub(length / 4).min(chars.len() - length);
    let window: String = chars[from..from + length].iter().collect();
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    out.push_str(&highlight(&window, terms));
    if from + length < chars.len() {
        out.push('…');
    }
    out
}

/// The plain text of [`highlight`]'s or [`snippet`]'s output: marks removed, escapes undone
/// (for feeds and other places that are not HTML).
pub fn unmarked(html: &str) -> String {
    html.replace("<mark>", "")
        .replace("</mark>", "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// A Meilisearch filter value: always double-quoted, with `\` and `"` escaped, so user input can
/// never close the string and add its own conditions.
pub fn meili_quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(query: &str) -> Vec<String> {
        let synonyms = crate::search::query::Synonyms::default();
        crate::search::query::parse(query, &synonyms).highlight_terms(&synonyms)
    }

    fn texts(pieces: Vec<Piece>) -> Vec<String> {
        pieces.into_iter().map(|p| p.text).collect()
    }

    #[test]
    fn bigrams_find_words_inside_longer_names() {
        let grams = texts(bigrams("中国农业发展银行 ABC-12"));
        assert!(grams.contains(&"农业".to_owned()));
        assert_eq!(grams.last().unwrap(), "12");
        assert!(grams.contains(&"abc".to_owned()));
        assert_eq!(texts(bigrams("局")), vec!["局"]);
        let p = &bigrams("a农业")[1];
        assert_eq!(&"a农业"[p.from..p.to], "农业");
    }

    #[test]
    fn runs_close_with_their_last_character_and_text_is_folded() {
        assert_eq!(texts(bigrams("农业发展")), ["农业", "业发", "发展", "展"]);
        assert_eq!(
            texts(bigrams("創新聯合體")),
            ["创新", "新联", "联合", "合体", "体"]
        );
        assert_eq!(
            texts(bigrams("ＡＩ　Ｑｉｎｇｄａｏ2024")),
            ["ai", "qingdao2024"]
        );
        assert_eq!(fold("科技創新ＡＢＣ"), "科技创新abc");
        // Offsets stay those of the original text, whatever the folding did to byte lengths.
        let text = "Ｑ農業";
        let p = &bigrams(text)[1];
        assert_eq!(&text[p.from..p.to], "農業");
    }

    #[test]
    fn snippets_are_escaped_marked_and_counted_in_characters() {
        let text = format!(
            "{}<b>概念验证中心</b>建设{}",
            "前".repeat(100),
            "后".repeat(100)
        );
        let s = snippet(&text, &terms("概念验证中心"), 40);
        assert!(s.contains("<mark>概念验证中心</mark>"), "{s}");
        assert!(s.contains("&lt;b&gt;") && !s.contains("<b>"));
        let visible: String = s
            .replace("<mark>", "")
            .replace("</mark>", "")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
        assert_eq!(visible.chars().filter(|c| *c != '…').count(), 40);
        assert!(s.starts_with('…') && s.ends_with('…'));
    }

    #[test]
    fn highlight_is_case_insensitive_and_safe() {
        assert_eq!(
            highlight("Meili <x>", &["meili".into()]),
            "<mark>Meili</mark> &lt;x&gt;"
        );
        assert_eq!(
            highlight("推进科技創新。ＡＩ", &terms("科技创新 ai")),
            "推进<mark>科技創新</mark>。<mark>ＡＩ</mark>"
        );
        // İ lower-cases to two characters: it is compared as it is, the rest still matches.
        assert_eq!(
            highlight("İstanbul", &["stan".into()]),
            "İ<mark>stan</mark>bul"
        );
        // Ⱥ lower-cases to a longer UTF-8 sequence; matching by characters still marks the rest.
        assert_eq!(highlight("Ⱥ b", &["b".into()]), "Ⱥ <mark>b</mark>");
        let long = format!("{}QINGDAO 科技{}", "前".repeat(60), "后".repeat(60));
        let s = snippet(&long, &["qingdao".into(), "科技".into()], 30);
        assert!(s.contains("<mark>QINGDAO</mark> <mark>科技</mark>"), "{s}");
    }

    #[test]
    fn markdown_becomes_plain_text() {
        assert_eq!(
            plain_text("> **引用** 文字\n\n- 一\n- 二"),
            "引用 文字\n\n一\n二"
        );
    }

    #[test]
    fn filter_values_cannot_escape_their_quotes() {
        assert_eq!(meili_quote("市科技局"), "\"市科技局\"");
        assert_eq!(
            meili_quote("x\" OR status = \"draft"),
            "\"x\\\" OR status = \\\"draft\""
        );
        assert_eq!(meili_quote("a\\\"b"), "\"a\\\\\\\"b\"");
        assert_eq!(meili_quote("a\u{0}b"), "\"ab\"");
    }

    #[test]
    fn queries_are_cleaned() {
        assert_eq!(clean_query("  科技\t局\n\u{0} "), "科技 局");
        assert_eq!(clean_query(&"字".repeat(500)).chars().count(), 200);
    }

    #[test]
    fn case_folding_that_changes_byte_lengths_never_splits_a_character() {
        // Ⱥ (2 bytes) folds to ⱥ (3 bytes), Ω (3 bytes) to ω (2 bytes): the total length stays
        // the same while every offset between them shifts.
        let title = "温度Ⱥ测量Ω温度";
        let temperature = terms("温度");
        assert_eq!(
            highlight(title, &temperature),
            "<mark>温度</mark>Ⱥ测量Ω<mark>温度</mark>"
        );
        assert_eq!(highlight("ȺΩ", &terms("ⱥω")), "<mark>ȺΩ</mark>");
        let long = format!("{}温度Ⱥ{}", "Ω".repeat(300), "Ⱥ".repeat(300));
        assert!(snippet(&long, &temperature, 40).contains("<mark>温度</mark>"));
        assert_eq!(
            highlight("abc", &[String::new()]),
            "abc",
            "an empty term marks nothing"
        );
    }

    /// What a highlighted text shows once its marks are removed and its entities decoded.
    #[test]
    fn every_character_folds_as_fast2s_would_write_it() {
        let mut buf = [0u8; 4];
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let alone = fold_char(c).encode_utf8(&mut buf);
            assert_eq!(fold(&c.to_string()), fast2s::convert(alone), "{c:?}");
        }
        assert_eq!(fold("看著"), "看着");
        assert_eq!(fold("乾隆乾燥"), "乾隆干燥");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

        #[test]
        fn highlighting_keeps_the_text_and_escapes_it(text in "\\PC{0,80}", query in "\\PC{0,12}") {
            let terms = terms(&query);
            let html = highlight(&text, &terms);
            proptest::prop_assert_eq!(unmarked(&html), text.clone());
            let tags = html.replace("<mark>", "").replace("</mark>", "");
            proptest::prop_assert!(!tags.contains('<') && !tags.contains('>'));
        }

        #[test]
        fn folding_skips_fast2s_only_where_it_would_change_nothing(
            text in "[看著藉口憑慰狼乾隆坤燥答覆批回兒寬計畫企闔家鍾書校讎定苧麻科技創新聯合體中国农业Ａ-Ｚａ-ｚ０-９A-Z ]{0,40}"
        ) {
            let narrow: String = text.chars().map(fold_char).collect();
            proptest::prop_assert_eq!(fold(&text), fast2s::convert(&narrow));
        }

        #[test]
        fn any_unicode_is_safe_for_snippets_and_queries(text in proptest::prelude::any::<String>(), query in proptest::prelude::any::<String>(), length in 1usize..200) {
            let cleaned = clean_query(&query);
            proptest::prop_assert!(cleaned.chars().count() <= 200);
            proptest::prop_assert!(!cleaned.chars().any(char::is_control));
            let terms = terms(&cleaned);
            let cut = snippet(&text, &terms, length);
            let shown = unmarked(&cut).replace('…', "");
            proptest::prop_assert!(shown.chars().count() <= length);
            let _ = bigrams(&text);
            let _ = meili_quote(&text);
        }
    }
}
