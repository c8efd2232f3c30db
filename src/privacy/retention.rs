//! Retention of the personal data the system collects itself: IP addresses and user agents in
//! the audit log and the login records are kept for a configured number of days
//! (`Config::personal_data_retention_days`), then removed by a daily job. The entries stay (who
//! did what, when); only the address and agent go. Failed-login records exist for their address
//! and name, so they go whole. Email subscriptions never confirmed go when their confirmation
//! link has expired (an ended one is deleted at once); messages sent or refused for good go after
//! the same number of days as addresses.
use chrono::{DateTime, Utc};
use entity::{audit_log, login_attempts, login_sessions, mail_outbox, subscriptions};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

/// What one run removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub audit_addresses: u64,
    pub session_addresses: u64,
    pub login_attempts: u64,
    pub unconfirmed_subscriptions: u64,
    pub old_messages: u64,
}

/// Removes what is older than `days` before `now`.
pub async fn purge<C: ConnectionTrait>(
    db: &C,
    now: DateTime<Utc>,
    days: i64,
) -> Result<Purged, sea_orm::DbErr> {
    let cutoff = (now - chrono::Duration::days(days)).fixed_offset();
    let audit_addresses = audit_log::Entity::update_many()
        .col_expr(audit_log::Column::Ip, Expr::value(Option::<String>::None))
        .filter(audit_log::Column::At.lt(cutoff))
        .filter(audit_log::Column::Ip.is_not_null())
        .exec(db)
        .await?
        .rows_affected;
    let session_addresses = login_sessions::Entity::update_many()
        .col_expr(
            login_sessions::Column::Ip,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            login_sessions::Column::UserAgent,
            Expr::value(Option::<String>::None),
        )
        .filter(login_sessions::Column::LastSeenAt.lt(cutoff))
        .filter(
            sea_orm::Condition::any()
                .add(login_sessions::Column::Ip.is_not_null())
                .add(login_sessions::Column::UserAgent.is_not_null()),
        )
        .exec(db)
        .await?
        .rows_affected;
    let login_attempts = login_attempts::Entity::delete_many()
        .filter(login_attempts::Column::AttemptedAt.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected;
    let unconfirmed_subscriptions = subscriptions::Entity::delete_many()
        .filter(subscriptions::Column::ConfirmedAt.is_null())
        .filter(
            subscriptions::Column::CreatedAt
                .lt((now - crate::mail::links::CONFIRM_LIFETIME).fixed_offset()),
        )
        .exec(db)
        .await?
        .rows_affected;
    // Sent or refused messages hold addresses and internal text: kept as long as addresses are.
    let old_messages = mail_outbox::Entity::delete_many()
        .filter(
            sea_orm::Condition::any()
                .add(mail_outbox::Column::SentAt.lt(cutoff))
                .add(mail_outbox::Column::FailedAt.lt(cutoff)),
        )
        .exec(db)
        .await?
        .rows_affected;
    Ok(Purged {
        old_messages,
        audit_addresses,
        session_addresses,
        login_attempts,
        unconfirmed_subscriptions,
    })
}
