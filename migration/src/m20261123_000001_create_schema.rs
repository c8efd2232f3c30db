//! The whole product's schema: archive (agencies, people, sessions, documents), proposals and
//! their handling (assignments, responses, commitments, timeline, evaluations), accounts and the
//! search outbox. Status and kind columns are strings whose values are owned by the app's domain
//! enums; provenance columns (`source_file`, `source_quote`) say where a seeded fact came from.
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_pk_auto, boolean, date, date_null, double, double_null, integer, integer_null,
    integer_uniq, pk_auto, string, string_null, string_uniq, text, text_null,
    timestamp_with_time_zone, timestamp_with_time_zone_null,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables in creation order (children after parents); dropped in reverse.
const TABLES: &[&str] = &[
    "agencies",
    "people",
    "users",
    "sessions",
    "session_participants",
    "documents",
    "proposals",
    "proposal_cosigners",
    "assignments",
    "responses",
    "response_proposals",
    "document_links",
    "commitments",
    "commitment_reports",
    "timeline_events",
    "evaluations",
    "search_outbox",
];

fn fk(
    from_table: &'static str,
    from_col: &'static str,
    to_table: &'static str,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{from_table}_{from_col}"))
        .from(from_table, from_col)
        .to(to_table, "id")
        .on_delete(on_delete)
        .to_owned()
}

/// A table with `created_at`/`updated_at`, both `timestamptz` like every other timestamp here
/// (`schema::table_auto` would make them zone-less).
fn table_auto(name: &'static str) -> TableCreateStatement {
    Table::create()
        .table(name)
        .if_not_exists()
        .col(timestamp_with_time_zone("created_at").default(Expr::current_timestamp()))
        .col(timestamp_with_time_zone("updated_at").default(Expr::current_timestamp()))
        .to_owned()
}

fn provenance(t: &mut TableCreateStatement) {
    t.col(string_null("source_file"))
        .col(text_null("source_quote"));
}

