//! External audits of the pages as the server sends them: the Nu Html Checker (`vnu-jar`) over
//! every public page and every page of a journey from a member's draft to the rating, as each role
//! sees it; Lighthouse (with Debian's Chromium) on the home, session, proposal, search and
//! statistics pages, desktop and mobile. Both come from npm (`npm ci --prefix tests/browser`,
//! which `.ci/run` does); Java from Debian (`default-jre-headless`).
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_ok, TestApp, UserClient};
use serde_json::Value;

fn node_modules() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/node_modules")
}

/// The checker's path, or None after saying why it was skipped. Under CI a missing checker is a
/// failure: `.ci/run` installs it.
fn tool(test: &str, path: PathBuf, install: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    let message = format!("{test}: {} is not installed ({install})", path.display());
    assert!(std::env::var_os("CI").is_none(), "{message}");
    common::skip(&message);
    None
}

/// The two audits take turns: the Nu Html Checker's JVM on one core and Lighthouse's Chromium on
/// the other made Lighthouse's trace lose its navigation (NO_NAVSTART) on CI's two cores, and
/// the performance score would measure the checker as well.
static ONE_AUDIT_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn out_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/tmp")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One page as served: where it was, who looked, what came back.
struct Page {
    name: String,
    status: u16,
    html: String,
}

async fn fetch(client: &UserClient, name: &str, path: &str, pages: &mut Vec<Page>) {
    let (status, html) = client.get(path).await;
    pages.push(Page {
        name: format!("{name} {path}"),
        status,
        html,
    });
}

/// The public pages (seeded archive) and a journey through the working pages of every role.
async fn every_page(app: &TestApp) -> Vec<Page> {
    let mut pages = Vec::new();
    let public = app.anonymous();
    let agency = app.agency_id("市科技局").await;
    let person = app.person_id("邢占军").await;
    for path in [
        "/".to_owned(),
        "/sessions".into(),
        "/sessions/27".into(),
        "/sessions/27/history".into(),
        "/proposals".into(),
        "/proposals?channel=session&sort=new".into(),
        "/proposals/TS-2023-027-01".into(),
        "/proposals/TS-2023-027-01/history".into(),
        "/agencies".into(),
        format!("/agencies/{agency}"),
        "/documents".into(),
        format!("/people/{person}"),
        "/statistics".into(),
        "/statistics?year=2024".into(),
        "/search".into(),
        "/search?q=%E7%A7%91%E6%8A%80%E5%9E%8B%E4%B8%AD%E5%B0%8F%E4%BC%81%E4%B8%9A".into(),
        "/search?q=%E4%B8%8D%E5%AD%98%E5%9C%A8%E7%9A%84%E8%AF%8D%E8%AF%AD%E5%90%A7".into(),
        "/privacy".into(),
        "/login".into(),
        "/api/docs".into(),
        "/no-such-page".into(),
        "/proposals/TS-0000-000-00".into(),
    ] {
        fetch(&public, "public", &path, &mut pages).await;
    }
    let (_, documents) = public.get("/documents").await;
    if let Some(at) = documents.find("href=\"/documents/") {
        let rest = &documents[at + 6..];
        let path = &rest[..rest.find('"').unwrap()];
        fetch(&public, "public", path, &mut pages).await;
    }

    let cast = common::cast(app).await;
    let admin = app.signed_in("root", "admin", None, None).await;
    fetch(&cast.member, "member", "/me", &mut pages).await;
    fetch(&cast.member, "member", "/me/proposals/new", &mut pages).await;
    fetch(&cast.member, "member", "/me/mail", &mut pages).await;
    let id = cast
        .member
        .new_draft(&[
            ("title", "关于建设概念验证中心的建议"),
            ("body_md", "## 建议\n\n1. 支持高校院所建设概念验证中心"),
            ("topics", "科技成果转化"),
            ("session_number", "27"),
        ])
        .await;
    let work = format!("/work/proposals/{id}");
    fetch(&cast.member, "member draft", &work, &mut pages).await;
    fetch(&cast.member, "member", &format!("{work}/edit"), &mut pages).await;
    assert_ok("submit", cast.member.act(id, "submit", &[]).await);
    fetch(
        &cast.member,
        "member submitted",
        &format!("{work}?done=submit"),
        &mut pages,
    )
    .await;

    fetch(&cast.secretariat, "secretariat", "/me", &mut pages).await;
    fetch(
        &cast.secretariat,
        "secretariat submitted",
        &work,
        &mut pages,
    )
    .await;
    fetch(
        &cast.secretariat,
        "secretariat merge search",
        &format!("{work}?merge_q=TS-2023"),
        &mut pages,
    )
    .await;
    assert_ok("accept", cast.secretariat.act(id, "accept", &[]).await);
    fetch(&cast.secretariat, "secretariat accepted", &work, &mut pages).await;
    let (kjj, gxj) = (
        app.agency_id("市科技局").await,
        app.agency_id("市工信局").await,
    );
    assert_ok(
        "assign",
        cast.secretariat
            .act(
                id,
                "assign",
                &[
                    ("lead", &kjj.to_string()),
                    ("co", &gxj.to_string()),
                    ("due_on", "2099/12/31"),
                ],
            )
            .await,
    );
    for path in [
        "/admin/users",
        "/admin/tokens",
        "/admin/audit",
        "/admin/agencies",
        "/admin/sessions",
        "/admin/sessions/27",
        "/admin/calendar",
        "/admin/synonyms",
        "/admin/privacy",
        "/admin/documents",
        "/admin/import",
        "/admin/mail",
    ] {
        fetch(&admin, "admin", path, &mut pages).await;
    }
    fetch(&cast.gxj, "co agency", &work, &mut pages).await;
    assert_ok(
        "co opinion",
        cast.gxj
            .act(id, "co_opinion", &[("body_md", "支持并配合推进。")])
            .await,
    );
    fetch(&cast.kjj, "agency", "/me", &mut pages).await;
    fetch(&cast.kjj, "lead agency", &work, &mut pages).await;
    assert_ok(
        "reply",
        cast.kjj
            .act(
                id,
                "reply",
                &[
                    ("doc_number", "青科函〔2026〕12号"),
                    ("grade", "B"),
                    ("body_md", "我局将于2027年底前支持建设概念验证中心。"),
                    ("c_description", "2027年底前支持建设概念验证中心"),
                    ("c_metric", "概念验证中心"),
                    ("c_unit", "家"),
                    ("c_target", "5"),
                    ("c_date", "2027/12/31"),
                ],
            )
            .await,
    );
    fetch(&cast.kjj, "lead agency answered", &work, &mut pages).await;
    fetch(&cast.member, "member answered", &work, &mut pages).await;
    assert_ok(
        "rate",
        cast.member
            .act(id, "rate", &[("rating", "satisfied"), ("comment", "")])
            .await,
    );
    fetch(
        &cast.member,
        "member closed",
        &format!("{work}?done=rate"),
        &mut pages,
    )
    .await;
    let (_, closed) = cast.member.get(&work).await;
    let code_at = closed
        .find("href=\"/proposals/")
        .expect("the public page's link");
    let rest = &closed[code_at + 6..];
    let public_path = rest[..rest.find('"').unwrap()].to_owned();
    fetch(&public, "public answered", &public_path, &mut pages).await;
    pages
}

