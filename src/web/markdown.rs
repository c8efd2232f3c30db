//! Markdown → HTML → sanitised HTML. The only way user text becomes markup: raw HTML, event
//! attributes and `javascript:`/`data:` URLs never survive [`render`].
use std::sync::OnceLock;

use pulldown_cmark::{html, Options, Parser};

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    SANITIZER.get_or_init(|| {
        let mut builder = ammonia::Builder::default();
        builder
            .url_schemes(["http", "https", "mailto"].into_iter().collect())
            .link_rel(Some("noopener noreferrer nofollow"));
        builder
    })
}

/// Renders Markdown to HTML that is safe to insert into a page.
pub fn render(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
    sanitizer().clean(&unsafe_html).to_string()
}

/// Plain source text (one paragraph per line, as the news reports are) turned into Markdown
/// paragraphs, keeping lines that are already Markdown headings or list items.
pub fn paragraphs_from_lines(text: &str) -> String {
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_ordinary_markdown() {
        let html = render("**科技型中小企业** [链接](https://example.org)\n\n- 一\n- 二");
        assert!(html.contains("<strong>科技型中小企业</strong>"));
        assert!(html.contains(r#"href="https://example.org""#));
        assert!(html.contains("rel=\"noopener noreferrer nofollow\""));
        assert!(html.contains("<li>一</li>"));
    }

    #[test]
    fn strips_scripts_handlers_and_dangerous_urls() {
        let nasty = "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n\
                     [点我](javascript:alert(3)) [数据](data:text/html;base64,PHNjcmlwdD4=)\n\n\
                     <a href=\"JaVaScRiPt:alert(4)\">x</a> <svg onload=alert(5)></svg>";
        let html = render(nasty);
        for bad in [
            "<script",
            "onerror",
            "javascript:",
            "data:text",
            "onload",
            "<svg",
            "alert(4)",
        ] {
            assert!(
                !html
                    .to_ascii_lowercase()
                    .contains(&bad.to_ascii_lowercase()),
                "{bad} survived: {html}"
            );
        }
    }

    #[test]
    fn lines_become_paragraphs() {
        assert_eq!(
            paragraphs_from_lines("第一段\n\n\n第二段\n## 标题"),
            "第一段\n\n第二段\n\n## 标题"
        );
    }
}
