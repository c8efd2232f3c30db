//! `TestApp`: the real application on a fresh database, served on a random port, with an HTTP
//! client. SQLite (a temporary file) by default; PostgreSQL when `TEST_DATABASE_URL` points at a
//! server, in which case every test gets its own freshly created database.
#![allow(dead_code)]

pub mod browser;
pub mod flaky;
pub mod meili;
pub mod process;

use std::net::SocketAddr;

use sea_orm::{ActiveValue::Set, ConnectionTrait, Database, DatabaseConnection, EntityTrait};
use tingshang::app::{self, AppState};
use tingshang::config::Config;

/// Sends `signal` to the process (`pid > 0`) or process group (`pid < 0`) a test started, by a
/// direct `kill(2)`. Never through procps-ng's `kill` program: it misreads `-KILL -4862` as group
/// 4, and a group id starting with 1 as -1 — every process on the machine, CI's runner included.
pub fn send_signal(pid: i64, signal: libc::c_int) {
    assert!(pid.abs() > 1, "refusing to signal {pid}");
    let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    // SAFETY: kill(2) takes plain integers; the guard above keeps 0, 1 and -1 (ourselves, init,
    // everyone) out of reach.
    unsafe { libc::kill(pid, signal) };
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: AppState,
    _indexer_stop: tokio::sync::watch::Sender<bool>,
    _dir: Option<tempfile::TempDir>,
    /// The attachments' store, apart for each app (never the working tree's `data/files`).
    pub files: tempfile::TempDir,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.state.db
    }

    /// GET `path`, returning the status and the body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// GET a page that must be 200 and return its body.
    pub async fn page(&self, path: &str) -> String {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path} answered {status}: {body}");
        body
    }
}

/// Which engine the suite runs against, for messages.
pub fn engine() -> &'static str {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        "postgres"
    } else {
        "sqlite"
    }
}

/// A fresh, empty database URL (and the temp dir that holds it, for SQLite).
pub async fn fresh_database() -> (String, Option<tempfile::TempDir>) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(admin_url) if admin_url.starts_with("postgres") => {
            let name = format!("tingshang_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let base = admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(b, _)| b)
                .to_owned();
            (format!("{base}/{name}"), None)
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            (url, Some(dir))
        }
    }
}

/// The app with the seed data loaded (as `serve` does on first start).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(true).await
}

pub async fn spawn_app_with(seed: bool) -> TestApp {
    spawn_app_with_search(seed, None, |backend| backend).await
}

/// A Meilisearch server and the index a test uses on it.
#[derive(Clone)]
pub struct MeiliIndex {
    pub url: String,
    pub key: Option<String>,
    pub index: String,
}

impl MeiliIndex {
    /// A fresh index of its own on the server.
    pub fn fresh(url: String, key: Option<String>) -> Self {
        Self {
            url,
            key,
            index: format!("tingshang_test_{}", uuid::Uuid::new_v4().simple()),
        }
    }
}

/// The app with a chosen Meilisearch index (or the in-memory embedded index when `meili` is None),
/// its backend optionally wrapped (e.g. in `FlakyBackend`), and the outbox worker running.
pub async fn spawn_app_with_search(
    seed: bool,
    meili: Option<MeiliIndex>,
    wrap: impl FnOnce(tingshang::search::Backend) -> tingshang::search::Backend,
) -> TestApp {
    let (database_url, dir) = fresh_database().await;
    spawn_app_on(database_url, dir, seed, meili, wrap).await
}

/// The app with its configuration adjusted (small limits, trusted proxies) and the embedded index.
pub async fn spawn_app_configured(seed: bool, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let (database_url, dir) = fresh_database().await;
    spawn_app_on_with(database_url, dir, seed, None, |backend| backend, adjust).await
}

/// The app on an existing database (e.g. one restored from a backup).
pub async fn spawn_app_on(
    database_url: String,
    dir: Option<tempfile::TempDir>,
    seed: bool,
    meili: Option<MeiliIndex>,
    wrap: impl FnOnce(tingshang::search::Backend) -> tingshang::search::Backend,
) -> TestApp {
    spawn_app_on_with(database_url, dir, seed, meili, wrap, |_| {}).await
}

/// [`spawn_app_on`] with its configuration adjusted (after the test's own defaults).
pub async fn spawn_app_on_with(
    database_url: String,
    dir: Option<tempfile::TempDir>,
    seed: bool,
    meili: Option<MeiliIndex>,
    wrap: impl FnOnce(tingshang::search::Backend) -> tingshang::search::Backend,
    adjust: impl FnOnce(&mut Config),
) -> TestApp {
    let files = tempfile::tempdir().expect("files dir");
    let mut config = Config {
        database_url,
        files_dir: files.path().to_owned(),
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        log_filter: "warn".into(),
        seed_on_empty: seed,
        search_dir: None,
        search_retry_max_secs: 1,
        meili_url: meili.as_ref().map(|m| m.url.clone()),
        meili_api_key: meili.as_ref().and_then(|m| m.key.clone()),
        meili_index: meili.map_or_else(|| "unused".to_owned(), |m| m.index),
        ..Config::default()
    };
    adjust(&mut config);
    let backend = tingshang::search::backend_from(&config)
        .await
        .expect("search backend");
    let state = app::prepare_with_backend(config, wrap(backend))
        .await
        .expect("app prepares");
    // The stop handle lives as long as the app: dropping it would stop the outbox worker at once
    // (tests would then see the index only where they drain it themselves).
    let (indexer_stop, _) = app::start_indexer(&state);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    // With the peer's address, as `app::serve` runs it: per-address code paths (login throttling,
    // rate limits, the loopback-only operational endpoints) see real addresses.
    let service = app::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        axum::serve(listener, service).await.expect("server runs");
    });
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        addr,
        client,
        state,
        _indexer_stop: indexer_stop,
        _dir: dir,
        files,
    }
}

