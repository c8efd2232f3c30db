//! Meilisearch for tests: the real server (`../shared/tools/meilisearch/meilisearch`, or
//! `MEILI_BIN`), never part of the repository. A test that needs its own server (to stop it) starts
//! one here; tests that only search use the one CI starts (`MEILI_URL`).
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the server binary is, if this checkout has it.
pub fn binary() -> Option<PathBuf> {
    let path = std::env::var_os("MEILI_BIN").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../shared/tools/meilisearch/meilisearch")
        },
        PathBuf::from,
    );
    path.is_file().then_some(path)
}

/// The server for `test`, or `None` after saying why it was skipped. Under `CI` with the binary
/// present a missing server is a failure, never a skip.
pub fn binary_for(test: &str) -> Option<PathBuf> {
    match binary() {
        Some(path) => Some(path),
        None => {
            super::skip(&format!(
                "{test}: no Meilisearch server binary (../shared/tools/meilisearch/meilisearch or MEILI_BIN); \
                 a clone without ../shared cannot run the Meilisearch tests"
            ));
            None
        }
    }
}

/// A server to search against: the one `MEILI_URL` names (CI starts one for the PostgreSQL
/// pass), else one of the test's own when the binary is here, else `None` after saying why.
pub struct Server {
    pub url: String,
    pub key: Option<String>,
    _own: Option<Meili>,
}

pub async fn server_for(test: &str) -> Option<Server> {
    if let Ok(url) = std::env::var("MEILI_URL") {
        if !url.trim().is_empty() {
            return Some(Server {
                url,
                key: std::env::var("MEILI_API_KEY").ok(),
                _own: None,
            });
        }
    }
    let own = Meili::start(binary_for(test)?).await;
    Some(Server {
        url: own.url.clone(),
        key: Some(own.key.clone()),
        _own: Some(own),
    })
}

impl Server {
    /// A fresh index of the test's own on this server.
    pub fn fresh_index(&self) -> super::MeiliIndex {
        super::MeiliIndex::fresh(self.url.clone(), self.key.clone())
    }
}

/// A Meilisearch server of the test's own, on a free port with a random master key and a
/// throw-away database; killed when dropped.
pub struct Meili {
    binary: PathBuf,
    pub url: String,
    pub key: String,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Meili {
    pub async fn start(binary: PathBuf) -> Self {
        let port = super::process::free_port();
        let key = uuid::Uuid::new_v4().simple().to_string();
        let mut meili = Self {
            binary,
            url: format!("http://127.0.0.1:{port}"),
            key,
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        meili.run().await;
        meili
    }

    async fn run(&mut self) {
        let child = Command::new(&self.binary)
            .arg("--db-path")
            .arg(self.dir.path().join("meili"))
            .args(["--http-addr", &format!("127.0.0.1:{}", self.port)])
            .args(["--master-key", &self.key])
            .args(["--no-analytics", "--env", "development"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Meilisearch");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/health", self.url)).await {
                if r.status() == 200 {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "Meilisearch did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the server outright (SIGKILL): requests to it are refused until [`Meili::restart`].
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same database and port.
    pub async fn restart(&mut self) {
        self.kill();
        self.run().await;
    }
}

impl Drop for Meili {
    fn drop(&mut self) {
        self.kill();
    }
}
