//! What a file is, decided from its bytes (never from its name or the client's `Content-Type`),
//! and how its name is shown and sent.
use std::io::Read;

crate::vocabulary! {
    /// The types an attachment may have.
    pub enum Kind {
        Pdf = "pdf" => "PDF 文档",
        Png = "png" => "PNG 图片",
        Jpeg = "jpeg" => "JPEG 图片",
        Webp = "webp" => "WebP 图片",
        Docx = "docx" => "Word 文档",
        Xlsx = "xlsx" => "Excel 表格",
        Odt = "odt" => "ODF 文本文档",
        Text = "text" => "纯文本",
        Csv = "csv" => "CSV 表格",
    }
}

/// What the refusal of an unknown type lists.
pub const ACCEPTED: &str = "PDF、PNG、JPEG、WebP、DOCX、XLSX、ODT、纯文本(TXT)、CSV";

/// Office documents are zip archives: refused when they would unpack beyond this (a zip bomb).
pub const MAX_UNPACKED_BYTES: u64 = 200 * 1024 * 1024;

impl Kind {
    pub fn media_type(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Webp => "image/webp",
            Kind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Kind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Kind::Odt => "application/vnd.oasis.opendocument.text",
            Kind::Text => "text/plain; charset=utf-8",
            Kind::Csv => "text/csv; charset=utf-8",
        }
    }

    pub fn is_image(self) -> bool {
        matches!(self, Kind::Png | Kind::Jpeg | Kind::Webp)
    }

    /// Shown in the browser rather than downloaded: images and PDFs (under a sandbox CSP).
    pub fn inline(self) -> bool {
        self.is_image() || self == Kind::Pdf
    }

    /// Whether text is extracted from it for search.
    pub fn has_text(self) -> bool {
        matches!(
            self,
            Kind::Pdf | Kind::Docx | Kind::Odt | Kind::Text | Kind::Csv
        )
    }
}

/// The file's type from its bytes; `name` only tells CSV from plain text. A type not accepted
/// (an executable renamed `.pdf`, a bare zip, HTML) is refused with the list of accepted ones.
pub fn sniff(bytes: &[u8], name: &str) -> Result<Kind, String> {
    let refused = |what: &str| format!("不接受这种文件({what}):只接受 {ACCEPTED}。");
    let kind = match infer::get(bytes).map(|t| t.mime_type()) {
        Some("application/pdf") => Kind::Pdf,
        Some("image/png") => Kind::Png,
        Some("image/jpeg") => Kind::Jpeg,
        Some("image/webp") => Kind::Webp,
        // Office documents are zip archives; what they hold says which (infer's guess from the
        // first entries misses documents written in another order).
        Some(
            "application/zip"
            | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            | "application/vnd.oasis.opendocument.text",
        ) => office_kind(bytes).ok_or_else(|| refused("不是 Word、Excel 或 ODT 文档的压缩包"))?,
        Some(other) => return Err(refused(other)),
        None if is_plain_text(bytes) => {
            if name.to_lowercase().ends_with(".csv") {
                Kind::Csv
            } else {
                Kind::Text
            }
        }
        None => return Err(refused("无法识别的二进制内容")),
    };
    if matches!(kind, Kind::Docx | Kind::Xlsx | Kind::Odt) {
        check_zip(bytes, MAX_UNPACKED_BYTES).map_err(|e| format!("{}:{e}", kind.label()))?;
    }
    Ok(kind)
}

/// Which office document a zip archive is, by the parts it holds.
fn office_kind(bytes: &[u8]) -> Option<Kind> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    let has = |archive: &zip::ZipArchive<_>, name: &str| archive.index_for_name(name).is_some();
    if has(&archive, "word/document.xml") {
        return Some(Kind::Docx);
    }
    if has(&archive, "xl/workbook.xml") {
        return Some(Kind::Xlsx);
    }
    let mut mimetype = String::new();
    archive
        .by_name("mimetype")
        .ok()?
        .take(100)
        .read_to_string(&mut mimetype)
        .ok()?;
    (mimetype.trim() == "application/vnd.oasis.opendocument.text" && has(&archive, "content.xml"))
        .then_some(Kind::Odt)
}

/// UTF-8 text without NUL or other control characters than tab, line breaks and form feed.
fn is_plain_text(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| {
        !text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
    })
}

