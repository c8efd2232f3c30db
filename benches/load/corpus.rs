//! A deterministic synthetic corpus for benchmarks (never for the archive itself): proposals with
//! responses, commitments, ratings and timelines, in the vocabulary and sentence shapes of the
//! source documents. The same seed always gives the same database. Rows are written with explicit
//! ids in large batches inside one transaction.
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use entity::{
    agencies, assignments, commitment_reports, commitments, evaluations, people, proposals,
    response_proposals, responses, sessions, timeline_events,
};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait, QuerySelect};

/// SplitMix64: small, fast and reproducible everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The agencies a city archive deals with (synthetic benchmark data only).
const AGENCIES: &[&str] = &[
    "市发展改革委",
    "市教育局",
    "市工业和信息化局",
    "市公安局",
    "市民政局",
    "市司法局",
    "市财政局",
    "市人力资源社会保障局",
    "市自然资源和规划局",
    "市生态环境局",
    "市住房城乡建设局",
    "市城市管理局",
    "市交通运输局",
    "市水务管理局",
    "市农业农村局",
    "市海洋发展局",
    "市商务局",
    "市文化和旅游局",
    "市卫生健康委",
    "市退役军人局",
    "市应急局",
    "市审计局",
    "市市场监管局",
    "市体育局",
    "市统计局",
    "市医保局",
    "市地方金融管理局",
    "市大数据局",
    "市行政审批局",
    "市民营经济局",
    "市园林和林业局",
    "市住房公积金管理中心",
];

const SURNAMES: &str = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文";
const GIVEN: &str = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝思丽";

/// Query words for the search mix, taken from the source documents' vocabulary.
pub const QUERIES: &[&str] = &[
    "科技创新",
    "科技型中小企业",
    "高新技术企业",
    "概念验证中心",
    "科技成果转化",
    "技术转移",
    "科技大市场",
    "人才",
    "知识产权",
    "金融",
    "科技金融",
    "专精特新",
    "产业链",
    "海洋",
    "上合",
    "孵化器",
    "创新平台",
    "实验室",
    "营商环境",
    "融资",
    "贷款",
    "研发投入",
    "数字经济",
    "人工智能",
    "工业互联网",
    "新能源",
    "智能制造",
    "高校",
    "院所",
    "企业",
    "培育",
    "政策",
    "补贴",
    "服务",
    "平台",
    "园区",
    "招商",
    "就业",
    "养老",
    "教育",
    "医疗",
    "交通",
    "停车",
    "垃圾分类",
    "老旧小区",
    "供暖",
    "物业",
    "公交",
    "地铁",
    "绿化",
    "农村",
    "乡村振兴",
    "文旅",
    "体育",
    "社区",
    "12345",
    "青诉即办",
    "三民活动",
];

/// The filters the search mix combines with queries.
pub const FILTERS: &[&str] = &[
    "",
    "",
    "",
    "&kind=proposal",
    "&status=closed",
    "&year=2024",
    "&channel=hotline_12345",
    "&agency=市科技局",
    "&session=27",
    "&sort=date",
];

fn sentences() -> Vec<String> {
    let mut out = Vec::new();
    for (_, text) in tingshang::seed::files::SOURCE_TEXTS {
        for sentence in text.split(['。', '!', '?', '\n']) {
            let sentence = sentence.trim();
            let count = sentence.chars().count();
            if (12..=160).contains(&count) && !sentence.contains("http") {
                out.push(format!("{sentence}。"));
            }
        }
    }
    out
}

fn paragraph(rng: &mut Rng, pool: &[String], min_chars: usize) -> String {
    let mut text = String::new();
    let mut n = 0;
    while n < min_chars {
        let s = rng.pick(pool);
        n += s.chars().count();
        text.push_str(s);
        if rng.chance(25) {
            text.push_str("\n\n");
        }
    }
    text
}

fn name(rng: &mut Rng) -> String {
    let surnames: Vec<char> = SURNAMES.chars().collect();
    let given: Vec<char> = GIVEN.chars().collect();
    let mut s = String::from(*rng.pick(&surnames));
    s.push(*rng.pick(&given));
    if rng.chance(60) {
        s.push(*rng.pick(&given));
    }
    s
}

/// How many rows of each kind were written.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Generated {
    pub proposals: usize,
    pub sessions: usize,
    pub responses: usize,
    pub commitments: usize,
    pub events: usize,
    pub codes: Vec<String>,
    pub session_numbers: Vec<i32>,
}

