//! The signed-in side of proposals: members write and edit drafts (with a Markdown preview); every
//! participant works on a proposal from its working page, whose forms are exactly the commands the
//! workflow allows them; one endpoint turns a posted form into a `Command` for `handling::apply`.
use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use entity::{agencies, people, proposals, sessions};
use minijinja::context;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::drafts::{self, DraftInput};
use super::handling::{self, Loaded};
use crate::accounts::extract::SignedForm;
use crate::accounts::policy;
use crate::accounts::SignedIn;
use crate::app::AppState;
use crate::db::string_list;
use crate::error::{AppError, AppResult};
use crate::web::form::Fields;
use crate::web::parse_id;
use crate::workflow::Rating;
use crate::workflow::TimelineAction;
use crate::workflow::{self, Command, CommandKind, NewCommitment, Relation};
use crate::workflow::{Grade, ResponseKind};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/me/proposals/new", get(new_form).post(create))
        .route("/work/proposals/{id}", get(show))
        .route("/work/proposals/{id}/edit", get(edit_form).post(update))
        .route("/work/proposals/{id}/act", axum::routing::post(act))
        .route("/me/preview", axum::routing::post(preview))
        .route(
            "/work/commitments/{id}/report",
            axum::routing::post(report_actual),
        )
}

/// The proposal fields of a draft form.
fn draft_input(f: &Fields) -> Result<DraftInput, String> {
    let session = f.get("session_number").trim();
    Ok(DraftInput {
        title: f.get("title").to_owned(),
        body_md: f.get("body_md").to_owned(),
        topics: f.get("topics").to_owned(),
        cosigners: f.get("cosigners").to_owned(),
        session_number: if session.is_empty() {
            None
        } else {
            Some(f.number("session_number", "协商活动期数")?)
        },
    })
}

/// Turns a posted action form into a workflow command.
fn parse_command(kind: CommandKind, f: &Fields) -> Result<Command, String> {
    let text = |name: &str| f.get(name).to_owned();
    Ok(match kind {
        CommandKind::Submit => Command::Submit,
        CommandKind::Withdraw => Command::Withdraw,
        CommandKind::Accept => Command::Accept,
        CommandKind::Reject => Command::Reject {
            reason: text("reason"),
        },
        CommandKind::Merge => Command::Merge {
            into_code: text("into_code"),
            reason: text("reason"),
        },
        CommandKind::Assign => Command::Assign {
            lead: f.number("lead", "主办单位")?,
            co: f
                .all("co")
                .into_iter()
                .map(|c| c.parse().map_err(|_| "协办单位格式不正确。".to_owned()))
                .collect::<Result<_, _>>()?,
            due_on: f.date("due_on", "答复期限")?,
        },
        CommandKind::Return => Command::Return {
            reason: text("reason"),
        },
        CommandKind::CoOpinion => Command::CoOpinion {
            body: text("body_md"),
        },
        CommandKind::Progress => Command::Progress {
            kind: ResponseKind::parse(f.get("response_kind")).unwrap_or(ResponseKind::Progress),
            body: text("body_md"),
        },
        CommandKind::Reply => Command::Reply {
            body: text("body_md"),
            doc_number: text("doc_number"),
            grade: Grade::parse(f.get("grade")).ok_or("请选择答复类别(A/B/C)。")?,
            commitment: if f.get("c_metric").trim().is_empty() {
                None
            } else {
                Some(NewCommitment {
                    description: text("c_description"),
                    metric: text("c_metric"),
                    unit: text("c_unit"),
                    target_value: f.number("c_target", "承诺目标值")?,
                    target_date: f.optional_date("c_date", "承诺期限")?,
                })
            },
        },
        CommandKind::Rate => Command::Rate {
            rating: Rating::parse(f.get("rating")).ok_or("请选择评价(满意/基本满意/不满意)。")?,
            comment: text("comment"),
        },
        CommandKind::Reopen => Command::Reopen {
            reason: text("reason"),
        },
        CommandKind::Supervise => Command::Supervise {
            on: f.get("on") != "false",
            reason: text("reason"),
        },
        CommandKind::Pause => Command::Pause {
            reason: text("reason"),
        },
        CommandKind::Resume => Command::Resume { note: text("note") },
        CommandKind::Extend => Command::Extend {
            due_on: f.date("due_on", "新的答复期限")?,
            reason: text("reason"),
        },
    })
}

