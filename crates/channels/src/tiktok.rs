//! TikTok Business Messaging (API for Business v1.3): webhooks and
//! `POST /business/message/send/`.
//!
//! # What this is based on, and what could not be checked
//!
//! No real TikTok Business Messaging payload was available; nothing here has been checked against
//! a captured delivery. Sources, in order of authority:
//!
//! 1. TikTok's own developer docs, "Webhooks: Check the signature"
//!    (developers.tiktok.com/doc/webhooks-verification): header `TikTok-Signature:
//!    t=<unix seconds>,s=<hex>`, where `s` = HMAC-SHA256(client secret, `"{t}.{raw body}"`), and
//!    the advice to reject old timestamps. That page belongs to TikTok for Developers webhooks;
//!    that Business Messaging webhooks are signed the same way is taken from Chatwoot's TikTok
//!    controller, which verifies them so with the app secret. **Unchecked.**
//! 2. TikTok's webhook overview: at-least-once delivery (duplicates happen), retries with
//!    backoff for 72 hours until a 200. A public capture of a `tiktok.ping` event shows the
//!    envelope `{client_key, event, create_time, user_openid, content}` with `content` a JSON
//!    **string**. Both a string and an object are accepted here.
//! 3. Chatwoot's TikTok integration (app/jobs/webhooks/tiktok_events_job.rb,
//!    app/services/tiktok/*.rb and their specs) for everything else — **all unchecked against
//!    TikTok's reference pages**, which were not retrievable:
//!    - event names `im_receive_msg` (customer → business), `im_send_msg` (business → customer,
//!      an echo), `im_mark_read_msg` (read receipt); `user_openid` is the business id;
//!    - message `content` fields: `conversation_id`, `message_id`, `timestamp` (ms), `type`
//!      (`text`, `image`, `share_post`, `sticker`…), `text.body`, `image.media_id`,
//!      `share_post.embed_url`, `from` / `to` (display names), `from_user.id` / `to_user.id`,
//!      `referenced_message_info.referenced_message_id`;
//!    - read receipts: `read.last_read_timestamp` (ms) and `from_user.id` (the reader);
//!    - sending: `POST {api_base}/business/message/send/` with header `Access-Token`, body
//!      `{business_id, recipient_type: "CONVERSATION", recipient: <conversation_id>,
//!      message_type: "TEXT", text: {body}}`; answer `{code: 0, message, data: {message:
//!      {message_id}}}`, any other `code` being an error.
//!
//! Also unchecked: the unit of `create_time` (not used); the error codes worth retrying (here:
//! 40100 "too many requests", 40064 "sending too fast" — seen in a vendor's docs — and every
//! code ≥ 50000); the 6000-character text limit (a vendor's docs); the 48-hour reply window
//! (Chatwoot's `MessageWindowService` and vendor docs agree).
//!
//! Parsing decisions: `thread` = `conversation_id` (what a reply is addressed to); the customer's
//! identifier is `tiktok_id` = their user id; images keep their `media_id` (fetching needs the
//! conversation and message ids too, which the message carries); shared posts become
//! `Other { kind: "share_post" }` with the embed URL; read receipts by the business itself are
//! skipped; other events (`tiktok.ping`, anything unknown) are skipped with a reason.

use crate::send::{
    body_excerpt, check_text, retry_by_status, HttpRequest, Outgoing, SendContext, SendOutcome,
};
use crate::untrusted::{clamp_name, clamp_text};
use crate::verify::{configured, single_header, verify_hmac_sha256_hex};
use crate::window::{check_window, ReplyWindow};
use crate::wire::{identifier, parse_body, short, type_name, Obj};
use crate::{ChannelConfig, Provider, Rejection, Request};
use concierge_types::conversation::{
    ChannelContact, ChannelKind, Content, DeliveryStatus, Direction, Inbound, InboundMessage,
    MediaKind, Parsed, StatusUpdate,
};
use concierge_types::identifier::IdentifierKind;
use serde_json::{json, Value};

pub(crate) struct Tiktok;

pub(crate) static TIKTOK: Tiktok = Tiktok;

const SIGNATURE_HEADER: &str = "tiktok-signature";

