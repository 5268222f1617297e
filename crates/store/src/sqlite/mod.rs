//! The embedded SQLite store.
//!
//! - `schema`: migrations and the pragmas every connection gets (WAL, `synchronous = FULL`,
//!   `secure_delete`).
//! - `writer`: the one thread that writes. Callers queue jobs; the thread takes everything queued,
//!   runs it in one transaction and answers all of them after the commit (group commit). It keeps an
//!   identity cache that only it mutates, so the cache can't go stale.
//! - `deferred`: identity changes the writer holds (logged on disk) and applies in sorted runs;
//!   every read waits for them first, so reads never see less than what was answered.
//! - `read`: the 360° view, timeline, ledger and export, on a small pool of read connections.

mod bloom;
mod bot;
mod conversations;
mod deferred;
mod desk;
mod read;
pub mod schema;
mod users;
#[cfg(test)]
mod visibility_tests;
mod writer;

use crate::{
    AgentChange, AgentView, ApplyReport, Attachment, BotAct, BotApplied, BotDefinition, BotTurnRow,
    BotWork, ChannelRecord, ConversationChange, ConversationFilter, Cursor, DeskConversation,
    IngestReport, IntegrationEvent, KeyInfo, NewChannel, NewInbound, NewMessage, NewUser,
    OutboxItem, OutboxOutcome, PendingInbound, Progress, SessionRecord, Silence, Store, StoreError,
    StoreStats, Subscription,
};
use async_trait::async_trait;
use concierge_identity::Rules;
use concierge_types::conversation::{
    Author, CannedResponse, ConversationView, InboundEntry, InboundState, MessageView, Parsed,
};
use concierge_types::view::{
    ConsentLedger, ConsentRecord, CustomerView, ErasureReceipt, ExportDocument, MergeView,
    TimelineEvent, TimelinePage,
};
use concierge_types::{
    ApiKey, Identifier, KeyId, KeyScope, MergeId, NewConsent, NewEvent, ProfileId, TeamView,
    UserView,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::oneshot;
use writer::Job;

/// Settings of the SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file.
    pub path: PathBuf,
    pub rules: Rules,
    /// Events accepted but not yet committed beyond which ingestion answers "overloaded" (HTTP 429).
    pub max_pending_events: usize,
    /// Most events committed in one transaction.
    pub max_batch_events: usize,
}

impl SqliteOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteOptions {
            path: path.into(),
            rules: Rules::default(),
            max_pending_events: 200_000,
            max_batch_events: 20_000,
        }
    }
}

