//! WhatsApp Cloud API: `entry[].changes[].value` deliveries and `POST /{phone_number_id}/messages`.
//!
//! Parsing decisions:
//! - The customer is the sender of a message, or the recipient of an echo (`smb_message_echoes`,
//!   or a `messages` item whose `from` is the business number). Their `wa_id` gives two
//!   identifiers, `whatsapp_id` and `phone` (`+` + wa_id); `thread` is the normalised wa_id.
//! - When `from`/`to` is not a phone number (placeholders in sample payloads, or a future
//!   username-only sender) and the change lists exactly one contact, that contact is the
//!   customer: Meta lists the customer there for both messages and echoes.
//! - The display name comes only from the `contacts[]` entry whose `wa_id` matches the customer,
//!   so a name is never attached to the wrong number.
//! - Edits (`type: edit`) carry their own wamid: `edited = true`, `reply_to` = the original,
//!   content = the new version.
//! - Deletions (`type: revoke`) become `Content::Other { kind: "deleted" }` with `reply_to` = the
//!   deleted message, so the timeline can mark it; the deleted text itself is never sent again.
//! - A `referral` (click-to-WhatsApp ad) adds a `referral` contact event next to the message.
//! - `user_preferences` (marketing opt-in/opt-out) become `marketing_preferences` contact events.
//! - Other fields (templates, account, billing, history sync) are skipped with the field name.

use super::{read_graph_response, GRAPH_API};
use crate::media::{check_size, MB};
use crate::send::{check_text, HttpRequest, Outgoing, SendContext, SendOutcome};
use crate::untrusted::{clamp_name, clamp_text};
use crate::window::{check_window, ReplyWindow};
use crate::wire::{location, parse_body, secs_to_ms, short, Obj};
use crate::{ChannelConfig, Provider, Rejection, Request};
use concierge_types::conversation::{
    ChannelContact, ChannelKind, ContactEvent, Content, DeliveryStatus, Direction, Inbound,
    InboundMessage, MediaKind, Parsed, ProviderError, SharedContact, StatusUpdate,
};
use concierge_types::identifier::{Identifier, IdentifierKind};
use serde_json::{json, Value};

pub(crate) struct Whatsapp;

pub(crate) static WHATSAPP: Whatsapp = Whatsapp;

/// WhatsApp's limit on a text message body, in characters.
const MAX_TEXT_CHARS: usize = 4096;

