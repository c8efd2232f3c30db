//! Reviews and redaction rules. A rule names a text the public record never shows, in one item or
//! in every item. Applying it rewrites the public fields (so every output — pages, both search
//! indexes, feeds, the API, exports, the archive — shows "[已隐去]" without any of them having to
//! know) and the files' extracted text and names (withholding the original file, which still
//! holds it), keeps the text as it arrived in `restricted_originals` for the roles that need it, and
//! queues the items for reindexing and their pages for refreshing, all in one transaction. An
//! erasure request (`erase`) takes the value out of the restricted original as well.
use std::collections::BTreeSet;

use chrono::Utc;
use entity::{
    attachment_pages, attachments, callers, privacy_findings, proposals, redaction_rules,
    response_proposals, responses, restricted_originals,
};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::accounts::policy::{self, Action};
use crate::accounts::Actor;
use crate::error::{AppError, AppResult};
use crate::files::OwnerKind;
use crate::privacy::store::{FindingState, ItemKind};
use crate::privacy::{Kind, REDACTED};

/// An item with findings waiting for review.
#[derive(Debug, serde::Serialize)]
pub struct Waiting {
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub id: i32,
    pub label: String,
    pub pending: usize,
}

/// The review queue, oldest first.
pub async fn queue(db: &DatabaseConnection, actor: &Actor) -> AppResult<Vec<Waiting>> {
    policy::require(actor, Action::ReviewPersonalInfo)?;
    let pending = privacy_findings::Entity::find()
        .filter(privacy_findings::Column::State.eq(FindingState::Pending.as_str()))
        .order_by_asc(privacy_findings::Column::Id)
        .all(db)
        .await?;
    let mut out: Vec<Waiting> = Vec::new();
    for finding in pending {
        let Some(kind) = ItemKind::parse(&finding.item_kind) else {
            continue;
        };
        match out
            .iter_mut()
            .find(|w| w.kind == kind.as_str() && w.id == finding.item_id)
        {
            Some(waiting) => waiting.pending += 1,
            None => out.push(Waiting {
                kind: kind.as_str(),
                kind_label: kind.label(),
                id: finding.item_id,
                label: item_label(db, kind, finding.item_id).await?,
                pending: 1,
            }),
        }
    }
    Ok(out)
}

async fn item_label<C: ConnectionTrait>(db: &C, kind: ItemKind, id: i32) -> AppResult<String> {
    Ok(match kind {
        ItemKind::Proposal => proposals::Entity::find_by_id(id)
            .one(db)
            .await?
            .map_or_else(
                || format!("建议 #{id}"),
                |p| format!("{} {}", p.code, p.title),
            ),
        ItemKind::Response => {
            let codes: Vec<String> = proposals::Entity::find()
                .inner_join(response_proposals::Entity)
                .filter(response_proposals::Column::ResponseId.eq(id))
                .all(db)
                .await?
                .into_iter()
                .map(|p| p.code)
                .collect();
            format!("对 {} 的答复", codes.join("、"))
        }
    })
}

/// One text field of an item, with its findings marked.
#[derive(Debug, serde::Serialize)]
pub struct FieldView {
    pub field: String,
    pub label: &'static str,
    /// Escaped text with `<mark>` around each pending finding.
    pub marked_html: String,
    /// The text as it arrived, where a redaction has changed the public one.
    pub original: Option<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct FindingView {
    pub id: i32,
    pub field: String,
    pub kind: &'static str,
    pub value: String,
    pub state: &'static str,
    pub state_label: &'static str,
}

/// What the reviewer sees of one item: its fields, its findings and its caller.
#[derive(Debug, serde::Serialize)]
pub struct Review {
    pub kind: &'static str,
    pub id: i32,
    pub label: String,
    pub fields: Vec<FieldView>,
    pub findings: Vec<FindingView>,
    /// How many findings wait for a judgement.
    pub pending: usize,
    pub caller_name: Option<String>,
    pub caller_phone: Option<String>,
}

fn field_label(field: &str) -> &'static str {
    match field {
        "title" => "标题",
        _ => "正文",
    }
}