/// How old a `TikTok-Signature` timestamp may be before the caller should refuse the request as
/// a replay. Chatwoot allows 5 seconds, which clock skew alone can exceed; five minutes is the
/// usual tolerance for timestamped signatures.
pub const MAX_SIGNATURE_AGE_SECS: i64 = 300;

/// TikTok's limit on a text message, in characters (from a vendor's docs; unchecked).
const MAX_TEXT_CHARS: usize = 6000;

/// API `code`s worth retrying (unchecked, see the module docs).
fn transient(code: i64) -> bool {
    code == 40100 || code == 40064 || code >= 50000
}

impl Provider for Tiktok {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Tiktok
    }

    fn default_api_base(&self) -> &'static str {
        "https://business-api.tiktok.com/open_api/v1.3"
    }

    fn handshake(
        &self,
        _cfg: &ChannelConfig,
        _query: &[(String, String)],
    ) -> Option<Result<String, Rejection>> {
        None
    }

    fn verify(&self, cfg: &ChannelConfig, req: &Request) -> Result<(), Rejection> {
        let secret = configured(&cfg.app_secret, "app_secret")?;
        let header = single_header(req.headers, SIGNATURE_HEADER)?;
        let (t, s) = signature_parts(header).ok_or_else(|| {
            Rejection::Unauthorized(
                "TikTok-Signature is not of the form t=<seconds>,s=<hex>".into(),
            )
        })?;
        verify_hmac_sha256_hex(
            secret,
            &[t.as_bytes(), b".", req.body],
            s,
            "TikTok-Signature",
        )
    }

    fn signed_at(&self, req: &Request) -> Option<i64> {
        let header = single_header(req.headers, SIGNATURE_HEADER).ok()?;
        signature_parts(header)?.0.parse().ok()
    }

    fn parse(&self, body: &[u8], default_region: &str) -> Result<Parsed, String> {
        let v = parse_body(body)?;
        let root = Obj::root(&v, "a TikTok webhook")?;
        let event = root.str("event")?;
        let business = root.opt_id("user_openid")?;
        let mut out = Parsed::default();
        let outgoing = match event {
            "im_receive_msg" => false,
            "im_send_msg" => true,
            "im_mark_read_msg" => {
                let content = content_value(&root)?;
                let c = Obj::root(&content, "content")?;
                read_receipt(&c, business.as_deref(), &mut out)?;
                return Ok(out);
            }
            other => {
                out.skipped.push(format!(
                    "TikTok event {:?} is not a conversation event",
                    short(other)
                ));
                return Ok(out);
            }
        };
        let content = content_value(&root)?;
        let c = Obj::root(&content, "content")?;
        let (user_key, name_key) = if outgoing {
            ("to_user", "to")
        } else {
            ("from_user", "from")
        };
        let user_id = c.obj(user_key)?.id("id")?;
        let contact = ChannelContact {
            identifiers: vec![identifier(
                IdentifierKind::TiktokId,
                &user_id,
                default_region,
                &format!("content.{user_key}.id"),
            )?],
            name: c.opt_str(name_key)?.and_then(clamp_name),
            locale: None,
        };
        let message_content = match c.str("type")? {
            "text" => Content::Text {
                text: clamp_text(c.obj("text")?.str("body")?),
            },
            "image" => Content::Media {
                media: MediaKind::Image,
                media_id: Some(c.obj("image")?.id("media_id")?),
                url: None,
                mime_type: None,
                filename: None,
                caption: None,
                sha256: None,
                size: None,
            },
            "share_post" => Content::Other {
                kind: "share_post".into(),
                text: c.obj("share_post")?.opt_text("embed_url")?.map(clamp_text),
            },
            other => Content::Other {
                kind: short(other),
                text: None,
            },
        };
        let reply_to = match c.opt_obj("referenced_message_info")? {
            Some(r) => r.opt_id("referenced_message_id")?,
            None => None,
        };
        out.items.push(Inbound::Message(InboundMessage {
            provider_id: c.id("message_id")?,
            thread: c.id("conversation_id")?,
            contact,
            direction: if outgoing {
                Direction::Outgoing
            } else {
                Direction::Incoming
            },
            ts: c.int("timestamp")?,
            content: message_content,
            reply_to,
            edited: false,
            subject: None,
        }));
        Ok(out)
    }

    fn reply_window(&self) -> ReplyWindow {
        ReplyWindow {
            hours: Some(48),
            tagged_hours: None,
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
        let text = match out {
            Outgoing::Text { text } => text,
            Outgoing::Media { .. } => {
                return Err("files can't be sent on TikTok here; send text, or a link".into())
            }
            Outgoing::Template { .. } => {
                return Err("message templates are a WhatsApp feature; send text on TikTok".into())
            }
        };
        check_window(ChannelKind::Tiktok, ctx, out)?;
        check_text(text, MAX_TEXT_CHARS, "TikTok")?;
        let token = cfg
            .access_token
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or("the channel has no access_token configured")?;
        let business_id = cfg
            .business_id
            .as_deref()
            .filter(|t| !t.is_empty())
            .ok_or("the channel has no business_id configured")?;
        if thread.trim().is_empty() {
            return Err("the TikTok conversation id is empty".into());
        }
        Ok(HttpRequest::post_json(
            format!(
                "{}/business/message/send/",
                cfg.api_base(self.default_api_base())
            ),
            Some(("access-token", token.to_string())),
            &json!({
                "business_id": business_id,
                "recipient_type": "CONVERSATION",
                "recipient": thread,
                "message_type": "TEXT",
                "text": { "body": text },
            }),
        ))
    }

    fn sends_files(&self) -> bool {
        false
    }

    fn read_send_response(&self, status: u16, body: &[u8]) -> SendOutcome {
        if let Some(retry) = retry_by_status(status, body) {
            return retry;
        }
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        match parsed.as_ref().map(|v| (v["code"].as_i64(), v)) {
            Some((Some(0), v)) if (200..300).contains(&status) => {
                match v["data"]["message"]["message_id"].as_str() {
                    Some(id) if !id.is_empty() => SendOutcome::Sent {
                        provider_id: id.to_string(),
                    },
                    _ => SendOutcome::failed(
                        None,
                        "TikTok accepted the call but returned no message id",
                        Some(body_excerpt(body)),
                    ),
                }
            }
            Some((Some(code), v)) if code != 0 => {
                let message = v["message"].as_str().unwrap_or("TikTok error").to_string();
                if transient(code) {
                    SendOutcome::Retry {
                        reason: format!("TikTok {code}: {message}"),
                    }
                } else {
                    SendOutcome::failed(Some(code.to_string()), message, None)
                }
            }
            _ => SendOutcome::failed(
                Some(status.to_string()),
                format!("HTTP {status}: not a TikTok API answer"),
                Some(body_excerpt(body)),
            ),
        }
    }
}

