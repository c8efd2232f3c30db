//! Statistics tables: the same [`Tally`] broken down by agency, session, channel or year, each row
//! carrying the query that lists its items, plus CSV and chart renderings of a table.
use chrono::NaiveDate;
use entity::{agencies, sessions};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::facts::{load_commitments, load_items};
use super::measures::{tally, CommitmentFacts, ItemFacts, Selection, Tally};
use crate::web::charts::{bar_chart, Bar};
use crate::web::csv;
use crate::workflow::Channel;

crate::vocabulary! {
    /// What a statistics table breaks the figures down by.
    pub enum Dimension {
        Agency = "agency" => "职能部门",
        Session = "session" => "协商活动",
        Channel = "channel" => "渠道",
        Year = "year" => "年度",
    }
}

crate::vocabulary! {
    /// The charts the statistics page draws (also served alone as `.svg`).
    pub enum ChartKind {
        AnsweredByAgency = "answered_by_agency" => "各部门书面答复数",
        OnTimeByAgency = "on_time_by_agency" => "各部门按期答复率",
        SatisfactionByAgency = "satisfaction_by_agency" => "各部门满意率(满意+基本满意)",
        ProposalsByYear = "proposals_by_year" => "各年度建议数",
    }
}

/// One row of a statistics table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub label: String,
    /// The page of the row's subject (agency scorecard, session page), if it has one.
    pub href: Option<String>,
    /// Query-string filters that list the row's items on `/proposals` (add `&group=<measure>`).
    pub query: String,
    pub tally: Tally,
}

/// Everything the statistics pages count, loaded once per request.
pub struct Dataset {
    pub items: Vec<ItemFacts>,
    pub commitments: Vec<CommitmentFacts>,
    pub agencies: Vec<agencies::Model>,
    pub sessions: Vec<sessions::Model>,
    pub years: Vec<i32>,
    pub today: NaiveDate,
}

pub async fn dataset<C: ConnectionTrait>(
    db: &C,
    today: NaiveDate,
) -> Result<Dataset, sea_orm::DbErr> {
    let items = load_items(db, &Selection::default()).await?;
    let commitments = load_commitments(db, today).await?;
    let agencies = agencies::Entity::find()
        .order_by_asc(agencies::Column::Id)
        .all(db)
        .await?;
    let sessions = sessions::Entity::find()
        .filter(crate::visibility::public_sessions())
        .order_by_desc(sessions::Column::Number)
        .all(db)
        .await?;
    let mut years: Vec<i32> = items
        .iter()
        .filter_map(|i| i.year)
        .chain(commitments.iter().filter_map(|c| c.year))
        .collect();
    years.sort_unstable_by(|a, b| b.cmp(a));
    years.dedup();
    Ok(Dataset {
        items,
        commitments,
        agencies,
        sessions,
        years,
        today,
    })
}

fn join_query(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join("&")
}

impl Dataset {
    pub fn tally(&self, selection: &Selection) -> Tally {
        tally(&self.items, &self.commitments, selection, self.today)
    }

    /// The table broken down by `dimension` within `year` (all years when `None`). Rows with
    /// nothing to count are left out.
    pub fn rows(&self, dimension: Dimension, year: Option<i32>) -> Vec<Row> {
        let year_query = year.map(|y| format!("year={y}")).unwrap_or_default();
        let base = Selection {
            year,
            ..Default::default()
        };
        let mut rows: Vec<Row> = match dimension {
            Dimension::Agency => self
                .agencies
                .iter()
                .map(|a| Row {
                    label: a.short_name.clone(),
                    href: Some(format!(
                        "/agencies/{}/scorecard{}",
                        a.id,
                        year.map(|y| format!("?year={y}")).unwrap_or_default()
                    )),
                    query: join_query(&[format!("agency={}", a.id), year_query.clone()]),
                    tally: self.tally(&Selection {
                        agency_id: Some(a.id),
                        ..base
                    }),
                })
                .collect(),
            Dimension::Session => self
                .sessions
                .iter()
                .map(|s| Row {
                    label: format!("第{}期 {}", s.number, s.topic),
                    href: Some(crate::web::paths::session(s.number)),
                    query: join_query(&[format!("session={}", s.number), year_query.clone()]),
                    tally: self.tally(&Selection {
                        session_id: Some(s.id),
                        ..base
                    }),
                })
                .collect(),
            Dimension::Channel => Channel::ALL
                .iter()
                .map(|c| Row {
                    label: c.label().to_owned(),
                    href: None,
                    query: join_query(&[format!("channel={}", c.as_str()), year_query.clone()]),
                    tally: self.tally(&Selection {
                        channel: Some(*c),
                        ..base
                    }),
                })
                .collect(),
            Dimension::Year => self
                .years
                .iter()
                .map(|y| Row {
                    label: format!("{y}年"),
                    href: Some(format!("/statistics?year={y}")),
                    query: format!("year={y}"),
                    tally: self.tally(&Selection {
                        year: Some(*y),
                        ..Default::default()
                    }),
                })
                .collect(),
        };
        rows.retain(|r| r.tally.proposals > 0 || r.tally.commitments > 0);
        rows
    }

