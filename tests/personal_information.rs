//! Personal information end to end (issue 23): an item pushed in through the hotline intake with
//! a caller and personal details in its text is held until the secretariat has reviewed it; once
//! accepted, none of the personal values appears in any public output — every public page, feed,
//! export, the archive, the API and the search index (the embedded one, and Meilisearch where a
//! server is at hand). An erasure request on an already published value takes it out of all of
//! them within one outbox drain. IP addresses past their retention period are removed.
mod common;

use common::{assert_ok, cast, post_json, spawn_app_with_search, token_for, TestApp, UserClient};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

const CALLER: &str = "赵丽娟";
const MOBILE: &str = "139 1234 5678";
const ID_NUMBER: &str = "370202199003071234";
const ADDRESS: &str = "市南区香港中路 100 号 3 单元 502 室";
/// An office number the secretariat judges "not personal": it stays.
const OFFICE: &str = "0532-85912345";

fn resident_id() -> String {
    // A checksum-valid number, so the detector takes it for one.
    let body = &ID_NUMBER[..17];
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(weights)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

/// Every public output that could show the item: pages, feeds, exports, the archive, the API
/// and the search. Returns (path, body) pairs.
async fn public_outputs(app: &TestApp, code: &str, probes: &[&str]) -> Vec<(String, String)> {
    let public = app.anonymous();
    let paths: Vec<String> = vec![
        "/".into(),
        "/proposals".into(),
        format!("/proposals/{code}"),
        format!("/proposals/{code}/feed.atom"),
        "/feeds/proposals.atom".into(),
        "/feeds/responses.atom".into(),
        "/statistics".into(),
        "/api/v1/proposals".into(),
        format!("/api/v1/proposals/{code}"),
        "/api/v1/export/proposals.csv".into(),
        "/api/v1/export/proposals.json".into(),
        "/api/v1/export/archive.jsonl".into(),
    ];
    let mut out = Vec::new();
    for path in paths {
        let (status, body) = public.get(&path).await;
        assert_eq!(status, 200, "{path}");
        out.push((path, body));
    }
    out.extend(search_outputs(app, probes).await);
    out
}

/// What the search (page, API and feed) answers to each probe, less the probe's own echo.
async fn search_outputs(app: &TestApp, probes: &[&str]) -> Vec<(String, String)> {
    let public = app.anonymous();
    let mut out = Vec::new();
    for probe in probes {
        let q = tingshang::web::escape::percent(probe);
        for path in [
            format!("/search?q={q}"),
            format!("/api/v1/search?q={q}"),
            format!("/search.atom?q={q}"),
        ] {
            let (status, body) = public.get(&path).await;
            assert_eq!(status, 200, "{path}");
            out.push((path.clone(), without_echo(probe, &path, body)));
        }
    }
    out
}

/// A search answer without the visitor's own query, which it repeats: the API in its `query`,
/// the feed in its title and links, the page in its form and title. What the archive answers is
/// in the hits, checked in full on the API and the feed (the page is rendered from the same).
fn without_echo(probe: &str, path: &str, mut body: String) -> String {
    let q = format!("q={}", tingshang::web::escape::percent(probe));
    if path.starts_with("/api/v1/search?") {
        let mut answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        answer.as_object_mut().unwrap().remove("query");
        body = answer.to_string().replace(&q, "");
    } else if path.starts_with("/search.atom?") {
        if let (Some(start), Some(end)) = (body.find("<title>"), body.find("</title>")) {
            body.replace_range(start..end, "");
        }
        body = body.replace(&q, "").replace(&q.replace('&', "&amp;"), "");
    } else {
        body = body
            .replace(&tingshang::web::escape::markup(probe), "")
            .replace(&q, "");
    }
    body
}

fn assert_absent(outputs: &[(String, String)], values: &[&str]) {
    for (path, body) in outputs {
        for value in values {
            assert!(
                !body.contains(value),
                "{path} shows {value:?}: …{}…",
                context(body, value)
            );
        }
    }
}

fn context<'a>(body: &'a str, value: &str) -> &'a str {
    let at = body.find(value).unwrap_or(0);
    let start = body.floor_char_boundary(at.saturating_sub(80));
    let end = body.ceil_char_boundary((at + value.len() + 80).min(body.len()));
    &body[start..end]
}

