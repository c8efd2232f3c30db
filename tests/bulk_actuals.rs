//! Reported actuals uploaded as a spreadsheet (CSV and XLSX), through the agency's page and the
//! API: all rows or none, every bad row named, the same file twice changing nothing, and files
//! that are not spreadsheets (or unpack to far more than they are) refused.
mod common;

use std::io::Write;

use common::{spawn_app, token_for, TestApp, UserClient};
use sea_orm::EntityTrait as _;
use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};

async fn upload(user: &UserClient, name: &str, bytes: Vec<u8>) -> (u16, String) {
    let csrf = user.csrf().await;
    let form = reqwest::multipart::Form::new().text("csrf", csrf).part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    );
    let response = user
        .client
        .post(format!("{}/work/actuals", user.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn reports(app: &TestApp) -> u64 {
    entity::commitment_reports::Entity::find()
        .count(app.db())
        .await
        .unwrap()
}

/// A commitment of another agency than 市科技局 (the seed has only 市科技局's: one is added).
async fn foreign_commitment(app: &TestApp) -> i32 {
    use sea_orm::{ActiveValue::Set, EntityTrait};
    let gxj = app.agency_id("市工信局").await;
    let now = chrono::Utc::now().fixed_offset();
    entity::commitments::Entity::insert(entity::commitments::ActiveModel {
        created_at: Set(now),
        updated_at: Set(now),
        description: Set("新建智能工厂".into()),
        metric: Set("智能工厂".into()),
        unit: Set("家".into()),
        target_value: Set(10.0),
        comparison: Set("at_least".into()),
        agency_id: Set(gxj),
        ..Default::default()
    })
    .exec(app.db())
    .await
    .unwrap()
    .last_insert_id
}

fn xlsx(rows: &[[&str; 4]]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, header) in ["承诺编号", "实际值", "报告日期", "数据来源"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, c as u16, *header).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        // Numbers as numbers, as a spreadsheet holds them.
        sheet
            .write_number(r, 0, row[0].parse::<f64>().unwrap())
            .unwrap();
        sheet
            .write_number(r, 1, row[1].parse::<f64>().unwrap())
            .unwrap();
        sheet.write_string(r, 2, row[2]).unwrap();
        sheet.write_string(r, 3, row[3]).unwrap();
    }
    book.save_to_buffer().unwrap()
}

