//! Versions of published text. A change to text the public has already seen (a reply corrected,
//! a commitment's target revised, a proposal's title fixed, a session's summary amended) is kept
//! as a correction: who, when, why, and each field before and after. The history pages and the
//! API read them back, with a character diff (Chinese has no word breaks to diff by).
//!
//! Below the capabilities: the corrections capability writes through [`record`], the proposal and
//! session pages ask [`corrected`] for their "已修改" marks, and redaction rewrites the kept text
//! with [`redact`] so that a hidden value does not survive in an old version.
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use entity::{correction_fields, corrections};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;

use crate::error::AppResult;

crate::vocabulary! {
    /// What a correction changed.
    pub enum TargetKind {
        Proposal = "proposal" => "建议",
        Response = "response" => "答复",
        Commitment = "commitment" => "承诺",
        Session = "session" => "协商活动",
    }
}

crate::vocabulary! {
    /// The fields a correction may change, with the names the public pages use for them.
    pub enum Field {
        Title = "title" => "标题",
        Body = "body_md" => "正文",
        DocNumber = "doc_number" => "文号",
        Description = "description" => "承诺内容",
        TargetValue = "target_value" => "目标值",
        TargetDate = "target_date" => "完成期限",
        Topic = "topic" => "主题",
        Summary = "summary_md" => "活动概要",
    }
}

/// Longest reason kept (a reason is public: it is checked like any published text).
pub const MAX_REASON_BYTES: usize = 2000;

/// One field's text before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub field: Field,
    pub before: String,
    pub after: String,
}

/// The fields whose text differs, in the order given.
pub fn changed(fields: impl IntoIterator<Item = (Field, String, String)>) -> Vec<Change> {
    fields
        .into_iter()
        .filter(|(_, before, after)| before != after)
        .map(|(field, before, after)| Change {
            field,
            before,
            after,
        })
        .collect()
}

/// A reason is required and published: no personal information, within limits.
pub fn check_reason(reason: &str) -> Result<(), String> {
    crate::web::form::check_text("修改原因", reason, MAX_REASON_BYTES, true)?;
    crate::privacy::refuse_personal("修改原因", reason)
}

/// Who made a correction: their account, and how the public sees them (name and organisation
/// as they were then: an account renamed later does not rewrite history).
pub struct Editor {
    pub user_id: i32,
    pub label: String,
}

/// Keeps a correction of (`kind`, `id`); call inside the transaction that writes the new text.
/// `changes` must not be empty (the caller tells the user "nothing changed" instead).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    kind: TargetKind,
    id: i32,
    editor: &Editor,
    reason: &str,
    changes: &[Change],
) -> AppResult<i32> {
    debug_assert!(!changes.is_empty(), "a correction without changes");
    let correction_id = corrections::Entity::insert(corrections::ActiveModel {
        target_kind: Set(kind.as_str().to_owned()),
        target_id: Set(id),
        reason: Set(reason.trim().to_owned()),
        editor_user_id: Set(Some(editor.user_id)),
        editor_label: Set(editor.label.clone()),
        made_at: Set(Utc::now().fixed_offset()),
        ..Default::default()
    })
    .exec(db)
    .await?
    .last_insert_id;
    correction_fields::Entity::insert_many(changes.iter().map(|c| {
        correction_fields::ActiveModel {
            correction_id: Set(correction_id),
            field: Set(c.field.as_str().to_owned()),
            before: Set(c.before.clone()),
            after: Set(c.after.clone()),
            ..Default::default()
        }
    }))
    .exec(db)
    .await?;
    Ok(correction_id)
}

fn any_of(targets: &[(TargetKind, i32)]) -> Condition {
    crate::db::any_kind_and_id(
        targets,
        corrections::Column::TargetKind,
        corrections::Column::TargetId,
        TargetKind::as_str,
    )
}

