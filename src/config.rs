//! Typed configuration: defaults that run everything on a fresh machine, overridden by environment
//! variables (optionally loaded from a `.env` file by `main`).
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use crate::accounts::throttle;
use crate::followup::deadlines::{DeadlineRules, Period};
use crate::web::client_addr::TrustedProxies;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/tingshang.db?mode=rwc";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";

#[derive(Clone, Debug)]
pub struct Config {
    /// `sqlite://…` (embedded default) or `postgres://…` (production).
    pub database_url: String,
    pub listen_addr: SocketAddr,
    /// A `tracing` filter such as `info` or `tingshang=debug,info`.
    pub log_filter: String,
    /// Seed an empty database when `serve` starts (on by default; off in production if wanted).
    pub seed_on_empty: bool,
    /// The reply period after assignment, per intake channel.
    pub reply_periods: DeadlineRules,
    /// How many days an agency has to return a wrong assignment.
    pub return_window_days: i64,
    /// Write-API requests per second per client, and the burst allowed.
    pub api_rate: (f64, f64),
    /// The address the public reaches the site at (absolute links in Atom feeds).
    pub public_url: String,
    /// Mark cookies `Secure` (set when served over HTTPS).
    pub secure_cookies: bool,
    /// Bearer token that opens `/metrics` and `/readyz`'s detail to non-local clients; without
    /// it they answer only on loopback.
    pub metrics_token: Option<String>,
    /// Proxies whose `X-Forwarded-For` names the client (`web::client_addr`); none by default,
    /// so the TCP peer is the client.
    pub trusted_proxies: TrustedProxies,
    /// How failed logins slow down further attempts.
    pub login_throttle: throttle::Policy,
    /// Meilisearch server; when unset, the embedded index is used.
    pub meili_url: Option<String>,
    pub meili_api_key: Option<String>,
    pub meili_index: String,
    /// Where the embedded index lives; `None` keeps it in memory (tests).
    pub search_dir: Option<PathBuf>,
    /// Longest wait between retries of a failed search update, in seconds.
    pub search_retry_max_secs: u64,
    /// How long a drain holds the outbox rows it claimed before renewing (`TINGSHANG_SEARCH_LEASE_SECS`):
    /// after an instance dies mid-drain, its rows wait up to this long before another takes them.
    pub search_lease_secs: u64,
    /// Keep rendered public pages until public content changes (`web::page_cache`); off renders
    /// every request (the benchmark measures both).
    pub page_cache: bool,
    /// Keep the embedded index's results, counts and rankings per index generation
    /// (`search::cache`); off evaluates every search (the benchmark measures both).
    pub search_cache: bool,
    /// How long a request may run before it is stopped and answered with the timeout page
    /// (`TINGSHANG_REQUEST_TIMEOUT_SECS`, 30 by default).
    pub request_timeout: std::time::Duration,
    /// Days IP addresses and user agents stay in the audit log and login records before the
    /// daily job removes them (`TINGSHANG_PERSONAL_DATA_RETENTION_DAYS`, 180 by default).
    pub personal_data_retention_days: i64,
    /// `TINGSHANG_SMTP_URL` (`smtp://user:pass@host:587`, `smtps://…`, `smtp://127.0.0.1:2525`);
    /// unset, no mail is written or sent and notifications stay in the app.
    pub smtp_url: Option<String>,
    /// `TINGSHANG_MAIL_FROM`: the sender of every message.
    pub mail_from: String,
    /// `TINGSHANG_DIGEST_HOUR`: the hour, China time, at which daily digests and reminders go out.
    pub digest_hour: u32,
    /// `TINGSHANG_MAIL_LEASE_SECS`: how long a message being sent is held by its instance; one
    /// killed mid-send leaves that message waiting this long (twice the SMTP timeout by default).
    pub mail_lease_secs: u64,
    /// `TINGSHANG_FILES_DIR`: the attachments' content-addressed store (shared by every instance
    /// of a PostgreSQL deployment).
    pub files_dir: PathBuf,
    /// `TINGSHANG_MAX_FILE_MB`: the largest attachment accepted (20 MB by default).
    pub max_file_bytes: usize,
    /// `TINGSHANG_MAX_FILES_PER_ITEM`: attachments one proposal, reply or session may have (10).
    pub max_files_per_item: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            listen_addr: DEFAULT_LISTEN.parse().expect("valid default address"),
            log_filter: "info".to_owned(),
            seed_on_empty: true,
            reply_periods: DeadlineRules::default(),
            public_url: format!("http://{DEFAULT_LISTEN}"),
            api_rate: (50.0, 200.0),
            return_window_days: 7,
            secure_cookies: false,
            metrics_token: None,
            trusted_proxies: TrustedProxies::default(),
            login_throttle: throttle::Policy::default(),
            meili_url: None,
            meili_api_key: None,
            meili_index: "tingshang".to_owned(),
            search_dir: Some(PathBuf::from("data/search-index")),
            search_retry_max_secs: 30,
            search_lease_secs: crate::search::outbox::LEASE.as_secs(),
            page_cache: true,
            search_cache: true,
            request_timeout: std::time::Duration::from_secs(30),
            personal_data_retention_days: 180,
            smtp_url: None,
            mail_from: "听商 <noreply@localhost>".to_owned(),
            digest_hour: 8,
            mail_lease_secs: 60,
            files_dir: PathBuf::from("data/files"),
            max_file_bytes: 20 * 1024 * 1024,
            max_files_per_item: 10,
        }
    }
}

