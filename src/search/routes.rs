//! `/search` (the public search page) and `/api/v1/search` (the same as JSON).
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{text, Filters, SearchQuery, SearchResults, Sort, FACETS};
use crate::app::AppState;
use crate::error::{AppError, AppResult};

pub const PER_PAGE: usize = 20;
/// The most hits one API page holds.
const MAX_API_PER_PAGE: u64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/search", get(page))
        .merge(super::synonyms::routes())
}

/// `/api/v1/search`: under `web::conditional::cors` in `app::router`.
pub fn api_routes() -> Router<AppState> {
    Router::new().route("/api/v1/search", get(api))
}

/// Query-string parameters, shared by the page and the API. Unknown values are ignored.
#[derive(Debug, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Params {
    #[serde(default)]
    pub q: String,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub agency: Option<String>,
    pub session: Option<String>,
    pub year: Option<String>,
    pub channel: Option<String>,
    pub topic: Option<String>,
    pub member: Option<String>,
    pub sort: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
}

fn short(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(text::clean_query)
        .filter(|v| !v.is_empty() && v.chars().count() <= 100)
}

impl Params {
    pub fn to_query(&self, per_page: usize) -> SearchQuery {
        SearchQuery {
            text: text::clean_query(&self.q),
            filters: Filters {
                kind: short(&self.kind),
                status: short(&self.status),
                agency: short(&self.agency),
                session: self.session.as_deref().and_then(|s| s.trim().parse().ok()),
                year: self.year.as_deref().and_then(|s| s.trim().parse().ok()),
                channel: short(&self.channel),
                topic: short(&self.topic),
                member: short(&self.member),
            },
            sort: match self.sort.as_deref() {
                Some("newest") => Sort::Newest,
                Some("oldest") => Sort::Oldest,
                _ => Sort::Relevance,
            },
            page: self
                .page
                .as_deref()
                .and_then(|p| p.parse().ok())
                .unwrap_or(1)
                .clamp(1, super::MAX_RESULTS / per_page),
            per_page,
        }
    }
}

async fn run(state: &AppState, query: &SearchQuery) -> AppResult<SearchResults> {
    let started = std::time::Instant::now();
    let result = state.search.search(query).await;
    state
        .metrics
        .record_search(started.elapsed().as_secs_f64(), result.is_ok());
    let mut results = result.map_err(|err| {
        tracing::warn!(error = %format!("{err:#}"), "search failed");
        AppError::Unavailable("检索服务暂时不可用,请稍后再试。浏览功能不受影响。".into())
    })?;
    locate_in_files(state, &query.text, &mut results.hits).await?;
    Ok(results)
}

