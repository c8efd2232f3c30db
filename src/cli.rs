//! Command-line account management (`tingshang user …`), kept out of `main.rs` so it is testable.
use std::io::BufRead;

use entity::{agencies, people};
use sea_orm::{ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter};

use crate::accounts::{password, service, Role};

#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Create an account; prints a generated password unless --password-stdin is given.
    Add {
        username: String,
        /// admin, secretariat, member or agency_staff
        #[arg(long)]
        role: String,
        /// Name shown in the interface (defaults to the person's or agency's name, or the username)
        #[arg(long)]
        display_name: Option<String>,
        /// For members: the committee member's name (e.g. 邢占军) or person id
        #[arg(long)]
        person: Option<String>,
        /// For agency staff: the agency's short or full name (e.g. 市科技局) or id
        #[arg(long)]
        agency: Option<String>,
        /// Read the password from standard input instead of generating one
        #[arg(long)]
        password_stdin: bool,
        /// Email address for notifications (sent a confirmation link first)
        #[arg(long)]
        email: Option<String>,
    },
    /// Set the account's email address (`-` removes it); a new address gets a confirmation link
    /// and nothing else until it is followed.
    Email { username: String, address: String },
    /// Set a new password (generated, or read with --password-stdin); ends the user's sessions.
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Disable an account and end its sessions.
    Disable { username: String },
    /// Enable a disabled account.
    Enable { username: String },
}

#[derive(clap::Subcommand)]
pub enum TokenCommand {
    /// Create an API token acting as an account; prints the token (shown only once).
    Create {
        /// The account the token acts as (its role and agency decide what it may do)
        #[arg(long)]
        user: String,
        /// What the token is for, e.g. "12345热线系统推送"
        #[arg(long)]
        name: String,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token by id.
    Revoke { id: i32 },
}

pub async fn token(db: &DatabaseConnection, command: TokenCommand) -> anyhow::Result<()> {
    use crate::accounts::tokens;
    match command {
        TokenCommand::Create { user, name } => {
            let (_, token) = tokens::create(db, None, &user, &name).await?;
            println!("{token}");
        }
        TokenCommand::List => {
            for t in tokens::list(db).await? {
                let state = match t.revoked_at {
                    Some(at) => format!("已吊销 {at}"),
                    None => "有效".to_owned(),
                };
                println!(
                    "{:>4}  {}…  {:<16} {}  {}",
                    t.id, t.prefix, t.username, t.name, state
                );
            }
        }
        TokenCommand::Revoke { id } => {
            tokens::revoke(db, None, id).await?;
            println!("已吊销令牌 {id}");
        }
    }
    Ok(())
}

/// A progress line on standard error for long work: `重建索引 1200/10000 (12%)`.
pub fn progress(label: &'static str) -> impl Fn(usize, usize) + Sync {
    move |done, total| {
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        eprint!("\r{label} {done}/{total} ({percent}%)   ");
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((password::generate(), true));
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
}

async fn find_person(db: &DatabaseConnection, text: &str) -> anyhow::Result<people::Model> {
    let condition = match text.parse::<i32>() {
        Ok(id) => Condition::all().add(people::Column::Id.eq(id)),
        Err(_) => Condition::all().add(people::Column::Name.eq(text)),
    };
    let found = people::Entity::find().filter(condition).all(db).await?;
    match found.len() {
        1 => Ok(found.into_iter().next().expect("one")),
        0 => anyhow::bail!("找不到名为“{text}”的人员"),
        n => anyhow::bail!("有{n}位名为“{text}”的人员,请改用编号"),
    }
}

async fn find_agency(db: &DatabaseConnection, text: &str) -> anyhow::Result<agencies::Model> {
    let condition = match text.parse::<i32>() {
        Ok(id) => Condition::all().add(agencies::Column::Id.eq(id)),
        Err(_) => Condition::any()
            .add(agencies::Column::ShortName.eq(text))
            .add(agencies::Column::FullName.eq(text)),
    };
    agencies::Entity::find()
        .filter(condition)
        .one(db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("找不到单位“{text}”"))
}

pub async fn user(
    db: &DatabaseConnection,
    config: &crate::config::Config,
    command: UserCommand,
) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            username,
            role,
            display_name,
            person,
            agency,
            password_stdin,
            email,
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                anyhow::anyhow!("角色须为 admin、secretariat、member 或 agency_staff")
            })?;
            let person = match person {
                Some(p) => Some(find_person(db, &p).await?),
                None => None,
            };
            let agency = match agency {
                Some(a) => Some(find_agency(db, &a).await?),
                None => None,
            };
            let display_name = display_name
                .or_else(|| person.as_ref().map(|p| p.name.clone()))
                .or_else(|| agency.as_ref().map(|a| a.short_name.clone()))
                .unwrap_or_else(|| username.clone());
            let (password, generated) = read_password(password_stdin)?;
            let new = service::NewUser {
                username: username.clone(),
                display_name,
                role,
                person_id: person.map(|p| p.id),
                agency_id: agency.map(|a| a.id),
                password: password.clone(),
            };
            service::create_user(db, new)
                .await
                .map_err(|e| anyhow::anyhow!(e.report().detail))?;
            crate::audit::record(
                db,
                None,
                "user_add",
                Some(username.clone()),
                Some(role.as_str().into()),
                None,
            )
            .await?;
            println!("已创建账号 {username}({})", role.label());
            if generated {
                println!("初始密码:{password}");
            }
            if let Some(address) = email {
                set_email(db, config, &username, &address).await?;
            }
        }
        UserCommand::Email { username, address } => {
            set_email(db, config, &username, &address).await?
        }
        UserCommand::Passwd {
            username,
            password_stdin,
        } => {
            let (password, generated) = read_password(password_stdin)?;
            service::set_password(db, &username, &password)
                .await
                .map_err(|e| anyhow::anyhow!(e.report().detail))?;
            crate::audit::record(db, None, "user_passwd", Some(username.clone()), None, None)
                .await?;
            println!("已为 {username} 设置新密码,其登录会话已全部失效。");
            if generated {
                println!("新密码:{password}");
            }
        }
        UserCommand::List => {
            println!("{:<20} {:<14} {:<8} name", "username", "role", "status");
            for u in service::list(db).await? {
                let role =
                    Role::parse(&u.role).map_or_else(|| u.role.clone(), |r| r.label().to_owned());
                println!(
                    "{:<20} {:<14} {:<8} {}",
                    u.username,
                    role,
                    if u.disabled { "停用" } else { "正常" },
                    u.display_name
                );
            }
        }
        UserCommand::Disable { username } => set_disabled(db, &username, true).await?,
        UserCommand::Enable { username } => set_disabled(db, &username, false).await?,
    }
    Ok(())
}

