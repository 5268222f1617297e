//! Conversations across every channel: list and filter, read messages, reply (through the outbox),
//! add private notes, assign, resolve, reopen, snooze. Every handler takes [`Admin`] for now.

use super::{read_body, Path, Query};
use crate::auth::Admin;
use crate::error::{Failure, Result};
use crate::SharedState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use concierge_channels::{check_window, ChannelKind, SendContext};
use concierge_messaging::OutgoingPayload;
use concierge_store::{ConversationChange, ConversationFilter, NewAttachment, NewMessage};
use concierge_types::conversation::{
    Author, ConversationStatus, ConversationView, MessageView, Owner,
};
use concierge_types::view::Timestamp;
use concierge_types::{ErrorCode, ProfileId};
use serde::Deserialize;
use serde_json::json;

/// Longest message or note an agent may write, in bytes.
pub const MAX_TEXT_BYTES: usize = 32 * 1024;

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/conversations", get(list))
        .route("/api/v1/conversations/{id}", get(one))
        .route(
            "/api/v1/conversations/{id}/messages",
            get(messages).post(add_message),
        )
        .route("/api/v1/conversations/{id}/assign", post(assign))
        .route("/api/v1/conversations/{id}/resolve", post(resolve))
        .route("/api/v1/conversations/{id}/reopen", post(reopen))
        .route("/api/v1/conversations/{id}/pending", post(pending))
        .route("/api/v1/conversations/{id}/snooze", post(snooze))
}

pub(crate) fn not_found() -> Failure {
    Failure::new(
        ErrorCode::ConversationNotFound,
        "no conversation has this id",
    )
}

#[derive(Deserialize)]
struct ListQuery {
    customer_id: Option<i64>,
    channel_id: Option<String>,
    status: Option<String>,
    before: Option<i64>,
    limit: Option<usize>,
}

