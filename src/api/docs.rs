//! `/api/docs`: the OpenAPI document rendered as a plain page by the app itself (no CDN, no script).
use axum::extract::State;
use axum::response::Html;
use minijinja::context;
use serde::Serialize;
use utoipa::OpenApi;

use super::ApiDoc;
use crate::app::AppState;
use crate::error::AppResult;

#[derive(Serialize)]
struct Operation {
    method: String,
    path: String,
    summary: String,
    tag: String,
    secured: bool,
    parameters: Vec<(String, String, bool, String)>,
    request: Option<String>,
    responses: Vec<(String, String)>,
}

/// The JSON of a schema reference or inline schema, for display.
fn show(value: &serde_json::Value) -> String {
    match value.get("$ref").and_then(|r| r.as_str()) {
        Some(r) => r.trim_start_matches("#/components/schemas/").to_owned(),
        None => value.to_string(),
    }
}

fn operations(doc: &serde_json::Value) -> Vec<Operation> {
    let mut out = Vec::new();
    let Some(paths) = doc["paths"].as_object() else {
        return out;
    };
    for (path, item) in paths {
        let Some(methods) = item.as_object() else {
            continue;
        };
        for (method, op) in methods {
            let content_schema = |v: &serde_json::Value| {
                v["content"]
                    .as_object()
                    .and_then(|c| c.values().next())
                    .map(|m| show(&m["schema"]))
                    .unwrap_or_default()
            };
            out.push(Operation {
                method: method.to_uppercase(),
                path: path.clone(),
                summary: op["description"]
                    .as_str()
                    .or(op["summary"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
                tag: op["tags"][0].as_str().unwrap_or_default().to_owned(),
                secured: op.get("security").is_some(),
                parameters: op["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .map(|p| {
                                (
                                    p["name"].as_str().unwrap_or_default().to_owned(),
                                    p["in"].as_str().unwrap_or_default().to_owned(),
                                    p["required"].as_bool().unwrap_or(false),
                                    p["description"].as_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                request: op.get("requestBody").map(content_schema),
                responses: op["responses"]
                    .as_object()
                    .map(|rs| {
                        rs.iter()
                            .map(|(code, r)| {
                                let schema = content_schema(r);
                                let text = r["description"].as_str().unwrap_or_default();
                                (code.clone(), format!("{text} {schema}").trim().to_owned())
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    out
}

pub async fn page(State(state): State<AppState>) -> AppResult<Html<String>> {
    let doc = serde_json::to_value(ApiDoc::openapi()).map_err(anyhow::Error::from)?;
    let schemas: Vec<(String, String)> = doc["components"]["schemas"]
        .as_object()
        .map(|s| {
            s.iter()
                .map(|(name, schema)| {
                    (
                        name.clone(),
                        serde_json::to_string_pretty(schema).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    state.render(
        "api/docs.html",
        context! {
            title => doc["info"]["title"].as_str(),
            description => doc["info"]["description"].as_str(),
            version => doc["openapi"].as_str(),
            operations => operations(&doc),
            schemas,
        },
    )
}
