//! Atom feeds (RFC 4287): new published proposals, new responses, per agency, per session and one
//! proposal's public timeline. Text is escaped once, here; entry ids are stable `tag:` URIs.
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use entity::{proposals, timeline_events};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::proposals::service::summarize;
use crate::responses::service::ResponseView;
use crate::visibility::{public_proposals, published_session};
use crate::web::escape::markup as xml_escape;
use crate::web::parse_id;

const LIMIT: u64 = 50;
const TAG: &str = "tag:tingshang.qingdao,2023:";

/// One entry before it is written out.
pub struct Entry {
    pub id: String,
    pub title: String,
    pub link: String,
    /// When it first became public, where the record says.
    pub published: Option<DateTime<FixedOffset>>,
    /// Its last public change.
    pub updated: DateTime<FixedOffset>,
    pub author: Option<String>,
    pub summary: String,
}

pub struct Feed {
    pub id: String,
    pub title: String,
    /// The page this feed follows, relative to the site.
    pub page: String,
    /// This feed's own address, relative to the site.
    pub own: String,
    pub entries: Vec<Entry>,
}

/// A moment for something the record dates only to the day, never in the future: the moment it
/// was entered if that was on the same day (a reply posted today), else the day's start in
/// Beijing (a reply from the sources, loaded later).
fn on_day(day: NaiveDate, recorded: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    let china = crate::time::china();
    if recorded.with_timezone(&china).date_naive() == day {
        return recorded;
    }
    crate::time::start_of_day(day).with_timezone(&china)
}

