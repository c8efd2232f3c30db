//! Write endpoints for other systems, authenticated by bearer token. Each goes through the same
//! service as the web form (intake registration, `handling::apply`, `report_actual`), so the state
//! machine and its permission table judge API calls exactly as they judge forms.
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::Json;
use entity::proposals;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;

use super::auth::ApiActor;
use super::schema::*;
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::proposals::handling;
use crate::proposals::intake::NewIntake;
use crate::web::parse_id;
use crate::workflow::{Command, NewCommitment};
use crate::workflow::{Grade, ResponseKind};

/// A JSON body that failed to parse becomes a 400 problem with serde's reason.
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::PayloadTooLarge)
            }
            Err(rejection) => Err(AppError::bad_request(format!(
                "请求体不是有效的 JSON:{}",
                rejection.body_text()
            ))),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/intake", tag = "write", operation_id = "intake",
    summary = "接收外部渠道推送的诉求(12345、青诉即办等)",
    request_body = IntakeRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered as submitted", body = IntakeResult,
            headers(("Location" = String, description = "The item in the API: /api/v1/proposals/{code} (readable once accepted)"))),
        (status = 200, description = "This ticket number was received before; nothing changed", body = IntakeResult,
            headers(("Location" = String, description = "The item registered under this ticket number"))),
        (status = 409, description = "This ticket number was received before with other content: the differing fields are named and nothing is saved", body = Problem, content_type = "application/problem+json"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 413, description = "The body is larger than 256 KB", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many writes from this token or address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = 403, description = "The token's account is not the secretariat's", body = Problem, content_type = "application/problem+json")))]
pub async fn intake(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    JsonBody(body): JsonBody<IntakeRequest>,
) -> AppResult<(
    StatusCode,
    [(header::HeaderName, String); 1],
    Json<IntakeResult>,
)> {
    let caller = body.caller.unwrap_or_default();
    let (registered, created) = state
        .intake
        .register(
            &state.db,
            &actor,
            NewIntake {
                channel: body.channel,
                external_id: body.external_id,
                title: body.title,
                body_md: body.body_md,
                topics: body.topics,
                caller_name: caller.name,
                caller_phone: caller.phone,
            },
        )
        .await?;
    let (proposal, findings) = (registered.proposal, registered.findings);
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        [(
            header::LOCATION,
            format!("/api/v1/proposals/{}", proposal.code),
        )],
        Json(IntakeResult {
            url: crate::web::paths::proposal(&proposal.code),
            code: proposal.code,
            status: proposal.status,
            created,
            personal_info_findings: findings,
        }),
    ))
}

fn command_for(body: ResponseRequest) -> AppResult<Command> {
    let kind = ResponseKind::parse(&body.kind)
        .filter(|k| *k != ResponseKind::OnTheSpot)
        .ok_or_else(|| AppError::bad_request("kind 须为 co_opinion、progress 或 written。"))?;
    Ok(match kind {
        ResponseKind::CoOpinion => Command::CoOpinion { body: body.body_md },
        ResponseKind::Progress | ResponseKind::OnTheSpot => Command::Progress {
            kind: ResponseKind::Progress,
            body: body.body_md,
        },
        ResponseKind::Written => Command::Reply {
            body: body.body_md,
            doc_number: body.doc_number,
            grade: body
                .grade
                .as_deref()
                .and_then(Grade::parse)
                .ok_or_else(|| AppError::bad_request("书面答复须注明答复类别 grade:A、B 或 C。"))?,
            commitment: body.commitment.map(|c| NewCommitment {
                description: c.description,
                metric: c.metric,
                unit: c.unit,
                target_value: c.target_value,
                target_date: c.target_date,
            }),
        },
    })
}

