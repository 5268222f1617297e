//! The bot's and the automation rules' storage on SQLite: definitions, the per-conversation
//! memory, turns (for the indicators), labels and timer firings.
//!
//! [`Writer::bot_apply`] is where "a person always wins" is enforced: the bot's words are written
//! only if, inside the same transaction, the conversation is still the bot's at the version the
//! bot read. A person's reply or assignment bumps that version in its own transaction, and the
//! single writer orders the two, so the bot can never talk after a person has.

use super::conversations::{conversation_by_id, json_err, CONVERSATION_COLUMNS, CONVERSATION_FROM};
use super::now_ms;
use super::writer::{canon_of, Writer};
use crate::{
    BotAct, BotApplied, BotDefinition, BotEffect, BotTurnRow, BotWork, ConversationChange,
    NewMessage, Silence, StoreError,
};
use concierge_types::conversation::{Author, Content, ConversationView};
use concierge_types::view::TimelineEvent;
use concierge_types::ProfileId;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

impl Writer {
    pub(super) fn save_bot_definition(&mut self, body: String) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO bot_definitions (body, created_at) VALUES (?1, ?2)",
            params![body, now_ms()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// After a hand-back: the bot starts over on failures and complaints (a person dealt with
    /// them) but keeps what it learnt of the conversation.
    pub(super) fn hand_back(&mut self, conversation: i64) -> Result<(), StoreError> {
        let state: Option<String> = self
            .conn
            .query_row(
                "SELECT bot_state FROM conversations WHERE id = ?1",
                [conversation],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        let state = match state.and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok()) {
            Some(mut v) => {
                if let Some(o) = v.as_object_mut() {
                    o.remove("failures");
                    o.remove("pending");
                    o.remove("last_answered");
                    o.insert("complaints".into(), 0.into());
                }
                Some(v.to_string())
            }
            None => None,
        };
        self.conn.execute(
            "UPDATE conversations SET bot_state = ?1, handoff_reason = NULL WHERE id = ?2",
            params![state, conversation],
        )?;
        Ok(())
    }

    pub(super) fn bot_apply(&mut self, act: BotAct) -> Result<BotApplied, StoreError> {
        if let Some(message) = act.message_id {
            let seen: Option<i64> = self
                .conn
                .query_row(
                    "SELECT id FROM bot_turns WHERE message_id = ?1",
                    [message],
                    |r| r.get(0),
                )
                .optional()?;
            if seen.is_some() {
                return Ok(BotApplied::AlreadyHandled);
            }
        }
        let row: Option<(String, Option<i64>, i64, String, i64)> = self
            .conn
            .query_row(
                "SELECT c.owner_kind, c.human_at, c.bot_version, ch.kind, c.profile_id
                 FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = ?1",
                [act.conversation],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((owner, human_at, version, channel_kind, profile)) = row else {
            return Ok(BotApplied::Skipped);
        };
        let now = now_ms();
        let mut outcome = BotApplied::Done;
        let mut effects = act.effects;
        if let Some(expected) = act.speaks_at {
            let may = owner == "bot" || (owner == "unassigned" && human_at.is_none());
            if !may || version != expected {
                // A person got there first: keep only the record that the message was seen.
                effects.clear();
                outcome = BotApplied::Silenced;
            }
        }
        if let Some((rule, anchor, silence)) = &act.firing {
            // The customer (or a person) may have written since the timer looked.
            if !still_silent(&self.conn, act.conversation, *silence, *anchor)? {
                return Ok(BotApplied::Skipped);
            }
            let n = self.conn.execute(
                "INSERT INTO rule_firings (rule, conversation_id, anchor, fired_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                params![rule, act.conversation, anchor, now],
            )?;
            if n == 0 {
                return Ok(BotApplied::Skipped);
            }
        }
        if outcome == BotApplied::Done && act.speaks_at.is_some() {
            // The bot claims a conversation nobody owns; its memory moves on.
            self.conn.execute(
                "UPDATE conversations SET owner_kind = CASE WHEN owner_kind = 'unassigned' THEN 'bot' ELSE owner_kind END,
                   bot_state = COALESCE(?1, bot_state), language = COALESCE(?2, language), bot_version = bot_version + 1
                 WHERE id = ?3",
                params![act.state, act.language, act.conversation],
            )?;
        }
        for effect in effects {
            self.apply_effect(act.conversation, profile, effect, now)?;
        }
        if let Some(t) = act.turn {
            let outcome_text = if outcome == BotApplied::Silenced {
                "silenced".to_string()
            } else {
                t.outcome
            };
            let rules = serde_json::to_string(&t.rules).map_err(json_err)?;
            self.conn.execute(
                "INSERT INTO bot_turns (message_id, conversation_id, channel_kind, language, intent, confidence, outcome, reason, rules, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![act.message_id, act.conversation, channel_kind, t.language, t.intent, t.confidence as f64, outcome_text, t.reason, rules, now],
            )?;
        }
        Ok(outcome)
    }

    fn apply_effect(
        &mut self,
        conversation: i64,
        profile: i64,
        effect: BotEffect,
        now: i64,
    ) -> Result<(), StoreError> {
        match effect {
            BotEffect::Reply { content, outgoing } => {
                self.add_message(
                    conversation,
                    NewMessage {
                        content,
                        private: false,
                        author: Author::Bot,
                        author_name: None,
                        take_over: None,
                        outgoing: Some(outgoing),
                        attachment: None,
                    },
                )?;
            }
            BotEffect::Note { text, author } => {
                self.add_message(
                    conversation,
                    NewMessage {
                        content: Content::Text { text },
                        private: true,
                        author,
                        author_name: None,
                        take_over: None,
                        outgoing: None,
                        attachment: None,
                    },
                )?;
            }
            BotEffect::Label(label) => {
                self.conn.execute(
                    "INSERT INTO conversation_labels (conversation_id, label, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    params![conversation, label, now],
                )?;
            }
            BotEffect::Assign(owner) => {
                let (kind, id) = owner.to_parts();
                if owner != concierge_types::conversation::Owner::Bot {
                    // A rule gave it to a person or a queue: a person is needed from now.
                    self.conn.execute(
                        "UPDATE conversations SET handed_at = COALESCE(handed_at, ?1),
                           team = CASE WHEN ?2 = 'queue' THEN ?3 ELSE team END,
                           queued_at = CASE WHEN ?2 = 'queue' THEN ?1 ELSE queued_at END
                         WHERE id = ?4",
                        params![now, kind, id, conversation],
                    )?;
                }
                self.conn.execute(
                    "UPDATE conversations SET owner_kind = ?1, owner_id = ?2, updated_at = ?3, bot_version = bot_version + 1,
                       status = CASE WHEN status = 'resolved' THEN 'open' ELSE status END, resolved_at = NULL WHERE id = ?4",
                    params![kind, id, now, conversation],
                )?;
                self.emit_conversation("conversation.assigned", conversation, profile)?;
            }
            BotEffect::Handoff { reason, queue } => {
                self.conn.execute(
                    "UPDATE conversations SET owner_kind = 'queue', owner_id = ?1, handoff_reason = ?2, updated_at = ?3, queued_at = ?3,
                       team = ?1, handed_at = COALESCE(handed_at, ?3),
                       bot_version = bot_version + 1, status = CASE WHEN status = 'resolved' THEN 'open' ELSE status END, resolved_at = NULL
                     WHERE id = ?4",
                    params![queue, reason, now, conversation],
                )?;
                self.emit_conversation("conversation.handoff", conversation, profile)?;
            }
            BotEffect::Resolve => {
                self.change_conversation(conversation, ConversationChange::Resolve)?;
            }
        }
        Ok(())
    }

    /// Emits `kind` with the conversation as it now is.
    pub(super) fn emit_conversation(
        &mut self,
        kind: &str,
        conversation: i64,
        profile: i64,
    ) -> Result<(), StoreError> {
        if let Some(v) = conversation_by_id(&self.conn, conversation)? {
            let data = serde_json::to_value(&v).map_err(json_err)?;
            self.emit(kind, Some(profile), data)?;
        }
        Ok(())
    }

    pub(super) fn set_traits(
        &mut self,
        id: ProfileId,
        traits: Vec<(String, serde_json::Value)>,
        source: String,
    ) -> Result<(), StoreError> {
        let Some(root) = canon_of(self, id.0)? else {
            return Ok(());
        };
        let now = now_ms();
        for (key, value) in traits {
            self.conn.execute(
                "INSERT INTO traits (profile_id, key, value, source, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (profile_id, key) DO UPDATE SET value = excluded.value, source = excluded.source,
                   updated_at = excluded.updated_at",
                params![root, key, value.to_string(), source, now],
            )?;
        }
        Ok(())
    }
}

// ---- reads ----

pub(super) fn bot_definition(conn: &Connection) -> Result<Option<BotDefinition>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, body, created_at FROM bot_definitions ORDER BY id DESC LIMIT 1",
            [],
            |r| {
                Ok(BotDefinition {
                    version: r.get(0)?,
                    body: r.get(1)?,
                    created_at: r.get(2)?,
                })
            },
        )
        .optional()?)
}

