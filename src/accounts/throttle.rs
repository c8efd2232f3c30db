//! Login throttling. Failures slow down the one who makes them, not the account's owner:
//!
//! - an (account, address) pair, or an (account, device) pair for a browser carrying the
//!   account's device cookie (`accounts::device`), may fail a few times; after that each further
//!   failure doubles the wait before its next attempt, up to a cap;
//! - one address failing on many accounts is stopped, for every account but only that address,
//!   once it has failed `address_limit` times within `address_window`;
//! - failures on an account from anywhere slow down, the same doubling way, further attempts on it
//!   from addresses that have never signed in to it — a guess spread over many addresses;
//! - a device cookie for the account exempts its browser from everything but its own failures, and
//!   an address that has signed in to the account before is exempt from the account-wide wait.
//!
//! Every wait is counted from the last failure and no longer than the cap, so nobody is locked out
//! for good. A throttled attempt is answered before the password is checked (argon2 is the
//! expensive part) and is not recorded, so hammering does not extend the wait. An attempt is
//! recorded as a failure *before* its password is checked and marked a success afterwards, so
//! concurrent guesses see each other.
use chrono::{DateTime, Duration, FixedOffset, Utc};
use entity::login_attempts;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

/// The numbers of the rules above (`Config::login_throttle`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Failures an (account, address) or (account, device) pair makes before it has to wait.
    pub free_failures: u32,
    /// Failures on an account, from addresses without a device cookie, before addresses that
    /// have never signed in to it have to wait.
    pub free_account_failures: u32,
    /// The first wait; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// Failures from one address, across accounts, that stop it until `address_window` has
    /// passed since the oldest of them (0: no such limit).
    pub address_limit: u32,
    pub address_window: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            free_failures: 5,
            free_account_failures: 10,
            first_delay: Duration::minutes(1),
            max_delay: Duration::minutes(15),
            address_limit: 20,
            address_window: Duration::minutes(15),
        }
    }
}

/// Failures older than this are forgotten.
const LOOKBACK: Duration = Duration::hours(24);
/// An address that signed in to an account within this long is "known" to it.
const KNOWN_ADDRESS_FOR: Duration = Duration::days(90);
/// The most attempts on one account read per login; the waits are capped long before this.
const MAX_ROWS: u64 = 500;

/// The wait after `failures` consecutive failures when `free` of them cost nothing.
pub fn delay(policy: &Policy, failures: u32, free: u32) -> Duration {
    if failures < free {
        return Duration::zero();
    }
    let doublings = (failures - free).min(30);
    policy
        .first_delay
        .checked_mul(1 << doublings)
        .map_or(policy.max_delay, |d| d.min(policy.max_delay))
}

/// One recorded attempt on an account.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub ip: String,
    pub device: Option<String>,
    pub succeeded: bool,
    pub at: DateTime<Utc>,
}

/// Who is trying: their address, and the device id of a valid device cookie for the account.
#[derive(Clone, Copy, Debug)]
pub struct Client<'a> {
    pub ip: &'a str,
    pub device: Option<&'a str>,
}

/// What the database says about an account and an address, for [`wait`].
#[derive(Clone, Debug, Default)]
pub struct History {
    /// The account's attempts within the lookback, newest first.
    pub attempts: Vec<Attempt>,
    /// The address has signed in to the account before.
    pub known_address: bool,
    /// The address's latest failures on any account within the address window, newest first,
    /// at most `address_limit` of them.
    pub address_failures: Vec<DateTime<Utc>>,
}

/// How long since the last failure of a streak must pass before the next attempt.
fn streak_wait<'a>(
    policy: &Policy,
    newest_first: impl Iterator<Item = &'a Attempt>,
    free: u32,
    now: DateTime<Utc>,
) -> Duration {
    let mut failures = 0u32;
    let mut last = None;
    for attempt in newest_first.take_while(|a| !a.succeeded) {
        failures += 1;
        last.get_or_insert(attempt.at);
    }
    last.map_or(Duration::zero(), |at| {
        at + delay(policy, failures, free) - now
    })
}

