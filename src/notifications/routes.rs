//! `/me/mail` (what a signed-in user gets by mail, and the address it goes to), and the links in
//! messages, which work without signing in: `/mail/confirm/{token}` confirms an address and
//! `/mail/unsubscribe/{token}` turns a kind off (GET shows what it will do; POST does it, which is
//! what mail programs send for RFC 8058 one-click unsubscribe).
use axum::extract::{Path, State};
use axum::response::{Html, Response};
use axum::routing::get;
use axum::Router;
use minijinja::context;
use sea_orm::EntityTrait;

use super::preferences::{self, Mode};
use super::Kind;
use crate::accounts::extract::SignedForm;
use crate::accounts::{service, Role, SignedIn};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::mail::links::{LinkKey, Purpose};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me/mail", get(settings).post(save))
        .route("/admin/mail", get(outbox_page))
        .route("/follow", axum::routing::post(follow))
        .route(
            "/follow/confirm/{token}",
            get(confirm_follow_page).post(confirm_follow),
        )
        .route(
            "/follow/unsubscribe/{token}",
            get(end_follow_page).post(end_follow),
        )
        .route("/mail/confirm/{token}", get(confirm_page).post(confirm))
        .route(
            "/mail/unsubscribe/{token}",
            get(unsubscribe_page).post(unsubscribe),
        )
}

async fn settings_page(
    state: &AppState,
    session: &crate::accounts::sessions::Session,
    notice: Option<&str>,
    error: Option<&str>,
) -> AppResult<Response> {
    let actor = &session.actor;
    let user = entity::users::Entity::find_by_id(actor.user_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let kinds: Vec<_> = preferences::of_user(&state.db, actor.user_id, actor.role)
        .await?
        .into_iter()
        .map(|(kind, mode)| {
            context! {
                kind => kind.as_str(), label => kind.label(), mode => mode.as_str(),
                required => actor.role == Role::AgencyStaff && matches!(kind, Kind::DueSoon | Kind::Overdue),
            }
        })
        .collect();
    let modes: Vec<_> = Mode::ALL.iter().map(|m| (m.as_str(), m.label())).collect();
    state.render_form(
        "notifications/mail_settings.html",
        context! {
            email => user.email, confirmed => user.email_confirmed_at.is_some(),
            mail_enabled => state.config.smtp_url.is_some(),
            digest_hour => state.config.digest_hour,
            kinds, modes, notice, error, csrf => &session.csrf_token,
        },
        error,
    )
}

async fn settings(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
) -> AppResult<Response> {
    settings_page(&state, &session, None, None).await
}

async fn save(State(state): State<AppState>, form: SignedForm) -> AppResult<Response> {
    let session = &form.session;
    let actor = &session.actor;
    let email = form.fields.get("email").trim();
    let current = entity::users::Entity::find_by_id(actor.user_id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let wanted = (!email.is_empty()).then_some(email);
    let changed_address = wanted != current.email.as_deref() || form.fields.get("resend") == "1";
    if changed_address {
        // Each change or resend mails a confirmation: a few an hour per account.
        if state
            .follow_limiter
            .check(&format!("confirm:{}", actor.user_id))
            .is_err()
        {
            return settings_page(
                &state,
                session,
                None,
                Some("确认邮件发送得太频繁,请稍后再试。"),
            )
            .await;
        }
        if form.fields.get("resend") == "1" {
            // Sent again: clear it first so the same address counts as new.
            service::set_email(&state.db, &state.config, Some(actor), &actor.username, None)
                .await?;
        }
        match service::set_email(
            &state.db,
            &state.config,
            Some(actor),
            &actor.username,
            wanted,
        )
        .await
        {
            Ok(()) => {}
            Err(AppError::BadRequest(message)) => {
                return settings_page(&state, session, None, Some(&message)).await
            }
            Err(other) => return Err(other),
        }
    }
    for kind in preferences::kinds_for(actor.role) {
        let Some(mode) = Mode::parse(form.fields.get(&format!("mode-{}", kind.as_str()))) else {
            continue;
        };
        preferences::set(&state.db, actor.user_id, *kind, mode).await?;
    }
    let notice = match (changed_address, wanted) {
        (true, Some(address)) if state.config.smtp_url.is_some() => {
            format!("已保存。确认邮件已发往 {address},请点击其中的链接;确认前不会发送其他邮件。")
        }
        (true, Some(_)) => "已保存。本站尚未配置发信服务器,暂不发送邮件。".to_owned(),
        _ => "已保存。".to_owned(),
    };
    settings_page(&state, session, Some(&notice), None).await
}

async fn link_key(state: &AppState) -> AppResult<LinkKey> {
    Ok(LinkKey::load(&state.db).await?)
}

fn result_page(state: &AppState, title: &str, message: &str, ok: bool) -> AppResult<Response> {
    use axum::response::IntoResponse;
    let status = if ok {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::BAD_REQUEST
    };
    Ok((
        status,
        state.render(
            "notifications/link_result.html",
            context! { title, message, ok },
        )?,
    )
        .into_response())
}

/// The page a link from a message opens: what the button will do, and the button.
fn action_page(
    state: &AppState,
    title: &str,
    text: &str,
    action: String,
    button: &str,
) -> AppResult<Response> {
    Ok(axum::response::IntoResponse::into_response(Html(
        state.templates.render(
            "notifications/link_action.html",
            context! { title, text, action, button },
        )?,
    )))
}

async fn confirm_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let key = link_key(&state).await?;
    let Some(Purpose::ConfirmAccount { email, .. }) = key.verify(&token, chrono::Utc::now()) else {
        return result_page(&state, "无法确认邮箱", INVALID, false);
    };
    action_page(
        &state,
        "确认邮箱地址",
        &format!("确认后,听商的邮件通知将发往 {email}。"),
        format!("/mail/confirm/{token}"),
        "确认",
    )
}

async fn confirm_follow_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let key = link_key(&state).await?;
    if !matches!(
        key.verify(&token, chrono::Utc::now()),
        Some(Purpose::ConfirmSubscription { .. })
    ) {
        return result_page(&state, "无法确认订阅", INVALID, false);
    }
    action_page(
        &state,
        "确认邮件订阅",
        "确认后,关注的内容有更新时,每天汇总发送一封邮件;每封邮件都可一键退订。",
        format!("/follow/confirm/{token}"),
        "确认订阅",
    )
}