/// Names the attached file (and page) where the query's longest word occurs, for the hits
/// whose own text does not hold it — a proposal found through its reply's PDF says so.
async fn locate_in_files(
    state: &AppState,
    text: &str,
    hits: &mut [crate::search::Hit],
) -> AppResult<()> {
    use crate::files::OwnerKind;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    // The longest word searched for (not one excluded with `-`), without quotes.
    let Some(word) = text
        .split_whitespace()
        .filter(|w| !w.starts_with('-'))
        .map(|w| w.trim_matches(['"', '“', '”']))
        .max_by_key(|w| w.chars().count())
        .filter(|w| !w.is_empty())
    else {
        return Ok(());
    };
    let id_of = |hit: &crate::search::Hit| {
        hit.id
            .rsplit('-')
            .next()
            .and_then(|n| n.parse::<i32>().ok())
    };
    let proposal_ids: Vec<i32> = hits
        .iter()
        .filter(|h| h.kind == super::documents::PROPOSAL)
        .filter_map(id_of)
        .collect();
    let mut owners: Vec<(OwnerKind, i32)> = proposal_ids
        .iter()
        .map(|id| (OwnerKind::Proposal, *id))
        .collect();
    owners.extend(
        hits.iter()
            .filter(|h| h.kind == super::documents::SESSION)
            .filter_map(id_of)
            .map(|id| (OwnerKind::Session, id)),
    );
    owners.extend(
        hits.iter()
            .filter(|h| h.kind == super::documents::DOCUMENT)
            .filter_map(id_of)
            .map(|id| (OwnerKind::Document, id)),
    );
    if owners.is_empty() {
        return Ok(());
    }
    let reports_of = crate::files::reports_of_proposals(&state.db, &proposal_ids).await?;
    owners.extend(
        reports_of
            .values()
            .flatten()
            .map(|r| (OwnerKind::Report, *r)),
    );
    // Published replies only: the files of an unpublished one are not searchable.
    let replies = entity::response_proposals::Entity::find()
        .filter(entity::response_proposals::Column::ProposalId.is_in(proposal_ids))
        .find_also_related(entity::responses::Entity)
        .all(&state.db)
        .await?;
    let mut replies_of: std::collections::HashMap<i32, Vec<i32>> = std::collections::HashMap::new();
    for (link, reply) in replies {
        if reply.is_some_and(|r| r.published) {
            replies_of
                .entry(link.proposal_id)
                .or_default()
                .push(link.response_id);
            owners.push((OwnerKind::Response, link.response_id));
        }
    }
    let found = crate::files::found_in(&state.db, &owners, word).await?;
    if found.is_empty() {
        return Ok(());
    }
    for hit in hits.iter_mut() {
        let Some(id) = id_of(hit) else { continue };
        let mut candidates = Vec::new();
        if hit.kind == super::documents::PROPOSAL {
            candidates.push((OwnerKind::Proposal, id));
            candidates.extend(
                replies_of
                    .get(&id)
                    .into_iter()
                    .flatten()
                    .map(|r| (OwnerKind::Response, *r)),
            );
            candidates.extend(
                reports_of
                    .get(&id)
                    .into_iter()
                    .flatten()
                    .map(|r| (OwnerKind::Report, *r)),
            );
        } else if hit.kind == super::documents::SESSION {
            candidates.push((OwnerKind::Session, id));
        } else if hit.kind == super::documents::DOCUMENT {
            candidates.push((OwnerKind::Document, id));
        }
        if let Some(file) = candidates.iter().find_map(|c| found.get(c)) {
            hit.in_file = Some(crate::search::FileHit {
                url: file.url.clone(),
                name: file.name.clone(),
                page: file.page,
            });
        }
    }
    Ok(())
}

/// The query string for the same search with one parameter changed (for facet and pager links).
fn link_with(params: &Params, key: &str, value: Option<&str>) -> String {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let current = serde_json::to_value(params).unwrap_or_default();
    if let Some(map) = current.as_object() {
        for (k, v) in map {
            if k == key || k == "page" {
                continue;
            }
            if let Some(v) = v.as_str().filter(|v| !v.is_empty()) {
                pairs.push((k.clone(), v.to_owned()));
            }
        }
    }
    if let Some(value) = value {
        pairs.push((key.to_owned(), value.to_owned()));
    }
    pairs.sort();
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::web::escape::percent(v)))
        .collect();
    format!("/search?{}", encoded.join("&"))
}

fn facet_label(facet: &str, value: &str) -> String {
    let vocabulary = match facet {
        "status" => "status",
        "channel" => "channel",
        _ => "",
    };
    match (facet, crate::vocab::label(vocabulary, value)) {
        (_, Some(label)) => label.to_owned(),
        ("kind", _) => match value {
            "proposal" => "建议".into(),
            "session" => "协商活动".into(),
            "document" => "跟踪材料".into(),
            other => other.into(),
        },
        ("session", _) => format!("第{value}期"),
        ("year", _) => format!("{value}年"),
        _ => value.to_owned(),
    }
}

/// A broader search offered when a query finds nothing: its text, where it leads and how much.
#[derive(Serialize)]
struct Broader {
    text: String,
    href: String,
    total: usize,
    total_is_estimate: bool,
}