/// The proposal a write endpoint acts on, by its public code (any status: permissions decide).
async fn proposal_by_code(state: &AppState, code: &str) -> AppResult<proposals::Model> {
    if !crate::proposals::service::is_plausible_code(code) {
        return Err(AppError::NotFound);
    }
    proposals::Entity::find()
        .filter(proposals::Column::Code.eq(code))
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Runs a workflow command as the token's account and reports the new status.
async fn act(
    state: &AppState,
    actor: &crate::accounts::Actor,
    code: String,
    command: Command,
) -> AppResult<(StatusCode, Json<ActionResult>)> {
    act_with_files(state, actor, code, command, Vec::new()).await
}

/// [`act`] with files for the reply the command writes (`handling::apply_with_files`).
async fn act_with_files(
    state: &AppState,
    actor: &crate::accounts::Actor,
    code: String,
    command: Command,
    files: Vec<crate::attachments::service::Stored>,
) -> AppResult<(StatusCode, Json<ActionResult>)> {
    let proposal = proposal_by_code(state, &code).await?;
    let status = handling::apply_with_files(
        &state.db,
        &state.config,
        actor,
        proposal.id,
        proposal.version,
        command,
        files,
    )
    .await?;
    state.indexer.wake();
    Ok((
        StatusCode::CREATED,
        Json(ActionResult {
            url: crate::web::paths::proposal(&code),
            code,
            status: status.as_str().to_owned(),
        }),
    ))
}

#[utoipa::path(post, path = "/api/v1/proposals/{code}/decision", tag = "write", operation_id = "decide",
    summary = "秘书处立案或不予立案",
    params(("code" = String, Path)),
    request_body = DecisionRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = ActionResult),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 413, description = "The body is larger than 256 KB", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many writes from this token or address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = 403, description = "Only the secretariat decides", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided", body = Problem, content_type = "application/problem+json")))]
pub async fn decide(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(code): Path<String>,
    JsonBody(body): JsonBody<DecisionRequest>,
) -> AppResult<(StatusCode, Json<ActionResult>)> {
    let command = match body.action.as_str() {
        "accept" => Command::Accept,
        "reject" => Command::Reject {
            reason: body.reason,
        },
        _ => return Err(AppError::bad_request("action 须为 accept 或 reject。")),
    };
    act(&state, &actor, code, command).await
}

