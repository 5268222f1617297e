//! Telegram Bot API: webhook updates and `POST /bot{token}/sendMessage`.
//!
//! Verification: Telegram does not sign bodies; `setWebhook` is called with a `secret_token` and
//! every webhook carries it in `X-Telegram-Bot-Api-Secret-Token`, compared in constant time. There
//! is no GET handshake.
//!
//! Parsing decisions:
//! - Only private chats are conversations. Group, supergroup and channel messages, channel posts,
//!   inline queries, polls, payments, boosts, business-account updates and membership changes of
//!   other users are skipped with a reason: a helpdesk thread is one customer, and a group message
//!   is not addressed to the brand.
//! - `thread` = chat id; `provider_id` = `{chat_id}:{message_id}`; the customer's identifier is
//!   `telegram_id` = `from.id`, their name first + last name, their locale `language_code`.
//! - Edits get `provider_id` = `{chat_id}:{message_id}:edit:{edit_date}` (so they are not taken
//!   for duplicates of the original), `edited = true`, `reply_to` = the original, `ts` = the edit.
//! - A shared contact adds the customer's `phone` identifier only when it is their own card
//!   (`contact.user_id` = `from.id`): anyone can share anyone's number.
//! - Photos keep the largest size. Venues become locations with their title and address.
//! - Callback queries (inline-keyboard taps) become `Interactive` with the button's `data` as id
//!   and the button's label (looked up in the message's keyboard) as title; `provider_id` =
//!   `callback:{id}`. Telegram gives them no time of their own, so `ts` is the time of the message
//!   the button was on; callers that care should prefer their receive time.
//! - Reactions in private chats become `Reaction` (the first emoji of the new set; an empty set
//!   removes it), with `provider_id` = `{chat}:{message}:reaction:{user}:{date}`.
//! - `my_chat_member` in a private chat: the bot being kicked is a `blocked` contact event, being
//!   re-added after that is `unblocked`.
//! - Service messages (pinned message, chat photo changes…) are skipped; other content kinds we do
//!   not model (dice, polls, games, stories…) become `Other` with the kind.

use crate::send::{
    body_excerpt, check_text, retry_by_status, HttpRequest, Outgoing, SendContext, SendOutcome,
};
use crate::untrusted::{clamp_name, clamp_text};
use crate::verify::{configured, ct_eq, single_header};
use crate::window::ReplyWindow;
use crate::wire::{identifier, location, parse_body, secs_to_ms, short, Obj};
use crate::{ChannelConfig, Provider, Rejection, Request};
use concierge_types::conversation::{
    ChannelContact, ChannelKind, ContactEvent, Content, Direction, Inbound, InboundMessage,
    MediaKind, Parsed, SharedContact,
};
use concierge_types::identifier::{Identifier, IdentifierKind};
use serde_json::{json, Value};

pub(crate) struct Telegram;

pub(crate) static TELEGRAM: Telegram = Telegram;

const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

/// Telegram's limit on a message text, in characters.
const MAX_TEXT_CHARS: usize = 4096;

/// Update kinds that are not a private conversation with a customer.
const SKIPPED_UPDATES: &[(&str, &str)] = &[
    (
        "channel_post",
        "channel posts are broadcasts, not conversations",
    ),
    (
        "edited_channel_post",
        "channel posts are broadcasts, not conversations",
    ),
    ("inline_query", "inline queries are typed in other chats"),
    (
        "chosen_inline_result",
        "inline results are posted in other chats",
    ),
    ("shipping_query", "Telegram payments are not supported"),
    ("pre_checkout_query", "Telegram payments are not supported"),
    (
        "purchased_paid_media",
        "Telegram payments are not supported",
    ),
    ("poll", "poll state updates are not messages"),
    ("poll_answer", "poll answers are not messages"),
    ("chat_member", "membership changes of other users"),
    ("chat_join_request", "group join requests"),
    ("chat_boost", "chat boosts"),
    ("removed_chat_boost", "chat boosts"),
    (
        "message_reaction_count",
        "anonymous reaction counts name no customer",
    ),
    (
        "business_connection",
        "Telegram Business accounts are not supported",
    ),
    (
        "business_message",
        "Telegram Business accounts are not supported",
    ),
    (
        "edited_business_message",
        "Telegram Business accounts are not supported",
    ),
    (
        "deleted_business_messages",
        "Telegram Business accounts are not supported",
    ),
];

