//! A file whose content holds personal information (its extracted text had findings, or a
//! redaction rule reached it): the public sees its name and its text with the values hidden,
//! but not the original, which only those who handle personal information may open.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::boolean;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("attachments")
                    .add_column(boolean("withheld").default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("attachments")
                    .drop_column("withheld")
                    .to_owned(),
            )
            .await
    }
}
