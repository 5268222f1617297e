//! Typed identifiers: the nodes of the identity graph.

use crate::normalize::{normalize_email, normalize_phone, NormalizeError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of identifier Concierge stitches profiles with. The order of [`IdentifierKind::ALL`] is
/// the resolution priority: an event is attributed to the profile owning its strongest identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    UserId,
    Email,
    Phone,
    WhatsappId,
    InstagramId,
    MessengerId,
    TelegramId,
    ViberId,
    TiktokId,
    LoyaltyId,
    AnonymousId,
}

impl IdentifierKind {
    /// Every kind, strongest first.
    pub const ALL: [IdentifierKind; 11] = [
        Self::UserId,
        Self::Email,
        Self::Phone,
        Self::WhatsappId,
        Self::InstagramId,
        Self::MessengerId,
        Self::TelegramId,
        Self::ViberId,
        Self::TiktokId,
        Self::LoyaltyId,
        Self::AnonymousId,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserId => "user_id",
            Self::Email => "email",
            Self::Phone => "phone",
            Self::WhatsappId => "whatsapp_id",
            Self::InstagramId => "instagram_id",
            Self::MessengerId => "messenger_id",
            Self::TelegramId => "telegram_id",
            Self::ViberId => "viber_id",
            Self::TiktokId => "tiktok_id",
            Self::LoyaltyId => "loyalty_id",
            Self::AnonymousId => "anonymous_id",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Position in the resolution priority (0 = strongest).
    pub fn priority(self) -> usize {
        Self::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or(usize::MAX)
    }
}

impl fmt::Display for IdentifierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Longest identifier value we accept, in bytes.
pub const MAX_IDENTIFIER_LEN: usize = 256;

/// A normalised `(kind, value)` pair. Built by [`Identifier::parse`] or read back from the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identifier {
    pub kind: IdentifierKind,
    pub value: String,
}

impl Identifier {
    /// Normalises `raw` for `kind`: emails are lower-cased (Gmail dots and tags folded), phones become
    /// E.164 using `default_region` for national numbers, WhatsApp ids become the E.164 digits without
    /// `+` (Brazil's ninth digit restored), other ids are trimmed.
    pub fn parse(
        kind: IdentifierKind,
        raw: &str,
        default_region: &str,
    ) -> Result<Self, NormalizeError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(NormalizeError::Empty);
        }
        if trimmed.len() > MAX_IDENTIFIER_LEN {
            return Err(NormalizeError::TooLong);
        }
        let value = match kind {
            IdentifierKind::Email => normalize_email(trimmed)?,
            IdentifierKind::Phone => normalize_phone(trimmed, default_region)?,
            // WhatsApp ids are the phone number's digits; normalising them the same way lets the
            // legacy 8-digit Brazilian wa_id meet the 9-digit phone of the same line.
            IdentifierKind::WhatsappId => {
                let digits: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();
                let plus = if digits.starts_with('+') {
                    digits
                } else {
                    format!("+{digits}")
                };
                normalize_phone(&plus, default_region)?
                    .trim_start_matches('+')
                    .to_string()
            }
            _ => {
                if trimmed.chars().any(|c| c.is_control()) {
                    return Err(NormalizeError::Invalid(
                        "control characters are not allowed",
                    ));
                }
                trimmed.to_string()
            }
        };
        Ok(Identifier { kind, value })
    }

    /// Parses the `kind:value` form used in query strings (`email:ana@example.com`).
    pub fn parse_pair(pair: &str, default_region: &str) -> Result<Self, NormalizeError> {
        let (kind, value) = pair
            .split_once(':')
            .ok_or(NormalizeError::Invalid("expected kind:value"))?;
        let kind = IdentifierKind::parse(kind.trim())
            .ok_or(NormalizeError::Invalid("unknown identifier kind"))?;
        Self::parse(kind, value, default_region)
    }

    /// For values read back from our own store, which were normalised when written.
    pub fn from_stored(kind: IdentifierKind, value: String) -> Self {
        Identifier { kind, value }
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}
