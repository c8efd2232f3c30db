//! The whole journey in headless Chromium, as the real users, with real clicks and typing; plus the
//! browser-side checks (console, CSP, kept form text, no-JavaScript path) and axe-core's
//! accessibility audit of every page visited. Screenshots land in `target/tmp/e2e/`.
mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::browser::{Browser, Driver, Options};
use common::TestApp;
use serde_json::{json, Value};

/// The accessibility engine, installed from npm by `.ci/run` (`npm ci --prefix tests/browser`).
/// The public page's code, from the link on a work page.
fn public_code(work_page: &str) -> String {
    let at = work_page
        .find("href=\"/proposals/")
        .expect("a link to the public page")
        + 17;
    let rest = &work_page[at..];
    rest[..rest.find(['"', '/', '#']).unwrap()].to_owned()
}

fn axe_source() -> Option<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/browser/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(path).ok()
}

/// Everything the browser saw: screenshots, console errors and axe's findings, page by page.
#[derive(Default)]
struct Record {
    screenshots: Vec<PathBuf>,
    console_errors: Vec<String>,
    /// page → (serious or critical violations, all violations, rules passed)
    audits: BTreeMap<String, (Vec<String>, usize, usize)>,
}

struct Journey<'a> {
    app: &'a TestApp,
    axe: Option<String>,
    record: Record,
    step: usize,
}

impl Journey<'_> {
    /// After every page: console must be clean, axe runs, and a screenshot is taken.
    async fn checkpoint(&mut self, browser: &Browser, name: &str) {
        self.step += 1;
        let shot = browser
            .screenshot(&format!("{:02}-{name}", self.step))
            .await;
        self.record.screenshots.push(shot);
        for (level, message) in browser.console().await {
            if level == "SEVERE" {
                self.record
                    .console_errors
                    .push(format!("{name}: {message}"));
            }
        }
        // axe runs as a page script: not in the browser that has scripts switched off.
        if let (Some(axe), true) = (&self.axe, browser.javascript) {
            let page = format!("{:02}-{name} ({})", self.step, browser.title().await);
            let audit = audit(browser, axe).await;
            self.record.audits.insert(page, audit);
        }
    }

    async fn login(&self, browser: &Browser, username: &str, password: &str) {
        browser.delete_cookies().await;
        browser.goto(&self.app.url("/login")).await;
        browser.type_into("#username", username).await;
        browser.type_into("#password", password).await;
        browser
            .click_and_wait("form[action='/login'] button[type=submit]")
            .await;
        assert!(
            browser.current_url().await.ends_with("/me"),
            "{username} did not reach the dashboard: {}",
            browser.current_url().await
        );
    }
}

/// Runs axe-core in the page; returns the serious/critical violations, all violations, passes.
async fn audit(browser: &Browser, axe: &str) -> (Vec<String>, usize, usize) {
    browser.execute(axe, json!([])).await;
    let result = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(r => done({ violations: r.violations.map(v => ({ id: v.id, impact: v.impact,
                   help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3) })),
                   passes: r.passes.length }))
               .catch(e => done({ error: String(e) }));",
            json!([]),
        )
        .await;
    assert!(result["error"].is_null(), "axe failed: {}", result["error"]);
    let violations = result["violations"].as_array().cloned().unwrap_or_default();
    let describe = |v: &Value| {
        format!(
            "{} ({}): {} at {}",
            v["id"], v["impact"], v["help"], v["nodes"]
        )
    };
    for v in &violations {
        eprintln!("axe finding: {}", describe(v));
    }
    let serious = violations
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(describe)
        .collect();
    (
        serious,
        violations.len(),
        result["passes"].as_u64().unwrap_or(0) as usize,
    )
}

/// A work page at the three widths people use (desktop, tablet, phone): a screenshot of each,
/// and nothing wider than the window or sticking out of its card (the reply's commitment fields
/// once ran off their card at 1280 px).
async fn at_three_widths(journey: &mut Journey<'_>, browser: &Browser, name: &str) {
    for (width, height) in [(1280, 900), (768, 1024), (390, 844)] {
        browser.resize(width, height).await;
        let overflow = browser
            .execute(
                "const out = [];
                 if (document.documentElement.scrollWidth > window.innerWidth + 1)
                   out.push('page ' + document.documentElement.scrollWidth + ' > ' + window.innerWidth);
                 for (const el of document.querySelectorAll('main input, main select, main textarea, main button, main fieldset')) {
                   const card = el.closest('.card');
                   if (!card || el.type === 'hidden') continue;
                   const r = el.getBoundingClientRect(), c = card.getBoundingClientRect();
                   if (r.width > 0 && (r.right > c.right + 1 || r.left < c.left - 1))
                     out.push((el.id || el.name || el.tagName) + ' ' + Math.round(r.left) + '–' + Math.round(r.right)
                              + ' outside its card ' + Math.round(c.left) + '–' + Math.round(c.right));
                 }
                 return out;",
                json!([]),
            )
            .await;
        assert_eq!(overflow, json!([]), "{name} at {width} px");
        journey
            .checkpoint(browser, &format!("{name}-{width}px"))
            .await;
    }
    browser.resize(1280, 900).await;
}

