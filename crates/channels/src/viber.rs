//! Viber REST Bot API: callbacks and `POST /pa/send_message`.
//!
//! Verification: `X-Viber-Content-Signature` = lower-case hex HMAC-SHA256 of the raw body keyed
//! with the bot's auth token (no prefix). There is no GET handshake; the first callback after
//! `set_webhook` is an `event: webhook` POST, signed like the others.
//!
//! Parsing decisions:
//! - `message_token` is a 64-bit integer above 2^53, read exactly (never through `f64`) and kept
//!   as its decimal string: it is the `provider_id` of messages and what receipts name.
//! - `thread` = the Viber user id; the customer's identifier is `viber_id`, their name and
//!   `language` come from `sender` / `user`.
//! - Pictures, videos and files keep their URL (Viber hosts them), file name and size; stickers
//!   keep their sticker id. A `url` message becomes text (the customer sent a link).
//! - `subscribed`, `unsubscribed` and `conversation_started` become contact events;
//!   `delivered`, `seen` and `failed` become receipts of the message token.
//! - `webhook` (set-up check) and `client_status` are skipped with a reason.

use crate::send::{
    body_excerpt, check_text, retry_by_status, HttpRequest, Outgoing, SendContext, SendOutcome,
};
use crate::untrusted::{clamp_name, clamp_text};
use crate::verify::{configured, single_header, verify_hmac_sha256_hex};
use crate::window::ReplyWindow;
use crate::wire::{identifier, location, parse_body, short, Obj};
use crate::{ChannelConfig, Provider, Rejection, Request};
use concierge_types::conversation::{
    ChannelContact, ChannelKind, ContactEvent, Content, DeliveryStatus, Direction, Inbound,
    InboundMessage, MediaKind, Parsed, ProviderError, SharedContact, StatusUpdate,
};
use concierge_types::identifier::IdentifierKind;
use serde_json::{json, Value};

pub(crate) struct Viber;

pub(crate) static VIBER: Viber = Viber;

const SIGNATURE_HEADER: &str = "x-viber-content-signature";

/// Viber's limit on a text message, in characters.
const MAX_TEXT_CHARS: usize = 7000;

/// Viber `status` of a throttled call ("tooManyRequests").
const TOO_MANY_REQUESTS: i64 = 12;

