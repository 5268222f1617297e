//! The one error shape of the API: `{"code": "snake_case", "message": "...", "status": 400}`.
//!
//! `code` and `message` sit at the top level because the official Segment clients read exactly those
//! two keys from an error answer.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! error_codes {
    ($($variant:ident => ($code:literal, $status:literal)),* $(,)?) => {
        /// Stable error codes. Never rename one: clients match on them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $($variant),* }

        impl ErrorCode {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $code),* }
            }
            pub fn http_status(self) -> u16 {
                match self { $(Self::$variant => $status),* }
            }
            pub const ALL: &'static [ErrorCode] = &[$(Self::$variant),*];
        }
    };
}

error_codes! {
    InvalidJson => ("invalid_json", 400),
    InvalidContentEncoding => ("invalid_content_encoding", 400),
    InvalidRequest => ("invalid_request", 400),
    InvalidIdentifier => ("invalid_identifier", 400),
    InvalidEvent => ("invalid_event", 400),
    MissingUserOrAnonymousId => ("missing_user_or_anonymous_id", 400),
    EmptyBatch => ("empty_batch", 400),
    NoValidEvents => ("no_valid_events", 400),
    InvalidConsent => ("invalid_consent", 400),
    InvalidChannel => ("invalid_channel", 400),
    InvalidMessage => ("invalid_message", 400),
    InvalidAttachment => ("invalid_attachment", 400),
    InvalidSignature => ("invalid_signature", 401),
    VerificationFailed => ("verification_failed", 403),
    ChannelNotFound => ("channel_not_found", 404),
    ConversationNotFound => ("conversation_not_found", 404),
    InboundNotFound => ("inbound_not_found", 404),
    ReplyWindowClosed => ("reply_window_closed", 422),
    InvalidBotDefinition => ("invalid_bot_definition", 400),
    EmailTaken => ("email_taken", 409),
    TooManyAttempts => ("too_many_attempts", 429),
    SignInRequired => ("sign_in_required", 401),
    Forbidden => ("forbidden", 403),
    InvalidCsrf => ("invalid_csrf", 403),
    NoBot => ("no_bot", 404),
    UnparsableWebhook => ("unparsable_webhook", 400),
    MissingAuthorization => ("missing_authorization", 401),
    InvalidApiKey => ("invalid_api_key", 401),
    InsufficientScope => ("insufficient_scope", 403),
    NotFound => ("not_found", 404),
    AttachmentNotFound => ("attachment_not_found", 404),
    CustomerNotFound => ("customer_not_found", 404),
    MergeNotFound => ("merge_not_found", 404),
    MethodNotAllowed => ("method_not_allowed", 405),
    MergeAlreadyUndone => ("merge_already_undone", 409),
    MergeNotUndoable => ("merge_not_undoable", 409),
    PayloadTooLarge => ("payload_too_large", 413),
    BatchTooLarge => ("batch_too_large", 413),
    Overloaded => ("overloaded", 429),
    Internal => ("internal", 500),
    StoreUnavailable => ("store_unavailable", 503),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown error code {s}")))
    }
}

/// An error as the client sees it. Internal causes are logged by the server, never put here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub status: u16,
    /// Per-item problems (e.g. rejected events of a batch), when there are any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ItemError>,
}

/// A problem with one item of a request (an event of a batch, a line of an import).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemError {
    pub index: usize,
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            status: code.http_status(),
            details: Vec::new(),
        }
    }

    pub fn with_details(mut self, details: Vec<ItemError>) -> Self {
        self.details = details;
        self
    }
}