/// `t=1633174587,s=1849…` → (`"1633174587"`, `"1849…"`).
fn signature_parts(header: &str) -> Option<(&str, &str)> {
    let mut t = None;
    let mut s = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) if t.is_none() => t = Some(v),
            Some(("s", v)) if s.is_none() => s = Some(v),
            _ => {}
        }
    }
    let t = t.filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))?;
    Some((t, s?))
}

/// The event's `content`: a JSON string holding an object (as TikTok sends it) or an object.
fn content_value(root: &Obj) -> Result<Value, String> {
    match root.get("content") {
        Some(Value::String(s)) => {
            serde_json::from_str(s).map_err(|e| format!("content: not valid JSON: {e}"))
        }
        Some(v @ Value::Object(_)) => Ok(v.clone()),
        Some(other) => Err(format!(
            "content: expected a JSON string or object, got {}",
            type_name(other)
        )),
        None => Err(root.missing("content")),
    }
}

fn read_receipt(c: &Obj, business: Option<&str>, out: &mut Parsed) -> Result<(), String> {
    let reader = c.obj("from_user")?.id("id")?;
    if business == Some(reader.as_str()) {
        out.skipped
            .push("read receipt by the business itself".into());
        return Ok(());
    }
    let last_read = c.obj("read")?.int("last_read_timestamp")?;
    out.items.push(Inbound::Status(StatusUpdate {
        thread: Some(c.id("conversation_id")?),
        provider_ids: Vec::new(),
        up_to: Some(last_read),
        status: DeliveryStatus::Read,
        ts: last_read,
        error: None,
    }));
    Ok(())
}

#[cfg(test)]
mod tests;
