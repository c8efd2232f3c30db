//! The public shapes of the JSON API, kept apart from the page views so that the contract (field
//! names, ISO-8601 dates, stored vocabulary values) does not change when a page does. The OpenAPI
//! document is generated from these types.
use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::followup::commitments::CommitmentView;
use crate::followup::timeline::EventView;
use crate::proposals::service::ProposalSummary;
use crate::responses::service::ResponseView;

/// Figures counted from item states (see `/statistics`); the domain type is the API type.
pub use crate::statistics::Tally as Statistics;

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionItem {
    pub number: i32,
    pub topic: String,
    pub held_on: NaiveDate,
    pub organisers: Vec<String>,
    pub proposal_count: usize,
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Participant {
    pub person_id: i32,
    pub name: String,
    #[schema(value_type = crate::directory::PersonKind)]
    pub role: String,
    /// The post as the source printed it.
    pub post: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MediaLink {
    pub label: String,
    pub url: Option<String>,
    pub document_id: Option<i32>,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionDetail {
    pub number: i32,
    pub topic: String,
    pub held_on: NaiveDate,
    pub venue: Option<String>,
    pub organisers: Vec<String>,
    pub summary_md: String,
    pub participants: Vec<Participant>,
    pub media: Vec<MediaLink>,
    pub proposals: Vec<ProposalItem>,
    pub commitments: Vec<Commitment>,
    pub follow_up: Statistics,
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalItem {
    pub code: String,
    pub title: String,
    #[schema(value_type = crate::workflow::ProposalStatus)]
    pub status: String,
    pub status_label: String,
    #[schema(value_type = crate::workflow::Channel)]
    pub channel: String,
    pub channel_label: String,
    pub session_number: Option<i32>,
    pub author_id: Option<i32>,
    pub author: Option<String>,
    pub topics: Vec<String>,
    pub responding_agencies: Vec<String>,
    /// Published responses (an agency may answer several times).
    pub response_count: usize,
    pub url: String,
}

impl From<ProposalSummary> for ProposalItem {
    fn from(p: ProposalSummary) -> Self {
        Self {
            url: crate::web::paths::proposal(&p.code),
            code: p.code,
            title: p.title,
            status: p.status.value.to_owned(),
            status_label: p.status.label.to_owned(),
            channel: p.channel.to_owned(),
            channel_label: p.channel_label.to_owned(),
            session_number: p.session_number,
            author_id: p.author_id,
            author: p.author_name,
            topics: p.topics,
            responding_agencies: p.responding_agencies,
            response_count: p.response_count,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Response {
    pub id: i32,
    #[schema(value_type = crate::workflow::ResponseKind)]
    pub kind: String,
    pub agency_id: i32,
    pub agency: String,
    pub responder: Option<String>,
    pub body_md: String,
    pub doc_number: Option<String>,
    /// Written replies only.
    #[schema(value_type = Option<crate::workflow::Grade>)]
    pub grade: Option<String>,
    pub grade_label: Option<String>,
    pub responded_on: Option<NaiveDate>,
    pub source_quote: Option<String>,
}

impl From<ResponseView> for Response {
    fn from(r: ResponseView) -> Self {
        Self {
            id: r.id,
            kind: r.kind.to_owned(),
            agency_id: r.agency_id,
            agency: r.agency_name,
            responder: r.responder_name,
            body_md: r.body_md,
            doc_number: r.doc_number,
            grade: r.grade.map(str::to_owned),
            grade_label: r.grade_label.map(str::to_owned),
            responded_on: r.responded_on,
            source_quote: r.source_quote,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Report {
    pub value: f64,
    pub reported_on: Option<NaiveDate>,
    pub period_label: Option<String>,
    pub note: Option<String>,
    pub document_id: Option<i32>,
    pub source_quote: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Commitment {
    pub id: i32,
    pub description: String,
    pub metric: String,
    pub unit: String,
    pub baseline: Option<f64>,
    pub target_value: f64,
    #[schema(value_type = crate::followup::commitments::Comparison)]
    pub comparison: String,
    pub target_date: Option<NaiveDate>,
    pub agency_id: i32,
    pub agency: String,
    pub proposal_code: Option<String>,
    pub document_id: Option<i32>,
    /// Derived from the reports and the target date.
    #[schema(value_type = crate::followup::CommitmentStatus)]
    pub status: String,
    pub latest_actual: Option<f64>,
    pub source_quote: Option<String>,
    pub reports: Vec<Report>,
}

impl From<CommitmentView> for Commitment {
    fn from(c: CommitmentView) -> Self {
        Self {
            id: c.id,
            description: c.description,
            metric: c.metric,
            unit: c.unit,
            baseline: c.baseline,
            target_value: c.target_value,
            comparison: c.comparison.as_str().to_owned(),
            target_date: c.target_date,
            agency_id: c.agency_id,
            agency: c.agency_name,
            proposal_code: c.proposal_code,
            document_id: c.document_id,
            status: c.status.as_str().to_owned(),
            latest_actual: c.latest_actual,
            source_quote: c.source_quote,
            reports: c
                .reports
                .into_iter()
                .map(|r| Report {
                    value: r.value,
                    reported_on: r.reported_on,
                    period_label: r.period_label,
                    note: r.note,
                    document_id: r.document_id,
                    source_quote: r.source_quote,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Event {
    /// ISO-8601; `precision` says how much of it the record supports (exact, day, month, year).
    pub occurred_at: String,
    pub precision: String,
    #[schema(value_type = crate::workflow::TimelineAction)]
    pub action: String,
    pub actor: String,
    #[schema(value_type = Option<crate::workflow::ProposalStatus>)]
    pub from_status: Option<String>,
    #[schema(value_type = Option<crate::workflow::ProposalStatus>)]
    pub to_status: Option<String>,
    pub note: Option<String>,
}

impl From<EventView> for Event {
    fn from(e: EventView) -> Self {
        Self {
            occurred_at: e.occurred_at,
            precision: e.precision,
            action: e.action,
            actor: e.actor_label,
            from_status: e.from_status,
            to_status: e.to_status,
            note: e.note,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Assignment {
    pub agency_id: i32,
    pub agency: String,
    #[schema(value_type = crate::workflow::AssignmentRole)]
    pub role: String,
    /// 主办 or 协办.
    pub role_label: String,
    /// active or completed (returned assignments are not public).
    pub state: String,
    pub due_on: NaiveDate,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProposalDetail {
    pub code: String,
    pub title: String,
    #[schema(value_type = crate::workflow::ProposalStatus)]
    pub status: String,
    pub status_label: String,
    #[schema(value_type = crate::workflow::Channel)]
    pub channel: String,
    pub session_number: Option<i32>,
    pub author_id: Option<i32>,
    pub author: Option<String>,
    pub cosigners: Vec<String>,
    pub topics: Vec<String>,
    pub body_md: String,
    /// The day it was submitted, in China time.
    pub submitted_on: Option<NaiveDate>,
    /// How precisely the record knows it: exact (then `submitted_at` has the moment), day, month
    /// or year (the sources give some dates only to the month).
    pub submitted_precision: Option<String>,
    /// The moment, only when the record knows it (`submitted_precision` = exact).
    pub submitted_at: Option<DateTime<FixedOffset>>,
    pub due_on: Option<NaiveDate>,
    pub supervised: bool,
    pub clock_paused_since: Option<NaiveDate>,
    pub assignments: Vec<Assignment>,
    pub responses: Vec<Response>,
    pub commitments: Vec<Commitment>,
    pub timeline: Vec<Event>,
    pub url: String,
    /// Something shown here (the proposal, a reply, a commitment) was corrected after
    /// publication; `history_url` lists every correction with the text before and after.
    pub corrected: bool,
    pub history_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Agency {
    pub id: i32,
    pub short_name: String,
    pub full_name: String,
    #[schema(value_type = crate::agencies::AgencyKind)]
    pub kind: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    /// Counted over the proposals assigned to it (as lead or co-handling agency).
    pub statistics: Statistics,
    /// Public proposals it answered (any published response), assigned or not: at a session an
    /// agency answers on the spot without an assignment, so this can exceed
    /// `statistics.proposals`.
    pub answered_proposals: u64,
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct YearStatistics {
    pub year: i32,
    pub statistics: Statistics,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgencyDetail {
    #[serde(flatten)]
    pub agency: Agency,
    pub by_year: Vec<YearStatistics>,
    pub commitments: Vec<Commitment>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Person {
    pub id: i32,
    pub name: String,
    #[schema(value_type = crate::directory::PersonKind)]
    pub kind: String,
    pub post: String,
    pub agency_id: Option<i32>,
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Document {
    pub id: i32,
    #[schema(value_type = crate::documents::DocumentKind)]
    pub kind: String,
    pub issuer: String,
    pub title: String,
    pub published_on: Option<NaiveDate>,
    pub doc_number: Option<String>,
    pub source_url: Option<String>,
    pub url: String,
}

/// A proposal pushed in through an intake channel (12345 hotline, 青诉即办 …).
#[derive(Debug, Deserialize, ToSchema)]
pub struct IntakeRequest {
    /// hotline_12345, qingsu, sanmin or direct (sessions' proposals come from members).
    #[schema(pattern = "^(hotline_12345|qingsu|sanmin|direct)$")]
    pub channel: String,
    /// The sending system's ticket number; a repeated push with the same number and content
    /// changes nothing, with other content it is a 409.
    #[schema(pattern = "^[A-Za-z0-9._:/-]{1,64}$")]
    pub external_id: String,
    /// At most 300 bytes of UTF-8 (100 Chinese characters).
    #[schema(min_length = 1, max_length = 100)]
    pub title: String,
    /// Markdown, at most 100 KB.
    #[schema(min_length = 1, max_length = 25000)]
    pub body_md: String,
    /// At most 20 topics of at most 50 characters each.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub topics: Vec<String>,
    /// Who called or wrote in. Never published, never exported: kept for the secretariat, and the
    /// text is checked for this name so that it can be hidden where it appears.
    #[serde(default)]
    pub caller: Option<Caller>,
}

/// The private person behind an intake item.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct Caller {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeResult {
    pub code: String,
    pub status: String,
    /// False when this ticket number had been received before.
    pub created: bool,
    pub url: String,
    /// Pieces of possible personal information found in the title and text: the secretariat
    /// reviews them before the item can be accepted into the public record.
    pub personal_info_findings: usize,
}

/// What an assigned agency posts on a proposal.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResponseRequest {
    /// co_opinion (co-handling agency), progress, or written (the lead agency's written reply).
    #[schema(pattern = "^(co_opinion|progress|written)$")]
    pub kind: String,
    #[schema(min_length = 1, max_length = 25000)]
    pub body_md: String,
    /// For written replies: the reply's document number.
    #[serde(default)]
    pub doc_number: String,
    /// Required for written replies.
    #[serde(default)]
    #[schema(value_type = Option<crate::workflow::Grade>)]
    pub grade: Option<String>,
    /// For written replies: an optional measurable commitment.
    #[serde(default)]
    pub commitment: Option<CommitmentRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CommitmentRequest {
    pub description: String,
    pub metric: String,
    pub unit: String,
    pub target_value: f64,
    pub target_date: Option<NaiveDate>,
}

/// The secretariat's decision on a submitted item.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DecisionRequest {
    /// accept (立案) or reject (不予立案).
    #[schema(pattern = "^(accept|reject)$")]
    pub action: String,
    /// Required when rejecting.
    #[serde(default)]
    pub reason: String,
}

/// A workflow step on a proposal, named by `action`; the same commands, permissions and state
/// machine as the forms. Replies and reports have their own endpoints (`responses`, `decision`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ActionRequest {
    /// 交办 (secretariat): the lead agency, co-handling agencies and the reply deadline.
    Assign {
        lead_agency_id: i32,
        #[serde(default)]
        co_agency_ids: Vec<i32>,
        due_on: NaiveDate,
    },
    /// 退回交办 (the assigned agency): not ours to handle, with the reason.
    Return { reason: String },
    /// 延长期限 (secretariat).
    Extend { due_on: NaiveDate, reason: String },
    /// 暂停计时 (secretariat): waiting on the member.
    Pause { reason: String },
    /// 恢复计时 (secretariat): the due date moves by the paused time.
    Resume {
        #[serde(default)]
        note: String,
    },
    /// 委员评价 (the author): of the written reply.
    Rate {
        rating: crate::workflow::Rating,
        #[serde(default)]
        comment: String,
    },
    /// 重新办理 (secretariat).
    Reopen { reason: String },
    /// 督办 on or off (secretariat).
    Supervise {
        on: bool,
        #[serde(default)]
        reason: String,
    },
    /// 并案 (secretariat): into another proposal.
    Merge { into_code: String, reason: String },
    /// 撤回 (the author).
    Withdraw,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActionResult {
    pub code: String,
    pub status: String,
    pub url: String,
}

/// A reported actual for a commitment.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ReportRequest {
    pub value: f64,
    pub reported_on: NaiveDate,
    /// Where the figure comes from (a report, a news release …); at most 2,000 bytes, and no
    /// private person's details.
    #[schema(min_length = 1, max_length = 500)]
    pub source: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportResult {
    pub commitment_id: i32,
    pub status: String,
    pub latest_actual: Option<f64>,
}

/// The error document, written by `web::errors`.
pub use crate::web::errors::Problem;

/// One field of a correction: the published text before and after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectedField {
    pub field: crate::versions::Field,
    pub field_label: &'static str,
    pub before: String,
    pub after: String,
}

/// A correction of published text: who made it, when and why, and what changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrectionItem {
    pub id: i32,
    /// What was corrected: the proposal itself, one of its replies or commitments, a session.
    pub kind: crate::versions::TargetKind,
    pub kind_label: &'static str,
    pub target_id: i32,
    pub reason: String,
    /// The editor's name and organisation as published.
    pub editor: String,
    pub made_at: chrono::DateTime<chrono::FixedOffset>,
    pub fields: Vec<CorrectedField>,
}

impl From<crate::versions::CorrectionView> for CorrectionItem {
    fn from(c: crate::versions::CorrectionView) -> Self {
        Self {
            id: c.id,
            kind: c.kind,
            kind_label: c.kind_label,
            target_id: c.target_id,
            reason: c.reason,
            editor: c.editor,
            made_at: c.made_at,
            fields: c
                .fields
                .into_iter()
                .map(|f| CorrectedField {
                    field: f.field,
                    field_label: f.label,
                    before: f.before,
                    after: f.after,
                })
                .collect(),
        }
    }
}
