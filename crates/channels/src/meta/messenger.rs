//! Messenger and Instagram messaging: `entry[].messaging[]` deliveries and `POST /me/messages`.
//! One implementation serves both; they differ in the envelope's `object`, the identifier kind of
//! the customer (PSID → `messenger_id`, IGSID → `instagram_id`) and text limits.
//!
//! Parsing decisions:
//! - The customer is the sender, except for echoes (`is_echo`) and events the page itself sent
//!   (`sender.id` = the page id in `entry.id`), where it is the recipient. `thread` is their id.
//! - A message with several attachments becomes one item per attachment; the first keeps the
//!   `mid`, the next ones get `{mid}:1`, `{mid}:2`… so each has a stable id of its own.
//! - Reactions and postbacks may have no id of their own: they get a synthetic one built from
//!   what identifies them (`reaction:{mid}:{customer}:{timestamp}`), stable across redeliveries.
//! - Instagram unsends (`is_deleted`) become `Other { kind: "deleted" }` with `reply_to` = the
//!   `mid` and id `{mid}:deleted`; edits (`message_edit`) get id `{mid}:edit:{num_edit}`.
//! - Story replies keep their text; the story is not a message of the thread, so `reply_to` is
//!   empty. Shares, story mentions, reels and link fallbacks become `Other` with the URL as text.
//! - `standby` events (another app owns the thread under the handover protocol) are parsed like
//!   `messaging`: the customer did write, and the inbox should show it.
//! - `optin`, `referral` and `account_linking` become contact events; a postback with a referral
//!   ("Get Started" from an ad or link) gives both the postback and a `referral` event.
//! - Handover, app roles, policy enforcement, games, payments and feedback are skipped with a
//!   reason; so are Instagram `changes` (comments, mentions), which are not direct messages.

use super::{read_graph_response, GRAPH_API};
use crate::send::{check_text, HttpRequest, Outgoing, SendContext, SendOutcome};
use crate::untrusted::clamp_text;
use crate::window::{check_window, display_name, ReplyWindow, WindowState};
use crate::wire::{identifier, location, parse_body, short, Obj};
use crate::{ChannelConfig, Provider, Rejection, Request};
use concierge_types::conversation::{
    ChannelContact, ChannelKind, ContactEvent, Content, DeliveryStatus, Direction, Inbound,
    InboundMessage, MediaKind, Parsed, StatusUpdate,
};
use concierge_types::identifier::IdentifierKind;
use concierge_types::Millis;
use serde_json::json;

/// Messenger or Instagram.
pub(crate) struct Messenger {
    kind: ChannelKind,
    /// The envelope's `object`.
    object: &'static str,
    id_kind: IdentifierKind,
    max_text_chars: usize,
}

pub(crate) static MESSENGER: Messenger = Messenger {
    kind: ChannelKind::Messenger,
    object: "page",
    id_kind: IdentifierKind::MessengerId,
    max_text_chars: 2000,
};

pub(crate) static INSTAGRAM: Messenger = Messenger {
    kind: ChannelKind::Instagram,
    object: "instagram",
    id_kind: IdentifierKind::InstagramId,
    max_text_chars: 1000,
};

/// Events that are about the page, the app or features we do not offer, not a conversation.
const SKIPPED_EVENTS: &[(&str, &str)] = &[
    (
        "pass_thread_control",
        "handover protocol: thread control passed between apps",
    ),
    (
        "take_thread_control",
        "handover protocol: thread control taken by another app",
    ),
    (
        "request_thread_control",
        "handover protocol: another app asked for thread control",
    ),
    ("app_roles", "handover protocol: app roles changed"),
    ("policy-enforcement", "Meta policy notice about the page"),
    ("policy_enforcement", "Meta policy notice about the page"),
    ("game_play", "Instant Games are not supported"),
    ("checkout_update", "Messenger payments are not supported"),
    ("pre_checkout", "Messenger payments are not supported"),
    ("payment", "Messenger payments are not supported"),
    (
        "messaging_feedback",
        "Messenger customer-feedback forms are not supported",
    ),
];

impl Provider for Messenger {
    fn kind(&self) -> ChannelKind {
        self.kind
    }

