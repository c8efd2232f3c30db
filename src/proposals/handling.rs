//! Applying workflow commands. [`apply`] is the only code that changes a proposal's status: in one
//! transaction it loads the proposal, asks `workflow::decide` (permission + state machine), checks
//! the form was not stale, writes the command's effects (assignments, responses, commitments,
//! evaluations), the new status, the timeline event, notifications and the search outbox row.
use chrono::{DateTime, NaiveDate, Utc};
use entity::{assignments, commitments, evaluations, proposals, response_proposals, responses};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder,
};

use crate::accounts::policy::{self, ActiveAssignment};
use crate::accounts::Actor;
use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::followup::deadlines;
use crate::followup::timeline::{self, NewEvent};
use crate::notifications::{notify, Audience, Kind, Notice};
use crate::privacy::store::ItemKind;
use crate::time::Precision;
use crate::web::form::{check_text, MAX_BODY_BYTES};
use crate::workflow::{
    decide, AssignmentRole, AssignmentState, Command, Facts, Grade, NewCommitment, ProposalStatus,
    Rating, Relation, ResponseKind, WorkflowError,
};

/// A submitted draft's text on its way to the secretariat: a value hidden from the record (an
/// erasure request) is hidden again, and what is left is checked for personal information, its
/// findings held for review before the proposal can be accepted.
async fn screen_submitted_text<C: ConnectionTrait>(txn: &C, id: i32) -> AppResult<()> {
    crate::redaction::service::apply_rules_to(txn, ItemKind::Proposal, id).await?;
    let proposal = proposals::Entity::find_by_id(id)
        .one(txn)
        .await?
        .ok_or(AppError::NotFound)?;
    for (field, text) in [("title", &proposal.title), ("body_md", &proposal.body_md)] {
        crate::privacy::store::record(txn, ItemKind::Proposal, id, field, text, &[]).await?;
    }
    Ok(())
}

pub fn stale() -> AppError {
    AppError::Conflict("此建议刚被他人更新,您的操作未保存。请刷新页面查看最新状态后再试。".into())
}

impl From<WorkflowError> for AppError {
    fn from(err: WorkflowError) -> Self {
        match err {
            WorkflowError::NotPermitted => AppError::Forbidden,
            bad_input if bad_input.is_bad_input() => AppError::BadRequest(bad_input.message()),
            refused => AppError::Conflict(refused.message()),
        }
    }
}

/// Everything `apply` needs to know about the proposal and its active assignments, and what the
/// workflow's guards need (`facts`).
pub struct Loaded {
    pub proposal: proposals::Model,
    pub status: ProposalStatus,
    pub assignments: Vec<assignments::Model>,
    pub relation: Relation,
    pub facts: Facts,
}

