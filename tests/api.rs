//! The JSON API against its own OpenAPI document: every GET endpoint answers with the documented
//! shape; tokens are scoped to their account's role and agency and can be revoked; the hotline
//! intake is idempotent on its ticket number.
mod common;

use common::{post_json, spawn_app, token_for, TestApp};
use serde_json::{json, Value};

/// Every violation of `value` against `schema` (a schema of the OpenAPI document `doc`), checked
/// by the `jsonschema` crate as JSON Schema 2020-12, with the document's components alongside so
/// its `$ref`s resolve. Fields no schema documents are violations too (drift between code and
/// document): see [`closed`].
fn violations(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut components = doc["components"].clone();
    let mut parts = Vec::new();
    all_of_references(doc, &mut parts);
    for (name, schema) in components["schemas"].as_object_mut().unwrap() {
        closed(schema, parts.contains(name));
    }
    let mut root = schema.clone();
    closed(&mut root, false);
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["components"] = components;
    let validator = jsonschema::validator_for(&root).expect("the OpenAPI schemas compile");
    validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The component names an `allOf` refers to: parts of another schema, never closed themselves.
fn all_of_references(value: &Value, names: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for member in map
                .get("allOf")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(reference) = member.get("$ref").and_then(Value::as_str) {
                    names.push(
                        reference
                            .trim_start_matches("#/components/schemas/")
                            .to_owned(),
                    );
                }
            }
            map.values().for_each(|v| all_of_references(v, names));
        }
        Value::Array(items) => items.iter().for_each(|v| all_of_references(v, names)),
        _ => {}
    }
}

/// Marks every object schema that lists its properties as closed (`unevaluatedProperties:
/// false`), except the members of an `allOf` (`serde(flatten)`): each holds only part of the
/// properties, and the schema holding the `allOf` is closed instead, over all of them. A `$ref`
/// used on its own is closed where it is used, so a part is closed wherever it stands alone.
fn closed(schema: &mut Value, in_all_of: bool) {
    match schema {
        Value::Object(map) => {
            let lists = ["properties", "allOf", "$ref"]
                .iter()
                .any(|key| map.contains_key(*key));
            if lists && !in_all_of && !map.contains_key("additionalProperties") {
                map.insert("unevaluatedProperties".into(), json!(false));
            }
            for (key, child) in map.iter_mut() {
                match (key.as_str(), child) {
                    ("allOf", Value::Array(members)) => {
                        members.iter_mut().for_each(|m| closed(m, true))
                    }
                    ("properties", Value::Object(properties)) => {
                        properties.values_mut().for_each(|p| closed(p, false))
                    }
                    (_, child) => closed(child, false),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| closed(i, false)),
        _ => {}
    }
}

/// The check itself can fail: a field no schema documents, a wrong type and a missing required
/// field are each reported, through an `allOf` (`serde(flatten)`) and a `$ref` used on its own.
#[test]
fn the_schema_check_reports_drift() {
    let doc = json!({"components": {"schemas": {
        "Item": {"type": "object", "required": ["code"],
                 "properties": {"code": {"type": "string"}}},
        "Detail": {"allOf": [{"$ref": "#/components/schemas/Item"},
                             {"type": "object", "properties": {"n": {"type": "integer"}}}]},
    }}});
    let detail = json!({"$ref": "#/components/schemas/Detail"});
    let item = json!({"$ref": "#/components/schemas/Item"});
    assert!(violations(&doc, &detail, &json!({"code": "A", "n": 1})).is_empty());
    assert!(violations(&doc, &item, &json!({"code": "A"})).is_empty());
    let reported = |schema: &Value, value: Value, what: &str| {
        let found = violations(&doc, schema, &value);
        assert!(
            found.iter().any(|v| v.contains(what)),
            "{value} against {schema}: {found:?} should name {what}"
        );
    };
    reported(&detail, json!({"code": "A", "n": 1, "extra": 1}), "extra");
    reported(&item, json!({"code": "A", "n": 1}), "'n'");
    reported(&detail, json!({"code": 5, "n": 1}), "/code");
    reported(&detail, json!({"code": "A", "n": "x"}), "/n");
    reported(&item, json!({}), "code");
}

fn response_schema<'a>(doc: &'a Value, path: &str, method: &str, status: u16) -> &'a Value {
    let response = &doc["paths"][path][method]["responses"][status.to_string()];
    assert!(
        !response.is_null(),
        "{method} {path} answered {status}, which is not documented"
    );
    let content = response["content"].as_object().expect("documented content");
    &content.values().next().unwrap()["schema"]
}