struct FormState<'a> {
    error: Option<String>,
    values: HashMap<&'a str, &'a str>,
    action: Option<&'a str>,
    /// What the redirect after a successful form says was done (a command, or a note such as
    /// "attached"), shown at the top of the page.
    notice: Option<&'static str>,
    /// What the secretariat typed into the merge form's search box.
    merge_q: Option<String>,
}

/// The query string of the work page: `done` after a form succeeded, `merge_q` from the merge
/// picker's search.
#[derive(serde::Deserialize, Default)]
struct WorkQuery {
    done: Option<String>,
    merge_q: Option<String>,
}

/// The one action a participant most likely came to the page for, laid out first and in full;
/// the page keeps the rest secondary. Earlier in this list wins.
const MAIN_ACTIONS: [CommandKind; 7] = [
    CommandKind::Reply,
    CommandKind::CoOpinion,
    CommandKind::Rate,
    CommandKind::Submit,
    CommandKind::Accept,
    CommandKind::Assign,
    CommandKind::Reopen,
];

fn main_action(offered: &[CommandKind]) -> Option<CommandKind> {
    MAIN_ACTIONS.into_iter().find(|k| offered.contains(k))
}

/// What each success says happened and what comes next.
fn done_message(kind: CommandKind) -> &'static str {
    match kind {
        CommandKind::Submit => "已提交。秘书处审查后会决定是否立案,结果将通知您。",
        CommandKind::Withdraw => "已撤回。",
        CommandKind::Accept => "已立案。下一步:交办承办单位。",
        CommandKind::Reject => "已决定不予立案,理由已告知提出人。",
        CommandKind::Merge => "已并案,提出人会收到通知。",
        CommandKind::Assign => "已交办。承办单位会在工作台和邮件中收到通知。",
        CommandKind::Return => "已退回交办,等待秘书处重新交办。",
        CommandKind::CoOpinion => "协办意见已提交,主办单位可以据此书面答复。",
        CommandKind::Progress => "进展已通报,并已公开在办理过程中。",
        CommandKind::Reply => "书面答复已提交。提出人会收到评价请求。",
        CommandKind::Rate => "评价已提交,谢谢。",
        CommandKind::Reopen => "已重新办理,承办单位会收到通知。",
        CommandKind::Extend => "答复期限已延长。",
        CommandKind::Supervise => "督办设置已更新。",
        CommandKind::Pause => "已暂停计时。",
        CommandKind::Resume => "已恢复计时,答复期限已顺延。",
    }
}

/// The merge picker: proposals this one may be merged into whose code starts with, or whose title
/// contains, what was typed; without a query, the others of its session (as suggestions).
async fn merge_choices(
    db: &sea_orm::DatabaseConnection,
    proposal: &proposals::Model,
    typed: Option<&str>,
) -> AppResult<Vec<minijinja::Value>> {
    use sea_orm::{Condition, QuerySelect};
    let mut query = proposals::Entity::find().filter(handling::merge_targets(proposal.id));
    match typed.map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) => {
            let q: String = q.chars().take(100).collect();
            query = query.filter(
                Condition::any()
                    .add(proposals::Column::Code.eq(q.to_uppercase()))
                    .add(proposals::Column::Code.like(crate::db::contains_literal(&q)))
                    .add(proposals::Column::Title.like(crate::db::contains_literal(&q))),
            );
        }
        None => match proposal.session_id {
            Some(session) => query = query.filter(proposals::Column::SessionId.eq(session)),
            None => query = query.order_by_desc(proposals::Column::Id),
        },
    }
    let rows = query.limit(20).all(db).await?;
    let session_numbers = crate::directory::session_numbers(
        db,
        rows.iter().filter_map(|p| p.session_id).collect(),
        sea_orm::Condition::all(),
    )
    .await?;
    Ok(rows
        .iter()
        .map(|p| {
            context! {
                code => &p.code, title => &p.title,
                session => p.session_id.and_then(|id| session_numbers.get(&id)),
            }
        })
        .collect())
}