async fn push(app: &TestApp, token: &str, ticket: &str, body: &str) -> (String, usize) {
    let (status, answer) = post_json(
        app,
        "/api/v1/intake",
        Some(token),
        serde_json::json!({
            "channel": "hotline_12345",
            "external_id": ticket,
            "title": "香港中路小区加装电梯进度",
            "body_md": body,
            "topics": ["城市更新"],
            "caller": { "name": CALLER, "phone": "13912345678" },
        }),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    (
        answer["code"].as_str().unwrap().to_owned(),
        answer["personal_info_findings"].as_u64().unwrap() as usize,
    )
}

async fn proposal_id(app: &TestApp, code: &str) -> i32 {
    entity::proposals::Entity::find()
        .filter(entity::proposals::Column::Code.eq(code))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id
}

/// The secretariat's review form: every pending finding judged, `keep` ones as not personal.
async fn review_all(secretariat: &UserClient, id: i32, keep: &[&str]) {
    let (status, page) = secretariat
        .get(&format!("/admin/privacy/proposal/{id}"))
        .await;
    assert_eq!(status, 200, "{page}");
    let mut fields: Vec<(String, String)> = Vec::new();
    for chunk in page.split("name=\"finding-").skip(1) {
        let finding = chunk.split('"').next().unwrap().to_owned();
        let row_value = page
            .split(&format!("name=\"finding-{finding}\""))
            .next()
            .unwrap()
            .rsplit("<mark>")
            .next()
            .unwrap()
            .split("</mark>")
            .next()
            .unwrap()
            .to_owned();
        let judgement = if keep.iter().any(|k| row_value.contains(k)) {
            "not_personal"
        } else {
            "redact"
        };
        if !fields
            .iter()
            .any(|(name, _)| name == &format!("finding-{finding}"))
        {
            fields.push((format!("finding-{finding}"), judgement.to_owned()));
        }
    }
    assert!(!fields.is_empty(), "the review page lists the findings");
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let (status, _, _) = secretariat
        .post(&format!("/admin/privacy/proposal/{id}"), &borrowed)
        .await;
    assert_eq!(status, 303);
}

/// The secretariat assigns the proposal to 市科技局, due in 60 days.
async fn assign_to_kjj(app: &TestApp, people: &common::Cast, id: i32) {
    let kjj = app.agency_id("市科技局").await.to_string();
    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(60)).to_string();
    assert_ok(
        "assign",
        people
            .secretariat
            .act(
                id,
                "assign",
                &[("lead", kjj.as_str()), ("due_on", due.as_str())],
            )
            .await,
    );
}

/// 市科技局 reports progress on the proposal.
async fn report_progress(people: &common::Cast, id: i32, body: &str) {
    assert_ok(
        "progress",
        people
            .kjj
            .act(
                id,
                "progress",
                &[("response_kind", "progress"), ("body_md", body)],
            )
            .await,
    );
}

