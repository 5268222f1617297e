//! Channels, the raw inbound log, conversations, messages and the outbox on SQLite.
//!
//! Writes are methods of the [`Writer`] (they run inside its group transaction, so a webhook's
//! messages, their timeline events and the identity changes they cause commit together); reads are
//! plain functions over a read connection.

use super::now_ms;
use super::writer::{random_hex, Writer};
use crate::inbound::{contact_event, message_event, message_key};
use crate::{
    AgentChange, AgentView, ApplyReport, ChannelRecord, ConversationChange, ConversationFilter,
    IntegrationEvent, NewChannel, NewInbound, NewMessage, OutboxItem, OutboxOutcome,
    PendingInbound, Progress, StoreError, Subscription,
};
use concierge_types::conversation::{
    Author, ChannelKind, ContactEvent, Content, ConversationStatus, ConversationView,
    DeliveryStatus, Direction, Inbound, InboundEntry, InboundMessage, InboundState, MessageView,
    Owner, Parsed, ProviderError, StatusUpdate,
};
use concierge_types::view::Timestamp;
use concierge_types::ProfileId;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::collections::HashMap;

/// Error code on messages whose send was cut short by a crash or restart.
pub const INTERRUPTED: &str = "interrupted";

pub(super) fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Backend(format!("json: {e}"))
}

// ---- writes ----

impl Writer {
    pub(super) fn create_channel(&mut self, ch: NewChannel) -> Result<ChannelRecord, StoreError> {
        let id = format!("ch_{}", random_hex(8)?);
        let now = now_ms();
        let config = serde_json::to_string(&ch.config).map_err(json_err)?;
        self.conn.execute(
            "INSERT INTO channels (id, kind, name, config, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, ch.kind.as_str(), ch.name, config, now],
        )?;
        Ok(ChannelRecord {
            id,
            kind: ch.kind,
            name: ch.name,
            config: ch.config,
            created_at: now,
        })
    }