async fn render_work(
    state: &AppState,
    session: &crate::accounts::sessions::Session,
    proposal_id: i32,
    form: FormState<'_>,
    status: StatusCode,
) -> AppResult<Response> {
    let db = &state.db;
    let Loaded {
        proposal,
        status: current,
        assignments: active,
        relation,
        facts,
    } = handling::load(db, &state.config, Some(&session.actor), proposal_id).await?;
    let author = match proposal.author_id {
        Some(id) => people::Entity::find_by_id(id).one(db).await?,
        None => None,
    };
    let cosigners = super::service::cosigners_of(db, proposal_id).await?;
    let all_assignments = entity::assignments::Entity::find()
        .filter(entity::assignments::Column::ProposalId.eq(proposal_id))
        .order_by_asc(entity::assignments::Column::Id)
        .all(db)
        .await?;
    let agency_list = agencies::Entity::find()
        .order_by_asc(agencies::Column::Id)
        .all(db)
        .await?;
    let agency_names: HashMap<i32, String> = agency_list
        .iter()
        .map(|a| (a.id, a.short_name.clone()))
        .collect();
    let actor = &session.actor;
    let assignment_rows: Vec<_> = all_assignments
        .iter()
        .map(|a| {
            let reason = a
                .return_reason
                .as_ref()
                .filter(|_| policy::may_see_return_reason(actor, relation, Some(a.agency_id)));
            context! {
                agency => agency_names.get(&a.agency_id), role => crate::workflow::AssignmentRole::parse(&a.role).map(|r| r.label()),
                state => crate::workflow::AssignmentState::parse(&a.state).map(|s| s.label()),
                due_on => a.due_on, return_reason => reason,
            }
        })
        .collect();
    let responses = crate::responses::service::responses_for_proposals(db, &[proposal_id], false)
        .await?
        .remove(&proposal_id)
        .unwrap_or_default();
    let commitment_rows = entity::commitments::Entity::find()
        .filter(entity::commitments::Column::ProposalId.eq(proposal_id))
        .all(db)
        .await?;
    let commitments =
        crate::followup::commitments::load_views(db, commitment_rows, crate::time::today()).await?;
    let internal = matches!(relation, Relation::Author | Relation::Secretariat);
    let mut timeline = crate::followup::timeline::events_for(db, proposal_id, internal).await?;
    if !policy::may_see_return_reason(actor, relation, None) {
        // A return's note is its reason (the author sees the internal events).
        for event in &mut timeline {
            if event.action == TimelineAction::Returned.as_str() {
                event.note = None;
            }
        }
    }
    let held = workflow::held_back(current, relation, &facts);
    let mut offered = workflow::available(current, relation, &facts);
    // A form refused by a guard is shown again with its error and the text typed into it, so
    // nothing the user wrote is lost; the others held back are only named with the reason.
    if let Some(failed) = form.action.and_then(CommandKind::parse) {
        if held.iter().any(|(kind, _)| *kind == failed) {
            offered.push(failed);
        }
    }
    let main = main_action(&offered);
    let other_actions: Vec<_> = offered
        .iter()
        .filter(|k| Some(**k) != main)
        .map(|k| (k.as_str(), k.label()))
        .collect();
    let (merge_candidates, merge_suggestions) = if offered.contains(&CommandKind::Merge) {
        match form.merge_q.as_deref() {
            Some(q) if !q.trim().is_empty() => {
                (merge_choices(db, &proposal, Some(q)).await?, Vec::new())
            }
            _ => (Vec::new(), merge_choices(db, &proposal, None).await?),
        }
    } else {
        (Vec::new(), Vec::new())
    };
    let held_back: Vec<_> = held
        .into_iter()
        .filter(|(kind, _)| !offered.contains(kind))
        .map(|(k, reason)| (k.label(), reason.message()))
        .collect();
    let overdue =
        workflow::is_overdue(current, proposal.due_on, facts.paused, crate::time::today());
    let calendar = crate::followup::deadlines::load_calendar(db).await?;
    let period = state.config.reply_periods.period_for(&proposal.channel);
    let default_due =
        crate::followup::deadlines::reply_due(crate::time::today(), period, &calendar);

    let is_public = proposal.published && current.is_public();
    let corrections = crate::corrections::service::offered(db, actor, &proposal, is_public).await?;
    // Files: the proposal's (its author adds and removes them while it is a draft) and each
    // reply's (its agency's staff add them).
    use crate::files::OwnerKind;
    let mut owners = vec![(OwnerKind::Proposal, proposal_id)];
    owners.extend(responses.iter().map(|r| (OwnerKind::Response, r.id)));
    owners.extend(
        commitments
            .iter()
            .flat_map(|c| &c.reports)
            .map(|r| (OwnerKind::Report, r.id)),
    );
    let files = crate::attachments::service::listed(db, &owners).await?;
    let attach_proposal =
        crate::attachments::service::may_attach(db, actor, OwnerKind::Proposal, proposal_id)
            .await
            .is_ok();
    let mut attach_responses = Vec::new();
    for r in &responses {
        if crate::attachments::service::may_attach(db, actor, OwnerKind::Response, r.id)
            .await
            .is_ok()
        {
            attach_responses.push(r.id);
        }
    }
    let file_limits = (
        state.config.max_file_bytes / (1024 * 1024),
        state.config.max_files_per_item,
    );
    let html = state.templates.render(
        "proposals/work.html",
        context! {
            proposal => &proposal, status => crate::workflow::StatusBadge::from(current),
            topics => string_list(&proposal.topics), author, cosigners, assignments => assignment_rows,
            active_count => active.len(), responses, commitments, timeline, held_back, overdue,
            main_action => main.map(|k| (k.as_str(), k.label())), other_actions,
            merge_q => form.merge_q, merge_candidates, merge_suggestions,
            notice => form.notice,
            agencies => agency_list, default_due, csrf => &session.csrf_token,
            can_edit => crate::accounts::policy::may_edit_draft(relation, current),
            is_public, corrections, files, attach_proposal, attach_responses, file_limits,
            open_withheld => policy::may_open_withheld(Some(actor), None),
            error => form.error, values => form.values, failed_action => form.action,
            actor => &session.actor,
        },
    )?;
    Ok((status, axum::response::Html(html)).into_response())
}