/// The item's public text fields, by field name.
async fn fields_of<C: ConnectionTrait>(
    db: &C,
    kind: ItemKind,
    id: i32,
) -> AppResult<Vec<(&'static str, String)>> {
    Ok(match kind {
        ItemKind::Proposal => {
            let p = proposals::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or(AppError::NotFound)?;
            vec![("title", p.title), ("body_md", p.body_md)]
        }
        ItemKind::Response => {
            let r = responses::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or(AppError::NotFound)?;
            vec![("body_md", r.body_md)]
        }
    })
}

pub async fn review(
    db: &DatabaseConnection,
    actor: &Actor,
    kind: ItemKind,
    id: i32,
) -> AppResult<Review> {
    policy::require(actor, Action::ReviewPersonalInfo)?;
    let findings = crate::privacy::store::of_item(db, kind, id).await?;
    let originals = restricted_originals::Entity::find()
        .filter(restricted_originals::Column::ItemKind.eq(kind.as_str()))
        .filter(restricted_originals::Column::ItemId.eq(id))
        .all(db)
        .await?;
    let mut fields = Vec::new();
    for (field, text) in fields_of(db, kind, id).await? {
        let pending: Vec<&str> = findings
            .iter()
            .filter(|f| f.field == field && f.state == FindingState::Pending.as_str())
            .map(|f| f.value.as_str())
            .collect();
        fields.push(FieldView {
            field: field.to_owned(),
            label: field_label(field),
            marked_html: marked(&text, &pending),
            original: originals
                .iter()
                .find(|o| o.field == field)
                .map(|o| o.original.clone()),
        });
    }
    let caller = match kind {
        ItemKind::Proposal => {
            callers::Entity::find()
                .filter(callers::Column::ProposalId.eq(id))
                .one(db)
                .await?
        }
        ItemKind::Response => None,
    };
    let pending = findings
        .iter()
        .filter(|f| f.state == FindingState::Pending.as_str())
        .count();
    Ok(Review {
        kind: kind.as_str(),
        id,
        pending,
        label: item_label(db, kind, id).await?,
        fields,
        findings: findings
            .into_iter()
            .map(|f| {
                let state = FindingState::parse(&f.state).unwrap_or(FindingState::Pending);
                FindingView {
                    id: f.id,
                    kind: Kind::parse(&f.kind).map_or("其他", |k| k.label()),
                    field: f.field,
                    value: f.value,
                    state: state.as_str(),
                    state_label: state.label(),
                }
            })
            .collect(),
        caller_name: caller.as_ref().and_then(|c| c.name.clone()),
        caller_phone: caller.and_then(|c| c.phone),
    })
}

/// `text` escaped, with every occurrence of the values marked.
fn marked(text: &str, values: &[&str]) -> String {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for value in values.iter().filter(|v| !v.is_empty()) {
        spans.extend(text.match_indices(value).map(|(at, v)| (at, at + v.len())));
    }
    spans.sort();
    let mut out = String::with_capacity(text.len() + 32);
    let mut at = 0;
    for (start, end) in spans {
        if start < at {
            continue;
        }
        crate::web::escape::markup_into(&text[at..start], &mut out);
        out.push_str("<mark>");
        crate::web::escape::markup_into(&text[start..end], &mut out);
        out.push_str("</mark>");
        at = end;
    }
    crate::web::escape::markup_into(&text[at..], &mut out);
    out
}

/// The reviewer's judgement of one finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    Redact,
    NotPersonal,
}

