//! The archive exchange format: JSON Lines, one record per line (`{"type": …, "row": {…}}`), in
//! dependency order, holding only what the public archive shows. `export` streams it; `import`
//! reads the file line by line (never whole), reports every bad line with its number and reason,
//! and only then reads it again to write all of it in one transaction, or nothing. Rows whose natural key (code, number, external id …) already
//! exists are matched rather than duplicated, so importing the same file twice changes nothing.
use std::collections::{HashMap, HashSet};

use entity::{
    agencies, assignments, attachments, commitment_reports, commitments, document_links, documents,
    evaluations, people, proposal_cosigners, proposals, response_proposals, responses,
    session_participants, sessions, timeline_events,
};
use sea_orm::sea_query::ExprTrait;
use sea_orm::sea_query::SelectStatement;
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ActiveValue::Set, ColumnTrait, Condition,
    ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
};
use serde::{Deserialize, Serialize};

use crate::visibility::{public_assignments, public_proposals, public_sessions};
use crate::workflow::{Channel, ProposalStatus};

pub const FORMAT: &str = "tingshang-archive";
/// 2 added attachments (`attachment` rows, each after the `file` that holds its content); files
/// of version 1 import as before.
pub const VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub exported_at: chrono::DateTime<chrono::Utc>,
}

/// One line of an archive file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", content = "row", rename_all = "snake_case")]
pub enum Record {
    Header(Header),
    Agency(agencies::Model),
    Person(people::Model),
    Document(documents::Model),
    Session(sessions::Model),
    Participant(session_participants::Model),
    Proposal(proposals::Model),
    Cosigner(proposal_cosigners::Model),
    Assignment(assignments::Model),
    Response(responses::Model),
    ResponseLink(response_proposals::Model),
    DocumentLink(document_links::Model),
    Commitment(commitments::Model),
    Report(commitment_reports::Model),
    Event(timeline_events::Model),
    Evaluation(evaluations::Model),
    /// A stored file's content, before the attachments that name it.
    File(FileContent),
    Attachment(attachments::Model),
}

/// The content of a stored file, carried in the archive (base64) so that its attachments import
/// whole; checked against its digest on import.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileContent {
    pub sha256: String,
    pub content_base64: String,
}

