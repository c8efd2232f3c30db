//! Hostile input and hardening: every payload of `tests/hostile/corpus.txt` goes through every
//! form field, API field, search query, filter, id and header. Required: no 5xx, no stored payload
//! rendered as active HTML, nothing half written. Also: the security headers, body limits, the
//! write-API rate limit, the client address behind proxies and the metrics endpoint.
mod common;

use common::{post_json, spawn_app_configured, token_for, TestApp};
use sea_orm::{EntityTrait, PaginatorTrait, QueryOrder};
use tingshang::accounts::throttle::Policy;
use tingshang::web::client_addr::TrustedProxies;

/// The corpus, unescaped (`\n`, `\r`, `\t`, `\0`, `\\`), with `@repeat N unit[\ttail]` expanded.
fn corpus() -> Vec<String> {
    let text = include_str!("hostile/corpus.txt");
    text.lines()
        .filter(|l| !l.starts_with("# "))
        .map(|line| {
            if let Some(spec) = line.strip_prefix("@repeat ") {
                let (count, rest) = spec.split_once(' ').expect("@repeat N unit");
                let (unit, tail) = rest.split_once('\t').unwrap_or((rest, ""));
                return unit.repeat(count.parse().unwrap()) + tail;
            }
            let mut out = String::new();
            let mut chars = line.chars();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some('0') => out.push('\0'),
                    Some('\\') => out.push('\\'),
                    Some(other) => {
                        out.push('\\');
                        out.push(other);
                    }
                    None => out.push('\\'),
                }
            }
            out
        })
        .collect()
}

/// Names a tag or attribute in `page` that would run script or load foreign content, if any.
fn active_html(page: &str) -> Option<String> {
    const BANNED: [&str; 12] = [
        "script", "iframe", "object", "embed", "base", "style", "svg", "math", "frame", "frameset",
        "applet", "template",
    ];
    let lower = page.to_lowercase();
    let mut rest = lower.as_str();
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        // The server's own charts are inline SVG with this class; anything else is not ours.
        let own_chart = name == "svg" && tag.contains("class=\"chart");
        // The app's own deferred script file (base.html), the only script any page carries.
        let own_script = name == "script" && tag.starts_with("script src=\"&#x2f;static&#x2f;app.");
        if BANNED.contains(&name.as_str()) && !own_chart && !own_script {
            return Some(format!("<{tag}>"));
        }
        if name == "meta" && tag.contains("http-equiv") {
            return Some(format!("<{tag}>"));
        }
        if !name.is_empty() {
            for (key, value) in attributes(&tag[name.len()..]) {
                if key.starts_with("on") {
                    return Some(format!("event attribute {key} in <{tag}>"));
                }
                let value: String = value
                    .chars()
                    .filter(|c| !c.is_whitespace() && !c.is_control())
                    .collect();
                let url_attr =
                    ["href", "src", "action", "formaction", "xlink:href"].contains(&key.as_str());
                for scheme in ["javascript:", "vbscript:", "data:text/html"] {
                    if url_attr && value.starts_with(scheme) {
                        return Some(format!("{scheme} URL in <{tag}>"));
                    }
                }
            }
        }
    }
    None
}

/// The attributes of a start tag (after its name), honouring quoted values.
fn attributes(text: &str) -> Vec<(String, String)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == '/') {
            i += 1;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && !matches!(chars[i], '=' | '/') {
            i += 1;
        }
        let key: String = chars[start..i].iter().collect();
        let mut value = String::new();
        if i < chars.len() && chars[i] == '=' {
            i += 1;
            if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                let quote = chars[i];
                i += 1;
                while i < chars.len() && chars[i] != quote {
                    value.push(chars[i]);
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && !chars[i].is_whitespace() {
                    value.push(chars[i]);
                    i += 1;
                }
            }
        }
        if key.is_empty() {
            i += 1;
        } else {
            out.push((key, value));
        }
    }
    out
}

