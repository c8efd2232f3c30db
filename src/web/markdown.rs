//! Markdown → HTML → sanitised HTML. The only way user text becomes markup: raw HTML, event
//! attributes and `javascript:`/`data:` URLs never survive [`render`].
use std::sync::OnceLock;

use pulldown_cmark::{html, CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

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
///
/// Ordinary Markdown (no raw HTML, links only to http/https/mailto or relative addresses) is
/// safe as pulldown-cmark writes it: text and attributes are escaped. That common case skips
/// ammonia, which re-parses the HTML and was most of a session page's time (an HTML5 parse per
/// response). Anything else — raw HTML, another URL scheme, control characters in a URL — goes
/// through ammonia as before.
pub fn render(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events: Vec<Event> = Parser::new_ext(markdown, options).collect();
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    if events.iter().all(is_plain) {
        html::push_html(&mut out, events.into_iter().map(link_with_rel));
        out
    } else {
        html::push_html(&mut out, events.into_iter());
        sanitizer().clean(&out).to_string()
    }
}

/// True for events that pulldown-cmark turns into safe HTML on its own.
fn is_plain(event: &Event) -> bool {
    match event {
        Event::Html(_) | Event::InlineHtml(_) => false,
        Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
            is_allowed_url(dest_url)
        }
        _ => true,
    }
}

/// Relative addresses and the schemes the sanitiser allows; a URL with whitespace or control
/// characters (which browsers strip before reading the scheme) is never taken as plain.
fn is_allowed_url(url: &str) -> bool {
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let scheme_end = url.find([':', '/', '?', '#']);
    match scheme_end {
        Some(i) if url.as_bytes()[i] == b':' => {
            let scheme = url[..i].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto")
        }
        _ => true,
    }
}

/// Links get the same `rel` as the sanitiser adds, written here because pulldown-cmark has none.
fn link_with_rel(event: Event) -> Event {
    match event {
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            ..
        }) => {
            let mut a = String::from("<a href=\"");
            if link_type == LinkType::Email {
                a.push_str("mailto:");
            }
            crate::web::escape::markup_into(&dest_url, &mut a);
            if !title.is_empty() {
                a.push_str("\" title=\"");
                crate::web::escape::markup_into(&title, &mut a);
            }
            a.push_str("\" rel=\"noopener noreferrer nofollow\">");
            Event::InlineHtml(CowStr::from(a))
        }
        Event::End(TagEnd::Link) => Event::InlineHtml(CowStr::Borrowed("</a>")),
        other => other,
    }
}

/// Markdown to plain text (for indexing and snippets).
pub fn plain_text(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for event in Parser::new(markdown) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            Event::SoftBreak | Event::HardBreak => out.push(' '),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::BlockQuote(_),
            ) => out.push('\n'),
            _ => {}
        }
    }
    out.trim().to_owned()
}

/// The first `max_chars` characters of a Markdown text as plain text ([`plain_text`]),
/// paragraphs joined by a space, with "……" when it was cut: a short preview where the full text
/// lives on another page. The result is text, escaped by the template like any other.
pub fn plain_excerpt(markdown: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for c in plain_text(markdown).chars() {
        if c.is_whitespace() {
            // Chinese sentences end in full-width punctuation and need no space after it.
            let after_break = out.ends_with(|p: char| p == ' ' || "。!?;:,、”’)》】".contains(p));
            if !out.is_empty() && !after_break {
                out.push(' ');
            }
            continue;
        }
        if count == max_chars {
            let kept = out.trim_end().len();
            out.truncate(kept);
            out.push_str("……");
            return out;
        }
        out.push(c);
        count += 1;
    }
    let kept = out.trim_end().len();
    out.truncate(kept);
    out
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
    fn plain_markdown_skips_the_sanitiser_but_stays_escaped() {
        for (markdown, expected) in [
            (
                "[站](https://example.org/a?b=1&c=\"2\" \"标<题>\")",
                r#"<a href="https://example.org/a?b=1&amp;c=&quot;2&quot;" title="标&lt;题&gt;" rel="noopener noreferrer nofollow">站</a>"#,
            ),
            (
                "<someone@example.org>",
                r#"href="mailto:someone@example.org""#,
            ),
            ("[相对](/proposals/TS-1)", r#"href="/proposals/TS-1""#),
            ("a & b < c", "a &amp; b &lt; c"),
            ("`<b>`", "<code>&lt;b&gt;</code>"),
        ] {
            assert!(
                render(markdown).contains(expected),
                "{markdown} → {}",
                render(markdown)
            );
        }
        for url in [
            "javascript:alert(1)",
            "JAVASCRIPT:x",
            "data:text/html,x",
            "vbscript:x",
            "java\tscript:x",
        ] {
            assert!(!is_allowed_url(url), "{url}");
        }
        for url in [
            "https://a.b",
            "HTTP://a.b",
            "mailto:a@b",
            "/a:b",
            "a/b:c",
            "#x",
            "?q=a:b",
        ] {
            assert!(is_allowed_url(url), "{url}");
        }
        // An image with a dangerous source goes through the sanitiser, which drops the source.
        let html = render("![x](javascript:alert(1))");
        assert!(!html.contains("javascript"), "{html}");
    }

    #[test]
    fn excerpts_are_plain_text_cut_at_a_character_count() {
        assert_eq!(
            plain_excerpt("**市科技局**答复:\n\n- 一\n- 二", 100),
            "市科技局答复:一 二"
        );
        assert_eq!(plain_excerpt("概念验证中心建设", 4), "概念验证……");
        assert_eq!(plain_excerpt("概念验证", 4), "概念验证");
        assert_eq!(
            plain_excerpt("第一段。\n\n第二段\n\n第三段", 20),
            "第一段。第二段 第三段"
        );
        // Markup is dropped, not escaped into the text; the template escapes what is left.
        assert_eq!(
            plain_excerpt("<b>x</b> [链接](https://a.b) `<i>`", 50),
            "x 链接 <i>"
        );
        assert_eq!(plain_excerpt("", 10), "");
    }

    #[test]
    fn lines_become_paragraphs() {
        assert_eq!(
            paragraphs_from_lines("第一段\n\n\n第二段\n## 标题"),
            "第一段\n\n第二段\n\n## 标题"
        );
    }
}
