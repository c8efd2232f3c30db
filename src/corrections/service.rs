//! Correcting published text: what may be corrected by whom, checking the new text like any
//! published text, and writing it with its version (`versions::record`) in one transaction.
use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use entity::{commitments, proposals, response_proposals, responses, sessions};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde::Serialize;

use crate::accounts::policy::{self, Action, Object};
use crate::accounts::{Actor, Role};
use crate::error::{AppError, AppResult};
use crate::search::documents::{PROPOSAL, SESSION};
use crate::versions::{self, Change, Field, TargetKind};
use crate::visibility::{public_proposals, public_sessions};
use crate::web::form::{check_text, MAX_BODY_BYTES};

/// One field as the correction form shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Editing {
    pub field: Field,
    pub label: &'static str,
    pub value: String,
    pub multiline: bool,
    pub hint: Option<String>,
}

/// A published item open to correction by this actor, with its current text.
#[derive(Debug, Clone, Serialize)]
pub struct Editable {
    pub kind: TargetKind,
    pub kind_label: &'static str,
    pub id: i32,
    /// What the item is, for the form's heading ("对 TS-2023-027-01 的书面答复").
    pub heading: String,
    /// The public page that shows it, and its history.
    pub page_url: String,
    pub history_url: String,
    pub fields: Vec<Editing>,
    /// When the item last changed, as the form read it: a correction based on an older state is
    /// refused rather than silently overwriting the correction made in between.
    pub base: String,
    #[serde(skip)]
    updated_at: DateTime<FixedOffset>,
    /// Private names the text must not show (the callers' of the proposals it belongs to).
    #[serde(skip)]
    private_names: Vec<String>,
    /// The proposals and sessions whose pages and search documents show the item.
    #[serde(skip)]
    shown_by: Vec<(&'static str, i32)>,
}

fn editing(field: Field, value: String, multiline: bool, hint: Option<&str>) -> Editing {
    Editing {
        field,
        label: field.label(),
        value,
        multiline,
        hint: hint.map(str::to_owned),
    }
}

/// A target value as the forms and the history write it: 9500, not 9500.0.
pub fn figure(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        value.to_string()
    }
}

fn history_of_proposal(code: &str) -> String {
    format!("{}/history", crate::web::paths::proposal(code))
}

