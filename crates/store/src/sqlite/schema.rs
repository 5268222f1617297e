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
    // 2: channels, the raw inbound log, conversations, messages and the outbox.
    "
    CREATE TABLE channels (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        config TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        disabled_at INTEGER
    );
    CREATE TABLE inbound (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel_id TEXT NOT NULL,
        received_at INTEGER NOT NULL,
        state TEXT NOT NULL,
        error TEXT,
        headers TEXT NOT NULL,
        body BLOB NOT NULL,
        items INTEGER NOT NULL DEFAULT 0,
        skipped TEXT,
        processed_at INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        profile_id INTEGER
    );
    CREATE INDEX inbound_state ON inbound (state, id);
    CREATE INDEX inbound_channel ON inbound (channel_id, id);
    CREATE INDEX inbound_profile ON inbound (profile_id);
    CREATE TABLE inbound_profiles (inbound_id INTEGER NOT NULL, profile_id INTEGER NOT NULL);
    CREATE INDEX inbound_profiles_profile ON inbound_profiles (profile_id);
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        channel_id TEXT NOT NULL,
        thread TEXT NOT NULL,
        profile_id INTEGER NOT NULL,
        contact_name TEXT,
        contact_address TEXT,
        subject TEXT,
        status TEXT NOT NULL,
        owner_kind TEXT NOT NULL,
        owner_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_message_at INTEGER,
        last_incoming_at INTEGER,
        snoozed_until INTEGER,
        last_preview TEXT,
        messages INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX conversations_thread ON conversations (channel_id, thread, id);
    CREATE INDEX conversations_profile ON conversations (profile_id, id);
    CREATE INDEX conversations_status ON conversations (status, id);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        conversation_id INTEGER NOT NULL,
        channel_id TEXT NOT NULL,
        provider_id TEXT,
        direction TEXT NOT NULL,
        author TEXT NOT NULL,
        author_name TEXT,
        private INTEGER NOT NULL DEFAULT 0,
        content TEXT NOT NULL,
        status TEXT,
        error TEXT,
        reply_to TEXT,
        edited INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        inbound_id INTEGER,
        event_id INTEGER,
        UNIQUE (channel_id, provider_id)
    );
    CREATE INDEX messages_conversation ON messages (conversation_id, id);
    CREATE INDEX messages_inbound ON messages (inbound_id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id INTEGER NOT NULL,
        channel_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
    CREATE INDEX outbox_message ON outbox (message_id);
    CREATE TABLE early_receipts (
        channel_id TEXT NOT NULL,
        provider_id TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        received_at INTEGER NOT NULL
    );
    CREATE INDEX early_receipts_message ON early_receipts (channel_id, provider_id);
    CREATE TABLE subscriptions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        disabled_at INTEGER,
        cursor INTEGER NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at INTEGER NOT NULL DEFAULT 0,
        delivered INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE integration_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        profile_id INTEGER,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX integration_events_profile ON integration_events (profile_id);
    ",
    // 3: the bot and automation rules.
    "
    CREATE TABLE bot_definitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    ALTER TABLE conversations ADD COLUMN bot_state TEXT;
    ALTER TABLE conversations ADD COLUMN bot_version INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE conversations ADD COLUMN human_at INTEGER;
    ALTER TABLE conversations ADD COLUMN language TEXT;
    ALTER TABLE conversations ADD COLUMN handoff_reason TEXT;
    UPDATE conversations SET human_at = (SELECT MIN(m.created_at) FROM messages m
        WHERE m.conversation_id = conversations.id AND m.private = 0 AND m.author IN ('agent', 'brand'));
    CREATE INDEX messages_incoming ON messages (direction, id);
    CREATE TABLE conversation_labels (
        conversation_id INTEGER NOT NULL,
        label TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, label)
    );
    CREATE TABLE bot_turns (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id INTEGER UNIQUE,
        conversation_id INTEGER NOT NULL,
        channel_kind TEXT NOT NULL,
        language TEXT NOT NULL,
        intent TEXT,
        confidence REAL NOT NULL,
        outcome TEXT NOT NULL,
        reason TEXT,
        rules TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX bot_turns_conversation ON bot_turns (conversation_id);
    CREATE INDEX bot_turns_time ON bot_turns (created_at);
    CREATE TABLE rule_firings (
        rule TEXT NOT NULL,
        conversation_id INTEGER NOT NULL,
        anchor INTEGER NOT NULL,
        fired_at INTEGER NOT NULL,
        PRIMARY KEY (rule, conversation_id, anchor)
    );
    ",
    // 4: the people who work in Concierge, their sessions and failed sign-ins.
    "
    CREATE TABLE users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        language TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        disabled_at INTEGER
    );
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL,
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    );
    CREATE INDEX sessions_user ON sessions (user_id);
    CREATE TABLE login_failures (key TEXT NOT NULL, at INTEGER NOT NULL);
    CREATE INDEX login_failures_key ON login_failures (key, at);
    ",
    // 5: teams with skills, and who is in them with how many conversations at once.
    "
    CREATE TABLE teams (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        languages TEXT NOT NULL,
        channels TEXT NOT NULL,
        topics TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE team_members (
        team_id INTEGER NOT NULL,
        user_id INTEGER NOT NULL,
        capacity INTEGER NOT NULL,
        last_assigned_at INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (team_id, user_id)
    );
    CREATE INDEX conversations_owner ON conversations (owner_kind, owner_id, status);
    ",
    // 6: when a conversation entered its queue (first in, first out).
    "
    ALTER TABLE conversations ADD COLUMN queued_at INTEGER;
    UPDATE conversations SET queued_at = updated_at WHERE owner_kind = 'queue';
    ",
    // 7: the desk: SLA clocks (when a person was first needed, when resolved), the team a
    // conversation went through, what each person has read, canned responses.
    "
    ALTER TABLE conversations ADD COLUMN resolved_at INTEGER;
    ALTER TABLE conversations ADD COLUMN handed_at INTEGER;
    ALTER TABLE conversations ADD COLUMN team TEXT;
    UPDATE conversations SET resolved_at = updated_at WHERE status = 'resolved';
    UPDATE conversations SET handed_at = CASE WHEN human_at IS NULL THEN queued_at
        WHEN queued_at IS NULL THEN human_at WHEN human_at < queued_at THEN human_at ELSE queued_at END;
    UPDATE conversations SET team = owner_id WHERE owner_kind = 'queue';
    CREATE INDEX conversations_created ON conversations (created_at);
    CREATE INDEX conversations_updated ON conversations (updated_at);
    CREATE TABLE conversation_reads (
        user_id INTEGER NOT NULL,
        conversation_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        PRIMARY KEY (user_id, conversation_id)
    );
    CREATE INDEX conversation_reads_conversation ON conversation_reads (conversation_id);
    CREATE TABLE canned_responses (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        shortcut TEXT NOT NULL UNIQUE,
        language TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    ",
    // 8: files agents send, kept for the providers to fetch by their unguessable id.
    "
    CREATE TABLE attachments (
        id TEXT PRIMARY KEY,
        conversation_id INTEGER NOT NULL,
        message_id INTEGER NOT NULL,
        filename TEXT NOT NULL,
        mime_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        data BLOB NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX attachments_conversation ON attachments (conversation_id);
    ",
    // 9: identity changes on disk before their tables are brought up to date (see `deferred`).
    "
    CREATE TABLE identity_redo (id INTEGER PRIMARY KEY, ops TEXT NOT NULL);
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