impl Config {
    /// Reads `TINGSHANG_DATABASE_URL` (or `DATABASE_URL`), `TINGSHANG_LISTEN`,
    /// `TINGSHANG_LOG` (or `RUST_LOG`) and `TINGSHANG_SEED_ON_EMPTY`.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let mut config = Self::default();
        if let Some(url) = get("TINGSHANG_DATABASE_URL").or_else(|| get("DATABASE_URL")) {
            config.database_url = url;
        }
        if let Some(listen) = get("TINGSHANG_LISTEN") {
            config.listen_addr = listen
                .parse()
                .with_context(|| format!("TINGSHANG_LISTEN is not an address: {listen}"))?;
        }
        if let Some(filter) = get("TINGSHANG_LOG").or_else(|| get("RUST_LOG")) {
            config.log_filter = filter;
        }
        if let Some(flag) = get("TINGSHANG_SEED_ON_EMPTY") {
            config.seed_on_empty = parse_bool(&flag).with_context(|| {
                format!("TINGSHANG_SEED_ON_EMPTY must be true or false: {flag}")
            })?;
        }
        if let Some(flag) = get("TINGSHANG_PAGE_CACHE") {
            config.page_cache = parse_bool(&flag)
                .with_context(|| format!("TINGSHANG_PAGE_CACHE must be true or false: {flag}"))?;
        }
        if let Some(flag) = get("TINGSHANG_SEARCH_CACHE") {
            config.search_cache = parse_bool(&flag)
                .with_context(|| format!("TINGSHANG_SEARCH_CACHE must be true or false: {flag}"))?;
        }
        if let Some(months) = get("TINGSHANG_REPLY_PERIOD_MONTHS") {
            let months: u32 = months
                .parse()
                .ok()
                .filter(|m| (1..=24).contains(m))
                .with_context(|| format!("TINGSHANG_REPLY_PERIOD_MONTHS must be 1–24: {months}"))?;
            config.reply_periods.default = Period::Months(months);
        }
        if let Some(spec) = get("TINGSHANG_REPLY_PERIODS") {
            config.reply_periods = config
                .reply_periods
                .with_overrides(&spec)
                .map_err(|e| anyhow::anyhow!("TINGSHANG_REPLY_PERIODS: {e}"))?;
        }
        if let Some(days) = get("TINGSHANG_RETURN_WINDOW_DAYS") {
            config.return_window_days = days
                .parse()
                .ok()
                .filter(|d| (0..=90).contains(d))
                .with_context(|| format!("TINGSHANG_RETURN_WINDOW_DAYS must be 0–90: {days}"))?;
        }
        config.public_url = get("TINGSHANG_PUBLIC_URL")
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{}", config.listen_addr));
        if let Some(rate) = get("TINGSHANG_API_RATE") {
            config.api_rate = rate
                .split_once('/')
                .and_then(|(r, b)| Some((r.trim().parse().ok()?, b.trim().parse().ok()?)))
                .filter(|(r, b): &(f64, f64)| *r > 0.0 && *b >= 1.0)
                .with_context(|| format!("TINGSHANG_API_RATE must look like 50/200: {rate}"))?;
        }
        config.metrics_token = get("TINGSHANG_METRICS_TOKEN").filter(|t| !t.trim().is_empty());
        config.meili_url = get("MEILI_URL").filter(|u| !u.trim().is_empty());
        config.meili_api_key = get("MEILI_API_KEY").filter(|k| !k.is_empty());
        if let Some(index) = get("TINGSHANG_MEILI_INDEX") {
            config.meili_index = index;
        }
        if let Some(secs) = get("TINGSHANG_SEARCH_LEASE_SECS") {
            config.search_lease_secs = secs
                .parse()
                .ok()
                .filter(|s| (1..=3600).contains(s))
                .with_context(|| format!("TINGSHANG_SEARCH_LEASE_SECS must be 1–3600: {secs}"))?;
        }
        if let Some(secs) = get("TINGSHANG_REQUEST_TIMEOUT_SECS") {
            config.request_timeout = secs
                .parse()
                .ok()
                .filter(|s| (1..=3600).contains(s))
                .map(std::time::Duration::from_secs)
                .with_context(|| {
                    format!("TINGSHANG_REQUEST_TIMEOUT_SECS must be 1–3600: {secs}")
                })?;
        }
        if let Some(days) = get("TINGSHANG_PERSONAL_DATA_RETENTION_DAYS") {
            config.personal_data_retention_days = days
                .parse()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .with_context(|| {
                    format!("TINGSHANG_PERSONAL_DATA_RETENTION_DAYS must be 1–3650: {days}")
                })?;
        }
        config.smtp_url = get("TINGSHANG_SMTP_URL").filter(|u| !u.trim().is_empty());
        if let Some(from) = get("TINGSHANG_MAIL_FROM") {
            from.parse::<lettre::message::Mailbox>()
                .with_context(|| format!("TINGSHANG_MAIL_FROM is not an address: {from}"))?;
            config.mail_from = from;
        }
        if let Some(hour) = get("TINGSHANG_DIGEST_HOUR") {
            config.digest_hour = hour
                .parse()
                .ok()
                .filter(|h| (0..24).contains(h))
                .with_context(|| format!("TINGSHANG_DIGEST_HOUR must be 0–23: {hour}"))?;
        }
        if let Some(secs) = get("TINGSHANG_MAIL_LEASE_SECS") {
            config.mail_lease_secs = secs
                .parse()
                .ok()
                .filter(|s| (1..=3600).contains(s))
                .with_context(|| format!("TINGSHANG_MAIL_LEASE_SECS must be 1–3600: {secs}"))?;
        }
        if let Some(dir) = get("TINGSHANG_FILES_DIR").filter(|d| !d.trim().is_empty()) {
            config.files_dir = PathBuf::from(dir);
        }
        if let Some(mb) = get("TINGSHANG_MAX_FILE_MB") {
            config.max_file_bytes = mb
                .parse::<usize>()
                .ok()
                .filter(|m| (1..=1024).contains(m))
                .map(|m| m * 1024 * 1024)
                .with_context(|| format!("TINGSHANG_MAX_FILE_MB must be 1–1024: {mb}"))?;
        }
        if let Some(n) = get("TINGSHANG_MAX_FILES_PER_ITEM") {
            config.max_files_per_item = n
                .parse()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .with_context(|| format!("TINGSHANG_MAX_FILES_PER_ITEM must be 1–1000: {n}"))?;
        }
        if let Some(dir) = get("TINGSHANG_SEARCH_DIR") {
            config.search_dir = (dir != "memory").then(|| PathBuf::from(dir));
        }
        if let Some(spec) = get("TINGSHANG_TRUSTED_PROXIES") {
            config.trusted_proxies = TrustedProxies::parse(&spec)
                .map_err(|e| anyhow::anyhow!("TINGSHANG_TRUSTED_PROXIES: {e}"))?;
        }
        if let Some(flag) = get("TINGSHANG_SECURE_COOKIES") {
            config.secure_cookies = parse_bool(&flag).with_context(|| {
                format!("TINGSHANG_SECURE_COOKIES must be true or false: {flag}")
            })?;
        }
        Ok(config)
    }

    /// The directory an SQLite URL's file lives in, so it can be created before connecting.
    pub fn sqlite_parent_dir(&self) -> Option<PathBuf> {
        let rest = self.database_url.strip_prefix("sqlite:")?;
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return None;
        }
        PathBuf::from(path).parent().map(PathBuf::from)
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_use_embedded_sqlite() {
        let config = Config::from_lookup(|_| None).unwrap();
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.listen_addr.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.sqlite_parent_dir(), Some(PathBuf::from("data")));
    }

    #[test]
    fn environment_overrides_and_rejects_garbage() {
        let config = Config::from_lookup(|k| match k {
            "DATABASE_URL" => Some("postgres://localhost/x".into()),
            "TINGSHANG_LISTEN" => Some("0.0.0.0:8080".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.database_url, "postgres://localhost/x");
        assert_eq!(config.sqlite_parent_dir(), None);
        assert!(Config::from_lookup(|k| (k == "TINGSHANG_LISTEN").then(|| "nope".into())).is_err());
        assert!(
            Config::from_lookup(|k| (k == "TINGSHANG_SEED_ON_EMPTY").then(|| "maybe".into()))
                .is_err()
        );
    }

    #[test]
    fn trusted_proxies_are_read_and_checked() {
        let config = Config::from_lookup(|_| None).unwrap();
        assert!(
            config.trusted_proxies.is_empty(),
            "nobody is trusted by default"
        );
        let config = Config::from_lookup(|k| {
            (k == "TINGSHANG_TRUSTED_PROXIES").then(|| "10.0.0.0/8, 127.0.0.1".into())
        })
        .unwrap();
        assert!(config.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(config
            .trusted_proxies
            .contains("127.0.0.1".parse().unwrap()));
        assert!(!config
            .trusted_proxies
            .contains("127.0.0.2".parse().unwrap()));
        assert!(
            Config::from_lookup(|k| (k == "TINGSHANG_TRUSTED_PROXIES").then(|| "lb".into()))
                .is_err()
        );
    }
}
