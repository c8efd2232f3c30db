//! Login throttling: too many failures for one account, or from one address, within the window
//! lock further attempts until the window passes.
use chrono::{Duration, Utc};
use entity::login_attempts;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
};

pub const WINDOW: Duration = Duration::minutes(15);
pub const MAX_FAILURES_PER_ACCOUNT: u64 = 5;
pub const MAX_FAILURES_PER_ADDRESS: u64 = 20;

pub fn is_locked(account_failures: u64, address_failures: u64) -> bool {
    account_failures >= MAX_FAILURES_PER_ACCOUNT || address_failures >= MAX_FAILURES_PER_ADDRESS
}

pub async fn locked<C: ConnectionTrait>(
    db: &C,
    username: &str,
    ip: &str,
) -> Result<bool, sea_orm::DbErr> {
    let since = (Utc::now() - WINDOW).fixed_offset();
    let failures = || {
        login_attempts::Entity::find()
            .filter(login_attempts::Column::Succeeded.eq(false))
            .filter(login_attempts::Column::AttemptedAt.gt(since))
    };
    let by_account = failures()
        .filter(login_attempts::Column::Username.eq(username))
        .count(db)
        .await?;
    let by_address = failures()
        .filter(login_attempts::Column::Ip.eq(ip))
        .count(db)
        .await?;
    Ok(is_locked(by_account, by_address))
}

pub async fn record<C: ConnectionTrait>(
    db: &C,
    username: &str,
    ip: &str,
    succeeded: bool,
) -> Result<(), sea_orm::DbErr> {
    login_attempts::Entity::insert(login_attempts::ActiveModel {
        username: Set(username.chars().take(100).collect()),
        ip: Set(ip.to_owned()),
        succeeded: Set(succeeded),
        attempted_at: Set(Utc::now().fixed_offset()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn locks_after_five_account_or_twenty_address_failures() {
        assert!(!super::is_locked(4, 19));
        assert!(super::is_locked(5, 0));
        assert!(super::is_locked(0, 20));
    }
}