/// Records the judgements on the item's pending findings, applying a rule for each one redacted;
/// audited. Findings not judged stay pending.
pub async fn judge(
    db: &DatabaseConnection,
    actor: &Actor,
    kind: ItemKind,
    id: i32,
    judgements: &[(i32, Judgement)],
) -> AppResult<usize> {
    policy::require(actor, Action::ReviewPersonalInfo)?;
    let txn = crate::db::begin_write(db).await?;
    let findings = crate::privacy::store::of_item(&txn, kind, id).await?;
    let now = Utc::now().fixed_offset();
    let mut judged = 0;
    for (finding_id, judgement) in judgements {
        let Some(finding) = findings
            .iter()
            .find(|f| f.id == *finding_id && f.state == FindingState::Pending.as_str())
        else {
            continue;
        };
        let state = match judgement {
            Judgement::Redact => {
                let rule = insert_rule(
                    &txn,
                    actor,
                    &finding.value,
                    Some((kind, id)),
                    "审核时隐去",
                    false,
                )
                .await?;
                apply(&txn, &rule).await?;
                FindingState::Redacted
            }
            Judgement::NotPersonal => FindingState::NotPersonal,
        };
        privacy_findings::Entity::update_many()
            .col_expr(privacy_findings::Column::State, Expr::value(state.as_str()))
            .col_expr(
                privacy_findings::Column::ReviewedByUserId,
                Expr::value(actor.user_id),
            )
            .col_expr(privacy_findings::Column::ReviewedAt, Expr::value(now))
            .filter(privacy_findings::Column::Id.eq(finding.id))
            .exec(&txn)
            .await?;
        // The log names the kind, not the value: the audit log is no place for it either.
        crate::audit::record(
            &txn,
            Some(actor),
            "privacy_review",
            Some(format!("{} {id}", kind.as_str())),
            Some(format!(
                "{}:{}",
                Kind::parse(&finding.kind).map_or("其他", |k| k.label()),
                state.label()
            )),
            None,
        )
        .await?;
        judged += 1;
    }
    if kind == ItemKind::Response && crate::privacy::store::unreviewed(&txn, kind, id).await? == 0 {
        release_response(&txn, id).await?;
    }
    txn.commit().await?;
    Ok(judged)
}

/// Publishes a response held for review once nothing in it waits any longer.
async fn release_response<C: ConnectionTrait>(db: &C, id: i32) -> AppResult<()> {
    let released = responses::Entity::update_many()
        .col_expr(responses::Column::Published, Expr::value(true))
        .filter(responses::Column::Id.eq(id))
        .filter(responses::Column::Published.eq(false))
        .exec(db)
        .await?
        .rows_affected;
    if released == 0 {
        return Ok(());
    }
    for link in response_proposals::Entity::find()
        .filter(response_proposals::Column::ResponseId.eq(id))
        .all(db)
        .await?
    {
        crate::search::outbox::enqueue(db, crate::search::documents::PROPOSAL, link.proposal_id)
            .await?;
        if let Some(p) = proposals::Entity::find_by_id(link.proposal_id)
            .one(db)
            .await?
        {
            crate::revision::bump_proposal_pages(db, &p).await?;
        }
    }
    Ok(())
}

