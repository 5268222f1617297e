//! Identity writes held back between group commits and applied to their tables in key order.
//!
//! Events attach identifiers, move an identifier's "last seen" and set traits. Written as they
//! come, these land on random pages of the identifier and trait indexes, and every group commit
//! wrote those pages whole into the WAL again: four times the bytes of the events themselves.
//! The writer keeps them here instead. Each transaction appends the changes it made as one
//! `identity_redo` row (a compact binary record), so a committed answer still means everything
//! is on disk; the tables are brought up to date in one sorted pass when enough has gathered,
//! after a quiet moment, before any job other than ingestion, and before any read (the store's
//! read barrier). A writer that finds redo rows it does not hold (after a crash, or written by
//! another process) applies them before anything else.

use crate::StoreError;
use rusqlite::{params_from_iter, types::Value, Connection};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// Changes gathered before the tables are brought up to date.
pub(super) const FLUSH_OPS: usize = 300_000;
/// Longest a change waits in memory (it is on disk in the redo log meanwhile).
pub(super) const FLUSH_AFTER: Duration = Duration::from_millis(2_000);
/// Rows per multi-row statement when applying.
const CHUNK: usize = 64;
/// First byte of a binary redo row (older rows are JSON text).
const REDO_V1: u8 = 0xB1;

/// One identity change, as kept in the redo log.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "o")]
pub(super) enum Op {
    /// A new identifier row, with the id the writer gave it.
    #[serde(rename = "a")]
    Attach {
        id: i64,
        kind: String,
        value: String,
        profile: i64,
        ts: i64,
        source: String,
        channel: String,
    },
    /// An identifier seen later than its recorded last sighting.
    #[serde(rename = "l")]
    Last {
        id: i64,
        ts: i64,
        source: String,
        channel: String,
    },
    /// An identifier seen earlier than its recorded first sighting (late events).
    #[serde(rename = "f")]
    First {
        id: i64,
        ts: i64,
        source: String,
        channel: String,
    },
    /// A trait value; the newest `ts` wins, as in the table.
    #[serde(rename = "t")]
    Trait {
        profile: i64,
        key: String,
        value: String,
        source: String,
        ts: i64,
    },
}

#[derive(Clone)]
struct Sighting {
    ts: i64,
    source: String,
    channel: String,
}

/// A trait's newest value: (value as JSON, source, time).
type TraitValue = (String, String, i64);

struct NewIdent {
    kind: String,
    value: String,
    profile: i64,
    first: Sighting,
    last: Sighting,
}

/// The changes not yet in the tables, folded (one row per identifier, one value per trait).
#[derive(Default)]
pub(super) struct Deferred {
    idents: HashMap<i64, NewIdent>,
    by_profile: HashMap<i64, Vec<i64>>,
    last: HashMap<i64, Sighting>,
    first: HashMap<i64, Sighting>,
    traits: HashMap<(i64, String), TraitValue>,
    /// This transaction's changes, encoded for its redo row.
    log: Vec<u8>,
    changes: usize,
    since: Option<Instant>,
}

impl Deferred {
    pub(super) fn is_empty(&self) -> bool {
        self.changes == 0
    }

    /// Whether enough has gathered, or waited long enough, to bring the tables up to date.
    pub(super) fn due(&self) -> bool {
        self.changes >= FLUSH_OPS || self.since.is_some_and(|t| t.elapsed() >= FLUSH_AFTER)
    }

    /// How long until [`due`](Self::due) turns true by age alone.
    pub(super) fn wait(&self) -> Option<Duration> {
        self.since.map(|t| FLUSH_AFTER.saturating_sub(t.elapsed()))
    }

