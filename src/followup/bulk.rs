//! Reported actuals in bulk, from a spreadsheet: agencies report dozens of figures at once. A CSV
//! (UTF-8, as the template downloads) or an XLSX file with the columns 承诺编号, 实际值, 报告日期
//! and 数据来源 (other columns, such as the template's explanatory ones, are ignored). Every row is
//! checked first, by the rules of a single report (`commitments::check_report`, `may_report`),
//! and every bad row is reported with its number and reason; then all rows are written in one
//! transaction, or none. A row already recorded (same commitment, value, date and source) is
//! skipped, so sending the same file twice changes nothing.
use std::collections::HashMap;
use std::io::Read;

use entity::{commitment_reports, commitments, proposals};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::commitments::{check_report, may_report, record_report, NewReport};
use crate::accounts::Actor;
use crate::error::{AppError, AppResult};

/// The columns read, by their header.
pub const COLUMNS: [&str; 4] = ["承诺编号", "实际值", "报告日期", "数据来源"];
/// The largest file accepted.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// The most rows one file may hold.
pub const MAX_ROWS: usize = 5_000;
/// What an XLSX file may unpack to, in all: a spreadsheet of 5,000 rows is a few megabytes; a
/// file that claims more is refused before it is unpacked.
const MAX_UNPACKED_BYTES: u64 = 50 * 1024 * 1024;

/// A row that cannot be recorded: its number in the file (the header is row 1) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    pub row: usize,
    pub reason: String,
}

/// What an upload did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    /// Rows written as new reports.
    pub written: usize,
    /// Rows already recorded, left as they were.
    pub unchanged: usize,
}

/// Why nothing was written.
#[derive(Debug)]
pub enum Refused {
    /// The file as a whole (unreadable, no header, too large).
    File(String),
    /// These rows; the others were fine but are not written either.
    Rows(Vec<RowError>),
    Other(AppError),
}

impl From<AppError> for Refused {
    fn from(err: AppError) -> Self {
        Self::Other(err)
    }
}

impl From<sea_orm::DbErr> for Refused {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Other(err.into())
    }
}

/// The cells of the file's first sheet (XLSX) or of the CSV, as text, row by row.
pub fn read_cells(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!("文件超过 {} MB。", MAX_BYTES / 1024 / 1024));
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return read_xlsx(bytes);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "文件须为 UTF-8 编码的 CSV,或 XLSX 表格。".to_owned())?;
    let text = text.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("第 {} 行无法读取:{e}", i + 1))?;
        rows.push(record.iter().map(|c| c.trim().to_owned()).collect());
        if rows.len() > MAX_ROWS + 1 {
            return Err(format!("文件超过 {MAX_ROWS} 行。"));
        }
    }
    Ok(rows)
}

fn read_xlsx(bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    use calamine::{Data, Reader};
    let unreadable = || "XLSX 文件无法读取。".to_owned();
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| unreadable())?;
    let mut unpacked = 0u64;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|_| unreadable())?;
        unpacked = unpacked.saturating_add(entry.size());
    }
    if unpacked > MAX_UNPACKED_BYTES {
        return Err("XLSX 文件解压后过大,未读取。".to_owned());
    }
    // The declared sizes are the archive's word; unpacking (into nothing) stops at the limit
    // whatever they say.
    let mut total = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|_| unreadable())?;
        let left = MAX_UNPACKED_BYTES - total;
        total += std::io::copy(&mut (&mut entry).take(left + 1), &mut std::io::sink())
            .map_err(|_| unreadable())?;
        if total > MAX_UNPACKED_BYTES {
            return Err("XLSX 文件解压后过大,未读取。".to_owned());
        }
    }
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).map_err(|_| unreadable())?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or_else(|| "XLSX 文件中没有工作表。".to_owned())?
        .map_err(|_| unreadable())?;
    if range.height() > MAX_ROWS + 1 {
        return Err(format!("文件超过 {MAX_ROWS} 行。"));
    }
    Ok(range
        .rows()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    Data::Empty => String::new(),
                    Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => {
                        s.trim().to_owned()
                    }
                    Data::Float(f) => f.to_string(),
                    Data::Int(i) => i.to_string(),
                    Data::Bool(b) => b.to_string(),
                    Data::DateTime(d) => d
                        .as_datetime()
                        .map_or_else(|| d.to_string(), |t| t.date().to_string()),
                    Data::Error(e) => format!("#{e:?}"),
                })
                .collect()
        })
        .collect())
}

