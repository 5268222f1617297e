//! The generic API channel, for custom integrations (a marketplace, an in-house app): messages in
//! through a signed webhook, agent replies out to the integrator's URL (`api_base`), signed the
//! same way. The scheme is also the one of Concierge's outbound event webhooks:
//!
//! `X-Concierge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>`
//!
//! The timestamp is signed with the body, so a captured request cannot be replayed later than
//! [`MAX_SIGNATURE_AGE_SECS`].
//!
//! Inbound body: one message or `{"messages": [...]}`, each
//! `{"id", "contact": {"id", "name"?, "email"?, "phone"?, "user_id"?}, "text", "timestamp"?}`.
//! Outbound body: `{"type": "message", "thread": contact id, "text"}`; the integrator answers 2xx,
//! ideally with `{"id": "…"}`.

use crate::verify::{configured, hmac_sha256_hex, single_header, verify_hmac_sha256_hex};
use crate::wire::{parse_body, Obj};
use crate::{
    ChannelConfig, HttpRequest, Outgoing, Provider, Rejection, ReplyWindow, Request, SendContext,
    SendOutcome,
};
use concierge_types::conversation::MediaKind;
use concierge_types::conversation::{
    ChannelContact, ChannelKind, Content, Direction, Inbound, InboundMessage, Parsed, ProviderError,
};
use concierge_types::{Identifier, IdentifierKind};
use std::sync::atomic::{AtomicU64, Ordering};

/// The longest text the API channel sends with a file.
const MAX_CAPTION_CHARS: usize = 4096;

pub const SIGNATURE_HEADER: &str = "x-concierge-signature";
/// Oldest signature accepted, in seconds.
pub const MAX_SIGNATURE_AGE_SECS: i64 = 300;

/// The `X-Concierge-Signature` value for `body` sent at `t` (unix seconds).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let hex = hmac_sha256_hex(secret, &[t.to_string().as_bytes(), b".", body]);
    format!("t={t},v1={hex}")
}

/// `(t, v1)` of a signature header.
fn parse_signature(value: &str) -> Option<(i64, &str)> {
    let mut t = None;
    let mut v1 = None;
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", x)) => t = x.parse().ok(),
            Some(("v1", x)) => v1 = Some(x),
            _ => {}
        }
    }
    Some((t?, v1?))
}

pub struct Api;
pub static API: Api = Api;

impl Provider for Api {
    fn kind(&self) -> ChannelKind {
        ChannelKind::Api
    }