/// Message fields that make it a service message (something happened in the chat) rather than
/// something the customer wrote.
const SERVICE_FIELDS: &[&str] = &[
    "pinned_message",
    "new_chat_members",
    "left_chat_member",
    "new_chat_title",
    "new_chat_photo",
    "delete_chat_photo",
    "group_chat_created",
    "supergroup_chat_created",
    "channel_chat_created",
    "message_auto_delete_timer_changed",
    "migrate_to_chat_id",
    "migrate_from_chat_id",
    "users_shared",
    "chat_shared",
    "write_access_allowed",
    "connected_website",
    "proximity_alert_triggered",
    "chat_background_set",
    "boost_added",
    "web_app_data",
    "forum_topic_created",
    "forum_topic_edited",
    "forum_topic_closed",
    "forum_topic_reopened",
    "video_chat_scheduled",
    "video_chat_started",
    "video_chat_ended",
    "video_chat_participants_invited",
];

/// Content kinds kept only as their name.
const OTHER_CONTENT: &[&str] = &[
    "game",
    "story",
    "invoice",
    "successful_payment",
    "refunded_payment",
    "giveaway",
    "giveaway_winners",
    "paid_media",
    "checklist",
    "gift",
];

impl Provider for Telegram {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    fn default_api_base(&self) -> &'static str {
        "https://api.telegram.org"
    }

    fn handshake(
        &self,
        _cfg: &ChannelConfig,
        _query: &[(String, String)],
    ) -> Option<Result<String, Rejection>> {
        None
    }

    fn verify(&self, cfg: &ChannelConfig, req: &Request) -> Result<(), Rejection> {
        let expected = configured(&cfg.secret_token, "secret_token")?;
        let got = single_header(req.headers, SECRET_HEADER)?;
        if ct_eq(got.as_bytes(), expected.as_bytes()) {
            Ok(())
        } else {
            Err(Rejection::Unauthorized(
                "X-Telegram-Bot-Api-Secret-Token does not match".into(),
            ))
        }
    }

    fn parse(&self, body: &[u8], region: &str) -> Result<Parsed, String> {
        let v = parse_body(body)?;
        let root = Obj::root(&v, "a Telegram update")?;
        root.int("update_id")?;
        let mut out = Parsed::default();
        if let Some(m) = root.opt_obj("message")? {
            message(&m, false, region, &mut out)?;
        } else if let Some(m) = root.opt_obj("edited_message")? {
            message(&m, true, region, &mut out)?;
        } else if let Some(q) = root.opt_obj("callback_query")? {
            callback_query(&q, region, &mut out)?;
        } else if let Some(r) = root.opt_obj("message_reaction")? {
            reaction(&r, region, &mut out)?;
        } else if let Some(m) = root.opt_obj("my_chat_member")? {
            chat_member(&m, region, &mut out)?;
        } else if let Some((key, why)) = SKIPPED_UPDATES.iter().find(|(k, _)| root.has(k)) {
            out.skipped.push(format!("{key} update skipped ({why})"));
        } else {
            let mut keys = root.keys();
            keys.retain(|k| *k != "update_id");
            out.skipped.push(format!(
                "unrecognised update with keys {:?}",
                keys.iter().map(|k| short(k)).collect::<Vec<_>>()
            ));
        }
        Ok(out)
    }

    fn reply_window(&self) -> ReplyWindow {
        ReplyWindow::NONE
    }

    fn build_send(
        &self,
        cfg: &ChannelConfig,
        thread: &str,
        out: &Outgoing,
        _ctx: &SendContext,
    ) -> Result<HttpRequest, String> {
        // Telegram fetches files by URL: pictures up to 5 MB, other files up to 20 MB.
        let (method, body) = match out {
            Outgoing::Text { text } => {
                check_text(text, MAX_TEXT_CHARS, "Telegram")?;
                ("sendMessage", json!({ "text": text }))
            }
            Outgoing::Media {
                media,
                url,
                mime_type,
                size,
                caption,
                ..
            } => {
                crate::media::check_url(url)?;
                crate::media::check_caption(caption, 1024, "Telegram")?;
                // By link Telegram fetches pictures up to 5 MB, voice notes (Ogg) up to 1 MB,
                // other files up to 20 MB, and documents only as PDF or GIF.
                let mb = crate::media::MB;
                let (method, field, max) = match (media, mime_type.as_str()) {
                    (MediaKind::Image, "image/jpeg" | "image/png" | "image/webp") => {
                        ("sendPhoto", "photo", 5 * mb)
                    }
                    (MediaKind::Video, _) => ("sendVideo", "video", 20 * mb),
                    (MediaKind::Audio | MediaKind::Voice, "audio/ogg") => {
                        ("sendVoice", "voice", mb)
                    }
                    (MediaKind::Audio, _) => ("sendAudio", "audio", 20 * mb),
                    (_, "application/pdf" | "image/gif") => ("sendDocument", "document", 20 * mb),
                    _ => {
                        return Err(format!(
                            "Telegram takes documents by link only as PDF or GIF, not {mime_type}"
                        ))
                    }
                };
                crate::media::check_size(*size, max, &format!("Telegram's {method}"))?;
                let mut body = json!({ field: url });
                if let Some(c) = caption {
                    body["caption"] = json!(c);
                }
                (method, body)
            }
            Outgoing::Template { .. } => {
                return Err(
                    "message templates are a WhatsApp feature; send text on Telegram".into(),
                )
            }
        };
        let token = cfg
            .bot_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or("the channel has no bot_token configured")?;
        // The token is part of the URL path: it must not be able to change it.
        if !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'))
        {
            return Err("the bot_token has characters a Telegram token never has".into());
        }
        let chat_id: i64 = thread
            .parse()
            .map_err(|_| format!("{:?} is not a Telegram chat id", short(thread)))?;
        let mut body = body;
        body["chat_id"] = json!(chat_id);
        Ok(HttpRequest::post_json(
            format!(
                "{}/bot{token}/{method}",
                cfg.api_base(self.default_api_base())
            ),
            None,
            &body,
        ))
    }

    fn max_caption_chars(&self, _media: MediaKind, _mime_type: &str) -> usize {
        1024
    }

    fn read_send_response(&self, status: u16, body: &[u8]) -> SendOutcome {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let answer = parsed.as_ref().filter(|v| v.get("ok").is_some());
        match answer {
            Some(v) if v["ok"] == json!(true) => {
                let message_id = v["result"]["message_id"].as_i64();
                let chat_id = v["result"]["chat"]["id"].as_i64();
                match (chat_id, message_id) {
                    (Some(chat), Some(id)) => SendOutcome::Sent {
                        provider_id: format!("{chat}:{id}"),
                    },
                    _ => SendOutcome::failed(
                        None,
                        "Telegram accepted the call but returned no message id",
                        Some(body_excerpt(body)),
                    ),
                }
            }
            Some(v) => {
                let code = v["error_code"].as_i64().unwrap_or(i64::from(status));
                let description = v["description"]
                    .as_str()
                    .unwrap_or("Telegram refused the message")
                    .to_string();
                if code == 429 || code >= 500 || retry_by_status(status, b"").is_some() {
                    let wait = v["parameters"]["retry_after"]
                        .as_i64()
                        .map(|s| format!(" (retry after {s} s)"))
                        .unwrap_or_default();
                    SendOutcome::Retry {
                        reason: format!("Telegram {code}: {description}{wait}"),
                    }
                } else {
                    SendOutcome::failed(Some(code.to_string()), description, None)
                }
            }
            None => retry_by_status(status, body).unwrap_or_else(|| {
                SendOutcome::failed(
                    Some(status.to_string()),
                    format!("HTTP {status}"),
                    Some(body_excerpt(body)),
                )
            }),
        }
    }
}

