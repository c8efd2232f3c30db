//! Accountability over HTTP: proposals with known outcomes are driven through the workflow, their
//! history is dated back where a test cannot wait months, and every scorecard figure, the items
//! behind it, the CSV and the SVG chart are checked.
mod common;

use chrono::{Duration, Utc};
use common::{assert_ok, cast, spawn_app, Cast, TestApp, UserClient};
use entity::proposals;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// A submitted, accepted and assigned proposal; returns its id.
async fn assigned(c: &Cast, title: &str, lead: i32, co: Option<i32>) -> i32 {
    let id = c
        .member
        .new_draft(&[
            ("title", title),
            ("body_md", "建议内容。"),
            ("topics", "科技创新"),
            ("session_number", ""),
        ])
        .await;
    assert_ok("submit", c.member.act(id, "submit", &[]).await);
    assert_ok("accept", c.secretariat.act(id, "accept", &[]).await);
    let due = (Utc::now().date_naive() + Duration::days(90)).to_string();
    let lead = lead.to_string();
    let co = co.map(|c| c.to_string()).unwrap_or_default();
    let mut fields = vec![("lead", lead.as_str()), ("due_on", due.as_str())];
    if !co.is_empty() {
        fields.push(("co", co.as_str()));
    }
    assert_ok("assign", c.secretariat.act(id, "assign", &fields).await);
    id
}

async fn reply(agency: &UserClient, id: i32, grade: &str) {
    assert_ok(
        "reply",
        agency
            .act(
                id,
                "reply",
                &[
                    ("grade", grade),
                    ("doc_number", "青科函〔2026〕9号"),
                    ("body_md", "书面答复。"),
                ],
            )
            .await,
    );
}

/// Dates a proposal's history back: the test cannot wait for deadlines to pass.
async fn backdate(app: &TestApp, id: i32, assigned_days_ago: i64, due_days_from_now: i64) {
    let now = Utc::now();
    proposals::Entity::update_many()
        .col_expr(
            proposals::Column::AssignedAt,
            Expr::value((now - Duration::days(assigned_days_ago)).fixed_offset()),
        )
        .col_expr(
            proposals::Column::DueOn,
            Expr::value(now.date_naive() + Duration::days(due_days_from_now)),
        )
        .filter(proposals::Column::Id.eq(id))
        .exec(app.db())
        .await
        .unwrap();
}

fn csv_row<'a>(csv: &'a str, label: &str) -> Vec<&'a str> {
    csv.lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no row {label} in {csv}"))
        .split(',')
        .collect()
}

fn titles_listed(page: &str, candidates: &[&str]) -> Vec<String> {
    candidates
        .iter()
        .filter(|t| page.contains(*t))
        .map(|t| t.to_string())
        .collect()
}

