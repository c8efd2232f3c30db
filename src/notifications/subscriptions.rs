//! The public's email subscriptions: anyone may follow a proposal, an agency, a session or a
//! search. Double opt-in: a request writes an unconfirmed row and a confirmation message, and
//! nothing else is sent to the address until its link is followed. Once a day the confirmed ones
//! get what changed since (read from the public change log, `changes`), one message each, with a
//! one-click unsubscribe. Addresses are never shown publicly and never exported.
use chrono::Utc;
use entity::{assignments, proposals, subscriptions};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter,
};
use serde::Serialize;

use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::mail::compose;
use crate::mail::links::{Links, Purpose};
use crate::mail::outbox::{self, Outgoing};
use crate::search::{documents::PROPOSAL, documents::SESSION, Backend, SearchQuery, Sort};

crate::vocabulary! {
    /// What a subscription follows.
    pub enum Target {
        Proposal = "proposal" => "建议",
        Agency = "agency" => "承办单位",
        Session = "session" => "协商活动",
        Search = "search" => "检索",
    }
}

/// Requests one address may make in a day: enough to follow a few items, too few to flood it.
pub const PER_ADDRESS_PER_DAY: u64 = 10;
/// Confirmations that may wait for one address at a time.
pub const UNCONFIRMED_PER_ADDRESS: u64 = 3;

/// What a subscription request resolves to before anything is written.
pub struct Resolved {
    pub target: Target,
    /// The stored key: a proposal code, an agency id, a session number, a search's query string.
    pub key: String,
    pub label: String,
    /// The public page it follows, relative to the site.
    pub page: String,
}

/// Checks that what is to be followed exists publicly, and names it.
pub async fn resolve<C: ConnectionTrait>(db: &C, target: Target, key: &str) -> AppResult<Resolved> {
    let key = key.trim();
    let missing = || AppError::bad_request("要关注的内容不存在或未公开。");
    let (label, page) = match target {
        Target::Proposal => {
            let proposal = proposals::Entity::find()
                .filter(proposals::Column::Code.eq(key))
                .filter(crate::visibility::public_proposals())
                .one(db)
                .await?
                .ok_or_else(missing)?;
            (
                format!("建议《{}》", proposal.title),
                format!("/proposals/{key}"),
            )
        }
        Target::Agency => {
            let id: i32 = key.parse().map_err(|_| missing())?;
            let agency = entity::agencies::Entity::find_by_id(id)
                .one(db)
                .await?
                .ok_or_else(missing)?;
            (
                format!("{}的办理", agency.short_name),
                format!("/agencies/{id}"),
            )
        }
        Target::Session => {
            let number: i32 = key.parse().map_err(|_| missing())?;
            let session = crate::visibility::published_session(db, number)
                .await?
                .ok_or_else(missing)?;
            (
                format!("第{number}期协商活动“{}”", session.topic),
                format!("/sessions/{number}"),
            )
        }
        Target::Search => {
            let query = key.trim_start_matches('?');
            let params: crate::search::routes::Params =
                serde_urlencoded::from_str(query).map_err(|_| missing())?;
            let text = crate::search::text::clean_query(&params.q);
            if text.is_empty() {
                return Err(AppError::bad_request("请先输入检索词,再关注这次检索。"));
            }
            (format!("检索“{text}”的新结果"), format!("/search?{query}"))
        }
    };
    Ok(Resolved {
        target,
        key: key.to_owned(),
        label,
        page,
    })
}

