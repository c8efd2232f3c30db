//! Device cookies: a browser that has signed in to an account is given a cookie naming the
//! account and a random device id, signed with HMAC-SHA256 under a server key. A login attempt
//! carrying a valid one for the account it names is throttled only by that device's own failures
//! (`accounts::throttle`), so an attacker failing elsewhere cannot lock the owner out. The cookie
//! proves nothing else: the password is still required.
//!
//! The key is a server key (`keys`): shared by every instance; deleting its row makes every device
//! cookie invalid.
use chrono::{DateTime, Duration, Utc};
use sea_orm::ConnectionTrait;

use crate::keys::SigningKey;

/// How long a device cookie lasts (it is renewed at every sign-in).
pub const LIFETIME: Duration = Duration::days(180);
/// The row of `server_keys` holding the signing key.
const KEY_NAME: &str = "device_cookie";
/// Cookies issued a little "in the future" by an instance whose clock runs ahead still count.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// The signing key; never printed.
#[derive(Clone)]
pub struct DeviceKey(SigningKey);

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceKey(…)")
    }
}

/// What a valid device cookie says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCookie {
    pub username: String,
    pub device: String,
    pub issued: DateTime<Utc>,
}

impl DeviceKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(SigningKey::new(bytes))
    }

    /// The cookie value: `v1.{device}.{issued}.{username}.{hex mac}`. Usernames are
    /// `[a-z0-9._-]` (`service::validate_username`), so the value needs no escaping; the
    /// username is the last field of the payload so its dots cannot be mistaken for separators.
    pub fn sign(&self, username: &str, device: &str, issued: DateTime<Utc>) -> String {
        let payload = format!("v1.{device}.{}.{username}", issued.timestamp());
        format!("{payload}.{}", self.0.tag(&payload))
    }

    /// The cookie's contents when it was signed with this key and has not expired.
    pub fn verify(&self, value: &str, now: DateTime<Utc>) -> Option<DeviceCookie> {
        let (payload, tag) = value.rsplit_once('.')?;
        if !self.0.verifies(payload, tag) {
            return None;
        }
        let mut fields = payload.splitn(4, '.');
        if fields.next()? != "v1" {
            return None;
        }
        let device = fields.next()?.to_owned();
        let issued = DateTime::from_timestamp(fields.next()?.parse().ok()?, 0)?;
        let username = fields.next()?.to_owned();
        let fresh = issued <= now + CLOCK_SKEW && now - issued < LIFETIME;
        (fresh && !device.is_empty() && !username.is_empty()).then_some(DeviceCookie {
            username,
            device,
            issued,
        })
    }
}

/// The signing key from the database (`keys`), created on first use.
pub async fn load_or_create_key<C: ConnectionTrait>(db: &C) -> anyhow::Result<DeviceKey> {
    Ok(DeviceKey(SigningKey::load(db, KEY_NAME).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> DeviceKey {
        DeviceKey::new([byte; 32])
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn a_signed_cookie_verifies_and_names_its_account() {
        let value = key(7).sign("xing.zj", "d00d", now());
        let cookie = key(7).verify(&value, now() + Duration::days(1)).unwrap();
        assert_eq!(cookie.username, "xing.zj");
        assert_eq!(cookie.device, "d00d");
        assert_eq!(cookie.issued, now());
        // The value goes into a cookie as it is.
        assert!(axum::http::HeaderValue::from_str(&value).is_ok());
        assert!(!value.contains([';', ',', ' ', '"']));
    }

    fn flip_last(value: &str) -> String {
        let (head, last) = value.split_at(value.len() - 1);
        format!("{head}{}", if last == "0" { "1" } else { "0" })
    }

    #[test]
    fn tampered_foreign_or_expired_cookies_are_rejected() {
        let value = key(7).sign("xing", "d00d", now());
        let at = now() + Duration::hours(1);
        let tampered = [
            value.replace(".xing.", ".root."),
            value.replace("v1.d00d", "v1.beef"),
            value.replace(
                &now().timestamp().to_string(),
                &(now().timestamp() + 1).to_string(),
            ),
            flip_last(&value),
            value[..value.len() - 2].to_owned(),
            value.rsplit_once('.').unwrap().0.to_owned(),
            String::new(),
            "v1.d.1.u.zz".to_owned(),
        ];
        for bad in tampered {
            assert_eq!(key(7).verify(&bad, at), None, "{bad}");
        }
        assert_eq!(key(8).verify(&value, at), None, "another server's key");
        assert_eq!(key(7).verify(&value, now() + LIFETIME), None, "expired");
        assert_eq!(
            key(7).verify(&value, now() - Duration::hours(1)),
            None,
            "issued in the future"
        );
        assert!(key(7)
            .verify(&value, now() + LIFETIME - Duration::seconds(1))
            .is_some());
    }

    #[test]
    fn the_key_is_never_printed() {
        assert_eq!(format!("{:?}", key(7)), "DeviceKey(…)");
    }
}
