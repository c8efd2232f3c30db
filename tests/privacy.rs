//! The personal-information detector on the privacy corpus (`tests/privacy/corpus.tsv`: numbers in
//! every spelling, ID numbers with valid and broken checksums, cards, emails, plates, addresses, and
//! public figures of the source documents that must not be flagged). Prints precision and recall
//! per kind; fails on any miss or false alarm, naming the line.
use std::collections::BTreeMap;

use tingshang::privacy::{detect, Kind};

#[test]
fn the_detector_finds_the_corpus_and_nothing_else() {
    let corpus = include_str!("privacy/corpus.tsv");
    let mut tally: BTreeMap<&'static str, (usize, usize, usize)> = BTreeMap::new(); // found, false, missed
    let mut wrong = Vec::new();
    let mut lines = 0;
    for (number, line) in corpus.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        lines += 1;
        let (expected, text) = line.split_once('\t').expect("kinds<TAB>text");
        let mut expected: Vec<Kind> = expected
            .split(',')
            .filter(|k| *k != "-")
            .map(|k| Kind::parse(k).unwrap_or_else(|| panic!("line {}: kind {k}", number + 1)))
            .collect();
        let mut found: Vec<Kind> = detect(text, &[]).into_iter().map(|f| f.kind).collect();
        expected.sort_by_key(|k| k.as_str());
        found.sort_by_key(|k| k.as_str());
        for kind in Kind::ALL {
            let want = expected.iter().filter(|k| *k == kind).count();
            let got = found.iter().filter(|k| *k == kind).count();
            let cell = tally.entry(kind.as_str()).or_default();
            cell.0 += want.min(got);
            cell.1 += got.saturating_sub(want);
            cell.2 += want.saturating_sub(got);
        }
        if expected != found {
            wrong.push(format!(
                "line {}: expected {expected:?}, found {found:?}: {text}",
                number + 1
            ));
        }
    }
    assert!(lines >= 100, "the corpus holds {lines} strings");
    for (kind, (hit, false_alarm, missed)) in &tally {
        if hit + false_alarm + missed == 0 {
            continue;
        }
        let precision = *hit as f64 / (hit + false_alarm).max(1) as f64;
        let recall = *hit as f64 / (hit + missed).max(1) as f64;
        eprintln!("{kind:>10}: {hit} found, {false_alarm} false, {missed} missed; precision {precision:.2}, recall {recall:.2}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The seed: its source documents and every record made from them (proposals, responses,
/// sessions, people) hold no private person's details. What the detector flags there is listed
/// here with the reason it is right to publish; anything else fails.
#[test]
fn the_seed_holds_no_private_persons_details() {
    use tingshang::opendata::archive::Record;
    use tingshang::seed::files::{SeedSet, SOURCE_TEXTS};
    // (kind, text flagged, why it may stay public)
    const PUBLIC: &[(&str, &str, &str)] = &[
        // The footer of 市科学技术局's own web page: a public office's published contacts.
        (
            "address",
            "青岛市香港中路11号",
            "市科学技术局's office address, printed in its page footer",
        ),
        (
            "landline",
            "0532-85911333",
            "市科学技术局's published fax line",
        ),
        (
            "landline",
            "0532-85911345",
            "市科学技术局's published public line (公开电话)",
        ),
        (
            "landline",
            "0532-85911487",
            "市科学技术局's published complaints line (投诉监督电话)",
        ),
    ];
    let mut texts: Vec<(String, String)> = SOURCE_TEXTS
        .iter()
        .map(|(name, text)| (format!("source {name}"), (*text).to_owned()))
        .collect();
    let records = tingshang::seed::records(&SeedSet::load().unwrap()).unwrap();
    for (line, record) in records {
        let text = match record {
            Record::Proposal(p) => format!("{}\n{}", p.title, p.body_md),
            Record::Response(r) => r.body_md,
            Record::Session(s) => format!("{}\n{}", s.topic, s.summary_md),
            Record::Person(p) => format!("{} {}", p.name, p.post),
            Record::Commitment(c) => c.description,
            _ => continue,
        };
        texts.push((format!("seed record {line}"), text));
    }
    let mut unexpected = Vec::new();
    let mut flagged = 0;
    for (label, text) in &texts {
        for finding in detect(text, &[]) {
            let value = &text[finding.range.clone()];
            flagged += 1;
            match PUBLIC
                .iter()
                .find(|(kind, public, _)| *kind == finding.kind.as_str() && *public == value)
            {
                Some((_, _, why)) => {
                    eprintln!("{label}: {} {value:?} stays: {why}", finding.kind.label())
                }
                None => unexpected.push(format!("{label}: {} {value:?}", finding.kind.label())),
            }
        }
    }
    eprintln!("{} seed texts checked, {flagged} findings", texts.len());
    assert!(texts.len() > 30, "the seed texts were read");
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
}
