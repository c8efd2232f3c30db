//! Query strings for the JSON API: a parameter that does not parse is a 400 that names it
//! (`参数 page 的取值无效`), where axum's own `Query` only says the request could not be handled.
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Like `axum::extract::Query`, with the failing parameter named in the error.
#[derive(Debug, Clone, Copy, Default)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parse(parts.uri.query().unwrap_or_default()).map(Params)
    }
}

/// Parses a query string (without `?`) into `T`.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|err| {
        let name = err.path().to_string();
        if name.is_empty() || name == "." {
            AppError::bad_request("查询参数无法解析。")
        } else {
            AppError::bad_request(format!("参数 {name} 的取值无效。"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Example {
        page: Option<u64>,
        q: Option<String>,
    }

    fn message(err: AppError) -> String {
        err.report().detail
    }

    #[test]
    fn a_bad_value_names_its_parameter() {
        let err = parse::<Example>("q=x&page=abc").unwrap_err();
        assert_eq!(message(err), "参数 page 的取值无效。");
        let ok: Example = parse("page=2&q=%E7%A7%91&other=1").unwrap();
        assert_eq!((ok.page, ok.q.as_deref()), (Some(2), Some("科")));
        let empty: Example = parse("").unwrap();
        assert!(empty.page.is_none());
    }
}
