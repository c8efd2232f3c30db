//! Claimed outbox rows carry their lease in a column of its own, apart from `available_at` (the
//! retry delay), so that a drain can see that another drain holds rows of the same item and leave
//! that item's newer rows until it is done: two instances never index one item at once, and an
//! older state can never overwrite a newer one in the index.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::timestamp_with_time_zone_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("search_outbox")
                    .add_column(timestamp_with_time_zone_null("leased_until"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_search_outbox_entity")
                    .table("search_outbox")
                    .col("entity_kind")
                    .col("entity_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_search_outbox_entity")
                    .table("search_outbox")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("search_outbox")
                    .drop_column("leased_until")
                    .to_owned(),
            )
            .await
    }
}