/// Loads the proposal as `actor` sees it (not found if they may not see it).
pub async fn load<C: ConnectionTrait>(
    db: &C,
    config: &Config,
    actor: Option<&Actor>,
    proposal_id: i32,
) -> AppResult<Loaded> {
    let proposal = proposals::Entity::find_by_id(proposal_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let status = ProposalStatus::parse(&proposal.status)
        .ok_or_else(|| anyhow::anyhow!("bad status {}", proposal.status))?;
    let assignments = assignments::Entity::find()
        .filter(assignments::Column::ProposalId.eq(proposal_id))
        .filter(assignments::Column::State.eq(AssignmentState::Active.as_str()))
        .order_by_asc(assignments::Column::Id)
        .all(db)
        .await?;
    let active: Vec<ActiveAssignment> = assignments
        .iter()
        .filter_map(|a| AssignmentRole::parse(&a.role).map(|role| (a.agency_id, role)))
        .collect();
    let relation = policy::relation(actor, proposal.author_id, &active);
    if !policy::can_see(relation, status, proposal.published) {
        return Err(AppError::NotFound);
    }
    let facts = facts(db, config, actor, &proposal, status, relation, &assignments).await?;
    Ok(Loaded {
        proposal,
        status,
        assignments,
        relation,
        facts,
    })
}

/// The facts the workflow's guards read, gathered only where they can matter (the co-handling
/// opinions for the lead agency while a reply is possible, unreviewed personal information for
/// the secretariat while it may accept, the draft's completeness for its author).
async fn facts<C: ConnectionTrait>(
    db: &C,
    config: &Config,
    actor: Option<&Actor>,
    proposal: &proposals::Model,
    status: ProposalStatus,
    relation: Relation,
    assignments: &[assignments::Model],
) -> AppResult<Facts> {
    let own = actor
        .and_then(|a| a.agency_id)
        .and_then(|agency| assignments.iter().find(|a| a.agency_id == agency));
    let mut facts = Facts {
        paused: proposal.paused_on.is_some(),
        days_since_assigned: own
            .map(|a| (crate::time::today() - a.assigned_at.date_naive()).num_days()),
        return_window_days: config.return_window_days,
        ..Facts::default()
    };
    let reply_possible = matches!(
        status,
        ProposalStatus::Assigned | ProposalStatus::Rehandling
    );
    if relation == Relation::LeadAgency && reply_possible {
        let co: Vec<_> = assignments
            .iter()
            .filter(|a| a.role == AssignmentRole::Co.as_str())
            .map(|a| (a.agency_id, a.assigned_at))
            .collect();
        let missing = crate::responses::write::without_co_opinion(db, proposal.id, &co).await?;
        if !missing.is_empty() {
            let names = crate::directory::agency_short_names(db, missing).await?;
            facts.missing_co_opinions = names.into_values().collect();
        }
    }
    if relation == Relation::Secretariat && status == ProposalStatus::Submitted {
        facts.unreviewed_personal_info = crate::privacy::store::unreviewed(
            db,
            crate::privacy::store::ItemKind::Proposal,
            proposal.id,
        )
        .await?;
    }
    if relation == Relation::Author && status == ProposalStatus::Draft {
        facts.draft_problems = super::drafts::validate(&super::drafts::DraftInput {
            title: proposal.title.clone(),
            body_md: proposal.body_md.clone(),
            ..Default::default()
        });
    }
    Ok(facts)
}

fn required(label: &str, text: &str) -> AppResult<()> {
    check_text(label, text, MAX_BODY_BYTES, true).map_err(AppError::BadRequest)
}

/// Applies `command` to the proposal as `actor`, if the form's `expected_version` is current.
pub async fn apply(
    db: &DatabaseConnection,
    config: &Config,
    actor: &Actor,
    proposal_id: i32,
    expected_version: i32,
    command: Command,
) -> AppResult<ProposalStatus> {
    apply_with_files(
        db,
        config,
        actor,
        proposal_id,
        expected_version,
        command,
        Vec::new(),
    )
    .await
}

/// [`apply`] for a command that writes a reply (a written reply, a progress report, a
/// co-handling opinion), with files for it (already checked and stored,
/// `attachments::service::prepare`): the reply and its attachments are written in one
/// transaction, or neither. Files with any other command are refused.
pub async fn apply_with_files(
    db: &DatabaseConnection,
    config: &Config,
    actor: &Actor,
    proposal_id: i32,
    expected_version: i32,
    command: Command,
    files: Vec<crate::attachments::service::Stored>,
) -> AppResult<ProposalStatus> {
    for (label, date) in command.dates() {
        crate::time::check_record_date(date, label).map_err(AppError::BadRequest)?;
    }
    let txn = crate::db::begin_write(db).await?;
    let loaded = load(&txn, config, Some(actor), proposal_id).await?;
    let to = decide(loaded.status, loaded.relation, &loaded.facts, &command)?;
    if loaded.proposal.version != expected_version {
        return Err(stale());
    }
    let now = Utc::now();
    let today = crate::time::today();
    let mut effects = Effects::new(&txn, config, actor, &loaded, now, today);
    let note = effects.run(&command, to).await?;
    if !files.is_empty() {
        let reply = effects
            .response_id
            .ok_or_else(|| AppError::bad_request("只有答复、进展通报和协办意见可以附带文件。"))?;
        let target = crate::attachments::service::Target {
            kind: crate::files::OwnerKind::Response,
            id: reply,
            return_to: String::new(),
        };
        crate::attachments::service::insert_rows(&txn, config, actor, &target, files, "api")
            .await?
            .map_err(AppError::Unprocessable)?;
    }
    let internal = matches!(
        command,
        Command::Withdraw | Command::Reject { .. } | Command::Return { .. }
    );
    // A public timeline note is published as written (a reply's own text is held for review
    // in `responses::write` instead); the transaction is dropped, so nothing is written.
    if let (false, Some(note)) = (internal, &note) {
        crate::privacy::refuse_personal("说明", note).map_err(AppError::BadRequest)?;
    }

    let mut update = proposals::Entity::update_many()
        .col_expr(proposals::Column::Status, Expr::value(to.as_str()))
        .col_expr(
            proposals::Column::Version,
            Expr::value(expected_version + 1),
        )
        .col_expr(
            proposals::Column::UpdatedAt,
            Expr::value(now.fixed_offset()),
        );
    for (column, value) in effects.proposal_changes {
        update = update.col_expr(column, value);
    }
    let result = update
        .filter(proposals::Column::Id.eq(proposal_id))
        .filter(proposals::Column::Version.eq(expected_version))
        .exec(&txn)
        .await?;
    if result.rows_affected != 1 {
        return Err(stale());
    }
    if matches!(command, Command::Submit) {
        screen_submitted_text(&txn, proposal_id).await?;
    }

    timeline::append(
        &txn,
        NewEvent {
            proposal_id,
            occurred_at: now,
            precision: Precision::Exact,
            actor_user_id: Some(actor.user_id),
            actor_label: &actor_label(&txn, actor).await?,
            action: command.timeline_action(),
            from_status: Some(loaded.status),
            to_status: (to != loaded.status).then_some(to),
            note,
            public: !internal,
            source_file: None,
            source_quote: None,
        },
    )
    .await?;
    crate::search::outbox::enqueue(&txn, crate::search::documents::PROPOSAL, proposal_id).await?;
    // Members' and agencies' steps are not in the audit log (the timeline records them), so the
    // public pages' revision is bumped here for every command: a step changes this proposal's
    // page and its session's, or none while the proposal is not public (a draft submitted); a
    // merge also changes the target's, so it may change anything.
    if matches!(command, Command::Merge { .. }) {
        crate::revision::bump(&txn).await?;
    } else if loaded.status.is_public() || to.is_public() {
        crate::revision::bump_proposal_pages(&txn, &loaded.proposal).await?;
    } else {
        crate::revision::bump_pages(&txn, &[]).await?;
    }
    if actor.is_secretariat() {
        let detail = format!("{} → {}", loaded.status.as_str(), to.as_str());
        crate::audit::record(
            &txn,
            Some(actor),
            command.kind().as_str(),
            Some(loaded.proposal.code.clone()),
            Some(detail),
            None,
        )
        .await?;
    }
    txn.commit().await?;
    Ok(to)
}

/// "市科技局 张三" for agency staff, the display name otherwise.
async fn actor_label(txn: &DatabaseTransaction, actor: &Actor) -> AppResult<String> {
    if let Some(agency) = actor.agency_id {
        let names = crate::directory::agency_short_names(txn, vec![agency]).await?;
        if let Some(name) = names.get(&agency) {
            return Ok(format!("{name} {}", actor.display_name));
        }
    }
    Ok(format!("{}({})", actor.display_name, actor.role.label()))
}

/// The effects of one command, collected while they are written.
struct Effects<'a> {
    txn: &'a DatabaseTransaction,
    config: &'a Config,
    actor: &'a Actor,
    loaded: &'a Loaded,
    now: DateTime<Utc>,
    today: NaiveDate,
    proposal_changes: Vec<(proposals::Column, sea_orm::sea_query::SimpleExpr)>,
    /// The reply the command wrote, if it wrote one (its files go with it).
    response_id: Option<i32>,
}