async fn check(app: &TestApp, doc: &Value, template: &str, concrete: &str) {
    let (status, body) = app.get(concrete).await;
    let value: Value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("{concrete} is not JSON ({e}): {body}"));
    let schema = response_schema(doc, template, "get", status);
    let errors = violations(doc, schema, &value);
    assert!(errors.is_empty(), "{concrete}: {errors:#?}");
}

#[tokio::test]
async fn every_get_endpoint_answers_with_its_documented_shape() {
    let app = spawn_app().await;
    let (status, body) = app.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let agency = app.agency_id("市科技局").await.to_string();
    let person = app.person_id("王雪").await.to_string();
    let (_, documents) = app.get("/api/v1/documents").await;
    let documents: Value = serde_json::from_str(&documents).unwrap();
    let document = documents["items"][0]["id"].to_string();
    assert_ne!(document, "null", "a published document to read");

    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        if item.get("get").is_none() {
            continue;
        }
        let concrete = template
            .replace("{number}", "27")
            .replace("{code}", "TS-2023-027-06")
            .replace(
                "{id}",
                if template.contains("agencies") {
                    &agency
                } else if template.contains("people") {
                    &person
                } else {
                    &document
                },
            );
        let concrete = if template.ends_with("/search") {
            "/api/v1/search?q=科技型中小企业".to_owned()
        } else {
            concrete
        };
        check(&app, &doc, template, &concrete).await;
        checked += 1;
    }
    assert_eq!(checked, 14, "every GET endpoint was exercised");

    // Filters, paging and errors are documented too.
    check(
        &app,
        &doc,
        "/api/v1/proposals",
        "/api/v1/proposals?session=27&group=open&per_page=3&page=2",
    )
    .await;
    let (_, page) = app
        .get("/api/v1/proposals?session=27&per_page=3&page=2")
        .await;
    let page: Value = serde_json::from_str(&page).unwrap();
    assert_eq!(
        (
            page["total"].as_u64(),
            page["items"].as_array().unwrap().len()
        ),
        (Some(11), 3)
    );
    check(
        &app,
        &doc,
        "/api/v1/proposals",
        "/api/v1/proposals?status=bogus",
    )
    .await;
    check(
        &app,
        &doc,
        "/api/v1/proposals/{code}",
        "/api/v1/proposals/TS-1999-000-99",
    )
    .await;
    let (status, body) = app.get("/api/v1/proposals?status=bogus").await;
    assert_eq!(status, 400);
    assert!(body.contains("\"title\"") && body.contains("status"));

    // The commitment the sources report: 9500 → 9777, exceeded.
    let (_, detail) = app.get("/api/v1/proposals/TS-2023-027-06").await;
    let detail: Value = serde_json::from_str(&detail).unwrap();
    let sme = detail["commitments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["target_value"] == json!(9500.0))
        .expect("the 9500 commitment");
    assert_eq!(sme["latest_actual"], json!(9777.0));
    assert_eq!(sme["status"], "exceeded");

    // The human docs page is served by the app and lists every path.
    let docs = app.page("/api/docs").await;
    for template in doc["paths"].as_object().unwrap().keys() {
        // minijinja escapes `/` in values as `&#x2f;`.
        let shown = template.replace('/', "&#x2f;");
        assert!(docs.contains(&shown), "docs page lacks {template}");
    }
    assert!(
        common::only_own_external_scripts(&docs),
        "no inline or third-party script on the docs page"
    );
}

