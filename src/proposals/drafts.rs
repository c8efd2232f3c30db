//! Members writing proposals: validation of what they type, creating and editing drafts, and
//! public codes (`TS-2026-000-07`: year, session number or 000, sequence).
use chrono::{Datelike, Utc};
use entity::{code_sequences, people, proposal_cosigners, proposals};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QuerySelect,
};

use crate::accounts::Actor;
use crate::directory::PersonKind;
use crate::error::{AppError, AppResult};
use crate::followup::timeline::{self, NewEvent};
use crate::time::Precision;
use crate::web::form::{check_text, MAX_BODY_BYTES};
use crate::workflow::TimelineAction;
use crate::workflow::{Channel, ProposalStatus};

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_TOPICS: usize = 10;

/// What a member types into the proposal form.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DraftInput {
    pub title: String,
    pub body_md: String,
    /// Comma- or space-separated in the form.
    pub topics: String,
    /// Names of co-signing committee members, separated by commas (、 , ,).
    pub cosigners: String,
    pub session_number: Option<i32>,
}

impl DraftInput {
    pub fn topic_list(&self) -> Vec<String> {
        split_list(&self.topics)
    }

    pub fn cosigner_names(&self) -> Vec<String> {
        split_list(&self.cosigners)
    }
}

fn split_list(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in text
        .split([',', ',', '、', ';', ';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !out.iter().any(|o| o == item) {
            out.push(item.to_owned());
        }
    }
    out
}

/// Every problem with a draft, in Chinese, for the form to show at once.
pub fn validate(input: &DraftInput) -> Vec<String> {
    let mut errors = Vec::new();
    if let Err(e) = check_text("标题", &input.title, MAX_TITLE_CHARS * 4, true) {
        errors.push(e);
    } else if input.title.chars().count() > MAX_TITLE_CHARS {
        errors.push(format!("标题不能超过{MAX_TITLE_CHARS}个字。"));
    }
    if let Err(e) = check_text("正文", &input.body_md, MAX_BODY_BYTES, true) {
        errors.push(e);
    }
    let topics = input.topic_list();
    if topics.len() > MAX_TOPICS || topics.iter().any(|t| t.chars().count() > 20) {
        errors.push(format!("主题最多{MAX_TOPICS}个,每个不超过20个字。"));
    }
    if let Err(e) = check_text("主题", &input.topics, 2000, false).and(check_text(
        "联名委员",
        &input.cosigners,
        2000,
        false,
    )) {
        errors.push(e);
    }
    errors
}

async fn resolve_cosigners<C: ConnectionTrait>(
    db: &C,
    names: &[String],
    author: i32,
) -> AppResult<Vec<i32>> {
    let mut ids = Vec::new();
    for name in names {
        let person = people::Entity::find()
            .filter(people::Column::Name.eq(name.as_str()))
            .filter(people::Column::Kind.eq(PersonKind::CommitteeMember.as_str()))
            .one(db)
            .await?
            .ok_or_else(|| AppError::BadRequest(format!("找不到名为“{name}”的政协委员。")))?;
        if person.id != author && !ids.contains(&person.id) {
            ids.push(person.id);
        }
    }
    Ok(ids)
}

/// The session a draft names, which must be published: a proposal's public page shows its
/// session, so linking one the public may not see would publish it.
async fn session_id_for<C: ConnectionTrait>(db: &C, number: Option<i32>) -> AppResult<Option<i32>> {
    let Some(number) = number else {
        return Ok(None);
    };
    let session = crate::visibility::published_session(db, number).await?;
    Ok(Some(
        session
            .ok_or_else(|| AppError::BadRequest(format!("不存在第{number}期协商活动。")))?
            .id,
    ))
}

/// The next free code for a year and session.
pub(crate) async fn next_code<C: ConnectionTrait>(
    db: &C,
    year: i32,
    session_number: Option<i32>,
) -> AppResult<String> {
    let mut codes = next_codes(db, year, session_number, 1).await?;
    codes
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no code handed out").into())
}

