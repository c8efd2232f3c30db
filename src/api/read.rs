//! Public read endpoints: published content only, the same services as the pages.
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::Json;
use entity::{documents, people};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;
use utoipa::IntoParams;

use super::schema::*;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::proposals::service::{public_page_snapshot, public_summaries, ListFilter};
use crate::statistics::service::dataset;
use crate::statistics::{Measure, Selection};
use crate::web::paging::{PageParams, Paged};
use crate::web::parse_id;
use crate::web::query::Params;
use crate::workflow::{Channel, ProposalStatus};

#[utoipa::path(get, path = "/api/v1/sessions", tag = "archive", operation_id = "list_sessions",
    summary = "协商活动列表", params(PageParams),
    responses((status = 200, description = "Published sessions, newest first", body = Paged<SessionItem>),
        (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn sessions(
    State(state): State<AppState>,
    uri: Uri,
    Params(page): Params<PageParams>,
) -> AppResult<Response> {
    let paging = page.paging()?;
    let list = crate::sessions::service::list(&state.db, None).await?;
    let changed = logged_since(&state, crate::search::documents::SESSION, &page).await?;
    let list = page.since(list, changed.as_deref(), |s| s.session.id);
    Ok(paging
        .page_of(
            list.into_iter()
                .map(|s| SessionItem {
                    url: crate::web::paths::session(s.session.number),
                    number: s.session.number,
                    topic: s.session.topic,
                    held_on: s.session.held_on,
                    organisers: s.organisers,
                    proposal_count: s.proposal_count,
                })
                .collect(),
        )
        .respond(&uri))
}

#[utoipa::path(get, path = "/api/v1/sessions/{number}", tag = "archive", operation_id = "get_session",
    summary = "一期协商活动",
    params(("number" = i32, Path, description = "期数, e.g. 27")),
    responses((status = 200, body = SessionDetail), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn session(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> AppResult<Json<SessionDetail>> {
    let number = parse_id(&number)?;
    let page = crate::sessions::service::page_snapshot(&state.db, number).await?;
    Ok(Json(SessionDetail {
        url: crate::web::paths::session(page.session.number),
        number: page.session.number,
        topic: page.session.topic,
        held_on: page.session.held_on,
        venue: page.session.venue,
        organisers: page.organisers,
        summary_md: page.session.summary_md,
        participants: page
            .groups
            .into_iter()
            .flat_map(|g| {
                g.participants.into_iter().map(move |p| Participant {
                    person_id: p.person_id,
                    name: p.name,
                    role: g.role.to_owned(),
                    post: p.post_as_printed,
                })
            })
            .collect(),
        media: page
            .media
            .into_iter()
            .map(|m| MediaLink {
                label: m.label,
                url: m.url,
                document_id: m.document_id,
                note: m.note,
            })
            .collect(),
        proposals: page.proposals.into_iter().map(Into::into).collect(),
        commitments: page.commitments.into_iter().map(Into::into).collect(),
        follow_up: page.summary,
    }))
}

/// With `updated_since`: the ids of `kind` in the public change log since then, oldest change
/// first (`changes::changed_since`).
async fn logged_since(
    state: &AppState,
    kind: &str,
    page: &PageParams,
) -> AppResult<Option<Vec<i32>>> {
    Ok(match page.updated_since {
        Some(since) => Some(crate::changes::changed_since(&state.db, kind, since).await?),
        None => None,
    })
}

/// Filters shared with the `/proposals` page and the statistics links.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProposalQuery {
    /// Stored status value, e.g. `assigned`.
    pub status: Option<String>,
    /// session, sanmin, qingsu, hotline_12345 or direct.
    pub channel: Option<String>,
    /// Session number (期数).
    pub session: Option<i32>,
    /// Agency id: proposals assigned to it (as lead or co-handling agency); an agency's answered
    /// proposals, assigned or not, are counted in its `answered_proposals`.
    pub agency: Option<i32>,
    /// Year of submission.
    pub year: Option<i32>,
    /// A statistics figure (answered, on_time, overdue, satisfied …): only the items it counts.
    pub group: Option<String>,
    /// 1-based page.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u64>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u64>,
    /// Only proposals changed publicly at or after this moment (RFC 3339), oldest change first.
    pub updated_since: Option<chrono::DateTime<chrono::FixedOffset>>,
}

impl ProposalQuery {
    /// Resolves the query to a list filter; unknown values are a 400, not silently "all".
    pub async fn filter(&self, state: &AppState) -> AppResult<ListFilter> {
        let bad = |what: &str| AppError::bad_request(format!("参数 {what} 的取值无效。"));
        let paging = PageParams {
            page: self.page,
            per_page: self.per_page,
            updated_since: None,
        }
        .paging()?;
        let status = match self.status.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => Some(
                ProposalStatus::parse(s)
                    .filter(|s| s.is_public())
                    .ok_or_else(|| bad("status"))?,
            ),
            None => None,
        };
        let channel = match self.channel.as_deref().filter(|s| !s.is_empty()) {
            Some(c) => Some(Channel::parse(c).ok_or_else(|| bad("channel"))?),
            None => None,
        };
        let measure = match self.group.as_deref().filter(|s| !s.is_empty()) {
            Some(g) => Some(Measure::parse(g).ok_or_else(|| bad("group"))?),
            None => None,
        };
        let session_id = match self.session {
            Some(number) => Some(
                crate::visibility::published_session(&state.db, number)
                    .await?
                    .ok_or_else(|| bad("session"))?
                    .id,
            ),
            None => None,
        };
        Ok(ListFilter {
            status,
            channel,
            session_id,
            agency_id: self.agency,
            // Years outside the record's range would only overflow the date arithmetic.
            year: match self.year {
                Some(year) if !crate::time::RECORD_YEARS.contains(&year) => {
                    return Err(bad("year"));
                }
                year => year,
            },
            measure,
            changed_since: self.updated_since,
            page: paging.page,
            per_page: paging.per_page,
            ..Default::default()
        })
    }
}

#[utoipa::path(get, path = "/api/v1/proposals", tag = "archive", operation_id = "list_proposals",
    summary = "建议列表(可筛选)", params(ProposalQuery),
    responses((status = 200, description = "Newest submission first, then by code", body = Paged<ProposalItem>),
        (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn proposals(
    State(state): State<AppState>,
    uri: Uri,
    Params(query): Params<ProposalQuery>,
) -> AppResult<Response> {
    let filter = query.filter(&state).await?;
    let result = public_summaries(&state.db, &filter).await?;
    let page = Paged {
        items: result.items.into_iter().map(ProposalItem::from).collect(),
        total: result.total,
        page: filter.page,
        per_page: filter.per_page,
    };
    Ok(page.respond(&uri))
}

#[utoipa::path(get, path = "/api/v1/proposals/{code}", tag = "archive", operation_id = "get_proposal",
    summary = "一条建议及其答复、承诺与时间线",
    params(("code" = String, Path, description = "e.g. TS-2023-027-06")),
    responses((status = 200, body = ProposalDetail), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn proposal(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> AppResult<Json<ProposalDetail>> {
    if !crate::proposals::service::is_plausible_code(&code) {
        return Err(AppError::NotFound);
    }
    let page = public_page_snapshot(&state.db, &code).await?;
    // The submission's precision is the submitted event's (internal for intake items, whose
    // event names the channel's ticket); items without one are taken as known to the day.
    let submitted_precision = match page.proposal.submitted_at {
        Some(_) => Some(
            entity::timeline_events::Entity::find()
                .select_only()
                .column(entity::timeline_events::Column::Precision)
                .filter(entity::timeline_events::Column::ProposalId.eq(page.proposal.id))
                .filter(
                    entity::timeline_events::Column::Action
                        .eq(crate::workflow::TimelineAction::Submitted.as_str()),
                )
                .into_tuple::<String>()
                .one(&state.db)
                .await?
                .unwrap_or_else(|| "day".to_owned()),
        ),
        None => None,
    };
    let p = page.proposal;
    Ok(Json(ProposalDetail {
        url: crate::web::paths::proposal(&p.code),
        corrected: !page.corrected.is_empty(),
        history_url: format!("/api/v1/proposals/{}/history", p.code),
        status: page.status.value.to_owned(),
        status_label: page.status.label.to_owned(),
        channel: p.channel,
        session_number: page.session.map(|s| s.number),
        author_id: page.author.as_ref().map(|a| a.id),
        author: page.author.map(|a| a.name),
        cosigners: page.cosigners.into_iter().map(|c| c.name).collect(),
        topics: page.topics,
        body_md: p.body_md,
        submitted_on: p
            .submitted_at
            .map(|at| at.with_timezone(&crate::time::china()).date_naive()),
        submitted_precision: submitted_precision.clone(),
        submitted_at: p
            .submitted_at
            .filter(|_| submitted_precision.as_deref() == Some("exact")),
        due_on: p.due_on,
        supervised: p.supervised,
        clock_paused_since: p.paused_on,
        assignments: page
            .assignments
            .into_iter()
            .map(|a| Assignment {
                agency_id: a.agency_id,
                agency: a.agency_name,
                role: a.role,
                role_label: a.role_label.to_owned(),
                state: a.state,
                due_on: a.due_on,
            })
            .collect(),
        responses: page.responses.into_iter().map(Into::into).collect(),
        commitments: page.commitments.into_iter().map(Into::into).collect(),
        timeline: page.timeline.into_iter().map(Into::into).collect(),
        code: p.code,
        title: p.title,
    }))
}

fn agency_out(a: entity::agencies::Model, statistics: Statistics, answered: u64) -> Agency {
    Agency {
        answered_proposals: answered,
        url: format!("/agencies/{}", a.id),
        id: a.id,
        short_name: a.short_name,
        full_name: a.full_name,
        kind: a.kind,
        valid_from: a.valid_from,
        valid_until: a.valid_until,
        statistics,
    }
}

#[utoipa::path(get, path = "/api/v1/agencies", tag = "archive", operation_id = "list_agencies",
    summary = "承办单位列表(含办理统计)", params(PageParams),
    responses((status = 200, description = "Agencies with their figures over all years", body = Paged<Agency>),
        (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn agencies(
    State(state): State<AppState>,
    uri: Uri,
    Params(page): Params<PageParams>,
) -> AppResult<Response> {
    let paging = page.paging()?;
    let data = dataset(&state.db, crate::time::today()).await?;
    let answered = crate::responses::service::answered_counts(&state.db, None).await?;
    let changed = page.changed_by_time(&data.agencies, |a| (a.id, a.updated_at));
    let out = page
        .since(data.agencies.clone(), changed.as_deref(), |a| a.id)
        .iter()
        .map(|a| {
            let tally = data.tally(&Selection {
                agency_id: Some(a.id),
                ..Default::default()
            });
            agency_out(a.clone(), tally, answered.get(&a.id).copied().unwrap_or(0))
        })
        .collect();
    Ok(paging.page_of(out).respond(&uri))
}

#[utoipa::path(get, path = "/api/v1/agencies/{id}", tag = "archive", operation_id = "get_agency",
    summary = "一个承办单位",
    params(("id" = i32, Path)),
    responses((status = 200, body = AgencyDetail), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn agency(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<AgencyDetail>> {
    let id = parse_id(&id)?;
    let data = dataset(&state.db, crate::time::today()).await?;
    let model = data
        .agencies
        .iter()
        .find(|a| a.id == id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    let by_year = data
        .agency_years(id)
        .into_iter()
        .filter_map(|row| {
            Some(YearStatistics {
                year: row.label.trim_end_matches('年').parse().ok()?,
                statistics: row.tally,
            })
        })
        .collect();
    let total = data.tally(&Selection {
        agency_id: Some(id),
        ..Default::default()
    });
    // Only the commitments: the agency page's other parts are not in this document.
    let commitments = crate::agencies::service::commitments_of(&state.db, id, None).await?;
    let answered = crate::responses::service::answered_counts(&state.db, Some(id))
        .await?
        .get(&id)
        .copied()
        .unwrap_or(0);
    Ok(Json(AgencyDetail {
        agency: agency_out(model, total, answered),
        by_year,
        commitments: commitments.into_iter().map(Into::into).collect(),
    }))
}

fn person_out(p: people::Model) -> Person {
    Person {
        url: format!("/people/{}", p.id),
        id: p.id,
        name: p.name,
        kind: p.kind,
        post: p.post,
        agency_id: p.agency_id,
    }
}

#[utoipa::path(get, path = "/api/v1/people", tag = "archive", operation_id = "list_people",
    summary = "人员名录", params(PageParams),
    responses((status = 200, description = "By id", body = Paged<Person>),
        (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn people_list(
    State(state): State<AppState>,
    uri: Uri,
    Params(page): Params<PageParams>,
) -> AppResult<Response> {
    let paging = page.paging()?;
    let rows = people::Entity::find()
        .order_by_asc(people::Column::Id)
        .all(&state.db)
        .await?;
    let changed = page.changed_by_time(&rows, |p| (p.id, p.updated_at));
    let rows = page.since(rows, changed.as_deref(), |p| p.id);
    Ok(paging
        .page_of(rows.into_iter().map(person_out).collect())
        .respond(&uri))
}

#[utoipa::path(get, path = "/api/v1/people/{id}", tag = "archive", operation_id = "get_person",
    summary = "一个人员",
    params(("id" = i32, Path)),
    responses((status = 200, body = Person), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn person(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<Person>> {
    let row = people::Entity::find_by_id(parse_id(&id)?)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(person_out(row)))
}

fn document_out(d: documents::Model) -> Document {
    Document {
        url: format!("/documents/{}", d.id),
        id: d.id,
        kind: d.kind,
        issuer: d.issuer,
        title: d.title,
        published_on: d.published_on,
        doc_number: d.doc_number,
        source_url: d.url,
    }
}

#[utoipa::path(get, path = "/api/v1/documents", tag = "archive", operation_id = "list_documents",
    summary = "文件资料列表", params(PageParams),
    responses((status = 200, description = "Published documents", body = Paged<Document>),
        (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn documents_list(
    State(state): State<AppState>,
    uri: Uri,
    Params(page): Params<PageParams>,
) -> AppResult<Response> {
    let paging = page.paging()?;
    let rows = crate::documents::service::list(&state.db).await?;
    let changed = logged_since(&state, crate::search::documents::DOCUMENT, &page).await?;
    let rows = page.since(rows, changed.as_deref(), |d| d.id);
    Ok(paging
        .page_of(rows.into_iter().map(document_out).collect())
        .respond(&uri))
}

#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "archive", operation_id = "get_document",
    summary = "一份文件",
    params(("id" = i32, Path)),
    responses((status = 200, body = Document), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn document(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<Document>> {
    let row = documents::Entity::find_by_id(parse_id(&id)?)
        .filter(documents::Column::Published.eq(true))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(document_out(row)))
}

/// A history as a page of corrections, oldest first; `updated_since` keeps those made since.
fn history_page(
    history: crate::corrections::service::History,
    page: &PageParams,
    uri: &Uri,
) -> AppResult<Response> {
    let paging = page.paging()?;
    let items: Vec<CorrectionItem> = history
        .corrections
        .into_iter()
        .filter(|c| page.updated_since.is_none_or(|since| c.made_at >= since))
        .map(Into::into)
        .collect();
    Ok(paging.page_of(items).respond(uri))
}

#[utoipa::path(get, path = "/api/v1/proposals/{code}/history", tag = "archive",
    operation_id = "get_proposal_history", summary = "建议公开后的更正记录(含其答复与承诺)",
    params(("code" = String, Path, description = "建议编号, e.g. TS-2023-027-01"), PageParams),
    responses((status = 200, description = "Corrections, oldest first", body = Paged<CorrectionItem>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn proposal_history(
    State(state): State<AppState>,
    uri: Uri,
    Path(code): Path<String>,
    Params(page): Params<PageParams>,
) -> AppResult<Response> {
    if !crate::proposals::service::is_plausible_code(&code) {
        return Err(AppError::NotFound);
    }
    let history = crate::corrections::service::proposal_history(&state.db, &code, false).await?;
    history_page(history, &page, &uri)
}

#[utoipa::path(get, path = "/api/v1/sessions/{number}/history", tag = "archive",
    operation_id = "get_session_history", summary = "协商活动公开后的更正记录",
    params(("number" = i32, Path, description = "期数, e.g. 27"), PageParams),
    responses((status = 200, description = "Corrections, oldest first", body = Paged<CorrectionItem>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn session_history(
    State(state): State<AppState>,
    uri: Uri,
    Path(number): Path<String>,
    Params(page): Params<PageParams>,
) -> AppResult<Response> {
    let history =
        crate::corrections::service::session_history(&state.db, parse_id(&number)?, false).await?;
    history_page(history, &page, &uri)
}
