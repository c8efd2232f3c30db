//! Loads the archive's seed data (drawn from the source documents) in one transaction. Seeding adds
//! what is missing and never overwrites: running it twice changes nothing.
pub mod files;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use anyhow::{anyhow, Context};
use chrono::Utc;
use entity::*;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter,
};

use crate::followup::timeline::{self, NewEvent};
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

pub async fn run(db: &DatabaseConnection) -> anyhow::Result<SeedReport> {
    let seeds = SeedSet::load()?;
    let txn = crate::db::begin_write(db).await?;
    let mut seeder = Seeder {
        txn: &txn,
        report: SeedReport::default(),
        ids: HashMap::new(),
    };
    seeder.load(&seeds).await?;
    let mut report = seeder.report;
    crate::proposals::drafts::sync_code_sequences(&txn).await?;
    crate::revision::bump(&txn).await?;
    txn.commit().await?;
    report.totals = table_counts(db).await?;
    Ok(report)
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

struct Seeder<'a, C> {
    txn: &'a C,
    report: SeedReport,
    /// Seed keys (agency:…, person:…, doc:…, response:…, proposal codes) → database ids.
    ids: HashMap<String, i32>,
}

impl<C: ConnectionTrait> Seeder<'_, C> {
    fn id(&self, key: &str) -> anyhow::Result<i32> {
        self.ids
            .get(key)
            .copied()
            .ok_or_else(|| anyhow!("seed refers to unknown key {key}"))
    }

    fn count(&mut self, table: &'static str) {
        *self.report.inserted.entry(table).or_default() += 1;
    }

    async fn outbox(&mut self, kind: &str, id: i32) -> anyhow::Result<()> {
        crate::search::outbox::enqueue(self.txn, kind, id).await?;
        self.count("search_outbox");
        Ok(())
    }

    async fn load(&mut self, seeds: &SeedSet) -> anyhow::Result<()> {
        self.agencies(seeds).await?;
        self.people(seeds).await?;
        self.documents(seeds).await?;
        for session in &seeds.sessions {
            self.session(session)
                .await
                .with_context(|| format!("session {}", session.session.number))?;
        }
        self.links(seeds).await?;
        self.commitments(seeds).await?;
        Ok(())
    }

    async fn agencies(&mut self, seeds: &SeedSet) -> anyhow::Result<()> {
        let now = Utc::now().fixed_offset();
        for a in &seeds.agencies.agencies {
            crate::agencies::AgencyKind::parse(&a.kind)
                .ok_or_else(|| anyhow!("agency kind {}", a.kind))?;
            let existing = agencies::Entity::find()
                .filter(agencies::Column::ExternalId.eq(&a.key))
                .one(self.txn)
                .await?;
            let id = match existing {
                Some(row) => row.id,
                None => {
                    self.count("agencies");
                    agencies::Entity::insert(agencies::ActiveModel {
                        external_id: Set(Some(a.key.clone())),
                        full_name: Set(a.full_name.clone()),
                        short_name: Set(a.short_name.clone()),
                        aliases: Set(serde_json::to_string(&a.aliases)?),
                        kind: Set(a.kind.clone()),
                        source_file: Set(Some(a.source_file.clone())),
                        source_quote: Set(Some(a.source_quote.clone())),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    })
                    .exec(self.txn)
                    .await?
                    .last_insert_id
                }
            };
            self.ids.insert(a.key.clone(), id);
        }
        Ok(())
    }

    async fn people(&mut self, seeds: &SeedSet) -> anyhow::Result<()> {
        let now = Utc::now().fixed_offset();
        for p in &seeds.people.people {
            crate::directory::PersonKind::parse(&p.kind)
                .ok_or_else(|| anyhow!("person kind {}", p.kind))?;
            let agency_id = p.agency.as_deref().map(|k| self.id(k)).transpose()?;
            let existing = people::Entity::find()
                .filter(people::Column::ExternalId.eq(&p.key))
                .one(self.txn)
                .await?;
            let id = match existing {
                Some(row) => row.id,
                None => {
                    self.count("people");
                    people::Entity::insert(people::ActiveModel {
                        external_id: Set(Some(p.key.clone())),
                        name: Set(p.name.clone()),
                        kind: Set(p.kind.clone()),
                        post: Set(p.post.clone()),
                        affiliation: Set(p.affiliation.clone()),
                        sector: Set(p.sector.clone()),
                        agency_id: Set(agency_id),
                        source_file: Set(Some(p.source_file.clone())),
                        source_quote: Set(Some(p.source_quote.clone())),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    })
                    .exec(self.txn)
                    .await?
                    .last_insert_id
                }
            };
            self.ids.insert(p.key.clone(), id);
        }
        Ok(())
    }

    async fn documents(&mut self, seeds: &SeedSet) -> anyhow::Result<()> {
        let now = Utc::now().fixed_offset();
        for d in &seeds.documents.documents {
            crate::documents::DocumentKind::parse(&d.kind)
                .ok_or_else(|| anyhow!("document kind {}", d.kind))?;
            let text =
                files::source_text(&d.file).ok_or_else(|| anyhow!("no source text {}", d.file))?;
            let dated = d
                .dated
                .as_deref()
                .map(|t| parse_partial_date(t).ok_or_else(|| anyhow!("bad date {t}")));
            let dated = dated.transpose()?;
            let existing = documents::Entity::find()
                .filter(documents::Column::ExternalId.eq(&d.key))
                .one(self.txn)
                .await?;
            let id = match existing {
                Some(row) => row.id,
                None => {
                    self.count("documents");
                    let id = documents::Entity::insert(documents::ActiveModel {
                        external_id: Set(Some(d.key.clone())),
                        kind: Set(d.kind.clone()),
                        issuer: Set(d.issuer.clone()),
                        title: Set(d.title.clone()),
                        published_on: Set(dated.map(|(date, _)| date)),
                        date_precision: Set(dated
                            .map_or("unknown", |(_, p)| p.as_str())
                            .to_owned()),
                        date_basis: Set(d.date_basis.clone()),
                        body_md: Set(crate::web::markdown::paragraphs_from_lines(text)),
                        published: Set(true),
                        source_file: Set(Some(d.file.clone())),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    })
                    .exec(self.txn)
                    .await?
                    .last_insert_id;
                    self.outbox("document", id).await?;
                    id
                }
            };
            self.ids.insert(d.key.clone(), id);
        }
        Ok(())
    }

    async fn session(&mut self, file: &files::SessionFile) -> anyhow::Result<()> {
        let now = Utc::now().fixed_offset();
        let s = &file.session;
        let existing = sessions::Entity::find()
            .filter(sessions::Column::Number.eq(s.number))
            .one(self.txn)
            .await?;
        let session_id = match existing {
            Some(row) => row.id,
            None => {
                let media: Vec<crate::sessions::service::MediaLink> = s
                    .media
                    .iter()
                    .map(|m| {
                        Ok(crate::sessions::service::MediaLink {
                            label: m.label.clone(),
                            url: m.url.clone(),
                            document_id: m.document.as_deref().map(|k| self.id(k)).transpose()?,
                            note: m.note.clone(),
                        })
                    })
                    .collect::<anyhow::Result<_>>()?;
                self.count("sessions");
                let id = sessions::Entity::insert(sessions::ActiveModel {
                    number: Set(s.number),
                    topic: Set(s.topic.clone()),
                    held_on: Set(s.held_on),
                    held_at_text: Set(Some(s.held_at_text.clone())),
                    date_basis: Set(Some(s.date_basis.clone())),
                    organisers: Set(serde_json::to_string(&s.organisers)?),
                    summary_md: Set(s.summary_md.trim().to_owned()),
                    media_links: Set(serde_json::to_string(&media)?),
                    published: Set(true),
                    source_file: Set(Some(s.source_file.clone())),
                    source_quote: Set(Some(s.source_quote.clone())),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                })
                .exec(self.txn)
                .await?
                .last_insert_id;
                self.outbox("session", id).await?;
                id
            }
        };

        for (order, p) in s.participants.iter().enumerate() {
            crate::directory::PersonKind::parse(&p.role)
                .ok_or_else(|| anyhow!("participant role {}", p.role))?;
            let person_id = self.id(&p.person)?;
            let present = session_participants::Entity::find()
                .filter(session_participants::Column::SessionId.eq(session_id))
                .filter(session_participants::Column::PersonId.eq(person_id))
                .filter(session_participants::Column::Role.eq(&p.role))
                .one(self.txn)
                .await?
                .is_some();
            if !present {
                self.count("session_participants");
                session_participants::Entity::insert(session_participants::ActiveModel {
                    session_id: Set(session_id),
                    person_id: Set(person_id),
                    role: Set(p.role.clone()),
                    post_as_printed: Set(p.post_as_printed.clone()),
                    sort_order: Set(order as i32),
                    source_quote: Set(None),
                    ..Default::default()
                })
                .exec(self.txn)
                .await?;
            }
        }

        let submitted_at = start_of_day(s.held_on);
        for p in &file.proposals {
            let existing = proposals::Entity::find()
                .filter(proposals::Column::Code.eq(&p.code))
                .one(self.txn)
                .await?;
            let author_id = self.id(&p.author)?;
            let id = match existing {
                Some(row) => row.id,
                None => {
                    self.count("proposals");
                    let id = proposals::Entity::insert(proposals::ActiveModel {
                        code: Set(p.code.clone()),
                        session_id: Set(Some(session_id)),
                        channel: Set(Channel::Session.as_str().to_owned()),
                        title: Set(p.title.clone()),
                        body_md: Set(proposal_body(&p.quote, p.context.as_deref())),
                        author_id: Set(Some(author_id)),
                        topics: Set(serde_json::to_string(&p.topics)?),
                        status: Set(ProposalStatus::Accepted.as_str().to_owned()),
                        published: Set(true),
                        supervised: Set(false),
                        submitted_at: Set(Some(submitted_at.fixed_offset())),
                        version: Set(0),
                        status_basis: Set(Some(STATUS_BASIS.to_owned())),
                        source_file: Set(Some(s.source_file.clone())),
                        source_quote: Set(Some(p.quote.clone())),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    })
                    .exec(self.txn)
                    .await?
                    .last_insert_id;
                    let author = self.author_label(author_id).await?;
                    timeline::append(
                        self.txn,
                        NewEvent {
                            proposal_id: id,
                            occurred_at: submitted_at,
                            precision: Precision::Day,
                            actor_user_id: None,
                            actor_label: &author,
                            action: TimelineAction::Submitted,
                            from_status: None,
                            to_status: Some(ProposalStatus::Submitted),
                            note: Some(format!("在“倾听与商量”第{}期协商活动中提出", s.number)),
                            public: true,
                            source_file: Some(s.source_file.clone()),
                            source_quote: Some(p.quote.clone()),
                        },
                    )
                    .await?;
                    self.count("timeline_events");
                    self.outbox("proposal", id).await?;
                    id
                }
            };
            self.ids.insert(p.code.clone(), id);
        }

        for r in &file.responses {
            self.response(r, &s.source_file)
                .await
                .with_context(|| r.key.clone())?;
        }
        Ok(())
    }

    async fn author_label(&self, person_id: i32) -> anyhow::Result<String> {
        let person = people::Entity::find_by_id(person_id)
            .one(self.txn)
            .await?
            .context("author")?;
        Ok(person.name)
    }

    async fn response(&mut self, r: &files::ResponseSeed, source_file: &str) -> anyhow::Result<()> {
        crate::workflow::ResponseKind::parse(&r.kind)
            .ok_or_else(|| anyhow!("response kind {}", r.kind))?;
        let now = Utc::now().fixed_offset();
        let agency_id = self.id(&r.agency)?;
        let responder_id = self.id(&r.responder)?;
        let existing = responses::Entity::find()
            .filter(responses::Column::ExternalId.eq(&r.key))
            .one(self.txn)
            .await?;
        let (response_id, is_new) = match existing {
            Some(row) => (row.id, false),
            None => {
                self.count("responses");
                let id = responses::Entity::insert(responses::ActiveModel {
                    external_id: Set(Some(r.key.clone())),
                    agency_id: Set(agency_id),
                    responder_id: Set(Some(responder_id)),
                    kind: Set(r.kind.clone()),
                    body_md: Set(format!("> {}", r.quote)),
                    published: Set(true),
                    responded_on: Set(Some(r.responded_on)),
                    source_file: Set(Some(source_file.to_owned())),
                    source_quote: Set(Some(r.quote.clone())),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                })
                .exec(self.txn)
                .await?
                .last_insert_id;
                (id, true)
            }
        };
        self.ids.insert(r.key.clone(), response_id);
        let agency = agencies::Entity::find_by_id(agency_id)
            .one(self.txn)
            .await?
            .context("agency")?;
        let responder = self.author_label(responder_id).await?;
        for code in &r.answers {
            let proposal_id = self.id(code)?;
            let linked = response_proposals::Entity::find()
                .filter(response_proposals::Column::ResponseId.eq(response_id))
                .filter(response_proposals::Column::ProposalId.eq(proposal_id))
                .one(self.txn)
                .await?
                .is_some();
            if linked {
                continue;
            }
            self.count("response_proposals");
            response_proposals::Entity::insert(response_proposals::ActiveModel {
                response_id: Set(response_id),
                proposal_id: Set(proposal_id),
                ..Default::default()
            })
            .exec(self.txn)
            .await?;
            if is_new {
                timeline::append(
                    self.txn,
                    NewEvent {
                        proposal_id,
                        occurred_at: start_of_day(r.responded_on),
                        precision: Precision::Day,
                        actor_user_id: None,
                        actor_label: &format!("{} {}", agency.short_name, responder),
                        action: TimelineAction::Responded,
                        from_status: None,
                        to_status: None,
                        note: Some("在协商活动现场回应".to_owned()),
                        public: true,
                        source_file: Some(source_file.to_owned()),
                        source_quote: Some(r.quote.clone()),
                    },
                )
                .await?;
                self.count("timeline_events");
                self.outbox("proposal", proposal_id).await?;
            }
        }
        Ok(())
    }

    async fn links(&mut self, seeds: &SeedSet) -> anyhow::Result<()> {
        for l in &seeds.followup.links {
            let document_id = self.id(&l.document)?;
            let proposal_id = self.id(&l.proposal)?;
            let present = document_links::Entity::find()
                .filter(document_links::Column::DocumentId.eq(document_id))
                .filter(document_links::Column::ProposalId.eq(proposal_id))
                .one(self.txn)
                .await?
                .is_some();
            if present {
                continue;
            }
            self.count("document_links");
            document_links::Entity::insert(document_links::ActiveModel {
                document_id: Set(document_id),
                proposal_id: Set(proposal_id),
                note: Set(l.note.clone()),
                source_quote: Set(Some(l.quote.clone())),
                ..Default::default()
            })
            .exec(self.txn)
            .await?;
            let document = documents::Entity::find_by_id(document_id)
                .one(self.txn)
                .await?
                .context("document")?;
            if let Some(date) = document.published_on {
                let precision =
                    Precision::parse(&document.date_precision).unwrap_or(Precision::Day);
                timeline::append(
                    self.txn,
                    NewEvent {
                        proposal_id,
                        occurred_at: start_of_day(date),
                        precision,
                        actor_user_id: None,
                        actor_label: &document.issuer,
                        action: TimelineAction::FollowedUp,
                        from_status: None,
                        to_status: None,
                        note: Some(format!("《{}》:{}", document.title, l.note)),
                        public: true,
                        source_file: document.source_file.clone(),
                        source_quote: Some(l.quote.clone()),
                    },
                )
                .await?;
                self.count("timeline_events");
            }
        }
        Ok(())
    }

    async fn commitments(&mut self, seeds: &SeedSet) -> anyhow::Result<()> {
        let now = Utc::now().fixed_offset();
        for c in &seeds.followup.commitments {
            crate::followup::Comparison::parse(&c.comparison)
                .ok_or_else(|| anyhow!("comparison {}", c.comparison))?;
            let existing = commitments::Entity::find()
                .filter(commitments::Column::ExternalId.eq(&c.key))
                .one(self.txn)
                .await?;
            if existing.is_some() {
                continue;
            }
            self.count("commitments");
            let id = commitments::Entity::insert(commitments::ActiveModel {
                external_id: Set(Some(c.key.clone())),
                description: Set(c.description.clone()),
                metric: Set(c.metric.clone()),
                unit: Set(c.unit.clone()),
                baseline: Set(c.baseline),
                target_value: Set(c.target_value),
                comparison: Set(c.comparison.clone()),
                target_date: Set(c.target_date),
                agency_id: Set(self.id(&c.agency)?),
                proposal_id: Set(c.proposal.as_deref().map(|k| self.id(k)).transpose()?),
                response_id: Set(c.response.as_deref().map(|k| self.id(k)).transpose()?),
                document_id: Set(c.document.as_deref().map(|k| self.id(k)).transpose()?),
                source_file: Set(Some(c.source_file.clone())),
                source_quote: Set(Some(c.source_quote.clone())),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .exec(self.txn)
            .await?
            .last_insert_id;
            for r in &c.reports {
                self.count("commitment_reports");
                commitment_reports::Entity::insert(commitment_reports::ActiveModel {
                    commitment_id: Set(id),
                    value: Set(r.value),
                    reported_on: Set(r.reported_on),
                    period_label: Set(r.period.clone()),
                    document_id: Set(r.document.as_deref().map(|k| self.id(k)).transpose()?),
                    note: Set(r.note.clone()),
                    source_file: Set(Some(r.source_file.clone())),
                    source_quote: Set(Some(r.source_quote.clone())),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                })
                .exec(self.txn)
                .await?;
            }
        }
        Ok(())
    }
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
