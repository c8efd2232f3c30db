//! Finds personal information in text entering the record: mainland mobile and landline numbers,
//! resident ID numbers (checksum verified), bank card numbers (Luhn verified), email addresses,
//! licence plates, street addresses down to the door, and names the caller gave in a separate
//! field. Full-width characters count as their ASCII forms (１３９… is a mobile number), and every
//! finding is a byte range of the original text, so it can be highlighted or redacted there.
use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

crate::vocabulary! {
    /// What a finding is.
    pub enum Kind {
        Mobile = "mobile" => "手机号码",
        Landline = "landline" => "固定电话",
        IdNumber = "id_number" => "身份证号码",
        BankCard = "bank_card" => "银行卡号",
        Email = "email" => "电子邮箱",
        Plate = "plate" => "车牌号码",
        Address = "address" => "详细地址",
        Name = "name" => "来电人姓名",
    }
}

/// One piece of personal information: what it is and where it is (bytes of the original text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub kind: Kind,
    pub range: Range<usize>,
}

/// What replaces a finding in the public text.
pub const REDACTED: &str = "[已隐去]";

/// The text with full-width forms folded to ASCII and the ideographic space to a space, and for
/// every byte of it the byte of the original it came from (plus one entry for the end).
struct Folded {
    text: String,
    origin: Vec<usize>,
}

fn fold(original: &str) -> Folded {
    let mut text = String::with_capacity(original.len());
    let mut origin = Vec::with_capacity(original.len() + 1);
    for (at, c) in original.char_indices() {
        let folded = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        };
        let before = text.len();
        text.push(folded);
        origin.extend(std::iter::repeat_n(at, text.len() - before));
    }
    origin.push(original.len());
    Folded { text, origin }
}

impl Folded {
    /// The original byte range of a folded range.
    fn original(&self, range: Range<usize>) -> Range<usize> {
        let start = self.origin[range.start];
        // The end is the start of the next folded character (or the end of the text).
        let end = self.origin[range.end];
        start..end
    }
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid pattern")
}

// Digits may be grouped by spaces or dashes (138 1234 5678, 138-1234-5678); the checks below
// look at the digits alone. A number glued to other digits or letters is not a match (an order
// number, a document code).
static MOBILE: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?:(?:\+|00)?86[ \-]?)?1[3-9]\d(?:[ \-]?\d){8}"));
static LANDLINE: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?:\(0\d{2,3}\)|0\d{2,3})[ \-]?[2-9]\d{6,7}(?:[ \-]?(?:转|ext\.?)\d{1,5})?")
});
static LONG_NUMBER: LazyLock<Regex> = LazyLock::new(|| regex(r"\d(?:[ \-]?\d){14,18}[\dXx]?"));
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
});
static PLATE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z][·• ]?[A-HJ-NP-Z0-9]{5,6}",
    )
});
// A road and its door number (香港中路76号), or a building, unit and room (3号楼2单元501室) with
// at least two of them: a lone "1号" is as often a document number (青科函〔2026〕1号).
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        // Spaces may stand around the numbers ("香港中路 100 号 3 单元"), as typed into forms.
        r"(?:\p{Han}{1,12}(?:路|街|大道|大街|巷|弄|胡同|里) ?\d+(?:-\d+)? ?号(?:院)?",
        r"(?: ?\d+ ?(?:号楼|栋|幢|座|单元|层|楼|室|户))*",
        r"|\d+ ?(?:号楼|栋|幢|座) ?\d+ ?(?:单元|层|楼|室|户)(?: ?\d+ ?(?:单元|层|楼|室|户))*",
        r"|\d+ ?单元 ?\d+ ?(?:室|户|号))",
    ))
});

fn digits(text: &str) -> Vec<u8> {
    text.bytes()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect()
}