impl Provider for Viber {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Viber
    }

    fn default_api_base(&self) -> &'static str {
        "https://chatapi.viber.com"
    }

    fn handshake(
        &self,
        _cfg: &ChannelConfig,
        _query: &[(String, String)],
    ) -> Option<Result<String, Rejection>> {
        None
    }

    fn verify(&self, cfg: &ChannelConfig, req: &Request) -> Result<(), Rejection> {
        let key = configured(&cfg.auth_token, "auth_token")?;
        let signature = single_header(req.headers, SIGNATURE_HEADER)?;
        verify_hmac_sha256_hex(key, &[req.body], signature, "X-Viber-Content-Signature")
    }

    fn parse(&self, body: &[u8], default_region: &str) -> Result<Parsed, String> {
        let v = parse_body(body)?;
        let root = Obj::root(&v, "a Viber callback")?;
        let event = root.str("event")?;
        let mut out = Parsed::default();
        match event {
            "message" => message(&root, default_region, &mut out)?,
            "subscribed" | "conversation_started" => {
                let user = root.obj("user")?;
                let contact = contact(&user, default_region)?;
                let detail = if event == "conversation_started" {
                    json!({
                        "type": root.opt_str("type")?,
                        "context": root.opt_str("context")?,
                        "subscribed": root.opt_bool("subscribed")?,
                    })
                } else {
                    json!({})
                };
                out.items
                    .push(contact_event(&root, contact, event, detail)?);
            }
            "unsubscribed" => {
                let contact = contact_by_id(&root, "user_id", default_region)?;
                out.items
                    .push(contact_event(&root, contact, event, json!({}))?);
            }
            "delivered" | "seen" | "failed" => {
                let status = match event {
                    "delivered" => DeliveryStatus::Delivered,
                    "seen" => DeliveryStatus::Read,
                    _ => DeliveryStatus::Failed,
                };
                let user = root.str("user_id")?;
                let error = if status == DeliveryStatus::Failed {
                    Some(ProviderError {
                        code: None,
                        title: Some(root.opt_text("desc")?.map_or_else(
                            || "Viber could not deliver the message".into(),
                            clamp_text,
                        )),
                        detail: None,
                    })
                } else {
                    None
                };
                out.items.push(Inbound::Status(StatusUpdate {
                    thread: Some(user.to_string()),
                    provider_ids: vec![token(&root)?],
                    up_to: None,
                    status,
                    ts: root.int("timestamp")?,
                    error,
                }));
            }
            "webhook" => out.skipped.push("webhook set-up callback".into()),
            "client_status" => out
                .skipped
                .push("client_status callback (the user's Viber version) is not a message".into()),
            other => out
                .skipped
                .push(format!("unrecognised Viber event {:?}", short(other))),
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
        let mut body = match out {
            Outgoing::Text { text } => {
                check_text(text, MAX_TEXT_CHARS, "Viber")?;
                json!({ "type": "text", "text": text })
            }
            Outgoing::Media {
                media,
                url,
                filename,
                mime_type,
                size,
                caption,
            } => {
                crate::media::check_url(url)?;
                crate::media::check_caption(caption, 0, "Viber")?;
                use crate::media::{check_size, MB};
                // Viber shows JPEG/PNG up to 1 MB as pictures and MP4 up to 26 MB as video;
                // the rest goes as a file (up to 50 MB) with its name and size.
                match (media, mime_type.as_str()) {
                    (MediaKind::Image, "image/jpeg" | "image/png") if *size <= MB => {
                        json!({ "type": "picture", "text": "", "media": url })
                    }
                    // Viber wants a video's link to end in .mp4.
                    (MediaKind::Video, "video/mp4")
                        if *size <= 26 * MB && url.ends_with(".mp4") =>
                    {
                        json!({ "type": "video", "media": url, "size": size })
                    }
                    _ => {
                        check_size(*size, 50 * MB, "a Viber file")?;
                        json!({ "type": "file", "media": url, "size": size, "file_name": filename })
                    }
                }
            }
            Outgoing::Template { .. } => {
                return Err("message templates are a WhatsApp feature; send text on Viber".into())
            }
        };
        let token = cfg
            .auth_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or("the channel has no auth_token configured")?;
        let sender = cfg
            .sender_name
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .ok_or("the channel has no sender_name configured")?;
        if thread.trim().is_empty() {
            return Err("the Viber receiver id is empty".into());
        }
        body["receiver"] = json!(thread);
        body["min_api_version"] = json!(1);
        body["sender"] = json!({ "name": sender });
        Ok(HttpRequest::post_json(
            format!("{}/pa/send_message", cfg.api_base(self.default_api_base())),
            Some(("x-viber-auth-token", token.to_string())),
            &body,
        ))
    }

    fn read_send_response(&self, status: u16, body: &[u8]) -> SendOutcome {
        if let Some(retry) = retry_by_status(status, body) {
            return retry;
        }
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        // Viber answers 200 for errors too; `status` 0 is success.
        match parsed.as_ref().map(|v| (v["status"].as_i64(), v)) {
            Some((Some(0), v)) => match v["message_token"].as_u64() {
                Some(token) => SendOutcome::Sent {
                    provider_id: token.to_string(),
                },
                None => SendOutcome::failed(
                    None,
                    "Viber accepted the call but returned no message_token",
                    Some(body_excerpt(body)),
                ),
            },
            Some((Some(code), v)) => {
                let message = v["status_message"]
                    .as_str()
                    .unwrap_or("Viber error")
                    .to_string();
                if code == TOO_MANY_REQUESTS {
                    SendOutcome::Retry {
                        reason: format!("Viber status {code}: {message}"),
                    }
                } else {
                    SendOutcome::failed(Some(code.to_string()), message, None)
                }
            }
            _ => SendOutcome::failed(
                Some(status.to_string()),
                format!("HTTP {status}: not a Viber answer"),
                Some(body_excerpt(body)),
            ),
        }
    }
}