async fn show(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    crate::web::query::Params(query): crate::web::query::Params<WorkQuery>,
) -> AppResult<Response> {
    let form = FormState {
        error: None,
        values: HashMap::new(),
        action: None,
        notice: query.done.as_deref().and_then(|done| {
            CommandKind::parse(done)
                .map(done_message)
                .or_else(|| crate::web::notice::message(done))
        }),
        merge_q: query.merge_q,
    };
    render_work(&state, &session, parse_id(&id)?, form, StatusCode::OK).await
}

async fn act(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm { session, fields }: SignedForm,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let kind = CommandKind::parse(fields.get("action"))
        .ok_or_else(|| AppError::bad_request("未知的操作。"))?;
    let version: i32 = fields
        .number("version", "版本")
        .map_err(AppError::BadRequest)?;
    let outcome = match parse_command(kind, &fields) {
        Ok(command) => {
            handling::apply(
                &state.db,
                &state.config,
                &session.actor,
                id,
                version,
                command,
            )
            .await
        }
        Err(message) => Err(AppError::BadRequest(message)),
    };
    match outcome {
        Ok(_) => {
            state.indexer.wake();
            Ok(
                Redirect::to(&format!("/work/proposals/{id}?done={}", kind.as_str()))
                    .into_response(),
            )
        }

        // Keep the user's text on the same page with the message.
        Err(err @ (AppError::BadRequest(_) | AppError::Conflict(_))) => {
            let status = err.report().status;
            let form = FormState {
                error: Some(err.report().detail),
                values: fields.flat(),
                action: Some(kind.as_str()),
                notice: None,
                merge_q: None,
            };
            render_work(&state, &session, id, form, status).await
        }
        Err(other) => Err(other),
    }
}

/// An agency reports a dated actual against one of its commitments.
async fn report_actual(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm { session, fields }: SignedForm,
) -> AppResult<Response> {
    let id = parse_id(&id)?;
    let report = crate::followup::commitments::NewReport {
        value: fields
            .number("value", "实际值")
            .map_err(AppError::BadRequest)?,
        reported_on: fields
            .date("reported_on", "报告日期")
            .map_err(AppError::BadRequest)?,
        source: fields.get("source").to_owned(),
    };
    let back: i32 = fields.number("proposal_id", "建议").unwrap_or(0);
    crate::followup::commitments::report_actual(&state.db, &session.actor, id, report).await?;
    state.indexer.wake();
    let target = if back > 0 {
        format!("/work/proposals/{back}?done=report")
    } else {
        "/me".to_owned()
    };
    Ok(Redirect::to(&target).into_response())
}

