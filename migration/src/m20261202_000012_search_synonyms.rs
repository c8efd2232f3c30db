//! The synonym groups the secretariat curates for search (`/admin/synonyms`): words that mean the
//! same, each group one row. Agencies' names and aliases are groups too, but they live with the
//! agencies. The list starts with the abbreviations the source documents use.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{pk_auto, text, timestamp_with_time_zone};

#[derive(DeriveMigrationName)]
pub struct Migration;

const STARTING_GROUPS: [&str; 2] = ["高企 = 高新技术企业", "科技型中小企业 = 科小"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("search_synonyms")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    // The group's words joined by " = ".
                    .col(text("words"))
                    .col(text("note"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        for words in STARTING_GROUPS {
            manager
                .exec_stmt(
                    Query::insert()
                        .into_table("search_synonyms")
                        .columns(["words", "note", "created_at"])
                        .values_panic([
                            words.into(),
                            "初始词表".into(),
                            Expr::current_timestamp().into(),
                        ])
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table("search_synonyms")
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