impl<'a> Effects<'a> {
    fn new(
        txn: &'a DatabaseTransaction,
        config: &'a Config,
        actor: &'a Actor,
        loaded: &'a Loaded,
        now: DateTime<Utc>,
        today: NaiveDate,
    ) -> Self {
        Self {
            txn,
            config,
            actor,
            loaded,
            now,
            today,
            proposal_changes: Vec::new(),
            response_id: None,
        }
    }

    fn set(&mut self, column: proposals::Column, value: impl Into<sea_orm::Value>) {
        self.proposal_changes
            .push((column, Expr::value(value.into())));
    }

    /// Sets a new due date on the proposal and its active assignments.
    async fn move_due_date(&mut self, due: NaiveDate) -> AppResult<()> {
        assignments::Entity::update_many()
            .col_expr(assignments::Column::DueOn, Expr::value(due))
            .filter(assignments::Column::ProposalId.eq(self.id()))
            .filter(assignments::Column::State.eq(AssignmentState::Active.as_str()))
            .exec(self.txn)
            .await?;
        self.set(proposals::Column::DueOn, due);
        Ok(())
    }

    /// The reply period of this proposal's intake channel.
    fn period(&self) -> deadlines::Period {
        self.config
            .reply_periods
            .period_for(&self.loaded.proposal.channel)
    }

