//! The mail outbox: one row per message, written in the transaction of the event that causes
//! it and sent later by [`super::sender`]. A row's `Message-ID` is fixed when it is written, so a
//! message sent again after a crash (sent, but not yet marked) is recognisably the same message.
use chrono::{DateTime, Utc};
use entity::mail_outbox;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::compose::Letter;

/// A message to write to the outbox.
pub struct Outgoing {
    pub recipient: String,
    /// What the message is about (`assigned`, `confirm_account`, `digest`, `test`, …).
    pub kind: String,
    pub letter: Letter,
    /// The one-click unsubscribe address, for messages someone asked for and can stop.
    pub unsubscribe_url: Option<String>,
}

/// Writes `message` to the outbox; returns its `Message-ID` (at the public site's host).
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    config: &crate::config::Config,
    message: Outgoing,
) -> Result<String, DbErr> {
    let now = Utc::now().fixed_offset();
    let message_id = format!(
        "<{}@{}>",
        crate::keys::random_hex(16),
        domain_of(&config.public_url)
    );
    mail_outbox::Entity::insert(mail_outbox::ActiveModel {
        message_id: Set(message_id.clone()),
        recipient: Set(message.recipient),
        kind: Set(message.kind),
        subject: Set(message.letter.subject),
        text_body: Set(message.letter.text),
        html_body: Set(message.letter.html),
        unsubscribe_url: Set(message.unsubscribe_url),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        last_reply: Set(None),
        sent_at: Set(None),
        failed_at: Set(None),
        ..Default::default()
    })
    .exec_without_returning(db)
    .await?;
    Ok(message_id)
}

/// The host part of the public address, for `Message-ID`s (`localhost` when it has none).
fn domain_of(public_url: &str) -> String {
    url::Url::parse(public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// How the outbox stands (for `/metrics`, `/readyz` and the admin page).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Not yet sent, including those waiting for a retry.
    pub pending: u64,
    /// Waiting for a retry after a failed attempt.
    pub retrying: u64,
    /// Refused for good.
    pub failed: u64,
    pub sent: u64,
}

pub async fn counts<C: ConnectionTrait>(db: &C) -> Result<Counts, DbErr> {
    let unsent = || {
        mail_outbox::Entity::find()
            .filter(mail_outbox::Column::SentAt.is_null())
            .filter(mail_outbox::Column::FailedAt.is_null())
    };
    Ok(Counts {
        pending: unsent().count(db).await?,
        retrying: unsent()
            .filter(mail_outbox::Column::Attempts.gt(0))
            .count(db)
            .await?,
        failed: mail_outbox::Entity::find()
            .filter(mail_outbox::Column::FailedAt.is_not_null())
            .count(db)
            .await?,
        sent: mail_outbox::Entity::find()
            .filter(mail_outbox::Column::SentAt.is_not_null())
            .count(db)
            .await?,
    })
}

/// The messages refused for good and those being retried, newest first.
pub async fn troubled<C: ConnectionTrait>(
    db: &C,
    limit: u64,
) -> Result<Vec<mail_outbox::Model>, DbErr> {
    mail_outbox::Entity::find()
        .filter(mail_outbox::Column::SentAt.is_null())
        .filter(
            sea_orm::Condition::any()
                .add(mail_outbox::Column::FailedAt.is_not_null())
                .add(mail_outbox::Column::Attempts.gt(0)),
        )
        .order_by_desc(mail_outbox::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// Up to `limit` messages due at `now` and held by no sender, oldest first.
pub async fn due<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<mail_outbox::Model>, DbErr> {
    mail_outbox::Entity::find()
        .filter(mail_outbox::Column::SentAt.is_null())
        .filter(mail_outbox::Column::FailedAt.is_null())
        .filter(mail_outbox::Column::NextAttemptAt.lte(now.fixed_offset()))
        .filter(free_at(now))
        .order_by_asc(mail_outbox::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

fn free_at(now: DateTime<Utc>) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(mail_outbox::Column::ClaimedUntil.is_null())
        .add(mail_outbox::Column::ClaimedUntil.lt(now.fixed_offset()))
}

/// Claims message `id` for `lease`, just before sending it: a conditional update of its row, so
/// two senders never both win. A sender killed mid-send holds one message, until its lease ends.
pub async fn claim<C: ConnectionTrait>(
    db: &C,
    id: i32,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> Result<Option<Claim>, DbErr> {
    let until = (now + lease).fixed_offset();
    let won = mail_outbox::Entity::update_many()
        .col_expr(
            mail_outbox::Column::ClaimedUntil,
            sea_orm::sea_query::Expr::value(until),
        )
        .filter(mail_outbox::Column::Id.eq(id))
        .filter(mail_outbox::Column::SentAt.is_null())
        .filter(mail_outbox::Column::FailedAt.is_null())
        .filter(mail_outbox::Column::NextAttemptAt.lte(now.fixed_offset()))
        .filter(free_at(now))
        .exec(db)
        .await?
        .rows_affected
        == 1;
    Ok(won.then_some(Claim { until }))
}

/// A sender's hold on one message: what it recorded as `claimed_until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    until: chrono::DateTime<chrono::FixedOffset>,
}

/// What became of one attempt.
pub enum Outcome {
    Sent {
        reply: String,
    },
    /// Try again at `next` (a 4xx reply, or the server could not be reached).
    Retry {
        reply: String,
        next: DateTime<Utc>,
    },
    /// Refused for good (a 5xx reply, an unusable address, or too many attempts).
    Failed {
        reply: String,
    },
}

/// Records what became of the attempt made under `claim`; false (nothing written) when the claim
/// had lapsed and another sender took the message meanwhile: its record stands.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    row: &mail_outbox::Model,
    claim: Claim,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let now = now.fixed_offset();
    let mut update = mail_outbox::Entity::update_many()
        .col_expr(mail_outbox::Column::Attempts, Expr::value(row.attempts + 1))
        .col_expr(
            mail_outbox::Column::ClaimedUntil,
            Expr::value(Option::<chrono::DateTime<chrono::FixedOffset>>::None),
        );
    let reply = match outcome {
        Outcome::Sent { reply } => {
            update = update.col_expr(mail_outbox::Column::SentAt, Expr::value(Some(now)));
            reply
        }
        Outcome::Retry { reply, next } => {
            update = update.col_expr(
                mail_outbox::Column::NextAttemptAt,
                Expr::value(next.fixed_offset()),
            );
            reply
        }
        Outcome::Failed { reply } => {
            update = update.col_expr(mail_outbox::Column::FailedAt, Expr::value(Some(now)));
            reply
        }
    };
    Ok(update
        .col_expr(mail_outbox::Column::LastReply, Expr::value(Some(reply)))
        .filter(mail_outbox::Column::Id.eq(row.id))
        .filter(mail_outbox::Column::ClaimedUntil.eq(claim.until))
        .exec(db)
        .await?
        .rows_affected
        == 1)
}
