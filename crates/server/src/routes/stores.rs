//! Physical stores: `POST /api/v1/store-events` takes purchases, returns and service visits from a
//! POS or CRM (one event, or `{"events": [...]}`), validated one by one like a Segment batch.

use super::read_body;
use crate::auth::Admin;
use crate::error::{Failure, Result};
use crate::SharedState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use concierge_channels::store_feed::{to_event, StoreEvent};
use concierge_types::error::ItemError;
use concierge_types::ErrorCode;
use serde_json::{json, Value};

/// Most events per request, and the largest body.
pub const MAX_EVENTS: usize = 1000;
pub const MAX_BODY: usize = 5 * 1024 * 1024;

pub fn routes() -> Router<SharedState> {
    Router::new().route("/api/v1/store-events", post(store_events))
}

async fn store_events(
    Admin(key): Admin,
    State(s): State<SharedState>,
    body: axum::body::Body,
) -> Result<Json<Value>> {
    let bytes = read_body(body, MAX_BODY).await?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::new(ErrorCode::InvalidJson, format!("the body is not JSON: {e}")))?;
    let items = match v {
        Value::Object(mut o) if o.contains_key("events") => match o.remove("events") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(Failure::new(
                    ErrorCode::InvalidRequest,
                    "\"events\" must be an array",
                ))
            }
        },
        Value::Object(o) => vec![Value::Object(o)],
        _ => {
            return Err(Failure::new(
                ErrorCode::InvalidRequest,
                "send one store event object, or {\"events\": [...]}",
            ))
        }
    };
    if items.is_empty() {
        return Err(Failure::new(ErrorCode::EmptyBatch, "no events"));
    }
    if items.len() > MAX_EVENTS {
        return Err(Failure::new(
            ErrorCode::BatchTooLarge,
            format!("at most {MAX_EVENTS} events per request"),
        ));
    }
    let now = chrono::Utc::now().timestamp_millis();
    let source = format!("store-api:{}", key.name);
    let mut events = Vec::with_capacity(items.len());
    let mut rejected = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let parsed = serde_json::from_value::<StoreEvent>(item)
            .map_err(|e| e.to_string())
            .and_then(|e| to_event(&e, &source, now, &s.config.default_region));
        match parsed {
            Ok(ev) => events.push(ev),
            Err(message) => rejected.push(ItemError {
                index: i,
                code: ErrorCode::InvalidEvent,
                message,
            }),
        }
    }
    if events.is_empty() {
        return Err(Failure(
            concierge_types::ApiError::new(ErrorCode::NoValidEvents, "no event was valid")
                .with_details(rejected),
        ));
    }
    let report = s.store.ingest(events).await?;
    Ok(Json(json!({
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "suppressed": report.suppressed,
        "rejected": rejected,
    })))
}
