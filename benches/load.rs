//! The load benchmark: `cargo bench --bench load` (sizes with `-- --sizes 10000,100000`).
//!
//! For each corpus size it generates the deterministic corpus (`benches/load/corpus.rs`), measures bulk
//! import, reindex and the embedded search in-process, starts the release server, and drives it
//! with wrk (Lua scripts pick paths and queries at random): home, session, proposal, search page,
//! search API and authenticated submissions, next to a bare axum handler that reads the same
//! proposal row from the same SQLite file. Results are printed and written to BENCHMARKS.md.
//! `--search-only` stops after the search figures (corpus, reindex, in-process query mix, the
//! search API with its caches off at 16 connections and one at a time, beside the baseline): the
//! 1M-proposal run, `-- --sizes 1000000 --search-only --out …`. `--writers-only` measures just
//! the baseline and the 8-writer rows; with `BENCH_POSTGRES_URL=postgres://…/postgres` the 8-writer
//! row also runs on PostgreSQL (the same corpus in a fresh database there).
//!
//! `cargo test` runs this same program as a smoke test (a 300-proposal corpus, one-second wrk runs,
//! nothing written), so the benchmark cannot rot; it fails on errors or on a page whose number of
//! SQL statements grows with the data (N+1).
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectOptions, Database, DatabaseConnection, EntityTrait};
use tingshang::config::Config;
#[path = "load/corpus.rs"]
mod corpus;

use corpus::{FILTERS, QUERIES};
use tingshang::search::SearchQuery;

const BIN: &str = env!("CARGO_BIN_EXE_tingshang");
const SEED: u64 = 20230928;

struct Args {
    /// Run by `cargo test`: tiny, and strict about errors.
    smoke: bool,
    sizes: Vec<usize>,
    seconds: u64,
    connections: usize,
    out: Option<PathBuf>,
    /// Keep the corpus, index and server data here (for profiling) instead of a temporary directory.
    keep: Option<PathBuf>,
    /// Leave out the bulk import (minutes at 100k) when profiling something else.
    skip_import: bool,
    /// Only the archive import and the search index: corpus, import (unless `--skip-import`),
    /// reindex and the in-process query mix (for 1M proposals, where the page scenarios would
    /// take the better part of an hour).
    search_only: bool,
    /// Only what the writer rows need: the corpus, the baseline and the 8-writer rows (on SQLite,
    /// and on PostgreSQL when `BENCH_POSTGRES_URL` names a server).
    writers_only: bool,
}

/// Sends SIGTERM to a server this benchmark started. A direct `kill(2)`: procps-ng's `kill`
/// program misreads some pid arguments (`kill -KILL -4862` signals group 4, and a pid starting
/// with 1 becomes -1, every process), so no pid goes through it.
fn terminate(server: &Child) {
    let pid = libc::pid_t::try_from(server.id()).expect("pid fits pid_t");
    assert!(pid > 1, "refusing to signal pid {pid}");
    // SAFETY: kill(2) with a positive pid of our own child touches nothing else.
    unsafe { libc::kill(pid, libc::SIGTERM) };
}

fn have_wrk() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

fn args() -> Args {
    // `cargo bench` passes --bench; `cargo test` runs the smoke version.
    if !std::env::args().any(|a| a == "--bench") {
        return Args {
            smoke: true,
            sizes: vec![300],
            seconds: 1,
            connections: 4,
            out: None,
            keep: None,
            skip_import: false,
            search_only: false,
            writers_only: false,
        };
    }
    let mut a = Args {
        smoke: false,
        sizes: vec![10_000, 100_000],
        seconds: 10,
        connections: 16,
        out: Some(PathBuf::from("BENCHMARKS.md")),
        keep: None,
        skip_import: false,
        search_only: false,
        writers_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--sizes" => {
                a.sizes = it
                    .next()
                    .unwrap()
                    .split(',')
                    .map(|s| s.trim().parse().expect("size"))
                    .collect()
            }
            "--seconds" => a.seconds = it.next().unwrap().parse().unwrap(),
            "--connections" => a.connections = it.next().unwrap().parse().unwrap(),
            "--no-write" => a.out = None,
            "--out" => a.out = Some(PathBuf::from(it.next().unwrap())),
            "--keep" => a.keep = Some(PathBuf::from(it.next().unwrap())),
            "--skip-import" => a.skip_import = true,
            "--search-only" => a.search_only = true,
            "--writers-only" => a.writers_only = true,
            _ => {} // cargo passes --bench
        }
    }
    a
}

/// One wrk run's figures.
#[derive(Clone, Debug, Default)]
struct Load {
    rps: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    errors: u64,
}

/// Shared by both scripts: one parsable line with requests, seconds and p50/p95/p99 in ms.
const LUA_DONE: &str = r#"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %f %f %f %f %d\n", summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    e.connect + e.read + e.write + e.timeout + e.status))
end
"#;