const INVALID: &str = "链接无效或已过期。请从最新的邮件中打开链接,或登录后在“邮件通知设置”中操作。";

async fn confirm(State(state): State<AppState>, Path(token): Path<String>) -> AppResult<Response> {
    let key = link_key(&state).await?;
    let Some(Purpose::ConfirmAccount { user, email }) = key.verify(&token, chrono::Utc::now())
    else {
        return result_page(&state, "无法确认邮箱", INVALID, false);
    };
    if service::confirm_email(&state.db, user, &email).await? {
        result_page(
            &state,
            "邮箱已确认",
            &format!("今后的邮件通知将发往 {email}。可在“邮件通知设置”中选择接收方式。"),
            true,
        )
    } else {
        result_page(
            &state,
            "无法确认邮箱",
            "该账号的邮箱地址已更改,这个链接不再有效。",
            false,
        )
    }
}

/// What an unsubscribe token stops, in words, or `None` for a token that is not one.
/// The user and kind an unsubscribe token stops, when it is genuine and the user still reads mail
/// at the address it was sent to.
async fn unsubscribe_target(state: &AppState, token: &str) -> AppResult<Option<(i32, String)>> {
    let key = link_key(state).await?;
    let Some(Purpose::UnsubscribeAccount { user, kind, email }) =
        key.verify(token, chrono::Utc::now())
    else {
        return Ok(None);
    };
    let current = entity::users::Entity::find_by_id(user)
        .one(&state.db)
        .await?;
    Ok(current
        .filter(|u| u.email.as_deref() == Some(email.as_str()))
        .map(|_| (user, kind)))
}

fn described(kind: &str) -> String {
    match Kind::parse(kind) {
        Some(kind) => format!("“{}”类邮件通知", kind.label()),
        None => "全部可退订的邮件通知".to_owned(),
    }
}

async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let Some((_, kind)) = unsubscribe_target(&state, &token).await? else {
        return result_page(&state, "无法退订", INVALID, false);
    };
    action_page(
        &state,
        "退订邮件通知",
        &format!(
            "确认后,今后不再向您发送{}。工作台中的通知不受影响。",
            described(&kind)
        ),
        format!("/mail/unsubscribe/{token}"),
        "确认退订",
    )
}

async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let Some((user_id, kind)) = unsubscribe_target(&state, &token).await? else {
        return result_page(&state, "无法退订", INVALID, false);
    };
    let Some(user) = entity::users::Entity::find_by_id(user_id)
        .one(&state.db)
        .await?
    else {
        return result_page(&state, "无法退订", INVALID, false);
    };
    let role = Role::parse(&user.role).ok_or(AppError::NotFound)?;
    let kinds: Vec<Kind> = match Kind::parse(&kind) {
        Some(kind) => vec![kind],
        None => preferences::kinds_for(role).to_vec(),
    };
    let txn = crate::db::begin_write(&state.db).await?;
    for kind in kinds {
        preferences::set(&txn, user_id, kind, Mode::Off).await?;
    }
    txn.commit().await?;
    result_page(
        &state,
        "已退订",
        &format!(
            "今后不再向您发送{}。{}可随时登录,在“邮件通知设置”中重新开启。",
            described(&kind),
            if role == Role::AgencyStaff {
                "主办单位的答复期限提醒不能关闭。"
            } else {
                ""
            }
        ),
        true,
    )
}