    /// A new reply deadline counted from today on the secretariat's working calendar.
    async fn reply_due(&self) -> AppResult<NaiveDate> {
        let calendar = deadlines::load_calendar(self.txn).await?;
        Ok(deadlines::reply_due(self.today, self.period(), &calendar))
    }

    fn id(&self) -> i32 {
        self.loaded.proposal.id
    }

    fn title(&self) -> &str {
        &self.loaded.proposal.title
    }

    async fn tell(&self, audience: Audience<'_>, kind: Kind, message: String) -> AppResult<()> {
        notify(
            self.txn,
            self.config,
            audience,
            Some(self.actor.user_id),
            Notice {
                proposal_id: Some(self.id()),
                kind,
                message: &message,
            },
        )
        .await
    }

    async fn tell_author(&self, kind: Kind, message: String) -> AppResult<()> {
        match self.loaded.proposal.author_id {
            Some(author) => self.tell(Audience::Person(author), kind, message).await,
            None => Ok(()),
        }
    }

    fn assigned_agencies(&self) -> Vec<i32> {
        self.loaded
            .assignments
            .iter()
            .map(|a| a.agency_id)
            .collect()
    }

    fn own_assignment(&self) -> AppResult<&assignments::Model> {
        self.loaded
            .assignments
            .iter()
            .find(|a| Some(a.agency_id) == self.actor.agency_id)
            .ok_or(AppError::Forbidden)
    }

    /// Writes the command's effects and returns the timeline note: one method per command.
    async fn run(&mut self, command: &Command, to: ProposalStatus) -> AppResult<Option<String>> {
        match command {
            Command::Submit => self.submit().await,
            Command::Withdraw => self.withdraw().await,
            Command::Accept => self.accept().await,
            Command::Reject { reason } => self.reject(reason).await,
            Command::Merge { into_code, reason } => self.merge(into_code, reason).await,
            Command::Assign { lead, co, due_on } => self.assign(*lead, co, *due_on).await,
            Command::Return { reason } => self.return_assignment(reason, to).await,
            Command::CoOpinion { body } => self.co_opinion(body).await,
            Command::Progress { kind, body } => self.progress(kind, body).await,
            Command::Reply {
                body,
                doc_number,
                grade,
                commitment,
            } => self.reply(body, doc_number, grade, commitment).await,
            Command::Rate { rating, comment } => self.rate(*rating, comment, to).await,
            Command::Reopen { reason } => self.reopen(reason).await,
            Command::Supervise { on, reason } => self.supervise(on, reason).await,
            Command::Pause { reason } => self.pause(reason).await,
            Command::Resume { note } => self.resume(note).await,
            Command::Extend { due_on, reason } => self.extend(due_on, reason).await,
        }
    }

