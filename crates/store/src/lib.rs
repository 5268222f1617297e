//! Storage behind one trait.
//!
//! [`Store`] is everything the engines and the server may ask of storage, in domain terms: ingest a
//! batch of events durably, read a customer's 360° view and timeline, append to the consent ledger,
//! undo a merge, export and erase a person, manage API keys. Nothing above this crate sees SQL.
//!
//! [`sqlite::SqliteStore`] is the embedded default: one writer thread owns the write connection and
//! commits whatever has queued up in one transaction (group commit), so every caller's `Ok` means
//! "fsynced", yet thousands of callers share each fsync. Readers use their own WAL connections.
//! Identity decisions come from [`concierge_identity::plan`], so any backend merges the same way.

pub mod inbound;
pub mod sqlite;

use async_trait::async_trait;
use concierge_types::conversation::{
    Author, CannedResponse, ChannelKind, Content, ConversationStatus, ConversationView,
    InboundEntry, InboundState, MessageView, Owner, Parsed, ProviderError,
};
use concierge_types::view::Timestamp;
use concierge_types::view::{
    ConsentLedger, ConsentRecord, CustomerView, ErasureReceipt, ExportDocument, MergeView,
    TimelineEvent, TimelinePage,
};
use concierge_types::{
    ApiKey, Identifier, KeyId, KeyScope, MergeId, NewConsent, NewEvent, ProfileId, Role, TeamView,
    UserView,
};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Too much is waiting to be written; the caller should retry later (HTTP 429).
    #[error("the store is busy, retry later")]
    Overloaded,
    #[error("customer not found")]
    CustomerNotFound,
    #[error("merge not found")]
    MergeNotFound,
    #[error("merge already undone")]
    MergeAlreadyUndone,
    #[error("merge cannot be undone: {0}")]
    MergeNotUndoable(String),
    /// A unique value (a user's e-mail) is taken.
    #[error("already exists: {0}")]
    Duplicate(String),
    #[error("storage failure: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// What became of an ingested batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    pub accepted: usize,
    /// Already stored under the same dedup key (a client retry): not stored again.
    pub duplicates: usize,
    /// Dropped because an identifier is on the suppression list of an erased person.
    pub suppressed: usize,
}

/// A page request of the timeline: events strictly older than `before`, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub ts: i64,
    pub id: i64,
}

impl Cursor {
    /// Cursors are `ts.id`; a bare RFC 3339 time is accepted too (everything before it).
    pub fn parse(s: &str) -> Option<Cursor> {
        if let Some((ts, id)) = s.split_once('.') {
            if let (Ok(ts), Ok(id)) = (ts.parse(), id.parse()) {
                return Some(Cursor { ts, id });
            }
        }
        concierge_types::view::Timestamp::parse_rfc3339(s).map(|t| Cursor { ts: t.0, id: 0 })
    }
    pub fn encode(&self) -> String {
        format!("{}.{}", self.ts, self.id)
    }
}

/// An API key as `keys list` shows it: enough to recognise it, never the secret.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    pub id: KeyId,
    pub name: String,
    pub scope: KeyScope,
    /// The first characters of the secret.
    pub prefix: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// Counters an operator looks at.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreStats {
    pub profiles: u64,
    pub customers: u64,
    pub identifiers: u64,
    pub events: u64,
    pub suppressed_identifiers: u64,
    pub suppressed_events_dropped: u64,
    pub pending_events: u64,
}

/// A channel to connect: the provider plug-in has already validated `config`.
#[derive(Debug, Clone)]
pub struct NewChannel {
    pub kind: ChannelKind,
    pub name: String,
    pub config: serde_json::Value,
}

/// A connected channel as stored, secrets included: for plug-ins, never for API answers.
#[derive(Debug, Clone)]
pub struct ChannelRecord {
    pub id: String,
    pub kind: ChannelKind,
    pub name: String,
    pub config: serde_json::Value,
    pub created_at: i64,
}