const LUA_PATHS: &str = r#"
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local counter = 0
function setup(thread) counter = counter + 1; thread:set("id", counter) end
function init(args) math.randomseed(1000 + (id or 0)) end
function request() return wrk.format("GET", paths[math.random(#paths)]) end
"#;

const LUA_SUBMIT: &str = r#"
local counter = 0
function setup(thread) counter = counter + 1; thread:set("id", counter) end
local n = 0
function request()
  n = n + 1
  local body = string.format('{"channel":"hotline_12345","external_id":"bench-%s-%d-%d","title":"压力测试工单 %d","body_md":"市民来电反映科技型中小企业政策咨询需求。"}', os.getenv("BENCH_RUN"), id, n, n)
  return wrk.format("POST", "/api/v1/intake", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")}, body)
end
"#;

fn wrk(
    base: &str,
    script: &Path,
    env: &[(&str, String)],
    seconds: u64,
    connections: usize,
) -> Load {
    let mut cmd = Command::new("wrk");
    cmd.args([
        // wrk wants at least one connection per thread.
        &format!("-t{}", connections.min(2)),
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--timeout",
        "10s",
        "-s",
    ])
    .arg(script)
    .arg(base);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "wrk printed no result: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let f: Vec<f64> = line[7..].split(' ').map(|x| x.parse().unwrap()).collect();
    Load {
        rps: f[0] / f[1],
        p50_ms: f[2],
        p95_ms: f[3],
        p99_ms: f[4],
        errors: f[5] as u64,
    }
}

/// For `--search-only` (whose page rows would take the better part of an hour at 1M): the
/// search mix through `/api/v1/search` with every cache off, at 16 connections and one at a
/// time, beside the bare baseline of the same run.
async fn search_api_rows(
    url: &str,
    index_dir: &Path,
    scripts: &Path,
    size: usize,
    seconds: u64,
) -> BTreeMap<&'static str, Load> {
    std::fs::write(scripts.join("paths.lua"), format!("{LUA_PATHS}{LUA_DONE}")).unwrap();
    let mut rng = corpus::Rng::new(SEED);
    let first_id = 12; // generated proposals follow the 11 seeded ones
    let baseline_paths: Vec<String> = (0..2000)
        .map(|_| format!("/baseline/{}", first_id + rng.below(size) as i32))
        .collect();
    let search_paths: Vec<String> = search_mix()
        .iter()
        .map(|q| format!("/api/v1/search?{q}"))
        .collect();
    let baseline = baseline_server(url).await;
    let (mut server, base, _) = start_server(url, index_dir, false).await;
    let mut loads = BTreeMap::new();
    for (name, target, paths, clients) in [
        ("baseline", &baseline, &baseline_paths, 16),
        ("search API, uncached", &base, &search_paths, 16),
        (
            "search API, uncached, one at a time",
            &base,
            &search_paths,
            1,
        ),
    ] {
        let file = write_paths(
            scripts,
            &format!("{}.txt", name.replace([' ', ','], "_")),
            paths,
        );
        eprintln!("[{size}] wrk {name}");
        let env = [("BENCH_PATHS", file.display().to_string())];
        loads.insert(
            name,
            wrk(target, &scripts.join("paths.lua"), &env, seconds, clients),
        );
    }
    terminate(&server);
    server.wait().unwrap();
    loads
}

/// Requests every distinct path of a path list once, one after another (fills the page cache).
async fn serve_each_once(base: &str, paths: &Path) {
    let client = reqwest::Client::new();
    let text = std::fs::read_to_string(paths).unwrap();
    let distinct: std::collections::BTreeSet<&str> = text.lines().collect();
    for path in distinct {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.bytes().await.unwrap();
    }
}

/// Registers a 12345 ticket and accepts it (立案) through the API every 100 ms for `duration`, as
/// the secretariat; returns how many were accepted.
async fn accept_intakes(base: String, token: String, size: usize, duration: Duration) -> usize {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut accepted = 0;
    while started.elapsed() < duration {
        let tick = Instant::now();
        let ticket = format!("bench-accept-{size}-{accepted}");
        let code = register(
            &client,
            &base,
            &token,
            &ticket,
            &format!("压力测试立案工单 {accepted}"),
        )
        .await;
        accept(&client, &base, &token, &code).await;
        accepted += 1;
        tokio::time::sleep(Duration::from_millis(100).saturating_sub(tick.elapsed())).await;
    }
    accepted
}

/// Registers a 12345 ticket through the API; returns its proposal code.
async fn register(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    ticket: &str,
    title: &str,
) -> String {
    let answer: serde_json::Value = client
        .post(format!("{base}/api/v1/intake"))
        .bearer_auth(token)
        .json(&serde_json::json!({
            "channel": "hotline_12345",
            "external_id": ticket,
            "title": title,
            "body_md": "市民来电反映科技型中小企业政策咨询需求。",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["code"]
        .as_str()
        .expect("intake answers with a code")
        .to_owned()
}

/// Accepts (立案) a registered ticket through the API.
async fn accept(client: &reqwest::Client, base: &str, token: &str, code: &str) {
    let decision = client
        .post(format!("{base}/api/v1/proposals/{code}/decision"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "action": "accept" }))
        .send()
        .await
        .unwrap();
    assert_eq!(decision.status(), 201, "accepting {code}");
}

/// Eight writers, each registering a 12345 ticket and accepting it (立案) as fast as they are
/// answered, for `duration`, while the outbox worker indexes every accepted ticket: each HTTP call
/// is one durable write. Returns the per-write latencies as a load.
async fn eight_writers(base: String, token: String, size: usize, duration: Duration) -> Load {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..8 {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        writers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut n = 0;
            while started.elapsed() < duration {
                n += 1;
                let t = Instant::now();
                let ticket = format!("bench-writers-{size}-{w}-{n}");
                let code = register(
                    &client,
                    &base,
                    &token,
                    &ticket,
                    &format!("并发写入工单 {w}-{n}"),
                )
                .await;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                let t = Instant::now();
                accept(&client, &base, &token, &code).await;
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            times
        }));
    }
    let mut times = Vec::new();
    for w in writers {
        times.extend(w.await.unwrap());
    }
    Load::from_times(times, started.elapsed().as_secs_f64())
}

/// Row names are `&'static str`; the few built at run time live as long as the program.
fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

fn write_paths(dir: &Path, name: &str, paths: &[String]) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, paths.join("\n")).unwrap();
    file
}

impl Load {
    /// Throughput and percentiles of in-process timings (milliseconds) taken over `wall` seconds.
    fn from_times(mut times: Vec<f64>, wall: f64) -> Load {
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        Load {
            rps: times.len() as f64 / wall,
            p50_ms: percentile(&times, 0.5),
            p95_ms: percentile(&times, 0.95),
            p99_ms: percentile(&times, 0.99),
            errors: 0,
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~=&".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The search query mix: every query word, alone and with each filter.
fn search_mix() -> Vec<String> {
    let mut mix = Vec::new();
    for (i, q) in QUERIES.iter().enumerate() {
        mix.push(format!(
            "q={}{}",
            encode(q),
            encode(FILTERS[i % FILTERS.len()])
        ));
        mix.push(format!("q={}", encode(q)));
    }
    mix
}

async fn connect(url: &str) -> DatabaseConnection {
    let config = Config {
        database_url: url.to_owned(),
        ..Default::default()
    };
    tingshang::db::connect(&config).await.unwrap()
}

fn rss_peak_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The baseline: a bare axum handler reading one proposal row from the same SQLite file.
async fn baseline_server(url: &str) -> String {
    use axum::extract::{Path as AxPath, State};
    use axum::response::Html;
    let mut options = ConnectOptions::new(url.to_owned());
    options.max_connections(8).sqlx_logging(false);
    let db = Database::connect(options).await.unwrap();
    let app = axum::Router::new()
        .route(
            "/baseline/{id}",
            axum::routing::get(
                |State(db): State<DatabaseConnection>, AxPath(id): AxPath<i32>| async move {
                    let p = entity::proposals::Entity::find_by_id(id)
                        .one(&db)
                        .await
                        .unwrap()
                        .unwrap();
                    Html(format!(
                        "<!doctype html><title>{}</title><h1>{}</h1><div>{}</div>",
                        p.title, p.title, p.body_md
                    ))
                },
            ),
        )
        .with_state(db);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// Where one size's data lives: removed afterwards, or kept for profiling (`--keep`).
enum Workdir {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl Workdir {
    fn path(&self) -> &Path {
        match self {
            Workdir::Temporary(dir) => dir.path(),
            Workdir::Kept(dir) => dir,
        }
    }
}

#[derive(Clone)]
struct SizeResult {
    size: usize,
    generate_s: f64,
    imported: Option<Imported>,
    reindex_s: f64,
    indexed: usize,
    startup_ms: f64,
    rss_mb: f64,
    embedded: Load,
    embedded_alone: Load,
    /// The same two with every match scored and counted (`without_pruning`).
    embedded_exhaustive: Load,
    embedded_alone_exhaustive: Load,
    /// With `MEILI_URL`: the same corpus in Meilisearch.
    meili: Option<MeiliResult>,
    loads: BTreeMap<&'static str, Load>,
    queries_per_page: BTreeMap<&'static str, usize>,
}

/// The Meilisearch figures of one corpus size.
#[derive(Clone)]
struct MeiliResult {
    reindex_s: f64,
    /// The query mix through the SDK (what our backend sends), 16 at a time.
    sdk: Load,
    /// The same documents (`SearchDoc` as JSON, built beforehand) posted straight into an index
    /// with Meilisearch's default settings but the same filterable attributes, in the same
    /// 1,000-document batches: seconds and documents.
    raw_feed_s: f64,
    documents: usize,
    /// One query at a time: through our backend (parse, encode, search, highlight, facets), and
    /// the identical request sent straight to the same index with the SDK.
    ours_alone: Load,
    straight_alone: Load,
}

fn meili_index(size: usize) -> String {
    format!("tingshang-bench-{size}")
}

/// Reindexes the corpus into Meilisearch and runs the query mix against it through the SDK,
/// 16 concurrent searchers as for the embedded index.
async fn meili_in_process(
    db: &DatabaseConnection,
    url: &str,
    size: usize,
    mix: &[SearchQuery],
) -> MeiliResult {
    use tingshang::search::SearchBackend;
    let key = std::env::var("MEILI_API_KEY").ok();
    let meili = std::sync::Arc::new(
        tingshang::search::meili::MeiliBackend::connect(url, key.as_deref(), &meili_index(size))
            .await
            .expect("Meilisearch at MEILI_URL"),
    );
    let backend: tingshang::search::Backend = meili.clone();
    let indexer = tingshang::search::outbox::Indexer::new(db.clone(), backend, 5);
    eprintln!("[{size}] reindexing into Meilisearch");
    let started = Instant::now();
    indexer
        .reindex(&tingshang::cli::progress("索引"))
        .await
        .unwrap();
    let reindex_s = started.elapsed().as_secs_f64();
    eprintln!();
    let (ours_alone, straight_alone) = meili_one_at_a_time(&meili, url, size, mix).await;
    let sdk = sixteen_searchers(mix, 50, move |q| {
        let meili = meili.clone();
        async move {
            meili.search(&q).await.unwrap();
        }
    })
    .await;
    let (raw_feed_s, documents) = meili_raw_feed(db, url, size).await;
    MeiliResult {
        reindex_s,
        sdk,
        raw_feed_s,
        documents,
        ours_alone,
        straight_alone,
    }
}

fn meili_client(url: &str) -> meilisearch_sdk::client::Client {
    let key = std::env::var("MEILI_API_KEY").ok();
    meilisearch_sdk::client::Client::new(url, key.as_deref()).unwrap()
}

/// Every query of the mix twice, one at a time, through our backend and then as the identical
/// request straight to the index; the difference of the two is what our backend adds.
async fn meili_one_at_a_time(
    meili: &tingshang::search::meili::MeiliBackend,
    url: &str,
    size: usize,
    mix: &[SearchQuery],
) -> (Load, Load) {
    use meilisearch_sdk::search::{MatchingStrategies, Selectors};
    use tingshang::search::{meili as backend, query, SearchBackend, FACETS};
    let client = meili_client(url);
    let index = client.index(meili_index(size));
    let facets: Vec<&str> = FACETS
        .iter()
        .map(|(name, _)| backend::attribute(name))
        .collect();
    let straight_once = |q: &SearchQuery| {
        let synonyms = query::Synonyms::default();
        let text = backend::query_string(&query::parse(&q.text, &synonyms), &synonyms);
        let filter = backend::filter_expression(q);
        let (index, facets) = (&index, &facets);
        async move {
            let s = Instant::now();
            let mut request = index.search();
            request
                .with_query(&text)
                .with_offset(0)
                .with_limit(20)
                .with_facets(Selectors::Some(facets))
                .with_matching_strategy(MatchingStrategies::ALL);
            if let Some(filter) = &filter {
                request.with_filter(filter);
            }
            request.execute::<serde_json::Value>().await.unwrap();
            s.elapsed().as_secs_f64() * 1e3
        }
    };
    let ours_once = |q: &SearchQuery| {
        let q = q.clone();
        async move {
            let s = Instant::now();
            meili.search(&q).await.unwrap();
            s.elapsed().as_secs_f64() * 1e3
        }
    };
    // One unmeasured pass first: whichever request came first would otherwise pay for reading
    // the index's pages from disk and the other would find them cached.
    for q in mix {
        ours_once(q).await;
        straight_once(q).await;
    }
    let (mut ours, mut straight) = (Vec::new(), Vec::new());
    let started = Instant::now();
    // Then each query twice, and each time the other request goes first.
    for (i, q) in mix.iter().chain(mix.iter()).enumerate() {
        if i % 2 == 0 {
            ours.push(ours_once(q).await);
            straight.push(straight_once(q).await);
        } else {
            straight.push(straight_once(q).await);
            ours.push(ours_once(q).await);
        }
    }
    let wall = started.elapsed().as_secs_f64() / 2.0;
    (
        Load::from_times(ours, wall),
        Load::from_times(straight, wall),
    )
}

/// Posts the corpus's documents, built beforehand, straight into a fresh index with default
/// settings (only the facets made filterable, as ours), 1,000 per batch, each batch awaited as
/// our backend does. Returns the seconds from the first post to the last task's end.
async fn meili_raw_feed(db: &DatabaseConnection, url: &str, size: usize) -> (f64, usize) {
    use tingshang::search::{documents, meili as backend, FACETS};
    let (proposals, sessions, docs) = documents::indexable_ids(db).await.unwrap();
    let mut all = Vec::new();
    for chunk in proposals.chunks(500) {
        all.extend(documents::build_proposals(db, chunk).await.unwrap());
    }
    all.extend(documents::build_sessions(db, &sessions).await.unwrap());
    all.extend(documents::build_documents(db, &docs).await.unwrap());
    let client = meili_client(url);
    let name = format!("{}-raw", meili_index(size));
    if let Ok(task) = client.index(&name).delete().await {
        let _ = task
            .wait_for_completion(&client, None, Some(Duration::from_secs(120)))
            .await;
    }
    let index = client.index(&name);
    let filterable: Vec<&str> = FACETS
        .iter()
        .map(|(name, _)| backend::attribute(name))
        .collect();
    index
        .set_filterable_attributes(&filterable)
        .await
        .unwrap()
        .wait_for_completion(&client, None, Some(Duration::from_secs(120)))
        .await
        .unwrap();
    eprintln!(
        "[{size}] feeding {} documents straight to Meilisearch",
        all.len()
    );
    let started = Instant::now();
    for chunk in all.chunks(1000) {
        let task = index
            .add_or_replace(chunk, Some("id"))
            .await
            .unwrap()
            .wait_for_completion(
                &client,
                Some(Duration::from_millis(50)),
                Some(Duration::from_secs(600)),
            )
            .await
            .unwrap();
        assert!(task.is_success(), "{task:?}");
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = index.delete().await;
    (seconds, all.len())
}

/// Sixteen concurrent searchers, each running `per_searcher` queries of the mix (each starting
/// at another place in it); every query is timed.
async fn sixteen_searchers<F, Fut>(mix: &[SearchQuery], per_searcher: usize, search: F) -> Load
where
    F: Fn(SearchQuery) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..16 {
        let (search, mix) = (search.clone(), mix.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            for i in 0..per_searcher {
                let q = mix[(i * 7 + t) % mix.len()].clone();
                let s = Instant::now();
                search(q).await;
                times.push(s.elapsed().as_secs_f64() * 1e3);
            }
            times
        }));
    }
    let mut times = Vec::new();
    for t in tasks {
        times.extend(t.await.unwrap());
    }
    Load::from_times(times, started.elapsed().as_secs_f64())
}

/// Exports the corpus as the public archive and times importing it into an empty database.
#[derive(Clone)]
/// What importing the corpus's archive took: seconds, records, the file's size and the importing
/// process's peak resident memory (MB).
struct Imported {
    seconds: f64,
    records: usize,
    file_mb: f64,
    peak_mb: f64,
}

/// Bulk import: the public archive of this corpus, written to a file, loaded by `tingshang import`
/// (a process of its own, so its peak memory is the importer's alone) into an empty database.
async fn bulk_import(db: &DatabaseConnection, dir: &Path, size: usize) -> Imported {
    let records = tingshang::opendata::archive::export_records(db)
        .await
        .unwrap();
    let archive = dir.join("archive.jsonl");
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::fs::File::create(&archive).unwrap());
        for record in &records {
            out.write_all(record.line().as_bytes()).unwrap();
        }
        out.flush().unwrap();
    }
    let count = records.len();
    drop(records);
    let file_mb = std::fs::metadata(&archive).unwrap().len() as f64 / 1e6;
    let import_url = format!("sqlite://{}?mode=rwc", dir.join("import.db").display());
    eprintln!("[{size}] importing {count} records ({file_mb:.0} MB) with `tingshang import`");
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .arg("import")
        .arg(&archive)
        .env("TINGSHANG_DATABASE_URL", &import_url)
        .env("TINGSHANG_FILES_DIR", dir.join("import-files"))
        .env("TINGSHANG_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The kernel's high-water mark, read until the process ends (it is gone once reaped).
    let mut peak_mb: f64 = 0.0;
    let status = loop {
        peak_mb = peak_mb.max(rss_peak_mb(child.id()));
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "tingshang import failed");
    let seconds = started.elapsed().as_secs_f64();
    eprintln!();
    Imported {
        seconds,
        records: count,
        file_mb,
        peak_mb,
    }
}

async fn run_size(
    size: usize,
    seconds: u64,
    connections: usize,
    keep: Option<&Path>,
    skip_import: bool,
    search_only: bool,
    writers_only: bool,
) -> SizeResult {
    let dir = tempfile::tempdir().unwrap();
    let dir = match keep {
        Some(root) => {
            let kept = root.join(size.to_string());
            let _ = std::fs::remove_dir_all(&kept);
            std::fs::create_dir_all(&kept).unwrap();
            eprintln!("[{size}] keeping the data in {}", kept.display());
            Workdir::Kept(kept)
        }
        None => Workdir::Temporary(dir),
    };
    let db_path = dir.path().join("bench.db");
    let url = format!("sqlite://{}?mode=rwc", db_path.display());
    let db = connect(&url).await;
    tingshang::db::migrate(&db).await.unwrap();
    tingshang::seed::run(&db).await.unwrap();
    eprintln!("[{size}] generating corpus");
    let started = Instant::now();
    let generated = corpus::generate(&db, size, SEED, &tingshang::cli::progress("生成"))
        .await
        .unwrap();
    let generate_s = started.elapsed().as_secs_f64();
    eprintln!();
    // Fresh statistics, and connections that read them (SQLite loads them when a connection opens).
    tingshang::db::refresh_statistics(&db).await.unwrap();
    db.close().await.unwrap();
    let db = connect(&url).await;

    // Bulk import: the public archive of this corpus into an empty database.
    let imported = if skip_import || writers_only {
        None
    } else {
        Some(bulk_import(&db, dir.path(), size).await)
    };

    // Reindex into the embedded index the server will use.
    let index_dir = dir.path().join("index");
    let embedded_backend = std::sync::Arc::new(
        tingshang::search::embedded::EmbeddedBackend::open(Some(&index_dir)).unwrap(),
    );
    let backend: tingshang::search::Backend = embedded_backend.clone();
    let indexer = tingshang::search::outbox::Indexer::new(db.clone(), backend.clone(), 5);
    eprintln!("[{size}] reindexing");
    let started = Instant::now();
    let indexed = indexer
        .reindex(&tingshang::cli::progress("索引"))
        .await
        .unwrap();
    let reindex_s = started.elapsed().as_secs_f64();
    eprintln!();

    // The embedded search in-process, 16 concurrent searchers over the query mix. Every query is
    // evaluated (the result cache the server uses is bypassed), so these rows show the index's cost.
    let mix: Vec<SearchQuery> =
        QUERIES
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let params: tingshang::search::routes::Params = serde_urlencoded::from_str(
                    &format!("q={}{}", encode(q), encode(FILTERS[i % FILTERS.len()])),
                )
                .unwrap();
                params.to_query(20)
            })
            .collect();
    let searcher = embedded_backend.clone();
    let embedded = sixteen_searchers(&mix, 200, move |q| {
        let searcher = searcher.clone();
        async move {
            searcher.search_uncached(&q).unwrap();
        }
    })
    .await;
    // One searcher alone: the latency of a single query, without queueing behind fifteen others.
    let mut alone = Vec::new();
    let mut slowest = Vec::new();
    let started = Instant::now();
    for q in mix.iter().chain(mix.iter()) {
        let s = Instant::now();
        let found = embedded_backend.search_uncached(q).unwrap();
        let ms = s.elapsed().as_secs_f64() * 1e3;
        alone.push(ms);
        slowest.push((ms, found.total, q.text.clone(), q.filters.clone()));
    }
    // The tail is a handful of queries: name them, for whoever profiles next.
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (ms, total, text, filters) in slowest.iter().take(5) {
        eprintln!("[{size}] slow query: {ms:.1} ms, {total} hits, {text:?} {filters:?}");
    }
    let embedded_alone = Load::from_times(alone, started.elapsed().as_secs_f64());
    drop((backend, embedded_backend, indexer));
    // The same with every match scored and counted exactly (`without_pruning`): what pruning
    // and estimated counts save, in the same run on the same index.
    let exhaustive = tingshang::search::embedded::EmbeddedBackend::open(Some(&index_dir))
        .unwrap()
        .without_caches()
        .without_pruning();
    let started = Instant::now();
    let mut times = Vec::new();
    for q in mix.iter().chain(mix.iter()) {
        let s = Instant::now();
        exhaustive.search_uncached(q).unwrap();
        times.push(s.elapsed().as_secs_f64() * 1e3);
    }
    let embedded_alone_exhaustive = Load::from_times(times, started.elapsed().as_secs_f64());
    let exhaustive = std::sync::Arc::new(exhaustive);
    let embedded_exhaustive = sixteen_searchers(&mix, 200, move |q| {
        let searcher = exhaustive.clone();
        async move {
            searcher.search_uncached(&q).unwrap();
        }
    })
    .await;

    let meili = match std::env::var("MEILI_URL") {
        Ok(_) if writers_only => None,
        Ok(url) => Some(meili_in_process(&db, &url, size, &mix).await),
        Err(_) => {
            eprintln!("SKIPPED: [{size}] Meilisearch rows: MEILI_URL is not set");
            None
        }
    };

    // The figures so far; the server's are filled in below (NaN: not measured).
    let mut result = SizeResult {
        size,
        generate_s,
        imported,
        reindex_s,
        indexed,
        startup_ms: f64::NAN,
        rss_mb: f64::NAN,
        embedded,
        embedded_alone,
        embedded_exhaustive,
        embedded_alone_exhaustive,
        meili,
        loads: BTreeMap::new(),
        queries_per_page: BTreeMap::new(),
    };
    if search_only {
        db.close().await.unwrap();
        if have_wrk() {
            result.loads = search_api_rows(&url, &index_dir, dir.path(), size, seconds).await;
        }
        return result;
    }

    // Queries per page: the page must not issue one query per item (no N+1).
    if !writers_only {
        result.queries_per_page = count_queries(&url, &generated).await;
    }

    // A token for authenticated submissions.
    let token = secretariat_token(&db).await;
    db.close().await.unwrap();

    // Let the kernel write back the gigabyte the corpus, import and reindex produced: durable
    // commits measured behind that writeback stalled for seconds (submissions p99 1.9 s once).
    let _ = Command::new("sync").status();

    // The release server.
    let (mut server, base, startup_ms) = start_server(&url, &index_dir, true).await;
    result.startup_ms = startup_ms;
    let baseline = baseline_server(&url).await;
    if !have_wrk() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: load scenarios: wrk is not installed (apt-get install wrk); corpus, import, reindex, search and N+1 checks ran"
        );
        terminate(&server);
        server.wait().unwrap();
        return result;
    }

    let scripts = dir.path();
    std::fs::write(scripts.join("paths.lua"), format!("{LUA_PATHS}{LUA_DONE}")).unwrap();
    std::fs::write(
        scripts.join("paths-gzip.lua"),
        format!("wrk.headers[\"Accept-Encoding\"] = \"gzip\"\n{LUA_PATHS}{LUA_DONE}"),
    )
    .unwrap();
    std::fs::write(
        scripts.join("submit.lua"),
        format!("{LUA_SUBMIT}{LUA_DONE}"),
    )
    .unwrap();
    let mut rng = corpus::Rng::new(SEED);
    let sample: Vec<String> = (0..2000)
        .map(|_| rng.pick(&generated.codes).clone())
        .collect();
    let first_id = 12; // generated proposals follow the 11 seeded ones
    let path_sets: Vec<(&'static str, String, Vec<String>)> = vec![
        (
            "baseline",
            baseline.clone(),
            (0..2000)
                .map(|_| format!("/baseline/{}", first_id + rng.below(size) as i32))
                .collect(),
        ),
        ("home", base.clone(), vec!["/".into()]),
        (
            "session",
            base.clone(),
            generated
                .session_numbers
                .iter()
                .take(2000)
                .map(|n| format!("/sessions/{n}"))
                .collect(),
        ),
        (
            "proposal",
            base.clone(),
            sample.iter().map(|c| format!("/proposals/{c}")).collect(),
        ),
        (
            "search page",
            base.clone(),
            search_mix()
                .iter()
                .map(|q| format!("/search?{q}"))
                .collect(),
        ),
        (
            "search API",
            base.clone(),
            search_mix()
                .iter()
                .map(|q| format!("/api/v1/search?{q}"))
                .collect(),
        ),
        (
            // Pages 1–25 of every query of the mix: more combinations than the result cache
            // holds, so nearly every request is evaluated.
            "search API, cache misses",
            base.clone(),
            search_mix()
                .iter()
                .flat_map(|q| (1..=25).map(move |page| format!("/api/v1/search?{q}&page={page}")))
                .collect(),
        ),
    ];
    let mut loads = BTreeMap::new();
    for (name, target, paths) in path_sets
        .into_iter()
        .filter(|(name, _, _)| !writers_only || *name == "baseline")
    {
        let file = write_paths(scripts, &format!("{}.txt", name.replace(' ', "_")), &paths);
        eprintln!("[{size}] wrk {name}");
        let load = wrk(
            &target,
            &scripts.join("paths.lua"),
            &[("BENCH_PATHS", file.display().to_string())],
            seconds,
            connections,
        );
        loads.insert(name, load);
    }
    // The same pages once each has been served (what a popular archive serves all day), as wrk
    // asks for them (no compression) and as browsers do (`Accept-Encoding: gzip`). Before the
    // submissions: a public write starts the page cache afresh.
    for (name, paths) in [("session", "session.txt"), ("proposal", "proposal.txt")] {
        if writers_only {
            break;
        }
        let file = scripts.join(paths);
        serve_each_once(&base, &file).await;
        for (label, script) in [
            (format!("{name}, cached"), "paths.lua"),
            (format!("{name}, cached, gzip"), "paths-gzip.lua"),
        ] {
            eprintln!("[{size}] wrk {label}");
            let load = wrk(
                &base,
                &scripts.join(script),
                &[("BENCH_PATHS", file.display().to_string())],
                seconds,
                connections,
            );
            loads.insert(leak(label), load);
        }
    }

    // The session pages again while the secretariat registers and accepts a 12345 ticket every
    // 100 ms: each acceptance is a public write (a new public proposal; the home page), which
    // names the pages it touched, so the cached session pages stay (they used to be dropped by
    // every write, ten times a second here).
    let label = "session, cached, 10 acceptances/s";
    if !writers_only {
        // The proposal rows above made the least recently used session pages room for theirs.
        serve_each_once(&base, &scripts.join("session.txt")).await;
        eprintln!("[{size}] wrk {label}");
        let steps = tokio::spawn(accept_intakes(
            base.clone(),
            token.clone(),
            size,
            Duration::from_secs(seconds),
        ));
        let (wrk_base, session_paths) = (base.clone(), scripts.join("session.txt"));
        let script = scripts.join("paths.lua");
        let load = tokio::task::spawn_blocking(move || {
            wrk(
                &wrk_base,
                &script,
                &[("BENCH_PATHS", session_paths.display().to_string())],
                seconds,
                connections,
            )
        })
        .await
        .unwrap();
        let accepted = steps.await.unwrap();
        assert!(accepted > 0, "no acceptance landed during {label}");
        eprintln!("[{size}] {accepted} tickets accepted during {label}");
        loads.insert(label, load);
    }

    // Writers against the index: every acceptance is an outbox row the worker indexes meanwhile.
    let label = "8 writers: intake + acceptance";
    eprintln!("[{size}] {label}");
    let writers = eight_writers(
        base.clone(),
        token.clone(),
        size,
        Duration::from_secs(seconds),
    )
    .await;
    loads.insert(label, writers);
    if let Ok(pg) = std::env::var("BENCH_POSTGRES_URL") {
        loads.insert(
            "8 writers: intake + acceptance, PostgreSQL",
            postgres_writers(&pg, size, seconds).await,
        );
    }
    if writers_only {
        terminate(&server);
        server.wait().unwrap();
        result.loads = loads;
        return result;
    }

    eprintln!("[{size}] wrk submissions");
    let submit = wrk(
        &base,
        &scripts.join("submit.lua"),
        &[
            ("BENCH_TOKEN", token.clone()),
            ("BENCH_RUN", size.to_string()),
        ],
        seconds,
        connections,
    );
    loads.insert("submissions", submit);
    let rss_mb = rss_peak_mb(server.id());
    terminate(&server);
    server.wait().unwrap();

    // The same page loads with the page cache off: what rendering a page costs, as every page
    // costs right after a write (a write empties the cache); and the search mix with the search
    // caches off, every request evaluated in full (as right after an index commit).
    let (mut server, base, _) = start_server(&url, &index_dir, false).await;
    for (name, paths) in [
        ("session, rendered", "session.txt"),
        ("proposal, rendered", "proposal.txt"),
        ("search API, uncached", "search_API.txt"),
    ] {
        eprintln!("[{size}] wrk {name}");
        let load = wrk(
            &base,
            &scripts.join("paths.lua"),
            &[("BENCH_PATHS", scripts.join(paths).display().to_string())],
            seconds,
            connections,
        );
        loads.insert(name, load);
    }
    terminate(&server);
    server.wait().unwrap();

    // The same search mix through our API with the Meilisearch backend.
    if let Ok(meili_url) = std::env::var("MEILI_URL") {
        let mut env = vec![
            ("MEILI_URL", meili_url),
            ("TINGSHANG_MEILI_INDEX", meili_index(size)),
        ];
        if let Ok(key) = std::env::var("MEILI_API_KEY") {
            env.push(("MEILI_API_KEY", key));
        }
        let (mut server, base, _) = start_server_with(&url, &index_dir, true, &env).await;
        eprintln!("[{size}] wrk search API (Meilisearch)");
        let load = wrk(
            &base,
            &scripts.join("paths.lua"),
            &[(
                "BENCH_PATHS",
                scripts.join("search_API.txt").display().to_string(),
            )],
            seconds,
            connections,
        );
        loads.insert("search API, Meilisearch backend", load);
        terminate(&server);
        server.wait().unwrap();
    }
    result.rss_mb = rss_mb;
    result.loads = loads;
    result
}