/// How long `client` must wait before trying to sign in again; `None` when it may try now.
pub fn wait(
    policy: &Policy,
    history: &History,
    client: Client,
    now: DateTime<Utc>,
) -> Option<std::time::Duration> {
    let attempts = history.attempts.iter();
    let longest = match client.device {
        Some(device) => streak_wait(
            policy,
            attempts.filter(|a| a.device.as_deref() == Some(device)),
            policy.free_failures,
            now,
        ),
        None => {
            let without_cookie = || history.attempts.iter().filter(|a| a.device.is_none());
            let pair = streak_wait(
                policy,
                without_cookie().filter(|a| a.ip == client.ip),
                policy.free_failures,
                now,
            );
            let account = if history.known_address {
                Duration::zero()
            } else {
                streak_wait(policy, without_cookie(), policy.free_account_failures, now)
            };
            let address = policy
                .address_limit
                .checked_sub(1)
                .and_then(|i| history.address_failures.get(i as usize))
                .map_or(Duration::zero(), |oldest| {
                    *oldest + policy.address_window - now
                });
            pair.max(account).max(address)
        }
    };
    longest.to_std().ok().filter(|d| !d.is_zero())
}

/// Reads what [`wait`] needs about `username` and `client` from the attempts table.
async fn history<C: ConnectionTrait>(
    db: &C,
    policy: &Policy,
    username: &str,
    client: Client<'_>,
) -> Result<History, sea_orm::DbErr> {
    let now = Utc::now();
    let attempts = login_attempts::Entity::find()
        .filter(login_attempts::Column::Username.eq(username))
        .filter(login_attempts::Column::AttemptedAt.gt((now - LOOKBACK).fixed_offset()))
        .order_by_desc(login_attempts::Column::AttemptedAt)
        .order_by_desc(login_attempts::Column::Id)
        .limit(MAX_ROWS)
        .all(db)
        .await?
        .into_iter()
        .map(|row| Attempt {
            ip: row.ip,
            device: row.device,
            succeeded: row.succeeded,
            at: row.attempted_at.to_utc(),
        })
        .collect();
    if client.device.is_some() {
        // The cookie's own failures are all that count.
        return Ok(History {
            attempts,
            ..History::default()
        });
    }
    let known_address = login_attempts::Entity::find()
        .filter(login_attempts::Column::Username.eq(username))
        .filter(login_attempts::Column::Ip.eq(client.ip))
        .filter(login_attempts::Column::Succeeded.eq(true))
        .filter(login_attempts::Column::AttemptedAt.gt((now - KNOWN_ADDRESS_FOR).fixed_offset()))
        .count(db)
        .await?
        > 0;
    let address_failures = login_attempts::Entity::find()
        .select_only()
        .column(login_attempts::Column::AttemptedAt)
        .filter(login_attempts::Column::Ip.eq(client.ip))
        .filter(login_attempts::Column::Succeeded.eq(false))
        .filter(
            login_attempts::Column::AttemptedAt.gt((now - policy.address_window).fixed_offset()),
        )
        .order_by_desc(login_attempts::Column::AttemptedAt)
        .limit(u64::from(policy.address_limit))
        .into_tuple::<DateTime<FixedOffset>>()
        .all(db)
        .await?
        .into_iter()
        .map(|at| at.to_utc())
        .collect();
    Ok(History {
        attempts,
        known_address,
        address_failures,
    })
}

/// Whether a login attempt goes ahead.
#[derive(Debug)]
pub enum Admission {
    /// Check the password; the attempt is recorded as failed until [`succeeded`] is told.
    Try(i64),
    /// Answer "try again later" without checking the password.
    Wait(std::time::Duration),
}

