//! Items pushed in by other systems (the 12345 hotline, 青诉即办 …): registered as submitted, with
//! no member author, idempotent on the sender's ticket number (`external_id`). The secretariat then
//! accepts and assigns them through the ordinary workflow.
use chrono::{Datelike, Utc};
use entity::{callers, intake_receipts, proposals};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;

use std::collections::{HashMap, HashSet};

use super::drafts::next_codes;
use crate::accounts::Actor;
use crate::error::{AppError, AppResult};
use crate::followup::timeline::{self, NewEvent};
use crate::privacy::{self, store::ItemKind};
use crate::time::Precision;
use crate::web::form::{check_text, MAX_BODY_BYTES};
use crate::workflow::TimelineAction;
use crate::workflow::{Channel, ProposalStatus};

pub struct NewIntake {
    pub channel: String,
    pub external_id: String,
    pub title: String,
    pub body_md: String,
    pub topics: Vec<String>,
    /// The caller, never public (`callers`); the text is checked for the name.
    pub caller_name: Option<String>,
    pub caller_phone: Option<String>,
}

/// A registered item and how many pieces of possible personal information in it wait for the
/// secretariat's review.
#[derive(Clone, Debug)]
pub struct Registered {
    pub proposal: proposals::Model,
    pub findings: usize,
}

/// What a push carried, as SHA-256 digests per field (`intake_receipts`): a repeated ticket number
/// with the same content is a retry, with other content a conflict that names the fields.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Receipt {
    channel: String,
    title: String,
    body: String,
    topics: String,
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Receipt {
    fn of(channel: Channel, input: &NewIntake) -> Self {
        Self {
            channel: sha256_hex(channel.as_str()),
            title: sha256_hex(input.title.trim()),
            body: sha256_hex(&input.body_md),
            topics: sha256_hex(&input.topics.join("\n")),
        }
    }

    fn stored(row: intake_receipts::Model) -> Self {
        Self {
            channel: row.channel_digest,
            title: row.title_digest,
            body: row.body_digest,
            topics: row.topics_digest,
        }
    }

    /// The fields (as the API names them) in which `self` differs from `other`.
    fn differences(&self, other: &Self) -> Vec<&'static str> {
        [
            ("channel", self.channel != other.channel),
            ("title", self.title != other.title),
            ("body_md", self.body != other.body),
            ("topics", self.topics != other.topics),
        ]
        .into_iter()
        .filter_map(|(name, differs)| differs.then_some(name))
        .collect()
    }
}

/// Ticket numbers: 1–64 characters of letters, digits and `-_./:`.
pub fn is_valid_external_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:".contains(&b))
}

/// The channels an outside system may push through (session proposals come from members).
pub fn intake_channel(value: &str) -> Option<Channel> {
    Channel::parse(value).filter(|c| *c != Channel::Session)
}

fn validate(input: &NewIntake) -> AppResult<Channel> {
    let channel = intake_channel(&input.channel).ok_or_else(|| {
        AppError::bad_request("channel 须为 hotline_12345、qingsu、sanmin 或 direct。")
    })?;
    if !is_valid_external_id(&input.external_id) {
        return Err(AppError::bad_request(
            "external_id 须为 1–64 位字母、数字或 -_./: 。",
        ));
    }
    let mut errors = Vec::new();
    for (label, text, max) in [
        ("标题", input.title.as_str(), 300),
        ("正文", input.body_md.as_str(), MAX_BODY_BYTES),
    ] {
        if let Err(e) = check_text(label, text, max, true) {
            errors.push(e);
        }
    }
    if input.topics.len() > 20 || input.topics.iter().any(|t| t.chars().count() > 50) {
        errors.push("主题最多 20 个,每个不超过 50 字。".to_owned());
    }
    for topic in &input.topics {
        if let Err(e) = check_text("主题", topic, 200, true) {
            errors.push(e);
        }
    }
    for (label, value) in [
        ("来电人姓名", &input.caller_name),
        ("来电人电话", &input.caller_phone),
    ] {
        if let Some(Err(e)) = value.as_deref().map(|v| check_text(label, v, 100, false)) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(channel)
    } else {
        Err(AppError::BadRequest(errors.join(" ")))
    }
}

/// Registers pushed items in groups. Each item must be durable before it is acknowledged, and a
/// durable SQLite commit costs a disk flush (2.5 ms here): one transaction per item capped the
/// intake near 400/s. Pushes that arrive while a group is being written wait and are written
/// together in the next transaction; if any of them fails, the group is written again item by
/// item, so one item's failure does not touch the others. Every answer is sent only after its
/// commit.
#[derive(Default)]
pub struct IntakeBatcher {
    pending: std::sync::Mutex<Vec<Pending>>,
    /// Held while a group is written; the next holder takes everything queued meanwhile.
    turn: tokio::sync::Mutex<()>,
}

struct Pending {
    actor: Actor,
    channel: Channel,
    input: NewIntake,
    answer: oneshot::Sender<AppResult<(Registered, bool)>>,
}

/// Most items written in one transaction.
const MAX_GROUP: usize = 256;