/// Which of `targets` have been corrected (for the "已修改" marks), as "kind:id" keys.
pub async fn corrected<C: ConnectionTrait>(
    db: &C,
    targets: &[(TargetKind, i32)],
) -> AppResult<HashSet<String>> {
    if targets.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(corrections::Entity::find()
        .filter(any_of(targets))
        .all(db)
        .await?
        .into_iter()
        .map(|c| format!("{}:{}", c.target_kind, c.target_id))
        .collect())
}

/// When each proposal's public text (its own, its published replies', its commitments') was
/// last corrected: feeds date an entry by it, so that a correction reaches their readers.
pub async fn latest_by_proposal<C: ConnectionTrait>(
    db: &C,
    proposal_ids: &[i32],
) -> Result<HashMap<i32, DateTime<FixedOffset>>, sea_orm::DbErr> {
    use entity::{commitments, response_proposals, responses};
    let mut latest: HashMap<i32, DateTime<FixedOffset>> = HashMap::new();
    if proposal_ids.is_empty() {
        return Ok(latest);
    }
    // Target → the proposals whose entries show it.
    let mut shown_in: HashMap<(TargetKind, i32), Vec<i32>> = proposal_ids
        .iter()
        .map(|id| ((TargetKind::Proposal, *id), vec![*id]))
        .collect();
    let links = response_proposals::Entity::find()
        .find_also_related(responses::Entity)
        .filter(response_proposals::Column::ProposalId.is_in(proposal_ids.iter().copied()))
        .all(db)
        .await?;
    for (link, reply) in links {
        if reply.is_some_and(|r| r.published) {
            shown_in
                .entry((TargetKind::Response, link.response_id))
                .or_default()
                .push(link.proposal_id);
        }
    }
    for c in commitments::Entity::find()
        .filter(commitments::Column::ProposalId.is_in(proposal_ids.iter().copied()))
        .all(db)
        .await?
    {
        if let Some(p) = c.proposal_id {
            shown_in
                .entry((TargetKind::Commitment, c.id))
                .or_default()
                .push(p);
        }
    }
    let targets: Vec<(TargetKind, i32)> = shown_in.keys().copied().collect();
    for c in corrections::Entity::find()
        .filter(any_of(&targets))
        .all(db)
        .await?
    {
        let Some(kind) = TargetKind::parse(&c.target_kind) else {
            continue;
        };
        for p in shown_in.get(&(kind, c.target_id)).into_iter().flatten() {
            let at = latest.entry(*p).or_insert(c.made_at);
            *at = (*at).max(c.made_at);
        }
    }
    Ok(latest)
}

/// A run of text in a diff.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// "same", "removed" or "added".
    pub op: &'static str,
    pub text: String,
}

/// One field of a correction as the history shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FieldView {
    pub field: Field,
    pub label: &'static str,
    pub before: String,
    pub after: String,
    pub diff: Vec<Segment>,
}

/// One correction as the history shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CorrectionView {
    pub id: i32,
    pub kind: TargetKind,
    pub kind_label: &'static str,
    pub target_id: i32,
    pub reason: String,
    pub editor: String,
    pub made_at: DateTime<FixedOffset>,
    pub fields: Vec<FieldView>,
}

/// The targets a proposal's history shows: the proposal, its published replies and its
/// commitments.
pub async fn shown_with_proposal<C: ConnectionTrait>(
    db: &C,
    proposal_id: i32,
) -> Result<Vec<(TargetKind, i32)>, sea_orm::DbErr> {
    use entity::{commitments, response_proposals, responses};
    let mut targets = vec![(TargetKind::Proposal, proposal_id)];
    let replies: Vec<i32> = responses::Entity::find()
        .inner_join(response_proposals::Entity)
        .filter(response_proposals::Column::ProposalId.eq(proposal_id))
        .filter(responses::Column::Published.eq(true))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    targets.extend(replies.into_iter().map(|id| (TargetKind::Response, id)));
    let promised: Vec<i32> = commitments::Entity::find()
        .filter(commitments::Column::ProposalId.eq(proposal_id))
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    targets.extend(promised.into_iter().map(|id| (TargetKind::Commitment, id)));
    Ok(targets)
}