async fn held_reviewed_and_clean_everywhere(meili: Option<common::MeiliIndex>) {
    let app = spawn_app_with_search(true, meili, |backend| backend).await;
    let people = cast(&app).await;
    let admin = app.signed_in("root", "admin", None, None).await;
    let token = token_for(&admin, "mishu").await;
    let id_number = resident_id();
    let body = format!(
        "来电人{CALLER}反映:所住{ADDRESS}加装电梯已停工三个月。联系电话 {MOBILE},身份证号 {id_number}。\
         街道办公室电话 {OFFICE}。"
    );
    let (code, findings) = push(&app, &token, "12345-PI-0001", &body).await;
    assert!(
        findings >= 4,
        "caller, mobile, ID number and address found: {findings}"
    );
    let id = proposal_id(&app, &code).await;

    // Held: accepting it is refused until the findings are reviewed, and the page says why.
    let (status, page) = people.secretariat.act(id, "accept", &[]).await;
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("个人信息"), "{page}");
    let (_, queue) = people.secretariat.get("/admin/privacy").await;
    assert!(queue.contains(&code), "the review queue lists {code}");
    // Nobody else sees the queue or the caller.
    let (status, _) = people.member.get("/admin/privacy").await;
    assert_eq!(status, 403);
    let (status, _) = people
        .kjj
        .get(&format!("/admin/privacy/proposal/{id}"))
        .await;
    assert_eq!(status, 403);

    review_all(&people.secretariat, id, &[OFFICE]).await;
    let (_, review) = people
        .secretariat
        .get(&format!("/admin/privacy/proposal/{id}"))
        .await;
    assert!(
        review.contains(MOBILE),
        "the reviewer still sees the original"
    );
    assert_ok("accept", people.secretariat.act(id, "accept", &[]).await);
    app.wait_for_index().await;

    let outputs = public_outputs(&app, &code, &[MOBILE, "13912345678", CALLER, "香港中路"]).await;
    assert!(
        outputs
            .iter()
            .any(|(path, body)| path.starts_with("/proposals/") && body.contains("[已隐去]")),
        "the public page shows the redaction"
    );
    assert!(
        outputs
            .iter()
            .any(|(path, body)| path.starts_with("/proposals/") && body.contains(OFFICE)),
        "what was judged not personal stays"
    );
    assert_absent(
        &outputs,
        &[CALLER, MOBILE, "13912345678", &id_number, "3 单元 502 室"],
    );

    // An erasure request for the office number (say it turned out to be a private line): gone
    // from every output within one drain, and from the restricted original too.
    let (status, page, _) = people
        .secretariat
        .post(
            "/admin/privacy/requests",
            &[
                ("value", OFFICE),
                ("code", ""),
                ("reason", "申请人要求删除"),
                ("erase", "on"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("已在 1 项记录中隐去"), "{page}");
    app.state.indexer.drain().await.expect("one drain");
    let outputs = public_outputs(&app, &code, &[OFFICE]).await;
    assert_absent(&outputs, &[OFFICE]);
    let originals = entity::restricted_originals::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert!(!originals.is_empty());
    assert!(originals.iter().all(|o| !o.original.contains(OFFICE)));
    assert!(originals.iter().any(|o| o.original.contains(MOBILE)));
}

#[tokio::test]
async fn personal_information_is_held_reviewed_and_absent_from_every_public_output() {
    held_reviewed_and_clean_everywhere(None).await;
}

#[tokio::test]
async fn personal_information_is_absent_from_meilisearch_too() {
    let Some(server) =
        common::meili::server_for("personal_information_is_absent_from_meilisearch_too").await
    else {
        return;
    };
    held_reviewed_and_clean_everywhere(Some(server.fresh_index())).await;
}

#[tokio::test]
async fn an_agency_reply_with_personal_information_waits_for_review() {
    let app = spawn_app_with_search(true, None, |backend| backend).await;
    let people = cast(&app).await;
    let admin = app.signed_in("root", "admin", None, None).await;
    let token = token_for(&admin, "mishu").await;
    let (code, _) = push(&app, &token, "12345-PI-0002", "小区电梯停工,请协调。").await;
    let id = proposal_id(&app, &code).await;
    assert_ok("accept", people.secretariat.act(id, "accept", &[]).await);
    assign_to_kjj(&app, &people, id).await;
    let reply = format!("已联系{CALLER}(电话 13912345678),约定下周现场查看。");
    report_progress(&people, id, &reply).await;
    let (_, page) = app.anonymous().get(&format!("/proposals/{code}")).await;
    assert!(!page.contains("约定下周现场查看"), "held until reviewed");
    // A reason on the public timeline is published as written: refused, and nothing is written.
    let reason = "等待来电人补充材料,联系电话 139-1234-5678";
    let (status, body) = people.kjj.act(id, "pause", &[("reason", reason)]).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("手机号码"),
        "the refusal names what it found: {body}"
    );
    let (_, page) = app.anonymous().get(&format!("/proposals/{code}")).await;
    assert!(!page.contains("等待来电人补充材料"));
    assert_ok(
        "pause without the number",
        people
            .kjj
            .act(id, "pause", &[("reason", "等待来电人补充材料")])
            .await,
    );
    let (_, queue) = people.secretariat.get("/admin/privacy").await;
    let response = queue
        .split("/admin/privacy/response/")
        .nth(1)
        .expect("the reply is in the queue")
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (_, review) = people
        .secretariat
        .get(&format!("/admin/privacy/response/{response}"))
        .await;
    let fields: Vec<(String, &str)> = review
        .split("name=\"finding-")
        .skip(1)
        .map(|c| {
            (
                format!("finding-{}", c.split('"').next().unwrap()),
                "redact",
            )
        })
        .collect();
    let mut unique: Vec<(&str, &str)> = Vec::new();
    for (name, value) in &fields {
        if !unique.iter().any(|(n, _)| n == name) {
            unique.push((name.as_str(), value));
        }
    }
    let (status, _, _) = people
        .secretariat
        .post(&format!("/admin/privacy/response/{response}"), &unique)
        .await;
    assert_eq!(status, 303);
    let (_, page) = app.anonymous().get(&format!("/proposals/{code}")).await;
    assert!(page.contains("约定下周现场查看"), "published after review");
    assert!(!page.contains(CALLER) && !page.contains("13912345678"));

    // A commitment is public as soon as it is written (it is not held with its reply): one
    // with personal information is refused, the reply with it, and the typed text comes back.
    assert_ok("resume", people.kjj.act(id, "resume", &[]).await);
    let reply = [
        ("grade", "B"),
        ("doc_number", ""),
        ("body_md", "我局将协调电梯维修。"),
        ("c_description", "月底前修复电梯,完成后回访 13912345678"),
        ("c_metric", "电梯"),
        ("c_unit", "部"),
        ("c_target", "1"),
        ("c_date", ""),
    ];
    let (status, body) = people.kjj.act(id, "reply", &reply).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("承诺内容中含有疑似个人信息(手机号码)"),
        "{body}"
    );
    assert!(
        body.contains("我局将协调电梯维修。"),
        "the typed reply is kept"
    );
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let written = entity::commitments::Entity::find()
        .filter(entity::commitments::Column::ProposalId.eq(id))
        .all(app.db())
        .await
        .unwrap();
    assert!(written.is_empty(), "nothing written: {written:?}");
}