/// A browser-like client signed in as one user (its own cookie jar).
pub struct UserClient {
    pub client: reqwest::Client,
    pub base: String,
    pub username: String,
}

/// The value of the first `<input name="{name}" value="…">` in `html`, unescaped.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(
        html[start..end]
            .replace("&#x2f;", "/")
            .replace("&amp;", "&"),
    )
}

/// Opens the login form with `request` (a GET of `/login`, with whatever headers the test needs)
/// and returns its CSRF token; the client's cookie jar keeps the matching cookie.
pub async fn login_csrf(request: reqwest::RequestBuilder) -> String {
    let form = request.send().await.unwrap().text().await.unwrap();
    input_value(&form, "csrf").expect("login form has a csrf field")
}

fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl TestApp {
    /// Creates an account directly (as `tingshang user add` does) and returns its password.
    /// Creates an account and returns a client signed in as it.
    pub async fn signed_in(
        &self,
        username: &str,
        role: &str,
        person: Option<&str>,
        agency: Option<&str>,
    ) -> UserClient {
        let password = self.create_user(username, role, person, agency).await;
        self.login(username, &password).await
    }

    pub async fn create_user(
        &self,
        username: &str,
        role: &str,
        person: Option<&str>,
        agency: Option<&str>,
    ) -> String {
        let person_id = match person {
            Some(name) => Some(self.person_id(name).await),
            None => None,
        };
        let agency_id = match agency {
            Some(short_name) => Some(self.agency_id(short_name).await),
            None => None,
        };
        let password = format!("pw-{username}-0123456789");
        tingshang::accounts::service::create_user(
            self.db(),
            tingshang::accounts::service::NewUser {
                username: username.into(),
                display_name: person.or(agency).unwrap_or(username).into(),
                role: tingshang::accounts::Role::parse(role).unwrap(),
                person_id,
                agency_id,
                password: password.clone(),
            },
        )
        .await
        .expect("create user");
        password
    }

    /// Logs in through the login form, like a browser.
    pub async fn login(&self, username: &str, password: &str) -> UserClient {
        let client = new_client();
        let csrf = login_csrf(client.get(self.url("/login"))).await;
        let response = client
            .post(self.url("/login"))
            .form(&[
                ("username", username),
                ("password", password),
                ("csrf", &csrf),
                ("next", "/me"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            303,
            "login as {username} failed: {}",
            response.text().await.unwrap()
        );
        UserClient {
            client,
            base: format!("http://{}", self.addr),
            username: username.into(),
        }
    }

    /// An anonymous client with its own cookie jar.
    pub fn anonymous(&self) -> UserClient {
        UserClient {
            client: new_client(),
            base: format!("http://{}", self.addr),
            username: "public".into(),
        }
    }
}

impl UserClient {
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// The CSRF token of this user's session (from the dashboard), or "" when anonymous.
    pub async fn csrf(&self) -> String {
        let (_, body) = self.get("/me").await;
        input_value(&body, "csrf").unwrap_or_default()
    }

    /// POSTs a form with this session's CSRF token added; returns status, body and Location.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String, Option<String>) {
        let csrf = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// POSTs exactly the given fields (no CSRF token added).
    pub async fn post_raw(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String, Option<String>) {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, response.text().await.unwrap(), location)
    }

    /// The proposal's current version, read from its working page.
    pub async fn version(&self, proposal_id: i32) -> String {
        let (status, body) = self.get(&format!("/work/proposals/{proposal_id}")).await;
        assert_eq!(
            status, 200,
            "{} cannot open proposal {proposal_id}",
            self.username
        );
        input_value(&body, "version").expect("working page has a version field")
    }

    /// Performs a workflow action from the working page; returns status and body.
    pub async fn act(
        &self,
        proposal_id: i32,
        action: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String) {
        let version = self.version(proposal_id).await;
        let mut all: Vec<(&str, &str)> = vec![("action", action), ("version", version.as_str())];
        all.extend_from_slice(fields);
        let (status, body, _) = self
            .post(&format!("/work/proposals/{proposal_id}/act"), &all)
            .await;
        (status, body)
    }
}

impl TestApp {
    /// Waits (bounded) until the search outbox is empty: every change is in the index.
    pub async fn wait_for_index(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            self.state.indexer.drain().await.expect("drain");
            let lag = self.state.indexer.lag().await.unwrap();
            if lag.pending == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "search outbox still has {} rows",
                lag.pending
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// GET a JSON endpoint.
    pub async fn json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }
}

impl UserClient {
    /// Saves a new draft through the member's form and returns its id.
    pub async fn new_draft(&self, fields: &[(&str, &str)]) -> i32 {
        let mut all = vec![("intent", "save")];
        all.extend_from_slice(fields);
        let (status, body, location) = self.post("/me/proposals/new", &all).await;
        assert_eq!(
            status,
            303,
            "draft not saved: {}",
            &body[..body.len().min(400)]
        );
        location
            .unwrap()
            .trim_start_matches("/work/proposals/")
            .split('?')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }
}

/// Reports a skipped check where CI shows it: libtest hides a passing test's `println!`, but not
/// what is written to the process's standard error handle directly.
pub fn skip(reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {reason}");
}

impl TestApp {
    /// The id of the person with this name.
    pub async fn person_id(&self, name: &str) -> i32 {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::people::Entity::find()
            .filter(entity::people::Column::Name.eq(name))
            .one(self.db())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no person {name}"))
            .id
    }

    /// The id of the agency with this short name (市科技局).
    pub async fn agency_id(&self, short_name: &str) -> i32 {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::agencies::Entity::find()
            .filter(entity::agencies::Column::ShortName.eq(short_name))
            .one(self.db())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no agency {short_name}"))
            .id
    }
}

/// Creates a token for `username` through the admin page and returns it.
pub async fn token_for(admin: &UserClient, username: &str) -> String {
    let (status, page, _) = admin
        .post(
            "/admin/tokens",
            &[("username", username), ("name", "测试令牌")],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let start = page
        .find("<code class=\"token\">")
        .expect("token shown once")
        + 20;
    page[start..start + page[start..].find('<').unwrap()].to_owned()
}

pub async fn post_json(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().post(app.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// The people of a workflow test: a member (邢占军), the secretariat, and staff of 市科技局 and
/// 市工信局, each signed in.
pub struct Cast {
    pub member: UserClient,
    pub secretariat: UserClient,
    pub kjj: UserClient,
    pub gxj: UserClient,
}

pub async fn cast(app: &TestApp) -> Cast {
    Cast {
        member: app.signed_in("xing", "member", Some("邢占军"), None).await,
        secretariat: app.signed_in("mishu", "secretariat", None, None).await,
        kjj: app
            .signed_in("kjj", "agency_staff", None, Some("市科技局"))
            .await,
        gxj: app
            .signed_in("gxj", "agency_staff", None, Some("市工信局"))
            .await,
    }
}

/// Asserts that a form post succeeded (303), showing the page's error message otherwise.
pub fn assert_ok(step: &str, (status, body): (u16, String)) {
    assert_eq!(
        status,
        303,
        "{step} failed: {}",
        body.split("role=\"alert\">")
            .nth(1)
            .unwrap_or(&body[..body.len().min(300)])
    );
}

/// True when every `<script>` on the page is the app's own external file (`/static/app.*.js`),
/// with no inline code: what the strict CSP allows.
pub fn only_own_external_scripts(page: &str) -> bool {
    // minijinja escapes `/` in attribute values as `&#x2f;`.
    let page = page.replace("&#x2f;", "/");
    page.split("<script").skip(1).all(|tag| {
        tag.starts_with(" src=\"/static/app.")
            && tag
                .find('>')
                .is_some_and(|end| tag[end + 1..].starts_with("</script>"))
    })
}

/// Inserts a published, accepted proposal straight into the database (with its outbox row).
pub async fn add_proposal(db: &DatabaseConnection, code: &str, title: &str, body: &str) -> i32 {
    let now = chrono::Utc::now().fixed_offset();
    let id = entity::proposals::Entity::insert(entity::proposals::ActiveModel {
        code: Set(code.into()),
        channel: Set("direct".into()),
        title: Set(title.into()),
        body_md: Set(body.into()),
        topics: Set("[\"测试\"]".into()),
        status: Set("accepted".into()),
        published: Set(true),
        supervised: Set(false),
        version: Set(0),
        submitted_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec(db)
    .await
    .unwrap()
    .last_insert_id;
    tingshang::search::outbox::enqueue(db, "proposal", id)
        .await
        .unwrap();
    id
}

/// Uploads `files` (name, bytes) to `/attachments/{kind}/{id}` as a browser does: the CSRF token
/// first, then the files. Returns status, body and Location.
pub async fn upload(
    client: &UserClient,
    kind: &str,
    id: i32,
    files: &[(&str, Vec<u8>)],
) -> (u16, String, Option<String>) {
    let csrf = client.csrf().await;
    let mut form = reqwest::multipart::Form::new().text("csrf", csrf);
    for (name, bytes) in files {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
        );
    }
    let response = client
        .client
        .post(format!("{}/attachments/{kind}/{id}", client.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, response.text().await.unwrap_or_default(), location)
}