    /// Records `op` (in this transaction's redo row too, unless it comes from the log).
    pub(super) fn push(&mut self, op: Op, logged: bool) {
        self.changes += 1;
        self.since.get_or_insert_with(Instant::now);
        if logged {
            encode(&mut self.log, &op);
        }
        let first = matches!(op, Op::First { .. });
        match op {
            Op::Attach {
                id,
                kind,
                value,
                profile,
                ts,
                source,
                channel,
            } => {
                let seen = Sighting {
                    ts,
                    source,
                    channel,
                };
                self.by_profile.entry(profile).or_default().push(id);
                self.idents.insert(
                    id,
                    NewIdent {
                        kind,
                        value,
                        profile,
                        first: seen.clone(),
                        last: seen,
                    },
                );
            }
            Op::Last {
                id,
                ts,
                source,
                channel,
            }
            | Op::First {
                id,
                ts,
                source,
                channel,
            } => {
                let seen = Sighting {
                    ts,
                    source,
                    channel,
                };
                match (self.idents.get_mut(&id), first) {
                    (Some(n), true) => n.first = seen,
                    (Some(n), false) => n.last = seen,
                    (None, true) => {
                        self.first.insert(id, seen);
                    }
                    (None, false) => {
                        self.last.insert(id, seen);
                    }
                }
            }
            Op::Trait {
                profile,
                key,
                value,
                source,
                ts,
            } => match self.traits.entry((profile, key)) {
                std::collections::hash_map::Entry::Occupied(mut o) if o.get().2 <= ts => {
                    o.insert((value, source, ts));
                }
                std::collections::hash_map::Entry::Occupied(_) => {}
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert((value, source, ts));
                }
            },
        }
    }

    /// The identifiers (kind, value) not yet in the table that belong to `profile`.
    pub(super) fn identifiers_of(&self, profile: i64) -> impl Iterator<Item = (&str, &str)> {
        self.by_profile
            .get(&profile)
            .into_iter()
            .flatten()
            .filter_map(|id| self.idents.get(id))
            .map(|n| (n.kind.as_str(), n.value.as_str()))
    }

    /// Appends this transaction's changes to the redo log.
    pub(super) fn log_transaction(&mut self, conn: &Connection) -> Result<(), StoreError> {
        if self.log.is_empty() {
            return Ok(());
        }
        let mut row = Vec::with_capacity(self.log.len() + 1);
        row.push(REDO_V1);
        row.extend_from_slice(&self.log);
        conn.prepare_cached("INSERT INTO identity_redo (ops) VALUES (?1)")?
            .execute([row])?;
        self.log.clear();
        Ok(())
    }

    /// Reads every redo row into memory (they are applied and removed by the next [`apply`]).
    pub(super) fn load(&mut self, conn: &Connection) -> Result<usize, StoreError> {
        let mut stmt = conn.prepare("SELECT ops FROM identity_redo ORDER BY id")?;
        let rows: Vec<Value> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let unreadable = |e: String| StoreError::Backend(format!("unreadable redo row: {e}"));
        for row in &rows {
            let ops = match row {
                Value::Blob(b) if b.first() == Some(&REDO_V1) => {
                    decode(&b[1..]).map_err(unreadable)?
                }
                // Rows written before the binary format.
                Value::Text(t) => {
                    serde_json::from_str::<Vec<Op>>(t).map_err(|e| unreadable(e.to_string()))?
                }
                _ => return Err(unreadable("unknown format".into())),
            };
            for op in ops {
                self.push(op, false);
            }
        }
        Ok(rows.len())
    }

    /// Writes everything to the tables in key order, removes the redo rows, and empties itself.
    pub(super) fn apply(&mut self, conn: &Connection) -> Result<(), StoreError> {
        if self.is_empty() {
            return Ok(());
        }
        let mut idents: Vec<(i64, NewIdent)> = self.idents.drain().collect();
        idents.sort_unstable_by(|a, b| (&a.1.kind, &a.1.value).cmp(&(&b.1.kind, &b.1.value)));
        let rows = idents.into_iter().map(|(id, n)| {
            vec![
                Value::Integer(id),
                Value::Text(n.kind),
                Value::Text(n.value),
                Value::Integer(n.profile),
                Value::Integer(n.first.ts),
                Value::Integer(n.last.ts),
                Value::Text(n.first.source),
                Value::Text(n.first.channel),
                Value::Text(n.last.source),
                Value::Text(n.last.channel),
            ]
        });
        insert_rows(
            conn,
            "INSERT INTO identifiers (id, kind, value, profile_id, first_seen, last_seen, first_source, first_channel, last_source, last_channel) VALUES ",
            10,
            "",
            rows,
        )?;
        for (column, map) in [("last", &mut self.last), ("first", &mut self.first)] {
            let mut moves: Vec<(i64, Sighting)> = map.drain().collect();
            moves.sort_unstable_by_key(|m| m.0);
            let mut stmt = conn.prepare_cached(&format!(
                "UPDATE identifiers SET {column}_seen = ?1, {column}_source = ?2, {column}_channel = ?3 WHERE id = ?4"
            ))?;
            for (id, s) in moves {
                stmt.execute(rusqlite::params![s.ts, s.source, s.channel, id])?;
            }
        }
        let mut traits: Vec<((i64, String), TraitValue)> = self.traits.drain().collect();
        traits.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let rows = traits
            .into_iter()
            .map(|((profile, key), (value, source, ts))| {
                vec![
                    Value::Integer(profile),
                    Value::Text(key),
                    Value::Text(value),
                    Value::Text(source),
                    Value::Integer(ts),
                ]
            });
        insert_rows(
            conn,
            "INSERT INTO traits (profile_id, key, value, source, updated_at) VALUES ",
            5,
            " ON CONFLICT (profile_id, key) DO UPDATE SET value = excluded.value, source = excluded.source,
               updated_at = excluded.updated_at WHERE excluded.updated_at >= traits.updated_at",
            rows,
        )?;
        conn.prepare_cached("DELETE FROM identity_redo")?
            .execute([])?;
        self.clear();
        Ok(())
    }

    /// Forgets everything held, keeping the allocations for the next round.
    fn clear(&mut self) {
        self.idents.clear();
        self.by_profile.clear();
        self.last.clear();
        self.first.clear();
        self.traits.clear();
        self.log.clear();
        self.changes = 0;
        self.since = None;
    }
}

