//! The archive's seed data (drawn from the source documents), turned into archive records and
//! written by the archive importer in one transaction. Seeding adds what is missing and never
//! overwrites: running it twice changes nothing.
pub mod files;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use anyhow::{anyhow, Context};
use chrono::Utc;
use entity::*;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, PaginatorTrait};

use crate::opendata::archive::{self, ImportError, Record};
use crate::time::{parse_partial_date, start_of_day, Precision};
use crate::workflow::TimelineAction;
use crate::workflow::{Channel, ProposalStatus};
use files::SeedSet;

/// Why every seeded proposal is "accepted" and no further: see seeds/sessions/027.toml.
const STATUS_BASIS: &str = "建议于协商活动现场提出,经报道公开,职能部门作了现场回应,其后的政策文件和工作总结载有相关举措。来源文件未载书面答复、委员评价或办结记录,故状态记为“已立案”,未标为已答复或已办结。";

/// Rows inserted by this run and rows present afterwards, per table.
#[derive(Debug, Default)]
pub struct SeedReport {
    pub inserted: BTreeMap<&'static str, u64>,
    pub totals: BTreeMap<&'static str, u64>,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<22} {:>8} {:>8}", "table", "added", "total")?;
        for (table, total) in &self.totals {
            writeln!(
                f,
                "{table:<22} {:>8} {total:>8}",
                self.inserted.get(table).copied().unwrap_or(0)
            )?;
        }
        Ok(())
    }
}

/// True when the archive has no agencies and no sessions yet.
pub async fn is_empty(db: &DatabaseConnection) -> anyhow::Result<bool> {
    Ok(agencies::Entity::find().count(db).await? == 0
        && sessions::Entity::find().count(db).await? == 0)
}

/// Seeds through the archive importer, so the seed and an imported archive are written by the
/// same code and matched on the same natural keys (running it twice changes nothing).
pub async fn run(db: &DatabaseConnection) -> anyhow::Result<SeedReport> {
    let seeds = SeedSet::load()?;
    let records = records(&seeds)?;
    let imported = archive::import_records(db, records, &|_, _| {})
        .await
        .map_err(|err| match err {
            ImportError::Invalid(lines) => anyhow!(
                "the seed files make invalid records: {}",
                lines
                    .iter()
                    .map(|l| format!("record {}: {}", l.line, l.reason))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            other => anyhow::Error::new(other),
        })?;
    Ok(SeedReport {
        inserted: imported
            .inserted
            .into_iter()
            .map(|(record, n)| (archive::table_of(record), n as u64))
            .collect(),
        totals: table_counts(db).await?,
    })
}

/// The seed files as archive records, numbered as a file's lines would be.
pub fn records(seeds: &SeedSet) -> anyhow::Result<Vec<(usize, Record)>> {
    let mut builder = Records::default();
    builder.load(seeds)?;
    Ok(builder
        .out
        .into_iter()
        .enumerate()
        .map(|(i, r)| (i + 1, r))
        .collect())
}

/// Row counts of every table, for reports and tests.
pub async fn table_counts<C: ConnectionTrait>(
    db: &C,
) -> anyhow::Result<BTreeMap<&'static str, u64>> {
    let mut counts = BTreeMap::new();
    counts.insert("agencies", agencies::Entity::find().count(db).await?);
    counts.insert("people", people::Entity::find().count(db).await?);
    counts.insert("sessions", sessions::Entity::find().count(db).await?);
    counts.insert(
        "session_participants",
        session_participants::Entity::find().count(db).await?,
    );
    counts.insert("documents", documents::Entity::find().count(db).await?);
    counts.insert("proposals", proposals::Entity::find().count(db).await?);
    counts.insert(
        "proposal_cosigners",
        proposal_cosigners::Entity::find().count(db).await?,
    );
    counts.insert("assignments", assignments::Entity::find().count(db).await?);
    counts.insert("responses", responses::Entity::find().count(db).await?);
    counts.insert(
        "response_proposals",
        response_proposals::Entity::find().count(db).await?,
    );
    counts.insert(
        "document_links",
        document_links::Entity::find().count(db).await?,
    );
    counts.insert("commitments", commitments::Entity::find().count(db).await?);
    counts.insert(
        "commitment_reports",
        commitment_reports::Entity::find().count(db).await?,
    );
    counts.insert(
        "timeline_events",
        timeline_events::Entity::find().count(db).await?,
    );
    counts.insert("evaluations", evaluations::Entity::find().count(db).await?);
    counts.insert("users", users::Entity::find().count(db).await?);
    counts.insert(
        "search_outbox",
        search_outbox::Entity::find().count(db).await?,
    );
    Ok(counts)
}

