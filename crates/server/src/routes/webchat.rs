//! The web chat: the widget script, and the visitor API it speaks (history, live stream over
//! server-sent events, sending). Open to any origin: a visitor is known by a random id kept in
//! their browser, and a logged-in visitor by the HMAC of their user id signed with the channel's
//! secret by the brand's backend. Unverified claims (a typed-in email) never join profiles.

use super::{preflight, Path, Query};
use crate::error::{Failure, Result};
use crate::{AppState, SharedState};
use axum::extract::State;
use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use concierge_channels::verify::verify_hmac_sha256_hex;
use concierge_messaging::webchat::{provider_id, ChatDelivery};
use concierge_messaging::Channel;
use concierge_store::{ConversationFilter, NewInbound};
use concierge_types::conversation::{Author, ChannelKind, InboundState, MessageView};
use concierge_types::ErrorCode;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The widget, served as is.
const WIDGET_JS: &str = include_str!("../../assets/widget.js");
/// Longest visitor message, in characters.
pub const MAX_CHAT_CHARS: usize = 4000;
/// How often an open stream looks for new messages.
const STREAM_POLL: Duration = Duration::from_millis(400);

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/widget.js", get(widget))
        .route(
            "/chat/{channel}/messages",
            get(history).post(send).options(preflight),
        )
        .route("/chat/{channel}/events", get(stream).options(preflight))
        .layer(axum::middleware::map_response(cors))
}

async fn cors(response: Response) -> Response {
    super::allow_any_origin(response, "Content-Type")
}

async fn widget() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/javascript; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        WIDGET_JS,
    )
        .into_response()
}

/// Who is asking: the visitor id, and the user id when its HMAC checked out.
struct Visitor {
    id: String,
    user_id: Option<String>,
    thread: String,
}

