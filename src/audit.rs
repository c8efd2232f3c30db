//! The append-only audit log of privileged actions: who, what, when, from where. Logging says
//! nothing about public pages: the write that changes public content marks it (`crate::revision`)
//! itself, so sign-ins, token changes and 12345 intakes, which the public does not see, keep the
//! page cache warm.
use chrono::Utc;
use entity::audit_log;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::accounts::Actor;

/// Logs an action. It does not mark public content as changed: a caller whose write changes what
/// public pages show says so itself (`crate::revision::bump`, or `bump_pages` for the pages of one
/// proposal), next to the write.
pub async fn record<C: ConnectionTrait>(
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
