//! Channels, conversations and messages: what every provider plug-in produces from a webhook and
//! what the conversation API shows, in one model for all channels.

use crate::identifier::Identifier;
use crate::Millis;
use serde::{Deserialize, Serialize};

/// The kinds of channel Concierge connects. Each has one provider plug-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    Whatsapp,
    Messenger,
    Instagram,
    Telegram,
    Viber,
    Tiktok,
    Email,
    Webchat,
    Store,
    Api,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 10] = [
        Self::Whatsapp,
        Self::Messenger,
        Self::Instagram,
        Self::Telegram,
        Self::Viber,
        Self::Tiktok,
        Self::Email,
        Self::Webchat,
        Self::Store,
        Self::Api,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Whatsapp => "whatsapp",
            Self::Messenger => "messenger",
            Self::Instagram => "instagram",
            Self::Telegram => "telegram",
            Self::Viber => "viber",
            Self::Tiktok => "tiktok",
            Self::Email => "email",
            Self::Webchat => "webchat",
            Self::Store => "store",
            Self::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Who wrote a message, seen from the brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the customer.
    Incoming,
    /// From the brand: an agent, the bot, or the brand's own app/phone (an echo).
    Outgoing,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incoming => "incoming",
            Self::Outgoing => "outgoing",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "incoming" => Some(Self::Incoming),
            "outgoing" => Some(Self::Outgoing),
            _ => None,
        }
    }
}

/// Delivery state of a message, in the order it can only move forward (except `failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting in the outbox.
    Queued,
    /// Accepted by the provider.
    Sent,
    Delivered,
    Read,
    Failed,
    /// An incoming message we stored.
    Received,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Failed => "failed",
            Self::Received => "received",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Sent,
            Self::Delivered,
            Self::Read,
            Self::Failed,
            Self::Received,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
    /// Whether a status update from `self` to `next` moves forward. Providers deliver webhooks out
    /// of order (a `read` may arrive before its `delivered`), so nothing ever moves back; `failed`
    /// only replaces states before delivery.
    pub fn advances_to(self, next: DeliveryStatus) -> bool {
        use DeliveryStatus::*;
        match (self, next) {
            (Received, _) | (_, Queued) | (_, Received) => false,
            (Failed, _) => false,
            (Queued | Sent, Failed) => true,
            (_, Failed) => false,
            (a, b) => b > a,
        }
    }
}

/// The kind of a media attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Audio,
    Voice,
    Video,
    Document,
    Sticker,
    File,
}

/// A contact card shared in a message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SharedContact {
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<String>,
}

/// What a message says. Text is kept as the customer wrote it (untrusted: escape on display).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text {
        text: String,
    },
    /// A file kept at the provider: `media_id` (WhatsApp, Telegram `file_id`) to fetch later, or a
    /// `url` where the provider hands one out.
    Media {
        media: MediaKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        media_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    Contacts {
        contacts: Vec<SharedContact>,
    },
    /// A tap on a button, list row, quick reply, postback or Telegram callback button.
    Interactive {
        /// The payload the brand attached to the choice.
        id: String,
        /// What the customer saw and chose.
        title: String,
    },
    /// A reaction to another message; `emoji: None` removes it.
    Reaction {
        message_id: String,
        emoji: Option<String>,
    },
    /// Anything else (orders, games, flows, polls…), summarised; the raw payload stays in the
    /// inbound log.
    Other {
        kind: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
}

impl Content {
    /// A one-line text for lists, previews, the timeline and the bot.
    pub fn preview(&self) -> String {
        match self {
            Content::Text { text } => text.clone(),
            Content::Media { media, caption, .. } => match caption {
                Some(c) => format!("[{media:?}] {c}"),
                None => format!("[{media:?}]"),
            },
            Content::Location {
                latitude,
                longitude,
                name,
                ..
            } => match name {
                Some(n) => format!("[location] {n} ({latitude}, {longitude})"),
                None => format!("[location] {latitude}, {longitude}"),
            },
            Content::Contacts { contacts } => format!("[{} contact(s)]", contacts.len()),
            Content::Interactive { title, .. } => title.clone(),
            Content::Reaction { emoji, .. } => match emoji {
                Some(e) => format!("[reaction] {e}"),
                None => "[reaction removed]".into(),
            },
            Content::Other { kind, text } => match text {
                Some(t) => format!("[{kind}] {t}"),
                None => format!("[{kind}]"),
            },
        }
    }
}

/// The person on the other side of a channel, as the provider describes them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelContact {
    /// Normalised identifiers the provider gives (WhatsApp id and phone, PSID, Telegram user id…).
    pub identifiers: Vec<Identifier>,
    /// Display name, when the provider sends one.
    pub name: Option<String>,
    /// Language or locale the provider reports (Telegram `language_code`, Viber `language`).
    pub locale: Option<String>,
}