#[tokio::test]
async fn tokens_act_within_their_account_and_the_hotline_intake_is_idempotent() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", "admin", None, None).await;
    app.create_user("hotline", "secretariat", None, None).await;
    app.create_user("kjj", "agency_staff", None, Some("市科技局"))
        .await;
    app.create_user("gxj", "agency_staff", None, Some("市工信局"))
        .await;
    let secretariat = app.signed_in("mishu", "secretariat", None, None).await;
    let hotline = token_for(&admin, "hotline").await;
    let kjj = token_for(&admin, "kjj").await;
    let gxj = token_for(&admin, "gxj").await;
    let tokens_page = admin.get("/admin/tokens").await.1;
    assert!(
        !tokens_page.contains(&hotline),
        "a token is shown only when created"
    );

    // Nothing public changes while tokens are made, people sign in and tickets arrive (a
    // submitted proposal is not public yet): cached public pages stay valid.
    let revision = || async { tingshang::revision::current(app.db()).await.unwrap() };
    let before = revision().await;

    // The 12345 hotline pushes a ticket; a repeat push changes nothing.
    let ticket = json!({
        "channel": "hotline_12345",
        "external_id": "12345-20261123-0042",
        "title": "建议增设科技型中小企业政策咨询窗口",
        "body_md": "市民来电反映:希望在政务服务大厅增设**科技政策**咨询窗口。",
        "topics": ["科技型中小企业"]
    });
    let (status, first) = post_json(&app, "/api/v1/intake", Some(&hotline), ticket.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["created"], true);
    assert_eq!(first["status"], "submitted");
    let (status, again) = post_json(&app, "/api/v1/intake", Some(&hotline), ticket.clone()).await;
    assert_eq!(status, 200);
    // The same ticket number with other content is not a retry: refused, the fields named.
    let mut changed = ticket.clone();
    changed["title"] = json!("建议增设科技政策咨询窗口(更正)");
    changed["topics"] = json!(["科技政策"]);
    let (status, refused) = post_json(&app, "/api/v1/intake", Some(&hotline), changed).await;
    assert_eq!(status, 409, "{refused}");
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("title") && detail.contains("topics") && !detail.contains("body_md"),
        "{detail}"
    );
    token_for(&admin, "kjj").await;
    app.signed_in("mishu2", "secretariat", None, None).await;
    assert_eq!(
        revision().await,
        before,
        "intake, a token and a sign-in left public pages alone"
    );
    assert_eq!(
        (again["created"].clone(), again["code"].clone()),
        (json!(false), first["code"].clone())
    );
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let copies = entity::proposals::Entity::find()
        .filter(entity::proposals::Column::ExternalId.eq("12345-20261123-0042"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(copies, 1);

    // Codes count on from the highest one under the prefix, also when another path (an archive
    // import, say) wrote codes the counter has not seen.
    let first_code = first["code"].as_str().unwrap().to_owned();
    let prefix = first_code.rsplit_once('-').unwrap().0.to_owned();
    let mut imported: entity::proposals::ActiveModel = entity::proposals::Entity::find()
        .filter(entity::proposals::Column::Code.eq(first_code.as_str()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .into();
    imported.id = sea_orm::ActiveValue::NotSet;
    imported.code = sea_orm::ActiveValue::Set(format!("{prefix}-107"));
    imported.external_id = sea_orm::ActiveValue::Set(None);
    entity::proposals::Entity::insert(imported.clone())
        .exec(app.db())
        .await
        .unwrap();
    tingshang::proposals::drafts::sync_code_sequences(app.db())
        .await
        .unwrap();
    let mut codes = Vec::new();
    for n in 0..3 {
        if n == 1 {
            // A writer that did not sync the counter took the next number: it is skipped.
            imported.code = sea_orm::ActiveValue::Set(format!("{prefix}-109"));
            entity::proposals::Entity::insert(imported.clone())
                .exec(app.db())
                .await
                .unwrap();
        }
        let mut next = ticket.clone();
        next["external_id"] = json!(format!("12345-20261123-01{n}"));
        let (status, body) = post_json(&app, "/api/v1/intake", Some(&hotline), next).await;
        assert_eq!(status, 201, "{body}");
        codes.push(body["code"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        codes,
        vec![
            format!("{prefix}-108"),
            format!("{prefix}-110"),
            format!("{prefix}-111")
        ]
    );

    // Pushes that arrive together are written in shared transactions: every one is answered,
    // with its own code, and every one is in the database (and a repeat within a group is found).
    let pushes = (0..40).map(|n| {
        let mut item = ticket.clone();
        item["external_id"] = json!(format!("burst-{}", n % 30));
        let (app, hotline) = (&app, &hotline);
        async move { post_json(app, "/api/v1/intake", Some(hotline), item).await }
    });
    let answers = futures_util::future::join_all(pushes).await;
    let mut burst_codes = std::collections::BTreeSet::new();
    for (status, body) in &answers {
        assert!(*status == 201 || *status == 200, "{status} {body}");
        burst_codes.insert(body["code"].as_str().unwrap().to_owned());
    }
    assert_eq!(burst_codes.len(), 30, "one proposal per ticket");
    let stored = entity::proposals::Entity::find()
        .filter(entity::proposals::Column::ExternalId.starts_with("burst-"))
        .count(app.db())
        .await
        .unwrap();
    assert_eq!(stored, 30);

    // Only the secretariat's accounts may push items; bad input is a 400 problem.
    let (status, body) = post_json(&app, "/api/v1/intake", Some(&kjj), ticket.clone()).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post_json(
        &app,
        "/api/v1/intake",
        Some(&hotline),
        json!({"channel": "session", "external_id": "x", "title": "t", "body_md": "b"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], 400);
    assert!(
        body["type"].as_str().unwrap().ends_with("bad-request"),
        "{body}"
    );
    let (status, _) = post_json(&app, "/api/v1/intake", None, ticket.clone()).await;
    assert_eq!(status, 401, "no token");
    let (status, _) = post_json(&app, "/api/v1/intake", Some("ts_forged"), ticket.clone()).await;
    assert_eq!(status, 401, "unknown token");

    // The secretariat accepts it and assigns 市科技局 as lead through the web workflow.
    let code = first["code"].as_str().unwrap().to_owned();
    let id = entity::proposals::Entity::find()
        .filter(entity::proposals::Column::Code.eq(code.as_str()))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id;
    let decision = format!("/api/v1/proposals/{code}/decision");
    let (status, _) = post_json(&app, &decision, Some(&kjj), json!({"action": "accept"})).await;
    assert_eq!(status, 404, "an agency cannot even see an undecided item");
    let (status, body) =
        post_json(&app, &decision, Some(&hotline), json!({"action": "maybe"})).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) =
        post_json(&app, &decision, Some(&hotline), json!({"action": "accept"})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (201, Some("accepted")),
        "{body}"
    );
    let (status, _) = post_json(&app, &decision, Some(&hotline), json!({"action": "accept"})).await;
    assert_eq!(status, 409, "already accepted");
    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(20)).to_string();
    let lead = app.agency_id("市科技局").await.to_string();
    assert_eq!(
        secretariat
            .act(id, "assign", &[("lead", &lead), ("due_on", &due)])
            .await
            .0,
        303
    );

    // Another agency's token cannot answer it; the lead agency's can.
    let reply = json!({"kind": "written", "grade": "A", "doc_number": "青科函〔2026〕3号",
        "body_md": "已在市民中心设立科技政策咨询窗口。",
        "commitment": {"description": "2027年底前各区市均设窗口", "metric": "设窗口的区市", "unit": "个",
            "target_value": 10, "target_date": "2027-12-31"}});
    let path = format!("/api/v1/proposals/{code}/responses");
    let (status, body) = post_json(&app, &path, Some(&gxj), reply.clone()).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = post_json(
        &app,
        &path,
        Some(&kjj),
        json!({"kind": "written", "body_md": "x"}),
    )
    .await;
    assert_eq!(status, 400, "a written reply needs a grade: {body}");
    let (status, body) = post_json(&app, &path, Some(&kjj), json!("not an object")).await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = post_json(&app, &path, Some(&kjj), reply.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "answered");
    let (status, body) = post_json(&app, &path, Some(&kjj), reply.clone()).await;
    assert_eq!(
        status, 409,
        "no second written reply while answered: {body}"
    );

    // The lead agency reports an actual for its commitment; 市工信局 may not.
    let (_, detail) = app.get(&format!("/api/v1/proposals/{code}")).await;
    let detail: Value = serde_json::from_str(&detail).unwrap();
    let commitment = detail["commitments"][0]["id"].as_i64().unwrap();
    let report_path = format!("/api/v1/commitments/{commitment}/reports");
    let report = json!({"value": 4, "reported_on": chrono::Utc::now().date_naive(), "source": "市科技局工作通报"});
    let (status, _) = post_json(&app, &report_path, Some(&gxj), report.clone()).await;
    assert_eq!(status, 403);
    // A source with a private person's details never reaches the record.
    let mut private = report.clone();
    private["source"] = json!("来电人张先生13912345678反映");
    let (status, refused) = post_json(&app, &report_path, Some(&kjj), private).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("手机号"),
        "{refused}"
    );
    let (status, body) = post_json(&app, &report_path, Some(&kjj), report.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["latest_actual"], json!(4.0));
    assert_eq!(body["status"], "on_track");

    // A backdated figure does not overturn the sources' figure for 2024 (9,777 against 9,500).
    let (_, seeded) = app.json("/api/v1/proposals/TS-2023-027-06").await;
    let sme = seeded["commitments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["target_value"] == json!(9500.0))
        .unwrap()
        .clone();
    let backdated =
        json!({"value": 120, "reported_on": "2023-06-01", "source": "市科技局2023年中期通报"});
    let (status, body) = post_json(
        &app,
        &format!("/api/v1/commitments/{}/reports", sme["id"]),
        Some(&kjj),
        backdated,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["latest_actual"], json!(9777.0), "{body}");
    assert_eq!(body["status"], "exceeded");

    // A revoked token is refused from then on.
    let tokens = entity::api_tokens::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    let kjj_token = tokens
        .iter()
        .find(|t| kjj.starts_with(&t.prefix) && t.last_used_at.is_some())
        .expect("last use recorded");
    let (status, _, _) = admin
        .post(&format!("/admin/tokens/{}/revoke", kjj_token.id), &[])
        .await;
    assert_eq!(status, 303);
    let (status, _) = post_json(&app, &report_path, Some(&kjj), report).await;
    assert_eq!(status, 401);
    // Only admins see the token page.
    assert_eq!(secretariat.get("/admin/tokens").await.0, 403);
}

/// What a harvester meets: one list envelope with `Link` headers on every list, page parameters
/// that fail with their name, validators that answer 304 until public content changes, CORS on
/// reads only, and codes (not labels) in JSON.
#[tokio::test]
async fn lists_link_their_pages_reads_revalidate_and_other_origins_may_read() {
    let app = spawn_app().await;
    let get = |path: &str, etag: Option<&str>| {
        let mut request = app.client.get(app.url(path));
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send()
    };

    // Every list: the same envelope and a Link header; following `next` visits each item once.
    for list in [
        "/api/v1/sessions",
        "/api/v1/proposals",
        "/api/v1/agencies",
        "/api/v1/people",
        "/api/v1/documents",
    ] {
        let mut seen = Vec::new();
        let mut next = Some(format!("{list}?per_page=1"));
        let mut total = None;
        while let Some(path) = next.take() {
            let response = get(&path, None).await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            let link = response.headers()["link"].to_str().unwrap().to_owned();
            assert!(
                link.contains("rel=\"first\"") && link.contains("rel=\"last\""),
                "{link}"
            );
            let page: Value = response.json().await.unwrap();
            assert_eq!(page["per_page"], 1, "{path}");
            total = page["total"].as_u64();
            for item in page["items"].as_array().unwrap() {
                seen.push(item["url"].as_str().unwrap().to_owned());
            }
            next = link
                .split(", ")
                .find(|l| l.ends_with("rel=\"next\""))
                .map(|l| l[1..l.find('>').unwrap()].to_owned());
            assert!(seen.len() <= 1000, "{list} never ends");
        }
        let unique: std::collections::BTreeSet<_> = seen.iter().collect();
        assert_eq!(Some(seen.len() as u64), total, "{list}: every item once");
        assert_eq!(unique.len(), seen.len(), "{list}: no item twice");
        // The seed holds one session (第27期); every other list spans several pages.
        assert!(
            seen.len() > 1 || list.ends_with("sessions"),
            "{list} has more than one page in the seed"
        );
    }
    // Search too: items, and numeric page fields (once the seed is in the index: the app has
    // just started, and its first indexing may still be running on a busy machine).
    app.wait_for_index().await;
    let (_, search) = app
        .json("/api/v1/search?q=%E7%A7%91%E6%8A%80&per_page=5")
        .await;
    assert!(
        search["items"].as_array().unwrap().len() == 5 && search["page"] == 1,
        "{search}"
    );

    // A parameter that fails is named; per_page beyond the maximum is refused, not cut.
    for (path, named) in [
        ("/api/v1/proposals?page=abc", "参数 page"),
        (
            "/api/v1/sessions?per_page=500",
            "参数 per_page 应在 1 到 200 之间",
        ),
        ("/api/v1/people?page=0", "参数 page"),
        ("/api/v1/search?q=x&per_page=zz", "参数 per_page"),
        ("/api/v1/proposals?session=abc", "参数 session"),
    ] {
        let (status, body) = app.json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains(named),
            "{path}: {body}"
        );
    }

    // Validators: an unchanged read is a bodiless 304 until public content changes.
    let detail = "/api/v1/proposals/TS-2023-027-06";
    let first = get(detail, None).await.unwrap();
    assert_eq!(first.headers()["access-control-allow-origin"], "*");
    assert!(first.headers()["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("public"));
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = first.json().await.unwrap();
    // An agency's answered proposals are shown beside its assigned ones: at session 27 市科技局
    // answered on the spot without being assigned.
    let (_, kjj) = app
        .json(&format!(
            "/api/v1/agencies/{}",
            app.agency_id("市科技局").await
        ))
        .await;
    let answered = kjj["answered_proposals"].as_u64().unwrap();
    assert!(
        answered >= 9 && answered > kjj["statistics"]["proposals"].as_u64().unwrap(),
        "{kjj}"
    );
    let (_, listed) = app.json("/api/v1/agencies?per_page=200").await;
    let listed_kjj = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["short_name"] == "市科技局")
        .unwrap();
    assert_eq!(
        listed_kjj["answered_proposals"], answered,
        "list and detail agree"
    );
    // A date the sources give to the day is sent as a date, without a made-up moment.
    assert_eq!(
        body["submitted_on"], "2023-09-28",
        "{}",
        body["submitted_on"]
    );
    assert_ne!(body["submitted_precision"], "exact");
    assert!(body["submitted_at"].is_null());
    for a in body["assignments"].as_array().unwrap() {
        assert!(
            a["role"] == "lead" || a["role"] == "co",
            "codes in JSON: {a}"
        );
        assert!(
            a["role_label"] == "主办" || a["role_label"] == "协办",
            "{a}"
        );
    }
    let again = get(detail, Some(&etag)).await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());
    let feed = get("/feeds/proposals.atom", None).await.unwrap();
    let feed_etag = feed.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(
        get("/feeds/proposals.atom", Some(&feed_etag))
            .await
            .unwrap()
            .status(),
        304
    );

    // A public change (the secretariat accepts a 12345 ticket) makes every validator stale.
    let admin = app.signed_in("root", "admin", None, None).await;
    app.create_user("hotline", "secretariat", None, None).await;
    let hotline = token_for(&admin, "hotline").await;
    let ticket = json!({"channel": "hotline_12345", "external_id": "12345-20261202-0001",
        "title": "建议延长科技馆周末开放时间", "body_md": "市民来电:希望科技馆周末延长开放。"});
    let response = app
        .client
        .post(app.url("/api/v1/intake"))
        .bearer_auth(&hotline)
        .json(&ticket)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/proposals/{}", created["code"].as_str().unwrap())
    );
    let decision = format!(
        "/api/v1/proposals/{}/decision",
        created["code"].as_str().unwrap()
    );
    let (status, decided) =
        post_json(&app, &decision, Some(&hotline), json!({"action": "accept"})).await;
    assert_eq!(status, 201, "{decided}");
    let changed = get(detail, Some(&etag)).await.unwrap();
    assert_eq!(
        changed.status(),
        200,
        "a validator from before the change is stale"
    );
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);

    let (_, listed) = app.json(&location).await;
    assert_eq!(listed["code"], created["code"], "Location names the item");

    // CORS: reads answer any origin and their preflight; writes do neither.
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/proposals"))
        .header("origin", "https://data.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert!(!preflight.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    let write_preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/intake"))
        .header("origin", "https://data.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(!write_preflight
        .headers()
        .contains_key("access-control-allow-origin"));
    let write = app
        .client
        .post(app.url("/api/v1/intake"))
        .header("origin", "https://data.example")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(!write.headers().contains_key("access-control-allow-origin"));

    // The OpenAPI document: an operationId and a summary for each operation, and the
    // vocabularies as enums.
    let (_, doc) = app.json("/api/openapi.json").await;
    let mut ids = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                id.len() > 3 && id != "api",
                "{method} {path}: operationId {id:?}"
            );
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
            assert!(operation["summary"].is_string(), "{method} {path}: summary");
        }
    }
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["Channel"]["enum"]
        .as_array()
        .unwrap()
        .contains(&json!("hotline_12345")));
    assert!(schemas["AssignmentRole"]["enum"]
        .as_array()
        .unwrap()
        .contains(&json!("lead")));
}

