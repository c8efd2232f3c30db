//! Turns error responses into the Chinese error page (or problem+json for the API and for clients
//! that ask for JSON), and logs server errors once, with the request id the user is shown.
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use minijinja::context;

use crate::app::AppState;
use crate::error::{AppError, ErrorReport};

pub async fn render_errors(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.as_str().to_owned());
    let method_is_get = request.method() == axum::http::Method::GET;
    let json = wants_json(
        &path,
        request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    );
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let mut response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let report = match response.extensions_mut().remove::<ErrorReport>() {
        Some(report) => report,
        // A handler's own page (a form shown again with its message, a JSON health report)
        // stays as it is; only bare framework rejections (plain text) are replaced.
        None if !is_plain(&response) => return response,
        // Framework rejections (unknown route, wrong method, unparsable form) carry no report.
        None => AppError::for_status(status).report(),
    };
    // A page that needs a login sends the browser to the login form, and back afterwards.
    if report.status == StatusCode::UNAUTHORIZED && !json && method_is_get {
        let next = crate::web::escape::percent(&path_and_query);
        return axum::response::Redirect::to(&format!("/login?next={next}")).into_response();
    }
    if let Some(internal) = &report.internal {
        tracing::error!(%request_id, %path, error = %internal, "request failed");
    }
    if let Some(failure) = report.storage {
        state.metrics.record_storage_failure(failure);
    }
    let mut page = if json {
        problem_json(&report, &request_id)
    } else {
        html_page(&state, &report, &request_id)
    };
    *page.status_mut() = report.status;
    // Kept from the handler's response: what the client needs to act on the error, including
    // the CORS headers of public reads (so that a page elsewhere can read why it failed).
    for name in [
        header::ALLOW,
        header::RETRY_AFTER,
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
    ] {
        if let Some(value) = response.headers().get(&name) {
            page.headers_mut().insert(name, value.clone());
        }
    }
    // RFC 9110: a 401 names the scheme that would have worked.
    if json && report.status == StatusCode::UNAUTHORIZED {
        page.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"tingshang\""),
        );
    }
    page
}

fn is_plain(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"))
}

/// An `application/problem+json` error (RFC 9457).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, e.g. `/problems/not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short Chinese title.
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub request_id: Option<String>,
}

/// Problem+json for API paths and for clients that ask for JSON rather than HTML (`Accept`); an
/// HTML page otherwise.
fn wants_json(path: &str, accept: Option<&str>) -> bool {
    let accept = accept.unwrap_or("").to_ascii_lowercase();
    let json = accept.contains("application/json") || accept.contains("+json");
    let html = accept.contains("text/html");
    if json != html {
        json
    } else {
        path.starts_with("/api/")
    }
}

fn problem_json(report: &ErrorReport, request_id: &str) -> Response {
    let body = Problem {
        kind: format!("https://tingshang.invalid/problems/{}", report.kind),
        title: report.title.to_owned(),
        status: report.status.as_u16(),
        detail: report.detail.clone(),
        request_id: Some(request_id.to_owned()),
    };
    let mut response = serde_json::to_string(&body)
        .unwrap_or_default()
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

fn html_page(state: &AppState, report: &ErrorReport, request_id: &str) -> Response {
    let rendered = state.templates.render(
        "error.html",
        context! {
            status => report.status.as_u16(),
            title => report.title,
            detail => &report.detail,
            request_id => request_id,
        },
    );
    match rendered {
        Ok(html) => axum::response::Html(html).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "error page failed to render");
            (
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!(
                    "{} {}\n请求编号:{request_id}",
                    report.status.as_u16(),
                    report.title
                ),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::wants_json;

    #[test]
    fn json_for_the_api_and_for_clients_that_ask_for_it() {
        assert!(wants_json("/api/v1/proposals", None));
        assert!(wants_json("/api/v1/proposals", Some("*/*")));
        assert!(!wants_json("/proposals/TS-1", None));
        assert!(!wants_json(
            "/proposals/TS-1",
            Some("text/html,application/xhtml+xml,*/*;q=0.8")
        ));
        assert!(wants_json("/proposals/TS-1", Some("application/json")));
        assert!(wants_json("/search", Some("application/problem+json")));
        assert!(!wants_json("/api/v1/search", Some("text/html")));
    }
}
