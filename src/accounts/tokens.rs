//! API tokens: created by an admin for one account, whose role and agency the token acts with;
//! stored as a SHA-256 hash (the token is shown once); revocable; last use recorded.
use chrono::Utc;
use entity::{api_tokens, users};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::Serialize;

use super::sessions::{actor_from, token_hash};
use super::Actor;
use crate::error::{AppError, AppResult};
use crate::keys::random_hex as random_token;

const PREFIX: &str = "ts_";

/// A token as the admin list shows it (never the token itself).
#[derive(Debug, Serialize)]
pub struct TokenListItem {
    pub id: i32,
    pub name: String,
    pub prefix: String,
    pub username: String,
    pub role: String,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    pub last_used_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub revoked_at: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// Creates a token acting as `username`; returns the plaintext, which is not stored.
pub async fn create(
    db: &DatabaseConnection,
    admin: Option<&Actor>,
    username: &str,
    name: &str,
) -> AppResult<(api_tokens::Model, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::bad_request("令牌名称须为 1–100 个字符。"));
    }
    let user = users::Entity::find()
        .filter(users::Column::Username.eq(username.trim()))
        .one(db)
        .await?
        .ok_or_else(|| AppError::bad_request("没有这个账号。"))?;
    if user.disabled {
        return Err(AppError::bad_request("该账号已停用。"));
    }
    let token = format!("{PREFIX}{}", random_token(32));
    let txn = crate::db::begin_write(db).await?;
    let model = api_tokens::Entity::insert(api_tokens::ActiveModel {
        name: Set(name.to_owned()),
        token_hash: Set(token_hash(&token)),
        prefix: Set(token[..PREFIX.len() + 6].to_owned()),
        user_id: Set(user.id),
        created_by_user_id: Set(admin.map(|a| a.user_id)),
        created_at: Set(Utc::now().fixed_offset()),
        ..Default::default()
    })
    .exec_with_returning(&txn)
    .await?;
    crate::audit::record(
        &txn,
        admin,
        "api_token.create",
        Some(format!("token {} for {}", model.prefix, user.username)),
        Some(name.to_owned()),
        None,
    )
    .await?;
    txn.commit().await?;
    Ok((model, token))
}

/// Revokes every token of the account (when it is disabled: re-enabling it must not bring back
/// tokens handed to systems while it was trusted). Returns how many were revoked.
pub async fn revoke_all<C: ConnectionTrait>(db: &C, user_id: i32) -> AppResult<u64> {
    Ok(api_tokens::Entity::update_many()
        .col_expr(
            api_tokens::Column::RevokedAt,
            Expr::value(Utc::now().fixed_offset()),
        )
        .filter(api_tokens::Column::UserId.eq(user_id))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}

pub async fn revoke(db: &DatabaseConnection, admin: Option<&Actor>, id: i32) -> AppResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let token = api_tokens::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if token.revoked_at.is_none() {
        api_tokens::Entity::update_many()
            .col_expr(
                api_tokens::Column::RevokedAt,
                Expr::value(Utc::now().fixed_offset()),
            )
            .filter(api_tokens::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        crate::audit::record(
            &txn,
            admin,
            "api_token.revoke",
            Some(format!("token {}", token.prefix)),
            None,
            None,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

pub async fn list<C: ConnectionTrait>(db: &C) -> AppResult<Vec<TokenListItem>> {
    let rows = api_tokens::Entity::find()
        .find_also_related(users::Entity)
        .order_by_desc(api_tokens::Column::Id)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(t, user)| TokenListItem {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            username: user
                .as_ref()
                .map(|u| u.username.clone())
                .unwrap_or_default(),
            role: user.map(|u| u.role).unwrap_or_default(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        })
        .collect())
}

/// How often a token's `last_used_at` is brought up to date.
const LAST_USED_RESOLUTION: chrono::Duration = chrono::Duration::seconds(60);

/// A valid token: its id (what the write-API limiter counts by) and the account it acts as.
#[derive(Clone, Debug)]
pub struct TokenActor {
    pub token_id: i32,
    pub actor: Actor,
}

/// The account a bearer token acts as; `None` for an unknown, revoked or disabled one.
pub async fn authenticate(db: &DatabaseConnection, token: &str) -> AppResult<Option<TokenActor>> {
    if !token.starts_with(PREFIX) || token.len() > 200 {
        return Ok(None);
    }
    let Some((row, Some(user))) = api_tokens::Entity::find()
        .filter(api_tokens::Column::TokenHash.eq(token_hash(token)))
        .find_also_related(users::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if row.revoked_at.is_some() || user.disabled {
        return Ok(None);
    }
    // "Last used" to the minute: writing it on every request cost each API call a second
    // durable commit (half the write throughput of the intake benchmark).
    let now = Utc::now();
    let stale = row
        .last_used_at
        .is_none_or(|at| now.signed_duration_since(at) >= LAST_USED_RESOLUTION);
    if stale {
        api_tokens::Entity::update_many()
            .col_expr(
                api_tokens::Column::LastUsedAt,
                Expr::value(now.fixed_offset()),
            )
            .filter(api_tokens::Column::Id.eq(row.id))
            .exec(db)
            .await?;
    }
    Ok(actor_from(&user).map(|actor| TokenActor {
        token_id: row.id,
        actor,
    }))
}