    fn default_api_base(&self) -> &'static str {
        GRAPH_API
    }

    fn handshake(
        &self,
        cfg: &ChannelConfig,
        query: &[(String, String)],
    ) -> Option<Result<String, Rejection>> {
        Some(super::handshake(cfg, query))
    }

    fn verify(&self, cfg: &ChannelConfig, req: &Request) -> Result<(), Rejection> {
        super::verify(cfg, req)
    }

    fn parse(&self, body: &[u8], default_region: &str) -> Result<Parsed, String> {
        self.parse_delivery(body, default_region)
    }

    fn reply_window(&self) -> ReplyWindow {
        ReplyWindow {
            hours: Some(24),
            tagged_hours: Some(7 * 24),
            templates_outside: false,
        }
    }

    fn build_send(
        &self,
        cfg: &ChannelConfig,
        thread: &str,
        out: &Outgoing,
        ctx: &SendContext,
    ) -> Result<HttpRequest, String> {
        let name = display_name(self.kind);
        let message = match out {
            Outgoing::Text { text } => {
                check_text(text, self.max_text_chars, name)?;
                json!({ "text": text })
            }
            Outgoing::Media {
                media,
                url,
                size,
                mime_type,
                caption,
                ..
            } => {
                crate::media::check_url(url)?;
                crate::media::check_caption(caption, 0, name)?;
                let (kind, max) = self
                    .attachment_kind(*media, mime_type)
                    .ok_or_else(|| format!("{name} doesn't take {mime_type} files"))?;
                crate::media::check_size(*size, max, &format!("a {name} {kind}"))?;
                json!({ "attachment": { "type": kind, "payload": { "url": url, "is_reusable": false } } })
            }
            Outgoing::Template { .. } => {
                return Err(format!(
                    "message templates are a WhatsApp feature; send text on {name}"
                ))
            }
        };
        check_window(self.kind, ctx, out)?;
        let token = cfg
            .page_access_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or("the channel has no page_access_token configured")?;
        if thread.trim().is_empty() {
            return Err(format!("the {name} recipient id is empty"));
        }
        let mut body = json!({
            "recipient": { "id": thread },
            "messaging_type": "RESPONSE",
            "message": message,
        });
        if let WindowState::Tagged { .. } = self.reply_window().state(ctx) {
            body["messaging_type"] = json!("MESSAGE_TAG");
            body["tag"] = json!("HUMAN_AGENT");
        }
        // The token goes in a header, not in `?access_token=`: URLs end up in logs.
        Ok(HttpRequest::post_json(
            format!("{}/me/messages", cfg.api_base(GRAPH_API)),
            Some(("authorization", format!("Bearer {token}"))),
            &body,
        ))
    }

    fn read_send_response(&self, status: u16, body: &[u8]) -> SendOutcome {
        read_graph_response(status, body, |v| v.get("message_id")?.as_str())
    }
}

impl Messenger {
    /// The attachment type and size limit for a file: Messenger takes any of ours up to 25 MB;
    /// Instagram takes JPEG/PNG pictures up to 8 MB, M4A audio, MP4 video and PDF files.
    fn attachment_kind(&self, media: MediaKind, mime_type: &str) -> Option<(&'static str, u64)> {
        use crate::media::MB;
        let kind = match media {
            MediaKind::Image | MediaKind::Sticker => "image",
            MediaKind::Audio | MediaKind::Voice => "audio",
            MediaKind::Video => "video",
            MediaKind::Document | MediaKind::File => "file",
        };
        if self.kind != ChannelKind::Instagram {
            return Some((kind, 25 * MB));
        }
        match (kind, mime_type) {
            ("image", "image/jpeg" | "image/png") => Some((kind, 8 * MB)),
            ("audio", "audio/mp4") | ("video", "video/mp4") | ("file", "application/pdf") => {
                Some((kind, 25 * MB))
            }
            _ => None,
        }
    }

    fn parse_delivery(&self, body: &[u8], region: &str) -> Result<Parsed, String> {
        let v = parse_body(body)?;
        let root = Obj::root(&v, "a Meta delivery")?;
        let object = root.str("object")?;
        if object != self.object {
            return Err(format!(
                "object is {:?}; {} deliveries carry {:?}",
                short(object),
                display_name(self.kind),
                self.object
            ));
        }
        if !root.has("entry") {
            return Err(root.missing("entry"));
        }
        let mut out = Parsed::default();
        for entry in root.objs("entry")? {
            let page_id = entry.opt_id("id")?;
            for list in ["messaging", "standby"] {
                for event in entry.objs(list)? {
                    self.event(page_id.as_deref(), &event, region, &mut out)?;
                }
            }
            for change in entry.objs("changes")? {
                out.skipped.push(format!(
                    "{}: field {:?} (comments, mentions) is not a direct message",
                    change.path(),
                    short(change.opt_str("field")?.unwrap_or("?"))
                ));
            }
        }
        Ok(out)
    }