/// A zip archive that unpacks to at most `max` bytes: the declared sizes are checked first, then
/// the entries are unpacked (into nothing) up to the limit whatever they declare.
pub fn check_zip(bytes: &[u8], max: u64) -> Result<(), String> {
    let unreadable = || "压缩结构无法读取".to_owned();
    let too_large = || "解压后过大,未读取".to_owned();
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| unreadable())?;
    let mut declared = 0u64;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|_| unreadable())?;
        declared = declared.saturating_add(entry.size());
    }
    if declared > max {
        return Err(too_large());
    }
    let mut total = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|_| unreadable())?;
        let left = max - total;
        total += std::io::copy(&mut (&mut entry).take(left + 1), &mut std::io::sink())
            .map_err(|_| unreadable())?;
        if total > max {
            return Err(too_large());
        }
    }
    Ok(())
}

/// Longest name kept, in characters.
const MAX_NAME_CHARS: usize = 120;

/// A file name as shown and served: the last path component, without control characters,
/// quotes, slashes or leading dots, at most 120 characters (the extension kept); never empty.
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        // Control characters, and the bidirectional overrides that disguise `…fdp.exe`.
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .map(|c| match c {
            '"' | '<' | '>' | ':' | '|' | '?' | '*' => '_',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim().to_owned();
    let cleaned = if cleaned.chars().count() > MAX_NAME_CHARS {
        let (stem, ext) = match cleaned.rfind('.') {
            Some(dot) if cleaned.len() - dot <= 10 => cleaned.split_at(dot),
            _ => (cleaned.as_str(), ""),
        };
        let keep = MAX_NAME_CHARS - ext.chars().count();
        format!("{}{ext}", stem.chars().take(keep).collect::<String>())
    } else {
        cleaned
    };
    if cleaned.is_empty() {
        "附件".to_owned()
    } else {
        cleaned
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `Content-Disposition` for a stored name (RFC 6266): an ASCII fallback and the UTF-8 name.
pub fn content_disposition(name: &str, inline: bool) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        // form encoding writes spaces as '+'; RFC 5987 wants %20.
        .replace('+', "%20");
    format!(
        "{}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}",
        if inline { "inline" } else { "attachment" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes_not_the_name() {
        assert_eq!(sniff(b"%PDF-1.7\n%...", "x.txt"), Ok(Kind::Pdf));
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "a.pdf"),
            Ok(Kind::Png)
        );
        assert_eq!(sniff("答复,1\n".as_bytes(), "表.csv"), Ok(Kind::Csv));
        assert_eq!(sniff("答复全文".as_bytes(), "a.pdf"), Ok(Kind::Text));
        let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0";
        assert!(sniff(elf, "答复.pdf").is_err(), "a renamed executable");
        // HTML is refused or kept as plain text (served as text/plain, sandboxed), never HTML.
        assert!(sniff(b"<html><script>", "a.html").map_or(true, |k| k == Kind::Text));
        assert!(sniff(b"MZ\x90\0\x03\0\0\0", "a.docx").is_err());
        assert!(sniff(b"\0\x01\x02binary", "a.txt").is_err());
    }

    #[test]
    fn names_lose_paths_and_control_characters_but_keep_chinese() {
        assert_eq!(clean_name("C:\\报告\\调研报告.pdf"), "调研报告.pdf");
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("a\u{0}b\n\"c\".txt"), "ab_c_.txt");
        assert_eq!(clean_name("..."), "附件");
        assert_eq!(clean_name("答复\u{202E}fdp.exe"), "答复fdp.exe");
        let long = format!("{}.pdf", "长".repeat(300));
        let kept = clean_name(&long);
        assert_eq!(kept.chars().count(), MAX_NAME_CHARS);
        assert!(kept.ends_with(".pdf"));
    }

    #[test]
    fn dispositions_carry_the_utf8_name() {
        assert_eq!(
            content_disposition("书面答复 2024.pdf", true),
            "inline; filename=\"____ 2024.pdf\"; filename*=UTF-8''%E4%B9%A6%E9%9D%A2%E7%AD%94%E5%A4%8D%202024.pdf"
        );
        assert!(content_disposition("a\";b.txt", false)
            .starts_with("attachment; filename=\"a__b.txt\""));
    }

    proptest::proptest! {
        #[test]
        fn any_name_cleans_to_a_safe_nonempty_name(name in "\\PC{0,300}") {
            let cleaned = clean_name(&name);
            proptest::prop_assert!(!cleaned.is_empty());
            proptest::prop_assert!(cleaned.chars().count() <= MAX_NAME_CHARS);
            proptest::prop_assert!(!cleaned.contains(['/', '\\', '"']));
            proptest::prop_assert!(!cleaned.chars().any(char::is_control));
            let header = content_disposition(&cleaned, false);
            proptest::prop_assert!(header.is_ascii());
            proptest::prop_assert!(axum::http::HeaderValue::from_str(&header).is_ok());
        }
    }
}