/// Writes an unconfirmed subscription and its confirmation message. The same confirmed
/// subscription asked for again changes nothing, and the answer is the same (nobody learns
/// whether an address already follows something).
pub async fn request(
    db: &DatabaseConnection,
    config: &Config,
    email: &str,
    wanted: Resolved,
) -> AppResult<()> {
    // One address, however it is capitalised: limits and duplicates count it once.
    let email = crate::accounts::service::validate_email(email)
        .map_err(AppError::BadRequest)?
        .to_lowercase();
    if config.smtp_url.is_none() {
        return Err(AppError::Unavailable("本站尚未开通邮件订阅。".into()));
    }
    let txn = crate::db::begin_write(db).await?;
    let day_ago = (Utc::now() - chrono::Duration::days(1)).fixed_offset();
    let recent = subscriptions::Entity::find()
        .filter(subscriptions::Column::Email.eq(&email))
        .filter(subscriptions::Column::CreatedAt.gt(day_ago))
        .count(&txn)
        .await?;
    if recent >= PER_ADDRESS_PER_DAY {
        return Err(AppError::TooManyAttempts(
            "这个邮箱今天的订阅请求已经太多,请明天再试。".into(),
        ));
    }
    // Asked before (confirmed or still waiting): nothing new is written or sent, and the answer
    // is the same, so the form can neither tell who follows what nor repeat a confirmation.
    let asked = subscriptions::Entity::find()
        .filter(subscriptions::Column::Email.eq(&email))
        .filter(subscriptions::Column::TargetKind.eq(wanted.target.as_str()))
        .filter(subscriptions::Column::Target.eq(&wanted.key))
        .count(&txn)
        .await?;
    if asked > 0 {
        return Ok(());
    }
    // At most a few confirmations waiting per address: the form cannot be used to flood one.
    let waiting = subscriptions::Entity::find()
        .filter(subscriptions::Column::Email.eq(&email))
        .filter(subscriptions::Column::ConfirmedAt.is_null())
        .count(&txn)
        .await?;
    if waiting >= UNCONFIRMED_PER_ADDRESS {
        return Ok(());
    }
    let inserted = subscriptions::Entity::insert(subscriptions::ActiveModel {
        email: Set(email.clone()),
        target_kind: Set(wanted.target.as_str().to_owned()),
        target: Set(wanted.key.clone()),
        label: Set(wanted.label.clone()),
        created_at: Set(Utc::now().fixed_offset()),
        confirmed_at: Set(None),
        seen_change: Set(None),
        ..Default::default()
    })
    .exec(&txn)
    .await;
    let id = match inserted {
        Ok(row) => row.last_insert_id,
        // The same request racing on another connection: that one writes it.
        Err(sea_orm::DbErr::RecordNotInserted) => return Ok(()),
        Err(err) if err.to_string().to_lowercase().contains("unique") => return Ok(()),
        Err(err) => return Err(err.into()),
    };
    let links = Links::load(&txn, config).await?;
    let letter = compose::letter(
        "confirm_subscription",
        // The label may hold a stranger's search words: the body shows them, the subject not.
        "【听商】请确认邮件订阅",
        links.site,
        minijinja::context! {
            label => wanted.label,
            page_url => links.url(&wanted.page),
            confirm_url => links.signed("/follow/confirm", &Purpose::ConfirmSubscription { id }),
            days => crate::mail::links::CONFIRM_LIFETIME.num_days(),
        },
    )?;
    outbox::enqueue(
        &txn,
        config,
        Outgoing {
            recipient: email,
            kind: "confirm_subscription".to_owned(),
            letter,
            unsubscribe_url: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Confirms subscription `id`; from now on it hears of changes made after this moment. Returns
/// what it follows, or `None` when it no longer exists (ended, or expired unconfirmed).
pub async fn confirm(db: &DatabaseConnection, id: i32) -> AppResult<Option<String>> {
    let txn = crate::db::begin_write(db).await?;
    let Some(row) = subscriptions::Entity::find_by_id(id).one(&txn).await? else {
        return Ok(None);
    };
    if row.confirmed_at.is_none() {
        let seen = crate::changes::latest_committed(&txn).await?;
        subscriptions::Entity::update_many()
            .col_expr(
                subscriptions::Column::ConfirmedAt,
                Expr::value(Utc::now().fixed_offset()),
            )
            .col_expr(subscriptions::Column::SeenChange, Expr::value(seen))
            .filter(subscriptions::Column::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(Some(row.label))
}

/// Ends subscription `id`, deleting it (the address is kept no longer than needed); returns
/// what it followed.
pub async fn end(db: &DatabaseConnection, id: i32) -> AppResult<Option<String>> {
    let Some(row) = subscriptions::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    subscriptions::Entity::delete_by_id(id).exec(db).await?;
    Ok(Some(row.label))
}

#[derive(Serialize)]
struct Update {
    title: String,
    status: &'static str,
    link: String,
}

/// Sends every confirmed subscription what changed since it last heard; returns how many
/// messages were written. Each subscription's message and its new position commit together.
pub async fn send_updates(
    db: &DatabaseConnection,
    config: &Config,
    search: &Backend,
) -> AppResult<usize> {
    if config.smtp_url.is_none() {
        return Ok(0);
    }
    let active = subscriptions::Entity::find()
        .filter(subscriptions::Column::ConfirmedAt.is_not_null())
        .all(db)
        .await?;
    let Some(from) = active.iter().map(|s| s.seen_change.unwrap_or(0)).min() else {
        return Ok(0);
    };
    // The log since the oldest position, read once: (seq, kind, id) of each item's latest change.
    let mut changed = Vec::new();
    let mut cursor = from;
    loop {
        let page = crate::changes::after(db, cursor, 1000).await?;
        changed.extend(page.items.into_iter().map(|c| (c.seq, c.kind, c.entity_id)));
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    let latest = cursor;
    let mut written = 0;
    for subscription in active {
        let seen = subscription.seen_change.unwrap_or(0);
        let mut proposal_ids: Vec<i32> = changed
            .iter()
            .filter(|(seq, kind, _)| *seq > seen && kind == PROPOSAL)
            .map(|(_, _, id)| *id)
            .collect();
        proposal_ids.sort_unstable();
        proposal_ids.dedup();
        let sessions_changed: Vec<i32> = changed
            .iter()
            .filter(|(seq, kind, _)| *seq > seen && kind == SESSION)
            .map(|(_, _, id)| *id)
            .collect();
        // One subscription's trouble (the search backend down) leaves it where it was, for the
        // next run; the others go on.
        let updates = match matching(db, search, &subscription, proposal_ids, &sessions_changed)
            .await
        {
            Ok(updates) => updates,
            Err(err) => {
                tracing::warn!(subscription = subscription.id, error = %err.report().detail, "subscription update skipped");
                continue;
            }
        };
        let txn = crate::db::begin_write(db).await?;
        let wrote = !updates.is_empty();
        if wrote {
            let links = Links::load(&txn, config).await?;
            let unsubscribe = links.signed(
                "/follow/unsubscribe",
                &Purpose::EndSubscription {
                    id: subscription.id,
                },
            );
            let items: Vec<Update> = updates
                .into_iter()
                .map(|(title, status, page)| Update {
                    title,
                    status,
                    link: links.url(&page),
                })
                .collect();
            let letter = compose::letter(
                "subscription_update",
                &format!(
                    "【听商】您关注的{}有 {} 项更新",
                    Target::parse(&subscription.target_kind).map_or("内容", Target::label),
                    items.len()
                ),
                links.site,
                minijinja::context! {
                    label => subscription.label, items, unsubscribe_url => unsubscribe,
                },
            )?;
            outbox::enqueue(
                &txn,
                config,
                Outgoing {
                    recipient: subscription.email.clone(),
                    kind: "subscription".to_owned(),
                    letter,
                    unsubscribe_url: Some(unsubscribe),
                },
            )
            .await?;
        }
        // From where this run read it only: a concurrent run that moved it first wins, and this
        // message is dropped with the transaction.
        let unchanged = match subscription.seen_change {
            Some(seen) => subscriptions::Column::SeenChange.eq(seen),
            None => subscriptions::Column::SeenChange.is_null(),
        };
        let moved = subscriptions::Entity::update_many()
            .col_expr(subscriptions::Column::SeenChange, Expr::value(latest))
            .filter(subscriptions::Column::Id.eq(subscription.id))
            .filter(unchanged)
            .exec(&txn)
            .await?
            .rows_affected;
        if moved == 1 {
            txn.commit().await?;
            written += usize::from(wrote);
        }
    }
    Ok(written)
}

/// The public proposals among `changed` that `subscription` follows: (title, status, page).
async fn matching(
    db: &DatabaseConnection,
    search: &Backend,
    subscription: &subscriptions::Model,
    changed: Vec<i32>,
    sessions_changed: &[i32],
) -> AppResult<Vec<(String, &'static str, String)>> {
    let Some(target) = Target::parse(&subscription.target_kind) else {
        return Ok(Vec::new());
    };
    if changed.is_empty() && sessions_changed.is_empty() {
        return Ok(Vec::new());
    }
    let public = proposals::Entity::find()
        .filter(crate::visibility::public_proposals())
        .filter(proposals::Column::Id.is_in(changed.clone()));
    let rows = match target {
        Target::Proposal => {
            public
                .filter(proposals::Column::Code.eq(&subscription.target))
                .all(db)
                .await?
        }
        Target::Session => {
            let Some(session) =
                crate::visibility::published_session(db, subscription.target.parse().unwrap_or(-1))
                    .await?
            else {
                return Ok(Vec::new());
            };
            let mut rows: Vec<(String, &'static str, String)> = public
                .filter(proposals::Column::SessionId.eq(session.id))
                .all(db)
                .await?
                .into_iter()
                .map(describe)
                .collect();
            // The log names sessions by id; the subscription, as the public does, by number.
            if sessions_changed.contains(&session.id) {
                rows.insert(
                    0,
                    (
                        format!("第{}期协商活动“{}”", session.number, session.topic),
                        "活动记录更新",
                        format!("/sessions/{}", session.number),
                    ),
                );
            }
            return Ok(rows);
        }
        Target::Agency => {
            let agency: i32 = subscription.target.parse().unwrap_or(-1);
            let assigned: Vec<i32> = assignments::Entity::find()
                .filter(assignments::Column::AgencyId.eq(agency))
                .filter(crate::visibility::public_assignments())
                .filter(assignments::Column::ProposalId.is_in(changed))
                .all(db)
                .await?
                .into_iter()
                .map(|a| a.proposal_id)
                .collect();
            public
                .filter(proposals::Column::Id.is_in(assigned))
                .all(db)
                .await?
        }
        Target::Search => {
            let params: crate::search::routes::Params =
                serde_urlencoded::from_str(&subscription.target).unwrap_or_default();
            let mut query: SearchQuery = params.to_query(100);
            query.sort = Sort::Newest;
            query.page = 1;
            query.filters.kind = Some(PROPOSAL.to_owned());
            let found = search
                .search(&query)
                .await
                .map_err(|e| AppError::Unavailable(format!("检索服务暂时不可用:{e}")))?;
            let hits: Vec<i32> = found
                .hits
                .iter()
                .filter_map(|h| h.id.strip_prefix("proposal-")?.parse().ok())
                .filter(|id| changed.contains(id))
                .collect();
            public
                .filter(proposals::Column::Id.is_in(hits))
                .all(db)
                .await?
        }
    };
    Ok(rows.into_iter().map(describe).collect())
}

fn describe(p: proposals::Model) -> (String, &'static str, String) {
    let status = crate::workflow::ProposalStatus::parse(&p.status)
        .map_or("", crate::workflow::ProposalStatus::label);
    (p.title, status, format!("/proposals/{}", p.code))
}