#[tokio::test]
async fn addresses_and_agents_past_retention_are_removed() {
    use chrono::{Duration, Utc};
    use sea_orm::ActiveValue::Set;
    let app = common::spawn_app_with(false).await;
    let now = Utc::now();
    for (days_ago, ip) in [(200, "203.0.113.9"), (10, "198.51.100.7")] {
        entity::audit_log::Entity::insert(entity::audit_log::ActiveModel {
            actor_label: Set("测试".into()),
            action: Set("login".into()),
            ip: Set(Some(ip.into())),
            at: Set((now - Duration::days(days_ago)).fixed_offset()),
            ..Default::default()
        })
        .exec(app.db())
        .await
        .unwrap();
        entity::login_attempts::Entity::insert(entity::login_attempts::ActiveModel {
            username: Set("someone".into()),
            ip: Set(ip.into()),
            succeeded: Set(false),
            attempted_at: Set((now - Duration::days(days_ago)).fixed_offset()),
            ..Default::default()
        })
        .exec(app.db())
        .await
        .unwrap();
    }
    // Login sessions: one last seen 200 days ago keeps its row but loses address and agent.
    app.signed_in("root", "admin", None, None).await;
    let user = entity::users::Entity::find()
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    for (days_ago, ip) in [(200, "203.0.113.9"), (10, "198.51.100.7")] {
        let at = (now - Duration::days(days_ago)).fixed_offset();
        entity::login_sessions::Entity::insert(entity::login_sessions::ActiveModel {
            token_hash: Set(format!("retention-test-{days_ago}")),
            user_id: Set(user.id),
            csrf_token: Set("x".into()),
            ip: Set(Some(ip.into())),
            user_agent: Set(Some("Mozilla/5.0 (测试)".into())),
            created_at: Set(at),
            last_seen_at: Set(at),
            expires_at: Set((now + Duration::days(1)).fixed_offset()),
            ..Default::default()
        })
        .exec(app.db())
        .await
        .unwrap();
    }
    let purged = tingshang::privacy::retention::purge(app.db(), now, 180)
        .await
        .unwrap();
    assert_eq!(
        (
            purged.audit_addresses,
            purged.login_attempts,
            purged.session_addresses
        ),
        (1, 1, 1)
    );
    let sessions = entity::login_sessions::Entity::find()
        .filter(entity::login_sessions::Column::TokenHash.starts_with("retention-test-"))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(sessions.len(), 2, "the sessions stay");
    for session in sessions {
        let old = session.token_hash.ends_with("-200");
        assert_eq!(session.ip.is_none(), old, "{session:?}");
        assert_eq!(session.user_agent.is_none(), old, "{session:?}");
    }
    let kept: Vec<Option<String>> = entity::audit_log::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|row| row.ip)
        .collect();
    assert!(kept.contains(&Some("198.51.100.7".into())));
    assert!(!kept.contains(&Some("203.0.113.9".into())));
    assert_eq!(
        entity::login_attempts::Entity::find()
            .filter(entity::login_attempts::Column::Username.eq("someone"))
            .all(app.db())
            .await
            .unwrap()
            .len(),
        1
    );
    // The privacy notice says how long, and every page links to it.
    let (_, notice) = app.get("/privacy").await;
    assert!(notice.contains("180 天"), "{notice}");
    let (_, home) = app.get("/").await;
    assert!(home.contains("href=\"/privacy\""));
}

