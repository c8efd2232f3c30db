//! Each signed-in user's inbox. Notifications are written by the workflow in the same transaction as
//! the event that causes them; deadline reminders are computed when the inbox is read.
use chrono::Utc;
use entity::{notifications, users};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::Role;

/// Who should hear about an event.
pub enum Audience<'a> {
    Secretariat,
    Person(i32),
    Agencies(&'a [i32]),
}

pub async fn users_in<C: ConnectionTrait>(
    db: &C,
    audience: &Audience<'_>,
) -> Result<Vec<i32>, sea_orm::DbErr> {
    let condition = match audience {
        Audience::Secretariat => {
            users::Column::Role.is_in([Role::Secretariat.as_str(), Role::Admin.as_str()])
        }
        Audience::Person(id) => users::Column::PersonId.eq(*id),
        Audience::Agencies(ids) => users::Column::AgencyId.is_in(ids.iter().copied()),
    };
    Ok(users::Entity::find()
        .filter(
            Condition::all()
                .add(condition)
                .add(users::Column::Disabled.eq(false)),
        )
        .all(db)
        .await?
        .into_iter()
        .map(|u| u.id)
        .collect())
}

pub async fn notify<C: ConnectionTrait>(
    db: &C,
    audience: Audience<'_>,
    except_user: Option<i32>,
    proposal_id: i32,
    kind: &str,
    message: &str,
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now().fixed_offset();
    let rows: Vec<notifications::ActiveModel> = users_in(db, &audience)
        .await?
        .into_iter()
        .filter(|id| Some(*id) != except_user)
        .map(|user_id| notifications::ActiveModel {
            user_id: Set(user_id),
            proposal_id: Set(Some(proposal_id)),
            kind: Set(kind.to_owned()),
            message: Set(message.to_owned()),
            created_at: Set(now),
            read_at: Set(None),
            ..Default::default()
        })
        .collect();
    if !rows.is_empty() {
        notifications::Entity::insert_many(rows).exec(db).await?;
    }
    Ok(())
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