    fn event(
        &self,
        page_id: Option<&str>,
        ev: &Obj,
        region: &str,
        out: &mut Parsed,
    ) -> Result<(), String> {
        if let Some((key, why)) = SKIPPED_EVENTS.iter().find(|(key, _)| ev.has(key)) {
            out.skipped
                .push(format!("{}: {key} event skipped ({why})", ev.path()));
            return Ok(());
        }
        let message = ev.opt_obj("message")?;
        let is_echo = match &message {
            Some(m) => m.opt_bool("is_echo")? == Some(true),
            None => false,
        };
        let sender = match ev.opt_obj("sender")? {
            Some(s) => s.opt_id("id")?,
            None => None,
        };
        let recipient = match ev.opt_obj("recipient")? {
            Some(r) => r.opt_id("id")?,
            None => None,
        };
        let page_sent = sender.is_some() && sender.as_deref() == page_id;
        let (customer, customer_at) = if is_echo || page_sent {
            (recipient, "recipient.id")
        } else {
            (sender, "sender.id")
        };
        let Some(customer) = customer else {
            return Err(format!(
                "{}: {customer_at} is missing, so the event names no customer",
                ev.path()
            ));
        };
        let id = identifier(
            self.id_kind,
            &customer,
            region,
            &format!("{}.{customer_at}", ev.path()),
        )?;
        let cx = Cx {
            thread: id.value.clone(),
            contact: ChannelContact {
                identifiers: vec![id],
                name: None,
                locale: None,
            },
            direction: if is_echo {
                Direction::Outgoing
            } else {
                Direction::Incoming
            },
        };

        if let Some(m) = message {
            let ts = ev.int("timestamp")?;
            return self.message(&cx, &m, ts, out);
        }
        if let Some(edit) = ev.opt_obj("message_edit")? {
            let mid = edit.str("mid")?;
            let n = edit.opt_int("num_edit")?.unwrap_or(1);
            out.items.push(cx.message(
                format!("{mid}:edit:{n}"),
                ev.int("timestamp")?,
                Content::Text {
                    text: clamp_text(edit.opt_str("text")?.unwrap_or_default()),
                },
                Some(mid.to_string()),
                true,
            ));
            return Ok(());
        }
        if let Some(p) = ev.opt_obj("postback")? {
            let ts = ev.int("timestamp")?;
            let title = p.opt_text("title")?;
            let payload = p.opt_str("payload")?.or(title).unwrap_or_default();
            let provider_id = match p.opt_str("mid")? {
                Some(mid) => mid.to_string(),
                None => format!("postback:{}:{ts}", cx.thread),
            };
            out.items.push(cx.message(
                provider_id,
                ts,
                Content::Interactive {
                    id: payload.to_string(),
                    title: clamp_text(title.unwrap_or(payload)),
                },
                None,
                false,
            ));
            if let Some(referral) = p.opt_obj("referral")? {
                out.items
                    .push(cx.event("referral", ts, referral.value.clone()));
            }
            return Ok(());
        }
        if let Some(r) = ev.opt_obj("reaction")? {
            let ts = ev.int("timestamp")?;
            let mid = r.str("mid")?;
            let emoji = match r.opt_str("action")? {
                Some("unreact") => None,
                _ => r
                    .opt_text("emoji")?
                    .or(r.opt_text("reaction")?)
                    .map(clamp_text),
            };
            out.items.push(cx.message(
                format!("reaction:{mid}:{}:{ts}", cx.thread),
                ts,
                Content::Reaction {
                    message_id: mid.to_string(),
                    emoji,
                },
                None,
                false,
            ));
            return Ok(());
        }
        if let Some(d) = ev.opt_obj("delivery")? {
            let watermark = d.opt_int("watermark")?;
            let ts = ev
                .opt_int("timestamp")?
                .or(watermark)
                .ok_or_else(|| ev.missing("timestamp"))?;
            let provider_ids = d.strs("mids")?.into_iter().map(str::to_string).collect();
            out.items
                .push(cx.status(DeliveryStatus::Delivered, provider_ids, watermark, ts));
            return Ok(());
        }
        if let Some(r) = ev.opt_obj("read")? {
            let watermark = r.opt_int("watermark")?;
            let ts = ev
                .opt_int("timestamp")?
                .or(watermark)
                .ok_or_else(|| ev.missing("timestamp"))?;
            // Messenger reads carry a watermark; Instagram "seen" names the message.
            let provider_ids = r.opt_str("mid")?.map(str::to_string).into_iter().collect();
            out.items
                .push(cx.status(DeliveryStatus::Read, provider_ids, watermark, ts));
            return Ok(());
        }
        for kind in ["optin", "referral", "account_linking"] {
            if let Some(detail) = ev.opt_obj(kind)? {
                out.items
                    .push(cx.event(kind, ev.int("timestamp")?, detail.value.clone()));
                return Ok(());
            }
        }
        let mut keys = ev.keys();
        keys.retain(|k| !matches!(*k, "sender" | "recipient" | "timestamp"));
        out.skipped.push(format!(
            "{}: unrecognised event with keys {:?}",
            ev.path(),
            keys.iter().map(|k| short(k)).collect::<Vec<_>>()
        ));
        Ok(())
    }