/// The chat an update belongs to.
enum Chat {
    Private(i64),
    /// Not a conversation; the reason to record.
    Skip(String),
}

fn chat(m: &Obj) -> Result<Chat, String> {
    let chat = m.obj("chat")?;
    let id = chat.int("id")?;
    Ok(match chat.str("type")? {
        "private" => Chat::Private(id),
        other => Chat::Skip(format!(
            "{}: {} chat skipped (only private chats are conversations)",
            m.path(),
            short(other)
        )),
    })
}

fn user_contact(user: &Obj, region: &str) -> Result<ChannelContact, String> {
    let id = user.id("id")?;
    let telegram_id = identifier(
        IdentifierKind::TelegramId,
        &id,
        region,
        &format!("{}.id", user.path()),
    )?;
    let name = [user.opt_text("first_name")?, user.opt_text("last_name")?]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(ChannelContact {
        identifiers: vec![telegram_id],
        name: clamp_name(&name),
        locale: user.opt_text("language_code")?.map(str::to_string),
    })
}

fn message(m: &Obj, edited: bool, region: &str, out: &mut Parsed) -> Result<(), String> {
    let chat_id = match chat(m)? {
        Chat::Private(id) => id,
        Chat::Skip(skip) => {
            out.skipped.push(skip);
            return Ok(());
        }
    };
    let message_id = m.int("message_id")?;
    let mut contact = match m.opt_obj("from")? {
        Some(from) => user_contact(&from, region)?,
        // A private chat is the user: its id and names are theirs.
        None => user_contact(&m.obj("chat")?, region)?,
    };
    let base_id = format!("{chat_id}:{message_id}");
    let date = m.int("date")?;
    let (provider_id, reply_to, at) = if edited {
        let edit_date = m.opt_int("edit_date")?.unwrap_or(date);
        (
            format!("{base_id}:edit:{edit_date}"),
            Some(base_id),
            edit_date,
        )
    } else {
        let reply_to = match m.opt_obj("reply_to_message")? {
            Some(r) => Some(format!("{chat_id}:{}", r.int("message_id")?)),
            None => None,
        };
        (base_id, reply_to, date)
    };
    let ts = secs_to_ms(at, &format!("{}.date", m.path()))?;
    let Some(content) = content(m, &mut contact, region)? else {
        out.skipped.push(format!(
            "{}: service message skipped (not written by the customer)",
            m.path()
        ));
        return Ok(());
    };
    out.items.push(Inbound::Message(InboundMessage {
        provider_id,
        thread: chat_id.to_string(),
        contact,
        direction: Direction::Incoming,
        ts,
        content,
        reply_to,
        edited,
        subject: None,
    }));
    Ok(())
}

