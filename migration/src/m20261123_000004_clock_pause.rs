//! The reply clock can be paused while the agency waits on the member (暂停计时).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::date_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("proposals")
                    .add_column(date_null("paused_on"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("proposals")
                    .drop_column("paused_on")
                    .to_owned(),
            )
            .await
    }
}
