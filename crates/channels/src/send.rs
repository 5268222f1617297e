//! What goes out: the message ([`Outgoing`]), when ([`SendContext`]), the provider call that
//! carries it ([`HttpRequest`]) and what came of it ([`SendOutcome`]).

use concierge_types::conversation::{MediaKind, ProviderError};
use concierge_types::Millis;
use serde::{Deserialize, Serialize};

/// A message the brand sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    Text {
        text: String,
    },
    /// A pre-approved template (WhatsApp only): its name, language code (`en_US`) and the values
    /// of its body placeholders in order.
    Template {
        name: String,
        language: String,
        params: Vec<String>,
    },
    /// A file the provider fetches from `url` (ours, public and unguessable), checked by
    /// [`crate::media::check_upload`] when it was uploaded.
    Media {
        media: MediaKind,
        url: String,
        filename: String,
        mime_type: String,
        size: u64,
        /// Text shown with the file, where the provider has a place for it
        /// ([`crate::Provider::max_caption_chars`]).
        caption: Option<String>,
    },
}

/// When a message is sent, for the reply-window rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendContext {
    /// Now, in ms since the epoch.
    pub now: Millis,
    /// When the customer last wrote on this channel (ms), if ever.
    pub last_incoming_at: Option<Millis>,
}

/// One HTTP call for the caller to make. The body is JSON unless a header says otherwise.
///
/// May hold a secret: in a header, or in the URL for Telegram (the bot token is part of the
/// path). Log [`HttpRequest::url_for_logs`], never the headers.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub(crate) fn post_json(
        url: String,
        auth: Option<(&str, String)>,
        body: &serde_json::Value,
    ) -> Self {
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if let Some((name, value)) = auth {
            headers.push((name.to_string(), value));
        }
        HttpRequest {
            method: "POST",
            url,
            headers,
            body: body.to_string().into_bytes(),
        }
    }

    /// The URL with a Telegram bot token (`/bot<token>/`) masked.
    pub fn url_for_logs(&self) -> String {
        match self.url.find("/bot") {
            Some(start) => {
                let token_start = start + "/bot".len();
                let token_end = self.url[token_start..]
                    .find('/')
                    .map_or(self.url.len(), |i| token_start + i);
                format!("{}***{}", &self.url[..token_start], &self.url[token_end..])
            }
            None => self.url.clone(),
        }
    }

    /// The value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url_for_logs())
            .field("headers", &names)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// What came of a send.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    /// Accepted; `provider_id` is what delivery receipts will name (and equals the
    /// `InboundMessage::provider_id` of its echo, where the provider echoes).
    Sent { provider_id: String },
    /// Worth trying again later: 5xx, 429, throttling codes, no answer.
    Retry { reason: String },
    /// Will not succeed as it is (bad recipient, closed window, invalid token…).
    Failed { error: ProviderError },
}

impl SendOutcome {
    pub(crate) fn failed(
        code: Option<String>,
        title: impl Into<String>,
        detail: Option<String>,
    ) -> Self {
        SendOutcome::Failed {
            error: ProviderError {
                code,
                title: Some(title.into()),
                detail,
            },
        }
    }
}

/// The outcome decided by the HTTP status alone, before the body is read: no answer, 408, 429
/// and 5xx are retries.
pub(crate) fn retry_by_status(status: u16, body: &[u8]) -> Option<SendOutcome> {
    let transient = status == 0 || status == 408 || status == 429 || (500..=599).contains(&status);
    transient.then(|| SendOutcome::Retry {
        reason: if status == 0 {
            "no answer from the provider".to_string()
        } else {
            format!("HTTP {status}: {}", body_excerpt(body))
        },
    })
}

/// At most 200 characters of a response body, for reasons and logs.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

/// Refuses empty text and text over the provider's limit (in characters, as providers count).
pub(crate) fn check_text(text: &str, max_chars: usize, provider: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("the message text is empty".into());
    }
    let n = text.chars().count();
    if n > max_chars {
        return Err(format!(
            "the message is {n} characters; {provider} allows at most {max_chars} per message"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telegram_token_is_masked_in_logs() {
        let r = HttpRequest {
            method: "POST",
            url: "https://api.telegram.org/bot123:ABC/sendMessage".into(),
            headers: vec![("x-secret".into(), "v".into())],
            body: vec![],
        };
        assert_eq!(
            r.url_for_logs(),
            "https://api.telegram.org/bot***/sendMessage"
        );
        let debug = format!("{r:?}");
        assert!(
            !debug.contains("123:ABC") && !debug.contains("\"v\""),
            "{debug}"
        );
    }

    #[test]
    fn transient_statuses_retry() {
        for s in [0, 408, 429, 500, 502, 503, 599] {
            assert!(
                matches!(retry_by_status(s, b""), Some(SendOutcome::Retry { .. })),
                "{s}"
            );
        }
        for s in [200, 400, 401, 403, 404] {
            assert!(retry_by_status(s, b"").is_none(), "{s}");
        }
    }
}