/// A secretariat account and its API token, for the authenticated writes.
async fn secretariat_token(db: &DatabaseConnection) -> String {
    tingshang::accounts::service::create_user(
        db,
        tingshang::accounts::service::NewUser {
            username: "bench".into(),
            display_name: "压力测试".into(),
            role: tingshang::accounts::Role::Secretariat,
            person_id: None,
            agency_id: None,
            password: "bench-password-123".into(),
        },
    )
    .await
    .unwrap();
    tingshang::accounts::tokens::create(db, None, "bench", "benchmark")
        .await
        .unwrap()
        .1
}

/// The 8-writer row on PostgreSQL: the same corpus generated into a fresh database on the server
/// `admin_url` names (dropped afterwards), the release server on it with the embedded index.
async fn postgres_writers(admin_url: &str, size: usize, seconds: u64) -> Load {
    use sea_orm::ConnectionTrait;
    let name = format!("tingshang_bench_{size}");
    let admin = connect(admin_url).await;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (prefix, _) = admin_url
        .rsplit_once('/')
        .expect("a database URL ends in /name");
    let url = format!("{prefix}/{name}");
    let db = connect(&url).await;
    tingshang::db::migrate(&db).await.unwrap();
    tingshang::seed::run(&db).await.unwrap();
    eprintln!("[{size}] generating corpus on PostgreSQL");
    corpus::generate(&db, size, SEED, &tingshang::cli::progress("生成"))
        .await
        .unwrap();
    eprintln!();
    db.execute_unprepared("ANALYZE").await.unwrap();
    let token = secretariat_token(&db).await;
    db.close().await.unwrap();
    let index = tempfile::tempdir().unwrap();
    let (server, base, _) = start_server(&url, index.path(), true).await;
    // Let the startup reindex of the new corpus finish before measuring.
    let client = reqwest::Client::new();
    for _ in 0..600 {
        let ready: serde_json::Value = client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or_default();
        if ready["outbox"]["pending"] == 0 && ready["outbox"]["rebuilding"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!("[{size}] 8 writers on PostgreSQL");
    let load = eight_writers(base, token, size, Duration::from_secs(seconds)).await;
    terminate(&server);
    let mut server = server;
    server.wait().unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
    load
}

/// Starts the release server on the corpus; returns it, its address and the milliseconds until it
/// answered its first page. `page_cache: false` renders every page request afresh.
async fn start_server(url: &str, index_dir: &Path, caches: bool) -> (Child, String, f64) {
    start_server_with(url, index_dir, caches, &[]).await
}

/// [`start_server`] with more environment (the Meilisearch backend).
async fn start_server_with(
    url: &str,
    index_dir: &Path,
    caches: bool,
    env: &[(&str, String)],
) -> (Child, String, f64) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let server = Command::new(BIN)
        .arg("serve")
        .env("TINGSHANG_DATABASE_URL", url)
        .env("TINGSHANG_SEARCH_DIR", index_dir)
        .env("TINGSHANG_LISTEN", format!("127.0.0.1:{port}"))
        .env("TINGSHANG_LOG", "warn")
        .env("TINGSHANG_SEED_ON_EMPTY", "false")
        .env("TINGSHANG_PAGE_CACHE", caches.to_string())
        .env("TINGSHANG_SEARCH_CACHE", caches.to_string())
        // The embedded index unless told otherwise: the benchmark's own MEILI_URL is for the
        // Meilisearch rows only (inherited, it put the embedded rows on Meilisearch).
        .env_remove("MEILI_URL")
        .env_remove("MEILI_API_KEY")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        // One token drives all submissions; the per-client limit would cut the measurement off.
        .env("TINGSHANG_API_RATE", "1000000/1000000")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    loop {
        if client
            .get(format!("{base}/"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (server, base, started.elapsed().as_secs_f64() * 1e3)
}

/// Counts the SQL statements one render of each page issues.
async fn count_queries(url: &str, generated: &corpus::Generated) -> BTreeMap<&'static str, usize> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let counter = Arc::new(AtomicUsize::new(0));
    let mut db = connect(url).await;
    let c = counter.clone();
    db.set_metric_callback(move |_| {
        c.fetch_add(1, Ordering::Relaxed);
    });
    let mut out = BTreeMap::new();
    let code = &generated.codes[0];
    counter.store(0, Ordering::Relaxed);
    tingshang::proposals::service::public_page(&db, code)
        .await
        .unwrap();
    out.insert("proposal page", counter.swap(0, Ordering::Relaxed));
    // Two sessions with different numbers of proposals must cost the same number of statements.
    let mut per_session = Vec::new();
    for number in generated.session_numbers.iter().take(2) {
        let page = tingshang::sessions::service::page(&db, *number)
            .await
            .unwrap();
        per_session.push((page.proposals.len(), counter.swap(0, Ordering::Relaxed)));
    }
    assert!(
        per_session.len() < 2
            || per_session[0].0 == per_session[1].0
            || per_session[0].1 == per_session[1].1,
        "session page statements grow with its proposals (N+1): {per_session:?}"
    );
    out.insert("session page", per_session[0].1);
    let filter = tingshang::proposals::service::ListFilter {
        page: 1,
        per_page: 20,
        ..Default::default()
    };
    tingshang::proposals::service::public_summaries(&db, &filter)
        .await
        .unwrap();
    out.insert("proposal list (20)", counter.swap(0, Ordering::Relaxed));
    out
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_owned();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .nth(1)
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    format!("{cores} cores ({cpu}), {mem:.0} GiB RAM, Linux; SQLite (WAL, synchronous=FULL) and the embedded index")
}

fn report(results: &[SizeResult], seconds: u64, connections: usize) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "## Load benchmark\n");
    let _ = writeln!(
        md,
        "- Date: {} (UTC)",
        chrono::Utc::now().format("%Y-%m-%d %H:%M")
    );
    let _ = writeln!(md, "- Machine: {}", machine());
    let _ = writeln!(md, "- Command: `cargo bench --bench load -- --sizes {}` (wrk, 2 threads, {connections} connections, {seconds} s per scenario)", results.iter().map(|r| r.size.to_string()).collect::<Vec<_>>().join(","));
    let _ = writeln!(md, "- Ratios are to the bare axum baseline measured in the same run (absolute numbers drift on shared machines).");
    let _ = writeln!(md, "- Pages are requested at random from every session and from 2,000 sampled proposals, starting with an empty page cache (each page is rendered on its first request); the \"cached\" rows run them again after every page was served once (\"gzip\": with `Accept-Encoding: gzip`, as browsers send; without it a page kept compressed is inflated for each request); \"10 acceptances/s\" runs the cached session pages while the secretariat registers and accepts a 12345 ticket through the API every 100 ms (public writes that touch no session page); the \"rendered\" rows run the same paths with `TINGSHANG_PAGE_CACHE=false`, the cost of a page on its first request after a write that touches it. The search rows run a mix of {} Chinese queries (half with a filter); \"search API\" repeats it (answered from the result cache after the first round), \"cache misses\" asks pages 1–25 of each (a page not in the result cache is cut from the query's cached ranking, kept 20 hits per window), \"uncached\" runs the mix with `TINGSHANG_SEARCH_CACHE=false` (every request ranked and counted afresh: the best hits found with pruning, counts exact to 1,000 and estimated above).\n", QUERIES.len());
    let header: Vec<String> = results
        .iter()
        .map(|r| format!("{} proposals", r.size))
        .collect();
    let _ = writeln!(md, "| scenario | {} |", header.join(" | "));
    let _ = writeln!(md, "|---|{}", "---|".repeat(results.len()));
    let names = [
        "baseline",
        "home",
        "session",
        "session, cached",
        "session, cached, gzip",
        "session, cached, 10 acceptances/s",
        "session, rendered",
        "proposal",
        "proposal, cached",
        "proposal, cached, gzip",
        "proposal, rendered",
        "search page",
        "search API",
        "search API, cache misses",
        "search API, uncached",
        "search API, uncached, one at a time",
        "search API, Meilisearch backend",
        "submissions",
        "8 writers: intake + acceptance",
        "8 writers: intake + acceptance, PostgreSQL",
    ];
    for name in names {
        if results.iter().all(|r| !r.loads.contains_key(name)) {
            continue; // the Meilisearch row without MEILI_URL
        }
        let cells: Vec<String> = results
            .iter()
            .map(|r| {
                let Some(l) = r.loads.get(name) else {
                    return "—".to_owned(); // not run at this size (--search-only)
                };
                let ratio = l.rps / r.loads["baseline"].rps;
                format!(
                    "{:.0} req/s ({:.2}×), p50 {:.1} / p95 {:.1} / p99 {:.1} ms{}",
                    l.rps,
                    ratio,
                    l.p50_ms,
                    l.p95_ms,
                    l.p99_ms,
                    if l.errors > 0 {
                        format!(", {} errors", l.errors)
                    } else {
                        String::new()
                    }
                )
            })
            .collect();
        let _ = writeln!(md, "| {name} | {} |", cells.join(" | "));
    }
    let row = |label: &str, f: &dyn Fn(&SizeResult) -> String| {
        format!(
            "| {label} | {} |\n",
            results.iter().map(f).collect::<Vec<_>>().join(" | ")
        )
    };
    let searched = |l: &Load| {
        format!(
            "{:.0} q/s, p50 {:.2} / p95 {:.2} / p99 {:.2} ms",
            l.rps, l.p50_ms, l.p95_ms, l.p99_ms
        )
    };
    md.push_str(&row("embedded search in-process (one at a time)", &|r| {
        searched(&r.embedded_alone)
    }));
    md.push_str(&row("embedded search in-process (16 concurrent)", &|r| {
        searched(&r.embedded)
    }));
    md.push_str(&row(
        "embedded search in-process (one at a time), every match scored and counted (no pruning)",
        &|r| searched(&r.embedded_alone_exhaustive),
    ));
    md.push_str(&row(
        "embedded search in-process (16 concurrent), every match scored and counted (no pruning)",
        &|r| searched(&r.embedded_exhaustive),
    ));
    if results.iter().all(|r| r.meili.is_some()) {
        md.push_str(&row("Meilisearch through the SDK (16 concurrent)", &|r| {
            let l = &r.meili.as_ref().expect("checked").sdk;
            format!(
                "{:.0} q/s, p50 {:.2} / p95 {:.2} / p99 {:.2} ms",
                l.rps, l.p50_ms, l.p95_ms, l.p99_ms
            )
        }));
        md.push_str(&row("reindex into Meilisearch", &|r| {
            format!("{:.1} s", r.meili.as_ref().expect("checked").reindex_s)
        }));
        md.push_str(&row(
            "same documents posted straight to Meilisearch (defaults)",
            &|r| {
                let m = r.meili.as_ref().expect("checked");
                format!(
                    "{:.1} s ({} documents); `reindex` reaches {:.2}× its documents per second",
                    m.raw_feed_s,
                    m.documents,
                    m.raw_feed_s / m.reindex_s
                )
            },
        ));
        md.push_str(&row(
            "Meilisearch one at a time: our backend vs the same request straight",
            &|r| {
                let m = r.meili.as_ref().expect("checked");
                format!(
                    "p50 {:.2} vs {:.2} ms (+{:.2} ms); p99 {:.2} vs {:.2} ms",
                    m.ours_alone.p50_ms,
                    m.straight_alone.p50_ms,
                    m.ours_alone.p50_ms - m.straight_alone.p50_ms,
                    m.ours_alone.p99_ms,
                    m.straight_alone.p99_ms
                )
            },
        ));
    }
    md.push_str(&row("reindex", &|r| {
        format!("{:.1} s ({} documents)", r.reindex_s, r.indexed)
    }));
    md.push_str(&row(
        "bulk import (archive, `tingshang import`)",
        &|r| match &r.imported {
            None => "skipped".to_owned(),
            Some(i) => format!(
                "{:.1} s ({} records, {:.0} MB file), peak RSS {:.0} MB",
                i.seconds, i.records, i.file_mb, i.peak_mb
            ),
        },
    ));
    md.push_str(&row("corpus generation", &|r| {
        format!("{:.1} s", r.generate_s)
    }));
    let or_dash = |value: f64, unit: &str| {
        if value.is_nan() {
            "—".to_owned()
        } else {
            format!("{value:.0} {unit}")
        }
    };
    md.push_str(&row("start-up to first page", &|r| {
        or_dash(r.startup_ms, "ms")
    }));
    md.push_str(&row("peak RSS of the server", &|r| or_dash(r.rss_mb, "MB")));
    for page in ["proposal page", "session page", "proposal list (20)"] {
        md.push_str(&row(&format!("SQL statements: {page}"), &|r| {
            r.queries_per_page
                .get(page)
                .map_or_else(|| "—".to_owned(), ToString::to_string)
        }));
    }
    md
}

#[tokio::main]
async fn main() {
    let args = args();
    let mut results = Vec::new();
    for size in &args.sizes {
        results.push(
            run_size(
                *size,
                args.seconds,
                args.connections,
                args.keep.as_deref(),
                args.skip_import,
                args.search_only,
                args.writers_only,
            )
            .await,
        );
    }
    if !args.search_only && !args.writers_only && results.iter().any(|r| r.loads.is_empty()) {
        return; // wrk is missing: said so above
    }
    // The smoke run must be clean; a full run reports failed requests in the table instead.
    if args.smoke {
        for r in &results {
            for (name, load) in &r.loads {
                assert!(load.rps > 0.0, "{name}: no requests answered");
                assert_eq!(load.errors, 0, "{name}: {} failed requests", load.errors);
            }
        }
        // The search-only run (`--search-only`, for 1M) beside a full one in one table.
        let search_only = run_size(args.sizes[0], 1, 4, None, false, true, false).await;
        assert!(search_only.indexed > 0 && search_only.embedded.rps > 0.0);
        let mixed = report(&[results[0].clone(), search_only], 1, 4);
        assert!(
            mixed.contains("| search API | ") && mixed.contains(" | — |"),
            "a search-only column shows dashes for what it did not run:\n{mixed}"
        );
    }
    let table = report(&results, args.seconds, args.connections);
    println!("{table}");
    if let Some(out) = args.out {
        let existing = std::fs::read_to_string(&out).unwrap_or_default();
        let marker = "<!-- load benchmark -->";
        let head = existing
            .split(marker)
            .next()
            .unwrap_or_default()
            .trim_end()
            .to_owned();
        let head = if head.is_empty() {
            "# Benchmarks".to_owned()
        } else {
            head
        };
        std::fs::write(&out, format!("{head}\n\n{marker}\n{table}")).unwrap();
        eprintln!("written to {}", out.display());
    }
}