/// One string of the privacy corpus, and the personal values the detector takes out of it (none
/// for a near miss; tests/privacy.rs checks that it finds exactly the kinds the corpus names).
struct CorpusLine {
    text: String,
    values: Vec<String>,
}

/// The corpus strings, their values less any the seeded archive already publishes (a public
/// office's contacts).
fn privacy_corpus() -> Vec<CorpusLine> {
    let seeded: Vec<&str> = tingshang::seed::files::SOURCE_TEXTS
        .iter()
        .map(|(_, text)| *text)
        .collect();
    let mut lines = Vec::new();
    for line in include_str!("privacy/corpus.tsv").lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (kinds, text) = line.split_once('\t').unwrap();
        let values: Vec<String> = tingshang::privacy::detect(text, &[])
            .into_iter()
            .map(|f| text[f.range].to_owned())
            .filter(|v| !seeded.iter().any(|s| s.contains(v.as_str())))
            .collect();
        assert_eq!(kinds == "-", values.is_empty(), "the detector on {text:?}");
        lines.push(CorpusLine {
            text: text.to_owned(),
            values,
        });
    }
    lines
}

/// The digits of a value, when it is a number someone could find written another way (spaces,
/// dashes, full-width digits): 7 digits or more.
fn digits_of(value: &str) -> Option<String> {
    let digits: String = value
        .chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(c),
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32),
            _ => None,
        })
        .collect();
    (digits.chars().count() >= 7).then_some(digits)
}