/// What to offer when nothing matched: the same words without the filters (with their counts
/// per type: "在全部类型中有 N 条"), then the query with one word left out, then a long word with
/// its first or last character left out. Each is searched, and only those that find something
/// are offered.
async fn broader_searches(
    state: &AppState,
    query: &SearchQuery,
) -> AppResult<(Option<(Broader, Vec<(String, u64)>)>, Vec<Broader>)> {
    let mut unfiltered = None;
    if !query.filters.pairs().is_empty() && !query.text.is_empty() {
        let plain = SearchQuery {
            text: query.text.clone(),
            per_page: 1,
            page: 1,
            ..Default::default()
        };
        let found = run(state, &plain).await?;
        if found.total > 0 {
            let kinds = found
                .facets
                .iter()
                .find(|(name, _)| name == "kind")
                .map(|(_, values)| {
                    values
                        .iter()
                        .map(|v| (facet_label("kind", &v.value), v.count))
                        .collect()
                })
                .unwrap_or_default();
            unfiltered = Some((
                Broader {
                    href: format!("/search?q={}", crate::web::escape::percent(&query.text)),
                    text: query.text.clone(),
                    total: found.total,
                    total_is_estimate: found.total_is_estimate,
                },
                kinds,
            ));
        }
    }
    let parsed = super::query::parse(&query.text, &super::query::Synonyms::default());
    let mut candidates: Vec<String> = Vec::new();
    if parsed.include.len() > 1 {
        candidates.extend((0..parsed.include.len()).map(|i| parsed.without(i)));
    } else if let [term] = parsed.include.as_slice() {
        let chars: Vec<char> = term.text.chars().collect();
        if chars.len() >= 3 && !term.text.contains(' ') {
            candidates.push(chars[1..].iter().collect());
            candidates.push(chars[..chars.len() - 1].iter().collect());
        }
    }
    let mut offered = Vec::new();
    for text in candidates.into_iter().take(4) {
        let broader = SearchQuery {
            text: text.clone(),
            filters: query.filters.clone(),
            per_page: 1,
            page: 1,
            ..Default::default()
        };
        let found = run(state, &broader).await?;
        if found.total > 0 {
            let params = Params {
                q: text.clone(),
                ..Default::default()
            };
            offered.push(Broader {
                href: link_with(&params, "q", Some(&text)),
                text,
                total: found.total,
                total_is_estimate: found.total_is_estimate,
            });
        }
    }
    Ok((unfiltered, offered))
}