#[utoipa::path(post, path = "/api/v1/proposals/{code}/actions", tag = "write", operation_id = "act_on_proposal",
    summary = "办理流程操作:交办、退回、延期、暂停/恢复计时、评价、重新办理、督办、并案、撤回",
    params(("code" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Send the same key again to get the first answer instead of acting twice")),
    request_body = ActionRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = ActionResult),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 413, description = "The body is larger than 256 KB", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many writes from this token or address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = 403, description = "The token's account may not take this step", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not possible in the proposal's current state, or the same Idempotency-Key is in progress", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was used for another request", body = Problem, content_type = "application/problem+json")))]
pub async fn act_on(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(code): Path<String>,
    JsonBody(body): JsonBody<ActionRequest>,
) -> AppResult<(StatusCode, Json<ActionResult>)> {
    let command = match body {
        ActionRequest::Assign {
            lead_agency_id,
            co_agency_ids,
            due_on,
        } => Command::Assign {
            lead: lead_agency_id,
            co: co_agency_ids,
            due_on,
        },
        ActionRequest::Return { reason } => Command::Return { reason },
        ActionRequest::Extend { due_on, reason } => Command::Extend { due_on, reason },
        ActionRequest::Pause { reason } => Command::Pause { reason },
        ActionRequest::Resume { note } => Command::Resume { note },
        ActionRequest::Rate { rating, comment } => Command::Rate { rating, comment },
        ActionRequest::Reopen { reason } => Command::Reopen { reason },
        ActionRequest::Supervise { on, reason } => Command::Supervise { on, reason },
        ActionRequest::Merge { into_code, reason } => Command::Merge { into_code, reason },
        ActionRequest::Withdraw => Command::Withdraw,
    };
    act(&state, &actor, code, command).await
}

#[utoipa::path(post, path = "/api/v1/proposals/{code}/responses", tag = "write", operation_id = "respond",
    summary = "承办单位发布协办意见、进展或书面答复",
    description = "JSON 请求体;或 multipart/form-data:`json` 部分为同样的 JSON,另加 `file` 部分(每个文件一个,与附件上传同样的类型与大小限制)。答复与附件在同一事务中写入,或都不写入。",
    params(("code" = String, Path)),
    request_body(content(
        (ResponseRequest = "application/json"),
        (ResponseUpload = "multipart/form-data"),
    )),
    security(("bearer" = [])),
    responses(
        (status = 201, body = ActionResult),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 413, description = "The JSON is larger than 256 KB, or a file beyond the limits", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor multipart/form-data", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A file of a type not accepted (nothing written)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many writes from this token or address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = 403, description = "The token's agency does not handle this proposal", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not possible in the proposal's current state", body = Problem, content_type = "application/problem+json")))]
pub async fn respond(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(code): Path<String>,
    request: axum::extract::Request,
) -> AppResult<(StatusCode, Json<ActionResult>)> {
    use axum::extract::FromRequest;
    let is_multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !is_multipart {
        // The route takes files, so its body is not capped by the JSON routes' layer: read
        // the JSON within the same limit here.
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, super::MAX_JSON_BYTES)
            .await
            .map_err(|_| AppError::PayloadTooLarge)?;
        let request = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
        let JsonBody(body) = JsonBody::<ResponseRequest>::from_request(request, &state).await?;
        return act(&state, &actor, code, command_for(body)?).await;
    }
    let multipart = axum::extract::Multipart::from_request(request, &state)
        .await
        .map_err(|_| AppError::UnsupportedMediaType)?;
    let uploaded =
        crate::attachments::service::read_multipart(&state.config, None, multipart).await?;
    let json = uploaded
        .json
        .ok_or_else(|| AppError::bad_request("缺少 json 部分(答复内容)。"))?;
    let body: ResponseRequest = serde_json::from_str(&json)
        .map_err(|e| AppError::bad_request(format!("json 部分不是有效的答复:{e}")))?;
    let command = command_for(body)?;
    let files = crate::attachments::service::prepare(&state.config, uploaded.files)
        .await?
        .map_err(AppError::Unprocessable)?;
    act_with_files(&state, &actor, code, command, files).await
}

/// A reply with its files (`multipart/form-data`): `json` holds the reply as the JSON body would.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the request body for the OpenAPI document only
pub struct ResponseUpload {
    /// The reply, as the JSON body (`ResponseRequest`).
    json: String,
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
}

#[utoipa::path(post, path = "/api/v1/commitments/{id}/reports", tag = "write", operation_id = "report_actual",
    summary = "报告承诺事项的实际完成数",
    params(("id" = i32, Path)),
    request_body = ReportRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = ReportResult),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 413, description = "The body is larger than 256 KB", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many writes from this token or address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = 403, description = "Only the owning agency (or the secretariat) may report", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn report(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReportRequest>,
) -> AppResult<(StatusCode, Json<ReportResult>)> {
    let id = parse_id(&id)?;
    crate::followup::commitments::report_actual(
        &state.db,
        &actor,
        id,
        crate::followup::commitments::NewReport {
            value: body.value,
            reported_on: body.reported_on,
            source: body.source,
        },
    )
    .await?;
    state.indexer.wake();
    let row = entity::commitments::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let view = crate::followup::commitments::load_views(&state.db, vec![row], crate::time::today())
        .await?
        .pop()
        .ok_or(AppError::NotFound)?;
    Ok((
        StatusCode::CREATED,
        Json(ReportResult {
            commitment_id: id,
            status: view.status.as_str().to_owned(),
            latest_actual: view.latest_actual,
        }),
    ))
}

/// What a refused spreadsheet upload says: a problem document with every bad row.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BulkRefusal {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Each bad row: its number in the file (the header is row 1) and why.
    pub rows: Vec<crate::followup::bulk::RowError>,
}

#[utoipa::path(post, path = "/api/v1/commitments/reports", tag = "write", operation_id = "report_actuals_in_bulk",
    summary = "用表格批量报告承诺实际完成数(CSV 或 XLSX)",
    description = "列:承诺编号、实际值、报告日期、数据来源(其他列忽略)。先检查每一行;有一行有误则不写入任何数据,并列出每个有误的行;否则全部写入同一事务。已记录过的行(同一承诺、数值、日期与来源)跳过,同一文件重复上传不会重复记录。",
    request_body(content = String, description = "The file: CSV (UTF-8) or XLSX",
        content_type = "text/csv"),
    security(("bearer" = [])),
    responses(
        (status = 200, body = crate::followup::bulk::Outcome),
        (status = 400, description = "The file as a whole cannot be read", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The file is larger than 5 MB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither CSV nor XLSX", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rows that cannot be recorded; nothing was written", body = BulkRefusal, content_type = "application/problem+json"),
        (status = 429, description = "Too many writes from this token or address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait")))))]
