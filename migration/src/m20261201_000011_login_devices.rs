//! Login throttling by device: each attempt records the device cookie it carried (if any), and
//! the key that signs those cookies lives in the database, so every instance shares it and it
//! survives restarts (`accounts::device`).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, string_null, text, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("login_attempts")
                    .add_column(string_null("device"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("server_keys")
                    .if_not_exists()
                    .col(string("name").primary_key())
                    .col(text("value"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("server_keys").if_exists().to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("login_attempts")
                    .drop_column("device")
                    .to_owned(),
            )
            .await
    }
}
