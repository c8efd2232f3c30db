//! User management: create, set password, disable, list, authenticate, and the demo accounts.
use chrono::Utc;
use entity::{agencies, people, users};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder,
};

use super::policy::{Action, Object};
use super::{password, sessions, Role};
use crate::directory::PersonKind;
use crate::error::{AppError, AppResult};

pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub person_id: Option<i32>,
    pub agency_id: Option<i32>,
    pub password: String,
}

pub fn validate_username(username: &str) -> Result<(), String> {
    let ok_chars = username
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !(3..=32).contains(&username.len()) || !ok_chars {
        return Err("用户名须为3–32位小写字母、数字或 . _ -。".to_owned());
    }
    Ok(())
}

pub async fn create_user<C: ConnectionTrait>(db: &C, new: NewUser) -> AppResult<users::Model> {
    validate_username(&new.username).map_err(AppError::BadRequest)?;
    password::validate(&new.password).map_err(AppError::BadRequest)?;
    match new.role {
        Role::Member => {
            let person_id = new
                .person_id
                .ok_or_else(|| AppError::bad_request("委员账号须关联一位政协委员。"))?;
            let person = people::Entity::find_by_id(person_id).one(db).await?;
            if person.is_none_or(|p| p.kind != PersonKind::CommitteeMember.as_str()) {
                return Err(AppError::bad_request("关联的人员不是政协委员。"));
            }
        }
        Role::AgencyStaff => {
            let agency_id = new
                .agency_id
                .ok_or_else(|| AppError::bad_request("部门账号须关联一个单位。"))?;
            if agencies::Entity::find_by_id(agency_id)
                .one(db)
                .await?
                .is_none()
            {
                return Err(AppError::bad_request("关联的单位不存在。"));
            }
        }
        Role::Admin | Role::Secretariat => {}
    }
    if users::Entity::find()
        .filter(users::Column::Username.eq(&new.username))
        .one(db)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(format!(
            "用户名 {} 已存在。",
            new.username
        )));
    }
    let now = Utc::now().fixed_offset();
    let hash = password::hash(&new.password)?;
    let linked = |role: Role, id: Option<i32>| if new.role == role { id } else { None };
    Ok(users::ActiveModel {
        username: Set(new.username),
        display_name: Set(new.display_name),
        password_hash: Set(hash),
        role: Set(new.role.as_str().to_owned()),
        person_id: Set(linked(Role::Member, new.person_id)),
        agency_id: Set(linked(Role::AgencyStaff, new.agency_id)),
        disabled: Set(false),
        password_changed_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?)
}