pub async fn report_bulk(
    State(state): State<AppState>,
    ApiActor(actor): ApiActor,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> AppResult<axum::response::Response> {
    use crate::followup::bulk::{self, Refused};
    use axum::response::IntoResponse;
    if !bulk::may_upload(&actor) {
        return Err(AppError::Forbidden);
    }
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let accepted = [
        "text/csv",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/octet-stream",
    ];
    if !accepted.iter().any(|t| content_type.starts_with(t)) {
        return Err(AppError::UnsupportedMediaType);
    }
    match bulk::import(&state.db, &actor, &body).await {
        Ok(outcome) => {
            state.indexer.wake();
            Ok(Json(outcome).into_response())
        }
        Err(Refused::File(message)) => Err(AppError::BadRequest(message)),
        Err(Refused::Rows(rows)) => {
            let refusal = BulkRefusal {
                kind: "https://tingshang.invalid/problems/rows-refused".to_owned(),
                title: "表格中有误的行".to_owned(),
                status: 422,
                detail: format!("{} 行有误,未写入任何数据。", rows.len()),
                rows,
            };
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
                Json(refusal),
            )
                .into_response())
        }
        Err(Refused::Other(err)) => Err(err),
    }
}

/// The files of an upload (`multipart/form-data`, one `file` part per file).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the request body for the OpenAPI document only
pub struct AttachmentUpload {
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
}

/// One stored attachment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttachmentItem {
    pub id: i32,
    pub name: String,
    pub kind: crate::files::Kind,
    pub size: i64,
    /// The download path (`/files/{sha256}/{name}`).
    pub url: String,
}

/// What an upload stored.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttachmentResult {
    pub items: Vec<AttachmentItem>,
}

#[utoipa::path(post, path = "/api/v1/attachments/{kind}/{id}", tag = "write", operation_id = "attach_files",
    summary = "上传附件(建议草稿、答复或协商活动)",
    description = "multipart/form-data,每个文件一个 `file` 部分。建议草稿由其提出人上传,答复由答复单位(或秘书处)上传,协商活动由秘书处上传。文件类型按内容判断:PDF、PNG、JPEG、WebP、DOCX、XLSX、ODT、纯文本、CSV;单个文件与每项的文件数有上限。全部文件检查通过才写入,否则不写入任何文件。",
    params(("kind" = String, Path, description = "What the files belong to: proposal (a draft), response, session, document or report (a reported actual)",
            pattern = "^(proposal|response|session|document|report)$"),
        ("id" = i32, Path)),
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    responses(
        (status = 201, body = AttachmentResult),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json",
            headers(("WWW-Authenticate" = String, description = "Bearer"))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "A file beyond the size limit, or more files than an item may have", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not multipart/form-data", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A file of a type not accepted, a zip bomb, or the item's limit reached; nothing was stored", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many writes from this token or address", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = String, description = "Seconds to wait")))))]
pub async fn attach(
    State(state): State<AppState>,
    crate::accounts::ClientIp(ip): crate::accounts::ClientIp,
    ApiActor(actor): ApiActor,
    Path((kind, id)): Path<(String, String)>,
    request: axum::extract::Request,
) -> AppResult<(StatusCode, Json<AttachmentResult>)> {
    use axum::extract::FromRequest;
    let kind = crate::files::OwnerKind::parse(&kind).ok_or(AppError::NotFound)?;
    let id = parse_id(&id)?;
    let target = crate::attachments::service::may_attach(&state.db, &actor, kind, id).await?;
    let multipart = axum::extract::Multipart::from_request(request, &state)
        .await
        .map_err(|_| AppError::UnsupportedMediaType)?;
    let uploads = crate::attachments::service::read_uploads(&state.config, None, multipart).await?;
    let ids =
        crate::attachments::service::add(&state.db, &state.config, &actor, &target, uploads, &ip)
            .await?
            .map_err(AppError::Unprocessable)?;
    let rows = entity::attachments::Entity::find()
        .filter(entity::attachments::Column::Id.is_in(ids))
        .order_by_asc(entity::attachments::Column::Id)
        .all(&state.db)
        .await?;
    let items = rows
        .into_iter()
        .filter_map(|a| {
            Some(AttachmentItem {
                url: crate::files::file_url(&a.sha256, &a.name),
                kind: crate::files::Kind::parse(&a.kind)?,
                id: a.id,
                name: a.name,
                size: a.size,
            })
        })
        .collect();
    Ok((StatusCode::CREATED, Json(AttachmentResult { items })))
}