async fn draft_page(
    state: &AppState,
    session: &crate::accounts::sessions::Session,
    target: Option<(i32, i32)>,
    input: &DraftInput,
    errors: Vec<String>,
    preview: bool,
) -> AppResult<Response> {
    // Only published sessions may be linked (`drafts::create` refuses the others).
    let sessions_list = sessions::Entity::find()
        .filter(crate::visibility::public_sessions())
        .order_by_desc(sessions::Column::Number)
        .all(&state.db)
        .await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let html = state.templates.render(
        "proposals/form.html",
        context! {
            input, errors, preview, csrf => &session.csrf_token, sessions => sessions_list,
            proposal_id => target.map(|t| t.0), version => target.map(|t| t.1),
            limit_kb => crate::web::form::MAX_BODY_BYTES / 1024,
        },
    )?;
    Ok((status, axum::response::Html(html)).into_response())
}

async fn new_form(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
) -> AppResult<Response> {
    policy::require(&session.actor, policy::Action::WriteProposals)?;
    draft_page(
        &state,
        &session,
        None,
        &DraftInput::default(),
        Vec::new(),
        false,
    )
    .await
}

/// The live preview's fragment: the same sanitised rendering the pages use. Any signed-in user may
/// preview (agency staff write Markdown replies too); the CSRF check keeps it same-site.
async fn preview(SignedForm { fields, .. }: SignedForm) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
        crate::web::markdown::render(fields.get("body_md")),
    )
        .into_response()
}

async fn create(
    State(state): State<AppState>,
    SignedForm { session, fields }: SignedForm,
) -> AppResult<Response> {
    policy::require(&session.actor, policy::Action::WriteProposals)?;
    let input = match draft_input(&fields) {
        Ok(input) => input,
        Err(e) => {
            return draft_page(
                &state,
                &session,
                None,
                &DraftInput::default(),
                vec![e],
                false,
            )
            .await
        }
    };
    if fields.get("intent") == "preview" {
        return draft_page(
            &state,
            &session,
            None,
            &input,
            drafts::validate(&input),
            true,
        )
        .await;
    }
    match drafts::create(&state.db, &session.actor, &input).await {
        Ok(proposal) => Ok(
            Redirect::to(&format!("/work/proposals/{}?done=saved", proposal.id)).into_response(),
        ),
        Err(AppError::BadRequest(message) | AppError::Conflict(message)) => {
            draft_page(&state, &session, None, &input, vec![message], false).await
        }
        Err(other) => Err(other),
    }
}

async fn edit_form(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> AppResult<Response> {
    policy::require(&session.actor, policy::Action::WriteProposals)?;
    let id = parse_id(&id)?;
    let loaded = handling::load(&state.db, &state.config, Some(&session.actor), id).await?;
    if !crate::accounts::policy::may_edit_draft(loaded.relation, loaded.status) {
        return Err(AppError::Forbidden);
    }
    let p: proposals::Model = loaded.proposal;
    let session_number = match p.session_id {
        Some(s) => sessions::Entity::find_by_id(s)
            .one(&state.db)
            .await?
            .map(|s| s.number),
        None => None,
    };
    let names: Vec<String> = super::service::cosigners_of(&state.db, id)
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect();
    let input = DraftInput {
        title: p.title.clone(),
        body_md: p.body_md.clone(),
        topics: string_list(&p.topics).join("、"),
        cosigners: names.join("、"),
        session_number,
    };
    draft_page(
        &state,
        &session,
        Some((id, p.version)),
        &input,
        Vec::new(),
        false,
    )
    .await
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm { session, fields }: SignedForm,
) -> AppResult<Response> {
    policy::require(&session.actor, policy::Action::WriteProposals)?;
    let id = parse_id(&id)?;
    let version: i32 = fields
        .number("version", "版本")
        .map_err(AppError::BadRequest)?;
    let input = draft_input(&fields).map_err(AppError::BadRequest)?;
    if fields.get("intent") == "preview" {
        return draft_page(
            &state,
            &session,
            Some((id, version)),
            &input,
            drafts::validate(&input),
            true,
        )
        .await;
    }
    match drafts::update(&state.db, &session.actor, id, version, &input).await {
        Ok(()) => Ok(Redirect::to(&format!("/work/proposals/{id}?done=saved")).into_response()),
        Err(AppError::BadRequest(message) | AppError::Conflict(message)) => {
            draft_page(
                &state,
                &session,
                Some((id, version)),
                &input,
                vec![message],
                false,
            )
            .await
        }
        Err(other) => Err(other),
    }
}