pub struct SqliteStore {
    jobs: mpsc::SyncSender<Job>,
    pending: Arc<AtomicUsize>,
    /// Set while the writer holds identity changes not yet in their tables.
    deferred: Arc<AtomicBool>,
    max_pending: usize,
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
    rules: Rules,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the database and starts the writer thread.
    pub fn open(options: SqliteOptions) -> Result<Self, StoreError> {
        if let Some(dir) = options.path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Backend(format!("create {}: {e}", dir.display())))?;
            }
        }
        let mut conn = Connection::open(&options.path)?;
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        let pending = Arc::new(AtomicUsize::new(0));
        let deferred = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::sync_channel(4096);
        // The suppression key lives beside the database, not in it: a copy of the database alone
        // cannot be used to test guesses against the suppression list.
        let key_file = options.path.with_file_name("suppression.key");
        let state = writer::Writer::new(
            conn,
            options.rules.clone(),
            pending.clone(),
            deferred.clone(),
            options.max_batch_events,
            &key_file,
        )?;
        let handle = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || state.run(rx))
            .map_err(|e| StoreError::Backend(format!("start writer: {e}")))?;
        Ok(SqliteStore {
            jobs: tx,
            pending,
            deferred,
            max_pending: options.max_pending_events,
            readers: Mutex::new(Vec::new()),
            path: options.path,
            rules: options.rules,
            writer: Mutex::new(Some(handle)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Queues a job for the writer; `events` counts toward back-pressure.
    async fn submit<T>(
        &self,
        events: usize,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
    ) -> Result<T, StoreError> {
        let before = self.pending.fetch_add(events, Ordering::AcqRel);
        // A batch bigger than the whole limit still goes through when nothing else is waiting.
        if events > 0 && before > 0 && before + events > self.max_pending {
            self.pending.fetch_sub(events, Ordering::AcqRel);
            return Err(StoreError::Overloaded);
        }
        let (reply, answer) = oneshot::channel();
        if let Err(e) = self.jobs.try_send(make(reply)) {
            self.pending.fetch_sub(events, Ordering::AcqRel);
            return Err(match e {
                mpsc::TrySendError::Full(_) => StoreError::Overloaded,
                mpsc::TrySendError::Disconnected(_) => {
                    StoreError::Backend("the writer has stopped".into())
                }
            });
        }
        answer
            .await
            .map_err(|_| StoreError::Backend("the writer dropped the job".into()))?
    }

    /// Runs `f` on the writer, inside its group transaction; answers after the commit.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut writer::Writer) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit(0, |reply| writer::write_job(reply, f)).await
    }

    /// Waits until the tables hold every identity change the writer has answered for. Any job
    /// other than ingestion makes the writer apply what it holds first, so an empty one does.
    pub async fn settle(&self) -> Result<(), StoreError> {
        if self.deferred.load(Ordering::Acquire) {
            self.write(|_| Ok(())).await?;
        }
        Ok(())
    }

    /// Runs `f` on a read connection in the blocking pool, after [`settle`](Self::settle).
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.settle().await?;
        let conn = match self.readers.lock().ok().and_then(|mut p| p.pop()) {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                schema::configure(&c)?;
                c
            }
        };
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let out = f(&conn);
            (conn, out)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("reader task: {e}")))?;
        if let Ok(mut pool) = self.readers.lock() {
            if pool.len() < 16 {
                pool.push(conn);
            }
        }
        out
    }

    /// Stops the writer after it has committed everything queued.
    pub fn shutdown(&self) {
        let _ = self.jobs.try_send(Job::Stop);
        if let Some(h) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = h.join();
        }
    }
}

pub(crate) fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[async_trait]
impl Store for SqliteStore {
    async fn ingest(&self, events: Vec<NewEvent>) -> Result<IngestReport, StoreError> {
        if events.is_empty() {
            return Ok(IngestReport::default());
        }
        let n = events.len();
        self.submit(n, |reply| Job::Ingest { events, reply }).await
    }

    async fn customer(&self, id: ProfileId) -> Result<Option<CustomerView>, StoreError> {
        self.read(move |c| read::customer_view(c, id)).await
    }

    async fn find_customer(
        &self,
        identifier: &Identifier,
    ) -> Result<Option<ProfileId>, StoreError> {
        let identifier = identifier.clone();
        self.read(move |c| read::find_customer(c, &identifier))
            .await
    }

    async fn timeline(
        &self,
        id: ProfileId,
        before: Option<Cursor>,
        limit: usize,
    ) -> Result<Option<TimelinePage>, StoreError> {
        self.read(move |c| read::timeline(c, id, before, limit))
            .await
    }

    async fn record_consent(
        &self,
        id: ProfileId,
        consent: NewConsent,
    ) -> Result<ConsentRecord, StoreError> {
        self.submit(0, |reply| Job::Consent {
            id,
            consent: Box::new(consent),
            reply,
        })
        .await
    }

    async fn consents(&self, id: ProfileId) -> Result<Option<ConsentLedger>, StoreError> {
        self.read(move |c| read::consent_ledger(c, id)).await
    }

    async fn merge_log(&self, id: MergeId) -> Result<Option<MergeView>, StoreError> {
        self.read(move |c| read::merge(c, id)).await
    }

    async fn undo_merge(&self, id: MergeId) -> Result<MergeView, StoreError> {
        self.submit(0, |reply| Job::Undo { id, reply }).await
    }

    async fn export(&self, id: ProfileId) -> Result<Option<ExportDocument>, StoreError> {
        self.read(move |c| read::export(c, id)).await
    }

    async fn erase(&self, id: ProfileId) -> Result<Option<ErasureReceipt>, StoreError> {
        self.submit(0, |reply| Job::Erase { id, reply }).await
    }

