//! The shape of the tree: no two capability folders import each other. Reads every `crate::…`
//! path in `src/` and fails on a pair of top-level capability modules that use each other, naming
//! the files on both sides. Shared pieces belong below the capabilities (`web`, `db`,
//! `directory`, `visibility`, …), which this check does not count as capabilities.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The capability folders: each owns its routes, service and views.
const CAPABILITIES: &[&str] = &[
    "accounts",
    "agencies",
    "api",
    "documents",
    "followup",
    "home",
    "opendata",
    "people",
    "proposals",
    "responses",
    "search",
    "sessions",
    "statistics",
];

/// Pairs not yet untangled (issue 17): the workflow vocabulary (statuses, channels, assignment
/// roles, the actor's relation) still lives in `proposals` while `accounts::policy`, `followup`
/// and `statistics` need it. The list may only shrink: a new pair fails, and so does a listed pair
/// that is gone (remove it here).
const NOT_YET_UNTANGLED: &[(&str, &str)] = &[
    ("accounts", "proposals"),
    ("followup", "proposals"),
    ("proposals", "statistics"),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// (from, to) → files of `from` that name `crate::to`.
fn imports() -> BTreeMap<(String, String), BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let from = relative
            .split('/')
            .next()
            .unwrap()
            .trim_end_matches(".rs")
            .to_owned();
        if !CAPABILITIES.contains(&from.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (at, _) in text.match_indices("crate::") {
            let to: String = text[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if to != from && CAPABILITIES.contains(&to.as_str()) {
                edges
                    .entry((from.clone(), to))
                    .or_default()
                    .insert(relative.clone());
            }
        }
    }
    edges
}

#[test]
fn no_two_capabilities_import_each_other() {
    let edges = imports();
    let mut cycles = Vec::new();
    for ((a, b), files) in &edges {
        if a < b {
            if let Some(back) = edges.get(&(b.clone(), a.clone())) {
                cycles.push(((a.clone(), b.clone()), files.clone(), back.clone()));
            }
        }
    }
    let found: BTreeSet<(String, String)> =
        cycles.iter().map(|(pair, _, _)| pair.clone()).collect();
    let known: BTreeSet<(String, String)> = NOT_YET_UNTANGLED
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    let report: Vec<String> = cycles
        .iter()
        .map(|((a, b), there, back)| format!("{a} ↔ {b}: {a} in {there:?}; {b} in {back:?}"))
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    assert!(
        new.is_empty(),
        "capabilities importing each other:\n{}",
        report.join("\n")
    );
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(
        gone.is_empty(),
        "untangled, remove from NOT_YET_UNTANGLED: {gone:?}"
    );
    eprintln!(
        "not yet untangled ({}):\n{}",
        cycles.len(),
        report.join("\n")
    );
}
