//! The query language, one for both backends. A query is words separated by spaces; every word
//! must match, and a word matches a text holding it as a contiguous run of its folded characters
//! (see [`text::fold`]): 农业 inside 中国农业发展银行, never 农 and 业 apart. `"两个 词"` in quotes
//! is one phrase; `-word` and `-"phrase"` exclude. A word that belongs to a synonym group the
//! secretariat curates (高企 = 高新技术企业) matches any member of its group.
//!
//! Backends receive the parsed [`Query`], never the typed text: what a user types can only ever
//! become token sequences, so it cannot change a query's structure on either backend.
use std::collections::HashMap;
use std::sync::Arc;

use super::text::{self, BigramCursor};

/// At most this many words count (Meilisearch, too, reads only the first ten).
pub const MAX_TERMS: usize = 10;

/// One word or phrase of a query.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Term {
    /// Folded, as typed (without quotes or minus): what results highlight.
    pub text: String,
    /// The ways the term matches, each a run of tokens that must stand in a row: the term's own
    /// tokens, then its synonyms'.
    pub alternatives: Vec<Vec<String>>,
    /// A single CJK character: it matches every token starting with it (both a bigram and a
    /// run's closing character).
    pub prefix: bool,
    /// The synonym group the term belongs to.
    pub group: Option<usize>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Query {
    pub include: Vec<Term>,
    pub exclude: Vec<Term>,
}

impl Query {
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// The texts results mark: every included term and its synonyms, longest first (so a longer
    /// match is marked whole rather than a shorter one inside it).
    pub fn highlight_terms(&self, synonyms: &Synonyms) -> Vec<String> {
        let mut terms: Vec<String> = Vec::new();
        for term in &self.include {
            terms.push(term.text.clone());
            if let Some(group) = term.group {
                terms.extend(synonyms.groups[group].iter().cloned());
            }
        }
        terms.sort_by_key(|t| std::cmp::Reverse(t.chars().count()));
        terms.dedup();
        terms.retain(|t| !t.is_empty());
        terms
    }

    /// The query without its term at `index` (of the included ones), as text: a broader query
    /// suggested when nothing matches.
    pub fn without(&self, index: usize) -> String {
        let mut parts: Vec<String> = Vec::new();
        for (i, term) in self.include.iter().enumerate() {
            if i != index {
                parts.push(quoted_if_spaced(&term.text));
            }
        }
        for term in &self.exclude {
            parts.push(format!("-{}", quoted_if_spaced(&term.text)));
        }
        parts.join(" ")
    }
}

fn quoted_if_spaced(text: &str) -> String {
    if text.contains(' ') {
        format!("\"{text}\"")
    } else {
        text.to_owned()
    }
}

/// Groups of words that mean the same (agency names with their aliases, and the terms the
/// secretariat curates), folded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Synonyms {
    groups: Vec<Vec<String>>,
    by_word: HashMap<String, usize>,
}

pub type SharedSynonyms = Arc<Synonyms>;

impl Synonyms {
    /// Builds the lookup; a word in several groups belongs to the first, and groups of fewer than
    /// two distinct words are dropped.
    pub fn new(groups: Vec<Vec<String>>) -> Self {
        let mut out = Self::default();
        for group in groups {
            let mut members: Vec<String> = Vec::new();
            for word in group {
                let word = text::fold(word.trim());
                if !word.is_empty() && !members.contains(&word) && !out.by_word.contains_key(&word)
                {
                    members.push(word);
                }
            }
            if members.len() < 2 {
                continue;
            }
            let index = out.groups.len();
            for word in &members {
                out.by_word.insert(word.clone(), index);
            }
            out.groups.push(members);
        }
        out
    }

    pub fn groups(&self) -> &[Vec<String>] {
        &self.groups
    }

    fn group_of(&self, folded: &str) -> Option<usize> {
        self.by_word.get(folded).copied()
    }
}

/// The tokens a term must match in a row. A term ending inside a CJK run does not need the run's
/// closing single character: 农业 matches 农业发展 as well as a text ending in 农业.
pub fn term_tokens(folded: &str) -> Vec<String> {
    let mut cursor = BigramCursor::new(folded);
    let mut tokens: Vec<(String, usize, usize)> = Vec::new();
    let mut buf = String::new();
    while let Some((from, to)) = cursor.next_into(&mut buf) {
        tokens.push((buf.clone(), from, to));
    }
    if tokens.len() >= 2 {
        let (last, _, last_end) = &tokens[tokens.len() - 1];
        let (_, _, before_end) = &tokens[tokens.len() - 2];
        if last.chars().count() == 1 && last.chars().all(text::is_cjk) && before_end == last_end {
            tokens.pop();
        }
    }
    tokens.into_iter().map(|(token, _, _)| token).collect()
}

fn term(raw: &str, synonyms: &Synonyms) -> Option<Term> {
    let folded = text::fold(raw.trim());
    let own = term_tokens(&folded);
    if own.is_empty() {
        return None;
    }
    let prefix = own.len() == 1 && {
        let mut chars = own[0].chars();
        matches!((chars.next(), chars.next()), (Some(c), None) if text::is_cjk(c))
    };
    let group = synonyms.group_of(&folded);
    let mut alternatives = vec![own];
    if let Some(group) = group {
        for member in &synonyms.groups[group] {
            let tokens = term_tokens(member);
            if !tokens.is_empty() && !alternatives.contains(&tokens) {
                alternatives.push(tokens);
            }
        }
    }
    Some(Term {
        text: folded,
        alternatives,
        prefix: prefix && group.is_none(),
        group,
    })
}