/// The published item (`kind`, `id`), if this actor may correct it: not found when it is not
/// public (there is nothing published to correct), forbidden when it is not theirs to correct.
pub async fn editable<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    kind: TargetKind,
    id: i32,
) -> AppResult<Editable> {
    match kind {
        TargetKind::Proposal => {
            let p = proposals::Entity::find_by_id(id)
                .filter(public_proposals())
                .one(db)
                .await?
                .ok_or(AppError::NotFound)?;
            policy::require(actor, Action::CorrectRecord)?;
            Ok(Editable {
                kind,
                kind_label: kind.label(),
                id,
                heading: format!("建议 {}", p.code),
                page_url: crate::web::paths::proposal(&p.code),
                history_url: history_of_proposal(&p.code),
                fields: vec![
                    editing(Field::Title, p.title, false, None),
                    editing(Field::Body, p.body_md, true, Some("Markdown 格式")),
                ],
                base: p.updated_at.to_rfc3339(),
                updated_at: p.updated_at,
                private_names: caller_names(db, &[p.id]).await?,
                shown_by: vec![(PROPOSAL, p.id)],
            })
        }
        TargetKind::Response => {
            let r = responses::Entity::find_by_id(id)
                .filter(responses::Column::Published.eq(true))
                .one(db)
                .await?
                .ok_or(AppError::NotFound)?;
            let answered = answered_public(db, id).await?;
            let first = answered.first().ok_or(AppError::NotFound)?;
            policy::require_on(actor, Action::CorrectReplies, Object::OfAgency(r.agency_id))?;
            Ok(Editable {
                kind,
                kind_label: kind.label(),
                id,
                heading: format!("对 {} 的答复", first.1),
                page_url: format!("{}#response-{id}", crate::web::paths::proposal(&first.1)),
                history_url: history_of_proposal(&first.1),
                fields: vec![
                    editing(Field::Body, r.body_md, true, Some("Markdown 格式")),
                    editing(
                        Field::DocNumber,
                        r.doc_number.unwrap_or_default(),
                        false,
                        None,
                    ),
                ],
                base: r.updated_at.to_rfc3339(),
                updated_at: r.updated_at,
                private_names: caller_names(
                    db,
                    &answered.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
                )
                .await?,
                shown_by: answered.iter().map(|(id, _)| (PROPOSAL, *id)).collect(),
            })
        }
        TargetKind::Commitment => {
            let c = commitments::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or(AppError::NotFound)?;
            // A commitment is public where its proposal is (the pages that show it).
            let proposal = match c.proposal_id {
                Some(pid) => {
                    proposals::Entity::find_by_id(pid)
                        .filter(public_proposals())
                        .one(db)
                        .await?
                }
                None => None,
            }
            .ok_or(AppError::NotFound)?;
            policy::require_on(actor, Action::CorrectReplies, Object::OfAgency(c.agency_id))?;
            Ok(Editable {
                kind,
                kind_label: kind.label(),
                id,
                heading: format!("{} 的承诺:{}", proposal.code, c.metric),
                page_url: format!(
                    "{}#commitment-{id}",
                    crate::web::paths::proposal(&proposal.code)
                ),
                history_url: history_of_proposal(&proposal.code),
                fields: vec![
                    editing(Field::Description, c.description, true, None),
                    editing(
                        Field::TargetValue,
                        figure(c.target_value),
                        false,
                        Some(&format!("单位:{}", c.unit)),
                    ),
                    editing(
                        Field::TargetDate,
                        c.target_date.map(|d| d.to_string()).unwrap_or_default(),
                        false,
                        Some("如 2027-12-31,可留空"),
                    ),
                ],
                base: c.updated_at.to_rfc3339(),
                updated_at: c.updated_at,
                private_names: caller_names(db, &[proposal.id]).await?,
                shown_by: vec![(PROPOSAL, proposal.id)],
            })
        }
        TargetKind::Session => {
            let s = sessions::Entity::find_by_id(id)
                .filter(public_sessions())
                .one(db)
                .await?
                .ok_or(AppError::NotFound)?;
            policy::require(actor, Action::RunSessions)?;
            let mut shown_by = vec![(SESSION, s.id)];
            // Its proposals' search documents carry the session's topic.
            let linked: Vec<i32> = proposals::Entity::find()
                .filter(proposals::Column::SessionId.eq(s.id))
                .all(db)
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect();
            shown_by.extend(linked.into_iter().map(|id| (PROPOSAL, id)));
            Ok(Editable {
                kind,
                kind_label: kind.label(),
                id,
                heading: format!("第{}期协商活动", s.number),
                page_url: crate::web::paths::session(s.number),
                history_url: format!("{}/history", crate::web::paths::session(s.number)),
                fields: vec![
                    editing(Field::Topic, s.topic, false, None),
                    editing(Field::Summary, s.summary_md, true, Some("Markdown 格式")),
                ],
                base: s.updated_at.to_rfc3339(),
                updated_at: s.updated_at,
                private_names: Vec::new(),
                shown_by,
            })
        }
    }
}

/// The callers' names recorded for these proposals (private: a correction may not publish them).
async fn caller_names<C: ConnectionTrait>(db: &C, proposal_ids: &[i32]) -> AppResult<Vec<String>> {
    Ok(entity::callers::Entity::find()
        .filter(entity::callers::Column::ProposalId.is_in(proposal_ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|c| c.name)
        .collect())
}

/// The public proposals a response answers: (id, code), by code.
async fn answered_public<C: ConnectionTrait>(
    db: &C,
    response_id: i32,
) -> AppResult<Vec<(i32, String)>> {
    let mut answered: Vec<(i32, String)> = proposals::Entity::find()
        .inner_join(response_proposals::Entity)
        .filter(response_proposals::Column::ResponseId.eq(response_id))
        .filter(public_proposals())
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.code))
        .collect();
    answered.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(answered)
}

