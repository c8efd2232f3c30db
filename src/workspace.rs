//! The workspace (工作台, `/me`): what the signed-in user has to do — a member's own proposals, an
//! agency's inbox, the secretariat's queues, deadline reminders — and their notifications. It only
//! reads: each item links to the capability that acts on it.
use axum::extract::State;
use axum::response::{Html, Redirect};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;

use crate::accounts::extract::SignedForm;
use crate::accounts::{Role, SignedIn};
use crate::app::AppState;
use crate::error::AppResult;
use crate::notifications;
use crate::proposals::queues;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me", get(dashboard))
        .route("/me/notifications/read", post(mark_read))
}

async fn dashboard(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
) -> AppResult<Html<String>> {
    let db = &state.db;
    let actor = &session.actor;
    let today = crate::time::today();
    let mine = match (actor.role, actor.person_id) {
        (Role::Member, Some(person)) => queues::of_member(db, person, today).await?,
        _ => Vec::new(),
    };
    let inbox = match (actor.role, actor.agency_id) {
        (Role::AgencyStaff, Some(agency)) => queues::of_agency(db, agency, today).await?,
        _ => Vec::new(),
    };
    let queues = if actor.is_secretariat() {
        queues::of_secretariat(db, today).await?
    } else {
        Vec::new()
    };
    let unread = notifications::unread_count(db, actor.user_id).await?;
    let notices = notifications::recent(db, actor.user_id, 30).await?;
    let in_handling = queues
        .iter()
        .find(|(label, _)| *label == queues::IN_HANDLING)
        .map_or(&inbox[..], |(_, items)| &items[..]);
    let (due_soon, overdue, very_overdue) = queues::reminders(in_handling, today);
    state.render(
        "workspace/dashboard.html",
        context! {
            actor, role_label => actor.role.label(), csrf => &session.csrf_token,
            is_member => actor.role == Role::Member, is_agency => actor.role == Role::AgencyStaff,
            is_secretariat => actor.is_secretariat(),
            mine, inbox, queues, unread, notices, due_soon, overdue, very_overdue,
            very_overdue_days => queues::VERY_OVERDUE_DAYS,

        },
    )
}

async fn mark_read(State(state): State<AppState>, form: SignedForm) -> AppResult<Redirect> {
    notifications::mark_all_read(&state.db, form.session.actor.user_id).await?;
    Ok(Redirect::to("/me"))
}
