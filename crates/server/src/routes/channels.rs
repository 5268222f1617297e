//! Connecting channels, the provider webhooks, and the raw inbound log.
//!
//! A webhook POST is verified over its raw bytes by the channel's plug-in, checked to be
//! parsable, and appended to the inbound log; only when that is committed does the provider get its
//! `200`. Rejected and unparsable deliveries are logged too, so an operator can see what arrived.

use super::{read_body, Path, Query};
use crate::auth::Admin;
use crate::error::{Failure, Result};
use crate::{AppState, SharedState};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use concierge_channels::{provider, ChannelConfig, Request};
use concierge_messaging::Channel;
use concierge_store::{ChannelRecord, NewChannel, NewInbound};
use concierge_types::conversation::{ChannelKind, ChannelView, InboundEntry, InboundState};
use concierge_types::view::Timestamp;
use concierge_types::ErrorCode;
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/channels", get(list).post(create))
        .route("/api/v1/channels/{id}", get(one))
        .route("/api/v1/channels/{id}/email", post(inbound_email))
        .route("/api/v1/channels/{id}/poll", post(poll_now))
        .route("/webhooks/{id}", get(handshake).post(webhook))
        .route("/api/v1/inbound", get(inbound_log))
        .route("/api/v1/inbound/{id}", get(inbound_entry))
        .route("/api/v1/inbound/{id}/replay", post(replay))
}