/// Decides whether `client` may try to sign in to `username` now and, if so, records the attempt.
pub async fn begin(
    db: &sea_orm::DatabaseConnection,
    policy: &Policy,
    username: &str,
    client: Client<'_>,
    now: DateTime<Utc>,
) -> Result<Admission, sea_orm::DbErr> {
    // Reading the history and recording this attempt happen in one write transaction, one
    // account at a time (SQLite's write lock; a per-username advisory lock on PostgreSQL), so a
    // burst of parallel guesses sees each other instead of all reading the same history.
    let txn = crate::db::begin_write(db).await?;
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            [username.into()],
        ))
        .await?;
    }
    let admission = admit(&txn, policy, username, client, now).await?;
    txn.commit().await?;
    Ok(admission)
}

async fn admit<C: ConnectionTrait>(
    db: &C,
    policy: &Policy,
    username: &str,
    client: Client<'_>,
    now: DateTime<Utc>,
) -> Result<Admission, sea_orm::DbErr> {
    let history = history(db, policy, username, client).await?;
    if let Some(wait) = wait(policy, &history, client, now) {
        return Ok(Admission::Wait(wait));
    }
    Ok(Admission::Try(record_failure(db, username, client).await?))
}

/// Usernames as the attempts table keys them (the form's text, trimmed, lower-cased, bounded).
pub fn key(username: &str) -> String {
    username.trim().to_lowercase().chars().take(100).collect()
}

/// Records an attempt as failed, before its password is checked; returns its id for
/// [`succeeded`].
async fn record_failure<C: ConnectionTrait>(
    db: &C,
    username: &str,
    client: Client<'_>,
) -> Result<i64, sea_orm::DbErr> {
    let result = login_attempts::Entity::insert(login_attempts::ActiveModel {
        username: Set(username.to_owned()),
        ip: Set(client.ip.to_owned()),
        device: Set(client.device.map(str::to_owned)),
        succeeded: Set(false),
        attempted_at: Set(Utc::now().fixed_offset()),
        ..Default::default()
    })
    .exec(db)
    .await?;
    Ok(result.last_insert_id)
}