    pub(super) fn log_inbound(&mut self, e: NewInbound) -> Result<i64, StoreError> {
        let headers = serde_json::to_string(&e.headers).map_err(json_err)?;
        let (state, error) = (e.state, e.error.as_deref());
        self.conn
            .prepare_cached(
                "INSERT INTO inbound (channel_id, received_at, state, error, headers, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![e.channel_id, now_ms(), state.as_str(), error, headers, e.body])?;
        Ok(self.conn.last_insert_rowid())
    }

    pub(super) fn replay_inbound(&mut self, id: i64) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE inbound SET state = 'verified', error = NULL WHERE id = ?1 AND state <> 'rejected'",
            [id],
        )?;
        Ok(n == 1)
    }

    pub(super) fn apply_inbound(
        &mut self,
        id: i64,
        ch: &ChannelRecord,
        parsed: Result<Parsed, String>,
    ) -> Result<ApplyReport, StoreError> {
        let now = now_ms();
        let received_at: Option<i64> = self
            .conn
            .prepare_cached("SELECT received_at FROM inbound WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let Some(received_at) = received_at else {
            return Ok(ApplyReport::default());
        };
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) => {
                self.conn.execute(
                    "UPDATE inbound SET state = 'failed', error = ?1, processed_at = ?2, attempts = attempts + 1 WHERE id = ?3",
                    params![e, now, id],
                )?;
                return Ok(ApplyReport::default());
            }
        };
        let mut report = ApplyReport::default();
        let mut profile = None;
        let mut touched = Vec::new();
        for item in parsed.items {
            let p = match item {
                Inbound::Message(m) => self.apply_message(id, ch, m, received_at, &mut report)?,
                Inbound::Status(s) => self.apply_status(ch, &s, &mut report)?,
                Inbound::Event(e) => self.apply_contact_event(ch, &e, received_at, &mut report)?,
            };
            profile = profile.or(p);
            touched.extend(p);
        }
        // Every person a delivery concerns, so erasing any of them takes the raw body along.
        touched.sort_unstable();
        touched.dedup();
        for p in touched {
            self.conn
                .prepare_cached(
                    "INSERT INTO inbound_profiles (inbound_id, profile_id) VALUES (?1, ?2)",
                )?
                .execute([id, p])?;
        }
        let skipped = if parsed.skipped.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&parsed.skipped).map_err(json_err)?)
        };
        self.conn
            .prepare_cached(
                "UPDATE inbound SET state = 'stored', error = NULL, items = ?1, skipped = ?2, processed_at = ?3,
                   attempts = attempts + 1, profile_id = COALESCE(?4, profile_id) WHERE id = ?5",
            )?
            .execute(params![report.stored as i64, skipped, now, profile, id])?;
        Ok(report)
    }

    /// Stores one message; returns the profile it was filed under.
    fn apply_message(
        &mut self,
        inbound_id: i64,
        ch: &ChannelRecord,
        m: InboundMessage,
        received_at: i64,
        report: &mut ApplyReport,
    ) -> Result<Option<i64>, StoreError> {
        let ev = message_event(ch, &m, received_at);
        if self.suppresses(&ev) {
            report.suppressed += 1;
            return Ok(None);
        }
        let Some((profile, event_id)) = self.store_event(ev)? else {
            report.duplicates += 1;
            return Ok(None);
        };
        let content = serde_json::to_string(&m.content).map_err(json_err)?;
        let preview = clip(&m.content.preview(), 200);
        if m.edited {
            if let Some(original) = &m.reply_to {
                let n = self
                    .conn
                    .prepare_cached(
                        "UPDATE messages SET content = ?1, edited = 1, updated_at = ?2
                         WHERE channel_id = ?3 AND provider_id = ?4 AND (edited = 0 OR updated_at <= ?2)",
                    )?
                    .execute(params![content, m.ts, ch.id, original])?;
                if n > 0 {
                    report.stored += 1;
                    return Ok(Some(profile));
                }
            }
        }
        let conversation = self.open_conversation(ch, &m.thread, profile, &m)?;
        let (author, status) = match m.direction {
            Direction::Incoming => (Author::Customer, DeliveryStatus::Received),
            Direction::Outgoing => (Author::Brand, DeliveryStatus::Sent),
        };
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT INTO messages (conversation_id, channel_id, provider_id, direction, author, private, content, status,
                   reply_to, edited, created_at, updated_at, inbound_id, event_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12)
                 ON CONFLICT (channel_id, provider_id) DO NOTHING",
            )?
            .execute(params![
                conversation,
                ch.id,
                m.provider_id,
                m.direction.as_str(),
                author.as_str(),
                content,
                status.as_str(),
                m.reply_to,
                m.edited,
                m.ts,
                inbound_id,
                event_id
            ])?;
        if inserted == 0 {
            report.duplicates += 1;
            return Ok(Some(profile));
        }
        let message_id = self.conn.last_insert_rowid();
        self.emit(
            "message.created",
            Some(profile),
            serde_json::json!({
                "message_id": message_id,
                "conversation_id": conversation,
                "channel_id": ch.id,
                "channel": ch.kind,
                "direction": m.direction,
                "author": author,
                "content": m.content,
            }),
        )?;
        let incoming = m.direction == Direction::Incoming;
        // Email replies go to the address the customer wrote from.
        let address = (ch.kind == ChannelKind::Email)
            .then(|| {
                m.contact
                    .identifiers
                    .iter()
                    .find(|i| i.kind == concierge_types::IdentifierKind::Email)
                    .map(|i| i.value.clone())
            })
            .flatten();
        // The customer writing again wakes a snoozed or pending conversation.
        self.conn
            .prepare_cached(
                "UPDATE conversations SET messages = messages + 1, updated_at = ?1, last_preview = ?2,
                   last_message_at = MAX(COALESCE(last_message_at, 0), ?3),
                   last_incoming_at = CASE WHEN ?4 THEN MAX(COALESCE(last_incoming_at, 0), ?3) ELSE last_incoming_at END,
                   status = CASE WHEN ?4 AND status IN ('snoozed', 'pending') THEN 'open' ELSE status END,
                   snoozed_until = CASE WHEN ?4 THEN NULL ELSE snoozed_until END,
                   contact_name = COALESCE(?5, contact_name),
                   contact_address = COALESCE(?7, contact_address), subject = COALESCE(subject, ?8)
                 WHERE id = ?6",
            )?
            .execute(params![
                now_ms(),
                preview,
                m.ts,
                incoming,
                m.contact.name,
                conversation,
                address,
                m.subject
            ])?;
        if !incoming {
            // Someone answered from the brand's own phone or app: a person, so the bot stops
            // as it does for a reply written here.
            self.conn
                .prepare_cached(
                    "UPDATE conversations SET human_at = COALESCE(human_at, ?1), handed_at = COALESCE(handed_at, ?1),
                       bot_version = bot_version + 1,
                       owner_kind = CASE WHEN owner_kind = 'bot' THEN 'unassigned' ELSE owner_kind END
                     WHERE id = ?2",
                )?
                .execute(params![now_ms(), conversation])?;
        }
        report.stored += 1;
        Ok(Some(profile))
    }

    /// The conversation a message of `thread` belongs to: the latest one unless it was resolved,
    /// in which case a new one starts.
    fn open_conversation(
        &mut self,
        ch: &ChannelRecord,
        thread: &str,
        profile: i64,
        m: &InboundMessage,
    ) -> Result<i64, StoreError> {
        let latest: Option<(i64, String)> = self
            .conn
            .prepare_cached(
                "SELECT id, status FROM conversations WHERE channel_id = ?1 AND thread = ?2 ORDER BY id DESC LIMIT 1",
            )?
            .query_row(params![ch.id, thread], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((id, status)) = latest {
            if status != ConversationStatus::Resolved.as_str() {
                return Ok(id);
            }
        }
        let now = now_ms();
        let status = match m.direction {
            Direction::Incoming => ConversationStatus::Open,
            Direction::Outgoing => ConversationStatus::Pending,
        };
        self.conn
            .prepare_cached(
                "INSERT INTO conversations (channel_id, thread, profile_id, contact_name, status, owner_kind, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'unassigned', ?6, ?6)",
            )?
            .execute(params![
                ch.id,
                thread,
                profile,
                m.contact.name,
                status.as_str(),
                now
            ])?;
        Ok(self.conn.last_insert_rowid())
    }

    fn apply_status(
        &mut self,
        ch: &ChannelRecord,
        s: &StatusUpdate,
        report: &mut ApplyReport,
    ) -> Result<Option<i64>, StoreError> {
        let error = match &s.error {
            Some(e) => Some(serde_json::to_string(e).map_err(json_err)?),
            None => None,
        };
        let mut profile = None;
        for pid in &s.provider_ids {
            let found: Option<(i64, Option<String>, i64)> = self
                .conn
                .prepare_cached(
                    "SELECT m.id, m.status, c.profile_id FROM messages m JOIN conversations c ON c.id = m.conversation_id
                     WHERE m.channel_id = ?1 AND m.provider_id = ?2",
                )?
                .query_row(params![ch.id, pid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((id, current, owner)) = found else {
                // Sent by us but not yet marked sent, or sent from elsewhere: keep it for later.
                self.conn
                    .prepare_cached(
                        "INSERT INTO early_receipts (channel_id, provider_id, status, error, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![ch.id, pid, s.status.as_str(), error, now_ms()])?;
                report.unmatched += 1;
                continue;
            };
            profile = Some(owner);
            if self.set_status(id, current.as_deref(), s.status, error.as_deref())? {
                report.stored += 1;
            } else {
                report.duplicates += 1;
            }
        }
        if let (Some(up_to), Some(thread)) = (s.up_to, &s.thread) {
            let rows: Vec<(i64, Option<String>, i64)> = {
                // `direction || ''`: through the thread's conversations, not every outgoing message.
                let mut stmt = self.conn.prepare_cached(
                    "SELECT m.id, m.status, c.profile_id FROM messages m JOIN conversations c ON c.id = m.conversation_id
                     WHERE c.channel_id = ?1 AND c.thread = ?2 AND m.direction || '' = 'outgoing' AND m.private = 0
                       AND m.created_at <= ?3 AND m.status IN ('sent', 'delivered')",
                )?;
                let rows = stmt.query_map(params![ch.id, thread, up_to], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
                rows.collect::<Result<_, _>>()?
            };
            let mut moved = false;
            for (id, current, owner) in rows {
                profile = Some(owner);
                moved |= self.set_status(id, current.as_deref(), s.status, error.as_deref())?;
            }
            if moved {
                report.stored += 1;
            } else {
                report.duplicates += 1;
            }
        }
        Ok(profile)
    }

    /// Moves a message's delivery status forward; `false` when it would move back.
    fn set_status(
        &mut self,
        id: i64,
        current: Option<&str>,
        next: DeliveryStatus,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        let advances = current
            .and_then(DeliveryStatus::parse)
            .is_none_or(|c| c.advances_to(next));
        if !advances {
            return Ok(false);
        }
        self.conn
            .prepare_cached(
                "UPDATE messages SET status = ?1, error = COALESCE(?2, error), updated_at = ?3 WHERE id = ?4",
            )?
            .execute(params![next.as_str(), error, now_ms(), id])?;
        Ok(true)
    }

    fn apply_contact_event(
        &mut self,
        ch: &ChannelRecord,
        e: &ContactEvent,
        received_at: i64,
        report: &mut ApplyReport,
    ) -> Result<Option<i64>, StoreError> {
        let ev = contact_event(ch, e, received_at);
        if self.suppresses(&ev) {
            report.suppressed += 1;
            return Ok(None);
        }
        match self.store_event(ev)? {
            Some((profile, _)) => {
                report.stored += 1;
                Ok(Some(profile))
            }
            None => {
                report.duplicates += 1;
                Ok(None)
            }
        }
    }

    pub(super) fn add_message(
        &mut self,
        conversation: i64,
        m: NewMessage,
    ) -> Result<Option<MessageView>, StoreError> {
        let row: Option<(String, i64)> = self
            .conn
            .query_row(
                "SELECT channel_id, profile_id FROM conversations WHERE id = ?1",
                [conversation],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((channel, profile)) = row else {
            return Ok(None);
        };
        let now = now_ms();
        let content = serde_json::to_string(&m.content).map_err(json_err)?;
        let status = (!m.private).then_some(DeliveryStatus::Queued.as_str());
        self.conn.execute(
            "INSERT INTO messages (conversation_id, channel_id, direction, author, author_name, private, content, status, created_at, updated_at)
             VALUES (?1, ?2, 'outgoing', ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![conversation, channel, m.author.as_str(), m.author_name, m.private, content, status, now],
        )?;
        let id = self.conn.last_insert_rowid();
        if let Some(a) = &m.attachment {
            self.conn.execute(
                "INSERT INTO attachments (id, conversation_id, message_id, filename, mime_type, size, sha256, data, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![a.id, conversation, id, a.filename, a.mime_type, a.data.len() as i64, a.sha256, a.data, now],
            )?;
        }
        if !m.private {
            let payload = m.outgoing.unwrap_or(serde_json::Value::Null).to_string();
            self.conn.execute(
                "INSERT INTO outbox (message_id, channel_id, payload, state, next_attempt_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, 'pending', ?4, ?4, ?4)",
                params![id, channel, payload, now],
            )?;
            // A human writing to the customer takes the conversation over (from the bot or a
            // queue) and reopens it if it was resolved.
            let preview = clip(&m.content.preview(), 200);
            self.conn.execute(
                "UPDATE conversations SET messages = messages + 1, updated_at = ?1, last_message_at = ?1, last_preview = ?2,
                   status = CASE WHEN status = 'resolved' THEN 'open' ELSE status END, resolved_at = NULL
                 WHERE id = ?3",
                params![now, preview, conversation],
            )?;
        } else {
            self.conn.execute(
                "UPDATE conversations SET updated_at = ?1 WHERE id = ?2",
                params![now, conversation],
            )?;
        }
        if m.author == Author::Agent && !m.private {
            // A person wrote to the customer: the bot stops for good (until handed back), in
            // this transaction, so nothing the bot decided earlier can still be written after.
            self.conn.execute(
                "UPDATE conversations SET human_at = COALESCE(human_at, ?1), handed_at = COALESCE(handed_at, ?1), bot_version = bot_version + 1,
                   owner_kind = CASE WHEN owner_kind = 'bot' THEN 'unassigned' ELSE owner_kind END,
                   owner_id = CASE WHEN owner_kind = 'bot' THEN NULL ELSE owner_id END
                 WHERE id = ?2",
                params![now, conversation],
            )?;
            if let Some(agent) = &m.take_over {
                // Takes over from the bot, a queue or nobody; never from another agent.
                self.conn.execute(
                    "UPDATE conversations SET owner_kind = 'agent', owner_id = ?1
                     WHERE id = ?2 AND owner_kind <> 'agent'",
                    params![agent, conversation],
                )?;
            }
        }
        let view = message_by_id(&self.conn, id)?;
        if let (Some(v), false) = (&view, m.private) {
            self.emit(
                "message.created",
                Some(profile),
                serde_json::json!({
                    "message_id": v.id,
                    "conversation_id": conversation,
                    "channel_id": channel,
                    "direction": v.direction,
                    "author": v.author,
                    "author_name": v.author_name,
                    "content": v.content,
                }),
            )?;
        }
        Ok(view)
    }

    /// Both checks and the change in one write. (A store with concurrent writers would need
    /// them in the UPDATE's own condition, or the row locked first.)
    pub(super) fn change_conversation_as(
        &mut self,
        conversation: i64,
        agent: &AgentView,
        change: ConversationChange,
    ) -> Result<AgentChange, StoreError> {
        let Some(c) = conversation_by_id(&self.conn, conversation)? else {
            return Ok(AgentChange::NotFound);
        };
        if !agent.sees(&c) {
            return Ok(AgentChange::NotFound);
        }
        if let Owner::Agent(other) = &c.owner {
            if *other != agent.email {
                return Ok(AgentChange::Colleague(other.clone()));
            }
        }
        Ok(match self.change_conversation(conversation, change)? {
            Some(view) => AgentChange::Done(Box::new(view)),
            None => AgentChange::NotFound,
        })
    }

    pub(super) fn change_conversation(
        &mut self,
        conversation: i64,
        change: ConversationChange,
    ) -> Result<Option<ConversationView>, StoreError> {
        let now = now_ms();
        let n = match &change {
            ConversationChange::Assign(owner) => {
                let (kind, id) = owner.to_parts();
                let n = self.conn.execute(
                    "UPDATE conversations SET owner_kind = ?1, owner_id = ?2, updated_at = ?3, bot_version = bot_version + 1,
                       status = CASE WHEN status = 'resolved' THEN 'open' ELSE status END, resolved_at = NULL WHERE id = ?4",
                    params![kind, id, now, conversation],
                )?;
                if let Owner::Queue(team) = owner {
                    self.conn.execute(
                        "UPDATE conversations SET queued_at = ?1, team = ?2 WHERE id = ?3",
                        params![now, team, conversation],
                    )?;
                }
                if *owner == Owner::Bot {
                    self.hand_back(conversation)?;
                } else {
                    // A person decided who owns it: the bot no longer claims it.
                    self.conn.execute(
                        "UPDATE conversations SET human_at = COALESCE(human_at, ?1), handed_at = COALESCE(handed_at, ?1) WHERE id = ?2",
                        params![now, conversation],
                    )?;
                }
                n
            }
            ConversationChange::Place(team) => self.conn.execute(
                "UPDATE conversations SET owner_kind = 'queue', owner_id = ?1, team = ?1, queued_at = ?2, updated_at = ?2,
                   handed_at = COALESCE(handed_at, ?2), bot_version = bot_version + 1
                 WHERE id = ?3 AND owner_kind = 'unassigned' AND handed_at IS NULL AND status = 'open'",
                params![team, now, conversation],
            )?,
            ConversationChange::Resolve => self.conn.execute(
                "UPDATE conversations SET status = 'resolved', snoozed_until = NULL, updated_at = ?1, bot_version = bot_version + 1,
                   resolved_at = CASE WHEN status = 'resolved' THEN resolved_at ELSE ?1 END WHERE id = ?2",
                params![now, conversation],
            )?,
            ConversationChange::Reopen => self.conn.execute(
                "UPDATE conversations SET status = 'open', snoozed_until = NULL, resolved_at = NULL, updated_at = ?1, bot_version = bot_version + 1 WHERE id = ?2",
                params![now, conversation],
            )?,
            ConversationChange::Pending => self.conn.execute(
                "UPDATE conversations SET status = 'pending', snoozed_until = NULL, resolved_at = NULL, updated_at = ?1, bot_version = bot_version + 1 WHERE id = ?2",
                params![now, conversation],
            )?,
            ConversationChange::Snooze(until) => self.conn.execute(
                "UPDATE conversations SET status = 'snoozed', snoozed_until = ?1, resolved_at = NULL, updated_at = ?2, bot_version = bot_version + 1 WHERE id = ?3",
                params![until, now, conversation],
            )?,
        };
        if n == 0 {
            return Ok(None);
        }
        let view = conversation_by_id(&self.conn, conversation)?;
        if let Some(v) = &view {
            let kind = match change {
                ConversationChange::Assign(_) | ConversationChange::Place(_) => {
                    "conversation.assigned"
                }
                _ => "conversation.status_changed",
            };
            let data = serde_json::to_value(v).map_err(json_err)?;
            self.emit(kind, Some(v.customer_id.0), data)?;
        }
        Ok(view)
    }

    pub(super) fn wake_snoozed(&mut self, now: i64) -> Result<usize, StoreError> {
        let woken: Vec<i64> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id FROM conversations WHERE status = 'snoozed' AND snoozed_until IS NOT NULL AND snoozed_until <= ?1",
            )?;
            let rows = stmt.query_map([now], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        for id in &woken {
            self.change_conversation(*id, ConversationChange::Reopen)?;
        }
        Ok(woken.len())
    }

    /// Marks sends cut short by a crash as failed, so they are neither lost silently nor sent
    /// twice: the provider may or may not have accepted them, and only an agent can tell.
    pub(super) fn recover_outbox(&mut self) -> Result<usize, StoreError> {
        let now = now_ms();
        let error = serde_json::to_string(&ProviderError {
            code: Some(INTERRUPTED.into()),
            title: Some("the send was interrupted by a restart; it may or may not have reached the customer".into()),
            detail: None,
        })
        .map_err(json_err)?;
        self.conn.execute(
            "UPDATE messages SET status = 'failed', error = ?1, updated_at = ?2
             WHERE id IN (SELECT message_id FROM outbox WHERE state = 'sending')",
            params![error, now],
        )?;
        Ok(self.conn.execute(
            "UPDATE outbox SET state = 'failed', last_error = 'interrupted', updated_at = ?1 WHERE state = 'sending'",
            [now],
        )?)
    }

    pub(super) fn claim_outbox(
        &mut self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        struct Due {
            id: i64,
            message_id: i64,
            attempts: u32,
            channel_id: String,
            payload: String,
            thread: String,
            last_incoming_at: Option<i64>,
            contact_address: Option<String>,
            subject: Option<String>,
            reply_to: Option<String>,
        }
        let rows: Vec<Due> = {
            // `direction || ''`: the conversation's index, not `messages_incoming` (see `desk::unread`).
            let mut stmt = self.conn.prepare_cached(
                "SELECT o.id, o.message_id, o.attempts, o.channel_id, o.payload, c.thread, c.last_incoming_at,
                   c.contact_address, c.subject,
                   (SELECT provider_id FROM messages i WHERE i.conversation_id = c.id AND i.direction || '' = 'incoming'
                      AND i.provider_id IS NOT NULL ORDER BY i.id DESC LIMIT 1)
                 FROM outbox o JOIN messages m ON m.id = o.message_id JOIN conversations c ON c.id = m.conversation_id
                 WHERE o.state = 'pending' AND o.next_attempt_at <= ?1
                   AND NOT EXISTS (
                     SELECT 1 FROM outbox p JOIN messages pm ON pm.id = p.message_id
                     WHERE pm.conversation_id = m.conversation_id AND p.id <> o.id
                       AND (p.state = 'sending' OR (p.state = 'pending' AND p.id < o.id)))
                 ORDER BY o.next_attempt_at, o.id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now, limit as i64], |r| {
                Ok(Due {
                    id: r.get(0)?,
                    message_id: r.get(1)?,
                    attempts: r.get(2)?,
                    channel_id: r.get(3)?,
                    payload: r.get(4)?,
                    thread: r.get(5)?,
                    last_incoming_at: r.get(6)?,
                    contact_address: r.get(7)?,
                    subject: r.get(8)?,
                    reply_to: r.get(9)?,
                })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let mut channels: HashMap<String, Option<ChannelRecord>> = HashMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for due in rows {
            let Due {
                id,
                message_id,
                attempts,
                channel_id,
                payload,
                thread,
                last_incoming_at,
                contact_address,
                subject,
                reply_to,
            } = due;
            self.conn
                .prepare_cached(
                    "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?1 WHERE id = ?2",
                )?
                .execute(params![now, id])?;
            if !channels.contains_key(&channel_id) {
                let ch = channel_by_id(&self.conn, &channel_id)?;
                channels.insert(channel_id.clone(), ch);
            }
            let Some(Some(channel)) = channels.get(&channel_id).cloned() else {
                self.finish_outbox(
                    id,
                    OutboxOutcome::Failed {
                        error: ProviderError {
                            code: Some("channel_gone".into()),
                            title: Some("the channel no longer exists".into()),
                            detail: None,
                        },
                    },
                )?;
                continue;
            };
            out.push(OutboxItem {
                id,
                message_id,
                attempts: attempts + 1,
                channel,
                thread,
                payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
                last_incoming_at,
                contact_address,
                subject,
                reply_to,
            });
        }
        Ok(out)
    }

    pub(super) fn finish_outbox(
        &mut self,
        id: i64,
        outcome: OutboxOutcome,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let row: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT message_id, channel_id FROM outbox WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((message_id, channel_id)) = row else {
            return Ok(());
        };
        match outcome {
            OutboxOutcome::Sent { provider_id } => {
                self.conn.execute(
                    "UPDATE outbox SET state = 'sent', last_error = NULL, updated_at = ?1 WHERE id = ?2",
                    params![now, id],
                )?;
                // Receipts nobody claimed within a day are for messages sent elsewhere.
                self.conn.execute(
                    "DELETE FROM early_receipts WHERE received_at < ?1",
                    [now - 86_400_000],
                )?;
                // The provider may have echoed our message before this outcome was recorded
                // (Messenger, Instagram): that copy is ours, and goes. Any other holder of the id
                // (an integrator reusing ids) keeps it; our message is sent without it.
                let holder: Option<(i64, String, i64)> = self
                    .conn
                    .query_row(
                        "SELECT id, author, conversation_id FROM messages WHERE channel_id = ?1 AND provider_id = ?2",
                        params![channel_id, provider_id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()?;
                let ours: Option<i64> = self
                    .conn
                    .query_row(
                        "SELECT conversation_id FROM messages WHERE id = ?1",
                        [message_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                let mut keep_id = true;
                if let Some((holder, author, conversation)) = holder {
                    if holder != message_id {
                        if author == Author::Brand.as_str() && Some(conversation) == ours {
                            self.conn
                                .execute("DELETE FROM messages WHERE id = ?1", [holder])?;
                            self.conn.execute(
                                "UPDATE conversations SET messages = messages - 1 WHERE id = ?1",
                                [conversation],
                            )?;
                        } else {
                            tracing::warn!(%provider_id, "the provider reused a message id; the reply is kept without it");
                            keep_id = false;
                        }
                    }
                }
                self.conn.execute(
                    "UPDATE messages SET provider_id = CASE WHEN ?4 THEN ?1 ELSE provider_id END, status = 'sent', updated_at = ?2
                     WHERE id = ?3 AND status IN ('queued', 'failed')",
                    params![provider_id, now, message_id, keep_id],
                )?;
                if !keep_id {
                    return Ok(());
                }
                self.sent_event(message_id, &channel_id, &provider_id)?;
                // Receipts that arrived before we knew the provider's id.
                let early: Vec<(String, Option<String>)> = {
                    let mut stmt = self.conn.prepare(
                        "SELECT status, error FROM early_receipts WHERE channel_id = ?1 AND provider_id = ?2 ORDER BY rowid",
                    )?;
                    let rows = stmt.query_map(params![channel_id, provider_id], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?;
                    rows.collect::<Result<_, _>>()?
                };
                for (status, error) in early {
                    if let Some(next) = DeliveryStatus::parse(&status) {
                        let current: Option<String> = self.conn.query_row(
                            "SELECT status FROM messages WHERE id = ?1",
                            [message_id],
                            |r| r.get(0),
                        )?;
                        self.set_status(message_id, current.as_deref(), next, error.as_deref())?;
                    }
                }
                self.conn.execute(
                    "DELETE FROM early_receipts WHERE channel_id = ?1 AND provider_id = ?2",
                    params![channel_id, provider_id],
                )?;
            }
            OutboxOutcome::Retry { error, at } => {
                self.conn.execute(
                    "UPDATE outbox SET state = 'pending', next_attempt_at = ?1, last_error = ?2, updated_at = ?3 WHERE id = ?4",
                    params![at, error, now, id],
                )?;
            }
            OutboxOutcome::Failed { error } => {
                let json = serde_json::to_string(&error).map_err(json_err)?;
                self.conn.execute(
                    "UPDATE outbox SET state = 'failed', last_error = ?1, updated_at = ?2 WHERE id = ?3",
                    params![json, now, id],
                )?;
                self.conn.execute(
                    "UPDATE messages SET status = 'failed', error = ?1, updated_at = ?2 WHERE id = ?3",
                    params![json, now, message_id],
                )?;
            }
        }
        Ok(())
    }

    /// The customer's timeline gets the sent message, under the provider's id so that the echo a
    /// provider may send back is recognised as the same message.
    fn sent_event(
        &mut self,
        message_id: i64,
        channel_id: &str,
        provider_id: &str,
    ) -> Result<(), StoreError> {
        let Some(m) = message_by_id(&self.conn, message_id)? else {
            return Ok(());
        };
        let row: Option<(i64, String, String)> = self
            .conn
            .query_row(
                "SELECT c.profile_id, c.thread, ch.kind FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = ?1",
                [m.conversation_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((profile, thread, kind)) = row else {
            return Ok(());
        };
        let now = now_ms();
        let body = serde_json::json!({
            "type": "track",
            "event": "Message Sent",
            "properties": {
                "channel_id": channel_id,
                "channel": kind,
                "direction": "outgoing",
                "provider_id": provider_id,
                "thread": thread,
                "content": m.content,
                "preview": m.content.preview(),
                "author": m.author,
                "author_name": m.author_name,
            },
        });
        self.conn.execute(
            "INSERT INTO events (profile_id, dedup_key, kind, name, channel, source, ts, received_at, consent, body)
             VALUES (?1, ?2, 'track', 'Message Sent', ?3, ?4, ?5, ?5, NULL, ?6) ON CONFLICT (dedup_key) DO NOTHING",
            params![
                profile,
                message_key(channel_id, provider_id),
                kind,
                format!("channel:{channel_id}"),
                now,
                body.to_string()
            ],
        )?;
        Ok(())
    }
}

fn clip(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

// ---- reads ----

fn channel_row(r: &Row) -> rusqlite::Result<Option<ChannelRecord>> {
    let kind: String = r.get(1)?;
    let config: String = r.get(3)?;
    Ok(ChannelKind::parse(&kind).map(|kind| ChannelRecord {
        id: r.get(0).unwrap_or_default(),
        kind,
        name: r.get(2).unwrap_or_default(),
        config: serde_json::from_str(&config).unwrap_or(serde_json::Value::Null),
        created_at: r.get(4).unwrap_or_default(),
    }))
}

pub(super) fn channels(conn: &Connection) -> Result<Vec<ChannelRecord>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, kind, name, config, created_at FROM channels WHERE disabled_at IS NULL ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([], channel_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.extend(r?);
    }
    Ok(out)
}

pub(super) fn channel_by_id(
    conn: &Connection,
    id: &str,
) -> Result<Option<ChannelRecord>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, kind, name, config, created_at FROM channels WHERE id = ?1 AND disabled_at IS NULL",
            [id],
            channel_row,
        )
        .optional()?
        .flatten())
}

pub(super) fn pending_inbound(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> Result<Vec<PendingInbound>, StoreError> {
    // Bodies are read up to a byte budget: a backlog of big mails must not fill the memory.
    const BUDGET: i64 = 32 << 20;
    let mut stmt = conn.prepare_cached(
        "SELECT id, channel_id, received_at, length(body), body FROM inbound WHERE state = 'verified' AND id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let mut rows = stmt.query(params![after, limit as i64])?;
    let (mut out, mut bytes) = (Vec::new(), 0i64);
    while let Some(r) = rows.next()? {
        let len: i64 = r.get(3)?;
        if !out.is_empty() && bytes + len > BUDGET {
            break;
        }
        bytes += len;
        out.push(PendingInbound {
            id: r.get(0)?,
            channel_id: r.get(1)?,
            received_at: r.get(2)?,
            body: r.get(4)?,
        });
    }
    Ok(out)
}

const INBOUND_COLUMNS: &str = "id, channel_id, received_at, state, error, items, skipped, processed_at, attempts, headers, length(body)";

fn inbound_row(r: &Row) -> rusqlite::Result<InboundEntry> {
    let state: String = r.get(3)?;
    let skipped: Option<String> = r.get(6)?;
    let headers: String = r.get(9)?;
    Ok(InboundEntry {
        id: r.get(0)?,
        channel_id: r.get(1)?,
        received_at: Timestamp(r.get(2)?),
        state: InboundState::parse(&state).unwrap_or(InboundState::Failed),
        error: r.get(4)?,
        items: r.get::<_, i64>(5)? as u64,
        skipped: skipped
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
        processed_at: r.get::<_, Option<i64>>(7)?.map(Timestamp),
        attempts: r.get::<_, i64>(8)? as u64,
        headers: serde_json::from_str(&headers).unwrap_or_default(),
        body: None,
        body_bytes: r.get::<_, i64>(10)? as u64,
    })
}

pub(super) fn inbound_log(
    conn: &Connection,
    channel_id: Option<&str>,
    state: Option<InboundState>,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<InboundEntry>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {INBOUND_COLUMNS} FROM inbound
         WHERE (?1 IS NULL OR channel_id = ?1) AND (?2 IS NULL OR state = ?2) AND (?3 IS NULL OR id < ?3)
         ORDER BY id DESC LIMIT ?4"
    ))?;
    let rows = stmt.query_map(
        params![channel_id, state.map(|s| s.as_str()), before, limit as i64],
        inbound_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn inbound_entry(
    conn: &Connection,
    id: i64,
) -> Result<Option<InboundEntry>, StoreError> {
    let entry = conn
        .query_row(
            &format!("SELECT {INBOUND_COLUMNS}, body FROM inbound WHERE id = ?1"),
            [id],
            |r| {
                let mut e = inbound_row(r)?;
                let body: Vec<u8> = r.get(11)?;
                e.body = Some(String::from_utf8_lossy(&body).into_owned());
                Ok(e)
            },
        )
        .optional()?;
    Ok(entry)
}

pub(super) const CONVERSATION_COLUMNS: &str = "c.id, p.canonical_id, c.channel_id, ch.kind, c.thread, c.contact_name, c.status, c.owner_kind, c.owner_id,
    c.created_at, c.updated_at, c.last_message_at, c.last_incoming_at, c.snoozed_until, c.last_preview, c.messages, c.subject,
    c.language, (SELECT group_concat(label, char(31)) FROM (SELECT label FROM conversation_labels l WHERE l.conversation_id = c.id ORDER BY label)), c.handoff_reason,
    c.team, c.handed_at, c.resolved_at";
pub(super) const CONVERSATION_FROM: &str = "conversations c JOIN profiles p ON p.id = c.profile_id JOIN channels ch ON ch.id = c.channel_id";

fn conversation_row(r: &Row) -> rusqlite::Result<ConversationView> {
    conversation_row_at(r, 0)
}

/// A conversation from [`CONVERSATION_COLUMNS`] starting at column `at`.
pub(super) fn conversation_row_at(r: &Row, at: usize) -> rusqlite::Result<ConversationView> {
    let kind: String = r.get(at + 3)?;
    let status: String = r.get(at + 6)?;
    let owner_kind: String = r.get(at + 7)?;
    Ok(ConversationView {
        id: r.get(at)?,
        customer_id: ProfileId(r.get(at + 1)?),
        channel_id: r.get(at + 2)?,
        channel_kind: ChannelKind::parse(&kind).unwrap_or(ChannelKind::Api),
        thread: r.get(at + 4)?,
        contact_name: r.get(at + 5)?,
        status: ConversationStatus::parse(&status).unwrap_or(ConversationStatus::Open),
        owner: Owner::from_parts(&owner_kind, r.get(at + 8)?),
        created_at: Timestamp(r.get(at + 9)?),
        updated_at: Timestamp(r.get(at + 10)?),
        last_message_at: r.get::<_, Option<i64>>(at + 11)?.map(Timestamp),
        last_incoming_at: r.get::<_, Option<i64>>(at + 12)?.map(Timestamp),
        snoozed_until: r.get::<_, Option<i64>>(at + 13)?.map(Timestamp),
        last_message_preview: r.get(at + 14)?,
        messages: r.get::<_, i64>(at + 15)? as u64,
        subject: r.get(at + 16)?,
        language: r.get(at + 17)?,
        labels: r
            .get::<_, Option<String>>(at + 18)?
            .map(|l| l.split('\u{1f}').map(str::to_string).collect())
            .unwrap_or_default(),
        handoff_reason: r.get(at + 19)?,
        team: r.get(at + 20)?,
        handed_at: r.get::<_, Option<i64>>(at + 21)?.map(Timestamp),
        resolved_at: r.get::<_, Option<i64>>(at + 22)?.map(Timestamp),
    })
}

pub(super) fn conversation_by_id(
    conn: &Connection,
    id: i64,
) -> Result<Option<ConversationView>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM} WHERE c.id = ?1"),
            [id],
            conversation_row,
        )
        .optional()?)
}

/// The names of user ?13's teams (twin of `AgentView::teams`).
const TEAMS_OF: &str =
    "SELECT t.name FROM teams t JOIN team_members m ON m.team_id = t.id WHERE m.user_id = ?13";

/// The e-mails of the people who share a team with user ?13 (twin of `AgentView::teammates`).
const TEAMMATES_OF: &str = "SELECT u.email FROM users u JOIN team_members m ON m.user_id = u.id
     WHERE u.disabled_at IS NULL AND m.team_id IN (SELECT team_id FROM team_members WHERE user_id = ?13)";

pub(super) fn conversations(
    conn: &Connection,
    f: &ConversationFilter,
) -> Result<Vec<ConversationView>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM}
         WHERE (?1 IS NULL OR p.canonical_id = (SELECT canonical_id FROM profiles WHERE id = ?1))
           AND (?2 IS NULL OR c.channel_id = ?2) AND (?3 IS NULL OR c.status = ?3) AND (?4 IS NULL OR c.id < ?4)
           AND (?6 IS NULL OR c.thread = ?6) AND (?7 IS NULL OR ch.kind = ?7)
           AND (?8 IS NULL OR c.owner_kind = ?8) AND (?9 IS NULL OR c.owner_id = ?9)
           AND (?10 IS NULL OR c.language = ?10) AND (?11 IS NULL OR c.team = ?11)
           AND (?12 = 0 OR c.status <> 'resolved')
           AND (?13 IS NULL OR (c.owner_kind = 'agent' AND (c.owner_id = ?14 OR c.owner_id IN ({TEAMMATES_OF})))
             OR (c.owner_kind = 'queue' AND c.owner_id IN ({TEAMS_OF}))
             OR c.team IN ({TEAMS_OF})
             OR (c.team IS NULL AND c.owner_kind IN ('unassigned', 'bot')))
         ORDER BY c.id DESC LIMIT ?5"
    ))?;
    let rows = stmt.query_map(
        params![
            f.customer.map(|c| c.0),
            f.channel_id,
            f.status.map(|s| s.as_str()),
            f.before,
            f.limit as i64,
            f.thread,
            f.channel_kind.map(|k| k.as_str()),
            f.owner_kind,
            f.owner_id,
            f.language,
            f.team,
            i64::from(f.unresolved),
            f.visible_to.as_ref().map(|v| v.user_id),
            f.visible_to.as_ref().map(|v| v.email.as_str()),
        ],
        conversation_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const MESSAGE_COLUMNS: &str = "id, conversation_id, direction, author, author_name, private, content, status, error, provider_id, reply_to, edited, created_at, updated_at";

fn message_row(r: &Row) -> rusqlite::Result<MessageView> {
    let direction: String = r.get(2)?;
    let author: String = r.get(3)?;
    let content: String = r.get(6)?;
    let status: Option<String> = r.get(7)?;
    let error: Option<String> = r.get(8)?;
    Ok(MessageView {
        id: r.get(0)?,
        conversation_id: r.get(1)?,
        direction: Direction::parse(&direction).unwrap_or(Direction::Incoming),
        author: Author::parse(&author).unwrap_or(Author::System),
        author_name: r.get(4)?,
        private: r.get(5)?,
        content: serde_json::from_str(&content).unwrap_or(Content::Other {
            kind: "unreadable".into(),
            text: None,
        }),
        status: status.as_deref().and_then(DeliveryStatus::parse),
        error: error.and_then(|e| serde_json::from_str(&e).ok()),
        provider_id: r.get(9)?,
        reply_to: r.get(10)?,
        edited: r.get(11)?,
        created_at: Timestamp(r.get(12)?),
        updated_at: Timestamp(r.get(13)?),
    })
}

pub(super) fn message_by_id(conn: &Connection, id: i64) -> Result<Option<MessageView>, StoreError> {
    Ok(conn
        .query_row(
            &format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?1"),
            [id],
            message_row,
        )
        .optional()?)
}

pub(super) fn messages(
    conn: &Connection,
    conversation: i64,
    after: Option<i64>,
    limit: usize,
) -> Result<Option<Vec<MessageView>>, StoreError> {
    let exists: Option<i64> = conn
        .query_row(
            "SELECT id FROM conversations WHERE id = ?1",
            [conversation],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
    ))?;
    let rows = stmt.query_map(
        params![conversation, after.unwrap_or(0), limit as i64],
        message_row,
    )?;
    Ok(Some(rows.collect::<Result<_, _>>()?))
}

// ---- integration webhooks ----

fn subscription_row(r: &Row) -> rusqlite::Result<Subscription> {
    let events: String = r.get(2)?;
    Ok(Subscription {
        id: r.get(0)?,
        url: r.get(1)?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        secret: r.get(3)?,
        created_at: Timestamp(r.get(4)?),
        cursor: r.get(5)?,
        delivered: r.get::<_, i64>(6)? as u64,
        failures: r.get::<_, i64>(7)? as u32,
        last_error: r.get(8)?,
        next_attempt_at: r.get(9)?,
    })
}

const SUBSCRIPTION_COLUMNS: &str =
    "id, url, events, secret, created_at, cursor, delivered, failures, last_error, next_attempt_at";

impl Writer {
    pub(super) fn create_subscription(
        &mut self,
        url: String,
        events: Vec<String>,
        secret: String,
    ) -> Result<Subscription, StoreError> {
        let now = now_ms();
        // From now on: integrators hear about what happens after they subscribe.
        let cursor: i64 = self.conn.query_row(
            "SELECT COALESCE(MAX(id), 0) FROM integration_events",
            [],
            |r| r.get(0),
        )?;
        let events_json = serde_json::to_string(&events).map_err(json_err)?;
        self.conn.execute(
            "INSERT INTO subscriptions (url, events, secret, created_at, cursor) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![url, events_json, secret, now, cursor],
        )?;
        let id = self.conn.last_insert_rowid();
        self.hooks = true;
        self.conn
            .query_row(
                &format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = ?1"),
                [id],
                subscription_row,
            )
            .map_err(StoreError::from)
    }

    pub(super) fn delete_subscription(&mut self, id: i64) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE subscriptions SET disabled_at = ?1 WHERE id = ?2 AND disabled_at IS NULL",
            params![now_ms(), id],
        )?;
        let left: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM subscriptions WHERE disabled_at IS NULL",
            [],
            |r| r.get(0),
        )?;
        self.hooks = left > 0;
        if !self.hooks {
            self.conn.execute("DELETE FROM integration_events", [])?;
        }
        Ok(n == 1)
    }

    pub(super) fn subscription_progress(&mut self, id: i64, p: Progress) -> Result<(), StoreError> {
        match p.failure {
            None => self.conn.execute(
                "UPDATE subscriptions SET cursor = MAX(cursor, ?1), delivered = delivered + ?2, failures = 0,
                   next_attempt_at = 0 WHERE id = ?3",
                params![p.cursor, p.delivered as i64, id],
            )?,
            Some((error, at)) => self.conn.execute(
                "UPDATE subscriptions SET cursor = MAX(cursor, ?1), delivered = delivered + ?2, failures = failures + 1,
                   last_error = ?3, next_attempt_at = ?4 WHERE id = ?5",
                params![p.cursor, p.delivered as i64, error, at, id],
            )?,
        };
        // Events every subscription has had are not kept.
        self.conn.execute(
            "DELETE FROM integration_events WHERE id <= (SELECT MIN(cursor) FROM subscriptions WHERE disabled_at IS NULL)",
            [],
        )?;
        Ok(())
    }
}

pub(super) fn subscriptions(conn: &Connection) -> Result<Vec<Subscription>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE disabled_at IS NULL ORDER BY id"
    ))?;
    let rows = stmt.query_map([], subscription_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn integration_events(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> Result<Vec<IntegrationEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, type, payload, created_at FROM integration_events WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit as i64], |r| {
        let payload: String = r.get(2)?;
        Ok(IntegrationEvent {
            id: r.get(0)?,
            kind: r.get(1)?,
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
            created_at: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
