//! Every GET route of the router, visited as every role (and anonymously): none answers 5xx.
//! The routes are read from the source (`.route("…", get(…))`), so a new page is swept without
//! anyone remembering to add it; path parameters are filled with values from the seed data.
mod common;

use std::path::Path;

use common::{cast, spawn_app, UserClient};

/// `(path template, is a GET route)` for every `.route(` call under `src/`.
fn get_routes() -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for (at, _) in source.match_indices(".route(") {
                let rest = source[at + 7..].trim_start();
                let Some(rest) = rest.strip_prefix('"') else {
                    continue;
                };
                let Some(end) = rest.find('"') else { continue };
                let template = &rest[..end];
                let after = rest[end + 1..].trim_start_matches([',', ' ', '\n']);
                // `get(handler)`, possibly chained with `.post(…)`.
                if after.starts_with("get(") {
                    found.push(template.to_owned());
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// A concrete path for a template, with parameters taken from the seed data.
fn fill(template: &str, ids: &Ids) -> String {
    let mut path = template.to_owned();
    for (name, value) in [
        ("{code}", "TS-2023-027-06".to_owned()),
        ("{number}", "27".to_owned()),
        ("{username}", "mishu".to_owned()),
        ("{file}", "archive.jsonl".to_owned()),
        ("{name}", "missing.css".to_owned()),
        ("{kind}", "agency".to_owned()),
        ("{chart}", "agency.svg".to_owned()),
        ("{year}", "2024".to_owned()),
        // A mail link's token: a made-up one is refused with a page, never a server error.
        ("{token}", "76317c31.00".to_owned()),
        // A digest no file has: the download answers "not found", never a server error.
        ("{sha256}", "0".repeat(64)),
        ("{id}", ids.proposal.to_string()),
    ] {
        path = path.replace(name, &value);
    }
    assert!(
        !path.contains('{'),
        "route {template} has a parameter this test cannot fill yet: add it to `fill`"
    );
    path
}

struct Ids {
    proposal: i32,
}

#[tokio::test]
async fn every_get_route_answers_every_role_without_a_server_error() {
    let app = spawn_app().await;
    let cast = cast(&app).await;
    let admin = app.signed_in("root", "admin", None, None).await;
    let anonymous = app.anonymous();
    let routes = get_routes();
    assert!(routes.len() > 40, "the sweep found the routes: {routes:?}");
    let ids = Ids {
        proposal: cast
            .member
            .new_draft(&[("title", "路由巡检草稿"), ("body_md", "正文")])
            .await,
    };
    let visitors: [(&str, &UserClient); 6] = [
        ("anonymous", &anonymous),
        ("member", &cast.member),
        ("secretariat", &cast.secretariat),
        ("agency staff", &cast.kjj),
        ("other agency staff", &cast.gxj),
        ("admin", &admin),
    ];
    let mut failures = Vec::new();
    let mut visits = 0;
    for template in &routes {
        let path = fill(template, &ids);
        for (role, client) in &visitors {
            let (status, body) = client.get(&path).await;
            visits += 1;
            if status >= 500 {
                failures.push(format!(
                    "{role} GET {path} → {status}: {}",
                    body.chars().take(200).collect::<String>()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "server errors:\n{}",
        failures.join("\n")
    );
    eprintln!(
        "route sweep: {} GET routes × {} visitors = {visits} requests, no 5xx",
        routes.len(),
        visitors.len()
    );
}
