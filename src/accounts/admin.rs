//! `/admin/users` (the secretariat manages accounts) and `/admin/audit` (admins read the audit log).
use axum::extract::{Path, State};
use axum::response::{Html, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use entity::{agencies, audit_log, people};
use minijinja::context;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;

use super::extract::{ClientIp, SignedForm};
use super::policy::{self, Action, Object};
use super::{password, service, Role, SignedIn};
use crate::app::AppState;
use crate::directory::PersonKind;
use crate::error::{AppError, AppResult};
use crate::web::notice::Notice;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(users).post(create_user))
        .route("/admin/users/{username}/{action}", post(toggle))
        .route("/admin/audit", get(audit))
        .route("/admin/tokens", get(tokens).post(create_token))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
}

async fn users_page(
    state: &AppState,
    session: &super::sessions::Session,
    notice: Option<String>,
    error: Option<String>,
) -> AppResult<Response> {
    let db = &state.db;
    let users = service::list(db).await?;
    let members = people::Entity::find()
        .filter(people::Column::Kind.eq(PersonKind::CommitteeMember.as_str()))
        .order_by_asc(people::Column::Name)
        .all(db)
        .await?;
    let agencies = agencies::Entity::find()
        .order_by_asc(agencies::Column::Id)
        .all(db)
        .await?;
    let roles: Vec<_> = Role::ALL.iter().map(|r| (r.as_str(), r.label())).collect();
    let error = error.as_deref();
    state.render_form(
        "admin/users.html",
        context! { users, members, agencies, roles, notice, error, csrf => &session.csrf_token },
        error,
    )
}

async fn users(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Notice(notice): Notice,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::ManageAccounts)?;
    users_page(&state, &session, notice.map(str::to_owned), None).await
}

#[derive(Deserialize)]
struct NewUserForm {
    username: String,
    display_name: String,
    role: String,
    person_id: Option<String>,
    agency_id: Option<String>,
    email: Option<String>,
}

async fn create_user(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    SignedForm {
        session,
        fields: form,
    }: SignedForm<NewUserForm>,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::ManageAccounts)?;
    let role = Role::parse(&form.role).ok_or_else(|| AppError::bad_request("请选择角色。"))?;
    // Only an admin may create another admin.
    if !policy::allows(
        &session.actor,
        Action::ManageAccounts,
        Object::Account(role),
    ) {
        return Err(AppError::Forbidden);
    }
    let id = |v: &Option<String>| v.as_deref().and_then(|s| s.parse::<i32>().ok());
    let generated = password::generate();
    let new = service::NewUser {
        username: form.username.trim().to_owned(),
        display_name: if form.display_name.trim().is_empty() {
            form.username.trim().to_owned()
        } else {
            form.display_name.trim().to_owned()
        },
        role,
        person_id: id(&form.person_id),
        agency_id: id(&form.agency_id),
        password: generated.clone(),
    };
    let email = form
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    if let Some(Err(message)) = email.map(service::validate_email) {
        return users_page(&state, &session, None, Some(message)).await;
    }
    match service::create_user(&state.db, new).await {
        Ok(user) => {
            if let Some(address) = email {
                service::set_email(
                    &state.db,
                    &state.config,
                    Some(&session.actor),
                    &user.username,
                    Some(address),
                )
                .await?;
            }
            crate::audit::record(
                &state.db,
                Some(&session.actor),
                "user_add",
                Some(user.username.clone()),
                Some(role.as_str().into()),
                Some(&ip),
            )
            .await?;
            let notice = format!(
                "已创建账号 {}。初始密码(只显示这一次,请当面交给本人):{generated}",
                user.username
            );
            users_page(&state, &session, Some(notice), None).await
        }
        Err(AppError::BadRequest(message) | AppError::Conflict(message)) => {
            users_page(&state, &session, None, Some(message)).await
        }
        Err(other) => Err(other),
    }
}