fn token_ok(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Constant-time check of `hash` = hex HMAC-SHA256(secret, user_id).
fn user_hash_ok(secret: &str, user_id: &str, hash: &str) -> bool {
    verify_hmac_sha256_hex(secret, &[user_id.as_bytes()], hash.trim(), "user_hash").is_ok()
}

async fn chat_channel(s: &AppState, id: &str) -> Result<Arc<Channel>> {
    let channel = s
        .messaging
        .channel(id)
        .await
        .map_err(|e| Failure::new(ErrorCode::Internal, e))?
        .filter(|c| c.record.kind == ChannelKind::Webchat)
        .ok_or_else(|| Failure::new(ErrorCode::ChannelNotFound, "no web chat has this id"))?;
    Ok(channel)
}

fn visitor(
    channel: &Channel,
    visitor: &str,
    user_id: Option<&str>,
    user_hash: Option<&str>,
) -> Result<Visitor> {
    if !token_ok(visitor, 64) || visitor.len() < 16 {
        return Err(Failure::new(
            ErrorCode::InvalidRequest,
            "visitor must be 16 to 64 letters, digits, - or _",
        ));
    }
    let user_id = match (user_id.filter(|u| !u.is_empty()), user_hash) {
        (None, _) => None,
        (Some(u), Some(h)) => {
            let secret = channel.config.secret.as_deref().unwrap_or_default();
            if u.len() > 256 || secret.is_empty() || !user_hash_ok(secret, u, h) {
                return Err(Failure::new(
                    ErrorCode::InvalidSignature,
                    "user_hash does not match user_id",
                ));
            }
            Some(u.to_string())
        }
        (Some(_), None) => {
            return Err(Failure::new(
                ErrorCode::InvalidSignature,
                "a user_id needs its user_hash",
            ))
        }
    };
    let thread = match &user_id {
        Some(u) => format!("user:{u}"),
        None => format!("visitor:{visitor}"),
    };
    Ok(Visitor {
        id: visitor.to_string(),
        user_id,
        thread,
    })
}

#[derive(Deserialize)]
struct Who {
    visitor: String,
    user_id: Option<String>,
    user_hash: Option<String>,
    after: Option<i64>,
}

/// A message as the visitor sees it.
fn public_message(m: &MessageView, visitor: &str) -> serde_json::Value {
    let prefix = format!("{visitor}:");
    let client_id = m
        .provider_id
        .as_deref()
        .and_then(|p| p.strip_prefix(prefix.as_str()));
    // A file the brand sent: its name and where the widget links to (relative to our origin).
    let file = match &m.content {
        concierge_types::conversation::Content::Media {
            media_id: Some(id),
            filename: Some(name),
            size,
            ..
        } if m.author != Author::Customer && super::media::is_id(id) => {
            json!({ "name": name, "url": super::media::path(id, name), "size": size })
        }
        _ => serde_json::Value::Null,
    };
    json!({
        "id": m.id,
        "client_id": client_id,
        "direction": m.direction,
        "author": m.author,
        "author_name": m.author_name,
        "text": match &m.content {
            concierge_types::conversation::Content::Media { caption, .. } if !file.is_null() => {
                caption.clone().unwrap_or_default()
            }
            other => other.preview(),
        },
        "file": file,
        "created_at": m.created_at,
    })
}

/// The visitor's messages after `after`, oldest first: every conversation on their thread, never
/// private notes.
async fn visible(s: &AppState, channel: &str, v: &Visitor, after: i64) -> Result<Vec<MessageView>> {
    let mut conversations = s
        .store
        .conversations(ConversationFilter {
            channel_id: Some(channel.to_string()),
            thread: Some(v.thread.clone()),
            limit: 20,
            ..Default::default()
        })
        .await?;
    conversations.reverse();
    let mut out = Vec::new();
    for c in conversations {
        if c.last_message_at.is_none() && c.messages == 0 {
            continue;
        }
        let msgs = s
            .store
            .messages(c.id, Some(after), 500)
            .await?
            .unwrap_or_default();
        out.extend(msgs.into_iter().filter(|m| !m.private));
    }
    out.sort_by_key(|m| m.id);
    Ok(out)
}

async fn history(
    State(s): State<SharedState>,
    Path(channel): Path<String>,
    Query(q): Query<Who>,
) -> Result<Json<serde_json::Value>> {
    let ch = chat_channel(&s, &channel).await?;
    let v = visitor(
        &ch,
        &q.visitor,
        q.user_id.as_deref(),
        q.user_hash.as_deref(),
    )?;
    let msgs = visible(&s, &channel, &v, q.after.unwrap_or(0)).await?;
    let out: Vec<_> = msgs.iter().map(|m| public_message(m, &v.id)).collect();
    Ok(Json(json!({ "messages": out })))
}

async fn stream(
    State(s): State<SharedState>,
    Path(channel): Path<String>,
    Query(q): Query<Who>,
) -> Result<Response> {
    let ch = chat_channel(&s, &channel).await?;
    let v = visitor(
        &ch,
        &q.visitor,
        q.user_id.as_deref(),
        q.user_hash.as_deref(),
    )?;
    let after = match q.after {
        Some(a) => a,
        // Only what arrives from now on; the history came with GET …/messages.
        None => visible(&s, &channel, &v, 0)
            .await?
            .last()
            .map(|m| m.id)
            .unwrap_or(0),
    };
    let state = (s, channel, v, after, std::collections::VecDeque::new());
    let events =
        futures_util::stream::unfold(state, |(s, channel, v, mut after, mut queue)| async move {
            loop {
                if let Some(m) = queue.pop_front() {
                    let m: MessageView = m;
                    after = after.max(m.id);
                    let event = Event::default()
                        .event("message")
                        .id(m.id.to_string())
                        .data(public_message(&m, &v.id).to_string());
                    return Some((
                        Ok::<_, std::convert::Infallible>(event),
                        (s, channel, v, after, queue),
                    ));
                }
                tokio::time::sleep(STREAM_POLL).await;
                match visible(&s, &channel, &v, after).await {
                    Ok(new) => queue.extend(new),
                    // The store is gone or failing: end the stream; the browser reconnects.
                    Err(_) => return None,
                }
            }
        });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Send {
    visitor: String,
    client_id: String,
    text: String,
    user_id: Option<String>,
    user_hash: Option<String>,
    name: Option<String>,
    /// Typed in by the visitor, unverified: kept out of identity resolution.
    #[allow(dead_code)]
    email: Option<String>,
    locale: Option<String>,
}

async fn send(
    State(s): State<SharedState>,
    Path(channel): Path<String>,
    body: axum::body::Body,
) -> Result<Response> {
    let ch = chat_channel(&s, &channel).await?;
    let bytes = super::read_body(body, 64 * 1024).await?;
    let req: Send = serde_json::from_slice(&bytes).map_err(|e| {
        Failure::new(
            ErrorCode::InvalidMessage,
            format!("expected {{\"visitor\", \"client_id\", \"text\"}}: {e}"),
        )
    })?;
    let v = visitor(
        &ch,
        &req.visitor,
        req.user_id.as_deref(),
        req.user_hash.as_deref(),
    )?;
    if !token_ok(&req.client_id, 64) {
        return Err(Failure::new(
            ErrorCode::InvalidMessage,
            "client_id must be 1 to 64 letters, digits, - or _",
        ));
    }
    let text = req.text.trim();
    if text.is_empty() {
        return Err(Failure::new(ErrorCode::InvalidMessage, "text is empty"));
    }
    if text.chars().count() > MAX_CHAT_CHARS {
        return Err(Failure::new(
            ErrorCode::InvalidMessage,
            format!("text is longer than {MAX_CHAT_CHARS} characters"),
        ));
    }
    let clip = |o: Option<String>, n: usize| {
        o.map(|x| x.trim().chars().take(n).collect::<String>())
            .filter(|x| !x.is_empty())
    };
    let delivery = ChatDelivery {
        visitor: v.id.clone(),
        thread: v.thread.clone(),
        client_id: req.client_id.clone(),
        text: text.to_string(),
        user_id: v.user_id.clone(),
        name: clip(req.name, 100),
        locale: clip(req.locale, 35),
        ts: chrono::Utc::now().timestamp_millis(),
    };
    let body = serde_json::to_vec(&delivery)
        .map_err(|e| Failure::new(ErrorCode::Internal, e.to_string()))?;
    let logged = s
        .store
        .log_inbound(NewInbound {
            channel_id: channel,
            state: InboundState::Verified,
            error: None,
            headers: vec![("source".into(), "webchat".into())],
            body,
        })
        .await?;
    s.messaging.inbound.notify_one();
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(json!({
            "ok": true,
            "inbound_id": logged,
            "provider_id": provider_id(&v.id, &req.client_id),
        })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_hash() {
        let hex = concierge_channels::verify::hmac_sha256_hex("k", &[b"u-1"]);
        assert!(user_hash_ok("k", "u-1", &hex));
        assert!(!user_hash_ok("k", "u-2", &hex));
        assert!(!user_hash_ok("k", "u-1", "zz"));
        assert!(!user_hash_ok("k", "u-1", ""));
    }
}