/// One 12345 ticket handled through the API alone, by the tokens of the secretariat, the lead and
/// the co-handling agency; a retried step with the same `Idempotency-Key` is answered once.
#[tokio::test]
async fn a_ticket_is_handled_through_the_api_alone_and_retries_act_once() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", "admin", None, None).await;
    app.create_user("hotline", "secretariat", None, None).await;
    app.create_user("kjj", "agency_staff", None, Some("市科技局"))
        .await;
    app.create_user("gxj", "agency_staff", None, Some("市工信局"))
        .await;
    let hotline = token_for(&admin, "hotline").await;
    let kjj = token_for(&admin, "kjj").await;
    let gxj = token_for(&admin, "gxj").await;
    let (lead, co) = (
        app.agency_id("市科技局").await,
        app.agency_id("市工信局").await,
    );
    let ticket = json!({"channel": "hotline_12345", "external_id": "12345-20261202-0100",
        "title": "建议为科技型中小企业开设政策直通车", "body_md": "市民来电:希望政策申报更便捷。"});
    let (status, created) = post_json(&app, "/api/v1/intake", Some(&hotline), ticket).await;
    assert_eq!(status, 201, "{created}");
    let code = created["code"].as_str().unwrap().to_owned();
    let step = |token: &str, body: Value, key: Option<&str>| {
        let mut request = app
            .client
            .post(app.url(&format!("/api/v1/proposals/{code}/actions")))
            .bearer_auth(token)
            .json(&body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send()
    };
    let (status, _) = post_json(
        &app,
        &format!("/api/v1/proposals/{code}/decision"),
        Some(&hotline),
        json!({"action": "accept"}),
    )
    .await;
    assert_eq!(status, 201);

    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(30)).to_string();
    let assign =
        json!({"action": "assign", "lead_agency_id": lead, "co_agency_ids": [co], "due_on": due});
    let first = step(&hotline, assign.clone(), Some("assign-0100"))
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let retry = step(&hotline, assign.clone(), Some("assign-0100"))
        .await
        .unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(
        retry.json::<Value>().await.unwrap(),
        first,
        "the first answer again"
    );
    let other = step(
        &hotline,
        json!({"action": "pause", "reason": "x"}),
        Some("assign-0100"),
    )
    .await
    .unwrap();
    assert_eq!(other.status(), 422, "the key was used for another request");
    // Another token's key of the same name is its own.
    let theirs = step(&kjj, assign.clone(), Some("assign-0100"))
        .await
        .unwrap();
    assert_eq!(theirs.status(), 403, "an agency does not assign");
    // Without the key a second assign is refused by the state machine, not applied twice.
    assert_eq!(step(&hotline, assign, None).await.unwrap().status(), 409);

    for body in [
        json!({"action": "pause", "reason": "等待来电人补充材料"}),
        json!({"action": "resume", "note": "材料已补充"}),
        json!({"action": "extend", "due_on": (chrono::Utc::now().date_naive() + chrono::Duration::days(45)).to_string(), "reason": "需要现场调研"}),
        json!({"action": "supervise", "on": true, "reason": "群众关注度高"}),
    ] {
        let response = step(&hotline, body.clone(), None).await.unwrap();
        assert_eq!(
            response.status(),
            201,
            "{body}: {}",
            response.text().await.unwrap()
        );
    }
    let responses = format!("/api/v1/proposals/{code}/responses");
    let (status, body) = post_json(
        &app,
        &responses,
        Some(&gxj),
        json!({"kind": "co_opinion", "body_md": "同意牵头单位意见。"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post_json(
        &app,
        &responses,
        Some(&kjj),
        json!({"kind": "progress", "body_md": "已开设线上专区。"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post_json(
        &app,
        &responses,
        Some(&kjj),
        json!({"kind": "written", "body_md": "已开设政策直通车。", "doc_number": "青科函〔2026〕9号", "grade": "A"}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "answered");
    assert_eq!(
        step(
            &kjj,
            json!({"action": "return", "reason": "不属于本单位"}),
            None
        )
        .await
        .unwrap()
        .status(),
        409,
        "no return after the reply"
    );
    // Only the author rates; a ticket from the hotline has none, so the secretariat cannot.
    assert_eq!(
        step(
            &hotline,
            json!({"action": "rate", "rating": "satisfied"}),
            None
        )
        .await
        .unwrap()
        .status(),
        403
    );

    let (_, detail) = app.json(&format!("/api/v1/proposals/{code}")).await;
    let roles: Vec<&str> = detail["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["lead", "co"]);
    let kinds: Vec<&str> = detail["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    let assigned = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "assigned")
        .count();
    assert_eq!(assigned, 1, "the retried assign acted once");
    assert_eq!(detail["supervised"], true);
    // Pushed through the API: the moment is known.
    assert_eq!(detail["submitted_precision"], "exact");
    assert!(detail["submitted_at"].is_string());
}
