//! Login throttling against an attacker: failures slow down whoever makes them, the owner's
//! browser (its device cookie) and addresses the owner has signed in from are not locked out, and
//! a fresh address meets a growing, capped delay instead of a lock. Addresses are set through
//! `X-Forwarded-For` from a trusted proxy (the test client at 127.0.0.1); time passes by moving
//! the recorded attempts into the past.
mod common;

use std::sync::Arc;

use common::{spawn_app_configured, TestApp};
use reqwest::cookie::{CookieStore, Jar};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, PaginatorTrait};
use tingshang::accounts::throttle::Policy;
use tingshang::web::client_addr::TrustedProxies;

const HOME: &str = "198.51.100.10";
const TRAVEL: &str = "192.0.2.77";
const FRESH: &str = "192.0.2.200";
const ATTACKERS: [&str; 3] = ["203.0.113.1", "203.0.113.2", "203.0.113.3"];
const WRONG: &str = "wrong-password-0000";

/// Three free failures per (account, address), five on the account before unknown addresses
/// wait; waits of 1, 2, 4, 8 then 15 minutes; the default twenty failures per address.
fn policy() -> Policy {
    Policy {
        free_failures: 3,
        free_account_failures: 5,
        first_delay: chrono::Duration::seconds(60),
        max_delay: chrono::Duration::minutes(15),
        address_limit: 20,
        address_window: chrono::Duration::minutes(15),
    }
}

async fn app_with(policy: Policy) -> TestApp {
    spawn_app_configured(false, |config| {
        config.trusted_proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        config.login_throttle = policy;
    })
    .await
}

/// A browser: its own cookie jar (session, login CSRF and device cookies).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A browser whose cookie jar the test can read and write.
fn browser_with_jar() -> (reqwest::Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (client, jar)
}

/// The device cookie in `jar`, if any.
fn device_cookie(app: &TestApp, jar: &Jar) -> Option<String> {
    let cookies = jar.cookies(&app.url("/").parse().unwrap())?;
    cookies
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|pair| pair.strip_prefix("ts_device="))
        .map(str::to_owned)
}