/// Checks one submitted field; returns the text to store. Browsers send line breaks as CRLF;
/// the record keeps LF, so an untouched textarea compares equal to what is stored.
fn check_field(field: Field, value: &str, private_names: &[String]) -> Result<String, String> {
    let value = &value.replace("\r\n", "\n");
    let label = field.label();
    let text = match field {
        Field::Title | Field::Topic => {
            // The limits the intake and session forms set.
            let max = if field == Field::Title { 300 } else { 400 };
            check_text(label, value, max, true)?;
            value.trim().to_owned()
        }
        Field::Body | Field::Summary => {
            check_text(label, value, MAX_BODY_BYTES, true)?;
            value.to_owned()
        }
        Field::Description => {
            check_text(label, value, 4000, true)?;
            value.trim().to_owned()
        }
        Field::DocNumber => {
            check_text(label, value, 200, false)?;
            value.trim().to_owned()
        }
        Field::TargetValue => {
            let number: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|n: &f64| n.is_finite() && *n >= 0.0)
                .ok_or_else(|| format!("{label}须为不小于 0 的数字。"))?;
            return Ok(figure(number));
        }
        Field::TargetDate => {
            let value = value.trim();
            if value.is_empty() {
                return Ok(String::new());
            }
            let date = crate::time::parse_date(value)
                .ok_or_else(|| format!("{label}须为日期(如 2027-12-31)。"))?;
            crate::time::check_record_date(date, label)?;
            return Ok(date.to_string());
        }
    };
    crate::privacy::refuse_personal(label, &text)?;
    let names: Vec<&str> = private_names.iter().map(String::as_str).collect();
    if !crate::privacy::detect(&text, &names).is_empty() {
        return Err(format!(
            "{label}中含有来件人的姓名等个人信息,公开记录不收录,请删去后再提交。"
        ));
    }
    Ok(text)
}

/// What a correction form asks for: the new values by field, and the reason.
pub struct Submitted<'a> {
    pub values: HashMap<Field, &'a str>,
    pub reason: &'a str,
    /// The `base` the form was shown with.
    pub base: &'a str,
}

/// Why a correction was not made, for the form shown again.
#[derive(Debug)]
pub enum Refused {
    /// The submitted text broke a rule (the message says which).
    Invalid(String),
    /// Nothing differs from what is published.
    Unchanged,
    /// The item changed after the form was opened (another correction): shown again with the
    /// current text.
    Conflict,
}

/// Corrects the item: checks every field and the reason, writes the new text, keeps the
/// version, queues the search documents and the pages that show it, in one transaction.
/// Returns the URL of the item's history.
pub async fn correct(
    db: &DatabaseConnection,
    actor: &Actor,
    kind: TargetKind,
    id: i32,
    submitted: &Submitted<'_>,
    ip: &str,
) -> AppResult<Result<String, Refused>> {
    let txn = crate::db::begin_write(db).await?;
    let item = editable(&txn, actor, kind, id).await?;
    if submitted.base != item.base {
        return Ok(Err(Refused::Conflict));
    }
    let mut fields = Vec::new();
    for current in &item.fields {
        // A field left out of the submission keeps its text.
        let Some(value) = submitted.values.get(&current.field) else {
            continue;
        };
        match check_field(current.field, value, &item.private_names) {
            Ok(new) => fields.push((current.field, current.value.clone(), new)),
            Err(message) => return Ok(Err(Refused::Invalid(message))),
        }
    }
    let changes = versions::changed(fields);
    if changes.is_empty() {
        return Ok(Err(Refused::Unchanged));
    }
    if let Err(message) = versions::check_reason(submitted.reason) {
        return Ok(Err(Refused::Invalid(message)));
    }
    if !write(&txn, kind, id, item.updated_at, &changes).await? {
        return Ok(Err(Refused::Conflict));
    }
    let editor = versions::Editor {
        user_id: actor.user_id,
        label: editor_label(&txn, actor).await?,
    };
    versions::record(&txn, kind, id, &editor, submitted.reason, &changes).await?;
    // A value hidden from the record (a standing rule, or one made for this item) stays hidden
    // in the corrected text and in the version just kept.
    let redactable = match kind {
        TargetKind::Proposal => Some(crate::privacy::store::ItemKind::Proposal),
        TargetKind::Response => Some(crate::privacy::store::ItemKind::Response),
        TargetKind::Commitment | TargetKind::Session => None,
    };
    if let Some(item_kind) = redactable {
        crate::redaction::service::apply_rules_to(&txn, item_kind, id).await?;
    }
    for (document_kind, document_id) in &item.shown_by {
        crate::search::outbox::enqueue(&txn, document_kind, *document_id).await?;
    }
    let what: Vec<&str> = changes.iter().map(|c| c.field.label()).collect();
    crate::audit::record(
        &txn,
        Some(actor),
        &format!("correct_{kind}"),
        Some(item.heading.clone()),
        Some(format!("{}:{}", what.join("、"), submitted.reason.trim())),
        Some(ip),
    )
    .await?;
    // Replies and commitments also show on agency and statistics pages: every page looks again.
    crate::revision::bump(&txn).await?;
    txn.commit().await?;
    Ok(Ok(item.history_url))
}