/// A row read as a report: (its number in the file, the commitment id, the report).
pub type Row = (usize, i32, NewReport);

/// The rows of a table as reports, and the problems of those that are not; a table without the
/// columns (or without data) is refused as a whole.
pub fn parse_rows(cells: &[Vec<String>]) -> Result<(Vec<Row>, Vec<RowError>), Refused> {
    let Some(header) = cells.first() else {
        return Err(Refused::File("文件是空的。".to_owned()));
    };
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    let positions: Vec<usize> = COLUMNS
        .iter()
        .map(|name| column(name).ok_or(*name))
        .collect::<Result<_, _>>()
        .map_err(|missing| {
            Refused::File(format!(
                "第 1 行须为表头,缺少“{missing}”列(应有:{})。",
                COLUMNS.join("、")
            ))
        })?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, row) in cells.iter().enumerate().skip(1) {
        let number = i + 1;
        let cell = |k: usize| row.get(positions[k]).map_or("", |c| c.trim());
        if (0..COLUMNS.len()).all(|k| cell(k).is_empty()) {
            continue;
        }
        let mut problem = |reason: String| {
            errors.push(RowError {
                row: number,
                reason,
            })
        };
        let Ok(commitment) = cell(0).trim_start_matches('#').parse::<i32>() else {
            problem(format!("承诺编号“{}”不是数字。", cell(0)));
            continue;
        };
        let Ok(value) = cell(1).replace(',', "").parse::<f64>() else {
            problem(format!("实际值“{}”不是数字。", cell(1)));
            continue;
        };
        let Some(reported_on) = crate::time::parse_date(cell(2)) else {
            problem(format!("报告日期“{}”无法识别(如 2025-06-30)。", cell(2)));
            continue;
        };
        let report = NewReport {
            value,
            reported_on,
            source: cell(3).to_owned(),
        };
        if let Err(reason) = check_report(&report) {
            problem(reason);
            continue;
        }
        rows.push((number, commitment, report));
    }
    if rows.is_empty() && errors.is_empty() {
        return Err(Refused::File("文件中没有数据行。".to_owned()));
    }
    Ok((rows, errors))
}

/// Whether `actor` may upload reports at all: agency staff for their own agency's commitments
/// (each row is checked again against its commitment), the secretariat for any.
pub fn may_upload(actor: &Actor) -> bool {
    use crate::accounts::policy::{allows, Action, Object};
    let object = actor.agency_id.map_or(Object::Any, Object::OfAgency);
    allows(actor, Action::ReportActuals, object)
}

/// Checks every row of `bytes` and records them all in one transaction, or none.
pub async fn import(
    db: &DatabaseConnection,
    actor: &Actor,
    bytes: &[u8],
) -> Result<Outcome, Refused> {
    let cells = read_cells(bytes).map_err(Refused::File)?;
    let (rows, mut errors) = parse_rows(&cells)?;
    let txn = crate::db::begin_write(db).await?;
    let ids: Vec<i32> = rows.iter().map(|(_, id, _)| *id).collect();
    let found: HashMap<i32, commitments::Model> = commitments::Entity::find()
        .filter(commitments::Column::Id.is_in(ids.clone()))
        .all(&txn)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    for (number, id, _) in &rows {
        match found.get(id) {
            None => errors.push(RowError {
                row: *number,
                reason: format!("没有编号为 {id} 的承诺。"),
            }),
            Some(commitment) if !may_report(actor, commitment) => errors.push(RowError {
                row: *number,
                reason: format!("承诺 {id} 不属于本单位,不能报告。"),
            }),
            Some(_) => {}
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.row);
        return Err(Refused::Rows(errors));
    }
    let existing = commitment_reports::Entity::find()
        .filter(commitment_reports::Column::CommitmentId.is_in(ids))
        .all(&txn)
        .await?;
    let already = |id: i32, report: &NewReport| {
        existing.iter().any(|r| {
            r.commitment_id == id
                && r.value == report.value
                && r.reported_on == Some(report.reported_on)
                && r.note.as_deref() == Some(report.source.as_str())
        })
    };
    let mut outcome = Outcome::default();
    let mut seen: Vec<(i32, &NewReport)> = Vec::new();
    for (_, id, report) in &rows {
        // A row repeated within the file counts once, as a row already recorded would.
        if already(*id, report) || seen.iter().any(|(i, r)| i == id && *r == report) {
            outcome.unchanged += 1;
            continue;
        }
        record_report(&txn, actor, &found[id], report).await?;
        seen.push((*id, report));
        outcome.written += 1;
    }
    txn.commit().await?;
    Ok(outcome)
}