/// What the customer sent; `None` for service messages. A contact card of the sender's own
/// number adds their `phone` identifier to `contact`.
fn content(m: &Obj, contact: &mut ChannelContact, region: &str) -> Result<Option<Content>, String> {
    let caption = m.opt_text("caption")?.map(clamp_text);
    let file = |key: &str, media: MediaKind| -> Result<Option<Content>, String> {
        let Some(f) = m.opt_obj(key)? else {
            return Ok(None);
        };
        Ok(Some(Content::Media {
            media,
            media_id: Some(f.id("file_id")?),
            url: None,
            mime_type: f.opt_text("mime_type")?.map(str::to_string),
            filename: f.opt_text("file_name")?.map(clamp_text),
            caption: caption.clone(),
            sha256: None,
            size: f.opt_u64("file_size")?,
        }))
    };
    if let Some(text) = m.opt_str("text")? {
        return Ok(Some(Content::Text {
            text: clamp_text(text),
        }));
    }
    let photos = m.objs("photo")?;
    if !photos.is_empty() {
        let mut best: Option<(u64, &Obj)> = None;
        for p in &photos {
            let area = match (p.opt_u64("width")?, p.opt_u64("height")?) {
                (Some(w), Some(h)) => w.saturating_mul(h),
                _ => 0,
            };
            let size = p.opt_u64("file_size")?.unwrap_or(0).max(area);
            if best.is_none_or(|(s, _)| size > s) {
                best = Some((size, p));
            }
        }
        if let Some((_, p)) = best {
            return Ok(Some(Content::Media {
                media: MediaKind::Image,
                media_id: Some(p.id("file_id")?),
                url: None,
                mime_type: None,
                filename: None,
                caption,
                sha256: None,
                size: p.opt_u64("file_size")?,
            }));
        }
    }
    // Animations also carry a `document` field, so they come first.
    for (key, media) in [
        ("animation", MediaKind::Video),
        ("audio", MediaKind::Audio),
        ("voice", MediaKind::Voice),
        ("video", MediaKind::Video),
        ("video_note", MediaKind::Video),
        ("document", MediaKind::Document),
        ("sticker", MediaKind::Sticker),
    ] {
        if let Some(content) = file(key, media)? {
            return Ok(Some(content));
        }
    }
    if let Some(v) = m.opt_obj("venue")? {
        let l = v.obj("location")?;
        return Ok(Some(location(
            l.f64("latitude")?,
            l.f64("longitude")?,
            v.opt_text("title")?.map(clamp_text),
            v.opt_text("address")?.map(clamp_text),
        )));
    }
    if let Some(l) = m.opt_obj("location")? {
        return Ok(Some(location(
            l.f64("latitude")?,
            l.f64("longitude")?,
            None,
            None,
        )));
    }
    if let Some(c) = m.opt_obj("contact")? {
        let phone = c.str("phone_number")?;
        let name = [c.opt_text("first_name")?, c.opt_text("last_name")?]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let own_card = match (c.opt_id("user_id")?, m.opt_obj("from")?) {
            (Some(user_id), Some(from)) => from.id("id")? == user_id,
            _ => false,
        };
        if own_card {
            let international = if phone.starts_with('+') {
                phone.to_string()
            } else {
                format!("+{phone}")
            };
            // A number that does not normalise is still shown in the card, just not linked.
            if let Ok(id) = Identifier::parse(IdentifierKind::Phone, &international, region) {
                if !contact.identifiers.contains(&id) {
                    contact.identifiers.push(id);
                }
            }
        }
        return Ok(Some(Content::Contacts {
            contacts: vec![SharedContact {
                name: clamp_name(&name),
                phones: vec![clamp_text(phone)],
                emails: Vec::new(),
            }],
        }));
    }
    if let Some(d) = m.opt_obj("dice")? {
        return Ok(Some(Content::Other {
            kind: "dice".into(),
            text: Some(format!(
                "{} {}",
                d.opt_str("emoji")?.unwrap_or("🎲"),
                d.opt_int("value")?.unwrap_or_default()
            )),
        }));
    }
    if let Some(p) = m.opt_obj("poll")? {
        return Ok(Some(Content::Other {
            kind: "poll".into(),
            text: p.opt_str("question")?.map(clamp_text),
        }));
    }
    if let Some(kind) = OTHER_CONTENT.iter().find(|k| m.has(k)) {
        return Ok(Some(Content::Other {
            kind: kind.to_string(),
            text: caption,
        }));
    }
    if SERVICE_FIELDS.iter().any(|k| m.has(k)) {
        return Ok(None);
    }
    Ok(Some(Content::Other {
        kind: "unsupported".into(),
        text: caption,
    }))
}