async fn next_id<E: EntityTrait, C: ConnectionTrait>(
    db: &C,
    id: E::Column,
) -> Result<i32, sea_orm::DbErr>
where
    E::Column: sea_orm::ColumnTrait,
{
    let max: Option<Option<i32>> = E::find()
        .select_only()
        .column_as(sea_orm::ColumnTrait::max(&id), "m")
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().unwrap_or(0) + 1)
}

macro_rules! flush {
    ($db:expr, $entity:ident, $rows:expr) => {
        for chunk in std::mem::take(&mut $rows).chunks(400) {
            $entity::Entity::insert_many(chunk.to_vec())
                .exec_without_returning($db)
                .await?;
        }
    };
}

/// Adds `count` proposals (with everything around them) to a database that holds the seed data.
pub async fn generate(
    db: &DatabaseConnection,
    count: usize,
    seed: u64,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> anyhow::Result<Generated> {
    let mut rng = Rng::new(seed);
    let pool = sentences();
    anyhow::ensure!(pool.len() > 50, "source sentences missing");
    let titles: Vec<String> = pool
        .iter()
        .filter(|s| (12..=40).contains(&s.chars().count()))
        .map(|s| s.trim_end_matches('。').to_owned())
        .collect();
    let txn = tingshang::db::begin_write(db).await?;
    let now = Utc::now().fixed_offset();

    // Agencies and people.
    let first_agency = next_id::<agencies::Entity, _>(&txn, agencies::Column::Id).await?;
    let mut agency_rows = Vec::new();
    for (i, full) in AGENCIES.iter().enumerate() {
        agency_rows.push(agencies::ActiveModel {
            id: Set(first_agency + i as i32),
            external_id: Set(Some(format!("bench-agency-{i}"))),
            full_name: Set(format!("青岛{}", full.trim_start_matches('市'))),
            short_name: Set((*full).to_owned()),
            aliases: Set("[]".into()),
            kind: Set("government".into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
    }
    flush!(&txn, agencies, agency_rows);
    let agency_ids: Vec<i32> = (0..AGENCIES.len() as i32)
        .map(|i| first_agency + i)
        .collect();
    let first_person = next_id::<people::Entity, _>(&txn, people::Column::Id).await?;
    let members = (count / 40).clamp(30, 2000);
    let mut person_rows = Vec::new();
    for i in 0..members {
        person_rows.push(people::ActiveModel {
            id: Set(first_person + i as i32),
            external_id: Set(Some(format!("bench-member-{i}"))),
            name: Set(name(&mut rng)),
            kind: Set("committee_member".into()),
            post: Set("市政协委员".into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
    }
    flush!(&txn, people, person_rows);

    // Sessions: about one per 40 session-channel proposals, spread over five years.
    let first_session_id = next_id::<sessions::Entity, _>(&txn, sessions::Column::Id).await?;
    let first_number = 1000;
    let session_count = (count * 6 / 10 / 40).max(1);
    let mut session_rows = Vec::new();
    let mut session_days = Vec::new();
    let mut out = Generated::default();
    for i in 0..session_count {
        let day = NaiveDate::from_ymd_opt(2021, 1, 10).unwrap()
            + Duration::days((i * 1800 / session_count) as i64);
        session_days.push(day);
        out.session_numbers.push(first_number + i as i32);
        session_rows.push(sessions::ActiveModel {
            id: Set(first_session_id + i as i32),
            number: Set(first_number + i as i32),
            topic: Set(titles[rng.below(titles.len())].clone()),
            held_on: Set(day),
            organisers: Set(
                r#"["市政协委员联络活动工作室","市12345政务服务便民热线","青岛日报社"]"#.into(),
            ),
            summary_md: Set(paragraph(&mut rng, &pool, 300)),
            media_links: Set("[]".into()),
            published: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
    }
    flush!(&txn, sessions, session_rows);
    out.sessions = session_count;

    let mut ids = (
        next_id::<proposals::Entity, _>(&txn, proposals::Column::Id).await?,
        next_id::<responses::Entity, _>(&txn, responses::Column::Id).await?,
        next_id::<commitments::Entity, _>(&txn, commitments::Column::Id).await?,
    );
    let (mut p_rows, mut a_rows, mut r_rows, mut rp_rows) = (vec![], vec![], vec![], vec![]);
    let (mut e_rows, mut ev_rows, mut c_rows, mut cr_rows) = (vec![], vec![], vec![], vec![]);
    let channels = [
        "session",
        "session",
        "session",
        "session",
        "session",
        "session",
        "hotline_12345",
        "hotline_12345",
        "qingsu",
        "sanmin",
    ];
    let mut per_year_other: std::collections::HashMap<i32, usize> = Default::default();
    let mut per_session: Vec<usize> = vec![0; session_count];
    for n in 0..count {
        let id = ids.0;
        ids.0 += 1;
        let channel = *rng.pick(&channels);
        let (session, day) = if channel == "session" {
            let s = rng.below(session_count);
            (Some(s), session_days[s])
        } else {
            let day = NaiveDate::from_ymd_opt(2021, 1, 1).unwrap()
                + Duration::days(rng.below(1800) as i64);
            (None, day)
        };
        let year = chrono::Datelike::year(&day);
        let code = match session {
            Some(s) => {
                per_session[s] += 1;
                format!(
                    "TS-{year}-{:04}-{:03}",
                    first_number + s as i32,
                    per_session[s]
                )
            }
            None => {
                let k = per_year_other.entry(year).or_default();
                *k += 1;
                format!("TS-{year}-000-{:05}", *k)
            }
        };
        let submitted = Utc
            .from_utc_datetime(&day.and_hms_opt(2, 0, 0).unwrap())
            .fixed_offset();
        let roll = rng.below(100);
        let status = match roll {
            0..=54 => "closed",
            55..=64 => "answered",
            65..=79 => "assigned",
            80..=82 => "rehandling",
            83..=96 => "accepted",
            _ => "merged",
        };
        let assigned = matches!(status, "closed" | "answered" | "assigned" | "rehandling");
        let answered = matches!(status, "closed" | "answered" | "rehandling");
        let assigned_at = submitted + Duration::days(7);
        let due = (assigned_at + Duration::days(90)).date_naive();
        let answered_at = assigned_at + Duration::days(20 + rng.below(100) as i64);
        let body_len = 200 + rng.below(2800);
        let author = first_person + rng.below(members) as i32;
        let topics = format!(r#"["{}","{}"]"#, rng.pick(QUERIES), rng.pick(QUERIES));
        p_rows.push(proposals::ActiveModel {
            id: Set(id),
            code: Set(code.clone()),
            session_id: Set(session.map(|s| first_session_id + s as i32)),
            channel: Set(channel.into()),
            title: Set(format!("关于{}的建议", rng.pick(&titles))),
            body_md: Set(paragraph(&mut rng, &pool, body_len)),
            author_id: Set((channel == "session" || channel == "sanmin").then_some(author)),
            topics: Set(topics),
            status: Set(status.into()),
            published: Set(true),
            supervised: Set(rng.chance(3)),
            submitted_at: Set(Some(submitted)),
            accepted_at: Set(Some(submitted + Duration::days(3))),
            assigned_at: Set(assigned.then_some(assigned_at)),
            due_on: Set(assigned.then_some(due)),
            answered_at: Set(answered.then_some(answered_at)),
            closed_at: Set((status == "closed").then_some(answered_at + Duration::days(10))),
            version: Set(3),
            created_at: Set(submitted),
            updated_at: Set(submitted),
            ..Default::default()
        });
        out.codes.push(code);
        let lead = *rng.pick(&agency_ids);
        let event = |action: &str, at, to: &str| timeline_events::ActiveModel {
            proposal_id: Set(id),
            occurred_at: Set(at),
            precision: Set("exact".into()),
            actor_label: Set("秘书处".into()),
            action: Set(action.into()),
            to_status: Set(Some(to.into())),
            public: Set(true),
            created_at: Set(at),
            ..Default::default()
        };
        e_rows.push(event("submitted", submitted, "submitted"));
        e_rows.push(event("accepted", submitted + Duration::days(3), "accepted"));
        if assigned {
            e_rows.push(event("assigned", assigned_at, "assigned"));
            let state = if status == "closed" {
                "completed"
            } else {
                "active"
            };
            let assignment = |agency: i32, role: &str| assignments::ActiveModel {
                proposal_id: Set(id),
                agency_id: Set(agency),
                role: Set(role.into()),
                state: Set(state.into()),
                assigned_at: Set(assigned_at),
                due_on: Set(due),
                created_at: Set(assigned_at),
                updated_at: Set(assigned_at),
                ..Default::default()
            };
            a_rows.push(assignment(lead, "lead"));
            let co = *rng.pick(&agency_ids);
            if rng.chance(40) && co != lead {
                a_rows.push(assignment(co, "co"));
            }
        }
        if answered {
            let response_id = ids.1;
            ids.1 += 1;
            r_rows.push(responses::ActiveModel {
                id: Set(response_id),
                agency_id: Set(lead),
                kind: Set("written".into()),
                body_md: Set({
                    let length = 200 + rng.below(600);
                    paragraph(&mut rng, &pool, length)
                }),
                doc_number: Set(Some(format!("青政协办〔{year}〕{n}号"))),
                grade: Set(Some(["A", "A", "B", "C"][rng.below(4)].into())),
                published: Set(true),
                responded_on: Set(Some(answered_at.date_naive())),
                created_at: Set(answered_at),
                updated_at: Set(answered_at),
                ..Default::default()
            });
            rp_rows.push(response_proposals::ActiveModel {
                response_id: Set(response_id),
                proposal_id: Set(id),
                ..Default::default()
            });
            e_rows.push(event("answered", answered_at, "answered"));
            out.responses += 1;
            if status != "answered" {
                let rating = if status == "rehandling" {
                    "unsatisfied"
                } else if rng.chance(75) {
                    "satisfied"
                } else {
                    "basically_satisfied"
                };
                ev_rows.push(evaluations::ActiveModel {
                    proposal_id: Set(id),
                    response_id: Set(Some(response_id)),
                    person_id: Set(author),
                    rating: Set(rating.into()),
                    comment: Set(String::new()),
                    created_at: Set(answered_at + Duration::days(10)),
                    ..Default::default()
                });
                e_rows.push(event(
                    "rated",
                    answered_at + Duration::days(10),
                    if status == "closed" {
                        "closed"
                    } else {
                        "rehandling"
                    },
                ));
            }
            if rng.chance(20) {
                let commitment_id = ids.2;
                ids.2 += 1;
                let target = (10 + rng.below(990)) as f64;
                c_rows.push(commitments::ActiveModel {
                    id: Set(commitment_id),
                    description: Set(format!(
                        "{}年底前{}达到{}个",
                        year + 1,
                        rng.pick(QUERIES),
                        target
                    )),
                    metric: Set(format!("{}项目", rng.pick(QUERIES))),
                    unit: Set("个".into()),
                    target_value: Set(target),
                    comparison: Set("at_least".into()),
                    target_date: Set(NaiveDate::from_ymd_opt(year + 1, 12, 31)),
                    agency_id: Set(lead),
                    proposal_id: Set(Some(id)),
                    response_id: Set(Some(response_id)),
                    created_at: Set(answered_at),
                    updated_at: Set(answered_at),
                    ..Default::default()
                });
                if rng.chance(60) {
                    cr_rows.push(commitment_reports::ActiveModel {
                        commitment_id: Set(commitment_id),
                        value: Set(target * (0.6 + rng.below(60) as f64 / 100.0)),
                        reported_on: Set(NaiveDate::from_ymd_opt(year + 1, 12, 31)),
                        note: Set(Some("部门年度报告".into())),
                        created_at: Set(answered_at),
                        updated_at: Set(answered_at),
                        ..Default::default()
                    });
                }
                out.commitments += 1;
            }
        }
        if p_rows.len() >= 400 || n + 1 == count {
            flush!(&txn, proposals, p_rows);
            flush!(&txn, assignments, a_rows);
            flush!(&txn, responses, r_rows);
            flush!(&txn, response_proposals, rp_rows);
            out.events += e_rows.len();
            flush!(&txn, timeline_events, e_rows);
            flush!(&txn, evaluations, ev_rows);
            flush!(&txn, commitments, c_rows);
            flush!(&txn, commitment_reports, cr_rows);
            progress(n + 1, count);
        }
    }
    out.proposals = count;
    tingshang::db::reset_sequences(
        &txn,
        &[
            "agencies",
            "people",
            "sessions",
            "proposals",
            "responses",
            "commitments",
        ],
    )
    .await?;
    tingshang::proposals::drafts::sync_code_sequences(&txn).await?;
    tingshang::revision::bump(&txn).await?;
    txn.commit().await?;
    Ok(out)
}