/// Marks a recorded attempt as the success it turned out to be.
pub async fn succeeded<C: ConnectionTrait>(db: &C, attempt: i64) -> Result<(), sea_orm::DbErr> {
    login_attempts::Entity::update_many()
        .col_expr(login_attempts::Column::Succeeded, Expr::value(true))
        .filter(login_attempts::Column::Id.eq(attempt))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            free_failures: 3,
            free_account_failures: 5,
            first_delay: Duration::seconds(60),
            max_delay: Duration::minutes(15),
            address_limit: 4,
            address_window: Duration::minutes(15),
        }
    }

    fn t(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    /// `failures` failures, one a second ending at `t(0)`, newest first.
    fn failures(ip: &str, device: Option<&str>, count: i64) -> Vec<Attempt> {
        (0..count)
            .map(|i| Attempt {
                ip: ip.to_owned(),
                device: device.map(str::to_owned),
                succeeded: false,
                at: t(-i),
            })
            .collect()
    }

    fn secs(wait: Option<std::time::Duration>) -> u64 {
        wait.map_or(0, |d| d.as_secs())
    }

    #[test]
    fn the_delay_doubles_after_the_free_failures_up_to_the_cap() {
        let p = policy();
        let waits: Vec<i64> = (0..10).map(|n| delay(&p, n, 3).num_seconds()).collect();
        assert_eq!(waits, [0, 0, 0, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(delay(&p, u32::MAX, 0), p.max_delay, "no overflow");
    }

    #[test]
    fn a_pair_waits_from_its_last_failure_and_a_success_ends_its_streak() {
        let p = policy();
        let me = Client {
            ip: "a",
            device: None,
        };
        let mut history = History {
            attempts: failures("a", None, 2),
            known_address: true,
            ..History::default()
        };
        assert_eq!(wait(&p, &history, me, t(0)), None, "two failures are free");
        history.attempts = failures("a", None, 4);
        assert_eq!(secs(wait(&p, &history, me, t(0))), 120);
        assert_eq!(secs(wait(&p, &history, me, t(100))), 20);
        assert_eq!(wait(&p, &history, me, t(120)), None, "the wait is over");
        // A success before the failures: only the two after it count.
        history.attempts = failures("a", None, 2);
        history.attempts.push(Attempt {
            succeeded: true,
            ..failures("a", None, 1)[0].clone()
        });
        history.attempts.extend(failures("a", None, 9));
        assert_eq!(wait(&p, &history, me, t(0)), None);
    }

    #[test]
    fn other_addresses_do_not_slow_a_known_address_or_a_device() {
        let p = policy();
        let history = History {
            attempts: failures("attacker", None, 50),
            known_address: true,
            ..History::default()
        };
        let home = Client {
            ip: "home",
            device: None,
        };
        assert_eq!(wait(&p, &history, home, t(0)), None);
        let device = Client {
            ip: "attacker",
            device: Some("d1"),
        };
        assert_eq!(
            wait(&p, &history, device, t(0)),
            None,
            "even from the attacker's address"
        );
        // A device is slowed by its own failures.
        let mut own = History {
            attempts: failures("x", Some("d1"), 3),
            ..History::default()
        };
        own.attempts.extend(failures("x", None, 50));
        assert_eq!(secs(wait(&p, &own, device, t(0))), 60);
        let other_device = Client {
            ip: "x",
            device: Some("d2"),
        };
        assert_eq!(wait(&p, &own, other_device, t(0)), None);
    }

    #[test]
    fn failures_from_many_addresses_slow_unknown_addresses_without_locking_them() {
        let p = policy();
        let mut attempts = Vec::new();
        for ip in ["b1", "b2", "b3"] {
            attempts.extend(failures(ip, None, 2));
        }
        attempts.sort_by_key(|a| std::cmp::Reverse(a.at));
        let mut history = History {
            attempts,
            ..History::default()
        };
        let fresh = Client {
            ip: "fresh",
            device: None,
        };
        // Five failures cost nothing more, the fifth is followed by the first delay and the
        // sixth doubles it, counted from the last failure.
        assert_eq!(secs(wait(&p, &history, fresh, t(0))), 120);
        assert_eq!(wait(&p, &history, fresh, t(120)), None);
        history.attempts.remove(0);
        assert_eq!(secs(wait(&p, &history, fresh, t(0))), 60);
        history.known_address = true;
        assert_eq!(
            wait(&p, &history, fresh, t(0)),
            None,
            "known addresses are exempt"
        );
    }

    #[test]
    fn one_address_failing_on_many_accounts_is_stopped_alone() {
        let p = policy();
        let history = History {
            known_address: true,
            address_failures: (0..4).map(|i| t(-i * 60)).collect(),
            ..History::default()
        };
        let me = Client {
            ip: "a",
            device: None,
        };
        // The oldest of the last four was 3 minutes ago: 12 minutes of the window remain.
        assert_eq!(secs(wait(&p, &history, me, t(0))), 12 * 60);
        assert_eq!(wait(&p, &history, me, t(12 * 60)), None);
        let fewer = History {
            address_failures: (0..3).map(|i| t(-i)).collect(),
            ..history.clone()
        };
        assert_eq!(wait(&p, &fewer, me, t(0)), None);
        let device = Client {
            ip: "a",
            device: Some("d"),
        };
        assert_eq!(
            wait(&p, &history, device, t(0)),
            None,
            "a device cookie is exempt"
        );
    }

    #[test]
    fn usernames_are_keyed_as_the_form_is_read() {
        assert_eq!(key("  Xing \n"), "xing");
        assert_eq!(key(&"a".repeat(500)).len(), 100);
    }
}