    async fn submit(&mut self) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        // The text is screened for personal information after the version-checked update
        // (`screen_submitted_text`): a redaction rule rewriting it moves the version on.
        self.set(proposals::Column::SubmittedAt, self.now.fixed_offset());
        self.tell(
            Audience::Secretariat,
            Kind::Submitted,
            format!("新建议待审查:{title}"),
        )
        .await?;
        Ok(None)
    }

    async fn withdraw(&mut self) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        self.tell(
            Audience::Secretariat,
            Kind::Withdrawn,
            format!("委员撤回了建议:{title}"),
        )
        .await?;
        Ok(None)
    }

    async fn accept(&mut self) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        self.set(proposals::Column::AcceptedAt, self.now.fixed_offset());
        self.set(proposals::Column::Published, true);
        self.tell_author(Kind::Decision, format!("您的建议已立案:{title}"))
            .await?;
        Ok(None)
    }

    async fn reject(&mut self, reason: &str) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        required("不予立案理由", reason)?;
        self.set(proposals::Column::DecisionReason, reason.to_owned());
        self.tell_author(
            Kind::Decision,
            format!("您的建议不予立案:{title}。理由:{reason}"),
        )
        .await?;
        Ok(Some(reason.to_owned()))
    }

    async fn merge(&mut self, into_code: &str, reason: &str) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        required("并案理由", reason)?;
        let target = proposals::Entity::find()
            .filter(proposals::Column::Code.eq(into_code.trim()))
            .filter(merge_targets(self.id()))
            .one(self.txn)
            .await?
            .ok_or_else(|| AppError::BadRequest(format!("找不到可以并入的建议“{into_code}”。")))?;
        self.set(proposals::Column::MergedIntoId, target.id);
        self.set(proposals::Column::DecisionReason, reason.to_owned());
        self.tell_author(
            Kind::Decision,
            format!("您的建议已并入 {}:{title}。理由:{reason}", target.code),
        )
        .await?;
        Ok(Some(format!(
            "并入 {} {}。{reason}",
            target.code, target.title
        )))
    }

    async fn return_assignment(
        &mut self,
        reason: &str,
        to: ProposalStatus,
    ) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        required("退回理由", reason)?;
        let own = self.own_assignment()?.clone();
        let returning: Vec<i32> = if self.loaded.relation == Relation::LeadAgency {
            self.loaded.assignments.iter().map(|a| a.id).collect()
        } else {
            vec![own.id]
        };
        assignments::Entity::update_many()
            .col_expr(
                assignments::Column::State,
                Expr::value(AssignmentState::Returned.as_str()),
            )
            .col_expr(
                assignments::Column::ReturnReason,
                Expr::value(reason.to_owned()),
            )
            .col_expr(
                assignments::Column::ReturnedAt,
                Expr::value(self.now.fixed_offset()),
            )
            .filter(assignments::Column::Id.is_in(returning))
            .exec(self.txn)
            .await?;
        if to == ProposalStatus::Accepted {
            self.set(proposals::Column::DueOn, Option::<NaiveDate>::None);
        }
        self.tell(
            Audience::Secretariat,
            Kind::Returned,
            format!("交办被退回:{title}。理由:{reason}"),
        )
        .await?;
        // The other agencies on it learn that it waits for the secretariat (the reason is the
        // secretariat's to read).
        let others: Vec<i32> = self
            .assigned_agencies()
            .into_iter()
            .filter(|a| *a != own.agency_id)
            .collect();
        if !others.is_empty() {
            let whole = self.loaded.relation == Relation::LeadAgency;
            self.tell(
                Audience::Agencies(&others),
                Kind::Returned,
                if whole {
                    format!("主办单位已退回交办,等待秘书处重新交办:{title}")
                } else {
                    format!("一家协办单位退回了交办,等待秘书处决定:{title}")
                },
            )
            .await?;
        }
        Ok(Some(reason.to_owned()))
    }

    async fn co_opinion(&mut self, body: &str) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        self.respond(ResponseKind::CoOpinion, body, None, None)
            .await?;
        let leads: Vec<i32> = self
            .loaded
            .assignments
            .iter()
            .filter(|a| a.role == AssignmentRole::Lead.as_str())
            .map(|a| a.agency_id)
            .collect();
        self.tell(
            Audience::Agencies(&leads),
            Kind::CoOpinion,
            format!("协办单位提交了协办意见:{title}"),
        )
        .await?;
        Ok(None)
    }

    async fn progress(&mut self, kind: &ResponseKind, body: &str) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        if !matches!(kind, ResponseKind::Progress | ResponseKind::OnTheSpot) {
            return Err(AppError::bad_request("进展通报的类型不正确。"));
        }
        self.respond(*kind, body, None, None).await?;
        self.tell_author(Kind::Progress, format!("承办单位通报了办理进展:{title}"))
            .await?;
        Ok(None)
    }

    async fn reply(
        &mut self,
        body: &str,
        doc_number: &str,
        grade: &Grade,
        commitment: &Option<NewCommitment>,
    ) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        // The written reply stops the clock for good.
        self.set(proposals::Column::PausedOn, Option::<NaiveDate>::None);
        check_text("文号", doc_number, 200, false).map_err(AppError::BadRequest)?;
        let doc = (!doc_number.trim().is_empty()).then(|| doc_number.trim().to_owned());
        let response_id = self
            .respond(ResponseKind::Written, body, doc, Some(grade.as_str()))
            .await?;
        if let Some(c) = commitment {
            self.commit_to(c, response_id).await?;
        }
        self.set(proposals::Column::AnsweredAt, self.now.fixed_offset());
        self.tell_author(
            Kind::Answered,
            format!("承办单位作出了书面答复,请评价:{title}"),
        )
        .await?;
        self.tell(
            Audience::Secretariat,
            Kind::Answered,
            format!("书面答复已提交:{title}"),
        )
        .await?;
        Ok(Some(format!("答复类别 {}", grade.as_str())))
    }

    async fn reopen(&mut self, reason: &str) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        required("重新办理理由", reason)?;
        let due = self.reply_due().await?;
        self.reactivate_assignments(due).await?;
        self.set(
            proposals::Column::ClosedAt,
            Option::<DateTime<chrono::FixedOffset>>::None,
        );
        self.set(proposals::Column::DueOn, due);
        let agencies = self.reactivated_agencies().await?;
        self.tell(
            Audience::Agencies(&agencies),
            Kind::Reopened,
            format!("建议重新办理(回头看):{title}。理由:{reason}"),
        )
        .await?;
        self.tell_author(Kind::Reopened, format!("秘书处将建议重新办理:{title}"))
            .await?;
        Ok(Some(format!("{reason}(新的答复期限:{due})")))
    }

    async fn supervise(&mut self, on: &bool, reason: &str) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        required("督办说明", reason)?;
        self.set(proposals::Column::Supervised, *on);
        let agencies = self.assigned_agencies();
        let verb = if *on {
            "列为督办件"
        } else {
            "解除督办"
        };
        self.tell(
            Audience::Agencies(&agencies),
            Kind::Supervised,
            format!("秘书处将建议{verb}:{title}"),
        )
        .await?;
        Ok(Some(format!("{verb}。{reason}")))
    }

    async fn pause(&mut self, reason: &str) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        required("暂停计时的理由", reason)?;
        self.set(proposals::Column::PausedOn, self.today);
        let agencies = self.assigned_agencies();
        self.tell(
            Audience::Agencies(&agencies),
            Kind::Paused,
            format!("答复计时暂停(等待委员):{title}"),
        )
        .await?;
        Ok(Some(reason.trim().to_owned()))
    }

    async fn resume(&mut self, note: &str) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        let paused_on = self
            .loaded
            .proposal
            .paused_on
            .ok_or_else(|| AppError::bad_request("答复计时没有暂停。"))?;
        self.set(proposals::Column::PausedOn, Option::<NaiveDate>::None);
        let mut text = format!("暂停自 {paused_on}");
        if let Some(due) = self.loaded.proposal.due_on {
            let calendar = deadlines::load_calendar(self.txn).await?;
            let moved = deadlines::resume(due, self.period(), paused_on, self.today, &calendar);
            if moved != due {
                self.move_due_date(moved).await?;
            }
            text.push_str(&format!(",答复期限 {due} → {moved}"));
        }
        let agencies = self.assigned_agencies();
        self.tell(
            Audience::Agencies(&agencies),
            Kind::Resumed,
            format!("答复计时恢复:{title}"),
        )
        .await?;
        if !note.trim().is_empty() {
            text.push_str(&format!("。{}", note.trim()));
        }
        Ok(Some(text))
    }

    async fn extend(&mut self, due_on: &NaiveDate, reason: &str) -> AppResult<Option<String>> {
        let title = self.title().to_owned();
        required("延期理由", reason)?;
        let current = self.loaded.proposal.due_on;
        if current.is_some_and(|c| *due_on <= c) || *due_on <= self.today {
            return Err(AppError::bad_request("新的答复期限须晚于原期限和今天。"));
        }
        self.move_due_date(*due_on).await?;
        let agencies = self.assigned_agencies();
        self.tell(
            Audience::Agencies(&agencies),
            Kind::Extended,
            format!("答复期限延至{due_on}:{title}"),
        )
        .await?;
        Ok(Some(format!("延至 {due_on}。{reason}")))
    }

    async fn assign(
        &mut self,
        lead: i32,
        co: &[i32],
        due_on: NaiveDate,
    ) -> AppResult<Option<String>> {
        if co.contains(&lead) {
            return Err(AppError::bad_request("主办单位不能同时是协办单位。"));
        }
        let mut co: Vec<i32> = co.to_vec();
        co.dedup();
        if due_on <= self.today {
            return Err(AppError::bad_request("答复期限须晚于今天。"));
        }
        let mut all = vec![lead];
        all.extend(&co);
        let names = crate::directory::agency_short_names(self.txn, all.clone()).await?;
        if names.len() != all.len() {
            return Err(AppError::bad_request("所选单位不存在。"));
        }
        for (agency, role) in std::iter::once((lead, AssignmentRole::Lead))
            .chain(co.iter().map(|c| (*c, AssignmentRole::Co)))
        {
            assignments::Entity::insert(assignments::ActiveModel {
                proposal_id: Set(self.id()),
                agency_id: Set(agency),
                role: Set(role.as_str().into()),
                state: Set(AssignmentState::Active.as_str().into()),
                assigned_at: Set(self.now.fixed_offset()),
                due_on: Set(due_on),
                created_at: Set(self.now.fixed_offset()),
                updated_at: Set(self.now.fixed_offset()),
                ..Default::default()
            })
            .exec(self.txn)
            .await?;
        }
        self.set(proposals::Column::AssignedAt, self.now.fixed_offset());
        self.set(proposals::Column::DueOn, due_on);
        let title = self.title().to_owned();
        self.tell(
            Audience::Agencies(&all),
            Kind::Assigned,
            format!("收到交办,答复期限{due_on}:{title}"),
        )
        .await?;
        let co_names: Vec<&str> = co
            .iter()
            .filter_map(|c| names.get(c).map(String::as_str))
            .collect();
        let handlers = format!(
            "主办:{};协办:{};答复期限 {due_on}",
            names[&lead],
            if co_names.is_empty() {
                "无".to_owned()
            } else {
                co_names.join("、")
            }
        );
        self.tell_author(
            Kind::Assigned,
            format!("您的建议已交办({handlers}):{title}"),
        )
        .await?;
        Ok(Some(handlers))
    }

    /// Writes a published response by the actor's agency, linked to this proposal.
    async fn respond(
        &mut self,
        kind: ResponseKind,
        body: &str,
        doc_number: Option<String>,
        grade: Option<&str>,
    ) -> AppResult<i32> {
        required(kind.label(), body)?;
        let agency = self.actor.agency_id.ok_or(AppError::Forbidden)?;
        let id = crate::responses::write::insert(
            self.txn,
            crate::responses::write::NewResponse {
                proposal_id: self.id(),
                agency_id: agency,
                kind,
                body_md: body,
                doc_number,
                grade,
                responded_on: self.today,
                author_user_id: self.actor.user_id,
                at: self.now.fixed_offset(),
            },
        )
        .await?;
        // A value hidden from the record stays hidden in a reply; what is left is checked.
        crate::redaction::service::apply_rules_to(self.txn, ItemKind::Response, id).await?;
        crate::responses::write::release_unless_personal(self.txn, id, self.id()).await?;
        self.response_id = Some(id);
        Ok(id)
    }

    async fn commit_to(&self, c: &NewCommitment, response_id: i32) -> AppResult<()> {
        check_text("承诺内容", &c.description, 2000, true)
            .and(check_text("指标", &c.metric, 200, true))
            .and(check_text("单位", &c.unit, 50, true))
            // A commitment is public as soon as it is written, even while its reply waits for
            // review, and a measurable promise never needs a private person's details.
            .and(crate::privacy::refuse_personal("承诺内容", &c.description))
            .and(crate::privacy::refuse_personal("指标", &c.metric))
            .and(crate::privacy::refuse_personal("单位", &c.unit))
            .map_err(AppError::BadRequest)?;
        if !c.target_value.is_finite() || c.target_value < 0.0 || c.target_value > 1e15 {
            return Err(AppError::bad_request("目标值须为合理的非负数。"));
        }
        commitments::Entity::insert(commitments::ActiveModel {
            description: Set(c.description.clone()),
            metric: Set(c.metric.clone()),
            unit: Set(c.unit.clone()),
            target_value: Set(c.target_value),
            comparison: Set(crate::followup::Comparison::AtLeast.as_str().into()),
            target_date: Set(c.target_date),
            agency_id: Set(self.actor.agency_id.ok_or(AppError::Forbidden)?),
            proposal_id: Set(Some(self.id())),
            response_id: Set(Some(response_id)),
            created_at: Set(self.now.fixed_offset()),
            updated_at: Set(self.now.fixed_offset()),
            ..Default::default()
        })
        .exec(self.txn)
        .await?;
        Ok(())
    }

    async fn rate(
        &mut self,
        rating: Rating,
        comment: &str,
        to: ProposalStatus,
    ) -> AppResult<Option<String>> {
        check_text("评价意见", comment, 10_000, rating == Rating::Unsatisfied)
            .map_err(AppError::BadRequest)?;
        let person = self.loaded.proposal.author_id.ok_or(AppError::Forbidden)?;
        let reply = responses::Entity::find()
            .inner_join(response_proposals::Entity)
            .filter(response_proposals::Column::ProposalId.eq(self.id()))
            .filter(responses::Column::Kind.eq(ResponseKind::Written.as_str()))
            .order_by_desc(responses::Column::Id)
            .one(self.txn)
            .await?;
        evaluations::Entity::insert(evaluations::ActiveModel {
            proposal_id: Set(self.id()),
            response_id: Set(reply.map(|r| r.id)),
            person_id: Set(person),
            rating: Set(rating.as_str().into()),
            comment: Set(comment.to_owned()),
            created_at: Set(self.now.fixed_offset()),
            ..Default::default()
        })
        .exec(self.txn)
        .await?;
        let agencies = self.assigned_agencies();
        let title = self.title().to_owned();
        if to == ProposalStatus::Closed {
            assignments::Entity::update_many()
                .col_expr(
                    assignments::Column::State,
                    Expr::value(AssignmentState::Completed.as_str()),
                )
                .filter(assignments::Column::ProposalId.eq(self.id()))
                .filter(assignments::Column::State.eq(AssignmentState::Active.as_str()))
                .exec(self.txn)
                .await?;
            self.set(proposals::Column::ClosedAt, self.now.fixed_offset());
        } else {
            let due = self.reply_due().await?;
            self.move_due_date(due).await?;
        }
        self.tell(
            Audience::Agencies(&agencies),
            Kind::Rated,
            format!("委员评价为“{}”:{title}", rating.label()),
        )
        .await?;
        if to == ProposalStatus::Closed {
            // The author closed it by rating; the co-signing members hear of it.
            let cosigners: Vec<i32> = entity::proposal_cosigners::Entity::find()
                .filter(entity::proposal_cosigners::Column::ProposalId.eq(self.id()))
                .all(self.txn)
                .await?
                .into_iter()
                .map(|c| c.person_id)
                .collect();
            for person in cosigners {
                self.tell(
                    Audience::Person(person),
                    Kind::Closed,
                    format!("建议已办结(提出人评价“{}”):{title}", rating.label()),
                )
                .await?;
            }
        }
        self.tell(
            Audience::Secretariat,
            Kind::Rated,
            format!("委员评价为“{}”:{title}", rating.label()),
        )
        .await?;
        let mut note = format!("评价:{}", rating.label());
        if !comment.trim().is_empty() {
            note.push_str(&format!("。{}", comment.trim()));
        }
        Ok(Some(note))
    }

    /// Brings back the assignments completed at closure, with a new due date.
    async fn reactivate_assignments(&self, due: NaiveDate) -> AppResult<()> {
        assignments::Entity::update_many()
            .col_expr(
                assignments::Column::State,
                Expr::value(AssignmentState::Active.as_str()),
            )
            .col_expr(assignments::Column::DueOn, Expr::value(due))
            .filter(assignments::Column::ProposalId.eq(self.id()))
            .filter(assignments::Column::State.eq(AssignmentState::Completed.as_str()))
            .exec(self.txn)
            .await?;
        Ok(())
    }

    async fn reactivated_agencies(&self) -> AppResult<Vec<i32>> {
        Ok(assignments::Entity::find()
            .filter(assignments::Column::ProposalId.eq(self.id()))
            .filter(assignments::Column::State.eq(AssignmentState::Active.as_str()))
            .all(self.txn)
            .await?
            .into_iter()
            .map(|a| a.agency_id)
            .collect())
    }
}

/// What proposal `id` may be merged into: another one in a public status that is not itself
/// merged away (the merge command and the work page's picker both ask this).
pub fn merge_targets(id: i32) -> sea_orm::Condition {
    let statuses: Vec<&str> = ProposalStatus::public_statuses()
        .into_iter()
        .filter(|s| *s != ProposalStatus::Merged.as_str())
        .collect();
    sea_orm::Condition::all()
        .add(proposals::Column::Id.ne(id))
        .add(proposals::Column::Status.is_in(statuses))
}
