//! The real binary as a separate process: its CLI, and `serve` on a free port, so tests can kill
//! it, restart it, and break the file system under it.
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_tingshang");

pub struct Server {
    pub child: Child,
    pub base: String,
}

/// A server a failing test leaves behind is killed, never left holding the test's pipes.
impl Drop for Server {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGTERM, then waits up to 15 s for the exit (a clean shutdown flushes the outbox);
    /// `None` if it did not exit (it is killed when dropped).
    pub fn stop(mut self) -> Option<std::process::ExitStatus> {
        super::send_signal(i64::from(self.child.id()), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// Runs `tingshang ARGS` on the database and returns its standard output; panics on failure.
pub fn cli(url: &str, search_dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .env("TINGSHANG_DATABASE_URL", url)
        .env("TINGSHANG_SEARCH_DIR", search_dir)
        .env("TINGSHANG_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run the binary");
    assert!(
        out.status.success(),
        "tingshang {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `tingshang serve` on the database and waits until it answers `/healthz`.
pub async fn start(url: &str, search_dir: &Path) -> Server {
    start_with(url, search_dir, &[]).await
}

/// As [`start`], with extra environment variables.
pub async fn start_with(url: &str, search_dir: &Path, env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .env("TINGSHANG_DATABASE_URL", url)
        .env("TINGSHANG_SEARCH_DIR", search_dir)
        .env("TINGSHANG_LISTEN", format!("127.0.0.1:{port}"))
        .env("TINGSHANG_LOG", "warn")
        .stdin(Stdio::null())
        // The server's log, when a test run asks for it (TEST_SERVER_LOG=1).
        .stdout(if std::env::var_os("TEST_SERVER_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        });
    if std::env::var_os("MEILI_URL").is_some() {
        // On a shared Meilisearch server each database gets its own index, the same one across
        // restarts of its server.
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        url.hash(&mut hasher);
        command.env(
            "TINGSHANG_MEILI_INDEX",
            format!("tingshang_test_{:016x}", hasher.finish()),
        );
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command.spawn().expect("start the server");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/healthz")).await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Server { child, base }
}