/// The 18-digit resident ID number's check (GB 11643): weighted sum of the first 17 digits, and
/// a birth date that exists.
pub fn is_resident_id(text: &str) -> bool {
    let chars: Vec<char> = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if chars.len() != 18 || !chars[..17].iter().all(char::is_ascii_digit) {
        return false;
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = chars[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    let birth: String = chars[6..14].iter().collect();
    let born = chrono::NaiveDate::parse_from_str(&birth, "%Y%m%d")
        .is_ok_and(|d| (1900..=2100).contains(&chrono::Datelike::year(&d)));
    born && chars[17].to_ascii_uppercase() == CHECK[(sum % 11) as usize]
}

/// The Luhn check bank card numbers carry.
pub fn passes_luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// Whether the match stands alone: no digit or Latin letter right before or after it.
fn stands_alone(text: &str, range: &Range<usize>) -> bool {
    let glued = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    !glued(text[..range.start].chars().next_back()) && !glued(text[range.end..].chars().next())
}

/// Every finding in `text`, in order, none overlapping (where two would, the one found by the
/// more specific check stays: ID number, bank card, mobile, landline, then the rest). `names` are
/// the caller's names from the intake's private field; each is looked for as it is written.
pub fn detect(text: &str, names: &[&str]) -> Vec<Finding> {
    let folded = fold(text);
    let t = folded.text.as_str();
    let mut found: Vec<(Kind, Range<usize>)> = Vec::new();
    for m in LONG_NUMBER.find_iter(t) {
        let range = m.range();
        if !stands_alone(t, &range) {
            continue;
        }
        let digits = digits(m.as_str());
        if is_resident_id(m.as_str()) {
            found.push((Kind::IdNumber, range));
        } else if (16..=19).contains(&digits.len())
            && !m.as_str().ends_with(['X', 'x'])
            && passes_luhn(&digits)
        {
            found.push((Kind::BankCard, range));
        }
    }
    for (kind, pattern) in [(Kind::Mobile, &MOBILE), (Kind::Landline, &LANDLINE)] {
        for m in pattern.find_iter(t) {
            if stands_alone(t, &m.range()) {
                found.push((kind, m.range()));
            }
        }
    }
    for m in EMAIL.find_iter(t) {
        found.push((Kind::Email, m.range()));
    }
    for m in PLATE.find_iter(t) {
        let tail_has_digit = m.as_str().chars().skip(2).any(|c| c.is_ascii_digit());
        if tail_has_digit
            && stands_alone(
                t,
                &(m.start() + m.as_str().chars().next().map_or(0, char::len_utf8)..m.end()),
            )
        {
            found.push((Kind::Plate, m.range()));
        }
    }
    for m in ADDRESS.find_iter(t) {
        found.push((Kind::Address, m.range()));
    }
    for name in names
        .iter()
        .map(|n| n.trim())
        .filter(|n| n.chars().count() >= 2)
    {
        let name = fold(name).text;
        for (at, _) in t.match_indices(name.as_str()) {
            found.push((Kind::Name, at..at + name.len()));
        }
    }
    // Earlier first; at one place, the longer; then the more specific kind.
    found.sort_by_key(|(kind, range)| (range.start, std::cmp::Reverse(range.end), *kind as u8));
    let mut kept: Vec<Finding> = Vec::new();
    let mut covered = 0; // in the folded text's bytes
    for (kind, range) in found {
        if range.start >= covered {
            covered = range.end;
            kept.push(Finding {
                kind,
                range: folded.original(range),
            });
        }
    }
    kept
}

/// `text` with every finding replaced by [`REDACTED`].
pub fn redact(text: &str, findings: &[Finding]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for finding in findings {
        if finding.range.start < at || finding.range.end > text.len() {
            continue;
        }
        out.push_str(&text[at..finding.range.start]);
        out.push_str(REDACTED);
        at = finding.range.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kinds(text: &str) -> Vec<(Kind, String)> {
        detect(text, &[])
            .into_iter()
            .map(|f| (f.kind, text[f.range].to_owned()))
            .collect()
    }

    #[test]
    fn mobile_numbers_in_every_spelling() {
        for text in [
            "来电人电话13912345678,反映",
            "联系方式:139 1234 5678",
            "联系方式:139-1234-5678。",
            "+86 13912345678",
            "+86-139-1234-5678",
            "8613912345678",
            "电话１３９１２３４５６７８",
        ] {
            let found = kinds(text);
            assert_eq!(found.len(), 1, "{text}: {found:?}");
            assert_eq!(found[0].0, Kind::Mobile, "{text}");
        }
        // Near misses: too short, too long, glued to an order number, not a mobile prefix.
        for text in [
            "1391234567",
            "编号A13912345678",
            "139123456789",
            "12912345678",
        ] {
            assert!(
                kinds(text).iter().all(|(k, _)| *k != Kind::Mobile),
                "{text}: {:?}",
                kinds(text)
            );
        }
    }

    #[test]
    fn landlines_with_area_codes() {
        assert_eq!(kinds("市民热线0532-85912345")[0].0, Kind::Landline);
        assert_eq!(kinds("请拨打(0532)85912345转601")[0].0, Kind::Landline);
        assert_eq!(kinds("010 62345678")[0].0, Kind::Landline);
        // The hotline's own short number is not a private line.
        assert!(kinds("拨打12345热线").is_empty());
    }

    #[test]
    fn id_numbers_only_with_a_valid_checksum_and_birth_date() {
        // Valid checksums (the standard's example and a constructed one).
        assert!(is_resident_id("11010519491231002X"));
        assert!(is_resident_id("370202199001011237"));
        assert_eq!(kinds("身份证号370202199001011237。")[0].0, Kind::IdNumber);
        assert_eq!(kinds("身份证11010519491231002x")[0].0, Kind::IdNumber);
        // One digit off, an impossible birth date, a random 18-digit figure.
        assert!(!is_resident_id("370202199001011238"));
        assert!(!is_resident_id("370202199013011230"));
        assert!(kinds("370202199001011238")
            .iter()
            .all(|(k, _)| *k != Kind::IdNumber));
    }

    #[test]
    fn bank_cards_pass_luhn() {
        assert_eq!(kinds("卡号6222 0212 3456 7894")[0].0, Kind::BankCard);
        assert_eq!(kinds("卡号6222021234567894")[0].0, Kind::BankCard);
        assert!(kinds("卡号6222021234567895").is_empty());
    }

    #[test]
    fn emails_plates_and_addresses() {
        assert_eq!(
            kinds("邮箱 zhang.san@example.com.cn 已回复")[0].0,
            Kind::Email
        );
        assert_eq!(kinds("车牌鲁B12345停在")[0].0, Kind::Plate);
        assert_eq!(kinds("车牌鲁B·D12345")[0].0, Kind::Plate);
        assert!(kinds("青诉即办ABCDEF").is_empty(), "no digit: not a plate");
        let (kind, text) = kinds("住在市南区香港中路76号3号楼2单元501室,反映")[0].clone();
        assert_eq!(kind, Kind::Address);
        assert!(text.ends_with("501室"), "{text}");
        assert_eq!(kinds("家住5号楼3单元")[0].0, Kind::Address);
        // A document number and a session number are not addresses.
        assert!(kinds("青科函〔2026〕1号").is_empty());
        assert!(kinds("第27期协商活动").is_empty());
    }

    #[test]
    fn the_callers_name_from_the_private_field() {
        let text = "王某某来电反映,王某某称小区供暖不足。";
        let found = detect(text, &["王某某"]);
        assert_eq!(found.len(), 2);
        assert_eq!(
            redact(text, &found),
            "[已隐去]来电反映,[已隐去]称小区供暖不足。"
        );
    }

    #[test]
    fn redaction_replaces_every_finding_in_the_original_text() {
        let text = "联系人１３９１２３４５６７８,邮箱a@b.cn";
        let found = detect(text, &[]);
        assert_eq!(found.len(), 2, "{found:?} {:?}", kinds(text));
        assert_eq!(redact(text, &found), "联系人[已隐去],邮箱[已隐去]");
    }

    #[test]
    fn public_figures_of_the_source_documents_are_not_flagged() {
        for text in [
            "2024年科技型中小企业目标9500家,实际达到9777家",
            "12345政务服务便民热线",
            "青政协办〔2024〕27号",
            "建议编号TS-2024-027-03",
        ] {
            assert!(kinds(text).is_empty(), "{text}: {:?}", kinds(text));
        }
    }

    proptest! {
        /// Never panics, every range lies on character boundaries in order, and text without a
        /// digit or `@` (ASCII or full-width) has no finding but a name.
        #[test]
        fn findings_are_well_formed(text in any::<String>()) {
            let found = detect(&text, &[]);
            let mut end = 0;
            for f in &found {
                prop_assert!(f.range.start >= end && f.range.start < f.range.end);
                prop_assert!(text.is_char_boundary(f.range.start) && text.is_char_boundary(f.range.end));
                end = f.range.end;
            }
            let has_digit_or_at = text.chars().any(|c| c.is_ascii_digit() || ('０'..='９').contains(&c) || c == '@' || c == '＠');
            if !has_digit_or_at {
                prop_assert!(found.is_empty(), "{:?}", found);
            }
            let redacted = redact(&text, &found);
            prop_assert_eq!(redacted.matches(REDACTED).count() >= found.len(), true);
        }

        /// Any mobile number, however it is spelled, is found and redacted away.
        #[test]
        fn every_mobile_number_is_redacted(
            second in 3u8..10,
            rest in proptest::collection::vec(0u8..10, 9),
            separator in proptest::sample::select(vec!["", " ", "-"]),
            full_width in any::<bool>(),
        ) {
            let mut number = format!("1{second}{}", rest[0]);
            for (i, d) in rest[1..].iter().enumerate() {
                if i % 4 == 0 { number.push_str(separator); }
                number.push(char::from(b'0' + d));
            }
            if full_width {
                number = number.chars().map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c }).collect();
            }
            let text = format!("市民{number}来电");
            let found = detect(&text, &[]);
            prop_assert_eq!(redact(&text, &found), "市民[已隐去]来电");
        }
    }
}
