//! The working calendar: official days off and make-up working days (调休), kept by the secretariat.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{date, pk_auto, string, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("calendar_days")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(date("day").unique_key())
                    // day_off or workday
                    .col(string("kind"))
                    .col(string("note"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("calendar_days").if_exists().to_owned())
            .await
    }
}