    /// One agency's figures for each year it has items or commitments in.
    pub fn agency_years(&self, agency_id: i32) -> Vec<Row> {
        self.years
            .iter()
            .map(|y| Row {
                label: format!("{y}年"),
                href: Some(format!("/agencies/{agency_id}/scorecard?year={y}")),
                query: format!("agency={agency_id}&year={y}"),
                tally: self.tally(&Selection {
                    year: Some(*y),
                    agency_id: Some(agency_id),
                    ..Default::default()
                }),
            })
            .filter(|r| r.tally.proposals > 0 || r.tally.commitments > 0)
            .collect()
    }

    /// A chart of the statistics page, for `year` (all years when `None`).
    pub fn chart(&self, kind: ChartKind, year: Option<i32>) -> String {
        let title = match year {
            Some(y) => format!("{}({y}年)", kind.label()),
            None => kind.label().to_owned(),
        };
        let bar = |row: &Row, value: f64, group: &str| Bar {
            label: row.label.clone(),
            value,
            href: Some(format!("/proposals?{}&group={group}", row.query)),
        };
        let agencies = self.rows(Dimension::Agency, year);
        match kind {
            ChartKind::AnsweredByAgency => {
                let bars: Vec<Bar> = agencies
                    .iter()
                    .filter(|r| r.tally.assigned > 0)
                    .map(|r| bar(r, r.tally.answered as f64, "answered"))
                    .collect();
                bar_chart(&title, "条", &bars, None)
            }
            ChartKind::OnTimeByAgency => {
                let bars: Vec<Bar> = agencies
                    .iter()
                    .filter_map(|r| Some(bar(r, r.tally.on_time_rate?, "on_time")))
                    .collect();
                bar_chart(&title, "%", &bars, Some(100.0))
            }
            ChartKind::SatisfactionByAgency => {
                let bars: Vec<Bar> = agencies
                    .iter()
                    .filter_map(|r| {
                        Some(bar(r, r.tally.satisfaction_rate?, "satisfied_or_basically"))
                    })
                    .collect();
                bar_chart(&title, "%", &bars, Some(100.0))
            }
            ChartKind::ProposalsByYear => {
                let bars: Vec<Bar> = self
                    .rows(Dimension::Year, None)
                    .iter()
                    .map(|r| bar(r, r.tally.proposals as f64, "proposals"))
                    .collect();
                bar_chart(kind.label(), "条", &bars, None)
            }
        }
    }
}

fn optional(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The table as CSV, UTF-8 with a byte-order mark so that Excel reads the Chinese correctly.
pub fn csv(dimension: Dimension, rows: &[Row]) -> String {
    let header = [
        dimension.label(),
        "建议数",
        "已交办",
        "已书面答复",
        "按期答复",
        "按期答复率(%)",
        "答复用时中位数(天)",
        "满意",
        "基本满意",
        "不满意",
        "满意率(%)",
        "A类",
        "B类",
        "C类",
        "已办结",
        "办理中",
        "逾期未答复",
        "督办中",
        "承诺数",
        "承诺已达成",
        "承诺未达成",
        "承诺待定",
    ];
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = String::from(csv::BOM);
    out.push_str(&csv::line(&header));
    for row in rows {
        let t = &row.tally;
        let fields = [
            csv::field(&row.label),
            t.proposals.to_string(),
            t.assigned.to_string(),
            t.answered.to_string(),
            t.answered_on_time.to_string(),
            optional(t.on_time_rate),
            optional(t.median_days_to_reply),
            t.satisfied.to_string(),
            t.basically_satisfied.to_string(),
            t.unsatisfied.to_string(),
            optional(t.satisfaction_rate),
            t.grade_a.to_string(),
            t.grade_b.to_string(),
            t.grade_c.to_string(),
            t.closed.to_string(),
            t.open.to_string(),
            t.overdue.to_string(),
            t.supervised.to_string(),
            t.commitments.to_string(),
            t.commitments_met.to_string(),
            t.commitments_missed.to_string(),
            t.commitments_pending.to_string(),
        ];
        out.push_str(&csv::line(&fields));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_starts_with_a_bom_and_has_one_line_per_row() {
        let rows = vec![Row {
            label: "市科技局".into(),
            href: None,
            query: "agency=1".into(),
            tally: Tally {
                proposals: 3,
                on_time_rate: Some(66.7),
                ..Default::default()
            },
        }];
        let text = csv(Dimension::Agency, &rows);
        assert!(text.starts_with('\u{feff}'));
        let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with("市科技局,3,0,0,0,66.7,,"));
    }
}
