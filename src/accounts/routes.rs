//! `/login` and `/logout`.
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::context;
use serde::Deserialize;

use super::extract::{check_csrf, ClientIp, SignedForm};
use super::{cookies, service, sessions, throttle};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::keys::random_hex as random_token;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Where to go after login: only a path on this site. Browsers strip tabs and newlines from a URL
/// and read `\` as `/` (WHATWG URL rules), so `/\t/evil.example` is `//evil.example`; any control
/// character, space, backslash or non-ASCII byte is refused outright, and what is left must
/// resolve, against this site, to this site. Anything else goes to `/me`. Checked before anything
/// is written, and the result is always a valid `Location` value.
fn safe_next(next: Option<&str>) -> String {
    const HOME: &str = "/me";
    let Some(path) = next else {
        return HOME.to_owned();
    };
    let plain = path.len() < 500
        && path.starts_with('/')
        && path
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'\\');
    if !plain {
        return HOME.to_owned();
    }
    let site = url::Url::parse("http://tingshang.invalid/").expect("a valid base");
    match site.join(path) {
        Ok(target) if target.origin() == site.origin() && !path.starts_with("//") => {
            path.to_owned()
        }
        _ => HOME.to_owned(),
    }
}

async fn login_form(
    State(state): State<AppState>,
    Query(query): Query<NextQuery>,
) -> AppResult<Response> {
    render_login(&state, &safe_next(query.next.as_deref()), "", None)
}

fn render_login(
    state: &AppState,
    next: &str,
    username: &str,
    error: Option<&str>,
) -> AppResult<Response> {
    let csrf = random_token(16);
    let page = state.render(
        "accounts/login.html",
        context! { next, username, error, csrf },
    )?;
    let status = if error.is_some() {
        axum::http::StatusCode::UNAUTHORIZED
    } else {
        axum::http::StatusCode::OK
    };
    Ok((
        status,
        [(
            header::SET_COOKIE,
            cookies::set(
                cookies::LOGIN_CSRF,
                &csrf,
                Some(3600),
                state.config.secure_cookies,
            ),
        )],
        page,
    )
        .into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    // No session yet, so not a `SignedForm`: the token is the one the login page set in a cookie.
    check_csrf(
        cookies::get(&headers, cookies::LOGIN_CSRF).unwrap_or_default(),
        &form.csrf,
    )?;
    let next = safe_next(form.next.as_deref());
    let username = throttle::key(&form.username);
    // No account has a name outside the username rules; such a name (a NUL byte, which
    // PostgreSQL's text type refuses, or any other control character) is a failed sign-in that
    // never reaches the database.
    if service::validate_username(&username).is_err() {
        return render_login(&state, &next, "", Some("用户名或密码不正确。"));
    }
    let now = chrono::Utc::now();
    let presented = cookies::get(&headers, cookies::DEVICE)
        .and_then(|value| state.device_key.verify(value, now));
    // A device cookie counts only for the account it names.
    let client = throttle::Client {
        ip: &ip,
        device: presented
            .as_ref()
            .filter(|cookie| cookie.username == username)
            .map(|cookie| cookie.device.as_str()),
    };
    let policy = &state.config.login_throttle;
    let attempt = match throttle::begin(&state.db, policy, &username, client, now).await? {
        throttle::Admission::Try(attempt) => attempt,
        throttle::Admission::Wait(wait) => return Ok(too_many_attempts(wait)),
    };
    let Some(user) = service::authenticate(&state.db, &username, &form.password).await? else {
        return render_login(&state, &next, &username, Some("用户名或密码不正确。"));
    };
    throttle::succeeded(&state.db, attempt).await?;
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let token = sessions::create(&state.db, user.id, Some(ip.clone()), agent).await?;
    let actor = sessions::actor_from(&user);
    crate::audit::record(&state.db, actor.as_ref(), "login", None, None, Some(&ip)).await?;
    let secure = state.config.secure_cookies;
    // The browser keeps its device id across sign-ins (and accounts); the cookie names the
    // account just signed in to and is renewed.
    let device_id = presented.map_or_else(|| random_token(16), |cookie| cookie.device);
    let device_cookie = state.device_key.sign(&user.username, &device_id, now);
    let mut response = Redirect::to(&next).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        cookies::set(cookies::SESSION, &token, None, secure),
    );
    headers.append(
        header::SET_COOKIE,
        cookies::clear(cookies::LOGIN_CSRF, secure),
    );
    headers.append(
        header::SET_COOKIE,
        cookies::set(
            cookies::DEVICE,
            &device_cookie,
            Some(super::device::LIFETIME.num_seconds()),
            secure,
        ),
    );
    Ok(response)
}

/// 429 with `Retry-After` and the wait in words.
fn too_many_attempts(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let message = if seconds >= 60 {
        format!("登录失败次数过多,请{}分钟后再试。", seconds.div_ceil(60))
    } else {
        format!("登录失败次数过多,请{seconds}秒后再试。")
    };
    let mut response = AppError::TooManyAttempts(message).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

async fn logout(
    State(state): State<AppState>,
    SignedForm { session, .. }: SignedForm,
) -> AppResult<Response> {
    sessions::revoke(&state.db, session.id).await?;
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        cookies::clear(cookies::SESSION, state.config.secure_cookies),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(
            super::safe_next(Some("/work/proposals/3")),
            "/work/proposals/3"
        );
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\nSet-Cookie: x=1",
            "/ /evil.example",
            "/提案",
            "/\u{7f}/evil.example",
            "/%09/evil.example\u{0}",
        ] {
            assert_eq!(super::safe_next(Some(bad)), "/me", "{bad}");
        }
        assert_eq!(super::safe_next(None), "/me");
    }
}
