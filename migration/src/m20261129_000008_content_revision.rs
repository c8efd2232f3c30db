//! One counter, bumped in every transaction that changes what a public page shows. Rendered public
//! pages are cached under it (`src/web/page_cache.rs`): reading one row replaces the dozen queries
//! and the Markdown rendering behind a proposal or session page. On PostgreSQL the bump's row lock
//! orders the values by commit, so a page cached under revision N holds every write numbered N.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, integer};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("content_revision")
                    .if_not_exists()
                    .col(integer("id").primary_key())
                    .col(big_integer("revision"))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table("content_revision")
                    .columns(["id", "revision"])
                    .values_panic([1.into(), 0i64.into()])
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table("content_revision")
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
