//! How a notification travels by mail. Each recipient gets a route — now, in the daily digest,
//! or not by mail (no confirmed address, switched off, or no SMTP server configured) — and the
//! message for "now" is written to the mail outbox in the event's own transaction. Digests
//! collect what waited since the last one.
use entity::{notifications, users};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::preferences::{self, Mode};
use super::{Kind, Notice};
use crate::config::Config;
use crate::error::AppResult;
use crate::mail::compose;
use crate::mail::confirmed_address;
use crate::mail::links::Links;
use crate::mail::outbox::{self, Outgoing};

/// How one recipient gets one notification by mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Now,
    Digest,
    NotByMail,
}

impl Route {
    /// The notification's `mail` column: what is left to do for it.
    pub fn stored(self) -> Option<&'static str> {
        match self {
            Self::Now => Some(SENT),
            Self::Digest => Some(DIGEST),
            Self::NotByMail => None,
        }
    }
}

const SENT: &str = "sent";
const DIGEST: &str = "digest";

/// Each recipient's route for a notification of `kind`. `required`: the recipient may not switch
/// it off (a deadline reminder to the lead agency), so "off" counts as the kind's default.
pub async fn routes<C: ConnectionTrait>(
    db: &C,
    config: &Config,
    recipients: &[users::Model],
    kind: Kind,
    required: bool,
) -> Result<Vec<Route>, sea_orm::DbErr> {
    if config.smtp_url.is_none() {
        return Ok(vec![Route::NotByMail; recipients.len()]);
    }
    let ids: Vec<i32> = recipients.iter().map(|u| u.id).collect();
    let modes = preferences::modes_for(db, &ids, kind).await?;
    Ok(recipients
        .iter()
        .map(|user| {
            if confirmed_address(user).is_none() {
                return Route::NotByMail;
            }
            let chosen = modes.get(&user.id).copied().unwrap_or(Mode::Now);
            let mode = if required && chosen == Mode::Off {
                Mode::Now
            } else {
                chosen
            };
            match (mode, kind) {
                (Mode::Off, _) => Route::NotByMail,
                // Overdue items come once a day, together, until they are answered.
                (_, Kind::Overdue) | (Mode::Digest, _) => Route::Digest,
                (Mode::Now, _) => Route::Now,
            }
        })
        .collect())
}

#[derive(Serialize)]
struct Item<'a> {
    kind: &'static str,
    message: &'a str,
    link: String,
}

/// Writes the message of `notice` for every recipient routed "now".
pub async fn send_now<C: ConnectionTrait>(
    db: &C,
    config: &Config,
    recipients: &[users::Model],
    routes: &[Route],
    notice: &Notice<'_>,
    required: bool,
) -> AppResult<()> {
    if !routes.contains(&Route::Now) {
        return Ok(());
    }
    let links = Links::load(db, config).await?;
    for (user, _) in recipients
        .iter()
        .zip(routes)
        .filter(|(_, route)| **route == Route::Now)
    {
        let Some(address) = confirmed_address(user) else {
            continue;
        };
        // A message the recipient may not switch off offers no unsubscribe link (RFC 8058 is
        // for messages one can stop).
        let unsubscribe =
            (!required).then(|| links.unsubscribe(user.id, notice.kind.as_str(), address));
        let letter = compose::letter(
            "notification",
            &format!("【听商】{}", notice.message),
            links.site,
            minijinja::context! {
                name => user.display_name,
                item => Item {
                    kind: notice.kind.label(),
                    message: notice.message,
                    link: notice.proposal_id.map_or_else(
                        || links.url("/me"),
                        |id| links.url(&format!("/work/proposals/{id}")),
                    ),
                },
                preferences_url => links.url("/me/mail"),
                unsubscribe_url => unsubscribe,
            },
        )?;
        outbox::enqueue(
            db,
            config,
            Outgoing {
                recipient: address.to_owned(),
                kind: notice.kind.as_str().to_owned(),
                letter,
                unsubscribe_url: unsubscribe,
            },
        )
        .await?;
    }
    Ok(())
}

/// Writes one digest per user with notifications waiting for it; returns how many. Each user's
/// digest and the marking of its items commit together, and only if this run marked them all:
/// a second instance running the same job at the same hour writes nothing twice.
pub async fn send_digests(db: &sea_orm::DatabaseConnection, config: &Config) -> AppResult<usize> {
    use sea_orm::QuerySelect;
    let mut users: Vec<i32> = notifications::Entity::find()
        .select_only()
        .column(notifications::Column::UserId)
        .filter(notifications::Column::Mail.eq(DIGEST))
        .distinct()
        .into_tuple()
        .all(db)
        .await?;
    users.sort_unstable();
    let mut written = 0;
    for user_id in users {
        let txn = crate::db::begin_write(db).await?;
        let items = notifications::Entity::find()
            .filter(notifications::Column::UserId.eq(user_id))
            .filter(notifications::Column::Mail.eq(DIGEST))
            .order_by_asc(notifications::Column::Id)
            .all(&txn)
            .await?;
        if items.is_empty() {
            continue;
        }
        let user = users::Entity::find_by_id(user_id).one(&txn).await?;
        let address = user.as_ref().and_then(confirmed_address).map(str::to_owned);
        // An address removed or unconfirmed since: the items stay in the inbox only.
        let marked = address.as_ref().map(|_| SENT.to_owned());
        let claimed = notifications::Entity::update_many()
            .col_expr(notifications::Column::Mail, Expr::value(marked))
            .filter(notifications::Column::Id.is_in(items.iter().map(|n| n.id)))
            .filter(notifications::Column::Mail.eq(DIGEST))
            .exec(&txn)
            .await?
            .rows_affected;
        if claimed != items.len() as u64 {
            // Another run took some of them first: it sends them; this one writes nothing.
            continue;
        }
        if let (Some(address), Some(user)) = (address, &user) {
            let links = Links::load(&txn, config).await?;
            let unsubscribe = links.unsubscribe(user.id, "all", &address);
            let letter = compose::letter(
                "digest",
                &format!("【听商】今日汇总:{} 条提醒", items.len()),
                links.site,
                minijinja::context! {
                    name => user.display_name,
                    items => items.iter().map(|n| Item {
                        kind: Kind::parse(&n.kind).map_or("提醒", Kind::label),
                        message: &n.message,
                        link: n.proposal_id.map_or_else(
                            || links.url("/me"),
                            |id| links.url(&format!("/work/proposals/{id}")),
                        ),
                    }).collect::<Vec<_>>(),
                    preferences_url => links.url("/me/mail"),
                    unsubscribe_url => unsubscribe,
                },
            )?;
            outbox::enqueue(
                &txn,
                config,
                Outgoing {
                    recipient: address,
                    kind: "digest".to_owned(),
                    letter,
                    unsubscribe_url: Some(unsubscribe),
                },
            )
            .await?;
            written += 1;
        }
        txn.commit().await?;
    }
    Ok(written)
}