fn callback_query(q: &Obj, region: &str, out: &mut Parsed) -> Result<(), String> {
    let id = q.id("id")?;
    let contact = user_contact(&q.obj("from")?, region)?;
    let Some(m) = q.opt_obj("message")? else {
        out.skipped.push(format!(
            "{}: callback from an inline message skipped (no chat)",
            q.path()
        ));
        return Ok(());
    };
    let chat_id = match chat(&m)? {
        Chat::Private(id) => id,
        Chat::Skip(skip) => {
            out.skipped.push(skip);
            return Ok(());
        }
    };
    let Some(data) = q.opt_str("data")? else {
        out.skipped.push(format!(
            "{}: callback without data skipped (a game button)",
            q.path()
        ));
        return Ok(());
    };
    let message_id = m.int("message_id")?;
    let at = m.opt_int("edit_date")?.unwrap_or(m.int("date")?);
    let title = button_label(&m, data)?.unwrap_or(data);
    out.items.push(Inbound::Message(InboundMessage {
        provider_id: format!("callback:{id}"),
        thread: chat_id.to_string(),
        contact,
        direction: Direction::Incoming,
        ts: secs_to_ms(at, &format!("{}.date", m.path()))?,
        content: Content::Interactive {
            id: data.to_string(),
            title: clamp_text(title),
        },
        reply_to: Some(format!("{chat_id}:{message_id}")),
        edited: false,
        subject: None,
    }));
    Ok(())
}

