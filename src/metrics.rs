//! Operational endpoints: `/healthz` (the process answers), `/readyz` (database and search
//! reachable, outbox lag) and `/metrics` in the Prometheus text format (requests and latency by
//! route, search latency, outbox lag). The registry is a few counters behind one mutex: the
//! request path takes it once per request.
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::ConnectionTrait;

use crate::app::AppState;

/// Histogram bucket bounds in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let labels = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{labels} {}", self.sum);
        let _ = writeln!(out, "{name}_count{labels} {}", self.count);
    }
}

#[derive(Default)]
struct Inner {
    /// (method, route, status) → count.
    requests: BTreeMap<(String, String, u16), u64>,
    /// route → latency.
    latency: BTreeMap<String, Histogram>,
    search: Histogram,
    search_failures: u64,
    /// Writes the database refused for a storage fault, by kind.
    storage_failures: BTreeMap<&'static str, u64>,
    last_storage_failure: Option<(Instant, crate::db::StorageFailure)>,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut inner = self.lock();
        *inner
            .requests
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        inner
            .latency
            .entry(route.to_owned())
            .or_default()
            .observe(seconds);
    }

    pub fn record_search(&self, seconds: f64, ok: bool) {
        let mut inner = self.lock();
        inner.search.observe(seconds);
        if !ok {
            inner.search_failures += 1;
        }
    }

    pub fn record_storage_failure(&self, failure: crate::db::StorageFailure) {
        let mut inner = self.lock();
        *inner.storage_failures.entry(failure.as_str()).or_default() += 1;
        inner.last_storage_failure = Some((Instant::now(), failure));
    }

    /// The latest storage failure a request met, with how long ago it was.
    pub fn last_storage_failure(&self) -> Option<(std::time::Duration, crate::db::StorageFailure)> {
        self.lock()
            .last_storage_failure
            .map(|(at, failure)| (at.elapsed(), failure))
    }

    /// The registry in the Prometheus text exposition format, with the outbox figures added.
    pub fn render(
        &self,
        lag: &crate::search::outbox::Lag,
        mail: Option<crate::mail::outbox::Counts>,
    ) -> String {
        let (outbox_pending, outbox_oldest_seconds) = (lag.pending, lag.oldest_seconds);
        let inner = self.lock();
        let mut out = String::new();
        out.push_str(
            "# HELP tingshang_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE tingshang_http_requests_total counter\n");
        for ((method, route, status), n) in &inner.requests {
            let _ = writeln!(
                out,
                "tingshang_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape_label(method),
                escape_label(route)
            );
        }
        out.push_str("# HELP tingshang_http_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE tingshang_http_request_duration_seconds histogram\n");
        for (route, histogram) in &inner.latency {
            histogram.write(
                &mut out,
                "tingshang_http_request_duration_seconds",
                &format!("route=\"{}\"", escape_label(route)),
            );
        }
        out.push_str("# HELP tingshang_search_duration_seconds Search backend query time.\n");
        out.push_str("# TYPE tingshang_search_duration_seconds histogram\n");
        inner
            .search
            .write(&mut out, "tingshang_search_duration_seconds", "");
        out.push_str("# HELP tingshang_search_failures_total Search queries that failed.\n");
        out.push_str("# TYPE tingshang_search_failures_total counter\n");
        let _ = writeln!(
            out,
            "tingshang_search_failures_total {}",
            inner.search_failures
        );
        out.push_str(
            "# HELP tingshang_db_write_failures_total Writes refused by the database for a storage fault (full, io, read_only, unreachable).\n",
        );
        out.push_str("# TYPE tingshang_db_write_failures_total counter\n");
        for failure in [
            crate::db::StorageFailure::Full,
            crate::db::StorageFailure::Io,
            crate::db::StorageFailure::ReadOnly,
            crate::db::StorageFailure::Unreachable,
        ] {
            let kind = failure.as_str();
            let n = inner.storage_failures.get(kind).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "tingshang_db_write_failures_total{{kind=\"{kind}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP tingshang_outbox_pending Changes waiting to reach the search index.\n",
        );
        out.push_str("# TYPE tingshang_outbox_pending gauge\n");
        let _ = writeln!(out, "tingshang_outbox_pending {outbox_pending}");
        out.push_str("# HELP tingshang_outbox_oldest_seconds Age of the oldest waiting change.\n");
        out.push_str("# TYPE tingshang_outbox_oldest_seconds gauge\n");
        let _ = writeln!(
            out,
            "tingshang_outbox_oldest_seconds {outbox_oldest_seconds}"
        );
        out.push_str("# HELP tingshang_outbox_failing Waiting changes the search backend refused at least once.\n");
        out.push_str("# TYPE tingshang_outbox_failing gauge\n");
        let _ = writeln!(out, "tingshang_outbox_failing {}", lag.failing);
        out.push_str("# HELP tingshang_search_synonyms_failing 1 while the backend refuses the synonym groups.\n");
        out.push_str("# TYPE tingshang_search_synonyms_failing gauge\n");
        let _ = writeln!(
            out,
            "tingshang_search_synonyms_failing {}",
            u8::from(lag.synonyms_error.is_some())
        );
        if let Some(mail) = mail {
            for (name, help, value) in [
                (
                    "pending",
                    "Messages not yet sent (retries included).",
                    mail.pending,
                ),
                (
                    "retrying",
                    "Unsent messages with a failed attempt.",
                    mail.retrying,
                ),
                (
                    "failed",
                    "Messages refused for good (5xx, or too many attempts).",
                    mail.failed,
                ),
                ("sent", "Messages the SMTP server accepted.", mail.sent),
            ] {
                let _ = writeln!(out, "# HELP tingshang_mail_{name} {help}");
                let _ = writeln!(out, "# TYPE tingshang_mail_{name} gauge");
                let _ = writeln!(out, "tingshang_mail_{name} {value}");
            }
        }
        out
    }
}

