//! What each user wants by mail, per kind of notification: at once, in the daily digest, or not
//! at all. Without a row a kind comes at once. Deadline reminders to the lead agency come
//! whatever the choice (`delivery::routes`).
use std::collections::HashMap;

use entity::mail_preferences;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::Kind;
use crate::accounts::Role;

crate::vocabulary! {
    /// How a kind of notification reaches a user by mail.
    pub enum Mode {
        Now = "now" => "立即发送",
        Digest = "digest" => "每日汇总",
        Off = "off" => "不发送",
    }
}

/// The kinds a user of `role` can receive, in the order the settings page lists them.
pub fn kinds_for(role: Role) -> &'static [Kind] {
    use Kind::*;
    match role {
        Role::Member => &[
            Decision, Assigned, Progress, Answered, Closed, Extended, Paused, Resumed, Reopened,
            Supervised,
        ],
        Role::AgencyStaff => &[
            Assigned, DueSoon, Overdue, Rated, Reopened, CoOpinion, Extended, Supervised, Returned,
        ],
        Role::Secretariat | Role::Admin => &[
            Submitted, Withdrawn, Returned, Rated, CoOpinion, Answered, Overdue,
        ],
    }
}

pub async fn modes_for<C: ConnectionTrait>(
    db: &C,
    users: &[i32],
    kind: Kind,
) -> Result<HashMap<i32, Mode>, DbErr> {
    Ok(mail_preferences::Entity::find()
        .filter(mail_preferences::Column::UserId.is_in(users.iter().copied()))
        .filter(mail_preferences::Column::Kind.eq(kind.as_str()))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|row| Some((row.user_id, Mode::parse(&row.mode)?)))
        .collect())
}

/// Every kind of `role` with the user's mode (the default where none was chosen).
pub async fn of_user<C: ConnectionTrait>(
    db: &C,
    user: i32,
    role: Role,
) -> Result<Vec<(Kind, Mode)>, DbErr> {
    let chosen: HashMap<String, Mode> = mail_preferences::Entity::find()
        .filter(mail_preferences::Column::UserId.eq(user))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|row| Some((row.kind, Mode::parse(&row.mode)?)))
        .collect();
    Ok(kinds_for(role)
        .iter()
        .map(|kind| {
            (
                *kind,
                chosen.get(kind.as_str()).copied().unwrap_or(Mode::Now),
            )
        })
        .collect())
}

pub async fn set<C: ConnectionTrait>(
    db: &C,
    user: i32,
    kind: Kind,
    mode: Mode,
) -> Result<(), DbErr> {
    mail_preferences::Entity::insert(mail_preferences::ActiveModel {
        user_id: Set(user),
        kind: Set(kind.as_str().to_owned()),
        mode: Set(mode.as_str().to_owned()),
    })
    .on_conflict(
        OnConflict::columns([
            mail_preferences::Column::UserId,
            mail_preferences::Column::Kind,
        ])
        .update_column(mail_preferences::Column::Mode)
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}