impl Feed {
    /// The feed as Atom XML, with links made absolute against `base`.
    pub fn render(&self, base: &str) -> String {
        // An empty feed has had nothing in it up to now.
        let updated = self
            .entries
            .iter()
            .map(|e| e.updated)
            .max()
            .unwrap_or_else(|| Utc::now().with_timezone(&crate::time::china()));
        let mut out = String::from(r#"<?xml version="1.0" encoding="utf-8"?>"#);
        out.push_str("\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"zh-CN\">");
        out.push_str(&format!(
            "<id>{}</id><title>{}</title><updated>{}</updated><link rel=\"self\" href=\"{}\"/><link rel=\"alternate\" type=\"text/html\" href=\"{}\"/><author><name>听商 · 倾听与商量档案</name></author>",
            xml_escape(&self.id),
            xml_escape(&self.title),
            updated.to_rfc3339(),
            xml_escape(&format!("{base}{}", self.own)),
            xml_escape(&format!("{base}{}", self.page)),
        ));
        for e in &self.entries {
            out.push_str(&format!(
                "<entry><id>{}</id><title type=\"text\">{}</title><updated>{}</updated><link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
                xml_escape(&e.id),
                xml_escape(&e.title),
                e.updated.to_rfc3339(),
                xml_escape(&format!("{base}{}", e.link)),
            ));
            if let Some(published) = e.published {
                out.push_str(&format!(
                    "<published>{}</published>",
                    published.to_rfc3339()
                ));
            }
            if let Some(author) = &e.author {
                out.push_str(&format!(
                    "<author><name>{}</name></author>",
                    xml_escape(author)
                ));
            }
            out.push_str(&format!(
                "<summary type=\"text\">{}</summary></entry>",
                xml_escape(&e.summary)
            ));
        }
        out.push_str("</feed>\n");
        out
    }
}

fn excerpt(text: &str) -> String {
    let plain: String = text
        .chars()
        .filter(|c| !matches!(c, '*' | '#' | '>' | '`' | '_'))
        .collect();
    let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    if plain.chars().count() > 200 {
        format!("{}…", plain.chars().take(200).collect::<String>())
    } else {
        plain
    }
}

fn atom(state: &AppState, feed: Feed) -> Response {
    (
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        feed.render(&state.config.public_url),
    )
        .into_response()
}

async fn proposal_entries(
    state: &AppState,
    condition: sea_orm::Condition,
) -> AppResult<Vec<Entry>> {
    let rows = proposals::Entity::find()
        .filter(public_proposals())
        .filter(condition)
        .order_by_desc(proposals::Column::SubmittedAt)
        .order_by_desc(proposals::Column::Id)
        .limit(LIMIT)
        .all(&state.db)
        .await?;
    // Dated by the record, not by when a row was last written (the seed's rows were all
    // written at load time): submitted, and updated at the latest public timeline event.
    let mut latest: HashMap<i32, DateTime<FixedOffset>> = HashMap::new();
    let events: Vec<(i32, DateTime<FixedOffset>)> = timeline_events::Entity::find()
        .select_only()
        .column(timeline_events::Column::ProposalId)
        .column(timeline_events::Column::OccurredAt)
        .filter(timeline_events::Column::ProposalId.is_in(rows.iter().map(|p| p.id)))
        .filter(timeline_events::Column::Public.eq(true))
        .into_tuple()
        .all(&state.db)
        .await?;
    // A correction of what the entry shows is an update too.
    let ids: Vec<i32> = rows.iter().map(|p| p.id).collect();
    let corrected = crate::versions::latest_by_proposal(&state.db, &ids).await?;
    for (id, at) in events.into_iter().chain(corrected) {
        let entry = latest.entry(id).or_insert(at);
        *entry = (*entry).max(at);
    }
    let stamps: Vec<_> = rows
        .iter()
        .map(|p| {
            let published = p.submitted_at.unwrap_or(p.created_at);
            let updated = latest
                .get(&p.id)
                .map_or(published, |at| (*at).max(published));
            (published, updated, excerpt(&p.body_md))
        })
        .collect();
    let summaries = summarize(&state.db, rows.into_iter().map(Into::into).collect()).await?;
    Ok(summaries
        .into_iter()
        .zip(stamps)
        .map(|(p, (published, updated, body))| Entry {
            id: format!("{TAG}proposal/{}", p.code),
            title: format!("{}({})", p.title, p.status.label),
            link: crate::web::paths::proposal(&p.code),
            published: Some(published),
            updated,
            author: p.author_name,
            summary: body,
        })
        .collect())
}

fn response_entries(responses: Vec<ResponseView>) -> Vec<Entry> {
    responses
        .into_iter()
        .take(LIMIT as usize)
        .map(|r| {
            let answers: Vec<String> = r.answers.iter().map(|a| a.title.clone()).collect();
            Entry {
                id: format!("{TAG}response/{}", r.id),
                title: format!("{}{}:{}", r.agency_name, r.kind_label, answers.join("、")),
                link: r.answers.first().map_or_else(
                    || format!("/agencies/{}", r.agency_id),
                    |a| crate::web::paths::proposal(&a.code),
                ),
                published: Some(
                    r.responded_on
                        .map_or(r.recorded_at, |day| on_day(day, r.recorded_at)),
                ),
                updated: r
                    .responded_on
                    .map_or(r.recorded_at, |day| on_day(day, r.recorded_at)),
                author: r.responder_name.or(Some(r.agency_name)),
                summary: excerpt(&r.body_md),
            }
        })
        .collect()
}

pub async fn proposals_feed(State(state): State<AppState>) -> AppResult<Response> {
    let entries = proposal_entries(&state, sea_orm::Condition::all()).await?;
    Ok(atom(
        &state,
        Feed {
            id: format!("{TAG}proposals"),
            title: "听商:新公开的建议".into(),
            page: "/proposals".into(),
            own: "/feeds/proposals.atom".into(),
            entries,
        },
    ))
}

pub async fn responses_feed(State(state): State<AppState>) -> AppResult<Response> {
    let responses = crate::responses::service::recent(&state.db, LIMIT).await?;
    Ok(atom(
        &state,
        Feed {
            id: format!("{TAG}responses"),
            title: "听商:职能部门的最新答复".into(),
            page: "/".into(),
            own: "/feeds/responses.atom".into(),
            entries: response_entries(responses),
        },
    ))
}

pub async fn agency_feed(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let agency = crate::agencies::service::find(&state.db, id).await?;
    let responses = crate::responses::service::by_agency(&state.db, id).await?;
    Ok(atom(
        &state,
        Feed {
            id: format!("{TAG}agency/{id}"),
            title: format!("听商:{}的答复", agency.short_name),
            page: format!("/agencies/{id}"),
            own: format!("/agencies/{id}/feed.atom"),
            entries: response_entries(responses),
        },
    ))
}

pub async fn session_feed(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> AppResult<Response> {
    let number = parse_id(&number)?;
    let session = published_session(&state.db, number)
        .await?
        .ok_or(AppError::NotFound)?;
    let entries = proposal_entries(
        &state,
        sea_orm::Condition::all().add(proposals::Column::SessionId.eq(session.id)),
    )
    .await?;
    Ok(atom(
        &state,
        Feed {
            id: format!("{TAG}session/{number}"),
            title: format!("听商:第{number}期 {}", session.topic),
            page: crate::web::paths::session(number),
            own: format!("/sessions/{number}/feed.atom"),
            entries,
        },
    ))
}

pub async fn proposal_feed(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> AppResult<Response> {
    if !crate::proposals::service::is_plausible_code(&code) {
        return Err(AppError::NotFound);
    }
    let proposal = proposals::Entity::find()
        .filter(public_proposals())
        .filter(proposals::Column::Code.eq(code.as_str()))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let events = crate::followup::timeline::events_for(&state.db, proposal.id, false).await?;
    let entries = events
        .into_iter()
        .enumerate()
        .rev()
        .map(|(i, e)| Entry {
            id: format!("{TAG}proposal/{code}/event/{i}"),
            title: format!("{}({})", e.action_label, e.actor_label),
            link: format!("/proposals/{code}#timeline"),
            published: None,
            updated: DateTime::parse_from_rfc3339(&e.occurred_at)
                .unwrap_or_else(|_| Utc::now().with_timezone(&crate::time::china())),
            author: Some(e.actor_label),
            summary: e.note.unwrap_or_default(),
        })
        .collect();
    Ok(atom(
        &state,
        Feed {
            id: format!("{TAG}proposal/{code}"),
            title: format!("听商:{} 的办理进展", proposal.title),
            page: crate::web::paths::proposal(&code),
            own: format!("/proposals/{code}/feed.atom"),
            entries,
        },
    ))
}

/// `/search.atom?q=…`: the newest matches of a search (the same parameters and filters as
/// `/search`), for feed readers; `/follow` sends the same by email.
pub async fn search_feed(
    State(state): State<AppState>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> AppResult<Response> {
    let raw = raw.unwrap_or_default();
    let params: crate::search::routes::Params = serde_urlencoded::from_str(&raw)
        .map_err(|_| AppError::bad_request("检索参数无法识别。"))?;
    let mut query = params.to_query(LIMIT as usize);
    query.sort = crate::search::Sort::Newest;
    query.page = 1;
    let found = state.search.search(&query).await.map_err(|err| {
        tracing::warn!(error = %format!("{err:#}"), "search feed failed");
        AppError::Unavailable("检索服务暂时不可用,请稍后再试。".into())
    })?;
    let china = crate::time::china();
    let entries = found
        .hits
        .iter()
        .map(|hit| {
            let updated = DateTime::from_timestamp(hit.date, 0)
                .unwrap_or_default()
                .with_timezone(&china);
            Entry {
                id: format!("{TAG}{}", hit.id),
                title: crate::search::text::unmarked(&hit.title_html),
                link: hit.url.clone(),
                published: None,
                updated,
                author: None,
                summary: crate::search::text::unmarked(&hit.snippet_html),
            }
        })
        .collect();
    let text = crate::search::text::clean_query(&params.q);
    Ok(atom(
        &state,
        Feed {
            id: format!("{TAG}search?{raw}"),
            title: if text.is_empty() {
                "听商:检索结果".into()
            } else {
                format!("听商:检索“{text}”")
            },
            page: format!("/search?{raw}"),
            own: format!("/search.atom?{raw}"),
            entries,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_dated_when_it_was_entered_or_at_its_start_never_later() {
        let day = NaiveDate::from_ymd_opt(2024, 3, 5).unwrap();
        let entered_that_day = DateTime::parse_from_rfc3339("2024-03-05T09:30:00+08:00").unwrap();
        assert_eq!(on_day(day, entered_that_day), entered_that_day);
        let loaded_later = DateTime::parse_from_rfc3339("2026-12-01T10:00:00+00:00").unwrap();
        assert_eq!(
            on_day(day, loaded_later).to_rfc3339(),
            "2024-03-05T00:00:00+08:00"
        );
    }

    #[test]
    fn entries_are_escaped_text() {
        let feed = Feed {
            id: "tag:x".into(),
            title: "A & B".into(),
            page: "/".into(),
            own: "/f.atom".into(),
            entries: vec![Entry {
                id: "tag:x/1".into(),
                title: "<script>alert(1)</script>".into(),
                link: "/p?a=1&b=2".into(),
                published: None,
                updated: DateTime::parse_from_rfc3339("2024-01-02T00:00:00+08:00").unwrap(),
                author: None,
                summary: "\"quoted\" & <b>".into(),
            }],
        };
        let xml = feed.render("https://example.org");
        assert!(xml.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(xml.contains("href=\"https://example.org/p?a=1&amp;b=2\""));
        assert!(xml.contains("<title>A &amp; B</title>"));
        assert!(!xml.contains("<b>"));
    }
}
