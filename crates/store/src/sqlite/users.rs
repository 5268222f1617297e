//! Users, sessions and failed sign-ins on SQLite. Passwords arrive hashed (argon2, by the
//! server); session tokens arrive hashed too, so the database never holds anything that signs in.

use super::now_ms;
use super::writer::Writer;
use crate::{NewUser, SessionRecord, StoreError};
use concierge_types::view::Timestamp;
use concierge_types::{Role, UserView};
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

impl Writer {
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