/// An erasure or correction request (个人信息删除/更正): hides `value` in one proposal (by code)
/// or, with no code, in every item, including items already published. With `erase` the
/// restricted original loses it as well. Returns how many items changed.
pub async fn request(
    db: &DatabaseConnection,
    actor: &Actor,
    value: &str,
    code: Option<&str>,
    reason: &str,
    erase: bool,
) -> AppResult<usize> {
    policy::require(actor, Action::ReviewPersonalInfo)?;
    let value = value.trim();
    if value.chars().count() < 2 {
        return Err(AppError::bad_request("要隐去的文字至少 2 个字符。"));
    }
    crate::web::form::check_text("要隐去的文字", value, 400, true).map_err(AppError::BadRequest)?;
    crate::web::form::check_text("理由", reason, 800, true).map_err(AppError::BadRequest)?;
    let txn = crate::db::begin_write(db).await?;
    let scope = match code.map(str::trim).filter(|c| !c.is_empty()) {
        Some(code) => {
            let proposal = proposals::Entity::find()
                .filter(proposals::Column::Code.eq(code))
                .one(&txn)
                .await?
                .ok_or_else(|| AppError::bad_request(format!("没有编号为 {code} 的建议。")))?;
            Some((ItemKind::Proposal, proposal.id))
        }
        None => None,
    };
    let rule = insert_rule(&txn, actor, value, scope, reason.trim(), erase).await?;
    let changed = apply(&txn, &rule).await?;
    crate::audit::record(
        &txn,
        Some(actor),
        if erase {
            "privacy_erasure"
        } else {
            "privacy_correction"
        },
        Some(code.unwrap_or("全部").to_owned()),
        Some(format!("规则 {}:{};{changed} 项", rule.id, reason.trim())),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok(changed)
}

async fn insert_rule<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    value: &str,
    scope: Option<(ItemKind, i32)>,
    reason: &str,
    erase: bool,
) -> AppResult<redaction_rules::Model> {
    Ok(
        redaction_rules::Entity::insert(redaction_rules::ActiveModel {
            value: Set(value.to_owned()),
            item_kind: Set(scope.map(|(kind, _)| kind.as_str().to_owned())),
            item_id: Set(scope.map(|(_, id)| id)),
            reason: Set(reason.to_owned()),
            erase: Set(erase),
            created_by_user_id: Set(Some(actor.user_id)),
            created_at: Set(Utc::now().fixed_offset()),
            ..Default::default()
        })
        .exec_with_returning(db)
        .await?,
    )
}

/// Applies a rule to the items in its scope; returns how many items changed.
pub async fn apply<C: ConnectionTrait>(db: &C, rule: &redaction_rules::Model) -> AppResult<usize> {
    let scope = rule
        .item_kind
        .as_deref()
        .and_then(ItemKind::parse)
        .zip(rule.item_id);
    let value = rule.value.as_str();
    // Proposals whose pages and search documents must be refreshed.
    let mut touched: BTreeSet<i32> = BTreeSet::new();
    let mut changed = 0;

    if scope.is_none_or(|(kind, _)| kind == ItemKind::Proposal) {
        let mut query = proposals::Entity::find().filter(
            sea_orm::Condition::any()
                .add(proposals::Column::Title.like(crate::db::contains_literal(value)))
                .add(proposals::Column::BodyMd.like(crate::db::contains_literal(value))),
        );
        if let Some((_, id)) = scope {
            query = query.filter(proposals::Column::Id.eq(id));
        }
        for p in query.all(db).await? {
            let (title, body) = (
                p.title.replace(value, REDACTED),
                p.body_md.replace(value, REDACTED),
            );
            if title == p.title && body == p.body_md {
                continue; // LIKE folds ASCII case; the rule does not
            }
            keep_original(db, ItemKind::Proposal, p.id, "title", &p.title, &title).await?;
            keep_original(db, ItemKind::Proposal, p.id, "body_md", &p.body_md, &body).await?;
            proposals::Entity::update_many()
                .col_expr(proposals::Column::Title, Expr::value(title))
                .col_expr(proposals::Column::BodyMd, Expr::value(body))
                .col_expr(
                    proposals::Column::Version,
                    Expr::col(proposals::Column::Version).add(1),
                )
                .col_expr(
                    proposals::Column::UpdatedAt,
                    Expr::value(Utc::now().fixed_offset()),
                )
                .filter(proposals::Column::Id.eq(p.id))
                .exec(db)
                .await?;
            touched.insert(p.id);
            changed += 1;
        }
    }

    if scope.is_none_or(|(kind, _)| kind == ItemKind::Response) {
        let mut query = responses::Entity::find()
            .filter(responses::Column::BodyMd.like(crate::db::contains_literal(value)));
        if let Some((_, id)) = scope {
            query = query.filter(responses::Column::Id.eq(id));
        }
        for r in query.all(db).await? {
            let body = r.body_md.replace(value, REDACTED);
            if body == r.body_md {
                continue;
            }
            keep_original(db, ItemKind::Response, r.id, "body_md", &r.body_md, &body).await?;
            responses::Entity::update_many()
                .col_expr(responses::Column::BodyMd, Expr::value(body))
                .col_expr(
                    responses::Column::UpdatedAt,
                    Expr::value(Utc::now().fixed_offset()),
                )
                .filter(responses::Column::Id.eq(r.id))
                .exec(db)
                .await?;
            let answered: Vec<i32> = response_proposals::Entity::find()
                .filter(response_proposals::Column::ResponseId.eq(r.id))
                .all(db)
                .await?
                .into_iter()
                .map(|l| l.proposal_id)
                .collect();
            touched.extend(answered);
            changed += 1;
        }
    }

    // Earlier versions kept by corrections hold the text too: for a rule on one proposal, the
    // versions its history shows (its replies' and commitments' as well).
    let versions_scope = match scope {
        Some((ItemKind::Proposal, id)) => Some(crate::versions::shown_with_proposal(db, id).await?),
        Some((ItemKind::Response, id)) => Some(vec![(crate::versions::TargetKind::Response, id)]),
        None => None,
    };
    if crate::versions::redact(db, value, versions_scope.as_deref()).await? > 0 {
        // A history page (and its API answer) changed although no item did.
        crate::revision::bump(db).await?;
    }

    changed += redact_files(db, value, scope).await?;

    if rule.erase {
        erase_everywhere(db, value, scope).await?;
    }

    for id in touched {
        crate::search::outbox::enqueue(db, crate::search::documents::PROPOSAL, id).await?;
        if let Some(p) = proposals::Entity::find_by_id(id).one(db).await? {
            crate::revision::bump_proposal_pages(db, &p).await?;
        }
    }
    Ok(changed)
}

