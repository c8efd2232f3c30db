//! The append-only audit log of privileged actions: who, what, when, from where. [`record`] also
//! bumps the content revision (`crate::revision`), which is what invalidates cached public pages:
//! record an action that changes public content in its own transaction (or bump the revision
//! there, as workflow commands do). Actions that change nothing the public sees — sign-ins,
//! accounts, API tokens, the intake of proposals not yet public — use [`record_private`], so that
//! a burst of 12345 pushes or a morning of sign-ins does not empty the page cache (each used to,
//! and on PostgreSQL every intake also waited for the revision row's lock).
use chrono::Utc;
use entity::audit_log;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::accounts::Actor;

/// Logs an action that changes public content, and marks that content as changed.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    action: &str,
    target: Option<String>,
    detail: Option<String>,
    ip: Option<&str>,
) -> Result<(), sea_orm::DbErr> {
    record_private(db, actor, action, target, detail, ip).await?;
    crate::revision::bump(db).await
}

/// Logs an action without marking content as changed: it changes nothing on a public page
/// (cached pages stay valid), or its caller marks just the pages it changed
/// (`crate::revision::bump_pages`: workflow steps, reported actuals).
pub async fn record_private<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    action: &str,
    target: Option<String>,
    detail: Option<String>,
    ip: Option<&str>,
) -> Result<(), sea_orm::DbErr> {
    audit_log::Entity::insert(audit_log::ActiveModel {
        user_id: Set(actor.map(|a| a.user_id)),
        actor_label: Set(actor.map_or_else(
            || "命令行".to_owned(),
            |a| format!("{}({})", a.display_name, a.username),
        )),
        action: Set(action.to_owned()),
        target: Set(target),
        detail: Set(detail),
        ip: Set(ip.map(str::to_owned)),
        at: Set(Utc::now().fixed_offset()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}