/// Every public output reachable from the home page and the public entry points: pages, feeds,
/// exports, the API, and the files they link to, following same-site links (bounded). Returns
/// (path, body) pairs.
async fn crawl_public(app: &TestApp, extra: Vec<String>) -> Vec<(String, String)> {
    const LIMIT: usize = 1500;
    let public = app.anonymous();
    let origin = app.url("");
    let mut queue: std::collections::VecDeque<String> = [
        "/",
        "/proposals",
        "/sessions",
        "/agencies",
        "/documents",
        "/statistics",
        "/privacy",
        "/feeds/proposals.atom",
        "/feeds/responses.atom",
        "/api/v1/proposals",
        "/api/v1/sessions",
        "/api/v1/agencies",
        "/api/v1/people",
        "/api/v1/documents",
        "/api/v1/changes",
        "/api/v1/export/proposals.csv",
        "/api/v1/export/proposals.json",
        "/api/v1/export/archive.jsonl",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain(extra)
    .collect();
    let mut seen: std::collections::HashSet<String> = queue.iter().cloned().collect();
    let mut out = Vec::new();
    while let Some(path) = queue.pop_front() {
        let response = public.client.get(app.url(&path)).send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        assert!(status < 500, "{path} answered {status}");
        let body = String::from_utf8_lossy(&bytes).into_owned();
        // Links in HTML (href, src), Atom (href) and JSON (paths and URLs in strings).
        for chunk in body.split('"').skip(1).step_by(2) {
            let link = chunk.replace("&amp;", "&");
            let link = link.strip_prefix(origin.as_str()).unwrap_or(&link);
            let link = link.split('#').next().unwrap();
            let followed = link.starts_with('/')
                && !link.starts_with("//")
                && ![
                    "/login",
                    "/logout",
                    "/me",
                    "/work",
                    "/admin",
                    "/attachments",
                    "/mail",
                    "/corrections",
                    "/follow",
                    "/static",
                    "/api/docs",
                    "/api/openapi",
                ]
                .iter()
                .any(|p| link.starts_with(p))
                && link.len() < 400;
            if followed && out.len() + queue.len() < LIMIT && seen.insert(link.to_owned()) {
                queue.push_back(link.to_owned());
            }
        }
        out.push((path, body));
    }
    assert!(
        out.len() < LIMIT,
        "the crawl stopped at its bound of {LIMIT} outputs"
    );
    out
}

/// The corpus through every way text enters the record — the hotline intake (API), members'
/// drafts (form), agencies' reports (form), a file attached to a draft — reviewed and made
/// public; then none of its personal values is in any public output: every page, feed, export
/// and API answer the crawl reaches, the files they link to, and both search backends.
async fn corpus_absent_everywhere(meili: Option<common::MeiliIndex>) {
    let app = spawn_app_with_search(true, meili, |backend| backend).await;
    let people = cast(&app).await;
    let admin = app.signed_in("root", "admin", None, None).await;
    let token = token_for(&admin, "mishu").await;
    let corpus = privacy_corpus();
    assert!(corpus.len() >= 100, "{} strings", corpus.len());
    let group = |way: usize| -> Vec<String> {
        corpus
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 4 == way)
            .map(|(_, line)| line.text.clone())
            .collect::<Vec<_>>()
            .chunks(8)
            .map(|chunk| chunk.join("\n\n"))
            .collect()
    };
    let mut accepted = Vec::new();
    // 1. The hotline intake, through the API.
    for (n, body) in group(0).iter().enumerate() {
        let (code, _) = push(&app, &token, &format!("12345-CORPUS-{n:03}"), body).await;
        accepted.push(proposal_id(&app, &code).await);
    }
    // 2. Members' drafts, through the form, one with the file of way 4 attached.
    let attached = group(3).join("\n\n");
    let mut file_draft = None;
    for (n, body) in group(1).iter().enumerate() {
        let id = people
            .member
            .new_draft(&[
                ("title", format!("关于社区服务的建议之{n}").as_str()),
                ("body_md", body.as_str()),
                ("topics", "城市更新"),
            ])
            .await;
        if file_draft.is_none() {
            file_draft = Some(id);
            let (status, body, _) = common::upload(
                &people.member,
                "proposal",
                id,
                &[("来电记录.txt", attached.clone().into_bytes())],
            )
            .await;
            assert_eq!(status, 303, "{body}");
        }
        assert_ok("submit", people.member.act(id, "submit", &[]).await);
        accepted.push(id);
    }
    for &id in &accepted {
        let pending = entity::privacy_findings::Entity::find()
            .filter(entity::privacy_findings::Column::ItemKind.eq("proposal"))
            .filter(entity::privacy_findings::Column::ItemId.eq(id))
            .filter(entity::privacy_findings::Column::State.eq("pending"))
            .all(app.db())
            .await
            .unwrap();
        // The caller's name alone is found in every intake; a group of near misses has no more.
        if !pending.is_empty() {
            review_all(&people.secretariat, id, &[]).await;
        }
        assert_ok("accept", people.secretariat.act(id, "accept", &[]).await);
    }
    // 3. An agency's progress reports on one of them: held, reviewed, published.
    let answered = accepted[0];
    assign_to_kjj(&app, &people, answered).await;
    for body in group(2) {
        report_progress(&people, answered, &body).await;
    }
    let (_, queue) = people.secretariat.get("/admin/privacy").await;
    let replies: Vec<String> = queue
        .split("/admin/privacy/response/")
        .skip(1)
        .map(|c| c.split('"').next().unwrap().to_owned())
        .collect();
    let with_findings = group(2)
        .iter()
        .filter(|body| !tingshang::privacy::detect(body, &[CALLER]).is_empty())
        .count();
    assert_eq!(
        replies.len(),
        with_findings,
        "every report with findings waits for review"
    );
    for reply in replies {
        let (_, review) = people
            .secretariat
            .get(&format!("/admin/privacy/response/{reply}"))
            .await;
        let mut fields: Vec<(String, &str)> = Vec::new();
        for chunk in review.split("name=\"finding-").skip(1) {
            let name = format!("finding-{}", chunk.split('"').next().unwrap());
            if !fields.iter().any(|(n, _)| *n == name) {
                fields.push((name, "redact"));
            }
        }
        let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        let (status, _, _) = people
            .secretariat
            .post(&format!("/admin/privacy/response/{reply}"), &fields)
            .await;
        assert_eq!(status, 303);
    }
    // The file's text is extracted with the values hidden; the file itself is withheld.
    tingshang::attachments::worker::run_once(app.db(), &app.state.config)
        .await
        .unwrap();
    let file = entity::attachments::Entity::find()
        .filter(entity::attachments::Column::OwnerId.eq(file_draft.unwrap()))
        .filter(entity::attachments::Column::OwnerKind.eq("proposal"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(
        file.withheld,
        "a file with personal information is withheld"
    );
    app.wait_for_index().await;

    let mut codes = Vec::new();
    for id in &accepted {
        let proposal = entity::proposals::Entity::find_by_id(*id)
            .one(app.db())
            .await;
        codes.push(proposal.unwrap().unwrap().code);
    }
    // History pages are linked once something is corrected; they are public all the same.
    let histories = codes
        .iter()
        .map(|code| format!("/proposals/{code}/history"))
        .chain(["/sessions/27/history".to_owned()])
        .collect();
    let mut outputs = crawl_public(&app, histories).await;
    for code in &codes {
        assert!(
            outputs
                .iter()
                .any(|(path, _)| *path == format!("/proposals/{code}")),
            "the crawl reached {code}"
        );
    }
    let file_url = tingshang::files::file_url(&file.sha256, &file.name);
    assert!(
        !outputs.iter().any(|(_, body)| body.contains(&file_url)),
        "no public page links the withheld file"
    );
    let (status, _) = app.anonymous().get(&file_url).await;
    assert_eq!(status, 404, "the withheld file is not served to the public");
    let (status, _) = people.secretariat.get(&file_url).await;
    assert_eq!(status, 200, "the secretariat opens it");
    let crawled = outputs.len();
    let values: Vec<&str> = corpus
        .iter()
        .flat_map(|l| l.values.iter().map(String::as_str))
        .collect();
    outputs.extend(search_outputs(&app, &values).await);
    eprintln!(
        "privacy corpus: {} strings ({} with personal information), {} values, through intake, drafts, reports and a file; {crawled} public outputs crawled, {} searches",
        corpus.len(),
        corpus.iter().filter(|l| !l.values.is_empty()).count(),
        values.len(),
        outputs.len() - crawled
    );
    assert_absent(&outputs, &values);
    // The near misses are published as written: the public text holds every one of them.
    let mut public_text = String::new();
    for p in entity::proposals::Entity::find()
        .all(app.db())
        .await
        .unwrap()
    {
        public_text.push_str(&p.body_md);
    }
    for r in entity::responses::Entity::find()
        .all(app.db())
        .await
        .unwrap()
    {
        public_text.push_str(&r.body_md);
    }
    for page in entity::attachment_pages::Entity::find()
        .all(app.db())
        .await
        .unwrap()
    {
        public_text.push_str(&page.text);
    }
    for line in corpus.iter().filter(|l| l.values.is_empty()) {
        assert!(
            public_text.contains(&line.text),
            "a near miss is published unchanged: {}",
            line.text
        );
    }
    // Written another way (the digits alone) in an output other than a search.
    for (path, body) in &outputs[..crawled] {
        for value in &values {
            if let Some(d) = digits_of(value) {
                assert!(!body.contains(&d), "{path} shows {d} (of {value:?})");
            }
        }
    }
}

#[tokio::test]
async fn the_privacy_corpus_reaches_no_public_output() {
    corpus_absent_everywhere(None).await;
}

#[tokio::test]
async fn the_privacy_corpus_reaches_no_meilisearch_document() {
    let Some(server) =
        common::meili::server_for("the_privacy_corpus_reaches_no_meilisearch_document").await
    else {
        return;
    };
    corpus_absent_everywhere(Some(server.fresh_index())).await;
}

/// An erasure request for every item is a standing rule: the value stays hidden when it comes
/// back in a member's new proposal, an agency's reply to it and a file attached to either. The
/// value is a name, which the detector cannot know, so only the rule can hide it.
#[tokio::test]
async fn a_value_erased_once_stays_hidden_when_it_comes_back() {
    const NAME: &str = "钱多多";
    let app = spawn_app_with_search(true, None, |backend| backend).await;
    let people = cast(&app).await;
    let (status, page, _) = people
        .secretariat
        .post(
            "/admin/privacy/requests",
            &[
                ("value", NAME),
                ("code", ""),
                ("reason", "本人要求删除"),
                ("erase", "on"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let body = format!("居民{NAME}反映社区养老驿站午餐供应不足。");
    let id = people
        .member
        .new_draft(&[
            ("title", "关于社区养老驿站供餐的建议"),
            ("body_md", body.as_str()),
            ("topics", "养老服务"),
        ])
        .await;
    let note = format!("{NAME}的来信:午餐常常不够。");
    let (status, body, _) = common::upload(
        &people.member,
        "proposal",
        id,
        &[("来信.txt", note.clone().into_bytes())],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    assert_ok("submit", people.member.act(id, "submit", &[]).await);
    assert_ok("accept", people.secretariat.act(id, "accept", &[]).await);
    assign_to_kjj(&app, &people, id).await;
    let report = format!("已与{NAME}联系,下周增加午餐供应。");
    report_progress(&people, id, &report).await;
    tingshang::attachments::worker::run_once(app.db(), &app.state.config)
        .await
        .unwrap();
    app.wait_for_index().await;
    let code = entity::proposals::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .code;
    let (_, page) = app.anonymous().get(&format!("/proposals/{code}")).await;
    assert!(
        page.contains("下周增加午餐供应"),
        "the report is published (nothing held it): {page}"
    );
    let outputs = public_outputs(&app, &code, &[NAME, "午餐常常不够"]).await;
    assert_absent(&outputs, &[NAME]);
    let (_, found) = app
        .json("/api/v1/search?q=%E5%8D%88%E9%A4%90%E5%B8%B8%E5%B8%B8")
        .await;
    assert!(
        found.to_string().contains("来信.txt"),
        "the file's redacted text is searchable: {found}"
    );
    let file = entity::attachments::Entity::find()
        .filter(entity::attachments::Column::OwnerId.eq(id))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert!(file.withheld, "its original names the person");
    let originals = entity::restricted_originals::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert!(
        originals.iter().any(|o| o.item_id == id),
        "the new proposal's text as written is kept, restricted"
    );
    assert!(
        originals.iter().all(|o| !o.original.contains(NAME)),
        "an erasure takes the name out of the restricted copies too"
    );
}