/// A webhook delivery as it arrived, before anything is parsed.
#[derive(Debug, Clone)]
pub struct NewInbound {
    pub channel_id: String,
    /// `Verified` to be processed; `Rejected` (failed verification) or `Failed` (unparsable)
    /// are kept for the operator only.
    pub state: InboundState,
    /// Why it was rejected or failed.
    pub error: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A logged delivery waiting to be processed.
#[derive(Debug, Clone)]
pub struct PendingInbound {
    pub id: i64,
    pub channel_id: String,
    pub received_at: i64,
    pub body: Vec<u8>,
}

/// What processing one delivery did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    /// Messages, receipts and channel events stored.
    pub stored: usize,
    /// Already stored (a provider retry or a replay).
    pub duplicates: usize,
    /// Receipts for messages we do not know (sent from elsewhere before they were echoed).
    pub unmatched: usize,
    /// Dropped: the person was erased.
    pub suppressed: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub customer: Option<ProfileId>,
    pub channel_id: Option<String>,
    /// With `channel_id`: the conversations with one contact.
    pub thread: Option<String>,
    pub status: Option<ConversationStatus>,
    /// Conversations with an id below this (the page cursor).
    pub before: Option<i64>,
    pub limit: usize,
    pub channel_kind: Option<ChannelKind>,
    /// `unassigned`, `bot`, `queue` or `agent`, with `owner_id` for one queue or agent.
    pub owner_kind: Option<String>,
    pub owner_id: Option<String>,
    pub language: Option<String>,
    pub team: Option<String>,
    /// Leave resolved conversations out.
    pub unresolved: bool,
    /// Only what this agent may see (see [`AgentView`]); `None` for supervisors and the API.
    pub visible_to: Option<AgentView>,
}

/// What an agent sees: their own conversations, their teams' (queued, worked by a teammate, or
/// passed through the team), and the shared pool (the bot's and nobody's that no team took).
/// [`AgentView::sees`] is the same rule for one conversation; the store's filter is its twin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentView {
    pub user_id: i64,
    pub email: String,
    /// The names of the agent's teams (also their queues' names).
    pub teams: Vec<String>,
    /// The e-mails of the people in those teams.
    pub teammates: Vec<String>,
}

impl AgentView {
    pub fn sees(&self, c: &ConversationView) -> bool {
        let in_team = |t: &str| self.teams.iter().any(|x| x == t);
        match &c.owner {
            Owner::Agent(a) if *a == self.email || self.teammates.contains(a) => true,
            Owner::Queue(q) if in_team(q) => true,
            _ if c.team.as_deref().is_some_and(in_team) => true,
            Owner::Unassigned | Owner::Bot => c.team.is_none(),
            _ => false,
        }
    }
}

/// A message written by an agent or the bot (or a private note).
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub content: Content,
    pub private: bool,
    pub author: Author,
    pub author_name: Option<String>,
    /// The agent id that takes the conversation over (from the bot, a queue or nobody; never
    /// from another agent), if this author does.
    pub take_over: Option<String>,
    /// What the outbox sends (the provider plug-in's outgoing form, as JSON); `None` for notes.
    pub outgoing: Option<serde_json::Value>,
    /// The file this message carries, kept in the same transaction.
    pub attachment: Option<NewAttachment>,
}

/// A file an agent sends, already checked (`concierge_channels::media::check_upload`).
#[derive(Clone)]
pub struct NewAttachment {
    /// 32 hex characters of randomness: the key of its public address, so unguessable.
    pub id: String,
    pub filename: String,
    pub mime_type: String,
    pub sha256: String,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for NewAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAttachment")
            .field("id", &self.id)
            .field("filename", &self.filename)
            .field("mime_type", &self.mime_type)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// A kept file, with its bytes.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub id: String,
    pub conversation_id: i64,
    pub message_id: i64,
    pub filename: String,
    pub mime_type: String,
    pub sha256: String,
    pub data: Vec<u8>,
    pub created_at: Timestamp,
    /// Kept with a private note: for the team only, never served publicly.
    pub private: bool,
}

/// What came of a change an agent asked for ([`Store::change_conversation_as`]).
#[derive(Debug, Clone)]
pub enum AgentChange {
    Done(Box<ConversationView>),
    NotFound,
    /// Another agent (this one) has the conversation; nothing was changed.
    Colleague(String),
}

/// A change of a conversation's owner or status.
#[derive(Debug, Clone)]
pub enum ConversationChange {
    Assign(Owner),
    /// Into this team's queue, only if nobody (no person, queue or bot) has it yet: routing by
    /// skills never takes a conversation someone just took.
    Place(String),
    Resolve,
    Reopen,
    Pending,
    Snooze(Option<i64>),
}