/// The files a rule on `scope` reaches (None: every file): a proposal's own, its replies' and its
/// reported actuals'; a reply's own.
async fn files_in_scope<C: ConnectionTrait>(
    db: &C,
    scope: Option<(ItemKind, i32)>,
) -> AppResult<Option<Vec<(OwnerKind, i32)>>> {
    Ok(match scope {
        None => None,
        Some((ItemKind::Response, id)) => Some(vec![(OwnerKind::Response, id)]),
        Some((ItemKind::Proposal, id)) => {
            let mut owners = vec![(OwnerKind::Proposal, id)];
            owners.extend(
                response_proposals::Entity::find()
                    .filter(response_proposals::Column::ProposalId.eq(id))
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|l| (OwnerKind::Response, l.response_id)),
            );
            owners.extend(
                crate::files::reports_of_proposals(db, &[id])
                    .await?
                    .into_values()
                    .flatten()
                    .map(|r| (OwnerKind::Report, r)),
            );
            Some(owners)
        }
    })
}

/// Hides `value` in the extracted text and the names of the files in scope. A file whose text
/// or name held it is withheld from then on: its original still shows the value. Returns how
/// many files changed.
async fn redact_files<C: ConnectionTrait>(
    db: &C,
    value: &str,
    scope: Option<(ItemKind, i32)>,
) -> AppResult<usize> {
    let owners = files_in_scope(db, scope).await?;
    let like = crate::db::contains_literal(value);
    let mut touched: std::collections::BTreeMap<i32, attachments::Model> = Default::default();
    let mut pages = attachment_pages::Entity::find()
        .find_also_related(attachments::Entity)
        .filter(attachment_pages::Column::Text.like(like.clone()));
    let mut named = attachments::Entity::find().filter(attachments::Column::Name.like(like));
    if let Some(owners) = &owners {
        pages = pages.filter(crate::files::owned_by(owners));
        named = named.filter(crate::files::owned_by(owners));
    }
    for (page, file) in pages.all(db).await? {
        let (Some(file), text) = (file, page.text.replace(value, REDACTED)) else {
            continue;
        };
        if text == page.text {
            continue; // LIKE folds ASCII case; the rule does not
        }
        attachment_pages::Entity::update_many()
            .col_expr(attachment_pages::Column::Text, Expr::value(text))
            .filter(attachment_pages::Column::Id.eq(page.id))
            .exec(db)
            .await?;
        touched.insert(file.id, file);
    }
    for file in named.all(db).await? {
        let name = file.name.replace(value, REDACTED);
        if name == file.name {
            continue;
        }
        attachments::Entity::update_many()
            .col_expr(attachments::Column::Name, Expr::value(name))
            .filter(attachments::Column::Id.eq(file.id))
            .exec(db)
            .await?;
        touched.insert(file.id, file);
    }
    for file in touched.values() {
        attachments::Entity::update_many()
            .col_expr(attachments::Column::Withheld, Expr::value(true))
            .filter(attachments::Column::Id.eq(file.id))
            .exec(db)
            .await?;
        crate::search::outbox::enqueue_files_owner(db, &file.owner_kind, file.owner_id).await?;
    }
    if !touched.is_empty() {
        crate::revision::bump(db).await?;
    }
    Ok(touched.len())
}