// ---- the redo row's binary format: a tag byte per change, integers as 8 bytes little-endian,
// strings as a 4-byte length and their bytes. ----

fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn encode(out: &mut Vec<u8>, op: &Op) {
    match op {
        Op::Attach {
            id,
            kind,
            value,
            profile,
            ts,
            source,
            channel,
        } => {
            out.push(b'a');
            put_i64(out, *id);
            put_str(out, kind);
            put_str(out, value);
            put_i64(out, *profile);
            put_i64(out, *ts);
            put_str(out, source);
            put_str(out, channel);
        }
        Op::Last {
            id,
            ts,
            source,
            channel,
        }
        | Op::First {
            id,
            ts,
            source,
            channel,
        } => {
            out.push(if matches!(op, Op::Last { .. }) {
                b'l'
            } else {
                b'f'
            });
            put_i64(out, *id);
            put_i64(out, *ts);
            put_str(out, source);
            put_str(out, channel);
        }
        Op::Trait {
            profile,
            key,
            value,
            source,
            ts,
        } => {
            out.push(b't');
            put_i64(out, *profile);
            put_str(out, key);
            put_str(out, value);
            put_str(out, source);
            put_i64(out, *ts);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        if self.0.len() < n {
            return Err("truncated".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn i64(&mut self) -> Result<i64, String> {
        let b = self.take(8)?;
        Ok(i64::from_le_bytes(b.try_into().map_err(|_| "truncated")?))
    }
    fn str(&mut self) -> Result<String, String> {
        let b = self.take(4)?;
        let n = u32::from_le_bytes(b.try_into().map_err(|_| "truncated")?) as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|e| e.to_string())
    }
}

fn decode(bytes: &[u8]) -> Result<Vec<Op>, String> {
    let mut r = Reader(bytes);
    let mut ops = Vec::new();
    while !r.0.is_empty() {
        let op = match r.byte()? {
            b'a' => Op::Attach {
                id: r.i64()?,
                kind: r.str()?,
                value: r.str()?,
                profile: r.i64()?,
                ts: r.i64()?,
                source: r.str()?,
                channel: r.str()?,
            },
            tag @ (b'l' | b'f') => {
                let (id, ts, source, channel) = (r.i64()?, r.i64()?, r.str()?, r.str()?);
                if tag == b'l' {
                    Op::Last {
                        id,
                        ts,
                        source,
                        channel,
                    }
                } else {
                    Op::First {
                        id,
                        ts,
                        source,
                        channel,
                    }
                }
            }
            b't' => Op::Trait {
                profile: r.i64()?,
                key: r.str()?,
                value: r.str()?,
                source: r.str()?,
                ts: r.i64()?,
            },
            t => return Err(format!("unknown change tag {t}")),
        };
        ops.push(op);
    }
    Ok(ops)
}

/// Runs `head VALUES (…), (…) tail` over `rows`, `CHUNK` rows a statement.
fn insert_rows(
    conn: &Connection,
    head: &str,
    width: usize,
    tail: &str,
    rows: impl Iterator<Item = Vec<Value>>,
) -> Result<(), StoreError> {
    let statement = |n: usize| {
        let one = format!(
            "({})",
            (1..=width).map(|_| "?").collect::<Vec<_>>().join(", ")
        );
        format!("{head}{}{tail}", vec![one; n].join(", "))
    };
    let full = statement(CHUNK);
    let mut batch: Vec<Value> = Vec::with_capacity(CHUNK * width);
    for row in rows {
        batch.extend(row);
        if batch.len() == CHUNK * width {
            conn.prepare_cached(&full)?
                .execute(params_from_iter(batch.drain(..)))?;
        }
    }
    if !batch.is_empty() {
        conn.prepare(&statement(batch.len() / width))?
            .execute(params_from_iter(batch))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::{SqliteOptions, SqliteStore};
    use crate::Store;
    use concierge_types::{EventKind, Identifier, IdentifierKind, NewEvent};

    fn identify(
        key: &str,
        user: &str,
        ts: i64,
        traits: Vec<(String, serde_json::Value)>,
    ) -> NewEvent {
        NewEvent {
            dedup_key: key.into(),
            kind: EventKind::Identify,
            name: None,
            channel: "server".into(),
            source: "test".into(),
            ts,
            received_at: ts,
            identifiers: vec![Identifier::parse(IdentifierKind::UserId, user, "BR").unwrap()],
            traits,
            consents: Vec::new(),
            consent_snapshot: None,
            body: "{}".into(),
        }
    }

    /// As after a crash: changes committed to the redo log, not yet to their tables. A new writer
    /// applies them before the first read, and before it hands out identifier ids of its own.
    #[tokio::test]
    async fn a_redo_log_left_behind_is_applied_before_anything_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let store = SqliteStore::open(SqliteOptions::new(&path)).unwrap();
        let plan = vec![("plan".to_string(), serde_json::json!("basic"))];
        store
            .ingest(vec![identify("e1", "u-1", 1_000, plan)])
            .await
            .unwrap();
        let ana = store
            .find_customer(&Identifier::parse(IdentifierKind::UserId, "u-1", "BR").unwrap())
            .await
            .unwrap()
            .unwrap();
        store.shutdown();

        let conn = Connection::open(&path).unwrap();
        let next: i64 = conn
            .query_row("SELECT MAX(id) + 1 FROM identifiers", [], |r| r.get(0))
            .unwrap();
        let mut d = Deferred::default();
        d.push(op_attach(next, "ana@example.com", ana.0, 2_000), true);
        d.push(
            Op::Trait {
                profile: ana.0,
                key: "plan".into(),
                value: "\"gold\"".into(),
                source: "test".into(),
                ts: 2_000,
            },
            true,
        );
        d.log_transaction(&conn).unwrap();
        drop(conn);

        let store = SqliteStore::open(SqliteOptions::new(&path)).unwrap();
        let email = Identifier::parse(IdentifierKind::Email, "ana@example.com", "BR").unwrap();
        assert_eq!(store.find_customer(&email).await.unwrap(), Some(ana));
        let view = store.customer(ana).await.unwrap().unwrap();
        assert_eq!(view.traits["plan"].value, serde_json::json!("gold"));
        // A new identifier now gets an id after the recovered one, not the same.
        store
            .ingest(vec![identify("e2", "u-2", 3_000, Vec::new())])
            .await
            .unwrap();
        let bia = store
            .find_customer(&Identifier::parse(IdentifierKind::UserId, "u-2", "BR").unwrap())
            .await
            .unwrap();
        assert!(bia.is_some() && bia != Some(ana));
        let stats = store.stats().await.unwrap();
        assert_eq!(stats.identifiers, 3);
        store.shutdown();
        let conn = Connection::open(&path).unwrap();
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM identity_redo", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0, "applied changes leave the log");
    }

    fn op_attach(id: i64, value: &str, profile: i64, ts: i64) -> Op {
        Op::Attach {
            id,
            kind: "email".into(),
            value: value.into(),
            profile,
            ts,
            source: "s".into(),
            channel: "web".into(),
        }
    }

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut c).unwrap();
        c
    }

    #[test]
    fn applies_folded_changes_in_one_pass_and_empties_the_log() {
        let conn = db();
        let mut d = Deferred::default();
        // 150 identifiers: more than two statements' worth, so full and partial chunks both run.
        for i in 0..150 {
            d.push(op_attach(i + 1, &format!("p{i}@x.com"), 7, 1_000 + i), true);
        }
        d.push(
            Op::Last {
                id: 3,
                ts: 9_000,
                source: "later".into(),
                channel: "whatsapp".into(),
            },
            true,
        );
        d.push(
            Op::First {
                id: 3,
                ts: 10,
                source: "early".into(),
                channel: "email".into(),
            },
            true,
        );
        for (value, ts) in [("a", 5), ("b", 9), ("c", 7)] {
            d.push(
                Op::Trait {
                    profile: 7,
                    key: "plan".into(),
                    value: value.into(),
                    source: "s".into(),
                    ts,
                },
                true,
            );
        }
        d.log_transaction(&conn).unwrap();
        let logged: i64 = conn
            .query_row("SELECT COUNT(*) FROM identity_redo", [], |r| r.get(0))
            .unwrap();
        assert_eq!(logged, 1);

        // A fresh writer reading the log back folds it the same way.
        let mut again = Deferred::default();
        assert_eq!(again.load(&conn).unwrap(), 1);
        assert_eq!(again.changes, d.changes);
        assert_eq!(again.identifiers_of(7).count(), 150);
        again.apply(&conn).unwrap();
        assert!(again.is_empty());

        let count: i64 = conn
            .query_row("SELECT COUNT(*) FROM identifiers", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 150);
        let row: (i64, String, i64, String) = conn
            .query_row(
                "SELECT first_seen, first_source, last_seen, last_source FROM identifiers WHERE id = 3",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(row, (10, "early".into(), 9_000, "later".into()));
        let plan: String = conn
            .query_row(
                "SELECT value FROM traits WHERE profile_id = 7 AND key = 'plan'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            plan, "b",
            "the newest value wins, whatever order it came in"
        );
        let left: i64 = conn
            .query_row("SELECT COUNT(*) FROM identity_redo", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);

        // Moves of identifiers already in the table become updates; old trait values lose.
        let mut later = Deferred::default();
        later.push(
            Op::Last {
                id: 100,
                ts: 50_000,
                source: "pos".into(),
                channel: "store".into(),
            },
            true,
        );
        later.push(
            Op::Trait {
                profile: 7,
                key: "plan".into(),
                value: "stale".into(),
                source: "s".into(),
                ts: 1,
            },
            true,
        );
        later.apply(&conn).unwrap();
        let last: (i64, String) = conn
            .query_row(
                "SELECT last_seen, last_channel FROM identifiers WHERE id = 100",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(last, (50_000, "store".into()));
        let plan: String = conn
            .query_row(
                "SELECT value FROM traits WHERE profile_id = 7 AND key = 'plan'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(plan, "b");
    }
    #[test]
    fn redo_rows_round_trip_and_bad_ones_are_refused() {
        let ops = vec![
            op_attach(1, "ana@example.com", 2, 3),
            Op::Trait {
                profile: 2,
                key: "plan".into(),
                value: "\"gold\" שלום".into(),
                source: "s".into(),
                ts: i64::MIN,
            },
            Op::Last {
                id: 1,
                ts: -5,
                source: "".into(),
                channel: "whatsapp".into(),
            },
        ];
        let mut bytes = Vec::new();
        for op in &ops {
            encode(&mut bytes, op);
        }
        assert_eq!(decode(&bytes).unwrap(), ops);
        // Cut anywhere inside the last change, it is refused rather than misread.
        for cut in [1, 10, bytes.len() - 1] {
            assert!(decode(&bytes[..bytes.len() - cut]).is_err());
        }
        assert!(decode(b"z").is_err());

        // Rows from before the binary format (JSON text) are still read.
        let conn = db();
        let json = serde_json::to_string(&ops[..2]).unwrap();
        conn.execute("INSERT INTO identity_redo (ops) VALUES (?1)", [json])
            .unwrap();
        let mut d = Deferred::default();
        assert_eq!(d.load(&conn).unwrap(), 1);
        assert_eq!(d.changes, 2);
    }
}