fn tables() -> Vec<TableCreateStatement> {
    use ForeignKeyAction::{Cascade, Restrict, SetNull};
    let mut out = Vec::new();

    let mut t = table_auto("agencies")
        .col(pk_auto("id"))
        .col(string_null("external_id").unique_key())
        .col(string_uniq("full_name"))
        .col(string("short_name"))
        .col(text("aliases")) // JSON array of strings
        .col(string("kind"))
        .col(date_null("valid_from"))
        .col(date_null("valid_until"))
        .col(integer_null("successor_id"))
        .foreign_key(&mut fk("agencies", "successor_id", "agencies", SetNull))
        .to_owned();
    provenance(&mut t);
    out.push(t);

    let mut t = table_auto("people")
        .col(pk_auto("id"))
        .col(string_null("external_id").unique_key())
        .col(string("name"))
        .col(string("kind"))
        .col(string("post"))
        .col(string_null("affiliation"))
        .col(string_null("sector"))
        .col(integer_null("agency_id"))
        .foreign_key(&mut fk("people", "agency_id", "agencies", SetNull))
        .to_owned();
    provenance(&mut t);
    out.push(t);

    out.push(
        table_auto("users")
            .col(pk_auto("id"))
            .col(string_uniq("username"))
            .col(string("display_name"))
            .col(string("password_hash"))
            .col(string("role"))
            .col(integer_null("person_id"))
            .col(integer_null("agency_id"))
            .col(boolean("disabled").default(false))
            .col(timestamp_with_time_zone("password_changed_at"))
            .foreign_key(&mut fk("users", "person_id", "people", Restrict))
            .foreign_key(&mut fk("users", "agency_id", "agencies", Restrict))
            .to_owned(),
    );

    let mut t = table_auto("sessions")
        .col(pk_auto("id"))
        .col(integer_uniq("number"))
        .col(string("topic"))
        .col(date("held_on"))
        .col(string_null("held_at_text"))
        .col(text_null("date_basis"))
        .col(string_null("venue"))
        .col(text("organisers")) // JSON array of strings
        .col(text("summary_md"))
        .col(text("media_links")) // JSON array of {label, url?, credit?}
        .col(boolean("published").default(false))
        .to_owned();
    provenance(&mut t);
    out.push(t);

    out.push(
        Table::create()
            .table("session_participants")
            .if_not_exists()
            .col(pk_auto("id"))
            .col(integer("session_id"))
            .col(integer("person_id"))
            .col(string("role"))
            .col(string("post_as_printed"))
            .col(integer("sort_order"))
            .col(text_null("source_quote"))
            .foreign_key(&mut fk(
                "session_participants",
                "session_id",
                "sessions",
                Cascade,
            ))
            .foreign_key(&mut fk(
                "session_participants",
                "person_id",
                "people",
                Restrict,
            ))
            .to_owned(),
    );

    let mut t = table_auto("documents")
        .col(pk_auto("id"))
        .col(string_null("external_id").unique_key())
        .col(string("kind"))
        .col(string("issuer"))
        .col(string("title"))
        .col(date_null("published_on")) // first day of the period when only a month/year is known
        .col(string("date_precision")) // day / month / year
        .col(text_null("date_basis"))
        .col(string_null("doc_number"))
        .col(text("body_md"))
        .col(string_null("url"))
        .col(boolean("published").default(false))
        .to_owned();
    provenance(&mut t);
    out.push(t);

    let mut t = table_auto("proposals")
        .col(pk_auto("id"))
        .col(string_uniq("code"))
        .col(string_null("external_id").unique_key())
        .col(integer_null("session_id"))
        .col(string("channel"))
        .col(string("title"))
        .col(text("body_md"))
        .col(integer_null("author_id"))
        .col(text("topics")) // JSON array of strings
        .col(string("status"))
        .col(boolean("published").default(false))
        .col(boolean("supervised").default(false))
        .col(integer_null("merged_into_id"))
        .col(text_null("decision_reason"))
        .col(timestamp_with_time_zone_null("submitted_at"))
        .col(timestamp_with_time_zone_null("accepted_at"))
        .col(timestamp_with_time_zone_null("assigned_at"))
        .col(date_null("due_on"))
        .col(timestamp_with_time_zone_null("answered_at"))
        .col(timestamp_with_time_zone_null("closed_at"))
        .col(integer("version").default(0))
        .col(integer_null("created_by_user_id"))
        .col(text_null("status_basis"))
        .foreign_key(&mut fk("proposals", "session_id", "sessions", Restrict))
        .foreign_key(&mut fk("proposals", "author_id", "people", Restrict))
        .foreign_key(&mut fk("proposals", "merged_into_id", "proposals", SetNull))
        .foreign_key(&mut fk("proposals", "created_by_user_id", "users", SetNull))
        .to_owned();
    provenance(&mut t);
    out.push(t);

    out.push(
        Table::create()
            .table("proposal_cosigners")
            .if_not_exists()
            .col(pk_auto("id"))
            .col(integer("proposal_id"))
            .col(integer("person_id"))
            .foreign_key(&mut fk(
                "proposal_cosigners",
                "proposal_id",
                "proposals",
                Cascade,
            ))
            .foreign_key(&mut fk(
                "proposal_cosigners",
                "person_id",
                "people",
                Restrict,
            ))
            .to_owned(),
    );

    out.push(
        table_auto("assignments")
            .col(pk_auto("id"))
            .col(integer("proposal_id"))
            .col(integer("agency_id"))
            .col(string("role"))
            .col(string("state"))
            .col(timestamp_with_time_zone("assigned_at"))
            .col(date("due_on"))
            .col(text_null("return_reason"))
            .col(timestamp_with_time_zone_null("returned_at"))
            .foreign_key(&mut fk("assignments", "proposal_id", "proposals", Cascade))
            .foreign_key(&mut fk("assignments", "agency_id", "agencies", Restrict))
            .to_owned(),
    );

    let mut t = table_auto("responses")
        .col(pk_auto("id"))
        .col(string_null("external_id").unique_key())
        .col(integer("agency_id"))
        .col(integer_null("responder_id"))
        .col(string("kind"))
        .col(text("body_md"))
        .col(string_null("doc_number"))
        .col(string_null("grade"))
        .col(boolean("published").default(false))
        .col(date_null("responded_on"))
        .col(integer_null("document_id"))
        .col(integer_null("created_by_user_id"))
        .foreign_key(&mut fk("responses", "agency_id", "agencies", Restrict))
        .foreign_key(&mut fk("responses", "responder_id", "people", SetNull))
        .foreign_key(&mut fk("responses", "document_id", "documents", SetNull))
        .foreign_key(&mut fk("responses", "created_by_user_id", "users", SetNull))
        .to_owned();
    provenance(&mut t);
    out.push(t);

    out.push(
        Table::create()
            .table("response_proposals")
            .if_not_exists()
            .col(pk_auto("id"))
            .col(integer("response_id"))
            .col(integer("proposal_id"))
            .foreign_key(&mut fk(
                "response_proposals",
                "response_id",
                "responses",
                Cascade,
            ))
            .foreign_key(&mut fk(
                "response_proposals",
                "proposal_id",
                "proposals",
                Cascade,
            ))
            .to_owned(),
    );

    out.push(
        Table::create()
            .table("document_links")
            .if_not_exists()
            .col(pk_auto("id"))
            .col(integer("document_id"))
            .col(integer("proposal_id"))
            .col(text("note"))
            .col(text_null("source_quote"))
            .foreign_key(&mut fk(
                "document_links",
                "document_id",
                "documents",
                Cascade,
            ))
            .foreign_key(&mut fk(
                "document_links",
                "proposal_id",
                "proposals",
                Cascade,
            ))
            .to_owned(),
    );

    let mut t = table_auto("commitments")
        .col(pk_auto("id"))
        .col(string_null("external_id").unique_key())
        .col(text("description"))
        .col(string("metric"))
        .col(string("unit"))
        .col(double_null("baseline"))
        .col(double("target_value"))
        .col(string("comparison"))
        .col(date_null("target_date"))
        .col(integer("agency_id"))
        .col(integer_null("proposal_id"))
        .col(integer_null("response_id"))
        .col(integer_null("document_id"))
        .foreign_key(&mut fk("commitments", "agency_id", "agencies", Restrict))
        .foreign_key(&mut fk("commitments", "proposal_id", "proposals", SetNull))
        .foreign_key(&mut fk("commitments", "response_id", "responses", SetNull))
        .foreign_key(&mut fk("commitments", "document_id", "documents", SetNull))
        .to_owned();
    provenance(&mut t);
    out.push(t);

    let mut t = table_auto("commitment_reports")
        .col(pk_auto("id"))
        .col(integer("commitment_id"))
        .col(double("value"))
        .col(date_null("reported_on"))
        .col(string_null("period_label"))
        .col(integer_null("document_id"))
        .col(text_null("note"))
        .foreign_key(&mut fk(
            "commitment_reports",
            "commitment_id",
            "commitments",
            Cascade,
        ))
        .foreign_key(&mut fk(
            "commitment_reports",
            "document_id",
            "documents",
            SetNull,
        ))
        .to_owned();
    provenance(&mut t);
    out.push(t);

    let mut t = Table::create()
        .table("timeline_events")
        .if_not_exists()
        .col(pk_auto("id"))
        .col(integer("proposal_id"))
        .col(timestamp_with_time_zone("occurred_at"))
        .col(string("precision"))
        .col(integer_null("actor_user_id"))
        .col(string("actor_label"))
        .col(string("action"))
        .col(string_null("from_status"))
        .col(string_null("to_status"))
        .col(text_null("note"))
        .col(boolean("public").default(true))
        .col(timestamp_with_time_zone("created_at").default(Expr::current_timestamp()))
        .foreign_key(&mut fk(
            "timeline_events",
            "proposal_id",
            "proposals",
            Cascade,
        ))
        .foreign_key(&mut fk(
            "timeline_events",
            "actor_user_id",
            "users",
            SetNull,
        ))
        .to_owned();
    provenance(&mut t);
    out.push(t);

    out.push(
        Table::create()
            .table("evaluations")
            .if_not_exists()
            .col(pk_auto("id"))
            .col(integer("proposal_id"))
            .col(integer_null("response_id"))
            .col(integer("person_id"))
            .col(string("rating"))
            .col(text("comment"))
            .col(timestamp_with_time_zone("created_at").default(Expr::current_timestamp()))
            .foreign_key(&mut fk("evaluations", "proposal_id", "proposals", Cascade))
            .foreign_key(&mut fk("evaluations", "response_id", "responses", SetNull))
            .foreign_key(&mut fk("evaluations", "person_id", "people", Restrict))
            .to_owned(),
    );

    out.push(
        Table::create()
            .table("search_outbox")
            .if_not_exists()
            .col(big_pk_auto("id"))
            .col(string("entity_kind"))
            .col(integer("entity_id"))
            .col(string("operation"))
            .col(integer("attempts").default(0))
            .col(timestamp_with_time_zone("available_at"))
            .col(text_null("last_error"))
            .col(timestamp_with_time_zone("created_at").default(Expr::current_timestamp()))
            .to_owned(),
    );
    out
}

