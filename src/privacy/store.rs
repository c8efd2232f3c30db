//! What the detector found in an item's text, kept per item and field until the secretariat has
//! judged it (`redaction` does the judging and the redacting). Recorded in the transaction that
//! writes the text, so an item never exists without its findings.
use chrono::Utc;
use entity::privacy_findings;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};

use super::detect::detect;

crate::vocabulary! {
    /// What holds the text.
    pub enum ItemKind {
        Proposal = "proposal" => "建议",
        Response = "response" => "答复",
    }
}

crate::vocabulary! {
    /// Where a finding stands.
    pub enum FindingState {
        Pending = "pending" => "待审核",
        Redacted = "redacted" => "已隐去",
        NotPersonal = "not_personal" => "确认非个人信息",
    }
}

/// Records what `text` (field `field` of the item) holds as pending findings, except values the
/// secretariat already judged in this item (a text edited again is not reviewed twice). `names`
/// are names known to be private (the caller's). Returns how many pending findings were added.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    kind: ItemKind,
    item_id: i32,
    field: &str,
    text: &str,
    names: &[&str],
) -> Result<usize, sea_orm::DbErr> {
    let findings = detect(text, names);
    if findings.is_empty() {
        return Ok(0);
    }
    let known: Vec<String> = of_item(db, kind, item_id)
        .await?
        .into_iter()
        .map(|f| f.value)
        .collect();
    let now = Utc::now().fixed_offset();
    let mut added = 0;
    let mut seen: Vec<&str> = Vec::new();
    for finding in &findings {
        let value = &text[finding.range.clone()];
        if known.iter().any(|k| k == value) || seen.contains(&value) {
            continue;
        }
        seen.push(value);
        privacy_findings::Entity::insert(privacy_findings::ActiveModel {
            item_kind: Set(kind.as_str().to_owned()),
            item_id: Set(item_id),
            field: Set(field.to_owned()),
            kind: Set(finding.kind.as_str().to_owned()),
            value: Set(value.to_owned()),
            state: Set(FindingState::Pending.as_str().to_owned()),
            created_at: Set(now),
            ..Default::default()
        })
        .exec(db)
        .await?;
        added += 1;
    }
    Ok(added)
}

/// Every finding of one item, in the order found.
pub async fn of_item<C: ConnectionTrait>(
    db: &C,
    kind: ItemKind,
    item_id: i32,
) -> Result<Vec<privacy_findings::Model>, sea_orm::DbErr> {
    privacy_findings::Entity::find()
        .filter(privacy_findings::Column::ItemKind.eq(kind.as_str()))
        .filter(privacy_findings::Column::ItemId.eq(item_id))
        .order_by_asc(privacy_findings::Column::Id)
        .all(db)
        .await
}

/// How many findings of the item wait for review (the workflow holds it back while any do).
pub async fn unreviewed<C: ConnectionTrait>(
    db: &C,
    kind: ItemKind,
    item_id: i32,
) -> Result<usize, sea_orm::DbErr> {
    let n = privacy_findings::Entity::find()
        .filter(privacy_findings::Column::ItemKind.eq(kind.as_str()))
        .filter(privacy_findings::Column::ItemId.eq(item_id))
        .filter(privacy_findings::Column::State.eq(FindingState::Pending.as_str()))
        .count(db)
        .await?;
    Ok(n as usize)
}
