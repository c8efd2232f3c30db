//! Accounts: server-side login sessions (several app instances can share them), login attempts for
//! throttling, per-user notifications, and the append-only audit log of privileged actions.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_pk_auto, boolean, integer, integer_null, pk_auto, string, string_null, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn fk(
    from_table: &'static str,
    from_col: &'static str,
    to_table: &'static str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from_table}_{from_col}"))
        .from(from_table, from_col)
        .to(to_table, "id")
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("login_sessions")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    // SHA-256 of the cookie token: a leaked table does not leak live sessions.
                    .col(string("token_hash").unique_key())
                    .col(integer("user_id"))
                    .col(string("csrf_token"))
                    .col(string_null("ip"))
                    .col(string_null("user_agent"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("last_seen_at"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .foreign_key(&mut fk("login_sessions", "user_id", "users"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("login_attempts")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string("username"))
                    .col(string("ip"))
                    .col(boolean("succeeded"))
                    .col(timestamp_with_time_zone("attempted_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("notifications")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("user_id"))
                    .col(integer_null("proposal_id"))
                    .col(string("kind"))
                    .col(text("message"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("read_at"))
                    .foreign_key(&mut fk("notifications", "user_id", "users"))
                    .foreign_key(&mut fk("notifications", "proposal_id", "proposals"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(integer_null("user_id"))
                    .col(string("actor_label"))
                    .col(string("action"))
                    .col(string_null("target"))
                    .col(text_null("detail"))
                    .col(string_null("ip"))
                    .col(timestamp_with_time_zone("at"))
                    .to_owned(),
            )
            .await?;
        for (name, table, columns) in [
            ("ix_login_sessions_user", "login_sessions", vec!["user_id"]),
            (
                "ix_login_attempts_username",
                "login_attempts",
                vec!["username", "attempted_at"],
            ),
            (
                "ix_login_attempts_ip",
                "login_attempts",
                vec!["ip", "attempted_at"],
            ),
            (
                "ix_notifications_user",
                "notifications",
                vec!["user_id", "read_at"],
            ),
            ("ix_audit_log_at", "audit_log", vec!["at"]),
        ] {
            let mut index = Index::create();
            index.name(name).table(table).if_not_exists();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "audit_log",
            "notifications",
            "login_attempts",
            "login_sessions",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
