//! The seed data is faithful to the source documents, loads idempotently, and the schema migrates
//! down and up on both engines.
mod common;

use common::{engine, fresh_database, spawn_app};
use entity::{commitment_reports, commitments, people, proposals, sessions};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, Database, EntityTrait, QueryFilter, Statement};
use tingshang::seed::{self, files};

fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Every "……"-separated fragment of `quote` appears verbatim (ignoring line breaks) in `file`.
fn assert_quoted(file: &str, quote: &str, what: &str) {
    let source =
        squash(files::source_text(file).unwrap_or_else(|| panic!("{what}: unknown source {file}")));
    for fragment in quote.split("……") {
        assert!(
            source.contains(&squash(fragment)),
            "{what}: not verbatim in {file}: {fragment}"
        );
    }
}

#[test]
fn every_seeded_quote_is_verbatim_in_its_source() {
    let set = files::SeedSet::load().expect("seed files parse");
    let mut checked = 0;
    for a in &set.agencies.agencies {
        assert_quoted(&a.source_file, &a.source_quote, &a.key);
        checked += 1;
    }
    for p in &set.people.people {
        assert_quoted(&p.source_file, &p.source_quote, &p.key);
        assert!(squash(files::source_text(&p.source_file).unwrap()).contains(&squash(&p.name)));
        checked += 1;
    }
    for s in &set.sessions {
        let file = &s.session.source_file;
        assert_quoted(file, &s.session.source_quote, "session");
        for p in &s.session.participants {
            assert_quoted(file, &p.post_as_printed, &p.person);
        }
        for p in &s.proposals {
            assert_quoted(file, &p.quote, &p.code);
            if let Some(context) = &p.context {
                assert_quoted(file, context, &p.code);
            }
            checked += 1;
        }
        for r in &s.responses {
            assert_quoted(file, &r.quote, &r.key);
            checked += 1;
        }
    }
    let doc_file = |key: &str| {
        set.documents
            .documents
            .iter()
            .find(|d| d.key == key)
            .map(|d| d.file.clone())
            .expect("known document")
    };
    for l in &set.followup.links {
        assert_quoted(&doc_file(&l.document), &l.quote, &l.proposal);
        checked += 1;
    }
    for c in &set.followup.commitments {
        assert_quoted(&c.source_file, &c.source_quote, &c.key);
        // The target figure itself is in the quoted sentence ("全覆盖" is the one wording read as 100%).
        let stated = c
            .source_quote
            .contains(&format!("{}", c.target_value as i64))
            || (c.target_value == 100.0 && c.unit == "%" && c.source_quote.contains("全覆盖"));
        assert!(stated, "{}: target not in quote", c.key);
        for r in &c.reports {
            assert_quoted(&r.source_file, &r.source_quote, &c.key);
            checked += 1;
        }
        checked += 1;
    }
    assert!(checked > 60, "checked only {checked} quotes");
}

#[test]
fn seed_copies_match_the_shared_source_documents() {
    let shared =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/source-documents");
    if !shared.is_dir() {
        common::skip(&format!(
            "seed_copies_match_the_shared_source_documents: {} is absent; the embedded copies were not compared",
            shared.display()
        ));

        return;
    }
    for (name, text) in files::SOURCE_TEXTS {
        let original = std::fs::read_to_string(shared.join(name)).expect("shared source document");
        assert_eq!(
            &original, text,
            "seeds/documents/{name} differs from the shared source"
        );
    }
}

#[tokio::test]
async fn seeded_facts_match_the_text() {
    let app = spawn_app().await;
    let db = app.db();
    let session = sessions::Entity::find()
        .filter(sessions::Column::Number.eq(27))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.held_on.to_string(), "2023-09-28");
    assert!(session.date_basis.unwrap().contains("于去年发布实施"));
    let liu = people::Entity::find()
        .filter(people::Column::Name.eq("刘学辉"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(liu.post, "市科技局党组成员、副局长");
    let xing = people::Entity::find()
        .filter(people::Column::Name.eq("邢占军"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(xing.post, "市政协委员、山东大学校长助理、青岛校区党委书记");
    let by_xing = proposals::Entity::find()
        .filter(proposals::Column::AuthorId.eq(xing.id))
        .all(db)
        .await
        .unwrap();
    assert_eq!(by_xing.len(), 5, "邢占军 made five distinct suggestions");
    let smes = commitments::Entity::find()
        .filter(commitments::Column::Metric.eq("科技型中小企业数量"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(smes.target_value, 9500.0);
    assert_eq!(smes.target_date.unwrap().to_string(), "2024-12-31");
    let reports = commitment_reports::Entity::find()
        .filter(commitment_reports::Column::CommitmentId.eq(smes.id))
        .all(db)
        .await
        .unwrap();
    assert!(!reports.is_empty() && reports.iter().all(|r| r.value == 9777.0));
    // Nothing is invented: the listed-company target has no reported actual in any source.
    let listed = commitments::Entity::find()
        .filter(commitments::Column::Metric.eq("上市高新技术企业数量"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let listed_reports = commitment_reports::Entity::find()
        .filter(commitment_reports::Column::CommitmentId.eq(listed.id))
        .all(db)
        .await
        .unwrap();
    assert!(listed_reports.is_empty());
}

#[tokio::test]
async fn seeding_twice_changes_nothing() {
    let app = spawn_app().await;
    let mut before = seed::table_counts(app.db()).await.unwrap();
    let mut report = seed::run(app.db()).await.unwrap();
    assert!(
        report.inserted.is_empty(),
        "second seed inserted {:?}",
        report.inserted
    );
    // The outbox is a work queue the background indexer drains while the test runs,
    // so its size is not part of the seeded record.
    before.remove("search_outbox");
    report.totals.remove("search_outbox");
    assert_eq!(before, report.totals);
    assert_eq!(before["proposals"], 11);
    assert_eq!(before["sessions"], 1);
    assert_eq!(before["responses"], 5);
    println!("seeded row counts on {}: {before:?}", engine());
}

#[tokio::test]
async fn migrations_round_trip_down_and_up() {
    let (url, _dir) = fresh_database().await;
    let db = Database::connect(&url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    Migrator::down(&db, None).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let report = seed::run(&db).await.unwrap();
    assert_eq!(report.totals["proposals"], 11);
}

#[tokio::test]
async fn bundled_sqlite_has_the_wal_reset_fix() {
    let (url, _dir) = fresh_database().await;
    let db = Database::connect(&url).await.unwrap();
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        common::skip(&format!(
            "bundled_sqlite_has_the_wal_reset_fix: not SQLite ({})",
            engine()
        ));
        return;
    }
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "select sqlite_version() as v",
        ))
        .await
        .unwrap()
        .unwrap();
    let version: String = row.try_get("", "v").unwrap();
    let parts: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
    assert!(
        parts >= vec![3, 51, 3],
        "SQLite {version} predates the WAL-reset fix (3.51.3)"
    );
}
