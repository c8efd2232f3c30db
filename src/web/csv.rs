//! CSV for spreadsheets: UTF-8 with a byte-order mark (so Excel reads Chinese correctly), CRLF
//! line ends, quoted fields, and formula-looking cells defused.
pub const BOM: &str = "\u{feff}";

/// One field: quoted when needed; a leading `=`, `+`, `-` or `@` (which spreadsheet programs would
/// run as a formula) is prefixed with `'`.
pub fn field(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// A record: fields joined by commas, ended by CRLF.
pub fn line(fields: &[String]) -> String {
    let mut out = fields.join(",");
    out.push_str("\r\n");
    out
}

/// A CSV download named `name`.
pub fn attachment(name: &str, body: String) -> axum::response::Response {
    use axum::http::header;
    use axum::response::IntoResponse;
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_defuses_formulas() {
        assert_eq!(field("市科技局"), "市科技局");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(line(&["a".into(), "b".into()]), "a,b\r\n");
    }
}