impl Provider for Whatsapp {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Whatsapp
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
        parse(body, default_region)
    }

    fn reply_window(&self) -> ReplyWindow {
        ReplyWindow {
            hours: Some(24),
            tagged_hours: None,
            templates_outside: true,
        }
    }

    fn build_send(
        &self,
        cfg: &ChannelConfig,
        thread: &str,
        out: &Outgoing,
        ctx: &SendContext,
    ) -> Result<HttpRequest, String> {
        check_window(ChannelKind::Whatsapp, ctx, out)?;
        let token = required(&cfg.access_token, "access_token")?;
        let phone_number_id = required(&cfg.phone_number_id, "phone_number_id")?;
        if !phone_number_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err("phone_number_id must be digits only".into());
        }
        if thread.is_empty() || !thread.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{:?} is not a WhatsApp id (the digits of the customer's number)",
                short(thread)
            ));
        }
        let message = match out {
            Outgoing::Text { text } => {
                check_text(text, MAX_TEXT_CHARS, "WhatsApp")?;
                json!({
                    "messaging_product": "whatsapp",
                    "recipient_type": "individual",
                    "to": thread,
                    "type": "text",
                    "text": { "preview_url": false, "body": text },
                })
            }
            Outgoing::Template {
                name,
                language,
                params,
            } => {
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    return Err(format!(
                        "{:?} is not a template name (lower-case letters, digits and _)",
                        short(name)
                    ));
                }
                if language.trim().is_empty() {
                    return Err("the template language is empty (e.g. \"en_US\")".into());
                }
                if let Some(i) = params.iter().position(|p| p.trim().is_empty()) {
                    return Err(format!(
                        "template parameter {} is empty; WhatsApp refuses empty parameters",
                        i + 1
                    ));
                }
                let mut template = json!({ "name": name, "language": { "code": language } });
                if !params.is_empty() {
                    let parameters: Vec<Value> = params
                        .iter()
                        .map(|p| json!({ "type": "text", "text": p }))
                        .collect();
                    template["components"] = json!([{ "type": "body", "parameters": parameters }]);
                }
                json!({
                    "messaging_product": "whatsapp",
                    "recipient_type": "individual",
                    "to": thread,
                    "type": "template",
                    "template": template,
                })
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
                let (kind, max) = whatsapp_kind(*media, mime_type).ok_or_else(|| {
                    format!("WhatsApp doesn't take {mime_type} files; send a picture, PDF, text or office document")
                })?;
                check_size(*size, max, &format!("a WhatsApp {kind}"))?;
                crate::media::check_caption(
                    caption,
                    self.max_caption_chars(*media, mime_type),
                    &format!("a WhatsApp {kind}"),
                )?;
                let mut object = json!({ "link": url });
                if kind == "document" {
                    object["filename"] = json!(filename);
                }
                if let Some(c) = caption {
                    object["caption"] = json!(c);
                }
                json!({
                    "messaging_product": "whatsapp",
                    "recipient_type": "individual",
                    "to": thread,
                    "type": kind,
                    kind: object,
                })
            }
        };
        Ok(HttpRequest::post_json(
            format!("{}/{phone_number_id}/messages", cfg.api_base(GRAPH_API)),
            Some(("authorization", format!("Bearer {token}"))),
            &message,
        ))
    }

    fn read_send_response(&self, status: u16, body: &[u8]) -> SendOutcome {
        read_graph_response(status, body, |v| {
            v.get("messages")?.get(0)?.get("id")?.as_str()
        })
    }

    fn max_caption_chars(&self, media: MediaKind, mime_type: &str) -> usize {
        match whatsapp_kind(media, mime_type) {
            Some(("image" | "video" | "document", _)) => 1024,
            _ => 0,
        }
    }
}

/// How WhatsApp takes a file, and its size limit: JPEG and PNG pictures, MP4 video, audio, and
/// the document types it lists (PDF, text, Word, Excel, PowerPoint). `None`: not at all.
fn whatsapp_kind(media: MediaKind, mime_type: &str) -> Option<(&'static str, u64)> {
    Some(match (media, mime_type) {
        (MediaKind::Image, "image/jpeg" | "image/png") => ("image", 5 * MB),
        (MediaKind::Video, "video/mp4") => ("video", 16 * MB),
        (MediaKind::Audio | MediaKind::Voice, "audio/mpeg" | "audio/ogg" | "audio/mp4") => {
            ("audio", 16 * MB)
        }
        (
            _,
            "application/pdf"
            | "text/plain"
            | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            | "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ) => ("document", 100 * MB),
        _ => return None,
    })
}

fn required<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, String> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("the channel has no {name} configured"))
}

fn parse(body: &[u8], region: &str) -> Result<Parsed, String> {
    let v = parse_body(body)?;
    let root = Obj::root(&v, "a WhatsApp delivery")?;
    let object = root.str("object")?;
    if object != "whatsapp_business_account" {
        return Err(format!(
            "object is {:?}; WhatsApp deliveries carry \"whatsapp_business_account\"",
            short(object)
        ));
    }
    if !root.has("entry") {
        return Err(root.missing("entry"));
    }
    let mut out = Parsed::default();
    for entry in root.objs("entry")? {
        for change in entry.objs("changes")? {
            let field = change.str("field")?;
            let value = change.obj("value")?;
            match field {
                "messages" | "smb_message_echoes" | "user_preferences" => {
                    Change::new(&value, region)?.read(&mut out)?
                }
                other => out.skipped.push(format!(
                    "{}: field {:?} is not a conversation event (templates, account, billing and history notifications are not handled)",
                    change.path(),
                    short(other)
                )),
            }
        }
    }
    Ok(out)
}

/// One `value` object and what it says about the people involved.
struct Change<'a> {
    value: &'a Obj<'a>,
    region: &'a str,
    /// The business's own number (normalised), when it is one.
    business: Option<String>,
    /// `contacts[]`: each normalised wa_id with its profile name.
    contacts: Vec<(Identifier, Option<String>)>,
}

