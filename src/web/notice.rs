//! The note a page shows after a form succeeded ("已保存。"): a form's handler redirects to
//! [`after`] with what it did, and the page it lands on reads it with the [`Notice`] extractor and
//! gives it to its template as `notice` (the base layout shows it). Only what is in [`DONE`] is
//! shown, so a link cannot make the site say anything else.
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// What each success says happened (and, where it helps, what comes next).
const DONE: &[(&str, &str)] = &[
    ("saved", "已保存。"),
    ("created", "已创建。"),
    ("added", "已添加。"),
    ("removed", "已删除。"),
    ("published", "已公开,公开页面和检索会随即更新。"),
    ("unpublished", "已撤下,公众不再能看到。"),
    (
        "attached",
        "附件已上传。文字内容提取后即可检索(通常不到一分钟)。",
    ),
    ("detached", "附件已删除。"),
    ("revoked", "令牌已吊销,使用它的请求会被拒绝。"),
    ("judged", "审查结论已保存并记入审计日志。"),
    ("requested", "请求已登记,处理后会在此显示。"),
];

/// `path` with `?done=what` (before any fragment).
pub fn after(path: &str, what: &str) -> String {
    debug_assert!(
        DONE.iter().any(|(code, _)| *code == what),
        "unknown notice {what}"
    );
    let (page, fragment) = match path.split_once('#') {
        Some((page, fragment)) => (page, Some(fragment)),
        None => (path, None),
    };
    let joiner = if page.contains('?') { '&' } else { '?' };
    match fragment {
        Some(fragment) => format!("{page}{joiner}done={what}#{fragment}"),
        None => format!("{page}{joiner}done={what}"),
    }
}

/// The message for `?done=` on the request, if it names a known one.
#[derive(Debug, Clone, Copy, Default)]
pub struct Notice(pub Option<&'static str>);

pub fn message(code: &str) -> Option<&'static str> {
    DONE.iter().find(|(c, _)| *c == code).map(|(_, m)| *m)
}

impl<S: Send + Sync> FromRequestParts<S> for Notice {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let code = form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .find(|(name, _)| name == "done")
            .map(|(_, value)| value.into_owned());
        Ok(Notice(code.as_deref().and_then(message)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_go_before_the_fragment_and_only_known_ones_show() {
        assert_eq!(
            after("/admin/synonyms", "added"),
            "/admin/synonyms?done=added"
        );
        assert_eq!(
            after("/work/proposals/3#files", "attached"),
            "/work/proposals/3?done=attached#files"
        );
        assert_eq!(after("/admin/x?y=1", "saved"), "/admin/x?y=1&done=saved");
        assert_eq!(message("saved"), Some("已保存。"));
        assert_eq!(message("<script>"), None);
    }
}