#[tokio::test]
async fn scorecard_figures_are_counted_from_item_states_and_link_to_them() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let kjj = app.agency_id("市科技局").await;
    let gxj = app.agency_id("市工信局").await;

    // P1: led by 市科技局, answered on time (grade A), rated 满意 → closed.
    let p1 = assigned(&c, "甲:按期答复并办结", kjj, Some(gxj)).await;
    assert_ok(
        "co opinion",
        c.gxj.act(p1, "co_opinion", &[("body_md", "支持。")]).await,
    );
    reply(&c.kjj, p1, "A").await;
    assert_ok(
        "rate",
        c.member
            .act(p1, "rate", &[("rating", "satisfied"), ("comment", "")])
            .await,
    );
    backdate(&app, p1, 30, 60).await;

    // P2: led by 市科技局, answered after its due date (grade B), rated 不满意 → re-handling,
    // and by now overdue again.
    let p2 = assigned(&c, "乙:逾期答复且不满意", kjj, None).await;
    reply(&c.kjj, p2, "B").await;
    assert_ok(
        "rate",
        c.member
            .act(
                p2,
                "rate",
                &[("rating", "unsatisfied"), ("comment", "未解决")],
            )
            .await,
    );
    backdate(&app, p2, 60, -5).await;

    // P3: led by 市工信局 with 市科技局 co-handling; no reply, overdue.
    let p3 = assigned(&c, "丙:协办逾期", gxj, Some(kjj)).await;
    backdate(&app, p3, 100, -1).await;

    // P4: led by 市科技局, past due but the clock is paused; supervised (督办).
    let p4 = assigned(&c, "丁:暂停计时的督办件", kjj, None).await;
    assert_ok(
        "supervise",
        c.secretariat
            .act(p4, "supervise", &[("on", "true"), ("reason", "群众关注")])
            .await,
    );
    assert_ok(
        "pause",
        c.kjj
            .act(p4, "pause", &[("reason", "等待委员补充材料")])
            .await,
    );
    let (status, body) = c.kjj.act(p4, "pause", &[("reason", "again")]).await;
    assert_eq!(status, 400, "a paused clock cannot be paused again");
    assert!(body.contains("已经暂停"));
    backdate(&app, p4, 10, -3).await;

    // P5: accepted, never assigned: not 市科技局's.
    let p5 = c
        .member
        .new_draft(&[("title", "戊:未交办"), ("body_md", "内容"), ("topics", "")])
        .await;
    assert_ok("submit", c.member.act(p5, "submit", &[]).await);
    assert_ok("accept", c.secretariat.act(p5, "accept", &[]).await);

    let year = Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y")
        .to_string();
    let (status, csv) = app.get(&format!("/agencies/{kjj}/scorecard.csv")).await;
    assert_eq!(status, 200);
    assert!(csv.starts_with('\u{feff}'), "CSV carries a BOM for Excel");
    // Columns: label, proposals, assigned, answered, on time, on-time %, median days, 满意, 基本满意,
    // 不满意, satisfaction %, A, B, C, closed, open, overdue, supervised, commitments, met, missed,
    // pending.
    let expected = [
        "4", "4", "2", "1", "50", "45", "1", "0", "1", "50", "1", "1", "0", "1", "3", "2", "1",
    ];
    for label in [format!("{year}年"), "合计".to_owned()] {
        let row = csv_row(&csv, &label);
        assert_eq!(&row[1..18], &expected, "row {label}: {row:?}");
    }

    // Every figure links to exactly the items it counts.
    let all = [
        "甲:按期答复并办结",
        "乙:逾期答复且不满意",
        "丙:协办逾期",
        "丁:暂停计时的督办件",
        "戊:未交办",
    ];
    for (group, expected) in [
        ("proposals", &all[..4]),
        ("answered", &all[..2]),
        ("on_time", &all[..1]),
        ("late", &all[1..2]),
        ("overdue", &all[1..3]),
        ("supervised", &all[3..4]),
        ("unsatisfied", &all[1..2]),
        ("grade_a", &all[..1]),
        ("closed", &all[..1]),
        ("open", &all[1..4]),
    ] {
        let page = app
            .page(&format!("/proposals?agency={kjj}&group={group}"))
            .await;
        assert_eq!(
            titles_listed(&page, &all),
            expected.to_vec(),
            "items behind {group}"
        );
        assert!(page.contains(&format!("建议({} 条)", expected.len())));
    }

    // The scorecard page shows the same figures, each linking to its list.
    let page = app.page(&format!("/agencies/{kjj}/scorecard")).await;
    assert!(page.contains(&format!(
        "href=\"/proposals?agency={kjj}&group=answered\"><b>2</b>"
    )));
    assert!(page.contains(&format!(
        "href=\"/proposals?agency={kjj}&group=overdue\"><b>2</b>"
    )));
    assert!(page.contains("按期答复(50%)"));
    assert!(page.contains("<b>45</b><span>答复用时中位数(天)</span>"));

    // The statistics chart is well-formed XML with one bar per agency that has assignments.
    let (status, svg) = app.get("/statistics/charts/answered_by_agency.svg").await;
    assert_eq!(status, 200);
    let doc = roxmltree::Document::parse(&svg).expect("the SVG parses as XML");
    let bars: Vec<(String, String)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.attribute("class") == Some("bar"))
        .map(|n| {
            (
                n.attribute("data-label").unwrap().to_owned(),
                n.attribute("data-value").unwrap().to_owned(),
            )
        })
        .collect();
    assert!(bars.contains(&("市科技局".into(), "2".into())), "{bars:?}");
    assert!(bars.contains(&("市工信局".into(), "0".into())), "{bars:?}");
    assert_eq!(bars.len(), 2, "agencies with no assignment have no bar");
    let on_time = app.page("/statistics/charts/on_time_by_agency.svg").await;
    let doc = roxmltree::Document::parse(&on_time).unwrap();
    assert!(doc
        .descendants()
        .any(|n| n.attribute("data-label") == Some("市科技局")
            && n.attribute("data-value") == Some("50")));

    // The public statistics page draws the charts inline and offers the tables as CSV.
    let stats = app.page("/statistics").await;
    assert!(stats.contains("<svg") && stats.contains("各部门按期答复率"));
    assert!(stats.contains("agency.csv\" download>下载 CSV"));
    let (status, by_agency) = app.get("/statistics/agency.csv").await;
    assert_eq!(status, 200);
    assert_eq!(csv_row(&by_agency, "市科技局")[3], "2");
    assert_eq!(app.get("/statistics/nonsense.csv").await.0, 404);
    assert_eq!(app.get("/statistics/charts/nonsense.svg").await.0, 404);
}

#[tokio::test]
async fn resuming_a_paused_clock_moves_the_due_date_by_the_paused_time() {
    let app = spawn_app().await;
    let c = cast(&app).await;
    let kjj = app.agency_id("市科技局").await;
    let id = assigned(&c, "暂停计时", kjj, None).await;
    let due_before = proposals::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .due_on
        .unwrap();
    assert_ok(
        "pause",
        c.secretariat
            .act(id, "pause", &[("reason", "等待委员补充材料")])
            .await,
    );
    // The clock was stopped ten days ago.
    let paused_on = Utc::now().date_naive() - Duration::days(10);
    proposals::Entity::update_many()
        .col_expr(proposals::Column::PausedOn, Expr::value(paused_on))
        .filter(proposals::Column::Id.eq(id))
        .exec(app.db())
        .await
        .unwrap();
    let (_, page) = c.kjj.get(&format!("/work/proposals/{id}")).await;
    assert!(page.contains("暂停计时") && page.contains("恢复计时"));
    assert_ok("resume", c.kjj.act(id, "resume", &[("note", "")]).await);
    let after = proposals::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.paused_on, None);
    let moved = (after.due_on.unwrap() - due_before).num_days();
    assert!(
        (10..=13).contains(&moved),
        "ten paused days (then to a working day), moved {moved}"
    );
    let (status, _) = c.kjj.act(id, "resume", &[("note", "")]).await;
    assert_eq!(status, 400, "a running clock cannot be resumed");
    // The member sees the pause and the resumption on the timeline.
    let (_, work) = c.member.get(&format!("/work/proposals/{id}")).await;
    assert!(work.contains("恢复计时") && work.contains(&format!("暂停自 {paused_on}")));
    // Only the secretariat and the lead agency may stop the clock.
    let version = c.secretariat.version(id).await;
    let (status, _, _) = c
        .member
        .post(
            &format!("/work/proposals/{id}/act"),
            &[("action", "pause"), ("version", &version), ("reason", "x")],
        )
        .await;
    assert_eq!(status, 403);
}
