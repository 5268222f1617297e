//! Meta's messaging products: WhatsApp Cloud API, Messenger and Instagram.
//!
//! They share one verification scheme and one Graph API error shape, kept here:
//!
//! - Handshake: `GET ?hub.mode=subscribe&hub.verify_token=<token>&hub.challenge=<c>` is answered
//!   with `c` only when the mode is `subscribe` and the token matches `verify_token`.
//! - Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>`. The legacy
//!   SHA-1 header is not accepted: Meta sends both, and accepting the weaker one would let it
//!   stand in for the stronger.
//!
//! The payloads differ: WhatsApp nests `entry[].changes[].value` ([`whatsapp`]); Messenger and
//! Instagram send `entry[].messaging[]` ([`messenger`]).

mod messenger;
mod whatsapp;

#[cfg(test)]
mod tests;

use crate::send::{body_excerpt, retry_by_status, SendOutcome};
use crate::verify::{configured, ct_eq, single_header, verify_hmac_sha256_hex};
use crate::{ChannelConfig, Rejection, Request};
use serde_json::Value;

pub(crate) use messenger::{INSTAGRAM, MESSENGER};
pub(crate) use whatsapp::WHATSAPP;

/// Graph API base used when the config sets no `api_base`.
pub(crate) const GRAPH_API: &str = "https://graph.facebook.com/v21.0";

const SIGNATURE_HEADER: &str = "x-hub-signature-256";

/// Longest `hub.challenge` echoed back. Meta sends a short number; anything long or with
/// non-printable characters is not Meta.
const MAX_CHALLENGE_BYTES: usize = 512;

/// Graph API error codes that mean "try again later": unknown/temporary errors, throttling and
/// rate limits (WhatsApp 130429 throughput, 131056 pair rate, 80007 account rate, 133004 server
/// unavailable; Messenger 1200 temporary send failure).
const TRANSIENT_CODES: &[i64] = &[1, 2, 4, 17, 32, 613, 1200, 80007, 130429, 131056, 133004];

pub(crate) fn handshake(
    cfg: &ChannelConfig,
    query: &[(String, String)],
) -> Result<String, Rejection> {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let expected = cfg
        .verify_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Rejection::Forbidden("the channel has no verify_token configured".into()))?;
    match param("hub.mode") {
        Some("subscribe") => {}
        Some(other) => {
            return Err(Rejection::Forbidden(format!(
                "hub.mode is {:?}, expected \"subscribe\"",
                crate::wire::short(other)
            )))
        }
        None => return Err(Rejection::Forbidden("missing hub.mode".into())),
    }
    let token = param("hub.verify_token")
        .ok_or_else(|| Rejection::Forbidden("missing hub.verify_token".into()))?;
    if !ct_eq(token.as_bytes(), expected.as_bytes()) {
        return Err(Rejection::Forbidden(
            "hub.verify_token does not match the channel's verify_token".into(),
        ));
    }
    let challenge = param("hub.challenge")
        .ok_or_else(|| Rejection::BadRequest("missing hub.challenge".into()))?;
    if challenge.is_empty()
        || challenge.len() > MAX_CHALLENGE_BYTES
        || !challenge.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(Rejection::BadRequest(
            "hub.challenge must be 1-512 printable ASCII characters".into(),
        ));
    }
    Ok(challenge.to_string())
}

pub(crate) fn verify(cfg: &ChannelConfig, req: &Request) -> Result<(), Rejection> {
    let secret = configured(&cfg.app_secret, "app_secret")?;
    let header = single_header(req.headers, SIGNATURE_HEADER)?;
    let hex = header.strip_prefix("sha256=").ok_or_else(|| {
        Rejection::Unauthorized("X-Hub-Signature-256 does not start with \"sha256=\"".into())
    })?;
    verify_hmac_sha256_hex(secret, &[req.body], hex, "X-Hub-Signature-256")
}

/// Reads a Graph API answer; `message_id` finds the id of the sent message in a success.
pub(crate) fn read_graph_response(
    status: u16,
    body: &[u8],
    message_id: fn(&Value) -> Option<&str>,
) -> SendOutcome {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(err) = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .filter(|e| e.is_object())
    {
        return graph_error(status, err);
    }
    if let Some(retry) = retry_by_status(status, body) {
        return retry;
    }
    if (200..300).contains(&status) {
        return match parsed.as_ref().and_then(message_id) {
            Some(id) if !id.is_empty() => SendOutcome::Sent {
                provider_id: id.to_string(),
            },
            // Meta took the message but named no id: retrying could send it twice.
            _ => SendOutcome::failed(
                None,
                "Meta accepted the call but returned no message id",
                Some(body_excerpt(body)),
            ),
        };
    }
    SendOutcome::failed(
        Some(status.to_string()),
        format!("HTTP {status}"),
        Some(body_excerpt(body)),
    )
}

fn graph_error(status: u16, err: &Value) -> SendOutcome {
    let code = err.get("code").and_then(Value::as_i64);
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("Graph API error")
        .to_string();
    let detail = err
        .get("error_data")
        .and_then(|d| match d {
            Value::String(s) => Some(s.as_str()),
            Value::Object(_) => d.get("details").and_then(Value::as_str),
            _ => None,
        })
        .or_else(|| err.get("error_user_msg").and_then(Value::as_str))
        .map(str::to_string);
    let transient = code.is_some_and(|c| TRANSIENT_CODES.contains(&c))
        || retry_by_status(status, b"").is_some();
    if transient {
        return SendOutcome::Retry {
            reason: match code {
                Some(c) => format!("Meta error {c}: {message}"),
                None => format!("HTTP {status}: {message}"),
            },
        };
    }
    SendOutcome::failed(code.map(|c| c.to_string()), message, detail)
}