/// The values the rules hide in the files of one owner (`files::OwnerKind`, id): the standing
/// rules' and those made for the proposal or reply the files belong to — what the attachments
/// worker hides in the text it extracts.
pub async fn values_hidden_in_files_of<C: ConnectionTrait>(
    db: &C,
    owner_kind: &str,
    owner_id: i32,
) -> AppResult<Vec<String>> {
    let scoped_to = |kind: ItemKind, id: i32| {
        sea_orm::Condition::all()
            .add(redaction_rules::Column::ItemKind.eq(kind.as_str()))
            .add(redaction_rules::Column::ItemId.eq(id))
    };
    let mut reach = sea_orm::Condition::any().add(redaction_rules::Column::ItemKind.is_null());
    let mut proposals_of_file: Vec<i32> = Vec::new();
    match OwnerKind::parse(owner_kind) {
        Some(OwnerKind::Proposal) => proposals_of_file.push(owner_id),
        Some(OwnerKind::Response) => {
            reach = reach.add(scoped_to(ItemKind::Response, owner_id));
            proposals_of_file.extend(
                response_proposals::Entity::find()
                    .filter(response_proposals::Column::ResponseId.eq(owner_id))
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|l| l.proposal_id),
            );
        }
        Some(OwnerKind::Report) => {
            let report = entity::commitment_reports::Entity::find_by_id(owner_id)
                .one(db)
                .await?;
            if let Some(report) = report {
                let commitment = entity::commitments::Entity::find_by_id(report.commitment_id)
                    .one(db)
                    .await?;
                proposals_of_file.extend(commitment.and_then(|c| c.proposal_id));
            }
        }
        _ => {}
    }
    for id in proposals_of_file {
        reach = reach.add(scoped_to(ItemKind::Proposal, id));
    }
    Ok(redaction_rules::Entity::find()
        .filter(reach)
        .order_by_asc(redaction_rules::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.value)
        .collect())
}

/// Applies every rule that reaches one item — the standing rules, those made for it and, for a
/// reply, those made for the proposals it answers — to the item just written or rewritten (an
/// intake, a submitted draft, a reply, a correction): a value once hidden from the record stays
/// hidden when it arrives again. Call inside the writing transaction.
pub async fn apply_rules_to<C: ConnectionTrait>(
    db: &C,
    kind: ItemKind,
    id: i32,
) -> AppResult<usize> {
    let scoped_to = |kind: ItemKind, id: i32| {
        sea_orm::Condition::all()
            .add(redaction_rules::Column::ItemKind.eq(kind.as_str()))
            .add(redaction_rules::Column::ItemId.eq(id))
    };
    let mut reach = sea_orm::Condition::any()
        .add(redaction_rules::Column::ItemKind.is_null())
        .add(scoped_to(kind, id));
    if kind == ItemKind::Response {
        for link in response_proposals::Entity::find()
            .filter(response_proposals::Column::ResponseId.eq(id))
            .all(db)
            .await?
        {
            reach = reach.add(scoped_to(ItemKind::Proposal, link.proposal_id));
        }
    }
    let rules = redaction_rules::Entity::find()
        .filter(reach)
        .order_by_asc(redaction_rules::Column::Id)
        .all(db)
        .await?;
    let mut changed = 0;
    for rule in rules {
        let scoped = redaction_rules::Model {
            item_kind: Some(kind.as_str().to_owned()),
            item_id: Some(id),
            ..rule
        };
        changed += apply(db, &scoped).await?;
    }
    Ok(changed)
}

