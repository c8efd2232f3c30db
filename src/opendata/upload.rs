//! `/admin/import`: the secretariat uploads an archive file; every bad line is listed and nothing
//! is written unless the whole file is valid.
use axum::extract::{Multipart, State};
use axum::response::Response;
use minijinja::context;

use super::archive::{self, ImportError};
use crate::accounts::extract::check_csrf;
use crate::accounts::policy::{self, Action};
use crate::accounts::SignedIn;
use crate::app::AppState;
use crate::error::{AppError, AppResult};

pub async fn form(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::ImportArchive)?;
    // The page shows every variable the result page does (templates are strict about undefined).
    state.render_form(
        "admin/import.html",
        context! {
            csrf => &session.csrf_token,
            report => Option::<archive::ImportReport>::None,
            errors => Vec::<archive::LineError>::new(),
            error => Option::<String>::None,
        },
        None,
    )
}

pub async fn submit(
    State(state): State<AppState>,
    SignedIn(session): SignedIn,
    mut multipart: Multipart,
) -> AppResult<Response> {
    policy::require(&session.actor, Action::ImportArchive)?;
    let mut csrf = String::new();
    let mut text = None;
    let bad = |_| AppError::bad_request("上传的内容无法读取。");
    while let Some(field) = multipart.next_field().await.map_err(bad)? {
        match field.name() {
            Some("csrf") => csrf = field.text().await.map_err(bad)?,
            Some("file") => {
                let bytes = field.bytes().await.map_err(bad)?;
                text =
                    Some(String::from_utf8(bytes.to_vec()).map_err(|_| {
                        AppError::bad_request("文件须为 UTF-8 编码的 JSON Lines。")
                    })?);
            }
            _ => {}
        }
    }
    // A multipart upload, not a `SignedForm` (which reads URL-encoded forms): checked here,
    // before anything is written.
    check_csrf(&session.csrf_token, &csrf)?;
    let text = text.ok_or_else(|| AppError::bad_request("请选择要导入的文件。"))?;
    let store = crate::files::FileStore::new(&state.config.files_dir);
    let outcome = archive::import_with_files(&state.db, &text, &store, &|_, _| {}).await;
    let (report, errors) = match outcome {
        Ok(report) => {
            crate::audit::record(
                &state.db,
                Some(&session.actor),
                "import",
                None,
                Some(format!("{:?}", report.inserted)),
                None,
            )
            .await?;
            state.indexer.wake();
            (Some(report), Vec::new())
        }
        Err(ImportError::Invalid(errors)) => (None, errors),
        Err(ImportError::Database(e)) => return Err(e.into()),
        Err(ImportError::Other(e)) => return Err(e),
    };
    let error =
        (!errors.is_empty()).then(|| format!("文件有 {} 处错误,未导入任何内容。", errors.len()));
    state.render_form(
        "admin/import.html",
        context! { csrf => &session.csrf_token, report, errors, error },
        error.as_deref(),
    )
}
