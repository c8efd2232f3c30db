//! Sends the outbox over SMTP (`lettre`): claims due rows, sends each, records the server's
//! reply. A 4xx reply or an unreachable server is retried with growing waits; a 5xx reply is a
//! permanent failure, kept for the admin page and `/metrics`.
use std::time::Duration;

use chrono::Utc;
use entity::mail_outbox;
use lettre::message::header::{self, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::DatabaseConnection;

use super::outbox::{self, Outcome};

/// After this many attempts a message counts as failed (about two days of retries).
pub const MAX_ATTEMPTS: i32 = 16;
/// How many due messages one pass reads (each is claimed just before it is sent).
const BATCH: u64 = 20;
/// How long one attempt may take: the SMTP timeout.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

macro_rules! text_header {
    ($type:ident, $name:literal) => {
        #[derive(Clone, Debug)]
        struct $type(String);

        impl header::Header for $type {
            fn name() -> HeaderName {
                HeaderName::new_from_ascii_str($name)
            }

            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok(Self(s.to_owned()))
            }

            fn display(&self) -> HeaderValue {
                HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}

text_header!(AutoSubmitted, "Auto-Submitted");
text_header!(ListUnsubscribe, "List-Unsubscribe");
text_header!(ListUnsubscribePost, "List-Unsubscribe-Post");

pub struct Sender {
    db: DatabaseConnection,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// How long a message claimed for sending is held (`TINGSHANG_MAIL_LEASE_SECS`).
    lease: chrono::Duration,
}

/// The transport for `TINGSHANG_SMTP_URL`: `smtps://` is TLS from the first byte; `smtp://`
/// to port 587 requires STARTTLS, elsewhere uses it when offered; an explicit `?tls=` wins.
pub fn transport(smtp_url: &str) -> anyhow::Result<AsyncSmtpTransport<Tokio1Executor>> {
    let mut url = url::Url::parse(smtp_url)
        .map_err(|e| anyhow::anyhow!("TINGSHANG_SMTP_URL is not a URL: {e}"))?;
    let has_tls_setting = url.query_pairs().any(|(k, _)| k == "tls");
    if url.scheme() == "smtp" && !has_tls_setting {
        let mode = if url.port() == Some(587) {
            "required"
        } else {
            "opportunistic"
        };
        url.query_pairs_mut().append_pair("tls", mode);
    }
    Ok(
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())?
            .timeout(Some(SMTP_TIMEOUT))
            .build(),
    )
}

impl Sender {
    pub fn new(db: DatabaseConnection, smtp_url: &str, from: &str) -> anyhow::Result<Self> {
        Ok(Self {
            lease: chrono::Duration::from_std(SMTP_TIMEOUT * 2).expect("a short duration"),
            db,
            transport: transport(smtp_url)?,
            from: from
                .parse()
                .map_err(|e| anyhow::anyhow!("TINGSHANG_MAIL_FROM {from:?}: {e}"))?,
        })
    }

    /// Holds claimed messages for `lease` instead of twice the SMTP timeout.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = chrono::Duration::from_std(lease).unwrap_or(self.lease);
        self
    }

    /// Sends what is due now; returns how many messages were sent.
    pub async fn send_due(&self) -> anyhow::Result<usize> {
        let mut sent = 0;
        loop {
            let rows = outbox::due(&self.db, Utc::now(), BATCH).await?;
            if rows.is_empty() {
                return Ok(sent);
            }
            for row in rows {
                let Some(claim) = outbox::claim(&self.db, row.id, Utc::now(), self.lease).await?
                else {
                    continue;
                };
                let outcome = self.attempt_within_lease(&row).await;
                let was_sent = matches!(outcome, Outcome::Sent { .. });
                if outbox::record(&self.db, &row, claim, outcome, Utc::now()).await? {
                    sent += usize::from(was_sent);
                } else {
                    tracing::warn!(message_id = %row.message_id, "a send outlasted its lease; another sender's record stands");
                }
            }
        }
    }

    /// Sends the message `message_id` now, whatever its schedule, and returns its row after the
    /// attempt (`tingshang mail test`).
    pub async fn deliver(&self, message_id: &str) -> anyhow::Result<mail_outbox::Model> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let find = || {
            mail_outbox::Entity::find()
                .filter(mail_outbox::Column::MessageId.eq(message_id))
                .one(&self.db)
        };
        let row = find()
            .await?
            .ok_or_else(|| anyhow::anyhow!("no message {message_id}"))?;
        let claim = outbox::claim(&self.db, row.id, Utc::now(), self.lease)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{message_id} is being sent by a running server"))?;
        let outcome = self.attempt_within_lease(&row).await;
        outbox::record(&self.db, &row, claim, outcome, Utc::now()).await?;
        Ok(find().await?.expect("the row was just updated"))
    }

    /// [`attempt`](Self::attempt), given up (and retried later) before the claim lapses: the
    /// SMTP timeout bounds each step of a conversation, not the whole of it.
    async fn attempt_within_lease(&self, row: &mail_outbox::Model) -> Outcome {
        let budget = (self.lease - chrono::Duration::seconds(5))
            .to_std()
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_secs(1));
        match tokio::time::timeout(budget, self.attempt(row)).await {
            Ok(outcome) => outcome,
            Err(_) => Outcome::Retry {
                reply: format!("no answer within {} s", budget.as_secs()),
                next: Utc::now() + backoff(row.attempts + 1),
            },
        }
    }

    async fn attempt(&self, row: &mail_outbox::Model) -> Outcome {
        let message = match self.build(row) {
            Ok(message) => message,
            Err(err) => {
                return Outcome::Failed {
                    reply: format!("message not built: {err}"),
                }
            }
        };
        match self.transport.send(message).await {
            Ok(response) => Outcome::Sent {
                reply: reply_text(response.code().to_string(), response.message()),
            },
            Err(err) if err.is_permanent() => Outcome::Failed {
                reply: err.to_string(),
            },
            Err(err) if row.attempts + 1 >= MAX_ATTEMPTS => Outcome::Failed {
                reply: format!("gave up after {MAX_ATTEMPTS} attempts: {err}"),
            },
            Err(err) => Outcome::Retry {
                reply: err.to_string(),
                next: Utc::now() + backoff(row.attempts + 1),
            },
        }
    }

    fn build(&self, row: &mail_outbox::Model) -> anyhow::Result<Message> {
        let to: Mailbox = row.recipient.parse()?;
        let mut builder = Message::builder()
            .message_id(Some(row.message_id.clone()))
            .date(std::time::SystemTime::from(row.created_at.to_utc()))
            .from(self.from.clone())
            .to(to)
            // lettre writes a non-ASCII subject as RFC 2047 encoded words.
            .subject(row.subject.clone())
            .header(AutoSubmitted("auto-generated".to_owned()));
        if let Some(url) = &row.unsubscribe_url {
            builder = builder
                .header(ListUnsubscribe(format!("<{url}>")))
                .header(ListUnsubscribePost("List-Unsubscribe=One-Click".to_owned()));
        }
        Ok(builder.multipart(MultiPart::alternative_plain_html(
            row.text_body.clone(),
            row.html_body.clone(),
        ))?)
    }

    /// Sends until `stop` turns true, looking for due messages every `every`.
    pub async fn run(self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(err) = self.send_due().await {
                tracing::warn!(error = %format!("{err:#}"), "sending mail failed; will retry");
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => return,
            }
        }
    }
}