async fn page(State(state): State<AppState>, Query(params): Query<Params>) -> AppResult<Response> {
    let query = params.to_query(PER_PAGE);
    let outcome = run(&state, &query).await;
    let (results, unavailable) = match outcome {
        Ok(results) => (Some(results), None),
        Err(AppError::Unavailable(message)) => (None, Some(message)),
        Err(other) => return Err(other),
    };
    let facets: Vec<_> = results
        .as_ref()
        .map(|r| {
            FACETS
                .iter()
                .filter_map(|(name, label)| {
                    let values = &r.facets.iter().find(|(n, _)| n == name)?.1;
                    let selected = query
                        .filters
                        .pairs()
                        .into_iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v);
                    (!values.is_empty()).then(|| {
                        context! {
                            name, label,
                            clear => selected.as_ref().map(|_| link_with(&params, name, None)),
                            values => values.iter().map(|v| context! {
                                label => facet_label(name, &v.value), count => v.count,
                                selected => selected.as_deref() == Some(v.value.as_str()),
                                href => link_with(&params, name, Some(&v.value)),
                            }).collect::<Vec<_>>(),
                        }
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let total = results.as_ref().map_or(0, |r| r.total);
    let total_is_estimate = results.as_ref().is_some_and(|r| r.total_is_estimate);
    let searched = !query.text.is_empty() || !query.filters.pairs().is_empty();
    let (unfiltered, broader) = if searched && results.as_ref().is_some_and(|r| r.total == 0) {
        broader_searches(&state, &query).await?
    } else {
        (None, Vec::new())
    };
    let pages = total.div_ceil(PER_PAGE).max(1);
    let page_link = |p: usize| format!("{}&page={p}", link_with(&params, "page", None));
    let hits: Vec<_> = results
        .as_ref()
        .map(|r| {
            r.hits
                .iter()
                .map(|h| {
                    context! {
                        url => &h.url, code => &h.code, kind => facet_label("kind", &h.kind),
                        title_html => minijinja::Value::from_safe_string(h.title_html.clone()),
                        snippet_html => minijinja::Value::from_safe_string(h.snippet_html.clone()),
                        status => h.status.as_deref().map(|s| facet_label("status", s)),
                        year => h.year, agencies => &h.agencies, in_file => &h.in_file,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let html = state.render(
        "search/index.html",
        context! {
            q => &query.text, hits, facets, total, total_is_estimate, unavailable,
            unfiltered => unfiltered.as_ref().map(|(b, _)| b),
            unfiltered_kinds => unfiltered.as_ref().map(|(_, kinds)| kinds),
            broader,
            page => query.page, pages,
            prev => (query.page > 1).then(|| page_link(query.page - 1)),
            next => (query.page < pages).then(|| page_link(query.page + 1)),
            sort => match query.sort { Sort::Relevance => "relevance", Sort::Newest => "newest", Sort::Oldest => "oldest" },
            hidden => query.filters.pairs().into_iter().collect::<Vec<_>>(),
            searched,
            // The same search for a feed or a subscription (without the page).
            follow => link_with(&params, "page", None).trim_start_matches("/search?").to_owned(),
        },
    )?;
    let status = if unavailable.is_some() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok((status, html).into_response())
}

/// Search results as JSON.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiResponse {
    query: String,
    items: Vec<super::Hit>,
    total: usize,
    /// `total` is an estimate: exact up to 1,000 matches on both backends. On the embedded
    /// backend the facet counts are then estimated too (from an even sample of the matches).
    total_is_estimate: bool,
    page: usize,
    per_page: usize,
    /// Facet name (kind, status, agency, session, year, channel, topic, member) → value counts.
    facets: std::collections::BTreeMap<String, Vec<super::FacetCount>>,
}

#[utoipa::path(get, path = "/api/v1/search", tag = "archive", operation_id = "search",
    summary = "全文检索(中文,含分面与高亮)", params(Params),
    responses((status = 200, body = ApiResponse),
        (status = 400, body = crate::web::errors::Problem, content_type = "application/problem+json")))]
pub async fn api(
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> AppResult<Json<ApiResponse>> {
    // The page is lenient with hand-edited links; the API says what it refused.
    let number = |name: &str, value: &Option<String>| -> AppResult<Option<u64>> {
        value
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse()
                    .map_err(|_| AppError::bad_request(format!("参数 {name} 的取值无效。")))
            })
            .transpose()
    };
    let paging = crate::web::paging::Paging::new(
        number("page", &params.page)?,
        number("per_page", &params.per_page)?,
        PER_PAGE as u64,
        MAX_API_PER_PAGE,
    )?;
    let last_page = (super::MAX_RESULTS as u64 / paging.per_page).max(1);
    if paging.page > last_page {
        return Err(AppError::bad_request(format!(
            "参数 page 应在 1 到 {last_page} 之间(检索结果最多浏览前 {} 条)。",
            super::MAX_RESULTS
        )));
    }
    let query = params.to_query(paging.per_page as usize);

    let results = run(&state, &query).await?;
    Ok(Json(ApiResponse {
        query: query.text.clone(),
        page: query.page,
        per_page: query.per_page,
        total: results.total,
        total_is_estimate: results.total_is_estimate,
        items: results.hits,
        facets: results.facets.into_iter().collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_become_a_bounded_query() {
        let p = Params {
            q: " 科技局 \u{0}".into(),
            session: Some("27".into()),
            year: Some("x".into()),
            page: Some("99999".into()),
            ..Default::default()
        };
        let q = p.to_query(20);
        assert_eq!(q.text, "科技局");
        assert_eq!(q.filters.session, Some(27));
        assert_eq!(q.filters.year, None);
        assert_eq!(q.page, 500);
    }

    #[test]
    fn facet_links_keep_other_parameters_and_encode_values() {
        let p = Params {
            q: "科技 局".into(),
            status: Some("accepted".into()),
            page: Some("3".into()),
            ..Default::default()
        };
        let link = link_with(&p, "agency", Some("市科技局&x"));
        assert!(link.starts_with("/search?agency=%E5%B8%82"));
        assert!(
            link.contains("%26x") && link.contains("status=accepted") && !link.contains("page=")
        );
    }
}