#[tokio::test]
async fn every_page_is_valid_html() {
    let Some(jar) = tool(
        "every_page_is_valid_html",
        node_modules().join("vnu-jar/build/dist/vnu.jar"),
        "npm ci --prefix tests/browser; java from default-jre-headless",
    ) else {
        return;
    };
    let _turn = ONE_AUDIT_AT_A_TIME.lock().await;
    let app = common::spawn_app().await;
    let pages = every_page(&app).await;
    let dir = out_dir("vnu");
    let mut files = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        assert!(page.status < 500, "{} answered {}", page.name, page.status);
        let file = dir.join(format!("{i:02}.html"));
        std::fs::write(&file, &page.html).unwrap();
        files.push(file);
    }
    let output = Command::new("java")
        .args(["-Xss4m", "-jar"])
        .arg(&jar)
        .args(["--errors-only", "--format", "json"])
        .args(&files)
        .output()
        .expect("java runs the Nu Html Checker");
    // vnu reports on standard error; its exit status is 1 when it found errors.
    let report: Value = serde_json::from_slice(&output.stderr).unwrap_or_else(|e| {
        panic!(
            "the checker's report: {e}: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let mut errors = Vec::new();
    for message in report["messages"].as_array().unwrap() {
        let file = message["url"].as_str().unwrap_or_default();
        let index: usize = Path::new(file.trim_start_matches("file:"))
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok())
            .unwrap_or(usize::MAX);
        let page = pages.get(index).map_or("?", |p| p.name.as_str());
        errors.push(format!(
            "{page} (line {}): {}: {}",
            message["lastLine"], message["message"], message["extract"]
        ));
    }
    eprintln!(
        "Nu Html Checker: {} pages, {} errors",
        pages.len(),
        errors.len()
    );
    for page in &pages {
        eprintln!("  checked: {} ({})", page.name, page.status);
    }
    assert!(errors.is_empty(), "HTML errors:\n{}", errors.join("\n"));
}

/// How many times a Lighthouse run that ended in a runtime error (its trace unusable, which it
/// reports as "please run Lighthouse again") is run again. A low score is never retried.
const LIGHTHOUSE_ATTEMPTS: usize = 3;

/// The scores Lighthouse gives one page in one form factor, as whole percentages.
/// Runs as a child process awaited asynchronously: the app under test serves from this test's
/// runtime, so a blocking wait here would stall the very pages Lighthouse loads.
async fn lighthouse(cli: &Path, url: &str, desktop: bool, report: &Path) -> Vec<(String, u32)> {
    let form = if desktop { "desktop" } else { "mobile" };
    let mut result = Value::Null;
    for attempt in 1..=LIGHTHOUSE_ATTEMPTS {
        let _ = std::fs::remove_file(report);
        let mut command = tokio::process::Command::new("node");
        command
            .arg(cli)
            .arg(url)
            .args([
                "--quiet",
                "--output=json",
                "--only-categories=performance,accessibility,best-practices,seo",
                "--chrome-flags=--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage",
            ])
            .arg(format!("--output-path={}", report.display()))
            .env("CHROME_PATH", "/usr/bin/chromium");
        if desktop {
            command.arg("--preset=desktop");
        }
        let status = command.status().await.expect("node runs lighthouse");
        // With a runtime error Lighthouse exits non-zero but still writes its report, naming
        // the error; anything else (no report) is a failure of the run itself.
        let written = std::fs::read(report)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
        let runtime_error = written
            .as_ref()
            .and_then(|r| r["runtimeError"]["code"].as_str().map(str::to_owned));
        match (status.success(), written, runtime_error) {
            (_, Some(_), Some(code)) if attempt < LIGHTHOUSE_ATTEMPTS => {
                eprintln!("    {url} ({form}): Lighthouse runtime error {code}, run {attempt} of {LIGHTHOUSE_ATTEMPTS}; running it again");
            }
            (true, Some(written), None) => {
                result = written;
                break;
            }
            (_, written, code) => panic!(
                "lighthouse failed on {url} ({form}) after {attempt} runs: {}",
                code.unwrap_or_else(|| if written.is_some() {
                    "exit status".into()
                } else {
                    "no report".into()
                })
            ),
        }
    }
    let mut scores = Vec::new();
    for category in ["performance", "accessibility", "best-practices", "seo"] {
        let score = result["categories"][category]["score"]
            .as_f64()
            .unwrap_or_else(|| panic!("no {category} score for {url}"));
        scores.push((category.to_owned(), (score * 100.0).round() as u32));
    }
    // What cost points, for the log (audits that did not score fully).
    for (id, audit) in result["audits"].as_object().unwrap() {
        if audit["score"].as_f64().is_some_and(|s| s < 0.9) && audit["scoreDisplayMode"] == "binary"
        {
            eprintln!("    {url} ({form}): {id}: {}", audit["title"]);
        }
    }
    scores
}

#[tokio::test]
async fn lighthouse_scores_the_public_pages() {
    let Some(cli) = tool(
        "lighthouse_scores_the_public_pages",
        node_modules().join("lighthouse/cli/index.js"),
        "npm ci --prefix tests/browser",
    ) else {
        return;
    };
    if !Path::new("/usr/bin/chromium").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is not installed"
        );
        common::skip("lighthouse_scores_the_public_pages: /usr/bin/chromium is not installed");
        return;
    }
    if common::engine() != "sqlite" {
        // The scores measure the pages in the browser, not the database behind them; CI's
        // SQLite pass has them, and a second run would only add minutes.
        common::skip("lighthouse_scores_the_public_pages: scored in the SQLite pass only");
        return;
    }
    let _turn = ONE_AUDIT_AT_A_TIME.lock().await;
    let app = common::spawn_app().await;
    app.wait_for_index().await;
    let dir = out_dir("lighthouse");
    let mut failures = Vec::new();
    for path in [
        "/",
        "/sessions/27",
        "/proposals/TS-2023-027-01",
        "/search?q=%E7%A7%91%E6%8A%80%E5%9E%8B%E4%B8%AD%E5%B0%8F%E4%BC%81%E4%B8%9A",
        "/statistics",
    ] {
        for desktop in [true, false] {
            let form = if desktop { "desktop" } else { "mobile" };
            let report = dir.join(format!(
                "{}-{form}.json",
                path.trim_start_matches('/')
                    .split('?')
                    .next()
                    .unwrap()
                    .replace('/', "_")
            ));
            let scores = lighthouse(&cli, &app.url(path), desktop, &report).await;
            let line: Vec<String> = scores.iter().map(|(c, s)| format!("{c} {s}")).collect();
            eprintln!("lighthouse {path} ({form}): {}", line.join(", "));
            for (category, score) in scores {
                let floor = if category == "performance" { 90 } else { 95 };
                if score < floor {
                    failures.push(format!("{path} ({form}): {category} {score} < {floor}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "Lighthouse: {failures:#?}");
}
