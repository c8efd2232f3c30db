//! Indexes for the public pages' orderings, found by profiling the 100k-proposal benchmark corpus:
//! without them the home page scanned every response row (bodies and all) to count and sort them
//! (370 ms), and the proposal list sorted every public proposal to show twenty (1.2–1.8 s; 1.7 ms with the index).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (name, table, columns)
const INDEXES: [(&str, &str, &[&str]); 3] = [
    // Newest responses first; also a covering index for counting published responses.
    (
        "ix_responses_published_date",
        "responses",
        &["published", "responded_on", "id"],
    ),
    // Newest sessions first.
    (
        "ix_sessions_published_held",
        "sessions",
        &["published", "held_on"],
    ),
    // The proposal list's order (newest submission, then code): walked in order, stopped at a page.
    (
        "ix_proposals_public_order",
        "proposals",
        &["published", "submitted_at", "code"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in INDEXES {
            let mut index = Index::create();
            index.name(name).table(Alias::new(table)).if_not_exists();
            for column in columns {
                index.col(Alias::new(*column));
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