/// Builds the records: every row gets an id of its own table (1, 2, …, as in an exported file)
/// and refers to earlier rows by those ids; the importer maps them to the database's.
#[derive(Default)]
struct Records {
    out: Vec<Record>,
    /// Seed keys (agency:…, person:…, doc:…, response:…, proposal codes) → record ids.
    ids: HashMap<String, i32>,
    last_id: HashMap<&'static str, i32>,
    person_names: HashMap<i32, String>,
    agency_names: HashMap<i32, String>,
    documents: HashMap<i32, documents::Model>,
}

impl Records {
    fn id(&self, key: &str) -> anyhow::Result<i32> {
        self.ids
            .get(key)
            .copied()
            .ok_or_else(|| anyhow!("seed refers to unknown key {key}"))
    }

    fn opt_id(&self, key: Option<&str>) -> anyhow::Result<Option<i32>> {
        key.map(|k| self.id(k)).transpose()
    }

    fn next_id(&mut self, table: &'static str) -> i32 {
        let id = self.last_id.entry(table).or_default();
        *id += 1;
        *id
    }

    fn load(&mut self, seeds: &SeedSet) -> anyhow::Result<()> {
        let now = Utc::now().fixed_offset();
        self.agencies(seeds, now)?;
        self.people(seeds, now)?;
        self.documents(seeds, now)?;
        for session in &seeds.sessions {
            self.session(session, now)
                .with_context(|| format!("session {}", session.session.number))?;
        }
        self.links(seeds, now)?;
        self.commitments(seeds, now)?;
        Ok(())
    }

    fn agencies(&mut self, seeds: &SeedSet, now: Timestamp) -> anyhow::Result<()> {
        for a in &seeds.agencies.agencies {
            crate::agencies::AgencyKind::parse(&a.kind)
                .ok_or_else(|| anyhow!("agency kind {}", a.kind))?;
            let id = self.next_id("agency");
            self.ids.insert(a.key.clone(), id);
            self.agency_names.insert(id, a.short_name.clone());
            self.out.push(Record::Agency(agencies::Model {
                id,
                external_id: Some(a.key.clone()),
                full_name: a.full_name.clone(),
                short_name: a.short_name.clone(),
                aliases: serde_json::to_string(&a.aliases)?,
                kind: a.kind.clone(),
                valid_from: None,
                valid_until: None,
                successor_id: None,
                source_file: Some(a.source_file.clone()),
                source_quote: Some(a.source_quote.clone()),
                created_at: now,
                updated_at: now,
            }));
        }
        Ok(())
    }

    fn people(&mut self, seeds: &SeedSet, now: Timestamp) -> anyhow::Result<()> {
        for p in &seeds.people.people {
            crate::directory::PersonKind::parse(&p.kind)
                .ok_or_else(|| anyhow!("person kind {}", p.kind))?;
            let id = self.next_id("person");
            let agency_id = self.opt_id(p.agency.as_deref())?;
            self.ids.insert(p.key.clone(), id);
            self.person_names.insert(id, p.name.clone());
            self.out.push(Record::Person(people::Model {
                id,
                external_id: Some(p.key.clone()),
                name: p.name.clone(),
                kind: p.kind.clone(),
                post: p.post.clone(),
                affiliation: p.affiliation.clone(),
                sector: p.sector.clone(),
                agency_id,
                source_file: Some(p.source_file.clone()),
                source_quote: Some(p.source_quote.clone()),
                created_at: now,
                updated_at: now,
            }));
        }
        Ok(())
    }

    fn documents(&mut self, seeds: &SeedSet, now: Timestamp) -> anyhow::Result<()> {
        for d in &seeds.documents.documents {
            crate::documents::DocumentKind::parse(&d.kind)
                .ok_or_else(|| anyhow!("document kind {}", d.kind))?;
            let text =
                files::source_text(&d.file).ok_or_else(|| anyhow!("no source text {}", d.file))?;
            let dated = d
                .dated
                .as_deref()
                .map(|t| parse_partial_date(t).ok_or_else(|| anyhow!("bad date {t}")))
                .transpose()?;
            let id = self.next_id("document");
            self.ids.insert(d.key.clone(), id);
            let document = documents::Model {
                id,
                external_id: Some(d.key.clone()),
                kind: d.kind.clone(),
                issuer: d.issuer.clone(),
                title: d.title.clone(),
                published_on: dated.map(|(date, _)| date),
                date_precision: dated.map_or("unknown", |(_, p)| p.as_str()).to_owned(),
                date_basis: d.date_basis.clone(),
                doc_number: None,
                body_md: crate::web::markdown::paragraphs_from_lines(text),
                url: None,
                published: true,
                source_file: Some(d.file.clone()),
                source_quote: None,
                created_at: now,
                updated_at: now,
            };
            self.documents.insert(id, document.clone());
            self.out.push(Record::Document(document));
        }
        Ok(())
    }