/// An outbox entry claimed for sending.
#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub id: i64,
    pub message_id: i64,
    pub attempts: u32,
    pub channel: ChannelRecord,
    pub thread: String,
    pub payload: serde_json::Value,
    pub last_incoming_at: Option<i64>,
    /// Where to write for channels addressed by address (email).
    pub contact_address: Option<String>,
    pub subject: Option<String>,
    /// The provider id of the customer's latest message (an email's Message-ID, for threading).
    pub reply_to: Option<String>,
}

#[derive(Debug, Clone)]
pub enum OutboxOutcome {
    Sent {
        provider_id: String,
    },
    /// Try again at `at` (ms).
    Retry {
        error: String,
        at: i64,
    },
    Failed {
        error: ProviderError,
    },
}

/// An integrator's webhook subscription.
#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    pub id: i64,
    pub url: String,
    /// Event types delivered (`message.created`, `conversation.status_changed`,
    /// `conversation.assigned`, `customer.merged`); empty means all.
    pub events: Vec<String>,
    #[serde(skip)]
    pub secret: String,
    pub created_at: concierge_types::view::Timestamp,
    /// The last event delivered.
    pub cursor: i64,
    pub delivered: u64,
    /// Failed attempts in a row, and the last failure.
    pub failures: u32,
    pub last_error: Option<String>,
    #[serde(skip)]
    pub next_attempt_at: i64,
}

/// Something integrators may subscribe to, recorded in the transaction that made it happen.
#[derive(Debug, Clone)]
pub struct IntegrationEvent {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    pub created_at: i64,
}

/// Where a subscription's deliveries got to.
#[derive(Debug, Clone)]
pub struct Progress {
    pub cursor: i64,
    pub delivered: u64,
    /// The failure that stopped this round, and when to try again.
    pub failure: Option<(String, i64)>,
}

/// A customer message waiting for the bot (and the message rules), with what the bot needs to
/// decide.
#[derive(Debug, Clone)]
pub struct BotWork {
    pub message_id: i64,
    pub content: Content,
    pub conversation: ConversationView,
    /// The bot's memory of the conversation (the engine's JSON), if it spoke before.
    pub state: Option<String>,
    /// Bumped by every bot action; the action commits only if nobody moved it meanwhile.
    pub version: i64,
    /// The bot owns the conversation, or nobody does and no person has touched it.
    pub bot_may_act: bool,
    /// When the message reached us (ms; the webhook's arrival, not the provider's clock).
    pub received_at: i64,
}

/// A stored bot definition.
#[derive(Debug, Clone)]
pub struct BotDefinition {
    pub version: i64,
    pub body: String,
    pub created_at: i64,
}

/// What the bot or a rule does to a conversation, applied in order in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum BotEffect {
    /// A message to the customer (author `bot`), queued in the outbox.
    Reply {
        content: Content,
        outgoing: serde_json::Value,
    },
    /// A private note (author `bot`, or `system` for reminders).
    Note {
        text: String,
        author: Author,
    },
    Label(String),
    Assign(Owner),
    /// The conversation goes to a person's queue: owner becomes the queue and the reason is kept.
    Handoff {
        reason: String,
        queue: String,
    },
    Resolve,
}

/// One bot (or rules) action on a conversation.
#[derive(Debug, Clone)]
pub struct BotAct {
    pub conversation: i64,
    /// The customer message this answers (each is handled once), or `None` for a timer.
    pub message_id: Option<i64>,
    /// `Some(version)`: the bot speaks, so the conversation must still be the bot's at that
    /// version, else nothing is written. `None`: rules only, which apply whoever owns it.
    pub speaks_at: Option<i64>,
    /// For a timer rule: `(rule, anchor, silence)`, written once and only while the
    /// conversation is still in that silence; a second firing for the same silence is a no-op.
    pub firing: Option<(String, i64, Silence)>,
    pub effects: Vec<BotEffect>,
    pub turn: Option<BotTurn>,
    /// The bot's new memory of the conversation.
    pub state: Option<String>,
    pub language: Option<String>,
}

/// For the bot indicators: what the bot made of one message.
#[derive(Debug, Clone, Default)]
pub struct BotTurn {
    pub language: String,
    pub intent: Option<String>,
    pub confidence: f32,
    pub outcome: String,
    pub reason: Option<String>,
    pub rules: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotApplied {
    Done,
    /// The message was handled before (a restart between writing and moving the cursor).
    AlreadyHandled,
    /// A person took over (or the bot's view was stale): the bot's words were not written.
    Silenced,
    /// The timer already fired for this silence, or the conversation is gone.
    Skipped,
}

/// Which silence a timer rule waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    /// The brand wrote last (`open`/`pending`) and the customer is not waiting for a person;
    /// anchored at the customer's last message.
    Customer,
    /// A person (queue or agent) owns it and no person has answered the customer's last message
    /// yet; anchored at that message.
    Agent,
}

