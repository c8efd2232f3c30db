//! Corrections of published text: who changed what, when and why, with the text before and
//! after, so that nothing published is overwritten without a trace (the public history pages
//! and `/api/v1/.../history` read them).
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    integer, integer_null, pk_auto, string, string_len, text, timestamp_with_time_zone,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("corrections")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    // proposal, response, commitment or session (`versions::TargetKind`).
                    .col(string_len("target_kind", 16))
                    .col(integer("target_id"))
                    .col(text("reason"))
                    .col(integer_null("editor_user_id"))
                    // The editor as the public saw them then (name and organisation): an
                    // account renamed later does not rewrite history.
                    .col(string("editor_label"))
                    .col(timestamp_with_time_zone("made_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("corrections", "editor_user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_corrections_target")
                    .table("corrections")
                    .col("target_kind")
                    .col("target_id")
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("correction_fields")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("correction_id"))
                    .col(string_len("field", 32))
                    .col(text("before"))
                    .col(text("after"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("correction_fields", "correction_id")
                            .to("corrections", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_correction_fields_correction")
                    .table("correction_fields")
                    .col("correction_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["correction_fields", "corrections"] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