/// A provider's error on a failed delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderError {
    pub code: Option<String>,
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One message parsed from a webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// The provider's id of the message, unique per channel (WhatsApp `wamid`, Messenger `mid`,
    /// Telegram `chat_id:message_id`, Viber `message_token`).
    pub provider_id: String,
    /// The conversation key within the channel: whom the brand talks to (WhatsApp `wa_id`,
    /// PSID/IGSID, Telegram chat id, Viber user id, email thread root).
    pub thread: String,
    /// The customer: the sender of an incoming message, the recipient of an echo.
    pub contact: ChannelContact,
    /// `Outgoing` for echoes of what the brand sent from another app or phone.
    pub direction: Direction,
    pub ts: Millis,
    pub content: Content,
    /// The provider id of the message this one replies to or edits.
    pub reply_to: Option<String>,
    /// An edit of an earlier message (`reply_to` names it).
    pub edited: bool,
    /// The subject line, for channels that have one (email).
    pub subject: Option<String>,
}

/// A delivery receipt: `provider_ids` reached `status`; or, for watermark receipts (Messenger
/// `read`, Instagram `seen`), every outgoing message of `thread` up to `up_to`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub thread: Option<String>,
    pub provider_ids: Vec<String>,
    pub up_to: Option<Millis>,
    pub status: DeliveryStatus,
    pub ts: Millis,
    pub error: Option<ProviderError>,
}

/// A happening on the channel that is not a message: subscribed, unsubscribed, conversation
/// started, opt-in, referral, bot blocked… It goes to the customer's timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactEvent {
    pub thread: String,
    pub contact: ChannelContact,
    /// snake_case name, e.g. `subscribed`, `unsubscribed`, `conversation_started`, `optin`.
    pub kind: String,
    pub ts: Millis,
    /// Extra detail worth keeping (referral source, opt-in ref…), as JSON.
    pub detail: serde_json::Value,
}

/// One item of a webhook delivery; a delivery may hold many (Meta batches entries).
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Message(InboundMessage),
    Status(StatusUpdate),
    Event(ContactEvent),
}

/// Everything one webhook delivery held: the items, and what was skipped on purpose, with why.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    pub items: Vec<Inbound>,
    pub skipped: Vec<String>,
}

// ---- what the API shows ----

use crate::ids::ProfileId;
use crate::view::Timestamp;

/// A connected channel as the API shows it: secrets in `config` are masked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelView {
    pub id: String,
    pub kind: ChannelKind,
    pub name: String,
    /// Where the provider must send its webhooks.
    pub webhook_url: String,
    pub config: serde_json::Value,
    pub created_at: Timestamp,
}

/// Conversation status: `open` (someone should act), `pending` (waiting on the customer or the
/// bot), `snoozed` (until a time or the customer's next message), `resolved`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    Open,
    Pending,
    Snoozed,
    Resolved,
}

impl ConversationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Pending => "pending",
            Self::Snoozed => "snoozed",
            Self::Resolved => "resolved",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Open, Self::Pending, Self::Snoozed, Self::Resolved]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Who owns a conversation: exactly one of the bot, a team queue, an agent, or nobody yet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Owner {
    Unassigned,
    Bot,
    Queue(String),
    Agent(String),
}

