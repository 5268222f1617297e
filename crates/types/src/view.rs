//! The documents the REST API returns: the 360° view, the timeline, the consent ledger, the merge
//! log and the data-subject export.

use crate::consent::{ChannelScope, ConsentStatus, Evidence, LegalBasis, Purpose};
use crate::identifier::IdentifierKind;
use crate::ids::{ConsentId, EventId, MergeId, ProfileId};
use crate::Millis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A point in time, carried as milliseconds and written as RFC 3339 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub Millis);

impl Timestamp {
    pub fn to_rfc3339(self) -> String {
        match chrono::DateTime::from_timestamp_millis(self.0) {
            Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            None => self.0.to_string(),
        }
    }
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        chrono::DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| Timestamp(t.timestamp_millis()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 time"))
    }
}

/// One customer: a cluster of merged profiles seen as one person.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerView {
    /// The cluster's root profile id.
    pub id: ProfileId,
    /// Every profile merged into this customer (the root included).
    pub profiles: Vec<ProfileId>,
    pub created_at: Timestamp,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub identifiers: Vec<IdentifierView>,
    pub traits: BTreeMap<String, TraitView>,
    /// Current consent per purpose and channel; across merged profiles the most restrictive wins.
    pub consent: Vec<ConsentState>,
    pub counts: EventCounts,
    /// Merges that formed this customer, newest first, each with whether it can be undone.
    pub merges: Vec<MergeView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentifierView {
    pub kind: IdentifierKind,
    pub value: String,
    /// The profile this identifier belongs to inside the cluster.
    pub profile_id: ProfileId,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// Source and channel where it was first and last seen.
    pub first_source: String,
    pub first_channel: String,
    pub last_source: String,
    pub last_channel: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TraitView {
    pub value: serde_json::Value,
    pub source: String,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EventCounts {
    pub total: u64,
    /// By call type: identify, track, page …
    pub by_type: BTreeMap<String, u64>,
    /// Track calls by event name (`Order Completed` …).
    pub by_event: BTreeMap<String, u64>,
    pub by_channel: BTreeMap<String, u64>,
}

/// The derived current state of one purpose on one channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentState {
    pub purpose: Purpose,
    pub channel: ChannelScope,
    pub status: ConsentStatus,
    pub legal_basis: LegalBasis,
    pub since: Timestamp,
    pub expires_at: Option<Timestamp>,
    /// The ledger entry this state comes from.
    pub record_id: ConsentId,
}

/// One entry of the append-only consent ledger.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub id: ConsentId,
    pub profile_id: ProfileId,
    pub purpose: Purpose,
    pub channel: ChannelScope,
    pub status: ConsentStatus,
    pub legal_basis: LegalBasis,
    pub legal_basis_articles: String,
    pub notice_version: Option<String>,
    pub evidence: Evidence,
    pub effective_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub recorded_at: Timestamp,
    pub source: String,
    /// The event that carried it, for consent captured through the tracking API.
    pub event_id: Option<EventId>,
    /// The previous entry for the same purpose and channel of this profile.
    pub supersedes: Option<ConsentId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsentLedger {
    pub customer_id: ProfileId,
    pub current: Vec<ConsentState>,
    pub history: Vec<ConsentRecord>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MergeAction {
    /// Two clusters were joined.
    Merge,
    /// A merge was refused by a rule (conflicting unique identifier, identifier limit).
    Refused,
    /// A merge was undone by an admin.
    Undo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergeView {
    pub id: MergeId,
    pub action: MergeAction,
    /// The cluster that survived (merge) or would have (refused).
    pub survivor_id: ProfileId,
    /// The cluster root that was absorbed (merge), kept apart (refused) or restored (undo).
    pub absorbed_id: ProfileId,
    /// Profiles that moved.
    pub members: Vec<ProfileId>,
    /// Why: the identifier kind that linked them, or the rule that refused the link.
    pub reason: String,
    pub event_id: Option<EventId>,
    pub created_at: Timestamp,
    /// For a merge: the undo entry, once undone. For an undo: the merge it reverted.
    pub related: Option<MergeId>,
}

/// One stored event as the timeline shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub id: EventId,
    pub profile_id: ProfileId,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    pub channel: String,
    pub timestamp: Timestamp,
    pub received_at: Timestamp,
    pub consent: Option<serde_json::Value>,
    pub message: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TimelinePage {
    pub customer_id: ProfileId,
    pub events: Vec<TimelineEvent>,
    /// Pass as `before` to get the next (older) page; absent on the last page.
    pub next_before: Option<String>,
}

/// Everything held about one person (LGPD art. 18 / GDPR art. 15 and 20).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportDocument {
    pub generated_at: Timestamp,
    pub customer: CustomerView,
    pub events: Vec<TimelineEvent>,
    pub consents: Vec<ConsentRecord>,
    pub merge_log: Vec<MergeView>,
    /// Every conversation on every channel, with all messages and private notes.
    pub conversations: Vec<crate::conversation::ConversationExport>,
}

/// One entry of the erasure log (LGPD art. 37 / GDPR art. 30 records): counts only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErasureRecord {
    pub erasure_id: i64,
    pub customer_id: ProfileId,
    pub erased_at: Timestamp,
    pub profiles: u64,
    pub events: u64,
    pub identifiers: u64,
    pub consents: u64,
    pub suppressed_identifiers: u64,
}

/// The record of an erasure: counts only, no personal data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErasureReceipt {
    /// What the erasure log keeps.
    #[serde(flatten)]
    pub record: ErasureRecord,
    /// Whether old copies of the erased pages were also removed from the write-ahead log at once
    /// (otherwise that happens at the next checkpoint).
    pub wal_scrubbed: bool,
}