    async fn create_key(
        &self,
        name: &str,
        scope: KeyScope,
    ) -> Result<(ApiKey, String), StoreError> {
        let name = name.to_string();
        self.submit(0, |reply| Job::CreateKey { name, scope, reply })
            .await
    }

    async fn authenticate(&self, secret: &str) -> Result<Option<ApiKey>, StoreError> {
        let hash = hash_secret(secret);
        self.read(move |c| read::key_by_hash(c, &hash)).await
    }

    async fn erasures(
        &self,
        limit: usize,
    ) -> Result<Vec<concierge_types::view::ErasureRecord>, StoreError> {
        self.read(move |c| read::erasures(c, limit)).await
    }

    async fn list_keys(&self) -> Result<Vec<KeyInfo>, StoreError> {
        self.read(read::keys).await
    }

    async fn revoke_key(&self, id: KeyId) -> Result<bool, StoreError> {
        self.submit(0, |reply| Job::RevokeKey { id, reply }).await
    }

    async fn stats(&self) -> Result<StoreStats, StoreError> {
        let pending = self.pending.load(Ordering::Acquire) as u64;
        let mut s = self.read(read::stats).await?;
        s.pending_events = pending;
        Ok(s)
    }

    async fn create_channel(&self, channel: NewChannel) -> Result<ChannelRecord, StoreError> {
        self.write(move |w| w.create_channel(channel)).await
    }

    async fn channels(&self) -> Result<Vec<ChannelRecord>, StoreError> {
        self.read(conversations::channels).await
    }

    async fn log_inbound(&self, entry: NewInbound) -> Result<i64, StoreError> {
        self.write(move |w| w.log_inbound(entry)).await
    }

