//! Every list in the API has one shape: `items`, `total`, `page`, `per_page`, with RFC 8288 `Link`
//! headers (first, prev, next, last) so that a harvester follows `next` until there is none.
//! Page parameters out of range are a 400 that says the range, never silently cut.
use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{AppError, AppResult};

/// The most items one page holds.
pub const MAX_PER_PAGE: u64 = 200;
pub const DEFAULT_PER_PAGE: u64 = 50;
/// Pages beyond this are refused rather than turned into a huge OFFSET.
pub const MAX_PAGE: u64 = 1_000_000;

/// `?page=&per_page=` on every list.
#[derive(Debug, Default, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page (default 1).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u64>,
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<u64>,
    /// Only items changed publicly at or after this moment (RFC 3339, e.g.
    /// `2026-12-01T00:00:00+08:00`), oldest change first: pass the time your previous harvest
    /// started. `/api/v1/changes` says what changed, in commit order.
    pub updated_since: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// A checked page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: u64,
    pub per_page: u64,
}

impl PageParams {
    pub fn paging(self) -> AppResult<Paging> {
        Paging::new(self.page, self.per_page, DEFAULT_PER_PAGE, MAX_PER_PAGE)
    }

    /// The ids of `items` changed at or after `updated_since` by their own `updated_at`, oldest
    /// first (for lists whose items are not in the public change log).
    pub fn changed_by_time<T>(
        &self,
        items: &[T],
        key: impl Fn(&T) -> (i32, chrono::DateTime<chrono::FixedOffset>),
    ) -> Option<Vec<i32>> {
        let since = self.updated_since?;
        let mut changed: Vec<(chrono::DateTime<chrono::FixedOffset>, i32)> = items
            .iter()
            .map(|item| {
                let (id, at) = key(item);
                (at, id)
            })
            .filter(|(at, _)| *at >= since)
            .collect();
        changed.sort();
        Some(changed.into_iter().map(|(_, id)| id).collect())
    }
    /// `items` as the list shows them: all, or with `updated_since` only those whose last change
    /// (`changed`: ids of the items changed since, oldest change first) is listed, in that order.
    pub fn since<T>(
        &self,
        items: Vec<T>,
        changed: Option<&[i32]>,
        id: impl Fn(&T) -> i32,
    ) -> Vec<T> {
        let Some(changed) = changed else {
            return items;
        };
        let mut by_id: std::collections::HashMap<i32, T> =
            items.into_iter().map(|item| (id(&item), item)).collect();
        changed.iter().filter_map(|i| by_id.remove(i)).collect()
    }
}

impl Paging {
    pub fn new(
        page: Option<u64>,
        per_page: Option<u64>,
        default: u64,
        max: u64,
    ) -> AppResult<Self> {
        let page = page.unwrap_or(1);
        if !(1..=MAX_PAGE).contains(&page) {
            return Err(AppError::bad_request(format!(
                "参数 page 应在 1 到 {MAX_PAGE} 之间。"
            )));
        }
        let per_page = per_page.unwrap_or(default);
        if !(1..=max).contains(&per_page) {
            return Err(AppError::bad_request(format!(
                "参数 per_page 应在 1 到 {max} 之间。"
            )));
        }
        Ok(Self { page, per_page })
    }

    pub fn offset(self) -> u64 {
        (self.page - 1) * self.per_page
    }

    /// This page of a list held in memory (the short lists: sessions, agencies, people …).
    pub fn page_of<T>(self, items: Vec<T>) -> Paged<T> {
        let total = items.len() as u64;
        let items = items
            .into_iter()
            .skip(usize::try_from(self.offset()).unwrap_or(usize::MAX))
            .take(self.per_page as usize)
            .collect();
        self.paged(items, total)
    }

    pub fn paged<T>(self, items: Vec<T>, total: u64) -> Paged<T> {
        Paged {
            items,
            total,
            page: self.page,
            per_page: self.per_page,
        }
    }

    /// The last page (1 for an empty list).
    fn last(self, total: u64) -> u64 {
        total.div_ceil(self.per_page).max(1)
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// Items in the whole list.
    pub total: u64,
    pub page: u64,
    pub per_page: u64,
}

impl<T> Paged<T> {
    /// The JSON response with its `Link` header, the links keeping the request's other parameters.
    pub fn respond(self, uri: &Uri) -> Response
    where
        T: Serialize,
    {
        let link = links(uri, self.page, self.per_page, self.total);
        let mut response = Json(self).into_response();
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
        response
    }
}

/// RFC 8288 links to the first, previous, next and last pages, as paths relative to the host.
pub fn links(uri: &Uri, page: u64, per_page: u64, total: u64) -> String {
    let paging = Paging { page, per_page };
    let last = paging.last(total);
    let others: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .filter(|(name, _)| name != "page")
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
    let to = |target: u64| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(&others);
        query.append_pair("page", &target.to_string());
        format!("<{}?{}>", uri.path(), query.finish())
    };
    let mut out = vec![format!("{}; rel=\"first\"", to(1))];
    if page > 1 {
        out.push(format!("{}; rel=\"prev\"", to((page - 1).min(last))));
    }
    if page < last {
        out.push(format!("{}; rel=\"next\"", to(page + 1)));
    }
    out.push(format!("{}; rel=\"last\"", to(last)));
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_other_parameters_and_stop_at_the_ends() {
        let uri: Uri = "/api/v1/proposals?channel=session&page=2&per_page=10"
            .parse()
            .unwrap();
        assert_eq!(
            links(&uri, 2, 10, 25),
            "</api/v1/proposals?channel=session&per_page=10&page=1>; rel=\"first\", \
             </api/v1/proposals?channel=session&per_page=10&page=1>; rel=\"prev\", \
             </api/v1/proposals?channel=session&per_page=10&page=3>; rel=\"next\", \
             </api/v1/proposals?channel=session&per_page=10&page=3>; rel=\"last\""
        );
        let first: Uri = "/api/v1/sessions".parse().unwrap();
        assert_eq!(
            links(&first, 1, 50, 0),
            "</api/v1/sessions?page=1>; rel=\"first\", </api/v1/sessions?page=1>; rel=\"last\""
        );
        // Beyond the end, prev points at the last page.
        assert!(links(&first, 9, 50, 60).contains("page=2>; rel=\"prev\""));
    }

    #[test]
    fn out_of_range_pages_are_refused_with_the_range() {
        let err = Paging::new(Some(1), Some(500), 50, 200).unwrap_err();
        assert_eq!(err.report().detail, "参数 per_page 应在 1 到 200 之间。");
        assert!(Paging::new(Some(0), None, 50, 200).is_err());
        assert_eq!(
            Paging::new(None, None, 50, 200).unwrap(),
            Paging {
                page: 1,
                per_page: 50
            }
        );
    }

    #[test]
    fn a_page_of_a_list_in_memory() {
        let paging = Paging {
            page: 2,
            per_page: 2,
        };
        let page = paging.page_of(vec![1, 2, 3, 4, 5]);
        assert_eq!((page.items, page.total), (vec![3, 4], 5));
        let beyond = Paging {
            page: 9,
            per_page: 2,
        }
        .page_of(vec![1]);
        assert!(beyond.items.is_empty());
    }
}
