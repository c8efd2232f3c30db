//! Signed links in messages: confirming an address, and unsubscribing in one click (RFC 8058)
//! without signing in. A token is its payload, hex-encoded, and an HMAC-SHA256 tag under a server
//! key (`keys`, row `mail_links`); the payload says what the link does, to whom, and when it was
//! issued, so a link cannot be turned into another.
use chrono::{DateTime, Duration, Utc};

use crate::keys::SigningKey;

const KEY_NAME: &str = "mail_links";
/// A confirmation link works for a week; unsubscribing works for as long as the messages exist.
pub const CONFIRM_LIFETIME: Duration = Duration::days(7);

/// What a link does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Confirms that user `user` reads `email`.
    ConfirmAccount { user: i32, email: String },
    /// Turns off mail of `kind` (`all`: every kind) for user `user` while `email` is still
    /// their address (a link cannot outlive a change of hands).
    UnsubscribeAccount {
        user: i32,
        kind: String,
        email: String,
    },
    /// Confirms public subscription `id`.
    ConfirmSubscription { id: i32 },
    /// Ends public subscription `id`.
    EndSubscription { id: i32 },
}

impl Purpose {
    fn encode(&self) -> String {
        match self {
            Self::ConfirmAccount { user, email } => format!("ca|{user}|{email}"),
            Self::UnsubscribeAccount { user, kind, email } => format!("ua|{user}|{kind}|{email}"),
            Self::ConfirmSubscription { id } => format!("cs|{id}"),
            Self::EndSubscription { id } => format!("es|{id}"),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        let mut fields = text.splitn(3, '|');
        let tag = fields.next()?;
        let id: i32 = fields.next()?.parse().ok()?;
        let rest = fields.next();
        Some(match (tag, rest) {
            ("ca", Some(email)) => Self::ConfirmAccount {
                user: id,
                email: email.to_owned(),
            },
            ("ua", Some(rest)) => {
                // A kind is a word; the address, last, may hold anything.
                let (kind, email) = rest.split_once('|')?;
                Self::UnsubscribeAccount {
                    user: id,
                    kind: kind.to_owned(),
                    email: email.to_owned(),
                }
            }
            ("cs", None) => Self::ConfirmSubscription { id },
            ("es", None) => Self::EndSubscription { id },
            _ => return None,
        })
    }

    fn expires(&self) -> bool {
        matches!(
            self,
            Self::ConfirmAccount { .. } | Self::ConfirmSubscription { .. }
        )
    }
}

/// Signs and checks link tokens.
#[derive(Clone, Debug)]
pub struct LinkKey(SigningKey);

impl LinkKey {
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(SigningKey::new(bytes))
    }

    pub async fn load<C: sea_orm::ConnectionTrait>(db: &C) -> anyhow::Result<Self> {
        Ok(Self(SigningKey::load(db, KEY_NAME).await?))
    }

    /// The token for `purpose`, issued at `now`: `[0-9a-f.]` only, so it goes into a URL as is.
    pub fn sign(&self, purpose: &Purpose, now: DateTime<Utc>) -> String {
        let payload = format!("v1|{}|{}", now.timestamp(), purpose.encode());
        format!("{}.{}", hex::encode(&payload), self.0.tag(&payload))
    }

    /// What a genuine, unexpired token is for.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Option<Purpose> {
        let (payload, tag) = token.split_once('.')?;
        let payload = String::from_utf8(hex::decode(payload).ok()?).ok()?;
        if !self.0.verifies(&payload, tag) {
            return None;
        }
        let mut fields = payload.splitn(3, '|');
        if fields.next()? != "v1" {
            return None;
        }
        let issued = DateTime::from_timestamp(fields.next()?.parse().ok()?, 0)?;
        let purpose = Purpose::decode(fields.next()?)?;
        let fresh = issued <= now + Duration::minutes(5)
            && (!purpose.expires() || now - issued < CONFIRM_LIFETIME);
        fresh.then_some(purpose)
    }
}

/// Where a message's links point.
pub struct Links<'a> {
    pub site: &'a str,
    pub key: LinkKey,
    pub now: DateTime<Utc>,
}

impl<'a> Links<'a> {
    pub async fn load<C: sea_orm::ConnectionTrait>(
        db: &C,
        config: &'a crate::config::Config,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            site: config.public_url.trim_end_matches('/'),
            key: LinkKey::load(db).await?,
            now: Utc::now(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.site)
    }

    pub fn signed(&self, path: &str, purpose: &Purpose) -> String {
        format!("{}{path}/{}", self.site, self.key.sign(purpose, self.now))
    }

    /// The one-click link that turns `kind` (or `all`) off for `user`, at `email`.
    pub fn unsubscribe(&self, user: i32, kind: &str, email: &str) -> String {
        self.signed(
            "/mail/unsubscribe",
            &Purpose::UnsubscribeAccount {
                user,
                kind: kind.to_owned(),
                email: email.to_owned(),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn links_verify_as_signed_and_only_so() {
        let key = LinkKey::new([3; 32]);
        let purposes = [
            Purpose::ConfirmAccount {
                user: 7,
                email: "liu.xh@example.cn".into(),
            },
            Purpose::UnsubscribeAccount {
                user: 7,
                kind: "assigned".into(),
                email: "a|b@example.cn".into(),
            },
            Purpose::ConfirmSubscription { id: 12 },
            Purpose::EndSubscription { id: 12 },
        ];
        for purpose in &purposes {
            let token = key.sign(purpose, now());
            assert!(token.chars().all(|c| c.is_ascii_hexdigit() || c == '.'));
            assert_eq!(key.verify(&token, now()).as_ref(), Some(purpose));
            assert_eq!(LinkKey::new([4; 32]).verify(&token, now()), None);
            let (payload, tag) = token.split_once('.').unwrap();
            let forged = hex::encode(
                String::from_utf8(hex::decode(payload).unwrap())
                    .unwrap()
                    .replace("|7|", "|8|")
                    .replace("|12", "|13"),
            );
            assert_eq!(key.verify(&format!("{forged}.{tag}"), now()), None);
        }
        let confirm = key.sign(&purposes[0], now());
        assert_eq!(
            key.verify(&confirm, now() + CONFIRM_LIFETIME),
            None,
            "expired"
        );
        let unsubscribe = key.sign(&purposes[1], now());
        assert!(key
            .verify(&unsubscribe, now() + Duration::days(3650))
            .is_some());
        for junk in ["", ".", "zz.zz", "76.00", &confirm[1..]] {
            assert_eq!(key.verify(junk, now()), None, "{junk}");
        }
    }
}