    fn message(&self, cx: &Cx, m: &Obj, ts: Millis, out: &mut Parsed) -> Result<(), String> {
        let mid = m.str("mid")?;
        if m.opt_bool("is_deleted")? == Some(true) {
            out.items.push(cx.message(
                format!("{mid}:deleted"),
                ts,
                Content::Other {
                    kind: "deleted".into(),
                    text: None,
                },
                Some(mid.to_string()),
                false,
            ));
            return Ok(());
        }
        let reply_to = match m.opt_obj("reply_to")? {
            Some(r) => r.opt_str("mid")?.map(str::to_string),
            None => None,
        };
        let text = m.opt_str("text")?;
        let mut contents = Vec::new();
        if let Some(qr) = m.opt_obj("quick_reply")? {
            let payload = qr.opt_str("payload")?.or(text).unwrap_or_default();
            contents.push(Content::Interactive {
                id: payload.to_string(),
                title: clamp_text(text.unwrap_or(payload)),
            });
        } else if let Some(text) = text {
            contents.push(Content::Text {
                text: clamp_text(text),
            });
        }
        let sticker_id = m.opt_id("sticker_id")?;
        for a in m.objs("attachments")? {
            contents.push(attachment(&a, sticker_id.as_deref())?);
        }
        if contents.is_empty() {
            contents.push(Content::Other {
                kind: "unsupported".into(),
                text: None,
            });
        }
        for (i, content) in contents.into_iter().enumerate() {
            let provider_id = if i == 0 {
                mid.to_string()
            } else {
                format!("{mid}:{i}")
            };
            out.items
                .push(cx.message(provider_id, ts, content, reply_to.clone(), false));
        }
        Ok(())
    }
}

fn attachment(a: &Obj, message_sticker_id: Option<&str>) -> Result<Content, String> {
    let kind = a.str("type")?;
    let payload = a.opt_obj("payload")?;
    let (url, payload_sticker) = match &payload {
        Some(p) => (p.opt_text("url")?, p.opt_id("sticker_id")?),
        None => (None, None),
    };
    let media = |media: MediaKind, media_id: Option<String>| Content::Media {
        media,
        media_id,
        url: url.map(str::to_string),
        mime_type: None,
        filename: None,
        caption: None,
        sha256: None,
        size: None,
    };
    let other = |kind: &str, text: Option<&str>| Content::Other {
        kind: kind.to_string(),
        text: text.map(clamp_text),
    };
    Ok(match kind {
        "image" => match payload_sticker.or(message_sticker_id.map(str::to_string)) {
            Some(sticker) => media(MediaKind::Sticker, Some(sticker)),
            None => media(MediaKind::Image, None),
        },
        "audio" => media(MediaKind::Audio, None),
        "video" => media(MediaKind::Video, None),
        "file" => media(MediaKind::File, None),
        "location" => {
            let coordinates = match &payload {
                Some(p) => p.obj("coordinates")?,
                None => return Err(a.missing("payload")),
            };
            location(
                coordinates.f64("lat")?,
                coordinates.f64("long")?,
                a.opt_text("title")?.map(clamp_text),
                None,
            )
        }
        "fallback" => {
            // Old payloads put the link in an upper-case `URL` beside `title`.
            let link = url.or(a.opt_text("url")?).or(a.opt_text("URL")?);
            let text = match (a.opt_text("title")?, link) {
                (Some(t), Some(l)) => Some(format!("{t} {l}")),
                (t, l) => t.or(l).map(str::to_string),
            };
            other("link", text.as_deref())
        }
        "share" => other("share", url),
        "story_mention" => other("story_mention", url),
        "ig_reel" | "reel" => other("reel", url),
        "template" => other("template", None),
        unknown => other(&short(unknown), url),
    })
}

/// What every item of one event shares.
struct Cx {
    thread: String,
    contact: ChannelContact,
    direction: Direction,
}

impl Cx {
    fn message(
        &self,
        provider_id: String,
        ts: Millis,
        content: Content,
        reply_to: Option<String>,
        edited: bool,
    ) -> Inbound {
        Inbound::Message(InboundMessage {
            provider_id,
            thread: self.thread.clone(),
            contact: self.contact.clone(),
            direction: self.direction,
            ts,
            content,
            reply_to,
            edited,
            subject: None,
        })
    }

    fn status(
        &self,
        status: DeliveryStatus,
        provider_ids: Vec<String>,
        up_to: Option<Millis>,
        ts: Millis,
    ) -> Inbound {
        Inbound::Status(StatusUpdate {
            thread: Some(self.thread.clone()),
            provider_ids,
            up_to,
            status,
            ts,
            error: None,
        })
    }

    fn event(&self, kind: &str, ts: Millis, detail: serde_json::Value) -> Inbound {
        Inbound::Event(ContactEvent {
            thread: self.thread.clone(),
            contact: self.contact.clone(),
            kind: kind.to_string(),
            ts,
            detail,
        })
    }
}
