//! What each intake push carried, as digests per field, so that a push repeating a ticket number
//! with other content is refused with the fields named instead of being taken as a retry.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, pk_auto, string, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("intake_receipts")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("proposal_id").unique_key())
                    // SHA-256 of each field as received (before any redaction), hex.
                    .col(string("channel_digest"))
                    .col(string("title_digest"))
                    .col(string("body_digest"))
                    .col(string("topics_digest"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("intake_receipts", "proposal_id")
                            .to("proposals", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table("intake_receipts")
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