/// The template for `agency` (every agency's, for the secretariat): the header, then one row per
/// commitment (the
/// commitment's number filled in; 实际值, 报告日期 and 数据来源 to be typed), with the proposal,
/// the measure and the target beside it for reference. CSV with a byte-order mark for Excel.
pub async fn template(db: &DatabaseConnection, agency: Option<i32>) -> AppResult<String> {
    use crate::web::csv::{field, line, BOM};
    let mut query = commitments::Entity::find();
    if let Some(agency) = agency {
        query = query.filter(commitments::Column::AgencyId.eq(agency));
    }
    let rows = query.order_by_asc(commitments::Column::Id).all(db).await?;
    let proposal_ids: Vec<i32> = rows.iter().filter_map(|c| c.proposal_id).collect();
    let codes: HashMap<i32, String> = proposals::Entity::find()
        .filter(proposals::Column::Id.is_in(proposal_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.code))
        .collect();
    let mut out = String::from(BOM);
    let mut header: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    header.extend(["建议编号", "指标", "单位", "目标值"].map(str::to_owned));
    out.push_str(&line(&header));
    for c in rows {
        out.push_str(&line(&[
            c.id.to_string(),
            String::new(),
            String::new(),
            String::new(),
            field(
                &c.proposal_id
                    .and_then(|p| codes.get(&p).cloned())
                    .unwrap_or_default(),
            ),
            field(&c.metric),
            field(&c.unit),
            c.target_value.to_string(),
        ]));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bad_row_is_named_and_blank_rows_are_skipped() {
        let cells = read_cells(
            "\u{feff}承诺编号,实际值,报告日期,数据来源,备注\n\
             3,9777,2025-01-15,市科技局2024年工作总结,\n\
             ,,,,\n\
             x,1,2025-01-15,来源,\n\
             4,很多,2025-01-15,来源,\n\
             5,1,明年,来源,\n\
             6,1,2025-01-15,,\n\
             7,1,2025-01-15,联系电话 13912345678,\n"
                .as_bytes(),
        )
        .unwrap();
        let (_, errors) = parse_rows(&cells).unwrap();
        let rows: Vec<usize> = errors.iter().map(|e| e.row).collect();
        assert_eq!(rows, [4, 5, 6, 7, 8], "{errors:?}");
        assert!(errors[4].reason.contains("个人信息"));
        let (good, none) = parse_rows(&cells[..2]).unwrap();
        assert!(none.is_empty());
        assert_eq!(good.len(), 1);
        assert_eq!((good[0].0, good[0].1, good[0].2.value), (2, 3, 9777.0));
    }

    #[test]
    fn a_file_without_the_columns_is_refused_as_a_whole() {
        let cells = read_cells("编号,数值\n1,2\n".as_bytes()).unwrap();
        assert!(matches!(parse_rows(&cells), Err(Refused::File(m)) if m.contains("承诺编号")));
        assert!(read_cells(&[0xff, 0xfe, 0x00]).is_err());
        assert!(read_cells(b"PK\x03\x04not a zip").is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_read_or_refused_without_panicking(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            if let Ok(cells) = read_cells(&bytes) {
                let _ = parse_rows(&cells);
            }
        }
    }
}