/// The corrections of `targets`, oldest first; with `diffs`, each field's diff (the pages show
/// it; the API gives the texts and leaves diffing to its reader).
pub async fn history<C: ConnectionTrait>(
    db: &C,
    targets: &[(TargetKind, i32)],
    diffs: bool,
) -> AppResult<Vec<CorrectionView>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let rows = corrections::Entity::find()
        .filter(any_of(targets))
        .order_by_asc(corrections::Column::MadeAt)
        .order_by_asc(corrections::Column::Id)
        .find_with_related(correction_fields::Entity)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(c, mut fields)| {
            let kind = TargetKind::parse(&c.target_kind)?;
            fields.sort_by_key(|f| f.id);
            Some(CorrectionView {
                id: c.id,
                kind,
                kind_label: kind.label(),
                target_id: c.target_id,
                reason: c.reason,
                editor: c.editor_label,
                made_at: c.made_at,
                fields: fields
                    .into_iter()
                    .filter_map(|f| {
                        let field = Field::parse(&f.field)?;
                        Some(FieldView {
                            field,
                            label: field.label(),
                            diff: if diffs {
                                diff(&f.before, &f.after)
                            } else {
                                Vec::new()
                            },
                            before: f.before,
                            after: f.after,
                        })
                    })
                    .collect(),
            })
        })
        .collect())
}

/// Texts longer than this are diffed by line rather than by character.
const LONG_TEXT_BYTES: usize = 20 * 1024;

/// Unchanged runs longer than this are shortened to their ends around "…".
const CONTEXT_CHARS: usize = 40;

/// What changed from `before` to `after`, character by character, in runs. A long unchanged run
/// keeps [`CONTEXT_CHARS`] at each end; the full texts are beside the diff for whoever needs them.
pub fn diff(before: &str, after: &str) -> Vec<Segment> {
    use similar::{ChangeTag, TextDiff};
    // A deadline bounds the work on two long, very different texts (the result is then coarser);
    // long texts are compared line by line, which costs far less than character by character.
    let mut config = TextDiff::configure();
    config.timeout(Duration::from_millis(50));
    let diff = if before.len().max(after.len()) > LONG_TEXT_BYTES {
        config.diff_lines(before, after)
    } else {
        config.diff_chars(before, after)
    };
    let mut runs: Vec<Segment> = Vec::new();
    for change in diff.iter_all_changes() {
        let op = match change.tag() {
            ChangeTag::Equal => "same",
            ChangeTag::Delete => "removed",
            ChangeTag::Insert => "added",
        };
        match runs.last_mut() {
            Some(last) if last.op == op => last.text.push_str(change.value()),
            _ => runs.push(Segment {
                op,
                text: change.value().to_owned(),
            }),
        }
    }
    let last = runs.len().saturating_sub(1);
    for (i, run) in runs.iter_mut().enumerate() {
        if run.op == "same" {
            run.text = shorten(&run.text, i > 0, i < last);
        }
    }
    runs
}

/// Keeps the ends of an unchanged run that touch a change (`lead` before one, `tail` after).
fn shorten(text: &str, lead: bool, tail: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    if !lead && !tail {
        return text.to_owned(); // nothing changed around it (texts made equal by a redaction)
    }
    let keep_head = if lead { CONTEXT_CHARS } else { 0 };
    let keep_tail = if tail { CONTEXT_CHARS } else { 0 };
    if chars.len() <= keep_head + keep_tail + 1 {
        return text.to_owned();
    }
    let head: String = chars[..keep_head].iter().collect();
    let tail_text: String = chars[chars.len() - keep_tail..].iter().collect();
    format!("{head}…{tail_text}")
}

