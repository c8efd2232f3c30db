//! The shape of the tree. Reads every `crate::…` path in `src/` (group imports included) and
//! fails on a cycle among the capability folders (of any length, naming the files on each edge),
//! and on a module below the capabilities (`web`, `db`, `workflow`, `directory`, `visibility`, …)
//! that names a capability, beyond the listed ones still to untangle.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The capability folders: each owns its routes, service and views.
const CAPABILITIES: &[&str] = &[
    "accounts",
    "agencies",
    "api",
    "attachments",
    "corrections",
    "documents",
    "followup",
    "home",
    "notifications",
    "opendata",
    "people",
    "proposals",
    "redaction",
    "responses",
    "search",
    "sessions",
    "statistics",
    "workspace",
];

/// Modules below the capabilities that still name one (the list may only shrink: a new entry
/// fails, and so does a listed one that is gone). `app`, `cli` and `seed` assemble
/// the capabilities and are not counted as lower. What is left and why:
/// - `audit` → `accounts`: the log records an `Actor`, which accounts define;
/// - `config` → `accounts`, `followup`, `search`: the settings hold types those define (trusted
///   proxies, reply periods, the search backend's settings);
/// - `metrics` → `search`: it reports the outbox lag;
/// - `vocab` → `accounts`, `agencies`, `documents`, `followup`: the published vocabulary lists
///   every enum, wherever it lives.
const LOWER_STILL_NAMING: &[(&str, &str)] = &[
    ("audit", "accounts"),
    ("config", "accounts"),
    ("config", "followup"),
    ("config", "search"),
    ("metrics", "search"),
    ("vocab", "accounts"),
    ("vocab", "agencies"),
    ("vocab", "documents"),
    ("vocab", "followup"),
];

/// Modules that put the capabilities together.
const ASSEMBLY: &[&str] = &["app", "cli", "lib", "main", "seed"];

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

/// The top-level modules a file names: `crate::name…` and each name in `crate::{a::…, b, …}`.
fn named_modules(text: &str) -> Vec<String> {
    let word = |rest: &str| -> String {
        rest.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        names.push(word(&group[i..]));
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            names.push(word(rest));
        }
    }
    names
}

/// (from, to) → files of `from` that name `crate::to`, for every module that is not assembly.
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
        if ASSEMBLY.contains(&from.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for to in named_modules(&text) {
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

/// The strongly connected groups of capabilities (Tarjan): any group of two or more is a cycle.
fn cycles(edges: &BTreeMap<(String, String), BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        next: BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        groups: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.next.get(v).cloned().unwrap_or_default() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    group.push(w.to_owned());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.groups.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        next: BTreeMap::new(),
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        groups: Vec::new(),
    };
    for (from, to) in edges.keys() {
        if CAPABILITIES.contains(&from.as_str()) {
            walk.next
                .entry(from.as_str())
                .or_default()
                .push(to.as_str());
        }
    }
    for capability in CAPABILITIES {
        if !walk.index.contains_key(capability) {
            walk.visit(capability);
        }
    }
    walk.groups
}

#[test]
fn no_capabilities_import_each_other_in_a_cycle() {
    let edges = imports();
    let report: Vec<String> = cycles(&edges)
        .into_iter()
        .map(|group| {
            let inside: Vec<String> = edges
                .iter()
                .filter(|((a, b), _)| group.contains(a) && group.contains(b))
                .map(|((a, b), files)| format!("  {a} → {b}: {files:?}"))
                .collect();
            format!("{}:\n{}", group.join(" ↔ "), inside.join("\n"))
        })
        .collect();
    assert!(
        report.is_empty(),
        "capabilities importing each other:\n{}",
        report.join("\n")
    );
}

#[test]
fn modules_below_the_capabilities_do_not_name_them() {
    let found: BTreeSet<(String, String)> = imports()
        .into_keys()
        .filter(|(from, _)| !CAPABILITIES.contains(&from.as_str()))
        .collect();
    let known: BTreeSet<(String, String)> = LOWER_STILL_NAMING
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    let new: Vec<_> = found.difference(&known).collect();
    assert!(new.is_empty(), "a lower module names a capability: {new:?}");
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(
        gone.is_empty(),
        "gone, remove from LOWER_STILL_NAMING: {gone:?}"
    );
}

#[test]
fn group_imports_are_read() {
    assert_eq!(
        named_modules("use crate::{proposals::x, followup::{a, b}, web};"),
        ["proposals", "followup", "web"]
    );
    assert_eq!(named_modules("crate::search::outbox::enqueue"), ["search"]);
}
