//! Server-side login sessions in the database, so any app instance can serve any request. The cookie
//! holds a 256-bit random token; the table holds only its SHA-256. Sessions end after 2 hours idle,
//! 12 hours in all, when the user is disabled, or when the password changes.
use chrono::{DateTime, Duration, Utc};
use entity::{login_sessions, users};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use super::{Actor, Role};
use crate::keys::random_hex as random_token;

pub const IDLE_TIMEOUT: Duration = Duration::hours(2);
pub const ABSOLUTE_TIMEOUT: Duration = Duration::hours(12);
/// `last_seen_at` is refreshed at most this often, to keep reads from writing on every request.
const TOUCH_EVERY: Duration = Duration::minutes(1);

#[derive(Clone, Debug)]
pub struct Session {
    pub id: i32,
    pub actor: Actor,
    pub csrf_token: String,
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn actor_from(user: &users::Model) -> Option<Actor> {
    Some(Actor {
        user_id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        role: Role::parse(&user.role)?,
        person_id: user.person_id,
        agency_id: user.agency_id,
    })
}

/// Starts a new session (a fresh id at every login) and returns the cookie token.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    ip: Option<String>,
    user_agent: Option<String>,
) -> Result<String, sea_orm::DbErr> {
    let token = random_token(32);
    let now = Utc::now();
    login_sessions::Entity::insert(login_sessions::ActiveModel {
        token_hash: Set(token_hash(&token)),
        user_id: Set(user_id),
        csrf_token: Set(random_token(32)),
        ip: Set(ip),
        user_agent: Set(user_agent.map(|ua| ua.chars().take(255).collect())),
        created_at: Set(now.fixed_offset()),
        last_seen_at: Set(now.fixed_offset()),
        expires_at: Set((now + ABSOLUTE_TIMEOUT).fixed_offset()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(token)
}

/// Whether a session row is still valid at `now` for a user whose password changed at `password_changed_at`.
pub fn is_live(
    row: &login_sessions::Model,
    password_changed_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    let last_seen = row.last_seen_at.with_timezone(&Utc);
    let created = row.created_at.with_timezone(&Utc);
    now < row.expires_at.with_timezone(&Utc)
        && now - last_seen < IDLE_TIMEOUT
        && created >= password_changed_at
}

/// The live session for a cookie token, refreshing its idle clock.
pub async fn lookup<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<Option<Session>, sea_orm::DbErr> {
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Some((row, Some(user))) = login_sessions::Entity::find()
        .filter(login_sessions::Column::TokenHash.eq(token_hash(token)))
        .find_also_related(users::Entity)
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let now = Utc::now();
    if user.disabled || !is_live(&row, user.password_changed_at.with_timezone(&Utc), now) {
        login_sessions::Entity::delete_by_id(row.id)
            .exec(db)
            .await?;
        return Ok(None);
    }
    if now - row.last_seen_at.with_timezone(&Utc) > TOUCH_EVERY {
        login_sessions::Entity::update_many()
            .col_expr(
                login_sessions::Column::LastSeenAt,
                sea_orm::sea_query::Expr::value(now.fixed_offset()),
            )
            .filter(login_sessions::Column::Id.eq(row.id))
            .exec(db)
            .await?;
    }
    let Some(actor) = actor_from(&user) else {
        return Ok(None);
    };
    Ok(Some(Session {
        id: row.id,
        actor,
        csrf_token: row.csrf_token,
    }))
}

pub async fn revoke<C: ConnectionTrait>(db: &C, session_id: i32) -> Result<(), sea_orm::DbErr> {
    login_sessions::Entity::delete_by_id(session_id)
        .exec(db)
        .await?;
    Ok(())
}

pub async fn revoke_all<C: ConnectionTrait>(db: &C, user_id: i32) -> Result<(), sea_orm::DbErr> {
    login_sessions::Entity::delete_many()
        .filter(login_sessions::Column::UserId.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(created: DateTime<Utc>, last_seen: DateTime<Utc>) -> login_sessions::Model {
        login_sessions::Model {
            id: 1,
            token_hash: String::new(),
            user_id: 1,
            csrf_token: String::new(),
            ip: None,
            user_agent: None,
            created_at: created.fixed_offset(),
            last_seen_at: last_seen.fixed_offset(),
            expires_at: (created + ABSOLUTE_TIMEOUT).fixed_offset(),
        }
    }

    #[test]
    fn sessions_expire_when_idle_too_old_or_after_a_password_change() {
        let t0 = Utc::now();
        let changed = t0 - Duration::days(1);
        assert!(is_live(&row(t0, t0), changed, t0 + Duration::minutes(30)));
        assert!(
            !is_live(&row(t0, t0), changed, t0 + Duration::hours(3)),
            "idle timeout"
        );
        let busy = row(t0, t0 + Duration::hours(11));
        assert!(is_live(
            &busy,
            changed,
            t0 + Duration::hours(11) + Duration::minutes(5)
        ));
        assert!(
            !is_live(
                &busy,
                changed,
                t0 + Duration::hours(12) + Duration::minutes(1)
            ),
            "absolute timeout"
        );
        assert!(
            !is_live(
                &row(t0, t0),
                t0 + Duration::seconds(1),
                t0 + Duration::minutes(1)
            ),
            "password changed"
        );
    }

    #[test]
    fn token_hashes_are_sha256() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
