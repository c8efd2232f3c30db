//! Attachments: files that belong to a proposal, a reply or a session, stored by content
//! (`files::store`), with the text extracted from them page by page for search.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, integer, integer_null, pk_auto, string, string_len, string_len_null, text,
    text_null, timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("attachments")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(string_len("sha256", 64))
                    .col(string("name"))
                    // `files::kinds::Kind`: decided from the bytes.
                    .col(string_len("kind", 16))
                    .col(big_integer("size"))
                    // proposal, response or session (`files::OwnerKind`).
                    .col(string_len("owner_kind", 16))
                    .col(integer("owner_id"))
                    .col(integer_null("uploaded_by_user_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    // pending, done, failed or none (`attachments::Extraction`).
                    .col(string_len("extraction", 16))
                    .col(text_null("extraction_error"))
                    .col(integer_null("page_count"))
                    .col(string_len_null("thumbnail_sha256", 64))
                    .col(timestamp_with_time_zone_null("extracted_at"))
                    // The worker holding it (several instances on PostgreSQL), and how many times
                    // one took it up: a file that keeps killing its worker is given up on.
                    .col(timestamp_with_time_zone_null("leased_until"))
                    .col(integer("attempts").default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from("attachments", "uploaded_by_user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_attachments_owner", &["owner_kind", "owner_id"][..]),
            ("idx_attachments_sha256", &["sha256"][..]),
            ("idx_attachments_extraction", &["extraction"][..]),
            ("idx_attachments_thumbnail", &["thumbnail_sha256"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table("attachments");
            for col in cols {
                index.col(*col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("attachment_pages")
                    .if_not_exists()
                    .col(pk_auto("id"))
                    .col(integer("attachment_id"))
                    .col(integer("page"))
                    .col(text("text"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("attachment_pages", "attachment_id")
                            .to("attachments", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_attachment_pages_page")
                    .table("attachment_pages")
                    .col("attachment_id")
                    .col("page")
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["attachment_pages", "attachments"] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