/// The `message_token` as a decimal string.
fn token(root: &Obj) -> Result<String, String> {
    root.opt_u64("message_token")?
        .map(|t| t.to_string())
        .ok_or_else(|| root.missing("message_token"))
}

fn contact(user: &Obj, region: &str) -> Result<ChannelContact, String> {
    let id = user.str("id")?;
    Ok(ChannelContact {
        identifiers: vec![identifier(
            IdentifierKind::ViberId,
            id,
            region,
            &format!("{}.id", user.path()),
        )?],
        name: user.opt_str("name")?.and_then(clamp_name),
        locale: user.opt_text("language")?.map(str::to_string),
    })
}

fn contact_by_id(root: &Obj, key: &str, region: &str) -> Result<ChannelContact, String> {
    Ok(ChannelContact {
        identifiers: vec![identifier(
            IdentifierKind::ViberId,
            root.str(key)?,
            region,
            key,
        )?],
        name: None,
        locale: None,
    })
}

fn contact_event(
    root: &Obj,
    contact: ChannelContact,
    kind: &str,
    detail: Value,
) -> Result<Inbound, String> {
    Ok(Inbound::Event(ContactEvent {
        thread: contact.identifiers[0].value.clone(),
        contact,
        kind: kind.to_string(),
        ts: root.int("timestamp")?,
        detail,
    }))
}

fn message(root: &Obj, region: &str, out: &mut Parsed) -> Result<(), String> {
    let contact = contact(&root.obj("sender")?, region)?;
    let m = root.obj("message")?;
    let media = |kind: MediaKind| -> Result<Content, String> {
        Ok(Content::Media {
            media: kind,
            media_id: None,
            url: m.opt_text("media")?.map(str::to_string),
            mime_type: None,
            filename: m.opt_text("file_name")?.map(clamp_text),
            caption: m.opt_text("text")?.map(clamp_text),
            sha256: None,
            size: m.opt_u64("size")?,
        })
    };
    let content = match m.str("type")? {
        "text" => Content::Text {
            text: clamp_text(m.str("text")?),
        },
        "picture" => media(MediaKind::Image)?,
        "video" => media(MediaKind::Video)?,
        "file" => media(MediaKind::File)?,
        "sticker" => Content::Media {
            media: MediaKind::Sticker,
            media_id: m.opt_id("sticker_id")?,
            url: m.opt_text("media")?.map(str::to_string),
            mime_type: None,
            filename: None,
            caption: None,
            sha256: None,
            size: None,
        },
        "contact" => {
            let c = m.obj("contact")?;
            Content::Contacts {
                contacts: vec![SharedContact {
                    name: c.opt_str("name")?.and_then(clamp_name),
                    phones: c
                        .opt_text("phone_number")?
                        .map(clamp_text)
                        .into_iter()
                        .collect(),
                    emails: Vec::new(),
                }],
            }
        }
        "location" => {
            let l = m.obj("location")?;
            location(
                l.f64("lat")?,
                l.f64("lon")?,
                None,
                l.opt_text("address")?.map(clamp_text),
            )
        }
        "url" => Content::Text {
            text: clamp_text(m.str("media")?),
        },
        other => Content::Other {
            kind: short(other),
            text: m.opt_text("text")?.map(clamp_text),
        },
    };
    out.items.push(Inbound::Message(InboundMessage {
        provider_id: token(root)?,
        thread: contact.identifiers[0].value.clone(),
        contact,
        direction: Direction::Incoming,
        ts: root.int("timestamp")?,
        content,
        reply_to: None,
        edited: false,
        subject: None,
    }));
    Ok(())
}

#[cfg(test)]
mod tests;