/// `/admin/mail`: how the outbox stands, and the messages being retried or refused for good.
async fn outbox_page(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
) -> AppResult<Html<String>> {
    crate::accounts::policy::require(&session.actor, crate::accounts::policy::Action::WatchMail)?;
    let counts = crate::mail::outbox::counts(&state.db).await?;
    let troubled: Vec<_> = crate::mail::outbox::troubled(&state.db, 100)
        .await?
        .into_iter()
        .map(|m| {
            context! {
                recipient => m.recipient, subject => m.subject, kind => m.kind,
                attempts => m.attempts, failed => m.failed_at.is_some(),
                reply => m.last_reply, created_at => m.created_at.to_rfc3339(),
                next_attempt_at => m.next_attempt_at.to_rfc3339(),
            }
        })
        .collect();
    state.render(
        "notifications/outbox.html",
        context! { counts, troubled, configured => state.config.smtp_url.is_some(), from => &state.config.mail_from },
    )
}

#[derive(serde::Deserialize)]
struct FollowForm {
    email: String,
    target: String,
    key: String,
}

/// `POST /follow`: the public asks to follow something by email. The answer is the same whether
/// or not the address already follows it.
async fn follow(
    State(state): State<AppState>,
    crate::accounts::extract::ClientIp(ip): crate::accounts::extract::ClientIp,
    headers: axum::http::HeaderMap,
    axum::Form(form): axum::Form<FollowForm>,
) -> AppResult<Response> {
    use super::subscriptions::{self, Target};
    // A page elsewhere must not post the form from its visitors' browsers (each from their own
    // address, past the per-address limit). Browsers send Origin with every form post.
    if let Some(origin) = headers
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        if !crate::web::same_origin(origin, &state.config.public_url) {
            return Err(AppError::Forbidden);
        }
    }
    if let Err(wait) = state.follow_limiter.check(&format!("follow:{ip}")) {
        return Err(AppError::TooManyAttempts(format!(
            "订阅请求过于频繁,请 {} 分钟后再试。",
            (wait / 60.0).ceil().max(1.0)
        )));
    }
    let target = Target::parse(&form.target)
        .ok_or_else(|| AppError::bad_request("要关注的内容不存在或未公开。"))?;
    let wanted = subscriptions::resolve(&state.db, target, &form.key).await?;
    let label = wanted.label.clone();
    subscriptions::request(&state.db, &state.config, &form.email, wanted).await?;
    result_page(
        &state,
        "请查收确认邮件",
        &format!(
            "我们已向 {} 发送确认邮件。点击其中的链接后,{}有更新时会每天汇总发送给您;未确认则不会发送任何邮件。",
            form.email.trim(),
            label
        ),
        true,
    )
}

async fn confirm_follow(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let key = link_key(&state).await?;
    let Some(Purpose::ConfirmSubscription { id }) = key.verify(&token, chrono::Utc::now()) else {
        return result_page(&state, "无法确认订阅", INVALID, false);
    };
    match super::subscriptions::confirm(&state.db, id).await? {
        Some(label) => result_page(
            &state,
            "订阅已确认",
            &format!("今后{label}有更新时,每天汇总发送一封邮件。每封邮件都有退订链接。"),
            true,
        ),
        None => result_page(&state, "无法确认订阅", "这项订阅已被退订或不存在。", false),
    }
}

async fn end_follow_target(state: &AppState, token: &str) -> AppResult<Option<i32>> {
    let key = link_key(state).await?;
    Ok(match key.verify(token, chrono::Utc::now()) {
        Some(Purpose::EndSubscription { id }) => Some(id),
        _ => None,
    })
}

async fn end_follow_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    if end_follow_target(&state, &token).await?.is_none() {
        return result_page(&state, "无法退订", INVALID, false);
    }
    action_page(
        &state,
        "退订",
        "确认后,不再发送这项订阅的邮件,您的邮箱地址随即删除。",
        format!("/follow/unsubscribe/{token}"),
        "确认退订",
    )
}

async fn end_follow(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let Some(id) = end_follow_target(&state, &token).await? else {
        return result_page(&state, "无法退订", INVALID, false);
    };
    match super::subscriptions::end(&state.db, id).await? {
        Some(label) => result_page(
            &state,
            "已退订",
            &format!("不再发送{label}的更新邮件。"),
            true,
        ),
        None => result_page(&state, "无法退订", INVALID, false),
    }
}