    /// There is no provider: replies go to the integrator's `api_base`, which must be set.
    fn default_api_base(&self) -> &'static str {
        ""
    }

    fn handshake(
        &self,
        _cfg: &ChannelConfig,
        _query: &[(String, String)],
    ) -> Option<Result<String, Rejection>> {
        None
    }

    fn verify(&self, cfg: &ChannelConfig, req: &Request) -> Result<(), Rejection> {
        let secret = configured(&cfg.secret, "secret")?;
        let header = single_header(req.headers, SIGNATURE_HEADER)?;
        let (t, v1) = parse_signature(header).ok_or_else(|| {
            Rejection::Unauthorized(format!("{SIGNATURE_HEADER} is not t=…,v1=…"))
        })?;
        verify_hmac_sha256_hex(
            secret,
            &[t.to_string().as_bytes(), b".", req.body],
            v1,
            SIGNATURE_HEADER,
        )
    }

    fn signed_at(&self, req: &Request) -> Option<i64> {
        let header = single_header(req.headers, SIGNATURE_HEADER).ok()?;
        parse_signature(header).map(|(t, _)| t)
    }

    fn parse(&self, body: &[u8], default_region: &str) -> Result<Parsed, String> {
        let value = parse_body(body)?;
        let root = Obj::root(&value, "body")?;
        let items = if root.has("messages") {
            root.objs("messages")?
        } else {
            vec![root]
        };
        let mut parsed = Parsed::default();
        for m in items {
            let contact = m.obj("contact")?;
            let thread = contact.id("id")?;
            let mut identifiers = Vec::new();
            for (key, kind) in [
                ("user_id", IdentifierKind::UserId),
                ("email", IdentifierKind::Email),
                ("phone", IdentifierKind::Phone),
            ] {
                if let Some(v) = contact.opt_text(key)? {
                    identifiers.push(
                        Identifier::parse(kind, v, default_region)
                            .map_err(|e| format!("{}.{key}: {e}", contact.path()))?,
                    );
                }
            }
            if identifiers.is_empty() {
                identifiers.push(
                    Identifier::parse(IdentifierKind::AnonymousId, &format!("api:{thread}"), "BR")
                        .map_err(|e| format!("{}.id: {e}", contact.path()))?,
                );
            }
            let text = m.str("text")?;
            if text.trim().is_empty() {
                return Err(format!("{}.text is empty", m.path()));
            }
            let ts = match m.get("timestamp") {
                None | Some(serde_json::Value::Null) => chrono::Utc::now().timestamp_millis(),
                Some(serde_json::Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s)
                    .map_err(|e| format!("{}.timestamp: {e}", m.path()))?
                    .timestamp_millis(),
                Some(_) => m.int("timestamp")?,
            };
            parsed.items.push(Inbound::Message(InboundMessage {
                provider_id: m.id("id")?,
                thread,
                contact: ChannelContact {
                    identifiers,
                    name: contact
                        .opt_text("name")?
                        .and_then(crate::untrusted::clamp_name),
                    locale: None,
                },
                direction: Direction::Incoming,
                ts,
                content: Content::Text {
                    text: crate::untrusted::clamp_text(text),
                },
                reply_to: None,
                edited: false,
                subject: None,
            }));
        }
        Ok(parsed)
    }

    fn reply_window(&self) -> ReplyWindow {
        ReplyWindow::NONE
    }

    fn build_send(
        &self,
        cfg: &ChannelConfig,
        thread: &str,
        out: &Outgoing,
        ctx: &SendContext,
    ) -> Result<HttpRequest, String> {
        let url = cfg.api_base.as_deref().filter(|u| !u.is_empty()).ok_or(
            "the API channel has no api_base: set the integrator's URL to deliver replies",
        )?;
        let secret = cfg
            .secret
            .as_deref()
            .ok_or("the API channel has no secret")?;
        let body = match out {
            Outgoing::Text { text } => {
                serde_json::json!({"type": "message", "thread": thread, "text": text})
            }
            Outgoing::Media {
                media,
                url,
                filename,
                mime_type,
                size,
                caption,
            } => {
                crate::media::check_caption(caption, MAX_CAPTION_CHARS, "the API channel")?;
                serde_json::json!({"type": "message", "thread": thread, "text": caption, "file": {
                    "kind": media, "url": url, "name": filename, "mime_type": mime_type, "size": size,
                }})
            }
            Outgoing::Template { .. } => {
                return Err("the API channel sends text and files, not templates".into())
            }
        };
        let bytes = body.to_string().into_bytes();
        let signature = sign(secret, ctx.now / 1000, &bytes);
        Ok(HttpRequest {
            method: "POST",
            url: url.to_string(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-concierge-signature".into(), signature),
            ],
            body: bytes,
        })
    }

    fn max_caption_chars(&self, _media: MediaKind, _mime_type: &str) -> usize {
        MAX_CAPTION_CHARS
    }

    fn read_send_response(&self, status: u16, body: &[u8]) -> SendOutcome {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        match status {
            200..=299 => {
                let id = serde_json::from_slice::<serde_json::Value>(body)
                    .ok()
                    .and_then(|v| v.get("id").and_then(|i| i.as_str().map(String::from)));
                // Without an id of theirs, one of ours that no other send can have.
                let id = id.unwrap_or_else(|| {
                    let nanos = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_nanos())
                        .unwrap_or(0);
                    format!("api-out:{nanos:x}-{}", SEQ.fetch_add(1, Ordering::Relaxed))
                });
                SendOutcome::Sent { provider_id: id }
            }
            0 | 408 | 429 | 500..=599 => SendOutcome::Retry {
                reason: format!("the integrator answered {status}"),
            },
            _ => SendOutcome::Failed {
                error: ProviderError {
                    code: Some(status.to_string()),
                    title: Some("the integrator refused the message".into()),
                    detail: Some(String::from_utf8_lossy(&body[..body.len().min(300)]).into()),
                },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ChannelConfig {
        serde_json::from_value(
            serde_json::json!({"secret": "k", "api_base": "http://127.0.0.1:1/in"}),
        )
        .unwrap()
    }

    #[test]
    fn signed_round_trip() {
        let body = br#"{"id":"m1","contact":{"id":"c-9","email":"Ana@Example.com"},"text":"oi"}"#;
        let sig = sign("k", 1_700_000_000, body);
        let headers = vec![(SIGNATURE_HEADER.to_string(), sig)];
        let req = Request {
            query: &[],
            headers: &headers,
            body,
        };
        assert!(API.verify(&cfg(), &req).is_ok());
        assert_eq!(API.signed_at(&req), Some(1_700_000_000));
        let tampered = Request {
            query: &[],
            headers: &headers,
            body: b"{}",
        };
        assert!(API.verify(&cfg(), &tampered).is_err());
        let parsed = API.parse(body, "BR").unwrap();
        let Inbound::Message(m) = &parsed.items[0] else {
            panic!()
        };
        assert_eq!(m.thread, "c-9");
        assert_eq!(m.contact.identifiers[0].value, "ana@example.com");
        let out = API
            .build_send(
                &cfg(),
                "c-9",
                &Outgoing::Text {
                    text: "olá".into()
                },
                &SendContext {
                    now: 1_700_000_000_000,
                    last_incoming_at: None,
                },
            )
            .unwrap();
        let sig = out.header("x-concierge-signature").unwrap().to_string();
        assert_eq!(sig, sign("k", 1_700_000_000, &out.body));
        assert!(matches!(
            API.read_send_response(200, b"{}"),
            SendOutcome::Sent { .. }
        ));
        assert!(matches!(
            API.read_send_response(503, b""),
            SendOutcome::Retry { .. }
        ));
        assert!(matches!(
            API.read_send_response(400, b"no"),
            SendOutcome::Failed { .. }
        ));
    }
}
