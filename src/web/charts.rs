//! Charts as SVG drawn on the server: no script, no external fonts or CDN, scaled by the viewBox so
//! they stay readable on a phone. Every chart has a title and description for screen readers, and
//! the page shows the same numbers as a table beside it.
use std::fmt::Write;

use chrono::NaiveDate;

use super::escape::markup as xml_escape;

/// One bar: its label, its value and the list of items behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub href: Option<String>,
}

const WIDTH: f64 = 640.0;
const LABEL_WIDTH: f64 = 170.0;
const VALUE_WIDTH: f64 = 70.0;
const ROW: f64 = 30.0;
const TOP: f64 = 34.0;

fn format_value(value: f64, unit: &str) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}{unit}", value as i64)
    } else {
        format!("{value:.1}{unit}")
    }
}

/// A horizontal bar chart; `max` fixes the scale (e.g. 100 for percentages), else the largest bar.
pub fn bar_chart(title: &str, unit: &str, bars: &[Bar], max: Option<f64>) -> String {
    let scale_max = max
        .unwrap_or_else(|| bars.iter().map(|b| b.value).fold(0.0, f64::max))
        .max(f64::MIN_POSITIVE);
    let plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    let height = TOP + ROW * bars.len().max(1) as f64 + 8.0;
    let mut svg = String::new();
    let summary: Vec<String> = bars
        .iter()
        .map(|b| format!("{} {}", b.label, format_value(b.value, unit)))
        .collect();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{title}"><title>{title}</title><desc>{}</desc><text x="0" y="20" class="chart-title">{title}</text>"#,
        xml_escape(&summary.join(";")),
        title = xml_escape(title),
    );
    if bars.is_empty() {
        let _ = write!(
            svg,
            r#"<text x="0" y="52" class="chart-empty">暂无数据</text>"#
        );
    }
    for (i, bar) in bars.iter().enumerate() {
        let y = TOP + ROW * i as f64;
        let width = (bar.value.max(0.0) / scale_max * plot).min(plot);
        let label = xml_escape(&bar.label);
        let mut row = format!(
            r#"<text x="{x}" y="{ty}" class="chart-label" text-anchor="end">{label}</text><rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{width:.1}" height="20" data-label="{label}" data-value="{value}"/><text x="{vx:.1}" y="{ty}" class="chart-value">{shown}</text>"#,
            x = LABEL_WIDTH - 8.0,
            ty = y + 15.0,
            value = bar.value,
            vx = LABEL_WIDTH + width + 6.0,
            shown = xml_escape(&format_value(bar.value, unit)),
        );
        if let Some(href) = &bar.href {
            row = format!(r#"<a href="{}">{row}</a>"#, xml_escape(href));
        }
        svg.push_str(&row);
    }
    svg.push_str("</svg>");
    svg
}

/// One reported actual.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub date: NaiveDate,
    pub value: f64,
}

/// A small chart of reported actuals over time against the target (a dashed line).
pub fn actuals_chart(title: &str, unit: &str, target: f64, points: &[Point]) -> String {
    const W: f64 = 320.0;
    const H: f64 = 120.0;
    const PAD: f64 = 24.0;
    let top = points
        .iter()
        .map(|p| p.value)
        .fold(target, f64::max)
        .max(f64::MIN_POSITIVE)
        * 1.1;
    let y_of = |v: f64| H - PAD - (v / top) * (H - 2.0 * PAD);
    let (first, last) = match (points.first(), points.last()) {
        (Some(f), Some(l)) => (f.date, l.date),
        _ => (NaiveDate::MIN, NaiveDate::MIN),
    };
    let span = (last - first).num_days().max(1) as f64;
    let x_of = |d: NaiveDate| {
        if points.len() < 2 {
            W / 2.0
        } else {
            PAD + (d - first).num_days() as f64 / span * (W - 2.0 * PAD)
        }
    };
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-small" viewBox="0 0 {W} {H}" role="img" aria-label="{}"><title>{}</title>"#,
        xml_escape(title),
        xml_escape(title)
    );
    let ty = y_of(target);
    let _ = write!(
        svg,
        r#"<line class="target" x1="{PAD}" x2="{x2}" y1="{ty:.1}" y2="{ty:.1}" stroke-dasharray="4 3"/><text class="chart-value" x="{PAD}" y="{tty:.1}">目标 {}</text>"#,
        xml_escape(&format_value(target, unit)),
        x2 = W - PAD,
        tty = ty - 4.0,
    );
    if points.len() > 1 {
        let path: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x_of(p.date), y_of(p.value)))
            .collect();
        let _ = write!(
            svg,
            r#"<polyline class="actual-line" fill="none" points="{}"/>"#,
            path.join(" ")
        );
    }
    for p in points {
        let (x, y) = (x_of(p.date), y_of(p.value));
        let _ = write!(
            svg,
            r#"<circle class="actual" cx="{x:.1}" cy="{y:.1}" r="4" data-value="{v}" data-date="{d}"><title>{d}:{shown}</title></circle><text class="chart-value" x="{x:.1}" y="{ly:.1}" text-anchor="middle">{shown}</text>"#,
            v = p.value,
            d = p.date,
            ly = (y + 16.0).min(H - 4.0),
            shown = xml_escape(&format_value(p.value, unit)),
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_escape_labels() {
        let svg = bar_chart(
            "各部门 <答复>",
            "条",
            &[
                Bar {
                    label: "市科技局".into(),
                    value: 4.0,
                    href: Some("/proposals?agency=1&group=answered".into()),
                },
                Bar {
                    label: "<script>".into(),
                    value: 2.0,
                    href: None,
                },
            ],
            None,
        );
        assert!(svg.contains(r#"width="400.0""#), "{svg}");
        assert!(svg.contains(r#"width="200.0""#));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains(r#"href="/proposals?agency=1&amp;group=answered""#));
    }

    #[test]
    fn an_empty_chart_says_so() {
        assert!(bar_chart("t", "", &[], None).contains("暂无数据"));
    }

    #[test]
    fn actuals_plot_each_report() {
        let d = |m| NaiveDate::from_ymd_opt(2024, m, 1).unwrap();
        let svg = actuals_chart(
            "科技型中小企业",
            "家",
            9500.0,
            &[
                Point {
                    date: d(6),
                    value: 8000.0,
                },
                Point {
                    date: d(12),
                    value: 9777.0,
                },
            ],
        );
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("polyline"));
        assert!(svg.contains("目标 9500家"));
    }
}
