//! Database migrations for Tingshang. Seed data is loaded by the `seed` command, never here.
pub use sea_orm_migration::prelude::*;

mod m20261123_000001_create_schema;
mod m20261123_000002_accounts;
mod m20261123_000003_calendar;
mod m20261123_000004_clock_pause;
mod m20261123_000005_api_tokens;
mod m20261123_000006_read_indexes;
mod m20261123_000007_code_sequences;
mod m20261129_000008_content_revision;
mod m20261201_000009_content_changes;
mod m20261201_000010_write_probe;
mod m20261201_000011_login_devices;
mod m20261202_000012_search_synonyms;
mod m20261202_000013_outbox_leases;
mod m20261202_000014_personal_information;
mod m20261202_000015_public_changes;
mod m20261202_000016_idempotency_keys;
mod m20261202_000017_intake_receipts;
mod m20261202_000018_mail;
mod m20261203_000019_corrections;
mod m20261203_000020_attachments;
mod m20261203_000021_withheld_files;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_create_schema::Migration),
            Box::new(m20261123_000002_accounts::Migration),
            Box::new(m20261123_000003_calendar::Migration),
            Box::new(m20261123_000004_clock_pause::Migration),
            Box::new(m20261123_000005_api_tokens::Migration),
            Box::new(m20261123_000006_read_indexes::Migration),
            Box::new(m20261123_000007_code_sequences::Migration),
            Box::new(m20261129_000008_content_revision::Migration),
            Box::new(m20261201_000009_content_changes::Migration),
            Box::new(m20261201_000010_write_probe::Migration),
            Box::new(m20261201_000011_login_devices::Migration),
            Box::new(m20261202_000012_search_synonyms::Migration),
            Box::new(m20261202_000013_outbox_leases::Migration),
            Box::new(m20261202_000014_personal_information::Migration),
            Box::new(m20261202_000015_public_changes::Migration),
            Box::new(m20261202_000016_idempotency_keys::Migration),
            Box::new(m20261202_000017_intake_receipts::Migration),
            Box::new(m20261202_000018_mail::Migration),
            Box::new(m20261203_000019_corrections::Migration),
            Box::new(m20261203_000020_attachments::Migration),
            Box::new(m20261203_000021_withheld_files::Migration),
        ]
    }
}
