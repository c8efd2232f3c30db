//! A small WebDriver client for the browser tests: Debian's `chromedriver` driving the system
//! `chromium`, headless, over the W3C WebDriver protocol (plain HTTP + JSON, so reqwest suffices).
//! Nothing is downloaded: without both programs the tests say SKIPPED and return.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The driver process; every `Browser` is one session on it.
pub struct Driver {
    process: Child,
    url: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    /// Ends chromedriver and every browser it started (its own process group), even after a panic.
    fn drop(&mut self) {
        super::send_signal(-i64::from(self.process.id()), libc::SIGKILL);
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// How a browser session is set up.
pub struct Options {
    pub width: u32,
    pub height: u32,
    pub javascript: bool,
    /// Reported as a phone (touch, mobile user agent) when true.
    pub mobile: bool,
}

impl Options {
    pub fn desktop() -> Self {
        Options {
            width: 1280,
            height: 900,
            javascript: true,
            mobile: false,
        }
    }

    pub fn phone() -> Self {
        Options {
            width: 390,
            height: 844,
            javascript: true,
            mobile: true,
        }
    }

    pub fn without_javascript() -> Self {
        Options {
            javascript: false,
            ..Options::desktop()
        }
    }
}

impl Driver {
    /// Starts chromedriver, or returns None (after saying SKIPPED) when the browser is absent.
    pub async fn start(test: &str) -> Option<Driver> {
        for program in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(program).exists() {
                eprintln!(
                    "SKIPPED: {test}: {program} is not installed \
                     (apt-get install chromium chromium-driver; .ci/run does this)"
                );
                return None;
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        use std::os::unix::process::CommandExt;
        let process = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            process,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let started = Instant::now();
        loop {
            let ready = driver
                .http
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .ok()
                .and_then(|r| {
                    if r.status().is_success() {
                        Some(r)
                    } else {
                        None
                    }
                });
            if let Some(response) = ready {
                let status: Value = response.json().await.unwrap();
                if status["value"]["ready"] == true {
                    return Some(driver);
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Opens a new headless browser session.
    pub async fn browser(&self, options: Options) -> Browser {
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            // No network beyond the app under test: nothing phones home or updates itself.
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-default-apps".into(),
            "--disable-sync".into(),
            "--disable-extensions".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--metrics-recording-only".into(),
            "--lang=zh-CN".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={},{}", options.width, options.height),
        ];
        if options.mobile {
            args.push("--touch-events=enabled".into());
        }
        let mut chrome = json!({
            "binary": CHROMIUM,
            "args": args,
            "prefs": { "intl.accept_languages": "zh-CN,zh" },
        });
        if options.mobile {
            chrome["mobileEmulation"] = json!({
                "deviceMetrics": { "width": options.width, "height": options.height, "pixelRatio": 2.0, "touch": true },
                "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36",
            });
        }
        if !options.javascript {
            chrome["prefs"]["profile.managed_default_content_settings.javascript"] = json!(2);
        }
        let body = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": chrome,
                "goog:loggingPrefs": { "browser": "ALL" },
                "timeouts": { "implicit": 0, "pageLoad": 30000, "script": 30000 },
            }}
        });
        let response: Value = self
            .http
            .post(format!("{}/session", self.url))
            .json(&body)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .unwrap();
        let session = response["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {response}"))
            .to_owned();
        Browser {
            http: self.http.clone(),
            base: format!("{}/session/{session}", self.url),
            shots: screenshot_dir(),
            javascript: options.javascript,
        }
    }
}

/// Where screenshots go: `target/tmp/e2e` (printed by the tests, kept after the run).
pub fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One browser session (a window with its own cookies).
pub struct Browser {
    http: reqwest::Client,
    base: String,
    shots: PathBuf,
    /// False when the page may run no script (WebDriver's own scripts cannot run either).
    pub javascript: bool,
}

impl Browser {
    /// The whole WebDriver answer, errors included.
    async fn answer(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request
            .send()
            .await
            .expect("webdriver request")
            .json()
            .await
            .expect("webdriver answers JSON")
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let response = self.answer(method, path, body).await;
        if let Some(error) = response["value"]["error"].as_str() {
            panic!(
                "webdriver {path}: {error}: {}",
                response["value"]["message"]
            );
        }
        response["value"].clone()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn current_url(&self) -> String {
        self.get("/url").await.as_str().unwrap().to_owned()
    }

    pub async fn title(&self) -> String {
        self.get("/title").await.as_str().unwrap().to_owned()
    }

    /// The element matching a CSS selector; panics (with the page's URL) when there is none.
    pub async fn find(&self, css: &str) -> String {
        self.find_by("css selector", css).await
    }

    async fn find_by(&self, using: &str, selector: &str) -> String {
        let found = self
            .http
            .post(format!("{}/element", self.base))
            .json(&json!({ "using": using, "value": selector }))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        match found["value"][ELEMENT_KEY].as_str() {
            Some(id) => id.to_owned(),
            None => {
                let source = self.source().await;
                let text: String = source.chars().take(1500).collect();
                let forms: Vec<&str> = source
                    .split("<form")
                    .skip(1)
                    .map(|f| f.split('>').next().unwrap_or_default())
                    .collect();
                eprintln!("forms on the page: {forms:#?}");
                panic!(
                    "no element {selector} on {}: {}\n{text}",
                    self.current_url().await,
                    found["value"]
                )
            }
        }
    }

    pub async fn count(&self, css: &str) -> usize {
        self.post(
            "/elements",
            json!({ "using": "css selector", "value": css }),
        )
        .await
        .as_array()
        .map_or(0, Vec::len)
    }

    pub async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    /// Clicks a submit button or link and waits until the next page has loaded (a click returns
    /// as soon as the browser has the event, not when the navigation it starts is done).
    pub async fn click_and_wait(&self, css: &str) {
        let id = self.find(css).await;
        self.click_element_and_wait(&id).await;
    }

    pub async fn click_xpath_and_wait(&self, xpath: &str) {
        let id = self.find_by("xpath", xpath).await;
        self.click_element_and_wait(&id).await;
    }

    async fn click_element_and_wait(&self, id: &str) {
        if !self.javascript {
            // Without scripts the page cannot be asked whether it is the next one; chromedriver
            // may answer the click before the navigation it starts has replaced the document, so
            // wait until the old document's root element is gone.
            let root = self.find("html").await;
            self.post(&format!("/element/{id}/click"), json!({})).await;
            self.wait_until_stale(&root).await;
            return;
        }
        self.execute("window.__leaving = true;", json!([])).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
        self.wait_until(
            "the next page",
            "return window.__leaving === undefined && document.readyState === 'complete';",
        )
        .await;
    }

    /// Waits (up to 10 s) until the element no longer belongs to the current document.
    async fn wait_until_stale(&self, element: &str) {
        let started = std::time::Instant::now();
        loop {
            let path = format!("/element/{element}/name");
            let answer = self.answer(reqwest::Method::GET, &path, None).await;
            if answer["value"]["error"].as_str() == Some("stale element reference") {
                return;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "the click did not lead to another page: {}",
                answer["value"]
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    /// Clicks the element an XPath names (for "the checkbox labelled 市工信局").
    pub async fn click_xpath(&self, xpath: &str) {
        let id = self.find_by("xpath", xpath).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    /// Clears a field and types into it, key by key as a user would.
    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.post(&format!("/element/{id}/clear"), json!({})).await;
        self.post(&format!("/element/{id}/value"), json!({ "text": text }))
            .await;
    }

    /// Chooses the `<option>` whose visible text is `label` in a `<select>`.
    pub async fn choose(&self, select_css: &str, label: &str) {
        let id = self.find(select_css).await;
        let options = self
            .post(
                &format!("/element/{id}/elements"),
                json!({ "using": "css selector", "value": "option" }),
            )
            .await;
        for option in options.as_array().unwrap() {
            let option_id = option[ELEMENT_KEY].as_str().unwrap();
            let text = self.get(&format!("/element/{option_id}/text")).await;
            if text.as_str().unwrap().trim() == label {
                self.post(&format!("/element/{option_id}/click"), json!({}))
                    .await;
                return;
            }
        }
        panic!("{select_css} has no option {label}");
    }

    pub async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.get(&format!("/element/{id}/text"))
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A form field's current value (what the user sees in it).
    pub async fn value(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.get(&format!("/element/{id}/property/value"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn source(&self) -> String {
        self.get("/source").await.as_str().unwrap().to_owned()
    }

    /// Runs a script in the page (WebDriver evaluates it outside the page's CSP).
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// Runs a script that reports through its last argument (a callback).
    pub async fn execute_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({ "script": script, "args": args }))
            .await
    }

    /// Waits (bounded) until a script returns true.
    pub async fn wait_until(&self, what: &str, script: &str) {
        let started = Instant::now();
        while self.execute(script, json!([])).await != Value::Bool(true) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "timed out waiting for {what} on {}",
                self.current_url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (bounded) until the page's HTML contains `text`; works without page scripts.
    pub async fn wait_for_text(&self, text: &str) {
        let started = Instant::now();
        while !self.source().await.contains(text) {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "timed out waiting for {text:?} on {}",
                self.current_url().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A Chrome DevTools command through chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.post("/goog/cdp/execute", json!({ "cmd": cmd, "params": params }))
            .await
    }

    /// Lays the page out at `width` × `height` CSS pixels (the work pages are checked at three
    /// widths in one session).
    pub async fn resize(&self, width: u32, height: u32) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 500 }),
        )
        .await;
    }

    /// Prints the page as Chromium prints it on A4 (the print stylesheet applies) and saves it as
    /// `<dir>/<name>.pdf`; returns the path and the bytes.
    pub async fn print_pdf(&self, name: &str) -> (PathBuf, Vec<u8>) {
        use base64::Engine;
        let printed = self
            .cdp(
                "Page.printToPDF",
                json!({ "paperWidth": 8.27, "paperHeight": 11.69, "preferCSSPageSize": true }),
            )
            .await;
        let pdf = base64::engine::general_purpose::STANDARD
            .decode(printed["data"].as_str().expect("a PDF"))
            .unwrap();
        let path = self.shots.join(format!("{name}.pdf"));
        std::fs::write(&path, &pdf).unwrap();
        (path, pdf)
    }

    /// Presses keys as a keyboard does (WebDriver key actions: "\u{E004}" is Tab, "\u{E007}"
    /// Enter, " " Space), on whatever has the focus.
    pub async fn press(&self, keys: &str) {
        let mut actions = Vec::new();
        for key in keys.chars() {
            actions.push(json!({ "type": "keyDown", "value": key.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": key.to_string() }));
        }
        self.post(
            "/actions",
            json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] }),
        )
        .await;
        self.call(reqwest::Method::DELETE, "/actions", None).await;
    }

    /// Presses Tab until the focused element matches `css` (at most `limit` times) and returns
    /// how many presses it took. Every element the focus passes must be on screen with a visible
    /// focus indicator (an outline or a box shadow), or the walk fails naming it.
    pub async fn tab_to(&self, css: &str, limit: usize) -> usize {
        for presses in 1..=limit {
            self.press("\u{E004}").await;
            let focus = self
                .execute(
                    "const el = document.activeElement;
                     if (!el || el === document.body) return { none: true };
                     el.scrollIntoView({ block: 'nearest' });
                     const r = el.getBoundingClientRect();
                     const s = getComputedStyle(el);
                     return { matches: el.matches(arguments[0]),
                              what: el.outerHTML.slice(0, 120),
                              visible: r.width > 0 && r.height > 0,
                              indicated: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                                         || s.boxShadow !== 'none' };",
                    json!([css]),
                )
                .await;
            if focus["none"] == true {
                continue;
            }
            assert!(
                focus["visible"] == true && focus["indicated"] == true,
                "the keyboard focus is not visible on {}",
                focus["what"]
            );
            if focus["matches"] == true {
                return presses;
            }
        }
        panic!("{css} was not reached in {limit} presses of Tab");
    }

    /// Saves a PNG of the whole page (not only the window) as `<dir>/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine;
        let metrics = self.cdp("Page.getLayoutMetrics", json!({})).await;
        let size = &metrics["cssContentSize"];
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1 },
                }),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// The browser console's entries since the last call (Chromium's log endpoint).
    pub async fn console(&self) -> Vec<(String, String)> {
        self.post("/se/log", json!({ "type": "browser" }))
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|e| {
                (
                    e["level"].as_str().unwrap_or_default().to_owned(),
                    e["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    pub async fn delete_cookies(&self) {
        self.call(reqwest::Method::DELETE, "/cookie", None).await;
    }

    pub async fn quit(self) {
        self.call(reqwest::Method::DELETE, "", None).await;
    }
}