async fn set_disabled(
    state: &AppState,
    session: &super::sessions::Session,
    ip: &str,
    username: &str,
    disabled: bool,
) -> AppResult<Redirect> {
    policy::require(&session.actor, Action::ManageAccounts)?;
    if username == session.actor.username {
        return Err(AppError::bad_request("不能停用自己的账号。"));
    }
    service::set_disabled(&state.db, Some(&session.actor), username, disabled).await?;
    let action = if disabled {
        "user_disable"
    } else {
        "user_enable"
    };
    crate::audit::record(
        &state.db,
        Some(&session.actor),
        action,
        Some(username.to_owned()),
        None,
        Some(ip),
    )
    .await?;
    Ok(Redirect::to(&crate::web::notice::after(
        "/admin/users",
        "saved",
    )))
}

/// `POST /admin/users/{username}/disable` or `/enable`.
async fn toggle(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path((username, action)): Path<(String, String)>,
    SignedForm { session, fields }: SignedForm,
) -> AppResult<Response> {
    use axum::response::IntoResponse;
    let disabled = match action.as_str() {
        "disable" => true,
        "enable" => false,
        "email" => return set_email(&state, &session, &ip, &username, fields.get("email")).await,
        _ => return Err(AppError::NotFound),
    };
    Ok(set_disabled(&state, &session, &ip, &username, disabled)
        .await?
        .into_response())
}

/// `POST /admin/users/{username}/email`: sets (or, empty, removes) the address; the user then
/// confirms it from the link mailed to it.
async fn set_email(
    state: &AppState,
    session: &super::sessions::Session,
    ip: &str,
    username: &str,
    email: &str,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::ManageAccounts)?;
    let email = Some(email.trim()).filter(|e| !e.is_empty());
    match service::set_email(
        &state.db,
        &state.config,
        Some(&session.actor),
        username,
        email,
    )
    .await
    {
        Ok(()) => {}
        Err(AppError::BadRequest(message)) => {
            return users_page(state, session, None, Some(message)).await
        }
        Err(other) => return Err(other),
    }
    crate::audit::record(
        &state.db,
        Some(&session.actor),
        "user_email",
        Some(username.to_owned()),
        None,
        Some(ip),
    )
    .await?;
    let notice = match email {
        Some(address) => format!("已将 {username} 的通知邮箱设为 {address},待本人确认。"),
        None => format!("已删除 {username} 的通知邮箱。"),
    };
    users_page(state, session, Some(notice), None).await
}

async fn audit(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
) -> AppResult<Html<String>> {
    policy::require(&session.actor, Action::ReadAuditLog)?;
    let entries = audit_log::Entity::find()
        .order_by_desc(audit_log::Column::Id)
        .limit(500)
        .all(&state.db)
        .await?;
    state.render("admin/audit.html", context! { entries })
}

async fn tokens_page(
    state: &AppState,
    session: &super::sessions::Session,
    created: Option<String>,
    error: Option<String>,
    notice: Option<&str>,
) -> AppResult<Response> {
    let tokens = super::tokens::list(&state.db).await?;
    let users = service::list(&state.db).await?;
    let error = error.as_deref();
    state.render_form(
        "admin/tokens.html",
        context! { tokens, users, created, error, notice, csrf => &session.csrf_token },
        error,
    )
}

async fn tokens(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Notice(notice): Notice,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::ManageApiTokens)?;
    tokens_page(&state, &session, None, None, notice).await
}

#[derive(Deserialize)]
struct NewTokenForm {
    username: String,
    name: String,
}

async fn create_token(
    State(state): State<AppState>,
    SignedForm {
        session,
        fields: form,
    }: SignedForm<NewTokenForm>,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::ManageApiTokens)?;
    match super::tokens::create(&state.db, Some(&session.actor), &form.username, &form.name).await {
        Ok((_, token)) => tokens_page(&state, &session, Some(token), None, None).await,
        Err(AppError::BadRequest(message)) => {
            tokens_page(&state, &session, None, Some(message), None).await
        }
        Err(other) => Err(other),
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm { session, .. }: SignedForm,
) -> AppResult<Redirect> {
    policy::require(&session.actor, Action::ManageApiTokens)?;
    super::tokens::revoke(&state.db, Some(&session.actor), crate::web::parse_id(&id)?).await?;
    Ok(Redirect::to(&crate::web::notice::after(
        "/admin/tokens",
        "revoked",
    )))
}
