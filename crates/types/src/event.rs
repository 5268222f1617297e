//! What every source hands to the store: one [`NewEvent`] per accepted message.

use crate::consent::NewConsent;
use crate::identifier::Identifier;
use crate::Millis;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Identify,
    Track,
    Page,
    Screen,
    Group,
    Alias,
}

impl EventKind {
    pub const ALL: [EventKind; 6] = [
        Self::Identify,
        Self::Track,
        Self::Page,
        Self::Screen,
        Self::Group,
        Self::Alias,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Identify => "identify",
            Self::Track => "track",
            Self::Page => "page",
            Self::Screen => "screen",
            Self::Group => "group",
            Self::Alias => "alias",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An accepted event, validated and normalised, ready to be resolved to a profile and stored.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Unique per source; a second event with the same key is a duplicate and is dropped.
    pub dedup_key: String,
    pub kind: EventKind,
    /// `event` of a track call, `name` of a page/screen call.
    pub name: Option<String>,
    /// `server`, `browser`, `mobile`, or a messaging channel.
    pub channel: String,
    /// Where it came from (the API key's name), kept as the provenance of identifiers and traits.
    pub source: String,
    /// Corrected event time (`timestamp`).
    pub ts: Millis,
    pub received_at: Millis,
    /// Identifiers the event carries, normalised and de-duplicated.
    pub identifiers: Vec<Identifier>,
    /// Traits to record on the profile (identify calls), as `(key, JSON value)`.
    pub traits: Vec<(String, serde_json::Value)>,
    /// Consent carried by the event (`context.consent`, `context.consentManagement`).
    pub consents: Vec<NewConsent>,
    /// Consent snapshot stamped on the stored event, as JSON.
    pub consent_snapshot: Option<String>,
    /// The whole message as stored, unknown fields included.
    pub body: String,
}
