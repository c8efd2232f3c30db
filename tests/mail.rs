//! Email against a real SMTP server: aiosmtpd (`tests/mail/smtp_server.py`, Python with aiosmtpd
//! from PyPI or Debian) started on a loopback port, writing every message it accepts to a
//! directory that the tests read back with `mail-parser`. `.ci/run` provides the Python
//! (`TINGSHANG_TEST_SMTP_PYTHON`); without it these tests say they were skipped (and fail under CI).
mod common;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{assert_ok, cast, skip, spawn_app_configured, TestApp, UserClient};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use tingshang::mail::sender::Sender;

/// The address the mails' links use; the tests send those requests to the app itself.
const SITE: &str = "http://tingshang.test";

struct Smtp {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    python: String,
}

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
struct Received {
    to: String,
    subject: String,
    raw_subject: String,
    message_id: String,
    text: String,
    html: String,
    headers: BTreeMap<String, String>,
}

fn python_with_aiosmtpd() -> Option<String> {
    let candidates = std::env::var("TINGSHANG_TEST_SMTP_PYTHON")
        .ok()
        .into_iter()
        .chain(["python3".to_owned()]);
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(python);
        }
    }
    None
}

impl Smtp {
    /// A server of our own, or `None` (skipped) where no Python has aiosmtpd.
    fn start() -> Option<Self> {
        let Some(python) = python_with_aiosmtpd() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "aiosmtpd is missing: .ci/run installs it (TINGSHANG_TEST_SMTP_PYTHON)"
            );
            skip("no Python with aiosmtpd (pip install aiosmtpd): mail tests not run");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            child: Self::spawn(&python, port, dir.path()),
            port,
            dir,
            python,
        };
        server.wait_until_listening();
        Some(server)
    }

    fn spawn(python: &str, port: u16, dir: &std::path::Path) -> Child {
        Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/mail/smtp_server.py"
            ))
            .args(["127.0.0.1", &port.to_string()])
            .arg(dir)
            .stdout(Stdio::null())
            .spawn()
            .expect("start the SMTP server")
    }

    fn wait_until_listening(&mut self) {
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the SMTP server did not start");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.child = Self::spawn(&self.python, self.port, self.dir.path());
        self.wait_until_listening();
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Everything received so far, in the order it arrived.
    fn received(&self) -> Vec<Received> {
        let mut paths: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|path| {
                let raw = std::fs::read(path).unwrap();
                let message = mail_parser::MessageParser::default()
                    .parse(&raw)
                    .expect("a parsable message");
                let headers = message
                    .headers()
                    .iter()
                    .map(|h| {
                        let name = h.name().to_owned();
                        let value = message
                            .header_raw(name.as_str())
                            .unwrap_or("")
                            .trim()
                            .to_owned();
                        (name, value)
                    })
                    .collect::<BTreeMap<_, _>>();
                Received {
                    to: headers["X-Envelope-To"].clone(),
                    subject: message.subject().unwrap_or("").to_owned(),
                    raw_subject: headers.get("Subject").cloned().unwrap_or_default(),
                    message_id: message.message_id().unwrap_or("").to_owned(),
                    text: message
                        .body_text(0)
                        .map(|b| b.into_owned())
                        .unwrap_or_default(),
                    html: message
                        .body_html(0)
                        .map(|b| b.into_owned())
                        .unwrap_or_default(),
                    headers,
                }
            })
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn app_with(smtp: &Smtp) -> TestApp {
    let url = smtp.url();
    spawn_app_configured(true, move |config| {
        config.smtp_url = Some(url);
        config.mail_from = "听商 <noreply@tingshang.test>".to_owned();
        config.public_url = SITE.to_owned();
    })
    .await
}

fn sender(app: &TestApp, smtp: &Smtp) -> Sender {
    Sender::new(
        app.db().clone(),
        &smtp.url(),
        "听商 <noreply@tingshang.test>",
    )
    .unwrap()
}

/// The first link into the site in a message's text part.
fn link(text: &str, path: &str) -> String {
    let start = text
        .find(&format!("{SITE}{path}"))
        .unwrap_or_else(|| panic!("no {path} link in:\n{text}"));
    text[start..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .trim_start_matches(SITE)
        .to_owned()
}

/// Opens a confirmation link as its recipient would: the page (which changes nothing: mail
/// scanners open links too), then its button.
async fn follow_link(app: &TestApp, path: &str) -> (u16, String) {
    let visitor = app.anonymous();
    let (status, page) = visitor.get(path).await;
    assert_eq!(status, 200, "{page}");
    let action = format!("action=\"{}\"", path.replace('/', "&#x2f;"));
    assert!(page.contains(&action), "the page posts to the link: {page}");
    let (status, page, _) = visitor.post_raw(path, &[]).await;
    (status, page)
}

/// A message's one-click unsubscribe path (its `List-Unsubscribe`, relative to the site).
fn unsubscribe_path(message: &Received) -> String {
    message.headers["List-Unsubscribe"]
        .trim_matches(|c| c == '<' || c == '>')
        .trim_start_matches(SITE)
        .to_owned()
}

/// What a mail program sends for RFC 8058: a POST with this body, no cookies, no CSRF token.
async fn one_click(app: &TestApp, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn set_email(app: &TestApp, username: &str, address: &str) {
    tingshang::accounts::service::set_email(
        app.db(),
        &app.state.config,
        None,
        username,
        Some(address),
    )
    .await
    .expect("set email");
}

/// Sets every address, sends the confirmations and follows each link, as their owners would.
async fn confirm_all(app: &TestApp, smtp: &Smtp, sender: &Sender, who: &[(&str, &str)]) {
    let before = smtp.received().len();
    for (username, address) in who {
        set_email(app, username, address).await;
    }
    sender.send_due().await.unwrap();
    let confirmations = &smtp.received()[before..];
    assert_eq!(confirmations.len(), who.len(), "one confirmation each");
    for message in confirmations {
        assert!(message.subject.contains("请确认您的邮箱地址"));
        let path = link(&message.text, "/mail/confirm/");
        let (status, page) = follow_link(app, &path).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("邮箱已确认"));
    }
}

async fn agency(app: &TestApp, short: &str) -> String {
    app.agency_id(short).await.to_string()
}

fn by_recipient(messages: &[Received]) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in messages {
        map.entry(m.to.clone())
            .or_default()
            .push(m.subject.trim_start_matches("【听商】").to_owned());
    }
    map
}

/// One workflow step: who, which action, with which fields.
type Step<'a> = (&'a UserClient, &'static str, Vec<(&'static str, String)>);