/// Opens the login form and posts it from address `from`; returns the status and `Retry-After`.
async fn sign_in(
    app: &TestApp,
    browser: &reqwest::Client,
    from: &str,
    username: &str,
    password: &str,
) -> (u16, Option<u64>) {
    let csrf = common::login_csrf(
        browser
            .get(app.url("/login"))
            .header("x-forwarded-for", from),
    )
    .await;
    let response = browser
        .post(app.url("/login"))
        .header("x-forwarded-for", from)
        .form(&[
            ("username", username),
            ("password", password),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (response.status().as_u16(), retry_after)
}

/// Moves every recorded attempt `seconds` into the past, as if that much time had passed.
async fn time_passes(app: &TestApp, seconds: u64) {
    let rows = entity::login_attempts::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    for row in rows {
        let earlier = row.attempted_at - chrono::Duration::seconds(seconds as i64);
        let mut row: entity::login_attempts::ActiveModel = row.into();
        row.attempted_at = Set(earlier);
        row.update(app.db()).await.unwrap();
    }
}

async fn recorded_attempts(app: &TestApp) -> u64 {
    entity::login_attempts::Entity::find()
        .count(app.db())
        .await
        .unwrap()
}

/// Fails once from `from`, letting time pass whenever the throttle asks for it.
async fn fail_once(app: &TestApp, attacker: &reqwest::Client, from: &str) {
    loop {
        match sign_in(app, attacker, from, "xing", WRONG).await {
            (401, _) => return,
            (429, Some(wait)) => time_passes(app, wait).await,
            other => panic!("attacker from {from}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_attacker_cannot_lock_the_owner_out() {
    let app = app_with(policy()).await;
    let password = app.create_user("xing", "secretariat", None, None).await;
    let owner = browser();
    assert_eq!(sign_in(&app, &owner, HOME, "xing", &password).await.0, 303);

    // A quick burst from two addresses: one pair's free failures, the account's five.
    let attacker = browser();
    for (from, count) in [(ATTACKERS[0], 3), (ATTACKERS[1], 2)] {
        for attempt in 0..count {
            let (status, _) = sign_in(&app, &attacker, from, "xing", WRONG).await;
            assert_eq!(status, 401, "attempt {attempt} from {from}");
        }
    }
    // The owner's browser signs in at once, even from an address it has never used.
    let (status, _) = sign_in(&app, &owner, TRAVEL, "xing", &password).await;
    assert_eq!(status, 303, "the owner's device is not locked out");

    // The attacker is slowed down, from its addresses and from new ones, without the password
    // being checked (nothing is recorded).
    let before = recorded_attempts(&app).await;
    for from in ATTACKERS {
        let (status, wait) = sign_in(&app, &attacker, from, "xing", WRONG).await;
        assert_eq!(status, 429, "from {from}");
        assert!(wait.is_some_and(|w| (1..=60).contains(&w)), "{wait:?}");
    }
    assert_eq!(recorded_attempts(&app).await, before);
    // Neither the attacker's own device cookie, nor one edited to name the owner's account, is a
    // way around it.
    let mallory = app.create_user("mallory", "secretariat", None, None).await;
    let (attacker, jar) = browser_with_jar();
    assert_eq!(
        sign_in(&app, &attacker, ATTACKERS[2], "mallory", &mallory)
            .await
            .0,
        303
    );
    let own = device_cookie(&app, &jar).expect("a device cookie after signing in");
    assert!(own.contains(".mallory."), "{own}");
    let (status, _) = sign_in(&app, &attacker, ATTACKERS[2], "xing", WRONG).await;
    assert_eq!(
        status, 429,
        "a device cookie for another account does not count"
    );
    let (forger, forged_jar) = browser_with_jar();
    forged_jar.add_cookie_str(
        &format!("ts_device={}", own.replace(".mallory.", ".xing.")),
        &app.url("/").parse().unwrap(),
    );
    let (status, _) = sign_in(&app, &forger, ATTACKERS[2], "xing", WRONG).await;
    assert_eq!(status, 429, "an edited device cookie does not count");

    // Any browser at an address the owner has signed in from signs in too.
    let (status, _) = sign_in(&app, &browser(), HOME, "xing", &password).await;
    assert_eq!(status, 303, "the owner's address is not locked out");

    // Hours of attack, from the attacker's addresses, as fast as the throttle allows ...
    for n in 0..20 {
        fail_once(&app, &attacker, ATTACKERS[n % 3]).await;
    }
    // ... and the owner's browser still signs in right after the latest failure.
    let (status, _) = sign_in(&app, &owner, TRAVEL, "xing", &password).await;
    assert_eq!(
        status, 303,
        "the owner's device is not locked out by a long attack"
    );
    // Its own typing errors slow only it, and only after its free failures.
    for attempt in 0..3 {
        let (status, _) = sign_in(&app, &owner, TRAVEL, "xing", WRONG).await;
        assert_eq!(status, 401, "typo {attempt}");
    }
    let (status, _) = sign_in(&app, &owner, TRAVEL, "xing", &password).await;
    assert_eq!(status, 429, "the device's own failures count for it");
    let (status, _) = sign_in(&app, &browser(), HOME, "xing", &password).await;
    assert_eq!(status, 303, "but not for the owner's other browsers");
}

#[tokio::test]
async fn a_fresh_address_waits_a_growing_delay_not_a_lock() {
    let app = app_with(policy()).await;
    let password = app.create_user("xing", "secretariat", None, None).await;
    let attacker = browser();
    for (from, count) in [(ATTACKERS[0], 3), (ATTACKERS[1], 2)] {
        for _ in 0..count {
            assert_eq!(sign_in(&app, &attacker, from, "xing", WRONG).await.0, 401);
        }
    }
    // Each further failure doubles the wait of an address the owner has never used, up to the cap.
    let mut waits = Vec::new();
    for n in 0..6 {
        let (status, wait) = sign_in(&app, &browser(), FRESH, "xing", &password).await;
        assert_eq!(status, 429, "after {} failures", 5 + n);
        let wait = wait.expect("a delay (Retry-After), not a lock");
        waits.push(wait);
        time_passes(&app, wait).await;
        fail_once(&app, &attacker, ATTACKERS[n % 3]).await;
    }
    // Seconds, rounded up from the time since the last failure (the password check takes some).
    let expected = [60, 120, 240, 480, 900, 900];
    for (wait, expected) in waits.iter().zip(expected) {
        assert!(
            (expected - 10..=expected).contains(wait),
            "waits {waits:?}, expected about {expected:?}"
        );
    }
    // The wait ends: the owner signs in from the fresh address once it has passed.
    let (status, wait) = sign_in(&app, &browser(), FRESH, "xing", &password).await;
    assert_eq!(status, 429);
    time_passes(&app, wait.unwrap()).await;
    let (status, _) = sign_in(&app, &browser(), FRESH, "xing", &password).await;
    assert_eq!(status, 303, "a capped delay, not a lock");
}

#[tokio::test]
async fn one_address_failing_on_many_accounts_is_stopped_alone() {
    let app = app_with(policy()).await;
    let password = app.create_user("xing", "secretariat", None, None).await;
    let owner = browser();
    assert_eq!(sign_in(&app, &owner, HOME, "xing", &password).await.0, 303);
    let attacker = browser();
    for n in 0..20 {
        let (status, _) = sign_in(&app, &attacker, ATTACKERS[0], &format!("user{n}"), WRONG).await;
        assert_eq!(status, 401, "failure {n}");
    }
    let (status, wait) = sign_in(&app, &attacker, ATTACKERS[0], "another", WRONG).await;
    assert_eq!(status, 429, "the address has used up its failures");
    let (status, _) = sign_in(&app, &browser(), ATTACKERS[1], "another", WRONG).await;
    assert_eq!(status, 401, "other addresses are not affected");
    // The owner's browser behind the same address (an office NAT) still signs in.
    let (status, _) = sign_in(&app, &owner, ATTACKERS[0], "xing", &password).await;
    assert_eq!(
        status, 303,
        "the owner's device is not stopped with the address"
    );
    // The address waits out the window from its oldest counted failure, not forever.
    assert!(wait.is_some_and(|w| (840..=900).contains(&w)), "{wait:?}");
}