impl IntakeBatcher {
    /// Registers the item, or returns the one already registered under its ticket number
    /// (`false` = not created now).
    pub async fn register(
        &self,
        db: &DatabaseConnection,
        actor: &Actor,
        input: NewIntake,
    ) -> AppResult<(Registered, bool)> {
        crate::accounts::policy::require(actor, crate::accounts::policy::Action::RegisterIntake)?;
        let channel = validate(&input)?;
        let (answer, answered) = oneshot::channel();
        self.queue().push(Pending {
            actor: actor.clone(),
            channel,
            input,
            answer,
        });
        let lost = || AppError::Internal(anyhow::anyhow!("intake group ended without an answer"));
        let mut answered = answered;
        loop {
            let turn = self.turn.lock().await;
            // Written by the holder before us while we waited: leave without taking a group,
            // or every waiter would write just the newest push (a convoy of groups of one).
            match answered.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => return Err(lost()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let group: Vec<Pending> = {
                let mut queue = self.queue();
                let n = queue.len().min(MAX_GROUP);
                queue.drain(..n).collect()
            };
            if group.is_empty() {
                // Groups are answered before the turn is released, so an empty queue with our
                // answer missing means the writer task died; the wait below reports it.
                break;
            }
            // Spawned, so a client hanging up mid-write cannot cancel the others' commit.
            let _ = tokio::spawn(write_group(db.clone(), group)).await;
            drop(turn);
        }
        answered.await.map_err(|_| lost())?
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn write_group(db: DatabaseConnection, group: Vec<Pending>) {
    let items: Vec<&Pending> = group.iter().collect();
    tracing::debug!(items = items.len(), "intake group");
    let results: Vec<AppResult<(Registered, bool)>> = match write_items(&db, &items).await {
        Ok(done) => done.into_iter().map(Ok).collect(),
        // Something in the group failed and nothing of it was written: each item goes alone,
        // so only the one at fault gets the error.
        Err(err) => {
            tracing::warn!(items = items.len(), error = %format!("{err:#}"), "intake group failed; writing its items one by one");
            let mut alone = Vec::with_capacity(items.len());
            for item in &items {
                alone.push(write_alone(&db, item).await);
            }
            alone
        }
    };
    for (item, result) in group.into_iter().zip(results) {
        let _ = item.answer.send(result);
    }
}

async fn write_alone(db: &DatabaseConnection, item: &Pending) -> AppResult<(Registered, bool)> {
    match write_items(db, &[item]).await {
        Ok(mut done) => done
            .pop()
            .ok_or_else(|| anyhow::anyhow!("intake wrote nothing").into()),
        // Another instance pushed the same ticket first (PostgreSQL): return that one.
        Err(AppError::Database(err))
            if matches!(
                err.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            let found = by_ticket(&item.input.external_id)
                .one(db)
                .await?
                .ok_or(AppError::Database(err))?;
            Ok((registered(db, found).await?, false))
        }
        Err(err) => Err(err),
    }
}

fn by_ticket(external_id: &str) -> sea_orm::Select<proposals::Entity> {
    proposals::Entity::find().filter(proposals::Column::ExternalId.eq(external_id))
}

/// An item registered before, with its findings still waiting for review.
async fn registered<C: ConnectionTrait>(
    db: &C,
    proposal: proposals::Model,
) -> AppResult<Registered> {
    let findings = privacy::store::unreviewed(db, ItemKind::Proposal, proposal.id).await?;
    Ok(Registered { proposal, findings })
}

/// Writes the items in one transaction: one lookup of their tickets, one block of codes, then
/// per new item the proposal, its caller, its findings, a timeline event and an audit entry.
async fn write_items(
    db: &DatabaseConnection,
    items: &[&Pending],
) -> AppResult<Vec<(Registered, bool)>> {
    let txn = crate::db::begin_write(db).await?;
    let tickets: Vec<String> = items.iter().map(|p| p.input.external_id.clone()).collect();
    let mut known: HashMap<String, proposals::Model> = proposals::Entity::find()
        .filter(proposals::Column::ExternalId.is_in(tickets.clone()))
        .all(&txn)
        .await?
        .into_iter()
        .filter_map(|p| Some((p.external_id.clone()?, p)))
        .collect();
    // Items registered before receipts were kept have none: their repeats are taken as retries.
    let mut receipts: HashMap<i32, Receipt> = intake_receipts::Entity::find()
        .filter(intake_receipts::Column::ProposalId.is_in(known.values().map(|p| p.id)))
        .all(&txn)
        .await?
        .into_iter()
        .map(|row| (row.proposal_id, Receipt::stored(row)))
        .collect();
    let new_tickets: HashSet<&String> =
        tickets.iter().filter(|t| !known.contains_key(*t)).collect();
    let mut codes = if new_tickets.is_empty() {
        Vec::new()
    } else {
        next_codes(
            &txn,
            crate::time::today().year(),
            None,
            new_tickets.len() as i32,
        )
        .await?
    }
    .into_iter();
    let mut done = Vec::with_capacity(items.len());
    for item in items {
        let receipt = Receipt::of(item.channel, &item.input);
        if let Some(found) = known.get(&item.input.external_id) {
            if let Some(first) = receipts.get(&found.id) {
                let differences = receipt.differences(first);
                if !differences.is_empty() {
                    return Err(AppError::Conflict(format!(
                        "工单号 {} 已于此前收到,内容不同({} 与首次推送不一致),本次推送未保存。更正内容请联系秘书处,或以新的工单号推送。",
                        item.input.external_id,
                        differences.join("、")
                    )));
                }
            }
            done.push((registered(&txn, found.clone()).await?, false));
            continue;
        }
        let code = codes
            .next()
            .ok_or_else(|| anyhow::anyhow!("fewer codes than new tickets"))?;
        let registered = insert_one(&txn, item, code).await?;
        intake_receipts::Entity::insert(intake_receipts::ActiveModel {
            proposal_id: Set(registered.proposal.id),
            channel_digest: Set(receipt.channel.clone()),
            title_digest: Set(receipt.title.clone()),
            body_digest: Set(receipt.body.clone()),
            topics_digest: Set(receipt.topics.clone()),
            created_at: Set(Utc::now().fixed_offset()),
            ..Default::default()
        })
        .exec(&txn)
        .await?;
        receipts.insert(registered.proposal.id, receipt);
        known.insert(item.input.external_id.clone(), registered.proposal.clone());
        done.push((registered, true));
    }
    txn.commit().await?;
    Ok(done)
}

/// Inserts one new item with its caller, its findings, its timeline event and audit entry.
async fn insert_one<C: ConnectionTrait>(
    txn: &C,
    item: &Pending,
    code: String,
) -> AppResult<Registered> {
    let (actor, channel, input) = (&item.actor, item.channel, &item.input);
    let now = Utc::now();
    let proposal = proposals::Entity::insert(proposals::ActiveModel {
        code: Set(code),
        external_id: Set(Some(input.external_id.clone())),
        channel: Set(channel.as_str().to_owned()),
        title: Set(input.title.trim().to_owned()),
        body_md: Set(input.body_md.clone()),
        topics: Set(serde_json::to_string(&input.topics).map_err(anyhow::Error::from)?),
        status: Set(ProposalStatus::Submitted.as_str().to_owned()),
        // Published when the secretariat accepts it, like a member's proposal.
        published: Set(false),
        supervised: Set(false),
        submitted_at: Set(Some(now.fixed_offset())),
        version: Set(0),
        created_by_user_id: Set(Some(actor.user_id)),
        created_at: Set(now.fixed_offset()),
        updated_at: Set(now.fixed_offset()),
        ..Default::default()
    })
    .exec_with_returning(txn)
    .await?;
    let caller_name = input
        .caller_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let caller_phone = input
        .caller_phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if caller_name.is_some() || caller_phone.is_some() {
        callers::Entity::insert(callers::ActiveModel {
            proposal_id: Set(proposal.id),
            name: Set(caller_name.map(str::to_owned)),
            phone: Set(caller_phone.map(str::to_owned)),
            created_at: Set(now.fixed_offset()),
            ..Default::default()
        })
        .exec(txn)
        .await?;
    }
    let proposal =
        if crate::redaction::service::apply_rules_to(txn, ItemKind::Proposal, proposal.id).await?
            > 0
        {
            proposals::Entity::find_by_id(proposal.id)
                .one(txn)
                .await?
                .ok_or(AppError::NotFound)?
        } else {
            proposal
        };
    let names: Vec<&str> = caller_name.into_iter().collect();
    let mut findings = 0;
    for (field, text) in [("title", &proposal.title), ("body_md", &proposal.body_md)] {
        findings +=
            privacy::store::record(txn, ItemKind::Proposal, proposal.id, field, text, &names)
                .await?;
    }
    timeline::append(
        txn,
        NewEvent {
            proposal_id: proposal.id,
            occurred_at: now,
            precision: Precision::Exact,
            actor_user_id: Some(actor.user_id),
            actor_label: &actor.display_name,
            action: TimelineAction::Submitted,
            from_status: None,
            to_status: Some(ProposalStatus::Submitted),
            note: Some(format!(
                "经{}转入,工单号 {}",
                channel.label(),
                input.external_id
            )),
            public: false,
            source_file: None,
            source_quote: None,
        },
    )
    .await?;
    crate::audit::record(
        txn,
        Some(actor),
        "intake",
        Some(proposal.code.clone()),
        Some(format!("{} {}", channel.as_str(), input.external_id)),
        None,
    )
    .await?;
    Ok(Registered { proposal, findings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_numbers_are_short_and_plain() {
        assert!(is_valid_external_id("12345-20261123-0001"));
        assert!(!is_valid_external_id(""));
        assert!(!is_valid_external_id("a b"));
        assert!(!is_valid_external_id("x'; drop table proposals;--"));
        assert!(!is_valid_external_id(&"9".repeat(65)));
    }

    #[test]
    fn members_own_the_session_channel() {
        assert_eq!(intake_channel("hotline_12345"), Some(Channel::Hotline12345));
        assert_eq!(intake_channel("session"), None);
        assert_eq!(intake_channel("email"), None);
    }
}
