//! One row that `/readyz` rewrites to learn whether the database accepts writes right now (a full
//! disk or a read-only file fails reads nowhere, only writes). Nothing else reads it.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{integer, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("write_probe")
                    .if_not_exists()
                    .col(integer("id").primary_key())
                    .col(text("probed_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("write_probe").if_exists().to_owned())
            .await
    }
}
