//! Versioned migrations of the SQLite schema. Each backend has its own list (PostgreSQL needs
//! BIGINT and identity columns where SQLite has INTEGER rowids), but the queries the store runs
//! stay within what both accept: `ON CONFLICT … DO UPDATE/NOTHING`, row values, no WITHOUT ROWID.
//! Ids that leave the store (customers, merges, consents, keys) use AUTOINCREMENT so an erased
//! record's id is never handed to someone else.

use rusqlite::Connection;

/// Applied to every connection, the writer's, the readers' and the benchmark baseline's alike.
pub const PRAGMAS: &str = "
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    PRAGMA busy_timeout = 5000;
    PRAGMA secure_delete = ON;
    PRAGMA temp_store = MEMORY;
    PRAGMA foreign_keys = OFF;
    PRAGMA wal_autocheckpoint = 10000;
    PRAGMA journal_size_limit = 67108864;
";

/// Page cache per connection, in KiB (negative `cache_size` means KiB).
pub const CACHE_KIB: i64 = 65_536;

pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(PRAGMAS)?;
    conn.execute_batch(&format!("PRAGMA cache_size = -{CACHE_KIB};"))?;
    Ok(())
}

/// The events table and its indexes, shared with the benchmark's raw-insert baseline.
pub const EVENTS_TABLE: &str = "
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        profile_id INTEGER NOT NULL,
        dedup_key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        name TEXT,
        channel TEXT NOT NULL,
        source TEXT NOT NULL,
        ts INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        consent TEXT,
        body TEXT NOT NULL
    );
    CREATE INDEX events_profile_ts ON events (profile_id, ts);
";

const MIGRATIONS: &[&str] = &[
    // 1: the customer data core.
    "
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE api_keys (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        scope TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE TABLE profiles (id INTEGER PRIMARY KEY AUTOINCREMENT, canonical_id INTEGER NOT NULL, created_at INTEGER NOT NULL);
    CREATE INDEX profiles_canonical ON profiles (canonical_id);
    CREATE TABLE identifiers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        profile_id INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        first_source TEXT NOT NULL,
        first_channel TEXT NOT NULL,
        last_source TEXT NOT NULL,
        last_channel TEXT NOT NULL,
        UNIQUE (kind, value)
    );
    CREATE INDEX identifiers_profile ON identifiers (profile_id);
    EVENTS_TABLE
    CREATE TABLE traits (
        profile_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        source TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (profile_id, key)
    );
    CREATE TABLE merges (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        action TEXT NOT NULL,
        survivor_id INTEGER NOT NULL,
        absorbed_id INTEGER NOT NULL,
        members TEXT NOT NULL,
        reason TEXT NOT NULL,
        event_id INTEGER,
        created_at INTEGER NOT NULL,
        related_id INTEGER
    );
    CREATE INDEX merges_survivor ON merges (survivor_id);
    CREATE INDEX merges_absorbed ON merges (absorbed_id);
    CREATE INDEX merges_related ON merges (related_id);
    CREATE TABLE merge_blocks (a_id INTEGER NOT NULL, b_id INTEGER NOT NULL, merge_id INTEGER NOT NULL);
    CREATE TABLE consents (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        profile_id INTEGER NOT NULL,
        purpose TEXT NOT NULL,
        channel TEXT NOT NULL,
        status TEXT NOT NULL,
        legal_basis TEXT NOT NULL,
        notice_version TEXT,
        evidence TEXT NOT NULL,
        effective_at INTEGER NOT NULL,
        expires_at INTEGER,
        recorded_at INTEGER NOT NULL,
        source TEXT NOT NULL,
        event_id INTEGER,
        supersedes_id INTEGER
    );
    CREATE INDEX consents_profile ON consents (profile_id, purpose, channel, id);
    CREATE TABLE suppressions (
        hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        dropped_events INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE erasures (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        customer_id INTEGER NOT NULL,
        erased_at INTEGER NOT NULL,
        profiles INTEGER NOT NULL,
        events INTEGER NOT NULL,
        identifiers INTEGER NOT NULL,
        consents INTEGER NOT NULL,
        suppressed INTEGER NOT NULL
    );
    ",
];

/// Brings the schema up to date inside one transaction.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version > current {
            tx.execute_batch(&sql.replace("EVENTS_TABLE", EVENTS_TABLE))?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [version],
            )?;
        }
    }
    tx.commit()
}