impl FileContent {
    pub fn of(bytes: &[u8]) -> Self {
        use base64::Engine;
        Self {
            sha256: crate::files::store::digest(bytes),
            content_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// The bytes, if they decode and match the digest.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.content_base64)
            .map_err(|_| "文件内容不是有效的 base64".to_owned())?;
        if crate::files::store::digest(&bytes) != self.sha256 {
            return Err(format!("文件内容与其摘要 {} 不符", self.sha256));
        }
        Ok(bytes)
    }
}

/// The lines of an archive with its files: each attachment's file content before its first
/// attachment, read from `store` when its turn comes (one file in memory at a time). An
/// attachment whose file is missing from the store is left out, with a warning. Blocking reads:
/// iterate off the async threads.
pub fn lines_with_files(
    records: Vec<Record>,
    store: crate::files::FileStore,
) -> impl Iterator<Item = String> {
    let mut carried: HashSet<String> = HashSet::new();
    records.into_iter().flat_map(move |record| {
        let mut lines = Vec::with_capacity(2);
        if let Record::Attachment(a) = &record {
            if !carried.contains(&a.sha256) {
                match store.read(&a.sha256) {
                    Ok(bytes) => {
                        carried.insert(a.sha256.clone());
                        lines.push(Record::File(FileContent::of(&bytes)).line());
                    }
                    Err(err) => {
                        tracing::warn!(sha256 = %a.sha256, error = %err, "an attachment's file is missing; left out of the archive");
                        return lines;
                    }
                }
            }
        }
        lines.push(record.line());
        lines
    })
}

impl Record {
    pub fn line(&self) -> String {
        let mut text = serde_json::to_string(self).expect("records serialize");
        text.push('\n');
        text
    }
}

fn ids_of<E: EntityTrait>(condition: Condition, id: E::Column) -> SelectStatement {
    E::find()
        .filter(condition)
        .select_only()
        .column(id)
        .into_query()
}

/// Every public record, in the order an import needs them. Related rows are selected with
/// sub-queries (never long id lists, which databases cap at some tens of thousands of parameters);
/// each table is read once.
pub async fn export_records<C: ConnectionTrait>(db: &C) -> Result<Vec<Record>, sea_orm::DbErr> {
    let public_proposal_ids =
        || ids_of::<proposals::Entity>(public_proposals(), proposals::Column::Id);
    let public_session_ids = || ids_of::<sessions::Entity>(public_sessions(), sessions::Column::Id);
    let published_documents = || {
        ids_of::<documents::Entity>(
            Condition::all().add(documents::Column::Published.eq(true)),
            documents::Column::Id,
        )
    };
    let published_responses = || {
        ids_of::<responses::Entity>(
            Condition::all().add(responses::Column::Published.eq(true)),
            responses::Column::Id,
        )
    };
    // Commitments of public proposals, or of no proposal (from policy documents).
    let exported_commitments = || {
        Condition::any()
            .add(commitments::Column::ProposalId.is_null())
            .add(commitments::Column::ProposalId.in_subquery(public_proposal_ids()))
    };

    let mut out = vec![Record::Header(Header {
        format: FORMAT.to_owned(),
        version: VERSION,
        exported_at: chrono::Utc::now(),
    })];
    out.extend(
        agencies::Entity::find()
            .order_by_asc(agencies::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(Record::Agency),
    );
    out.extend(
        people::Entity::find()
            .order_by_asc(people::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(Record::Person),
    );
    let documents = documents::Entity::find()
        .filter(documents::Column::Published.eq(true))
        .order_by_asc(documents::Column::Id)
        .all(db)
        .await?;
    let document_ids: HashSet<i32> = documents.iter().map(|d| d.id).collect();
    out.extend(documents.into_iter().map(Record::Document));
    let sessions = sessions::Entity::find()
        .filter(public_sessions())
        .order_by_asc(sessions::Column::Id)
        .all(db)
        .await?;
    let session_ids: HashSet<i32> = sessions.iter().map(|s| s.id).collect();
    out.extend(sessions.into_iter().map(Record::Session));
    out.extend(
        session_participants::Entity::find()
            .filter(session_participants::Column::SessionId.in_subquery(public_session_ids()))
            .order_by_asc(session_participants::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(Record::Participant),
    );
    let proposals = proposals::Entity::find()
        .filter(public_proposals())
        .order_by_asc(proposals::Column::Id)
        .all(db)
        .await?;
    let proposal_ids: HashSet<i32> = proposals.iter().map(|p| p.id).collect();
    out.extend(proposals.into_iter().map(|mut p| {
        // Internal: which account typed it, and links to proposals that are not exported.
        p.created_by_user_id = None;
        if p.merged_into_id.is_some_and(|m| !proposal_ids.contains(&m)) {
            p.merged_into_id = None;
        }
        if p.session_id.is_some_and(|s| !session_ids.contains(&s)) {
            p.session_id = None;
        }
        Record::Proposal(p)
    }));
    out.extend(
        proposal_cosigners::Entity::find()
            .filter(proposal_cosigners::Column::ProposalId.in_subquery(public_proposal_ids()))
            .order_by_asc(proposal_cosigners::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(Record::Cosigner),
    );
    out.extend(
        assignments::Entity::find()
            .filter(assignments::Column::ProposalId.in_subquery(public_proposal_ids()))
            .filter(public_assignments())
            .order_by_asc(assignments::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(|mut a| {
                // Internal even where set on an assignment that stands.
                a.return_reason = None;
                a.returned_at = None;
                Record::Assignment(a)
            }),
    );
    let responses = responses::Entity::find()
        .filter(responses::Column::Published.eq(true))
        .order_by_asc(responses::Column::Id)
        .all(db)
        .await?;
    let response_ids: HashSet<i32> = responses.iter().map(|r| r.id).collect();
    out.extend(responses.into_iter().map(|mut r| {
        r.created_by_user_id = None;
        if r.document_id.is_some_and(|d| !document_ids.contains(&d)) {
            r.document_id = None;
        }
        Record::Response(r)
    }));
    out.extend(
        response_proposals::Entity::find()
            .filter(response_proposals::Column::ResponseId.in_subquery(published_responses()))
            .filter(response_proposals::Column::ProposalId.in_subquery(public_proposal_ids()))
            .order_by_asc(response_proposals::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(Record::ResponseLink),
    );
    out.extend(
        document_links::Entity::find()
            .filter(document_links::Column::DocumentId.in_subquery(published_documents()))
            .filter(document_links::Column::ProposalId.in_subquery(public_proposal_ids()))
            .order_by_asc(document_links::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(Record::DocumentLink),
    );
    out.extend(
        commitments::Entity::find()
            .filter(exported_commitments())
            .order_by_asc(commitments::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(|mut c| {
                if c.response_id.is_some_and(|r| !response_ids.contains(&r)) {
                    c.response_id = None;
                }
                if c.document_id.is_some_and(|d| !document_ids.contains(&d)) {
                    c.document_id = None;
                }
                Record::Commitment(c)
            }),
    );
    out.extend(
        commitment_reports::Entity::find()
            .filter(
                commitment_reports::Column::CommitmentId.in_subquery(
                    ids_of::<commitments::Entity>(exported_commitments(), commitments::Column::Id),
                ),
            )
            .order_by_asc(commitment_reports::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(|mut r| {
                if r.document_id.is_some_and(|d| !document_ids.contains(&d)) {
                    r.document_id = None;
                }
                Record::Report(r)
            }),
    );
    out.extend(
        timeline_events::Entity::find()
            .filter(timeline_events::Column::ProposalId.in_subquery(public_proposal_ids()))
            .filter(timeline_events::Column::Public.eq(true))
            .order_by_asc(timeline_events::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(|mut e| {
                e.actor_user_id = None;
                Record::Event(e)
            }),
    );
    out.extend(
        evaluations::Entity::find()
            .filter(evaluations::Column::ProposalId.in_subquery(public_proposal_ids()))
            .order_by_asc(evaluations::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(|mut e| {
                if e.response_id.is_some_and(|r| !response_ids.contains(&r)) {
                    e.response_id = None;
                }
                Record::Evaluation(e)
            }),
    );
    // The files of what is exported, and only those: an attachment goes where its owner went.
    let exported: HashSet<(&str, i32)> = out
        .iter()
        .filter_map(|record| match record {
            Record::Proposal(p) => Some(("proposal", p.id)),
            // A reply's files go with it only where it answers a public proposal (its link).
            Record::ResponseLink(l) => Some(("response", l.response_id)),
            Record::Session(s) => Some(("session", s.id)),
            Record::Document(d) => Some(("document", d.id)),
            Record::Report(r) => Some(("report", r.id)),
            _ => None,
        })
        .collect();
    let owned: Vec<attachments::Model> = attachments::Entity::find()
        .order_by_asc(attachments::Column::Id)
        .all(db)
        .await?
        .into_iter()
        // A withheld file's original holds personal information: it stays here.
        .filter(|a| !a.withheld && exported.contains(&(a.owner_kind.as_str(), a.owner_id)))
        .collect();
    out.extend(owned.into_iter().map(|mut a| {
        // What the importing side works out again (text, thumbnail) or has no use for.
        a.uploaded_by_user_id = None;
        a.extraction = "pending".to_owned();
        a.extraction_error = None;
        a.page_count = None;
        a.thumbnail_sha256 = None;
        a.extracted_at = None;
        a.leased_until = None;
        Record::Attachment(a)
    }));
    Ok(out)
}

/// The record an attachment's owner is written as, by the owner's kind.
fn owner_record(kind: &str) -> Option<&'static str> {
    use crate::files::OwnerKind;
    Some(match OwnerKind::parse(kind)? {
        OwnerKind::Proposal => "proposal",
        OwnerKind::Response => "response",
        OwnerKind::Session => "session",
        OwnerKind::Document => "document",
        OwnerKind::Report => "report",
    })
}

/// A problem with one line of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineError {
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "第 {} 行:{}", self.line, self.reason)
    }
}

/// Checks what can be checked without the database: vocabularies, text limits and that every
/// reference points to a record earlier in the file.
pub fn validate(records: &[(usize, Record)]) -> Vec<LineError> {
    let mut validator = Validator::default();
    records
        .iter()
        .flat_map(|(line, record)| validator.check(*line, record))
        .collect()
}

/// [`validate`] one record at a time, remembering only the ids (and file digests) seen so far:
/// what a file of millions of records needs to keep while it is read line by line.
#[derive(Default)]
pub struct Validator {
    seen: HashMap<&'static str, DenseIds<()>>,
    files: HashSet<String>,
}

impl Validator {
    /// The problems of `record` at `line`, given every record before it.
    pub fn check(&mut self, line: usize, record: &Record) -> Vec<LineError> {
        let mut problems: Vec<String> = Vec::new();
        match record {
            // The same rule as an upload: what the bytes are, not what the row says.
            Record::File(f) => match f
                .bytes()
                .and_then(|bytes| crate::files::kinds::sniff(&bytes, "").map(|_| ()))
            {
                Ok(()) => {
                    self.files.insert(f.sha256.clone());
                }
                Err(problem) => problems.push(problem),
            },
            Record::Attachment(a) if !self.files.contains(a.sha256.as_str()) => {
                problems.push(format!("附件的文件 {} 不在文件中此行之前", a.sha256));
            }
            _ => {}
        }
        let seen = &mut self.seen;
        let mut refer = |table: &'static str, id: Option<i32>, what: &str| {
            if let Some(id) = id {
                if !seen.get(table).is_some_and(|s| s.contains(id)) {
                    problems.push(format!("{what} {id} 不在文件中此行之前"));
                }
            }
        };
        let (table, id) = match record {
            Record::Header(_) => ("header", 0),
            Record::Agency(a) => {
                refer("agency", a.successor_id, "successor_id");
                ("agency", a.id)
            }
            Record::Person(p) => {
                refer("agency", p.agency_id, "agency_id");
                ("person", p.id)
            }
            Record::Document(d) => ("document", d.id),
            Record::Session(s) => ("session", s.id),
            Record::Participant(p) => {
                refer("session", Some(p.session_id), "session_id");
                refer("person", Some(p.person_id), "person_id");
                ("participant", p.id)
            }
            Record::Proposal(p) => {
                refer("session", p.session_id, "session_id");
                refer("person", p.author_id, "author_id");
                refer("proposal", p.merged_into_id, "merged_into_id");
                ("proposal", p.id)
            }
            Record::Cosigner(c) => {
                refer("proposal", Some(c.proposal_id), "proposal_id");
                refer("person", Some(c.person_id), "person_id");
                ("cosigner", c.id)
            }
            Record::Assignment(a) => {
                refer("proposal", Some(a.proposal_id), "proposal_id");
                refer("agency", Some(a.agency_id), "agency_id");
                ("assignment", a.id)
            }
            Record::Response(r) => {
                refer("agency", Some(r.agency_id), "agency_id");
                refer("person", r.responder_id, "responder_id");
                refer("document", r.document_id, "document_id");
                ("response", r.id)
            }
            Record::ResponseLink(l) => {
                refer("response", Some(l.response_id), "response_id");
                refer("proposal", Some(l.proposal_id), "proposal_id");
                ("response_link", l.id)
            }
            Record::DocumentLink(l) => {
                refer("document", Some(l.document_id), "document_id");
                refer("proposal", Some(l.proposal_id), "proposal_id");
                ("document_link", l.id)
            }
            Record::Commitment(c) => {
                refer("agency", Some(c.agency_id), "agency_id");
                refer("proposal", c.proposal_id, "proposal_id");
                refer("response", c.response_id, "response_id");
                refer("document", c.document_id, "document_id");
                ("commitment", c.id)
            }
            Record::Report(r) => {
                refer("commitment", Some(r.commitment_id), "commitment_id");
                refer("document", r.document_id, "document_id");
                ("report", r.id)
            }
            Record::Event(e) => {
                refer("proposal", Some(e.proposal_id), "proposal_id");
                ("event", e.id)
            }
            Record::Evaluation(e) => {
                refer("proposal", Some(e.proposal_id), "proposal_id");
                refer("response", e.response_id, "response_id");
                refer("person", Some(e.person_id), "person_id");
                ("evaluation", e.id)
            }
            Record::File(_) => ("file", 0),
            Record::Attachment(a) => {
                // An unknown kind names no record; `content_problems` says so.
                if let Some(record) = owner_record(&a.owner_kind) {
                    refer(record, Some(a.owner_id), "owner_id");
                }
                ("attachment", a.id)
            }
        };
        problems.extend(content_problems(record));
        if !seen.entry(table).or_default().insert(id, ()) && table != "header" && table != "file" {
            problems.push(format!("{table} id {id} 重复"));
        }
        problems
            .into_iter()
            .map(|reason| LineError { line, reason })
            .collect()
    }
}

fn text_problem(label: &str, text: &str, max: usize, required: bool) -> Option<String> {
    crate::web::form::check_text(label, text, max, required).err()
}

/// The rules on the content of one record (the same limits as the forms).
fn content_problems(record: &Record) -> Vec<String> {
    use crate::web::form::MAX_BODY_BYTES;
    let mut p: Vec<Option<String>> = Vec::new();
    match record {
        Record::Attachment(x) => {
            p.push(text_problem("附件名", &x.name, 255, true));
            if crate::files::kinds::clean_name(&x.name) != x.name {
                p.push(Some(format!("附件名 {:?} 含有不允许的字符", x.name)));
            }
            if crate::files::OwnerKind::parse(&x.owner_kind).is_none() {
                p.push(Some(format!("附件所属类型 {:?} 未知", x.owner_kind)));
            }
            if crate::files::Kind::parse(&x.kind).is_none() {
                p.push(Some(format!("附件类型 {:?} 未知", x.kind)));
            }
        }
        Record::Proposal(x) => {
            p.push(text_problem("标题", &x.title, 300, true));
            p.push(text_problem("正文", &x.body_md, MAX_BODY_BYTES, true));
            if !crate::proposals::service::is_plausible_code(&x.code) {
                p.push(Some(format!("编号 {:?} 无效", x.code)));
            }
            if ProposalStatus::parse(&x.status).is_none_or(|s| !s.is_public()) {
                p.push(Some(format!("状态 {:?} 不是公开状态", x.status)));
            }
            if Channel::parse(&x.channel).is_none() {
                p.push(Some(format!("渠道 {:?} 无效", x.channel)));
            }
        }
        Record::Session(x) => {
            p.push(text_problem("主题", &x.topic, 300, true));
            p.push(text_problem("概述", &x.summary_md, MAX_BODY_BYTES, false));
            if x.number <= 0 {
                p.push(Some("期数须为正整数".to_owned()));
            }
        }
        Record::Response(x) => {
            p.push(text_problem("答复", &x.body_md, MAX_BODY_BYTES, true));
            if crate::workflow::ResponseKind::parse(&x.kind).is_none() {
                p.push(Some(format!("答复类型 {:?} 无效", x.kind)));
            }
        }
        Record::Agency(x) => {
            p.push(text_problem("部门全称", &x.full_name, 200, true));
            p.push(text_problem("部门简称", &x.short_name, 100, true));
        }
        Record::Person(x) => p.push(text_problem("姓名", &x.name, 100, true)),
        Record::Document(x) => {
            p.push(text_problem("标题", &x.title, 300, true));
            p.push(text_problem("正文", &x.body_md, 2 * MAX_BODY_BYTES, false));
        }
        Record::Commitment(x) => {
            p.push(text_problem("承诺", &x.description, 2000, true));
            if crate::followup::Comparison::parse(&x.comparison).is_none() {
                p.push(Some(format!("比较方式 {:?} 无效", x.comparison)));
            }
            if !x.target_value.is_finite() {
                p.push(Some("目标值须为数值".to_owned()));
            }
        }
        Record::Report(x) if !x.value.is_finite() => {
            p.push(Some("实际值须为数值".to_owned()));
        }
        Record::Evaluation(x) if crate::workflow::Rating::parse(&x.rating).is_none() => {
            p.push(Some(format!("评价 {:?} 无效", x.rating)));
        }
        _ => {}
    }
    p.into_iter().flatten().collect()
}

/// What an import did, per record type: inserted, and matched to rows already there.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub inserted: std::collections::BTreeMap<&'static str, usize>,
    pub matched: std::collections::BTreeMap<&'static str, usize>,
}

/// Ids of one table to values (an old id's new id; `()` for a set). Archive ids are the exporting
/// database's: dense from 1, so they index a vector (8 bytes an id for a map, 1 for a set); an id
/// far beyond those seen (a hand-made archive) goes to a hash map instead. At 1M proposals
/// (8.4M records) hash maps held the import's peak at 555 MB.
struct DenseIds<V: Copy> {
    dense: Vec<Option<V>>,
    sparse: HashMap<i32, V>,
}

impl<V: Copy> Default for DenseIds<V> {
    fn default() -> Self {
        Self {
            dense: Vec::new(),
            sparse: HashMap::new(),
        }
    }
}

impl<V: Copy> DenseIds<V> {
    /// Sets `id`; returns whether it was new.
    fn insert(&mut self, id: i32, value: V) -> bool {
        let within = usize::try_from(id)
            .ok()
            .filter(|&i| i < self.dense.len().max(1 << 16) * 2);
        match within {
            Some(i) => {
                if i >= self.dense.len() {
                    self.dense.resize(i + 1, None);
                }
                self.dense[i].replace(value).is_none() && !self.sparse.contains_key(&id)
            }
            None => self.sparse.insert(id, value).is_none(),
        }
    }

    fn get(&self, id: i32) -> Option<V> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.dense.get(i).copied().flatten())
            .or_else(|| self.sparse.get(&id).copied())
    }

    fn contains(&self, id: i32) -> bool {
        self.get(id).is_some()
    }
}

/// Old id → new id, per table, and which rows this import has already used (so that two lines
/// with the same natural key are two rows, not one).
#[derive(Default)]
struct IdMap {
    ids: HashMap<&'static str, DenseIds<i32>>,
    claimed: HashMap<&'static str, DenseIds<()>>,
    /// Tables that were empty when the import began: nothing there can match, so their rows are
    /// inserted without looking (the difference between minutes and seconds for a large archive).
    empty: std::collections::HashSet<&'static str>,
}

impl IdMap {
    fn set(&mut self, table: &'static str, old: i32, new: i32) {
        self.ids.entry(table).or_default().insert(old, new);
        self.claimed.entry(table).or_default().insert(new, ());
    }
    fn unclaimed<'a, M: 'a>(
        &self,
        table: &'static str,
        rows: impl IntoIterator<Item = &'a M>,
        id: impl Fn(&M) -> i32,
    ) -> Option<i32> {
        let claimed = self.claimed.get(table);
        rows.into_iter()
            .map(id)
            .find(|i| claimed.is_none_or(|c| !c.contains(*i)))
    }
    fn get(&self, table: &'static str, old: i32) -> i32 {
        // `validate` has checked that every reference is defined earlier in the file.
        self.ids[table]
            .get(old)
            .expect("validated: every reference is to an earlier line")
    }
    fn opt(&self, table: &'static str, old: Option<i32>) -> Option<i32> {
        old.map(|o| self.get(table, o))
    }
}

/// Where an archive's lines come from: text in memory (an upload, a test) or a file on disk,
/// which is read twice, line by line, and never held whole (a 1M-proposal archive is ~3 GB).
#[derive(Clone, Copy)]
pub enum Source<'a> {
    Text(&'a str),
    File(&'a std::path::Path),
}

impl Source<'_> {
    fn lines(
        &self,
    ) -> Result<Box<dyn Iterator<Item = std::io::Result<String>> + Send + '_>, ImportError> {
        Ok(match self {
            Source::Text(text) => Box::new(text.lines().map(|l| Ok(l.to_owned()))),
            Source::File(path) => {
                use std::io::BufRead;
                let file = std::fs::File::open(path).map_err(unreadable)?;
                Box::new(std::io::BufReader::with_capacity(1 << 20, file).lines())
            }
        })
    }
}

fn unreadable(e: std::io::Error) -> ImportError {
    ImportError::Other(crate::error::AppError::Unavailable(format!(
        "无法读取档案文件:{e}"
    )))
}

/// What the first reading of an archive found: how many records, whether it carries files, and
/// every problem (a line that does not parse, a rule broken, a reference to no earlier line).
pub struct Checked {
    pub records: usize,
    pub files: usize,
    pub errors: Vec<LineError>,
}

/// Reads every line of `source` once and reports every problem; memory holds the ids seen so far,
/// not the records.
pub fn check_source(source: Source<'_>) -> Result<Checked, ImportError> {
    let mut validator = Validator::default();
    let mut checked = Checked {
        records: 0,
        files: 0,
        errors: Vec::new(),
    };
    let mut first = true;
    for (i, line) in source.lines()?.enumerate() {
        let line = line.map_err(unreadable)?;
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let record = match serde_json::from_str::<Record>(&line) {
            Ok(record) => record,
            Err(e) => {
                checked.errors.push(LineError {
                    line: line_no,
                    reason: format!("不是有效的记录:{e}"),
                });
                first = false;
                continue;
            }
        };
        if first {
            first = false;
            match &record {
                Record::Header(h) if h.format == FORMAT && (1..=VERSION).contains(&h.version) => {}
                Record::Header(h) => checked.errors.push(LineError {
                    line: line_no,
                    reason: format!("不支持的格式 {} 版本 {}", h.format, h.version),
                }),
                _ => checked.errors.push(LineError {
                    line: 1,
                    reason: format!("第一行须为 {FORMAT} 文件头"),
                }),
            }
        }
        checked.records += 1;
        if matches!(record, Record::File(_)) {
            checked.files += 1;
        }
        checked.errors.extend(validator.check(line_no, &record));
    }
    if checked.records == 0 && checked.errors.is_empty() {
        checked.errors.push(LineError {
            line: 1,
            reason: format!("第一行须为 {FORMAT} 文件头"),
        });
    }
    checked.errors.sort_by_key(|e| e.line);
    Ok(checked)
}

/// Validates the whole file and, only if it is entirely valid, writes it in one transaction.
pub async fn import(
    db: &DatabaseConnection,
    text: &str,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<ImportReport, ImportError> {
    import_from(db, Source::Text(text), None, progress).await
}

/// As [`import`], storing the files the archive carries into `store` (each checked against its
/// digest; content already there is not written again).
pub async fn import_with_files(
    db: &DatabaseConnection,
    text: &str,
    store: &crate::files::FileStore,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<ImportReport, ImportError> {
    import_from(db, Source::Text(text), Some(store), progress).await
}

/// Imports an archive: a first reading reports every problem ([`check_source`]); only an archive
/// with none is read a second time and written in one transaction, or not at all. Files it
/// carries go into `store` as they are read, before the rows that name them commit: a failed
/// import leaves at most orphans for `files gc`. Without a store such an archive is refused.
pub async fn import_from(
    db: &DatabaseConnection,
    source: Source<'_>,
    store: Option<&crate::files::FileStore>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<ImportReport, ImportError> {
    let checked = check_source(source)?;
    if !checked.errors.is_empty() {
        return Err(ImportError::Invalid(checked.errors));
    }
    if checked.files > 0 && store.is_none() {
        // Attachment rows without their files in the store would name missing files.
        return Err(ImportError::Invalid(vec![LineError {
            line: 1,
            reason: format!(
                "档案带有 {} 个附件文件,须导入到附件存储(import_with_files)",
                checked.files
            ),
        }]));
    }
    let lines = source.lines()?;
    let records = lines.filter_map(|line| match line {
        Err(e) => Some(Err(unreadable(e))),
        Ok(line) if line.trim().is_empty() => None,
        // Checked above; a file changed since then is refused rather than half read.
        Ok(line) => Some(serde_json::from_str::<Record>(&line).map_err(|e| {
            ImportError::Other(crate::error::AppError::Conflict(format!(
                "档案文件在导入过程中被改动:{e}"
            )))
        })),
    });
    write(db, records, checked.records, store, progress).await
}

/// As [`import`], for records made in memory (the seed): validated as a file's lines would be,
/// then written in one transaction or not at all.
pub async fn import_records(
    db: &DatabaseConnection,
    records: Vec<(usize, Record)>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<ImportReport, ImportError> {
    let errors = validate(&records);
    if !errors.is_empty() {
        return Err(ImportError::Invalid(errors));
    }
    let total = records.len();
    write(
        db,
        records.into_iter().map(|(_, record)| Ok(record)),
        total,
        None,
        progress,
    )
    .await
}

/// The table a record type is written to.
pub fn table_of(record: &'static str) -> &'static str {
    RECORD_TABLES
        .iter()
        .find(|(name, _)| *name == record)
        .map_or(record, |(_, table)| *table)
}

/// Record names and their tables, in the order an archive writes them.
const RECORD_TABLES: &[(&str, &str)] = &[
    ("agency", "agencies"),
    ("person", "people"),
    ("document", "documents"),
    ("session", "sessions"),
    ("participant", "session_participants"),
    ("proposal", "proposals"),
    ("cosigner", "proposal_cosigners"),
    ("assignment", "assignments"),
    ("response", "responses"),
    ("response_link", "response_proposals"),
    ("document_link", "document_links"),
    ("commitment", "commitments"),
    ("report", "commitment_reports"),
    ("event", "timeline_events"),
    ("evaluation", "evaluations"),
    ("attachment", "attachments"),
];

async fn write(
    db: &DatabaseConnection,
    records: impl Iterator<Item = Result<Record, ImportError>> + Send,
    total: usize,
    store: Option<&crate::files::FileStore>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<ImportReport, ImportError> {
    let txn = crate::db::begin_write(db).await?;
    let mut ids = IdMap {
        empty: empty_tables(&txn).await?,
        ..Default::default()
    };
    let mut report = ImportReport::default();
    let mut batch = Batch::default();
    let (mut stored, mut present) = (0, 0);
    for (done, record) in records.enumerate() {
        let record = record?;
        if let (Record::File(file), Some(store)) = (&record, store) {
            // Decoded, digested and sniffed in the first reading.
            let bytes = file.bytes().map_err(|e| {
                ImportError::Other(crate::error::AppError::Conflict(format!(
                    "档案文件在导入过程中被改动:{e}"
                )))
            })?;
            if store.contains(&file.sha256) {
                present += 1;
            } else {
                store.put(&bytes).map_err(|e| {
                    crate::error::AppError::Unavailable(format!("附件无法保存:{e}"))
                })?;
                stored += 1;
            }
        }
        let (table, existing) = insert_or_match(&txn, &mut ids, &mut batch, record).await?;
        // Files are put into the store before the transaction (`import_with_files`).
        if table != "header" && table != "file" {
            let tally = if existing {
                &mut report.matched
            } else {
                &mut report.inserted
            };
            *tally.entry(table).or_default() += 1;
        }
        if done % 200 == 0 || done + 1 == total {
            progress(done + 1, total);
        }
    }
    batch.flush(&txn).await?;
    // Rows kept their exported ids: PostgreSQL's id sequences must continue after them.
    let tables: Vec<&str> = RECORD_TABLES.iter().map(|(_, table)| *table).collect();
    crate::db::reset_sequences(&txn, &tables).await?;
    // The search index follows the database: everything imported is queued for indexing.
    let (proposals, sessions, documents) = crate::search::documents::indexable_ids(&txn).await?;
    use crate::search::documents::{DOCUMENT, PROPOSAL, SESSION};
    for (kind, list) in [
        (PROPOSAL, proposals),
        (SESSION, sessions),
        (DOCUMENT, documents),
    ] {
        for id in list {
            crate::search::outbox::enqueue(&txn, kind, id).await?;
        }
    }
    crate::proposals::drafts::sync_code_sequences(&txn).await?;
    crate::revision::bump(&txn).await?;
    txn.commit().await?;
    // The tables may have grown by orders of magnitude: let the planner know.
    crate::db::refresh_statistics(db).await?;
    if stored + present > 0 {
        report.inserted.insert("file", stored);
        report.matched.insert("file", present);
    }
    Ok(report)
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("文件有 {} 处错误", .0.len())]
    Invalid(Vec<LineError>),
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Other(#[from] crate::error::AppError),
}

/// The record tables (by record name) that hold no rows.
async fn empty_tables<C: ConnectionTrait>(
    db: &C,
) -> Result<std::collections::HashSet<&'static str>, sea_orm::DbErr> {
    use sea_orm::PaginatorTrait;
    let mut empty = std::collections::HashSet::new();
    macro_rules! check {
        ($($name:literal => $entity:ident),+) => {$(
            if $entity::Entity::find().count(db).await? == 0 {
                empty.insert($name);
            }
        )+};
    }
    check!(
        "agency" => agencies, "person" => people, "document" => documents,
        "session" => sessions, "participant" => session_participants, "proposal" => proposals,
        "cosigner" => proposal_cosigners, "assignment" => assignments, "response" => responses,
        "response_link" => response_proposals, "document_link" => document_links,
        "commitment" => commitments, "report" => commitment_reports, "event" => timeline_events,
        "evaluation" => evaluations, "attachment" => attachments
    );
    Ok(empty)
}

/// Rows waiting to be written together; one table at a time, written before a row of another
/// table (which may reference them) or a lookup.
#[derive(Default)]
struct Batch {
    table: &'static str,
    rows: Option<Box<dyn PendingRows>>,
}

/// Rows in a batch; each statement stays far below SQLite's 32766 bound variables.
const BATCH_ROWS: usize = 400;

trait PendingRows: Send {
    fn len(&self) -> usize;
    /// The multi-row INSERT for the rows held, which are then gone.
    fn take_statement(&mut self, backend: sea_orm::DbBackend) -> sea_orm::Statement;
    fn as_any(&mut self) -> &mut dyn std::any::Any;
}

struct Rows<A>(Vec<A>);

impl<A: ActiveModelTrait + Send + 'static> PendingRows for Rows<A> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn take_statement(&mut self, backend: sea_orm::DbBackend) -> sea_orm::Statement {
        A::Entity::insert_many(std::mem::take(&mut self.0)).build(backend)
    }
    fn as_any(&mut self) -> &mut dyn std::any::Any {
        self
    }
}

impl Batch {
    async fn push<A, C>(
        &mut self,
        db: &C,
        table: &'static str,
        row: A,
    ) -> Result<(), sea_orm::DbErr>
    where
        A: ActiveModelTrait + Send + 'static,
        C: ConnectionTrait,
    {
        if self.table != table || self.rows.is_none() {
            self.flush(db).await?;
            self.table = table;
            self.rows = Some(Box::new(Rows::<A>(Vec::with_capacity(BATCH_ROWS))));
        }
        let full = {
            let rows = self.rows.as_mut().expect("set above");
            let typed = rows
                .as_any()
                .downcast_mut::<Rows<A>>()
                .expect("one table, one row type");
            typed.0.push(row);
            typed.0.len() >= BATCH_ROWS
        };
        if full {
            self.flush(db).await?;
        }
        Ok(())
    }

    async fn flush<C: ConnectionTrait>(&mut self, db: &C) -> Result<(), sea_orm::DbErr> {
        if let Some(rows) = self.rows.as_mut().filter(|r| r.len() > 0) {
            let statement = rows.take_statement(db.get_database_backend());
            db.execute_raw(statement).await?;
        }
        Ok(())
    }
}

/// Inserts one record with remapped references, or matches it to the row with the same natural
/// key; returns the table name and whether it was matched.
async fn insert_or_match<C: ConnectionTrait>(
    db: &C,
    ids: &mut IdMap,
    batch: &mut Batch,
    record: Record,
) -> Result<(&'static str, bool), sea_orm::DbErr> {
    macro_rules! put {
        ($table:literal, $entity:ident, $model:expr, $existing:expr, |$am:ident| $remap:block) => {{
            // Look for a matching row only where one could exist; the query runs before the
            // record is moved, as it borrows from it.
            let empty = ids.empty.contains($table);
            let candidates = if empty {
                drop($existing);
                Vec::new()
            } else {
                batch.flush(db).await?; // the lookup must see every row written so far
                $existing.await?
            };
            let model = $model;
            let old = model.id;
            if let Some(found) = ids.unclaimed($table, candidates.iter(), |m| m.id) {
                ids.set($table, old, found);
                return Ok(($table, true));
            }
            // Every column is written as it was exported, except the id and the references.
            let mut $am = model.into_active_model().reset_all();
            $am.id = NotSet;
            $remap
            if empty {
                // Nothing to collide with: the row keeps its exported id and waits for a
                // multi-row INSERT, far cheaper per row than a statement each.
                $am.id = Set(old);
                ids.set($table, old, old);
                batch.push(db, $table, $am).await?;
                return Ok(($table, false));
            }
            // `exec` reads back only the new id (`insert` would read the whole row back).
            let inserted = $entity::Entity::insert($am).exec(db).await?;
            ids.set($table, old, inserted.last_insert_id);
            Ok(($table, false))
        }};
    }
    match record {
        Record::Header(_) => Ok(("header", true)),
        Record::Agency(a) => {
            let existing = agencies::Entity::find()
                .filter(match &a.external_id {
                    Some(key) => agencies::Column::ExternalId.eq(key.as_str()),
                    None => agencies::Column::ShortName.eq(a.short_name.as_str()),
                })
                .all(db);
            put!("agency", agencies, a, existing, |am| {
                am.successor_id = Set(ids.opt("agency", *am.successor_id.as_ref()));
            })
        }
        Record::Person(p) => {
            let existing = people::Entity::find()
                .filter(match &p.external_id {
                    Some(key) => people::Column::ExternalId.eq(key.as_str()),
                    None => people::Column::Name
                        .eq(p.name.as_str())
                        .and(people::Column::Post.eq(p.post.as_str())),
                })
                .all(db);
            put!("person", people, p, existing, |am| {
                am.agency_id = Set(ids.opt("agency", *am.agency_id.as_ref()));
            })
        }
        Record::Document(d) => {
            let existing = documents::Entity::find()
                .filter(match &d.external_id {
                    Some(key) => documents::Column::ExternalId.eq(key.as_str()),
                    None => documents::Column::Title.eq(d.title.as_str()),
                })
                .all(db);
            put!("document", documents, d, existing, |_am| {})
        }
        Record::Session(s) => {
            let existing = sessions::Entity::find()
                .filter(sessions::Column::Number.eq(s.number))
                .all(db);
            put!("session", sessions, s, existing, |_am| {})
        }
        Record::Participant(p) => {
            let (session, person) = (
                ids.get("session", p.session_id),
                ids.get("person", p.person_id),
            );
            let existing = session_participants::Entity::find()
                .filter(session_participants::Column::SessionId.eq(session))
                .filter(session_participants::Column::PersonId.eq(person))
                .filter(session_participants::Column::Role.eq(p.role.as_str()))
                .all(db);
            put!("participant", session_participants, p, existing, |am| {
                am.session_id = Set(session);
                am.person_id = Set(person);
            })
        }
        Record::Proposal(p) => {
            let existing = proposals::Entity::find()
                .filter(proposals::Column::Code.eq(p.code.as_str()))
                .all(db);
            put!("proposal", proposals, p, existing, |am| {
                am.session_id = Set(ids.opt("session", *am.session_id.as_ref()));
                am.author_id = Set(ids.opt("person", *am.author_id.as_ref()));
                am.merged_into_id = Set(ids.opt("proposal", *am.merged_into_id.as_ref()));
                am.created_by_user_id = Set(None);
            })
        }
        Record::Cosigner(c) => {
            let (proposal, person) = (
                ids.get("proposal", c.proposal_id),
                ids.get("person", c.person_id),
            );
            let existing = proposal_cosigners::Entity::find()
                .filter(proposal_cosigners::Column::ProposalId.eq(proposal))
                .filter(proposal_cosigners::Column::PersonId.eq(person))
                .all(db);
            put!("cosigner", proposal_cosigners, c, existing, |am| {
                am.proposal_id = Set(proposal);
                am.person_id = Set(person);
            })
        }
        Record::Assignment(a) => {
            let (proposal, agency) = (
                ids.get("proposal", a.proposal_id),
                ids.get("agency", a.agency_id),
            );
            let existing = assignments::Entity::find()
                .filter(assignments::Column::ProposalId.eq(proposal))
                .filter(assignments::Column::AgencyId.eq(agency))
                .filter(assignments::Column::AssignedAt.eq(a.assigned_at))
                .all(db);
            put!("assignment", assignments, a, existing, |am| {
                am.proposal_id = Set(proposal);
                am.agency_id = Set(agency);
            })
        }
        Record::Response(r) => {
            let agency = ids.get("agency", r.agency_id);
            let existing = responses::Entity::find()
                .filter(match &r.external_id {
                    Some(key) => responses::Column::ExternalId.eq(key.as_str()),
                    None => responses::Column::AgencyId
                        .eq(agency)
                        .and(responses::Column::Kind.eq(r.kind.as_str()))
                        .and(responses::Column::BodyMd.eq(r.body_md.as_str())),
                })
                .all(db);
            put!("response", responses, r, existing, |am| {
                am.agency_id = Set(agency);
                am.responder_id = Set(ids.opt("person", *am.responder_id.as_ref()));
                am.document_id = Set(ids.opt("document", *am.document_id.as_ref()));
                am.created_by_user_id = Set(None);
            })
        }
        Record::ResponseLink(l) => {
            let (response, proposal) = (
                ids.get("response", l.response_id),
                ids.get("proposal", l.proposal_id),
            );
            let existing = response_proposals::Entity::find()
                .filter(response_proposals::Column::ResponseId.eq(response))
                .filter(response_proposals::Column::ProposalId.eq(proposal))
                .all(db);
            put!("response_link", response_proposals, l, existing, |am| {
                am.response_id = Set(response);
                am.proposal_id = Set(proposal);
            })
        }
        Record::DocumentLink(l) => {
            let (document, proposal) = (
                ids.get("document", l.document_id),
                ids.get("proposal", l.proposal_id),
            );
            let existing = document_links::Entity::find()
                .filter(document_links::Column::DocumentId.eq(document))
                .filter(document_links::Column::ProposalId.eq(proposal))
                .all(db);
            put!("document_link", document_links, l, existing, |am| {
                am.document_id = Set(document);
                am.proposal_id = Set(proposal);
            })
        }
        Record::Commitment(c) => {
            let agency = ids.get("agency", c.agency_id);
            let existing = commitments::Entity::find()
                .filter(match &c.external_id {
                    Some(key) => commitments::Column::ExternalId.eq(key.as_str()),
                    None => commitments::Column::AgencyId
                        .eq(agency)
                        .and(commitments::Column::Metric.eq(c.metric.as_str()))
                        .and(commitments::Column::Description.eq(c.description.as_str())),
                })
                .all(db);
            put!("commitment", commitments, c, existing, |am| {
                am.agency_id = Set(agency);
                am.proposal_id = Set(ids.opt("proposal", *am.proposal_id.as_ref()));
                am.response_id = Set(ids.opt("response", *am.response_id.as_ref()));
                am.document_id = Set(ids.opt("document", *am.document_id.as_ref()));
            })
        }
        Record::Report(r) => {
            let commitment = ids.get("commitment", r.commitment_id);
            let mut query = commitment_reports::Entity::find()
                .filter(commitment_reports::Column::CommitmentId.eq(commitment))
                .filter(commitment_reports::Column::Value.eq(r.value));
            query = match r.reported_on {
                Some(day) => query.filter(commitment_reports::Column::ReportedOn.eq(day)),
                None => query.filter(commitment_reports::Column::ReportedOn.is_null()),
            };
            let existing = query.all(db);
            put!("report", commitment_reports, r, existing, |am| {
                am.commitment_id = Set(commitment);
                am.document_id = Set(ids.opt("document", *am.document_id.as_ref()));
            })
        }
        Record::Event(e) => {
            let proposal = ids.get("proposal", e.proposal_id);
            let existing = timeline_events::Entity::find()
                .filter(timeline_events::Column::ProposalId.eq(proposal))
                .filter(timeline_events::Column::OccurredAt.eq(e.occurred_at))
                .filter(timeline_events::Column::Action.eq(e.action.as_str()))
                .all(db);
            put!("event", timeline_events, e, existing, |am| {
                am.proposal_id = Set(proposal);
                am.actor_user_id = Set(None);
            })
        }
        Record::Evaluation(e) => {
            let (proposal, person) = (
                ids.get("proposal", e.proposal_id),
                ids.get("person", e.person_id),
            );
            let existing = evaluations::Entity::find()
                .filter(evaluations::Column::ProposalId.eq(proposal))
                .filter(evaluations::Column::PersonId.eq(person))
                .filter(evaluations::Column::CreatedAt.eq(e.created_at))
                .all(db);
            put!("evaluation", evaluations, e, existing, |am| {
                am.proposal_id = Set(proposal);
                am.person_id = Set(person);
                am.response_id = Set(ids.opt("response", *am.response_id.as_ref()));
            })
        }
        Record::File(_) => Ok(("file", true)),
        Record::Attachment(a) => {
            // `validate` has checked the kind and that the owner came earlier.
            let owner = ids.get(owner_record(&a.owner_kind).unwrap_or_default(), a.owner_id);
            let existing = attachments::Entity::find()
                .filter(attachments::Column::OwnerKind.eq(a.owner_kind.as_str()))
                .filter(attachments::Column::OwnerId.eq(owner))
                .filter(attachments::Column::Sha256.eq(a.sha256.as_str()))
                .filter(attachments::Column::Name.eq(a.name.as_str()))
                .all(db);
            put!("attachment", attachments, a, existing, |am| {
                am.owner_id = Set(owner);
                am.uploaded_by_user_id = Set(None);
                // The text and thumbnail are made again here by the attachments worker.
                am.extraction = Set("pending".to_owned());
                am.leased_until = Set(None);
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_ids_hold_any_id_and_say_which_were_new() {
        let mut ids: DenseIds<i32> = DenseIds::default();
        for (id, new) in [
            (1, 10),
            (2, 20),
            (-5, 30),
            (0, 40),
            (i32::MAX, 50),
            (3_000_000, 60),
        ] {
            assert!(ids.insert(id, new), "{id} is new");
        }
        assert!(!ids.insert(2, 21), "2 was there");
        assert_eq!(
            [1, 2, -5, 0, i32::MAX, 3_000_000, 4].map(|id| ids.get(id)),
            [
                Some(10),
                Some(21),
                Some(30),
                Some(40),
                Some(50),
                Some(60),
                None
            ]
        );
        // Far ids went to the map: the vector holds only the dense run.
        assert!(ids.dense.len() < 1 << 18, "{}", ids.dense.len());
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let text = format!(
            "{}\nnot json\n\n{}\n",
            Record::Header(Header {
                format: FORMAT.into(),
                version: VERSION,
                exported_at: chrono::Utc::now(),
            })
            .line()
            .trim_end(),
            r#"{"type":"unknown","row":{}}"#
        );
        let checked = check_source(Source::Text(&text)).unwrap();
        assert_eq!(
            checked.errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![2, 4]
        );
    }

    #[test]
    fn a_file_without_a_header_is_refused() {
        let checked = check_source(Source::Text("")).unwrap();
        assert_eq!(checked.errors[0].line, 1);
    }

    #[test]
    fn a_file_on_disk_is_checked_as_its_text_would_be() {
        let text = format!(
            "{}\n{{\"type\":\"agency\"}}\n",
            Record::Header(Header {
                format: FORMAT.into(),
                version: VERSION,
                exported_at: chrono::Utc::now(),
            })
            .line()
            .trim_end()
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(&path, &text).unwrap();
        let (from_text, from_file) = (
            check_source(Source::Text(&text)).unwrap(),
            check_source(Source::File(&path)).unwrap(),
        );
        assert_eq!(from_text.errors, from_file.errors);
        assert_eq!(from_text.records, from_file.records);
        assert!(check_source(Source::File(&dir.path().join("missing"))).is_err());
    }
}