impl<'a> Change<'a> {
    fn new(value: &'a Obj<'a>, region: &'a str) -> Result<Self, String> {
        let business = match value.opt_obj("metadata")? {
            Some(m) => m
                .opt_str("display_phone_number")?
                .and_then(|raw| Identifier::parse(IdentifierKind::WhatsappId, raw, region).ok())
                .map(|id| id.value),
            None => None,
        };
        let mut contacts = Vec::new();
        for c in value.objs("contacts")? {
            let name = match c.opt_obj("profile")? {
                Some(p) => p.opt_str("name")?.and_then(clamp_name),
                None => None,
            };
            // A contact whose wa_id is not a number (a placeholder, a username-only user) can
            // name no one: leave it out rather than refuse the delivery.
            if let Some(wa) = c.opt_str("wa_id")? {
                if let Ok(id) = Identifier::parse(IdentifierKind::WhatsappId, wa, region) {
                    contacts.push((id, name));
                }
            }
        }
        Ok(Change {
            value,
            region,
            business,
            contacts,
        })
    }

    fn read(&self, out: &mut Parsed) -> Result<(), String> {
        for m in self.value.objs("messages")? {
            self.message(&m, false, out)?;
        }
        for m in self.value.objs("message_echoes")? {
            self.message(&m, true, out)?;
        }
        for s in self.value.objs("statuses")? {
            self.status(&s, out)?;
        }
        for p in self.value.objs("user_preferences")? {
            self.preference(&p, out)?;
        }
        for e in self.value.objs("errors")? {
            out.skipped.push(format!(
                "{}: Meta reported error {} ({})",
                e.path(),
                e.opt_id("code")?.unwrap_or_default(),
                e.opt_str("title")?.unwrap_or("no title")
            ));
        }
        Ok(())
    }

    fn is_business(&self, raw: Option<&str>) -> bool {
        match (raw, &self.business) {
            (Some(raw), Some(business)) => {
                Identifier::parse(IdentifierKind::WhatsappId, raw, self.region)
                    .is_ok_and(|id| &id.value == business)
            }
            _ => false,
        }
    }

    /// The customer named by `raw`, falling back to the change's only contact.
    fn customer(&self, raw: Option<&str>, what: &str) -> Result<ChannelContact, String> {
        let parsed = raw.map(|r| Identifier::parse(IdentifierKind::WhatsappId, r, self.region));
        let wa = match (parsed, self.contacts.as_slice()) {
            (Some(Ok(id)), _) => id,
            (_, [(only, _)]) => only.clone(),
            (Some(Err(e)), _) => {
                return Err(format!(
                    "{what}: {:?} is not a WhatsApp number ({e}), and the change lists no single contact to fall back on",
                    short(raw.unwrap_or_default())
                ))
            }
            (None, _) => {
                return Err(format!(
                    "{what}: missing, and the change lists no single contact to fall back on"
                ))
            }
        };
        Ok(self.contact_for(wa))
    }

    fn contact_for(&self, wa: Identifier) -> ChannelContact {
        let name = self
            .contacts
            .iter()
            .find(|(id, _)| *id == wa)
            .and_then(|(_, name)| name.clone());
        // A wa_id is the number's digits, so `+` + wa_id is the phone; should the phone rules
        // refuse it anyway, the WhatsApp id alone still names the customer.
        let phone = Identifier::parse(
            IdentifierKind::Phone,
            &format!("+{}", wa.value),
            self.region,
        )
        .ok();
        let mut identifiers = vec![wa];
        identifiers.extend(phone);
        ChannelContact {
            identifiers,
            name,
            locale: None,
        }
    }