async fn set_email(
    db: &DatabaseConnection,
    config: &crate::config::Config,
    username: &str,
    address: &str,
) -> anyhow::Result<()> {
    let address = (address != "-").then_some(address);
    service::set_email(db, config, None, username, address)
        .await
        .map_err(|e| anyhow::anyhow!(e.report().detail))?;
    crate::audit::record(
        db,
        None,
        "user_email",
        Some(username.to_owned()),
        None,
        None,
    )
    .await?;
    match (address, &config.smtp_url) {
        (None, _) => println!("已删除 {username} 的邮箱地址。"),
        (Some(a), Some(_)) => {
            println!("已将 {username} 的邮箱设为 {a};确认邮件已写入发信队列,确认前不发送其他邮件。")
        }
        (Some(a), None) => {
            println!("已将 {username} 的邮箱设为 {a}。未设置 TINGSHANG_SMTP_URL:不发送邮件。")
        }
    }
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum MailCommand {
    /// Send a test message to ADDRESS now (through the outbox) and print the server's reply.
    Test { address: String },
    /// Run the daily mail work now: today's deadline reminders and every waiting digest (they
    /// are then sent by the running server, or by `mail send`).
    Daily,
    /// Send every due message in the outbox now.
    Send,
}

pub async fn mail(
    db: &DatabaseConnection,
    config: &crate::config::Config,
    command: MailCommand,
) -> anyhow::Result<()> {
    use crate::mail::{compose, outbox, sender::Sender};
    let Some(url) = config.smtp_url.as_deref() else {
        anyhow::bail!("未设置 TINGSHANG_SMTP_URL,无法发送邮件。");
    };
    let sender = Sender::new(db.clone(), url, &config.mail_from)?;
    match command {
        MailCommand::Test { address } => {
            let address = service::validate_email(&address).map_err(|e| anyhow::anyhow!(e))?;
            let safe_url = url::Url::parse(url).map(|mut u| {
                let _ = u.set_password(None);
                u.to_string()
            })?;
            let letter = compose::letter(
                "test",
                "【听商】测试邮件",
                &config.public_url,
                minijinja::context! {
                    smtp_summary => format!("{safe_url},发件人 {}", config.mail_from),
                    sent_at => chrono::Utc::now().with_timezone(&crate::time::china()).format("%Y-%m-%d %H:%M:%S").to_string(),
                },
            )?;
            let message_id = outbox::enqueue(
                db,
                config,
                outbox::Outgoing {
                    recipient: address.clone(),
                    kind: "test".to_owned(),
                    letter,
                    unsubscribe_url: None,
                },
            )
            .await?;
            let row = sender.deliver(&message_id).await?;
            match (row.sent_at, row.failed_at) {
                (Some(_), _) => println!(
                    "已发送到 {address}({message_id}):{}",
                    row.last_reply.unwrap_or_default()
                ),
                (None, Some(_)) => {
                    anyhow::bail!("发送失败(不再重试):{}", row.last_reply.unwrap_or_default())
                }
                (None, None) => anyhow::bail!(
                    "暂时无法发送,稍后由服务自动重试:{}",
                    row.last_reply.unwrap_or_default()
                ),
            }
        }
        MailCommand::Daily => {
            let search = crate::search::backend_from(config).await?;
            let done = crate::notifications::daily(db, config, &search, crate::time::today())
                .await
                .map_err(|e| anyhow::anyhow!(e.report().detail))?;
            println!(
                "已写入 {} 条期限提醒、{} 封每日汇总、{} 封订阅更新。",
                done.reminders, done.digests, done.subscription_updates
            );
        }
        MailCommand::Send => {
            let sent = sender.send_due().await?;
            let counts = outbox::counts(db).await?;
            println!(
                "已发送 {sent} 封;待发 {},其中重试中 {};失败 {}。",
                counts.pending, counts.retrying, counts.failed
            );
        }
    }
    Ok(())
}

async fn set_disabled(
    db: &DatabaseConnection,
    username: &str,
    disabled: bool,
) -> anyhow::Result<()> {
    service::set_disabled(db, None, username, disabled)
        .await
        .map_err(|e| anyhow::anyhow!(e.report().detail))?;
    let action = if disabled {
        "user_disable"
    } else {
        "user_enable"
    };
    crate::audit::record(db, None, action, Some(username.to_owned()), None, None).await?;
    println!("{username} 已{}", if disabled { "停用" } else { "启用" });
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum FilesCommand {
    /// Remove stored files no attachment names (left by an upload that failed between storing
    /// the file and committing its row, or by removed draft attachments). Files younger than
    /// the grace period are kept: their upload may still be committing.
    Gc {
        /// Keep files younger than this many minutes.
        #[arg(long, default_value_t = 60)]
        grace_minutes: u64,
        /// List what would be removed without removing it.
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn files(
    db: &DatabaseConnection,
    config: &crate::config::Config,
    command: FilesCommand,
) -> anyhow::Result<()> {
    match command {
        FilesCommand::Gc {
            grace_minutes,
            dry_run,
        } => {
            let store = crate::files::FileStore::new(&config.files_dir);
            let (removed, bytes) = crate::attachments::service::collect_garbage(
                db,
                &store,
                std::time::Duration::from_secs(grace_minutes * 60),
                dry_run,
                &|done, total| eprint!("\r已检查 {done}/{total} 个无引用文件"),
            )
            .await?;
            eprintln!();
            let verb = if dry_run { "可删除" } else { "已删除" };
            println!(
                "{verb} {removed} 个无引用的文件,共 {bytes} 字节({}).",
                store.dir().display()
            );
        }
    }
    Ok(())
}
