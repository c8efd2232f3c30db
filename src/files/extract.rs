//! The text inside an attachment, page by page, for search: PDFs with `pdf-extract` (each page
//! apart, so a hit can name its page), DOCX and ODT from their XML, text as it is. Runs in the
//! attachments worker, never on the request path; a file that cannot be read is recorded as
//! failed and does not block anything.
use std::io::Read;

use quick_xml::events::Event;

use super::kinds::Kind;

/// Text kept per attachment: enough for any reply, bounded for a scanned book.
pub const MAX_TEXT_BYTES: usize = 2 * 1024 * 1024;

/// The text of each page (one "page" for formats without pages); empty pages are kept so that
/// page numbers stay right.
pub fn pages(kind: Kind, bytes: &[u8]) -> Result<Vec<String>, String> {
    let pages = match kind {
        Kind::Pdf => pdf_pages(bytes)?,
        Kind::Docx => vec![xml_text(
            &zip_entry(bytes, "word/document.xml")?,
            Dialect::Word,
        )?],
        Kind::Odt => vec![xml_text(&zip_entry(bytes, "content.xml")?, Dialect::Odf)?],
        Kind::Text | Kind::Csv => vec![String::from_utf8_lossy(bytes).into_owned()],
        Kind::Png | Kind::Jpeg | Kind::Webp | Kind::Xlsx => Vec::new(),
    };
    Ok(bounded(pages.into_iter().map(|p| tidy(&p)).collect()))
}

fn pdf_pages(bytes: &[u8]) -> Result<Vec<String>, String> {
    // pdf-extract panics on some malformed files; a panic is a failed extraction like any other.
    let outcome = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem_by_pages(bytes));
    match outcome {
        Ok(Ok(pages)) => Ok(pages),
        Ok(Err(e)) => Err(format!("PDF 无法读取:{e}")),
        Err(_) => Err("PDF 无法读取(结构异常)".to_owned()),
    }
}

fn zip_entry(bytes: &[u8], name: &str) -> Result<Vec<u8>, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|_| "压缩结构无法读取".to_owned())?;
    let entry = archive.by_name(name).map_err(|_| format!("缺少 {name}"))?;
    let mut out = Vec::new();
    entry
        .take(super::kinds::MAX_UNPACKED_BYTES)
        .read_to_end(&mut out)
        .map_err(|_| format!("{name} 无法解压"))?;
    Ok(out)
}

/// The text of a document's main XML part: Word's `word/document.xml`, or ODF's `content.xml`
/// when `odf` (the fuzz target reads it directly).
pub fn office_text(xml: &[u8], odf: bool) -> Result<String, String> {
    xml_text(xml, if odf { Dialect::Odf } else { Dialect::Word })
}

#[derive(Clone, Copy)]
enum Dialect {
    Word,
    Odf,
}

/// The character data of a document's XML, with a line break after each paragraph.
fn xml_text(xml: &[u8], dialect: Dialect) -> Result<String, String> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut out = String::new();
    let mut buf = Vec::new();
    // Word keeps text in <w:t>; ODF in the paragraphs themselves.
    let mut in_text = matches!(dialect, Dialect::Odf);
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => {
                if matches!(dialect, Dialect::Word) && e.name().as_ref() == b"w:t" {
                    in_text = true;
                }
            }
            Ok(Event::Empty(e)) => match e.name().as_ref() {
                b"w:tab" | b"text:tab" => out.push('\t'),
                b"w:br" | b"text:line-break" => out.push('\n'),
                b"text:s" => out.push(' '),
                _ => {}
            },
            Ok(Event::End(e)) => match e.name().as_ref() {
                b"w:t" => in_text = false,
                b"w:p" | b"text:p" | b"text:h" => out.push('\n'),
                _ => {}
            },
            Ok(Event::Text(t)) if in_text => {
                let text = t.decode().map_err(|e| format!("文本编码有误:{e}"))?;
                out.push_str(&quick_xml::escape::unescape(&text).unwrap_or(text.clone()));
            }
            Ok(Event::GeneralRef(r)) if in_text => {
                // Character references (&amp; &#x4e2d;) arrive apart from the text around them.
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    out.push(c);
                } else {
                    match &*r {
                        b"amp" => out.push('&'),
                        b"lt" => out.push('<'),
                        b"gt" => out.push('>'),
                        b"quot" => out.push('"'),
                        b"apos" => out.push('\''),
                        _ => {}
                    }
                }
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(format!("XML 有误:{e}")),
        }
        buf.clear();
        if out.len() > MAX_TEXT_BYTES {
            break;
        }
    }
    Ok(out)
}

/// Runs of spaces and blank lines shortened; lines trimmed.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&line);
    }
    out
}

/// At most [`MAX_TEXT_BYTES`] in all, cut at a character boundary.
fn bounded(pages: Vec<String>) -> Vec<String> {
    let mut left = MAX_TEXT_BYTES;
    pages
        .into_iter()
        .map(|mut page| {
            if page.len() > left {
                let mut cut = left;
                while !page.is_char_boundary(cut) {
                    cut -= 1;
                }
                page.truncate(cut);
            }
            left -= page.len();
            page
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_text_is_its_runs_with_paragraph_breaks() {
        let xml = r#"<w:document><w:body><w:p><w:r><w:t>科技型</w:t></w:r><w:r><w:t xml:space="preserve">中小企业 </w:t></w:r></w:p><w:p><w:r><w:t>9777&amp;家</w:t></w:r></w:p></w:body></w:document>"#;
        assert_eq!(
            tidy(&xml_text(xml.as_bytes(), Dialect::Word).unwrap()),
            "科技型中小企业\n9777&家"
        );
    }

    #[test]
    fn odf_text_is_its_paragraphs() {
        let xml = r#"<office:document-content><office:body><office:text><text:h>标题</text:h><text:p>第一段<text:s/>内容</text:p></office:text></office:body></office:document-content>"#;
        assert_eq!(
            tidy(&xml_text(xml.as_bytes(), Dialect::Odf).unwrap()),
            "标题\n第一段 内容"
        );
    }

    #[test]
    fn broken_files_fail_without_panicking() {
        assert!(pages(Kind::Pdf, b"%PDF-1.4 garbage").is_err());
        assert!(pages(Kind::Docx, b"PK\x03\x04 not really").is_err());
    }

    proptest::proptest! {
        #[test]
        fn bounding_cuts_at_character_boundaries(pages in proptest::collection::vec("\\PC{0,50}", 0..5)) {
            let kept = bounded(pages.clone());
            proptest::prop_assert_eq!(kept.len(), pages.len());
            for (k, p) in kept.iter().zip(&pages) {
                proptest::prop_assert!(p.starts_with(k.as_str()));
            }
        }

        #[test]
        fn any_xml_like_input_is_read_or_refused(text in "[<>/a-z:= \"中文&;#x0-9]{0,80}") {
            let _ = xml_text(text.as_bytes(), Dialect::Word);
            let _ = xml_text(text.as_bytes(), Dialect::Odf);
        }
    }
}