/// Parses what a user typed (cleaned first: see [`text::clean_query`]).
pub fn parse(raw: &str, synonyms: &Synonyms) -> Query {
    let cleaned = text::clean_query(raw);
    let chars: Vec<char> = cleaned.chars().collect();
    let mut query = Query::default();
    let mut i = 0;
    while i < chars.len() && query.include.len() + query.exclude.len() < MAX_TERMS {
        if chars[i] == ' ' {
            i += 1;
            continue;
        }
        let negated = chars[i] == '-' && chars.get(i + 1).is_some_and(|c| *c != ' ');
        if negated {
            i += 1;
        }
        let (start, end, next) = if chars[i] == '"' {
            // A phrase runs to the closing quote, or to the end when there is none.
            let close = chars[i + 1..]
                .iter()
                .position(|c| *c == '"')
                .map(|p| i + 1 + p);
            match close {
                Some(close) => (i + 1, close, close + 1),
                None => (i + 1, chars.len(), chars.len()),
            }
        } else {
            let end = chars[i..]
                .iter()
                .position(|c| *c == ' ' || *c == '"')
                .map_or(chars.len(), |p| i + p);
            (i, end, end)
        };
        let raw: String = chars[start..end].iter().collect();
        if let Some(term) = term(&raw, synonyms) {
            if negated {
                query.exclude.push(term);
            } else {
                query.include.push(term);
            }
        }
        i = next.max(i + 1);
    }
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none() -> Synonyms {
        Synonyms::default()
    }

    #[test]
    fn words_phrases_and_exclusions() {
        let q = parse("科技创新  \"固态 电池\" -高企 -\"全 固态\" AI", &none());
        let texts: Vec<&str> = q.include.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["科技创新", "固态 电池", "ai"]);
        let excluded: Vec<&str> = q.exclude.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(excluded, ["高企", "全 固态"]);
        assert_eq!(q.include[0].alternatives, [vec!["科技", "技创", "创新"]]);
        // Inside a phrase, a run's closing character keeps the words' boundary.
        assert_eq!(q.include[1].alternatives, [vec!["固态", "态", "电池"]]);
        // A lone minus, an unclosed quote and punctuation alone are not terms.
        let q = parse("- \"未闭合 ！！", &none());
        assert_eq!(q.include.len(), 1);
        assert_eq!(q.include[0].text, "未闭合 !!");
        assert!(parse("！？。", &none()).is_empty());
        assert_eq!(parse(&"词 ".repeat(30), &none()).include.len(), MAX_TERMS);
    }

    #[test]
    fn folding_applies_to_queries() {
        let q = parse("科技創新 ＡＩ２０２４", &none());
        assert_eq!(q.include[0].text, "科技创新");
        assert_eq!(q.include[1].alternatives, [vec!["ai2024"]]);
    }

    #[test]
    fn single_characters_match_as_prefixes() {
        let q = parse("粮 农业", &none());
        assert!(q.include[0].prefix);
        assert!(!q.include[1].prefix);
        assert_eq!(q.include[1].alternatives, [vec!["农业"]]);
    }

    #[test]
    fn synonyms_add_alternatives() {
        let synonyms = Synonyms::new(vec![
            vec!["高企".into(), "高新技术企业".into()],
            vec!["科技局".into(), "青岛市科学技术局".into(), "高企".into()],
            vec!["孤".into()],
        ]);
        assert_eq!(synonyms.groups().len(), 2, "a one-word group is dropped");
        assert_eq!(synonyms.groups()[1], ["科技局", "青岛市科学技术局"]);
        let q = parse("高企", &synonyms);
        assert_eq!(q.include[0].group, Some(0));
        assert_eq!(
            q.include[0].alternatives,
            [
                vec!["高企".to_owned()],
                vec!["高新", "新技", "技术", "术企", "企业"]
                    .into_iter()
                    .map(String::from)
                    .collect::<Vec<_>>()
            ]
        );
        assert_eq!(
            q.highlight_terms(&synonyms),
            ["高新技术企业".to_owned(), "高企".to_owned()]
        );
    }

    #[test]
    fn broader_queries_drop_one_word() {
        let q = parse("科技 \"全 固态\" -电池", &none());
        assert_eq!(q.without(0), "\"全 固态\" -电池");
        assert_eq!(q.without(1), "科技 -电池");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

        #[test]
        fn any_input_parses_into_bounded_token_runs(raw in proptest::prelude::any::<String>()) {
            let q = parse(&raw, &none());
            proptest::prop_assert!(q.include.len() + q.exclude.len() <= MAX_TERMS);
            for term in q.include.iter().chain(&q.exclude) {
                proptest::prop_assert!(!term.alternatives[0].is_empty());
                for token in &term.alternatives[0] {
                    proptest::prop_assert!(!token.is_empty() && !token.contains(' '));
                }
            }
        }
    }
}