/// The next `n` free codes for a year and session, in order, with a fixed number of statements.
pub(crate) async fn next_codes<C: ConnectionTrait>(
    db: &C,
    year: i32,
    session_number: Option<i32>,
    n: i32,
) -> AppResult<Vec<String>> {
    let prefix = format!("TS-{year}-{:03}-", session_number.unwrap_or(0));
    let code = |number: i32| format!("{prefix}{number:02}");
    let mut last = match bump_sequence(db, &prefix, n).await? {
        Some(last) => last,
        None => {
            // First code under this prefix since the counter existed: start from the codes
            // already there. A concurrent first insert (PostgreSQL) makes this one a no-op.
            let highest = highest_number(db, &prefix).await?;
            code_sequences::Entity::insert(code_sequences::ActiveModel {
                prefix: Set(prefix.clone()),
                last_number: Set(highest),
            })
            .on_conflict(
                OnConflict::column(code_sequences::Column::Prefix)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
            bump_sequence(db, &prefix, n)
                .await?
                .ok_or_else(|| anyhow::anyhow!("code counter for {prefix} missing"))?
        }
    };
    // Codes written by a path that did not sync the counter: when any of ours is taken, continue
    // after the highest code under the prefix.
    let wanted: Vec<String> = (last - n + 1..=last).map(code).collect();
    let taken: Vec<i32> = proposals::Entity::find()
        .filter(proposals::Column::Code.is_in(wanted.clone()))
        .select_only()
        .column(proposals::Column::Id)
        .into_tuple()
        .all(db)
        .await?;
    if taken.is_empty() {
        return Ok(wanted);
    }
    last = highest_number(db, &prefix).await? + n;
    code_sequences::Entity::update_many()
        .col_expr(code_sequences::Column::LastNumber, Expr::value(last))
        .filter(code_sequences::Column::Prefix.eq(prefix.as_str()))
        .exec(db)
        .await?;
    Ok((last - n + 1..=last).map(code).collect())
}

/// Sets every prefix's counter to the highest code under it. Called by the paths that write
/// codes of their own (seeds, archive import, the benchmark corpus) inside their transaction, so
/// new codes continue after them rather than filling gaps.
pub async fn sync_code_sequences<C: ConnectionTrait>(db: &C) -> Result<(), sea_orm::DbErr> {
    let codes: Vec<String> = proposals::Entity::find()
        .select_only()
        .column(proposals::Column::Code)
        .into_tuple()
        .all(db)
        .await?;
    let mut highest: std::collections::BTreeMap<String, i32> = Default::default();
    for code in codes {
        if let Some((prefix, n)) = code.rsplit_once('-') {
            if let Ok(n) = n.parse::<i32>() {
                let entry = highest.entry(format!("{prefix}-")).or_default();
                *entry = std::cmp::max(*entry, n);
            }
        }
    }
    for (prefix, last) in highest {
        code_sequences::Entity::insert(code_sequences::ActiveModel {
            prefix: Set(prefix),
            last_number: Set(last),
        })
        .on_conflict(
            OnConflict::column(code_sequences::Column::Prefix)
                .update_column(code_sequences::Column::LastNumber)
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Adds `n` to the prefix's counter and returns the new value, or `None` when the prefix has no
/// row yet.
async fn bump_sequence<C: ConnectionTrait>(db: &C, prefix: &str, n: i32) -> AppResult<Option<i32>> {
    let updated = code_sequences::Entity::update_many()
        .col_expr(
            code_sequences::Column::LastNumber,
            Expr::col(code_sequences::Column::LastNumber).add(n),
        )
        .filter(code_sequences::Column::Prefix.eq(prefix))
        .exec(db)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    Ok(code_sequences::Entity::find_by_id(prefix.to_owned())
        .one(db)
        .await?
        .map(|row| row.last_number))
}

/// The highest sequence number among existing codes under `prefix` (a range scan of the code
/// index, used only when the counter is missing or behind).
async fn highest_number<C: ConnectionTrait>(db: &C, prefix: &str) -> AppResult<i32> {
    // `-` + 1 = `.`: every code that starts with the prefix sorts inside [prefix, end).
    let end = format!("{}.", prefix.trim_end_matches('-'));
    let codes: Vec<String> = proposals::Entity::find()
        .filter(proposals::Column::Code.gte(prefix))
        .filter(proposals::Column::Code.lt(end))
        .select_only()
        .column(proposals::Column::Code)
        .into_tuple()
        .all(db)
        .await?;
    Ok(codes
        .into_iter()
        .filter_map(|code| {
            code.strip_prefix(prefix)
                .and_then(|n| n.parse::<i32>().ok())
        })
        .max()
        .unwrap_or(0))
}

/// The person the actor writes as, if the policy lets them write proposals.
fn author_of(actor: &Actor) -> AppResult<i32> {
    crate::accounts::policy::require(actor, crate::accounts::policy::Action::WriteProposals)?;
    actor.person_id.ok_or(AppError::Forbidden)
}

pub async fn create(
    db: &DatabaseConnection,
    actor: &Actor,
    input: &DraftInput,
) -> AppResult<proposals::Model> {
    let author = author_of(actor)?;
    let errors = validate(input);
    if !errors.is_empty() {
        return Err(AppError::BadRequest(errors.join(" ")));
    }
    let txn = crate::db::begin_write(db).await?;
    let session_id = session_id_for(&txn, input.session_number).await?;
    let cosigners = resolve_cosigners(&txn, &input.cosigner_names(), author).await?;
    let now = Utc::now();
    let code = next_code(&txn, crate::time::today().year(), input.session_number).await?;
    let channel = if session_id.is_some() {
        Channel::Session
    } else {
        Channel::Direct
    };
    let proposal = proposals::Entity::insert(proposals::ActiveModel {
        code: Set(code),
        session_id: Set(session_id),
        channel: Set(channel.as_str().to_owned()),
        title: Set(input.title.trim().to_owned()),
        body_md: Set(input.body_md.clone()),
        author_id: Set(Some(author)),
        topics: Set(serde_json::to_string(&input.topic_list()).map_err(anyhow::Error::from)?),
        status: Set(ProposalStatus::Draft.as_str().to_owned()),
        published: Set(false),
        supervised: Set(false),
        version: Set(0),
        created_by_user_id: Set(Some(actor.user_id)),
        created_at: Set(now.fixed_offset()),
        updated_at: Set(now.fixed_offset()),
        ..Default::default()
    })
    .exec_with_returning(&txn)
    .await?;
    set_cosigners(&txn, proposal.id, &cosigners).await?;
    timeline::append(
        &txn,
        NewEvent {
            proposal_id: proposal.id,
            occurred_at: now,
            precision: Precision::Exact,
            actor_user_id: Some(actor.user_id),
            actor_label: &actor.display_name,
            action: TimelineAction::Drafted,
            from_status: None,
            to_status: Some(ProposalStatus::Draft),
            note: None,
            public: false,
            source_file: None,
            source_quote: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(proposal)
}

async fn set_cosigners<C: ConnectionTrait>(
    db: &C,
    proposal_id: i32,
    people: &[i32],
) -> AppResult<()> {
    proposal_cosigners::Entity::delete_many()
        .filter(proposal_cosigners::Column::ProposalId.eq(proposal_id))
        .exec(db)
        .await?;
    for person in people {
        proposal_cosigners::Entity::insert(proposal_cosigners::ActiveModel {
            proposal_id: Set(proposal_id),
            person_id: Set(*person),
            ..Default::default()
        })
        .exec(db)
        .await?;
    }
    Ok(())
}

/// Saves an edited draft; refuses if someone changed it since the form was loaded.
pub async fn update(
    db: &DatabaseConnection,
    actor: &Actor,
    proposal_id: i32,
    expected_version: i32,
    input: &DraftInput,
) -> AppResult<()> {
    let author = author_of(actor)?;
    let errors = validate(input);
    if !errors.is_empty() {
        return Err(AppError::BadRequest(errors.join(" ")));
    }
    let txn = crate::db::begin_write(db).await?;
    let proposal = proposals::Entity::find_by_id(proposal_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if proposal.author_id != Some(author) {
        return Err(AppError::NotFound);
    }
    if proposal.status != ProposalStatus::Draft.as_str() {
        return Err(AppError::Conflict("只有草稿可以修改。".into()));
    }
    let session_id = session_id_for(&txn, input.session_number).await?;
    let cosigners = resolve_cosigners(&txn, &input.cosigner_names(), author).await?;
    let channel = if session_id.is_some() {
        Channel::Session
    } else {
        Channel::Direct
    };
    let updated = proposals::Entity::update_many()
        .col_expr(proposals::Column::Title, input.title.trim().into())
        .col_expr(proposals::Column::BodyMd, input.body_md.clone().into())
        .col_expr(
            proposals::Column::Topics,
            serde_json::to_string(&input.topic_list())
                .map_err(anyhow::Error::from)?
                .into(),
        )
        .col_expr(proposals::Column::SessionId, session_id.into())
        .col_expr(proposals::Column::Channel, channel.as_str().into())
        .col_expr(proposals::Column::Version, (expected_version + 1).into())
        .col_expr(
            proposals::Column::UpdatedAt,
            Utc::now().fixed_offset().into(),
        )
        .filter(proposals::Column::Id.eq(proposal_id))
        .filter(proposals::Column::Version.eq(expected_version))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(super::handling::stale());
    }
    set_cosigners(&txn, proposal_id, &cosigners).await?;
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(title: &str, body: &str) -> DraftInput {
        DraftInput {
            title: title.into(),
            body_md: body.into(),
            ..Default::default()
        }
    }

    #[test]
    fn drafts_need_a_title_and_a_body_within_limits() {
        assert!(validate(&input("建立人才服务大数据平台", "正文")).is_empty());
        assert_eq!(validate(&input(" ", "")).len(), 2);
        assert!(!validate(&input(&"长".repeat(201), "正文")).is_empty());
        assert!(!validate(&input("标题", &"x".repeat(MAX_BODY_BYTES + 1))).is_empty());
        assert!(
            !validate(&input("标题\u{0}", "正文")).is_empty(),
            "NUL bytes are refused"
        );
    }

    #[test]
    fn lists_split_on_chinese_and_ascii_separators() {
        let d = DraftInput {
            topics: "科技金融、人才, 人才;产学研".into(),
            ..Default::default()
        };
        assert_eq!(d.topic_list(), vec!["科技金融", "人才", "产学研"]);
    }
}