async fn find<C: ConnectionTrait>(db: &C, username: &str) -> AppResult<users::Model> {
    users::Entity::find()
        .filter(users::Column::Username.eq(username))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Sets a new password and ends every session of the user.
pub async fn set_password(
    db: &DatabaseConnection,
    username: &str,
    new_password: &str,
) -> AppResult<()> {
    password::validate(new_password).map_err(AppError::BadRequest)?;
    let txn = crate::db::begin_write(db).await?;
    let user = find(&txn, username).await?;
    let now = Utc::now().fixed_offset();
    let user_id = user.id;
    let mut active: users::ActiveModel = user.into();
    active.password_hash = Set(password::hash(new_password)?);
    active.password_changed_at = Set(now);
    active.updated_at = Set(now);
    active.update(&txn).await?;
    sessions::revoke_all(&txn, user_id).await?;
    txn.commit().await?;
    Ok(())
}

/// The address as it will be stored, or why it is not one.
pub fn validate_email(address: &str) -> Result<String, String> {
    let address = address.trim();
    if address.len() > 254 || address.parse::<lettre::Address>().is_err() {
        return Err("请填写有效的邮箱地址(如 name@example.cn)。".to_owned());
    }
    Ok(address.to_owned())
}

/// Sets (or, with `None`, removes) a user's email address. A new address receives nothing but a
/// confirmation link until that link is followed. `by` is checked as for disabling.
pub async fn set_email(
    db: &DatabaseConnection,
    config: &crate::config::Config,
    by: Option<&super::Actor>,
    username: &str,
    email: Option<&str>,
) -> AppResult<()> {
    let email = email
        .map(validate_email)
        .transpose()
        .map_err(AppError::BadRequest)?;
    let txn = crate::db::begin_write(db).await?;
    let user = find(&txn, username).await?;
    if let Some(actor) = by {
        let role = Role::parse(&user.role).ok_or(AppError::Forbidden)?;
        if actor.user_id != user.id
            && !super::policy::allows(actor, Action::ManageAccounts, Object::Account(role))
        {
            return Err(AppError::Forbidden);
        }
    }
    if user.email == email {
        return Ok(());
    }
    let mut active: users::ActiveModel = user.clone().into();
    active.email = Set(email.clone());
    active.email_confirmed_at = Set(None);
    active.updated_at = Set(Utc::now().fixed_offset());
    let user = active.update(&txn).await?;
    if let Some(address) = &email {
        crate::mail::ask_to_confirm(&txn, config, &user, address).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Marks `email` confirmed for `user_id` when it is still that user's address; false when the
/// address has changed since the link was sent.
pub async fn confirm_email(db: &DatabaseConnection, user_id: i32, email: &str) -> AppResult<bool> {
    let txn = crate::db::begin_write(db).await?;
    let Some(user) = users::Entity::find_by_id(user_id).one(&txn).await? else {
        return Ok(false);
    };
    if user.email.as_deref() != Some(email) {
        return Ok(false);
    }
    if user.email_confirmed_at.is_none() {
        let mut active: users::ActiveModel = user.into();
        active.email_confirmed_at = Set(Some(Utc::now().fixed_offset()));
        active.update(&txn).await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// Disables (ending its sessions and revoking its API tokens) or enables an account. `by` is the
/// signed-in user doing it, checked against the account-management rule in the policy module;
/// `None` is the operator's command line.
pub async fn set_disabled(
    db: &DatabaseConnection,
    by: Option<&super::Actor>,
    username: &str,
    disabled: bool,
) -> AppResult<()> {
    let txn = crate::db::begin_write(db).await?;
    let user = find(&txn, username).await?;
    if let Some(actor) = by {
        let role = Role::parse(&user.role).ok_or(AppError::Forbidden)?;
        if !super::policy::allows(actor, Action::ManageAccounts, Object::Account(role)) {
            return Err(AppError::Forbidden);
        }
    }
    let user_id = user.id;
    let mut active: users::ActiveModel = user.into();
    active.disabled = Set(disabled);
    active.updated_at = Set(Utc::now().fixed_offset());
    active.update(&txn).await?;
    if disabled {
        sessions::revoke_all(&txn, user_id).await?;
        super::tokens::revoke_all(&txn, user_id).await?;
    }
    txn.commit().await?;
    Ok(())
}

pub async fn list<C: ConnectionTrait>(db: &C) -> AppResult<Vec<users::Model>> {
    Ok(users::Entity::find()
        .order_by_asc(users::Column::Username)
        .all(db)
        .await?)
}

/// The user when the password is right and the account enabled. Unknown users cost the same time.
pub async fn authenticate<C: ConnectionTrait>(
    db: &C,
    username: &str,
    given: &str,
) -> AppResult<Option<users::Model>> {
    let user = users::Entity::find()
        .filter(users::Column::Username.eq(username))
        .one(db)
        .await?;
    let Some(user) = user else {
        let _ = password::verify(given, DUMMY_HASH);
        return Ok(None);
    };
    Ok((password::verify(given, &user.password_hash) && !user.disabled).then_some(user))
}

/// A valid argon2id hash of a random string, verified against when the user does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$pN6mN5kLx0W1Jc8mYqY6rBRZo9r0VQ1wS8b0x9dXk0Q";

/// One account per role for the seeded people and agencies, for trying the product locally.
/// Returns (username, role, display name, generated password) for accounts created now.
pub async fn create_demo_users(
    db: &DatabaseConnection,
) -> AppResult<Vec<(String, Role, String, Option<String>)>> {
    // (username, role, display name, person, agency)
    #[allow(clippy::type_complexity)]
    let mut wanted: Vec<(String, Role, String, Option<i32>, Option<i32>)> = vec![
        ("admin".into(), Role::Admin, "系统管理员".into(), None, None),
        (
            "mishuchu".into(),
            Role::Secretariat,
            "秘书处".into(),
            None,
            None,
        ),
    ];
    for person in people::Entity::find()
        .filter(people::Column::Kind.eq(PersonKind::CommitteeMember.as_str()))
        .order_by_asc(people::Column::Id)
        .all(db)
        .await?
    {
        let key = person
            .external_id
            .as_deref()
            .and_then(|k| k.strip_prefix("person:"))
            .unwrap_or("member");
        wanted.push((
            key.to_owned(),
            Role::Member,
            person.name.clone(),
            Some(person.id),
            None,
        ));
    }
    for agency in agencies::Entity::find()
        .order_by_asc(agencies::Column::Id)
        .all(db)
        .await?
    {
        let key = agency
            .external_id
            .as_deref()
            .and_then(|k| k.strip_prefix("agency:"))
            .unwrap_or("agency");
        wanted.push((
            key.to_owned(),
            Role::AgencyStaff,
            agency.short_name.clone(),
            None,
            Some(agency.id),
        ));
    }
    let mut out = Vec::new();
    for (username, role, display_name, person_id, agency_id) in wanted {
        if users::Entity::find()
            .filter(users::Column::Username.eq(&username))
            .one(db)
            .await?
            .is_some()
        {
            out.push((username, role, display_name, None));
            continue;
        }
        let generated = password::generate();
        let new = NewUser {
            username: username.clone(),
            display_name: display_name.clone(),
            role,
            person_id,
            agency_id,
            password: generated.clone(),
        };
        create_user(db, new).await?;
        out.push((username, role, display_name, Some(generated)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn usernames_are_simple_ascii() {
        assert!(super::validate_username("xing-zhanjun").is_ok());
        for bad in ["ab", "Admin", "名字", "a b", "x;drop"] {
            assert!(super::validate_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_dummy_hash_parses() {
        assert!(argon2::password_hash::PasswordHash::new(super::DUMMY_HASH).is_ok());
    }
}
