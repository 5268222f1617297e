//! Shared vocabulary of Concierge. Everything else may depend on this crate; it depends on nothing of ours.
//!
//! - [`ids`]: typed ids ([`ProfileId`], [`EventId`], [`MergeId`] …) so ids of different things never mix.
//! - [`identifier`]: [`Identifier`] = a typed, normalised value (email, E.164 phone, user id, channel ids)
//!   built only through [`Identifier::parse`], trusted everywhere after.
//! - [`normalize`]: the email and phone normalisation behind it (Brazil's ninth digit included).
//! - [`consent`]: purposes, statuses, legal bases (LGPD art. 7 / GDPR art. 6) and ledger records.
//! - [`conversation`]: channels, the messages providers send us, delivery states.
//! - [`event`]: [`NewEvent`], what every source (Segment API, channels, stores) hands to the store.
//! - [`error`]: the one error shape of the API, with stable snake_case codes.
//! - [`view`]: the 360° profile, timeline and export documents the API returns.

pub mod consent;
pub mod conversation;
pub mod error;
pub mod event;
pub mod identifier;
pub mod ids;
pub mod normalize;
pub mod user;
pub mod view;

pub use consent::{ChannelScope, ConsentStatus, LegalBasis, NewConsent, Purpose};
pub use error::{ApiError, ErrorCode};
pub use event::{EventKind, NewEvent};
pub use identifier::{Identifier, IdentifierKind};
pub use ids::{ApiKey, ConsentId, EventId, KeyId, KeyScope, MergeId, ProfileId};
pub use user::{Role, TeamMember, TeamView, UserView};

/// Milliseconds since the Unix epoch, UTC. Stored as an integer so SQL stays portable.
pub type Millis = i64;