async fn list(
    _: Admin,
    State(s): State<SharedState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<serde_json::Value>> {
    let status = match q.status.as_deref() {
        None | Some("") | Some("all") => None,
        Some(raw) => Some(ConversationStatus::parse(raw).ok_or_else(|| {
            Failure::new(
                ErrorCode::InvalidRequest,
                "status is one of open, pending, snoozed, resolved, all",
            )
        })?),
    };
    let limit = q.limit.unwrap_or(25).clamp(1, 200);
    let conversations = s
        .store
        .conversations(ConversationFilter {
            customer: q.customer_id.map(ProfileId),
            channel_id: q.channel_id,
            thread: None,
            status,
            before: q.before,
            limit,
            ..Default::default()
        })
        .await?;
    let next = (conversations.len() == limit)
        .then(|| conversations.last().map(|c| c.id))
        .flatten();
    Ok(Json(
        json!({ "conversations": conversations, "next_before": next }),
    ))
}

async fn one(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<i64>,
) -> Result<Json<ConversationView>> {
    s.store
        .conversation(id)
        .await?
        .map(Json)
        .ok_or_else(not_found)
}

#[derive(Deserialize)]
struct MessagesQuery {
    after: Option<i64>,
    limit: Option<usize>,
}

async fn messages(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<i64>,
    Query(q): Query<MessagesQuery>,
) -> Result<Json<serde_json::Value>> {
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let messages: Vec<MessageView> = s
        .store
        .messages(id, q.after, limit)
        .await?
        .ok_or_else(not_found)?;
    let next = (messages.len() == limit)
        .then(|| messages.last().map(|m| m.id))
        .flatten();
    Ok(Json(json!({ "messages": messages, "next_after": next })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Template {
    pub(crate) name: String,
    pub(crate) language: String,
    #[serde(default)]
    pub(crate) params: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewMessageBody {
    text: Option<String>,
    template: Option<Template>,
    /// A private note for the team, never sent.
    #[serde(default)]
    private: bool,
    /// Who writes (the agent's name); the key's name when absent.
    author: Option<String>,
    /// A file to send (or to keep with a note): its name and its bytes in base64.
    file: Option<FileBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBody {
    name: String,
    data: String,
}

/// What a person sends: text, a template or a file.
pub(crate) enum Reply {
    Text(String),
    Template(Template),
    /// A checked upload, the base URL (`https://host`) providers fetch it from, and text to send
    /// with it (see [`caption_fits`]).
    File {
        upload: super::media::Upload,
        base: String,
        caption: Option<String>,
    },
}

fn invalid(message: impl Into<String>) -> Failure {
    Failure::new(ErrorCode::InvalidMessage, message)
}

/// Whether files can be sent on `kind` at all.
pub(crate) fn sends_files(kind: ChannelKind) -> bool {
    match kind {
        ChannelKind::Email | ChannelKind::Webchat => true,
        k => concierge_channels::provider(k).is_some_and(|p| p.sends_files()),
    }
}

/// Whether `text` can go with this file as one message on `kind`: email puts it in the body and
/// the web chat beside the link; providers say how long a caption they show, if any.
pub(crate) fn caption_fits(kind: ChannelKind, upload: &super::media::Upload, text: &str) -> bool {
    match kind {
        ChannelKind::Email | ChannelKind::Webchat => true,
        k => concierge_channels::provider(k).is_some_and(|p| {
            text.chars().count()
                <= p.max_caption_chars(upload.checked.media, upload.checked.mime_type)
        }),
    }
}

async fn add_message(
    Admin(key): Admin,
    State(s): State<SharedState>,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Response> {
    // A file comes as base64: a third larger than its bytes (line breaks and escapes aside).
    let limit = concierge_channels::media::MAX_UPLOAD_BYTES / 3 * 4 + (1 << 20);
    let bytes = read_body(body, limit).await?;
    let req: NewMessageBody = serde_json::from_slice(&bytes).map_err(|e| {
        invalid(format!(
            "expected {{\"text\"}}, {{\"template\": {{\"name\", \"language\", \"params\"}}}} or {{\"file\": {{\"name\", \"data\"}}}} (with \"text\" to send with it), optionally \"private\": true: {e}"
        ))
    })?;
    let conversation = s.store.conversation(id).await?.ok_or_else(not_found)?;
    let reply = match (req.text, req.template, req.file) {
        (Some(text), None, None) => Reply::Text(text),
        (None, Some(t), None) => Reply::Template(t),
        (text, None, Some(f)) => {
            use base64::Engine;
            // Wrapped base64 (76-character lines) is fine.
            let clean: Vec<u8> = f
                .data
                .bytes()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            let data = base64::engine::general_purpose::STANDARD
                .decode(clean)
                .map_err(|e| {
                    Failure::new(
                        ErrorCode::InvalidAttachment,
                        format!("file.data is not base64: {e}"),
                    )
                })?;
            let upload = super::media::accept(&f.name, data)?;
            let caption = text.filter(|t| !t.trim().is_empty());
            if let Some(c) = &caption {
                if !caption_fits(conversation.channel_kind, &upload, c) {
                    return Err(invalid(format!(
                        "{} can't show this text with this file; send them as two messages",
                        conversation.channel_kind.as_str()
                    )));
                }
            }
            let (proto, host) = super::public_base(&s, &headers);
            Reply::File {
                upload,
                base: format!("{proto}://{host}"),
                caption,
            }
        }
        _ => {
            return Err(invalid(
                "send \"text\", a \"template\" or a \"file\" (text may go with a file)",
            ))
        }
    };
    let named = req
        .author
        .as_deref()
        .map(|a| a.trim().chars().take(100).collect::<String>())
        .filter(|a| !a.is_empty());
    // Only a named agent takes the conversation over; a shared key's name would assign everything
    // to "the helpdesk".
    let take_over = named.clone();
    let author_name = named.unwrap_or(key.name);
    let message = prepare_message(&s, &conversation, reply, req.private)
        .await?
        .commit(&s, author_name, take_over)
        .await?;
    Ok((StatusCode::CREATED, Json(message)).into_response())
}

/// A message checked and ready to keep: nothing is written until [`Prepared::commit`], so a
/// reply made of several messages (text, then a file) can be checked whole first.
pub(crate) struct Prepared {
    conversation: i64,
    payload: OutgoingPayload,
    attachment: Option<NewAttachment>,
    private: bool,
}

/// Checks a person's reply (text, template or file) against the channel's reply window and the
/// provider's own rules (kinds, sizes, captions), or a private note.
pub(crate) async fn prepare_message(
    s: &SharedState,
    conversation: &ConversationView,
    reply: Reply,
    private: bool,
) -> Result<Prepared> {
    let mut attachment = None;
    let payload = match reply {
        Reply::Text(text) => {
            if text.trim().is_empty() {
                return Err(invalid("text is empty"));
            }
            if text.len() > MAX_TEXT_BYTES {
                return Err(invalid(format!(
                    "text is longer than {MAX_TEXT_BYTES} bytes"
                )));
            }
            OutgoingPayload::Text { text }
        }
        Reply::Template(t) if !private => {
            if t.name.trim().is_empty() || t.language.trim().is_empty() {
                return Err(invalid("a template needs a name and a language"));
            }
            OutgoingPayload::Template {
                name: t.name,
                language: t.language,
                params: t.params,
            }
        }
        Reply::Template(_) => return Err(invalid("a note takes text or a file, not a template")),
        Reply::File {
            upload,
            base,
            caption,
        } => {
            if caption.as_ref().is_some_and(|c| c.len() > MAX_TEXT_BYTES) {
                return Err(invalid(format!(
                    "text is longer than {MAX_TEXT_BYTES} bytes"
                )));
            }
            let row = upload.row;
            let payload = OutgoingPayload::Media {
                url: format!("{base}{}", super::media::path(&row.id, &row.filename)),
                attachment: row.id.clone(),
                media: upload.checked.media,
                filename: row.filename.clone(),
                mime_type: row.mime_type.clone(),
                size: row.data.len() as u64,
                caption,
            };
            attachment = Some(row);
            payload
        }
    };
    if !private {
        let ctx = SendContext {
            now: chrono::Utc::now().timestamp_millis(),
            last_incoming_at: conversation.last_incoming_at.map(|t| t.0),
        };
        check_window(conversation.channel_kind, &ctx, &payload.to_outgoing())
            .map_err(|e| Failure::new(ErrorCode::ReplyWindowClosed, e))?;
        if let OutgoingPayload::Media { .. } = &payload {
            // The provider's own rules for files (kinds, sizes), now rather than at send time.
            match concierge_channels::provider(conversation.channel_kind) {
                Some(plugin) => {
                    if let Some(channel) = s
                        .messaging
                        .channel(&conversation.channel_id)
                        .await
                        .map_err(|e| Failure::new(ErrorCode::Internal, e))?
                    {
                        plugin
                            .build_send(
                                &channel.config,
                                &conversation.thread,
                                &payload.to_outgoing(),
                                &ctx,
                            )
                            .map_err(|e| Failure::new(ErrorCode::InvalidAttachment, e))?;
                    }
                }
                None if sends_files(conversation.channel_kind) => {}
                None => {
                    return Err(Failure::new(
                        ErrorCode::InvalidAttachment,
                        format!(
                            "files can't be sent on {}",
                            conversation.channel_kind.as_str()
                        ),
                    ))
                }
            }
        }
    }
    Ok(Prepared {
        conversation: conversation.id,
        payload,
        attachment,
        private,
    })
}

impl Prepared {
    /// Keeps the message (and its file) and queues it in the outbox, in one transaction.
    pub(crate) async fn commit(
        self,
        s: &SharedState,
        author_name: String,
        take_over: Option<String>,
    ) -> Result<MessageView> {
        let outgoing = (!self.private)
            .then(|| serde_json::to_value(&self.payload))
            .transpose()
            .map_err(|e| Failure::new(ErrorCode::Internal, e.to_string()))?;
        let message = s
            .store
            .add_message(
                self.conversation,
                NewMessage {
                    content: self.payload.content(),
                    private: self.private,
                    author: Author::Agent,
                    author_name: Some(author_name),
                    take_over,
                    outgoing,
                    attachment: self.attachment,
                },
            )
            .await?
            .ok_or_else(not_found)?;
        if !self.private {
            s.messaging.outbox.notify_one();
        }
        Ok(message)
    }
}

/// A person's reply or private note, checked and kept; shared by the API and the workspace.
pub(crate) async fn post_message(
    s: &SharedState,
    id: i64,
    reply: Reply,
    private: bool,
    author_name: String,
    take_over: Option<String>,
) -> Result<MessageView> {
    let conversation = s.store.conversation(id).await?.ok_or_else(not_found)?;
    prepare_message(s, &conversation, reply, private)
        .await?
        .commit(s, author_name, take_over)
        .await
}

pub(crate) async fn change(
    s: &SharedState,
    id: i64,
    change: ConversationChange,
) -> Result<Json<ConversationView>> {
    let view = s
        .store
        .change_conversation(id, change)
        .await?
        .ok_or_else(not_found)?;
    if matches!(view.owner, Owner::Queue(_)) {
        s.messaging.route.notify_one();
    }
    Ok(Json(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    agent: Option<String>,
    queue: Option<String>,
    #[serde(default)]
    bot: bool,
    #[serde(default)]
    unassign: bool,
}

async fn assign(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<i64>,
    body: axum::body::Body,
) -> Result<Json<ConversationView>> {
    let bytes = read_body(body, 4096).await?;
    let req: AssignBody = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::new(ErrorCode::InvalidRequest, format!("assign: {e}")))?;
    let clean = |v: String| {
        let v = v.trim().chars().take(100).collect::<String>();
        (!v.is_empty()).then_some(v)
    };
    let owner = match (
        req.agent.and_then(clean),
        req.queue.and_then(clean),
        req.bot,
        req.unassign,
    ) {
        (Some(a), None, false, false) => Owner::Agent(a),
        (None, Some(q), false, false) => Owner::Queue(q),
        (None, None, true, false) => Owner::Bot,
        (None, None, false, true) => Owner::Unassigned,
        _ => {
            return Err(Failure::new(
                ErrorCode::InvalidRequest,
                "send exactly one of {\"agent\": name}, {\"queue\": name}, {\"bot\": true}, {\"unassign\": true}",
            ))
        }
    };
    change(&s, id, ConversationChange::Assign(owner)).await
}

async fn resolve(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<i64>,
) -> Result<Json<ConversationView>> {
    change(&s, id, ConversationChange::Resolve).await
}

async fn reopen(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<i64>,
) -> Result<Json<ConversationView>> {
    change(&s, id, ConversationChange::Reopen).await
}

async fn pending(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<i64>,
) -> Result<Json<ConversationView>> {
    change(&s, id, ConversationChange::Pending).await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SnoozeBody {
    until: Option<Timestamp>,
}

async fn snooze(
    _: Admin,
    State(s): State<SharedState>,
    Path(id): Path<i64>,
    body: axum::body::Body,
) -> Result<Json<ConversationView>> {
    let bytes = read_body(body, 4096).await?;
    let req: SnoozeBody = if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        SnoozeBody::default()
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            Failure::new(
                ErrorCode::InvalidRequest,
                format!("expected {{\"until\": RFC 3339 time}} or nothing: {e}"),
            )
        })?
    };
    if req
        .until
        .is_some_and(|t| t.0 <= chrono::Utc::now().timestamp_millis())
    {
        return Err(Failure::new(
            ErrorCode::InvalidRequest,
            "until is in the past",
        ));
    }
    change(&s, id, ConversationChange::Snooze(req.until.map(|t| t.0))).await
}