#[tokio::test]
async fn actuals_from_a_spreadsheet_are_all_written_or_none() {
    let app = spawn_app().await;
    let kjj = app
        .signed_in("kjj", "agency_staff", None, Some("市科技局"))
        .await;
    let (status, page) = kjj.get("/work/actuals").await;
    assert_eq!(status, 200, "{page}");
    let (status, template) = kjj.get("/work/actuals/template.csv").await;
    assert_eq!(status, 200);
    let mut lines = template.trim_start_matches('\u{feff}').lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("承诺编号,实际值,报告日期,数据来源,建议编号"));
    let ids: Vec<i32> = lines
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        ids.len() >= 2,
        "市科技局 has commitments in the seed: {template}"
    );
    let kjj_agency = app.agency_id("市科技局").await;
    for id in &ids {
        let c = entity::commitments::Entity::find_by_id(*id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            c.agency_id, kjj_agency,
            "the template lists only the agency's own"
        );
    }

    // Two good rows: both written; the same file again: nothing.
    let before = reports(&app).await;
    let csv = format!(
        "\u{feff}承诺编号,实际值,报告日期,数据来源\r\n{},120,2025/6/30,市科技局2025年上半年工作总结\r\n{},3.5,2025-06-30,市科技局2025年上半年工作总结\r\n",
        ids[0], ids[1]
    );
    let (status, page) = upload(&kjj, "actuals.csv", csv.clone().into_bytes()).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("已写入 2 项实际完成数"), "{page}");
    assert_eq!(reports(&app).await, before + 2);
    let (_, page) = upload(&kjj, "actuals.csv", csv.into_bytes()).await;
    assert!(
        page.contains("已写入 0 项") && page.contains("2 项此前已记录"),
        "{page}"
    );
    assert_eq!(reports(&app).await, before + 2);

    // One good row among bad ones: nothing is written, and every bad row is named.
    let foreign = foreign_commitment(&app).await;
    let bad = format!(
        "承诺编号,实际值,报告日期,数据来源\n{},130,2025-07-31,月报\n{foreign},1,2025-07-31,月报\n{},abc,2025-07-31,月报\n{},1,2099-01-01,月报\n{},1,2025-07-31,请联系 13912345678\n999999,1,2025-07-31,月报\n",
        ids[0], ids[0], ids[0], ids[0]
    );
    let (status, page) = upload(&kjj, "bad.csv", bad.into_bytes()).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("5 行有误,未写入任何数据"), "{page}");
    for row in 3..=7 {
        assert!(
            page.contains(&format!("<td data-label=\"行号\">{row}</td>")),
            "row {row}: {page}"
        );
    }
    assert!(
        page.contains("不属于本单位")
            && page.contains("个人信息")
            && page.contains("没有编号为 999999")
    );
    assert_eq!(reports(&app).await, before + 2);

    // The same as XLSX: the recorded rows stay unchanged, a new one is written.
    let book = xlsx(&[
        [
            &ids[0].to_string(),
            "120",
            "2025/6/30",
            "市科技局2025年上半年工作总结",
        ],
        [&ids[0].to_string(), "140", "2025-08-31", "市科技局8月报"],
    ]);
    let (status, page) = upload(&kjj, "actuals.xlsx", book).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("已写入 1 项") && page.contains("1 项此前已记录"),
        "{page}"
    );
    assert_eq!(reports(&app).await, before + 3);

    // Not a spreadsheet, or one that unpacks to far more than it is: refused, nothing written.
    let (status, page) = upload(
        &kjj,
        "tool.xlsx",
        b"MZ\x90\x00\x03\x00\x00\x00binary".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{page}");
    let mut bomb = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    bomb.start_file(
        "xl/worksheets/sheet1.xml",
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated),
    )
    .unwrap();
    let zeros = vec![b'0'; 1024 * 1024];
    for _ in 0..60 {
        bomb.write_all(&zeros).unwrap();
    }
    let bomb = bomb.finish().unwrap().into_inner();
    assert!(bomb.len() < 1024 * 1024, "{} bytes", bomb.len());
    let (status, page) = upload(&kjj, "bomb.xlsx", bomb).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("解压后过大"), "{page}");
    assert_eq!(reports(&app).await, before + 3);

    // The public sees the new figure on the commitment's proposal.
    let actual = entity::commitment_reports::Entity::find()
        .filter(entity::commitment_reports::Column::Value.eq(140.0))
        .one(app.db())
        .await
        .unwrap();
    assert!(actual.is_some());
}

#[tokio::test]
async fn the_api_takes_the_same_files() {
    let app = spawn_app().await;
    let admin = app.signed_in("root", "admin", None, None).await;
    app.create_user("kjj", "agency_staff", None, Some("市科技局"))
        .await;
    let token = token_for(&admin, "kjj").await;
    let kjj_agency = app.agency_id("市科技局").await;
    let id = entity::commitments::Entity::find()
        .filter(entity::commitments::Column::AgencyId.eq(kjj_agency))
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .id;
    let send = |body: String, content_type: &'static str| {
        let (url, token) = (app.url("/api/v1/commitments/reports"), token.clone());
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let kind = response
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            (
                status,
                kind,
                response.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let good = format!("承诺编号,实际值,报告日期,数据来源\n{id},150,2025-09-30,市科技局9月报\n");
    let (status, _, body) = send(good.clone(), "text/csv").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, serde_json::json!({"written": 1, "unchanged": 0}));
    let (_, _, body) = send(good, "text/csv; charset=utf-8").await;
    assert_eq!(body, serde_json::json!({"written": 0, "unchanged": 1}));
    let bad = format!("承诺编号,实际值,报告日期,数据来源\n{id},x,2025-09-30,月报\n{id},1,,月报\n");
    let (status, kind, body) = send(bad, "text/csv").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(kind.as_deref(), Some("application/problem+json"));
    assert_eq!(body["rows"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(body["rows"][0]["row"], 2);
    let (status, _, _) = send("{}".into(), "application/json").await;
    assert_eq!(status, 415);
    let (status, _, body) = send("just text".into(), "text/csv").await;
    assert_eq!(status, 400, "{body}");
}
