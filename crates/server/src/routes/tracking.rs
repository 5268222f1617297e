//! The Segment-compatible tracking API.

use super::preflight;
use super::{read_body, Path, Query};
use crate::error::{Failure, Result};
use crate::SharedState;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use concierge_segment::{
    decode_body, parse, to_events, write_key_from_authorization, Call, IngestContext,
};
use concierge_types::{ApiError, ErrorCode};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/v1/{call}", post(call).options(preflight))
        .route("/beacon/v1/batch", post(beacon).options(preflight))
        .route(
            "/v1/projects/{write_key}/settings",
            get(settings).options(preflight),
        )
        .layer(middleware::from_fn(cors))
}

/// Browsers (analytics.js) post cross-origin; answer preflights and allow any origin, since write
/// keys are public by design.
async fn cors(request: Request, next: Next) -> Response {
    super::allow_any_origin(
        next.run(request).await,
        "Content-Type, Content-Encoding, Authorization, X-Retry-Count",
    )
}

async fn call(
    State(state): State<SharedState>,
    Path(route): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response> {
    let call = Call::from_segment(&route).ok_or_else(|| {
        Failure::new(
            ErrorCode::NotFound,
            format!("no tracking route /v1/{route}"),
        )
    })?;
    ingest(&state, call, &headers, body, None).await
}

#[derive(Deserialize)]
struct BeaconQuery {
    #[serde(rename = "writeKey")]
    write_key: Option<String>,
}

/// RudderStack's `navigator.sendBeacon` route: the write key comes in the query string.
async fn beacon(
    State(state): State<SharedState>,
    Query(q): Query<BeaconQuery>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response> {
    ingest(&state, Call::Batch, &headers, body, q.write_key).await
}

async fn ingest(
    state: &SharedState,
    call: Call,
    headers: &HeaderMap,
    body: axum::body::Body,
    query_key: Option<String>,
) -> Result<Response> {
    let limits = state.config.limits;
    let limit = call.max_bytes(&limits);
    // With the key in a header, refuse strangers before reading and parsing their body.
    let header_key = write_key_from_authorization(
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok()),
    );
    let header_auth = match &header_key {
        Some(k) => Some(state.keys.authenticate(state.store.as_ref(), k).await?),
        None => None,
    };
    let raw = read_body(body, limit).await?;
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let decoded = decode_body(encoding, &raw, limit)?;
    let request = parse(call, &decoded, &limits)?;
    let key = match header_auth {
        Some(key) => key,
        None => {
            let secret = request.write_key.clone().or(query_key).ok_or_else(|| {
                Failure::new(
                    ErrorCode::MissingAuthorization,
                    "send the write key as HTTP Basic user name or as `writeKey` in the body",
                )
            })?;
            state
                .keys
                .authenticate(state.store.as_ref(), &secret)
                .await?
        }
    };
    let ctx = IngestContext {
        source: &key.name,
        received_at: chrono::Utc::now().timestamp_millis(),
        default_region: &state.config.default_region,
        limits,
    };
    let (events, rejected) = to_events(request, &ctx);
    if events.is_empty() {
        return Err(match (call, rejected.first()) {
            (Call::Single(_), Some(first)) => {
                Failure(ApiError::new(first.code, first.message.clone()))
            }
            _ => Failure(
                ApiError::new(
                    ErrorCode::NoValidEvents,
                    "no event of the batch is valid; see details",
                )
                .with_details(rejected),
            ),
        });
    }
    let report = state.store.ingest(events).await?;
    Ok(Json(json!({
        "success": true,
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "suppressed": report.suppressed,
        "rejected": rejected,
    }))
    .into_response())
}

/// The settings analytics.js loads at start: enough for it to send everything to us.
async fn settings(
    State(state): State<SharedState>,
    Path(write_key): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    state
        .keys
        .authenticate(state.store.as_ref(), &write_key)
        .await?;
    let (protocol, host) = super::public_base(&state, &headers);
    Ok(Json(json!({
        "integrations": {
            "Segment.io": {
                "apiKey": write_key,
                "apiHost": format!("{host}/v1"),
                "protocol": protocol,
                "unbundledIntegrations": [],
                "addBundledMetadata": true,
                "maybeBundledConfigIds": {},
                "deliveryStrategy": {"strategy": "batching", "config": {"size": 10, "timeout": 5000}}
            }
        },
        "plan": {"track": {"__default": {"enabled": true, "integrations": {}}}, "identify": {"__default": {"enabled": true}}, "group": {"__default": {"enabled": true}}},
        "edgeFunction": {},
        "analyticsNextEnabled": true,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": false,
        "remotePlugins": []
    }))
    .into_response())
}
