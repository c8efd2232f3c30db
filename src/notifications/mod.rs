//! What users hear about their work. A notification is a row in a user's inbox (`/me`), written
//! by the workflow in the transaction of the event that causes it; a user with a confirmed
//! address also gets it by mail, at once or in a daily digest, as they chose per kind
//! ([`preferences`]). The message is written to the mail outbox in that same transaction
//! ([`delivery`]), so an acknowledged step never loses its mail. Deadline reminders
//! ([`reminders`]) are notifications too, written once per proposal, agency and threshold.
use chrono::Utc;
use entity::{notifications, users};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::accounts::Role;
use crate::config::Config;

pub mod delivery;
pub mod preferences;
pub mod reminders;
mod routes;
pub mod subscriptions;

pub use routes::routes;

crate::vocabulary! {
    /// What a notification is about; users choose per kind how it reaches them by mail.
    pub enum Kind {
        Submitted = "submitted" => "委员提交建议",
        Withdrawn = "withdrawn" => "委员撤回建议",
        Decision = "decision" => "立案结果",
        Assigned = "assigned" => "交办",
        Returned = "returned" => "退回交办",
        Reopened = "reopened" => "重新办理",
        CoOpinion = "co_opinion" => "协办意见",
        Progress = "progress" => "办理进展",
        Answered = "answered" => "书面答复",
        Rated = "rated" => "委员评价",
        Closed = "closed" => "办结",
        Extended = "extended" => "延长答复期限",
        Supervised = "supervised" => "督办",
        Paused = "paused" => "暂停计时",
        Resumed = "resumed" => "恢复计时",
        DueSoon = "due_soon" => "答复期限临近",
        Overdue = "overdue" => "答复逾期",
    }
}

/// Who should hear about an event.
pub enum Audience<'a> {
    Secretariat,
    Person(i32),
    Agencies(&'a [i32]),
    /// The users of these agencies who may not switch the message off (deadline reminders to
    /// the lead agency).
    AgenciesRequired(&'a [i32]),
}

pub async fn users_in<C: ConnectionTrait>(
    db: &C,
    audience: &Audience<'_>,
) -> Result<Vec<users::Model>, sea_orm::DbErr> {
    let condition = match audience {
        Audience::Secretariat => {
            users::Column::Role.is_in([Role::Secretariat.as_str(), Role::Admin.as_str()])
        }
        Audience::Person(id) => users::Column::PersonId.eq(*id),
        Audience::Agencies(ids) | Audience::AgenciesRequired(ids) => {
            users::Column::AgencyId.is_in(ids.iter().copied())
        }
    };
    users::Entity::find()
        .filter(
            Condition::all()
                .add(condition)
                .add(users::Column::Disabled.eq(false)),
        )
        .order_by_asc(users::Column::Id)
        .all(db)
        .await
}

/// One event to tell an audience about.
pub struct Notice<'a> {
    /// The proposal it is about; `None` for a summary (its link is the workspace).
    pub proposal_id: Option<i32>,
    pub kind: Kind,
    pub message: &'a str,
}

/// Writes `notice` into the inbox of everyone in `audience` but `except_user` (who caused it),
/// and into the mail outbox for those who want it by mail now.
pub async fn notify<C: ConnectionTrait>(
    db: &C,
    config: &Config,
    audience: Audience<'_>,
    except_user: Option<i32>,
    notice: Notice<'_>,
) -> crate::error::AppResult<()> {
    let now = Utc::now().fixed_offset();
    let required = matches!(audience, Audience::AgenciesRequired(_));
    let recipients: Vec<users::Model> = users_in(db, &audience)
        .await?
        .into_iter()
        .filter(|u| Some(u.id) != except_user)
        .collect();
    if recipients.is_empty() {
        return Ok(());
    }
    let routes = delivery::routes(db, config, &recipients, notice.kind, required).await?;
    let rows: Vec<notifications::ActiveModel> = recipients
        .iter()
        .zip(&routes)
        .map(|(user, route)| notifications::ActiveModel {
            user_id: Set(user.id),
            proposal_id: Set(notice.proposal_id),
            kind: Set(notice.kind.as_str().to_owned()),
            message: Set(notice.message.to_owned()),
            created_at: Set(now),
            read_at: Set(None),
            mail: Set(route.stored().map(str::to_owned)),
            ..Default::default()
        })
        .collect();
    notifications::Entity::insert_many(rows).exec(db).await?;
    delivery::send_now(db, config, &recipients, &routes, &notice, required).await
}

pub async fn unread_count<C: ConnectionTrait>(db: &C, user_id: i32) -> Result<u64, sea_orm::DbErr> {
    notifications::Entity::find()
        .filter(notifications::Column::UserId.eq(user_id))
        .filter(notifications::Column::ReadAt.is_null())
        .count(db)
        .await
}

pub async fn recent<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    limit: u64,
) -> Result<Vec<notifications::Model>, sea_orm::DbErr> {
    notifications::Entity::find()
        .filter(notifications::Column::UserId.eq(user_id))
        .order_by_desc(notifications::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub async fn mark_all_read<C: ConnectionTrait>(db: &C, user_id: i32) -> Result<(), sea_orm::DbErr> {
    notifications::Entity::update_many()
        .col_expr(
            notifications::Column::ReadAt,
            sea_orm::sea_query::Expr::value(Utc::now().fixed_offset()),
        )
        .filter(notifications::Column::UserId.eq(user_id))
        .filter(notifications::Column::ReadAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The daily mail work, at `digest_hour` China time: deadline reminders for the day, then every
/// waiting digest. Runs at most once a day per instance; a second instance or a restart the same
/// day repeats nothing (reminders are written once, digest items are marked as they go out).
pub async fn run_daily(
    db: sea_orm::DatabaseConnection,
    config: std::sync::Arc<Config>,
    search: crate::search::Backend,
) {
    use chrono::Timelike;
    let mut done_on: Option<chrono::NaiveDate> = None;
    let mut every_minute = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every_minute.tick().await;
        let local = Utc::now().with_timezone(&crate::time::china());
        if local.hour() != config.digest_hour || done_on == Some(local.date_naive()) {
            continue;
        }
        done_on = Some(local.date_naive());
        match daily(&db, &config, &search, local.date_naive()).await {
            Ok(done) => tracing::info!(?done, "daily mail work done"),
            Err(err) => tracing::warn!(error = %err, "daily mail work failed; retried tomorrow"),
        }
    }
}

/// What one day's mail work wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Daily {
    pub reminders: usize,
    pub digests: usize,
    pub subscription_updates: usize,
}

/// One day's reminders, digests and subscription updates.
pub async fn daily(
    db: &sea_orm::DatabaseConnection,
    config: &Config,
    search: &crate::search::Backend,
    today: chrono::NaiveDate,
) -> crate::error::AppResult<Daily> {
    let reminders = reminders::write_due(db, config, today).await?
        + reminders::weekly_summary(db, config, today).await?;
    let digests = delivery::send_digests(db, config).await?;
    let subscription_updates = subscriptions::send_updates(db, config, search).await?;
    Ok(Daily {
        reminders,
        digests,
        subscription_updates,
    })
}