/// The API view of a channel: secrets masked, webhook URL spelled out.
pub(crate) fn view(state: &AppState, headers: &HeaderMap, c: &Channel) -> ChannelView {
    let (proto, host) = super::public_base(state, headers);
    ChannelView {
        id: c.record.id.clone(),
        kind: c.record.kind,
        name: c.record.name.clone(),
        webhook_url: format!("{proto}://{host}/webhooks/{}", c.record.id),
        config: c.config.redacted(),
        created_at: Timestamp(c.record.created_at),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateChannel {
    kind: String,
    name: String,
    #[serde(default)]
    config: serde_json::Value,
}

/// Checks a channel request the way the API and the CLI both need.
pub fn validate_channel(
    kind: &str,
    name: &str,
    config: serde_json::Value,
) -> std::result::Result<NewChannel, String> {
    let kind = ChannelKind::parse(kind.trim()).ok_or_else(|| {
        let all: Vec<_> = ChannelKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown channel kind {kind:?}; one of {}", all.join(", "))
    })?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("name must be 1 to 100 characters".into());
    }
    let config = if config.is_null() { json!({}) } else { config };
    let parsed: ChannelConfig =
        serde_json::from_value(config.clone()).map_err(|e| format!("config: {e}"))?;
    parsed.validate(kind)?;
    Ok(NewChannel {
        kind,
        name: name.to_string(),
        config,
    })
}

async fn create(
    _: Admin,
    State(s): State<SharedState>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response> {
    let bytes = read_body(body, 64 * 1024).await?;
    let req: CreateChannel = serde_json::from_slice(&bytes).map_err(|e| {
        Failure::new(
            ErrorCode::InvalidChannel,
            format!("expected {{\"kind\", \"name\", \"config\"}}: {e}"),
        )
    })?;
    let new = validate_channel(&req.kind, &req.name, req.config)
        .map_err(|e| Failure::new(ErrorCode::InvalidChannel, e))?;
    let record = s.store.create_channel(new).await?;
    let channel = Channel::from_record(record)
        .map_err(|e| Failure::new(ErrorCode::Internal, e.to_string()))?;
    let v = view(&s, &headers, &channel);
    s.messaging.remember(channel);
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

async fn list(
    _: Admin,
    State(s): State<SharedState>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>> {
    let records = s.store.channels().await?;
    let channels: Vec<ChannelView> = records
        .into_iter()
        .filter_map(|r: ChannelRecord| Channel::from_record(r).ok())
        .map(|c| view(&s, &headers, &c))
        .collect();
    Ok(Json(json!({ "channels": channels })))
}

fn channel_not_found() -> Failure {
    Failure::new(ErrorCode::ChannelNotFound, "no channel has this id")
}

async fn one(
    _: Admin,
    State(s): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ChannelView>> {
    let c = s
        .messaging
        .channel(&id)
        .await
        .map_err(|e| Failure::new(ErrorCode::Internal, e))?
        .ok_or_else(channel_not_found)?;
    Ok(Json(view(&s, &headers, &c)))
}

async fn webhook_channel(s: &AppState, id: &str) -> Result<std::sync::Arc<Channel>> {
    s.messaging
        .channel(id)
        .await
        .map_err(|e| Failure::new(ErrorCode::Internal, e))?
        .ok_or_else(channel_not_found)
}

/// The provider's GET check when the webhook URL is registered (Meta's `hub.challenge`).
async fn handshake(
    State(s): State<SharedState>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Response> {
    let channel = webhook_channel(&s, &id).await?;
    let plugin = provider(channel.record.kind).ok_or_else(channel_not_found)?;
    match plugin.handshake(&channel.config, &query) {
        None => Err(Failure::new(
            ErrorCode::MethodNotAllowed,
            "this channel's webhook takes POST only",
        )),
        Some(Ok(challenge)) => Ok((
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge,
        )
            .into_response()),
        Some(Err(rejection)) => {
            tracing::warn!(channel = %id, %rejection, "webhook handshake refused");
            Err(Failure::new(
                ErrorCode::VerificationFailed,
                "the verify token or mode is wrong",
            ))
        }
    }
}

/// Headers worth keeping in the log: what identifies and signs a delivery. Shared secrets
/// (Telegram's secret token) and credentials are never kept.
fn kept_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(k, v)| {
            let name = k.as_str().to_ascii_lowercase();
            let keep = matches!(name.as_str(), "content-type" | "user-agent")
                || (name.starts_with("x-")
                    && !name.contains("token")
                    && !name.contains("secret")
                    && !name.contains("auth")
                    && !name.contains("forwarded"));
            keep.then(|| {
                let v = String::from_utf8_lossy(v.as_bytes());
                (name, v.chars().take(512).collect())
            })
        })
        .collect()
}

async fn webhook(
    State(s): State<SharedState>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response> {
    let channel = webhook_channel(&s, &id).await?;
    let plugin = provider(channel.record.kind).ok_or_else(|| {
        Failure::new(
            ErrorCode::ChannelNotFound,
            "this channel does not receive provider webhooks here",
        )
    })?;
    let body = read_body(body, concierge_channels::MAX_BODY_BYTES).await?;
    let all_headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let req = Request {
        query: &query,
        headers: &all_headers,
        body: &body,
    };
    let mut verified = plugin.verify(&channel.config, &req);
    if verified.is_ok() {
        if let Some(at) = plugin.signed_at(&req) {
            let age = chrono::Utc::now().timestamp() - at;
            if age.abs() > concierge_channels::TIKTOK_MAX_SIGNATURE_AGE_SECS {
                verified = Err(concierge_channels::Rejection::Unauthorized(format!(
                    "signature is {age} s old"
                )));
            }
        }
    }
    let kept = kept_headers(&headers);
    let entry = |state: InboundState, error: Option<String>| NewInbound {
        channel_id: id.clone(),
        state,
        error,
        headers: kept.clone(),
        body: body.to_vec(),
    };
    if let Err(rejection) = verified {
        tracing::warn!(channel = %id, %rejection, "webhook rejected");
        // Anyone can post to a webhook URL: keep enough to diagnose, not whole bodies.
        let mut logged = entry(InboundState::Rejected, Some(rejection.to_string()));
        logged.body.truncate(REJECTED_EXCERPT);
        s.store.log_inbound(logged).await?;
        let code = match rejection.status() {
            401 => ErrorCode::InvalidSignature,
            403 => ErrorCode::VerificationFailed,
            _ => ErrorCode::InvalidRequest,
        };
        return Err(Failure::new(
            code,
            "the delivery could not be verified; nothing was stored",
        ));
    }
    // Parsed here only to answer a malformed delivery with a 4xx; the processor parses the logged
    // bytes again, so a crash after the log write loses nothing.
    if let Err(e) = plugin.parse(&body, &s.config.default_region) {
        tracing::warn!(channel = %id, error = %e, "webhook body could not be parsed");
        let logged = s
            .store
            .log_inbound(entry(InboundState::Failed, Some(e.clone())))
            .await?;
        return Err(Failure::new(
            ErrorCode::UnparsableWebhook,
            format!("the delivery could not be parsed (inbound log entry {logged}): {e}"),
        ));
    }
    let logged = s
        .store
        .log_inbound(entry(InboundState::Verified, None))
        .await?;
    s.messaging.inbound.notify_one();
    Ok(Json(json!({ "ok": true, "inbound_id": logged })).into_response())
}

/// Bytes of a rejected delivery's body kept in the log.
const REJECTED_EXCERPT: usize = 2048;

/// Largest raw mail accepted by the inbound-email endpoint.
pub const MAX_MAIL_BYTES: usize = 25 * 1024 * 1024;

/// An inbound-email endpoint for mail relays (Postfix pipe, SES/SendGrid-style forwarders): the
/// body is one raw RFC 5322 message. Admin key, since mail carries no provider signature.
async fn inbound_email(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response> {
    let channel = webhook_channel(&s, &id).await?;
    if channel.record.kind != ChannelKind::Email {
        return Err(Failure::new(
            ErrorCode::InvalidRequest,
            "this channel is not an email channel",
        ));
    }
    let raw = read_body(body, MAX_MAIL_BYTES).await?;
    if raw.is_empty() {
        return Err(Failure::new(
            ErrorCode::UnparsableWebhook,
            "send one raw RFC 5322 message as the body",
        ));
    }
    let parsed =
        concierge_messaging::processor::parse(ChannelKind::Email, &raw, &s.config.default_region);
    let (state, error) = match &parsed {
        Ok(_) => (InboundState::Verified, None),
        Err(e) => (InboundState::Failed, Some(e.clone())),
    };
    let logged = s
        .store
        .log_inbound(NewInbound {
            channel_id: id,
            state,
            error,
            headers: kept_headers(&headers),
            body: raw.to_vec(),
        })
        .await?;
    match parsed {
        Err(e) => Err(Failure::new(
            ErrorCode::UnparsableWebhook,
            format!("the mail could not be parsed (inbound log entry {logged}): {e}"),
        )),
        Ok(p) => {
            s.messaging.inbound.notify_one();
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "inbound_id": logged, "skipped": p.skipped })),
            )
                .into_response())
        }
    }
}

/// Polls the channel's mailbox now instead of at the next interval.
async fn poll_now(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<String>,
) -> Result<Response> {
    let channel = webhook_channel(&s, &id).await?;
    if channel.record.kind != ChannelKind::Email {
        return Err(Failure::new(
            ErrorCode::InvalidRequest,
            "only email channels are polled",
        ));
    }
    let logged = concierge_messaging::email::poll_once(&s.messaging)
        .await
        .map_err(|e| Failure::new(ErrorCode::Internal, e))?;
    Ok(Json(json!({ "logged": logged })).into_response())
}

#[derive(Deserialize)]
struct LogQuery {
    channel_id: Option<String>,
    state: Option<String>,
    before: Option<i64>,
    limit: Option<usize>,
}

async fn inbound_log(
    _: Admin,
    State(s): State<SharedState>,
    Query(q): Query<LogQuery>,
) -> Result<Json<serde_json::Value>> {
    let state = match q.state.as_deref() {
        None => None,
        Some(raw) => Some(InboundState::parse(raw).ok_or_else(|| {
            Failure::new(
                ErrorCode::InvalidRequest,
                "state is one of rejected, verified, stored, failed",
            )
        })?),
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let entries: Vec<InboundEntry> = s
        .store
        .inbound_log(q.channel_id, state, q.before, limit)
        .await?;
    let next = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(json!({ "entries": entries, "next_before": next })))
}

fn inbound_not_found() -> Failure {
    Failure::new(
        ErrorCode::InboundNotFound,
        "no inbound log entry has this id",
    )
}

async fn inbound_entry(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<i64>,
) -> Result<Json<InboundEntry>> {
    s.store
        .inbound_entry(id)
        .await?
        .map(Json)
        .ok_or_else(inbound_not_found)
}

/// Puts a delivery back in the queue: provider ids make a replay store nothing twice.
async fn replay(_: Admin, State(s): State<SharedState>, Path(id): Path<i64>) -> Result<Response> {
    let entry = s
        .store
        .inbound_entry(id)
        .await?
        .ok_or_else(inbound_not_found)?;
    if entry.state == InboundState::Rejected {
        return Err(Failure::new(
            ErrorCode::InvalidRequest,
            "a rejected delivery failed verification and is never processed",
        ));
    }
    s.store.replay_inbound(id).await?;
    s.messaging.inbound.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "inbound_id": id, "state": "verified" })),
    )
        .into_response())
}