const TITLE: &str = "关于支持高校院所建设概念验证中心的建议";
const BODY: &str = "## 现状\n\n我市科技成果**转化率**仍然不高。\n\n## 建议\n\n1. 支持高校院所建设概念验证中心\n2. 设立专项资金";

#[tokio::test]
async fn the_whole_journey_in_chromium() {
    let Some(driver) = Driver::start("the_whole_journey_in_chromium").await else {
        return;
    };
    let axe = axe_source();
    if axe.is_none() {
        eprintln!(
            "SKIPPED: accessibility audit: axe-core is not installed \
             (npm ci --prefix tests/browser; .ci/run does this)"
        );
    }
    // CI's PostgreSQL pass sets MEILI_URL: the journey's searches then go through Meilisearch.
    let meili = std::env::var("MEILI_URL")
        .ok()
        .map(|url| common::MeiliIndex::fresh(url, std::env::var("MEILI_API_KEY").ok()));
    let on_meili = meili.is_some();
    let app = common::spawn_app_with_search(true, meili, |b| b).await;
    if on_meili {
        // The first start fills the new index in the background; the journey searches early.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while app.json("/api/v1/search?q=%E7%A7%91%E6%8A%80").await.1["total"] == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the Meilisearch index was not built"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        eprintln!("browser journey: searching through Meilisearch");
    }
    let pw = |user: &str| format!("pw-{user}-0123456789");
    app.create_user("xing", "member", Some("邢占军"), None)
        .await;
    app.create_user("mishu", "secretariat", None, None).await;
    app.create_user("kjj", "agency_staff", None, Some("市科技局"))
        .await;
    app.create_user("gxj", "agency_staff", None, Some("市工信局"))
        .await;
    let mut journey = Journey {
        app: &app,
        axe,
        record: Record::default(),
        step: 0,
    };
    let desk = driver.browser(Options::desktop()).await;

    // The public home page, before anyone signs in.
    desk.goto(&app.url("/")).await;
    journey.checkpoint(&desk, "home").await;

    // A member signs in and writes a proposal in Markdown.
    desk.goto(&app.url("/login")).await;
    journey.checkpoint(&desk, "login").await;
    journey.login(&desk, "xing", &pw("xing")).await;
    journey.checkpoint(&desk, "member-dashboard").await;
    desk.goto(&app.url("/me/proposals/new")).await;

    // A title of spaces passes the browser's `required` but not the server: the text stays.
    desk.type_into("#title", "   ").await;
    desk.type_into("#body_md", BODY).await;
    desk.click_and_wait("button[value=save]").await;
    assert!(desk.text("[role=alert]").await.contains("标题"));
    // The form comes back with status 400, which Chromium reports on its console: expected here.
    let console = desk.console().await;
    assert!(
        console.iter().all(|(_, m)| m.contains("status of 400")),
        "{console:?}"
    );
    assert_eq!(
        desk.value("#body_md").await,
        BODY,
        "the body typed survives a validation error"
    );
    journey
        .checkpoint(&desk, "validation-error-keeps-text")
        .await;

    desk.type_into("#title", TITLE).await;
    desk.type_into("#topics", "科技成果转化、概念验证中心")
        .await;
    desk.choose(
        "#session_number",
        "第27期 提升科技创新能力,打造国际化创新型城市",
    )
    .await;
    // The live preview (JavaScript) renders as the member types …
    desk.wait_until(
        "the live preview",
        "const p = document.querySelector('.live-preview .prose');
         return !!p && p.innerHTML.includes('<strong>转化率</strong>');",
    )
    .await;
    // … and the server-side preview button works as well.
    desk.click_and_wait("button[value=preview]").await;
    assert!(desk.source().await.contains("<strong>转化率</strong>"));
    journey.checkpoint(&desk, "member-preview").await;
    desk.click_and_wait("button[value=save]").await;
    let work_url = desk.current_url().await;
    assert!(work_url.contains("/work/proposals/"), "saved: {work_url}");
    desk.click_and_wait("#form-submit button[type=submit]")
        .await;
    assert!(desk.source().await.contains("已提交"));
    journey.checkpoint(&desk, "member-submitted").await;

    // The secretariat accepts it and assigns 市科技局 (lead) and 市工信局 (co-handling).
    journey.login(&desk, "mishu", &pw("mishu")).await;
    desk.goto(&work_url).await;
    desk.click_and_wait("#form-accept button[type=submit]")
        .await;
    desk.choose("#assign-lead", "市科技局").await;
    desk.click_xpath("//form[@id='form-assign']//label[normalize-space(.)='市工信局']/input")
        .await;
    at_three_widths(&mut journey, &desk, "secretariat-assigning").await;
    desk.click_and_wait("#form-assign button[type=submit]")
        .await;
    assert!(desk.source().await.contains("交办"));
    journey.checkpoint(&desk, "secretariat-assigned").await;

    // The co-handling agency posts its opinion.
    journey.login(&desk, "gxj", &pw("gxj")).await;
    desk.goto(&app.url("/me")).await;
    assert!(
        desk.source().await.contains(TITLE),
        "the co agency's inbox lists it"
    );
    desk.goto(&work_url).await;
    desk.type_into(
        "#co_opinion-body",
        "市工信局支持并将配合推进,纳入中小企业服务体系。",
    )
    .await;
    desk.click_and_wait("#form-co_opinion button[type=submit]")
        .await;
    journey.checkpoint(&desk, "co-agency-opinion").await;

    // The lead agency posts its written reply with a measurable commitment.
    journey.login(&desk, "kjj", &pw("kjj")).await;
    desk.goto(&work_url).await;
    desk.type_into("#reply-doc", "青科函〔2026〕12号").await;
    desk.choose("#reply-grade", "B 类:正在解决或列入计划").await;
    desk.type_into(
        "#reply-body",
        "我局将会同有关部门,**2027年底前**支持建设概念验证中心。",
    )
    .await;
    desk.type_into("#c-desc", "2027年底前支持建设概念验证中心")
        .await;
    desk.type_into("#c-metric", "概念验证中心").await;
    desk.type_into("#c-unit", "家").await;
    desk.type_into("#c-target", "5").await;
    desk.type_into("#c-date", "12312027").await;
    at_three_widths(&mut journey, &desk, "lead-agency-replying").await;
    desk.click_and_wait("#form-reply button[type=submit]").await;
    assert!(desk.source().await.contains("概念验证中心"));
    journey.checkpoint(&desk, "lead-agency-replied").await;

    // The member rates the reply with the keyboard alone: Tab to the rating, Space to choose,
    // Tab to the button, Enter; every element the focus passes shows where it is.
    journey.login(&desk, "xing", &pw("xing")).await;
    desk.goto(&work_url).await;
    at_three_widths(&mut journey, &desk, "member-rating").await;
    desk.tab_to("#form-rate input[value=satisfied]", 80).await;
    desk.press(" ").await;
    desk.tab_to("#form-rate button[type=submit]", 10).await;
    desk.press("\u{E007}").await;
    desk.wait_for_text("评价已提交").await;
    assert!(desk.source().await.contains("满意"));
    journey.checkpoint(&desk, "member-rated").await;

    // The public page prints as a clean A4 record: title, reply and timeline, no navigation.
    desk.goto(&app.url(&format!("/proposals/{}", public_code(&desk.source().await))))
        .await;
    let (pdf_path, pdf) = desk.print_pdf("proposal-print").await;
    let text = pdf_extract::extract_text_from_mem(&pdf).expect("the printed PDF reads");
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    eprintln!("printed: {} ({} bytes)", pdf_path.display(), pdf.len());
    for wanted in [
        TITLE,
        "青科函〔2026〕12号",
        "书面答复",
        "办理过程",
        "概念验证中心",
    ] {
        assert!(text.contains(wanted), "the print lacks {wanted}: {text}");
    }
    for unwanted in ["跳到正文", "工作台", "邮件关注"] {
        assert!(
            !text.contains(unwanted),
            "the print shows {unwanted}: {text}"
        );
    }

    // The CSP blocks a script injected into the page.
    let blocked = desk
        .execute_async(
            "const done = arguments[arguments.length - 1];
             document.addEventListener('securitypolicyviolation',
               e => done({ blocked: e.violatedDirective }), { once: true });
             const s = document.createElement('script');
             s.textContent = 'window.injected = true';
             document.body.appendChild(s);
             setTimeout(() => done({ ran: window.injected === true }), 2000);",
            json!([]),
        )
        .await;
    assert!(
        blocked["blocked"]
            .as_str()
            .is_some_and(|d| d.starts_with("script-src")),
        "an injected inline script must be blocked by the CSP: {blocked}"
    );
    assert_ne!(
        desk.execute("return window.injected === true;", json!([]))
            .await,
        Value::Bool(true)
    );
    desk.console().await; // the violation report, expected
    desk.quit().await;

    // The same search on the desktop with the keyboard alone: Tab to 检索, Enter, type, Enter,
    // Tab to the first hit, Enter.
    app.wait_for_index().await;
    let keys = driver.browser(Options::desktop()).await;
    keys.goto(&app.url("/")).await;
    keys.tab_to("header a[href='/search']", 20).await;
    keys.press("\u{E007}").await;
    keys.wait_until("the search page", "return location.pathname === '/search';")
        .await;
    keys.tab_to("#q", 30).await;
    keys.press("概念验证中心\u{E007}").await;
    keys.wait_until(
        "the results",
        "return !!document.querySelector('ol.results a');",
    )
    .await;
    keys.tab_to("ol.results a", 60).await;
    keys.press("\u{E007}").await;
    keys.wait_until(
        "the proposal",
        "return location.pathname.startsWith('/proposals/');",
    )
    .await;
    journey
        .checkpoint(&keys, "keyboard-search-to-proposal")
        .await;
    keys.quit().await;

    // A citizen on a phone searches in Chinese, sees the highlighted hit and reads the timeline.
    app.wait_for_index().await;
    let phone = driver.browser(Options::phone()).await;
    phone.goto(&app.url("/")).await;
    phone.click_and_wait("a[href='/search']").await;
    phone.type_into("#q", "概念验证中心").await;
    phone
        .click_and_wait("form[role=search] button[type=submit]")
        .await;
    assert!(
        phone.count("ol.results mark").await > 0,
        "matches are highlighted"
    );
    journey.checkpoint(&phone, "phone-search-results").await;
    phone
        .click_xpath_and_wait(&format!(
            "//ol[contains(@class,'results')]//a[contains(., '{}')]",
            "高校院所"
        ))
        .await;
    assert!(phone.current_url().await.contains("/proposals/"));
    assert!(
        phone.count("ol.timeline li").await >= 5,
        "the timeline shows every step"
    );
    let page = phone.source().await;
    assert!(page.contains(TITLE) && page.contains("青科函〔2026〕12号"));
    journey.checkpoint(&phone, "phone-proposal-timeline").await;
    let overflow = phone
        .execute(
            "return document.documentElement.scrollWidth > window.innerWidth + 1;",
            json!([]),
        )
        .await;
    assert_eq!(
        overflow,
        Value::Bool(false),
        "no sideways scrolling on a phone"
    );
    phone.quit().await;

    // Without JavaScript: the same pages and the member's server-side preview still work.
    let plain = driver.browser(Options::without_javascript()).await;
    plain
        .goto(&app.url(&format!("/search?q={}", "科技型中小企业")))
        .await;
    assert!(plain.count("ol.results li").await > 0);
    journey.checkpoint(&plain, "no-js-search").await;
    journey.login(&plain, "xing", &pw("xing")).await;
    plain.goto(&app.url("/me/proposals/new")).await;
    plain.type_into("#title", "无脚本预览").await;
    plain.type_into("#body_md", "**无脚本**也能预览").await;
    plain.click_and_wait("button[value=preview]").await;
    plain.wait_for_text("<strong>无脚本</strong>").await;
    assert_eq!(plain.count(".live-preview").await, 0, "no script ran");
    journey.checkpoint(&plain, "no-js-preview").await;
    plain.quit().await;

    // The record: screenshots, console, accessibility.
    let record = journey.record;
    eprintln!("screenshots ({}):", record.screenshots.len());
    for shot in &record.screenshots {
        eprintln!("  {}", shot.display());
    }
    let mut serious = Vec::new();
    for (page, (violations, all, passes)) in &record.audits {
        eprintln!(
            "axe {page}: {} serious/critical, {all} violations in all, {passes} rules passed",
            violations.len()
        );
        serious.extend(violations.iter().map(|v| format!("{page}: {v}")));
    }
    assert!(
        record.console_errors.is_empty(),
        "console errors: {:#?}",
        record.console_errors
    );
    assert!(serious.is_empty(), "accessibility: {serious:#?}");
}