    fn message(&self, m: &Obj, echo: bool, out: &mut Parsed) -> Result<(), String> {
        let from = m.opt_str("from")?;
        let to = m.opt_str("to")?;
        let outgoing = echo || self.is_business(from);
        let contact = if outgoing {
            // Echo samples sometimes name the customer in `from` and the business in `to`.
            let raw = if self.is_business(to) { from } else { to };
            self.customer(raw, &format!("{}.to", m.path()))?
        } else {
            self.customer(from, &format!("{}.from", m.path()))?
        };
        let thread = contact.identifiers[0].value.clone();
        let provider_id = m.str("id")?.to_string();
        let ts = secs_to_ms(m.int("timestamp")?, &format!("{}.timestamp", m.path()))?;
        let kind = m.str("type")?;
        let (content, reply_to, edited) = match kind {
            "edit" => {
                let edit = m.obj("edit")?;
                let original = edit.str("original_message_id")?.to_string();
                let inner = edit.obj("message")?;
                (content(&inner, inner.str("type")?)?, Some(original), true)
            }
            "revoke" => {
                let original = m.obj("revoke")?.str("original_message_id")?.to_string();
                (
                    Content::Other {
                        kind: "deleted".into(),
                        text: None,
                    },
                    Some(original),
                    false,
                )
            }
            other => {
                let reply_to = match m.opt_obj("context")? {
                    Some(c) => c.opt_str("id")?.map(str::to_string),
                    None => None,
                };
                (content(m, other)?, reply_to, false)
            }
        };
        if let Some(referral) = m.opt_obj("referral")? {
            out.items.push(Inbound::Event(ContactEvent {
                thread: thread.clone(),
                contact: contact.clone(),
                kind: "referral".into(),
                ts,
                detail: referral.value.clone(),
            }));
        }
        out.items.push(Inbound::Message(InboundMessage {
            provider_id,
            thread,
            contact,
            direction: if outgoing {
                Direction::Outgoing
            } else {
                Direction::Incoming
            },
            ts,
            content,
            reply_to,
            edited,
            subject: None,
        }));
        Ok(())
    }

    fn status(&self, s: &Obj, out: &mut Parsed) -> Result<(), String> {
        let id = s.str("id")?.to_string();
        let ts = secs_to_ms(s.int("timestamp")?, &format!("{}.timestamp", s.path()))?;
        let status = match s.str("status")? {
            "sent" => DeliveryStatus::Sent,
            "delivered" => DeliveryStatus::Delivered,
            "read" => DeliveryStatus::Read,
            "failed" => DeliveryStatus::Failed,
            other => {
                out.skipped.push(format!(
                    "{}: status {:?} is not a delivery state we track",
                    s.path(),
                    short(other)
                ));
                return Ok(());
            }
        };
        let thread = s
            .opt_str("recipient_id")?
            .and_then(|r| Identifier::parse(IdentifierKind::WhatsappId, r, self.region).ok())
            .map(|id| id.value);
        let error = match s.objs("errors")?.first() {
            Some(e) => Some(ProviderError {
                code: e.opt_id("code")?,
                title: e
                    .opt_str("title")?
                    .or(e.opt_str("message")?)
                    .map(clamp_text),
                detail: match e.opt_obj("error_data")? {
                    Some(d) => d.opt_str("details")?.map(clamp_text),
                    None => None,
                },
            }),
            None => None,
        };
        out.items.push(Inbound::Status(StatusUpdate {
            thread,
            provider_ids: vec![id],
            up_to: None,
            status,
            ts,
            error,
        }));
        Ok(())
    }

    fn preference(&self, p: &Obj, out: &mut Parsed) -> Result<(), String> {
        let contact = self.customer(p.opt_str("wa_id")?, &format!("{}.wa_id", p.path()))?;
        let ts = secs_to_ms(p.int("timestamp")?, &format!("{}.timestamp", p.path()))?;
        let detail = json!({
            "category": p.opt_str("category")?,
            "value": p.opt_str("value")?,
            "detail": p.opt_str("detail")?,
        });
        out.items.push(Inbound::Event(ContactEvent {
            thread: contact.identifiers[0].value.clone(),
            contact,
            kind: "marketing_preferences".into(),
            ts,
            detail,
        }));
        Ok(())
    }
}

