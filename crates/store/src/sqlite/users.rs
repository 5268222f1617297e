//! Users, sessions and failed sign-ins on SQLite. Passwords arrive hashed (argon2, by the
//! server); session tokens arrive hashed too, so the database never holds anything that signs in.

use super::now_ms;
use super::writer::Writer;
use crate::{NewUser, SessionRecord, StoreError};
use concierge_types::view::Timestamp;
use concierge_types::{Role, TeamMember, TeamView, UserView};
use rusqlite::{params, Connection, OptionalExtension, Row};

const USER_COLUMNS: &str = "u.id, u.email, u.name, u.role, u.language, u.created_at";

fn user_row(r: &Row) -> rusqlite::Result<UserView> {
    let role: String = r.get(3)?;
    Ok(UserView {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        role: Role::parse(&role).unwrap_or(Role::Agent),
        language: r.get(4)?,
        created_at: Timestamp(r.get(5)?),
    })
}

fn list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn unlist(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

impl Writer {
    pub(super) fn save_team(
        &mut self,
        name: String,
        languages: Vec<String>,
        channels: Vec<String>,
        topics: Vec<String>,
    ) -> Result<TeamView, StoreError> {
        self.conn.execute(
            "INSERT INTO teams (name, languages, channels, topics, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (name) DO UPDATE SET languages = excluded.languages, channels = excluded.channels, topics = excluded.topics",
            params![name, list(&languages), list(&channels), list(&topics), now_ms()],
        )?;
        let id: i64 =
            self.conn
                .query_row("SELECT id FROM teams WHERE name = ?1", [&name], |r| {
                    r.get(0)
                })?;
        Ok(teams(&self.conn)?
            .into_iter()
            .find(|t| t.id == id)
            .unwrap_or(TeamView {
                id,
                name,
                languages,
                channels,
                topics,
                members: Vec::new(),
            }))
    }

    pub(super) fn set_team_member(
        &mut self,
        team: i64,
        user: i64,
        capacity: Option<u32>,
    ) -> Result<bool, StoreError> {
        let n = match capacity {
            Some(c) => self.conn.execute(
                "INSERT INTO team_members (team_id, user_id, capacity) SELECT t.id, u.id, ?3 FROM teams t, users u
                 WHERE t.id = ?1 AND u.id = ?2
                 ON CONFLICT (team_id, user_id) DO UPDATE SET capacity = excluded.capacity",
                params![team, user, c],
            )?,
            None => self.conn.execute(
                "DELETE FROM team_members WHERE team_id = ?1 AND user_id = ?2",
                params![team, user],
            )?,
        };
        Ok(n > 0)
    }

    pub(super) fn route_queued(&mut self, limit: usize) -> Result<Vec<(i64, String)>, StoreError> {
        let waiting: Vec<(i64, String, i64)> = {
            let mut stmt = self.conn.prepare_cached(
                // Only teams with someone below capacity, oldest in the queue first.
                "SELECT c.id, c.owner_id, c.profile_id FROM conversations c JOIN teams t ON t.name = c.owner_id
                 WHERE c.owner_kind = 'queue' AND c.status IN ('open', 'pending')
                   AND EXISTS (SELECT 1 FROM team_members m JOIN users u ON u.id = m.user_id AND u.disabled_at IS NULL
                               WHERE m.team_id = t.id AND m.capacity > (SELECT COUNT(*) FROM conversations o
                                 WHERE o.owner_kind = 'agent' AND o.owner_id = u.email AND o.status IN ('open', 'pending')))
                 ORDER BY COALESCE(c.queued_at, c.updated_at), c.id LIMIT ?1",
            )?;
            let rows = stmt.query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let now = now_ms();
        let mut done = Vec::new();
        for (conversation, team, profile) in waiting {
            // The member below capacity who was given a conversation longest ago.
            let pick: Option<(i64, i64, String)> = self
                .conn
                .prepare_cached(
                    "SELECT m.team_id, u.id, u.email FROM team_members m JOIN teams t ON t.id = m.team_id
                     JOIN users u ON u.id = m.user_id AND u.disabled_at IS NULL
                     WHERE t.name = ?1 AND m.capacity > (SELECT COUNT(*) FROM conversations o
                         WHERE o.owner_kind = 'agent' AND o.owner_id = u.email AND o.status IN ('open', 'pending'))
                     ORDER BY m.last_assigned_at, u.id LIMIT 1",
                )?
                .query_row([&team], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let Some((team_id, user, email)) = pick else {
                continue;
            };
            let n = self.conn.execute(
                "UPDATE conversations SET owner_kind = 'agent', owner_id = ?1, updated_at = ?2, bot_version = bot_version + 1
                 WHERE id = ?3 AND owner_kind = 'queue'",
                params![email, now, conversation],
            )?;
            if n == 0 {
                continue;
            }
            self.conn.execute(
                "UPDATE team_members SET last_assigned_at = ?1 WHERE team_id = ?2 AND user_id = ?3",
                params![now, team_id, user],
            )?;
            self.emit_conversation("conversation.assigned", conversation, profile)?;
            done.push((conversation, email));
        }
        Ok(done)
    }

    pub(super) fn create_user(&mut self, u: NewUser) -> Result<UserView, StoreError> {
        let email = u.email.trim().to_lowercase();
        let taken: Option<i64> = self
            .conn
            .query_row("SELECT id FROM users WHERE email = ?1", [&email], |r| {
                r.get(0)
            })
            .optional()?;
        if taken.is_some() {
            return Err(StoreError::Duplicate(format!("a user with e-mail {email}")));
        }
        let now = now_ms();
        self.conn.execute(
            "INSERT INTO users (email, name, role, language, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![email, u.name, u.role.as_str(), u.language, u.password_hash, now],
        )?;
        Ok(UserView {
            id: self.conn.last_insert_rowid(),
            email,
            name: u.name,
            role: u.role,
            language: u.language,
            created_at: Timestamp(now),
        })
    }

    pub(super) fn create_session(
        &mut self,
        user: i64,
        token_hash: String,
        csrf: String,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        // Expired sessions go as new ones come.
        self.conn
            .execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
        self.conn.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![token_hash, user, csrf, now, expires_at],
        )?;
        Ok(())
    }

    pub(super) fn delete_session(&mut self, token_hash: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
        Ok(())
    }

    pub(super) fn login_failure(
        &mut self,
        key: &str,
        now: i64,
        since: i64,
    ) -> Result<u32, StoreError> {
        self.conn
            .execute("DELETE FROM login_failures WHERE at < ?1", [since])?;
        self.conn.execute(
            "INSERT INTO login_failures (key, at) VALUES (?1, ?2)",
            params![key, now],
        )?;
        Ok(failures(&self.conn, key, since)?)
    }

    pub(super) fn clear_login_failures(&mut self, key: &str) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM login_failures WHERE key = ?1", [key])?;
        Ok(())
    }
}

pub(super) fn failures(conn: &Connection, key: &str, since: i64) -> rusqlite::Result<u32> {
    conn.query_row(
        "SELECT COUNT(*) FROM login_failures WHERE key = ?1 AND at >= ?2",
        params![key, since],
        |r| r.get(0),
    )
}

pub(super) fn teams(conn: &Connection) -> Result<Vec<TeamView>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT id, name, languages, channels, topics FROM teams ORDER BY name")?;
    let mut teams: Vec<TeamView> = stmt
        .query_map([], |r| {
            Ok(TeamView {
                id: r.get(0)?,
                name: r.get(1)?,
                languages: unlist(&r.get::<_, String>(2)?),
                channels: unlist(&r.get::<_, String>(3)?),
                topics: unlist(&r.get::<_, String>(4)?),
                members: Vec::new(),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT m.team_id, u.id, u.email, u.name, m.capacity FROM team_members m JOIN users u ON u.id = m.user_id
         WHERE u.disabled_at IS NULL ORDER BY u.name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            TeamMember {
                user_id: r.get(1)?,
                email: r.get(2)?,
                name: r.get(3)?,
                capacity: r.get(4)?,
            },
        ))
    })?;
    for row in rows {
        let (team, member) = row?;
        if let Some(t) = teams.iter_mut().find(|t| t.id == team) {
            t.members.push(member);
        }
    }
    Ok(teams)
}

pub(super) fn users(conn: &Connection) -> Result<Vec<UserView>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.disabled_at IS NULL ORDER BY u.name, u.id"
    ))?;
    let rows = stmt.query_map([], user_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn user_credentials(
    conn: &Connection,
    email: &str,
) -> Result<Option<(UserView, String)>, StoreError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = ?1 AND u.disabled_at IS NULL"
            ),
            [email.trim().to_lowercase()],
            |r| Ok((user_row(r)?, r.get(6)?)),
        )
        .optional()?)
}

pub(super) fn session(
    conn: &Connection,
    token_hash: &str,
    now: i64,
) -> Result<Option<SessionRecord>, StoreError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {USER_COLUMNS}, s.csrf, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled_at IS NULL"
            ),
            params![token_hash, now],
            |r| {
                Ok(SessionRecord {
                    user: user_row(r)?,
                    csrf: r.get(6)?,
                    expires_at: r.get(7)?,
                })
            },
        )
        .optional()?)
}