/// The label of the inline-keyboard button whose `callback_data` is `data`.
fn button_label<'a>(m: &Obj<'a>, data: &str) -> Result<Option<&'a str>, String> {
    let Some(markup) = m.opt_obj("reply_markup")? else {
        return Ok(None);
    };
    for row in markup.opt_arr("inline_keyboard")? {
        for button in row.as_array().map(Vec::as_slice).unwrap_or_default() {
            if button.get("callback_data").and_then(Value::as_str) == Some(data) {
                return Ok(button.get("text").and_then(Value::as_str));
            }
        }
    }
    Ok(None)
}

fn reaction(r: &Obj, region: &str, out: &mut Parsed) -> Result<(), String> {
    let chat_id = match chat(r)? {
        Chat::Private(id) => id,
        Chat::Skip(skip) => {
            out.skipped.push(skip);
            return Ok(());
        }
    };
    let Some(user) = r.opt_obj("user")? else {
        out.skipped
            .push(format!("{}: anonymous reaction skipped", r.path()));
        return Ok(());
    };
    let contact = user_contact(&user, region)?;
    let message_id = r.int("message_id")?;
    let date = r.int("date")?;
    let emoji = match r.objs("new_reaction")?.first() {
        None => None,
        Some(first) => Some(match first.str("type")? {
            "emoji" => clamp_text(first.str("emoji")?),
            "custom_emoji" => format!("custom_emoji:{}", first.id("custom_emoji_id")?),
            other => short(other),
        }),
    };
    out.items.push(Inbound::Message(InboundMessage {
        provider_id: format!(
            "{chat_id}:{message_id}:reaction:{}:{date}",
            contact.identifiers[0].value
        ),
        thread: chat_id.to_string(),
        contact,
        direction: Direction::Incoming,
        ts: secs_to_ms(date, &format!("{}.date", r.path()))?,
        content: Content::Reaction {
            message_id: format!("{chat_id}:{message_id}"),
            emoji,
        },
        reply_to: None,
        edited: false,
        subject: None,
    }));
    Ok(())
}

fn chat_member(m: &Obj, region: &str, out: &mut Parsed) -> Result<(), String> {
    let chat_id = match chat(m)? {
        Chat::Private(id) => id,
        Chat::Skip(skip) => {
            out.skipped.push(skip);
            return Ok(());
        }
    };
    let old = m.obj("old_chat_member")?.str("status")?;
    let new = m.obj("new_chat_member")?.str("status")?;
    let kind = match (old, new) {
        (_, "kicked") => "blocked",
        ("kicked", "member") => "unblocked",
        _ => {
            out.skipped.push(format!(
                "{}: bot membership change {:?} -> {:?} skipped",
                m.path(),
                short(old),
                short(new)
            ));
            return Ok(());
        }
    };
    let contact = user_contact(&m.obj("from")?, region)?;
    out.items.push(Inbound::Event(ContactEvent {
        thread: chat_id.to_string(),
        contact,
        kind: kind.into(),
        ts: secs_to_ms(m.int("date")?, &format!("{}.date", m.path()))?,
        detail: json!({ "old_status": old, "new_status": new }),
    }));
    Ok(())
}

#[cfg(test)]
mod tests;