/// One minute after the first failure, doubling up to six hours.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let minutes = 1i64 << attempts.clamp(1, 12).saturating_sub(1);
    chrono::Duration::minutes(minutes.min(6 * 60))
}

fn reply_text<'a>(code: String, lines: impl Iterator<Item = &'a str>) -> String {
    let lines: Vec<&str> = lines.collect();
    format!("{code} {}", lines.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_six_hours() {
        assert_eq!(backoff(1), chrono::Duration::minutes(1));
        assert_eq!(backoff(2), chrono::Duration::minutes(2));
        assert_eq!(backoff(5), chrono::Duration::minutes(16));
        assert_eq!(backoff(MAX_ATTEMPTS), chrono::Duration::hours(6));
        let total: i64 = (1..MAX_ATTEMPTS).map(|a| backoff(a).num_minutes()).sum();
        assert!(
            (24 * 60..4 * 24 * 60).contains(&total),
            "{total} minutes of retries"
        );
    }

    #[test]
    fn smtp_urls_choose_their_encryption() {
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://user:pass@mail.example.cn:587",
            "smtps://user:pass@mail.example.cn",
            "smtp://mail.example.cn:25?tls=required",
        ] {
            assert!(transport(url).is_ok(), "{url}");
        }
        assert!(transport("not a url").is_err());
        assert!(transport("http://mail.example.cn").is_err());
    }
}