/// Keeps the field's text as it arrived, the first time a redaction changes it.
async fn keep_original<C: ConnectionTrait>(
    db: &C,
    kind: ItemKind,
    id: i32,
    field: &str,
    before: &str,
    after: &str,
) -> AppResult<()> {
    if before == after {
        return Ok(());
    }
    let kept = restricted_originals::Entity::find()
        .filter(restricted_originals::Column::ItemKind.eq(kind.as_str()))
        .filter(restricted_originals::Column::ItemId.eq(id))
        .filter(restricted_originals::Column::Field.eq(field))
        .one(db)
        .await?;
    if kept.is_none() {
        restricted_originals::Entity::insert(restricted_originals::ActiveModel {
            item_kind: Set(kind.as_str().to_owned()),
            item_id: Set(id),
            field: Set(field.to_owned()),
            original: Set(before.to_owned()),
            created_at: Set(Utc::now().fixed_offset()),
            ..Default::default()
        })
        .exec(db)
        .await?;
    }
    Ok(())
}

/// An erasure: the value leaves the restricted originals, the callers and the findings too.
async fn erase_everywhere<C: ConnectionTrait>(
    db: &C,
    value: &str,
    scope: Option<(ItemKind, i32)>,
) -> AppResult<()> {
    let mut originals = restricted_originals::Entity::find()
        .filter(restricted_originals::Column::Original.like(crate::db::contains_literal(value)));
    let mut findings =
        privacy_findings::Entity::find().filter(privacy_findings::Column::Value.eq(value));
    if let Some((kind, id)) = scope {
        originals = originals
            .filter(restricted_originals::Column::ItemKind.eq(kind.as_str()))
            .filter(restricted_originals::Column::ItemId.eq(id));
        findings = findings
            .filter(privacy_findings::Column::ItemKind.eq(kind.as_str()))
            .filter(privacy_findings::Column::ItemId.eq(id));
    }
    for o in originals.all(db).await? {
        restricted_originals::Entity::update_many()
            .col_expr(
                restricted_originals::Column::Original,
                Expr::value(o.original.replace(value, REDACTED)),
            )
            .filter(restricted_originals::Column::Id.eq(o.id))
            .exec(db)
            .await?;
    }
    privacy_findings::Entity::update_many()
        .col_expr(privacy_findings::Column::Value, Expr::value(REDACTED))
        .filter(
            privacy_findings::Column::Id.is_in(
                findings
                    .all(db)
                    .await?
                    .into_iter()
                    .map(|f| f.id)
                    .collect::<Vec<_>>(),
            ),
        )
        .exec(db)
        .await?;
    let mut callers_query = callers::Entity::find().filter(
        sea_orm::Condition::any()
            .add(callers::Column::Name.eq(value))
            .add(callers::Column::Phone.eq(value)),
    );
    if let Some((ItemKind::Proposal, id)) = scope {
        callers_query = callers_query.filter(callers::Column::ProposalId.eq(id));
    }
    for c in callers_query.all(db).await? {
        let keep = |field: Option<String>| field.filter(|f| f != value);
        callers::Entity::update_many()
            .col_expr(callers::Column::Name, Expr::value(keep(c.name)))
            .col_expr(callers::Column::Phone, Expr::value(keep(c.phone)))
            .filter(callers::Column::Id.eq(c.id))
            .exec(db)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_are_marked_in_the_escaped_text() {
        assert_eq!(
            marked("电话<13912345678>,再打13912345678", &["13912345678"]),
            "电话&lt;<mark>13912345678</mark>&gt;,再打<mark>13912345678</mark>"
        );
        assert_eq!(marked("无", &[]), "无");
    }
}