#[tokio::test]
async fn each_participant_gets_each_step_once_from_assignment_to_closure() {
    let Some(smtp) = Smtp::start() else { return };
    let app = app_with(&smtp).await;
    let sender = sender(&app, &smtp);
    let people = cast(&app).await;

    // An address gets nothing but its confirmation until the link is followed.
    set_email(&app, "xing", "xing@members.example.cn").await;
    let id = people
        .member
        .new_draft(&[("title", "建设概念验证中心"), ("body_md", "建议……")])
        .await;
    assert_ok("submit", people.member.act(id, "submit", &[]).await);
    set_email(&app, "mishu", "mishu@secretariat.example.cn").await;
    assert_ok("withdraw", people.member.act(id, "withdraw", &[]).await);
    sender.send_due().await.unwrap();
    let early = smtp.received();
    assert_eq!(early.len(), 2, "{early:#?}");
    assert!(early.iter().all(|m| m.subject.contains("请确认")));
    for m in &early {
        let path = link(&m.text, "/mail/confirm/");
        assert_eq!(follow_link(&app, &path).await.0, 200);
    }
    let before = smtp.received().len();
    confirm_all(
        &app,
        &smtp,
        &sender,
        &[
            ("kjj", "kjj@agencies.example.cn"),
            ("gxj", "gxj@agencies.example.cn"),
        ],
    )
    .await;
    let journey_start = smtp.received().len();
    assert_eq!(journey_start, before + 2);

    let id = people
        .member
        .new_draft(&[("title", "支持高校建设概念验证中心"), ("body_md", "建议……")])
        .await;
    let steps: Vec<Step> = vec![
        (&people.member, "submit", vec![]),
        (&people.secretariat, "accept", vec![]),
        (
            &people.secretariat,
            "assign",
            vec![
                ("lead", agency(&app, "市科技局").await),
                ("co", agency(&app, "市工信局").await),
                (
                    "due_on",
                    (chrono::Utc::now().date_naive() + chrono::Duration::days(90)).to_string(),
                ),
            ],
        ),
        (
            &people.gxj,
            "co_opinion",
            vec![("body_md", "市工信局支持并将配合推进。".to_owned())],
        ),
        (
            &people.kjj,
            "reply",
            vec![
                ("grade", "A".to_owned()),
                ("doc_number", "青科函〔2026〕9号".to_owned()),
                ("body_md", "我局将于明年建成概念验证中心。".to_owned()),
            ],
        ),
        (
            &people.member,
            "rate",
            vec![
                ("rating", "satisfied".to_owned()),
                ("comment", String::new()),
            ],
        ),
    ];
    for (who, action, fields) in &steps {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_ok(action, who.act(id, action, &fields).await);
        sender.send_due().await.unwrap();
    }
    let journey = smtp.received()[journey_start..].to_vec();
    let received = by_recipient(&journey);
    for (who, subjects) in &received {
        println!("{who}: {} — {subjects:?}", subjects.len());
    }
    let title = "支持高校建设概念验证中心";
    let due = (chrono::Utc::now().date_naive() + chrono::Duration::days(90)).to_string();
    let expected: BTreeMap<String, Vec<String>> = [
        (
            "gxj@agencies.example.cn",
            vec![
                format!("收到交办,答复期限{due}:{title}"),
                format!("委员评价为“满意”:{title}"),
            ],
        ),
        (
            "kjj@agencies.example.cn",
            vec![
                format!("收到交办,答复期限{due}:{title}"),
                format!("协办单位提交了协办意见:{title}"),
                format!("委员评价为“满意”:{title}"),
            ],
        ),
        (
            "mishu@secretariat.example.cn",
            vec![
                format!("新建议待审查:{title}"),
                format!("书面答复已提交:{title}"),
                format!("委员评价为“满意”:{title}"),
            ],
        ),
        (
            "xing@members.example.cn",
            vec![
                format!("您的建议已立案:{title}"),
                format!("您的建议已交办(主办:市科技局;协办:市工信局;答复期限 {due}):{title}"),
                format!("承办单位作出了书面答复,请评价:{title}"),
            ],
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(
        received, expected,
        "the exact messages each participant received"
    );

    // What every message carries.
    let rows = entity::mail_outbox::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    for message in &journey {
        assert!(
            rows.iter()
                .any(|r| r.message_id == format!("<{}>", message.message_id)),
            "Message-ID from the outbox: {}",
            message.message_id
        );
        assert_eq!(message.headers["Auto-Submitted"], "auto-generated");
        assert_eq!(
            message.headers["List-Unsubscribe-Post"],
            "List-Unsubscribe=One-Click"
        );
        assert!(
            message.headers["List-Unsubscribe"].starts_with(&format!("<{SITE}/mail/unsubscribe/"))
        );
        assert!(
            message.raw_subject.contains("=?utf-8?"),
            "RFC 2047: {}",
            message.raw_subject
        );
        assert!(message.headers["From"].contains("noreply@tingshang.test"));
        assert!(
            message
                .text
                .contains(&format!("{SITE}/work/proposals/{id}")),
            "{}",
            message.text
        );
        // minijinja escapes `/` in HTML as `&#x2f;`, which mail programs read as `/`.
        let html = message.html.replace("&#x2f;", "/");
        assert!(
            html.contains(&format!("href=\"{SITE}/work/proposals/{id}\"")),
            "{html}"
        );
        assert!(message.html.contains("<html lang=\"zh-CN\">"));
    }
    // Sending again sends nothing again.
    assert_eq!(sender.send_due().await.unwrap(), 0);
    assert_eq!(smtp.received().len(), journey_start + journey.len());
}

#[tokio::test]
async fn one_click_unsubscribe_works_without_signing_in_and_stops_that_kind_only() {
    let Some(smtp) = Smtp::start() else { return };
    let app = app_with(&smtp).await;
    let sender = sender(&app, &smtp);
    let people = cast(&app).await;
    confirm_all(
        &app,
        &smtp,
        &sender,
        &[("mishu", "mishu@secretariat.example.cn")],
    )
    .await;
    let first = people
        .member
        .new_draft(&[("title", "第一条"), ("body_md", "正文")])
        .await;
    assert_ok("submit", people.member.act(first, "submit", &[]).await);
    sender.send_due().await.unwrap();
    let message = smtp.received().last().cloned().unwrap();
    assert!(
        message.subject.contains("新建议待审查"),
        "{}",
        message.subject
    );
    let unsubscribe = unsubscribe_path(&message);
    let (status, page) = one_click(&app, &unsubscribe).await;
    assert_eq!(status, 200);
    assert!(page.contains("已退订"));
    // A forged token does nothing.
    // The last character changed (to another one: replacing a final '0' by '0' forged nothing,
    // and the test failed one time in sixteen).
    let last = if unsubscribe.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &unsubscribe[..unsubscribe.len() - 1]);
    let (status, _, _) = app.anonymous().post(&forged, &[]).await;
    assert_eq!(status, 400);

    let count = smtp.received().len();
    let second = people
        .member
        .new_draft(&[("title", "第二条"), ("body_md", "正文")])
        .await;
    assert_ok("submit", people.member.act(second, "submit", &[]).await);
    assert_ok("withdraw", people.member.act(second, "withdraw", &[]).await);
    sender.send_due().await.unwrap();
    let after = smtp.received()[count..].to_vec();
    assert_eq!(after.len(), 1, "only the withdrawal: {after:#?}");
    assert!(after[0].subject.contains("撤回"));
    // The settings page shows the choice; it is still in the inbox.
    let (_, settings) = people.secretariat.get("/me/mail").await;
    assert!(settings.contains(
        "name=\"mode-submitted\" value=\"off\" aria-label=\"委员提交建议:不发送\" checked"
    ));
    let (_, inbox) = people.secretariat.get("/me").await;
    assert!(inbox.contains("第二条"));
    // A link sent to an address the account no longer has does nothing.
    set_email(&app, "mishu", "mishu.new@secretariat.example.cn").await;
    let (status, page, _) = app.anonymous().post_raw(&unsubscribe, &[]).await;
    assert_eq!(status, 400, "{page}");
}

#[tokio::test]
async fn refusals_and_outages_are_kept_retried_and_shown() {
    let Some(mut smtp) = Smtp::start() else {
        return;
    };
    let app = app_with(&smtp).await;
    let sender = sender(&app, &smtp);
    let admin = app.signed_in("root", "admin", None, None).await;
    let people = cast(&app).await;
    // Addresses set and confirmed directly: the server refuses one for good, delays the other.
    for (username, address) in [
        ("mishu", "reject-mishu@secretariat.example.cn"),
        ("root", "busy-root@secretariat.example.cn"),
    ] {
        let user = entity::users::Entity::find()
            .filter(entity::users::Column::Username.eq(username))
            .one(app.db())
            .await
            .unwrap()
            .unwrap();
        let mut user: entity::users::ActiveModel = user.into();
        user.email = Set(Some(address.to_owned()));
        user.email_confirmed_at = Set(Some(chrono::Utc::now().fixed_offset()));
        user.update(app.db()).await.unwrap();
    }
    let id = people
        .member
        .new_draft(&[("title", "会被拒收"), ("body_md", "正文")])
        .await;
    assert_ok("submit", people.member.act(id, "submit", &[]).await);
    sender.send_due().await.unwrap();
    let rows = entity::mail_outbox::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    let refused = rows
        .iter()
        .find(|r| r.recipient.starts_with("reject"))
        .unwrap();
    assert!(refused.failed_at.is_some() && refused.sent_at.is_none());
    assert!(
        refused.last_reply.as_deref().unwrap().contains("550"),
        "{refused:?}"
    );
    let delayed = rows
        .iter()
        .find(|r| r.recipient.starts_with("busy"))
        .unwrap();
    assert!(delayed.failed_at.is_none() && delayed.sent_at.is_none());
    assert_eq!(delayed.attempts, 1);
    assert!(delayed.next_attempt_at > chrono::Utc::now().fixed_offset());
    assert!(delayed.last_reply.as_deref().unwrap().contains("451"));
    assert!(smtp.received().is_empty());

    let (status, page) = admin.get("/admin/mail").await;
    assert_eq!(status, 200);
    assert!(page.contains("reject-mishu@secretariat.example.cn") && page.contains("550"));
    let (status, _) = people.member.get("/admin/mail").await;
    assert_eq!(status, 403, "the outbox names addresses: staff only");
    let (_, metrics) = app.get("/metrics").await;
    assert!(metrics.contains("tingshang_mail_failed 1"), "{metrics}");
    assert!(metrics.contains("tingshang_mail_retrying 1"));

    // The server stops: a message waits, nothing is lost; after it is back, the message goes
    // out once, with the Message-ID it was written with.
    smtp.stop();
    set_email(&app, "xing", "xing@members.example.cn").await;
    assert_eq!(sender.send_due().await.unwrap(), 0);
    let waiting = entity::mail_outbox::Entity::find()
        .filter(entity::mail_outbox::Column::Kind.eq("confirm_account"))
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(waiting.attempts, 1);
    assert!(waiting.sent_at.is_none() && waiting.failed_at.is_none());
    smtp.restart();
    entity::mail_outbox::Entity::update_many()
        .col_expr(
            entity::mail_outbox::Column::NextAttemptAt,
            sea_orm::sea_query::Expr::value(chrono::Utc::now().fixed_offset()),
        )
        .filter(entity::mail_outbox::Column::Id.eq(waiting.id))
        .exec(app.db())
        .await
        .unwrap();
    assert_eq!(sender.send_due().await.unwrap(), 1);
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(format!("<{}>", received[0].message_id), waiting.message_id);
}

#[tokio::test]
async fn reminders_are_written_once_and_digests_collect_what_waited() {
    let Some(smtp) = Smtp::start() else { return };
    let app = app_with(&smtp).await;
    let sender = sender(&app, &smtp);
    let people = cast(&app).await;
    confirm_all(&app, &smtp, &sender, &[("kjj", "kjj@agencies.example.cn")]).await;
    // kjj wants assignments in the daily digest (and tries to switch deadline reminders off,
    // which the lead agency cannot).
    let (status, page, _) = people
        .kjj
        .post(
            "/me/mail",
            &[
                ("email", "kjj@agencies.example.cn"),
                ("mode-assigned", "digest"),
                ("mode-due_soon", "off"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("已保存"));
    let id = people
        .member
        .new_draft(&[("title", "期限提醒"), ("body_md", "正文")])
        .await;
    assert_ok("submit", people.member.act(id, "submit", &[]).await);
    assert_ok("accept", people.secretariat.act(id, "accept", &[]).await);
    let today = tingshang::time::today();
    let due = (today + chrono::Duration::days(30)).to_string();
    assert_ok(
        "assign",
        people
            .secretariat
            .act(
                id,
                "assign",
                &[("lead", &agency(&app, "市科技局").await), ("due_on", &due)],
            )
            .await,
    );
    let before = smtp.received().len();
    assert_eq!(
        sender.send_due().await.unwrap(),
        0,
        "the assignment waits for the digest"
    );

    // Five days before the due date: one reminder, then none however often the job runs. The
    // lead agency's reminder comes at once (it cannot be switched off); the assignment comes in
    // the digest.
    let config = app.state.config.clone();
    let day = today + chrono::Duration::days(25);
    let done = tingshang::notifications::reminders::write_due(app.db(), &config, day)
        .await
        .unwrap();
    assert_eq!(done, 1);
    // Two instances sending digests at the same hour: one digest.
    let (a, b) = tokio::join!(
        tingshang::notifications::delivery::send_digests(app.db(), &config),
        tingshang::notifications::delivery::send_digests(app.db(), &config),
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    let done = tingshang::notifications::daily(app.db(), &config, &app.state.search, day)
        .await
        .unwrap();
    assert_eq!((done.reminders, done.digests), (0, 0));
    sender.send_due().await.unwrap();
    let messages = smtp.received()[before..].to_vec();
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(messages[0]
        .subject
        .contains(&format!("《期限提醒》的答复期限为 {due},还有 5 天。")));
    assert!(
        !messages[0].headers.contains_key("List-Unsubscribe"),
        "a reminder that cannot be switched off offers no unsubscribe"
    );
    println!("digest:\n{}", messages[1].text);
    assert!(messages[1].subject.contains("今日汇总:1 条提醒"));
    assert!(messages[1]
        .text
        .contains(&format!("【交办】收到交办,答复期限{due}:期限提醒")));

    // Overdue: one reminder a day, each in that day's digest (and on a Monday the
    // secretariat's weekly summary besides).
    let monday = |day: chrono::NaiveDate| {
        usize::from(chrono::Datelike::weekday(&day) == chrono::Weekday::Mon)
    };
    for late in [31, 32] {
        let day = today + chrono::Duration::days(late);
        let done = tingshang::notifications::daily(app.db(), &config, &app.state.search, day)
            .await
            .unwrap();
        assert_eq!(
            (done.reminders, done.digests),
            (1 + monday(day), 1),
            "day {late}"
        );
    }
    sender.send_due().await.unwrap();
    let overdue: Vec<_> = smtp.received()[before + 2..].to_vec();
    assert_eq!(overdue.len(), 2);
    assert!(overdue[0].text.contains("已逾期 1 天") && overdue[1].text.contains("已逾期 2 天"));
    let weekly_so_far = (31..=32)
        .map(|late| monday(today + chrono::Duration::days(late)))
        .sum::<usize>();
    let rows = entity::deadline_reminders::Entity::find()
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(rows.len(), 3 + weekly_so_far, "{rows:?}");

    // The secretariat's weekly summary, on the next Monday: once.
    let mut day = today + chrono::Duration::days(33);
    while monday(day) == 0 {
        day += chrono::Duration::days(1);
    }
    let done = tingshang::notifications::daily(app.db(), &config, &app.state.search, day)
        .await
        .unwrap();
    assert_eq!(
        done.reminders, 2,
        "the day's overdue reminder and the weekly summary"
    );
    let again = tingshang::notifications::daily(app.db(), &config, &app.state.search, day)
        .await
        .unwrap();
    assert_eq!(again.reminders, 0);
    let (_, inbox) = people.secretariat.get("/me").await;
    assert!(
        inbox.contains("本周逾期未答复的建议共 1 件:市科技局 1 件。"),
        "{}",
        &inbox[inbox.find("id=\"inbox\"").unwrap_or(0)..]
    );
}

#[tokio::test]
async fn the_public_follows_by_email_with_double_opt_in_and_leaves_in_one_click() {
    let Some(smtp) = Smtp::start() else { return };
    let app = app_with(&smtp).await;
    let sender = sender(&app, &smtp);
    let people = cast(&app).await;
    let search = app.state.search.clone();
    let config = app.state.config.clone();
    let today = tingshang::time::today();
    let daily = || tingshang::notifications::daily(app.db(), &config, &search, today);

    // A proposal made public through the workflow.
    let id = people
        .member
        .new_draft(&[
            ("title", "建设量子信息概念验证平台"),
            ("body_md", "建议建设量子信息概念验证平台。"),
        ])
        .await;
    assert_ok("submit", people.member.act(id, "submit", &[]).await);
    assert_ok("accept", people.secretariat.act(id, "accept", &[]).await);
    let due = (today + chrono::Duration::days(60)).to_string();
    let kjj = agency(&app, "市科技局").await;
    assert_ok(
        "assign",
        people
            .secretariat
            .act(id, "assign", &[("lead", &kjj), ("due_on", &due)])
            .await,
    );
    let code = entity::proposals::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap()
        .code;
    app.wait_for_index().await;

    // Anyone asks to follow it, and a search; nothing but the confirmations is sent.
    let public = app.anonymous();
    let follower = "follower@public.example.cn";
    for (target, key) in [("proposal", code.as_str()), ("search", "q=量子信息")] {
        let (status, page, _) = public
            .post(
                "/follow",
                &[("email", follower), ("target", target), ("key", key)],
            )
            .await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("请查收确认邮件"));
    }
    let (status, _, _) = public
        .post(
            "/follow",
            &[
                ("email", follower),
                ("target", "proposal"),
                ("key", "TS-0000-9999"),
            ],
        )
        .await;
    assert_eq!(status, 400, "only what is public can be followed");
    sender.send_due().await.unwrap();
    let confirmations = smtp.received();
    assert_eq!(confirmations.len(), 2, "{confirmations:#?}");
    assert_eq!(
        daily().await.unwrap().subscription_updates,
        0,
        "unconfirmed: nothing is sent"
    );
    for message in &confirmations {
        assert!(
            message.subject.contains("请确认邮件订阅"),
            "{}",
            message.subject
        );
        assert!(
            !message.subject.contains("量子"),
            "no stranger's words in a subject"
        );
        assert!(!message.headers.contains_key("List-Unsubscribe"));
        let (status, page) = follow_link(&app, &link(&message.text, "/follow/confirm/")).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("订阅已确认"));
    }
    assert_eq!(
        daily().await.unwrap().subscription_updates,
        0,
        "nothing changed since"
    );

    // A progress report and a new matching proposal: one message per subscription.
    assert_ok(
        "progress",
        people
            .kjj
            .act(
                id,
                "progress",
                &[("response_kind", "progress"), ("body_md", "已完成选址。")],
            )
            .await,
    );
    let other = people
        .member
        .new_draft(&[
            ("title", "量子信息产业人才引进"),
            ("body_md", "建议引进量子信息人才。"),
        ])
        .await;
    assert_ok("submit", people.member.act(other, "submit", &[]).await);
    assert_ok("accept", people.secretariat.act(other, "accept", &[]).await);
    app.wait_for_index().await;
    assert_eq!(daily().await.unwrap().subscription_updates, 2);
    assert_eq!(
        daily().await.unwrap().subscription_updates,
        0,
        "each change once"
    );
    sender.send_due().await.unwrap();
    let updates = smtp.received()[2..].to_vec();
    assert_eq!(updates.len(), 2, "{updates:#?}");
    let about_proposal = updates
        .iter()
        .find(|m| m.text.contains("您关注的建议《建设量子信息概念验证平台》"))
        .unwrap();
    assert!(about_proposal
        .text
        .contains(&format!("{SITE}/proposals/{code}")));
    let about_search = updates
        .iter()
        .find(|m| m.text.contains("您关注的检索“量子信息”"))
        .unwrap();
    assert!(
        about_search.text.contains("量子信息产业人才引进"),
        "{}",
        about_search.text
    );

    // The search has a feed too.
    let (status, feed) = app
        .get("/search.atom?q=%E9%87%8F%E5%AD%90%E4%BF%A1%E6%81%AF")
        .await;
    assert_eq!(status, 200);
    assert!(
        feed.contains("<title type=\"text\">量子信息产业人才引进</title>"),
        "{feed}"
    );

    // One click ends the proposal's subscription; the search's goes on.
    let (status, _) = one_click(&app, &unsubscribe_path(about_proposal)).await;
    assert_eq!(status, 200);
    assert_ok(
        "progress again",
        people
            .kjj
            .act(
                id,
                "progress",
                &[("response_kind", "progress"), ("body_md", "已开工。")],
            )
            .await,
    );
    app.wait_for_index().await;
    assert_eq!(
        daily().await.unwrap().subscription_updates,
        1,
        "the search's only"
    );
    sender.send_due().await.unwrap();
    let last = smtp.received().last().cloned().unwrap();
    assert!(
        last.text.contains("您关注的检索“量子信息”"),
        "{}",
        last.text
    );
    assert_eq!(smtp.received().len(), 5);

    // A session is followed by its number; its own record changing reaches the follower too
    // (the change log names sessions by id).
    let (status, page, _) = public
        .post(
            "/follow",
            &[
                ("email", "Session.Fan@Public.example.cn"),
                ("target", "session"),
                ("key", "27"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    // The same address, spelled otherwise, asking again: nothing more is sent.
    let (status, _, _) = public
        .post(
            "/follow",
            &[
                ("email", "session.fan@public.example.cn"),
                ("target", "session"),
                ("key", "27"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    sender.send_due().await.unwrap();
    let confirmation = smtp.received().last().cloned().unwrap();
    assert_eq!(confirmation.to, "session.fan@public.example.cn");
    assert_eq!(
        smtp.received()
            .iter()
            .filter(|m| m.to == "session.fan@public.example.cn")
            .count(),
        1
    );
    assert_eq!(
        follow_link(&app, &link(&confirmation.text, "/follow/confirm/"))
            .await
            .0,
        200
    );
    for published in ["false", "true"] {
        let (status, _, _) = people
            .secretariat
            .post("/admin/sessions/27/publish", &[("published", published)])
            .await;
        assert_eq!(status, 303);
    }
    app.wait_for_index().await;
    assert_eq!(daily().await.unwrap().subscription_updates, 1);
    sender.send_due().await.unwrap();
    let session_update = smtp.received().last().cloned().unwrap();
    assert_eq!(session_update.to, "session.fan@public.example.cn");
    assert!(
        session_update.text.contains("活动记录更新"),
        "{}",
        session_update.text
    );

    // A page elsewhere cannot post the form from its visitors' browsers.
    let response = reqwest::Client::new()
        .post(app.url("/follow"))
        .header("origin", "https://elsewhere.example")
        .form(&[
            ("email", "victim@public.example.cn"),
            ("target", "session"),
            ("key", "27"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // The address appears in no public output.
    for path in [
        format!("/proposals/{code}"),
        "/api/v1/export/proposals.json".to_owned(),
        "/search?q=量子信息".to_owned(),
    ] {
        let (_, body) = app.get(&path).await;
        assert!(!body.contains(follower), "{path}");
    }
    // Requests are limited per client address (ten an hour).
    let mut last = 0;
    for n in 0..12 {
        let (status, _, _) = public
            .post(
                "/follow",
                &[
                    ("email", &format!("n{n}@public.example.cn")),
                    ("target", "proposal"),
                    ("key", &code),
                ],
            )
            .await;
        last = status;
    }
    assert_eq!(last, 429);
}

#[tokio::test]
async fn mail_test_sends_at_once_and_reports_a_refusal() {
    let Some(smtp) = Smtp::start() else { return };
    let app = app_with(&smtp).await;
    let config = app.state.config.clone();
    tingshang::cli::mail(
        app.db(),
        &config,
        tingshang::cli::MailCommand::Test {
            address: "ops@tingshang.test".into(),
        },
    )
    .await
    .expect("the test message is sent");
    let received = smtp.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, "ops@tingshang.test");
    assert!(received[0].subject.contains("测试邮件") && received[0].text.contains(&smtp.url()));
    let refused = tingshang::cli::mail(
        app.db(),
        &config,
        tingshang::cli::MailCommand::Test {
            address: "reject-ops@tingshang.test".into(),
        },
    )
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("550"), "{refused}");
    let unconfigured = tingshang::config::Config::default();
    assert!(
        tingshang::cli::mail(app.db(), &unconfigured, tingshang::cli::MailCommand::Send)
            .await
            .is_err()
    );
}

/// Messages the crash test writes to the outbox before the server starts sending them.
const CRASH_MESSAGES: usize = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_send_loses_no_message_and_repeats_only_with_the_same_id() {
    use common::process::{cli, start_with};
    let Some(smtp) = Smtp::start() else { return };
    let (url, _dir) = common::fresh_database().await;
    let search_dir = tempfile::tempdir().unwrap();
    cli(&url, search_dir.path(), &["migrate"]);
    let db = sea_orm::Database::connect(&url).await.unwrap();
    let mut written = std::collections::HashSet::new();
    let site = tingshang::config::Config {
        public_url: SITE.to_owned(),
        ..Default::default()
    };
    for n in 0..CRASH_MESSAGES {
        let id = tingshang::mail::outbox::enqueue(
            &db,
            &site,
            tingshang::mail::outbox::Outgoing {
                recipient: format!("crash-{n}@members.example.cn"),
                kind: "test".into(),
                letter: tingshang::mail::compose::Letter {
                    subject: format!("【听商】第 {n} 封"),
                    text: format!("第 {n} 封"),
                    html: format!("<p>第 {n} 封</p>"),
                },
                unsubscribe_url: None,
            },
        )
        .await
        .unwrap();
        written.insert(id);
    }
    let smtp_url = smtp.url();
    let env = [
        ("TINGSHANG_SMTP_URL", smtp_url.as_str()),
        ("TINGSHANG_MAIL_FROM", "听商 <noreply@tingshang.test>"),
        ("TINGSHANG_MAIL_LEASE_SECS", "2"),
    ];
    let server = start_with(&url, search_dir.path(), &env).await;
    // Killed (SIGKILL: no shutdown code runs) once part of the outbox went out.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while smtp.received().len() < CRASH_MESSAGES / 10 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server sends nothing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut server = server;
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let before_restart = smtp.received().len();
    assert!(before_restart < CRASH_MESSAGES, "killed mid-send");

    let server = start_with(&url, search_dir.path(), &env).await;
    let started = std::time::Instant::now();
    loop {
        let counts = tingshang::mail::outbox::counts(&db).await.unwrap();
        if counts.pending == 0 {
            assert_eq!(counts.failed, 0);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "{counts:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = server.stop();
    let received = smtp.received();
    let ids: Vec<String> = received
        .iter()
        .map(|m| format!("<{}>", m.message_id))
        .collect();
    let distinct: std::collections::HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(distinct, written, "every message written was delivered");
    let repeated = ids.len() - distinct.len();
    println!(
        "crash test: {CRASH_MESSAGES} messages; {before_restart} delivered before kill -9, the rest \
         after the restart in {:.1} s; {repeated} delivered twice (same Message-ID)",
        started.elapsed().as_secs_f64()
    );
    assert!(
        repeated <= 1,
        "at most the message in flight at the kill: {repeated}"
    );
}