/// Replaces `value` with the redaction mark in the kept versions of `scope` (or of every
/// target) — texts before and after, and the reasons — so that a value hidden from the record is
/// hidden from its history too. Returns how many rows changed. Call inside the redaction's
/// transaction.
pub async fn redact<C: ConnectionTrait>(
    db: &C,
    value: &str,
    scope: Option<&[(TargetKind, i32)]>,
) -> AppResult<usize> {
    let mut kept = corrections::Entity::find();
    if let Some(targets) = scope {
        if targets.is_empty() {
            return Ok(0);
        }
        kept = kept.filter(any_of(targets));
    }
    let kept = kept.all(db).await?;
    let ids: Vec<i32> = kept.iter().map(|c| c.id).collect();
    let hide = |text: &str| text.replace(value, crate::privacy::REDACTED);
    let mut changed = 0;
    for correction in kept.into_iter().filter(|c| c.reason.contains(value)) {
        corrections::Entity::update(corrections::ActiveModel {
            id: Set(correction.id),
            reason: Set(hide(&correction.reason)),
            ..Default::default()
        })
        .exec(db)
        .await?;
        changed += 1;
    }
    if ids.is_empty() {
        return Ok(changed);
    }
    let pattern = || crate::db::contains_literal(value);
    let fields = correction_fields::Entity::find()
        .filter(correction_fields::Column::CorrectionId.is_in(ids))
        .filter(
            Condition::any()
                .add(correction_fields::Column::Before.like(pattern()))
                .add(correction_fields::Column::After.like(pattern())),
        )
        .all(db)
        .await?;
    for field in fields {
        let (before, after) = (hide(&field.before), hide(&field.after));
        if before == field.before && after == field.after {
            continue; // LIKE folds ASCII case; the replacement does not
        }
        correction_fields::Entity::update(correction_fields::ActiveModel {
            id: Set(field.id),
            before: Set(before),
            after: Set(after),
            ..Default::default()
        })
        .exec(db)
        .await?;
        changed += 1;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(segments: &[Segment]) -> Vec<(&str, &str)> {
        segments.iter().map(|s| (s.op, s.text.as_str())).collect()
    }

    #[test]
    fn a_changed_figure_reads_as_removed_and_added_characters() {
        let d = diff("目标9500家", "目标9800家");
        assert_eq!(
            ops(&d),
            [
                ("same", "目标9"),
                ("removed", "5"),
                ("added", "8"),
                ("same", "00家")
            ]
        );
    }

    #[test]
    fn long_unchanged_text_keeps_only_the_context_around_a_change() {
        let long = "一".repeat(500);
        let d = diff(&format!("{long}旧{long}"), &format!("{long}新{long}"));
        assert_eq!(d.len(), 4);
        assert_eq!(d[0].text.chars().count(), CONTEXT_CHARS + 1);
        assert!(d[0].text.starts_with('…'));
        assert!(d[3].text.ends_with('…'));
        assert_eq!(ops(&d)[1..3], [("removed", "旧"), ("added", "新")]);
    }

    #[test]
    fn only_fields_that_differ_are_kept() {
        let kept = changed([
            (Field::Title, "甲".into(), "甲".into()),
            (Field::Body, "乙".into(), "丙".into()),
        ]);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].field, Field::Body);
    }

    #[test]
    fn a_reason_is_required_and_may_not_carry_personal_information() {
        assert!(check_reason("  ").is_err());
        assert!(check_reason("联系人电话13912345678").is_err());
        assert!(check_reason("原文数字录入有误").is_ok());
    }

    proptest::proptest! {
        /// Whatever the texts, the diff's removed and same runs rebuild the text before and its
        /// added and same runs the text after (when nothing was shortened).
        #[test]
        fn a_diff_rebuilds_both_texts(before in "[甲乙丙a-c1-3 ]{0,30}", after in "[甲乙丙a-c1-3 ]{0,30}") {
            let d = diff(&before, &after);
            let side = |skip: &str| d.iter().filter(|s| s.op != skip).map(|s| s.text.as_str()).collect::<String>();
            proptest::prop_assert_eq!(side("added"), before);
            proptest::prop_assert_eq!(side("removed"), after);
        }
    }
}
