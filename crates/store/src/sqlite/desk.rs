//! What the desk reads and writes: conversations with their turns for SLAs and indicators, what
//! each person has read, canned responses, and the change mark live pages watch.

use super::conversations::{conversation_row_at, CONVERSATION_COLUMNS, CONVERSATION_FROM};
use super::now_ms;
use super::writer::Writer;
use crate::{Attachment, DeskConversation, ImportedConversation, StoreError};
use concierge_types::conversation::{Author, CannedResponse};
use concierge_types::conversation::{ConversationStatus, Direction};
use concierge_types::view::Timestamp;
use rusqlite::OptionalExtension;
use rusqlite::{params, Connection};

/// Conversations created since `since` or not resolved, each with its public turns.
pub(super) fn desk_conversations(
    conn: &Connection,
    since: i64,
) -> Result<Vec<DeskConversation>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM}
         WHERE c.created_at >= ?1 OR c.status <> 'resolved' ORDER BY c.id"
    ))?;
    let views = stmt
        .query_map([since], |r| conversation_row_at(r, 0))?
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<i64> = views.iter().map(|v| v.id).collect();
    Ok(views
        .into_iter()
        .zip(turns(conn, &ids)?)
        .map(|(conversation, turns)| DeskConversation {
            conversation,
            turns,
        })
        .collect())
}

/// Each conversation's public turns (time, author), oldest first.
pub(super) fn turns(
    conn: &Connection,
    conversations: &[i64],
) -> Result<Vec<Vec<(i64, Author)>>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT created_at, author FROM messages WHERE conversation_id = ?1 AND private = 0 ORDER BY id",
    )?;
    let mut out = Vec::with_capacity(conversations.len());
    for &c in conversations {
        let rows = stmt.query_map([c], |r| {
            let author: String = r.get(1)?;
            Ok((r.get::<_, i64>(0)?, Author::parse(&author)))
        })?;
        let mut t = Vec::new();
        for row in rows {
            if let (at, Some(a)) = row? {
                t.push((at, a));
            }
        }
        out.push(t);
    }
    Ok(out)
}

/// Incoming messages `user` has not read, per conversation (at most 99 counted each).
pub(super) fn unread(
    conn: &Connection,
    user: i64,
    conversations: &[i64],
) -> Result<Vec<(i64, u32)>, StoreError> {
    // `direction || ''` keeps the planner on the conversation's index: without statistics it
    // would take `messages_incoming` and read every incoming message of every conversation.
    let mut stmt = conn.prepare_cached(
        "SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE conversation_id = ?1 AND direction || '' = 'incoming'
           AND id > COALESCE((SELECT message_id FROM conversation_reads WHERE user_id = ?2 AND conversation_id = ?1), 0)
         LIMIT 99)",
    )?;
    let mut out = Vec::new();
    for &c in conversations {
        let n: u32 = stmt.query_row(params![c, user], |r| r.get(0))?;
        if n > 0 {
            out.push((c, n));
        }
    }
    Ok(out)
}

/// The newest message id and the latest conversation change: a live page reloads what it shows
/// when either moves (a new message, an assignment, a status change).
pub(super) fn desk_mark(conn: &Connection) -> Result<(i64, i64), StoreError> {
    Ok(conn.query_row(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM messages), (SELECT COALESCE(MAX(updated_at), 0) FROM conversations)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// Open conversations created since `since` with an id above `after` that nobody has decided
/// about yet (no person, no queue, not the bot's), oldest first: the ones routing by skills
/// places when no bot answers.
pub(super) fn unrouted(
    conn: &Connection,
    after: i64,
    since: i64,
    limit: usize,
) -> Result<Vec<concierge_types::conversation::ConversationView>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM {CONVERSATION_FROM}
         WHERE c.id > ?1 AND c.created_at >= ?2
           AND c.owner_kind = 'unassigned' AND c.status = 'open' AND c.handed_at IS NULL AND c.team IS NULL
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.author = 'bot')
         ORDER BY c.id LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![after, since, limit as i64], |r| {
        conversation_row_at(r, 0)
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn attachment(conn: &Connection, id: &str) -> Result<Option<Attachment>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT a.id, a.conversation_id, a.message_id, a.filename, a.mime_type, a.sha256, a.data, a.created_at,
               m.private
             FROM attachments a JOIN messages m ON m.id = a.message_id WHERE a.id = ?1",
            [id],
            |r| {
                Ok(Attachment {
                    id: r.get(0)?,
                    conversation_id: r.get(1)?,
                    message_id: r.get(2)?,
                    filename: r.get(3)?,
                    mime_type: r.get(4)?,
                    sha256: r.get(5)?,
                    data: r.get(6)?,
                    created_at: Timestamp(r.get(7)?),
                    private: r.get(8)?,
                })
            },
        )
        .optional()?)
}