/// The content of a message of type `kind` (the object holding `kind`'s payload is `m`).
fn content(m: &Obj, kind: &str) -> Result<Content, String> {
    Ok(match kind {
        "text" => Content::Text {
            text: clamp_text(m.obj("text")?.str("body")?),
        },
        "image" => media(&m.obj("image")?, MediaKind::Image)?,
        "video" => media(&m.obj("video")?, MediaKind::Video)?,
        "document" => media(&m.obj("document")?, MediaKind::Document)?,
        "sticker" => media(&m.obj("sticker")?, MediaKind::Sticker)?,
        "voice" => media(&m.obj("voice")?, MediaKind::Voice)?,
        "audio" => {
            let audio = m.obj("audio")?;
            let kind = if audio.opt_bool("voice")? == Some(true) {
                MediaKind::Voice
            } else {
                MediaKind::Audio
            };
            media(&audio, kind)?
        }
        "interactive" => {
            let i = m.obj("interactive")?;
            match i.str("type")? {
                t @ ("button_reply" | "list_reply") => {
                    let reply = i.obj(t)?;
                    Content::Interactive {
                        id: reply.id("id")?,
                        title: clamp_text(reply.opt_str("title")?.unwrap_or_default()),
                    }
                }
                "nfm_reply" => Content::Other {
                    kind: "flow_response".into(),
                    text: i
                        .obj("nfm_reply")?
                        .opt_str("response_json")?
                        .map(clamp_text),
                },
                other => Content::Other {
                    kind: format!("interactive_{}", short(other)),
                    text: None,
                },
            }
        }
        "button" => {
            let b = m.obj("button")?;
            let title = b.opt_str("text")?.unwrap_or_default();
            Content::Interactive {
                id: b.opt_str("payload")?.unwrap_or(title).to_string(),
                title: clamp_text(title),
            }
        }
        "reaction" => {
            let r = m.obj("reaction")?;
            Content::Reaction {
                message_id: r.str("message_id")?.to_string(),
                emoji: r.opt_text("emoji")?.map(clamp_text),
            }
        }
        "location" => {
            let l = m.obj("location")?;
            location(
                l.f64("latitude")?,
                l.f64("longitude")?,
                l.opt_text("name")?.map(clamp_text),
                l.opt_text("address")?.map(clamp_text),
            )
        }
        "contacts" => {
            let mut contacts = Vec::new();
            for c in m.objs("contacts")? {
                let name = match c.opt_obj("name")? {
                    Some(n) => n
                        .opt_text("formatted_name")?
                        .or(n.opt_text("first_name")?)
                        .and_then(clamp_name),
                    None => None,
                };
                let mut phones = Vec::new();
                for p in c.objs("phones")? {
                    if let Some(phone) = p.opt_text("phone")?.or(p.opt_text("wa_id")?) {
                        phones.push(clamp_text(phone));
                    }
                }
                let mut emails = Vec::new();
                for e in c.objs("emails")? {
                    if let Some(email) = e.opt_text("email")? {
                        emails.push(clamp_text(email));
                    }
                }
                contacts.push(SharedContact {
                    name,
                    phones,
                    emails,
                });
            }
            Content::Contacts { contacts }
        }
        "order" => {
            let o = m.obj("order")?;
            let mut items = Vec::new();
            for item in o.objs("product_items")? {
                let product = item.opt_id("product_retailer_id")?.unwrap_or_default();
                let quantity = item.opt_int("quantity")?.unwrap_or(1);
                items.push(format!("{} ×{quantity}", short(&product)));
            }
            let mut summary = format!("{} item(s): {}", items.len(), items.join(", "));
            if let Some(note) = o.opt_text("text")? {
                summary.push_str(" — ");
                summary.push_str(note);
            }
            Content::Other {
                kind: "order".into(),
                text: Some(clamp_text(&summary)),
            }
        }
        "system" => Content::Other {
            kind: "system".into(),
            text: match m.opt_obj("system")? {
                Some(s) => s.opt_str("body")?.map(clamp_text),
                None => None,
            },
        },
        "unsupported" | "unknown" => Content::Other {
            kind: "unsupported".into(),
            text: match m.objs("errors")?.first() {
                Some(e) => e
                    .opt_str("title")?
                    .or(e.opt_str("message")?)
                    .map(clamp_text),
                None => None,
            },
        },
        other => Content::Other {
            kind: short(other),
            text: None,
        },
    })
}

fn media(o: &Obj, media: MediaKind) -> Result<Content, String> {
    Ok(Content::Media {
        media,
        media_id: o.opt_id("id")?,
        url: o.opt_text("url")?.map(str::to_string),
        mime_type: o.opt_text("mime_type")?.map(str::to_string),
        filename: o.opt_text("filename")?.map(clamp_text),
        caption: o.opt_text("caption")?.map(clamp_text),
        sha256: o.opt_text("sha256")?.map(str::to_string),
        size: o.opt_u64("file_size")?,
    })
}
