//! The public change log: one row per write that may have changed an item's public view, in
//! commit order, so that a mirror can follow `/api/v1/changes` instead of downloading everything.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_pk_auto, integer, string, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("public_changes")
                    .if_not_exists()
                    .col(big_pk_auto("seq"))
                    // proposal, session or document (the search index's kinds).
                    .col(string("kind"))
                    .col(integer("entity_id"))
                    .col(timestamp_with_time_zone("changed_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_public_changes_item")
                    .table("public_changes")
                    .col("kind")
                    .col("entity_id")
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("public_changes").if_exists().to_owned())
            .await
    }
}
