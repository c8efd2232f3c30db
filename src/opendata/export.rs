//! Streamed exports. A filtered proposal list goes out as CSV (UTF-8 with a byte-order mark, for
//! Excel) or JSON, a batch of rows at a time, so a large export never sits in memory whole; the
//! archive goes out as JSON Lines.
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};

use super::archive;
use crate::api::read::ProposalQuery;
use crate::api::schema::ProposalItem;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::proposals::service::{public_ids, summaries_in_order};
use crate::web::csv;

const BATCH: usize = 200;

const CSV_HEADER: [&str; 10] = [
    "编号",
    "标题",
    "状态",
    "渠道",
    "期数",
    "提出人",
    "主题",
    "答复部门",
    "答复条数",
    "网址",
];

fn csv_row(p: &ProposalItem, base: &str) -> String {
    let fields = [
        csv::field(&p.code),
        csv::field(&p.title),
        csv::field(&p.status_label),
        csv::field(&p.channel_label),
        p.session_number.map(|n| n.to_string()).unwrap_or_default(),
        csv::field(p.author.as_deref().unwrap_or_default()),
        csv::field(&p.topics.join("、")),
        csv::field(&p.responding_agencies.join("、")),
        p.response_count.to_string(),
        csv::field(&format!("{base}{}", p.url)),
    ];
    csv::line(&fields)
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Csv,
    Json,
}

/// `/api/v1/export/proposals.csv|json?…` (the `/proposals` filters) and `/api/v1/export/archive.jsonl`.
pub async fn export(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<ProposalQuery>,
) -> AppResult<Response> {
    let format = match file.as_str() {
        "proposals.csv" => Format::Csv,
        "proposals.json" => Format::Json,
        "archive.jsonl" => return archive_export(state).await,
        _ => return Err(AppError::NotFound),
    };
    let filter = query.filter(&state).await?;
    let ids = public_ids(&state.db, &filter).await?;
    let batches: Vec<Vec<i32>> = ids.chunks(BATCH).map(<[i32]>::to_vec).collect();
    let count = batches.len();
    let base = state.config.public_url.clone();
    let db = state.db.clone();
    let opening = match format {
        Format::Csv => format!("{}{}\r\n", csv::BOM, CSV_HEADER.join(",")),
        Format::Json => "[".to_owned(),
    };
    let rows = stream::iter(batches.into_iter().enumerate()).then(move |(i, batch)| {
        let db = db.clone();
        let base = base.clone();
        async move {
            let items = summaries_in_order(&db, &batch).await.map_err(|e| {
                tracing::error!(error = %e, "export batch failed");
                std::io::Error::other("export failed")
            })?;
            let mut chunk = String::new();
            for (j, item) in items.into_iter().map(ProposalItem::from).enumerate() {
                match format {
                    Format::Csv => chunk.push_str(&csv_row(&item, &base)),
                    Format::Json => {
                        if i > 0 || j > 0 {
                            chunk.push(',');
                        }
                        chunk.push_str(
                            &serde_json::to_string(&item).map_err(std::io::Error::other)?,
                        );
                    }
                }
            }
            if format == Format::Json && i + 1 == count {
                chunk.push(']');
            }
            Ok::<_, std::io::Error>(chunk)
        }
    });
    let closing = (format == Format::Json && count == 0).then(|| Ok("]".to_owned()));
    let body = stream::once(async move { Ok::<_, std::io::Error>(opening) })
        .chain(rows)
        .chain(stream::iter(closing));
    let (content_type, name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "tingshang-proposals.csv"),
        Format::Json => ("application/json", "tingshang-proposals.json"),
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

async fn archive_export(state: AppState) -> AppResult<Response> {
    let records = archive::export_records(&state.db).await?;
    let store = crate::files::FileStore::new(&state.config.files_dir);
    // The lines are made on a blocking thread (attachments' files are read as their turn comes,
    // one at a time) and handed over through a small channel: memory stays bounded whatever the
    // files weigh, and a slow client slows the reading down.
    let (send, receive) = tokio::sync::mpsc::channel::<String>(4);
    tokio::task::spawn_blocking(move || {
        for line in archive::lines_with_files(records, store) {
            if send.blocking_send(line).is_err() {
                break; // the client went away
            }
        }
    });
    let body = stream::unfold(receive, |mut receive| async move {
        receive
            .recv()
            .await
            .map(|line| (Ok::<_, std::io::Error>(line), receive))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"tingshang-archive.jsonl\"",
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