/// How the public sees who made a change: name and organisation, as they are today.
async fn editor_label<C: ConnectionTrait>(db: &C, actor: &Actor) -> AppResult<String> {
    let organisation = match (actor.role, actor.agency_id) {
        (Role::AgencyStaff, Some(agency)) => entity::agencies::Entity::find_by_id(agency)
            .one(db)
            .await?
            .map_or_else(|| Role::AgencyStaff.label().to_owned(), |a| a.short_name),
        (Role::Admin | Role::Secretariat, _) => Role::Secretariat.label().to_owned(),
        (role, _) => role.label().to_owned(),
    };
    Ok(format!("{organisation} {}", actor.display_name))
}

/// Writes the new values of `changes` into the item's row (and bumps what tracks its edits), if
/// the row is still as it was read (`read_at`, its `updated_at`); false when it changed since.
async fn write<C: ConnectionTrait>(
    db: &C,
    kind: TargetKind,
    id: i32,
    read_at: DateTime<FixedOffset>,
    changes: &[Change],
) -> AppResult<bool> {
    let now = Utc::now().fixed_offset();
    let text = |c: &Change| Expr::value(c.after.clone());
    let optional = |c: &Change| Expr::value((!c.after.is_empty()).then(|| c.after.clone()));
    let result = match kind {
        TargetKind::Proposal => {
            let mut update = proposals::Entity::update_many()
                .col_expr(proposals::Column::UpdatedAt, Expr::value(now))
                // Open edit forms (the secretariat's work page) see the row changed under them.
                .col_expr(
                    proposals::Column::Version,
                    Expr::col(proposals::Column::Version).add(1),
                );
            for c in changes {
                update = match c.field {
                    Field::Title => update.col_expr(proposals::Column::Title, text(c)),
                    Field::Body => update.col_expr(proposals::Column::BodyMd, text(c)),
                    _ => update,
                };
            }
            update
                .filter(proposals::Column::Id.eq(id))
                .filter(proposals::Column::UpdatedAt.eq(read_at))
                .exec(db)
                .await?
        }
        TargetKind::Response => {
            let mut update = responses::Entity::update_many()
                .col_expr(responses::Column::UpdatedAt, Expr::value(now));
            for c in changes {
                update = match c.field {
                    Field::Body => update.col_expr(responses::Column::BodyMd, text(c)),
                    Field::DocNumber => update.col_expr(responses::Column::DocNumber, optional(c)),
                    _ => update,
                };
            }
            update
                .filter(responses::Column::Id.eq(id))
                .filter(responses::Column::UpdatedAt.eq(read_at))
                .exec(db)
                .await?
        }
        TargetKind::Commitment => {
            let mut update = commitments::Entity::update_many()
                .col_expr(commitments::Column::UpdatedAt, Expr::value(now));
            for c in changes {
                update = match c.field {
                    Field::Description => {
                        update.col_expr(commitments::Column::Description, text(c))
                    }
                    Field::TargetValue => {
                        let value: f64 = c.after.parse().map_err(anyhow::Error::from)?;
                        update.col_expr(commitments::Column::TargetValue, Expr::value(value))
                    }
                    Field::TargetDate => {
                        let date: Option<NaiveDate> = match c.after.as_str() {
                            "" => None,
                            d => Some(d.parse().map_err(anyhow::Error::from)?),
                        };
                        update.col_expr(commitments::Column::TargetDate, Expr::value(date))
                    }
                    _ => update,
                };
            }
            update
                .filter(commitments::Column::Id.eq(id))
                .filter(commitments::Column::UpdatedAt.eq(read_at))
                .exec(db)
                .await?
        }
        TargetKind::Session => {
            let mut update = sessions::Entity::update_many()
                .col_expr(sessions::Column::UpdatedAt, Expr::value(now));
            for c in changes {
                update = match c.field {
                    Field::Topic => update.col_expr(sessions::Column::Topic, text(c)),
                    Field::Summary => update.col_expr(sessions::Column::SummaryMd, text(c)),
                    _ => update,
                };
            }
            update
                .filter(sessions::Column::Id.eq(id))
                .filter(sessions::Column::UpdatedAt.eq(read_at))
                .exec(db)
                .await?
        }
    };
    Ok(result.rows_affected == 1)
}

