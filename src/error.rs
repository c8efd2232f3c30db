//! One error type for every request path. Handlers return `AppResult<T>`; the error becomes a
//! status plus an [`ErrorReport`] extension, and `web::errors::render_errors` middleware turns that
//! into a Chinese HTML page (or a problem+json document under `/api`). Internals are logged once
//! there, with the request id the user sees, and never shown.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

pub type AppResult<T> = Result<T, AppError>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unauthorized")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("csrf token missing or wrong")]
    Csrf,
    #[error("too many attempts")]
    TooManyAttempts(String),
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// Well-formed but refused as a whole (an `Idempotency-Key` reused for another request).
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The request took longer than the server allows (`Config::request_timeout`).
    #[error("request timed out")]
    Timeout,
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Template(#[from] minijinja::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// What the error-page middleware needs to know; attached to the response as an extension.
#[derive(Clone, Debug)]
pub struct ErrorReport {
    pub status: StatusCode,
    /// Short Chinese title, safe to show.
    pub title: &'static str,
    /// Chinese detail safe to show (never internals).
    pub detail: String,
    /// Machine-readable problem type for JSON clients.
    pub kind: &'static str,
    /// Internal description for the log (5xx only).
    pub internal: Option<String>,
    /// Set when the database refused a write for a storage fault (counted in `/metrics`, shown
    /// by `/readyz`).
    pub storage: Option<crate::db::StorageFailure>,
}

impl AppError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    /// The error for a framework response that carries no report (an unknown route, a wrong
    /// method, an unparsable body, the timeout layer): the same titles as every other error.
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::REQUEST_TIMEOUT => Self::Timeout,
            s if s.is_server_error() => Self::Internal(anyhow::anyhow!("unreported {s}")),
            _ => Self::bad_request("请求的内容无法处理,请检查后重试。"),
        }
    }

    pub fn report(&self) -> ErrorReport {
        let storage = match self {
            Self::Database(err) => crate::db::storage_failure(err),
            _ => None,
        };
        // Two writers racing past the same duplicate check: the second one's insert fails on
        // the unique index and gets the conflict a check would have given, not a 500.
        let duplicate = matches!(
            self,
            Self::Database(err) if matches!(err.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
        );
        let (status, title, kind, detail) = match self {
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "页面不存在",
                "not-found",
                "您要找的内容不存在,或尚未公开。".to_owned(),
            ),
            Self::BadRequest(message) => (
                StatusCode::BAD_REQUEST,
                "请求有误",
                "bad-request",
                message.clone(),
            ),
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "需要登录",
                "unauthorized",
                "请先登录后再进行此操作。".to_owned(),
            ),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "无权操作",
                "forbidden",
                "您的账号无权进行此操作。".to_owned(),
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "表单已失效",
                "csrf",
                "安全校验未通过:表单可能已过期。请返回并刷新页面后重新提交。".to_owned(),
            ),
            Self::TooManyAttempts(message) => (
                StatusCode::TOO_MANY_REQUESTS,
                "尝试次数过多",
                "too-many-attempts",
                message.clone(),
            ),
            Self::Unavailable(message) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "服务暂时不可用",
                "unavailable",
                message.clone(),
            ),
            Self::Conflict(message) => (
                StatusCode::CONFLICT,
                "操作冲突",
                "conflict",
                message.clone(),
            ),
            Self::Unprocessable(message) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "无法处理的请求",
                "unprocessable",
                message.clone(),
            ),
            Self::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "内容过大",
                "payload-too-large",
                "提交的内容超过了允许的大小。".to_owned(),
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "不支持的操作",
                "method-not-allowed",
                "此地址不支持该请求方式。".to_owned(),
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "格式不支持",
                "unsupported-media-type",
                "提交的内容格式不受支持。".to_owned(),
            ),
            // 503, not 408: a 408 tells the browser that it was slow, and browsers resend the
            // request on a 408 — a form whose write may yet commit.
            Self::Timeout => (
                StatusCode::SERVICE_UNAVAILABLE,
                "处理超时",
                "timeout",
                "服务器处理本次请求的时间过长,已停止处理。请稍后查看结果,再决定是否重试。"
                    .to_owned(),
            ),
            Self::Database(_) if storage.is_some() => storage_report(storage),
            Self::Database(_) if duplicate => (
                StatusCode::CONFLICT,
                "内容重复",
                "duplicate",
                "与已有的记录重复(可能刚被他人创建),本次提交没有保存。请刷新后查看。".to_owned(),
            ),
            Self::Database(_) | Self::Template(_) | Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "服务器内部错误",
                "internal",
                "服务器处理请求时出错,请稍后再试。如问题持续,请联系管理员并提供请求编号。"
                    .to_owned(),
            ),
        };
        let internal = status.is_server_error().then(|| format!("{self:#}"));
        ErrorReport {
            status,
            title,
            detail,
            kind,
            internal,
            storage,
        }
    }
}

/// What a client is told when the database cannot take its write: nothing of the request was
/// saved, and it may be sent again later (an intake with the same ticket number is idempotent).
fn storage_report(
    failure: Option<crate::db::StorageFailure>,
) -> (StatusCode, &'static str, &'static str, String) {
    use crate::db::StorageFailure;
    let (title, kind, cause) = match failure {
        Some(StorageFailure::Full) => ("存储空间不足", "storage-full", "服务器存储空间不足"),
        Some(StorageFailure::ReadOnly) => {
            ("暂时无法保存", "storage-read-only", "数据库当前为只读状态")
        }
        Some(StorageFailure::Unreachable) => {
            ("暂时无法保存", "database-unavailable", "数据库暂时无法连接")
        }
        Some(StorageFailure::Io) | None => {
            ("暂时无法保存", "storage-error", "服务器存储设备读写出错")
        }
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        title,
        kind,
        format!("{cause},本次提交没有保存。请稍后重试;已公开的内容仍可正常查阅。"),
    )
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let report = self.report();
        let mut response = (report.status, report.detail.clone()).into_response();
        if report.storage.is_some() {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("30"),
            );
        }
        response.extensions_mut().insert(report);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_details_from_users() {
        let report = AppError::Internal(anyhow::anyhow!("password=secret at db.rs:12")).report();
        assert_eq!(report.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!report.detail.contains("secret"));
        assert!(report.internal.unwrap().contains("secret"));
    }

    #[test]
    fn client_errors_are_not_logged_as_internal() {
        assert!(AppError::NotFound.report().internal.is_none());
        assert_eq!(
            AppError::bad_request("标题不能为空").report().detail,
            "标题不能为空"
        );
    }
}