/// Counts every request under its route template (`/proposals/{code}`), never the raw path, so
/// the number of series stays bounded.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.record_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// A storage failure this recent keeps `/readyz` saying "not writable" even if its own small
/// probe write got through (a nearly full disk takes a probe row but not a 60 KB intake).
const STORAGE_FAILURE_MEMORY: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether the request may read operational detail: it comes straight from this machine — a
/// loopback peer that is not a configured proxy (a proxy on this host forwards outside clients,
/// with or without `X-Forwarded-For`) and carries no proxy header — or it carries the configured
/// `TINGSHANG_METRICS_TOKEN` as a bearer token.
fn may_read_detail(state: &AppState, request: &axum::http::request::Parts) -> bool {
    let local = request
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|info| {
            info.0.ip().is_loopback() && !state.config.trusted_proxies.contains(info.0.ip())
        })
        && !request.headers.contains_key("x-forwarded-for")
        && !request.headers.contains_key(header::FORWARDED);
    let token = state
        .config
        .metrics_token
        .as_deref()
        .is_some_and(|expected| {
            request
                .headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .is_some_and(|given| {
                    crate::web::constant_time_eq(given.trim().as_bytes(), expected.as_bytes())
                })
        });
    local || token
}

/// Ready or not, for anyone (a load balancer needs no more); the detail (database, search and
/// outbox state, errors) only for [`may_read_detail`].
async fn readyz(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let detail = may_read_detail(&state, &parts);
    let database = state.db.execute_unprepared("SELECT 1").await;
    // At most one probe write per second, however often (and by whom) readiness is asked.
    let probe = state
        .write_probe
        .get(|| async {
            crate::db::probe_write(&state.db)
                .await
                .map_err(|e| e.to_string())
        })
        .await;
    // A pool that timed out under load is not a storage fault: it must not take every
    // instance out of the balancer at once.
    let recent_failure = state
        .metrics
        .last_storage_failure()
        .filter(|(ago, failure)| {
            *ago < STORAGE_FAILURE_MEMORY && *failure != crate::db::StorageFailure::Unreachable
        });
    let writable = probe.is_ok() && recent_failure.is_none();
    let search = state.search.health().await;
    let lag = state.indexer.lag().await.ok();
    let ready = database.is_ok() && writable && search.ok;
    let write_error = match (&probe, recent_failure) {
        (Err(err), _) => Some(err.clone()),
        (Ok(()), Some((ago, failure))) => {
            Some(format!("{} ({} s ago)", failure.as_str(), ago.as_secs()))
        }
        (Ok(()), None) => None,
    };
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not_ready" },
        "database": {
            "ok": database.is_ok(),
            "error": database.err().map(|e| e.to_string()),
            "writable": writable,
            "write_error": write_error,
        },
        "search": search,
        "outbox": lag,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    if !detail {
        return (
            status,
            Json(serde_json::json!({ "status": body["status"] })),
        )
            .into_response();
    }
    let mut body = body;
    // Read only for those who see the detail (a load balancer's probe does not). Mail does not
    // decide readiness: a stopped SMTP server delays messages, loses none.
    body["mail"] = serde_json::json!({
        "configured": state.config.smtp_url.is_some(),
        "outbox": crate::mail::outbox::counts(&state.db).await.ok(),
    });
    (status, Json(body)).into_response()
}

async fn metrics(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    if !may_read_detail(&state, &parts) {
        return crate::error::AppError::Forbidden.into_response();
    }
    let lag = state.indexer.lag().await.unwrap_or_default();
    let mail = crate::mail::outbox::counts(&state.db).await.ok();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(&lag, mail),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.record_request("GET", "/proposals/{code}", 200, 0.003);
        m.record_request("GET", "/proposals/{code}", 200, 0.2);
        m.record_search(0.002, true);
        let text = m.render(
            &crate::search::outbox::Lag {
                pending: 3,
                oldest_seconds: 12,
                failing: 2,
                ..Default::default()
            },
            Some(crate::mail::outbox::Counts {
                pending: 4,
                retrying: 1,
                failed: 2,
                sent: 9,
            }),
        );
        assert!(text.contains(
            "tingshang_http_requests_total{method=\"GET\",route=\"/proposals/{code}\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "tingshang_http_request_duration_seconds_bucket{route=\"/proposals/{code}\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "tingshang_http_request_duration_seconds_bucket{route=\"/proposals/{code}\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("tingshang_outbox_pending 3"));
        assert!(text.contains("tingshang_outbox_failing 2"));
        assert!(text.contains("tingshang_search_duration_seconds_count 1"));
        assert!(
            text.contains("tingshang_mail_failed 2\n") && text.contains("tingshang_mail_sent 9\n")
        );
    }
}