fn encode(segment: &str) -> String {
    let mut out = String::new();
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn proposal_count(app: &TestApp) -> u64 {
    entity::proposals::Entity::find()
        .count(app.db())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_hostile_corpus_breaks_nothing() {
    let payloads = corpus();
    assert!(payloads.len() >= 200, "{} payloads", payloads.len());
    // Every payload tries to sign in from one address: no throttling, so each reaches the check.
    let app = spawn_app_configured(true, |config| {
        config.login_throttle = Policy {
            free_failures: u32::MAX,
            free_account_failures: u32::MAX,
            address_limit: 0,
            ..Policy::default()
        };
    })
    .await;
    let member = app.signed_in("xing", "member", Some("邢占军"), None).await;
    let admin = app.signed_in("root", "admin", None, None).await;
    app.create_user("hotline", "secretariat", None, None).await;
    let token = token_for(&admin, "hotline").await;
    let anonymous = app.anonymous();
    let mut requests = 0usize;
    let mut stored = 0usize;

    for (n, payload) in payloads.iter().enumerate() {
        let no_5xx = |what: &str, status: u16| {
            assert!(
                status < 500,
                "payload #{n} {payload:.80?} → {status} at {what}"
            );
        };
        // Forms: a member's draft, each field in turn.
        for field in ["title", "body_md", "topics", "cosigners", "session_number"] {
            let before = proposal_count(&app).await;
            let mut fields = vec![
                ("intent", "save"),
                ("title", "正常标题"),
                ("body_md", "正常正文"),
                ("topics", ""),
                ("cosigners", ""),
                ("session_number", ""),
            ];
            for f in fields.iter_mut() {
                if f.0 == field {
                    f.1 = payload.as_str();
                }
            }
            let (status, body, location) = member.post("/me/proposals/new", &fields).await;
            requests += 1;
            no_5xx(field, status);
            let after = proposal_count(&app).await;
            if status == 303 {
                assert_eq!(after, before + 1);
                stored += 1;
                let page = member.get(location.as_deref().unwrap()).await.1;
                if let Some(active) = active_html(&page) {
                    panic!("payload #{n} in {field} renders as active HTML: {active}");
                }
            } else {
                assert_eq!(
                    after, before,
                    "a refused draft leaves nothing behind ({field})"
                );
                if let Some(active) = active_html(&body) {
                    panic!("payload #{n} echoed as active HTML in the form: {active}");
                }
            }
        }
        // Search, filters and ids, as the public.
        // URLs are capped (clients and proxies refuse longer ones); bodies carry the big payloads.
        let mut q = String::new();
        for c in payload.chars() {
            let piece = encode(c.encode_utf8(&mut [0; 4]));
            if q.len() + piece.len() > 1500 {
                break;
            }
            q.push_str(&piece);
        }
        for path in [
            format!("/search?q={q}&agency={q}&status={q}&topic={q}&year={q}&session={q}&sort={q}&page={q}"),
            format!("/api/v1/search?q={q}&kind={q}&channel={q}&member={q}&per_page={q}"),
            format!("/proposals?status={q}&channel={q}&session={q}&group={q}&agency={q}&year={q}&page={q}"),
            format!("/api/v1/proposals?status={q}&group={q}"),
            format!("/statistics?year={q}"),
            format!("/proposals/{q}"),
            format!("/agencies/{q}"),
            format!("/sessions/{q}"),
            format!("/api/v1/proposals/{q}"),
            format!("/static/{q}"),
        ] {
            let response = anonymous
                .client
                .get(app.url(&path))
                .send()
                .await
                .unwrap_or_else(|e| panic!("payload #{n}: request failed: {:.200}", e.to_string()));
            let status = response.status().as_u16();
            let html = response
                .headers()
                .get("content-type")
                .is_some_and(|t| t.to_str().unwrap_or_default().starts_with("text/html"));
            let body = response.text().await.unwrap_or_default();
            requests += 1;
            no_5xx(&path, status);
            // JSON and CSS are not rendered as HTML (and `nosniff` keeps browsers from guessing).
            if let Some(active) = active_html(&body).filter(|_| html) {
                panic!("payload #{n} reflected as active HTML at {path}: {active}");
            }
        }
        // The write API, field by field.
        for field in ["title", "body_md", "external_id", "channel"] {
            let mut item = serde_json::json!({
                "channel": "hotline_12345",
                "external_id": format!("hostile-{n}-{field}"),
                "title": "正常标题",
                "body_md": "正常正文",
            });
            item[field] = serde_json::Value::String(payload.clone());
            let before = proposal_count(&app).await;
            let (status, _) = post_json(&app, "/api/v1/intake", Some(&token), item).await;
            requests += 1;
            no_5xx(field, status);
            if status >= 400 {
                assert_eq!(
                    proposal_count(&app).await,
                    before,
                    "a refused push leaves nothing behind"
                );
            }
        }
        // Headers and the login form.
        if let Ok(value) = reqwest::header::HeaderValue::from_str(payload) {
            let response = app
                .client
                .get(app.url("/"))
                .header("user-agent", value.clone())
                .header("x-request-id", value.clone())
                .header("cookie", value)
                .send()
                .await
                .unwrap();
            requests += 1;
            no_5xx("headers", response.status().as_u16());
        }
        // The login form with its real CSRF token, so the payload reaches the credential check.
        let form = anonymous.get("/login").await.1;
        let csrf = common::input_value(&form, "csrf").expect("login form has a csrf field");
        let (status, body, _) = anonymous
            .post_raw(
                "/login",
                &[
                    ("username", payload),
                    ("password", payload),
                    ("csrf", &csrf),
                ],
            )
            .await;
        requests += 2;
        no_5xx("login", status);
        assert!(
            status == 401 || status == 413,
            "payload #{n} {payload:.80?} → {status} at login (wrong credentials are 401)"
        );
        if let Some(active) = active_html(&body) {
            panic!("payload #{n} echoed as active HTML on the login form: {active}");
        }
    }
    eprintln!(
        "hostile corpus: {} payloads, {requests} requests, {stored} drafts stored and re-read, no 5xx, no active HTML",
        payloads.len()
    );
}

#[tokio::test]
async fn responses_carry_the_security_headers_and_limits_hold() {
    // The bucket hardly refills, so a slow machine cannot earn a token back between the flood's
    // last request and the made-up token's (at 50/s it did, 20 ms later, on CI).
    let app = spawn_app_configured(true, |config| config.api_rate = (0.001, 200.0)).await;
    for path in [
        "/",
        "/proposals/TS-2023-027-06",
        "/api/v1/sessions",
        "/nope",
        "/static/app.css",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let h = response.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"), "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
        assert!(
            h.get("strict-transport-security").is_none(),
            "no HSTS over plain HTTP"
        );
    }
    // No page needs inline script or style, so the strict policy breaks nothing.
    for path in [
        "/",
        "/sessions/27",
        "/proposals/TS-2023-027-06",
        "/statistics",
        "/search?q=科技",
    ] {
        let page = app.page(path).await;
        assert!(
            common::only_own_external_scripts(&page) && !page.contains(" style="),
            "{path}"
        );
    }

    // Oversized bodies are refused with 413, as a page or a problem document.
    let big = "正".repeat(400 * 1024);
    let member = app.signed_in("xing", "member", Some("邢占军"), None).await;
    let (status, _, _) = member
        .post(
            "/me/proposals/new",
            &[("intent", "save"), ("title", "t"), ("body_md", &big)],
        )
        .await;
    assert_eq!(status, 413);
    let admin = app.signed_in("root", "admin", None, None).await;
    app.create_user("hotline", "secretariat", None, None).await;
    let token = token_for(&admin, "hotline").await;
    let (status, body) = post_json(
        &app,
        "/api/v1/intake",
        Some(&token),
        serde_json::json!({"channel": "hotline_12345", "external_id": "big", "title": "t", "body_md": big}),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["status"], 413);

    // The write API is rate limited per client, with Retry-After.
    let mut limited = None;
    for _ in 0..400 {
        let response = app
            .client
            .post(app.url("/api/v1/intake"))
            .bearer_auth("ts_flood")
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("a flood is cut off");
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(
        limited.headers()["content-type"],
        "application/problem+json"
    );
    // A made-up token counts against its address; a real token has a bucket of its own.
    let (status, _) = post_json(
        &app,
        "/api/v1/intake",
        Some("ts_other"),
        serde_json::json!({}),
    )
    .await;
    assert_eq!(status, 429, "made-up tokens share their address's bucket");
    let (status, body) =
        post_json(&app, "/api/v1/intake", Some(&token), serde_json::json!({})).await;
    assert!(status != 429 && status < 500, "{status} {body}");

    // Metrics count requests by route template, not raw path.
    let (_, metrics) = app.get("/metrics").await;
    assert!(metrics.contains(
        "tingshang_http_requests_total{method=\"GET\",route=\"/proposals/{code}\",status=\"200\"}"
    ), "{metrics}");
    assert!(
        metrics.contains("tingshang_http_request_duration_seconds_bucket{route=\"/api/v1/intake\"")
    );
    assert!(!metrics.contains("TS-2023-027-06"));
    let (status, ready) = app.get("/readyz").await;
    assert_eq!(status, 200, "{ready}");
}

/// POSTs `{}` to the intake endpoint with a raw `Authorization` header (if any) and
/// `X-Forwarded-For` (if any); returns the status.
async fn push(app: &TestApp, authorization: Option<&str>, forwarded_for: Option<&str>) -> u16 {
    let mut request = reqwest::Client::new()
        .post(app.url("/api/v1/intake"))
        .json(&serde_json::json!({}));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    if let Some(value) = forwarded_for {
        request = request.header("x-forwarded-for", value);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn one_token_is_one_bucket_however_it_is_spelled() {
    let app = spawn_app_configured(false, |config| config.api_rate = (0.001, 3.0)).await;
    let admin = app.signed_in("root", "admin", None, None).await;
    app.create_user("hotline", "secretariat", None, None).await;
    let token = token_for(&admin, "hotline").await;
    let other = token_for(&admin, "hotline").await;
    for _ in 0..3 {
        let status = push(&app, Some(&format!("Bearer {token}")), None).await;
        assert!(status != 429 && status < 500, "{status}");
    }
    // The same token, spelled as the token check accepts it, is the same client.
    for spelling in [
        format!("Bearer   {token}"),
        format!("Bearer {token}  "),
        format!("bearer {token}"),
    ] {
        assert_eq!(push(&app, Some(&spelling), None).await, 429, "{spelling:?}");
    }
    // Another token, and requests without a valid one, have buckets of their own.
    let status = push(&app, Some(&format!("Bearer {other}")), None).await;
    assert!(status != 429 && status < 500, "{status}");
    for _ in 0..3 {
        assert_eq!(push(&app, Some("Bearer ts_madeup"), None).await, 401);
    }
    assert_eq!(push(&app, Some("Bearer   ts_madeup2"), None).await, 429);
    assert_eq!(
        push(&app, None, None).await,
        429,
        "made-up or none: the address counts"
    );
}

/// The address recorded for a failed login sent with this `X-Forwarded-For`.
async fn login_address(app: &TestApp, forwarded_for: &str) -> String {
    let client = app.anonymous().client;
    let csrf = common::login_csrf(client.get(app.url("/login"))).await;
    let status = client
        .post(app.url("/login"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[("username", "nobody"), ("password", "x"), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    entity::login_attempts::Entity::find()
        .order_by_desc(entity::login_attempts::Column::Id)
        .one(app.db())
        .await
        .unwrap()
        .expect("the attempt is recorded")
        .ip
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    // The test client connects from 127.0.0.1.
    for trusted in [false, true] {
        let app = spawn_app_configured(false, |config| {
            config.api_rate = (0.001, 2.0);
            if trusted {
                config.trusted_proxies = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").unwrap();
            }
        })
        .await;
        // The client forged the first hop; the proxy appended the address it saw.
        let address = login_address(&app, "192.0.2.1, 203.0.113.9").await;
        let expected = if trusted { "203.0.113.9" } else { "127.0.0.1" };
        assert_eq!(address, expected, "trusted: {trusted}");
        // Hops that are trusted proxies themselves are skipped.
        let address = login_address(&app, "203.0.113.10, 10.1.1.1").await;
        let expected = if trusted { "203.0.113.10" } else { "127.0.0.1" };
        assert_eq!(address, expected, "trusted: {trusted}");

        // The write-API limiter sees the same addresses.
        for _ in 0..2 {
            assert_eq!(push(&app, None, Some("203.0.113.1")).await, 401);
        }
        assert_eq!(push(&app, None, Some("203.0.113.1")).await, 429);
        let elsewhere = push(&app, None, Some("203.0.113.2")).await;
        if trusted {
            assert_eq!(
                elsewhere, 401,
                "another client behind the proxy has its own bucket"
            );
        } else {
            assert_eq!(elsewhere, 429, "an untrusted peer cannot pick its bucket");
        }
    }
}