pub(super) fn last_message_id(conn: &Connection) -> Result<i64, StoreError> {
    Ok(
        conn.query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| {
            r.get(0)
        })?,
    )
}

pub(super) fn bot_work(
    conn: &Connection,
    after: i64,
    limit: usize,
) -> Result<Vec<BotWork>, StoreError> {
    let sql = format!(
        "SELECT m.id, m.content, c.bot_state, c.bot_version, c.owner_kind, c.human_at,
           COALESCE((SELECT i.received_at FROM inbound i WHERE i.id = m.inbound_id), m.created_at), {CONVERSATION_COLUMNS}
         FROM {CONVERSATION_FROM} JOIN messages m ON m.conversation_id = c.id
         WHERE m.direction = 'incoming' AND m.id > ?1 AND m.author = 'customer' AND m.edited = 0
         ORDER BY m.id LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![after, limit as i64], |r| {
        let content: String = r.get(1)?;
        let owner: String = r.get(4)?;
        let human_at: Option<i64> = r.get(5)?;
        Ok((
            r.get::<_, i64>(0)?,
            content,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, i64>(3)?,
            owner == "bot" || (owner == "unassigned" && human_at.is_none()),
            r.get::<_, i64>(6)?,
            super::conversations::conversation_row_at(r, 7)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (message_id, content, state, version, bot_may_act, received_at, conversation) = row?;
        let content: Content = serde_json::from_str(&content).map_err(json_err)?;
        out.push(BotWork {
            message_id,
            content,
            conversation,
            state,
            version,
            bot_may_act,
            received_at,
        });
    }
    Ok(out)
}

pub(super) fn events_named(
    conn: &Connection,
    id: ProfileId,
    names: &[String],
    limit: usize,
) -> Result<Vec<TimelineEvent>, StoreError> {
    let Some((_, members)) = super::read::cluster(conn, id)? else {
        return Ok(Vec::new());
    };
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let m = members.len();
    let sql = format!(
        "SELECT {cols} FROM events WHERE profile_id IN ({p}) AND name IN ({n}) ORDER BY ts DESC, id DESC LIMIT {limit}",
        cols = super::read::EVENT_COLUMNS,
        p = super::writer::placeholders_from(1, m),
        n = super::writer::placeholders_from(m + 1, names.len()),
        limit = limit.clamp(1, 1000),
    );
    let mut args: Vec<rusqlite::types::Value> = members
        .into_iter()
        .map(rusqlite::types::Value::from)
        .collect();
    args.extend(names.iter().cloned().map(rusqlite::types::Value::from));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), super::read::event_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// `(anchor, when, condition)` of a silence: the anchor identifies one silence (a rule fires once
/// per anchor), `when` is the time it started.
fn silence_sql(silence: Silence) -> (&'static str, &'static str, &'static str) {
    match silence {
        // The brand wrote last; anchored at the customer's last message so the rule's own text
        // does not start a new silence. A customer waiting for a person is not silent.
        Silence::Customer => (
            "COALESCE(c.last_incoming_at, 0)",
            "c.last_message_at",
            "c.status IN ('open', 'pending') AND c.last_message_at IS NOT NULL
             AND c.last_message_at > COALESCE(c.last_incoming_at, 0)
             AND NOT (c.owner_kind IN ('queue', 'agent') AND NOT EXISTS (
                 SELECT 1 FROM messages a WHERE a.conversation_id = c.id AND a.author = 'agent'
                   AND a.private = 0 AND a.created_at >= COALESCE(c.last_incoming_at, 0)))",
        ),
        // The bot's "a person is coming" is not an answer: only a person's message is.
        Silence::Agent => (
            "c.last_incoming_at",
            "c.last_incoming_at",
            "c.status = 'open' AND c.owner_kind IN ('queue', 'agent') AND c.last_incoming_at IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM messages a WHERE a.conversation_id = c.id AND a.author = 'agent'
                             AND a.private = 0 AND a.created_at >= c.last_incoming_at)",
        ),
    }
}

pub(super) fn silent_conversations(
    conn: &Connection,
    silence: Silence,
    rule: &str,
    before: i64,
    limit: usize,
) -> Result<Vec<(ConversationView, i64)>, StoreError> {
    let (anchor, when, condition) = silence_sql(silence);
    let sql = format!(
        "SELECT {anchor}, {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM}
         WHERE {condition} AND {when} <= ?1
           AND NOT EXISTS (SELECT 1 FROM rule_firings f WHERE f.rule = ?2 AND f.conversation_id = c.id AND f.anchor = {anchor})
         ORDER BY {when} LIMIT ?3"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![before, rule, limit as i64], |r| {
        Ok((super::conversations::conversation_row_at(r, 1)?, r.get(0)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether the conversation is still in the silence `anchor` names.
fn still_silent(
    conn: &Connection,
    conversation: i64,
    silence: Silence,
    anchor: i64,
) -> rusqlite::Result<bool> {
    let (a, _, condition) = silence_sql(silence);
    let sql = format!("SELECT 1 FROM conversations c WHERE c.id = ?1 AND {condition} AND {a} = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![conversation, anchor], |_| Ok(()))
        .optional()?
        .is_some())
}

pub(super) fn bot_turns(
    conn: &Connection,
    since: i64,
    until: i64,
) -> Result<Vec<BotTurnRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT t.conversation_id, t.channel_kind, t.language, t.intent, t.outcome, t.reason,
                c.human_at IS NOT NULL OR c.owner_kind IN ('queue', 'agent'), c.status = 'resolved'
         FROM bot_turns t JOIN conversations c ON c.id = t.conversation_id
         WHERE t.created_at >= ?1 AND t.created_at < ?2 AND t.outcome NOT IN ('rules', 'silenced')
         ORDER BY t.id",
    )?;
    let rows = stmt.query_map(params![since, until], |r| {
        Ok(BotTurnRow {
            conversation: r.get(0)?,
            channel: r.get(1)?,
            language: r.get(2)?,
            intent: r.get(3)?,
            outcome: r.get(4)?,
            reason: r.get(5)?,
            human: r.get(6)?,
            resolved: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