/// A public page's history: what it shows, and every correction of it, oldest first.
#[derive(Debug, Serialize)]
pub struct History {
    pub title: String,
    pub page_url: String,
    pub corrections: Vec<versions::CorrectionView>,
}

/// The history of a public proposal (by code); not found unless the proposal is public.
pub async fn proposal_history<C: ConnectionTrait>(
    db: &C,
    code: &str,
    diffs: bool,
) -> AppResult<History> {
    let p = proposals::Entity::find()
        .filter(public_proposals())
        .filter(proposals::Column::Code.eq(code))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let targets = versions::shown_with_proposal(db, p.id).await?;
    Ok(History {
        title: format!("{} {}", p.code, p.title),
        page_url: crate::web::paths::proposal(&p.code),
        corrections: versions::history(db, &targets, diffs).await?,
    })
}

/// The history of a published session (by number).
pub async fn session_history<C: ConnectionTrait>(
    db: &C,
    number: i32,
    diffs: bool,
) -> AppResult<History> {
    let s = crate::visibility::published_session(db, number)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(History {
        title: format!("第{}期 {}", s.number, s.topic),
        page_url: crate::web::paths::session(s.number),
        corrections: versions::history(db, &[(TargetKind::Session, s.id)], diffs).await?,
    })
}

/// A correction this actor may make to a proposal's published text, as a link on its work page.
#[derive(Debug, Serialize)]
pub struct Offer {
    pub label: String,
    pub url: String,
}

/// The corrections open to `actor` on a public proposal: its own text for the secretariat, the
/// published replies and commitments of the actor's agency (all of them for the secretariat).
pub async fn offered<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    proposal: &proposals::Model,
    is_public: bool,
) -> AppResult<Vec<Offer>> {
    if !is_public {
        return Ok(Vec::new());
    }
    let url = |kind: TargetKind, id: i32| format!("/corrections/{kind}/{id}");
    let mut offers = Vec::new();
    if policy::allows(actor, Action::CorrectRecord, Object::Any) {
        offers.push(Offer {
            label: "更正建议的标题或正文".to_owned(),
            url: url(TargetKind::Proposal, proposal.id),
        });
    }
    let replies = responses::Entity::find()
        .inner_join(response_proposals::Entity)
        .filter(response_proposals::Column::ProposalId.eq(proposal.id))
        .filter(responses::Column::Published.eq(true))
        .all(db)
        .await?;
    for r in replies {
        if policy::allows(actor, Action::CorrectReplies, Object::OfAgency(r.agency_id)) {
            let when = r.responded_on.map(|d| d.to_string()).unwrap_or_default();
            offers.push(Offer {
                label: format!("更正答复 {}", r.doc_number.as_deref().unwrap_or(&when)),
                url: url(TargetKind::Response, r.id),
            });
        }
    }
    let promised = commitments::Entity::find()
        .filter(commitments::Column::ProposalId.eq(proposal.id))
        .all(db)
        .await?;
    for c in promised {
        if policy::allows(actor, Action::CorrectReplies, Object::OfAgency(c.agency_id)) {
            offers.push(Offer {
                label: format!("更正承诺:{}", c.metric),
                url: url(TargetKind::Commitment, c.id),
            });
        }
    }
    Ok(offers)
}