pub(super) fn canned(conn: &Connection) -> Result<Vec<CannedResponse>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, shortcut, language, text FROM canned_responses ORDER BY shortcut",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(CannedResponse {
            id: r.get(0)?,
            shortcut: r.get(1)?,
            language: r.get(2)?,
            text: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl Writer {
    pub(super) fn import_conversation(
        &mut self,
        c: ImportedConversation,
    ) -> Result<i64, StoreError> {
        let first = c.messages.first().map(|m| m.at).unwrap_or_else(now_ms);
        let last = c.messages.last().map(|m| m.at).unwrap_or(first);
        let last_in = c
            .messages
            .iter()
            .rev()
            .find(|m| m.author == Author::Customer)
            .map(|m| m.at);
        let preview = c
            .messages
            .iter()
            .rev()
            .find(|m| !m.private)
            .map(|m| m.content.preview().chars().take(200).collect::<String>());
        let (owner_kind, owner_id) = c.owner.to_parts();
        let resolved_at = c
            .resolved_at
            .filter(|_| c.status == ConversationStatus::Resolved);
        let human_at = c
            .messages
            .iter()
            .find(|m| m.author == Author::Agent && !m.private)
            .map(|m| m.at);
        let queued_at = (owner_kind == "queue").then_some(c.handed_at.unwrap_or(last));
        self.conn.execute(
            "INSERT INTO conversations (channel_id, thread, profile_id, contact_name, status, owner_kind, owner_id,
               created_at, updated_at, last_message_at, last_incoming_at, last_preview, messages, language, team,
               handoff_reason, handed_at, resolved_at, human_at, queued_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
            rusqlite::params![
                c.channel_id,
                c.thread,
                c.customer.0,
                c.contact_name,
                c.status.as_str(),
                owner_kind,
                owner_id,
                first,
                last,
                last_in,
                preview,
                c.messages.len() as i64,
                c.language,
                c.team,
                c.handoff_reason,
                c.handed_at,
                resolved_at,
                human_at,
                queued_at
            ],
        )?;
        let id = self.conn.last_insert_rowid();
        for m in &c.messages {
            let direction = if m.author == Author::Customer {
                Direction::Incoming
            } else {
                Direction::Outgoing
            };
            let content = serde_json::to_string(&m.content)
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            self.conn.execute(
                "INSERT INTO messages (conversation_id, channel_id, direction, author, author_name, private, content, status,
                   created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                rusqlite::params![
                    id,
                    c.channel_id,
                    direction.as_str(),
                    m.author.as_str(),
                    m.author_name,
                    m.private,
                    content,
                    m.status.map(|s| s.as_str()),
                    m.at
                ],
            )?;
        }
        Ok(id)
    }

    pub(super) fn mark_read(
        &mut self,
        user: i64,
        conversation: i64,
        message: i64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO conversation_reads (user_id, conversation_id, message_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id, conversation_id) DO UPDATE SET message_id =
               CASE WHEN excluded.message_id > conversation_reads.message_id THEN excluded.message_id ELSE conversation_reads.message_id END",
            params![user, conversation, message],
        )?;
        Ok(())
    }

    /// Creates or replaces (by shortcut) a canned response.
    pub(super) fn save_canned(
        &mut self,
        shortcut: String,
        language: String,
        text: String,
    ) -> Result<CannedResponse, StoreError> {
        self.conn.execute(
            "INSERT INTO canned_responses (shortcut, language, text, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (shortcut) DO UPDATE SET language = excluded.language, text = excluded.text",
            params![shortcut, language, text, now_ms()],
        )?;
        let id: i64 = self.conn.query_row(
            "SELECT id FROM canned_responses WHERE shortcut = ?1",
            [&shortcut],
            |r| r.get(0),
        )?;
        Ok(CannedResponse {
            id,
            shortcut,
            language,
            text,
        })
    }

    pub(super) fn delete_canned(&mut self, id: i64) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute("DELETE FROM canned_responses WHERE id = ?1", [id])?;
        Ok(n > 0)
    }
}