impl Owner {
    /// `(kind, id)` as stored.
    pub fn to_parts(&self) -> (&'static str, Option<&str>) {
        match self {
            Owner::Unassigned => ("unassigned", None),
            Owner::Bot => ("bot", None),
            Owner::Queue(q) => ("queue", Some(q)),
            Owner::Agent(a) => ("agent", Some(a)),
        }
    }
    pub fn from_parts(kind: &str, id: Option<String>) -> Owner {
        match (kind, id) {
            ("bot", _) => Owner::Bot,
            ("queue", Some(q)) => Owner::Queue(q),
            ("agent", Some(a)) => Owner::Agent(a),
            _ => Owner::Unassigned,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationView {
    pub id: i64,
    /// The customer (root profile of the cluster).
    pub customer_id: ProfileId,
    pub channel_id: String,
    pub channel_kind: ChannelKind,
    /// The provider's key for whom the brand talks to (phone digits, PSID, chat id…).
    pub thread: String,
    /// The name the channel gave the customer, if any.
    pub contact_name: Option<String>,
    pub status: ConversationStatus,
    pub owner: Owner,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_message_at: Option<Timestamp>,
    /// The customer's last message: the reply windows count from it.
    pub last_incoming_at: Option<Timestamp>,
    pub snoozed_until: Option<Timestamp>,
    pub last_message_preview: Option<String>,
    pub messages: u64,
    /// The subject line of channels that have one (email).
    pub subject: Option<String>,
    /// The customer's language as the bot last detected it.
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Why the bot handed the conversation to a person, if it did.
    #[serde(default)]
    pub handoff_reason: Option<String>,
    /// The team whose queue it last went through.
    #[serde(default)]
    pub team: Option<String>,
    /// When it first needed a person (the bot's handoff, an assignment, or a person's reply):
    /// the SLA clock starts here.
    #[serde(default)]
    pub handed_at: Option<Timestamp>,
    /// When it was resolved, while it stays resolved.
    #[serde(default)]
    pub resolved_at: Option<Timestamp>,
}

/// A reply agents insert by its shortcut (`/entrega`), in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CannedResponse {
    pub id: i64,
    pub shortcut: String,
    pub language: String,
    pub text: String,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Customer,
    Agent,
    Bot,
    /// The brand's own app or phone (an echo of something sent outside Concierge).
    Brand,
    System,
}

impl Author {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Agent => "agent",
            Self::Bot => "bot",
            Self::Brand => "brand",
            Self::System => "system",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Customer,
            Self::Agent,
            Self::Bot,
            Self::Brand,
            Self::System,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageView {
    pub id: i64,
    pub conversation_id: i64,
    pub direction: Direction,
    pub author: Author,
    /// The agent's name, for agent messages and notes.
    pub author_name: Option<String>,
    /// A private note: never sent to the customer.
    pub private: bool,
    pub content: Content,
    /// Delivery status; `None` for notes.
    pub status: Option<DeliveryStatus>,
    pub error: Option<ProviderError>,
    pub provider_id: Option<String>,
    pub reply_to: Option<String>,
    pub edited: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What happened to one webhook delivery: `rejected` (failed verification, never parsed),
/// `verified` (waiting to be processed), `stored`, `failed` (could not be parsed or stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InboundState {
    Rejected,
    Verified,
    Stored,
    Failed,
}

impl InboundState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Verified => "verified",
            Self::Stored => "stored",
            Self::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Rejected, Self::Verified, Self::Stored, Self::Failed]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One entry of the raw inbound log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboundEntry {
    pub id: i64,
    pub channel_id: String,
    pub received_at: Timestamp,
    pub state: InboundState,
    pub error: Option<String>,
    /// Items stored from it (messages, receipts, events).
    pub items: u64,
    /// What was skipped on purpose, with why.
    pub skipped: Vec<String>,
    pub processed_at: Option<Timestamp>,
    pub attempts: u64,
    /// The request headers that matter (signatures, content type).
    pub headers: Vec<(String, String)>,
    /// The raw body as text (lossy for non-UTF-8 bytes); only in single-entry answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub body_bytes: u64,
}

/// A conversation with all its messages, as the data-subject export carries it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConversationExport {
    pub conversation: ConversationView,
    pub messages: Vec<MessageView>,
}