    async fn pending_inbound(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<PendingInbound>, StoreError> {
        self.read(move |c| conversations::pending_inbound(c, after, limit))
            .await
    }

    async fn apply_inbound(
        &self,
        deliveries: Vec<(i64, ChannelRecord, Result<Parsed, String>)>,
    ) -> Result<Vec<ApplyReport>, StoreError> {
        self.write(move |w| {
            let mut reports = Vec::with_capacity(deliveries.len());
            for (id, channel, parsed) in deliveries {
                // A delivery that cannot be stored is marked failed (for a replay) alone.
                let (r, healthy) =
                    w.isolated("delivery", |w| w.apply_inbound(id, &channel, parsed));
                match (r, healthy) {
                    (Ok(report), _) => reports.push(report),
                    (Err(e), true) => {
                        w.conn.execute(
                            "UPDATE inbound SET state = 'failed', error = ?1, attempts = attempts + 1, processed_at = ?2 WHERE id = ?3",
                            rusqlite::params![format!("could not be stored: {e}"), now_ms(), id],
                        )?;
                        reports.push(ApplyReport::default());
                    }
                    (Err(e), false) => return Err(e),
                }
            }
            Ok(reports)
        })
        .await
    }

    async fn inbound_log(
        &self,
        channel_id: Option<String>,
        state: Option<InboundState>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<InboundEntry>, StoreError> {
        self.read(move |c| {
            conversations::inbound_log(c, channel_id.as_deref(), state, before, limit)
        })
        .await
    }

    async fn inbound_entry(&self, id: i64) -> Result<Option<InboundEntry>, StoreError> {
        self.read(move |c| conversations::inbound_entry(c, id))
            .await
    }

    async fn replay_inbound(&self, id: i64) -> Result<bool, StoreError> {
        self.write(move |w| w.replay_inbound(id)).await
    }

    async fn conversations(
        &self,
        filter: ConversationFilter,
    ) -> Result<Vec<ConversationView>, StoreError> {
        self.read(move |c| conversations::conversations(c, &filter))
            .await
    }

    async fn conversation(&self, id: i64) -> Result<Option<ConversationView>, StoreError> {
        self.read(move |c| conversations::conversation_by_id(c, id))
            .await
    }

    async fn messages(
        &self,
        conversation: i64,
        after: Option<i64>,
        limit: usize,
    ) -> Result<Option<Vec<MessageView>>, StoreError> {
        self.read(move |c| conversations::messages(c, conversation, after, limit))
            .await
    }

    async fn add_message(
        &self,
        conversation: i64,
        message: NewMessage,
    ) -> Result<Option<MessageView>, StoreError> {
        self.write(move |w| w.add_message(conversation, message))
            .await
    }

    async fn change_conversation(
        &self,
        conversation: i64,
        change: ConversationChange,
    ) -> Result<Option<ConversationView>, StoreError> {
        self.write(move |w| w.change_conversation(conversation, change))
            .await
    }

    async fn change_conversation_as(
        &self,
        conversation: i64,
        agent: AgentView,
        change: ConversationChange,
    ) -> Result<AgentChange, StoreError> {
        self.write(move |w| w.change_conversation_as(conversation, &agent, change))
            .await
    }

    async fn cursor(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = format!("cursor:{key}");
        self.read(move |c| {
            Ok(
                c.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                    .optional()?,
            )
        })
        .await
    }

    async fn set_cursor(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (key, value) = (format!("cursor:{key}"), value.to_string());
        self.write(move |w| {
            w.conn.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )?;
            Ok(())
        })
        .await
    }

    async fn create_subscription(
        &self,
        url: String,
        events: Vec<String>,
        secret: String,
    ) -> Result<Subscription, StoreError> {
        self.write(move |w| w.create_subscription(url, events, secret))
            .await
    }

    async fn subscriptions(&self) -> Result<Vec<Subscription>, StoreError> {
        self.read(conversations::subscriptions).await
    }

    async fn delete_subscription(&self, id: i64) -> Result<bool, StoreError> {
        self.write(move |w| w.delete_subscription(id)).await
    }

    async fn integration_events(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<IntegrationEvent>, StoreError> {
        self.read(move |c| conversations::integration_events(c, after, limit))
            .await
    }

    async fn subscription_progress(&self, id: i64, progress: Progress) -> Result<(), StoreError> {
        self.write(move |w| w.subscription_progress(id, progress))
            .await
    }

    async fn wake_snoozed(&self, now: i64) -> Result<usize, StoreError> {
        self.write(move |w| w.wake_snoozed(now)).await
    }

    async fn recover_outbox(&self) -> Result<usize, StoreError> {
        self.write(|w| w.recover_outbox()).await
    }

    async fn claim_outbox(&self, now: i64, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        self.write(move |w| w.claim_outbox(now, limit)).await
    }

    async fn finish_outbox(&self, id: i64, outcome: OutboxOutcome) -> Result<(), StoreError> {
        self.write(move |w| w.finish_outbox(id, outcome)).await
    }

    async fn save_bot_definition(&self, body: String) -> Result<i64, StoreError> {
        self.write(move |w| w.save_bot_definition(body)).await
    }

    async fn bot_definition(&self) -> Result<Option<BotDefinition>, StoreError> {
        self.read(bot::bot_definition).await
    }

    async fn last_message_id(&self) -> Result<i64, StoreError> {
        self.read(bot::last_message_id).await
    }

    async fn bot_work(&self, after: i64, limit: usize) -> Result<Vec<BotWork>, StoreError> {
        self.read(move |c| bot::bot_work(c, after, limit)).await
    }

    async fn bot_apply(&self, act: BotAct) -> Result<BotApplied, StoreError> {
        self.write(move |w| w.bot_apply(act)).await
    }

    async fn set_traits(
        &self,
        id: ProfileId,
        traits: Vec<(String, serde_json::Value)>,
        source: String,
    ) -> Result<(), StoreError> {
        self.write(move |w| w.set_traits(id, traits, source)).await
    }

    async fn events_named(
        &self,
        id: ProfileId,
        names: Vec<String>,
        limit: usize,
    ) -> Result<Vec<TimelineEvent>, StoreError> {
        self.read(move |c| bot::events_named(c, id, &names, limit))
            .await
    }

    async fn silent_conversations(
        &self,
        silence: Silence,
        rule: String,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(ConversationView, i64)>, StoreError> {
        self.read(move |c| bot::silent_conversations(c, silence, &rule, before, limit))
            .await
    }

    async fn bot_turns(&self, since: i64, until: i64) -> Result<Vec<BotTurnRow>, StoreError> {
        self.read(move |c| bot::bot_turns(c, since, until)).await
    }

    async fn desk_conversations(&self, since: i64) -> Result<Vec<DeskConversation>, StoreError> {
        self.read(move |c| desk::desk_conversations(c, since)).await
    }

    async fn conversation_turns(
        &self,
        conversations: Vec<i64>,
    ) -> Result<Vec<Vec<(i64, Author)>>, StoreError> {
        self.read(move |c| desk::turns(c, &conversations)).await
    }

    async fn mark_read(
        &self,
        user: i64,
        conversation: i64,
        message: i64,
    ) -> Result<(), StoreError> {
        self.write(move |w| w.mark_read(user, conversation, message))
            .await
    }

    async fn unread(
        &self,
        user: i64,
        conversations: Vec<i64>,
    ) -> Result<Vec<(i64, u32)>, StoreError> {
        self.read(move |c| desk::unread(c, user, &conversations))
            .await
    }

    async fn desk_mark(&self) -> Result<(i64, i64), StoreError> {
        self.read(desk::desk_mark).await
    }

    async fn unrouted(
        &self,
        after: i64,
        since: i64,
        limit: usize,
    ) -> Result<Vec<ConversationView>, StoreError> {
        self.read(move |c| desk::unrouted(c, after, since, limit))
            .await
    }

    async fn attachment(&self, id: String) -> Result<Option<Attachment>, StoreError> {
        self.read(move |c| desk::attachment(c, &id)).await
    }

    async fn canned_responses(&self) -> Result<Vec<CannedResponse>, StoreError> {
        self.read(desk::canned).await
    }

    async fn save_canned_response(
        &self,
        shortcut: String,
        language: String,
        text: String,
    ) -> Result<CannedResponse, StoreError> {
        self.write(move |w| w.save_canned(shortcut, language, text))
            .await
    }

    async fn delete_canned_response(&self, id: i64) -> Result<bool, StoreError> {
        self.write(move |w| w.delete_canned(id)).await
    }

    async fn import_conversation(&self, c: crate::ImportedConversation) -> Result<i64, StoreError> {
        self.write(move |w| w.import_conversation(c)).await
    }

    async fn create_user(&self, user: NewUser) -> Result<UserView, StoreError> {
        self.write(move |w| w.create_user(user)).await
    }

    async fn users(&self) -> Result<Vec<UserView>, StoreError> {
        self.read(users::users).await
    }

    async fn user_credentials(
        &self,
        email: &str,
    ) -> Result<Option<(UserView, String)>, StoreError> {
        let email = email.to_string();
        self.read(move |c| users::user_credentials(c, &email)).await
    }

    async fn create_session(
        &self,
        user: i64,
        token_hash: String,
        csrf: String,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.write(move |w| w.create_session(user, token_hash, csrf, expires_at))
            .await
    }

    async fn session(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let token_hash = token_hash.to_string();
        self.read(move |c| users::session(c, &token_hash, now))
            .await
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        let token_hash = token_hash.to_string();
        self.write(move |w| w.delete_session(&token_hash)).await
    }

    async fn login_failure(&self, key: &str, now: i64, since: i64) -> Result<u32, StoreError> {
        let key = key.to_string();
        self.write(move |w| w.login_failure(&key, now, since)).await
    }

    async fn login_failures(&self, key: &str, since: i64) -> Result<u32, StoreError> {
        let key = key.to_string();
        self.read(move |c| Ok(users::failures(c, &key, since)?))
            .await
    }

    async fn save_team(
        &self,
        name: String,
        languages: Vec<String>,
        channels: Vec<String>,
        topics: Vec<String>,
    ) -> Result<TeamView, StoreError> {
        self.write(move |w| w.save_team(name, languages, channels, topics))
            .await
    }

    async fn teams(&self) -> Result<Vec<TeamView>, StoreError> {
        self.read(users::teams).await
    }

    async fn set_team_member(
        &self,
        team: i64,
        user: i64,
        capacity: Option<u32>,
    ) -> Result<bool, StoreError> {
        self.write(move |w| w.set_team_member(team, user, capacity))
            .await
    }

    async fn route_queued(&self, limit: usize) -> Result<Vec<(i64, String)>, StoreError> {
        self.write(move |w| w.route_queued(limit)).await
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_string();
        self.write(move |w| w.clear_login_failures(&key)).await
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.shutdown();
    }
}