/// (index name, table, columns, unique)
const INDEXES: &[(&str, &str, &[&str], bool)] = &[
    (
        "ux_participant",
        "session_participants",
        &["session_id", "person_id", "role"],
        true,
    ),
    (
        "ux_cosigner",
        "proposal_cosigners",
        &["proposal_id", "person_id"],
        true,
    ),
    (
        "ux_response_proposal",
        "response_proposals",
        &["response_id", "proposal_id"],
        true,
    ),
    (
        "ux_document_link",
        "document_links",
        &["document_id", "proposal_id"],
        true,
    ),
    ("ix_people_name", "people", &["name"], false),
    ("ix_proposals_session", "proposals", &["session_id"], false),
    (
        "ix_proposals_status",
        "proposals",
        &["status", "published"],
        false,
    ),
    ("ix_proposals_author", "proposals", &["author_id"], false),
    (
        "ix_assignments_proposal",
        "assignments",
        &["proposal_id"],
        false,
    ),
    (
        "ix_assignments_agency",
        "assignments",
        &["agency_id", "state"],
        false,
    ),
    (
        "ix_response_proposals_proposal",
        "response_proposals",
        &["proposal_id"],
        false,
    ),
    ("ix_responses_agency", "responses", &["agency_id"], false),
    (
        "ix_commitments_agency",
        "commitments",
        &["agency_id"],
        false,
    ),
    (
        "ix_commitments_proposal",
        "commitments",
        &["proposal_id"],
        false,
    ),
    (
        "ix_reports_commitment",
        "commitment_reports",
        &["commitment_id"],
        false,
    ),
    (
        "ix_timeline_proposal",
        "timeline_events",
        &["proposal_id", "occurred_at"],
        false,
    ),
    (
        "ix_evaluations_proposal",
        "evaluations",
        &["proposal_id"],
        false,
    ),
    (
        "ix_outbox_available",
        "search_outbox",
        &["available_at"],
        false,
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in tables() {
            manager.create_table(table).await?;
        }
        for (name, table, columns, unique) in INDEXES {
            let mut index = Index::create();
            index.name(*name).table(*table).if_not_exists();
            for column in *columns {
                index.col(*column);
            }
            if *unique {
                index.unique();
            }
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
