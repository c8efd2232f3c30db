//! Email, below the capabilities: the outbox of messages ([`outbox`], written in the
//! transaction of the event that causes them), the worker that sends them over SMTP
//! ([`sender`]), messages rendered from templates ([`compose`]) and the signed links in them
//! ([`links`]). Nothing is sent on the request path, and nothing at all without
//! `TINGSHANG_SMTP_URL`.
use entity::users;
use sea_orm::ConnectionTrait;

use crate::config::Config;
use crate::error::AppResult;
use compose::Letter;
use links::{Links, Purpose};
use outbox::Outgoing;

pub mod compose;
pub mod links;
pub mod outbox;
pub mod sender;

/// A user's address when it may receive mail: confirmed, and the account enabled.
pub fn confirmed_address(user: &users::Model) -> Option<&str> {
    user.email
        .as_deref()
        .filter(|_| user.email_confirmed_at.is_some() && !user.disabled)
}

/// Writes the message that asks `user` to confirm `address`; nothing else is sent to an
/// address before that link is followed.
pub async fn ask_to_confirm<C: ConnectionTrait>(
    db: &C,
    config: &Config,
    user: &users::Model,
    address: &str,
) -> AppResult<()> {
    if config.smtp_url.is_none() {
        return Ok(());
    }
    let links = Links::load(db, config).await?;
    let confirm = links.signed(
        "/mail/confirm",
        &Purpose::ConfirmAccount {
            user: user.id,
            email: address.to_owned(),
        },
    );
    let letter: Letter = compose::letter(
        "confirm_account",
        "【听商】请确认您的邮箱地址",
        links.site,
        minijinja::context! {
            name => user.display_name,
            username => user.username,
            confirm_url => confirm,
            days => links::CONFIRM_LIFETIME.num_days(),
        },
    )?;
    outbox::enqueue(
        db,
        config,
        Outgoing {
            recipient: address.to_owned(),
            kind: "confirm_account".to_owned(),
            letter,
            unsubscribe_url: None,
        },
    )
    .await?;
    Ok(())
}
