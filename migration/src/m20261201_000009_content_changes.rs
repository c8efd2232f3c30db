//! Which pages each change of public content touched. A write that changes one proposal (a
//! workflow step, a reported actual) logs the paths of the pages that show it beside its bump of
//! `content_revision`; a cache that is a few revisions behind drops only those pages and the pages
//! that show everything (the home page), instead of all of them (`src/web/page_cache.rs`). A
//! revision without a row here changed anything. Rows are pruned as they age.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, text};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("content_changes")
                    .if_not_exists()
                    .col(big_integer("revision").primary_key())
                    .col(text("pages"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table("content_changes")
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
