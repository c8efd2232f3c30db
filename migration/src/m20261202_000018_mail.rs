//! Email: accounts' addresses (used only once confirmed), what each user wants by mail, the
//! outbox of messages (written in the transaction of the event that causes them, sent by a
//! worker), the deadline reminders already written (one per proposal, agency and threshold), and
//! the public's subscriptions.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer_null, integer, pk_auto, string, string_null, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [
            string_null("email"),
            timestamp_with_time_zone_null("email_confirmed_at"),
        ] {
            manager
                .alter_table(Table::alter().table("users").add_column(column).to_owned())
                .await?;
        }
        // How a notification travels by mail: null (not by mail), `digest` (waiting for the
        // user's next digest), `sent` (in a message of its own or a digest).
        manager
            .alter_table(
                Table::alter()
                    .table("notifications")
                    .add_column(string_null("mail"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notifications_mail")
                    .table("notifications")
                    .col("mail")
                    .col("user_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("mail_preferences")
                    .if_not_exists()
                    .col(integer("user_id"))
                    .col(string("kind"))
                    // `now`, `digest` or `off`.
                    .col(string("mode"))
                    .primary_key(Index::create().col("user_id").col("kind"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("mail_outbox")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    // Fixed when the row is written, so a message retried after a crash is the
                    // same message to the receiving side.
                    .col(string("message_id"))
                    .col(string("recipient"))
                    .col(string("kind"))
                    .col(text("subject"))
                    .col(text("text_body"))
                    .col(text("html_body"))
                    // The one-click unsubscribe address (RFC 8058), when the message has one.
                    .col(text_null("unsubscribe_url"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    // A sender's lease: another instance takes the row only after it lapses.
                    .col(timestamp_with_time_zone_null("claimed_until"))
                    .col(text_null("last_reply"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    // Refused for good (a 5xx reply, or too many attempts).
                    .col(timestamp_with_time_zone_null("failed_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_mail_outbox_message_id")
                    .table("mail_outbox")
                    .col("message_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_mail_outbox_due")
                    .table("mail_outbox")
                    .col("sent_at")
                    .col("failed_at")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("deadline_reminders")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("proposal_id"))
                    .col(integer("agency_id"))
                    // `due_in_7:DUE`, `due_in_1:DUE` (per due date), `overdue:DAY` (one a day until answered),
                    // `weekly:DAY` (the secretariat's summary).
                    .col(string("threshold"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deadline_reminders_once")
                    .table("deadline_reminders")
                    .col("proposal_id")
                    .col("agency_id")
                    .col("threshold")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("subscriptions")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string("email"))
                    // `proposal`, `agency`, `session` or `search`.
                    .col(string("target_kind"))
                    // A proposal code, an agency or session id, or a search's query string.
                    .col(text("target"))
                    .col(text("label"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone_null("confirmed_at"))
                    // Up to where the subscriber has been told (the change log's id).
                    .col(big_integer_null("seen_change"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_subscriptions_once")
                    .table("subscriptions")
                    .col("email")
                    .col("target_kind")
                    .col("target")
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "subscriptions",
            "deadline_reminders",
            "mail_outbox",
            "mail_preferences",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("idx_notifications_mail")
                    .table("notifications")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("notifications")
                    .drop_column("mail")
                    .to_owned(),
            )
            .await?;
        for column in ["email", "email_confirmed_at"] {
            manager
                .alter_table(Table::alter().table("users").drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
