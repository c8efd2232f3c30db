//! Turns error responses into the Chinese error page (or problem+json under `/api`), and logs
//! server errors once, with the request id the user is shown.
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use minijinja::context;

use crate::app::AppState;
use crate::error::ErrorReport;

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
        None => generic_report(status),
    };
    // A page that needs a login sends the browser to the login form, and back afterwards.
    if report.status == StatusCode::UNAUTHORIZED && !path.starts_with("/api/") && method_is_get {
        let next: String = form_urlencoded_path(&path_and_query);
        return axum::response::Redirect::to(&format!("/login?next={next}")).into_response();
    }
    if let Some(internal) = &report.internal {
        tracing::error!(%request_id, %path, error = %internal, "request failed");
    }
    if let Some(failure) = report.storage {
        state.metrics.record_storage_failure(failure);
    }
    let mut page = if path.starts_with("/api/") {
        problem_json(&report, &request_id)
    } else {
        html_page(&state, &report, &request_id)
    };
    *page.status_mut() = report.status;
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = response.headers().get(&name) {
            page.headers_mut().insert(name, value.clone());
        }
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

fn generic_report(status: StatusCode) -> ErrorReport {
    let (title, detail, kind) = match status {
        StatusCode::NOT_FOUND => ("页面不存在", "您要找的内容不存在,或尚未公开。", "not-found"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "不支持的操作",
            "此地址不支持该请求方式。",
            "method-not-allowed",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "内容过大",
            "提交的内容超过了允许的大小。",
            "payload-too-large",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "格式不支持",
            "提交的内容格式不受支持。",
            "unsupported-media-type",
        ),
        s if s.is_server_error() => (
            "服务器内部错误",
            "服务器处理请求时出错,请稍后再试。",
            "internal",
        ),
        _ => (
            "请求有误",
            "请求的内容无法处理,请检查后重试。",
            "bad-request",
        ),
    };
    ErrorReport {
        status,
        title,
        detail: detail.to_owned(),
        kind,
        internal: status
            .is_server_error()
            .then(|| format!("unreported {status}")),
        storage: None,
    }
}

fn problem_json(report: &ErrorReport, request_id: &str) -> Response {
    let body = serde_json::json!({
        "type": format!("https://tingshang.invalid/problems/{}", report.kind),
        "title": report.title,
        "status": report.status.as_u16(),
        "detail": report.detail,
        "request_id": request_id,
    });
    let mut response = body.to_string().into_response();
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

/// Percent-encodes a local path for use as a query value.
fn form_urlencoded_path(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