    fn session(&mut self, file: &files::SessionFile, now: Timestamp) -> anyhow::Result<()> {
        let s = &file.session;
        let media: Vec<crate::sessions::service::MediaLink> = s
            .media
            .iter()
            .map(|m| {
                Ok(crate::sessions::service::MediaLink {
                    label: m.label.clone(),
                    url: m.url.clone(),
                    document_id: self.opt_id(m.document.as_deref())?,
                    note: m.note.clone(),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let session_id = self.next_id("session");
        self.out.push(Record::Session(sessions::Model {
            id: session_id,
            number: s.number,
            topic: s.topic.clone(),
            held_on: s.held_on,
            held_at_text: Some(s.held_at_text.clone()),
            date_basis: Some(s.date_basis.clone()),
            venue: None,
            organisers: serde_json::to_string(&s.organisers)?,
            summary_md: s.summary_md.trim().to_owned(),
            media_links: serde_json::to_string(&media)?,
            published: true,
            source_file: Some(s.source_file.clone()),
            source_quote: Some(s.source_quote.clone()),
            created_at: now,
            updated_at: now,
        }));

        for (order, p) in s.participants.iter().enumerate() {
            crate::directory::PersonKind::parse(&p.role)
                .ok_or_else(|| anyhow!("participant role {}", p.role))?;
            let id = self.next_id("participant");
            let person_id = self.id(&p.person)?;
            self.out
                .push(Record::Participant(session_participants::Model {
                    id,
                    session_id,
                    person_id,
                    role: p.role.clone(),
                    post_as_printed: p.post_as_printed.clone(),
                    sort_order: order as i32,
                    source_quote: None,
                }));
        }

        let submitted_at = start_of_day(s.held_on).fixed_offset();
        for p in &file.proposals {
            let author_id = self.id(&p.author)?;
            let id = self.next_id("proposal");
            self.ids.insert(p.code.clone(), id);
            self.out.push(Record::Proposal(proposals::Model {
                id,
                code: p.code.clone(),
                external_id: None,
                session_id: Some(session_id),
                channel: Channel::Session.as_str().to_owned(),
                title: p.title.clone(),
                body_md: proposal_body(&p.quote, p.context.as_deref()),
                author_id: Some(author_id),
                topics: serde_json::to_string(&p.topics)?,
                status: ProposalStatus::Accepted.as_str().to_owned(),
                published: true,
                supervised: false,
                merged_into_id: None,
                decision_reason: None,
                submitted_at: Some(submitted_at),
                accepted_at: None,
                assigned_at: None,
                due_on: None,
                answered_at: None,
                closed_at: None,
                version: 0,
                created_by_user_id: None,
                status_basis: Some(STATUS_BASIS.to_owned()),
                source_file: Some(s.source_file.clone()),
                source_quote: Some(p.quote.clone()),
                paused_on: None,
                created_at: now,
                updated_at: now,
            }));
            let author = self.person_names[&author_id].clone();
            self.event(Event {
                proposal_id: id,
                occurred_at: submitted_at,
                precision: Precision::Day,
                actor_label: author,
                action: TimelineAction::Submitted,
                to_status: Some(ProposalStatus::Submitted),
                note: format!("在“倾听与商量”第{}期协商活动中提出", s.number),
                source_file: Some(s.source_file.clone()),
                source_quote: p.quote.clone(),
                created_at: now,
            });
        }

        for r in &file.responses {
            self.response(r, &s.source_file, now)
                .with_context(|| r.key.clone())?;
        }
        Ok(())
    }

    fn event(&mut self, e: Event) {
        let id = self.next_id("event");
        self.out.push(Record::Event(timeline_events::Model {
            id,
            proposal_id: e.proposal_id,
            occurred_at: e.occurred_at,
            precision: e.precision.as_str().to_owned(),
            actor_user_id: None,
            actor_label: e.actor_label,
            action: e.action.as_str().to_owned(),
            from_status: None,
            to_status: e.to_status.map(|s| s.as_str().to_owned()),
            note: Some(e.note),
            public: true,
            created_at: e.created_at,
            source_file: e.source_file,
            source_quote: Some(e.source_quote),
        }));
    }

    fn response(
        &mut self,
        r: &files::ResponseSeed,
        source_file: &str,
        now: Timestamp,
    ) -> anyhow::Result<()> {
        crate::workflow::ResponseKind::parse(&r.kind)
            .ok_or_else(|| anyhow!("response kind {}", r.kind))?;
        let agency_id = self.id(&r.agency)?;
        let responder_id = self.id(&r.responder)?;
        let response_id = self.next_id("response");
        self.ids.insert(r.key.clone(), response_id);
        self.out.push(Record::Response(responses::Model {
            id: response_id,
            external_id: Some(r.key.clone()),
            agency_id,
            responder_id: Some(responder_id),
            kind: r.kind.clone(),
            body_md: format!("> {}", r.quote),
            doc_number: None,
            grade: None,
            published: true,
            responded_on: Some(r.responded_on),
            document_id: None,
            created_by_user_id: None,
            source_file: Some(source_file.to_owned()),
            source_quote: Some(r.quote.clone()),
            created_at: now,
            updated_at: now,
        }));
        let actor = format!(
            "{} {}",
            self.agency_names[&agency_id], self.person_names[&responder_id]
        );
        for code in &r.answers {
            let proposal_id = self.id(code)?;
            let id = self.next_id("response_link");
            self.out
                .push(Record::ResponseLink(response_proposals::Model {
                    id,
                    response_id,
                    proposal_id,
                }));
            self.event(Event {
                proposal_id,
                occurred_at: start_of_day(r.responded_on).fixed_offset(),
                precision: Precision::Day,
                actor_label: actor.clone(),
                action: TimelineAction::Responded,
                to_status: None,
                note: "在协商活动现场回应".to_owned(),
                source_file: Some(source_file.to_owned()),
                source_quote: r.quote.clone(),
                created_at: now,
            });
        }
        Ok(())
    }

    fn links(&mut self, seeds: &SeedSet, now: Timestamp) -> anyhow::Result<()> {
        for l in &seeds.followup.links {
            let document_id = self.id(&l.document)?;
            let proposal_id = self.id(&l.proposal)?;
            let id = self.next_id("document_link");
            self.out.push(Record::DocumentLink(document_links::Model {
                id,
                document_id,
                proposal_id,
                note: l.note.clone(),
                source_quote: Some(l.quote.clone()),
            }));
            let document = &self.documents[&document_id];
            // An undated document puts nothing on the timeline: it has no moment to stand at.
            if let Some(date) = document.published_on {
                let event = Event {
                    proposal_id,
                    occurred_at: start_of_day(date).fixed_offset(),
                    precision: Precision::parse(&document.date_precision).unwrap_or(Precision::Day),
                    actor_label: document.issuer.clone(),
                    action: TimelineAction::FollowedUp,
                    to_status: None,
                    note: format!("《{}》:{}", document.title, l.note),
                    source_file: document.source_file.clone(),
                    source_quote: l.quote.clone(),
                    created_at: now,
                };
                self.event(event);
            }
        }
        Ok(())
    }

    fn commitments(&mut self, seeds: &SeedSet, now: Timestamp) -> anyhow::Result<()> {
        for c in &seeds.followup.commitments {
            crate::followup::Comparison::parse(&c.comparison)
                .ok_or_else(|| anyhow!("comparison {}", c.comparison))?;
            let id = self.next_id("commitment");
            self.out.push(Record::Commitment(commitments::Model {
                id,
                external_id: Some(c.key.clone()),
                description: c.description.clone(),
                metric: c.metric.clone(),
                unit: c.unit.clone(),
                baseline: c.baseline,
                target_value: c.target_value,
                comparison: c.comparison.clone(),
                target_date: c.target_date,
                agency_id: self.id(&c.agency)?,
                proposal_id: self.opt_id(c.proposal.as_deref())?,
                response_id: self.opt_id(c.response.as_deref())?,
                document_id: self.opt_id(c.document.as_deref())?,
                source_file: Some(c.source_file.clone()),
                source_quote: Some(c.source_quote.clone()),
                created_at: now,
                updated_at: now,
            }));
            for r in &c.reports {
                let report_id = self.next_id("report");
                self.out.push(Record::Report(commitment_reports::Model {
                    id: report_id,
                    commitment_id: id,
                    value: r.value,
                    reported_on: r.reported_on,
                    period_label: r.period.clone(),
                    document_id: self.opt_id(r.document.as_deref())?,
                    note: r.note.clone(),
                    source_file: Some(r.source_file.clone()),
                    source_quote: Some(r.source_quote.clone()),
                    created_at: now,
                    updated_at: now,
                }));
            }
        }
        Ok(())
    }
}

type Timestamp = chrono::DateTime<chrono::FixedOffset>;

/// A public timeline event drawn from a source document.
struct Event {
    proposal_id: i32,
    occurred_at: Timestamp,
    precision: Precision,
    actor_label: String,
    action: TimelineAction,
    to_status: Option<ProposalStatus>,
    note: String,
    source_file: Option<String>,
    source_quote: String,
    created_at: Timestamp,
}

/// A seeded proposal's body: the member's words as quoted, with the report's framing sentence.
fn proposal_body(quote: &str, context: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(context) = context {
        body.push_str(context);
        body.push_str("\n\n");
    }
    body.push_str("> ");
    body.push_str(quote);
    body.push_str("\n\n—— 据观海新闻/青报全媒体报道《聚力科技创新 赋能城市发展》");
    body
}
