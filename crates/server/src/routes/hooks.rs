//! Integration webhooks: `POST /api/v1/webhooks` subscribes a URL to events, signed with a secret
//! the receiver uses to verify each delivery.

use super::{read_body, Path};
use crate::auth::Admin;
use crate::error::{Failure, Result};
use crate::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use concierge_messaging::hooks::EVENT_TYPES;
use concierge_types::ErrorCode;
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/webhooks", get(list).post(create))
        .route("/api/v1/webhooks/{id}", delete(remove))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    url: String,
    #[serde(default)]
    events: Vec<String>,
    secret: Option<String>,
}

fn invalid(m: impl Into<String>) -> Failure {
    Failure::new(ErrorCode::InvalidRequest, m)
}

async fn create(
    _: Admin,
    State(s): State<SharedState>,
    body: axum::body::Body,
) -> Result<Response> {
    let bytes = read_body(body, 16 * 1024).await?;
    let req: Create = serde_json::from_slice(&bytes).map_err(|e| {
        invalid(format!(
            "expected {{\"url\", \"events\", \"secret\"?}}: {e}"
        ))
    })?;
    let url = req.url.trim().to_string();
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2048 {
        return Err(invalid("url must be an http(s) URL"));
    }
    for e in &req.events {
        if !EVENT_TYPES.contains(&e.as_str()) {
            return Err(invalid(format!(
                "unknown event {e:?}; one of {}",
                EVENT_TYPES.join(", ")
            )));
        }
    }
    let secret = match req.secret {
        Some(secret) if secret.len() >= 16 && secret.len() <= 256 => secret,
        Some(_) => return Err(invalid("secret must be 16 to 256 characters")),
        None => {
            let mut b = [0u8; 24];
            getrandom::fill(&mut b)
                .map_err(|e| Failure::new(ErrorCode::Internal, e.to_string()))?;
            b.iter().map(|x| format!("{x:02x}")).collect()
        }
    };
    let sub = s
        .store
        .create_subscription(url, req.events, secret.clone())
        .await?;
    // The only time the secret is shown.
    let mut v =
        serde_json::to_value(&sub).map_err(|e| Failure::new(ErrorCode::Internal, e.to_string()))?;
    v["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn list(_: Admin, State(s): State<SharedState>) -> Result<Json<serde_json::Value>> {
    let subs = s.store.subscriptions().await?;
    Ok(Json(
        json!({ "webhooks": subs, "event_types": EVENT_TYPES }),
    ))
}

async fn remove(_: Admin, State(s): State<SharedState>, Path(id): Path<i64>) -> Result<Response> {
    if s.store.delete_subscription(id).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(Failure::new(ErrorCode::NotFound, "no webhook has this id"))
    }
}
