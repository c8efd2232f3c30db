//! Personal information in the record (个人信息保护): the caller an outside system names apart from
//! the text (never public), what the detector found in an item's text and how the secretariat
//! judged it, the redaction rules it made, and the original text a redaction replaced in the
//! public field (kept for the roles that need it, and itself redacted on an erasure request).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    boolean, integer, integer_null, pk_auto, string, string_null, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("callers")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("proposal_id").unique_key())
                    .col(text_null("name"))
                    .col(text_null("phone"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("callers", "proposal_id")
                            .to("proposals", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("privacy_findings")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    // "proposal" or "response", and which of its text fields.
                    .col(string("item_kind"))
                    .col(integer("item_id"))
                    .col(string("field"))
                    .col(string("kind"))
                    .col(text("value"))
                    // pending, redacted or not_personal.
                    .col(string("state"))
                    .col(integer_null("reviewed_by_user_id"))
                    .col(timestamp_with_time_zone_null("reviewed_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_privacy_findings_item")
                    .table("privacy_findings")
                    .col("item_kind")
                    .col("item_id")
                    .col("state")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("redaction_rules")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(text("value"))
                    // One item, or every item when both are null.
                    .col(string_null("item_kind"))
                    .col(integer_null("item_id"))
                    .col(text("reason"))
                    // An erasure request: the restricted original loses the value too.
                    .col(boolean("erase"))
                    .col(integer_null("created_by_user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("restricted_originals")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string("item_kind"))
                    .col(integer("item_id"))
                    .col(string("field"))
                    .col(text("original"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_restricted_originals_item")
                    .table("restricted_originals")
                    .col("item_kind")
                    .col("item_id")
                    .col("field")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "restricted_originals",
            "redaction_rules",
            "privacy_findings",
            "callers",
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