/// One row of the bot indicators' source: a handled message.
#[derive(Debug, Clone)]
pub struct BotTurnRow {
    pub conversation: i64,
    pub channel: String,
    pub language: String,
    pub intent: Option<String>,
    pub outcome: String,
    pub reason: Option<String>,
    /// A person replied or took the conversation at some point.
    pub human: bool,
    /// The conversation is resolved now.
    pub resolved: bool,
}

/// A user to create; the password is hashed by the caller.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    pub language: String,
    pub password_hash: String,
}

/// A signed-in session, found by the hash of its cookie token.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub user: UserView,
    /// The token forms and scripts send back (`csrf` field or `X-CSRF-Token`).
    pub csrf: String,
    pub expires_at: i64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Resolves and stores `events`. Returns only once they are durably committed.
    async fn ingest(&self, events: Vec<NewEvent>) -> Result<IngestReport, StoreError>;
    /// The 360° view of the customer that profile `id` belongs to.
    async fn customer(&self, id: ProfileId) -> Result<Option<CustomerView>, StoreError>;
    /// The customer holding `identifier`, as its root profile id.
    async fn find_customer(&self, identifier: &Identifier)
        -> Result<Option<ProfileId>, StoreError>;
    async fn timeline(
        &self,
        id: ProfileId,
        before: Option<Cursor>,
        limit: usize,
    ) -> Result<Option<TimelinePage>, StoreError>;
    async fn record_consent(
        &self,
        id: ProfileId,
        consent: NewConsent,
    ) -> Result<ConsentRecord, StoreError>;
    async fn consents(&self, id: ProfileId) -> Result<Option<ConsentLedger>, StoreError>;
    async fn merge_log(&self, id: MergeId) -> Result<Option<MergeView>, StoreError>;
    /// Splits a merge: the absorbed profiles get their own cluster back, with their events.
    async fn undo_merge(&self, id: MergeId) -> Result<MergeView, StoreError>;
    async fn export(&self, id: ProfileId) -> Result<Option<ExportDocument>, StoreError>;
    /// Erases the person: data gone from every table and from free pages, identifiers suppressed.
    async fn erase(&self, id: ProfileId) -> Result<Option<ErasureReceipt>, StoreError>;
    /// The erasure log, newest first.
    async fn erasures(
        &self,
        limit: usize,
    ) -> Result<Vec<concierge_types::view::ErasureRecord>, StoreError>;
    /// Creates an API key; returns it with its secret, which is stored only as a hash.
    async fn create_key(&self, name: &str, scope: KeyScope)
        -> Result<(ApiKey, String), StoreError>;
    async fn authenticate(&self, secret: &str) -> Result<Option<ApiKey>, StoreError>;
    /// Every key, revoked ones included (never their secrets).
    async fn list_keys(&self) -> Result<Vec<KeyInfo>, StoreError>;
    /// Revokes a key; `false` when no active key has this id.
    async fn revoke_key(&self, id: KeyId) -> Result<bool, StoreError>;
    async fn stats(&self) -> Result<StoreStats, StoreError>;

    // ---- channels and conversations ----

    async fn create_channel(&self, channel: NewChannel) -> Result<ChannelRecord, StoreError>;
    async fn channels(&self) -> Result<Vec<ChannelRecord>, StoreError>;
    /// Appends a webhook delivery to the raw inbound log; returns once it is durable.
    async fn log_inbound(&self, entry: NewInbound) -> Result<i64, StoreError>;
    /// Deliveries logged as verified and not yet processed, oldest first, with ids above `after`.
    async fn pending_inbound(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<PendingInbound>, StoreError>;
    /// Stores what each delivery held (`Err` = it could not be parsed) and marks them processed,
    /// all in one transaction.
    async fn apply_inbound(
        &self,
        deliveries: Vec<(i64, ChannelRecord, Result<Parsed, String>)>,
    ) -> Result<Vec<ApplyReport>, StoreError>;
    /// The inbound log, newest first.
    async fn inbound_log(
        &self,
        channel_id: Option<String>,
        state: Option<InboundState>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<InboundEntry>, StoreError>;
    async fn inbound_entry(&self, id: i64) -> Result<Option<InboundEntry>, StoreError>;
    /// Puts a delivery back in the queue; `false` if there is none or it was rejected.
    async fn replay_inbound(&self, id: i64) -> Result<bool, StoreError>;
    async fn conversations(
        &self,
        filter: ConversationFilter,
    ) -> Result<Vec<ConversationView>, StoreError>;
    async fn conversation(&self, id: i64) -> Result<Option<ConversationView>, StoreError>;
    /// Messages of a conversation, oldest first, with ids above `after`.
    async fn messages(
        &self,
        conversation: i64,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Option<Vec<MessageView>>, StoreError>;
    /// Adds a message (queued in the outbox in the same transaction) or a private note.
    async fn add_message(
        &self,
        conversation: i64,
        message: NewMessage,
    ) -> Result<Option<MessageView>, StoreError>;
    async fn change_conversation(
        &self,
        conversation: i64,
        change: ConversationChange,
    ) -> Result<Option<ConversationView>, StoreError>;
    /// `change` asked for by an agent: in the same write, not found when they may not see the
    /// conversation, refused when another agent has it (taking, moving, resolving a colleague's
    /// is a supervisor's call).
    async fn change_conversation_as(
        &self,
        conversation: i64,
        agent: AgentView,
        change: ConversationChange,
    ) -> Result<AgentChange, StoreError>;
    /// A small named value kept across restarts (e.g. a mailbox poller's last UID).
    async fn cursor(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn set_cursor(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Subscribes `url` to integration events from now on.
    async fn create_subscription(
        &self,
        url: String,
        events: Vec<String>,
        secret: String,
    ) -> Result<Subscription, StoreError>;
    async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError>;
    async fn delete_subscription(&self, id: i64) -> Result<bool, StoreError>;
    /// Integration events after `after`, oldest first.
    async fn integration_events(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<IntegrationEvent>, StoreError>;
    async fn subscription_progress(&self, id: i64, progress: Progress) -> Result<(), StoreError>;
    /// Reopens snoozed conversations whose time has come; returns how many.
    async fn wake_snoozed(&self, now: i64) -> Result<usize, StoreError>;
    /// Marks sends cut short by a crash as failed (call once when the sender starts).
    async fn recover_outbox(&self) -> Result<usize, StoreError>;
    /// Claims up to `limit` outbox entries due at `now` (they become `sending`).
    async fn claim_outbox(&self, now: i64, limit: usize) -> Result<Vec<OutboxItem>, StoreError>;
    async fn finish_outbox(&self, id: i64, outcome: OutboxOutcome) -> Result<(), StoreError>;

    // ---- people ----
    async fn create_user(&self, user: NewUser) -> Result<UserView, StoreError>;
    async fn users(&self) -> Result<Vec<UserView>, StoreError>;
    /// A user with their password hash, by e-mail (any case); disabled users are not found.
    async fn user_credentials(&self, email: &str)
        -> Result<Option<(UserView, String)>, StoreError>;
    async fn create_session(
        &self,
        user: i64,
        token_hash: String,
        csrf: String,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// The session with this token hash, unless it has expired at `now` (ms).
    async fn session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError>;
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
    /// Records a failed sign-in under `key` (an e-mail or an address) and returns how many
    /// failures that key has since `since` (ms).
    async fn login_failure(&self, key: &str, now: i64, since: i64) -> Result<u32, StoreError>;
    async fn login_failures(&self, key: &str, since: i64) -> Result<u32, StoreError>;
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError>;
    /// Creates a team, or updates its skills if one has this name.
    async fn save_team(
        &self,
        name: String,
        languages: Vec<String>,
        channels: Vec<String>,
        topics: Vec<String>,
    ) -> Result<TeamView, StoreError>;
    async fn teams(&self) -> Result<Vec<TeamView>, StoreError>;
    /// Puts a user in a team with a capacity, or takes them out (`None`).
    async fn set_team_member(
        &self,
        team: i64,
        user: i64,
        capacity: Option<u32>,
    ) -> Result<bool, StoreError>;
    /// Gives conversations waiting in a team's queue to its people, round-robin among those
    /// below their capacity; returns `(conversation, agent e-mail)` for each assignment.
    async fn route_queued(&self, limit: usize) -> Result<Vec<(i64, String)>, StoreError>;

    // ---- bot and automation ----
    /// Keeps a new bot definition (JSON); returns its version. The newest is the active one.
    async fn save_bot_definition(&self, body: String) -> Result<i64, StoreError>;
    /// The active bot definition.
    async fn bot_definition(&self) -> Result<Option<BotDefinition>, StoreError>;
    /// The newest message's id (where a bot starting fresh begins).
    async fn last_message_id(&self) -> Result<i64, StoreError>;
    /// Customer messages with ids above `after`, oldest first.
    async fn bot_work(&self, after: i64, limit: usize) -> Result<Vec<BotWork>, StoreError>;
    async fn bot_apply(&self, act: BotAct) -> Result<BotApplied, StoreError>;
    /// Records traits on a customer directly (values the customer gave the bot).
    async fn set_traits(
        &self,
        id: ProfileId,
        traits: Vec<(String, serde_json::Value)>,
        source: String,
    ) -> Result<(), StoreError>;
    /// The customer's newest events with one of these names (e.g. the order events).
    async fn events_named(
        &self,
        id: ProfileId,
        names: Vec<String>,
        limit: usize,
    ) -> Result<Vec<TimelineEvent>, StoreError>;
    /// Conversations silent since before `before` (ms) for which `rule` has not fired for this
    /// silence yet, with the anchor of the silence.
    async fn silent_conversations(
        &self,
        silence: Silence,
        rule: String,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(ConversationView, i64)>, StoreError>;
    /// Bot turns handled in `[since, until)` (ms).
    async fn bot_turns(&self, since: i64, until: i64) -> Result<Vec<BotTurnRow>, StoreError>;

    // The desk.
    /// Conversations created since `since` (ms) or not resolved, with their public turns.
    async fn desk_conversations(&self, since: i64) -> Result<Vec<DeskConversation>, StoreError>;
    /// The public turns of these conversations, in the same order.
    async fn conversation_turns(
        &self,
        conversations: Vec<i64>,
    ) -> Result<Vec<Vec<(i64, Author)>>, StoreError>;
    /// Records that `user` has read `conversation` up to `message`.
    async fn mark_read(&self, user: i64, conversation: i64, message: i64)
        -> Result<(), StoreError>;
    /// Unread incoming messages per conversation for `user` (only those with some).
    async fn unread(
        &self,
        user: i64,
        conversations: Vec<i64>,
    ) -> Result<Vec<(i64, u32)>, StoreError>;
    /// `(newest message id, latest conversation change)`: moves on any message or change.
    async fn desk_mark(&self) -> Result<(i64, i64), StoreError>;
    /// Open conversations created since `since` (ms), with an id above `after`, with no owner,
    /// queue or bot yet, oldest first.
    async fn unrouted(
        &self,
        after: i64,
        since: i64,
        limit: usize,
    ) -> Result<Vec<ConversationView>, StoreError>;
    /// A kept file by its id (see [`NewAttachment::id`]).
    async fn attachment(&self, id: String) -> Result<Option<Attachment>, StoreError>;
    async fn canned_responses(&self) -> Result<Vec<CannedResponse>, StoreError>;
    async fn save_canned_response(
        &self,
        shortcut: String,
        language: String,
        text: String,
    ) -> Result<CannedResponse, StoreError>;
    async fn delete_canned_response(&self, id: i64) -> Result<bool, StoreError>;
    /// Writes a conversation that happened elsewhere (another help desk, the demo), with its
    /// own times; nothing is sent. Returns its id.
    async fn import_conversation(&self, c: ImportedConversation) -> Result<i64, StoreError>;
}

/// A whole conversation from elsewhere, oldest message first.
#[derive(Debug, Clone)]
pub struct ImportedConversation {
    pub channel_id: String,
    pub thread: String,
    pub customer: ProfileId,
    pub contact_name: Option<String>,
    pub status: ConversationStatus,
    pub owner: Owner,
    pub language: Option<String>,
    pub team: Option<String>,
    pub handoff_reason: Option<String>,
    pub handed_at: Option<i64>,
    pub resolved_at: Option<i64>,
    pub messages: Vec<ImportedMessage>,
}

#[derive(Debug, Clone)]
pub struct ImportedMessage {
    pub author: Author,
    pub author_name: Option<String>,
    pub private: bool,
    pub content: Content,
    pub at: i64,
    pub status: Option<concierge_types::conversation::DeliveryStatus>,
}

/// A conversation with its public turns (time, author), oldest first.
#[derive(Debug, Clone)]
pub struct DeskConversation {
    pub conversation: ConversationView,
    pub turns: Vec<(i64, Author)>,
}
