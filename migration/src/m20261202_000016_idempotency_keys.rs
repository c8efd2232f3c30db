//! Answers to API writes sent with an `Idempotency-Key`, so that a retried request gets the first
//! answer instead of acting twice.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    integer_null, pk_auto, string, text_null, timestamp_with_time_zone,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    // SHA-256 of the bearer token: keys are the caller's own.
                    .col(string("scope"))
                    .col(string("key"))
                    // SHA-256 of method, path and body: the same key for another request is refused.
                    .col(string("request_digest"))
                    // Null while the first request is being handled.
                    .col(integer_null("status"))
                    .col(text_null("location"))
                    .col(text_null("body"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_idempotency_keys_scope_key")
                    .table("idempotency_keys")
                    .col("scope")
                    .col("key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table("idempotency_keys")
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}
