//! Provider plug-ins: everything Concierge knows about one messaging provider's wire format, as
//! pure functions with no HTTP client, no clock and no I/O.
//!
//! A webhook goes through the same steps for every provider, each one a [`Provider`] method:
//!
//! 1. [`Provider::handshake`] answers the provider's GET check when the callback URL is registered
//!    (Meta's `hub.challenge`); kinds without one return `None`.
//! 2. [`Provider::verify`] authenticates the raw body (HMAC signature or shared-secret header)
//!    before a single byte is parsed, comparing in constant time. Failures are [`Rejection`]s.
//! 3. [`Provider::parse`] turns the verified body into [`Parsed`]: messages, delivery receipts and
//!    contact events in the shared vocabulary of `concierge_types::conversation`, plus what was
//!    skipped on purpose and why.
//!
//! Sending is split the same way: [`check_window`] applies the provider's reply rules
//! ([`ReplyWindow`], kept as data), [`Provider::build_send`] builds the exact [`HttpRequest`] the
//! caller performs, and [`Provider::read_send_response`] turns the answer into a [`SendOutcome`]
//! (sent with the provider's id, retry later, or failed for good).
//!
//! [`ChannelConfig`] is the per-channel configuration an admin gives (secrets included); it
//! validates itself per kind and never prints a secret.
//!
//! The plug-ins are listed once, in [`PROVIDERS`]; [`provider`] finds one by kind. Adding a
//! provider is one module and one line there.
//!
//! A delivery is refused (`Err`) when it is not JSON, not the provider's envelope, or holds an
//! item of a known kind in a broken shape: the error names the path
//! (`entry[0].changes[0].value.messages[1].timestamp: expected an integer, got an object`). The
//! caller keeps the raw body in its inbound log, so a refused delivery can be replayed once the
//! cause is understood, rather than half of it being stored. Well-formed kinds we do not handle
//! are not errors: they go to `Parsed::skipped` with the reason.
//!
//! Customer text is untrusted and kept verbatim (escaping is the UI's job), with two exceptions
//! documented in [`untrusted`]: text over [`untrusted::MAX_TEXT_BYTES`] is cut with a note, and
//! NUL characters (which no SQL text column stores) become U+FFFD.

pub mod api;
mod config;
pub mod media;
mod meta;
mod send;
pub mod store_feed;
mod telegram;
mod tiktok;
pub mod untrusted;
pub mod verify;
mod viber;
mod window;
mod wire;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use concierge_types::conversation::{ChannelKind, MediaKind, Parsed, ProviderError};
pub use config::ChannelConfig;
pub use send::{HttpRequest, Outgoing, SendContext, SendOutcome};
pub use tiktok::MAX_SIGNATURE_AGE_SECS as TIKTOK_MAX_SIGNATURE_AGE_SECS;
pub use window::{check_window, reply_window, ReplyWindow, WindowState};
pub use wire::MAX_BODY_BYTES;

/// One webhook request as the HTTP layer received it. `Debug` shows header names only: some
/// headers carry a secret (Telegram's secret token).
#[derive(Clone, Copy)]
pub struct Request<'a> {
    /// Decoded query-string pairs, in order.
    pub query: &'a [(String, String)],
    /// Header pairs; names lower-case.
    pub headers: &'a [(String, String)],
    /// The raw body, exactly as received: signatures are computed over these bytes.
    pub body: &'a [u8],
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Request")
            .field("query", &self.query)
            .field("headers", &names)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// Why a webhook request was refused. The message is for our logs, not for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// 401: missing, malformed or wrong signature / secret.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// 403: a failed handshake (wrong verify token or mode).
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 400: a request that cannot be a valid one (e.g. a handshake without a challenge).
    #[error("bad request: {0}")]
    BadRequest(String),
}

impl Rejection {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Rejection::Unauthorized(_) => 401,
            Rejection::Forbidden(_) => 403,
            Rejection::BadRequest(_) => 400,
        }
    }
}

/// One provider's wire format. Implementations are stateless; everything per-channel comes in
/// through [`ChannelConfig`].
pub trait Provider: Send + Sync {
    fn kind(&self) -> ChannelKind;

    /// The provider API base URL used when the config has no `api_base`.
    fn default_api_base(&self) -> &'static str;

    /// GET handshake (Meta `hub.mode` / `hub.verify_token` / `hub.challenge`): `Ok` holds the body
    /// to answer with (as `text/plain`). `None` when this kind has no handshake.
    fn handshake(
        &self,
        cfg: &ChannelConfig,
        query: &[(String, String)],
    ) -> Option<Result<String, Rejection>>;

    /// Authenticates a POST over the raw body before anything is parsed.
    fn verify(&self, cfg: &ChannelConfig, req: &Request) -> Result<(), Rejection>;

    /// When the provider signed the request, in seconds since the epoch, for providers whose
    /// signature covers a timestamp (TikTok). The caller rejects stale ones to stop replays; the
    /// signature check itself is [`Provider::verify`]. `None` for every other provider.
    fn signed_at(&self, _req: &Request) -> Option<i64> {
        None
    }

    /// Parses a verified delivery. Never panics on any input; malformed JSON or a wrong shape is
    /// `Err` with a clear message naming where. Unknown-but-well-formed event kinds go to
    /// [`Parsed::skipped`] with a reason.
    fn parse(&self, body: &[u8], default_region: &str) -> Result<Parsed, String>;

    /// The reply rules of this provider.
    fn reply_window(&self) -> ReplyWindow;

    /// Whether files can be sent at all (within [`Provider::build_send`]'s kinds and limits).
    fn sends_files(&self) -> bool {
        true
    }

    /// The longest text that can go with a file of this kind and type, in characters; 0 where
    /// the provider shows a file without text (send the text as its own message).
    fn max_caption_chars(&self, _media: MediaKind, _mime_type: &str) -> usize {
        0
    }

    /// The provider API call that sends `out` to `thread` (the `InboundMessage::thread` of that
    /// customer). Refuses what the provider would refuse anyway: a closed reply window, templates
    /// where there are none, text over the provider's limit.
    fn build_send(
        &self,
        cfg: &ChannelConfig,
        thread: &str,
        out: &Outgoing,
        ctx: &SendContext,
    ) -> Result<HttpRequest, String>;

    /// Reads the provider's answer to that call. `status` 0 means no answer at all (connection
    /// failure, timeout) and is always a retry.
    fn read_send_response(&self, status: u16, body: &[u8]) -> SendOutcome;
}

/// The one list of plug-ins.
pub static PROVIDERS: [&dyn Provider; 7] = [
    &meta::WHATSAPP,
    &meta::MESSENGER,
    &meta::INSTAGRAM,
    &telegram::TELEGRAM,
    &viber::VIBER,
    &tiktok::TIKTOK,
    &api::API,
];

/// The plug-in for `kind`; `None` for kinds served elsewhere (email, webchat, store).
pub fn provider(kind: ChannelKind) -> Option<&'static dyn Provider> {
    PROVIDERS.iter().copied().find(|p| p.kind() == kind)
}
